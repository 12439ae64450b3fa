"""adclear tip: public tips (举报线索): enter, fetch, list, show, verify, answer, close, export the tips ledger."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from adclear.cli import Config
from adclear.cli.accounts import acting_account
from adclear.cli.dispatch_cmds import office
from adclear.cli.export_cmds import office_of
from adclear.cli.term import echo, fit
from adclear.crawl import log_file_for
from adclear.tips import FETCH_ACTOR, check_allowances, fetch_tip, web_setup
from core.errors import AdclearError
from core.timeutil import local, parse_local
from review import tips, tips_export

__all__ = ["COMMANDS", "tips_setup"]

STATE_CHOICES = click.Choice(list(tips.STATES))
ALLOW_HELP = (
    "An address that is not public (10.20.0.0/16, or one server http://127.0.0.1:8731) the URL may reach "
    "(repeatable; also $ADCLEAR_TIP_ALLOW_ADDRESSES). Private, loopback, link-local and multicast addresses "
    "are refused otherwise."
)


class TipNotFetched(AdclearError):
    """The tip was recorded, its URL was not fetched."""


def tips_setup(cfg: Config) -> tips.Setup:
    """The web app's tips setup: seeds.yml's office and sites, the allowed ranges, the crawl's resolver."""
    return web_setup(
        cfg.seeds(), office(cfg), db_path=cfg.db_path, seeds_path=cfg.seeds_path, allow=_allow(cfg, ()),
        overrides=cfg.crawl_overrides(),
    )  # fmt: skip


@click.group()
def tip() -> None:
    """Public tips (举报线索): enter, fetch their URL, verify, answer the tipster, close, export the ledger."""


def _allow(cfg: Config, given: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return check_allowances([*cfg.tip_allowances, *given])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--allow-address") from None


def _fetch(cfg: Config, ref: str, allow: tuple[str, ...], verbose: bool, actor: str) -> tips.Tip:
    logging.raiseExceptions = False
    log_file = None if verbose else log_file_for(cfg.db_path)
    found = fetch_tip(
        cfg.db(), cfg.seeds(), ref, db_path=cfg.db_path, seeds_path=cfg.seeds_path, allow=allow,
        overrides=cfg.crawl_overrides(), log_file=log_file, actor=actor, settings=cfg.review_settings(),
    )  # fmt: skip
    if found.fetch_outcome == "fetched":
        echo(f"{found.number}: fetched, archived and classified as ad {found.ad_id}, queued first for review")
        return found
    raise TipNotFetched(f"{found.number}: the URL was not fetched ({found.fetch_label}): {found.fetch_detail}")


@tip.command()
@click.option("--channel", type=click.Choice(list(tips.CHANNELS)), required=True, help="How the tip came in.")
@click.option("--summary", required=True, help="What was reported (线索内容).")
@click.option("--url", help="The web address reported, if any (http or https): fetched safely unless --no-fetch.")
@click.option("--region", default="", help="The area it concerns.")
@click.option("--name", "name", default="", help="The tipster's name (confidential: supervisors see it).")
@click.option("--phone", default="", help="The tipster's phone (confidential).")
@click.option("--other", default="", help="Another way to reach the tipster (confidential).")
@click.option("--received-at", help="When it came in, China time (YYYY-MM-DD HH:MM; default now).")
@click.option(
    "--attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A screenshot, photo or letter that came with it (repeatable; kept under its SHA-256).",
)  # fmt: skip
@click.option("--no-fetch", is_flag=True, help="Record it only; fetch the URL later with `adclear tip fetch`.")
@click.option("--allow-address", "allow", multiple=True, help=ALLOW_HELP)
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log here instead of in a file under logs/.")
@click.pass_obj
def add(
    cfg: Config, channel: str, summary: str, url: str | None, region: str, name: str, phone: str, other: str,
    received_at: str | None, attach: tuple[Path, ...], no_fetch: bool, allow: tuple[str, ...], actor: str | None,
    verbose: bool,
) -> None:  # fmt: skip
    """受理: record a tip (a 线索编号 per office and year), then fetch its URL: archived, classified, queued first.

    Exits 1 when the URL was refused (an address that is not public, a scheme other than http/https) or could
    not be fetched; the tip stays recorded with the reason.
    """
    stamp = None
    if received_at is not None:
        stamp = parse_local(received_at)
        if stamp is None:
            raise AdclearError(f"--received-at must be a China time like 2027-01-08 15:30, not {received_at!r}")
    allowed = _allow(cfg, allow)
    db = cfg.db()
    who = acting_account(db, actor)
    made = tips.add(
        db, office(cfg), channel=channel, summary=summary, url=url, region=region, tipster_name=name,
        tipster_phone=phone, tipster_other=other, received_at=stamp, actor=who,
        files=[(p.name, p.read_bytes()) for p in attach], settings=cfg.review_settings(),
    )  # fmt: skip
    echo(f"{made.number}: received (tip {made.id})")
    if made.url and not no_fetch:
        _fetch(cfg, str(made.id), allowed, verbose, who)


@tip.command()
@click.argument("ref")
@click.option("--allow-address", "allow", multiple=True, help=ALLOW_HELP)
@click.option("--as", "actor", help="Record the fetch as this account (default: adclear-tip, the machine).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log here instead of in a file under logs/.")
@click.pass_obj
def fetch(cfg: Config, ref: str, allow: tuple[str, ...], actor: str | None, verbose: bool) -> None:
    """Fetch a tip's URL (again): REF is its id or its 线索编号. Exits 1 when it was refused or failed."""
    who = acting_account(cfg.db(), actor) if actor else FETCH_ACTOR
    _fetch(cfg, ref, _allow(cfg, allow), verbose, who)


@tip.command("list")
@click.option("--state", type=STATE_CHOICES, help="Only this state.")
@click.option("--open", "open_only", is_flag=True, help="Only those not closed.")
@click.pass_obj
def list_(cfg: Config, state: str | None, open_only: bool) -> None:
    """Tips, newest first (the tipster never shown here)."""
    rows = tips.listing(cfg.db(), state=state, open_only=open_only)
    if not rows:
        echo("no tips" + (" like that" if state or open_only else " yet"))
        return
    echo(f"{'id':>4}  {'number':<22} {'received':<16} {'channel':<8} {'state':<12} {'ad':>6}  summary")
    for t in rows:
        echo(
            f"{t.id:>4}  {fit(t.number, 22)} {local(t.received_at):<16} {fit(t.channel_label, 8)} "
            f"{fit(t.state_label, 12)} {t.ad_id or '-':>6}  {fit(t.summary, 40)}"
        )


@tip.command()
@click.argument("ref")
@click.option("--reveal", is_flag=True, help="Show the tipster in full (supervisors and admins; audited).")
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def show(cfg: Config, ref: str, reveal: bool, actor: str | None) -> None:
    """A tip, the tipster masked (张* 138****5678) unless --reveal, and its steps from the ledger."""
    db = cfg.db()
    t = tips.get(db, ref)
    person = tips.reveal(db, t, actor=acting_account(db, actor, "supervisor")) if reveal else t.tipster(reveal=False)
    echo(f"{t.number} (tip {t.id}): {t.state_label}")
    for label, value in (
        ("received", local(t.received_at)), ("channel", t.channel_label), ("summary", t.summary), ("url", t.url),
        ("region", t.region), ("tipster", " ".join(v for v in person.values() if v)), ("entered by", t.entered_by),
        ("fetch", t.fetch_outcome and f"{t.fetch_label}: {t.fetch_detail}"), ("ad", t.ad_id),
        ("verified", t.verified_at and f"{local(t.verified_at)} {t.verify_note}"),
        ("feedback", t.feedback_at and f"{local(t.feedback_at)} {t.feedback_text}"), ("closed", local(t.closed_at)),
    ):  # fmt: skip
        if value:
            echo(f"  {label:<11} {value}")
    for a in tips.attachment_list(db, t.id):
        echo(f"  attachment  {a['name']} ({a['size']:,} bytes) sha256 {a['sha256']}")
    echo("history:")
    for e in tips.history(db, t):
        echo(f"  #{e.seq:<6} {local(e.at)}  {e.actor:<12} {e.action}")


@tip.command()
@click.argument("ref")
@click.option("--result", type=click.Choice(tips.RESULTS), help="verified or unfounded (default: its ad's decision).")
@click.option("--note", default="", help="How it was checked (required with --result when no ad was decided).")
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def verify(cfg: Config, ref: str, result: str | None, note: str, actor: str | None) -> None:
    """核查: record whether the tip holds; by default what the reviewers decided on its ad (from the ledger)."""
    db = cfg.db()
    t = tips.verify(db, ref, actor=acting_account(db, actor), result=result, note=note, settings=cfg.review_settings())
    echo(f"{t.number}: {t.state_label}")


@tip.command()
@click.argument("ref")
@click.option("--text", required=True, help="What the tipster was told.")
@click.option("--at", "at", help="When, China time (YYYY-MM-DD HH:MM; default now).")
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def feedback(cfg: Config, ref: str, text: str, at: str | None, actor: str | None) -> None:
    """反馈: record what the tipster was told (the ledger keeps its SHA-256, not the text)."""
    stamp = parse_local(at) if at else None
    if at and stamp is None:
        raise AdclearError(f"--at must be a China time like 2027-01-08 15:30, not {at!r}")
    db = cfg.db()
    t = tips.feedback(db, ref, actor=acting_account(db, actor), text=text, at=stamp, settings=cfg.review_settings())
    echo(f"{t.number}: feedback recorded at {local(t.feedback_at)}")


@tip.command()
@click.argument("ref")
@click.option("--note", default="", help="Why, when the tipster could not be answered (required then).")
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def close(cfg: Config, ref: str, note: str, actor: str | None) -> None:
    """办结: close a verified or unfounded tip whose tipster was answered."""
    db = cfg.db()
    t = tips.close(db, ref, actor=acting_account(db, actor), note=note, settings=cfg.review_settings())
    echo(f"{t.number}: closed ({t.state_label})")


@tip.command()
@click.option("--format", "fmt", type=click.Choice(tips_export.FORMATS), required=True, help="csv or xlsx.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file to write.")
@click.option(
    "--with-identity", "reason", default="",
    help="Include the tipsters' names and phones, for this reason (supervisors; kept in the audit log).",
)  # fmt: skip
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def export(cfg: Config, fmt: str, out: Path, reason: str, actor: str | None) -> None:
    """The tips ledger (举报线索核查台账): 受理, 核查, 处置, 反馈 per tip; the tipster left out unless asked."""
    db = cfg.db()
    who = acting_account(db, actor, "supervisor" if reason.strip() else "reviewer")
    made = tips_export.export(
        db, out, fmt, actor=who, office=office_of(cfg), reveal_reason=reason, settings=cfg.review_settings()
    )
    with_who = "with" if made.identity else "without"
    echo(f"{made.rows} tips written to {out} ({with_who} the tipsters); ledger head {made.checkpoint}")


COMMANDS = [tip]
