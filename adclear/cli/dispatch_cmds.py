"""adclear dispatch create|list|show|approve|notice|send|handover: takedowns sent in batches (交办单)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import click

from adclear.cli import Config
from adclear.cli.accounts import acting_account
from adclear.cli.term import echo, fit
from core.timeutil import local
from review import delivery, dispatch, takedowns
from review.dispatch import Office
from review.workdays import check_given_deadline, today_china

__all__ = ["COMMANDS"]

STATE_CHOICES = click.Choice(list(dispatch.BATCH_STATES))


def office(cfg: Config) -> Office:
    """The issuing office: seeds.yml's operator (its code goes into the 交办单号)."""
    operator = cfg.seeds().operator
    return Office(code=operator.code, name=operator.name, reply_to=operator.contact)


def notices_dir(cfg: Config) -> Path:
    return cfg.db_path.parent / "notices"


def setup(cfg: Config) -> dispatch.Setup:
    """What dispatching needs: receivers.yml, the office, where notices go, the browser, the mail server."""
    return dispatch.Setup(
        receivers=cfg.receivers(),
        office=office(cfg),
        notices_dir=notices_dir(cfg),
        chromium=cfg.chromium,
        smtp=cfg.smtp(),
        settings=cfg.review_settings(),
    )


def _deadline(value: str | None) -> date | None:
    return None if value is None else check_given_deadline(value, today=today_china())


def _print(batch: dispatch.Batch) -> None:
    echo(
        f"{batch.number}  {fit(batch.receiver, 16)} {batch.state_label}({batch.state})  "
        f"{len(batch.takedown_ids)} takedowns  created by {batch.created_by} {local(batch.created_at)}"
    )


@click.group()
def dispatch_group() -> None:
    """Send requested takedowns to their receivers in batches (交办单): create, approve, send or hand over."""


@dispatch_group.command()
@click.argument("takedown_ids", metavar="[TAKEDOWN]...", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@click.option(
    "--receiver",
    help="A key of receivers.yml: the takedowns named all go to it; without TAKEDOWN, only those routed to it.",
)
@click.option("--as", "actor", help="Your account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def create(cfg: Config, takedown_ids: tuple[int, ...], receiver: str | None, actor: str | None) -> None:
    """Draft one 交办单 per receiver of the requested takedowns (default: every one not yet in a batch)."""
    db = cfg.db()
    made = dispatch.create(
        db, setup(cfg), actor=acting_account(db, actor), takedown_ids=takedown_ids, receiver=receiver
    )
    for batch in made:
        _print(batch)
    echo("next: a supervisor who confirmed none of these ads approves each (`adclear dispatch approve NUMBER`)")


@dispatch_group.command("list")
@click.option("--state", type=STATE_CHOICES, help="Only batches in this state.")
@click.pass_obj
def list_(cfg: Config, state: str | None) -> None:
    """Dispatch batches, newest first."""
    rows = dispatch.listing(cfg.db(), state=state)
    if not rows:
        echo("no dispatch batches" + (" like that" if state else " yet"))
    for batch in rows:
        _print(batch)


@dispatch_group.command()
@click.argument("batch")
@click.pass_obj
def show(cfg: Config, batch: str) -> None:
    """A batch (id or 交办单号): its state, delivery and takedowns."""
    db = cfg.db()
    found = dispatch.get(db, batch)
    _print(found)
    if found.approved_by:
        echo(f"approved by {found.approved_by} {local(found.approved_at)}")
    if found.delivery:
        echo(f"delivery: {found.delivery} {found.delivery_detail or ''} {local(found.delivered_at)}".rstrip())
    if found.notice_sha256:
        echo(f"notice: {found.notice_file} sha256 {found.notice_sha256}")
    for takedown_id in found.takedown_ids:
        t = takedowns.get(db, takedown_id)
        echo(f"  takedown {t.id:>5}  ad {t.ad_id:>6}  {t.state_label}  deadline {t.deadline or '-'}")


@dispatch_group.command()
@click.argument("batch")
@click.option("--as", "actor", help="A supervisor's account who confirmed none of the batch's ads.")
@click.pass_obj
def approve(cfg: Config, batch: str, actor: str | None) -> None:
    """Approve a draft batch: a supervisor who confirmed none of its ads (four eyes)."""
    db = cfg.db()
    done = dispatch.approve(
        db, batch, supervisor=acting_account(db, actor, "supervisor"), settings=cfg.review_settings()
    )
    _print(done)


@dispatch_group.command()
@click.argument("batch")
@click.option("--reason", required=True, help="Why it is voided (kept in the ledger).")
@click.option("--as", "actor", help="Your account, a supervisor (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def cancel(cfg: Config, batch: str, reason: str, actor: str | None) -> None:
    """作废: void a batch not sent yet (draft, approved or failed); its takedowns can be batched again."""
    db = cfg.db()
    who = acting_account(db, actor, "supervisor")
    _print(dispatch.cancel(db, batch, supervisor=who, reason=reason, settings=cfg.review_settings()))


@dispatch_group.command()
@click.argument("batch")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--deadline", help="The deadline to print, YYYY-MM-DD (default: the receiver's working days from today).")
@click.pass_obj
def notice(cfg: Config, batch: str, out_path: Path, deadline: str | None) -> None:
    """Print a batch's notice to a PDF (to hand over, or to read before sending); records nothing."""
    db = cfg.db()
    found = dispatch.get(db, batch)
    receivers = cfg.receivers()
    printed = delivery.write_notice(
        db, found, receivers.get(found.receiver), office(cfg), notices_dir=notices_dir(cfg) / "drafts",
        chromium=cfg.chromium, today=today_china(), deadline=_deadline(deadline), calendar=receivers.calendar,
    )  # fmt: skip
    shutil.copyfile(printed.path, out_path)
    echo(f"{out_path}: {found.number}, deadline {printed.deadline.isoformat()}, sha256 {printed.sha256}")


@dispatch_group.command()
@click.argument("batch")
@click.option("--deadline", help="Give the deadline by hand, YYYY-MM-DD (default: the receiver's working days).")
@click.option("--as", "actor", help="A supervisor's account.")
@click.pass_obj
def send(cfg: Config, batch: str, deadline: str | None, actor: str | None) -> None:
    """E-mail an approved batch's notice (PDF attached) through $ADCLEAR_SMTP_HOST; a failure is recorded and the
    batch can be sent again."""
    db = cfg.db()
    done = delivery.send(
        db, batch, setup(cfg), actor=acting_account(db, actor, "supervisor"), deadline=_deadline(deadline)
    )
    _print(done)
    echo(f"sent: {done.delivery_detail}; deadline {takedowns.get(db, done.takedown_ids[0]).deadline}")


@dispatch_group.command()
@click.argument("batch")
@click.option("--to", "to", required=True, help="Who received the notice (name, unit).")
@click.option("--note", default="", help="A note for the ledger (how, where).")
@click.option("--deadline", help="Give the deadline by hand, YYYY-MM-DD (default: the receiver's working days).")
@click.option("--as", "actor", help="A supervisor's account.")
@click.pass_obj
def handover(cfg: Config, batch: str, to: str, note: str, deadline: str | None, actor: str | None) -> None:
    """Record that an approved batch's notice was handed over by hand (the PDF is printed and kept)."""
    db = cfg.db()
    done = delivery.handover(
        db, batch, setup(cfg), to=to, note=note, actor=acting_account(db, actor, "supervisor"),
        deadline=_deadline(deadline),
    )  # fmt: skip
    _print(done)
    echo(f"handed over to {to}; notice {notices_dir(cfg).parent / (done.notice_file or '')}")


dispatch_group.name = "dispatch"
COMMANDS = [dispatch_group]
