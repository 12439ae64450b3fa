"""Contacts out of ad text (classifier.contacts) and into the database (the crawl's contacts table)."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.contacts import extract_contacts


def kinds(*parts: str) -> list[tuple[str, str]]:
    return [(c.kind, c.value) for c in extract_contacts(*parts)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话 138 0000 5821", [("mobile", "13800005821")]),
        ("手机：138-0000-5821。", [("mobile", "13800005821")]),
        ("+86 13800005821", [("mobile", "13800005821")]),
        ("１３７\u3000００００\u3000４４１８", [("mobile", "13700004418")]),  # full-width digits, ideographic spaces
        ("手机一三八零零零零一二三四", [("mobile", "13800001234")]),  # Chinese digits
        ("座机 010-62345678", [("landline", "010-62345678")]),
        ("微信 xst_licai01", [("wechat", "xst_licai01")]),
        ("薇信 mx_2fen888", [("wechat", "mx_2fen888")]),  # homophone of 微信
        ("ＶＸ：ｌｏｎｄｏｎｇｏｌｄ６６", [("wechat", "londongold66")]),  # full-width abbreviation
        ("加V：Licai888", [("wechat", "licai888")]),  # ids are lower case
        ("QQ群 555001234", [("qq_group", "555001234")]),
        ("扣扣号：12345678", [("qq", "12345678")]),
        ("官网 www.Example.com/Path", [("url", "http://www.example.com/Path")]),
        ("详见 https://Example.com/a?b=1。", [("url", "https://example.com/a?b=1")]),
        ("订单号 2026112812345678 价格 100 元", []),  # long digit runs are not phone numbers
        ("本店地址：示范市中心路 8 号", []),
    ],
)
def test_each_kind_is_found_and_made_canonical(text, expected):
    assert kinds(text) == expected


def test_every_contact_keeps_what_was_written_and_where():
    text = "电话 １３８ ００００ ５８２１ / 薇信 mx_2fen888"
    contacts = extract_contacts(text)
    assert [c.matched for c in contacts] == ["１３８ ００００ ５８２１", "mx_2fen888"]
    for c in contacts:
        assert text[c.start : c.end] == c.matched


def test_duplicates_and_look_alikes_count_once():
    # the same number twice; a QQ number that is the mobile; a landline inside the mobile number
    assert kinds("电话13800005821，再说一遍13800005821，QQ 13800005821") == [("mobile", "13800005821")]
    assert kinds("微信同号 13912345678") == [("mobile", "13912345678"), ("wechat", "13912345678")]


def test_parts_are_read_apart_and_spans_index_the_joined_text():
    title, text = "高收益理财 加V", "每月分红\n联系 13800001234\n微信 licai_888"
    contacts = extract_contacts(title, text)
    joined = f"{title}\n{text}"
    assert [(c.kind, c.value) for c in contacts] == [("mobile", "13800001234"), ("wechat", "licai_888")]
    for c in contacts:
        assert joined[c.start : c.end] == c.matched
    # the title's 加V does not reach into the text's first line
    assert kinds("加V", "licai888 每月分红") == []
    assert kinds("加V licai888 每月分红") == [("wechat", "licai888")]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from(list("电话微信薇vxqQ群号:：1380０5 -\n.wcom/")), max_size=30), max_size=3)
)
def test_extraction_never_raises_and_spans_lie_in_the_text(parts):
    joined = "\n".join(parts)
    for c in extract_contacts(*parts):
        assert 0 <= c.start < c.end <= len(joined)
        assert joined[c.start : c.end] == c.matched


@pytest.mark.slow
def test_the_crawl_stores_every_demo_ads_contacts(tmp_path, demo_site):
    """The demo ads' contact lines end up in the contacts table, normalised, so ads group by contact."""
    from demo.classifieds.site import ClassifiedsSite
    from tests.conftest import run_adclear, seeds_for

    seeds = seeds_for(demo_site, tmp_path / "seeds.yml")
    db = tmp_path / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-classifieds", db=db, seeds=seeds)
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(db) as conn:
        stored: dict[str, set[tuple[str, str]]] = {}
        for url, kind, value in conn.execute(
            "SELECT a.url, c.kind, c.value FROM contacts c JOIN ads a ON a.id = c.ad_id"
        ):
            stored.setdefault(url, set()).add((kind, value))
    for ad in ClassifiedsSite().ads:
        expected = set(kinds(ad.title, f"{ad.body}\n{ad.contact}" if ad.contact else ad.body))
        expected |= {("url", qr) for _, _, qr in ad.pictures if qr}  # QR codes, read beside the crawl
        assert stored.get(f"{demo_site}{ad.path}", set()) == expected, ad.path
    everything = set().union(*stored.values())
    assert ("mobile", "13800005821") in everything and ("wechat", "xst_licai01") in everything
    assert ("wechat", "londongold66") in everything  # written ＶＸ：ｌｏｎｄｏｎｇｏｌｄ６６
    assert ("qq_group", "555001234") in everything
