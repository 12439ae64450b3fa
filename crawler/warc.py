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

__all__ = ["DEFAULT_OFFICE", "ArchivedRecord", "Exchange", "RunArchive", "warc_name"]

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


class RunArchive:
    """Appends records to ``data_dir / relpath``; not thread-safe (Scrapy calls it from the reactor thread)."""

    def __init__(
        self, data_dir: Path, relpath: str, *, software: str = "adclear", operator: str = "", office: str = ""
    ):
        self.data_dir = data_dir
        self.relpath = relpath
        path = data_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = open(path, "ab")  # closed in close()
        self._writer = _Sha256WARCWriter(self._fh, gzip=False, warc_version=WARC_VERSION)  # gzip: write_record
        self._seen: dict[tuple[str, str], ArchivedRecord] = {}  # (url, payload digest) → its first response
        info = {"software": software, "format": "WARC File Format 1.1", "conformsTo": SPEC}
        if operator:
            info["operator"] = operator
        if office:
            info["office"] = office
        self._write(self._writer.create_warcinfo_record(path.name, info))

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
