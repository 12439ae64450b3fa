"""Delivery of a batch's notice: printed to PDF, e-mailed (``review.mail``) or handed over by hand, and recorded.

``send`` prints the notice of an approved (or failed) batch and e-mails it to the receiver. A delivery counts only
once the mail server accepted the message: then the ledger gets ``notice_issued`` (to, message id, the PDF's
SHA-256, the deadline) and each of the batch's takedowns ``takedown_dispatched`` with its deadline
(``review.takedowns.dispatched``), in one transaction. A server that cannot be reached or refuses the message is
``delivery_failed``: the batch shows as failed, never as sent, its takedowns stay requested, and it can be sent
again. ``handover`` records that the printed notice was handed over by hand (``handed_over``). The deadline is
the receiver's working days after the day of delivery (``review.workdays``), or given by hand.

A takedown cancelled while its batch waited (its confirmation reversed) is neither printed nor dispatched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from core.db import immediate
from core.timeutil import local, now_utc
from review import audit, ledger, mail, takedowns, users
from review.dispatch import DISPATCHABLE, SENDABLE, Batch, DispatchError, Office, Setup, get
from review.notice import Notice, NoticeItem, render_html, render_pdf
from review.receivers import Receiver
from review.settings import ReviewSettings
from review.workdays import NO_EXTRA_YEARS, WorkCalendar, add_working_days, today_china

__all__ = ["DeliveryFailed", "Printed", "handover", "notice_for", "send", "write_notice"]

DeliveryFailed = mail.DeliveryFailed

# How long a batch may show "sending" before another sender may take it over: a send that takes longer was cut
# off (the process stopped between claiming the batch and recording the outcome). The message may have reached
# the receiver: docs/takedowns.md tells the operator to look in the sender's outbox before sending again.
STALE_SENDING = timedelta(minutes=15)


def notice_for(
    db: sqlite_utils.Database, batch: Batch, receiver: Receiver, office: Office, *, deadline: date, issued: date
) -> Notice:
    """What the batch's notice says, read from the ledger's ``takedown_requested`` and ``confirmed`` entries."""
    items = []
    for takedown_id in batch.takedown_ids:
        found = takedowns.get(db, takedown_id)
        requested = _entry(db, found.requested_seq)
        confirmed = _entry(db, requested.get("confirmed_seq"))
        ad = db.execute("SELECT title, first_seen FROM ads WHERE id = ?", [found.ad_id]).fetchone()
        items.append(
            NoticeItem(
                ad_id=found.ad_id,
                url=str(requested.get("url", "")),
                title=str(confirmed.get("title") or (ad[0] if ad else "")),
                platform=str(requested.get("platform", "")),
                category=str(requested.get("category", "")),
                legal_basis=str(requested.get("legal_basis", "")),
                evidence_sha256=str(requested.get("evidence_sha256", "")),
                first_seen=local(ad[1]) if ad else "",
            )
        )
    head = ledger.head(db)
    return Notice(
        number=batch.number,
        office_name=office.name,
        receiver_name=receiver.name,
        receiver_kind=receiver.kind,
        deadline=deadline,
        deadline_days=receiver.deadline_days,
        issued=issued,
        ledger_seq=head.seq if head else 0,
        ledger_hash=head.hash if head else ledger.GENESIS,
        items=tuple(items),
        contact=receiver.contact,
        reply_to=office.reply_to,
    )


def _entry(db: sqlite_utils.Database, seq: Any) -> dict[str, Any]:
    if not isinstance(seq, int):
        return {}
    row = db.execute("SELECT payload FROM ledger WHERE seq = ?", [seq]).fetchone()
    return json.loads(row[0]) if row else {}


@dataclass(frozen=True)
class Printed:
    path: Path
    sha256: str
    deadline: date
    pdf: bytes


def write_notice(
    db: sqlite_utils.Database,
    batch: Batch,
    receiver: Receiver,
    office: Office,
    *,
    notices_dir: Path,
    chromium: str,
    today: date,
    deadline: date | None = None,
    calendar: WorkCalendar = NO_EXTRA_YEARS,
) -> Printed:
    """Print the batch's notice (deadline: given, else the receiver's working days from ``today``) to
    ``notices_dir``; the file is named after the batch's office, year and serial."""
    due = deadline or add_working_days(today, receiver.deadline_days, calendar)
    pdf = render_pdf(
        render_html(notice_for(db, batch, receiver, office, deadline=due, issued=today)), chromium=chromium
    )
    notices_dir.mkdir(parents=True, exist_ok=True)
    path = notices_dir / f"{batch.year}-{batch.office}-{batch.serial:04d}.pdf"
    path.write_bytes(pdf)
    return Printed(path, hashlib.sha256(pdf).hexdigest(), due, pdf)


def _prepare(
    db: sqlite_utils.Database, batch: int | str, setup: Setup, actor: str, today: date | None, deadline: date | None
) -> tuple[Batch, Receiver, Printed, date]:
    """The batch, checked sendable by a supervisor, and its notice printed (deadline from ``today``)."""
    found = get(db, batch)
    users.require(db, actor, "supervisor")
    _refuse_if_being_sent(found, datetime.now(UTC))  # a claim left by a send cut off long ago may be taken over
    if found.state not in (*SENDABLE, "sending"):
        hint = " (approve it first: `adclear dispatch approve`)" if found.state == "draft" else ""
        raise DispatchError(
            f"the batch {found.number} is {found.state_label}: it cannot be sent{hint}",
            zh=f"交办单 {found.number} 当前为“{found.state_label}”，不能发送"
            + ("：请先审批" if found.state == "draft" else ""),
        )
    receiver = setup.receivers.get(found.receiver)
    found = _still_requested(db, found)
    if not found.takedown_ids:
        raise DispatchError(
            f"every takedown of {found.number} was cancelled since (its confirmation reversed): nothing to send",
            zh=f"交办单 {found.number} 中的处置均已撤销（确认已被更正），无需发送",
        )
    day = today or today_china()
    printed = write_notice(
        db, found, receiver, setup.office, notices_dir=setup.notices_dir, chromium=setup.chromium, today=day,
        deadline=deadline, calendar=setup.receivers.calendar,
    )  # fmt: skip
    return found, receiver, printed, day


def _still_requested(db: sqlite_utils.Database, batch: Batch) -> Batch:
    """The batch with only its takedowns still to dispatch (a reversed confirmation cancels its takedown, a
    re-check may have found one removed meanwhile: neither is printed nor dispatched)."""
    live = [takedowns.get(db, i) for i in batch.takedown_ids]
    live = [t for t in live if t.state in DISPATCHABLE]
    return replace(batch, takedown_ids=tuple(t.id for t in live), ad_ids=tuple(t.ad_id for t in live))


def send(
    db: sqlite_utils.Database,
    batch: int | str,
    setup: Setup,
    *,
    actor: str,
    today: date | None = None,
    deadline: date | None = None,
    address: str = "cli",
) -> Batch:
    """Print and e-mail the notice of an approved (or failed) batch. Delivered: ``notice_issued`` and its
    takedowns dispatched with their deadline. Refused by the server: ``delivery_failed``, the batch ``failed``,
    its takedowns still requested, and ``DeliveryFailed`` raised once that is recorded."""
    receiver = setup.receivers.get(get(db, batch).receiver)
    if not receiver.email:
        raise DispatchError(
            f"{receiver.name} has no e-mail in {setup.receivers.path}: print the notice (`adclear dispatch notice`), "
            "hand it over and record it (`adclear dispatch handover`)",
            zh=f"{receiver.name} 未登记电子邮箱：请打印交办通知书，线下送达后登记",
        )
    if setup.smtp is None:
        raise DispatchError(
            "no mail server is configured ($ADCLEAR_SMTP_HOST and $ADCLEAR_SMTP_FROM, docs/receivers.md): configure "
            "one, or hand the notice over and record it (`adclear dispatch handover`)",
            zh="未配置邮件服务器：请管理员配置，或打印交办通知书线下送达后登记",
        )
    found, receiver, printed, day = _prepare(db, batch, setup, actor, today, deadline)
    _claim_sending(db, found, actor)  # one sender at a time: two supervisors clicking at once send one e-mail
    try:
        message_id = mail.send(
            setup.smtp,
            to=receiver.email,
            subject=f"{'删除通知' if receiver.kind == 'platform' else '交办通知书'} {found.number}",
            body=_cover(found, receiver, setup.office, printed.deadline),
            attachments=(mail.Attachment(f"{found.number}.pdf", printed.pdf, "application/pdf"),),
        )
    except mail.DeliveryFailed as e:
        _failed(db, found, actor, receiver, str(e), printed.sha256, address, setup.settings)
        raise
    detail = {"to": receiver.email, "message_id": message_id}
    return _delivered(db, found, actor, "email", message_id, detail, printed, address, setup.settings, day)


def _claim_sending(db: sqlite_utils.Database, batch: Batch, actor: str) -> None:
    """Mark the batch as being sent by ``actor``, or refuse: another sender holds it (a claim older than
    ``STALE_SENDING`` was left by a process that stopped mid-send and may be taken over), or it went out."""
    now = datetime.now(UTC)
    with immediate(db):
        current = get(db, batch.id)
        _refuse_if_being_sent(current, now)
        if current.state not in (*SENDABLE, "sending"):
            raise _already(batch, current)
        db.execute(
            "UPDATE dispatch_batches SET state = 'sending', delivery = 'email', delivery_detail = ? WHERE id = ?",
            [f"{actor} {now.isoformat(timespec='microseconds')}", batch.id],
        )


def _refuse_if_being_sent(batch: Batch, now: datetime) -> None:
    """Refuse while another sender's claim is fresh; a stale one (``STALE_SENDING``) may be taken over."""
    if batch.state != "sending":
        return
    who, _, since = (batch.delivery_detail or "").partition(" ")
    started = _parse_time(since)
    if started is None or now - started < STALE_SENDING:
        raise DispatchError(
            f"the batch {batch.number} is being sent by {who or 'another operator'} since "
            f"{local(since) if started else '?'}: wait for it, then look at its state",
            zh=(
                f"交办单 {batch.number} 正由 {who or '其他人员'} 发送（"
                f"自 {local(since) if started else '?'} 起）：请稍候再查看其状态"
            ),
        )


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _cover(batch: Batch, receiver: Receiver, office: Office, deadline: date) -> str:
    return (
        f"{receiver.name}：\n\n"
        f"现将{office.name}{batch.number}号通知发送你单位（见附件 PDF，共 {len(batch.takedown_ids)} 条）。"
        f"请于 {deadline.year}年{deadline.month}月{deadline.day}日 前处理完毕并反馈处理结果。\n\n"
        f"{office.name}\n"
    )


def _failed(
    db: sqlite_utils.Database,
    batch: Batch,
    actor: str,
    receiver: Receiver,
    error: str,
    sha256: str,
    address: str,
    settings: ReviewSettings | None,
) -> None:
    with takedowns.writing(db, settings):
        db.execute(
            "UPDATE dispatch_batches SET state = 'failed', delivery = 'email', delivery_detail = ? WHERE id = ?",
            [error, batch.id],
        )
        payload = {"number": batch.number, "to": receiver.email, "error": error, "notice_sha256": sha256}
        ledger.append(db, actor=actor, action="delivery_failed", ad_id=None, payload=payload)
        audit.record(
            db, actor=actor, action="dispatch_failed", target=f"batch:{batch.number}", detail=payload, address=address
        )


def _already(batch: Batch, current: Batch) -> DispatchError:
    """Another operator delivered the batch meanwhile."""
    return DispatchError(
        f"the batch {batch.number} is already {current.state_label}",
        zh=f"交办单 {batch.number} 已为“{current.state_label}”",
    )


def _delivered(
    db: sqlite_utils.Database,
    batch: Batch,
    actor: str,
    how: str,
    detail_text: str,
    detail: dict[str, Any],
    printed: Printed,
    address: str,
    settings: ReviewSettings | None,
    today: date,
) -> Batch:
    """Record a delivery: the batch's entry, its takedowns dispatched with their deadline, the batch delivered."""
    with takedowns.writing(db, settings):
        current = get(db, batch.id)
        if current.state not in (*SENDABLE, "sending"):  # another operator delivered it meanwhile
            raise _already(batch, current)
        action = "notice_issued" if how == "email" else "handed_over"
        live = _still_requested(db, batch).takedown_ids  # one reversed while the notice went out stays cancelled
        payload = {
            "number": batch.number,
            **detail,
            "notice_sha256": printed.sha256,
            "deadline": printed.deadline.isoformat(),
            "takedowns": list(live),
        }
        ledger.append(db, actor=actor, action=action, ad_id=None, payload=payload)
        takedowns.dispatched(
            db,
            list(live),
            batch_id=batch.id,
            number=batch.number,
            receiver=batch.receiver,
            deadline=printed.deadline.isoformat(),
            actor=actor,
            today=today,
        )
        db.execute(
            "UPDATE dispatch_batches SET state = ?, delivered_at = ?, delivery = ?, delivery_detail = ?, "
            "notice_sha256 = ?, notice_file = ? WHERE id = ?",
            [
                "delivered" if how == "email" else "handed_over",
                now_utc(),
                how,
                detail_text,
                printed.sha256,
                f"{printed.path.parent.name}/{printed.path.name}",
                batch.id,
            ],
        )
        audit.record(
            db,
            actor=actor,
            action=f"dispatch_{action}",
            target=f"batch:{batch.number}",
            detail=payload,
            address=address,
        )
    return get(db, batch.id)


def handover(
    db: sqlite_utils.Database,
    batch: int | str,
    setup: Setup,
    *,
    to: str,
    note: str = "",
    actor: str,
    today: date | None = None,
    deadline: date | None = None,
    address: str = "cli",
) -> Batch:
    """Record that the notice (printed now, its digest kept) was handed to ``to`` by hand; the deadline runs
    from today."""
    to = to.strip()
    if not to:
        raise DispatchError("say who received the notice (--to NAME)", zh="请填写通知书的接收人")
    found, _, printed, day = _prepare(db, batch, setup, actor, today, deadline)
    detail = {"to": to, "note": note.strip()}
    return _delivered(db, found, actor, "hand", to, detail, printed, address, setup.settings, day)
