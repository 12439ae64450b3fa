"""Escalations: a reviewer sends a hard case to a supervisor, who decides it or sends it back.

An escalated ad leaves every reviewer's queue (queue state ``escalated``: ``claim`` never picks it) until a
supervisor resolves the escalation: by confirming or rejecting the ad (``review.decisions``, which records the
decision and the ledger entries), or by sending it back to the queue with a note. Raising and resolving are
both in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.db import immediate
from core.errors import AlreadyDecided, EscalationError, HeldByOther, UnknownAd
from core.timeutil import local, now_utc
from review import audit, decisions, users
from review.queue import holder
from review.settings import ReviewSettings

__all__ = ["Escalation", "EscalationError", "escalate", "for_ad", "listing", "open_for", "resolve", "send_back"]


@dataclass(frozen=True, slots=True)
class Escalation:
    id: int
    ad_id: int
    raised_by: str
    raised_at: str
    note: str
    state: str
    resolved_by: str | None
    resolved_at: str | None
    resolution: str | None
    resolution_note: str
    decision_id: int | None
    title: str = ""
    platform: str = ""
    ad_status: str = ""

    @property
    def raised_local(self) -> str:
        return local(self.raised_at, "%Y-%m-%d %H:%M")

    @property
    def resolved_local(self) -> str:
        return local(self.resolved_at, "%Y-%m-%d %H:%M")


_COLUMNS = (
    "e.id, e.ad_id, e.raised_by, e.raised_at, e.note, e.state, e.resolved_by, e.resolved_at, e.resolution, "
    "e.resolution_note, e.decision_id, a.title, a.platform, a.status"
)


def _row(r: Any) -> Escalation:
    return Escalation(*r)


def escalate(db: sqlite_utils.Database, ad_id: int, *, reviewer: str, note: str, address: str) -> Escalation:
    """Send the ad to a supervisor; it leaves the reviewers' queue until resolved."""
    if not note.strip():
        raise EscalationError("say what the supervisor should look at (a note is required)", zh="请填写上报主管的说明")
    with immediate(db):
        row = db.execute("SELECT status FROM ads WHERE id = ?", [ad_id]).fetchone()
        if row is None:
            raise UnknownAd(f"no ad {ad_id}", zh=f"没有编号为 {ad_id} 的广告")
        if row[0] in ("confirmed", "rejected"):
            raise AlreadyDecided(
                f"ad {ad_id} is already {row[0]}; nothing to escalate", zh=f"广告 {ad_id} 已处理，无需上报"
            )
        held = holder(db, ad_id)
        if held is not None and held[0] != reviewer:
            raise HeldByOther(
                f"ad {ad_id} is claimed by {held[0]} until {local(held[1])}",
                zh=f"广告 {ad_id} 已由 {held[0]} 认领（至 {local(held[1])}），请另选广告",
            )
        if db.execute("SELECT 1 FROM escalations WHERE ad_id = ? AND state = 'open'", [ad_id]).fetchone():
            raise EscalationError(f"ad {ad_id} is already escalated", zh=f"广告 {ad_id} 已上报主管")
        now = now_utc()
        cursor = db.execute(
            "INSERT INTO escalations (ad_id, raised_by, raised_at, note) VALUES (?, ?, ?, ?)",
            [ad_id, reviewer, now, note.strip()],
        )
        esc_id = int(cursor.lastrowid or 0)
        db.execute(
            "UPDATE queue SET state = 'escalated', claimed_by = NULL, lease_until = NULL, updated_at = ? "
            "WHERE ad_id = ? AND state IN ('pending', 'claimed')",
            [now, ad_id],
        )
        audit.record(
            db,
            actor=reviewer,
            action="escalate",
            target=f"ad:{ad_id}",
            detail={"escalation": esc_id, "note": note.strip()},
            address=address,
        )
    found = get(db, esc_id)
    assert found is not None
    return found


def get(db: sqlite_utils.Database, escalation_id: int) -> Escalation | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM escalations e JOIN ads a ON a.id = e.ad_id WHERE e.id = ?", [escalation_id]
    ).fetchone()
    return _row(row) if row else None


def open_for(db: sqlite_utils.Database, ad_id: int) -> Escalation | None:
    """The ad's open escalation, if any."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM escalations e JOIN ads a ON a.id = e.ad_id WHERE e.ad_id = ? AND e.state = 'open'",
        [ad_id],
    ).fetchone()
    return _row(row) if row else None


def for_ad(db: sqlite_utils.Database, ad_id: int) -> list[Escalation]:
    return [
        _row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM escalations e JOIN ads a ON a.id = e.ad_id WHERE e.ad_id = ? ORDER BY e.id",
            [ad_id],
        )
    ]


def listing(db: sqlite_utils.Database, *, state: str = "open", limit: int = 200) -> list[Escalation]:
    """Escalations in ``state`` (open: oldest first; others: newest first)."""
    order = "e.raised_at" if state == "open" else "e.id DESC"
    return [
        _row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM escalations e JOIN ads a ON a.id = e.ad_id WHERE e.state = ? "
            f"ORDER BY {order} LIMIT ?",
            [state, limit],
        )
    ]


def count_open(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM escalations WHERE state = 'open'").fetchone()[0]


def _supervisor(db: sqlite_utils.Database, name: str) -> None:
    user = users.find(db, name)
    if user is None or user.disabled or not users.has_role(user.role, "supervisor"):
        raise EscalationError(
            f"only a supervisor can resolve an escalation ({name} is not one)",
            zh=f"只有主管可以处理上报（{name} 不是主管）",
        )


def _open(db: sqlite_utils.Database, escalation_id: int) -> Escalation:
    esc = get(db, escalation_id)
    if esc is None:
        raise EscalationError(f"no escalation {escalation_id}", zh=f"没有编号为 {escalation_id} 的上报")
    if esc.state != "open":
        raise EscalationError(
            f"escalation {escalation_id} was already resolved by {esc.resolved_by}",
            zh=f"上报 {escalation_id} 已由 {esc.resolved_by} 处理",
        )
    return esc


def resolve(
    db: sqlite_utils.Database,
    escalation_id: int,
    *,
    supervisor: str,
    decision: str,
    address: str,
    settings: ReviewSettings | None = None,
    **choice: Any,
) -> decisions.Decision:
    """Decide the escalated ad (``decision`` confirm or reject, ``choice`` as ``review.decisions`` takes)."""
    _supervisor(db, supervisor)
    esc = _open(db, escalation_id)
    if decision == "confirm":
        made = decisions.confirm(db, esc.ad_id, reviewer=supervisor, address=address, settings=settings, **choice)
    elif decision == "reject":
        made = decisions.reject(db, esc.ad_id, reviewer=supervisor, address=address, settings=settings, **choice)
    else:
        raise EscalationError(
            f"unknown decision '{decision}': confirm or reject", zh=f"未知的决定“{decision}”：只能确认或驳回"
        )
    with immediate(db):
        db.execute(
            "UPDATE escalations SET state = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ?, "
            "decision_id = ?, resolution_note = ? WHERE id = ? AND state = 'open'",
            [supervisor, now_utc(), made.decision, made.id, str(choice.get("note", "")).strip(), escalation_id],
        )
        audit.record(
            db,
            actor=supervisor,
            action="resolve_escalation",
            target=f"ad:{esc.ad_id}",
            detail={"escalation": escalation_id, "decision": made.decision, "decision_id": made.id},
            address=address,
        )
    return made


def send_back(db: sqlite_utils.Database, escalation_id: int, *, supervisor: str, note: str, address: str) -> None:
    """Return the ad to the reviewers' queue, with the supervisor's note."""
    _supervisor(db, supervisor)
    with immediate(db):
        esc = _open(db, escalation_id)
        now = now_utc()
        db.execute(
            "UPDATE escalations SET state = 'returned', resolved_by = ?, resolved_at = ?, resolution = 'returned', "
            "resolution_note = ? WHERE id = ?",
            [supervisor, now, note.strip(), escalation_id],
        )
        db.execute(
            "UPDATE queue SET state = 'pending', updated_at = ? WHERE ad_id = ? AND state = 'escalated'",
            [now, esc.ad_id],
        )
        audit.record(
            db,
            actor=supervisor,
            action="return_escalation",
            target=f"ad:{esc.ad_id}",
            detail={"escalation": escalation_id, "note": note.strip()},
            address=address,
        )
