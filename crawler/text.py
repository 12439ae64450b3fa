"""Clean text out of the HTML fragments that a site's selectors picked, with BeautifulSoup.

An ad's fragments (title, body, contact, author, time) are parsed together, once, and walked once: a
BeautifulSoup parse per fragment and ``find_all`` over tag lists cost more than the rest of the pipeline.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import CData, ProcessingInstruction

__all__ = ["fragments_to_text", "html_to_text", "one_line"]

_DROP = frozenset(("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head", "title"))
_BLOCK = frozenset(
    (
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "blockquote",
        "pre",
        "dd",
        "dt",
        "ul",
        "ol",
        "table",
        "header",
        "footer",
    )
)
_NOT_TEXT = (Comment, Declaration, Doctype, CData, ProcessingInstruction)
_SPACES = re.compile(r"[ \t\r\f\v\n]+")  # HTML white space only: \u3000 and \u00a0 are text
_INLINE_SPACES = re.compile(r" {2,}")
_FIELD = "data-adclear-field"


def _pieces(node: Tag) -> Iterator[str]:
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, _NOT_TEXT):
                yield _SPACES.sub(" ", str(child))
        elif isinstance(child, Tag):
            name = child.name
            if name in _DROP:
                continue
            if name in _BLOCK:
                yield "\n"
                yield from _pieces(child)
                yield "\n"
            else:
                yield from _pieces(child)


def _text(node: Tag) -> str:
    lines = (_INLINE_SPACES.sub(" ", line).strip() for line in "".join(_pieces(node)).split("\n"))
    return "\n".join(line for line in lines if line)


def fragments_to_text(fragments: Mapping[str, str]) -> dict[str, str]:
    """Visible text of several fragments, parsed in one go: one line per block, spaces collapsed."""
    present = {name: html for name, html in fragments.items() if html}
    out = dict.fromkeys(fragments, "")
    if not present:
        return out
    document = "".join(f'<div {_FIELD}="{name}">{html}</div>' for name, html in present.items())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(document, "lxml")
    root = soup.body or soup
    wrappers = [c for c in root.children if isinstance(c, Tag) and c.has_attr(_FIELD)]
    if len(wrappers) != len(present):
        # a fragment with unclosed tags swallowed the wrappers after it: lift them out again (rare)
        for wrapper in soup.find_all(attrs={_FIELD: True}):
            for inner in wrapper.find_all(attrs={_FIELD: True}):
                inner.extract()
                wrapper.insert_after(inner)
        wrappers = soup.find_all(attrs={_FIELD: True})
    for wrapper in wrappers:
        out[wrapper[_FIELD]] = _text(wrapper)
    return out


def html_to_text(fragment: str) -> str:
    """Visible text of one HTML fragment."""
    return fragments_to_text({"x": fragment})["x"]


def one_line(fragment: str) -> str:
    return " ".join(html_to_text(fragment).split())
