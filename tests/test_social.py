"""The social demo crawled end to end in real headless Chromium: every post stored once, text that only
JavaScript puts on the page captured, a full-page screenshot of every post archived as evidence; a browser that
cannot start or a page that never settles fails the run with a message that says so.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import urllib.request
from pathlib import Path

import pytest
import yaml

from core.timeutil import parse_local
from core.warc import read_record
from demo.social.site import SocialSite
from tests.conftest import REPO, run_adclear, seeds_for

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"


def social_seeds(base_url: str, target: Path, **render: object) -> Path:
    """The repository's seeds.yml with only demo-social, on ``base_url``, its ``render`` keys overridden."""
    seeds_for(base_url, target)
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    data["sites"] = [s for s in data["sites"] if s["name"] == "demo-social"]
    data["sites"][0]["render"].update(render)
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_site):
    """One crawl of the social demo (feed, 加载更多, searches, post pages); returns (db path, result)."""
    tmp = tmp_path_factory.mktemp("social")
    db = tmp / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-social", db=db, seeds=seeds_for(demo_site, tmp / "seeds.yml"))
    return db, result


def test_every_post_is_stored_once_with_its_author_time_and_text(crawled, demo_site):
    from crawler.spiders.social import post_title

    db, result = crawled
    assert result.returncode == 0, result.stdout + result.stderr
    posts = SocialSite().posts
    n = len(posts)
    assert "demo-social: ok (run 1): " in result.stdout
    assert f"{n} ads ({n} new, 0 seen again, 0 changed), 0 errors" in result.stdout
    rows = query(db, "SELECT url, title, body, author, posted_at, site, platform FROM ads")
    expected = {f"{demo_site}{p.path}": p for p in posts}
    assert sorted(r[0] for r in rows) == sorted(expected)
    for url, title, body, author, posted_at, site, platform in rows:
        post = expected[url]
        assert body.split("\n") == post.lines
        assert title == post_title(post.text) and len(title) <= 31
        assert (author, posted_at) == (post.author, parse_local(post.posted_at))
        assert (site, platform) == ("demo-social", "示范圈")
    assert query(db, "SELECT count(*), count(DISTINCT ad_id) FROM sightings") == [(n, n)]


def test_a_long_first_line_is_cut_to_make_the_title(crawled, demo_site):
    db, _ = crawled
    ((title,),) = query(db, "SELECT title FROM ads WHERE url = ?", f"{demo_site}/social/p/2104")
    assert title == "社区提醒：近期有人以“免费旅游”“送鸡蛋送食用油”吸引老人参…"


def test_the_authors_reply_is_the_contact(crawled, demo_site):
    db, _ = crawled
    ((contact,),) = query(db, "SELECT contact FROM ads WHERE url = ?", f"{demo_site}/social/p/2001")
    assert contact == "有国资背景的，放心，电话138 0000 3301随时咨询。"


def test_text_that_only_javascript_inserts_is_captured_and_archived(crawled, demo_site):
    from core.warc import read_record

    db, _ = crawled
    post = SocialSite().by_id[2008]
    url = f"{demo_site}{post.path}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        served = answer.read().decode("utf-8")
    assert post.lines[1] not in served and "post-text" not in served  # the HTML as served has no post
    ((warc_file, offset, sha),) = query(
        db,
        "SELECT e.warc_file, e.warc_offset, e.sha256 FROM evidence e JOIN ads a ON a.id = e.ad_id "
        "WHERE a.url = ? AND e.kind = 'page'",
        url,
    )
    headers, payload = read_record(db.parent / warc_file, offset)
    # the page's evidence is the rendered DOM, as parsed: a conversion record of its own URI
    assert headers["WARC-Type"] == "conversion" and headers["WARC-Target-URI"] == f"urn:dom:{url}"
    assert headers["WARC-Refers-To-Target-URI"] == url
    assert hashlib.sha256(payload).hexdigest() == sha
    rendered = payload.decode("utf-8")
    assert all(line in rendered for line in post.lines)  # the archived page is the rendered DOM
    assert '<div class="post-text">' in rendered
    # ... made from the page as the server sent it, archived as the response it refers to
    from core.warc import index

    (source,) = [e for e in index(db.parent / warc_file) if e.record_id == headers["WARC-Refers-To"]]
    assert (source.type, source.uri, source.date) == ("response", url, headers["WARC-Refers-To-Date"])
    _, sent = read_record(db.parent / warc_file, source.offset)
    assert sent.decode("utf-8") == served


def test_every_post_has_a_full_page_screenshot_in_the_warc(crawled, demo_site):
    from core.warc import read_record

    db, _ = crawled
    rows = query(
        db,
        """SELECT a.url, e.url, e.sha256, e.warc_file, e.warc_offset, e.http_status, e.page_id, p.url
           FROM evidence e JOIN ads a ON a.id = e.ad_id LEFT JOIN pages p ON p.id = e.page_id
           WHERE e.kind = 'screenshot'""",
    )
    assert len(rows) == len(SocialSite().posts)
    assert len({r[0] for r in rows}) == len(rows), "one screenshot per post"
    for ad_url, shot_url, sha, warc_file, offset, status, page_id, page_url in rows:
        assert shot_url == ad_url == page_url and status == 200 and page_id is not None
        headers, png = read_record(db.parent / warc_file, offset)
        assert headers["WARC-Type"] == "resource"
        assert headers["Content-Type"] == "image/png"
        assert headers["WARC-Target-URI"] == f"urn:screenshot:{ad_url}"  # a URI of its own
        assert png[:8] == PNG
        assert hashlib.sha256(png).hexdigest() == sha
        width, height = struct.unpack(">II", png[16:24])
        assert width == 1280 and height >= 300  # the whole page, not a thumbnail


def test_the_feed_was_loaded_to_its_end_and_pages_were_bounded_and_closed(crawled, demo_site):
    db, _ = crawled
    posts = SocialSite().posts
    ((stats,),) = query(db, "SELECT stats FROM crawl_runs")
    stats = json.loads(stats)
    # 41 posts, 8 per load of the feed: 5 clicks on 加载更多 (one more scroll on a search result page)
    assert stats["adclear/render/loads"] >= 5
    assert stats["adclear/render/screenshots"] == len(posts)
    # at most ADCLEAR_BROWSER_PAGES (4) pages open at once, each reused for up to ADCLEAR_BROWSER_PAGE_USES (10)
    # requests, then closed: far fewer pages opened than rendered
    rendered = query(db, "SELECT count(*) FROM pages WHERE url NOT LIKE '%/robots.txt'")[0][0]
    assert stats["playwright/page_count/max_concurrent"] <= 4
    assert stats["playwright/page_count"] + stats["adclear/pagepool/reused"] == rendered
    assert stats["playwright/page_count"] <= rendered // 10 + 4
    assert stats["adclear/pagepool/closed/retired"] >= rendered // 10 - 4
    feed = query(db, "SELECT count(*) FROM pages WHERE url = ?", f"{demo_site}/social/")
    assert feed == [(1,)]


@pytest.mark.parametrize(
    ("chromium", "message"),
    [
        (
            "/nonexistent/chromium",
            "the browser could not start: no Chromium at /nonexistent/chromium; "
            "install Debian's chromium (make system-deps) or set ADCLEAR_CHROMIUM to its path",
        ),
        ("/bin/false", "the browser could not start (/bin/false): BrowserType.launch: "),
    ],
    ids=["missing", "not-a-browser"],
)
def test_a_browser_that_cannot_start_fails_the_run_and_says_why(chromium, message, tmp_path, demo_site, monkeypatch):
    monkeypatch.setenv("ADCLEAR_CHROMIUM", chromium)
    db = tmp_path / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-social", db=db, seeds=social_seeds(demo_site, tmp_path / "seeds.yml"))
    assert result.returncode == 1
    assert "demo-social: failed (run 1): 0 pages fetched, 0 ads" in result.stdout
    assert message in result.stdout
    assert "Traceback" not in result.stdout
    ((status, reason),) = query(db, "SELECT status, reason FROM crawl_runs")
    assert status == "failed" and reason.startswith("no page fetched (browser ")
    assert chromium in reason
    errors = query(db, "SELECT kind, message FROM crawl_errors")
    assert errors and {kind for kind, _ in errors} == {"browser"}
    assert all(message in text for _, text in errors)
    assert query(db, "SELECT count(*) FROM ads") == [(0,)]
    # the health check names the browser, and the run's alert says so (docs/alerts.md)
    assert query(db, "SELECT name FROM run_health WHERE ok = 0 ORDER BY name") == [("browser",), ("finished",)]
    ((subject, detail),) = query(db, "SELECT subject, detail FROM alerts")
    assert "demo-social" in subject and "浏览器" in subject
    assert "- 浏览器：浏览器未能启动：the browser could not start" in detail


def test_a_page_that_never_settles_is_an_error_of_that_page(tmp_path, demo_site):
    seeds = social_seeds(demo_site, tmp_path / "seeds.yml", wait_for="#never-there", timeout=2)
    data = yaml.safe_load(seeds.read_text(encoding="utf-8"))
    del data["sites"][0]["search"]
    seeds.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    db = tmp_path / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-social", db=db, seeds=seeds)
    assert result.returncode == 1
    expected = "the page did not render within 2 s: '#never-there' did not appear"
    assert expected in result.stdout
    assert query(db, "SELECT kind, url FROM crawl_errors") == [("render_timeout", f"{demo_site}/social/")]
    ((status,),) = query(db, "SELECT status FROM crawl_runs")
    assert status == "failed"


# ---- seeds.yml for social sites ------------------------------------------------------------------------
SOCIAL = """\
version: 1
sites:
  - name: feed
    platform: 示例圈
    kind: social
    start_urls: [http://127.0.0.1:9/feed/]
    allowed_domains: [127.0.0.1]
    render:
      wait_for: "article.post"
      load_more: "button.more"
      max_loads: 3
    list:
      items: "article.post a.link"
    detail:
      body: "div.text"
"""


def test_a_social_site_needs_no_title_selector_and_gets_render_defaults(tmp_path):
    from core.seeds import load_seeds

    path = tmp_path / "seeds.yml"
    path.write_text(SOCIAL, encoding="utf-8")
    site = load_seeds(path).site("feed")
    assert site.detail.title is None
    assert (site.render.max_loads, site.render.timeout, site.render.scroll, site.render.screenshot) == (
        3,
        20.0,
        False,
        True,
    )
    assert site.post_wait_for == "div.text"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SOCIAL.replace(
                '    render:\n      wait_for: "article.post"\n      load_more: "button.more"\n      max_loads: 3\n', ""
            ),
            "line 3: sites[0] (feed): a social site is rendered in Chromium: add 'render:' with at least 'wait_for'",
        ),
        (
            SOCIAL.replace("kind: social", "kind: classifieds"),
            "line 3: sites[0] (feed): 'render' is only for social sites; this site's kind is classifieds",
        ),
        (
            SOCIAL.replace('wait_for: "article.post"', 'wait_for: "article.post::text"'),
            "line 9: sites[0] (feed).render.wait_for: 'article.post::text' is waited for in the browser: plain CSS "
            "only, without ::text or ::attr()",
        ),
        (
            SOCIAL.replace("max_loads: 3", "max_load: 3"),
            "line 11: sites[0] (feed).render.max_load: unknown key 'max_load'; did you mean 'max_loads'?",
        ),
    ],
    ids=["no-render", "render-not-social", "pseudo-element", "typo"],
)
def test_render_mistakes_name_line_and_fix(tmp_path, text, expected):
    from core.errors import SeedsInvalid
    from core.seeds import load_seeds

    path = tmp_path / "seeds.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedsInvalid) as caught:
        load_seeds(path)
    assert str(caught.value).startswith(f"{path} {expected}")


def test_the_demo_posts_cover_promotions_and_lookalikes():
    from classifier.taxonomy import CATEGORIES

    posts = SocialSite().posts
    assert 36 <= len(posts) <= 48
    assert len({p.id for p in posts}) == len(posts)
    promotions = [p for p in posts if p.promotion]
    assert {p.category for p in promotions} <= set(CATEGORIES)
    assert len({p.category for p in promotions}) >= 10
    kinds = {p.truth for p in posts if not p.promotion}
    assert {"antifraud_publicity", "news_or_court", "bank_ad", "ordinary"} <= kinds
    assert all(p.repost_of in SocialSite().by_id for p in posts if p.repost_of)
    assert (REPO / "demo" / "social" / "static" / "app.js").exists()


def test_the_site_rendered_on_a_crawler_node_is_stored_as_this_crawl_stored_it(crawled, demo_site, redis_url, tmp_path):
    """The rendered path of a distributed crawl (docs/operations.md): the document, the DOM, what the browser
    loaded and each post's screenshot travel in the stream; the writer stores what this module's local crawl
    stored: the same ads, verdicts and evidence, each payload under its SHA-256 in a WARC file."""
    from tests.test_distributed import _RUNNING, drained, node, stop, wait, writer

    seeds = seeds_for(demo_site, tmp_path / "seeds.yml")
    db_path = tmp_path / "data" / "adclear.db"
    try:
        ingest = writer(redis_url, db_path, seeds, tmp_path / "ingest.log")
        crawler = node(redis_url, tmp_path / "n.db", seeds, tmp_path / "node.log", site="demo-social")
        text = wait(crawler, tmp_path / "node.log", 300)
        assert crawler.returncode == 0, text
        drained(redis_url, db_path, site="demo-social")
        report = stop(ingest, tmp_path / "ingest.log")
    finally:
        while _RUNNING:
            _RUNNING.pop().kill()
    assert "demo-social: ok (run 1)" in report, report
    ads = """SELECT a.ad_key, a.content_hash, v.label, v.score, group_concat(e.kind, '+') FROM ads a
             JOIN verdicts v ON v.ad_id = a.id LEFT JOIN evidence e ON e.ad_id = a.id GROUP BY a.id ORDER BY a.ad_key"""
    for db in (crawled[0], db_path):
        evidence = query(db, "SELECT kind, sha256, warc_file, warc_offset FROM evidence")
        assert {kind for kind, *_ in evidence} == {"page", "screenshot"}
        for _, sha256, warc_file, offset in evidence:
            headers, payload = read_record(db.parent / warc_file, offset)
            assert hashlib.sha256(payload).hexdigest() == sha256, headers
    assert len(query(db_path, ads)) > 5
    assert query(db_path, ads) == query(crawled[0], ads)
