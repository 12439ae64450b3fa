"""Clean text out of the HTML fragments that a site's selectors picked.

An ad's fragments (title, body, contact, author, time) are parsed together, once, by libxml2's HTML parser
(lxml, the parser BeautifulSoup's "lxml" builder drives), and the tree is walked once. This was written with
BeautifulSoup over that parser; building BeautifulSoup's tree cost 800 us per ad, more than classifying and
storing it (benchmarks/bench_crawl.py), so the walk now reads lxml's tree directly: the same parser, so the
same tree, and tests/test_crawl_parts.py checks that the text is what BeautifulSoup gives, on random markup,
the demo pages and the real pages of ../shared/data/html.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from lxml import etree

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
_SPACES = re.compile(r"[ \t\r\f\v\n]+")  # HTML white space only: \u3000 and \u00a0 are text
_INLINE_SPACES = re.compile(r" {2,}")
# marks each fragment's wrapper; random per process, so that a page cannot forge one to pass off its text as
# another field
_FIELD = f"data-adclear-{secrets.token_hex(8)}"
# huge_tree: libxml2's default stops at 256 levels and drops what is deeper; pages are refused past
# ADCLEAR_PAGE_MAX_DEPTH before their fragments get here (crawler/pagecheck.py)
_PARSER = etree.HTMLParser(recover=True, remove_comments=False, remove_pis=False, huge_tree=True)


def _pieces(root: etree._Element, out: list[str]) -> None:
    """The text of ``root``'s content in order; comments and processing instructions give nothing but their
    tails (the text after them). A loop, not a recursion: nesting is bounded by libxml2 (2,048 levels), not
    by Python's stack."""
    todo: list[etree._Element | str] = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        if node.text and isinstance(node.tag, str):
            out.append(_SPACES.sub(" ", node.text))
        then: list[etree._Element | str] = []
        for child in node:
            name = child.tag
            if isinstance(name, str) and name not in _DROP:  # an element (a comment's tag is a function)
                then += ["\n", child, "\n"] if name in _BLOCK else [child]
            if child.tail:
                then.append(_SPACES.sub(" ", child.tail))
        todo.extend(reversed(then))


def _text(node: etree._Element) -> str:
    out: list[str] = []
    _pieces(node, out)
    lines = (_INLINE_SPACES.sub(" ", line).strip() for line in "".join(out).split("\n"))
    return "\n".join(line for line in lines if line).translate(_SHOW)


# Characters libxml2 keeps in a parsed tree but lxml refuses to set (control characters, U+FFFE/U+FFFF): text
# moved by _lift carries them in private-use stand-ins, turned back by _text.
_NOT_XML = [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]
_HIDE = {c: 0xF0000 + i for i, c in enumerate(_NOT_XML)}
_SHOW = {v: k for k, v in _HIDE.items()}


def _lift(inner: etree._Element, after: etree._Element) -> None:
    """Move ``inner`` to just after ``after``, leaving the text that followed it where it was."""
    if inner.tail:
        previous = inner.getprevious()
        if previous is not None:
            previous.tail = ((previous.tail or "") + inner.tail).translate(_HIDE)
        else:
            parent = inner.getparent()
            parent.text = ((parent.text or "") + inner.tail).translate(_HIDE)
        inner.tail = None
    after.addnext(inner)


def fragments_to_text(fragments: Mapping[str, str]) -> dict[str, str]:
    """Visible text of several fragments, parsed in one go: one line per block, spaces collapsed."""
    present = {name: html for name, html in fragments.items() if html}
    out = dict.fromkeys(fragments, "")
    if not present:
        return out
    document = "".join(f'<div {_FIELD}="{name}">{html}</div>' for name, html in present.items())
    root = etree.fromstring(document, _PARSER)
    if root is None:  # nothing libxml2 could read
        return out
    body = root.find("body")
    if body is None:
        body = root
    wrappers = [c for c in body if c.get(_FIELD) is not None]
    if len(wrappers) != len(present):
        # a fragment with unclosed tags swallowed the wrappers after it: lift them out again (rare)
        for wrapper in list(root.iter("div")):
            if wrapper.get(_FIELD) is None:
                continue
            for inner in [e for e in wrapper.iterdescendants("div") if e.get(_FIELD) is not None]:
                _lift(inner, wrapper)
        wrappers = [e for e in root.iter("div") if e.get(_FIELD) is not None]
    for wrapper in wrappers:
        name = wrapper.get(_FIELD)
        if name in out:
            out[name] = _text(wrapper)
    return out


def html_to_text(fragment: str) -> str:
    """Visible text of one HTML fragment."""
    return fragments_to_text({"x": fragment})["x"]


def one_line(fragment: str) -> str:
    return " ".join(html_to_text(fragment).split())
