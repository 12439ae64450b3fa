"""The audit log: every login, claim, decision, export and setting change, with who, when and from where."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from adclear.timeutil import now_utc

__all__ = ["entries", "record"]


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


def entries(db: sqlite_utils.Database, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()
    keys = ("id", "at", "actor", "action", "target", "detail", "address")
    return [dict(zip(keys, r, strict=True)) | {"detail": json.loads(r[5])} for r in rows]
