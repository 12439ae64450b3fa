"""Search over every ad (review.search, core.search_index) and the pages of a contact or an advertiser
(review.entities): what a query written with evasions finds, that the index follows the ads, the filters, and the
commands ``adclear search`` and ``adclear entity``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from classifier.contacts import extract_contacts
from core.db import connect, immediate
from core.migrations import migrations
from core.timeutil import local, now_utc
from review import decisions, entities
from review.search import NotAContact, Query, contact_values, parse, search
from tests.conftest import run_adclear
from tests.webdata import add_ad

PHONE = "13800138000"
# (site, author, title, body, posted_at): 鑫盛通 posts on three sites under one phone, written three ways;
# 环球汇金 changes its phone and keeps its QQ group
ADS = [
    (
        "site-a",
        "鑫盛通财富",
        "鑫盛通网贷 年化12% 保本保息",
        "千元起投，电话 138 0013 8000，微信 xst_licai01",
        "2026-10-01T01:00:00+00:00",
    ),
    (
        "site-b",
        "鑫盛通财富",
        "鑫盛通理财 稳赚不赔",
        "國資背景，百分百保本，电话１３８－００１３－８０００",
        "2026-10-05T01:00:00+00:00",
    ),
    ("site-c", "鑫盛通 王经理", "理财新品 年化10%", "名额有限，手机 13800138000", "2026-10-09T01:00:00+00:00"),
    (
        "site-a",
        "环球汇金",
        "外汇喊单 月收益20%",
        "跟单稳赚，电话 137 0000 2290，QQ群 555001234",
        "2026-10-02T01:00:00+00:00",
    ),
    ("site-b", "环球汇金", "外汇跟单 换新号", "新号码 137 0000 2291，QQ群 555001234", "2026-11-02T01:00:00+00:00"),
    ("site-c", "张师傅", "招聘货车司机", "月薪八千，包吃住，电话 139 0000 1111", "2026-10-03T01:00:00+00:00"),
]


def store(db: sqlite_utils.Database, site: str, author: str, title: str, body: str, posted: str) -> int:
    """An ad stored as the crawl stores it: classified, with its contacts and advertiser (indexed later)."""
    ad_id = add_ad(db, title, body, site=site, url=f"http://{site}.test/{abs(hash((title, body)))}.html")
    with immediate(db):
        db.execute("UPDATE ads SET author = ?, posted_at = ? WHERE id = ?", [author, posted, ad_id])
        for c in extract_contacts(title, body):
            db.execute(
                "INSERT OR IGNORE INTO contacts (ad_id, kind, value, matched, first_seen) VALUES (?, ?, ?, ?, ?)",
                [ad_id, c.kind, c.value, c.matched, now_utc()],
            )
    return ad_id


def fill(db_path: Path) -> list[int]:
    db = connect(db_path)
    ids = [store(db, *ad) for ad in ADS]
    db.close()
    return ids


@pytest.fixture
def filled(tmp_path):
    db_path = tmp_path / "data" / "adclear.db"
    ids = fill(db_path)
    db = connect(db_path)
    yield db, ids, db_path
    db.close()


def found(db, **query) -> list[int]:
    return [ad["id"] for ad in search(db, Query(**query))]


@pytest.mark.parametrize(
    "written",
    ["138 0013 8000", "１３８ ００１３ ８０００", "138-0013-8000", "+86 13800138000", "一三八零零一三八零零零"],
)
def test_a_phone_written_any_way_finds_every_ad_that_shows_it(filled, written):
    db, ids, _ = filled
    assert found(db, text=written) == [ids[2], ids[1], ids[0]]  # newest first, across three sites
    assert found(db, contact=written) == [ids[2], ids[1], ids[0]]


def test_words_are_read_as_the_ads_are_normalised(filled):
    db, ids, _ = filled
    assert found(db, text="保 本 保 息") == [ids[0]]  # spaced: one 3+ character word
    assert found(db, text="国资背景") == [ids[1]]  # the ad wrote it in traditional characters
    assert found(db, text="月薪8000") == [ids[5]]  # the ad wrote 八千: numerals with a unit are digits
    assert found(db, text="月薪八千") == [ids[5]]
    assert found(db, text="保本") == [ids[1], ids[0]]  # 2 characters: the pairs table
    assert found(db, text="保本 鑫盛通") == [ids[1], ids[0]]  # a trigram word, the pair checked on its ads
    assert found(db, text="赚") == [ids[3], ids[1]]  # 1 character: LIKE
    assert found(db, text="保本 无此词") == []
    assert found(db, text="xst_licai01") == [ids[0]]


def test_filters_narrow_every_kind_of_search(filled):
    db, ids, _ = filled
    assert found(db, text="保本", site="site-b") == [ids[1]]
    assert found(db, site="site-a") == [ids[3], ids[0]]
    assert found(db, text="138 0013 8000", site="site-c") == [ids[2]]
    clear = found(db, label="clear")
    assert ids[5] in clear and ids[0] not in clear  # a job ad; a promotion
    decisions.confirm(db, ids[0], reviewer="rev1", category="投资理财/P2P网贷", reason="保本保息")
    assert found(db, text="保本", decision="confirmed") == [ids[0]]
    assert found(db, text="保本", decision="undecided") == [ids[1]]
    today = local(now_utc(), "%Y-%m-%d")  # the day filters are China days (after 16:00 UTC, tomorrow's)
    assert found(db, text="保本", date_from=today, date_to=today) == [ids[1], ids[0]]
    assert found(db, text="保本", date_to="2020-01-01") == []
    page = [ad["id"] for ad in search(db, Query(text="鑫盛通"), limit=1, offset=1)]
    assert page == [ids[1]]  # of ids[2] (its advertiser is 鑫盛通 王经理), ids[1], ids[0]: the second page of one


def test_the_index_follows_new_and_changed_ads(filled):
    db, ids, _ = filled
    assert found(db, text="货车司机") == [ids[5]]  # indexes the six ads stored since
    with immediate(db):
        db.execute("UPDATE ads SET title = '全新标题 返利', body = '推荐一人返利百分之十' WHERE id = ?", [ids[5]])
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 1  # the trigger noted it
    assert found(db, text="返利") == [ids[5]]
    assert found(db, text="货车司机") == [] and found(db, text="招聘") == []  # the old words are gone, pairs too
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
    with immediate(db):
        db.execute("UPDATE ads SET status = 'rejected', last_seen = ? WHERE id = ?", [now_utc(), ids[5]])
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0  # not its text: nothing to do


def test_the_migration_indexes_the_ads_already_stored(tmp_path):
    path = tmp_path / "old.db"
    before = Migrations("adclear")
    before._migrations = [m for m in migrations._migrations if m.name != "m011_search"]
    conn = sqlite3.connect(path)
    old = sqlite_utils.Database(conn)
    before.apply(old)
    old.execute("INSERT INTO sites (name, platform, kind, config, updated_at) VALUES ('s', 'p', 'c', '{}', '')")
    old.execute(
        "INSERT INTO ads (ad_key, url, site, platform, title, body, content_hash, first_seen, last_seen, last_fetched)"
        " VALUES ('k', 'u', 's', 'p', '原始股 内部认购', '上市后翻十倍', 'h', ?, ?, ?)",
        [now_utc()] * 3,
    )
    conn.commit()
    conn.close()
    db = connect(path)  # applies m011
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
    assert found(db, text="原始股内部") == [1] and found(db, text="翻十") == [1]


def test_what_a_contact_reads_as():
    assert contact_values("xst_licai01") == [(("wechat",), "xst_licai01")]
    assert contact_values("555 001 234") == [(("mobile", "qq", "qq_group", "wechat"), "555001234")]
    assert contact_values("QQ群 555001234") == [(("qq_group",), "555001234")]
    with pytest.raises(NotAContact):
        contact_values("保本")
    p = parse(Query(text="保本 微信 XST_licai01 原始股 x"))
    assert (p.contacts, p.trigrams, p.pairs, p.scanned) == ([(("wechat",), "xst_licai01")], ["原始股"], ["保本"], ["x"])


def test_a_contacts_page_lists_its_ads_across_sites_with_the_advertisers(filled):
    db, ids, _ = filled
    page = entities.contact(db, "mobile", PHONE)
    assert [ad["id"] for ad in page["ads"]] == [ids[2], ids[1], ids[0]]  # by posting date, newest first
    assert page["sites"] == {"site-c": 1, "site-b": 1, "site-a": 1}
    assert page["authors"] == {"鑫盛通 王经理": 1, "鑫盛通财富": 2}
    assert page["others"] == [{"kind": "wechat", "value": "xst_licai01", "ads": 1}]
    assert page["first_seen"].startswith("2026-10-01") and page["last_seen"].startswith("2026-10-09")


def test_an_advertisers_page_shows_a_change_of_phone(filled):
    db, ids, _ = filled
    page = entities.advertiser(db, "环球汇金")
    assert [ad["id"] for ad in page["ads"]] == [ids[4], ids[3]]
    used = [(c["kind"], c["value"], c["first"][:10], c["last"][:10]) for c in page["contacts"]]
    assert used == [
        ("mobile", "13700002290", "2026-10-02", "2026-10-02"),
        ("qq_group", "555001234", "2026-10-02", "2026-11-02"),
        ("mobile", "13700002291", "2026-11-02", "2026-11-02"),
    ]
    assert entities.resolve(db, "环球汇金") == ("author", "环球汇金")
    assert entities.resolve(db, "１３７ ００００ ２２９１") == ("mobile", "13700002291")
    assert entities.resolve(db, "139 9999 9999") is None


def test_the_commands_find_and_escape(filled):
    db, ids, db_path = filled
    with immediate(db):
        db.execute("UPDATE ads SET title = ? WHERE id = ?", ["\x1b]52;c;aGk=\x07保本保息\x1b[2J", ids[0]])
    result = run_adclear("search", "１３８ ００１３ ８０００", db=db_path, check=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert [int(line.split()[0][1:]) for line in lines] == [ids[2], ids[1], ids[0]]
    assert "\x1b" not in result.stdout and "\\x1b]52;c;aGk=\\x07保本保息" in result.stdout
    result = run_adclear("search", "保本", "--site", "site-b", db=db_path, check=True)
    assert [line.split()[0] for line in result.stdout.splitlines() if line.startswith("#")] == [f"#{ids[1]}"]
    result = run_adclear("entity", "环球汇金", db=db_path, check=True)
    assert "2 ads on 2 sites" in result.stdout and "13700002290" in result.stdout and "13700002291" in result.stdout
    result = run_adclear("entity", "138 0013 8000", db=db_path, check=True)
    assert "3 ads on 3 sites" in result.stdout and "鑫盛通财富 (2)" in result.stdout
    result = run_adclear("entity", "保本", db=db_path)
    assert result.returncode == 1 and "reads as no phone" in result.stderr and "Traceback" not in result.stderr
    result = run_adclear("search", db=db_path)
    assert result.returncode == 2 and "give words" in result.stderr


@pytest.mark.parametrize(
    ("title", "body", "contact", "author"),
    [
        ("理财", "年化１８％，保本保息", "微信 lc8888", "张 经理"),
        ("", "年 化 1 8 % 稳赚不赔", "", ""),
        ("高息揽储", "", "", "某公司"),
        ("  ", "正文", "", ""),
        ("標題", "", "电话 138 0000 1234", ""),
        ("", "", "", ""),
    ],
)
def test_the_search_text_made_from_a_nodes_normalised_text_is_the_one_made_here(title, body, contact, author):
    """The ingest writer indexes an ad from the text a crawler node normalised (``RulesOutcome.whole``): the
    same text as normalising the ad's parts again, else searches would miss what the node sent."""
    from classifier import Classifier
    from core.ads import ad_text
    from core.search_index import search_text, search_text_of

    read_title, read_text = ad_text(title, body, contact)
    whole = Classifier.default().assess(read_text, read_title, for_writer=True).outcome.whole
    assert search_text_of(whole, read_title, read_text, author) == search_text(title, body, contact, author)
