"""End to end: crawl the demo site on a free port in a subprocess, as an operator would."""

from __future__ import annotations

import hashlib
import re
import sqlite3

import pytest

from demo.classifieds.site import GBK_SECTIONS, ClassifiedsSite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_site):
    """Two crawls of the demo site into one database; returns (db path, first result, second result)."""
    from tests.conftest import run_adclear, seeds_for

    tmp = tmp_path_factory.mktemp("crawl")
    seeds = seeds_for(demo_site, tmp / "seeds.yml")
    db = tmp / "data" / "adclear.db"
    first = run_adclear("crawl", "demo-classifieds", db=db, seeds=seeds)
    second = run_adclear("crawl", "demo-classifieds", db=db, seeds=seeds)
    return db, first, second


def query(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_every_demo_ad_is_stored_once(crawled, demo_site):
    db, first, _ = crawled
    assert first.returncode == 0, first.stdout + first.stderr
    site = ClassifiedsSite()
    rows = query(db, "SELECT url, title, body, platform, site FROM ads")
    expected = {f"{demo_site}{ad.path}": ad for ad in site.ads}
    assert sorted(url for url, *_ in rows) == sorted(expected)
    for url, title, body, platform, name in rows:
        ad = expected[url]
        assert title == ad.title
        # the body comes back paragraph by paragraph, with nothing of the page around it
        assert body.split("\n") == [p.strip() for p in ad.body.split("\n") if p.strip()]
        assert (platform, name) == ("示范同城网", "demo-classifieds")
    n = len(site.ads)
    assert "demo-classifieds: ok (run 1): " in first.stdout
    assert f"{n} ads ({n} new, 0 seen again, 0 changed), 0 errors" in first.stdout


def test_gbk_section_is_decoded(crawled, demo_site):
    db, *_ = crawled
    site = ClassifiedsSite()
    gbk_ads = [a for a in site.ads if a.section in GBK_SECTIONS]
    assert gbk_ads
    for ad in gbk_ads:
        ((title, body, contact),) = query(
            db, "SELECT title, body, contact FROM ads WHERE url = ?", f"{demo_site}{ad.path}"
        )
        assert title == ad.title
        assert "\ufffd" not in body + contact
        assert ad.contact in contact


def test_second_crawl_adds_sightings_not_ads(crawled):
    db, first, second = crawled
    assert second.returncode == 0, second.stdout + second.stderr
    n = len(ClassifiedsSite().ads)
    assert query(db, "SELECT count(*) FROM ads") == [(n,)]
    assert query(db, "SELECT run_id, change, count(*) FROM sightings GROUP BY 1, 2 ORDER BY 1") == [
        (1, "new", n),
        (2, "same", n),
    ]
    assert f"{n} ads (0 new, {n} seen again, 0 changed)" in second.stdout
    first_seen, last_seen = query(db, "SELECT min(first_seen), min(last_seen) FROM ads")[0]
    run2_start = query(db, "SELECT started_at FROM crawl_runs WHERE id = 2")[0][0]
    assert last_seen > run2_start > first_seen
    # the evidence of an unchanged ad is not duplicated; each run still archived every page
    assert query(db, "SELECT count(*) FROM evidence") == [(n,)]
    assert query(db, "SELECT count(DISTINCT run_id) FROM pages") == [(2,)]


def test_runs_are_recorded_with_their_figures(crawled):
    db, *_ = crawled
    runs = query(db, "SELECT id, site, status, reason, pages, ads_new, ads_seen, errors, warc_file FROM crawl_runs")
    n = len(ClassifiedsSite().ads)
    assert [r[:4] for r in runs] == [
        (1, "demo-classifieds", "ok", "finished"),
        (2, "demo-classifieds", "ok", "finished"),
    ]
    assert runs[0][5:7] == (n, 0) and runs[1][5:7] == (0, n)
    assert runs[0][4] > n  # detail pages plus list and home pages
    assert all(r[7] == 0 for r in runs)


def test_robots_txt_is_obeyed_and_recorded(crawled):
    db, *_ = crawled
    forbidden = query(db, "SELECT DISTINCT url FROM crawl_errors WHERE kind = 'robots'")
    assert forbidden and all("/classifieds/user/" in url for (url,) in forbidden)
    assert query(db, "SELECT count(*) FROM pages WHERE url LIKE '%/classifieds/user/%'") == [(0,)]


def test_no_url_outside_the_allowed_domain_or_with_tracking_params(crawled):
    db, *_ = crawled
    urls = [u for (u,) in query(db, "SELECT url FROM pages")]
    assert urls and all(u.startswith("http://127.0.0.1:") for u in urls)
    assert not any("utm_" in u or "from=" in u for u in urls)


def test_evidence_is_the_archived_page_with_its_sha256(crawled):
    from core.warc import read_record

    db, *_ = crawled
    rows = query(
        db,
        """SELECT e.sha256, e.warc_file, e.warc_offset, a.title, e.url FROM evidence e
                        JOIN ads a ON a.id = e.ad_id ORDER BY e.id LIMIT 5""",
    )
    assert len(rows) == 5
    for sha, warc_file, offset, title, url in rows:
        headers, payload = read_record(db.parent / warc_file, offset)
        assert headers["WARC-Type"] == "response"
        assert headers["WARC-Target-URI"] == url
        assert hashlib.sha256(payload).hexdigest() == sha
        assert title.encode("utf-8") in payload or title.encode("gbk") in payload


def test_sites_shows_the_last_run(crawled, adclear, demo_site, tmp_path):
    from tests.conftest import seeds_for

    db, *_ = crawled
    result = adclear("sites", db=db, seeds=seeds_for(demo_site, tmp_path / "s.yml"), check=True)
    n = len(ClassifiedsSite().ads)
    line = [row for row in result.stdout.splitlines() if row.startswith("demo-classifieds")][0]
    assert " ok " in line and line.split()[-3:] == ["0", str(n), "0"]


def _picture_ads(db):
    ids = {url.rsplit("/", 1)[1]: i for i, url in query(db, "SELECT id, url FROM ads WHERE url LIKE '%/ad/190_.html'")}
    return ids["1901.html"], ids["1902.html"]


def test_a_promotion_only_in_its_pictures_is_flagged_by_the_crawl_and_its_qr_links_two_ads(crawled):
    from tests.conftest import run_adclear

    db, first, second = crawled
    poster, other = _picture_ads(db)
    pictures = query(db, "SELECT ad_id, position, url FROM ad_images ORDER BY ad_id, position")
    # (which of the two is stored first, and has the lower id, depends on which page answered first)
    assert sorted((a != poster, p) for a, p, _ in pictures) == [(False, 0), (False, 1), (True, 0), (True, 1)]
    assert {a for a, _, _ in pictures} == {poster, other}
    # read beside the first crawl: its text says nothing, its pictures flag it; each ad classified again once
    assert (
        "pictures: 4 read beside the crawl (4 ok, 0 skipped, 0 errors), 2 ads classified again, "
        "2 contacts from QR codes; read on "
    ) in first.stdout
    line = first.stdout.rstrip().split("\n")[2]
    assert re.search(r" s after the crawl, one worker, peak memory \d+ MB; none left for `adclear images read`$", line)
    # the second crawl reads nothing again and classifies nothing again: its ads did not change
    assert (
        "pictures: 0 read beside the crawl (0 ok, 0 skipped, 0 errors; 4 read before, not again), "
        "0 ads classified again, 0 contacts from QR codes; none left for `adclear images read`"
    ) in second.stdout
    labels = query(db, "SELECT label FROM verdicts WHERE ad_id = ? ORDER BY id", poster)
    assert labels == [("clear",), ("flag",)]
    assert query(db, "SELECT status FROM ads WHERE id = ?", poster) == [("flagged",)]
    linked = query(db, "SELECT ad_id FROM contacts WHERE value = 'https://u.wechat.com/EFbPxqDemo01' ORDER BY 1")
    assert linked == sorted([(poster,), (other,)])  # by id: either may have been stored first (above)
    out = run_adclear("images", "read", db=db, check=True).stdout
    assert out.startswith("0 pictures read"), out
    shown = run_adclear("show", str(poster), db=db, check=True).stdout
    assert "图中命中:" in shown and "框 (" in shown


def test_without_reading_beside_the_crawl_the_pictures_are_left_for_images_read(tmp_path, demo_site):
    from tests.conftest import run_adclear, seeds_for

    seeds = seeds_for(demo_site, tmp_path / "seeds.yml")
    db = tmp_path / "data" / "adclear.db"
    crawl = run_adclear("crawl", "demo-classifieds", "--read-workers", "0", db=db, seeds=seeds, check=True).stdout
    assert "pictures: not read during the crawl (--read-workers 0); 4 images left for `adclear images read`" in crawl
    poster, _ = _picture_ads(db)
    assert query(db, "SELECT label FROM verdicts WHERE ad_id = ?", poster) == [("clear",)]  # its text says nothing
    out = run_adclear("images", "read", "--timeout", "120", db=db, check=True).stdout
    assert out.startswith("4 pictures read: 4 ok, 0 skipped, 0 errors; 2 ads classified again"), out
    label = query(db, "SELECT label FROM verdicts WHERE ad_id = ? ORDER BY id DESC LIMIT 1", poster)
    assert label == [("flag",)]
