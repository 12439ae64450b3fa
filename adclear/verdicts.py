"""Verdicts in the database: what the classifier said about each ad, and the review queue it feeds.

Shared by the crawl pipeline (each new or changed ad) and ``adclear reclassify``. ``flag`` and ``watch``
ads enter the queue (watch below every flag); an ad already decided keeps its decision; a pending item
whose ad is now ``clear`` is withdrawn.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from adclear.timeutil import now_utc

__all__ = ["ad_text", "current_verdict", "priority", "store_verdict"]

FLAG_PRIORITY = 1000.0


def ad_text(title: str, body: str, contact: str) -> tuple[str, str]:
    """What the classifier reads of an ad: its title, and its body followed by its contact line."""
    text = body if not contact else f"{body}\n{contact}"
    return title, text


def priority(label: str, score: float, model_score: float | None = None) -> float:
    """Queue order: every flag before every watch; within a label, by the rules' score (the one reviewers see),
    ties broken by the learned scorer's score (0..1, added as a tenth of it)."""
    tie = round(model_score / 10.0, 4) if model_score is not None else 0.0
    return round(score + tie + (FLAG_PRIORITY if label == "flag" else 0.0), 4)


def store_verdict(db: sqlite_utils.Database, ad_id: int, content_hash: str, verdict: Any) -> int:
    """Record ``verdict`` (a ``classifier.Verdict``) for the ad and update its queue item.

    Runs inside the caller's transaction when there is one.
    """
    now = now_utc()
    data = verdict.to_dict()
    cursor = db.execute(
        """INSERT INTO verdicts (ad_id, content_hash, classifier_version, classified_at, score, label, categories,
               hits, nearest, rules_label, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            ad_id,
            content_hash,
            data["version"],
            now,
            data["score"],
            data["label"],
            json.dumps(data["categories"], ensure_ascii=False),
            json.dumps(data["hits"], ensure_ascii=False),
            json.dumps(data["nearest"], ensure_ascii=False),
            data["rules_label"] or None,
            json.dumps(data["model"], ensure_ascii=False) if data["model"] else None,
        ],
    )
    verdict_id = int(cursor.lastrowid)
    label = data["label"]
    row = db.execute("SELECT state FROM queue WHERE ad_id = ?", [ad_id]).fetchone()
    if label in ("flag", "watch"):
        prio = priority(label, data["score"], data["model"].get("score"))
        if row is None:
            db.execute(
                "INSERT INTO queue (ad_id, verdict_id, priority, state, queued_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                [ad_id, verdict_id, prio, now, now],
            )
        elif row[0] in ("pending", "claimed", "withdrawn"):
            db.execute(
                "UPDATE queue SET verdict_id = ?, priority = ?, updated_at = ?, "
                "state = CASE state WHEN 'withdrawn' THEN 'pending' ELSE state END WHERE ad_id = ?",
                [verdict_id, prio, now, ad_id],
            )
    elif row is not None and row[0] == "pending":
        db.execute(
            "UPDATE queue SET verdict_id = ?, state = 'withdrawn', updated_at = ? WHERE ad_id = ?",
            [verdict_id, now, ad_id],
        )
    db.execute(
        "UPDATE ads SET status = ? WHERE id = ? AND status NOT IN ('confirmed', 'rejected')",
        [{"flag": "flagged", "watch": "watch", "clear": "clear"}[label], ad_id],
    )
    return verdict_id


def current_verdict(db: sqlite_utils.Database, ad_id: int) -> dict[str, Any] | None:
    row = db.execute(
        """SELECT id, classifier_version, classified_at, score, label, categories, hits, nearest, content_hash,
                  rules_label, model
           FROM verdicts WHERE ad_id = ? ORDER BY id DESC LIMIT 1""",
        [ad_id],
    ).fetchone()
    if row is None:
        return None
    return {
        "id": row[0],
        "version": row[1],
        "classified_at": row[2],
        "score": row[3],
        "label": row[4],
        "categories": json.loads(row[5]),
        "hits": json.loads(row[6]),
        "nearest": json.loads(row[7]),
        "content_hash": row[8],
        "rules_label": row[9] or "",
        "model": json.loads(row[10]) if row[10] else {},
    }
