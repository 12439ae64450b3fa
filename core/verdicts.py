"""Verdicts in the database: what the classifier said about each ad, and the review queue it feeds.

One way from an ad to its verdict row, for every caller (the crawl, ``adclear reclassify``, the follow-ups of a
decision): ``classify_ad`` asks the classifier, with the decided ads as neighbours, and ``store_verdict``
records the answer, updating the ad's queue item and status; ``classify_and_store`` is the two in a row. The
crawl runs them as two pipeline stages (``crawler.pipelines``: Classify, then Store, which writes the verdict
with the ad in one savepoint).

``flag`` and ``watch`` ads enter the queue (watch below every flag); an ad already decided keeps its decision;
a pending item whose ad is now ``clear`` is withdrawn. An ad's current verdict is its newest
(``current_verdict`` for one ad, ``LATEST`` for all of them).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from classifier import Classifier, NeighbourSource, Verdict
from core.ads import AdText, ad_text
from core.timeutil import now_utc

__all__ = [
    "FLAG_PRIORITY",
    "LATEST",
    "QUEUED_LABELS",
    "STATUS_OF_LABEL",
    "ad_text",
    "classify_ad",
    "classify_and_store",
    "current_verdict",
    "priority",
    "REAPPEARED_PRIORITY",
    "store_verdict",
]

FLAG_PRIORITY = 1000.0  # added to a flag's priority: every flag comes before every watch
# added to a reappeared ad's priority (再现: a near-duplicate of a confirmed ad found again, review.queue.to_front);
# it stays through later verdicts, so that reclassification does not send it back among the others
REAPPEARED_PRIORITY = 10 * FLAG_PRIORITY
QUEUED_LABELS = ("flag", "watch")  # the labels that put an ad in the review queue
STATUS_OF_LABEL = {"flag": "flagged", "watch": "watch", "clear": "clear"}  # ads.status of an undecided ad
# (ad_id, id) of every ad's current verdict, to join against
LATEST = "SELECT ad_id, max(id) AS id FROM verdicts GROUP BY ad_id"


def priority(label: str, score: float, model_score: float | None = None) -> float:
    """Queue order: every flag before every watch; within a label, by the rules' score (the one reviewers see),
    ties broken by the learned scorer's score (0..1, added as a tenth of it)."""
    tie = round(model_score / 10.0, 4) if model_score is not None else 0.0
    return round(score + tie + (FLAG_PRIORITY if label == "flag" else 0.0), 4)


def classify_ad(classifier: Classifier, ad: AdText, decided: NeighbourSource | None) -> Verdict:
    """The verdict on ``ad``, with ``decided`` (``core.fingerprints.load_decided``) as its neighbours; the
    verdict carries the ad's fingerprint when neighbours were asked."""
    return classifier.classify(ad.text, title=ad.title, url=ad.url, neighbours=decided)


def classify_and_store(
    db: sqlite_utils.Database,
    ad_id: int,
    chash: str,
    ad: AdText,
    classifier: Classifier,
    decided: NeighbourSource | None,
) -> Verdict:
    """Classify a stored ad again and record the verdict (inside the caller's transaction)."""
    verdict = classify_ad(classifier, ad, decided)
    store_verdict(db, ad_id, chash, verdict)
    return verdict


def store_verdict(db: sqlite_utils.Database, ad_id: int, chash: str, verdict: Verdict) -> int:
    """Record ``verdict`` for the ad (about its content ``chash``) and update its queue item and status.

    Runs inside the caller's transaction when there is one.
    """
    now = now_utc()
    data = verdict.to_dict()
    cursor = db.execute(
        """INSERT INTO verdicts (ad_id, content_hash, classifier_version, classified_at, score, label, categories,
               hits, nearest, rules_label, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            ad_id,
            chash,
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
    verdict_id = int(cursor.lastrowid or 0)
    _queue(db, ad_id, verdict_id, data, now)
    db.execute(
        "UPDATE ads SET status = ? WHERE id = ? AND status NOT IN ('confirmed', 'rejected')",
        [STATUS_OF_LABEL[data["label"]], ad_id],
    )
    return verdict_id


def _queue(db: sqlite_utils.Database, ad_id: int, verdict_id: int, data: dict[str, Any], now: str) -> None:
    """The ad's queue item follows its new verdict: queued, re-prioritised, or withdrawn while pending."""
    label = data["label"]
    row = db.execute("SELECT state FROM queue WHERE ad_id = ?", [ad_id]).fetchone()
    if label in QUEUED_LABELS:
        prio = priority(label, data["score"], data["model"].get("score"))
        if row is None:
            db.execute(
                "INSERT INTO queue (ad_id, verdict_id, priority, state, queued_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                [ad_id, verdict_id, prio, now, now],
            )
        elif row[0] in ("pending", "claimed", "withdrawn"):
            db.execute(
                "UPDATE queue SET verdict_id = ?, updated_at = ?, "
                "priority = CASE WHEN priority >= ? THEN ? ELSE ? END, "
                "state = CASE state WHEN 'withdrawn' THEN 'pending' ELSE state END WHERE ad_id = ?",
                [verdict_id, now, REAPPEARED_PRIORITY, REAPPEARED_PRIORITY + prio, prio, ad_id],
            )
    elif row is not None and row[0] == "pending":
        db.execute(
            "UPDATE queue SET verdict_id = ?, state = 'withdrawn', updated_at = ? WHERE ad_id = ?",
            [verdict_id, now, ad_id],
        )


def current_verdict(db: sqlite_utils.Database, ad_id: int) -> dict[str, Any] | None:
    """The ad's newest verdict as stored (JSON columns read), or None for an ad never classified."""
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
