"""Near-duplicates in the database: fingerprints per ad, the decided-ads indexes, clusters, and verdicts
that follow reviewers' decisions.

- Every new or changed ad gets a fingerprint row (``fingerprint_ad``, in the crawl's transaction), and again
  when the text read in its pictures changes (``core.adimages.update_ad``): a poster reposted under other
  words is a near-duplicate too.
- The two indexes the classifier consults, ads confirmed illegal and ads rejected, are the fingerprints of
  ads whose status is ``confirmed`` or ``rejected``: ``load_decided`` builds them in about a second per
  million fingerprints, so they are "kept in the database" by construction and never drift from decisions.
  A reversal changes the ad's status, which takes it out of its index.
- ``recluster`` groups all ads into clusters of near-duplicates (``ads.cluster_id`` = the smallest ad id of
  the group) after each crawl, so that a reviewer can decide a cluster at once.

Classifying the undecided ads of a decided ad's cluster again is ``core.reclassify.follow_decision``.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from classifier.fingerprint import FINGERPRINT_VERSION
from classifier.neardup import DecidedAds, clusters_from_records, fingerprint_record
from classifier.neighbours import comparable_text
from core.ads import ad_text
from core.db import immediate

__all__ = ["backfill", "decided_stamp", "fingerprint_ad", "load_decided", "recluster"]


def _record(title: str, body: str, contact: str, pictures: str = "") -> dict[str, Any]:
    """The fingerprint record of an ad's content, made as the classifier makes it (``Verdict.fingerprint``):
    the text read in its pictures (``ads.pictures``) included."""
    t, text = ad_text(title, body, contact, pictures)
    return fingerprint_record(comparable_text(text, t))


def fingerprint_ad(
    db: sqlite_utils.Database,
    ad_id: int,
    title: str,
    body: str,
    contact: str,
    content_hash: str,
    record: dict[str, Any] | None = None,
    *,
    pictures: str = "",
) -> None:
    """Store the fingerprint of the ad's current content (inside the caller's transaction), ``pictures`` its
    text read in its pictures; ``record``: its fingerprint record if the caller has it already
    (``Verdict.fingerprint``, made from the same text)."""
    rec = record if record is not None else _record(title, body, contact, pictures)
    db.execute(
        """INSERT INTO fingerprints (ad_id, fp_version, content_hash, exact, simhash, minhash)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (ad_id) DO UPDATE SET fp_version = excluded.fp_version, content_hash = excluded.content_hash,
               exact = excluded.exact, simhash = excluded.simhash, minhash = excluded.minhash""",
        [ad_id, rec["fp_version"], content_hash, rec["exact"], rec["simhash"], rec["minhash"]],
    )


def backfill(db: sqlite_utils.Database, batch: int = 2000) -> int:
    """Fingerprints for ads that have none, or whose content changed since (e.g. crawled before this feature)."""
    rows = db.execute(
        """SELECT a.id, a.title, a.body, a.contact, a.content_hash, a.pictures FROM ads a
           LEFT JOIN fingerprints f ON f.ad_id = a.id
           WHERE f.ad_id IS NULL OR f.content_hash != a.content_hash OR f.fp_version != ?""",
        [FINGERPRINT_VERSION],
    ).fetchall()
    for start in range(0, len(rows), batch):
        with immediate(db):
            for ad_id, title, body, contact, chash, pictures in rows[start : start + batch]:
                fingerprint_ad(db, ad_id, title, body, contact, chash, pictures=pictures)
    return len(rows)


def _records(db: sqlite_utils.Database, where: str, args: list[Any]) -> list[dict[str, Any]]:
    rows = db.execute(
        f"""SELECT f.ad_id, f.fp_version, f.exact, f.simhash, f.minhash FROM fingerprints f
            JOIN ads a ON a.id = f.ad_id WHERE {where} ORDER BY f.ad_id""",
        args,
    ).fetchall()
    keys = ("ad_id", "fp_version", "exact", "simhash", "minhash")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def load_decided(db: sqlite_utils.Database) -> DecidedAds:
    """The ads confirmed and rejected now, as the classifier's neighbour source."""
    return DecidedAds.from_records(
        _records(db, "a.status = 'confirmed'", []), _records(db, "a.status = 'rejected'", [])
    )


def decided_stamp(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """Changes whenever a decision is taken or reversed: a cheap test of whether ``load_decided`` is stale."""
    count, last, reversals = db.execute(
        "SELECT count(*), coalesce(max(id), 0), count(reversed_seq) FROM decisions"
    ).fetchone()
    return count, last, reversals


def recluster(db: sqlite_utils.Database) -> dict[str, int]:
    """Fingerprint what is missing, then group every ad with its near-duplicates; returns counts."""
    backfilled = backfill(db)
    records = _records(db, "1", [])
    if not records:
        return {"ads": 0, "clusters": 0, "in_clusters": 0, "fingerprinted": backfilled}
    cluster_of = clusters_from_records([r["ad_id"] for r in records], records)
    current = dict(db.execute("SELECT id, cluster_id FROM ads").fetchall())
    changed = [(cid, ad_id) for ad_id, cid in cluster_of.items() if current.get(ad_id) != cid]
    with immediate(db):
        db.conn.executemany("UPDATE ads SET cluster_id = ? WHERE id = ?", changed)
    sizes: dict[int, int] = {}
    for cid in cluster_of.values():
        sizes[cid] = sizes.get(cid, 0) + 1
    multi = {cid: n for cid, n in sizes.items() if n > 1}
    return {
        "ads": len(records),
        "clusters": len(multi),
        "in_clusters": sum(multi.values()),
        "fingerprinted": backfilled,
    }
