"""RunRecorder: one crawl_runs row per spider run, its WARC file, its errors and its honest outcome.

Scrapy exits 0 whatever happened, so the outcome is decided here from what was stored:
a run that fetched no page successfully is ``failed`` with the first errors as its reason; a run stopped
by Ctrl-C or a signal is ``interrupted``. ``adclear crawl`` reads ``RunRecorder.result`` after the crawl.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task
from twisted.python.failure import Failure

from core.db import explain
from core.errors import AdclearError
from core.seeds import Site
from core.timeutil import now_utc
from crawler.archiving import archive_page, archive_resource, page_fields
from crawler.errors import Refused, classify_failure
from crawler.items import PageRef, ResourceRef
from crawler.netpolicy import NetworkPolicy, in_context
from crawler.reading import PictureReading, reading_for
from crawler.resolver import address_book
from crawler.store import CrawlStore
from crawler.warc import RunArchive, warc_name

__all__ = ["BROWSER_EXCHANGES", "RunRecorder", "RunResult", "run_outcome"]

log = logging.getLogger(__name__)

_RECEIVED = "adclear_bytes_received"  # request meta: bytes of the body received so far
# request meta: what the browser fetched to render the page, [crawler.warc.Exchange] (crawler.pagepool sets it)
BROWSER_EXCHANGES = "adclear_browser_exchanges"
REFUSALS = ("offsite", "blocked")  # kinds of what the network policy refused: recorded once per URL and run


@dataclass
class RunResult:
    site: str
    run_id: int | None = None
    status: str = "failed"
    reason: str = ""
    figures: dict[str, int] = field(default_factory=dict)
    warc_file: str | None = None


class RunRecorder:
    ANSWERED = "status BETWEEN 200 AND 299"  # the pages that count as fetched (SQL on ``pages``)

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.db_path = Path(crawler.settings["ADCLEAR_DB"])
        self.store: CrawlStore | None = None
        self.archive: RunArchive | None = None
        self.run_id: int | None = None
        self.result: RunResult | None = None
        self.site: Site | None = None  # the run's site, once the spider opened
        self.reading: PictureReading | None = None
        self.setup_error: str | None = None
        self.write_error = ""  # the first commit that failed: the run lost writes and cannot be ok
        self._refused: set[tuple[str, str]] = set()  # (url, kind) of refusals already recorded
        self._reserve: Path | None = None  # room kept on the disk for the run's last row (_reserve_space)
        self.before_close: list[Any] = []  # callables with records to write before the run closes
        self.resuming = False
        self._flusher: task.LoopingCall | None = None
        self.clock: Any = None  # the flush timer's clock (IReactorTime); None: the reactor (tests set their own)
        # bound methods: Scrapy keeps signal receivers by weak reference (a lambda would be collected)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.item_error, signal=signals.item_error)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self._prepare_jobdir()

    def _prepare_jobdir(self) -> None:
        """Keep the site's JOBDIR only to resume a run that stopped cleanly (Ctrl-C); start afresh otherwise.

        This runs before the scheduler opens the JOBDIR. A run killed outright (kill -9, power cut) leaves
        requests that were taken from the disk queue but never finished: resuming from that state would skip
        them for good, so such a JOBDIR is discarded and the site crawled again from its start URLs.
        """
        jobdir = self.crawler.settings.get("JOBDIR")
        site = getattr(self.crawler.spidercls, "site", None)
        if not jobdir or site is None:
            return
        try:
            store = CrawlStore(self.db_path)
        except AdclearError as e:
            self.setup_error = str(e)
            return
        try:
            store.close_dead_runs(site.name)
            last = store.last_run(site.name)
        finally:
            store.close()
        resumable = last is not None and last["status"] == "interrupted" and last["reason"] == "shutdown"
        if not resumable and Path(jobdir).exists():
            shutil.rmtree(jobdir)
        self.resuming = resumable and Path(jobdir).exists()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

    # ---- lifecycle -----------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        site = getattr(spider, "site", None)
        if site is None:
            self.setup_error = f"spider {spider.name} has no site from seeds.yml"
            return
        self.result = RunResult(site=site.name)
        self.site = site
        try:
            group = float(self.crawler.settings.get("ADCLEAR_GROUP_COMMIT_SECONDS", 0.0))
            self.store = CrawlStore(self.db_path, group_seconds=group)
            self.store.sync_site(site)
            self.run_id = self.store.begin_run(site.name, getattr(spider, "spider_kind", spider.name))
        except (AdclearError, sqlite3.Error, OSError) as e:  # a full disk can strike before the run is recorded
            why = (
                str(explain(e, self.db_path, outcome="the run was not started"))
                if isinstance(e, sqlite3.Error)
                else str(e)
            )
            self.setup_error = why
            self.result.reason = why
            log.error("cannot start the run of %s: %s", site.name, why)
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        operator = getattr(spider, "operator", None)
        office = getattr(operator, "code", "") if operator else ""
        relpath = warc_name(site.name, self.run_id, stamp, office)
        self.archive = RunArchive(
            self.store.data_dir,
            relpath,
            operator=f"{operator.name} {operator.contact}".strip() if operator else "",
            office=office,
        )
        self.result.run_id = self.run_id
        self.result.warc_file = relpath
        self.reading = reading_for(self.db_path, started=True)  # pictures read beside the crawl, else later
        self._reserve = _reserve_space(self.store.data_dir, self.run_id)
        if self.store.group_seconds > 0:  # commit the crawl's writes even while it waits for the network
            self._flusher = task.LoopingCall(self._flush_on_timer)
            if self.clock is not None:
                self._flusher.clock = self.clock
            self._flusher.start(self.store.group_seconds, now=False)
        log.info("run %d of %s: archiving to %s", self.run_id, site.name, self.store.data_dir / relpath)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        if self.store is None or self.run_id is None or self.result is None or self.site is None:
            return
        for flush in self.before_close:
            flush()
        write_error = self._last_flush()
        if self.archive is not None:
            try:
                self.archive.close()
            except OSError as e:  # a full disk: the run's evidence is incomplete
                write_error = write_error or (
                    f"the WARC file could not be written ({e.strerror}): free space on its disk (old WARC files, "
                    "logs), then run the command again"
                )
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        status, reason, ok_pages = run_outcome(
            self.store, self.run_id, self.site, reason, answered=self.ANSWERED, resumed=self.resuming
        )
        if write_error:
            status, reason = "failed", write_error
        _release(self._reserve)  # a full disk has room again for the run's last row
        try:
            figures = self.store.finish_run(
                self.run_id, status=status, reason=reason, pages=ok_pages, stats=stats, warc_file=self.result.warc_file
            )
        except sqlite3.Error as e:  # not even the run's own row: the next crawl marks it interrupted
            status, reason, figures = "failed", f"the database could not be written: {self._explain(e)}", {}
        self.result.status, self.result.reason, self.result.figures = status, reason, figures
        self.store.close()
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir and status != "interrupted" and Path(jobdir).exists():
            shutil.rmtree(jobdir, ignore_errors=True)  # done: the next run starts from the start URLs

    def _flush_on_timer(self) -> None:
        self._flush(stop=True)

    def _flush(self, stop: bool) -> None:
        """Commit the group of writes; one that cannot be (a full disk, a read-only file) is rolled back, noted
        for the run's outcome, and the crawl stops: the run is failed with that reason."""
        try:
            self.store.flush()  # type: ignore[union-attr]
        except sqlite3.Error as e:
            log.error("writes of run %s could not be committed: %s", self.run_id, e)
            first = not self.write_error
            self.write_error = self.write_error or f"the database could not be written: {self._explain(e)}"
            if first and stop:
                self._stop("write_error")

    def _stop(self, reason: str) -> None:
        """End the crawl early: what it fetches from now on could not be stored (the pages it refers to were
        rolled back with the group that failed)."""
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and getattr(engine, "running", False):
            from twisted.internet import reactor

            def close() -> None:
                if engine.spider is not None:  # not already closing
                    deferred_from_coro(engine.close_spider_async(reason=reason)).addErrback(
                        lambda f: log.warning("could not stop the crawl early: %s", f.getErrorMessage())
                    )

            reactor.callLater(0, close)  # type: ignore[arg-type]  # IReactorTime: a zope interface, opaque to mypy

    def _explain(self, error: sqlite3.Error) -> str:
        return str(explain(error, self.db_path, outcome="the writes of that moment were rolled back"))

    def _last_flush(self) -> str:
        """Commit the last group; the first write error of the run, if any (its run is then ``failed``)."""
        self._flush(stop=False)
        return self.write_error

    # ---- what happens during the run ----------------------------------------------------------------
    def record_page(self, request: Request, response: Response) -> PageRef | None:
        """Archive a page and index it in ``pages`` (``archive_page``). The row points to what the crawler
        parsed (the rendered DOM of a rendered page)."""
        exchanges = request.meta.pop(BROWSER_EXCHANGES, None)
        if self.archive is None or self.store is None or self.run_id is None:
            return None
        return archive_page(self.archive, self.store, self.run_id, **page_fields(request, response, exchanges))

    def record_resource(
        self, url: str, content_type: str, data: bytes, *, uri: str = "", page: PageRef | None = None
    ) -> ResourceRef | None:
        """Archive something made from a page (a screenshot) as a WARC resource record about ``url``, at ``uri``
        (``core.warc.screenshot_uri(url)`` for a screenshot), concurrent to the ``page`` it shows."""
        if self.archive is None:
            return None
        return archive_resource(self.archive, url, content_type, data, now_utc(), uri, page)

    def record_error(self, url: str, kind: str, message: str) -> None:
        """One row of ``crawl_errors``; what the network policy refuses (``offsite``, ``blocked``) once per run."""
        if kind in REFUSALS:
            if (url, kind) in self._refused:
                return
            self._refused.add((url, kind))
        if self.store is not None and self.run_id is not None:
            self.store.record_error(self.run_id, url=url, kind=kind, message=message)
        self.crawler.stats.inc_value(f"adclear/errors/{kind}") if self.crawler.stats else None

    def attach_image(self, ad_key: str, page: PageRef, *, position: int, data: bytes = b"") -> None:
        """A picture of the ad stored under ``ad_key``, archived as ``page``, and offered with its bytes ``data``
        to the reading beside the crawl (crawler.reading); an ad not stored is an error."""
        attached = self.store.attach_image(ad_key, page, position=position, run_id=self.run_id) if self.store else None
        if attached is None:
            self.record_error(page.url, "image", f"a picture of {ad_key[:200]}, whose ad was not stored")
        elif self.reading is not None and self.site is not None:
            self.reading.offer(self.site, attached[0], page.sha256, data, fresh=attached[1])

    def seen_recently(self, ad_key: str, since: str) -> bool:
        """Incremental crawling: whether the ad at ``ad_key`` was fetched at or after ``since`` (then it is
        sighted in this run as ``listed``, and not fetched again)."""
        if self.store is None or self.run_id is None:
            return False
        ad_id = self.store.fetched_since(ad_key, since)
        if ad_id is None:
            return False
        self.store.record_listed(ad_id, self.run_id)
        return True

    def record_offsite(self, url: str, why: str, kind: str = "offsite") -> None:
        """A link or request the network policy refuses (``offsite``, ``blocked``), recorded once per run."""
        self.record_error(url, kind, why)

    def record_failure(self, failure: Failure, request: Request) -> None:
        kind, message = classify_failure(failure)
        received = request.meta.get(_RECEIVED, 0)
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        if kind == "cancelled" and maxsize and received > maxsize:
            # Scrapy stops a body without Content-Length at DOWNLOAD_MAXSIZE by cancelling it, without a word
            kind, message = "too_large", f"Received more than {maxsize} bytes, the download max size ({maxsize})"
        self.record_error(getattr(failure.value, "url", "") or request.url, kind, message)

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        """Count a download's bytes, so that one stopped at DOWNLOAD_MAXSIZE is named ``too_large``."""
        request.meta[_RECEIVED] = request.meta.get(_RECEIVED, 0) + len(data)

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """A redirect to a URL already requested is dropped by the duplicate filter. A target the network
        policy refuses is recorded as that refusal (two pages redirecting to one internal address are both
        ``blocked``, whichever came second); a redirect back into its own chain is a loop; a redirect to a page
        another link already fetched is no error."""
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        refused = self._policy_refusal(spider, request.url)
        if refused is not None:
            refused = in_context(refused, request, request.url)
            self.record_error(refused.url, refused.kind, refused.message)
        elif request.url in chain:
            hops = " → ".join([*chain, request.url])
            self.record_error(chain[0], "redirect_loop", f"redirects back to a page already requested: {hops}")

    def _policy_refusal(self, spider: Spider, url: str) -> Refused | None:
        site = getattr(spider, "site", None)
        if site is None:
            return None
        host = urlsplit(url).hostname or ""
        try:
            addresses = address_book(self.crawler.settings).cached(host)  # its first request resolved it
        except (OSError, UnicodeError, ValueError):
            addresses = None
        return NetworkPolicy.for_site(site).refusal(url, addresses)

    def spider_error(self, failure: Failure, response: Response, spider: Spider) -> None:
        self.record_error(response.url, "parse", f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def item_error(self, item: Any, response: Response, spider: Spider, failure: Failure) -> None:
        url = getattr(item, "page_url", "") or (response.url if response is not None else "")
        self.record_error(url, "store", f"{failure.type.__name__}: {failure.getErrorMessage()}")


def run_outcome(
    store: CrawlStore,
    run_id: int,
    site: Site,
    reason: str,
    *,
    answered: str = RunRecorder.ANSWERED,
    resumed: bool = False,
) -> tuple[str, str, int]:
    """A run's honest outcome from what was stored: (status, reason, pages fetched). ``reason`` is Scrapy's
    finish reason: ``finished`` (or a ``closespider_`` limit) is ``ok`` unless nothing was fetched or too many
    requests failed; anything else (a shutdown) is ``interrupted``, also when it came before the first page (a
    Ctrl-C is not the site's failure). A run ``resumed`` from an interrupted one's JOBDIR that found nothing
    left to fetch and no error is ``ok``. ``answered``: the SQL condition on ``pages`` of a page that counts as
    fetched (a recorder's ``ANSWERED``)."""
    ok_pages = store.db.execute(
        f"SELECT count(*) FROM pages WHERE run_id = ? AND {answered} AND url NOT LIKE '%/robots.txt'",
        [run_id],
    ).fetchone()[0]
    errors = store.error_count(run_id)
    rate = errors / (ok_pages + errors) if ok_pages + errors else 0.0
    max_rate = site.max_error_rate
    ended = reason == "finished" or reason.startswith("closespider_")
    if ok_pages == 0 and not errors and (resumed or not ended):
        return ("ok" if ended else "interrupted"), reason, ok_pages
    if ok_pages == 0:
        first = store.first_errors(run_id) or store.first_errors(run_id, refusals=True)
        why = "; ".join(f"{kind} {url}: {message}" for kind, url, message in first) or "no error recorded"
        return "failed", f"no page fetched ({why})", ok_pages
    if rate > max_rate:
        kinds = ", ".join(f"{k} {n}" for k, n in store.error_kinds(run_id).items())
        why = f"{errors} of {ok_pages + errors} requests failed ({rate:.0%}, above max_error_rate {max_rate:.0%}"
        return "failed", f"{why}: {kinds})", ok_pages
    return ("ok" if ended else "interrupted"), reason, ok_pages


RESERVE_BYTES = 128 * 1024


def _reserve_space(data_dir: Path, run_id: int) -> Path | None:
    """Keep ``RESERVE_BYTES`` of the disk for the end of the run: when the disk fills up during the crawl, this
    file is removed before the run's status is written, so the run is marked failed with its reason instead of
    being left ``running``. None when even this cannot be written (the run's writes will tell)."""
    path = data_dir / f".reserve-run-{run_id}"
    try:
        with open(path, "wb") as f:
            f.write(b"\0" * RESERVE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        return None
    return path


def _release(reserve: Path | None) -> None:
    if reserve is not None:
        reserve.unlink(missing_ok=True)
