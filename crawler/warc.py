"""One WARC file per crawl run, written so that a replay tool (pywb, or ``core.warc.Replay``) can show the pages.

WARC/1.1 throughout (dates to the microsecond, as 1.1 allows), a ``warcinfo`` record first. For a page fetched
without a browser: a ``request`` and a ``response`` record. For a page rendered in Chromium
(``crawler.pagepool``):

- the document as the server sent it, as a ``response`` record (with its ``request``; a redirect's own
  ``response`` before it);
- the DOM the browser made of it, as a ``conversion`` record at ``urn:dom:<url>`` (``core.warc.dom_uri``) whose
  ``WARC-Refers-To`` (and ``WARC-Refers-To-Target-URI``, ``-Date``) name that response: what the crawler parsed
  and what a reviewer sees. Its URI is its own so that pywb, asked for the page's URL, replays the response and
  runs the page's scripts again on the archived resources (a DOM replayed would run them a second time);
- every response the page loaded (scripts, styles, images, the JSON its scripts fetched) as ``request`` and
  ``response`` records. Requests the network policy refused were never sent and have none. A payload already
  archived in this file under the same URL is a ``revisit`` record (identical-payload-digest) instead;
- its screenshot, as a ``resource`` record of its own URI, ``urn:screenshot:<url>`` (``core.warc.screenshot_uri``,
  as Browsertrix writes ``urn:view:``), concurrent to the conversion record.

Records are gzip-compressed one by one, so each can be read back from its offset alone
(``core.warc.read_record``). Payload digests in the WARC are SHA-256 (``sha256:BASE32``) and the database
keeps the same digest in hex. Pages are stored as the crawler saw them after HTTP decompression: the
``Content-Encoding`` header is dropped and ``Content-Length`` set to the stored length. File names carry the
office's code (seeds.yml ``operator.code``), so that files from several offices never collide (``warc_name``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import GzippingWrapper, WARCWriter

from core.warc import WARC_VERSION, dom_uri

__all__ = [
    "DEFAULT_OFFICE",
    "ArchivedRecord",
    "Exchange",
    "PackedRecords",
    "RunArchive",
    "check_packed",
    "pack_exchange",
    "warc_name",
]

_HOP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection"}
DEFAULT_OFFICE = "adclear"  # in file names when seeds.yml gives no operator.code
SPEC = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"


def warc_name(site: str, run_id: int, stamp: str, office: str = "") -> str:
    """The run's WARC file, relative to the data directory: ``warc/SITE/OFFICE-SITE-STAMP-RUN.warc.gz``.

    ``office`` is the operator's code (unique per office): with the site, the run's start (UTC) and its number
    the name is unique across offices, and says where a file came from when files are gathered in one place.
    """
    return f"warc/{site}/{office or DEFAULT_OFFICE}-{site}-{stamp}-{run_id:06d}.warc.gz"


# zlib's level for each record. warcio compresses at 9, which on real pages (about 200 kB: a list page, a forum
# thread) costs twice the CPU of 6 for files about 1% smaller: 254 against 485 pages/s written, measured with
# RunArchive.write_exchange, and the one writer of a distributed crawl compresses every page of every node.
GZIP_LEVEL = 6


class _GzipMember(GzippingWrapper):
    """warcio's gzip member per record, at ``GZIP_LEVEL``."""

    def __init__(self, out: BinaryIO):
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self.out = out


class _Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 digests, each record a gzip member at ``GZIP_LEVEL`` (made with
    ``gzip=False``: the member is made here instead of by warcio)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")

    def write_record(self, record: Any, params: Any = None) -> None:
        self._write_warc_record(_GzipMember(self.out), record)


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    warc_file: str  # relative to the data directory
    offset: int
    length: int
    sha256: str  # hex digest of the payload
    record_id: str = ""  # WARC-Record-ID, <urn:uuid:…>
    date: str = ""  # WARC-Date


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response, as a browser saw them (``crawler.pagepool`` collects them)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    fetched_at: str  # ISO 8601 UTC
    document: bool = False  # the page's own document (a navigation of its main frame), not a resource it loaded


class _Records:
    """Makes records and appends them to ``fh`` (``relpath`` names it in what is returned); not thread-safe."""

    def __init__(self, fh: BinaryIO, relpath: str):
        self.relpath = relpath
        self._fh = fh
        self._writer = _Sha256WARCWriter(fh, gzip=False, warc_version=WARC_VERSION)  # gzip: write_record
        self._seen: dict[tuple[str, str], ArchivedRecord] = {}  # (url, payload digest) → its first response

    def _write(self, record) -> tuple[int, int]:
        offset = self._fh.tell()
        try:
            self._writer.write_record(record)
        finally:
            # warcio buffers a payload it has to digest in a SpooledTemporaryFile that it never closes
            # (a ResourceWarning when collected): close whatever stream the record holds now
            stream = getattr(record, "raw_stream", None)
            if stream is not None:
                stream.close()
        self._fh.flush()
        return offset, self._fh.tell() - offset

    def _written(self, record, sha256: str) -> ArchivedRecord:
        offset, length = self._write(record)
        headers = record.rec_headers
        return ArchivedRecord(
            self.relpath,
            offset,
            length,
            sha256,
            headers.get_header("WARC-Record-ID"),
            headers.get_header("WARC-Date"),
        )

    def write_exchange(
        self,
        *,
        url: str,
        method: str,
        request_headers: list[tuple[str, str]],
        status: int,
        reason: str,
        response_headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: str,
        dedup: bool = False,
    ) -> ArchivedRecord:
        """The request and the response of one fetch; returns where the response record lies.

        ``dedup``: a payload this file already holds under the same URL is written as a ``revisit`` record
        that refers to the first response (which the returned record then names)."""
        date = _warc_date(fetched_at)
        digest = hashlib.sha256(body).digest()
        sha256 = digest.hex()
        path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        req_http = StatusAndHeaders(f"{method} /{path} HTTP/1.1", request_headers, is_http_request=True)
        headers = [(k, v) for k, v in response_headers if k.lower() not in _HOP_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        resp_http = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")
        first = self._seen.get((url, sha256)) if dedup and body else None
        if first is not None:
            response = self._writer.create_revisit_record(
                url,
                _warc_digest(digest),
                url,
                first.date,
                http_headers=resp_http,
                warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": first.record_id},
            )
        else:
            response = self._writer.create_warc_record(
                url,
                "response",
                **_payload(body),
                http_headers=resp_http,
                warc_headers_dict={"WARC-Date": date} | _digest_header(digest),
            )
        request = self._writer.create_warc_record(
            url,
            "request",
            **_payload(b""),
            http_headers=req_http,
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        written = self._written(response, sha256)
        self._write(request)
        if first is not None:
            return first
        if dedup and body:
            self._seen[(url, sha256)] = written
        return written

    def write_browser_exchange(self, exchange: Exchange, *, dedup: bool = True) -> ArchivedRecord:
        """What a browser fetched (``Exchange``), as ``write_exchange`` writes it."""
        return self.write_exchange(
            url=exchange.url,
            method=exchange.method,
            request_headers=exchange.request_headers,
            status=exchange.status,
            reason=exchange.reason,
            response_headers=exchange.response_headers,
            body=exchange.body,
            fetched_at=exchange.fetched_at,
            dedup=dedup,
        )

    def write_conversion(
        self, *, url: str, content_type: str, data: bytes, fetched_at: str, source: ArchivedRecord | None
    ) -> ArchivedRecord:
        """A ``conversion`` record at ``dom_uri(url)``: the DOM a browser made of the page at ``url`` from the
        ``source`` response."""
        headers = {"WARC-Date": _warc_date(fetched_at), "Content-Type": content_type}
        if source is not None and source.record_id:
            headers |= {
                "WARC-Refers-To": source.record_id,
                "WARC-Refers-To-Target-URI": url,
                "WARC-Refers-To-Date": source.date,
            }
        digest = hashlib.sha256(data).digest()
        record = self._writer.create_warc_record(
            dom_uri(url), "conversion", **_payload(data), warc_headers_dict=headers | _digest_header(digest)
        )
        return self._written(record, digest.hex())

    def write_resource(
        self, *, url: str, content_type: str, data: bytes, fetched_at: str, uri: str = "", concurrent_to: str = ""
    ) -> ArchivedRecord:
        """A ``resource`` record about ``url`` at ``uri`` (default: ``url``); a screenshot's is
        ``core.warc.screenshot_uri(url)``. ``concurrent_to``: the record ID of the page it shows."""
        headers = {"WARC-Date": _warc_date(fetched_at), "Content-Type": content_type}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        digest = hashlib.sha256(data).digest()
        record = self._writer.create_warc_record(
            uri or url, "resource", **_payload(data), warc_headers_dict=headers | _digest_header(digest)
        )
        return self._written(record, digest.hex())


@dataclass(frozen=True, slots=True)
class PackedRecords:
    """A page's records made on a crawler node (``pack_exchange``), gzip members to be appended to a WARC file as
    they are (``RunArchive.append_packed``): the response first, then its request."""

    data: bytes
    first_length: int  # the response's member: what a page's row points to
    sha256: str  # hex digest of the response's payload
    record_id: str
    date: str


def pack_exchange(exchange: Exchange) -> PackedRecords:
    """The records ``RunArchive.write_exchange`` would write for this fetch, made where it was fetched: a crawler
    node compresses its pages so that the one writer of a distributed crawl only checks and appends them."""
    buffer = io.BytesIO()
    written = _Records(buffer, "").write_browser_exchange(exchange, dedup=False)
    return PackedRecords(buffer.getvalue(), written.length, written.sha256, written.record_id, written.date)


_HEX = frozenset("0123456789abcdef")


def check_packed(packed: PackedRecords, *, url: str) -> None:
    """``ValueError`` unless the records are a response to ``url`` whose payload has the SHA-256 the node named
    (recomputed here), with its record ID and date, then its request, each a whole gzip member and nothing else.
    Inflating the records and digesting the payload costs the writer about a sixth of compressing them (0.12 ms
    a 100 kB page against 0.7): the evidence's digest is the writer's own, not taken on trust."""
    data, first = packed.data, packed.first_length
    if not data.startswith(b"\x1f\x8b") or not 0 < first < len(data):
        raise ValueError("the node's WARC records are not gzip members of the length it gave")
    if len(packed.sha256) != 64 or not _HEX.issuperset(packed.sha256):
        raise ValueError(f"the node's payload digest {packed.sha256[:80]!r} is not a SHA-256 in hex")
    response, block, response_headers = _member(data[:first], "first")
    expected = {
        "WARC-Type": "response",
        "WARC-Target-URI": url,
        "WARC-Payload-Digest": _warc_digest(bytes.fromhex(packed.sha256)),
        "WARC-Record-ID": packed.record_id,
        "WARC-Date": packed.date,
    }
    for name, value in expected.items():
        if response_headers.get(name) != value:
            found = response_headers.get(name, "")
            raise ValueError(f"the node's record gives {name} {found[:200]!r}, not {value[:200]!r}")
    http_end = response.find(b"\r\n\r\n", block, len(response) - 4)  # the payload follows the HTTP headers
    if http_end < 0:
        raise ValueError("the node's response has no HTTP headers")
    if hashlib.sha256(memoryview(response)[http_end + 4 : -4]).hexdigest() != packed.sha256:
        raise ValueError("the payload of the node's record does not have the SHA-256 it named")
    request = data[first:]
    if not request.startswith(b"\x1f\x8b"):
        raise ValueError("the node's second WARC record does not begin where the first ends")
    _, _, request_headers = _member(request, "second")
    if (request_headers.get("WARC-Type"), request_headers.get("WARC-Concurrent-To")) != ("request", packed.record_id):
        raise ValueError("the node's second record is not the request of its response")


def _member(data: bytes, which: str) -> tuple[bytes, int, dict[str, str]]:
    """The record ``data`` inflates to, as one whole gzip member (nothing after it), where its block begins (after
    its WARC headers; the block ends four bytes, a blank line, short of the record's end: checked against its
    Content-Length), and those headers."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        record = inflater.decompress(data)
    except zlib.error as e:
        raise ValueError(f"the node's {which} WARC record does not inflate ({e})") from None
    if not inflater.eof or inflater.unused_data:
        raise ValueError(f"the node's {which} WARC record is not one whole gzip member (cut short, or more)")
    end = record.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError(f"the node's {which} record has headers without their end")
    lines = record[:end].decode("utf-8", "replace").split("\r\n")
    end += 4
    if lines[0] not in ("WARC/1.1", "WARC/1.0"):
        raise ValueError(f"the node's {which} record has no WARC headers")
    named = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    try:
        length = int(named["Content-Length"])
    except (KeyError, ValueError):
        raise ValueError(f"the node's {which} record has no valid Content-Length") from None
    if len(record) != end + length + 4 or not record.endswith(b"\r\n\r\n"):
        raise ValueError(f"the node's {which} record is not as long as its Content-Length says")
    return record, end, named


class RunArchive(_Records):
    """Appends records to ``data_dir / relpath``, a ``warcinfo`` record first; not thread-safe (Scrapy calls it
    from the reactor thread)."""

    def __init__(
        self, data_dir: Path, relpath: str, *, software: str = "adclear", operator: str = "", office: str = ""
    ):
        self.data_dir = data_dir
        path = data_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(open(path, "ab"), relpath)  # closed in close()
        info = {"software": software, "format": "WARC File Format 1.1", "conformsTo": SPEC}
        if operator:
            info["operator"] = operator
        if office:
            info["office"] = office
        self._write(self._writer.create_warcinfo_record(path.name, info))

    def append_packed(self, packed: PackedRecords, *, url: str, checked: bool = False) -> ArchivedRecord:
        """Records a crawler node made (``pack_exchange``), appended as they are; returns where the first (the
        response) lies. Checked first (``check_packed``), unless the caller did (``checked``: the ingest writer
        checks a batch's pages in threads of their own): a ``ValueError`` says what is wrong, and nothing is
        written."""
        if not checked:
            check_packed(packed, url=url)
        offset = self._fh.tell()
        self._fh.write(packed.data)
        self._fh.flush()
        return ArchivedRecord(self.relpath, offset, packed.first_length, packed.sha256, packed.record_id, packed.date)

    def sync(self) -> None:
        """What was written is on the disk (the ingest writer commits the rows pointing to it only then)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def _warc_date(iso: str) -> str:
    # stored times are ISO 8601 UTC with an offset; WARC wants ...Z
    return iso.replace("+00:00", "Z")


def _warc_digest(digest: bytes) -> str:
    """A SHA-256 digest as WARC writes it: ``sha256:BASE32``."""
    return "sha256:" + base64.b32encode(digest).decode("ascii")


def _digest_header(digest: bytes) -> dict[str, str]:
    return {"WARC-Payload-Digest": _warc_digest(digest)}


def _payload(data: bytes) -> dict[str, Any]:
    """A record's payload with its length. Without the length warcio copies each payload into a temporary file to
    measure it and digests it twice (when the record is made and again when it is written); given it, and the
    payload's digest in the headers (``WARC-Payload-Digest``: the caller made the SHA-256 already), it digests
    only the record's block."""
    return {"payload": io.BytesIO(data), "length": len(data)}
