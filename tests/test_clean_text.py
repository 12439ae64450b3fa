"""Clean text (crawler.text) is what BeautifulSoup over the same parser gives.

crawler.text walks lxml's tree; it was written with BeautifulSoup's "lxml" builder, which drives the same
libxml2 parser, and was changed for speed (800 us per ad against 130). The BeautifulSoup version is kept here
as the reference: on random markup (unclosed and stray tags, comments, scripts, entities, white space), on the
demo site's pages and on the real pages of ../shared/data/html both must give the same text.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Comment, Declaration, Doctype, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import CData, ProcessingInstruction
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import text as fast
from crawler.text import fragments_to_text

_NOT_TEXT = (Comment, Declaration, Doctype, CData, ProcessingInstruction)
_SPACES = re.compile(r"[ \t\r\f\v\n]+")
_INLINE_SPACES = re.compile(r" {2,}")


def _pieces(node: Tag) -> Iterator[str]:
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, _NOT_TEXT):
                yield _SPACES.sub(" ", str(child))
        elif isinstance(child, Tag):
            if child.name in fast._DROP:
                continue
            if child.name in fast._BLOCK:
                yield "\n"
                yield from _pieces(child)
                yield "\n"
            else:
                yield from _pieces(child)


def _text(node: Tag) -> str:
    lines = (_INLINE_SPACES.sub(" ", line).strip() for line in "".join(_pieces(node)).split("\n"))
    return "\n".join(line for line in lines if line)


def reference(fragments: Mapping[str, str]) -> dict[str, str]:
    """crawler.text.fragments_to_text as it was written with BeautifulSoup."""
    field = fast._FIELD
    present = {name: html for name, html in fragments.items() if html}
    out = dict.fromkeys(fragments, "")
    if not present:
        return out
    document = "".join(f'<div {field}="{name}">{html}</div>' for name, html in present.items())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(document, "lxml")
    root = soup.body or soup
    wrappers = [c for c in root.children if isinstance(c, Tag) and c.has_attr(field)]
    if len(wrappers) != len(present):
        for wrapper in soup.find_all(attrs={field: True}):
            for inner in wrapper.find_all(attrs={field: True}):
                inner.extract()
                wrapper.insert_after(inner)
        wrappers = soup.find_all(attrs={field: True})
    for wrapper in wrappers:
        out[wrapper[field]] = _text(wrapper)
    return out


# --- random markup ------------------------------------------------------------------------------------------
_TAGS = ["p", "div", "span", "b", "br", "li", "ul", "td", "tr", "table", "h1", "script", "style", "a", "i", "em"]
_words = st.sampled_from(
    ["保本", "高收益", " ", "  ", "\n", "\t", "电话 138", "&nbsp;", "&amp;", "&#20445;", "a b", "　", "<", ">"]
)
_markup = st.recursive(
    st.lists(_words, min_size=1, max_size=4).map("".join),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(_TAGS), inner).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
        st.tuples(st.sampled_from(_TAGS), inner).map(lambda t: f"<{t[0]} class='x y'>{t[1]}"),  # unclosed
        st.tuples(inner, st.sampled_from(_TAGS)).map(lambda t: f"{t[0]}</{t[1]}>"),  # stray closing tag
        inner.map(lambda x: f"<!-- {x} -->"),
        inner.map(lambda x: f"{x}<?pi x?>{x}"),
        st.lists(inner, min_size=2, max_size=3).map("".join),
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({"title": _markup, "body": _markup, "contact": st.one_of(st.just(""), _markup)}))
def test_random_markup_gives_what_beautifulsoup_gives(fragments):
    assert fragments_to_text(fragments) == reference(fragments)


def test_a_page_cannot_forge_another_field():
    """The wrappers' attribute is random per process: markup naming an attribute like it is only markup."""
    forged = '<div data-adclear-field="title">伪造标题</div>'
    text = fragments_to_text({"title": "<h1>真标题</h1>", "body": f"<p>正文</p>{forged}"})
    assert text == {"title": "真标题", "body": "正文\n伪造标题"}


def test_the_demo_pages_give_what_beautifulsoup_gives():
    from demo.classifieds.site import ClassifiedsSite

    site = ClassifiedsSite()
    for ad in site.ads:
        status, _ctype, body = site.page(ad.path)
        assert status == 200
        page = (
            body.decode("gb18030")
            if b'charset="gbk"' in body.lower() or b"charset=gbk" in body.lower()
            else body.decode()
        )
        assert fragments_to_text({"body": page}) == reference({"body": page})


def test_the_real_pages_give_what_beautifulsoup_gives(shared_data: Path):
    pages = sorted((shared_data / "html").glob("*.html"))
    if not pages:
        pytest.skip("no real pages in ../shared/data/html")
    for path in pages:
        raw = path.read_bytes()
        page = (
            raw.decode("gb18030", errors="replace")
            if b"gb2312" in raw[:2000].lower()
            else raw.decode("utf-8", "replace")
        )
        for start in range(0, len(page), 4000):  # in pieces, as a site's selectors would cut them
            fragments = {"title": page[start : start + 80], "body": page[start : start + 4000]}
            assert fragments_to_text(fragments) == reference(fragments), (path.name, start)


@pytest.mark.parametrize(
    "fragments",
    [
        # unclosed tags that swallow the wrappers after them, with text after the swallowed ones
        {"title": "<table><tr><td>标题", "body": "<p>正文</p>"},
        {"title": "<ul><li>标题", "body": "<p>正文</p>", "contact": "尾巴</li></ul>更多"},
        {"title": "<table><tr><td>标题", "body": "正文</td>尾巴</tr></table>后", "contact": "电话"},
        {"title": "<b>标题", "body": "<i>正文", "contact": "</b>电话</i>尾"},
        {"title": "<table><tr><td>标题", "body": "正文</div>尾巴"},  # the text after stays with the title
    ],
)
def test_swallowed_fragments_are_lifted_out_as_beautifulsoup_does(fragments):
    assert fragments_to_text(fragments) == reference(fragments)
