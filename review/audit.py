"""The audit log: every login, claim, decision, export and setting change, with who, when and from where.

``record`` appends (inside the caller's transaction); ``page`` is the log as the web app pages through it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from core.timeutil import local, now_utc

__all__ = ["ACTIONS", "actions_seen", "page", "record"]

# The kinds of entry, for the web app's filter.
ACTIONS = (
    "login", "login_failed", "login_locked", "logout", "claim", "release", "confirm", "reject",
    "escalate", "resolve_escalation", "return_escalation", "export", "user_add", "user_disable",
)  # fmt: skip


def actions_seen(db: sqlite_utils.Database) -> list[str]:
    """What the audit log's filter offers: the known actions and every other one the log holds (dispatch,
    feedback … each feature records its own; a list kept by hand here went stale)."""
    seen = {r[0] for r in db.execute("SELECT DISTINCT action FROM audit_log")}
    return [*ACTIONS, *sorted(seen - set(ACTIONS))]


def record(
    db: sqlite_utils.Database,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    address: str = "",
) -> None:
    """Append one audit entry (inside the caller's transaction when there is one)."""
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, address) VALUES (?, ?, ?, ?, ?, ?)",
        [now_utc(), actor, action, target, json.dumps(detail or {}, ensure_ascii=False), address or "cli"],
    )


def page(
    db: sqlite_utils.Database,
    *,
    actor: str = "",
    action: str = "",
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, optionally for one actor or action, before an entry id (paging)."""
    clauses: list[str] = ["1"]
    args: list[Any] = []
    if actor:
        clauses.append("actor = ?")
        args.append(actor)
    if action:
        clauses.append("action = ?")
        args.append(action)
    if before_id is not None:
        clauses.append("id < ?")
        args.append(before_id)
    rows = db.execute(
        f"SELECT id, at, actor, action, target, detail, address FROM audit_log WHERE {' AND '.join(clauses)} "
        "ORDER BY id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [
        {
            "id": r[0],
            "at": local(r[1], "%Y-%m-%d %H:%M:%S"),
            "actor": r[2],
            "action": r[3],
            "target": r[4],
            "ad_id": int(r[4][3:]) if r[4].startswith("ad:") and r[4][3:].isdigit() else None,
            "detail": json.loads(r[5]),
            "address": r[6],
        }
        for r in rows
    ]
