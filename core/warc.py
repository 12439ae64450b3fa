"""Reading what the crawler archived: one record from its offset, or any record by its URI (a replay).

Records are gzip-compressed one by one (``crawler.warc.RunArchive`` writes them), so each can be read from its
offset alone. Callers that take the file name from the database check first that it stays inside the data
directory (``review.evidence``).

A page is archived at its URL as the server sent it (``response``); each resource it loaded at its own URL.
What a browser made of a page has URIs of its own, so that a replay tool asked for the page's URL replays what
the server sent (and the page's scripts run again on the archived resources), never a copy made from it: the
rendered DOM is a ``conversion`` record at ``urn:dom:<url>`` (``dom_uri``) referring to the response, the
screenshot a ``resource`` record at ``urn:screenshot:<url>`` (``screenshot_uri``; Browsertrix writes
``urn:view:`` alike). ``Replay`` finds records by URI as a replay tool does (a ``revisit`` resolved to the
payload it repeats).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

__all__ = [
    "DOM_PREFIX",
    "SCREENSHOT_PREFIX",
    "WARC_VERSION",
    "ArchiveIterator",
    "Entry",
    "Replay",
    "Served",
    "index",
    "dom_uri",
    "read_record",
    "screenshot_uri",
]

WARC_VERSION = "WARC/1.1"  # every record the crawler writes; pywb and warcio read 1.0 and 1.1 alike
SCREENSHOT_PREFIX = "urn:screenshot:"
DOM_PREFIX = "urn:dom:"


def screenshot_uri(url: str) -> str:
    """The WARC-Target-URI of a screenshot of the page at ``url``."""
    return SCREENSHOT_PREFIX + url


def dom_uri(url: str) -> str:
    """The WARC-Target-URI of the DOM a browser rendered from the page at ``url`` (a ``conversion`` record)."""
    return DOM_PREFIX + url


def read_record(path: Path, offset: int) -> tuple[dict[str, str], bytes]:
    """The WARC headers and the payload of the record at ``offset`` (HTTP headers stripped)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            headers = dict(record.rec_headers.headers)
            return headers, record.content_stream().read()
    raise ValueError(f"no WARC record at offset {offset} of {path}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of a WARC file, as an index lists it."""

    path: Path
    offset: int
    type: str  # WARC-Type
    uri: str  # WARC-Target-URI
    date: str
    record_id: str
    payload_digest: str  # WARC-Payload-Digest ('' when none)
    refers_to: str  # WARC-Refers-To ('' when none)


def index(path: Path) -> list[Entry]:
    """Every record of the WARC file at ``path``, in file order."""
    entries = []
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            get = record.rec_headers.get_header
            entries.append(
                Entry(
                    path,
                    records.get_record_offset(),
                    get("WARC-Type") or "",
                    get("WARC-Target-URI") or "",
                    get("WARC-Date") or "",
                    get("WARC-Record-ID") or "",
                    get("WARC-Payload-Digest") or "",
                    get("WARC-Refers-To") or "",
                )
            )
    return entries


@dataclass(frozen=True, slots=True)
class Served:
    """What a replay answers for a URI."""

    uri: str
    record_type: str  # of the record found (a revisit names the type of the record it resolved to)
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    date: str

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")


_SERVED = ("response", "revisit", "resource", "conversion")


class Replay:
    """The records of some WARC files by their URI, as a replay tool serves them (the last capture of a URI)."""

    def __init__(self, paths: Iterable[Path]):
        self.by_uri: dict[str, list[Entry]] = {}
        self.by_id: dict[str, Entry] = {}
        for path in paths:
            for entry in index(path):
                self.by_uri.setdefault(entry.uri, []).append(entry)
                self.by_id[entry.record_id] = entry

    def get(self, uri: str) -> Served | None:
        """The last capture of ``uri`` (a page's URL: its response; ``screenshot_uri(url)``, ``dom_uri(url)``: what
        the browser made of it); None when the files hold none."""
        found = [e for e in self.by_uri.get(uri, []) if e.type in _SERVED]
        return self._serve(found[-1]) if found else None

    def _serve(self, entry: Entry) -> Served:
        body_entry = entry
        if entry.type == "revisit":  # identical-payload-digest: the payload is that of the record referred to
            original = self.by_id.get(entry.refers_to) or next(
                (
                    e
                    for e in self.by_uri.get(entry.uri, [])
                    if e.type == "response" and e.payload_digest == entry.payload_digest
                ),
                None,
            )
            if original is None:
                raise ValueError(f"{entry.path}@{entry.offset}: a revisit of {entry.uri} whose original is missing")
            body_entry = original
        status, headers, _ = _read(entry)
        _, _, body = _read(body_entry)
        return Served(entry.uri, body_entry.type, status, headers, body, entry.date)


def _read(entry: Entry) -> tuple[int, list[tuple[str, str]], bytes]:
    with open(entry.path, "rb") as fh:
        fh.seek(entry.offset)
        record = next(iter(ArchiveIterator(fh)))
        body = record.content_stream().read()
        if record.http_headers is not None:
            http = record.http_headers
            return int(http.get_statuscode() or 0), list(http.headers), body
        content_type = record.rec_headers.get_header("Content-Type") or "application/octet-stream"
        return 200, [("Content-Type", content_type)], body
