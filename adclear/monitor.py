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
- ``overdue(db, now=None)``: raise the day's overdue-takedowns alert (``adclear alerts overdue``, the scheduler).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils

from adclear.config import Config
from core.runhealth import Problem, check_run
from core.seeds import Seeds, Site
from review import alerts
from review.alertconfig import AlertsConfig
from review.alertsend import Outcome, deliver_pending

__all__ = ["after_crawl", "after_run", "deliver", "on_config_error", "overdue"]


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
            alerts.raise_alert(db, "run", f"抓取失败：站点 {result.site} 未能开始", result.reason,
                               group_key=f"run:{result.site}:start", severity="critical",
                               group_hours=config.group_hours)  # fmt: skip
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
