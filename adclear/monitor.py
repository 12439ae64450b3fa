"""Where a crawl's outcome meets the alerts: check each run's health, raise what must be heard, deliver it.

``core.runhealth`` judges a run and ``review.alerts`` records alerts; neither knows the other (core is below
review), so they meet here, in the shell. Entry points, for ``adclear crawl`` and for the scheduler:

- ``after_run(db, run_id, site, config, now=None) -> list[Problem]``: check the run (``core.runhealth.check_run``,
  which records the checks and marks the run), raise one alert for its problems and one for its new high-score
  flags;
- ``after_crawl(cfg, results, reappeared)``: ``after_run`` for every run of an ``adclear crawl``, the
  reappearances it recorded as one alert, then ``deliver``; lines to print;
- ``deliver(cfg, now=None) -> Outcome``: ``review.alertsend.deliver_pending`` with alerts.yml and the mail server;
- ``on_config_error(db, path, message, config)``: seeds.yml could not be loaded (the scheduler keeps the old one);
- ``overdue(db, now=None)``: raise the day's overdue-takedowns alert (``adclear alerts overdue``, the scheduler);
- ``SchedulerMonitor(cfg)``: the hooks of ``adclear scheduler`` (``adclear.scheduler``): what a scheduled job's
  own command did not do (a crawl process that crashed or never started, runs it left unchecked), the overdue
  alert after each re-check, and the deliveries due, on every pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from adclear.config import Config
from core.db import connect
from core.errors import AdclearError
from core.reasons import run_reason_zh
from core.runhealth import Problem, check_run
from core.seeds import Seeds, Site
from review import alerts
from review.alertconfig import AlertsConfig
from review.alertsend import Outcome, deliver_pending

if TYPE_CHECKING:
    from adclear.scheduler import RunOutcome

__all__ = ["SchedulerMonitor", "after_crawl", "after_run", "deliver", "on_config_error", "overdue"]

log = logging.getLogger("adclear.scheduler")


def after_run(
    db: sqlite_utils.Database, run_id: int, site: Site | None, config: AlertsConfig, *, now: datetime | None = None
) -> list[Problem]:
    """Check run ``run_id`` and raise its alerts (problems; new flags at alerts.yml's ``flag_score``)."""
    problems = check_run(db, run_id, site)
    alerts.run_alert(db, run_id, problems, group_hours=config.group_hours, now=now)
    alerts.flags_alert(db, run_id, config.flag_score, now=now)
    return problems


def after_crawl(cfg: Config, seeds: Seeds, results: Iterable[Any], reappeared: Iterable[Any]) -> list[str]:
    """After ``adclear crawl``: every run checked and alerted, reappearances alerted, alerts delivered; the lines
    that say so (``results``: ``crawler.extensions.RunResult``s; ``reappeared``: ``adclear.recheck.Reappearance``s)."""
    config = cfg.alerts()
    db = cfg.db()
    lines = []
    for result in results:
        if result.run_id is None:  # the run could not even be recorded: nothing to check, still to be told
            _not_started(db, result.site, run_reason_zh(result.reason) or result.reason, config)
            lines.append(f"{result.site}: the run did not start: alert raised")
            continue
        site = next((s for s in seeds.sites if s.name == result.site), None)
        problems = after_run(db, result.run_id, site, config)
        if problems and result.status == "ok":  # a failed run said so already in its own line
            names = ", ".join(p.name for p in problems)
            lines.append(f"{result.site}: run {result.run_id} is unhealthy ({names}): {problems[0].message}")
    found = [(r.takedown_id, r.original_ad_id, r.new_ad_id) for r in reappeared]
    alerts.reappeared_alert(db, found)
    outcome = deliver(cfg, config=config)
    if outcome.sent or outcome.retrying or outcome.failed or outcome.waiting:
        lines.append(describe(outcome))
    return lines


def _not_started(db: sqlite_utils.Database, site: str, why: str, config: AlertsConfig) -> int:
    """A crawl of ``site`` that never recorded a run (nothing to check): one critical alert per window."""
    return alerts.raise_alert(db, "run", f"抓取失败：站点 {site} 未能开始", why, group_key=f"run:{site}:start",
                              severity="critical", group_hours=config.group_hours)  # fmt: skip


def describe(outcome: Outcome) -> str:
    return (
        f"alerts: {outcome.sent} sent, {outcome.retrying} to retry, {outcome.failed} given up, "
        f"{outcome.waiting} waiting (adclear alerts list)"
    )


def deliver(cfg: Config, *, config: AlertsConfig | None = None, now: datetime | None = None) -> Outcome:
    """Deliver what is due, with alerts.yml (``config``, else read) and the mail server the environment names."""
    return deliver_pending(cfg.db(), config or cfg.alerts(), now=now, smtp=cfg.smtp())


def on_config_error(
    db: sqlite_utils.Database, path: str, message: str, config: AlertsConfig, *, now: datetime | None = None
) -> int:
    """A broken seeds.yml (or another file the scheduler reloads): alerted once per ``group_hours``."""
    return alerts.config_alert(db, path, message, group_hours=config.group_hours, now=now)


def overdue(db: sqlite_utils.Database, *, now: datetime | None = None) -> int | None:
    """The takedowns past their deadline today, as one alert (once a China day); None when none is late."""
    return alerts.overdue_alert(db, now=now)


class SchedulerMonitor:
    """The scheduler's hooks. ``adclear crawl``, run by the scheduler, checks and alerts its own runs
    (``after_crawl``); what it cannot do is left here:

    - ``after_run``: a crawl whose process crashed or never started (no run recorded, or a run left
      ``running``: killed) raises a critical ``run`` alert; a run its process recorded but did not check (it
      died first) is checked; after a re-check, the day's overdue takedowns are alerted (once a China day);
      then the deliveries due are sent;
    - ``on_config_error``: a broken seeds.yml, alerted (the scheduler keeps the old schedule);
    - ``on_pass``: every ``deliver_every`` seconds the deliveries due (retries waiting out their backoff, alerts
      raised by the web app) are sent.

    Its own database connection is opened in the scheduler's thread at the first call (every hook runs there).
    A delivery is bounded by its channel's timeout (10 s by default), so a receiver that is down delays the next
    pass by that much, not more.
    """

    def __init__(self, cfg: Config, *, deliver_every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.cfg = cfg
        self.deliver_every = deliver_every
        self.clock = clock
        self._db: sqlite_utils.Database | None = None
        self._last_delivery: float | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self.cfg.db_path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def after_run(self, outcome: RunOutcome) -> None:
        config = self.cfg.alerts()
        db = self.db
        if outcome.kind == "crawl" and not outcome.stopped:
            self._crawl_ended(db, outcome, config)
        if outcome.kind == "recheck" and outcome.exit_code is not None and not outcome.stopped:
            overdue(db)
        self._deliver(config)

    def _crawl_ended(self, db: sqlite_utils.Database, outcome: RunOutcome, config: AlertsConfig) -> None:
        if outcome.exit_code is None or (outcome.exit_code != 0 and not outcome.run_ids):
            why = "命令无法启动" if outcome.exit_code is None else f"进程退出码 {outcome.exit_code}，未记录抓取运行"
            _not_started(db, outcome.job, why, config)
            return
        site = self._site(outcome.job)
        for run_id in outcome.run_ids:
            row = db.execute("SELECT status, health FROM crawl_runs WHERE id = ?", [run_id]).fetchone()
            if row is None:
                continue
            status, health = row
            if status == "running":  # the process is gone and its run was never closed: it was killed
                alerts.raise_alert(db, "run", f"抓取异常终止：站点 {outcome.job}（运行 {run_id}）",
                                   f"进程退出码 {outcome.exit_code}；运行未正常结束，下次运行将从断点继续。",
                                   group_key=f"run:{outcome.job}:killed", severity="critical", run_id=run_id,
                                   group_hours=config.group_hours)  # fmt: skip
            elif health is None:  # recorded, never checked: the process died between the two
                after_run(db, run_id, site, config)

    def _site(self, name: str) -> Site | None:
        try:
            return next((s for s in self.cfg.seeds().sites if s.name == name), None)
        except AdclearError:  # seeds.yml broken since: the default thresholds (the config alert says why)
            return None

    def on_config_error(self, message: str) -> None:
        config = self.cfg.alerts()
        on_config_error(self.db, str(self.cfg.seeds_path), message, config)
        self._deliver(config)

    def on_pass(self, _now: datetime) -> None:
        if self._last_delivery is not None and self.clock() - self._last_delivery < self.deliver_every:
            return
        self._deliver(self.cfg.alerts())

    def _deliver(self, config: AlertsConfig) -> None:
        self._last_delivery = self.clock()
        outcome = deliver_pending(self.db, config, smtp=self.cfg.smtp())
        if outcome.sent or outcome.retrying or outcome.failed:
            log.info("%s", describe(outcome))
