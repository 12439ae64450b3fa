"""adclear report: a campaign's statistics as an XLSX workbook, a Word 工作简报/工作总结 or an HTML page
(docs/reports.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from adclear.cli import Config
from adclear.cli.export_cmds import office_of
from adclear.cli.term import echo
from review import campaigns, reports, statistics, takedowns

__all__ = ["COMMANDS"]


@click.command()
@click.option("--campaign", "name", required=True, help="The campaign (see `adclear campaign list`).")
@click.option("--phase", help="Only this phase of the campaign (部署落实, 排查整治, 督导总结 …).")
@click.option("--from", "first", metavar="YYYY-MM-DD", help="First day (default: the campaign's or phase's).")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Last day, included (default: the campaign's or phase's).")
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), required=True, help="The report's file format.")
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (default: TITLE_FROM_TO.FORMAT in the current directory).",
)
@click.option(
    "--fonts",
    type=click.Choice(reports.FONTS),
    default="gongwen",
    show_default=True,
    help="The Word document's fonts: gongwen (方正小标宋简体, 仿宋_GB2312, 黑体: what offices have) or noto "
    "(Noto CJK, for machines without them).",
)
@click.option("--today", metavar="YYYY-MM-DD", help="The report's date, and the day overdue is counted on.")
@click.pass_obj
def report(
    cfg: Config, name: str, phase: str | None, first: str | None, last: str | None, fmt: str,
    out_path: Path | None, fonts: str, today: str | None,
) -> None:  # fmt: skip
    """Write a campaign's report: its figures (量化统计), tables and charts, as xlsx, docx or html."""
    db = cfg.db()
    start = None if first is None else campaigns.parse_day(first, "--from")
    end = None if last is None else campaigns.parse_day(last, "--to")
    day = takedowns.today_in_china() if today is None else campaigns.parse_day(today, "--today")
    stats = statistics.for_campaign(db, name, phase, start, end, today=day)
    if not stats.office:
        stats = dataclasses.replace(stats, office=office_of(cfg).name)
    path = out_path or Path(reports.default_name(stats, fmt))
    whole = phase is None and first is None and last is None
    reports.write(stats, path, fmt, today=day, fonts=fonts, whole=whole)
    t = stats.totals
    echo(
        f"{stats.title} ({stats.period.label()}): {t['sightings']} sightings, {t['flagged']} flagged, "
        f"{t['confirmed']} confirmed, {t['takedowns_removed']} removed, {t['takedowns_overdue']} overdue → {path}"
    )
    if not any(t.values()):
        echo("note: nothing was recorded in this period and scope; the report says so with zeros")


COMMANDS = [report]
