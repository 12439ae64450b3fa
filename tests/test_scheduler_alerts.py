"""The scheduler's hooks as `adclear scheduler` wires them (adclear.monitor.SchedulerMonitor): what a scheduled
crawl could not say itself reaches the receivers. A crawl process that never recorded a run, one killed with its
run left open, a run recorded but never checked, a broken seeds.yml, a retry that comes due between runs: each
is an alert delivered to a local webhook receiver. The jobs are tiny scripts; the clock of the scheduler is real.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
from pathlib import Path

from adclear.cli.scheduler_cmds import build_scheduler
from adclear.config import Config
from adclear.monitor import SchedulerMonitor, after_crawl
from adclear.scheduler import Job, RunOutcome, Scheduler
from core.db import connect, immediate
from core.schedules import parse
from core.seeds import load_seeds
from crawler.extensions import RunResult
from tests.conftest import REPO
from tests.webdata import ensure_site
from tests.webhookinbox import webhook_server

# a "crawl" that records its run as the crawler does (owner host:pid, status running) and then does as told
RECORDING_CRAWL = textwrap.dedent(
    """\
    import os, socket, sqlite3, sys, datetime
    db, site, then = sys.argv[1], sys.argv[2], sys.argv[3]
    conn = sqlite3.connect(db)
    at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    cur = conn.execute("INSERT INTO crawl_runs (site, spider, started_at, owner) VALUES (?, 'classifieds', ?, ?)",
                       (site, at, f"{socket.gethostname()}:{os.getpid()}"))
    if then == "close":  # closed, cut short, never checked (the process died before its checks)
        conn.execute("UPDATE crawl_runs SET status = 'failed', reason = 'cancelled', finished_at = ?, pages = 0 "
                     "WHERE id = ?", (at, cur.lastrowid))
    conn.commit()
    conn.close()
    if then == "kill":
        os.kill(os.getpid(), 9)
    """
)


def alerts_yml(path: Path, url: str) -> None:
    path.write_text(f"channels:\n  - name: hook\n    type: webhook\n    url: {url}\n", encoding="utf-8")


def config(tmp_path: Path, db_path: Path, seeds: Path | None = None) -> Config:
    return Config(
        db_path=db_path,
        seeds_path=seeds or REPO / "seeds.yml",
        environ={},
        alerts_path=tmp_path / "alerts.yml",
    )


def run_jobs(cfg: Config, jobs: list[Job]) -> list[RunOutcome]:
    """Start every job once on a scheduler wired to ``SchedulerMonitor``; wait until each has been reaped."""
    monitor = SchedulerMonitor(cfg)
    seen: list[RunOutcome] = []

    def after_run(outcome: RunOutcome) -> None:
        seen.append(outcome)
        monitor.after_run(outcome)

    sched = Scheduler(db_path=cfg.db_path, load_plan=lambda: jobs, after_run=after_run, max_parallel=len(jobs))
    sched.start()
    try:
        sched.step()
        deadline = time.monotonic() + 30
        while len(seen) < len(jobs):
            assert time.monotonic() < deadline, f"jobs still running: {list(sched.running)}"
            sched.reap()
            time.sleep(0.02)
    finally:
        sched.shutdown()
        monitor.close()
    return seen


def job(tmp_path: Path, db_path: Path, name: str, then: str) -> Job:
    script = tmp_path / "recording_crawl.py"
    script.write_text(RECORDING_CRAWL, encoding="utf-8")
    return Job(name, "crawl", parse("every 1h"), (sys.executable, str(script), str(db_path), name, then))


def test_crashed_and_unchecked_crawls_are_alerted_and_delivered(tmp_path, db_path):
    connect(db_path).close()
    cfg = config(tmp_path, db_path)
    never = Job("site-never", "crawl", parse("every 1h"), (sys.executable, "-c", "raise SystemExit(3)"))
    with webhook_server() as hook:
        alerts_yml(cfg.alerts_path, hook.url("/ops"))
        outcomes = run_jobs(
            cfg, [never, job(tmp_path, db_path, "site-killed", "kill"), job(tmp_path, db_path, "site-cut", "close")]
        )
        db = connect(db_path)
        subjects = {row[0]: row[1] for row in db.execute("SELECT subject, severity FROM alerts")}
        posted = [a["subject"] for p in hook.posts for a in p.body["alerts"]]
    by_job = {o.job: o for o in outcomes}
    assert by_job["site-never"].exit_code == 3 and by_job["site-never"].run_ids == ()
    assert by_job["site-killed"].exit_code == -9 and len(by_job["site-killed"].run_ids) == 1
    killed_run = by_job["site-killed"].run_ids[0]
    (cut_run,) = by_job["site-cut"].run_ids
    assert subjects == {
        "抓取失败：站点 site-never 未能开始": "critical",
        f"抓取异常终止：站点 site-killed（运行 {killed_run}）": "critical",
        f"抓取失败：站点 site-cut（运行 {cut_run}）：运行结束": "critical",  # checked here, its crawl never did
    }
    health = db.execute("SELECT health FROM crawl_runs WHERE id = ?", [cut_run]).fetchone()[0]
    assert health == "unhealthy"  # checked by the hook: its finish reason is not "finished"
    assert db.execute("SELECT name FROM run_health WHERE run_id = ? AND NOT ok", [cut_run]).fetchall() == [
        ("finished",)
    ]
    assert sorted(posted) == sorted(subjects)  # every alert reached the receiver
    assert db.execute("SELECT count(*) FROM alert_deliveries WHERE state = 'sent'").fetchone()[0] == len(subjects)


def test_a_stopped_crawl_and_a_checked_run_raise_nothing_more(tmp_path, db_path):
    """A crawl the scheduler stopped on its way out resumes next time: no alert. A run its own command checked
    (health set) is not checked twice."""
    db = connect(db_path)
    with immediate(db):
        ensure_site(db, "site-a")
        cursor = db.execute(
            "INSERT INTO crawl_runs (site, spider, started_at, finished_at, owner, status, reason, health) "
            "VALUES ('site-a', 'classifieds', '2026-12-03T00:00:00Z', '2026-12-03T00:01:00Z', ?, 'ok', "
            "'finished', 'ok')",
            [f"{socket.gethostname()}:1"],
        )
    run_id = int(cursor.lastrowid or 0)
    cfg = config(tmp_path, db_path)
    monitor = SchedulerMonitor(cfg)
    common = dict(kind="crawl", trigger="schedule", started_at="", finished_at="", run_ids=(run_id,))
    monitor.after_run(RunOutcome(job="site-a", exit_code=0, **common))  # type: ignore[arg-type]
    monitor.after_run(RunOutcome(job="site-a", exit_code=-15, stopped=True, **common))  # type: ignore[arg-type]
    monitor.close()
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM run_health").fetchone()[0] == 0


def test_a_broken_seeds_file_is_alerted_through_the_built_scheduler(tmp_path, db_path):
    seeds = tmp_path / "seeds.yml"
    good = (REPO / "seeds.yml").read_text(encoding="utf-8")
    seeds.write_text(good, encoding="utf-8")
    cfg = config(tmp_path, db_path, seeds)
    with webhook_server() as hook:
        alerts_yml(cfg.alerts_path, hook.url("/ops"))
        sched = build_scheduler(cfg, tick=0.1)
        sched.start()
        try:
            before = seeds.stat().st_mtime_ns
            seeds.write_text(good.replace("sites:\n", "sites:\n  - name: [\n", 1), encoding="utf-8")
            os.utime(seeds, ns=(before + 10**9, before + 10**9))
            sched.step()
        finally:
            sched.shutdown()
        db = connect(db_path)
        (kind, subject, detail) = db.execute("SELECT kind, subject, detail FROM alerts").fetchone()
        posted = [a["subject"] for p in hook.posts for a in p.body["alerts"]]
    assert kind == "config" and str(seeds) in subject and "line" in detail
    assert posted == [subject]


def test_a_retry_due_between_runs_is_sent_on_a_pass(tmp_path, db_path):
    """A receiver down at the first try gets the alert on a later pass of the loop, with no run in between."""
    from review import alerts

    db = connect(db_path)
    cfg = config(tmp_path, db_path)
    with webhook_server() as hook:
        alerts_yml(cfg.alerts_path, hook.url("/ops"))
        cfg.alerts_path.write_text(
            cfg.alerts_path.read_text(encoding="utf-8") + "retry: {attempts: 3, backoff: 1}\n", encoding="utf-8"
        )
        alerts.raise_alert(db, "test", "测试告警")
        hook.status = 500
        clock = [0.0]
        monitor = SchedulerMonitor(cfg, deliver_every=5, clock=lambda: clock[0])
        monitor.on_pass(None)  # type: ignore[arg-type]
        assert db.execute("SELECT state FROM alert_deliveries").fetchone()[0] == "retrying"
        hook.status = 200
        time.sleep(1.1)  # the delivery's backoff (real time: alertsend's clock)
        clock[0] = 4.0
        monitor.on_pass(None)  # type: ignore[arg-type]
        assert db.execute("SELECT state FROM alert_deliveries").fetchone()[0] == "retrying"  # not yet this pass
        clock[0] = 5.0
        monitor.on_pass(None)  # type: ignore[arg-type]
        monitor.close()
        assert db.execute("SELECT state FROM alert_deliveries").fetchone()[0] == "sent"
        assert [a["subject"] for p in hook.posts if p.body for a in p.body["alerts"]][-1] == "测试告警"


def test_a_crawl_that_did_not_start_is_alerted_in_chinese(tmp_path, db_path):
    """``adclear crawl``'s reason is English (its line on the terminal); the alert the office's chat gets says it in
    Chinese (core.reasons), and a reason it does not know as it was."""
    connect(db_path).close()
    cfg = config(tmp_path, db_path)
    seeds = load_seeds(cfg.seeds_path)
    lines = after_crawl(
        cfg,
        seeds,
        [
            RunResult(site="demo-classifieds", status="failed", reason="the crawl did not start"),
            RunResult(site="demo-social", status="failed", reason="site demo-social is on fire"),
        ],
        [],
    )
    assert lines[0] == "demo-classifieds: the run did not start: alert raised"
    details = dict(connect(db_path).execute("SELECT subject, detail FROM alerts").fetchall())
    assert details == {
        "抓取失败：站点 demo-classifieds 未能开始": "抓取未能开始",
        "抓取失败：站点 demo-social 未能开始": "site demo-social is on fire",
    }
