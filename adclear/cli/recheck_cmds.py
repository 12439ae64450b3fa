"""adclear recheck: fetch each open takedown's URL again; removed, still online or unknown; reappearances."""

from __future__ import annotations

import logging
from datetime import date

import click

from adclear.cli import ID, Config
from adclear.cli.accounts import acting_account
from adclear.cli.takedown_cmds import _day
from adclear.cli.term import echo
from adclear.crawl import log_file_for
from adclear.recheck import (
    RECHECK_ACTOR,
    recheck_targets,
    record_outcomes,
    record_reappearances,
    run_recheck,
)
from core.errors import AdclearError
from crawler.recheck import RecheckOutcome
from review import takedowns

__all__ = ["COMMANDS"]

LABELS = {"removed": "已删除 removed", "online": "仍在线 still online", "unknown": "未果 unknown"}


class RecheckIncomplete(AdclearError):
    """Some pages could not be seen: recorded as unknown, never as removed."""


@click.command()
@click.option("--site", help="Only the takedowns of this site of seeds.yml.")
@click.option("--takedown", "ids", type=ID, multiple=True, help="Only this takedown (repeatable); also a removed one.")
@click.option("--today", help="Count overdue as of this day, YYYY-MM-DD (default: today in China).")
@click.option("--as", "actor", help="Record the re-checks as this account (default: adclear-recheck, the machine).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log here instead of in a file under logs/.")
@click.pass_obj
def recheck(
    cfg: Config, site: str | None, ids: tuple[int, ...], today: str | None, actor: str | None, verbose: bool
) -> None:
    """Fetch each takedown dispatched, answered or still online again: removed, still online, or unknown.

    Removed: the site answers 404 or 410, shows one of its removed_markers (seeds.yml), or the ad's text is
    gone. Unknown (the site is down, a time-out, a refused address, a 5xx) is recorded as such, never as
    removed. Every page is archived in a WARC file like any crawled page. Reappearances found by the crawls
    are recorded too, and the takedowns overdue are listed. Exits 1 when a re-check was unknown.
    """
    logging.raiseExceptions = False
    day = _day(today) or takedowns.today_in_china()
    db = cfg.db()
    seeds = cfg.seeds()
    who = acting_account(db, actor) if actor else RECHECK_ACTOR
    groups, outcomes = recheck_targets(db, seeds, site=site, ids=ids)
    if not groups and not outcomes:
        where = f" on {site}" if site else ""
        echo(f"nothing to re-check: no takedown is dispatched, answered or still online{where}")
    else:
        log_file = None if verbose else log_file_for(cfg.db_path)
        outcomes += run_recheck(
            seeds, groups, db_path=cfg.db_path, seeds_path=cfg.seeds_path, log_file=log_file,
            overrides=cfg.crawl_overrides(),
        )  # fmt: skip
        outcomes.sort(key=lambda o: o.takedown_id)
        refused = record_outcomes(db, outcomes, actor=who, today=day, settings=cfg.review_settings())
        for o in outcomes:
            why = refused.get(o.takedown_id)
            echo(_line(o) + (f" (not recorded: {why})" if why else ""))
        if log_file is not None:
            echo(f"Scrapy's log: {log_file}")
    _report_after(cfg, day)
    unknown = [o for o in outcomes if o.outcome == "unknown"]
    if unknown:
        raise RecheckIncomplete(
            f"{len(unknown)} of {len(outcomes)} re-check(s) could not see the page (recorded as unknown, not as "
            "removed): is the site down? run `adclear recheck` again later"
        )


def _line(o: RecheckOutcome) -> str:
    status = f" HTTP {o.http_status}" if o.http_status else ""
    return f"takedown {o.takedown_id} (ad {o.ad_id}) {o.url}: {LABELS[o.outcome]}{status}: {o.detail}"


def _report_after(cfg: Config, day: date) -> None:
    """Reappearances the crawls stored (recorded now), and the takedowns overdue as of ``day``."""
    db = cfg.db()
    for r in record_reappearances(db, settings=cfg.review_settings()):
        echo(
            f"再现 reappeared: ad {r.new_ad_id} is a near-duplicate of ad {r.original_ad_id} "
            f"(takedown {r.takedown_id}); queued first"
        )
    overdue = takedowns.listing(db, overdue=True, today=day)
    if overdue:
        echo(f"逾期 overdue as of {day.isoformat()}: {len(overdue)} takedown(s)")
        for t in overdue:
            echo(f"  takedown {t.id} (ad {t.ad_id}): {t.state_label}, deadline {t.deadline}, {t.receiver or '-'}")


COMMANDS = [recheck]
