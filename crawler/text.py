"""Clean text out of the HTML fragments that a site's selectors picked."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

__all__ = ["html_to_text", "one_line"]

_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCK = (
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
)
_SPACES = re.compile(r"[ \t\r\f\v]+")  # HTML white space only: \u3000 and \u00a0 are text


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment: one line per block, spaces collapsed, no script or style."""
    if not fragment:
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(fragment, "lxml")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(_BLOCK):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def one_line(fragment: str) -> str:
    return " ".join(html_to_text(fragment).split())
