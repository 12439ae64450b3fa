"""The social demo crawled in Chromium, then replayed from its WARC file alone: a post's page by its URL (the
HTML the server sent, its script, style and the JSON the script fetched, rendered again in Chromium with the
post's text), its screenshot by its own URI, the rendered DOM that was parsed by its own; the file passes
``warcio check`` (every digest), is WARC/1.1 throughout with a warcinfo record first, and is named with the
office's code.

The replay here is warcio's (``core.warc.Replay``): pywb 2.10 pins Werkzeug and cryptography below the versions
Flask and this project install and replaces the ``brotli`` module with brotlipy, so it is not a dependency;
``benchmarks/replay_pywb.py`` replays the same file with pywb in a separate virtualenv (docs/evidence.md).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.warc import Replay, dom_uri, index, read_record, screenshot_uri
from crawler.browser import DEFAULT_CHROMIUM
from demo.social.site import SocialSite
from tests.conftest import run_adclear, seeds_for

CHROMIUM = os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM}"),
]

POST = 2008  # its text is put on the page by app.js, from /social/api/post/2008


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_site) -> tuple[Path, Path]:
    """One crawl of the social demo; (the database, its one WARC file)."""
    tmp = tmp_path_factory.mktemp("replay")
    db = tmp / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-social", db=db, seeds=seeds_for(demo_site, tmp / "seeds.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    (warc,) = (db.parent / "warc" / "demo-social").iterdir()
    return db, warc


class _ReplayServer(http.server.ThreadingHTTPServer):
    """Serves ``origin``'s pages from a Replay, on another loopback port: nothing comes from the live site."""

    def __init__(self, replay: Replay, origin: str):
        self.replay, self.origin = replay, origin
        self.served: list[tuple[str, int]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _ReplayServer

    def do_GET(self) -> None:
        found = self.server.replay.get(self.server.origin + self.path)
        if found is None:
            self.server.served.append((self.path, 404))
            self.send_error(404, "not in the archive")
            return
        self.server.served.append((self.path, found.status))
        self.send_response(found.status)
        for key, value in found.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(found.body)))
        self.end_headers()
        self.wfile.write(found.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def replayed(crawled, demo_site) -> Iterator[_ReplayServer]:
    _, warc = crawled
    server = _ReplayServer(Replay([warc]), demo_site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_post_replays_in_chromium_from_the_warc_alone(replayed, browser, demo_site):
    post = SocialSite().by_id[POST]
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_replay(route) -> None:  # the live demo site, or anything else, is never asked
        if route.request.url.startswith(replayed.base_url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        page.route("**", only_the_replay)
        answer = page.goto(f"{replayed.base_url}{post.path}")
        assert answer is not None and answer.status == 200
        page.wait_for_selector("article.post div.post-text", timeout=10_000)
        shown = page.inner_text("article.post div.post-text")
    finally:
        page.close()
    assert [line.strip() for line in shown.splitlines() if line.strip()] == post.lines
    assert elsewhere == []
    served = dict(replayed.served)
    assert {p: served.get(p) for p in (post.path, "/social/static/app.js", f"/social/api/post/{POST}")} == {
        post.path: 200,
        "/social/static/app.js": 200,
        f"/social/api/post/{POST}": 200,
    }


def test_the_html_by_its_url_the_screenshot_and_the_dom_by_their_own_uris(crawled, demo_site):
    db, warc = crawled
    replay = Replay([warc])
    url = f"{demo_site}/social/p/{POST}"
    sent = replay.get(url)
    assert sent is not None and (sent.record_type, sent.status) == ("response", 200)
    assert sent.content_type == "text/html; charset=utf-8"
    assert b'<div id="post" class="post-view"></div>' in sent.body  # as served: the post is not in it
    evidence = dict(
        query(
            db,
            "SELECT e.kind, e.sha256 FROM evidence e JOIN ads a ON a.id = e.ad_id WHERE a.url = ?",
            url,
        )
    )
    shot = replay.get(screenshot_uri(url))
    assert shot is not None and shot.record_type == "resource" and shot.content_type == "image/png"
    assert hashlib.sha256(shot.body).hexdigest() == evidence["screenshot"]
    dom = replay.get(dom_uri(url))
    assert dom is not None and dom.record_type == "conversion"
    assert hashlib.sha256(dom.body).hexdigest() == evidence["page"]
    assert all(line in dom.body.decode("utf-8") for line in SocialSite().by_id[POST].lines)


def test_a_resource_loaded_again_is_a_revisit_of_the_first_copy(crawled, demo_site):
    _, warc = crawled
    app_js = [e for e in index(warc) if e.uri == f"{demo_site}/social/static/app.js" and e.type != "request"]
    assert [e.type for e in app_js[:2]] == ["response", "revisit"]
    first = app_js[0]
    assert all(e.refers_to == first.record_id and e.payload_digest == first.payload_digest for e in app_js[1:])
    again = Replay([warc]).get(f"{demo_site}/social/static/app.js")
    assert again is not None and again.record_type == "response"  # the revisit, resolved to the first payload
    assert again.body == (Path(__file__).parents[1] / "demo/social/static/app.js").read_bytes()


def test_the_warc_file_passes_warcio_check_and_is_one_version_throughout(crawled):
    db, warc = crawled
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(warc)], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "digest fail" not in check.stdout
    entries = index(warc)
    assert entries[0].type == "warcinfo" and all(e.type != "warcinfo" for e in entries[1:])
    types = {e.type for e in entries}
    assert types == {"warcinfo", "request", "response", "revisit", "conversion", "resource"}
    with gzip.open(warc, "rb") as fh:
        versions = {line.strip() for line in fh if line.startswith(b"WARC/1.")}
    assert versions == {b"WARC/1.1"}
    headers, info = read_record(warc, 0)
    assert b"format: WARC File Format 1.1" in info and b"office: SFX" in info
    # the office's code in the name: files of several offices never collide
    assert warc.name.startswith("SFX-demo-social-") and warc.name.endswith("-000001.warc.gz")
    assert query(db, "SELECT warc_file FROM crawl_runs") == [(f"warc/demo-social/{warc.name}",)]


def test_every_response_record_is_a_request_the_policy_let_through(crawled, demo_site):
    """The browser's requests are archived only when they were sent: the demo's own server, nothing else."""
    _, warc = crawled
    hosts = {urlsplit(e.uri).netloc for e in index(warc) if e.type in ("request", "response", "revisit")}
    assert hosts == {urlsplit(demo_site).netloc}
