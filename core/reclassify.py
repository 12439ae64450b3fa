"""Classifying stored ads again, with the verdicts and the queue following (decisions are kept).

- ``reclassify``: after the rules or the model changed, every ad whose current verdict another classifier
  version made (or every ad).
- ``follow_decision``: after a reviewer decided an ad, the undecided ads of its cluster of near-duplicates,
  with the decided ads as neighbours: a confirmation turns its reposts into ``flag`` ("与已确认违法广告 #N
  近似"), a rejection lowers its look-alikes.

Both go through ``core.verdicts.classify_and_store``, as the crawl's pipeline goes through its two halves.
"""

from __future__ import annotations

import sqlite_utils

from classifier import Classifier
from core.ads import AdText
from core.db import immediate
from core.fingerprints import load_decided
from core.verdicts import LATEST, classify_and_store

__all__ = ["BATCH", "follow_decision", "follow_decisions", "reclassify"]

BATCH = 500  # ads classified again per write transaction


def reclassify(db: sqlite_utils.Database, classifier: Classifier, *, everything: bool = False) -> dict[str, int]:
    """Every ad whose current verdict is from another classifier version (or all, with ``everything``)."""
    counts = {"ads": 0, "flag": 0, "watch": 0, "clear": 0, "changed": 0}
    where = "" if everything else "WHERE v.classifier_version IS NULL OR v.classifier_version != ?"
    args = [] if everything else [classifier.version]
    rows = db.execute(
        f"""SELECT a.id, a.title, a.body, a.contact, a.url, a.content_hash, a.pictures, v.label FROM ads a
            LEFT JOIN ({LATEST}) latest ON latest.ad_id = a.id
            LEFT JOIN verdicts v ON v.id = latest.id {where} ORDER BY a.id""",
        args,
    ).fetchall()
    decided = load_decided(db)
    for start in range(0, len(rows), BATCH):
        with immediate(db):
            for ad_id, title, body, contact, url, chash, pictures, old_label in rows[start : start + BATCH]:
                ad = AdText.of(title, body, contact, url, pictures)
                verdict = classify_and_store(db, ad_id, chash, ad, classifier, decided)
                counts["ads"] += 1
                counts[verdict.label] += 1
                counts["changed"] += old_label is not None and old_label != verdict.label
    return counts


def follow_decision(db: sqlite_utils.Database, ad_id: int, classifier: Classifier) -> int:
    """Classify again the undecided ads of ``ad_id``'s cluster, with every decided ad as a neighbour."""
    row = db.execute("SELECT cluster_id FROM ads WHERE id = ?", [ad_id]).fetchone()
    if row is None or row[0] is None:
        return 0
    members = db.execute(
        """SELECT id, title, body, contact, url, content_hash, pictures FROM ads
           WHERE cluster_id = ? AND id != ? AND status NOT IN ('confirmed', 'rejected')""",
        [row[0], ad_id],
    ).fetchall()
    if not members:
        return 0
    decided = load_decided(db)
    with immediate(db):
        for member_id, title, body, contact, url, chash, pictures in members:
            ad = AdText.of(title, body, contact, url, pictures)
            classify_and_store(db, member_id, chash, ad, classifier, decided)
    return len(members)


def follow_decisions(db: sqlite_utils.Database, ad_ids: list[int], classifier: Classifier) -> int:
    """``follow_decision`` for each decided ad, once per cluster; returns how many ads were classified again."""
    seen_clusters: set[int] = set()
    followed = 0
    for ad_id in ad_ids:
        cluster = db.execute("SELECT cluster_id FROM ads WHERE id = ?", [ad_id]).fetchone()
        if cluster and cluster[0] is not None and cluster[0] not in seen_clusters:
            seen_clusters.add(cluster[0])
            followed += follow_decision(db, ad_id, classifier)
    return followed
