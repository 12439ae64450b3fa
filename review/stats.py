"""Counts for the demo summary and for reports: what the classifier flagged and what waits in the queue."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlite_utils

__all__ = ["triage_counts"]


def triage_counts(db: sqlite_utils.Database) -> dict[str, Any]:
    """Ads by current label; flagged and queued ads by their first category."""
    rows = db.execute(
        """SELECT v.label, v.categories, q.state FROM verdicts v
           JOIN (SELECT ad_id, max(id) AS id FROM verdicts GROUP BY ad_id) latest ON latest.id = v.id
           LEFT JOIN queue q ON q.ad_id = v.ad_id"""
    ).fetchall()
    labels: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    queued: Counter[str] = Counter()
    for label, cats, state in rows:
        labels[label] += 1
        category = (json.loads(cats) or ["(无类型)"])[0]
        if label == "flag":
            flagged[category] += 1
        if state in ("pending", "claimed"):
            queued[category] += 1
    return {
        "labels": dict(labels),
        "flagged": dict(flagged),
        "queued": dict(queued),
        "queued_total": sum(queued.values()),
    }
