"""Reading pictures beside the crawl: OCR and QR codes while the crawl goes on, within its budget.

``adclear crawl`` opens one ``PictureReading`` per process (``adclear.crawl.run_crawl``) and the crawl feeds it:

- **Fed as pictures are stored.** ``RunRecorder.attach_image`` offers an ad's image with its bytes still in
  memory; ``StorePipeline`` offers the screenshot of a rendered post when the site asks for it (seeds.yml
  ``images.read_screenshots``). A site with ``images.read: false`` offers nothing. A picture read before (its
  SHA-256 in ``image_reads``) is not read again: the ad is brought up to date from the stored read when the
  picture is new to it or the ad is new or changed.
- **Bounded.** ``workers`` threads each drive one ``core.images.ImageReader`` process (spawned, its
  address-space limit ``memory_mb``, at most ``timeout`` seconds a picture: an overrun kills and replaces it).
  They take pictures from a priority queue, images before screenshots; at most ``MAX_QUEUED_BYTES`` of pictures
  wait in memory, and a picture beyond that is left for ``adclear images read``. The reactor only hands bytes
  over: the crawl's own thread never waits for a picture.
- **One writer.** What was read is written by the reactor's thread (``pump``, on a timer) through the crawl's
  store, the process's one connection and its group transaction (crawler/store.py), a savepoint per picture.
  The ad follows through ``core.adimages.update_ad``, the path ``adclear images read`` takes: its pictures field,
  the contacts in its QR codes, and a new verdict with its queue item and status (``core.verdicts``). An ad
  waiting for another of its pictures is classified again once, when the last one is read.
- **At the end** (``finish``, after the reactor stopped) reading goes on for at most ``wait`` seconds; a picture
  not read by then (its worker is stopped) is left for ``adclear images read``, and the crawl's summary line
  says how many (``core.adimages.unread_pictures``).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import task

from classifier import Classifier
from classifier.neardup import DecidedAds
from core.adimages import update_ad
from core.classifiers import classifier_for
from core.fingerprints import decided_stamp, load_decided
from core.images import OCR_UNAVAILABLE, ImageLimits, ImageRead, ImageReader, remember, sha256
from core.seeds import Site
from crawler.store import CrawlStore

__all__ = ["MAX_QUEUED_BYTES", "KeptPictures", "PictureReading", "ReadingOptions", "ReadingReport", "reading_for"]

log = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 64 * 2**20  # pictures waiting in memory for a reader; more are left for `adclear images read`
PUMP_SECONDS = 0.2  # how often the reactor writes what was read


@dataclass(frozen=True, slots=True)
class ReadingOptions:
    """How a crawl reads pictures beside it (``adclear crawl --read-*``); ``workers`` 0: not at all."""

    workers: int = 1
    timeout: float = 30.0  # seconds a picture
    memory_mb: int = 3000  # address space of each worker
    wait: float = 30.0  # seconds the reading may go on after the crawl ended


@dataclass
class ReadingReport:
    """What the reading beside the crawl did."""

    pictures: int = 0  # read beside the crawl
    ok: int = 0
    skipped: int = 0
    error: int = 0
    known: int = 0  # found read before (same SHA-256): not read again
    ads: int = 0  # classified again with what was read
    contacts: int = 0  # new contacts from QR codes
    waited: float = 0.0  # seconds read after the crawl ended
    cut_short: bool = False  # the wait ended with pictures still to read
    peak_memory_mb: float = 0.0  # the largest resident memory of a worker (VmHWM)


@dataclass(order=True)
class _Job:
    priority: int  # 0 an image, 1 a screenshot
    seq: int
    digest: str = field(compare=False)
    data: bytes = field(compare=False, repr=False)
    limits: ImageLimits = field(compare=False)


_READINGS: dict[Path, PictureReading] = {}


def reading_for(db_path: Path, *, started: bool = False) -> PictureReading | None:
    """The reading this process runs beside its crawls into ``db_path`` (None: pictures are left for later);
    ``started``: a crawl's run opened (``PictureReading.crawl_started``)."""
    reading = _READINGS.get(Path(db_path).resolve())
    if reading is not None and started:
        reading.crawl_started()
    return reading


class PictureReading:
    """Reads the crawl's pictures beside it (see the module); ``offer`` and ``pump`` run on the reactor's thread."""

    def __init__(
        self, db_path: Path, options: ReadingOptions, *, rules_dir: Path | None = None, group_seconds: float = 0.5
    ):
        self.options = options
        self.rules_dir = rules_dir
        self.db_path, self.group_seconds = Path(db_path), group_seconds
        self._store: CrawlStore | None = None  # opened with the first run: the crawl's own connection, shared
        self.report = ReadingReport()
        self._key = Path(db_path).resolve()
        _READINGS[self._key] = self
        self._jobs: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._results: queue.Queue[tuple[str, ImageRead]] = queue.Queue()
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readers: list[ImageReader] = []
        self._wanted: dict[str, set[int]] = {}  # digest being read -> the ads waiting for it
        self._sizes: dict[str, int] = {}  # digest being read -> its bytes (counted in _queued)
        self._queued = 0  # bytes of the pictures being read or waiting to be
        self._waiting: dict[int, set[str]] = {}  # ad -> its pictures being read
        self._updates: set[int] = set()  # ads to classify again at the next pump
        self._deferred: set[int] = set()  # ads whose pictures read so far wait for another of them
        self._updated: set[int] = set()
        self._classifier: Classifier | None = None
        self._decided: tuple[tuple[int, int, int], DecidedAds] | None = None
        self._timer: task.LoopingCall | None = None
        self._closed = False

    @property
    def store(self) -> CrawlStore:
        if self._store is None:
            self._store = CrawlStore(self.db_path, group_seconds=self.group_seconds)
        return self._store

    # ---- the reactor's side --------------------------------------------------------------------------
    def crawl_started(self) -> None:
        """A crawl's run opened: write what was read every ``PUMP_SECONDS`` while the reactor runs. The workers
        start at the first picture to read (a crawl whose pictures were all read before starts none)."""
        if self._timer is None and not self._closed:
            self._timer = task.LoopingCall(self.pump)
            self._timer.start(PUMP_SECONDS, now=False)

    def offer(self, site: Site, ad_id: int, digest: str, data: bytes, *, fresh: bool, screenshot: bool = False) -> None:
        """A picture of the ad, stored (``fresh``: new to the ad, or the ad is new or changed in this run), read if
        its site asks for it (seeds.yml ``images.read``, ``images.read_screenshots``) within the site's limits."""
        images = site.images
        if self._closed or self._stop.is_set() or not data or not images.read:
            return
        if screenshot and not images.read_screenshots:
            return
        limits = ImageLimits(max_bytes=images.max_bytes, max_pixels=images.max_pixels, max_count=images.max_count)
        if digest in self._wanted:  # being read for another ad: this one waits for it too
            self._wanted[digest].add(ad_id)
            self._waiting.setdefault(ad_id, set()).add(digest)
            return
        if self.store.db.execute("SELECT 1 FROM image_reads WHERE sha256 = ?", [digest]).fetchone():
            self.report.known += 1
            if fresh:
                self._updates.add(ad_id)
            return
        if sha256(data) != digest or self._queued + len(data) > MAX_QUEUED_BYTES:
            return  # left for `adclear images read` (which reads it from the WARC file, checked)
        self._wanted[digest] = {ad_id}
        self._waiting.setdefault(ad_id, set()).add(digest)
        self._sizes[digest] = len(data)
        self._queued += len(data)
        self._start_readers()
        self._jobs.put(_Job(1 if screenshot else 0, next(self._seq), digest, data, limits))

    def pump(self) -> None:
        """Write the pictures read since the last pump and classify their ads again (never raises: a failure is
        logged and its pictures are left for ``adclear images read``)."""
        try:
            self._pump()
        except Exception:
            log.exception("the pictures read beside the crawl could not be written")

    def _pump(self) -> None:
        while True:
            try:
                digest, read = self._results.get_nowait()
            except queue.Empty:
                break
            self._write_read(digest, read)
        updates, self._updates = self._updates, set()
        for ad_id in sorted(updates):
            if self._waiting.get(ad_id):
                self._deferred.add(ad_id)  # classified again once its last picture is read
                continue
            with self.store.writing():
                self._update(ad_id)

    def _write_read(self, digest: str, read: ImageRead) -> None:
        ads = self._wanted.pop(digest, set())
        self._queued -= self._sizes.pop(digest, 0)
        ready = []
        for ad_id in sorted(ads):
            pending = self._waiting.get(ad_id, set())
            pending.discard(digest)
            if pending:
                self._deferred.add(ad_id)
            else:
                self._waiting.pop(ad_id, None)
                self._deferred.discard(ad_id)
                ready.append(ad_id)
        self.report.pictures += 1
        setattr(self.report, read.status, getattr(self.report, read.status) + 1)
        if read.error.startswith(OCR_UNAVAILABLE):
            return  # not kept: read once OCR is installed (`adclear images read`)
        with self.store.writing():  # the read and its ads together: a failure leaves both to `images read`
            remember(self.store.db, read)
            for ad_id in ready:
                self._update(ad_id)

    def _update(self, ad_id: int) -> None:
        db = self.store.db
        if db.execute("SELECT 1 FROM ads WHERE id = ?", [ad_id]).fetchone() is None:
            return  # its crawl's write was rolled back
        classifier, decided = self._classify_with()
        self.report.contacts += update_ad(db, ad_id, classifier, decided)
        self._updated.add(ad_id)
        self.report.ads = len(self._updated)

    def _classify_with(self) -> tuple[Classifier, DecidedAds]:
        """The classifier in use (loaded once per process: the crawl's own) and the decided ads, reloaded when
        a reviewer decided since."""
        db = self.store.db
        if self._classifier is None:
            self._classifier = classifier_for(db, self.rules_dir)
        stamp = decided_stamp(db)
        if self._decided is None or self._decided[0] != stamp:
            self._decided = (stamp, load_decided(db))
        return self._classifier, self._decided[1]

    # ---- the readers ---------------------------------------------------------------------------------
    def _start_readers(self) -> None:
        while len(self._threads) < self.options.workers:
            reader = ImageReader(workers=1, timeout=self.options.timeout, memory_mb=self.options.memory_mb)
            reader.warm()
            self._readers.append(reader)
            thread = threading.Thread(
                target=self._read_loop, args=(reader,), name=f"picture-reader-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _read_loop(self, reader: ImageReader) -> None:
        try:
            while not self._stop.is_set():
                try:
                    job = self._jobs.get(timeout=0.2)
                except queue.Empty:
                    continue
                if self._stop.is_set():
                    break
                try:
                    read = reader.read(job.data, job.limits)
                except Exception as exc:  # the pool itself failed: that picture's error
                    read = ImageRead(job.digest, "error", f"{type(exc).__name__}: {exc}"[:300])
                if self._stop.is_set():
                    break  # stopped while it was read: left for `adclear images read`
                self._results.put((job.digest, read))
        finally:
            reader.close()

    # ---- the end -------------------------------------------------------------------------------------
    def finish(self, wait: float | None = None) -> ReadingReport:
        """After the crawl: read on for at most ``wait`` seconds (the options' by default), write it, stop."""
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        wait = self.options.wait if wait is None else wait
        started = time.monotonic()
        while True:
            self._pump()
            if not self._wanted or time.monotonic() - started >= wait:
                break
            time.sleep(0.05)
        self.report.waited = round(time.monotonic() - started, 1)
        self.report.cut_short = bool(self._wanted)
        self._stop_readers()
        self._pump()
        for ad_id in sorted(self._deferred):  # what was read of an ad whose other pictures are left
            with self.store.writing():
                self._update(ad_id)
        self._deferred.clear()
        self.close()
        return self.report

    def _stop_readers(self) -> None:
        self.report.peak_memory_mb = max([self.report.peak_memory_mb, *(r.peak_memory_mb() for r in self._readers)])
        self._stop.set()
        for reader in self._readers:
            reader.abort()
        for thread in self._threads:
            thread.join(timeout=10)

    def close(self) -> None:
        """Stop reading (what is not read is left for ``adclear images read``) and commit what was written."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if not self._stop.is_set():
            self._stop_readers()
        _READINGS.pop(self._key, None)
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> PictureReading:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class KeptPictures:
    """Pictures' bytes held until they can be offered: the ingest writer archives a picture (its page entry)
    before the entry naming its ad arrives. The oldest are let go beyond ``limit`` bytes: such a picture is left
    for ``adclear images read``, which reads it from the WARC file."""

    def __init__(self, limit: int = MAX_QUEUED_BYTES // 2):
        self.limit = limit
        self._kept: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0

    def keep(self, key: tuple[str, str], data: bytes) -> None:
        self._size += len(data) - len(self._kept.pop(key, b""))
        self._kept[key] = data
        while self._size > self.limit:
            self._size -= len(self._kept.popitem(last=False)[1])

    def take(self, key: tuple[str, str]) -> bytes:
        """The bytes kept under ``key`` (empty if let go or never kept), no longer kept."""
        data = self._kept.pop(key, b"")
        self._size -= len(data)
        return data
