"""The WARC records the crawler writes (crawler/warc.py) and how they are read back (core/warc.py,
review/evidence.py), without a browser: a rendered page as the server sent it, its DOM and screenshot at URIs of
their own, resources stored once and revisited, WARC/1.1 throughout, the office's code in file names."""

from __future__ import annotations

import gzip
import hashlib
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


def packed(url: str = URL, body: bytes = "<p>月息3分</p>".encode() * 200):
    from crawler.warc import pack_exchange

    return pack_exchange(exchange(url, body))


def test_records_a_node_packed_are_appended_as_write_exchange_writes_them(tmp_path):
    """A crawler node makes a page's records (pack_exchange) and the writer appends them: the file reads as if
    the writer had made them, each digest checked by warcio, each member at GZIP_LEVEL."""
    body = "<p>月息3分</p>".encode() * 200
    archive = RunArchive(tmp_path, "p.warc.gz")
    made = archive.write_exchange(
        url=JS, method="GET", request_headers=[], status=200, reason="OK", response_headers=[], body=b"x", fetched_at=AT
    )
    record = archive.append_packed(packed(body=body), url=URL)
    empty = archive.append_packed(packed(JS, b""), url=JS)  # a redirect's, say: no payload
    archive.close()
    path = tmp_path / "p.warc.gz"
    assert record.offset > made.offset and record.warc_file == "p.warc.gz"
    headers, payload = read_record(path, record.offset)
    assert payload == body and headers["WARC-Type"] == "response" and headers["WARC-Target-URI"] == URL
    assert headers["WARC-Record-ID"] == record.record_id and record.sha256 == hashlib.sha256(body).hexdigest()
    assert [(e.type, e.uri) for e in index(path)][-4:] == [("response", URL), ("request", URL)] + [
        ("response", JS),
        ("request", JS),
    ]
    assert [e.offset for e in index(path)][-4] == record.offset and read_record(path, empty.offset)[1] == b""
    assert all(path.read_bytes()[e.offset + 8] == 0 for e in index(path))  # level 6 on the node too
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True)
    assert check.returncode == 0 and check.stdout.count(b"digest pass") == 7 and b"digest fail" not in check.stdout


def _spoiled(kind: str):
    from dataclasses import replace

    good = packed()
    first = good.data[: good.first_length]
    if kind == "another url":
        return replace(good), "http://127.0.0.1:8731/social/p/2", "WARC-Target-URI"
    if kind == "another digest":
        return replace(good, sha256=hashlib.sha256(b"other").hexdigest()), URL, "WARC-Payload-Digest"
    if kind == "another record id":
        return replace(good, record_id="<urn:uuid:0>"), URL, "WARC-Record-ID"
    if kind == "cut short":  # the response's member without its end
        cut = first[:-40]
        return replace(good, data=cut + good.data[good.first_length :], first_length=len(cut)), URL, "whole gzip"
    if kind == "bytes lost inside":  # deflate bytes lost, the trailer kept
        cut = first[:-40] + first[-8:]
        spoiled = replace(good, data=cut + good.data[good.first_length :], first_length=len(cut))
        return spoiled, URL, "inflate|whole gzip"
    if kind == "payload altered":  # the same headers and digest, another payload of the same length
        record = gzip.decompress(first).replace("月息3分".encode(), "月息9分".encode())
        again = gzip.compress(record, 6)
        return replace(good, data=again + good.data[good.first_length :], first_length=len(again)), URL, "SHA-256"
    if kind == "a request missing":
        return replace(good, data=first + b"\x1f\x8b"), URL, "second WARC record"
    if kind == "boundary misplaced":
        return replace(good, first_length=good.first_length - 1), URL, "whole gzip"
    if kind == "not gzip":
        return replace(good, data=b"WARC/1.1\r\n" + good.data), URL, "not gzip"
    if kind == "a request first":
        request = good.data[good.first_length :]
        return replace(good, data=request + first, first_length=len(request)), URL, "WARC-Type"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["another url", "another digest", "another record id", "cut short", "bytes lost inside", "payload altered",
     "boundary misplaced", "not gzip", "a request first", "a request missing"],
)  # fmt: skip
def test_packed_records_that_do_not_name_the_page_are_refused_and_nothing_is_written(tmp_path, kind):
    import re

    spoiled, url, said = _spoiled(kind)
    archive = RunArchive(tmp_path, "p.warc.gz")
    size = (tmp_path / "p.warc.gz").stat().st_size
    with pytest.raises(ValueError) as refused:
        archive.append_packed(spoiled, url=url)
    archive.close()
    assert re.search(said, str(refused.value)), str(refused.value)
    assert (tmp_path / "p.warc.gz").stat().st_size == size
