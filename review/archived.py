"""One piece of evidence read back for display: the archived page or the screenshot that shows an ad was online.

(``review.evidence`` writes all of an ad's evidence out to files; this reads the latest one of a kind.)

The database says where a record lies (``evidence``: WARC file relative to the database's directory, and the
offset); ``crawler.warc.read_record`` reads it. The payload's SHA-256 is recomputed and compared with the one
recorded at fetch time, so that a reviewer sees whether the file still holds what was archived.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from adclear.errors import AdclearError

__all__ = ["Archived", "EvidenceMissing", "read"]

KINDS = ("page", "screenshot")


class EvidenceMissing(AdclearError):
    """The ad has no evidence of that kind, or its WARC file cannot be read."""


@dataclass(frozen=True, slots=True)
class Archived:
    kind: str
    url: str
    fetched_at: str
    sha256: str  # as recorded at fetch time
    payload: bytes
    content_type: str  # as the site served it ('' when unknown)

    @property
    def intact(self) -> bool:
        return hashlib.sha256(self.payload).hexdigest() == self.sha256

    @property
    def charset(self) -> str:
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value.strip().strip("\"'"):
                return value.strip().strip("\"'").lower()
        return ""


def read(db: sqlite_utils.Database, data_dir: Path, ad_id: int, kind: str = "page") -> Archived:
    """The ad's latest evidence of ``kind`` ('page' or 'screenshot'), read from its WARC file."""
    from crawler.warc import read_record

    if kind not in KINDS:
        raise EvidenceMissing(f"unknown kind of evidence '{kind}'")
    row = db.execute(
        """SELECT e.url, e.fetched_at, e.sha256, e.warc_file, e.warc_offset, coalesce(p.content_type, '')
           FROM evidence e LEFT JOIN pages p ON p.id = e.page_id
           WHERE e.ad_id = ? AND e.kind = ? ORDER BY e.id DESC LIMIT 1""",
        [ad_id, kind],
    ).fetchone()
    if row is None:
        raise EvidenceMissing(f"ad {ad_id} has no {kind} evidence")
    url, fetched_at, sha256, warc_file, offset, content_type = row
    base = data_dir.resolve()
    path = (base / warc_file).resolve()
    if not path.is_relative_to(base):
        raise EvidenceMissing(f"evidence of ad {ad_id} points outside the data directory: {warc_file}")
    try:
        _headers, payload = read_record(path, offset)
    except (OSError, ValueError) as e:
        raise EvidenceMissing(f"cannot read {warc_file} at {offset}: {e}") from None
    if kind == "screenshot":
        content_type = "image/png"
    return Archived(kind, url, fetched_at, sha256, payload, content_type)
