"""adclear export: the takedown list a regulator acts on, filtered, as CSV, XLSX or JSON (docs/exports.md)."""

from __future__ import annotations

from pathlib import Path

import click

from adclear.cli import Config
from adclear.cli.accounts import acting_account
from adclear.cli.term import echo
from core.errors import AdclearError
from review import export as exports
from review.export_model import STATE_LABELS, STATE_WORDS

__all__ = ["COMMANDS", "office_of"]


def office_of(cfg: Config) -> exports.Office:
    """The issuing office: seeds.yml's operator (none named when there is no seeds.yml)."""
    if not cfg.seeds_path.exists():
        return exports.Office()
    operator = cfg.seeds().operator
    return exports.Office(name=operator.name, code=operator.code, region=operator.region)


def receiver_names(cfg: Config) -> dict[str, str] | None:
    """Receivers by key → 接收单位 from receivers.yml; None (keys shown) when it cannot be read."""
    try:
        return {key: r.name for key, r in cfg.receivers().receivers.items()}
    except AdclearError:
        return None


@click.command()
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "since", metavar="YYYY-MM-DD", help="Only takedowns confirmed on or after this day (China).")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="Only takedowns confirmed on or before this day (China).")
@click.option("--receiver", help="Only those dispatched to this receiver.")
@click.option("--platform", help="Only the ads on this platform.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([*STATE_WORDS, *STATE_LABELS]),
    help="Only this state (repeatable); 'open': not closed nor cancelled; 'all': cancelled too. "
    "Default: every state but cancelled.",
)
@click.option("--category", help="Only this 涉嫌类型 (see `adclear categories`).")
@click.option("--as", "actor", help="A supervisor's account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def export(
    cfg: Config,
    fmt: str,
    out_path: Path,
    since: str | None,
    until: str | None,
    receiver: str | None,
    platform: str | None,
    states: tuple[str, ...],
    category: str | None,
    actor: str | None,
) -> None:
    """Write the takedown list: one row per takedown; the ledger head and export metadata beside the rows
    (XLSX sheet 导出信息, JSON "metadata", CSV FILE.meta.json)."""
    filters = exports.Filters.of(
        since=since, until=until, receiver=receiver, platform=platform, states=states, category=category
    )
    db = cfg.db()
    who = acting_account(db, actor, "supervisor")
    office = office_of(cfg)
    result = exports.export(
        db, out_path, fmt, filters, actor=who, office=office, settings=cfg.review_settings(),
        receiver_names=receiver_names(cfg),
    )  # fmt: skip
    per = ", ".join(f"{p} {n}" for p, n in result.by_receiver().items()) or "none"
    where = {"csv": f"in {exports.sidecar(out_path)}", "xlsx": "on sheet 导出信息", "json": 'in "metadata"'}[fmt]
    echo(f"{len(result.rows)} takedowns ({per}) → {out_path}")
    echo(f"ledger head {result.meta.checkpoint} and export metadata {where}")


COMMANDS = [export]
