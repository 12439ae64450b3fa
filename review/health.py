"""``adclear doctor``: is the database, its ledger and its evidence sound, and is there room to keep going?

Each check gives one verdict: ``ok``, ``warning`` or ``failed``, with one line saying what was found. None of
them writes to the database (the integrity check opens it read-only), so the doctor can look at a damaged copy
without making it worse:

- integrity: SQLite's full ``PRAGMA integrity_check`` (every page, every index against its table);
- schema: the database is adclear's, no newer than this adclear, with the columns the migrations make;
- ledger: the hash chain recomputed, held against the anchor file and the decisions that cite it;
- evidence: the SHA-256 of a random sample of archived pages and screenshots, read back from their WARC files;
- disk: the free space beside the database.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from core.db import SCHEMA_VERSION, check_schema, connect, explain, quick_check
from core.errors import AdclearError
from review import anchors, evidence, ledger

__all__ = ["Verdict", "check_all"]

EVIDENCE_SAMPLE = 20
DISK_FAILED_BYTES = 256 * 1024**2  # below this, a crawl or a backup copy soon fails
DISK_WARNING_BYTES = 2 * 1024**3


@dataclass(frozen=True, slots=True)
class Verdict:
    check: str
    status: str  # ok, warning, failed
    detail: str

    def line(self) -> str:
        return f"{self.check:<10} {self.status:<8} {self.detail}"


def _integrity(path: Path) -> Verdict:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return Verdict("integrity", "failed", f"cannot open {path} read-only: {e}")
    try:
        problems = quick_check(sqlite_utils.Database(conn), full=True)
    finally:
        conn.close()
    if not problems:
        return Verdict("integrity", "ok", "PRAGMA integrity_check found every page and index sound")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Verdict(
        "integrity", "failed", f"{problems[0]}{more}: restore the database from a backup (docs/operations.md)"
    )


def _schema(db: sqlite_utils.Database, path: Path) -> Verdict:
    pending = check_schema(db, path)
    if pending:
        return Verdict("schema", "warning", f"{len(pending)} migration(s) pending ({', '.join(pending)})")
    return Verdict("schema", "ok", f"version {SCHEMA_VERSION}, the columns the migrations make")


def _ledger(db: sqlite_utils.Database, path: Path) -> Verdict:
    anchor = anchors.latest(db)
    result = ledger.verify(db, anchor=anchor)
    if not result.ok:
        return Verdict("ledger", "failed", result.problem)
    if result.head is None:
        return Verdict("ledger", "ok", "empty")
    held = f"; anchor {anchor.seq} holds" if anchor else f"; no anchor file ({anchors.anchor_path(path).name}) yet"
    return Verdict("ledger", "ok", f"{result.entries} entries, head {result.head}{held}")


def _evidence(db: sqlite_utils.Database, path: Path, sample: int) -> Verdict:
    checked, total, problem = evidence.check_sample(db, path.parent, sample)
    if problem:
        return Verdict("evidence", "failed", problem)
    return Verdict("evidence", "ok", f"{checked} of {total} archived pages and screenshots match their SHA-256")


def _disk(path: Path) -> Verdict:
    free = shutil.disk_usage(path.parent).free
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    text = f"{free / 1024**3:.1f} GB free beside the database ({size / 1024**2:.1f} MB)"
    if free < max(DISK_FAILED_BYTES, size):
        return Verdict("disk", "failed", f"{text}: free space before the next crawl (old WARC files, logs)")
    if free < max(DISK_WARNING_BYTES, 2 * size):
        return Verdict("disk", "warning", f"{text}: a backup copy or a few crawls may not fit")
    return Verdict("disk", "ok", text)


def check_all(path: Path, *, sample: int = EVIDENCE_SAMPLE) -> list[Verdict]:
    """Every check on the database at ``path``, in order; a check that cannot run is a failed verdict."""
    verdicts = [_integrity(path)]
    try:
        db = connect(path, migrate=False)
    except AdclearError as e:
        return [*verdicts, Verdict("schema", "failed", str(e)), _disk(path)]
    checks: list[tuple[str, Callable[[], Verdict]]] = [
        ("schema", lambda: _schema(db, path)),
        ("ledger", lambda: _ledger(db, path)),
        ("evidence", lambda: _evidence(db, path, sample)),
    ]
    try:
        for name, check in checks:
            try:
                verdicts.append(check())
            except AdclearError as e:
                verdicts.append(Verdict(name, "failed", str(e)))
            except sqlite3.DatabaseError as e:
                verdicts.append(Verdict(name, "failed", str(explain(e, path))))
    finally:
        db.close()
    return [*verdicts, _disk(path)]
