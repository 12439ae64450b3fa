"""The WARC records the crawler writes (crawler/warc.py) and how they are read back (core/warc.py,
review/evidence.py), without a browser: a rendered page as the server sent it, its DOM and screenshot at URIs of
their own, resources stored once and revisited, WARC/1.1 throughout, the office's code in file names."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from core.errors import EvidenceMissing
from core.warc import Replay, dom_uri, index, read_record, screenshot_uri
from crawler.warc import Exchange, RunArchive, warc_name
from review.evidence import payload, uris

URL = "http://127.0.0.1:8731/social/p/1"
JS = "http://127.0.0.1:8731/social/static/app.js"
AT = "2026-12-02T10:00:00.123456+00:00"


def exchange(url: str, body: bytes, *, document: bool = False, content_type: str = "text/html") -> Exchange:
    return Exchange(
        url=url,
        method="GET",
        request_headers=[("Accept", "*/*")],
        status=200,
        reason="OK",
        response_headers=[("Content-Type", content_type), ("Content-Encoding", "gzip"), ("Set-Cookie", "a=1")],
        body=body,
        fetched_at=AT,
        document=document,
    )


@pytest.fixture
def archived(tmp_path):
    """A rendered post as RunRecorder writes it, twice (the second loads the same script); the file's path."""
    archive = RunArchive(tmp_path, "warc/s/x.warc.gz", operator="示范县 ops@example.org", office="SFX")
    refs = {}
    for n in (1, 2):
        url = URL.replace("/1", f"/{n}")
        sent = archive.write_browser_exchange(exchange(url, b"<div id=post></div>", document=True), dedup=False)
        dom = archive.write_conversion(
            url=url,
            content_type="text/html; charset=utf-8",
            data=f"<p>post {n}</p>".encode(),
            fetched_at=AT,
            source=sent,
        )
        archive.write_browser_exchange(exchange(JS, b"fill(post)", content_type="application/javascript"))
        shot = archive.write_resource(
            url=url, content_type="image/png", data=b"PNG%d" % n, fetched_at=AT, uri=screenshot_uri(url),
            concurrent_to=dom.record_id,
        )  # fmt: skip
        refs[n] = (sent, dom, shot)
    archive.close()
    return tmp_path / "warc/s/x.warc.gz", refs


def test_the_file_is_warc_1_1_with_warcinfo_first_and_passes_warcio_check(archived):
    path, _ = archived
    with gzip.open(path, "rb") as fh:
        assert {line.strip() for line in fh if line.startswith(b"WARC/")} == {b"WARC/1.1"}
    entries = index(path)
    assert [e.type for e in entries[:1]] == ["warcinfo"] and "warcinfo" not in {e.type for e in entries[1:]}
    _, info = read_record(path, 0)
    assert b"format: WARC File Format 1.1" in info and b"office: SFX" in info
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True)
    assert check.returncode == 0 and b"digest fail" not in check.stdout and b"digest pass" in check.stdout


def test_each_record_is_its_own_gzip_member_at_the_chosen_level(archived):
    """Each record starts a gzip member (read back from its offset alone), compressed at GZIP_LEVEL: 6, not the
    9 warcio uses, which costs twice the CPU on real pages for files about 1% smaller. A member's header says
    which: XFL (its ninth byte) is 2 at level 9, 4 at level 1, 0 between."""
    from crawler.warc import GZIP_LEVEL

    path, _ = archived
    data = path.read_bytes()
    offsets = [e.offset for e in index(path)]
    assert GZIP_LEVEL == 6 and len(offsets) >= 8
    for offset in offsets:
        assert data[offset : offset + 3] == b"\x1f\x8b\x08" and data[offset + 8] == 0, offset


def test_the_dom_refers_to_the_response_and_the_screenshot_has_its_own_uri(archived):
    path, refs = archived
    sent, dom, shot = refs[1]
    headers, data = read_record(path, dom.offset)
    assert (headers["WARC-Type"], headers["WARC-Target-URI"], data) == ("conversion", dom_uri(URL), b"<p>post 1</p>")
    assert headers["WARC-Refers-To"] == sent.record_id
    assert headers["WARC-Refers-To-Target-URI"] == URL and headers["WARC-Refers-To-Date"] == sent.date
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    headers, data = read_record(path, shot.offset)
    assert (headers["WARC-Type"], headers["WARC-Target-URI"], data) == ("resource", f"urn:screenshot:{URL}", b"PNG1")
    assert headers["WARC-Concurrent-To"] == dom.record_id


def test_a_payload_archived_again_under_its_url_is_a_revisit(archived):
    path, _ = archived
    js = [e for e in index(path) if e.uri == JS]
    assert [e.type for e in js] == ["response", "request", "revisit", "request"]
    assert js[2].refers_to == js[0].record_id and js[2].payload_digest == js[0].payload_digest


def test_replay_serves_each_uri_and_resolves_revisits(archived):
    path, _ = archived
    replay = Replay([path])
    page = replay.get(URL)
    assert page is not None and (page.record_type, page.status, page.body) == ("response", 200, b"<div id=post></div>")
    # decoded when archived: the encoding header goes, the length is the stored one, other headers stay
    assert [k for k, _ in page.headers] == ["Content-Type", "Set-Cookie", "Content-Length"]
    js = replay.get(JS)
    assert js is not None and (js.record_type, js.body, js.content_type) == (
        "response",
        b"fill(post)",
        "application/javascript",
    )
    shot = replay.get(screenshot_uri(URL.replace("/1", "/2")))
    assert shot is not None and (shot.record_type, shot.body, shot.content_type) == ("resource", b"PNG2", "image/png")
    dom = replay.get(dom_uri(URL))
    assert dom is not None and dom.record_type == "conversion" and dom.body == b"<p>post 1</p>"
    assert replay.get("http://127.0.0.1:8731/never") is None


def test_evidence_is_read_only_from_a_record_of_its_uri(archived, tmp_path):
    path, refs = archived
    _, dom, shot = refs[1]
    rel = str(path.relative_to(tmp_path))
    assert payload(tmp_path, rel, dom.offset, "the page", uris("page", URL)) == b"<p>post 1</p>"
    assert payload(tmp_path, rel, shot.offset, "the screenshot", uris("screenshot", URL)) == b"PNG1"
    with pytest.raises(EvidenceMissing, match=r"is 'urn:dom:http://127.0.0.1:8731/social/p/1', not the screenshot"):
        payload(tmp_path, rel, dom.offset, "the screenshot", uris("screenshot", URL))
    other = URL.replace("/1", "/2")
    with pytest.raises(EvidenceMissing, match="not the page"):
        payload(tmp_path, rel, dom.offset, "the page", uris("page", other))


def test_a_screenshot_archived_before_it_had_its_own_uri_is_still_read(tmp_path):
    archive = RunArchive(tmp_path, "old.warc.gz")
    old = archive.write_resource(url=URL, content_type="image/png", data=b"PNG", fetched_at=AT)  # at the page's URL
    archive.close()
    assert payload(tmp_path, "old.warc.gz", old.offset, "the screenshot", uris("screenshot", URL)) == b"PNG"


def test_file_names_carry_the_office_code():
    assert warc_name("demo-social", 7, "20261202T215133Z", "SFX") == (
        "warc/demo-social/SFX-demo-social-20261202T215133Z-000007.warc.gz"
    )
    assert warc_name("demo-social", 7, "20261202T215133Z") == (
        "warc/demo-social/adclear-demo-social-20261202T215133Z-000007.warc.gz"
    )
