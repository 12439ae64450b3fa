"""A takedown's life after a confirmation: dispatched, answered, re-checked, closed; each step a ledger entry.

The ledger is the one source of truth. Every step is an entry about the ad (``takedown_dispatched``,
``feedback_recorded``, ``removal_verified`` / ``still_online`` / ``recheck_failed``, ``takedown_closed``,
``reappeared``, ``correction``), and ``apply`` turns an entry into the takedown's next state, which the
``takedowns`` table caches for listing. ``rebuild`` replays the whole ledger into that table: a test keeps the
cache equal to the replay, and ``adclear takedown rebuild`` repairs a cache that was edited by hand.

States: requested 待交办 → dispatched 已交办 → answered 已反馈 → removed 已删除 / online 仍在线 → closed
已办结, and cancelled 已撤销 when the confirmation is reversed. Overdue (逾期: still open after its deadline, in
China time) and reappeared (再现: a near-duplicate was found again) are conditions, not states.

Every writer checks the step is allowed before it appends (a feedback for a closed takedown is refused with
the reason), then appends and applies in one ``BEGIN IMMEDIATE`` transaction; ``dispatched`` runs inside the
caller's transaction so that a batch and its entries land together.

Why so long: the state machine (``apply``) and the writers that guard its transitions read best side by side;
a writer's "only when …" is the reducer's precondition.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlite_utils

from core.db import immediate
from core.errors import AdclearError
from core.timeutil import SHANGHAI, now_utc
from review import ledger
from review.settings import ReviewSettings

__all__ = [
    "CLOSABLE",
    "OPEN_STATES",
    "STATES",
    "RecheckEvidence",
    "Takedown",
    "TakedownError",
    "apply",
    "close",
    "correct",
    "dispatched",
    "for_ad",
    "get",
    "history",
    "listing",
    "rebuild",
    "record_feedback",
    "record_reappearance",
    "record_recheck",
    "today_in_china",
    "writing",
]

STATES: dict[str, str] = {
    "requested": "待交办",
    "dispatched": "已交办",
    "answered": "已反馈",
    "removed": "已删除",
    "online": "仍在线",
    "closed": "已办结",
    "cancelled": "已撤销",
}
OPEN_STATES = ("requested", "dispatched", "answered", "removed", "online")
# states in which the receiver owes an answer: past the deadline, these are overdue
RUNNING = ("dispatched", "answered", "online")
CLOSABLE = ("dispatched", "answered", "removed", "online")
OUTCOMES = {"removed": "removal_verified", "online": "still_online", "unknown": "recheck_failed"}
CORRECTABLE = ("deadline", "receiver", "feedback_result")
STEP_ACTIONS = (
    "takedown_requested",
    "takedown_dispatched",
    "feedback_recorded",
    "removal_verified",
    "still_online",
    "recheck_failed",
    "takedown_closed",
    "reappeared",
    "correction",
)


class TakedownError(AdclearError):
    """A step the takedown cannot take (unknown takedown, closed, wrong state, bad value)."""


@dataclass(frozen=True, slots=True)
class Takedown:
    id: int
    ad_id: int
    requested_seq: int
    state: str
    receiver: str | None
    batch_id: int | None
    deadline: str | None
    dispatched_at: str | None
    feedback_at: str | None
    feedback_result: str | None
    feedback_by: str | None
    checked_at: str | None
    check_result: str | None
    removed_at: str | None
    closed_at: str | None
    reappeared_at: str | None
    reappeared_ad_id: int | None
    updated_seq: int
    number: str | None = None  # the 交办单号 of its batch

    @property
    def state_label(self) -> str:
        return STATES[self.state]

    def overdue(self, today: date | None = None) -> bool:
        """Still owed an answer after its last day (China time)."""
        if self.state not in RUNNING or not self.deadline:
            return False
        return (today or today_in_china()).isoformat() > self.deadline


@dataclass(frozen=True, slots=True)
class RecheckEvidence:
    """What a re-check archived: the response's place in a WARC file and its payload digest."""

    http_status: int | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    sha256: str | None = None


_FIELDS = [f.name for f in dataclasses.fields(Takedown) if f.name != "number"]
_SELECT = (
    "SELECT " + ", ".join(f"t.{name}" for name in _FIELDS) + ", b.number FROM takedowns t "
    "LEFT JOIN dispatch_batches b ON b.id = t.batch_id"
)


def today_in_china(now: datetime | None = None) -> date:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def _row(row: Any) -> Takedown:
    return Takedown(*row)


def get(db: sqlite_utils.Database, takedown_id: int) -> Takedown:
    row = db.execute(f"{_SELECT} WHERE t.id = ?", [takedown_id]).fetchone()
    if row is None:
        raise TakedownError(
            f"no takedown {takedown_id} (see `adclear takedown list`)", zh=f"没有编号为 {takedown_id} 的处置"
        )
    return _row(row)


def for_ad(db: sqlite_utils.Database, ad_id: int) -> list[Takedown]:
    return [_row(r) for r in db.execute(f"{_SELECT} WHERE t.ad_id = ? ORDER BY t.id", [ad_id])]


def listing(
    db: sqlite_utils.Database,
    *,
    state: str | None = None,
    receiver: str | None = None,
    overdue: bool | None = None,
    reappeared: bool | None = None,
    today: date | None = None,
) -> list[Takedown]:
    """Takedowns, overdue first, then by deadline and age; ``state`` 'open' means any open state."""
    where: list[str] = []
    args: list[Any] = []
    if state == "open":
        where.append(f"t.state IN ({', '.join('?' * len(OPEN_STATES))})")
        args.extend(OPEN_STATES)
    elif state is not None:
        if state not in STATES:
            raise TakedownError(
                f"unknown state '{state}' (one of: open, {', '.join(STATES)})", zh=f"未知的状态“{state}”"
            )
        where.append("t.state = ?")
        args.append(state)
    if receiver is not None:
        where.append("t.receiver = ?")
        args.append(receiver)
    if reappeared is not None:
        where.append("t.reappeared_at IS NOT NULL" if reappeared else "t.reappeared_at IS NULL")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY t.id"
    rows = [_row(r) for r in db.execute(sql, args)]
    day = today or today_in_china()
    if overdue is not None:
        rows = [t for t in rows if t.overdue(day) == overdue]
    rows.sort(key=lambda t: (not t.overdue(day), t.deadline or "9999", t.id))
    return rows


def history(db: sqlite_utils.Database, takedown_id: int) -> list[ledger.Entry]:
    """The ledger entries of this takedown, oldest first: its request and every step since."""
    t = get(db, takedown_id)
    out = []
    for entry in ledger.entries(db, ad_id=t.ad_id):
        if entry.seq == t.requested_seq or entry.payload.get("takedown_id") == t.id:
            out.append(entry)
        elif entry.action == "reversed" and entry.seq > t.requested_seq:
            out.append(entry)
    return out


# --- the state machine ---------------------------------------------------------------------------------------
def apply(db: sqlite_utils.Database, entry: ledger.Entry) -> None:
    """Bring the cache up to date with one ledger entry (inside the transaction that appended it, or a replay)."""
    if entry.action == "takedown_requested":
        db.execute(
            "INSERT OR IGNORE INTO takedowns (ad_id, requested_seq, state, updated_seq) VALUES (?, ?, 'requested', ?)",
            [entry.ad_id, entry.seq, entry.seq],
        )
        return
    if entry.action == "reversed":
        _cancel(db, entry)
        return
    takedown_id = entry.payload.get("takedown_id")
    if entry.action not in STEP_ACTIONS or takedown_id is None:
        return
    changes = _changes(entry)
    if entry.action == "removal_verified":
        db.execute("UPDATE ads SET removed_at = ? WHERE id = ?", [entry.at, entry.ad_id])
    sets = ", ".join(f"{name} = ?" for name in changes)
    db.execute(
        f"UPDATE takedowns SET {sets}, updated_seq = ? WHERE id = ?", [*changes.values(), entry.seq, takedown_id]
    )


def _changes(entry: ledger.Entry) -> dict[str, Any]:
    p, at = entry.payload, entry.at
    if entry.action == "takedown_dispatched":
        return {
            "state": "dispatched",
            "receiver": p["receiver"],
            "batch_id": p.get("batch_id"),
            "deadline": p["deadline"],
            "dispatched_at": at,
        }
    if entry.action == "feedback_recorded":
        return {"state": "answered", "feedback_at": p["at"], "feedback_result": p["result"], "feedback_by": p["by"]}
    if entry.action in ("removal_verified", "still_online", "recheck_failed"):
        outcome = {v: k for k, v in OUTCOMES.items()}[entry.action]
        changes: dict[str, Any] = {"checked_at": at, "check_result": outcome}
        if outcome == "removed":
            changes.update(state="removed", removed_at=at)
        elif outcome == "online":
            changes.update(state="online", removed_at=None)
        return changes
    if entry.action == "takedown_closed":
        return {"state": "closed", "closed_at": at}
    if entry.action == "reappeared":
        return {"reappeared_at": at, "reappeared_ad_id": p["new_ad_id"]}
    return {p["field"]: p["new"]}  # correction


def _cancel(db: sqlite_utils.Database, entry: ledger.Entry) -> None:
    """A reversed confirmation cancels the takedown it requested (its entries stay, as history)."""
    decided = entry.payload.get("decided_seq")
    requested = db.execute(
        "SELECT seq FROM ledger WHERE action = 'takedown_requested' AND ad_id = ? "
        "AND json_extract(payload, '$.confirmed_seq') = ?",
        [entry.ad_id, decided],
    ).fetchall()
    for (seq,) in requested:
        db.execute(
            "UPDATE takedowns SET state = 'cancelled', updated_seq = ? WHERE requested_seq = ? AND state != 'closed'",
            [entry.seq, seq],
        )


def rebuild(db: sqlite_utils.Database) -> int:
    """Recompute the cache from the ledger alone (keeping batch rows); returns the number of takedowns."""
    with immediate(db):
        db.execute("PRAGMA defer_foreign_keys = ON")  # re-checks point at takedowns: checked again at commit
        db.execute("DELETE FROM takedowns")
        for entry in ledger.entries(db):
            apply(db, entry)
        # the ids a replay gives are those the entries name: requests are replayed in ledger order, as inserted
        return int(db.execute("SELECT count(*) FROM takedowns").fetchone()[0])


# --- writers ---------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def writing(db: sqlite_utils.Database, settings: ReviewSettings | None = None) -> Iterator[None]:
    """A write transaction on a ledger that passes its check; afterwards its head is anchored outside."""
    with immediate(db):
        ledger.check_before_append(db)
        yield
    ledger.anchor(db, "takedown", settings)


def _step(db: sqlite_utils.Database, t: Takedown, action: str, actor: str, payload: dict[str, Any]) -> ledger.Entry:
    entry = ledger.append(db, actor=actor, action=action, ad_id=t.ad_id, payload={"takedown_id": t.id, **payload})
    apply(db, entry)
    return entry


def _require(t: Takedown, allowed: tuple[str, ...], doing: str) -> None:
    if t.state not in allowed:
        raise TakedownError(
            f"takedown {t.id} is {t.state} ({t.state_label}): cannot {doing} (only when {', '.join(allowed)})",
            zh=f"处置 {t.id} 当前为“{t.state_label}”，此时不能进行该操作",
        )


def _check_day(value: str, what: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise TakedownError(
            f"{what} must be a date YYYY-MM-DD, not {value!r}",
            zh=f"{'处置期限' if what == 'the deadline' else what}应为日期（YYYY-MM-DD），不是“{value}”",
        ) from None


def dispatched(
    db: sqlite_utils.Database,
    ids: list[int],
    *,
    batch_id: int | None,
    number: str,
    receiver: str,
    deadline: str,
    actor: str,
    today: date | None = None,
) -> list[ledger.Entry]:
    """Inside the caller's transaction: the takedowns went to ``receiver`` in batch ``number``, due ``deadline``."""
    day = _check_day(deadline, "the deadline")
    if day < (today or today_in_china()).isoformat():
        raise TakedownError(f"the deadline {day} is in the past", zh=f"处置期限 {day} 已过：请填写今天或以后的日期")
    entries = []
    for takedown_id in ids:
        t = get(db, takedown_id)
        _require(t, ("requested", "dispatched", "online"), "dispatch it")
        payload = {"batch_id": batch_id, "number": number, "receiver": receiver, "deadline": day}
        entries.append(_step(db, t, "takedown_dispatched", actor, payload))
    return entries


def record_feedback(
    db: sqlite_utils.Database,
    takedown_id: int,
    *,
    result: str,
    by: str,
    at: str | None,
    attachments: list[dict[str, str]] | None = None,
    actor: str,
    settings: ReviewSettings | None = None,
) -> ledger.Entry:
    """反馈: what the receiver answered (``at`` a UTC ISO time, default now), with attachments' names and SHA-256."""
    if not result.strip() or not by.strip():
        raise TakedownError("feedback needs its result and who gave it", zh="登记反馈须填写处理结果和反馈人")
    for a in attachments or []:
        if set(a) != {"name", "sha256"} or len(a["sha256"]) != 64:
            raise TakedownError(
                f"an attachment is named with its SHA-256 (name, sha256), not {a!r}",
                zh=f"附件须以名称和 SHA-256 登记，不是 {a!r}",
            )
    with writing(db, settings):
        t = get(db, takedown_id)
        _require(t, ("dispatched", "answered", "online"), "record feedback")
        payload = {"result": result.strip(), "by": by.strip(), "at": at or now_utc(), "attachments": attachments or []}
        return _step(db, t, "feedback_recorded", actor, payload)


def record_recheck(
    db: sqlite_utils.Database,
    takedown_id: int,
    *,
    outcome: str,
    detail: str,
    evidence: RecheckEvidence | None,
    actor: str,
    now: str | None = None,
    today: date | None = None,
    settings: ReviewSettings | None = None,
) -> ledger.Entry:
    """复查: the URL fetched again; removed, still online, or unknown (nothing could be seen: never 'removed').
    The entry says whether the takedown was overdue at the time (as of ``today``, China time)."""
    if outcome not in OUTCOMES:
        raise TakedownError(
            f"a re-check finds removed, online or unknown, not {outcome!r}",
            zh=f"复查结果只能是已删除、仍在线或无法确定，不是“{outcome}”",
        )
    ev = evidence or RecheckEvidence()
    with writing(db, settings):
        t = get(db, takedown_id)
        _require(t, ("dispatched", "answered", "removed", "online"), "re-check it")
        cursor = db.execute(
            """INSERT INTO rechecks (takedown_id, at, outcome, detail, http_status, warc_file, warc_offset,
               warc_length, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [t.id, now or now_utc(), outcome, detail, ev.http_status, ev.warc_file, ev.warc_offset, ev.warc_length,
             ev.sha256],
        )  # fmt: skip
        recheck_id = cursor.lastrowid
        payload = {
            "recheck_id": recheck_id,
            "detail": detail,
            "http_status": ev.http_status,
            "evidence_sha256": ev.sha256,
            "overdue": t.overdue(today),
        }
        entry = _step(db, t, OUTCOMES[outcome], actor, payload)
        db.execute("UPDATE rechecks SET ledger_seq = ? WHERE id = ?", [entry.seq, recheck_id])
        return entry


def close(
    db: sqlite_utils.Database, takedown_id: int, *, actor: str, note: str, settings: ReviewSettings | None = None
) -> ledger.Entry:
    """办结. A takedown not verified removed is closed only with a note saying why."""
    with writing(db, settings):
        t = get(db, takedown_id)
        _require(t, CLOSABLE, "close it")
        if t.state != "removed" and not note.strip():
            raise TakedownError(
                f"takedown {t.id} is not verified removed: say why it is closed (--note)",
                zh=f"处置 {t.id} 尚未核实删除：结案须说明理由",
            )
        return _step(db, t, "takedown_closed", actor, {"note": note.strip()})


def record_reappearance(
    db: sqlite_utils.Database,
    takedown_id: int,
    new_ad_id: int,
    *,
    distance: int,
    actor: str,
    settings: ReviewSettings | None = None,
) -> ledger.Entry | None:
    """再现: ``new_ad_id`` is a near-duplicate of the ad this takedown removes; None if already recorded."""
    with writing(db, settings):
        t = get(db, takedown_id)
        if t.state == "cancelled":
            raise TakedownError(
                f"takedown {t.id} was cancelled: its ad is not confirmed any more",
                zh=f"处置 {t.id} 已撤销：其广告已不再是确认违法",
            )
        known = db.execute(
            "SELECT 1 FROM ledger WHERE action = 'reappeared' AND json_extract(payload, '$.takedown_id') = ? "
            "AND json_extract(payload, '$.new_ad_id') = ?",
            [t.id, new_ad_id],
        ).fetchone()
        if known:
            return None
        return _step(db, t, "reappeared", actor, {"new_ad_id": new_ad_id, "distance": distance})


def correct(
    db: sqlite_utils.Database,
    takedown_id: int,
    *,
    field: str,
    value: str,
    reason: str,
    actor: str,
    settings: ReviewSettings | None = None,
) -> ledger.Entry:
    """更正: a value recorded wrongly is corrected by an entry of its own (the wrong one stays, as history)."""
    if field not in CORRECTABLE:
        raise TakedownError(
            f"only {', '.join(CORRECTABLE)} can be corrected, not {field!r}",
            zh=f"只能更正 {'、'.join(CORRECTABLE)}，不能更正“{field}”",
        )
    if not reason.strip():
        raise TakedownError("a correction needs its reason", zh="更正须填写理由")
    if field == "deadline":
        value = _check_day(value, "the deadline")
    with writing(db, settings):
        t = get(db, takedown_id)
        if t.state in ("closed", "cancelled"):
            raise TakedownError(
                f"takedown {t.id} is {t.state} ({t.state_label}): nothing to correct",
                zh=f"处置 {t.id} 当前为“{t.state_label}”，无可更正",
            )
        old = getattr(t, field)
        payload = {"of_seq": t.updated_seq, "field": field, "old": old, "new": value, "reason": reason.strip()}
        return _step(db, t, "correction", actor, payload)
