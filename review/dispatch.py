"""Dispatch (交办) in batches: one 交办单 per receiver, approved by a second pair of eyes, then delivered.

A batch's life: ``create`` groups requested takedowns by the receiver receivers.yml routes them to and gives each
group a 交办单号 (``〔2026〕SFX交字第0001号``: the office code, the year in China, a serial per office and year
allocated inside the write transaction, unique in the table) → ``approve`` by a supervisor who confirmed none of
its ads (four-eyes, checked here, not in the page) → ``send`` (the notice printed to PDF and e-mailed) or
``handover`` (given by hand, the handover recorded). Only then are its takedowns dispatched, each with its
deadline (N working days after delivery, ``review.workdays``). A batch whose e-mail the server did not accept is
``failed``, never sent: its takedowns stay requested, and it may be sent again or handed over.

Every step is a ledger entry (``batch_created``, ``approved``, ``notice_issued`` or ``delivery_failed`` or
``handed_over``, and ``takedown_dispatched`` per ad through ``review.takedowns.dispatched``); the batch's members
are those its ``batch_created`` entry names, so the ledger alone says what each 交办单 held.

This module makes and approves batches; ``review.delivery`` prints their notices and delivers them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import AdclearError, zh_of
from core.timeutil import now_utc
from review import audit, ledger, takedowns, users
from review.mail import SmtpSettings
from review.notice import DEFAULT_CHROMIUM
from review.receivers import Receiver, Receivers
from review.settings import ReviewSettings
from review.workdays import today_china

__all__ = [
    "BATCH_STATES",
    "DISPATCHABLE",
    "cancel",
    "waiting",
    "OPEN_BATCH_STATES",
    "Batch",
    "Row",
    "DispatchError",
    "FourEyes",
    "Office",
    "Setup",
    "approve",
    "batch_number",
    "check_office",
    "next_serial",
    "create",
    "get",
    "listing",
    "overview",
]

BATCH_STATES = {
    "draft": "待审核",
    "approved": "已审核",
    "delivered": "已送达",
    "failed": "发送失败",
    "sending": "发送中",
    "handed_over": "已移交",
    "cancelled": "已作废",
}
OPEN_BATCH_STATES = ("draft", "approved", "failed", "sending")  # its takedowns are spoken for
SENDABLE = ("approved", "failed")  # may be sent (again) or handed over
# takedowns a batch may carry: requested ones, and, named one by one, those a re-check found still online after
# their dispatch (再次交办: to the same receiver again, or to another, e.g. the department over the platform)
DISPATCHABLE = ("requested", "online")


class DispatchError(AdclearError):
    """A batch that cannot be created, approved, sent or handed over."""


class FourEyes(DispatchError):
    """The approver confirmed one of the batch's ads (or is no supervisor)."""


@dataclass(frozen=True)
class Office:
    """Who issues the notices: ``code`` (ASCII, in the 交办单号) and ``name`` (printed)."""

    code: str
    name: str
    reply_to: str = ""


@dataclass(frozen=True)
class Setup:
    """What dispatching needs from the deployment, passed down by the command line or the web app."""

    receivers: Receivers
    office: Office
    notices_dir: Path  # where printed notices are kept (beside the database)
    chromium: str = DEFAULT_CHROMIUM
    smtp: SmtpSettings | None = None  # None: notices are handed over by hand
    settings: ReviewSettings | None = None


@dataclass(frozen=True)
class Batch:
    id: int
    number: str
    office: str
    year: int
    serial: int
    receiver: str
    state: str
    created_by: str
    created_at: str
    approved_by: str | None
    approved_at: str | None
    delivered_at: str | None
    delivery: str | None
    delivery_detail: str | None
    notice_sha256: str | None
    notice_file: str | None
    takedown_ids: tuple[int, ...] = ()
    ad_ids: tuple[int, ...] = ()

    @property
    def state_label(self) -> str:
        return BATCH_STATES.get(self.state, self.state)


_COLUMNS = (
    "id, number, office, year, serial, receiver, state, created_by, created_at, approved_by, approved_at, "
    "delivered_at, delivery, delivery_detail, notice_sha256, notice_file"
)


def batch_number(office: str, year: int, serial: int) -> str:
    """``〔2026〕SFX交字第0001号``."""
    return f"〔{year}〕{office}交字第{serial:04d}号"


def _members(db: sqlite_utils.Database, number: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The takedowns and ads the batch's ``batch_created`` entry names."""
    row = db.execute(
        "SELECT payload FROM ledger WHERE action = 'batch_created' AND json_extract(payload, '$.number') = ? "
        "ORDER BY seq LIMIT 1",
        [number],
    ).fetchone()
    if row is None:
        return (), ()
    payload = json.loads(row[0])
    return tuple(payload.get("takedowns", ())), tuple(payload.get("ads", ()))


def _batch(db: sqlite_utils.Database, row: Any) -> Batch:
    batch = Batch(*row)
    takedown_ids, ad_ids = _members(db, batch.number)
    return replace(batch, takedown_ids=takedown_ids, ad_ids=ad_ids)


def get(db: sqlite_utils.Database, batch: int | str) -> Batch:
    """A batch by id or by 交办单号; ``DispatchError`` when there is none."""
    column = "id" if isinstance(batch, int) or str(batch).isdigit() else "number"
    row = db.execute(f"SELECT {_COLUMNS} FROM dispatch_batches WHERE {column} = ?", [batch]).fetchone()
    if row is None:
        raise DispatchError(
            f"no dispatch batch {batch}: `adclear dispatch list` shows them", zh=f"没有编号为 {batch} 的交办单"
        )
    return _batch(db, row)


def listing(db: sqlite_utils.Database, *, state: str | None = None, limit: int = 200) -> list[Batch]:
    """Batches newest first, optionally in one state."""
    where, args = ("WHERE state = ?", [state]) if state else ("", [])
    rows = db.execute(f"SELECT {_COLUMNS} FROM dispatch_batches {where} ORDER BY id DESC LIMIT ?", [*args, limit])
    return [_batch(db, r) for r in rows.fetchall()]


def waiting(db: sqlite_utils.Database) -> dict[int, tuple[str, str]]:
    """Takedowns waiting in a batch not sent yet (draft, approved or failed): takedown id → (交办单号, the
    batch's receiver)."""
    marks = ",".join("?" * len(OPEN_BATCH_STATES))
    out: dict[int, tuple[str, str]] = {}
    query = f"SELECT number, receiver FROM dispatch_batches WHERE state IN ({marks})"
    for number, receiver in db.execute(query, OPEN_BATCH_STATES):
        for takedown_id in _members(db, number)[0]:
            out[takedown_id] = (number, receiver)
    return out


def _spoken_for(db: sqlite_utils.Database) -> dict[int, str]:
    """Takedowns already in an open batch: takedown id → 交办单号."""
    return {takedown_id: number for takedown_id, (number, _) in waiting(db).items()}


def _where_ads_are(db: sqlite_utils.Database, ad_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """ad id → (site, platform, region) for routing."""
    marks = ",".join("?" * len(ad_ids))
    rows = db.execute(
        f"SELECT a.id, a.site, a.platform, coalesce(s.region, '') FROM ads a LEFT JOIN sites s ON s.name = a.site "
        f"WHERE a.id IN ({marks})",
        ad_ids,
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@dataclass(frozen=True)
class Row:
    """A takedown as the 处置 page lists it: with its ad's title and where it goes (or would go)."""

    takedown: takedowns.Takedown
    title: str
    url: str
    platform: str
    receiver: str  # the key it went to, or the one routing proposes for a requested one ('' if none)
    receiver_name: str
    in_batch: str  # 交办单号 of the open batch holding a requested one ('' if none)
    route_problem: str  # why no receiver is proposed


def overview(db: sqlite_utils.Database, receivers: Receivers | None, rows: list[takedowns.Takedown]) -> list[Row]:
    """``rows`` (from ``takedowns.listing``) with what the page shows beside each."""
    if not rows:
        return []
    ad_ids = sorted({t.ad_id for t in rows})
    marks = ",".join("?" * len(ad_ids))
    ads = {
        r[0]: r[1:]
        for r in db.execute(f"SELECT id, title, url, platform FROM ads WHERE id IN ({marks})", ad_ids).fetchall()
    }
    where = _where_ads_are(db, ad_ids)
    spoken = _spoken_for(db)
    out = []
    for t in rows:
        title, url, platform = ads.get(t.ad_id, ("", "", ""))
        key, name, problem = t.receiver or "", "", ""
        if receivers is not None:
            try:
                if not key and t.state == "requested":
                    site, plat, region = where.get(t.ad_id, ("", "", ""))
                    key = receivers.route(site=site, platform=plat, region=region).key
                name = receivers.get(key).name if key else ""
            except AdclearError as e:
                problem = str(e)
        out.append(Row(t, title, url, platform, key, name or key, spoken.get(t.id, ""), problem))
    return out


def _choose(db: sqlite_utils.Database, takedown_ids: list[int] | tuple[int, ...]) -> list[takedowns.Takedown]:
    """The requested takedowns to dispatch: those named (each checked), else every one not in an open batch."""
    spoken = _spoken_for(db)
    if not takedown_ids:
        return [t for t in takedowns.listing(db, state="requested") if t.id not in spoken]
    chosen = []
    for takedown_id in dict.fromkeys(takedown_ids):
        try:
            found = takedowns.get(db, takedown_id)
        except AdclearError:
            raise DispatchError(
                f"no takedown {takedown_id}: `adclear takedown list` shows them", zh=f"没有编号为 {takedown_id} 的处置"
            ) from None
        if found.state not in DISPATCHABLE:
            raise DispatchError(
                f"takedown {takedown_id} is {found.state}: only requested ones, or ones a re-check found still "
                "online, are dispatched",
                zh=f"处置 {takedown_id} 当前为“{found.state_label}”：只有待交办或复查仍在线的处置可以交办",
            )
        if takedown_id in spoken:
            raise DispatchError(
                f"takedown {takedown_id} is already in the batch {spoken[takedown_id]}",
                zh=f"处置 {takedown_id} 已在交办单 {spoken[takedown_id]} 中",
            )
        chosen.append(found)
    return chosen


def create(
    db: sqlite_utils.Database,
    setup: Setup,
    *,
    actor: str,
    takedown_ids: list[int] | tuple[int, ...] = (),
    receiver: str | None = None,
    address: str = "cli",
    today: date | None = None,
) -> list[Batch]:
    """Draft batches, one per receiver, of the takedowns named (default: every requested one not yet in a
    batch). ``receiver``: with takedowns named, send them all to it; without, only those routed to it."""
    receivers, office = setup.receivers, setup.office
    if receiver is not None:
        receivers.get(receiver)  # UnknownReceiver before anything is written
    check_office(office)
    year = (today or today_china()).year
    with takedowns.writing(db, setup.settings):
        users.require(db, actor, "reviewer")
        chosen = _choose(db, takedown_ids)
        where = _where_ads_are(db, [t.ad_id for t in chosen]) if chosen else {}
        groups: dict[str, list[takedowns.Takedown]] = {}
        for item in chosen:
            if receiver is not None and takedown_ids:
                key = receiver
            else:
                site, platform, region = where.get(item.ad_id, ("", "", ""))
                key = receivers.route(site=site, platform=platform, region=region).key
                if receiver is not None and key != receiver:
                    continue
            groups.setdefault(key, []).append(item)
        if not groups:
            raise DispatchError(
                "nothing to dispatch: no requested takedown outside a batch"
                + (f" is routed to '{receiver}'" if receiver else ""),
                zh="没有可交办的处置：所选处置均已交办或无待交办处置"
                + (f"（接收单位 {receiver}）" if receiver else ""),
            )
        made = [
            _insert(db, office, year, receivers.get(key), items, actor, address)
            for key, items in sorted(groups.items())
        ]
    return [get(db, number) for number in made]


def next_serial(db: sqlite_utils.Database, table: str, office: str, year: int) -> int:
    """The next serial of ``office``'s ``year`` in ``table`` (a table with office, year and serial columns,
    UNIQUE together): 交办单号 here, 线索编号 in ``review.tips``. Call it under the write lock, in the transaction
    that inserts the row."""
    (last,) = db.execute(
        f"SELECT coalesce(max(serial), 0) FROM {table} WHERE office = ? AND year = ?", [office, year]
    ).fetchone()
    return int(last) + 1


def check_office(office: Office) -> None:
    """Refuse an office code that cannot go into a number (交办单号, 线索编号)."""
    if not office.code or not office.code.isascii() or not office.code.replace("-", "").isalnum():
        raise DispatchError(
            f"the office code '{office.code}' is not set or not ASCII letters, digits and '-': set operator.code "
            "in seeds.yml (e.g. SFX); it goes into every 交办单号 and 线索编号",
            zh=f"单位代码“{office.code}”无效：请管理员在 seeds.yml 中设置 operator.code（英文字母、数字、“-”）",
        )


def _insert(
    db: sqlite_utils.Database,
    office: Office,
    year: int,
    receiver: Receiver,
    items: list[takedowns.Takedown],
    actor: str,
    address: str,
) -> str:
    """One draft batch and its ``batch_created`` entry; the serial is the next of the office's year, taken under
    the write lock (and UNIQUE in the table)."""
    serial = next_serial(db, "dispatch_batches", office.code, year)
    number = batch_number(office.code, year, serial)
    now = now_utc()
    db.execute(
        "INSERT INTO dispatch_batches (number, office, year, serial, receiver, state, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, 'draft', ?, ?)",
        [number, office.code, year, serial, receiver.key, actor, now],
    )
    payload = {
        "number": number,
        "receiver": receiver.key,
        "receiver_name": receiver.name,
        "takedowns": [t.id for t in items],
        "ads": [t.ad_id for t in items],
    }
    ledger.append(db, actor=actor, action="batch_created", ad_id=None, payload=payload)
    audit.record(db, actor=actor, action="dispatch_create", target=f"batch:{number}", detail=payload, address=address)
    return number


def confirmers(db: sqlite_utils.Database, ad_ids: tuple[int, ...]) -> set[str]:
    """The reviewers whose standing confirmations put these ads on the list."""
    if not ad_ids:
        return set()
    marks = ",".join("?" * len(ad_ids))
    rows = db.execute(
        f"SELECT DISTINCT reviewer FROM decisions WHERE decision = 'confirmed' AND reversed_seq IS NULL "
        f"AND ad_id IN ({marks})",
        list(ad_ids),
    )
    return {r[0] for r in rows}


def approve(
    db: sqlite_utils.Database,
    batch: int | str,
    *,
    supervisor: str,
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> Batch:
    """A supervisor approves a draft batch; refused (``FourEyes``) when they confirmed any of its ads."""
    with takedowns.writing(db, settings):
        found = get(db, batch)
        try:
            users.require(db, supervisor, "supervisor")
        except AdclearError as e:
            raise FourEyes(f"{e}: a batch is approved by a supervisor", zh=f"{zh_of(e)}：交办单须由主管审批") from None
        if found.state != "draft":
            raise DispatchError(
                f"the batch {found.number} is {found.state_label}, not awaiting approval",
                zh=f"交办单 {found.number} 当前为“{found.state_label}”，不在待审批状态",
            )
        mine = sorted(a for a in found.ad_ids if supervisor in confirmers(db, (a,)))
        if mine:
            raise FourEyes(
                f"{supervisor} confirmed ad {', '.join(map(str, mine))} of {found.number}: four eyes, "
                "another supervisor approves it",
                zh=(
                    f"{supervisor} 确认过交办单 {found.number} 中的广告 {'、'.join(map(str, mine))}："
                    "按双人复核要求，须由另一位主管审批"
                ),
            )
        now = now_utc()
        db.execute(
            "UPDATE dispatch_batches SET state = 'approved', approved_by = ?, approved_at = ? WHERE id = ?",
            [supervisor, now, found.id],
        )
        ledger.append(db, actor=supervisor, action="approved", ad_id=None, payload={"number": found.number})
        audit.record(db, actor=supervisor, action="dispatch_approve", target=f"batch:{found.number}", address=address)
    return get(db, found.id)


def cancel(
    db: sqlite_utils.Database,
    batch: int | str,
    *,
    supervisor: str,
    reason: str,
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> Batch:
    """作废: a batch not sent (draft, approved or failed) voided with its reason; its takedowns may be batched
    again. A batch that was delivered or handed over is history and cannot be voided."""
    if not reason.strip():
        raise DispatchError("say why the batch is voided (--reason)", zh="作废交办单须填写理由")
    with takedowns.writing(db, settings):
        found = get(db, batch)
        users.require(db, supervisor, "supervisor")
        if found.state not in OPEN_BATCH_STATES or found.state == "sending":
            raise DispatchError(
                f"the batch {found.number} is {found.state_label}: only one not sent can be voided",
                zh=f"交办单 {found.number} 当前为“{found.state_label}”：只有未发送的交办单可以作废",
            )
        db.execute("UPDATE dispatch_batches SET state = 'cancelled' WHERE id = ?", [found.id])
        payload = {"number": found.number, "reason": reason.strip(), "takedowns": list(found.takedown_ids)}
        ledger.append(db, actor=supervisor, action="batch_cancelled", ad_id=None, payload=payload)
        audit.record(db, actor=supervisor, action="dispatch_cancel", target=f"batch:{found.number}", address=address)
    return get(db, found.id)
