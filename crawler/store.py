"""The crawler's writes to the database: runs, pages, errors, ads, their versions, sightings and evidence.

An ad is identified by its ``ad_key`` (its canonical URL; page URL + text hash for an ad slot: ``core.ads``).
Saving an ad is one unit: the ad, its version, its sighting, its evidence and contacts, and for a new or
changed ad its search index entry, fingerprint and verdict (``core.search_index``, ``core.fingerprints``,
``core.verdicts``) land together or not at all,
so a crawl killed at any point leaves nothing half-written.

Group commit (``group_seconds`` > 0, what the crawl uses): the writes of a crawl (pages, errors, ads) go into
one open transaction that is committed every ``group_seconds`` (and when the run ends), each write in its own
savepoint, so that a write that fails takes back only itself. A commit per ad cost about 300 us, more than
storing the ad. The group's new and changed ads enter the search index together, just before it commits
(``_index_group``). What a kill -9 loses is the last fraction of a second of writes; a killed run is crawled
again from its start URLs (crawler.extensions), so those pages are fetched again. Other processes wait for the
write lock at most that long (busy timeout 30 s).

Why so long: every write of a crawl goes through this one class and its group transaction (the crawl's, the
reading beside it, a distributed crawl's writer): split, the savepoint discipline would be in several places.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from classifier.contacts import extract_contacts
from core.adimages import SCREENSHOT_POSITION, attach
from core.ads import content_hash
from core.db import connect, immediate
from core.errors import CrawlFailed
from core.fingerprints import fingerprint_ad
from core.search_index import index_ad, index_texts, search_text, search_text_of
from core.seeds import Site
from core.timeutil import now_utc
from core.verdicts import store_verdict
from crawler.items import AdItem, PageRef, ResourceRef

__all__ = ["MAX_ERROR_MESSAGE", "CrawlStore", "SaveResult", "content_hash"]

log = logging.getLogger(__name__)

Change = Literal["new", "same", "changed", "repeat"]
# crawl_errors kinds that record what the crawler chose not to do, not what failed
# outcomes, not failures: robots.txt refusals and what the network policy refused (crawler/netpolicy.py)
NOT_ERRORS = "('robots', 'offsite', 'blocked')"
MAX_ERROR_MESSAGE = 2000  # characters of an error message kept in crawl_errors


@dataclass(frozen=True, slots=True)
class SaveResult:
    ad_id: int
    change: Change  # "repeat": already seen in this run (another link to the same ad)


class _Connection:
    """The database connection of this process's crawls, with its group transaction.

    ``adclear crawl`` runs one crawler per site in one thread (Scrapy's reactor). With a connection each, one
    crawl's store would wait for the write lock held by another's open group transaction, blocking the very
    thread that would commit it; so every CrawlStore of the process on one database shares one connection.
    """

    def __init__(self, path: Path, key: Path):
        self.key = key  # the resolved path, under which _CONNECTIONS holds it
        self.db = connect(path)
        self.users = 0
        self.group_started: float | None = None  # monotonic time the open group transaction began
        self.unindexed: dict[int, str] = {}  # the open group's ads → their search text, indexed before it commits


_CONNECTIONS: dict[Path, _Connection] = {}


class CrawlStore:
    def __init__(self, db_path: str | Path, *, group_seconds: float = 0.0):
        self.db_path = Path(db_path)
        key = self.db_path.resolve()
        shared = _CONNECTIONS.get(key)
        if shared is None:
            shared = _CONNECTIONS[key] = _Connection(self.db_path, key)
        shared.users += 1
        self._shared = shared
        self._closed = False
        self.db = shared.db
        self.group_seconds = group_seconds
        if group_seconds > 0:  # a savepoint journals the pages it changes: in memory, not in a temporary file
            self.db.conn.execute("PRAGMA temp_store = MEMORY")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One write of the crawl (or of the reading beside it): its own transaction, or a savepoint in the group."""
        if self.group_seconds <= 0:
            self.flush()  # another crawl of this process may have a group open
            with immediate(self.db):
                yield
            return
        conn, shared = self.db.conn, self._shared
        if shared.group_started is None:
            conn.execute("BEGIN IMMEDIATE")
            shared.group_started = time.monotonic()
        conn.execute("SAVEPOINT crawl_write")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO crawl_write")
            conn.execute("RELEASE crawl_write")
            raise
        conn.execute("RELEASE crawl_write")
        if time.monotonic() - shared.group_started >= self.group_seconds:
            self.flush()

    def flush(self) -> None:
        """Commit the group transaction, if one is open (the crawl calls this on a timer too).

        A commit that fails (a full disk) rolls the group back, so that the next write starts a new one
        instead of every later write failing inside a transaction that can no longer commit.
        """
        if self._shared.group_started is not None:
            self._index_group()
            self._shared.group_started = None
            conn = self.db.conn
            try:
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _index_group(self) -> None:
        """The group's new and changed ads into the search index, in one savepoint (``index_texts``): indexed
        each in its ad's savepoint, every ad cost FTS5 a segment and the merges that follow, a fifth of the time
        of storing a new ad. Should it fail, the ads stay in ``search_pending`` (the search indexes them before
        it searches) and the group commits."""
        texts, self._shared.unindexed = self._shared.unindexed, {}
        if not texts:
            return
        conn = self.db.conn
        conn.execute("SAVEPOINT crawl_index")
        try:
            index_texts(self.db, texts)
        except Exception:
            conn.execute("ROLLBACK TO crawl_index")
            log.exception("%d ads left for the search to index", len(texts))
        conn.execute("RELEASE crawl_index")

    def rollback(self) -> None:
        """Abandon the group transaction (a batch of the ingest writer that failed)."""
        self._shared.unindexed.clear()
        self._shared.group_started = None
        if self.db.conn.in_transaction:
            self.db.conn.execute("ROLLBACK")

    @property
    def data_dir(self) -> Path:
        return self.db_path.parent

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.flush()
        shared = self._shared
        shared.users -= 1
        if shared.users == 0:
            _CONNECTIONS.pop(shared.key, None)
            self.db.close()

    # ---- sites and runs ------------------------------------------------------------------------------
    def sync_site(self, site: Site) -> None:
        self.flush()
        with immediate(self.db):
            self.db.execute(
                """INSERT INTO sites (name, platform, kind, region, config, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET platform = excluded.platform, kind = excluded.kind,
                       region = excluded.region, config = excluded.config, updated_at = excluded.updated_at""",
                [site.name, site.platform, site.kind, site.region, site.model_dump_json(), now_utc()],
            )

    def close_dead_runs(self, site: str) -> None:
        """Runs of ``site`` left 'running' by a process that is gone (kill -9) are marked interrupted."""
        self.flush()
        host = socket.gethostname()
        with immediate(self.db):
            for run_id, owner in self.db.execute(
                "SELECT id, owner FROM crawl_runs WHERE site = ? AND status = 'running'", [site]
            ).fetchall():
                if not _owner_alive(owner, host):
                    self.db.execute(
                        "UPDATE crawl_runs SET status = 'interrupted', finished_at = ?, "
                        "reason = 'the crawl process stopped before the run finished' WHERE id = ?",
                        [now_utc(), run_id],
                    )

    def last_run(self, site: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT id, status, reason FROM crawl_runs WHERE site = ? ORDER BY id DESC LIMIT 1", [site]
        ).fetchone()
        return {"id": row[0], "status": row[1], "reason": row[2]} if row else None

    def begin_run(self, site: str, spider: str) -> int:
        """A new run for ``site``; refused while another live process on this machine crawls the site."""
        self.flush()
        self.close_dead_runs(site)
        host = socket.gethostname()
        with immediate(self.db):
            for run_id, owner in self.db.execute(
                "SELECT id, owner FROM crawl_runs WHERE site = ? AND status = 'running'", [site]
            ).fetchall():
                if owner.startswith(f"{host}:"):
                    raise CrawlFailed(
                        f"site {site} is already being crawled by process {owner} (run {run_id}); "
                        "wait for it to finish or stop it"
                    )
            cursor = self.db.execute(
                "INSERT INTO crawl_runs (site, spider, started_at, owner) VALUES (?, ?, ?, ?)",
                [site, spider, now_utc(), f"{host}:{os.getpid()}"],
            )
            return int(cursor.lastrowid or 0)

    def finish_run(
        self, run_id: int, *, status: str, reason: str, pages: int, stats: dict, warc_file: str | None
    ) -> dict:
        """Close the run with its figures (counted from what was stored); returns them."""
        self.flush()
        counts = dict(
            self.db.execute(
                "SELECT change, count(*) FROM sightings WHERE run_id = ? GROUP BY change", [run_id]
            ).fetchall()
        )
        errors = self.error_count(run_id)
        figures = {
            "pages": pages,
            "ads_new": counts.get("new", 0),
            "ads_seen": counts.get("same", 0) + counts.get("listed", 0),
            "ads_changed": counts.get("changed", 0),
            "ads_listed": counts.get("listed", 0),
            "errors": errors,
        }
        with immediate(self.db):
            self.db.execute(
                """UPDATE crawl_runs SET finished_at = ?, status = ?, reason = ?, pages = ?, ads_new = ?,
                       ads_seen = ?, ads_changed = ?, errors = ?, warc_file = ?, stats = ? WHERE id = ?""",
                [
                    now_utc(),
                    status,
                    reason,
                    pages,
                    figures["ads_new"],
                    figures["ads_seen"],
                    figures["ads_changed"],
                    errors,
                    warc_file,
                    json.dumps(stats, default=str, ensure_ascii=False),
                    run_id,
                ],
            )
        return figures

    def error_count(self, run_id: int) -> int:
        """Failed requests of the run; robots.txt refusals and links not followed are outcomes, not errors."""
        return self.db.execute(
            f"SELECT count(*) FROM crawl_errors WHERE run_id = ? AND kind NOT IN {NOT_ERRORS}", [run_id]
        ).fetchone()[0]

    def error_kinds(self, run_id: int) -> dict[str, int]:
        return dict(
            self.db.execute(
                f"SELECT kind, count(*) FROM crawl_errors WHERE run_id = ? AND kind NOT IN {NOT_ERRORS} "
                "GROUP BY kind ORDER BY count(*) DESC, kind",
                [run_id],
            ).fetchall()
        )

    def first_errors(self, run_id: int, limit: int = 3, *, refusals: bool = False) -> list[tuple[str, str, str]]:
        """The run's first errors; ``refusals``: the first of what was refused instead (robots.txt, the policy)."""
        which = "IN" if refusals else "NOT IN"
        return self.db.execute(
            f"SELECT kind, url, message FROM crawl_errors WHERE run_id = ? AND kind {which} {NOT_ERRORS} "
            "ORDER BY id LIMIT ?",
            [run_id, limit],
        ).fetchall()

    # ---- pages and errors ----------------------------------------------------------------------------
    def record_page(
        self,
        run_id: int,
        *,
        url: str,
        status: int,
        fetched_at: str,
        content_type: str,
        length: int,
        sha256: str,
        warc_file: str,
        warc_offset: int,
        warc_length: int,
    ) -> int:
        with self.writing():
            cursor = self.db.execute(
                """INSERT INTO pages (run_id, url, status, fetched_at, content_type, length, payload_sha256,
                       warc_file, warc_offset, warc_length) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [run_id, url, status, fetched_at, content_type, length, sha256, warc_file, warc_offset, warc_length],
            )
            return int(cursor.lastrowid or 0)

    def record_error(self, run_id: int, *, url: str, kind: str, message: str) -> None:
        with self.writing():
            self.db.execute(
                "INSERT INTO crawl_errors (run_id, at, url, kind, message) VALUES (?, ?, ?, ?, ?)",
                [run_id, now_utc(), url, kind, message[:MAX_ERROR_MESSAGE]],
            )

    # ---- ads -----------------------------------------------------------------------------------------
    def save_ad(self, item: AdItem, run_id: int) -> SaveResult:
        """Store the ad (``item.set_text`` made its key and content hash); a new or changed ad also gets its
        version, evidence, contacts, fingerprint, and its verdict (``item.verdict``) with the queue item."""
        now = now_utc()
        with self.writing():
            ad_id, change, pictures = self._upsert_ad(item, now)
            inserted = self.db.execute(
                "INSERT OR IGNORE INTO sightings (ad_id, run_id, seen_at, change) VALUES (?, ?, ?, ?)",
                [ad_id, run_id, now, change],
            ).rowcount
            if not inserted:
                return SaveResult(ad_id, "repeat")
            if change != "same":
                self._add_version(ad_id, item, now)
                if item.page is not None:
                    self._add_evidence(ad_id, item.page)
                if item.screenshot is not None:
                    self._add_screenshot(ad_id, item.screenshot, item.page)
                self._add_contacts(ad_id, item, now)
                if self.group_seconds > 0:  # indexed with the group's other ads, before it commits
                    self._shared.unindexed[ad_id] = self._search_text(item, pictures)
                else:
                    index_ad(self.db, ad_id)  # the search index, with the ad (core.search_index)
                fingerprint = item.verdict.fingerprint if item.verdict is not None else None
                fingerprint_ad(self.db, ad_id, item.title, item.body, item.contact, item.content_hash, fingerprint)
                if item.verdict is not None:
                    store_verdict(self.db, ad_id, item.content_hash, item.verdict)
        return SaveResult(ad_id, change)

    def _upsert_ad(self, item: AdItem, now: str) -> tuple[int, Change, str]:
        """The ad's row, new or brought up to date; (its id, "new", "same" or "changed", the text read in its
        pictures)."""
        row = self.db.execute("SELECT id, content_hash, pictures FROM ads WHERE ad_key = ?", [item.key]).fetchone()
        if row is None:
            cursor = self.db.execute(
                """INSERT INTO ads (ad_key, url, site, platform, title, body, contact, author, posted_at,
                       content_hash, first_seen, last_seen, last_fetched)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    *(item.key, item.url, item.site, item.platform, item.title, item.body, item.contact),
                    *(item.author, item.posted_at, item.content_hash, now, now, now),
                ],
            )
            return int(cursor.lastrowid or 0), "new", ""
        ad_id = int(row[0])
        if row[1] == item.content_hash:
            self.db.execute("UPDATE ads SET last_seen = ?, last_fetched = ? WHERE id = ?", [now, now, ad_id])
            return ad_id, "same", row[2]
        self.db.execute(
            """UPDATE ads SET title = ?, body = ?, contact = ?, author = ?, posted_at = ?,
                   content_hash = ?, last_seen = ?, last_fetched = ? WHERE id = ?""",
            [item.title, item.body, item.contact, item.author, item.posted_at, item.content_hash, now, now, ad_id],
        )
        return ad_id, "changed", row[2]

    def _add_version(self, ad_id: int, item: AdItem, now: str) -> None:
        self.db.execute(
            """INSERT OR IGNORE INTO ad_versions (ad_id, content_hash, title, body, contact, author,
                   posted_at, first_seen, page_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                *(ad_id, item.content_hash, item.title, item.body, item.contact, item.author, item.posted_at, now),
                item.page.page_id if item.page else None,
            ],
        )

    def fetched_since(self, ad_key: str, since: str) -> int | None:
        """The id of the ad at ``ad_key`` if its page was fetched at or after ``since``."""
        row = self.db.execute("SELECT id FROM ads WHERE ad_key = ? AND last_fetched >= ?", [ad_key, since]).fetchone()
        return int(row[0]) if row else None

    def record_listed(self, ad_id: int, run_id: int) -> bool:
        """A sighting of an ad seen in a list but not fetched again; False if already seen in this run."""
        now = now_utc()
        with self.writing():
            inserted = self.db.execute(
                "INSERT OR IGNORE INTO sightings (ad_id, run_id, seen_at, change) VALUES (?, ?, ?, 'listed')",
                [ad_id, run_id, now],
            ).rowcount
            if inserted:
                self.db.execute("UPDATE ads SET last_seen = ? WHERE id = ?", [now, ad_id])
        return bool(inserted)

    @staticmethod
    def _search_text(item: AdItem, pictures: str) -> str:
        """The ad's text in the search index: from the node's normalised text when it sent one (the writer), else
        normalised here while the text normalised for its contacts is still in ``normalize``'s cache."""
        if item.normalized is not None and not pictures:
            return search_text_of(item.normalized, item.title, item.text, item.author)
        return search_text(item.title, item.body, item.contact, item.author, pictures)

    def _add_contacts(self, ad_id: int, item: AdItem, now: str) -> None:
        # the contacts a node found (the writer), else the parts the classifier read, so that their
        # normalisation is reused (classifier.normalize's cache)
        found = item.contacts if item.contacts is not None else extract_contacts(item.title, item.text)
        for c in found:
            self.db.execute(
                "INSERT OR IGNORE INTO contacts (ad_id, kind, value, matched, first_seen) VALUES (?, ?, ?, ?, ?)",
                [ad_id, c.kind, c.value, c.matched, now],
            )

    def attach_image(
        self, ad_key: str, page: PageRef, *, position: int, run_id: int | None = None
    ) -> tuple[int, bool] | None:
        """A picture of the ad at ``ad_key`` (its archived response); (the ad's id, whether the picture is new to it
        or the ad new or changed in run ``run_id``), None when no ad is stored under that key."""
        with self.writing():
            row = self.db.execute(
                """SELECT id, EXISTS (SELECT 1 FROM sightings WHERE ad_id = ads.id AND run_id = ?
                       AND change IN ('new', 'changed')) FROM ads WHERE ad_key = ?""",
                [run_id, ad_key],
            ).fetchone()
            if row is None:
                return None
            warc = (page.warc_file, page.warc_offset, page.warc_length)
            added = attach(self.db, row[0], page.sha256, warc, url=page.url, position=position)
        return int(row[0]), added or bool(row[1])

    def known_content(self, item: AdItem) -> bool:
        """Whether the ad is stored with this very content (so it need not be classified again)."""
        row = self.db.execute("SELECT content_hash FROM ads WHERE ad_key = ?", [item.key]).fetchone()
        return row is not None and row[0] == item.content_hash

    def _add_evidence(self, ad_id: int, page: PageRef) -> None:
        self.db.execute(
            """INSERT OR IGNORE INTO evidence (ad_id, page_id, kind, url, fetched_at, http_status, sha256,
                   warc_file, warc_offset, warc_length) VALUES (?, ?, 'page', ?, ?, ?, ?, ?, ?, ?)""",
            [
                ad_id,
                page.page_id,
                page.url,
                page.fetched_at,
                page.status,
                page.sha256,
                page.warc_file,
                page.warc_offset,
                page.warc_length,
            ],
        )

    def _add_screenshot(self, ad_id: int, shot: ResourceRef, page: PageRef | None) -> None:
        """The screenshot of the rendered page as evidence (kind 'screenshot'), linked to the page it shows."""
        self.db.execute(
            """INSERT OR IGNORE INTO evidence (ad_id, page_id, kind, url, fetched_at, http_status, sha256,
                   warc_file, warc_offset, warc_length) VALUES (?, ?, 'screenshot', ?, ?, ?, ?, ?, ?, ?)""",
            [
                ad_id,
                page.page_id if page else None,
                shot.url,
                shot.fetched_at,
                page.status if page else None,
                shot.sha256,
                shot.warc_file,
                shot.warc_offset,
                shot.warc_length,
            ],
        )
        warc = (shot.warc_file, shot.warc_offset, shot.warc_length)  # one of the ad's pictures too (core.adimages)
        attach(self.db, ad_id, shot.sha256, warc, kind="screenshot", url=shot.url, position=SCREENSHOT_POSITION)


def _owner_alive(owner: str | None, host: str) -> bool:
    """Whether the process that started a run (``host:pid``) still runs; unknown hosts count as alive."""
    if not owner or ":" not in owner:
        return False
    owner_host, _, pid = owner.rpartition(":")
    if owner_host != host:
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
