"""Classify stored ads again, after the rules changed: new verdicts, the queue updated, decisions kept."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from adclear.db import immediate
from adclear.verdicts import ad_text, store_verdict

__all__ = ["reclassify"]

BATCH = 500


def reclassify(db: sqlite_utils.Database, classifier: Any, *, everything: bool = False) -> dict[str, int]:
    """Every ad whose current verdict is from another classifier version (or all, with ``everything``)."""
    counts = {"ads": 0, "flag": 0, "watch": 0, "clear": 0, "changed": 0}
    where = "" if everything else "WHERE v.classifier_version IS NULL OR v.classifier_version != ?"
    args = [] if everything else [classifier.version]
    rows = db.execute(
        f"""SELECT a.id, a.title, a.body, a.contact, a.url, a.content_hash, v.label FROM ads a
            LEFT JOIN (SELECT ad_id, max(id) AS id FROM verdicts GROUP BY ad_id) latest ON latest.ad_id = a.id
            LEFT JOIN verdicts v ON v.id = latest.id {where} ORDER BY a.id""",
        args,
    ).fetchall()
    from adclear.neardup import load_decided

    decided = load_decided(db)
    for start in range(0, len(rows), BATCH):
        with immediate(db):
            for ad_id, title, body, contact, url, chash, old_label in rows[start : start + BATCH]:
                t, text = ad_text(title, body, contact)
                verdict = classifier.classify(text, title=t, url=url, neighbours=decided)
                store_verdict(db, ad_id, chash, verdict)
                counts["ads"] += 1
                counts[verdict.label] += 1
                counts["changed"] += old_label is not None and old_label != verdict.label
    return counts
