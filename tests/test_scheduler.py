"""adclear scheduler: schedules from seeds.yml, jobs started on time as subprocesses, never two at once, missed
runs made one, a bound, a graceful stop, reloads of seeds.yml (a broken one keeps the old schedule).

The clock is injected (``step()`` is one pass of the loop at the clock's time); the jobs are a tiny script that
notes its start and end, except in one test that runs a real ``adclear crawl`` of the demo site.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adclear.scheduler import Job, RunOutcome, Scheduler, adclear_command, plan_from_seeds
from core import scheduling
from core.db import connect, immediate
from core.errors import AdclearError, SeedsInvalid
from core.schedules import parse
from core.seeds import load_seeds
from tests.conftest import ADCLEAR, REPO, seeds_for
from tests.webdata import ensure_site

T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 in China

FAKE_CRAWL = textwrap.dedent(
    """\
    import signal, sys, time
    log, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    def note(what):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{name} {what} {time.monotonic():.4f}\\n")
    def on_term(signum, frame):
        note("term")
        sys.exit(3)
    if len(sys.argv) < 5:
        signal.signal(signal.SIGTERM, on_term)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a crawl that will not stop
    note("start")
    time.sleep(seconds)
    note("end")
    """
)


class Clock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def fake(tmp_path: Path):
    script = tmp_path / "fake_crawl.py"
    script.write_text(FAKE_CRAWL, encoding="utf-8")
    log = tmp_path / "runs.log"

    def job(name: str, schedule: str = "every 1h", seconds: float = 0.0, *, stubborn: bool = False, **kw) -> Job:
        command = (sys.executable, str(script), str(log), name, str(seconds), *(["stubborn"] if stubborn else []))
        return Job(name, kw.pop("kind", "crawl"), parse(schedule), command, **kw)

    job.log = log  # type: ignore[attr-defined]
    return job


def events(log: Path) -> list[tuple[str, str, float]]:
    if not log.exists():
        return []
    return [(n, what, float(t)) for n, what, t in (line.split() for line in log.read_text().splitlines())]


def make(db_path: Path, plan, clock=None, **kw) -> tuple[Scheduler, list[RunOutcome]]:
    outcomes: list[RunOutcome] = []
    sched = Scheduler(
        db_path=db_path,
        load_plan=plan if callable(plan) else (lambda: plan),
        clock=clock or Clock(),
        after_run=outcomes.append,
        **kw,
    )
    sched.start()
    return sched, outcomes


def settle(sched: Scheduler, timeout: float = 20) -> None:
    """Wait (in real time) until every started job has ended and been reaped."""
    deadline = time.monotonic() + timeout
    while sched.running:
        assert time.monotonic() < deadline, f"still running: {list(sched.running)}"
        sched.reap()
        time.sleep(0.01)


# ---- schedules in seeds.yml ---------------------------------------------------------------------------------


def _seeds(tmp_path: Path, extra_top: str = "", site_schedule: str = "") -> Path:
    text = (REPO / "seeds.yml").read_text(encoding="utf-8")
    if extra_top:
        text = text.replace("\nsites:\n", f"\n{extra_top}\nsites:\n", 1)
    if site_schedule:
        text = text.replace("    kind: classifieds\n", f"    kind: classifieds\n    schedule: {site_schedule}\n", 1)
    path = tmp_path / "seeds.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_site_s_schedule_the_default_and_the_recheck(tmp_path):
    seeds = load_seeds(_seeds(tmp_path, 'schedule: "every 4h"\nrecheck:\n  schedule: "0 9 * * 1-5"', '"*/30 * * * *"'))
    plan = {j.name: j for j in plan_from_seeds(seeds, ("adclear",))}
    assert plan["demo-classifieds"].schedule.cron == "*/30 * * * *"
    assert plan["demo-social"].schedule.every == timedelta(hours=4)  # the default
    assert plan["recheck"].kind == "recheck" and plan["recheck"].command == ("adclear", "recheck")
    assert plan["demo-classifieds"].command == ("adclear", "crawl", "demo-classifieds")
    # cron is read in China time: 09:00 on a weekday is 01:00 UTC
    assert plan["recheck"].schedule.next_after(T0) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ('"0 */6 * *"', "'0 */6 * *' has 4 fields, not a schedule: write five cron fields"),
        ('"61 * * * *"', "'61 * * * *' is not a valid cron expression"),
        ('"every 6x"', "'every 6x' is not an interval: write a number and a unit d, h or m"),
        ('"every 30s"', "not an interval"),
        ('"0m"', "shorter than 1m"),
        ("", "a schedule may not be empty"),
    ],
)
def test_a_bad_schedule_names_the_line_and_the_fix(tmp_path, schedule, says):
    path = _seeds(tmp_path, site_schedule=schedule or '""')
    line = path.read_text(encoding="utf-8").splitlines().index(f"    schedule: {schedule or chr(34) * 2}") + 1
    with pytest.raises(SeedsInvalid) as e:
        load_seeds(path)
    assert f"seeds.yml line {line}: sites[0] (demo-classifieds).schedule: " in str(e.value)
    assert says in str(e.value)


def test_a_site_may_not_take_the_recheck_job_s_name(tmp_path):
    path = _seeds(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("name: demo-hostile", "name: recheck"), encoding="utf-8")
    with pytest.raises(SeedsInvalid, match="may not be named 'recheck'"):
        load_seeds(path)


def test_missed_slots_are_counted_and_cron_follows_china_time():
    hourly = parse("0 * * * *")
    assert hourly.missed(T0, T0 + timedelta(hours=3)) == 4  # 00, 01, 02, 03
    daily = parse("@daily")  # midnight in China: 16:00 UTC
    assert daily.next_after(T0) == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    every = parse("every 1d 12h")
    assert every.due_after(None, T0) == T0  # never run: at once
    assert every.due_after(T0, T0) == T0 + timedelta(hours=36)


# ---- the scheduler, with an injected clock ------------------------------------------------------------------


def test_runs_start_on_time(db_path, fake):
    clock = Clock()
    sched, outcomes = make(db_path, [fake("a", "every 10m"), fake("b", "*/15 * * * *")], clock)
    assert sched.step() == ["a"]  # never run: an interval starts at once, cron waits for its slot
    settle(sched)
    clock.advance(minutes=9, seconds=59)
    assert sched.step() == []
    clock.advance(seconds=1)
    assert sched.step() == ["a"]  # 10 minutes after its last start
    settle(sched)
    clock.advance(minutes=4, seconds=59)  # 00:14:59
    assert sched.step() == []
    clock.advance(seconds=1)
    assert sched.step() == ["b"]  # 00:15, on the slot
    settle(sched)
    assert [(o.job, o.trigger, o.exit_code) for o in outcomes] == [
        ("a", "schedule", 0),
        ("a", "schedule", 0),
        ("b", "schedule", 0),
    ]
    state = scheduling.job_rows(sched.db)
    assert state["b"].next_due == (T0 + timedelta(minutes=30)).isoformat(timespec="microseconds")
    assert state["a"].last_exit == 0 and state["a"].running_pid is None
    sched.shutdown()


def test_never_two_runs_of_a_job_at_once_and_the_bound(db_path, fake):
    clock = Clock()
    jobs = [fake("slow", "every 1m", 1.0), fake("b", "every 1m", 1.0), fake("c", "every 1m", 1.0)]
    sched, outcomes = make(db_path, jobs, clock, max_parallel=2)
    assert sched.step() == ["slow", "b"]  # the bound: c waits
    for _ in range(5):  # five more minutes pass while they run: nothing starts twice, c still waits
        clock.advance(minutes=1)
        assert sched.step() == []
    settle(sched)
    assert sched.step() == ["c", "slow"]  # the most overdue first; each started once
    settle(sched)
    starts = [e for e in events(fake.log) if e[1] == "start"]
    assert sorted(n for n, _, _ in starts) == ["b", "c", "slow", "slow"]
    by_job: dict[str, list[tuple[str, float]]] = {}
    for name, what, at in events(fake.log):
        by_job.setdefault(name, []).append((what, at))
    for name, seq in by_job.items():  # start, end, start, end: never two starts in a row
        assert [w for w, _ in seq] == ["start", "end"] * (len(seq) // 2), name
    late = [o for o in outcomes if o.job == "slow"][-1]
    assert late.trigger == "missed" and late.missed == 4  # due at 00:01 … 00:05, one run
    sched.shutdown()


def test_a_run_missed_while_the_scheduler_was_down_is_run_once(db_path, fake):
    clock = Clock()
    sched, _ = make(db_path, [fake("a", "every 1h"), fake("b", "0 * * * *")], clock)
    assert sched.step() == ["a"]
    settle(sched)
    sched.shutdown()
    clock.advance(hours=5, minutes=30)  # down for five and a half hours
    again, outcomes = make(db_path, [fake("a", "every 1h"), fake("b", "0 * * * *")], clock)
    assert sorted(again.step()) == ["a", "b"]
    settle(again)
    assert again.step() == []  # once, not once per missed hour
    got = {o.job: o for o in outcomes}
    assert got["a"].trigger == "missed" and got["a"].missed == 4  # 01:00 … 05:00
    assert got["b"].trigger == "missed" and got["b"].missed == 4  # its slots 01:00 … 05:00
    state = scheduling.job_rows(again.db)
    assert state["a"].next_due == (clock.now + timedelta(hours=1)).isoformat(timespec="microseconds")
    assert state["b"].next_due == (T0 + timedelta(hours=6)).isoformat(timespec="microseconds")
    assert state["a"].missed == 4
    again.shutdown()


def test_a_due_recheck_runs_alone(db_path, fake):
    clock = Clock()
    jobs = [fake("a", "every 1m", 0.5), fake("recheck", "every 1m", kind="recheck"), fake("b", "every 1m")]
    sched, _ = make(db_path, jobs, clock, max_parallel=3)
    assert sched.step() == ["recheck"]  # alone: no crawl starts beside it
    settle(sched)
    assert sorted(sched.step()) == ["a", "b"]
    clock.advance(minutes=1)
    assert sched.step() == []  # the re-check is due again but a crawl runs: it waits, and no crawl starts
    settle(sched)
    assert sched.step() == ["recheck"]
    settle(sched)
    sched.shutdown()


def test_a_site_crawled_by_another_process_is_waited_for(db_path, fake):
    sched, _ = make(db_path, [fake("demo", "every 1h")])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with immediate(sched.db):
            ensure_site(sched.db, "demo")
            sched.db.execute(
                "INSERT INTO crawl_runs (site, spider, started_at, owner) VALUES ('demo', 'classifieds', ?, ?)",
                [T0.isoformat(), f"{socket.gethostname()}:{other.pid}"],
            )
        assert sched.step() == []  # `adclear crawl demo` by hand is still at it
    finally:
        other.kill()
        other.wait()
    assert sched.step() == ["demo"]  # its process is gone: its run is marked interrupted, ours starts
    status = sched.db.execute("SELECT status FROM crawl_runs WHERE site = 'demo'").fetchone()[0]
    assert status == "interrupted"
    settle(sched)
    sched.shutdown()


def test_one_scheduler_per_database(db_path, fake):
    first, _ = make(db_path, [fake("a")])
    with pytest.raises(AdclearError, match="another scheduler runs on .*one scheduler per database"):
        make(db_path, [fake("a")])
    first.shutdown()
    second, _ = make(db_path, [fake("a")])  # the lock went with the first
    second.shutdown()


def test_run_now_from_a_request(db_path, fake):
    clock = Clock()
    sched, outcomes = make(db_path, [fake("a", "0 0 * * *"), fake("b", "0 0 * * *")], clock)
    db = connect(db_path)
    with pytest.raises(AdclearError, match="no scheduled job named 'zzz'"):
        scheduling.request_run(db, "zzz", "boss")
    first = scheduling.request_run(db, "a", "boss")
    assert scheduling.request_run(db, "a", "boss2") == (first[0], False)  # asked twice: one run
    assert sched.step() == ["a"]
    scheduling.request_run(db, "a", "boss")  # while it runs: refused, said so
    sched.step()
    settle(sched)
    taken = db.execute("SELECT job, requested_by, outcome FROM schedule_requests ORDER BY id").fetchall()
    assert taken[0][:2] == ("a", "boss") and taken[0][2].startswith("started (process ")
    assert taken[1] == ("a", "boss", "refused: it was running already")
    assert [(o.job, o.trigger, o.requested_by) for o in outcomes] == [("a", "requested", "boss")]
    assert scheduling.job_rows(db)["a"].next_due == "2026-12-03T16:00:00.000000+00:00"  # its schedule unmoved
    db.close()
    sched.shutdown()


def test_a_command_that_cannot_start_is_reported_and_tried_at_its_next_time(db_path, fake):
    clock = Clock()
    missing = Job("gone", "crawl", parse("every 1h"), (str(db_path.parent / "no-such-adclear"), "crawl", "gone"))
    sched, outcomes = make(db_path, [missing, fake("a", "every 1h")], clock)
    assert sched.step() == ["a"]  # the other job is not held up
    assert [(o.job, o.exit_code) for o in outcomes] == [("gone", None)]
    assert sched.step() == []  # not every pass: at its next time
    settle(sched)
    assert scheduling.job_rows(sched.db)["gone"].next_due == (T0 + timedelta(hours=1)).isoformat(
        timespec="microseconds"
    )
    sched.shutdown()


# ---- reloading seeds.yml ------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))  # a change even within the file system's time grain


def test_reload_on_change_and_a_broken_file_keeps_the_old_schedule(tmp_path, db_path):
    path = _seeds(tmp_path, site_schedule='"every 2h"')
    base = ("true",)
    errors: list[str] = []
    clock = Clock()
    sched = Scheduler(
        db_path=db_path,
        load_plan=lambda: plan_from_seeds(load_seeds(path), base),
        watch=path,
        clock=clock,
        on_config_error=errors.append,
    )
    sched.start()
    assert sched.jobs["demo-classifieds"].schedule.text == "every 2h"
    good = path.read_text(encoding="utf-8")
    _write(path, good.replace('schedule: "every 2h"', 'schedule: "*/20 * * * *"'))
    sched.step()
    assert sched.jobs["demo-classifieds"].schedule.text == "*/20 * * * *"
    assert scheduling.job_rows(sched.db)["demo-classifieds"].schedule == "*/20 * * * *"
    settle(sched)
    broken = good.replace('schedule: "every 2h"', 'schedule: "*/20 * * *"')
    _write(path, broken)
    sched.step()
    sched.step()  # told once per change, not on every pass
    line = broken.splitlines().index('    schedule: "*/20 * * *"') + 1
    assert len(errors) == 1 and f"line {line}: sites[0] (demo-classifieds).schedule" in errors[0]
    assert sched.jobs["demo-classifieds"].schedule.text == "*/20 * * * *"  # the old schedule goes on
    info = scheduling.scheduler_info(sched.db)
    assert info is not None and f"line {line}" in info.config_error
    clock.advance(minutes=20)
    assert "demo-classifieds" in sched.step()  # still run on the schedule it had
    settle(sched)
    _write(path, good.replace("name: demo-hostile", "name: demo-hostile2"))  # fixed, and a site renamed
    sched.step()
    settle(sched)
    assert scheduling.scheduler_info(sched.db).config_error == ""
    assert set(scheduling.job_rows(sched.db)) == {"demo-classifieds", "demo-social", "demo-hostile2", "recheck"}
    sched.shutdown()


def test_a_broken_file_at_start_refuses_to_start(tmp_path, db_path):
    path = _seeds(tmp_path, site_schedule='"every 2m 30s"')
    sched = Scheduler(db_path=db_path, load_plan=lambda: plan_from_seeds(load_seeds(path), ("true",)), watch=path)
    with pytest.raises(SeedsInvalid, match="schedule: 'every 2m 30s' is not an interval"):
        sched.start()
    after = Scheduler(db_path=db_path, load_plan=list, watch=path)
    after.start()  # the lock was released
    after.shutdown()


# ---- stopping -----------------------------------------------------------------------------------------------


def _loop(sched: Scheduler) -> threading.Thread:
    thread = threading.Thread(target=sched.run)
    thread.start()
    return thread


def _wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_stop_during_a_run_terminates_the_job_and_waits_for_it(db_path, fake):
    sched = Scheduler(db_path=db_path, load_plan=lambda: [fake("long", "every 1h", 60)], tick=0.05)
    outcomes: list[RunOutcome] = []
    sched.after_run = outcomes.append
    thread = _loop(sched)
    _wait_for(lambda: any(e[1] == "start" for e in events(fake.log)))
    began = time.monotonic()
    sched.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - began < 5
    assert [e[1] for e in events(fake.log)] == ["start", "term"]  # one SIGTERM, handled: a crawl checkpoints
    assert len(outcomes) == 1 and outcomes[0].stopped and outcomes[0].exit_code == 3
    db = connect(db_path)
    info = scheduling.scheduler_info(db)
    assert info is not None and info.stopped_at is not None
    state = scheduling.job_rows(db)["long"]
    assert state.running_pid is None and state.next_due == state.last_started  # due again at once
    db.close()
    again, outcomes = make(db_path, [fake("long", "every 1h")], Clock(datetime.now(UTC)))
    assert again.step() == ["long"]  # the next start runs it first (a crawl resumes from its JOBDIR)
    settle(again)
    assert len(outcomes) == 1
    again.shutdown()


def _stubborn_running(db_path: Path, fake, grace: float) -> tuple[Scheduler, threading.Thread, list[RunOutcome]]:
    """A scheduler looping in a thread whose one job ignores SIGTERM, once that job has started."""
    outcomes: list[RunOutcome] = []
    job = fake("stubborn", "every 1h", 60, stubborn=True)
    sched = Scheduler(db_path=db_path, load_plan=lambda: [job], tick=0.05, grace=grace, after_run=outcomes.append)
    thread = _loop(sched)
    _wait_for(lambda: any(e[1] == "start" for e in events(fake.log)))
    return sched, thread, outcomes


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(db_path, fake):
    sched, thread, outcomes = _stubborn_running(db_path, fake, grace=0.5)
    sched.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert outcomes[0].exit_code == -signal.SIGKILL and outcomes[0].stopped


def test_a_second_stop_kills_at_once(db_path, fake):
    sched, thread, outcomes = _stubborn_running(db_path, fake, grace=60)
    sched.stop()
    time.sleep(0.3)
    assert thread.is_alive()  # waiting out the grace for a job that ignores SIGTERM
    sched.stop()  # asked again (a second Ctrl-C)
    thread.join(10)
    assert not thread.is_alive() and outcomes[0].exit_code == -signal.SIGKILL


def test_a_hook_that_fails_does_not_stop_the_scheduler(db_path, fake, caplog):
    def broken(_outcome: RunOutcome) -> None:
        raise RuntimeError("the alert could not be sent")

    sched = Scheduler(db_path=db_path, load_plan=lambda: [fake("a", "every 1m")], clock=Clock(), after_run=broken)
    sched.start()
    sched.step()
    settle(sched)
    assert "a scheduler hook failed" in caplog.text and "the alert could not be sent" in caplog.text
    sched.clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert sched.step() == ["a"]
    settle(sched)
    sched.shutdown()


# ---- a real crawl -------------------------------------------------------------------------------------------


def _demo_seeds(demo_site: str, tmp_path: Path, delay: str = "0") -> Path:
    """The demo's seeds.yml with demo-classifieds due at once ('every 1h', never crawled); the other sites keep
    the default cron, hours away."""
    path = seeds_for(demo_site, tmp_path / "seeds.yml")
    text = path.read_text(encoding="utf-8").replace(
        "    kind: classifieds\n", '    kind: classifieds\n    schedule: "every 1h"\n', 1
    )
    path.write_text(text.replace("    delay: 0\n", f"    delay: {delay}\n", 1), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_scheduled_real_crawl_of_the_demo_site(demo_site, tmp_path, db_path):
    path = _demo_seeds(demo_site, tmp_path)
    base = adclear_command(db_path, path, tmp_path / "receivers.yml")
    outcomes: list[RunOutcome] = []
    sched = Scheduler(
        db_path=db_path,
        load_plan=lambda: plan_from_seeds(load_seeds(path), base),
        watch=path,
        tick=0.2,
        after_run=outcomes.append,
        output=subprocess.DEVNULL,  # type: ignore[arg-type]
    )
    thread = _loop(sched)
    try:
        _wait_for(lambda: bool(outcomes), timeout=240)
    finally:
        sched.stop()
        thread.join(30)
    (outcome,) = outcomes
    assert outcome.job == "demo-classifieds" and outcome.exit_code == 0 and len(outcome.run_ids) == 1
    db = connect(db_path)
    status, pages, ads_new = db.execute(
        "SELECT status, pages, ads_new FROM crawl_runs WHERE id = ?", [outcome.run_ids[0]]
    ).fetchone()
    assert status == "ok" and pages > 10 and ads_new > 5
    overview = {j["state"].job: j for j in scheduling.overview(db)}
    assert overview["demo-classifieds"]["runs"][0]["id"] == outcome.run_ids[0]
    assert overview["demo-social"]["runs"] == [] and overview["demo-social"]["state"].last_started is None
    db.close()


@pytest.mark.slow
def test_a_real_crawl_stopped_by_the_scheduler_checkpoints_and_resumes(demo_site, tmp_path, db_path):
    path = _demo_seeds(demo_site, tmp_path, delay="0.3")  # a crawl of ~30 s
    base = adclear_command(db_path, path, tmp_path / "receivers.yml")
    outcomes: list[RunOutcome] = []

    def scheduler() -> Scheduler:
        return Scheduler(
            db_path=db_path,
            load_plan=lambda: plan_from_seeds(load_seeds(path), base),
            tick=0.2,
            after_run=outcomes.append,
            output=subprocess.DEVNULL,  # type: ignore[arg-type]
        )

    def fetched() -> int:
        db = connect(db_path)
        try:
            return db.execute(
                "SELECT count(*) FROM pages p JOIN crawl_runs r ON r.id = p.run_id WHERE r.status = 'running'"
            ).fetchone()[0]
        finally:
            db.close()

    first = scheduler()
    first.start()  # the database made here, before anyone polls it
    thread = _loop(first)
    try:
        _wait_for(lambda: fetched() >= 10, timeout=120)
    finally:
        first.stop()
        thread.join(60)
    (stopped,) = outcomes
    assert stopped.stopped and stopped.exit_code == 1 and len(stopped.run_ids) == 1
    db = connect(db_path)
    status, reason, pages = db.execute(
        "SELECT status, reason, pages FROM crawl_runs WHERE id = ?", [stopped.run_ids[0]]
    ).fetchone()
    db.close()
    assert (status, reason) == ("interrupted", "shutdown") and pages >= 10
    assert (db_path.parent / "jobs" / "demo-classifieds").is_dir()  # the checkpoint
    _demo_seeds(demo_site, tmp_path, delay="0.03")  # the rest at a test's pace: the resume is the point, not the wait
    second = scheduler()
    thread = _loop(second)
    try:
        _wait_for(lambda: len(outcomes) == 2, timeout=240)  # due again at once: resumed first
    finally:
        second.stop()
        thread.join(60)
    resumed = outcomes[1]
    assert resumed.exit_code == 0 and resumed.trigger in ("schedule", "missed")
    db = connect(db_path)
    status, again = db.execute("SELECT status, pages FROM crawl_runs WHERE id = ?", [resumed.run_ids[0]]).fetchone()
    db.close()
    assert status == "ok" and again + pages >= 100  # the rest of the site, not all of it again
    assert not (db_path.parent / "jobs" / "demo-classifieds").exists()  # done: the next run starts afresh


# ---- the commands -------------------------------------------------------------------------------------------


def test_scheduler_show_and_its_refusals(tmp_path, db_path, adclear):
    path = _seeds(tmp_path, site_schedule='"every 2h"')
    shown = adclear("scheduler", "--show", db=db_path, seeds=path, check=True).stdout
    assert "demo-classifieds         every 2h" in shown and "recheck                  cron 30 8 * * *" in shown
    bad = _seeds(tmp_path, site_schedule='"0 */6 * *"')
    refused = adclear("scheduler", "--show", db=db_path, seeds=bad)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "sites[0] (demo-classifieds).schedule: '0 */6 * *' has 4 fields" in refused.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_the_scheduler_and_sigterm_stops_both(tmp_path, db_path):
    """Nothing is due (the sites' cron slots are hours away, the re-check is off): the app answers, the
    scheduler says it runs, and SIGTERM ends the process with the scheduler marked stopped."""
    import urllib.request

    path = _seeds(tmp_path, "recheck:\n  enabled: false")
    port = _free_port()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    command = [*ADCLEAR, "--db", str(db_path), "--seeds", str(path), "serve", "--port", str(port), "--with-scheduler"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, process.communicate()
                time.sleep(0.2)
        db = connect(db_path)
        info = scheduling.scheduler_info(db)
        assert info is not None and info.owner.endswith(f":{process.pid}") and info.stopped_at is None
        assert set(scheduling.job_rows(db)) == {"demo-classifieds", "demo-social", "demo-hostile", "recheck"}
        db.close()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert "Traceback" not in err
    db = connect(db_path)
    assert scheduling.scheduler_info(db).stopped_at is not None
    db.close()
