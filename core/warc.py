"""Reading a record back out of a WARC file: what the crawler archived, for the reviewer, exports and checks.

Records are gzip-compressed one by one (``crawler.warc.RunArchive`` writes them), so each can be read from its
offset alone. Callers that take the file name from the database check first that it stays inside the data
directory (``review.evidence``).
"""

from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

__all__ = ["ArchiveIterator", "read_record"]


def read_record(path: Path, offset: int) -> tuple[dict[str, str], bytes]:
    """The WARC headers and the payload of the record at ``offset`` (HTTP headers stripped)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            headers = dict(record.rec_headers.headers)
            return headers, record.content_stream().read()
    raise ValueError(f"no WARC record at offset {offset} of {path}")
