"""adclear scheduler: crawls and re-checks on their schedules from seeds.yml (adclear/scheduler.py)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from adclear.cli import Config
from adclear.cli.term import echo
from adclear.monitor import SchedulerMonitor
from adclear.scheduler import (
    RunOutcome,
    Scheduler,
    adclear_command,
    log_after_run,
    log_config_error,
    plan_from_seeds,
)
from core.timeutil import local

__all__ = ["COMMANDS", "build_scheduler", "scheduler_in_thread"]


def build_scheduler(cfg: Config, *, max_parallel: int = 2, tick: float = 5.0, grace: float = 120.0) -> Scheduler:
    """The scheduler of ``cfg``'s database and seeds.yml, its hooks logging and then alerting
    (``adclear.monitor.SchedulerMonitor``: crashed crawls, a broken seeds.yml, overdue takedowns, deliveries)."""
    base = adclear_command(cfg.db_path, cfg.seeds_path, cfg.receivers_path)
    monitor = SchedulerMonitor(cfg)

    def after_run(outcome: RunOutcome) -> None:
        log_after_run(outcome)
        monitor.after_run(outcome)

    def on_config_error(message: str) -> None:
        log_config_error(message)
        monitor.on_config_error(message)

    return Scheduler(
        db_path=cfg.db_path,
        load_plan=lambda: plan_from_seeds(cfg.seeds(), base),
        watch=cfg.seeds_path,
        max_parallel=max_parallel,
        tick=tick,
        grace=grace,
        after_run=after_run,
        on_config_error=on_config_error,
        on_pass=monitor.on_pass,
    )


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _show(sched: Scheduler) -> None:
    echo(f"{'job':<24} {'schedule':<26} {'next run (China time)':<22} state")
    for name, job in sched.jobs.items():
        due = sched.due.get(name)
        state = "disabled" if not job.enabled else ("running" if name in sched.running else "")
        echo(f"{name:<24} {job.schedule.describe():<26} {local(due.isoformat()) if due else '—':<22} {state}")


@click.command()
@click.option("--max-parallel", default=2, show_default=True, type=click.IntRange(1, 32), help="Jobs at once.")
@click.option("--tick", default=5.0, show_default=True, type=click.FloatRange(0.1, 60), help="Seconds between passes.")
@click.option(
    "--grace",
    default=120.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds a stopped crawl may take to checkpoint before it is killed.",
)
@click.option("--show", is_flag=True, help="Print each job's schedule and next run, then exit.")
@click.pass_obj
def scheduler(cfg: Config, max_parallel: int, tick: float, grace: float, show: bool) -> None:
    """Run crawls and re-checks on their schedules from seeds.yml until SIGTERM or Ctrl-C.

    Each job is `adclear crawl SITE` (or `adclear recheck`) in its own process; never two runs of one site at
    once, runs missed while the scheduler was down made one, seeds.yml read again when it changes (a broken
    file keeps the old schedule). On SIGTERM or Ctrl-C running crawls checkpoint and stop (resumed by their
    next run); after --grace seconds, or at a second signal, they are killed. One scheduler per database.
    """
    _logging()
    sched = build_scheduler(cfg, max_parallel=max_parallel, tick=tick, grace=grace)
    sched.start()
    if show:
        _show(sched)
        sched.shutdown()
        return
    _show(sched)

    def _stop(signum: int, _frame: Any) -> None:
        logging.getLogger("adclear.scheduler").info("signal %d: stopping (again: kill the running jobs)", signum)
        sched.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sched.run()


def scheduler_in_thread(cfg: Config) -> tuple[Scheduler, threading.Thread]:
    """For `adclear serve --with-scheduler`: the scheduler started (lock, seeds.yml) and looping in a thread."""
    _logging()
    sched = build_scheduler(cfg)
    ready = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            sched.start()  # its database connection belongs to this thread
        except BaseException as e:
            failure.append(e)
            return
        finally:
            ready.set()
        sched.run()

    thread = threading.Thread(target=loop, name="adclear-scheduler", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    return sched, thread


COMMANDS = [scheduler]
