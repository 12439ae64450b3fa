"""The one writer of a distributed crawl: stream entries in, WARC records and database rows out.

``adclear ingest --redis URL`` reads the crawler nodes' entries (``crawler.stream``) with a consumer group and
handles them in batches, with the code a local crawl uses: ``crawler.extensions.archive_page`` archives a page
and indexes it in ``pages``, ``crawler.pipelines.Classification`` classifies an ad, ``crawler.store.CrawlStore``
stores it (ad, version, sighting, evidence, contacts, fingerprint, verdict, queue item), each entry in its own
savepoint of the batch's transaction. After the transaction commits (and the WARC files are on disk) the batch
is acknowledged and deleted from the stream, so the stream's length is the work not done yet.

At least once, and idempotent: entries a writer took and never acknowledged (it was killed) are claimed again
(XAUTOCLAIM) once idle for ``claim_idle`` seconds, and no new entry is read while another consumer holds some
(the stream's order holds: a page is archived before the ads that name it). An entry handled
twice changes nothing: a page already indexed for its run with the same SHA-256 is not archived again, an ad
already sighted in its run with the same content hash is skipped (its key and content hash), an error already
recorded is not recorded twice. A malformed entry is moved aside to ``adclear:items:dead`` with its reason and
acknowledged: it never blocks the stream.

Why so long: a batch is one unit (its transaction, its WARC files' syncs, what the nodes are told, its
acknowledgement) over every kind of entry; split, the at-least-once discipline would be spread over modules.

Each crawl job of a site (``crawler.frontier``) is one ``crawl_runs`` row (its ``job`` column), finished when the
job's ``end`` entry arrives. Each writer process writes its own WARC file per run: a writer killed mid-record
leaves that file's last record torn, and the next process never appends after it.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import ResponseError

from core.seeds import Seeds, Site
from core.timeutil import now_utc
from crawler.archiving import archive_page, archive_resource, index_page
from crawler.extensions import RunResult, run_outcome
from crawler.items import AdItem, PageRef, ResourceRef
from crawler.modeloffer import offer_model
from crawler.pipelines import Classification
from crawler.reading import KeptPictures, PictureReading
from crawler.seenagain import SeenAgain
from crawler.store import CrawlStore
from crawler.stream import (
    DEAD_KEY,
    FETCHED_KEY,
    GROUP,
    ITEMS_KEY,
    Entry,
    Glance,
    Malformed,
    ad_item,
    aside,
    decode,
    exchanges_of,
    glance,
    packed_of,
    pairs,
)
from crawler.warc import PackedRecords, RunArchive, check_packed, warc_name

__all__ = ["IngestFigures", "IngestWriter"]

log = logging.getLogger(__name__)

SPIDER = "redis"  # crawl_runs.spider of a distributed run
CHECK_THREADS = max(1, min(8, os.cpu_count() or 1))  # threads checking packed pages (``IngestWriter._check_ahead``)
# Pages whose payload is smaller are checked where they are appended: their check is short and as much Python
# (reading the records' headers) as zlib and SHA-256, and handing it to a thread cost more than it saved (a page
# each, 2 cores: 50 kB pages 3,990-4,080 ads/s threaded against 4,570-4,730 inline, 100 kB 3,440-3,840 against
# 3,310-3,420, 200 kB 2,450-2,540 against 1,920-1,970; pages of a few hundred bytes 7,000-7,200 against 8,400-9,800)
THREADED_CHECK_BYTES = 96 * 1024
# a page of the run, found by its URL's index (``+run_id``: else SQLite scans all the run's pages each time)
PAGE_OF_RUN = """SELECT id, url, status, fetched_at, payload_sha256, warc_file, warc_offset, warc_length FROM pages
                 WHERE url = ? AND +run_id = ? AND payload_sha256 = ? ORDER BY id LIMIT 1"""


@dataclass
class IngestFigures:
    """What a writer did so far."""

    entries: int = 0
    pages: int = 0
    ads: int = 0  # stored: new, changed or seen again
    repeats: int = 0  # redelivered or fetched twice: nothing changed
    errors: int = 0
    malformed: int = 0
    batches: int = 0
    runs_finished: list[RunResult] = field(default_factory=list)


@dataclass
class _Run:
    run_id: int
    site: Site
    archive: RunArchive | None = None


class IngestWriter:
    def __init__(
        self,
        client: redis.Redis,
        db_path: Path,
        seeds: Seeds,
        *,
        rules_dir: Path | None = None,
        consumer: str = "",
        batch: int = 500,
        claim_idle: float = 10.0,
        on_run_end: Callable[[RunResult], None] | None = None,
        reading: PictureReading | None = None,
    ):
        self.client = client
        self.seeds = seeds
        self.sites = {site.name: site for site in seeds.sites}
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.claim_idle_ms = int(claim_idle * 1000)
        self.on_run_end = on_run_end
        self.reading = reading  # pictures read beside the writer (crawler.reading), written between batches
        self._pictures = KeptPictures()  # a picture's bytes from its page entry until its image entry
        self.store = CrawlStore(db_path, group_seconds=float("inf"))  # one transaction per batch, committed here
        self.classification = Classification(rules_dir)
        self.figures = IngestFigures()
        self._runs: dict[tuple[str, str], _Run] = {}
        self._stamp = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
        self._claimed_at = 0.0  # monotonic time of the last XAUTOCLAIM pass
        self._seen = SeenAgain()  # the batch's ads seen again unchanged, sighted in bulk
        self._offered = 0  # the classifier's load (``Classification.loads``) whose model the nodes were offered
        self._fetched: dict[str, set[str]] = {}  # site → keys of the batch's ads fetched, told to the nodes
        # In ``run``, Redis's round trips overlap the batches' work: one thread reads the next batch while a batch
        # is handled, and acknowledges a batch once committed while the next is handled. Entries read ahead are
        # this consumer's, pending, as those in hand: a writer killed leaves both to be claimed, and a batch
        # committed and not yet acknowledged is handled again, which changes nothing.
        self._io: ThreadPoolExecutor | None = None
        self._ahead: Future[list[tuple[bytes, dict[bytes, bytes]]]] | None = None
        self._acks: list[Future[None]] = []
        # A packed page's check (``crawler.warc.check_packed``: inflating its records and digesting its payload,
        # which hold no lock Python needs) runs in threads of their own from the moment its batch is read, beside
        # the batch's SQLite work on this one; the page is appended once its check is back. Keyed by ``id`` of
        # the batch's entries, which the batch holds until it ends. As many threads as cores: with a page per ad
        # the checks are the writer's bottleneck and this thread mostly waits for them (on 2 cores, two threads
        # handled 2,450-2,540 ads/s with 200 kB pages, one 1,920-1,970: benchmarks/bench_distributed.py).
        self._checker = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="ingest-check")
        self._checks: dict[int, Future[None]] = {}
        self._ensure_group()

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(ITEMS_KEY, GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def settle(self) -> None:
        """Before the first batch of a writer that runs for days: its classifier loaded, and what the process
        holds by then (the rule pack, the model, the libraries: over 100,000 objects) set out of the garbage
        collector's reach (``gc.freeze``). Each full collection walked them all to free none of them: 45–55 ms
        per 5,000 ads seen again, a sixth of the writer's time (benchmarks/bench_distributed.py)."""
        self._offer_model()
        gc.collect()
        gc.freeze()

    def _offer_model(self) -> None:
        """The model in use (loaded first, or again after a promotion), offered to the nodes once loaded
        (``crawler.modeloffer``): they assess with it, and their assessments are concluded here."""
        self.classification.classifier(self.store)
        active = self.classification.active
        if active is not None and self.classification.loads != self._offered:
            log.info("the nodes are offered the model %s", offer_model(self.client, active))
            self._offered = self.classification.loads

    def close(self) -> None:
        for run in self._runs.values():
            if run.archive is not None:
                run.archive.close()
        self._runs.clear()
        self._checker.shutdown(wait=True)
        self.store.close()

    # ---- the loop ------------------------------------------------------------------------------------
    def step(self, block: float = 1.0) -> int:
        """Handle one batch: entries left unacknowledged by a writer that died first, else new ones (waiting up
        to ``block`` seconds for them). Returns how many entries it handled."""
        entries = self._claim()
        if not entries and self._others_pending():
            time.sleep(min(block, 0.1))  # not yet idle long enough to be claimed: new entries wait behind them
            return 0
        if not entries:
            entries = self._next_read(block)
            if entries and self._io is not None:  # the stream is busy: the next batch is read while this one is handled
                self._ahead = self._io.submit(self._read, block)
        if entries:
            self.handle(entries)
        elif self.reading is not None:
            self.reading.pump()  # idle: what was read since
        self._offer_model()  # a promotion is looked for at most every MODEL_RECHECK_SECONDS
        return len(entries)

    def run(self, *, until_idle: float | None = None, stop: Callable[[], bool] = lambda: False) -> IngestFigures:
        """Handle batches until ``stop()`` says so, or the stream stayed empty ``until_idle`` seconds."""
        idle_since = time.monotonic()
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-redis") as self._io:
            try:
                while not stop():
                    if self.step(block=1.0 if until_idle is None else min(1.0, until_idle)):
                        idle_since = time.monotonic()
                    elif until_idle is not None and time.monotonic() - idle_since >= until_idle:
                        break
                ahead = self._next_read(0.0)  # read before the stop: handled now, not left to be claimed
                if ahead:
                    self.handle(ahead)
            finally:
                self._io = None
        self._acknowledged()  # each acknowledgement sent (the executor waited for them), or its error raised
        return self.figures

    def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries another consumer (a writer since killed) took and left idle; at most every second."""
        now = time.monotonic()
        if now - self._claimed_at < 1.0:
            return []
        self._claimed_at = now
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        cursor: bytes | str = "0-0"
        while len(claimed) < self.batch:
            reply: Any = self.client.xautoclaim(
                ITEMS_KEY, GROUP, self.consumer, self.claim_idle_ms, cursor, count=self.batch - len(claimed)
            )
            cursor, found = reply[0], reply[1]
            # an entry deleted from the stream while pending comes back as None (Redis 7: listed in reply[2])
            claimed += [(entry_id, fields) for entry_id, fields in found if fields is not None]
            if cursor in (b"0-0", "0-0"):
                break
        if claimed:
            log.info("claimed %d entries left unacknowledged", len(claimed))
        return claimed

    def _others_pending(self) -> bool:
        """Whether another consumer (a writer killed mid-batch) holds entries: they are handled before any new
        one, since a page must be archived before the ads that name it are stored."""
        summary: Any = self.client.xpending(ITEMS_KEY, GROUP)
        names = [(c["name"], c["pending"]) for c in summary.get("consumers") or []]
        return any(n and (name.decode() if isinstance(name, bytes) else name) != self.consumer for name, n in names)

    def _next_read(self, block: float) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """The batch read ahead while the last one was handled, else one read now (``block`` 0: none)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            return ahead.result()
        return self._read(block) if block > 0 else []

    def _read(self, block: float) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply: Any = self.client.xreadgroup(
            GROUP, self.consumer, {ITEMS_KEY: ">"}, count=self.batch, block=max(1, int(block * 1000))
        )
        return list(reply[0][1]) if reply else []

    # ---- one batch ----------------------------------------------------------------------------------
    def handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Store a batch in one transaction, then acknowledge it (and move its malformed entries aside)."""
        dead: list[tuple[bytes, dict[bytes, bytes], str]] = []
        ends: list[tuple[_Run, Entry]] = []
        ended: list[RunResult] = []
        try:
            for entry_id, fields, entry in self._begin(entries):
                try:
                    if isinstance(entry, Glance):
                        if self._glanced_again(entry):
                            continue  # an ad seen again unchanged: its meta never read
                        entry = _decoded(fields)
                    if isinstance(entry, Malformed):
                        raise entry
                    run = self._runs.get((entry.job, entry.site))
                    if run is None:
                        with self.store.writing():  # savepoints: an entry that fails takes back only itself
                            run = self._run(entry)
                    if entry.kind == "end":
                        ends.append((run, entry))  # after the entries before it are committed
                    elif not (
                        entry.kind == "ad" and self._seen_again(run, entry.meta["key"], entry.meta["content_hash"])
                    ):
                        with self.store.writing():
                            self._apply(run, entry)
                except (Malformed, ValueError, TypeError, KeyError) as e:
                    dead.append((entry_id, fields, f"{type(e).__name__}: {e}"))
            with self.store.writing():
                sighted, repeats = self._seen.sight(self.store.db)
                self.figures.ads += sighted
                self.figures.repeats += repeats
            self._sync_archives()
            self.store.flush()  # the commit: only now may the entries be acknowledged
            self._tell_fetched()
            for run, entry in ends:
                result = self._end(run, entry)  # its own transaction; redelivered, it finds the run finished
                if result is not None:
                    ended.append(result)
        except sqlite3.Error:
            self._abandon()
            raise
        finally:
            self._settle_checks()
        self._acknowledged()
        if self._io is not None:
            self._acks.append(self._io.submit(self._acknowledge, entries, dead))
        else:
            self._acknowledge(entries, dead)
        if self.reading is not None:
            self.reading.pump()  # between batches: the pictures read so far, in transactions of their own
        self.figures.entries += len(entries)
        self.figures.malformed += len(dead)
        self.figures.batches += 1
        for result in ended:
            self.figures.runs_finished.append(result)
            if self.on_run_end is not None:
                self.on_run_end(result)

    def _begin(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> list[tuple[bytes, dict[bytes, bytes], Any]]:
        """The batch's entries, each with what was read of it: an ad's ``Glance`` (its meta read only if it is
        not seen again), else the entry decoded or why it cannot be; and the stored content of its ads looked up
        at once (``SeenAgain.begin``)."""
        prepared: list[tuple[bytes, dict[bytes, bytes], Any]] = []
        keys: set[str] = set()
        for entry_id, fields in entries:
            seen = glance(fields)
            entry = seen if seen is not None else _decoded(fields)
            if seen is not None:
                keys.add(seen.key)
            elif isinstance(entry, Entry) and entry.kind == "ad":
                keys.add(str(entry.meta.get("key", "")))
            elif isinstance(entry, Entry) and entry.kind == "page" and entry.warc:
                self._check_ahead(entry)
            prepared.append((entry_id, fields, entry))
        self._seen.begin(self.store.db, keys)
        return prepared

    def _check_ahead(self, entry: Entry) -> None:
        """A large packed page's records checked in the checking threads while the batch is handled
        (``_packed_page`` waits for it; a smaller one is checked there); one that cannot be read is left to
        ``_page`` to move aside with its reason."""
        url, length = entry.meta.get("url"), entry.meta.get("length")
        if not (isinstance(url, str) and isinstance(length, int) and length >= THREADED_CHECK_BYTES):
            return  # small (most pages of a busy stream): not even read here
        try:
            packed = packed_of(entry)
        except Malformed:
            return
        if packed is not None:
            self._checks[id(entry)] = self._checker.submit(check_packed, packed, url=url)

    def _abandon(self) -> None:
        """A batch that cannot be committed (a full disk): rolled back, its runs forgotten (they may have been
        begun in it), nothing acknowledged; the entries are handled again."""
        self.store.rollback()
        self._fetched.clear()
        for run in self._runs.values():
            if run.archive is not None:
                run.archive.close()
        self._runs.clear()

    def _settle_checks(self) -> None:
        """The batch's checks waited for (those no page waited for: the page was archived before, or its entry
        failed first), so that none outlives its batch, and forgotten."""
        for check in self._checks.values():
            check.exception()
        self._checks.clear()

    def _acknowledged(self) -> None:
        """The acknowledgements sent by the Redis thread so far; the first that failed raises its error."""
        done = [ack for ack in self._acks if ack.done()]
        self._acks = [ack for ack in self._acks if not ack.done()]
        for ack in done:
            ack.result()

    def _acknowledge(
        self, entries: list[tuple[bytes, dict[bytes, bytes]]], dead: list[tuple[bytes, dict[bytes, bytes], str]]
    ) -> None:
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.client.pipeline(transaction=True)
        for entry_id, fields, reason in dead:
            log.warning("entry %s moved aside to %s: %s", entry_id.decode(), DEAD_KEY, reason)
            pipe.xadd(DEAD_KEY, aside(entry_id, fields, reason))
        pipe.xack(ITEMS_KEY, GROUP, *ids)
        pipe.xdel(ITEMS_KEY, *ids)
        pipe.execute()

    def _sync_archives(self) -> None:
        """The batch's WARC records reach the disk before the rows that point to them are committed."""
        for run in self._runs.values():
            if run.archive is not None:
                run.archive.sync()

    def _apply(self, run: _Run, entry: Entry) -> None:
        if entry.kind == "page":
            self._page(run, entry)
        elif entry.kind == "ad":
            self._ad(run, entry)
        elif entry.kind == "image":
            self._image(run, entry)
        elif entry.kind == "listed":
            self._listed(run, entry)
        elif entry.kind == "error":
            self._error(run, entry)

    # ---- runs ---------------------------------------------------------------------------------------
    def _run(self, entry: Entry) -> _Run:
        """The run of the entry's job and site, found again or begun."""
        known = self._runs.get((entry.job, entry.site))
        if known is not None:
            return known
        site = self.sites.get(entry.site)
        if site is None:
            raise Malformed(f"site {entry.site!r} is not in this writer's seeds.yml")
        db = self.store.db
        row = db.execute("SELECT id FROM crawl_runs WHERE site = ? AND job = ?", [site.name, entry.job]).fetchone()
        if row is None:
            db.execute(
                """INSERT INTO sites (name, platform, kind, region, config, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET platform = excluded.platform, kind = excluded.kind,
                       region = excluded.region, config = excluded.config, updated_at = excluded.updated_at""",
                [site.name, site.platform, site.kind, site.region, site.model_dump_json(), now_utc()],
            )
            cursor = db.execute(
                "INSERT INTO crawl_runs (site, spider, started_at, owner, job) VALUES (?, ?, ?, ?, ?)",
                [site.name, SPIDER, now_utc(), self.consumer, entry.job],
            )
            run_id = int(cursor.lastrowid or 0)
        else:
            run_id = int(row[0])
            # a local crawl on this host marked it interrupted while no writer ran: the job goes on, so does it
            db.execute(
                "UPDATE crawl_runs SET status = 'running', owner = ?, finished_at = NULL "
                "WHERE id = ? AND status = 'interrupted'",
                [self.consumer, run_id],
            )
        run = self._runs[(entry.job, entry.site)] = _Run(run_id, site)
        return run

    def _archive(self, run: _Run) -> RunArchive:
        if run.archive is None:
            operator = self.seeds.operator
            relpath = warc_name(run.site.name, run.run_id, self._stamp, operator.code)
            run.archive = RunArchive(
                self.store.data_dir,
                relpath,
                operator=f"{operator.name} {operator.contact}".strip(),
                office=operator.code,
            )
            self.store.db.execute(
                "UPDATE crawl_runs SET warc_file = coalesce(warc_file, ?) WHERE id = ?", [relpath, run.run_id]
            )
        return run.archive

    def _end(self, run: _Run, entry: Entry) -> RunResult | None:
        """The job's last entry: the run's outcome, as a local crawl decides it (``run_outcome``)."""
        db = self.store.db
        status_now = db.execute("SELECT status, warc_file FROM crawl_runs WHERE id = ?", [run.run_id]).fetchone()
        if status_now[0] != "running":
            return None  # redelivered: the run is finished already
        status, reason, pages = run_outcome(self.store, run.run_id, run.site, entry.meta["reason"])
        stats = entry.meta.get("stats")
        figures = self.store.finish_run(
            run.run_id,
            status=status,
            reason=reason,
            pages=pages,
            stats=stats if isinstance(stats, dict) else {},
            warc_file=status_now[1],
        )
        if run.archive is not None:
            run.archive.sync()
            run.archive.close()
        self._runs.pop((entry.job, entry.site), None)
        return RunResult(run.site.name, run.run_id, status, reason, figures, status_now[1])

    # ---- entries ------------------------------------------------------------------------------------
    def _page(self, run: _Run, entry: Entry) -> None:
        meta = entry.meta
        packed = packed_of(entry)
        if packed is not None:
            self._packed_page(run, meta, packed, self._checks.get(id(entry)))
            return
        sha256 = hashlib.sha256(entry.body).hexdigest()
        if self.reading is not None and str(meta.get("content_type", "")).startswith("image/"):
            self._pictures.keep((meta["url"], sha256), entry.body)
        if self._page_ref(run, meta["url"], sha256) is not None:
            self.figures.repeats += 1
            return
        exchanges = exchanges_of(entry)
        archive_page(
            self._archive(run),
            self.store,
            run.run_id,
            url=meta["url"],
            method=meta["method"],
            request_headers=pairs(meta["request_headers"]),
            status=meta["status"],
            reason=str(meta.get("reason", "")),
            response_headers=pairs(meta.get("response_headers", [])),
            body=entry.body,
            content_type=str(meta.get("content_type", "")),
            encoding=str(meta.get("encoding", "") or "utf-8"),
            exchanges=exchanges,
            fetched_at=meta["fetched_at"],
        )
        self.figures.pages += 1

    def _packed_page(self, run: _Run, meta: dict[str, Any], packed: PackedRecords, check: Future[None] | None) -> None:
        """A page the node archived (its WARC records, ``crawler.warc.pack_exchange``): checked (``check``: in
        the checking threads, else here) and appended to the run's file as they are, then indexed; a
        ``ValueError`` (moved aside) if they do not name the page."""
        if self._page_ref(run, meta["url"], packed.sha256) is not None:
            self.figures.repeats += 1
            return
        if check is not None:
            check.result()  # its ValueError says what is wrong with the records
        record = self._archive(run).append_packed(packed, url=meta["url"], checked=check is not None)
        index_page(
            self.store,
            run.run_id,
            record,
            url=meta["url"],
            status=meta["status"],
            fetched_at=meta["fetched_at"],
            content_type=str(meta.get("content_type", "")),
            length=meta["length"],
        )
        self.figures.pages += 1

    def _page_ref(self, run: _Run, url: str, sha256: str) -> PageRef | None:
        row = self.store.db.execute(PAGE_OF_RUN, [url, run.run_id, sha256]).fetchone()
        return PageRef(*row) if row is not None else None

    def _seen_again(self, run: _Run, key: str, content_hash: str) -> bool:
        """An ad stored with this content when the batch began: to be sighted in bulk after the batch's entries
        (on the node's key and content hash: an ad's text is checked against them only when it is stored)."""
        if not self._seen.note(run.run_id, key, content_hash):
            return False
        if run.site.revisit_after:
            self._fetched.setdefault(run.site.name, set()).add(key)
        return True

    def _glanced_again(self, seen: Glance) -> bool:
        """``_seen_again`` on an ad's flat fields, for a run this writer has in hand (else it is decoded)."""
        run = self._runs.get((seen.job, seen.site))
        return run is not None and self._seen_again(run, seen.key, seen.content_hash)

    def _ad(self, run: _Run, entry: Entry) -> None:
        item = ad_item(entry)
        self._seen.forget(item.key)  # stored below: no longer what the batch began with
        if self._already(run, item):
            self.figures.repeats += 1
            return
        page = entry.meta.get("page")
        if isinstance(page, dict):
            item.page = self._page_ref(run, str(page.get("url", "")), str(page.get("sha256", "")))
        shot = entry.meta.get("screenshot")
        if isinstance(shot, dict) and entry.body:
            item.screenshot = self._screenshot(run, shot, entry.body, item.page)
        self.classification.classify(self.store, item, entry.assessed or None)
        self.store.save_ad(item, run.run_id)
        if run.site.revisit_after:
            self._fetched.setdefault(run.site.name, set()).add(item.key)
        self.figures.ads += 1

    def _already(self, run: _Run, item: AdItem) -> bool:
        """The ad is stored with this content and sighted in this run: the entry was handled before."""
        return (
            self.store.db.execute(
                """SELECT 1 FROM ads JOIN sightings ON sightings.ad_id = ads.id
                   WHERE ads.ad_key = ? AND ads.content_hash = ? AND sightings.run_id = ?""",
                [item.key, item.content_hash, run.run_id],
            ).fetchone()
            is not None
        )

    def _screenshot(self, run: _Run, shot: dict[str, Any], data: bytes, page: PageRef | None) -> ResourceRef:
        url, uri = str(shot["url"]), str(shot.get("uri", ""))
        content_type, fetched_at = str(shot.get("content_type", "image/png")), str(shot["fetched_at"])
        return archive_resource(self._archive(run), url, content_type, data, fetched_at, uri, page)

    def _error(self, run: _Run, entry: Entry) -> None:
        self._record_error(run, entry.meta["url"], entry.meta["kind"], entry.meta["message"])

    def _record_error(self, run: _Run, url: str, kind: str, message: str) -> None:
        seen = self.store.db.execute(
            "SELECT 1 FROM crawl_errors WHERE run_id = ? AND url = ? AND kind = ? AND message = ?",
            [run.run_id, url, kind, message],
        ).fetchone()
        if seen is None:
            self.store.record_error(run.run_id, url=url, kind=kind, message=message)
            self.figures.errors += 1

    def _listed(self, run: _Run, entry: Entry) -> None:
        """An ad a node saw listed and did not fetch (``revisit_after``: stored fetched recently): sighted as
        ``listed``, as a local crawl does."""
        row = self.store.db.execute("SELECT id FROM ads WHERE ad_key = ?", [entry.meta["ad_key"]]).fetchone()
        if row is None:
            raise Malformed("a listed ad this database does not hold (another database's Redis?)")
        if self.store.record_listed(int(row[0]), run.run_id):
            self.figures.ads += 1
        else:
            self.figures.repeats += 1

    def _tell_fetched(self) -> None:
        """After the commit: the batch's ads stored fetched, with the time, in their site's ``FETCHED_KEY`` hash
        (sites crawled incrementally, ``revisit_after``), where nodes look before fetching an ad again (a lost
        hash only means ads fetched again)."""
        if self._fetched:
            now = now_utc()
            pipe = self.client.pipeline(transaction=False)
            for site, keys in self._fetched.items():
                pipe.hset(FETCHED_KEY.format(site=site), mapping=dict.fromkeys(keys, now))
            pipe.execute()
            self._fetched.clear()

    # ---- pictures -----------------------------------------------------------------------------------
    def _image(self, run: _Run, entry: Entry) -> None:
        """A picture of an ad (its page archived before): attached to the ad, as ``RunRecorder.attach_image``
        does in a local crawl, and offered to the reading beside the writer with its bytes if still kept."""
        meta, page_named = entry.meta, entry.meta["page"]
        url, sha256 = str(page_named.get("url", "")), str(page_named.get("sha256", ""))
        page = self._page_ref(run, url, sha256)
        if page is None:
            raise Malformed(f"a picture whose page {url[:200]} was not archived in this run")
        ad_key = meta["ad_key"]
        attached = self.store.attach_image(ad_key, page, position=meta["position"], run_id=run.run_id)
        data = self._pictures.take((url, sha256))
        if attached is None:
            self._record_error(run, url, "image", f"a picture of {ad_key[:200]}, whose ad was not stored")
        elif self.reading is not None:
            self.reading.offer(run.site, attached[0], sha256, data, fresh=attached[1])


def _decoded(fields: dict[bytes, bytes]) -> Entry | Malformed:
    try:
        return decode(fields)
    except Malformed as e:
        return e
