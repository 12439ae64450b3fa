"""The audit log and the ledger as the web app pages through them (newest first, filtered)."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from adclear.timeutil import local
from review import ledger

__all__ = ["audit_actions", "audit_page", "ledger_page"]


def audit_page(
    db: sqlite_utils.Database,
    *,
    actor: str = "",
    action: str = "",
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, optionally for one actor or action, before an entry id (paging)."""
    clauses, args = ["1"], []
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


def audit_actions(db: sqlite_utils.Database) -> list[str]:
    """The kinds of audit entry recorded so far (for the filter)."""
    known = ["login", "login_failed", "login_locked", "logout", "claim", "release", "confirm", "reject"]
    known += ["escalate", "resolve_escalation", "return_escalation", "export", "user_add", "user_disable"]
    return known


def ledger_page(db: sqlite_utils.Database, *, before_seq: int | None = None, limit: int = 100) -> list[ledger.Entry]:
    """Ledger entries, newest first, before ``before_seq`` (paging)."""
    sql = "SELECT seq, at, actor, action, ad_id, payload, prev_hash, hash FROM ledger"
    args: list[Any] = []
    if before_seq is not None:
        sql += " WHERE seq < ?"
        args.append(before_seq)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(limit)
    return [ledger.Entry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in db.execute(sql, args)]
