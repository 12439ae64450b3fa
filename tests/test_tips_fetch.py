"""A tip's URL, fetched safely: `adclear tip add --url` against the demo server on loopback.

Names resolve through the hostile demo's resolver (``demo.hostile.ssrf.resolve``: demo.test is the demo on
127.0.0.1, private.test a private address); nothing asks a real DNS server and nothing is sent beyond
loopback. The demo's address is reachable only because each test that fetches allows it, as an operator would
(``--allow-address``): without that, loopback is refused like any address that is not public.
"""

from __future__ import annotations

import gzip
import os
import sqlite3

import pytest

from core.db import connect
from core.verdicts import REAPPEARED_PRIORITY
from review.users import add_user
from tests.conftest import run_adclear

pytestmark = pytest.mark.slow

SEEDS = """
version: 1
operator: {name: 示范县处非办, code: SFX}
sites:
  - name: other
    platform: 别的网站
    kind: classifieds
    start_urls: ["http://other.test/"]
    allowed_domains: [other.test]
    list: {items: "a"}
    detail: {title: "h1", body: "body"}
"""


@pytest.fixture(scope="module")
def demo():
    from demo.server import start

    server = start(0)
    os.environ["ADCLEAR_RESOLVER"] = "demo.hostile.ssrf.resolve"
    try:
        yield server
    finally:
        del os.environ["ADCLEAR_RESOLVER"]
        server.shutdown()
        server.server_close()


@pytest.fixture
def env(tmp_path):
    seeds = tmp_path / "seeds.yml"
    seeds.write_text(SEEDS, encoding="utf-8")
    db_path = tmp_path / "data" / "adclear.db"
    db = connect(db_path)
    add_user(db, "rev1", "reviewer", "Kiwi-Harbor-2041")
    db.close()
    return db_path, seeds


def rows(db_path, sql, *args):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def tip(env, url, *more):
    db_path, seeds = env
    return run_adclear(
        "tip", "add", "--channel", "web", "--summary", "网友举报", "--url", url, "--as", "rev1", *more,
        db=db_path, seeds=seeds,
    )  # fmt: skip


def test_a_tipped_page_is_archived_classified_and_queued_first(demo, env):
    db_path, _ = env
    port = demo.server_address[1]
    url = f"http://demo.test:{port}/classifieds/ad/1014.html"
    result = tip(env, url, "--allow-address", f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queued first for review" in result.stdout
    ((ad_id, outcome, state),) = rows(db_path, "SELECT ad_id, fetch_outcome, state FROM tips")
    assert (outcome, state) == ("fetched", "verifying")
    ((site, ad_url, title),) = rows(db_path, "SELECT site, url, title FROM ads WHERE id = ?", ad_id)
    assert (site, ad_url) == ("tips", url) and "房产抵押" in title
    # archived as any crawled page: a pages row, the ad's evidence, and the response in the WARC file
    ((warc_file, status, spider),) = rows(
        db_path,
        "SELECT p.warc_file, p.status, r.spider FROM evidence e JOIN pages p ON p.id = e.page_id "
        "JOIN crawl_runs r ON r.id = p.run_id WHERE e.ad_id = ?",
        ad_id,
    )
    assert status == 200 and spider == "tip"
    archived = gzip.open(db_path.parent / warc_file).read()
    assert f"WARC-Target-URI: {url}".encode() in archived and "房产抵押".encode() in archived
    assert rows(db_path, "SELECT count(*) FROM verdicts WHERE ad_id = ?", ad_id) == [(1,)]
    ((priority,),) = rows(db_path, "SELECT priority FROM queue WHERE ad_id = ? AND state = 'pending'", ad_id)
    assert priority >= REAPPEARED_PRIORITY  # before every ad the crawl flagged
    actions = [a for (a,) in rows(db_path, "SELECT action FROM ledger ORDER BY seq")]
    assert actions == ["tip_received", "tip_fetched"]


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("private.test", "private.test resolves to 10.20.30.40, a private address"),
        ("127.0.0.1:{port}", "127.0.0.1 is a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("[ff02::1]", "a multicast address"),
    ],
)
def test_an_address_that_is_not_public_is_refused_before_connecting(demo, env, host, words):
    db_path, _ = env
    url = f"http://{host.format(port=demo.server_address[1])}/classifieds/"
    result = tip(env, url)
    assert result.returncode == 1
    assert words in result.stderr and "refused before connecting" in result.stderr
    assert "--allow-address" in result.stderr  # how an operator allows a range
    assert rows(db_path, "SELECT fetch_outcome FROM tips") == [("refused",)]
    assert rows(db_path, "SELECT count(*) FROM crawl_runs") == [(0,)]  # no crawl started, no packet sent


def test_a_redirect_to_a_private_address_is_checked_again_and_refused(demo, env):
    db_path, _ = env
    port = demo.server_address[1]
    result = tip(env, f"http://demo.test:{port}/hostile/ssrf/go-private", "--allow-address", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert "redirects to http://private.test/metadata" in result.stderr and "a private address" in result.stderr
    assert "--allow-address" in result.stderr
    ((outcome, ad_id),) = rows(db_path, "SELECT fetch_outcome, ad_id FROM tips")
    assert (outcome, ad_id) == ("refused", None)
    assert rows(db_path, "SELECT count(*) FROM ads") == [(0,)]
    assert rows(db_path, "SELECT kind FROM crawl_errors") == [("blocked",)]
