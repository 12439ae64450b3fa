"""adclear recheck: what is decided from a page fetched again, and what is refused or left unknown.

The whole path (crawl → confirm → dispatch → removed and online → overdue → reappeared) is
tests/test_takedown_e2e.py; here each outcome and each bad input on its own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from classifier.neighbours import comparable_text
from core.ads import ad_text, content_hash
from core.db import connect
from core.seeds import load_seeds
from core.warc import read_record
from crawler.recheck import RecheckTarget, SeenAd, decide
from review import ledger, takedowns
from review.decisions import confirm
from tests.conftest import NO_READING, REPO, run_adclear, seeds_for

CATEGORY = "投资理财/P2P网贷"
BODY = "鑫盛通金融信息服务平台，国资背景，年化收益8%—12%，按月付息，到期还本，1000元起投，100%本息保障，稳赚不赔"


# ---- deciding -------------------------------------------------------------------------------------------------
def _target(title: str = "鑫盛通网贷 年化12% 保本保息", body: str = BODY) -> RecheckTarget:
    t, text = ad_text(title, body, "")
    return RecheckTarget(1, 1, "http://127.0.0.1:1/ad/1.html", content_hash(title, body, ""), comparable_text(text, t))


def _seen(title: str, body: str) -> SeenAd:
    return SeenAd(title, ad_text(title, body, "")[1], content_hash(title, body, ""))


MARKERS = ("信息已删除", "不存在")


@pytest.mark.parametrize(
    ("status", "seen", "page", "outcome", "why"),
    [
        (404, None, "", "removed", "answers 404"),
        (410, None, "", "removed", "answers 410"),
        (503, None, "", "unknown", "answers 503"),
        (429, None, "", "unknown", "answers 429"),
        (403, None, "", "unknown", "answers 403"),
        (200, None, "对不起，该信息已删除", "removed", "the page says '信息已删除'"),
        (200, None, "首页 最新发布", "removed", "selectors find nothing"),
        (200, _seen("示范同城网", "今日推荐：二手家电出售"), "", "removed", "the page shows other text"),
        (200, _seen("鑫盛通网贷 年化12% 保本保息", BODY), "风险不存在", "online", "unchanged"),
        (200, _seen("鑫盛通网贷 年化12% 保本保息", BODY + "，新客户加息1%"), "", "online", "edited"),
    ],
)
def test_what_a_page_fetched_again_says(status, seen, page, outcome, why):
    got, detail = decide(_target(), status, seen=seen, page_text=page, markers=MARKERS)
    assert got == outcome and why in detail


def test_a_marker_on_a_page_that_still_shows_the_ad_does_not_remove_it():
    # the ad itself says 不存在 ("风险不存在"): its text is there, so it is online
    seen = _seen("鑫盛通网贷 年化12% 保本保息", BODY)
    assert decide(_target(), 200, seen=seen, page_text="风险不存在 " + BODY, markers=MARKERS)[0] == "online"


def test_removed_markers_are_read_from_seeds_and_too_short_ones_refused(tmp_path):
    site = load_seeds(REPO / "seeds.yml").site("demo-social")
    assert "该动态已被删除" in site.removed_markers
    text = (REPO / "seeds.yml").read_text(encoding="utf-8").replace('["该信息已删除"]', '["删"]')
    (tmp_path / "seeds.yml").write_text(text, encoding="utf-8")
    result = run_adclear("sites", db=tmp_path / "a.db", seeds=tmp_path / "seeds.yml")
    assert result.returncode == 1
    assert "sites[0] (demo-classifieds).removed_markers[0]: String should have at least 2 characters" in result.stderr


# ---- the demo sites after a takedown ---------------------------------------------------------------------------
def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def _post(base: str, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()) if e.headers.get_content_type() == "application/json" else {}


def test_the_demo_sites_take_an_ad_down_put_it_back_and_repost_it(own_demo_server):
    base = own_demo_server.base_url
    assert _get(f"{base}/_demo/takedown?site=classifieds&id=1004")[0] == 405  # POST only
    assert _post(base, "/_demo/takedown?site=nowhere&id=1")[0] == 404
    assert _post(base, "/_demo/takedown?site=classifieds&id=42") == (404, {"error": "no ad '42' on classifieds"})

    assert _post(base, "/_demo/takedown?site=classifieds&id=1004")[0] == 200
    status, page = _get(f"{base}/classifieds/ad/1004.html")
    assert status == 410 and "该信息已删除" in page
    assert "/ad/1004.html" not in _get(f"{base}/classifieds/licai/")[1] + _get(f"{base}/classifieds/licai/p2.html")[1]
    _post(base, "/_demo/restore?site=classifieds&id=1004")
    assert _get(f"{base}/classifieds/ad/1004.html")[0] == 200

    assert _post(base, "/_demo/takedown?site=social&id=2001")[0] == 200
    status, page = _get(f"{base}/social/p/2001")
    assert status == 200 and "该动态已被删除" in page  # as platforms do: 200 and a page that says so
    assert '"id": 2001' not in _get(f"{base}/social/api/feed?offset=0")[1]
    _post(base, "/_demo/restore?site=social&id=2001")

    status, answer = _post(base, "/_demo/repost?site=classifieds&id=1001&to=social")
    assert status == 200 and answer["url"].startswith("/social/p/")
    post = json.loads(_get(f"{base}/social/api/post/{answer['url'].rsplit('/', 1)[1]}")[1])
    assert "鑫盛通网贷" in post["text"][0] and "100%本息保障" in "".join(post["text"])

    _post(base, "/_demo/outage?site=classifieds&on=1")
    assert _get(f"{base}/classifieds/ad/1004.html")[0] == 503
    assert _get(f"{base}/social/")[0] == 200
    _post(base, "/_demo/outage?site=classifieds&on=0")
    assert _get(f"{base}/classifieds/ad/1004.html")[0] == 200


# ---- the command, on a crawled database -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crawled(own_demo_server, tmp_path_factory) -> tuple[Path, Path]:
    """The demo classifieds crawled once; ads 1003 and 1005 confirmed and dispatched, 1006 confirmed only."""
    tmp = tmp_path_factory.mktemp("recheck")
    db_path, seeds = tmp / "adclear.db", seeds_for(own_demo_server.base_url, tmp / "seeds.yml")
    run_adclear("crawl", *NO_READING, "demo-classifieds", db=db_path, seeds=seeds, check=True)
    db = connect(db_path)
    ids = {}
    for demo_id in (1003, 1005, 1006):
        ad = _ad(db, demo_id)
        confirm(db, ad, reviewer="张三", category=CATEGORY, reason="承诺高额回报")
        ids[demo_id] = takedowns.for_ad(db, ad)[0].id
    with takedowns.writing(db):
        takedowns.dispatched(db, [ids[1003], ids[1005]], batch_id=None, number="〔2026〕SFX交字第0002号",
                             receiver="示范同城网", deadline=(date.today() + timedelta(days=7)).isoformat(),
                             actor="王五")  # fmt: skip
    db.close()
    return db_path, seeds


@pytest.fixture
def copy(crawled, tmp_path) -> tuple[Path, Path]:
    """A private copy of the crawled database (WARC files beside it as well)."""
    db_path, seeds = crawled
    target = tmp_path / "adclear.db"
    with sqlite3.connect(db_path) as source, sqlite3.connect(target) as dest:
        source.backup(dest)
    shutil.copytree(db_path.parent / "warc", tmp_path / "warc")
    return target, seeds


def _ad(db, demo_id: int) -> int:
    return db.execute("SELECT id FROM ads WHERE url LIKE ?", [f"%/ad/{demo_id}.html"]).fetchone()[0]


def _head(db_path: Path) -> int:
    db = connect(db_path)
    try:
        return ledger.head(db).seq
    finally:
        db.close()


def test_a_takedown_that_does_not_exist_is_a_clear_error_and_writes_nothing(copy):
    db_path, seeds = copy
    before = _head(db_path)
    result = run_adclear("recheck", "--takedown", "999", db=db_path, seeds=seeds)
    assert result.returncode == 1
    assert result.stderr == "Error: no takedown 999 (see `adclear takedown list`)\n"
    not_sent = run_adclear("recheck", "--takedown", "3", db=db_path, seeds=seeds)
    assert not_sent.returncode == 1
    assert "takedown 3 is requested (待交办): only a takedown dispatched, answered, online, removed" in not_sent.stderr
    unknown_site = run_adclear("recheck", "--site", "nowhere", db=db_path, seeds=seeds)
    assert unknown_site.returncode == 1 and "no site named 'nowhere' in seeds.yml" in unknown_site.stderr
    assert "Traceback" not in result.stderr + not_sent.stderr + unknown_site.stderr
    assert _head(db_path) == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _elsewhere(seeds: Path, base: str, target: Path, port: int) -> Path:
    """The seeds with the demo sites' address moved to ``port`` (no retries: the test need not wait)."""
    text = seeds.read_text(encoding="utf-8").replace(base, f"http://127.0.0.1:{port}")
    target.write_text(text.replace("retries: 1", "retries: 0"), encoding="utf-8")
    return target


def test_a_site_that_is_down_is_unknown_never_removed(copy, own_demo_server, tmp_path):
    db_path, seeds = copy
    base, port = own_demo_server.base_url, _closed_port()  # nothing listens there: the site is down
    down = _elsewhere(seeds, base, tmp_path / "down.yml", port)
    with sqlite3.connect(db_path) as conn:  # the ads' pages are on that server
        conn.execute("UPDATE ads SET url = replace(url, ?, ?)", [base, f"http://127.0.0.1:{port}"])
    result = run_adclear("recheck", db=db_path, seeds=down)
    assert result.returncode == 1
    assert "2 of 2 re-check(s) could not see the page (recorded as unknown, not as removed)" in result.stderr
    assert result.stdout.count("未果 unknown: refused: connection refused: is the site down?") == 2
    db = connect(db_path)
    assert {t.state for t in takedowns.listing(db, state="open") if t.check_result} == {"dispatched"}
    rows = db.execute("SELECT outcome, http_status, warc_file FROM rechecks").fetchall()
    assert rows == [("unknown", None, None), ("unknown", None, None)]
    actions = [e.action for e in ledger.entries(db)][-2:]
    assert actions == ["recheck_failed", "recheck_failed"]
    assert db.execute("SELECT count(*) FROM ads WHERE removed_at IS NOT NULL").fetchone()[0] == 0
    db.close()


def test_a_url_the_network_policy_refuses_is_not_fetched_and_unknown(copy, own_demo_server, tmp_path):
    db_path, seeds = copy
    before = len(own_demo_server.requests)
    # seeds.yml now allows another loopback port only: the ads' server is refused before connecting
    moved = _elsewhere(seeds, own_demo_server.base_url, tmp_path / "moved.yml", _closed_port())
    result = run_adclear("recheck", db=db_path, seeds=moved)
    assert result.returncode == 1
    assert result.stdout.count("未果 unknown: blocked: refused before connecting") == 2
    assert len(own_demo_server.requests) == before  # not even robots.txt
    db = connect(db_path)
    assert db.execute("SELECT DISTINCT outcome FROM rechecks").fetchall() == [("unknown",)]
    db.close()


def test_a_site_answering_503_is_unknown_and_its_answer_archived(copy, own_demo_server):
    db_path, seeds = copy
    _post(own_demo_server.base_url, "/_demo/outage?site=classifieds&on=1")
    try:
        result = run_adclear("recheck", "--site", "demo-classifieds", db=db_path, seeds=seeds)
    finally:
        _post(own_demo_server.base_url, "/_demo/outage?site=classifieds&on=0")
    assert result.returncode == 1
    assert "未果 unknown HTTP 503: the site answers 503: says nothing about the ad" in result.stdout
    db = connect(db_path)
    assert db.execute("SELECT DISTINCT outcome, http_status FROM rechecks").fetchall() == [("unknown", 503)]
    assert db.execute("SELECT count(*) FROM rechecks WHERE warc_file IS NULL").fetchone()[0] == 0
    db.close()


@contextlib.contextmanager
def _taken_down(server, demo_id: int, how: str = "") -> Iterator[None]:
    """The demo classifieds without this ad while the block runs (``how``: "redirect")."""
    _post(server.base_url, f"/_demo/takedown?site=classifieds&id={demo_id}&how={how}")
    try:
        yield
    finally:
        _post(server.base_url, f"/_demo/restore?site=classifieds&id={demo_id}")


def test_an_ad_whose_page_now_sends_to_the_home_page_is_removed(copy, own_demo_server):
    db_path, seeds = copy
    base = own_demo_server.base_url
    db = connect(db_path)
    tid = takedowns.for_ad(db, _ad(db, 1003))[0].id
    with _taken_down(own_demo_server, 1003, "redirect"):
        assert _get(f"{base}/classifieds/ad/1003.html")[1].count("最新发布") == 1  # followed to the home page
        result = run_adclear("recheck", "--takedown", tid, db=db_path, seeds=seeds, check=True)
    assert "已删除 removed HTTP 200: the ad's text is gone: the site's detail selectors find nothing" in result.stdout
    warc_file, offset = db.execute("SELECT warc_file, warc_offset FROM rechecks").fetchone()
    headers, _ = read_record(db_path.parent / warc_file, offset)
    assert headers["WARC-Target-URI"] == f"{base}/classifieds/"  # what was seen: the page it was sent to
    db.close()


def test_an_ad_put_back_is_online_again(copy, own_demo_server):
    db_path, seeds = copy
    db = connect(db_path)
    tid = takedowns.for_ad(db, _ad(db, 1005))[0].id
    with _taken_down(own_demo_server, 1005):
        first = run_adclear("recheck", "--takedown", tid, db=db_path, seeds=seeds, check=True)
        assert "已删除 removed HTTP 410" in first.stdout
        assert takedowns.get(db, tid).state == "removed"
        run = db.execute("SELECT status, pages FROM crawl_runs WHERE spider = 'recheck' ORDER BY id DESC").fetchone()
        assert run == ("ok", 1)  # a run that found the ad gone did its job
    assert "nothing to re-check" not in first.stdout
    # a removed takedown is re-checked only when named: the default picks the ones still owed
    again = run_adclear("recheck", "--takedown", tid, db=db_path, seeds=seeds, check=True)
    assert "仍在线 still online HTTP 200" in again.stdout
    t = takedowns.get(db, tid)
    assert (t.state, t.removed_at) == ("online", None)
    db.close()


# ---- a social site: rendered in Chromium, a removed post still answers 200 ----------------------------------------
def test_a_social_post_removed_behind_a_200_page_and_its_repost_on_the_other_site(own_demo_server, tmp_path):
    base = own_demo_server.base_url
    db_path = tmp_path / "adclear.db"
    text = seeds_for(base, tmp_path / "all.yml").read_text(encoding="utf-8")
    seeds = tmp_path / "seeds.yml"
    seeds.write_text(text.replace("max_pages: 300", "max_pages: 12"), encoding="utf-8")  # a few posts will do
    run_adclear("crawl", "demo-social", db=db_path, seeds=seeds, check=True)
    db = connect(db_path)
    posts = db.execute(
        "SELECT a.id, a.url FROM ads a JOIN verdicts v ON v.ad_id = a.id WHERE a.site = 'demo-social' "
        "AND v.label = 'flag' ORDER BY a.id LIMIT 2"
    ).fetchall()
    assert len(posts) == 2, "the first pages of the demo feed hold flagged posts"
    ids = []
    for ad, _ in posts:
        confirm(db, ad, reviewer="张三", category=CATEGORY, reason="承诺高额回报")
        ids.append(takedowns.for_ad(db, ad)[0].id)
    with takedowns.writing(db):
        takedowns.dispatched(db, ids, batch_id=None, number="〔2026〕SFX交字第0003号", receiver="示范圈",
                             deadline=(date.today() + timedelta(days=7)).isoformat(), actor="王五")  # fmt: skip
    gone = int(posts[0][1].rsplit("/", 1)[1])
    _post(base, f"/_demo/takedown?site=social&id={gone}")
    try:
        result = run_adclear("recheck", "--site", "demo-social", db=db_path, seeds=seeds, check=True)
    finally:
        _post(base, f"/_demo/restore?site=social&id={gone}")
    assert f"takedown {ids[0]} (ad {posts[0][0]})" in result.stdout
    assert "已删除 removed HTTP 200: the page says '该动态已被删除'" in result.stdout
    assert "仍在线 still online HTTP 200: the ad's text is still there, unchanged" in result.stdout
    assert [takedowns.get(db, i).state for i in ids] == ["removed", "online"]
    pages = db.execute(
        "SELECT count(*) FROM pages p JOIN crawl_runs r ON r.id = p.run_id WHERE r.spider = 'recheck'"
    ).fetchone()[0]
    assert pages >= 2  # the rendered pages are archived like any crawled page

    # the removed post comes back as a classifieds ad: found there, linked to the post's takedown
    _post(base, f"/_demo/repost?site=social&id={gone}&to=classifieds")
    crawled = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db_path, seeds=seeds, check=True)
    assert f"is a near-duplicate of ad {posts[0][0]} (takedown {ids[0]}); queued first" in crawled.stdout
    new_ad = takedowns.get(db, ids[0]).reappeared_ad_id
    assert db.execute("SELECT site FROM ads WHERE id = ?", [new_ad]).fetchone()[0] == "demo-classifieds"
    db.close()


def test_an_outcome_for_a_takedown_closed_meanwhile_is_refused_and_the_others_recorded(db):
    from adclear.recheck import record_outcomes
    from crawler.recheck import RecheckOutcome
    from tests.webdata import add_ad

    ads, ids = [], []
    for i in (1, 2):
        ads.append(add_ad(db, f"保本理财{i}号", f"本平台保本保息，年化收益1{i}%", url=f"http://example.test/{i}"))
        confirm(db, ads[-1], reviewer="张三", category=CATEGORY, reason="保本承诺")
        ids.append(takedowns.for_ad(db, ads[-1])[0].id)
    with takedowns.writing(db):
        takedowns.dispatched(db, ids, batch_id=None, number="〔2026〕SFX交字第0009号", receiver="测试同城网",
                             deadline=(date.today() + timedelta(days=7)).isoformat(), actor="王五")  # fmt: skip
    takedowns.close(db, ids[0], actor="王五", note="平台回函已删除，不再复查")  # while the page was being fetched
    outcomes = [
        RecheckOutcome(ids[0], ads[0], "http://example.test/1", "removed", "the site answers 410 (Gone)", 410),
        RecheckOutcome(ids[1], ads[1], "http://example.test/2", "online", "the ad's text is still there", 200),
    ]
    refused = record_outcomes(db, outcomes, actor="adclear-recheck")
    assert list(refused) == [ids[0]] and "is closed (已办结): cannot re-check it" in refused[ids[0]]
    assert [takedowns.get(db, i).state for i in ids] == ["closed", "online"]
    assert db.execute("SELECT takedown_id, outcome FROM rechecks").fetchall() == [(ids[1], "online")]
