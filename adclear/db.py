"""The database: one SQLite file in WAL mode, opened the same way by every part of adclear.

``connect(path)`` applies pending migrations (the schema lives only in ``adclear.migrations``), turns on WAL,
a busy timeout and foreign keys. Writes that must be atomic use ``immediate(db)``: ``BEGIN IMMEDIATE`` takes
the write lock up front, so a read-then-write cannot fail half-way with SQLITE_BUSY (FINDINGS.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from adclear.errors import DatabaseError

__all__ = ["BUSY_TIMEOUT_MS", "connect", "default_db_path", "immediate", "snapshot"]

BUSY_TIMEOUT_MS = 30_000


def default_db_path() -> Path:
    """``$ADCLEAR_DB``, or ``data/adclear.db`` under the current directory."""
    return Path(os.environ.get("ADCLEAR_DB") or Path("data") / "adclear.db")


def connect(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating it if needed) the database at ``path``, migrated to the current schema."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except (OSError, sqlite3.Error) as e:
        raise DatabaseError(f"cannot open the database {path}: {e}") from None
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        with db.ensure_autocommit_on():
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise DatabaseError(f"{path}: could not switch to WAL mode (got {mode}); is it on a network disk?")
        conn.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            from adclear.migrations import migrations

            migrations.apply(db)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise DatabaseError(f"{path} is not a usable adclear database: {e}") from None
    return db


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that holds the write lock from its first statement."""
    conn = db.conn
    if conn.in_transaction:
        raise RuntimeError("immediate() inside an open transaction: commit or roll back first")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextlib.contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A read transaction: every query inside sees the database as of the first one (WAL)."""
    conn = db.conn
    if conn.in_transaction:
        raise RuntimeError("snapshot() inside an open transaction: commit or roll back first")
    conn.execute("BEGIN DEFERRED")
    try:
        yield db
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
