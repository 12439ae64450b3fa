"""A database that cannot be trusted is refused in one line, and nothing is written to it (issue 14, findings 6,
7 and 9): an empty or foreign file, a newer schema, renamed or added columns, damaged pages, a read-only or
immutable file, a full disk."""

# ruff: noqa: F811 (pytest fixtures imported from tests.test_web are arguments here)
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlite_utils import Database

import core.db as adb
from core.migrations import migrations
from tests.conftest import run_adclear
from tests.test_web import site, template  # noqa: F401 (fixtures: a private copy of the web tests' database)

SCHEMA_VERSION = len(migrations._migrations)


def confirm(db_path, ad_id, *, who="rev1"):
    return run_adclear(
        "review", "confirm", ad_id, "--category", "投资理财/P2P网贷", "--reason", "保本保息", "--as", who, db=db_path
    )


def one_line_error(result, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr == f"Error: {message}\n"


def settle(db_path: Path) -> None:
    """Everything in the main file (no -wal left), as a copy or a backup would find it."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def ledger_rows(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM ledger").fetchone()[0]


# --- files that are not (or no longer) an adclear database ------------------------------------------------------


def test_a_database_emptied_to_zero_bytes_is_refused_not_recreated(site):
    db_path, ids = site
    assert confirm(db_path, ids["promo0"]).returncode == 0
    settle(db_path)
    db_path.write_bytes(b"")
    result = run_adclear("ledger", "verify", db=db_path)
    one_line_error(
        result,
        f"{db_path} is an empty file (0 bytes) where a database was (adclear.db.anchors, warc/ "
        "beside it): restore it from a backup, or delete it to start a new database there",
    )
    assert db_path.stat().st_size == 0


def test_an_empty_file_with_nothing_beside_it_becomes_a_new_database(tmp_path):
    """What another program's sqlite3.connect leaves (a crawl's progress poller, say) is no lost database."""
    path = tmp_path / "adclear.db"
    path.touch()
    result = run_adclear("ledger", "verify", db=path)
    assert result.returncode == 0 and result.stdout == "ledger ok: empty\n"


def test_a_database_of_another_program_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = path.read_bytes()
    result = run_adclear("queue", db=path)
    one_line_error(
        result,
        f"{path} is an SQLite database of another program (tables: notes), not adclear's: give the path of "
        "adclear's database (--db or $ADCLEAR_DB)",
    )
    assert path.read_bytes() == before


def test_a_database_from_a_newer_adclear_is_refused_naming_its_version(site):
    db_path, ids = site
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('adclear', 'm099_signatures', '2027-01-01')"
        )
    settle(db_path)
    before = db_path.read_bytes()
    result = confirm(db_path, ids["promo0"])
    one_line_error(
        result,
        f"{db_path} was written by a newer adclear (schema version {SCHEMA_VERSION + 1}; migrations this adclear "
        f"does not know: m099_signatures); adclear 0.1.0 reads schema version {SCHEMA_VERSION} at most: upgrade "
        "adclear to use it (nothing was changed)",
    )
    assert db_path.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "PRAGMA user_version = 42",
            "{db} was written by a newer adclear (schema version 42); adclear 0.1.0 reads schema version "
            f"{SCHEMA_VERSION} at most: upgrade adclear to use it (nothing was changed)",
        ),
        (
            "ALTER TABLE ledger ADD COLUMN signature TEXT",
            "{db}: the table ledger has columns this adclear does not know (signature): a newer or modified "
            f"adclear wrote it; this one reads schema version {SCHEMA_VERSION}; nothing was changed",
        ),
        (
            "ALTER TABLE ads RENAME COLUMN title TO headline",
            "{db}: the table ads has no column title (renamed or dropped outside adclear?): restore the "
            "database from a backup; nothing was changed",
        ),
    ],
    ids=["schema-version", "extra-ledger-column", "renamed-column"],
)
def test_a_schema_this_adclear_did_not_make_is_refused(site, change, message):
    db_path, ids = site
    with sqlite3.connect(db_path) as conn:
        conn.execute(change)
    one_line_error(confirm(db_path, ids["promo0"]), message.format(db=db_path))
    one_line_error(run_adclear("show", ids["promo0"], db=db_path), message.format(db=db_path))
    assert ledger_rows(db_path) == 0


# --- damaged pages ------------------------------------------------------------------------------------------------


def damage(db_path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage, as a failing disk or a stray write would."""
    settle(db_path)
    with sqlite3.connect(db_path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db_path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)


def test_a_damaged_ledger_is_reported_by_verify_and_refused_by_confirm(site):
    db_path, ids = site
    assert confirm(db_path, ids["promo0"]).returncode == 0
    damage(db_path, "ledger")
    result = run_adclear("ledger", "verify", db=db_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        "Error: ledger broken: the ledger cannot be read (database disk image is malformed): run `adclear doctor`, "
        "and restore the database from a backup (docs/operations.md)\n"
    )
    damaged = db_path.read_bytes()
    result = confirm(db_path, ids["promo1"])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {db_path} is damaged (")
    assert result.stderr.endswith(
        "); nothing was written. Run `adclear doctor`, and restore the database from a backup (docs/operations.md)\n"
    )
    assert db_path.read_bytes() == damaged
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0


def test_a_damaged_table_gives_queue_one_line(site):
    db_path, _ = site
    damage(db_path, "verdicts")
    result = run_adclear("queue", db=db_path)
    one_line_error(
        result,
        f"{db_path} is damaged (database disk image is malformed): run `adclear doctor`, and restore the database "
        "from a backup (docs/operations.md)",
    )


# --- read-only, immutable, full ------------------------------------------------------------------------------------


def make_immutable(path: Path) -> None:
    if os.geteuid() == 0:  # root writes through chmod: only the immutable flag stops it
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not supported on this file system")
    else:
        path.chmod(0o444)


def release(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o644)


def test_an_immutable_database_is_read_but_not_written(site):
    db_path, ids = site
    settle(db_path)
    make_immutable(db_path)
    try:
        result = run_adclear("queue", db=db_path)
        assert result.returncode == 0, result.stderr
        assert "鑫盛通网贷" in result.stdout
        result = confirm(db_path, ids["promo0"])
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr == (
            f"Error: {db_path} is read-only (attempt to write a readonly database): nothing was written. Let the "
            "user running adclear write the file, its -wal and -shm files and their directory (chmod/chown; "
            "`chattr -i` for an immutable file; a read-only mount must be remounted read-write)\n"
        )
    finally:
        release(db_path)
    assert ledger_rows(db_path) == 0


def in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` as root in a private mount namespace: its mounts vanish with it."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -m is not allowed here")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)


def small_disk(tmp_path: Path, options: str = "") -> tuple[Path, Path, str]:
    """(mount point, database path on it, the adclear command for that database)."""
    mount = tmp_path / "small"
    db = mount / "data" / "adclear.db"
    return mount, db, f"{os.sys.executable} -m adclear --db {db} {options}".rstrip()


def on_a_small_disk(mount: Path, size: str, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run from the repository with a tmpfs of ``size`` at ``mount``, private to it."""
    mount.mkdir()
    return in_namespace(f"mount -t tmpfs -o size={size} tmpfs {mount} && cd {Path(__file__).parents[1]} && {script}")


def test_a_read_only_mount_is_one_line(site):
    db_path, ids = site
    settle(db_path)
    adclear = f"{shutil.which('python3') and os.sys.executable} -m adclear --db {db_path}"
    result = in_namespace(
        f"mount --bind -o ro {db_path.parent} {db_path.parent} && cd {Path(__file__).parents[1]} && "
        f"{adclear} review confirm {ids['promo0']} --category 养老投资 --reason x --as rev1"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {db_path} is read-only (") or result.stderr.startswith(
        f"Error: cannot open {db_path} ("
    ), result.stderr
    assert ledger_rows(db_path) == 0


def test_a_full_disk_is_one_line_and_loses_nothing(site, tmp_path):
    db_path, ids = site
    settle(db_path)
    mount, copy, adclear = small_disk(tmp_path)
    result = on_a_small_disk(
        mount,
        "2m",
        f"mkdir {copy.parent} && cp {db_path} {copy} && dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null; "
        f"{adclear} review confirm {ids['promo0']} --category 养老投资 --reason x --as rev1; echo exit=$?; "
        f"rm {mount}/filler && {adclear} ledger verify && {adclear} queue",
    )
    assert "exit=1" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    # SQLite says "database or disk is full", or "disk I/O error" when it cannot grow its -shm file
    assert first.startswith(f"Error: the disk holding {copy} is full ("), result.stderr
    assert first.endswith("): nothing was written. Free space on it (old WARC files, logs), then run the command again")
    # once there is room again, the database is as it was
    assert "ledger ok: empty" in result.stdout, result.stderr
    assert "鑫盛通网贷" in result.stdout


def test_a_full_database_is_reported_by_the_library(site):
    """The same condition without a mount: SQLite's page limit, as a full disk looks to it."""
    from core.errors import DatabaseError
    from review import decisions

    db_path, ids = site
    db = adb.connect(db_path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError) as caught:
        decisions.confirm(db, ids["promo0"], reviewer="rev1", category="养老投资", reason="x" * 20000)
    error = adb.explain(caught.value, db_path)
    assert isinstance(error, DatabaseError)
    assert str(error).startswith(f"the disk holding {db_path} is full (database or disk is full): nothing was written")
    assert db.execute("SELECT count(*) FROM ledger").fetchone()[0] == 0
    db.close()


def schema_peak_kb(directory: Path) -> int:
    """KB a new database takes at its peak while its schema is made: every migration passes through the WAL,
    which ``connect`` then checkpoints into the file, so the file as it ends up and the WAL as it was."""
    directory.mkdir()
    adb.connect(directory / "adclear.db").close()
    conn = sqlite3.connect(directory / "wal.db")
    conn.execute("PRAGMA journal_mode = WAL")
    migrations.apply(Database(conn))
    wal = (directory / "wal.db-wal").stat().st_size
    conn.close()
    return ((directory / "adclear.db").stat().st_size + wal) // 1024


@pytest.mark.slow
# the disk fills at different moments: while the schema is made (before the run is recorded), at its first pages,
# in the middle, late; the JOBDIR's queues filling once left a crawl idle for good. Each size is room beyond what a
# new database of today's schema takes at its peak (the file and the WAL its migrations pass through: every
# migration makes both larger), so a new table moves no case elsewhere; the first is short of that peak.
@pytest.mark.parametrize("room", [-119, 41, 61, 241])
def test_a_crawl_on_a_full_disk_marks_its_run_failed_with_the_reason(tmp_path, demo_site, room):
    """Wherever the disk fills (database, WARC, or the JOBDIR's queues), the crawl stops and its run is failed
    with the reason; a run that could not even be recorded is reported with the reason too."""
    from tests.conftest import seeds_for

    size = f"{schema_peak_kb(tmp_path / 'empty') + room}k"
    seeds = seeds_for(demo_site, tmp_path / "seeds.yml")
    mount, db, adclear = small_disk(tmp_path, f"--seeds {seeds}")
    result = on_a_small_disk(
        mount,
        size,
        f"{adclear} crawl demo-classifieds; echo exit=$?; "
        f"rm -rf {mount}/data/warc {mount}/data/logs; sqlite3 {db} 'SELECT status, reason FROM crawl_runs' "
        f"|| {os.sys.executable} -c \"import sqlite3; print(*sqlite3.connect('{db}').execute("
        f"'SELECT status, reason FROM crawl_runs').fetchone(), sep='|')\"",
    )
    full = (
        f"the database could not be written: the disk holding {db} is full (database or disk is full): the writes "
        "of that moment were rolled back. Free space on it (old WARC files, logs), then run the command again"
    )
    assert "exit=1" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr, result.stderr
    if room < 0:
        assert f"demo-classifieds: failed: the disk holding {db} is full" in result.stdout  # not "failed: " alone
        assert "running" not in result.stdout.split("exit=1", 1)[1]  # no run left 'running'
        return
    assert "demo-classifieds: failed (run 1): " in result.stdout
    # the database or the WARC file, whichever meets the full disk first (they grow together), says so
    warc = (
        "the WARC file could not be written (No space left on device): free space on its disk (old WARC files, "
        "logs), then run the command again"
    )
    said = full if f"errors: {full}\n" in result.stdout else warc
    assert f"errors: {said}\n" in result.stdout, result.stdout  # not "failed: " with no reason
    assert f"failed|{said}" in result.stdout  # and not left 'running'
