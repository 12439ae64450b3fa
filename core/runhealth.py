"""A crawl run's health, checked once it has ended: ``check_run(db, run_id, site)`` → the problems found.

Scrapy's exit code and even a run's ``ok`` status say little: a site that changed its layout is fetched without
a single error and yields nothing. So after every run (``adclear crawl`` calls it, the scheduler too) these checks
are made, in the manner of spidermon's monitors, and each one's outcome is written to ``run_health``; the run is
marked ``crawl_runs.health`` = ``ok`` or ``unhealthy``:

- ``finished``: the run ended as Scrapy's ``finished`` (or a ``closespider_*`` limit), not failed or interrupted;
- ``browser``: the browser of a social site could start;
- ``error_rate``: failed requests are at most the site's ``health.error_rate`` of all requests;
- ``items``: the run saw at least the site's expected number of ads: ``health.min_items`` in seeds.yml, else
  learnt as ``learn_fraction`` of the median of its last ``learn_runs`` healthy ok runs;
- ``layout``: pages were fetched but no ad was read, where the last healthy runs read some (the site changed its
  markup and the selectors match nothing).

The thresholds are per site in seeds.yml (``core.seeds.HealthOptions``; docs/alerts.md). Only runs that are
healthy teach the expectation, so a site that stays broken keeps being reported instead of lowering the bar.

This lives in core because it reads core's tables (crawl_runs, crawl_errors) and must not depend on the crawler
(a run whose crawler never started is checked too) nor on review (the alert it leads to is raised by the caller:
``adclear.monitor``). Spidermon itself is not used: its monitors run inside the Scrapy process on its stats,
while these checks need the database's history, must also judge a run whose process died, and record their
outcome beside the run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import sqlite_utils

from core.db import immediate
from core.reasons import run_reason_zh
from core.seeds import HealthOptions, Site
from core.timeutil import now_utc

__all__ = ["CHECKS", "CHECK_NAMES_ZH", "Check", "Problem", "check_run", "expected_items", "recent_runs", "run_checks"]

CHECKS = ("finished", "browser", "error_rate", "items", "layout")
CHECK_NAMES_ZH = {
    "finished": "运行结束", "browser": "浏览器", "error_rate": "错误率", "items": "广告数", "layout": "版面"
}  # fmt: skip
_STATUS_ZH = {"ok": "完成", "failed": "失败", "interrupted": "中断", "running": "运行中"}
BROWSER_DID_NOT_START = "the browser could not start"  # crawler.browser's message for a failed launch


@dataclass(frozen=True)
class Check:
    """One check of one run: passed or not, with what was measured and the bar it was held to."""

    name: str
    ok: bool
    message: str  # English, as the command line prints it
    value: float | None = None
    threshold: float | None = None
    severity: str = "warning"  # of the problem when not ok: warning or critical
    zh: str = ""  # the same in Chinese: the alerts sent to the office's group chats and the web app show it


Problem = Check  # a check that did not pass


@dataclass(frozen=True)
class _Run:
    id: int
    site: str
    status: str
    reason: str
    pages: int
    items: int
    errors: int


def check_run(db: sqlite_utils.Database, run_id: int, site: Site | None = None) -> list[Problem]:
    """Check the ended run ``run_id``, record every check in ``run_health`` and mark the run; the problems.

    ``site``: the run's site as seeds.yml has it now (its ``health`` thresholds); None: the defaults. A run
    still running is not checked (returns []). Checking a run again replaces its earlier checks.
    """
    run = _load(db, run_id)
    if run is None or run.status == "running":
        return []
    options = site.health if site is not None else HealthOptions()
    checks = run_checks(db, run, options)
    problems = [c for c in checks if not c.ok]
    at = now_utc()
    with immediate(db):
        db.execute("DELETE FROM run_health WHERE run_id = ?", [run_id])
        for c in checks:
            db.execute(
                "INSERT INTO run_health (run_id, checked_at, name, ok, message, value, threshold, message_zh) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, at, c.name, int(c.ok), c.message, c.value, c.threshold, c.zh],
            )
        db.execute("UPDATE crawl_runs SET health = ? WHERE id = ?", ["unhealthy" if problems else "ok", run_id])
    return problems


def _load(db: sqlite_utils.Database, run_id: int) -> _Run | None:
    row = db.execute(
        "SELECT id, site, status, reason, pages, ads_new + ads_seen + ads_changed, errors FROM crawl_runs WHERE id = ?",
        [run_id],
    ).fetchone()
    return _Run(*row) if row else None


def run_checks(db: sqlite_utils.Database, run: _Run, options: HealthOptions) -> list[Check]:
    """Every check of ``run`` (nothing written)."""
    checks = [_finished(run), _browser(db, run)]
    if run.pages > 0:  # a run that fetched nothing has failed already: its error rate and ads would say it again
        history = _history(db, run, options.learn_runs)
        checks.append(_error_rate(run, options))
        checks.append(_items(run, options, history))
        checks.append(_layout(run, history))
    return checks


def _finished(run: _Run) -> Check:
    ended = run.reason == "finished" or run.reason.startswith("closespider_")
    reason_zh = run_reason_zh(run.reason) or run.reason  # the Chinese alert says the reason in Chinese where known
    if run.status == "ok" and ended:
        return Check("finished", True, f"finished ({run.reason})", zh=f"正常结束（{reason_zh}）")
    severity = "critical" if run.status == "failed" else "warning"
    status = _STATUS_ZH.get(run.status, run.status)
    return Check("finished", False, f"the run {run.status}: {run.reason or 'no reason recorded'}", severity=severity,
                 zh=f"运行{status}：{reason_zh or '未记录原因'}")  # fmt: skip


def _browser(db: sqlite_utils.Database, run: _Run) -> Check:
    row = db.execute(
        "SELECT message FROM crawl_errors WHERE run_id = ? AND kind = 'browser' AND message LIKE ? ORDER BY id LIMIT 1",
        [run.id, f"%{BROWSER_DID_NOT_START}%"],
    ).fetchone()
    if row is None:
        return Check("browser", True, "no browser failed to start", zh="浏览器正常启动")
    return Check("browser", False, row[0], severity="critical", zh=f"浏览器未能启动：{row[0]}")


def _error_rate(run: _Run, options: HealthOptions) -> Check:
    total = run.pages + run.errors
    rate = run.errors / total if total else 0.0
    text = f"{run.errors} of {total} requests failed ({rate:.0%}; at most {options.error_rate:.0%})"
    zh = f"{total} 个请求中 {run.errors} 个失败（{rate:.0%}，上限 {options.error_rate:.0%}）"
    return Check("error_rate", rate <= options.error_rate, text, rate, options.error_rate, zh=zh)


def _history(db: sqlite_utils.Database, run: _Run, runs: int) -> list[int]:
    """Ads seen by the site's last ``runs`` healthy ok runs before this one, newest first."""
    rows = db.execute(
        "SELECT ads_new + ads_seen + ads_changed FROM crawl_runs WHERE site = ? AND id < ? AND status = 'ok' "
        "AND coalesce(health, 'ok') = 'ok' AND spider = (SELECT spider FROM crawl_runs WHERE id = ?) "
        "ORDER BY id DESC LIMIT ?",  # a re-check or a tip fetch of the site sees a handful: not its history
        [run.site, run.id, run.id, runs],
    ).fetchall()
    return [r[0] for r in rows]


def expected_items(options: HealthOptions, history: list[int]) -> tuple[int | None, str]:
    """The least number of ads a run should see, and where it comes from; None while there is too little history."""
    expected, source, _ = _expected(options, history)
    return expected, source


def _expected(options: HealthOptions, history: list[int]) -> tuple[int | None, str, str]:
    """``expected_items`` with where it comes from in Chinese too."""
    if options.min_items is not None:
        return options.min_items, "health.min_items in seeds.yml", "seeds.yml 中的 health.min_items"
    needed = min(options.learn_min_runs, options.learn_runs)
    if len(history) < needed:
        return (None, f"not learnt yet ({len(history)} of {needed} healthy runs)",
                f"尚未学得（已有 {len(history)} 次正常运行，需 {needed} 次）")  # fmt: skip
    median = statistics.median(history)
    expected = int(median * options.learn_fraction)
    return (expected, f"{options.learn_fraction:g} × median {median:g} of the last {len(history)} healthy runs",
            f"最近 {len(history)} 次正常运行的中位数 {median:g} × {options.learn_fraction:g}")  # fmt: skip


def _items(run: _Run, options: HealthOptions, history: list[int]) -> Check:
    expected, source, source_zh = _expected(options, history)
    if expected is None:
        return Check("items", True, f"{run.items} ads; expected minimum {source}", run.items,
                     zh=f"{run.items} 条广告；预期下限{source_zh}")  # fmt: skip
    ok = run.items >= expected
    return Check("items", ok, f"{run.items} ads, expected at least {expected} ({source})", run.items, expected,
                 zh=f"{run.items} 条广告，预期至少 {expected} 条（{source_zh}）")  # fmt: skip


def _layout(run: _Run, history: list[int]) -> Check:
    before = history[0] if history else 0
    if run.items == 0 and before > 0:
        message = (
            f"{run.pages} pages fetched but no ad read, where the last healthy run read {before}: the site's "
            "layout may have changed; check its selectors in seeds.yml"
        )
        zh = (
            f"抓取了 {run.pages} 个页面却未读到广告，上次正常运行读到 {before} 条："
            "网站版面可能已改变，请检查 seeds.yml 中该站点的选择器"
        )
        return Check("layout", False, message, 0, before, severity="critical", zh=zh)
    return Check("layout", True, f"{run.items} ads read from {run.pages} pages", run.items,
                 zh=f"从 {run.pages} 个页面读到 {run.items} 条广告")  # fmt: skip


def recent_runs(db: sqlite_utils.Database, limit: int = 30) -> list[dict[str, object]]:
    """The newest runs with their figures, health and the checks they failed: ``problems`` (English, as the
    command line says them) and ``problems_zh`` (the check's name and message in Chinese, where recorded)."""
    rows = db.execute(
        "SELECT id, site, started_at, finished_at, status, reason, pages, ads_new + ads_seen + ads_changed, errors, "
        "health FROM crawl_runs ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    keys = ("id", "site", "started_at", "finished_at", "status", "reason", "pages", "ads", "errors", "health")
    runs = [dict(zip(keys, r, strict=True)) for r in rows]
    for r in runs:
        failed = db.execute(
            "SELECT name, message, message_zh FROM run_health WHERE run_id = ? AND ok = 0 ORDER BY id", [r["id"]]
        ).fetchall()
        r["problems"] = [f"{name}: {message}" for name, message, _ in failed]
        r["problems_zh"] = [f"{CHECK_NAMES_ZH.get(name, name)}：{zh or message}" for name, message, zh in failed]
    return runs
