"""What `adclear scheduler` keeps in the database (migration m013), and what the web app reads and asks of it.

- ``schedule_state``: one row per job (a site's crawl, named after the site; ``recheck``), written by the
  scheduler: its schedule as seeds.yml writes it, when it is next due, its last start and end, the process
  while it runs. Next runs survive a restart of the scheduler: a run that fell due while it was down is found
  past due and run once.
- ``schedule_requests``: "run now" (立即运行) from the web app; the scheduler takes each request on its next pass
  (within its tick, a few seconds) and records what it did with it.
- ``scheduler_status``: the one row of the scheduler of this database: who runs it, when it was last seen, and
  why the last change of seeds.yml was refused (the old schedule is kept meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from core.db import immediate
from core.errors import AdclearError
from core.timeutil import now_utc

__all__ = [
    "RECHECK_JOB",
    "JobRow",
    "SchedulerInfo",
    "config_error",
    "job_rows",
    "last_runs",
    "last_start",
    "overview",
    "pending_requests",
    "remove_jobs",
    "request_run",
    "save_job",
    "scheduler_info",
    "scheduler_seen",
    "scheduler_started",
    "scheduler_stopped",
    "take_request",
]

RECHECK_JOB = "recheck"  # the job that re-checks open takedowns (a site may not be named so: see core.seeds)
_STATE_COLUMNS = (
    "job",
    "kind",
    "schedule",
    "next_due",
    "last_started",
    "last_finished",
    "last_exit",
    "running_pid",
    "missed",
    "enabled",
    "updated_at",
)
_RUN_COLUMNS = ("id", "site", "spider", "started_at", "finished_at", "status", "reason", "pages", "ads_new", "errors",
                "health")  # fmt: skip


@dataclass(frozen=True)
class JobRow:
    job: str
    kind: str
    schedule: str
    next_due: str | None
    last_started: str | None
    last_finished: str | None
    last_exit: int | None
    running_pid: int | None
    missed: int
    enabled: bool
    updated_at: str


@dataclass(frozen=True)
class SchedulerInfo:
    owner: str
    started_at: str
    seen_at: str
    stopped_at: str | None
    seeds: str
    config_error: str
    config_error_at: str | None
    tick: float

    def alive(self, now: datetime) -> bool:
        """Seen within a few of its passes (a minute at least) and not stopped: else the page says it is not
        running (stopped, killed, or its machine down)."""
        if self.stopped_at:
            return False
        return datetime.fromisoformat(self.seen_at) >= now - timedelta(seconds=max(60.0, 6 * self.tick))


def job_rows(db: sqlite_utils.Database) -> dict[str, JobRow]:
    """Every job's state, by name."""
    sql = f"SELECT {', '.join(_STATE_COLUMNS)} FROM schedule_state ORDER BY kind, job"
    out = {}
    for row in db.execute(sql).fetchall():
        values = dict(zip(_STATE_COLUMNS, row, strict=True))
        values["enabled"] = bool(values["enabled"])
        out[row[0]] = JobRow(**values)
    return out


def save_job(db: sqlite_utils.Database, job: str, **values: Any) -> None:
    """Update a job's row with ``values`` (columns of schedule_state); insert it when it is new (then
    ``kind`` and ``schedule`` must be among them)."""
    unknown = set(values) - set(_STATE_COLUMNS)
    if unknown:
        raise ValueError(f"not columns of schedule_state: {sorted(unknown)}")
    values = {**values, "updated_at": now_utc()}
    with immediate(db):
        sets = ", ".join(f"{n} = ?" for n in values)
        if db.execute(f"UPDATE schedule_state SET {sets} WHERE job = ?", [*values.values(), job]).rowcount:
            return
        names = ["job", *values]
        db.execute(
            f"INSERT INTO schedule_state ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [job, *values.values()],
        )


def remove_jobs(db: sqlite_utils.Database, keep: set[str]) -> list[str]:
    """Drop the rows of jobs no longer in seeds.yml; their names."""
    gone = [j for j in job_rows(db) if j not in keep]
    with immediate(db):
        for job in gone:
            db.execute("DELETE FROM schedule_state WHERE job = ?", [job])
    return gone


def last_start(db: sqlite_utils.Database, job: str, kind: str) -> str | None:
    """When the job last started: the scheduler's record, else the crawl_runs of the site (a crawl run by hand
    counts: the next run of an interval is counted from it)."""
    row = db.execute("SELECT last_started FROM schedule_state WHERE job = ?", [job]).fetchone()
    recorded = row[0] if row else None
    if kind == "recheck":
        found = db.execute("SELECT max(started_at) FROM crawl_runs WHERE spider = 'recheck'").fetchone()
    else:
        found = db.execute(
            "SELECT max(started_at) FROM crawl_runs WHERE site = ? AND spider != 'recheck'", [job]
        ).fetchone()
    stamps = [s for s in (recorded, found[0] if found else None) if s]
    return max(stamps, key=datetime.fromisoformat) if stamps else None


def last_runs(db: sqlite_utils.Database, job: str, kind: str, limit: int = 5) -> list[dict[str, Any]]:
    """The job's last runs in crawl_runs, newest first (a re-check: one row per site it visited)."""
    where = "spider = 'recheck'" if kind == "recheck" else "site = ? AND spider != 'recheck'"
    args: list[Any] = [] if kind == "recheck" else [job]
    rows = db.execute(
        f"SELECT {', '.join(_RUN_COLUMNS)} FROM crawl_runs WHERE {where} ORDER BY id DESC LIMIT ?", [*args, limit]
    ).fetchall()
    return [dict(zip(_RUN_COLUMNS, r, strict=True)) for r in rows]


# ---- run now -------------------------------------------------------------------------------------------------
def request_run(db: sqlite_utils.Database, job: str, requested_by: str) -> tuple[int, bool]:
    """Ask the scheduler to run ``job`` now: (request id, whether it is new). A job already waiting for a
    request keeps that one (asking twice runs it once); a job the scheduler does not know is refused."""
    with immediate(db):
        if db.execute("SELECT 1 FROM schedule_state WHERE job = ?", [job]).fetchone() is None:
            raise AdclearError(
                f"no scheduled job named '{job}': is it in seeds.yml, and has the scheduler run?",
                zh=f"没有名为 {job} 的监测任务：请确认它在 seeds.yml 中，且调度程序已运行过",
            )
        open_one = db.execute(
            "SELECT id FROM schedule_requests WHERE job = ? AND taken_at IS NULL ORDER BY id LIMIT 1", [job]
        ).fetchone()
        if open_one is not None:
            return int(open_one[0]), False
        cursor = db.execute(
            "INSERT INTO schedule_requests (job, requested_by, requested_at) VALUES (?, ?, ?)",
            [job, requested_by, now_utc()],
        )
        return int(cursor.lastrowid or 0), True


def pending_requests(db: sqlite_utils.Database) -> list[tuple[int, str, str]]:
    """Requests not taken yet, oldest first: (id, job, requested_by)."""
    sql = "SELECT id, job, requested_by FROM schedule_requests WHERE taken_at IS NULL ORDER BY id"
    return [(int(r[0]), str(r[1]), str(r[2])) for r in db.execute(sql).fetchall()]


def take_request(db: sqlite_utils.Database, request_id: int, outcome: str) -> None:
    with immediate(db):
        db.execute(
            "UPDATE schedule_requests SET taken_at = ?, outcome = ? WHERE id = ? AND taken_at IS NULL",
            [now_utc(), outcome, request_id],
        )


# ---- the scheduler itself ------------------------------------------------------------------------------------
def scheduler_started(db: sqlite_utils.Database, owner: str, seeds: str, tick: float = 5.0) -> None:
    now = now_utc()
    with immediate(db):
        db.execute(
            """INSERT INTO scheduler_status (id, owner, started_at, seen_at, seeds, tick) VALUES (1, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, started_at = excluded.started_at,
                   seen_at = excluded.seen_at, stopped_at = NULL, seeds = excluded.seeds, tick = excluded.tick,
                   config_error = '', config_error_at = NULL""",
            [owner, now, now, seeds, tick],
        )


def scheduler_seen(db: sqlite_utils.Database, owner: str) -> None:
    with immediate(db):
        db.execute("UPDATE scheduler_status SET seen_at = ? WHERE owner = ?", [now_utc(), owner])


def scheduler_stopped(db: sqlite_utils.Database, owner: str) -> None:
    with immediate(db):
        db.execute("UPDATE scheduler_status SET stopped_at = ? WHERE owner = ?", [now_utc(), owner])


def config_error(db: sqlite_utils.Database, owner: str, message: str) -> None:
    """Record why seeds.yml's last change was refused ('' once a good file is read again)."""
    with immediate(db):
        db.execute(
            "UPDATE scheduler_status SET config_error = ?, config_error_at = ? WHERE owner = ?",
            [message, now_utc() if message else None, owner],
        )


def scheduler_info(db: sqlite_utils.Database) -> SchedulerInfo | None:
    row = db.execute(
        "SELECT owner, started_at, seen_at, stopped_at, seeds, config_error, config_error_at, tick "
        "FROM scheduler_status"
    ).fetchone()
    return SchedulerInfo(*row) if row else None


def overview(db: sqlite_utils.Database, runs: int = 5) -> list[dict[str, Any]]:
    """The 监测计划 page: every job with its state, its waiting request, when it last started (by the scheduler
    or by hand) and its last runs with their figures."""
    waiting = {job: who for _id, job, who in pending_requests(db)}
    return [
        {
            "state": row,
            "requested_by": waiting.get(job),
            "last_started": last_start(db, job, row.kind),
            "runs": last_runs(db, job, row.kind, runs),
        }
        for job, row in job_rows(db).items()
    ]
