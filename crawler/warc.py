"""One WARC file per crawl run: a request and a response record for every page fetched.

Records are gzip-compressed one by one, so each can be read back from its offset alone
(``read_record(path, offset)``). Payload digests in the WARC are SHA-256 (``sha256:BASE32``) and the database
keeps the same digest in hex. Pages are stored as the crawler saw them after HTTP decompression: the
``Content-Encoding`` header is dropped and ``Content-Length`` set to the stored length. Reading a record
back is ``core.warc.read_record``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

__all__ = ["ArchivedRecord", "RunArchive"]

_HOP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection"}


class _Sha256WARCWriter(WARCWriter):
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    warc_file: str  # relative to the data directory
    offset: int
    length: int
    sha256: str  # hex digest of the payload


class RunArchive:
    """Appends records to ``data_dir / relpath``; not thread-safe (Scrapy calls it from the reactor thread)."""

    def __init__(self, data_dir: Path, relpath: str, *, software: str = "adclear", operator: str = ""):
        self.data_dir = data_dir
        self.relpath = relpath
        path = data_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = open(path, "ab")  # closed in close()
        self._writer = _Sha256WARCWriter(self._fh, gzip=True)
        info = {"software": software, "format": "WARC File Format 1.1"}
        if operator:
            info["operator"] = operator
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
    ) -> ArchivedRecord:
        """The request and the response of one fetch; returns where the response record lies."""
        date = _warc_date(fetched_at)
        path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        req_http = StatusAndHeaders(f"{method} /{path} HTTP/1.1", request_headers, is_http_request=True)
        headers = [(k, v) for k, v in response_headers if k.lower() not in _HOP_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        resp_http = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=resp_http,
            warc_headers_dict={"WARC-Date": date},
        )
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            http_headers=req_http,
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        offset, length = self._write(response)
        self._write(request)
        return ArchivedRecord(self.relpath, offset, length, hashlib.sha256(body).hexdigest())

    def write_resource(self, *, url: str, content_type: str, data: bytes, fetched_at: str) -> ArchivedRecord:
        """A resource record (a screenshot, a rendered DOM) about ``url``."""
        record = self._writer.create_warc_record(
            url,
            "resource",
            payload=io.BytesIO(data),
            warc_headers_dict={"WARC-Date": _warc_date(fetched_at), "Content-Type": content_type},
        )
        offset, length = self._write(record)
        return ArchivedRecord(self.relpath, offset, length, hashlib.sha256(data).hexdigest())

    def close(self) -> None:
        self._fh.close()


def _warc_date(iso: str) -> str:
    # stored times are ISO 8601 UTC with an offset; WARC wants ...Z
    return iso.replace("+00:00", "Z")
