"""A hostile site: every misbehaviour ends as a recorded outcome of its kind, and the run completes."""

from __future__ import annotations

import sqlite3

import pytest

from demo.hostile.site import CHARSET_ADS, GOOD_ADS, NUL_ADS, OFFSITE_LINKS, RETRY_AFTER, TRAPS
from tests.conftest import run_adclear, seeds_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, demo_server):
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "data" / "adclear.db"
    start = len(demo_server.requests)
    result = run_adclear("crawl", "demo-hostile", db=db, seeds=seeds_for(demo_server.base_url, tmp / "seeds.yml"))
    return db, result, demo_server.requests[start:]


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_the_run_completes_with_every_outcome_recorded(hostile):
    db, result, _ = hostile
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo-hostile: ok (run 1)" in result.stdout
    recorded = {(url.split("/hostile", 1)[-1], kind) for url, kind in rows(db, "SELECT url, kind FROM crawl_errors")}
    for path, (what, kind) in TRAPS.items():
        if kind:
            assert (path.removeprefix("/hostile"), kind) in recorded, f"{what}: {kind} not recorded"


def test_the_good_pages_and_the_recovered_ones_are_stored(hostile):
    db, *_ = hostile
    titles = {t for (t,) in rows(db, "SELECT title FROM ads")}
    assert {title for title, _ in GOOD_ADS.values()} <= titles
    stored_traps = [path for path, (_, kind) in TRAPS.items() if not kind]
    for path in stored_traps:
        assert rows(db, "SELECT count(*) FROM ads WHERE url LIKE ?", f"%{path}") == [(1,)], path


def test_charsets_that_lie_or_are_missing_decode(hostile):
    db, *_ = hostile
    for name, (title, body) in CHARSET_ADS.items():
        ((stored_title, stored_body),) = rows(db, "SELECT title, body FROM ads WHERE url LIKE ?", f"%/{name}.html")
        assert stored_title == title
        assert stored_body == body
        assert "\ufffd" not in stored_title + stored_body


def test_a_nul_byte_does_not_hide_an_ad(hostile):
    """Sniffed as browsers do: text/html is HTML whatever the bytes, and HTML without a type is recognised."""
    db, *_ = hostile
    for name, (title, body) in NUL_ADS.items():
        assert rows(db, "SELECT title, body FROM ads WHERE url LIKE ?", f"%/ad/{name}%") == [(title, body)], name
    kinds = {kind for (kind,) in rows(db, "SELECT kind FROM crawl_errors WHERE url LIKE '%/binary.html'")}
    assert kinds == {"not_html"}


def test_links_off_the_site_and_to_private_addresses_are_never_requested(hostile):
    db, *_ = hostile
    requested = [u for (u,) in rows(db, "SELECT url FROM pages")]
    assert requested and all(u.startswith("http://127.0.0.1:") for u in requested)
    offsite = {u: m for u, m in rows(db, "SELECT url, message FROM crawl_errors WHERE kind = 'offsite'")}
    for link in OFFSITE_LINKS:
        assert any(u.startswith(link.split("(")[0][:20]) for u in offsite), link
    assert "private address" in offsite["http://10.0.0.1/admin/"]
    assert "link-local address" in offsite["http://169.254.169.254/latest/meta-data/"]
    assert "outside allowed_domains" in offsite["http://www.example.com/ad/1.html"]


def test_an_offsite_redirect_and_an_unsized_huge_page_are_recorded_as_the_docs_say(hostile):
    db, _, requests = hostile
    ((message,),) = rows(db, "SELECT message FROM crawl_errors WHERE url LIKE '%/offsite-redirect.html'")
    assert message == (
        "redirects to http://www.example.com/ad/1.html: not followed: www.example.com is outside allowed_domains "
        "(127.0.0.1)"
    )
    ((kind, message),) = rows(db, "SELECT kind, message FROM crawl_errors WHERE url LIKE '%/huge-unsized.html'")
    assert (kind, message) == ("too_large", "Received more than 16777216 bytes, the download max size (16777216)")
    assert not rows(db, "SELECT kind FROM crawl_errors WHERE kind IN ('cancelled', 'ignored')")


def test_retry_after_is_honoured(hostile):
    _, _, requests = hostile
    times = [t for t, path, *_ in requests if path == "/hostile/ad/429.html"]
    assert len(times) == 2
    assert times[1] - times[0] >= RETRY_AFTER - 0.05


def test_robots_txt_is_obeyed(hostile):
    _, _, requests = hostile
    assert not [path for _, path, *_ in requests if path.startswith("/hostile/private/")]


def test_errors_do_not_count_robots_and_offsite_and_the_threshold_applies(hostile, tmp_path, demo_site):
    db, result, _ = hostile
    errors = rows(db, "SELECT errors FROM crawl_runs")[0][0]
    counted = [kind for _, kind in TRAPS.values() if kind and kind not in ("robots", "offsite")]
    assert errors == len(counted)
    # the same site with a strict threshold fails, and says why
    text = (
        seeds_for(demo_site, tmp_path / "s.yml")
        .read_text(encoding="utf-8")
        .replace("max_error_rate: 0.8", "max_error_rate: 0.1")
    )
    strict = tmp_path / "strict.yml"
    strict.write_text(text, encoding="utf-8")
    failed = run_adclear("crawl", "demo-hostile", db=tmp_path / "d" / "a.db", seeds=strict)
    assert failed.returncode == 1
    assert "demo-hostile: failed (run 1)" in failed.stdout
    assert "above max_error_rate 10%" in failed.stdout


def test_the_user_agent_names_the_operator(hostile):
    from core.warc import ArchiveIterator

    db, *_ = hostile
    (warc_file,) = rows(db, "SELECT warc_file FROM crawl_runs")[0]
    agents = set()
    with open(db.parent / warc_file, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "request":
                agents.add(record.http_headers.get_header("User-Agent"))
    assert agents == {"adclear/0.1 (+https://github.com/adclear/adclear; adclear-demo@example.org)"}
