"""The review queue: ads waiting for a person, highest priority first, claimed with a lease.

A claim is one ``UPDATE … WHERE id = (SELECT …) RETURNING`` inside ``BEGIN IMMEDIATE`` (FINDINGS.md): two
reviewers never hold the same ad, and a lease that runs out returns the ad to the queue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from adclear.db import immediate
from adclear.timeutil import now_utc

__all__ = ["DEFAULT_LEASE_SECONDS", "claim", "holder", "open_items", "release"]

DEFAULT_LEASE_SECONDS = 15 * 60


def _lease_end(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def open_items(db: sqlite_utils.Database, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Items waiting for review (pending, or claimed), highest priority first, oldest first among equals."""
    now = now_utc()
    rows = db.execute(
        """SELECT q.ad_id, q.priority, q.state, q.claimed_by, q.lease_until, q.queued_at,
                  v.label, v.score, v.categories, a.title, a.site, a.platform, a.url, a.cluster_id,
                  (SELECT count(*) FROM ads c WHERE c.cluster_id = a.cluster_id) AS cluster_size
           FROM queue q INDEXED BY queue_open_order
           JOIN verdicts v ON v.id = q.verdict_id JOIN ads a ON a.id = q.ad_id
           WHERE q.state IN ('pending', 'claimed')
           ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT ? OFFSET ?""",
        [limit, offset],
    ).fetchall()
    out = []
    for ad_id, prio, state, by, lease, queued, label, score, cats, title, site, platform, url, cid, size in rows:
        claimed = state == "claimed" and lease is not None and lease > now
        out.append(
            {
                "ad_id": ad_id,
                "priority": prio,
                "state": "claimed" if claimed else "pending",
                "claimed_by": by if claimed else None,
                "lease_until": lease if claimed else None,
                "queued_at": queued,
                "label": label,
                "score": score,
                "categories": json.loads(cats),
                "title": title,
                "site": site,
                "platform": platform,
                "url": url,
                "cluster_id": cid,
                "cluster_size": size if cid is not None else 1,
            }
        )
    return out


def count_open(db: sqlite_utils.Database) -> dict[str, int]:
    rows = db.execute(
        """SELECT v.label, count(*) FROM queue q JOIN verdicts v ON v.id = q.verdict_id
           WHERE q.state IN ('pending', 'claimed') GROUP BY v.label"""
    ).fetchall()
    return dict(rows)


def claim(
    db: sqlite_utils.Database,
    reviewer: str,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ad_id: int | None = None,
    max_claims: int | None = None,
) -> int | None:
    """Claim the next open ad (or ``ad_id``) for ``reviewer``; returns its id, or None if nothing is free.

    With ``max_claims`` (the web app: 1), a reviewer holds at most that many ads: asking for the next one while
    at the limit gives back (and renews) the oldest ad already held; claiming a given ad releases the oldest
    others beyond the limit. So deciding ads opened from a direct link never piles up claims."""
    now = now_utc()
    lease = _lease_end(lease_seconds)
    with immediate(db):
        held = [r[0] for r in db.execute(_HELD, [reviewer, now])] if max_claims else []
        if ad_id is None and max_claims and len(held) >= max_claims:
            ad_id = held[0]  # finish (or release) what you hold first
        row = _claim_one(db, reviewer, now, lease, ad_id)
        if row is not None:
            _audit(db, reviewer, "claim", row[0])
            if max_claims:
                others = [a for a in held if a != row[0]]
                for extra in others[: max(0, len(others) - (max_claims - 1))]:
                    _release(db, extra, reviewer)
    return row[0] if row else None


# a reviewer's live claims, oldest first
_HELD = """SELECT ad_id FROM queue INDEXED BY queue_open
           WHERE state = 'claimed' AND claimed_by = ? AND lease_until >= ? ORDER BY updated_at, ad_id"""


def _claim_one(db: sqlite_utils.Database, reviewer: str, now: str, lease: str, ad_id: int | None) -> Any:
    if ad_id is None:
        return db.execute(
            """UPDATE queue SET state = 'claimed', claimed_by = ?, lease_until = ?, updated_at = ?
                WHERE id = (SELECT q.id FROM queue q INDEXED BY queue_open_order  -- review order, no sort
                            WHERE q.state IN ('pending', 'claimed')
                              AND (q.state = 'pending' OR q.lease_until < ?)
                            ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT 1)
                RETURNING ad_id""",
            [reviewer, lease, now, now],
        ).fetchone()
    # a given ad: pending, left by a lease that ran out, or one's own claim (renews the lease)
    free = "(q.state = 'pending' OR (q.state = 'claimed' AND (q.lease_until < ? OR q.claimed_by = ?)))"
    return db.execute(
        f"""UPDATE queue SET state = 'claimed', claimed_by = ?, lease_until = ?, updated_at = ?
            WHERE id = (SELECT q.id FROM queue q WHERE q.ad_id = ? AND {free}) RETURNING ad_id""",
        [reviewer, lease, now, ad_id, now, reviewer],
    ).fetchone()


def release(db: sqlite_utils.Database, ad_id: int, reviewer: str) -> bool:
    """Give a claimed ad back to the queue; only its holder can."""
    with immediate(db):
        return _release(db, ad_id, reviewer)


def _release(db: sqlite_utils.Database, ad_id: int, reviewer: str) -> bool:
    changed = db.execute(
        "UPDATE queue SET state = 'pending', claimed_by = NULL, lease_until = NULL, updated_at = ? "
        "WHERE ad_id = ? AND state = 'claimed' AND claimed_by = ?",
        [now_utc(), ad_id, reviewer],
    ).rowcount
    if changed:
        _audit(db, reviewer, "release", ad_id)
    return bool(changed)


def holder(db: sqlite_utils.Database, ad_id: int) -> tuple[str, str] | None:
    """(reviewer, lease end) of a live claim on the ad, or None."""
    row = db.execute(
        "SELECT claimed_by, lease_until FROM queue WHERE ad_id = ? AND state = 'claimed' AND lease_until >= ?",
        [ad_id, now_utc()],
    ).fetchone()
    return (row[0], row[1]) if row else None


def _audit(db: sqlite_utils.Database, actor: str, action: str, ad_id: int, address: str = "") -> None:
    from review.audit import record

    record(db, actor=actor, action=action, target=f"ad:{ad_id}", address=address)
