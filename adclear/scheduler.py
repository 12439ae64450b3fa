"""`adclear scheduler`: crawls and re-checks started on their schedules from seeds.yml, as subprocesses.

Each job is the command an operator would type: ``adclear crawl SITE`` for a site, ``adclear recheck`` for the
open takedowns (``plan_from_seeds``). Schedules are parsed by ``core.schedules`` (cron through croniter, or an
interval), in China time; the state that outlives the process is in the database (``core.scheduling``).

How it behaves:

- **On time**: a pass of the loop (every ``tick`` seconds, 5 by default) starts each job whose time has come.
- **Never two runs of a job at once**: a job runs again only after its process ended. A site crawled by another
  process (``adclear crawl`` by hand, a crawl left by a scheduler that died) is seen in ``crawl_runs`` (status
  running, owner ``host:pid`` alive) and waited for; ``crawler.store.CrawlStore.begin_run`` refuses such a
  second run anyway. One scheduler per database: it holds ``<database>.scheduler.lock``.
- **Missed runs coalesced**: a job found past due (the scheduler was down, or every slot was busy) runs once,
  then is due at the schedule's next time after now; ``RunOutcome.missed`` counts the slots made one.
- **Bounded**: at most ``max_parallel`` jobs at once; the others wait their turn (and are coalesced). The
  re-check visits every site, so it runs alone: while it is due no new crawl starts.
- **Graceful stop** (SIGTERM, SIGINT: ``stop()``): nothing new starts; every running crawl gets one SIGTERM,
  which Scrapy takes as a clean shutdown: the run is recorded ``interrupted`` (reason ``shutdown``) and its
  JOBDIR kept, so that the next run resumes where it stopped (crawler/extensions.py). A crawl still running
  after ``grace`` seconds (or at a second signal) is killed with its process group (Chromium too). A job cut
  short is due again at once: the next start of the scheduler runs it first.
- **Reload**: seeds.yml is read again when it changes (size or time). A file that does not validate keeps the
  old schedule; ``on_config_error`` is called once per change with the one-line message.
- **Run now**: a request in ``schedule_requests`` (the web app's 监测计划 page) starts the job on the next pass.

The hooks (plain callables given to ``Scheduler``), for health checks and alerts:

- ``after_run(outcome: RunOutcome) -> None`` is called in the scheduler's thread after each job's process ended
  (also one stopped on shutdown: ``outcome.stopped``), after its state is saved, and for a command that could
  not start at all (``outcome.exit_code`` None). ``outcome.run_ids`` are the ``crawl_runs`` rows the process
  wrote (one for a crawl, one per site for a re-check; empty when it failed before recording a run:
  ``outcome.exit_code`` says it failed, 1 for ``adclear crawl`` when a site failed or was interrupted). Meant for
  ``for run_id in outcome.run_ids: health.check_run(db, run_id)`` and ``alerts.raise_alert(...)``.
- ``on_config_error(message: str) -> None`` is called when seeds.yml changed and does not validate (the old
  schedule is kept), once per change of the file; ``message`` names the file, the line and the fix.

- ``on_pass(now: datetime) -> None`` (optional) is called at the end of every pass: for work due by the clock
  rather than by a run (alert deliveries waiting for their retry, the day's overdue takedowns).

``adclear scheduler`` gives them ``adclear.monitor.SchedulerMonitor``'s. The first two default to logging
(``log_after_run``, ``log_config_error``); an exception in a hook is logged and the scheduler goes on. They run
in the scheduler's loop: a slow hook delays the next pass, so deliver alerts quickly or hand them to a thread.

Why so long: this docstring is the contract of the hooks and of the behaviour the tests check; the code is one
class whose parts (starting, reaping, reloading, stopping) share its state and read best together.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from core import scheduling
from core.db import connect, immediate
from core.errors import AdclearError
from core.schedules import Schedule, parse
from core.seeds import Seeds
from crawler.store import CrawlStore

__all__ = ["Job", "RunOutcome", "Scheduler", "log_after_run", "log_config_error", "plan_from_seeds"]

log = logging.getLogger("adclear.scheduler")


@dataclass(frozen=True)
class Job:
    name: str  # the site, or scheduling.RECHECK_JOB
    kind: str  # crawl or recheck
    schedule: Schedule
    command: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True)
class RunOutcome:
    """What ``after_run`` is told about one job's process."""

    job: str
    kind: str
    trigger: str  # schedule, missed (runs made one), requested (run now)
    started_at: str  # UTC ISO 8601
    finished_at: str
    exit_code: int | None  # the process's; negative: ended by that signal; None: it could not start
    run_ids: tuple[int, ...]  # crawl_runs rows the process wrote
    stopped: bool = False  # the scheduler stopped it on its way out
    missed: int = 0  # schedule slots this run stands for, beyond the first
    requested_by: str = ""
    pid: int = 0


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen[bytes]
    started: datetime
    trigger: str
    missed: int
    requested_by: str
    stopped: bool = False


def log_after_run(outcome: RunOutcome) -> None:
    """The default ``after_run``: one line in the log."""
    level = logging.INFO if outcome.exit_code == 0 else logging.WARNING
    log.log(
        level,
        "%s (%s) ended with exit code %s; runs %s%s",
        outcome.job,
        outcome.trigger,
        outcome.exit_code,
        ", ".join(map(str, outcome.run_ids)) or "none recorded",
        " (stopped by the scheduler)" if outcome.stopped else "",
    )


def log_config_error(message: str) -> None:
    """The default ``on_config_error``: one line in the log."""
    log.error("seeds.yml not reloaded, the old schedule is kept: %s", message)


def plan_from_seeds(seeds: Seeds, base: Sequence[str]) -> list[Job]:
    """One job per site (its own schedule, else seeds.yml's default) and the re-check; ``base`` is the
    command that starts adclear with its options (``python -m adclear --db … --seeds …``)."""
    jobs = [
        Job(site.name, "crawl", parse(seeds.schedule_of(site)), (*base, "crawl", site.name), site.enabled)
        for site in seeds.sites
    ]
    recheck = seeds.recheck
    jobs.append(Job(scheduling.RECHECK_JOB, "recheck", parse(recheck.schedule), (*base, "recheck"), recheck.enabled))
    return jobs


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class Scheduler:
    """Starts due jobs as subprocesses; ``run()`` loops until ``stop()``; ``step()`` is one pass (tests call it
    with an injected ``clock``)."""

    db_path: Path
    load_plan: Callable[[], list[Job]]  # raises AdclearError (SeedsInvalid) when seeds.yml does not validate
    watch: Path | None = None  # seeds.yml: read again when it changes
    max_parallel: int = 2
    tick: float = 5.0
    grace: float = 120.0
    clock: Callable[[], datetime] = _utc_now
    after_run: Callable[[RunOutcome], None] = log_after_run
    on_config_error: Callable[[str], None] = log_config_error
    on_pass: Callable[[datetime], None] | None = None  # at the end of every pass (due alert deliveries)
    output: IO[Any] | None = None  # where the jobs' stdout and stderr go (None: the scheduler's own)
    jobs: dict[str, Job] = field(default_factory=dict)
    due: dict[str, datetime | None] = field(default_factory=dict)
    running: dict[str, _Running] = field(default_factory=dict)
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._hurry = threading.Event()
        self._db: sqlite_utils.Database | None = None
        self._store: CrawlStore | None = None  # for crawl_runs' view of who crawls a site
        self._lock: IO[str] | None = None
        self._signature: tuple[int, int] | None = None
        self._waiting_logged: set[str] = set()

    # ---- life --------------------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            raise AdclearError("the scheduler is not started: call start() first")
        return self._db

    def start(self) -> None:
        """Take the database's scheduler lock, read seeds.yml (a broken file stops here), note the jobs."""
        self._lock = _take_lock(self.db_path)
        try:
            self._db = connect(self.db_path)
            self._store = CrawlStore(self.db_path)
            plan = self.load_plan()
        except BaseException:
            self._close()
            raise
        self._signature = self._file_signature()
        scheduling.scheduler_started(self.db, self.owner, str(self.watch or ""), self.tick)
        with immediate(self.db):
            self.db.execute("UPDATE schedule_state SET running_pid = NULL")  # a previous scheduler's, gone
        self._apply(plan)

    def run(self) -> None:
        """Start, then a pass every ``tick`` seconds until ``stop()``; then stop the running jobs."""
        if self._db is None:
            self.start()
        try:
            while not self._stopping.is_set():
                try:
                    self.step()
                except (sqlite3.Error, AdclearError, OSError) as e:  # a locked or full database: next pass
                    log.error("a pass of the scheduler failed (%s); trying again in %.0f s", e, self.tick)
                self._stopping.wait(self.tick)
        finally:
            self.shutdown()

    def stop(self) -> None:
        """Ask the loop to stop (from a signal handler or another thread): nothing new starts. Asked again
        while it stops, it kills the jobs at once instead of waiting out the grace."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()

    def shutdown(self) -> None:
        """SIGTERM to every running job, a wait of up to ``grace`` seconds, then SIGKILL to what is left;
        each is reported to ``after_run`` as stopped. Releases the lock."""
        self._stopping.set()
        for running in self.running.values():
            running.stopped = True
            _signal(running.process, signal.SIGTERM, group=False)
        deadline = time.monotonic() + self.grace
        while self.running and time.monotonic() < deadline and not self._hurry.is_set():
            self.reap()
            if self.running:
                threading.Event().wait(0.05)
        for running in self.running.values():
            log.warning("%s did not stop (grace %.0f s, or asked twice): killed", running.job.name, self.grace)
            _signal(running.process, signal.SIGKILL, group=True)
            running.process.wait()
        self.reap()
        if self._db is not None:
            scheduling.scheduler_stopped(self.db, self.owner)
        self._close()

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ---- one pass ----------------------------------------------------------------------------------------
    def step(self) -> list[str]:
        """Reap ended jobs, take a changed seeds.yml, take run-now requests, start what is due; the jobs
        started."""
        now = self.clock()
        self.reap()
        if self._stopping.is_set():
            return []
        self._maybe_reload()
        scheduling.scheduler_seen(self.db, self.owner)
        requested = self._requests()
        started = []
        for name in self._ready(now, requested):
            if len(self.running) >= self.max_parallel:
                break
            if self._start(self.jobs[name], now, requested.get(name)):
                started.append(name)
        if self.on_pass is not None:
            _call(self.on_pass, now)
        return started

    def _ready(self, now: datetime, requested: dict[str, tuple[int, str]]) -> list[str]:
        """Jobs due or requested and not running, the most overdue first; a due re-check goes alone."""
        ready = [
            name
            for name, job in self.jobs.items()
            if name not in self.running and (name in requested or _is_due(self.due.get(name), now))
        ]
        ready.sort(key=lambda n: (n not in requested, self.due.get(n) or now))
        rechecks = [n for n in ready if self.jobs[n].kind == "recheck"]
        if any(r.job.kind == "recheck" for r in self.running.values()):
            return []
        if rechecks:  # it visits every site: it waits for the crawls to end, and none starts meanwhile
            return rechecks if not self.running else []
        return ready

    def _start(self, job: Job, now: datetime, request: tuple[int, str] | None) -> bool:
        if job.kind == "crawl":
            owner = self._crawled_elsewhere(job.name)
            if owner:
                if job.name not in self._waiting_logged:
                    log.info("%s is being crawled by process %s: waiting for it to end", job.name, owner)
                    self._waiting_logged.add(job.name)
                return False
        self._waiting_logged.discard(job.name)
        due = self.due.get(job.name)
        missed = job.schedule.missed(due, now) - 1 if due is not None and due <= now else 0
        trigger = "requested" if request else ("missed" if missed > 0 else "schedule")
        requested_by = request[1] if request else ""
        try:
            process = subprocess.Popen(
                job.command,
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=self.output,
                start_new_session=True,  # Ctrl-C on a terminal reaches the scheduler only; it passes one SIGTERM on
            )
        except OSError as e:  # the command cannot start: said, and tried again at the next time, not every pass
            self._not_started(job, now, request, f"{job.command[0]}: {e.strerror or e}")
            return False
        self.running[job.name] = _Running(job, process, now, trigger, max(missed, 0), requested_by)
        if due is not None and due <= now:
            self.due[job.name] = job.schedule.next_after(now)
        if request:
            scheduling.take_request(self.db, request[0], f"started (process {process.pid})")
        scheduling.save_job(
            self.db,
            job.name,
            last_started=_iso(now),
            running_pid=process.pid,
            next_due=_iso(self.due[job.name]) if self.due.get(job.name) else None,
            missed=max(missed, 0),
        )
        log.info("%s started (%s), process %d%s", job.name, trigger, process.pid, _missed_note(missed))
        return True

    def _not_started(self, job: Job, now: datetime, request: tuple[int, str] | None, why: str) -> None:
        log.error("%s could not start: %s", job.name, why)
        self.due[job.name] = job.schedule.next_after(now) if job.enabled else None
        if request:
            scheduling.take_request(self.db, request[0], f"refused: could not start ({why})")
        due = self.due[job.name]
        scheduling.save_job(
            self.db, job.name, last_started=_iso(now), last_exit=None, next_due=_iso(due) if due else None
        )
        stamp = _iso(now)
        outcome = RunOutcome(job.name, job.kind, "requested" if request else "schedule", stamp, stamp, None, ())
        _call(self.after_run, outcome)

    def _crawled_elsewhere(self, site: str) -> str | None:
        """The owner (host:pid) of a live crawl of ``site`` by another process, or None."""
        store = self._store
        if store is None:
            return None
        store.close_dead_runs(site)  # a crawl killed outright: marked interrupted, no longer in the way
        row = store.db.execute(
            "SELECT owner FROM crawl_runs WHERE site = ? AND status = 'running' ORDER BY id DESC LIMIT 1", [site]
        ).fetchone()
        return str(row[0]) if row else None

    def reap(self) -> None:
        """Jobs whose process ended: their state saved, then ``after_run`` told."""
        for name, running in list(self.running.items()):
            code = running.process.poll()
            if code is None:
                continue
            del self.running[name]
            finished = self.clock()
            if name in self.jobs and self._db is not None:
                values: dict[str, Any] = {"last_finished": _iso(finished), "last_exit": code, "running_pid": None}
                if running.stopped and code != 0:  # cut short: due again at once, the next start resumes it
                    self.due[name] = running.started
                    values["next_due"] = _iso(running.started)
                scheduling.save_job(self.db, name, **values)
            outcome = RunOutcome(
                job=name,
                kind=running.job.kind,
                trigger=running.trigger,
                started_at=_iso(running.started),
                finished_at=_iso(finished),
                exit_code=code,
                run_ids=self._run_ids(running) if self._db is not None else (),
                stopped=running.stopped,
                missed=running.missed,
                requested_by=running.requested_by,
                pid=running.process.pid,
            )
            _call(self.after_run, outcome)

    def _run_ids(self, running: _Running) -> tuple[int, ...]:
        owner = f"{socket.gethostname()}:{running.process.pid}"
        rows = self.db.execute(
            "SELECT id FROM crawl_runs WHERE owner = ? AND started_at >= ? ORDER BY id",
            [owner, _iso(running.started - timedelta(seconds=1))],
        ).fetchall()
        return tuple(int(r[0]) for r in rows)

    def _requests(self) -> dict[str, tuple[int, str]]:
        """Run-now requests to start on this pass, by job; others are answered at once (running, unknown)."""
        out: dict[str, tuple[int, str]] = {}
        for request_id, job, who in scheduling.pending_requests(self.db):
            if job not in self.jobs:
                scheduling.take_request(self.db, request_id, "refused: no such job in seeds.yml")
            elif job in self.running:
                scheduling.take_request(self.db, request_id, "refused: it was running already")
            else:
                out.setdefault(job, (request_id, who))
        return out

    # ---- seeds.yml ---------------------------------------------------------------------------------------
    def _file_signature(self) -> tuple[int, int] | None:
        if self.watch is None:
            return None
        try:
            st = self.watch.stat()
        except OSError:
            return (-1, -1)
        return (st.st_mtime_ns, st.st_size)

    def _maybe_reload(self) -> None:
        signature = self._file_signature()
        if signature == self._signature:
            return
        self._signature = signature  # a broken file is reported once, not on every pass
        try:
            plan = self.load_plan()
        except AdclearError as e:
            scheduling.config_error(self.db, self.owner, str(e))
            _call(self.on_config_error, str(e))
            return
        log.info("%s changed: schedule reloaded", self.watch)
        scheduling.config_error(self.db, self.owner, "")
        self._apply(plan)

    def _apply(self, plan: list[Job]) -> None:
        """Take a plan: keep the next time of a job whose schedule is unchanged, count the others afresh from
        their last start (a job past due is run once, at once)."""
        now = self.clock()
        rows = scheduling.job_rows(self.db)
        self.jobs = {job.name: job for job in plan}
        self.due = {}
        for job in plan:
            row = rows.get(job.name)
            if not job.enabled:
                due = None
            elif row is not None and row.schedule == job.schedule.text and row.enabled and row.next_due:
                due = datetime.fromisoformat(row.next_due)
            else:
                last = scheduling.last_start(self.db, job.name, job.kind)
                due = job.schedule.due_after(datetime.fromisoformat(last) if last else None, now)
            self.due[job.name] = due
            scheduling.save_job(
                self.db,
                job.name,
                kind=job.kind,
                schedule=job.schedule.text,
                next_due=_iso(due) if due else None,
                enabled=int(job.enabled),
                running_pid=self.running[job.name].process.pid if job.name in self.running else None,
            )
        scheduling.remove_jobs(self.db, set(self.jobs))


def _is_due(due: datetime | None, now: datetime) -> bool:
    return due is not None and due <= now


def _missed_note(missed: int) -> str:
    return f": {missed} earlier run(s) missed, made one" if missed > 0 else ""


def _call(hook: Callable[[Any], None], value: Any) -> None:
    try:
        hook(value)
    except Exception:
        log.exception("a scheduler hook failed (%s); the scheduler goes on", getattr(hook, "__name__", hook))


def _signal(process: subprocess.Popen[bytes], sig: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(process.pid, sig)  # the job leads its own session: its group is it and its children
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _take_lock(db_path: Path) -> IO[str]:
    """``<database>.scheduler.lock``, held while the scheduler runs: a second scheduler is refused."""
    path = db_path.with_name(db_path.name + ".scheduler.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # held open while the scheduler lives
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AdclearError(
            f"another scheduler runs on {db_path} ({holder}): one scheduler per database; stop it first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{socket.gethostname()}:{os.getpid()}\n")
    handle.flush()
    return handle


def adclear_command(db_path: Path, seeds_path: Path, receivers_path: Path) -> tuple[str, ...]:
    """How the jobs start adclear: this Python, the same database, seeds.yml and receivers.yml."""
    return (
        sys.executable,
        "-m",
        "adclear",
        "--db",
        str(db_path),
        "--seeds",
        str(seeds_path),
        "--receivers",
        str(receivers_path),
    )
