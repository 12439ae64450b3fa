"""The ledger's head, kept outside the database: an append-only anchor file beside it, and optionally a webhook.

A ledger rewritten wholesale, or cut at its tail with the triggers dropped, still verifies on its own: only a
head kept elsewhere shows it. After every decision batch and every export, ``record`` appends the head to
``<database>.anchors`` beside the database, one line per head::

    SEQ:HASH<TAB>TIME (UTC)<TAB>WHY

(opened with O_APPEND, flushed to disk), and, when the settings name a webhook (``ReviewSettings.anchor_url``,
``$ADCLEAR_ANCHOR_URL`` on the command line), POSTs the same as JSON there (``{"database", "seq", "hash",
"at", "why"}``), so that a copy lives on another machine. ``review.ledger.anchor`` is how the rest of adclear
records the current head; ``latest`` reads the highest head recorded (lines of concurrent writers may land out
of order). ``review.ledger.verify`` checks the chain against it; ``review.ledger.check_before_append`` refuses
to extend a chain that ends before it.

Anchoring happens after the decision committed, so it never undoes one: a file or webhook that cannot be written
is logged as a warning (``adclear.anchors``), and the next batch writes a newer head.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from core.db import database_path

__all__ = ["SUFFIX", "Anchor", "anchor_path", "keep", "latest"]

SUFFIX = ".anchors"
TIMEOUT_SECONDS = 5.0
_TAIL_BYTES = 16 * 1024  # the newest lines; out-of-order writers are never far apart
log = logging.getLogger("adclear.anchors")


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    at: str
    why: str = ""

    def line(self) -> str:
        return f"{self.seq}:{self.hash}\t{self.at}\t{self.why}\n"


def anchor_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + SUFFIX)


def _parse(line: str) -> Anchor | None:
    fields = line.rstrip("\n").split("\t")
    seq, sep, digest = fields[0].partition(":")
    if not sep or not seq.isascii() or not seq.isdigit() or len(digest) != 64 or len(fields) < 2:
        return None
    return Anchor(int(seq), digest.lower(), fields[1], fields[2] if len(fields) > 2 else "")


def latest(db: sqlite_utils.Database) -> Anchor | None:
    """The highest head the anchor file records, or None (no file: nothing anchored yet)."""
    path = database_path(db)
    if path is None:
        return None
    try:
        with anchor_path(path).open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    lines = tail.splitlines(keepends=True)
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first may be cut
    found = [a for a in map(_parse, lines) if a is not None]
    return max(found, key=lambda a: a.seq, default=None)


def keep(db_path: Path, anchor: Anchor, url: str = "") -> None:
    """Append ``anchor`` to the database's anchor file, and POST it to ``url`` (a webhook) if one is given."""
    target = anchor_path(db_path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, anchor.line().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        log.warning("could not write the ledger anchor %s to %s: %s", f"{anchor.seq}:{anchor.hash}", target, e)
    url = url.strip()
    if url.startswith(("http://", "https://")):
        _send(url, db_path, anchor)
    elif url:
        log.warning("the anchor webhook must be an http(s) URL, not %r: the anchor was not sent", url)


def _send(url: str, db_path: Path, anchor: Anchor) -> None:
    import urllib.error  # here: http.client and ssl cost every command that reads the ledger 12 ms to start
    import urllib.request

    body = json.dumps(
        {"database": str(db_path), "seq": anchor.seq, "hash": anchor.hash, "at": anchor.at, "why": anchor.why},
        ensure_ascii=False,
    ).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # the operator's URL
            answer.read(1024)
    except (OSError, ValueError, urllib.error.URLError) as e:
        log.warning("could not send the ledger anchor %s:%s to %s: %s", anchor.seq, anchor.hash, url, e)
