"""The ads of an ingest batch seen again unchanged: sighted in bulk, not one by one (``crawler.ingest``).

Most ads of a monitoring crawl are the ones it saw last time. ``CrawlStore.save_ad`` would look each up, update
its ``last_seen`` and add its ``same`` sighting, statement by statement; the writer instead looks up the stored
content hash of a whole batch's ads at once (``begin``), notes each ad whose content is unchanged (``note``), and
after the batch's other entries writes their sightings and ``last_seen`` with two statements per run
(``sight``), skipping ads this run sighted already (a redelivered entry changes nothing).
"""

from __future__ import annotations

import sqlite_utils

from core.timeutil import now_utc

__all__ = ["SeenAgain"]

CHUNK = 500  # keys or ids per IN (...) query


class SeenAgain:
    def __init__(self) -> None:
        self._known: dict[str, tuple[int, str]] = {}  # the batch's ads as stored when it began: key → (id, hash)
        self._again: dict[int, list[int]] = {}  # run → ads seen again unchanged in this batch

    def begin(self, db: sqlite_utils.Database, keys: set[str]) -> None:
        """A batch begins: the stored id and content hash of its ads, one query per ``CHUNK`` keys."""
        self._known.clear()
        self._again.clear()
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, ad_id, chash in db.execute(
                f"SELECT ad_key, id, content_hash FROM ads WHERE ad_key IN ({marks})", chunk
            ):
                self._known[key] = (int(ad_id), chash)

    def note(self, run_id: int, key: str, chash: str) -> bool:
        """Whether the ad was stored with this content when the batch began: then it is sighted by ``sight``."""
        known = self._known.get(key)
        if known is None or known[1] != chash:
            return False
        self._again.setdefault(run_id, []).append(known[0])
        return True

    def forget(self, key: str) -> None:
        """The ad is stored anew in this batch: no longer what the batch began with."""
        self._known.pop(key, None)

    def sight(self, db: sqlite_utils.Database) -> tuple[int, int]:
        """The noted ads' sightings and ``last_seen``; (ads sighted, ads this run had sighted already)."""
        now = now_utc()
        sighted_now = repeats = 0
        for run_id, ad_ids in self._again.items():
            fresh = set(ad_ids)
            for start in range(0, len(ad_ids), CHUNK):
                chunk = ad_ids[start : start + CHUNK]
                marks = ",".join("?" * len(chunk))
                sighted = f"SELECT ad_id FROM sightings WHERE run_id = ? AND ad_id IN ({marks})"
                fresh -= {row[0] for row in db.execute(sighted, [run_id, *chunk])}
            repeats += len(ad_ids) - len(fresh)
            sighted_now += len(fresh)
            db.conn.executemany(
                "UPDATE ads SET last_seen = ?, last_fetched = ? WHERE id = ?", [(now, now, i) for i in fresh]
            )
            db.conn.executemany(
                "INSERT OR IGNORE INTO sightings (ad_id, run_id, seen_at, change) VALUES (?, ?, ?, 'same')",
                [(i, run_id, now) for i in fresh],
            )
        self._again.clear()
        return sighted_now, repeats
