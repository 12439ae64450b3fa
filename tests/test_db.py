"""The database: migrations, WAL, foreign keys, busy timeout, atomic writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from core.db import BUSY_TIMEOUT_MS, SCHEMA_VERSION, connect, immediate
from core.errors import DatabaseError
from core.migrations import migrations
from tests.conftest import REPO


def test_opening_applies_every_migration_once(db_path):
    db = connect(db_path)
    applied = [r["name"] for r in db["_sqlite_migrations"].rows]
    assert applied == [m.name for m in migrations._migrations]
    for table in ("sites", "crawl_runs", "crawl_errors", "pages", "ads", "ad_versions", "sightings", "evidence"):
        assert db[table].exists(), table
    db.close()
    again = connect(db_path)
    assert [r["name"] for r in again["_sqlite_migrations"].rows] == applied


def test_pragmas(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), immediate(db):
        db.execute("INSERT INTO sightings (ad_id, run_id, seen_at, change) VALUES (999, 999, 'x', 'new')")


def test_immediate_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError), immediate(db):
        db.execute("INSERT INTO sites (name, platform, kind, config, updated_at) VALUES ('a', 'p', 'forum', '{}', 't')")
        raise RuntimeError("boom")
    assert db.execute("SELECT count(*) FROM sites").fetchone()[0] == 0


def test_immediate_takes_the_write_lock_up_front(db_path):
    first, second = connect(db_path), connect(db_path)
    second.conn.execute("PRAGMA busy_timeout = 100")
    with immediate(first):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            second.conn.execute("BEGIN IMMEDIATE")


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="is not a usable adclear database"):
        connect(path)


def test_a_second_connect_keeps_the_first_connection_s_locks(db_path):
    """Reading the file's header by hand and closing it dropped the process's POSIX locks on the database: another
    process then took itself for the last user, checkpointed and deleted the WAL under the first connection, whose
    next write damaged the database (seen with the scheduler's connection while its crawls ran)."""
    import subprocess
    import sys

    first = connect(db_path)
    first.execute("SELECT count(*) FROM sites").fetchone()
    connect(db_path).close()  # a second connection of this process, opened and closed
    write = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        'c.execute("INSERT INTO sites (name, platform, kind, config, updated_at) '
        "VALUES ('x', 'p', 'forum', '{}', 'now')\"); "
        "c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", write, str(db_path)], check=True)
    assert db_path.with_name(db_path.name + "-wal").exists()  # still in use by us: not checkpointed away
    assert first.execute("SELECT name FROM sites").fetchall() == [("x",)]
    with immediate(first):
        first.execute("UPDATE sites SET platform = 'q'")
    assert first.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    first.close()


OPEN_AT = """
import sys, time
from core.db import connect
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
connect(sys.argv[1]).close()
print("ok")
"""


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    """An ingest writer and a crawl, or two scheduled commands, may open a new database at the same moment; the
    second once ran a migration again after the first had committed it ("duplicate column name")."""
    for attempt in range(3):
        path = tmp_path / f"new{attempt}" / "adclear.db"
        start = time.time() + 2.0  # every process imports first, then all open together
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(path), str(start)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(5)
        ]
        outcomes = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outcomes]
        db = connect(path)
        names = [r[0] for r in db.execute("SELECT name FROM _sqlite_migrations")]
        assert len(names) == len(set(names)) == SCHEMA_VERSION
        db.close()
