"""The database: one SQLite file in WAL mode, opened the same way, and as warily, by every part of adclear.

``connect(path)`` refuses what it cannot trust before using it: an empty (0-byte) file where a database was (its
anchor file, WAL, WARC archive or web key lie beside it), a file that is not SQLite, an SQLite database of another
program, a database written by a newer adclear (migrations this version does not know, a higher schema version,
columns it does not know) and one whose columns were renamed or dropped. Then it applies pending migrations (the
schema lives only in ``core.migrations``) and turns on WAL, a busy timeout and foreign keys. Only a path where
no file exists yet (or an empty file with nothing of a database beside it) becomes a new database.

Writes that must be atomic use ``immediate(db)``: ``BEGIN IMMEDIATE`` takes the write lock up front, so a
read-then-write cannot fail half-way with SQLITE_BUSY (a deferred transaction that reads first and then wants
to write cannot wait for the lock: SQLite gives up at once). The first ``immediate`` of a process on a
database runs ``PRAGMA quick_check`` first: a damaged database is refused before anything is written to it.

``explain(error, path)`` turns SQLite's errors (damaged pages, a read-only file, a full disk) into a
``DatabaseError`` whose one line says what happened and what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from core import __version__
from core.errors import DatabaseError
from core.migrations import migrations

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "check_before_writing",
    "check_schema",
    "connect",
    "database_path",
    "explain",
    "immediate",
    "quick_check",
    "snapshot",
]

BUSY_TIMEOUT_MS = 30_000
SQLITE_HEADER = b"SQLite format 3\x00"
_checked: set[str] = set()  # databases whose quick_check passed in this process
_checked_lock = threading.Lock()


SCHEMA_VERSION = len(migrations._migrations)  # sqlite-utils keeps the registered migrations there


def connect(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open the database at ``path`` (a new one if no file is there), checked and migrated to the current schema.

    ``migrate=False`` skips the checks and migrations: for connections opened after a first ``connect`` of the
    same file in this process (the web app's pool).
    """
    path = Path(path)
    if migrate:
        _refuse_unusable_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except (OSError, sqlite3.Error) as e:
        raise DatabaseError(f"cannot open the database {path}: {e}", zh=f"无法打开数据库 {path}：{e}") from None
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        with _migration_lock(path) if migrate else contextlib.nullcontext():  # another process may be making it
            if migrate:
                _check_origin(db, path)  # before anything is written, even the switch to WAL
            _wal(db, path)
            conn.execute("PRAGMA synchronous = NORMAL")
            if migrate:
                _migrate(db, path)
        _OPENED.add(path.resolve())
    except DatabaseError:
        conn.close()
        raise
    except sqlite3.DatabaseError as e:
        conn.close()
        raise explain(e, path) from None
    return db


def _migrate(db: sqlite_utils.Database, path: Path) -> None:
    """Apply pending migrations; refuse a database whose columns are not the ones they make (``connect`` holds
    ``_migration_lock``)."""
    if migrations.pending(db):
        migrations.apply(db)
        # a new database's schema passes through the WAL (~0.5 MB): give that space back before work starts
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _check_columns(db, path)
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def check_schema(db: sqlite_utils.Database, path: str | Path) -> list[str]:
    """Raise ``DatabaseError`` for a database that is not adclear's, is newer, or has other columns; returns the
    migrations still pending (any command applies them). Reads only: for ``adclear doctor``."""
    path = Path(path)
    _check_origin(db, path)
    pending = [m.name for m in migrations.pending(db)]
    if not pending:
        _check_columns(db, path)
    return pending


def _tables(db: sqlite_utils.Database) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name"
        )
    ]


def _check_origin(db: sqlite_utils.Database, path: Path) -> None:
    """Another program's database, or one written by a newer adclear, is refused before anything is written."""
    tables = _tables(db)
    if not tables:
        return  # a new database
    applied: list[str] = []
    if "_sqlite_migrations" in tables:
        applied = [m.name for m in migrations.applied(db)]
    if not applied:
        shown = ", ".join(tables[:6]) + (", …" if len(tables) > 6 else "")
        raise DatabaseError(
            f"{path} is an SQLite database of another program (tables: {shown}), not adclear's: give the path "
            "of adclear's database (--db or $ADCLEAR_DB)",
            zh=f"{path} 是其他程序的数据库，不是本系统的：请指定本系统的数据库文件",
        )
    known = {m.name for m in migrations._migrations}
    unknown = [name for name in applied if name not in known]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if unknown or version > SCHEMA_VERSION:
        theirs = max(version, len(applied))
        listed = f"; migrations this adclear does not know: {', '.join(unknown)}" if unknown else ""
        raise DatabaseError(
            f"{path} was written by a newer adclear (schema version {theirs}{listed}); adclear {__version__} "
            f"reads schema version {SCHEMA_VERSION} at most: upgrade adclear to use it (nothing was changed)",
            zh=(
                f"{path} 由更新版本的 adclear 写入（数据结构版本 {theirs}），"
                "当前版本无法读取：请升级 adclear（数据未改动）"
            ),
        )


_EXPECTED: dict[str, set[str]] = {}


def expected_columns() -> dict[str, set[str]]:
    """The columns of every table, as the migrations make them (built once, in memory)."""
    if not _EXPECTED:
        scratch = sqlite_utils.Database(memory=True)
        migrations.apply(scratch)
        for table in _tables(scratch):
            if table != "_sqlite_migrations":
                _EXPECTED[table] = {r[1] for r in scratch.execute(f"PRAGMA table_info([{table}])")}
        scratch.close()
    return _EXPECTED


def _check_columns(db: sqlite_utils.Database, path: Path) -> None:
    """Every table has exactly the columns the migrations made: none renamed, dropped or added by someone else."""
    present = set(_tables(db))
    for table, columns in expected_columns().items():
        if table not in present:
            raise DatabaseError(
                f"{path}: the table {table} is missing (dropped outside adclear?): restore the database from a backup",
                zh=f"{path}：数据表 {table} 缺失（可能被外部改动）：请从备份恢复数据库",
            )
        actual = {r[1] for r in db.execute(f"PRAGMA table_info([{table}])")}
        missing, extra = sorted(columns - actual), sorted(actual - columns)
        if missing:
            raise DatabaseError(
                f"{path}: the table {table} has no column {', '.join(missing)} (renamed or dropped outside "
                "adclear?): restore the database from a backup; nothing was changed",
                zh=(
                    f"{path}：数据表 {table} 缺少字段 {'、'.join(missing)}（"
                    "可能被外部改动）：请从备份恢复数据库（数据未改动）"
                ),
            )
        if extra:
            raise DatabaseError(
                f"{path}: the table {table} has columns this adclear does not know ({', '.join(extra)}): a newer "
                f"or modified adclear wrote it; this one reads schema version {SCHEMA_VERSION}; nothing was changed",
                zh=(
                    f"{path}：数据表 {table} 含本版本不认识的字段（"
                    f"{'、'.join(extra)}），由更新或改动过的 adclear 写入（数据未改动）"
                ),
            )


def _wal(db: sqlite_utils.Database, path: Path) -> None:
    conn = db.conn
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return  # nothing to write: a read-only database in WAL mode can still be read
    with db.ensure_autocommit_on():
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise DatabaseError(
            f"{path}: could not switch to WAL mode (got {mode}); is it on a network disk?",
            zh=f"{path}：无法切换到 WAL 模式（得到 {mode}），数据库是否在网络盘上？",
        )


@contextlib.contextmanager
def _migration_lock(path: Path) -> Iterator[None]:
    """One process at a time switches the database at ``path`` to WAL and migrates it; the others wait.

    Two processes opening a new database at once (an ingest writer and a crawl, two commands of a scheduler)
    both saw the migrations pending, and the second ran one again once the first had committed it ("table
    already exists"). The lock is ``flock`` on ``<database>.migrate.lock``, a file of its own: a POSIX lock on
    the database file would be dropped with SQLite's (see ``_OPENED``). Where that file cannot be made (a
    read-only folder: nothing can be migrated there either) the database is opened without it."""
    lock_path = path.with_name(path.name + ".migrate.lock")
    try:
        handle = open(lock_path, "a")  # held for the block, closed in finally
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


# Database files this process has opened. Reading a file's header by hand opens and closes it, and closing any
# descriptor of a file drops every POSIX lock the process holds on it, SQLite's own included: a connect() while
# another connection of the process was open took that connection's shared lock away, so that another process
# could checkpoint and delete the WAL under it, and its next write damaged the database (seen with the
# scheduler, whose connection stays open while crawls run and end). A file once opened is not read by hand again.
_OPENED: set[Path] = set()


def _refuse_unusable_file(path: Path) -> None:
    """An existing file that is empty or not SQLite is never turned into a new database."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as e:
        raise DatabaseError(
            f"cannot read the database {path}: {e.strerror}", zh=f"无法读取数据库 {path}：{e.strerror}"
        ) from None
    if path.is_dir():
        raise DatabaseError(
            f"{path} is a directory, not a database: give the path of the database file",
            zh=f"{path} 是目录，不是数据库：请指定数据库文件的路径",
        ) from None
    if size == 0:
        traces = _traces_of_a_database(path)
        if traces:
            raise DatabaseError(
                f"{path} is an empty file (0 bytes) where a database was ({', '.join(traces)} beside it): restore "
                "it from a backup, or delete it to start a new database there",
                zh=f"{path} 是空文件（0 字节），原有数据库已不在：请从备份恢复，或删除该文件后新建数据库",
            )
        return  # an empty file with nothing beside it: another program's sqlite3.connect made it; a new database
    if path.resolve() in _OPENED:
        return  # SQLite itself refuses a file that is no longer a database ("file is not a database")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise DatabaseError(
            f"cannot read the database {path}: {e.strerror}", zh=f"无法读取数据库 {path}：{e.strerror}"
        ) from None
    if header != SQLITE_HEADER:
        raise DatabaseError(
            f"{path} is not a usable adclear database: file is not a database (not SQLite)",
            zh=f"{path} 不是可用的 adclear 数据库（不是 SQLite 文件）",
        )


def _traces_of_a_database(path: Path) -> list[str]:
    """What beside ``path`` shows that a database was there: its anchor file, its WAL, its archive, its web key."""
    traces = []
    for name in (path.name + ".anchors", path.name + "-wal", "web-secret.key"):
        sibling = path.with_name(name)
        if sibling.is_file() and sibling.stat().st_size > 0:
            traces.append(name)
    warc = path.with_name("warc")
    if warc.is_dir() and any(warc.iterdir()):
        traces.append("warc/")
    return traces


def database_path(db: sqlite_utils.Database) -> Path | None:
    """The file behind ``db`` (None for an in-memory database)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file) if file else None
    return None


def quick_check(db: sqlite_utils.Database, *, full: bool = False) -> list[str]:
    """SQLite's own check of the file (``quick_check``, or ``integrity_check`` with ``full``): [] when sound."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [r[0] for r in db.execute(f"PRAGMA {pragma}(20)").fetchall()]
    except sqlite3.DatabaseError as e:
        return [str(e)]
    return [] if rows == ["ok"] else rows


def check_before_writing(db: sqlite_utils.Database) -> None:
    """``quick_check`` before this process first writes to the database; refuses a damaged one."""
    path = database_path(db)
    key = str(path.resolve()) if path else ""
    if not key or key in _checked:
        return
    with _checked_lock:
        if key in _checked:
            return
        problems = quick_check(db)
        if problems:
            raise DatabaseError(
                f"{path} is damaged ({problems[0]}); nothing was written. Run `adclear doctor`, and restore the "
                "database from a backup (docs/operations.md)",
                zh=f"数据库 {path} 已损坏（{problems[0]}），未写入任何内容：请运行 adclear doctor，并从备份恢复数据库",
            )
        _checked.add(key)


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that holds the write lock from its first statement."""
    conn = db.conn
    if conn.in_transaction:
        raise RuntimeError("immediate() inside an open transaction: commit or roll back first")
    check_before_writing(db)
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


# SQLite's primary result codes (the low byte of sqlite_errorcode) that a user can do something about
_DAMAGED = {11: "SQLITE_CORRUPT", 26: "SQLITE_NOTADB"}
_READONLY, _FULL, _CANTOPEN, _IOERR, _BUSY = 8, 13, 14, 10, 5


def _disk_full(path: str | Path | None) -> bool:
    """Whether the file system holding ``path`` has (next to) no room left: SQLite then often says "I/O error"
    (it cannot grow its -shm file), not "full"."""
    if not path:
        return False
    try:
        return shutil.disk_usage(Path(path).parent).free < 256 * 1024
    except OSError:
        return False


def explain(error: sqlite3.Error, path: str | Path | None, *, outcome: str = "nothing was written") -> DatabaseError:
    """One line for an SQLite error: what happened to the database at ``path``, what became of the write
    (``outcome``: a crawl says its last writes were rolled back) and what to do about it."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    where = str(path) if path else "the database"
    text = str(error)
    if primary in _DAMAGED or "malformed" in text:
        return DatabaseError(
            f"{where} is damaged ({text}): run `adclear doctor`, and restore the database from a backup "
            "(docs/operations.md)",
            zh=f"数据库 {where} 已损坏（{text}）：请运行 adclear doctor，并从备份恢复数据库",
        )
    if primary == _READONLY:
        return DatabaseError(
            f"{where} is read-only ({text}): {outcome}. Let the user running adclear write the file, "
            "its -wal and -shm files and their directory (chmod/chown; `chattr -i` for an immutable file; a "
            "read-only mount must be remounted read-write)",
            zh=(
                f"数据库 {where} 只读（{text}），未能写入："
                "请管理员让运行 adclear 的用户可写该文件及其 -wal、-shm 文件和所在目录"
            ),
        )
    if primary == _FULL or (primary == _IOERR and _disk_full(path)):
        return DatabaseError(
            f"the disk holding {where} is full ({text}): {outcome}. Free space on it (old WARC files, "
            "logs), then run the command again",
            zh=f"数据库 {where} 所在磁盘已满（{text}），未能写入：请清理磁盘空间（旧的 WARC 文件、日志）后重试",
        )
    if primary == _CANTOPEN:
        return DatabaseError(
            f"cannot open {where} ({text}): check that its directory exists and is writable",
            zh=f"无法打开数据库 {where}（{text}）：请检查其目录是否存在且可写",
        )
    if primary == _IOERR:
        return DatabaseError(
            f"{where}: the disk reported an I/O error ({text}); check the disk, then `adclear doctor`",
            zh=f"数据库 {where} 所在磁盘读写出错（{text}）：请检查磁盘，然后运行 adclear doctor",
        )
    if primary == _BUSY:
        return DatabaseError(
            f"{where} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s ({text})",
            zh=f"数据库 {where} 被其他进程占用超过 {BUSY_TIMEOUT_MS // 1000} 秒（{text}），请稍后重试",
        )
    return DatabaseError(f"{where}: {text}", zh=f"数据库 {where} 出错：{text}")
