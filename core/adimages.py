"""An ad's pictures: which they are, reading them once, and what they add to the ad (text, QR contacts, hits).

The pictures of an ad are rows of ``ad_images`` (its images, and the screenshot of its rendered page, which
``attach_screenshots`` takes from its evidence), each pointing into a WARC file by SHA-256. ``read_pending``
reads every picture not read yet (``image_reads``, once per SHA-256, through ``core.images.ImageReader``'s
bounded pool), then for each ad whose pictures were read: its ``pictures`` field (the lines read, picture by
picture), the contacts decoded from its QR codes, and a new verdict in which the classifier reads the pictures'
text after the body (``core.ads.ad_text``). ``picture_hits`` says in which picture, and in which box, a hit of
that verdict lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from classifier import Classifier
from classifier.contacts import qr_contacts
from core.ads import PICTURES_SEPARATOR, AdText, ad_text
from core.db import immediate
from core.fingerprints import fingerprint_ad, load_decided
from core.images import OCR_UNAVAILABLE, ImageRead, ImageReader, Line, cached, remember, sha256
from core.search_index import index_ad
from core.timeutil import now_utc
from core.verdicts import classify_and_store
from core.warc import read_record

__all__ = [
    "SCREENSHOT_POSITION",
    "Picture",
    "PictureHit",
    "attach",
    "attach_screenshots",
    "compose",
    "picture_hits",
    "pictures_of",
    "read_pending",
    "unread_pictures",
    "update_ad",
]


SCREENSHOT_POSITION = 1000  # a rendered page's screenshot comes after the ad's own images


@dataclass(frozen=True, slots=True)
class Picture:
    sha256: str
    kind: str  # image, screenshot
    url: str
    read: ImageRead | None  # None: not read yet


@dataclass(frozen=True, slots=True)
class PictureHit:
    """A hit of the verdict that lies in a picture: which picture, which line, and the line's box."""

    hit: dict[str, Any]  # the hit as stored (Hit.to_dict)
    sha256: str
    line: Line


def attach(
    db: sqlite_utils.Database,
    ad_id: int,
    digest: str,
    warc: tuple[str, int, int],
    *,
    kind: str = "image",
    url: str = "",
    position: int = 0,
) -> bool:
    """One picture of the ad, archived at ``warc`` (file relative to the data directory, offset, length); False
    when the ad had it already."""
    return (
        db.execute(
            """INSERT OR IGNORE INTO ad_images (ad_id, sha256, position, kind, url, warc_file, warc_offset, warc_length)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [ad_id, digest, position, kind, url, *warc],
        ).rowcount
        > 0
    )


def attach_screenshots(db: sqlite_utils.Database) -> int:
    """Every screenshot of an ad (its evidence) becomes one of its pictures; returns how many were added."""
    return db.execute(
        """INSERT OR IGNORE INTO ad_images (ad_id, sha256, position, kind, url, warc_file, warc_offset, warc_length)
           SELECT ad_id, sha256, ?, 'screenshot', url, warc_file, warc_offset, warc_length FROM evidence
           WHERE kind = 'screenshot' AND sha256 != ''""",
        [SCREENSHOT_POSITION],
    ).rowcount


def pictures_of(db: sqlite_utils.Database, ad_id: int) -> list[Picture]:
    """The ad's pictures in order, each with what was read in it (None: not read yet)."""
    rows = db.execute(
        "SELECT sha256, kind, url FROM ad_images WHERE ad_id = ? ORDER BY position, rowid", [ad_id]
    ).fetchall()
    return [Picture(sha, kind, url, cached(db, sha)) for sha, kind, url in rows]


def compose(pictures: list[Picture], known: str = "") -> tuple[str, list[tuple[int, int, str, Line]]]:
    """The ad's ``pictures`` field (lines of text, a blank line between pictures) and where each line lies.

    A line already in ``known`` (the ad's own text: a screenshot shows the post's text again) is left out, so
    that the classifier does not count the same words twice.
    """
    compact = "".join(known.split())
    parts: list[str] = []
    spans: list[tuple[int, int, str, Line]] = []
    offset = 0
    for picture in pictures:
        if picture.read is None or not picture.read.lines:
            continue
        lines = [line for line in picture.read.lines if "".join(line.text.split()) not in compact]
        if not lines:
            continue
        if parts:
            parts.append("\n")
            offset += 1
        for line in lines:
            spans.append((offset, offset + len(line.text), picture.sha256, line))
            parts.append(line.text + "\n")
            offset += len(line.text) + 1
    return "".join(parts).rstrip("\n"), spans


def picture_hits(db: sqlite_utils.Database, ad_id: int, hits: list[dict[str, Any]]) -> list[PictureHit]:
    """The hits (``Hit.to_dict``) that lie in the text read in the ad's pictures, each with its picture's box."""
    row = db.execute("SELECT title, body, contact FROM ads WHERE id = ?", [ad_id]).fetchone()
    if row is None:
        return []
    title, text = ad_text(*row)
    base = len(text) + len(PICTURES_SEPARATOR)
    _, spans = compose(pictures_of(db, ad_id), f"{title}\n{text}")
    out = []
    for hit in hits:
        if hit.get("field", "text") != "text" or hit["start"] < base:
            continue
        start = hit["start"] - base
        found = next(((sha, line) for a, b, sha, line in spans if a <= start < b), None)
        if found is not None:
            out.append(PictureHit(hit, *found))
    return out


def _bytes(data_dir: Path, warc_file: str, offset: int) -> bytes:
    """The picture's bytes from its WARC record (a path outside the data directory is refused)."""
    base = data_dir.resolve()
    path = (base / warc_file).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"{warc_file} lies outside the data directory")
    return read_record(path, offset)[1]


def read_pending(
    db: sqlite_utils.Database, data_dir: Path, reader: ImageReader, classifier: Classifier
) -> dict[str, int]:
    """Read every picture not read yet, then bring each ad whose pictures were read up to date (see module)."""
    counts = {"pictures": 0, "ok": 0, "skipped": 0, "error": 0, "ads": 0, "contacts": 0}
    with immediate(db):
        attach_screenshots(db)
    rows = db.execute(
        """SELECT sha256, min(warc_file), min(warc_offset) FROM ad_images
           WHERE sha256 NOT IN (SELECT sha256 FROM image_reads) AND warc_file IS NOT NULL GROUP BY sha256"""
    ).fetchall()
    for digest, warc_file, offset in rows:
        try:
            data = _bytes(data_dir, warc_file, offset)
            read = reader.read(data) if sha256(data) == digest else None
            if read is None:
                read = ImageRead(digest, "error", "the archived bytes do not match their SHA-256")
        except Exception as exc:  # a missing or damaged WARC file: that picture's error
            read = ImageRead(digest, "error", f"cannot read {warc_file}@{offset}: {exc}"[:300])
        if not read.error.startswith(OCR_UNAVAILABLE):  # read again once OCR is installed
            with immediate(db):
                remember(db, read)
        counts["pictures"] += 1
        counts[read.status] += 1
    digests = [row[0] for row in rows]
    ad_ids = sorted(
        {int(r[0]) for d in digests for r in db.execute("SELECT ad_id FROM ad_images WHERE sha256 = ?", [d]).fetchall()}
    )
    decided = load_decided(db)
    for ad_id in ad_ids:
        with immediate(db):
            counts["contacts"] += update_ad(db, ad_id, classifier, decided)
        counts["ads"] += 1
    return counts


def unread_pictures(db: sqlite_utils.Database, run_ids: list[int]) -> dict[str, int]:
    """The pictures not read yet of the ads these crawl runs saw, by kind (image, screenshot): what
    ``adclear images read`` has left to do for them."""
    if not run_ids:
        return {}
    marks = ", ".join("?" * len(run_ids))
    rows = db.execute(
        f"""SELECT kind, count(DISTINCT sha256) FROM ad_images
            WHERE ad_id IN (SELECT ad_id FROM sightings WHERE run_id IN ({marks}))
              AND sha256 NOT IN (SELECT sha256 FROM image_reads) GROUP BY kind""",
        run_ids,
    ).fetchall()
    return {kind: int(n) for kind, n in rows}


def update_ad(db: sqlite_utils.Database, ad_id: int, classifier: Classifier, decided: Any) -> int:
    """The ad's pictures field, its QR contacts, a new verdict, its fingerprint and search index entry with the
    text read; returns how many contacts were new."""
    pictures = pictures_of(db, ad_id)
    title, body, contact, url, chash = db.execute(
        "SELECT title, body, contact, url, content_hash FROM ads WHERE id = ?", [ad_id]
    ).fetchone()
    own_title, own_text = ad_text(title, body, contact)
    text, _ = compose(pictures, f"{own_title}\n{own_text}")
    db.execute("UPDATE ads SET pictures = ? WHERE id = ?", [text, ad_id])
    codes = [code for p in pictures if p.read is not None for code in p.read.codes]
    now, added = now_utc(), 0
    for c in qr_contacts(codes):
        added += db.execute(
            "INSERT OR IGNORE INTO contacts (ad_id, kind, value, matched, first_seen) VALUES (?, ?, ?, ?, ?)",
            [ad_id, c.kind, c.value, c.matched, now],
        ).rowcount
    verdict = classify_and_store(db, ad_id, chash, AdText.of(title, body, contact, url, text), classifier, decided)
    fingerprint_ad(db, ad_id, title, body, contact, chash, verdict.fingerprint, pictures=text)  # near-duplicates
    index_ad(db, ad_id)  # the search index finds the words read in its pictures
    return added
