"""adclear takedown list|show|feedback|close|correct|rebuild: a takedown's life after the confirmation."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import click

from adclear.cli import ID, Config
from adclear.cli.accounts import acting_account
from adclear.cli.term import echo, fit
from core.errors import AdclearError
from core.timeutil import local, parse_local
from review import attachments, dispatch, takedowns

__all__ = ["COMMANDS"]

STATE_CHOICES = click.Choice(["open", *takedowns.STATES])
BRIEF = ("number", "receiver", "deadline", "result", "detail", "note", "new_ad_id", "field", "new")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AdclearError(f"--today must be a date YYYY-MM-DD, not {value!r}") from None


@click.group()
def takedown() -> None:
    """Takedowns after a confirmation: list them (overdue first), record feedback, close, correct."""


@takedown.command("list")
@click.option("--state", type=STATE_CHOICES, help="Only this state ('open': any state not closed or cancelled).")
@click.option("--receiver", help="Only those dispatched to this receiver (a key of receivers.yml).")
@click.option("--overdue", is_flag=True, help="Only those still open after their deadline.")
@click.option("--reappeared", is_flag=True, help="Only those whose ad was found again (a near-duplicate).")
@click.option("--today", help="Count overdue as of this day, YYYY-MM-DD (default: today in China).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
@click.pass_obj
def list_(
    cfg: Config, state: str | None, receiver: str | None, overdue: bool, reappeared: bool, today: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Takedowns, overdue first, then by deadline."""
    day = _day(today) or takedowns.today_in_china()
    db = cfg.db()
    rows = takedowns.listing(
        db, state=state, receiver=receiver, overdue=True if overdue else None,
        reappeared=True if reappeared else None, today=day,
    )  # fmt: skip
    if as_json:
        for t in rows:
            echo(json.dumps({**asdict(t), "overdue": t.overdue(day)}, ensure_ascii=False))
        return
    if not rows:
        echo("no takedowns" + (" like that" if state or receiver or overdue or reappeared else " yet"))
        return
    in_batch = dispatch.waiting(db)  # a requested takedown waiting in a batch not sent yet shows that batch
    echo(f"{'id':>5}  {'ad':>6}  {'state':<10} {'receiver':<16} {'deadline':<10}  {'number':<24} flags")
    for t in rows:
        flags = " ".join(f for f, on in (("逾期", t.overdue(day)), ("再现", t.reappeared_at)) if on)
        if t.id in in_batch:
            number, batch_receiver = in_batch[t.id]
            t = replace(t, number=number, receiver=t.receiver or batch_receiver)
            flags = " ".join(filter(None, [flags, "交办单待发"]))
        echo(
            f"{t.id:>5}  {t.ad_id:>6}  {fit(t.state_label, 10)} {fit(t.receiver or '-', 16)} "
            f"{t.deadline or '-':<10}  {fit(t.number or '-', 24)} {flags}"
        )


@takedown.command()
@click.argument("takedown_id", type=ID)
@click.pass_obj
def show(cfg: Config, takedown_id: int) -> None:
    """A takedown's state and its whole history from the ledger."""
    db = cfg.db()
    t = takedowns.get(db, takedown_id)
    echo(f"takedown {t.id} of ad {t.ad_id}: {t.state_label} ({t.state})" + ("  逾期 overdue" if t.overdue() else ""))
    for label, value in (
        ("receiver", t.receiver), ("number", t.number), ("deadline", t.deadline),
        ("feedback", t.feedback_result and f"{t.feedback_result} ({t.feedback_by}, {local(t.feedback_at)})"),
        ("re-checked", t.check_result and f"{t.check_result} at {local(t.checked_at)}"),
        ("reappeared", t.reappeared_ad_id and f"as ad {t.reappeared_ad_id} at {local(t.reappeared_at)}"),
    ):  # fmt: skip
        if value:
            echo(f"  {label:<11} {value}")
    echo("history:")
    for e in takedowns.history(db, t.id):
        brief = {
            k: v for k, v in e.payload.items() if k in ("number", "receiver", "deadline", "result", "detail", "note")
        }
        echo(f"  #{e.seq:<6} {local(e.at)}  {e.actor:<12} {e.action:<20} {json.dumps(brief, ensure_ascii=False)}")


@takedown.command()
@click.argument("takedown_id", type=ID)
@click.option("--result", required=True, help="反馈结果: what the receiver answered, in its words.")
@click.option("--by", "by", required=True, help="反馈人: who answered (name and unit).")
@click.option("--at", "at", help="反馈时间, China time (YYYY-MM-DD HH:MM; default now).")
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file that came with the answer (kept beside the database; its SHA-256 in the ledger).",
)
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def feedback(
    cfg: Config, takedown_id: int, result: str, by: str, at: str | None, attach: tuple[Path, ...], actor: str | None
) -> None:
    """Record the receiver's answer (反馈) to a dispatched takedown."""
    db = cfg.db()
    stamp = None
    if at is not None:
        stamp = parse_local(at)
        if stamp is None:
            raise AdclearError(f"--at must be a China time like 2027-01-08 15:30, not {at!r}")
    who = acting_account(db, actor)
    files = [attachments.store_attachment(db, p.name, p.read_bytes()) for p in attach]
    entry = takedowns.record_feedback(
        db, takedown_id, result=result, by=by, at=stamp, attachments=files, actor=who,
        settings=cfg.review_settings(),
    )  # fmt: skip
    echo(f"takedown {takedown_id}: feedback recorded (ledger entry {entry.seq})")


@takedown.command()
@click.argument("takedown_id", type=ID)
@click.option("--note", default="", help="Why, when it is not verified removed (required then).")
@click.option("--as", "actor", help="Your account, a supervisor (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def close(cfg: Config, takedown_id: int, note: str, actor: str | None) -> None:
    """办结: close a takedown (verified removed, or with a note saying why)."""
    db = cfg.db()
    who = acting_account(db, actor, "supervisor")
    entry = takedowns.close(db, takedown_id, actor=who, note=note, settings=cfg.review_settings())
    echo(f"takedown {takedown_id}: closed (ledger entry {entry.seq})")


@takedown.command()
@click.argument("takedown_id", type=ID)
@click.option("--field", type=click.Choice(takedowns.CORRECTABLE), required=True, help="What was recorded wrongly.")
@click.option("--value", required=True, help="The right value (a deadline as YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why it is corrected.")
@click.option("--as", "actor", help="Your account, a supervisor (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def correct(cfg: Config, takedown_id: int, field: str, value: str, reason: str, actor: str | None) -> None:
    """更正: correct a value by an entry of its own (the wrong one stays in the ledger)."""
    db = cfg.db()
    who = acting_account(db, actor, "supervisor")
    entry = takedowns.correct(
        db, takedown_id, field=field, value=value, reason=reason, actor=who, settings=cfg.review_settings()
    )
    echo(f"takedown {takedown_id}: {field} corrected (ledger entry {entry.seq})")


@takedown.command()
@click.option("--as", "actor", help="Your account, an admin (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def rebuild(cfg: Config, actor: str | None) -> None:
    """Recompute every takedown's state from the ledger alone (after a restore, or a table edited by hand)."""
    db = cfg.db()
    acting_account(db, actor, "admin")
    echo(f"{takedowns.rebuild(db)} takedowns recomputed from the ledger")


COMMANDS = [takedown]
