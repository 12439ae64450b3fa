"""adclear campaign create|list|show|phase and adclear stats: campaigns (专项整治) and their numbers (量化统计)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from adclear.cli import Config
from adclear.cli.accounts import acting_account
from adclear.cli.term import echo, fit
from review import campaigns, statistics, takedowns
from review.statistics import BREAKDOWNS, METRICS, Period, Statistics

__all__ = ["COMMANDS"]

# short column heads for the breakdown tables (the Chinese labels are too wide for 15 columns)
HEADS = {
    "sites": "sites", "pages": "pages", "sightings": "seen", "ads_seen": "ads", "flagged": "flag",
    "confirmed": "conf", "rejected": "rej", "takedowns_requested": "req", "takedowns_dispatched": "disp",
    "takedowns_removed": "rem", "takedowns_overdue": "late", "takedowns_reappeared": "reap",
    "tips_received": "tips", "tips_verified": "true", "tips_to_takedowns": "t→td",
}  # fmt: skip


def _day(value: str | None, option: str) -> date | None:
    return None if value is None else campaigns.parse_day(value, option)


def _phase(text: str) -> campaigns.Phase:
    """NAME:FROM:TO as the command line writes a phase."""
    name, _, rest = text.rpartition(":")
    name, _, first = name.rpartition(":")
    if not name:
        raise campaigns.CampaignError(f"--phase is NAME:FROM:TO (e.g. 部署落实:2026-11-16:2026-11-22), not {text!r}")
    return campaigns.Phase(name, campaigns.parse_day(first, "--phase FROM"), campaigns.parse_day(rest, "--phase TO"))


@click.group()
def campaign() -> None:
    """Campaigns (专项整治): a named period with phases and a scope, whose numbers `adclear stats` counts."""


@campaign.command()
@click.argument("name", required=False)
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="The campaign as YAML.")
@click.option("--from", "first", help="Its first day, YYYY-MM-DD (China time).")
@click.option("--to", "last", help="Its last day, YYYY-MM-DD (included).")
@click.option("--office", default="", help="The responsible office (发文机关), as it signs its reports.")
@click.option("--site", "sites", multiple=True, help="Watch only this site (repeatable; default all).")
@click.option("--region", "regions", multiple=True, help="Watch only sites of this region (repeatable).")
@click.option("--category", "categories", multiple=True, help="Count only ads of this 涉嫌类型 (repeatable).")
@click.option("--phase", "phases", multiple=True, help="A phase NAME:FROM:TO (repeatable).")
@click.option("--as", "actor", help="A supervisor's account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def create(
    cfg: Config, name: str | None, path: Path | None, first: str | None, last: str | None, office: str,
    sites: tuple[str, ...], regions: tuple[str, ...], categories: tuple[str, ...], phases: tuple[str, ...],
    actor: str | None,
) -> None:  # fmt: skip
    """Create a campaign from options (NAME --from --to) or from a YAML file (--file; docs/campaigns.md)."""
    if path is not None:
        if name or first or last or phases:
            raise click.UsageError("give either --file or NAME --from --to, not both")
        spec = campaigns.load_file(path)
    else:
        if not (name and first and last):
            raise click.UsageError("a campaign needs NAME, --from and --to (or --file)")
        spec = campaigns.CampaignSpec(
            name, campaigns.parse_day(first, "--from"), campaigns.parse_day(last, "--to"), office, sites, regions,
            categories, tuple(_phase(p) for p in phases),
        )  # fmt: skip
    db = cfg.db()
    made = campaigns.create(db, spec, actor=acting_account(db, actor, "supervisor"))
    echo(f"campaign {made.name} created: {made.starts_on} to {made.ends_on}, {len(made.phases)} phase(s)")


@campaign.command()
@click.argument("name")
@click.argument("phase_name")
@click.option("--from", "first", required=True, help="The phase's first day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Its last day, YYYY-MM-DD (included).")
@click.option("--as", "actor", help="A supervisor's account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def phase(cfg: Config, name: str, phase_name: str, first: str, last: str, actor: str | None) -> None:
    """Add a phase (部署落实, 排查整治, 督导总结 …) to a campaign, inside its days."""
    p = campaigns.Phase(phase_name, campaigns.parse_day(first, "--from"), campaigns.parse_day(last, "--to"))
    db = cfg.db()
    made = campaigns.add_phase(db, name, p, actor=acting_account(db, actor, "supervisor"))
    echo(f"campaign {made.name}: phase {p.name} added ({p.starts_on} to {p.ends_on})")


@campaign.command("list")
@click.pass_obj
def list_(cfg: Config) -> None:
    """Every campaign, the latest first."""
    rows = campaigns.listing(cfg.db())
    if not rows:
        echo("no campaigns yet (adclear campaign create)")
    for c in rows:
        echo(f"{fit(c.name, 40)} {c.starts_on} 至 {c.ends_on}  {len(c.phases)} phase(s)  {c.office}")


@campaign.command()
@click.argument("name")
@click.pass_obj
def show(cfg: Config, name: str) -> None:
    """A campaign: its days, office, scope and phases."""
    c = campaigns.get(cfg.db(), name)
    echo(f"{c.name}\n  office:  {c.office or '-'}\n  period:  {c.starts_on} 至 {c.ends_on}")
    for key in ("sites", "regions", "categories"):
        echo(f"  {key + ':':<12}{'、'.join(getattr(c, key)) or 'all'}")
    for p in c.phases:
        echo(f"  phase {fit(p.name, 12)} {p.starts_on} 至 {p.ends_on}")
    echo(f"  created by {c.created_by} at {c.created_at}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value))


def _print(s: Statistics, by: str | None) -> None:
    echo(f"{s.title}  ({s.period.label()})" + (f"  {s.office}" if s.office else ""))
    for key, label in METRICS.items():
        echo(f"  {fit(label, 18)} {s.totals[key]:>9}")
    rate = "-" if s.illegal_rate is None else f"{s.illegal_rate:.1%}"
    echo(f"  {fit('违法率', 18)} {rate:>9}")
    for label, d in (("发现→确认 (h)", s.time_to_confirm), ("确认→删除 (h)", s.time_to_removal)):
        echo(f"  {fit(label, 18)} n={d.count}  median {d.median_hours}  p90 {d.p90_hours}")
    if by is not None:
        echo(f"\n{BREAKDOWNS[by]}")
        echo(fit("", 34) + "".join(f"{HEADS[m]:>6}" for m in METRICS))
        for row in s.breakdowns[by]:
            echo(fit(row.label[:32], 34) + "".join(f"{row.counts[m]:>6}" for m in METRICS))
    if s.overdue:
        echo(f"\n逾期未处置 overdue ({len(s.overdue)})")
        for o in s.overdue:
            echo(f"  takedown {o.takedown_id} (ad {o.ad_id}) {o.site} {o.receiver} due {o.deadline}, "
                 f"{o.days_overdue} day(s) late  {o.url}")  # fmt: skip


@click.command()
@click.option("--campaign", "name", help="A campaign's figures, in its scope (default: everything).")
@click.option("--phase", help="Only this phase of the campaign.")
@click.option("--from", "first", help="First day, YYYY-MM-DD (default: the campaign's, else 30 days ago).")
@click.option("--to", "last", help="Last day, YYYY-MM-DD, included (default: the campaign's, else today).")
@click.option("--by", type=click.Choice(list(BREAKDOWNS)), help="Also print this breakdown.")
@click.option("--today", help="Count overdue as of this day, YYYY-MM-DD (default: today in China).")
@click.option("--json", "as_json", is_flag=True, help="Print every figure and breakdown as one JSON document.")
@click.pass_obj
def stats(
    cfg: Config, name: str | None, phase: str | None, first: str | None, last: str | None, by: str | None,
    today: str | None, as_json: bool,
) -> None:  # fmt: skip
    """量化统计: the numbers of a campaign, a phase or any days, counted from the ledger and sightings."""
    db = cfg.db()
    start, end, day = _day(first, "--from"), _day(last, "--to"), _day(today, "--today")
    if phase and not name:
        raise click.UsageError("--phase needs --campaign")
    if name:
        s = statistics.for_campaign(db, name, phase, start, end, today=day)
    else:
        end = end or takedowns.today_in_china()
        period = Period(start or end - timedelta(days=29), end)
        if period.start > period.end:
            raise campaigns.CampaignError(f"--from {period.start} is after --to {period.end}")
        s = statistics.compute(db, period, today=day)
    if as_json:
        echo(json.dumps(dataclasses.asdict(s), ensure_ascii=False, default=_jsonable, indent=1))
        return
    _print(s, by)


COMMANDS = [campaign, stats]
