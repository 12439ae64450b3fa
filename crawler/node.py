"""A crawler node of a distributed crawl: what a local crawl writes to the database and the WARC file, a node
sends to the ingest writer through the stream instead (``crawler.stream``), and keeps nothing itself.

- ``StreamRecorder`` takes the place of ``RunRecorder`` (the spiders and middlewares find it as their
  recorder): every response becomes a ``page`` entry (its WARC records, made and compressed here so that the
  one writer only appends them; for a rendered page or a picture its bytes, headers and what the browser
  fetched), every error an ``error`` entry, every picture of an ad an ``image`` entry (after the ad's); a
  screenshot is kept until its ad is sent.
- ``StreamPipeline`` takes the place of Classify and Store: after CleanText, the ad (its clean text, key and
  content hash) goes out as an ``ad`` entry with its page's URL and SHA-256, its screenshot and its assessment
  (``classifier.assessment``: the rules' and the model's part of the verdict, made here because the nodes
  have the CPU and the one writer has not; the writer adds the decided ads' part), with the model the writer
  offers (``crawler.modeloffer``: the one its ledger names). Back-pressure: while the
  stream holds more than ``ADCLEAR_STREAM_MAX`` entries (the writer is behind), downloads
  (``crawler.frontier.NodeThrottleMiddleware``) and this pipeline wait.

When Redis stays unreachable longer than the client's retries (``ADCLEAR_REDIS_RETRY_SECONDS``), the node
gives up: it stops acknowledging requests (``crawler.frontier`` leaves them to the reaper) and closes with the
reason ``redis_lost``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections import Counter
from pathlib import Path
from secrets import token_hex
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from classifier import Assessment
from core.timeutil import now_utc
from crawler.archiving import page_fields
from crawler.extensions import BROWSER_EXCHANGES, REFUSALS, RunRecorder, RunResult
from crawler.items import AdItem, PageRef, ResourceRef
from crawler.modeloffer import OfferedModel
from crawler.stream import FETCHED_KEY, ITEMS_KEY, Entry, connect, encode, page_entry

__all__ = ["StreamPipeline", "StreamRecorder", "node_settings", "sent_figures"]

log = logging.getLogger(__name__)


def node_settings(redis_url: str, base: Any) -> dict[str, Any]:
    """The settings that make ``adclear crawl`` a crawler node (on top of ``base``, crawler/settings.py)."""
    return {
        "ADCLEAR_REDIS": redis_url,
        "SCHEDULER": "crawler.frontier.ReliableScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "EXTENSIONS": {
            **base.getdict("EXTENSIONS"),
            "crawler.extensions.RunRecorder": None,
            __name__ + ".StreamRecorder": 100,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.CleanTextPipeline": 100, __name__ + ".StreamPipeline": 800},
        "DOWNLOADER_MIDDLEWARES": {
            **base.getdict("DOWNLOADER_MIDDLEWARES"),
            "crawler.frontier.NodeThrottleMiddleware": 60,
        },
    }


def sent_figures(sent: Counter[str]) -> str:
    """What a node sent, as its run's reason says it: ``3 ads, 2 images, 5 listed, 12 pages`` (core.reasons reads
    it in Chinese); ``listed``: ads seen in a list and not fetched again."""
    said = ", ".join(f"{n} {kind if kind == 'listed' else kind + 's'}" for kind, n in sorted(sent.items()))
    return said or "nothing"


class StreamRecorder(RunRecorder):
    """``RunRecorder``'s part on a node: what it would write, sent as stream entries."""

    def __init__(self, crawler: Crawler):
        url = crawler.settings.get("ADCLEAR_REDIS")
        if not url:
            raise NotConfigured("StreamRecorder needs ADCLEAR_REDIS (adclear crawl --redis URL)")
        super().__init__(crawler)
        retry_seconds = crawler.settings.getfloat("ADCLEAR_REDIS_RETRY_SECONDS", 120.0)
        self.client = connect(url, retry_seconds=retry_seconds, at_once=False)  # the command line checked it
        self.node = f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        self.job = ""  # the crawl job of the site (crawler.frontier sets it when the scheduler opens)
        self.lost = ""  # why Redis was given up; then nothing more is acknowledged
        self.sent: Counter[str] = Counter()
        self.max_stream = crawler.settings.getint("ADCLEAR_STREAM_MAX", 10_000)
        self._length = (0, 0.0)  # (the stream's length, when asked)
        self._shots: dict[str, tuple[bytes, str]] = {}  # screenshot SHA-256 → (PNG, its URI), until its ad is sent
        self._ads_sent: set[str] = set()  # keys of the ads sent: their pictures may follow at once
        self._held: dict[str, list[dict[str, Any]]] = {}  # ad key → its pictures' entries, until the ad is sent

    def _prepare_jobdir(self) -> None:
        """A node keeps no JOBDIR: its frontier is in Redis."""

    # ---- lifecycle -----------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        site = getattr(spider, "site", None)
        if site is None:
            self.setup_error = f"spider {spider.name} has no site from seeds.yml"
            return
        self.site = site
        self.result = RunResult(site=site.name)
        log.info("node %s crawls %s (job %s) through Redis", self.node, site.name, self.job)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.result is None:
            return
        for held in self._held.values():  # pictures of ads never sent: the writer records them as errors
            for meta in held:
                self.send("image", meta)
        self._held.clear()
        figures = sent_figures(self.sent)
        if self.lost:
            self.result.status, self.result.reason = "failed", f"Redis lost: {self.lost}"
        elif reason == "finished" or reason.startswith("closespider_"):
            self.result.status, self.result.reason = "ok", f"sent {figures} (job {self.job})"
        else:
            self.result.status, self.result.reason = "interrupted", f"{reason}; sent {figures}"
        self.client.close()

    # ---- entries -------------------------------------------------------------------------------------
    def send(
        self,
        kind: str,
        meta: dict[str, Any],
        body: bytes = b"",
        parts: list[bytes] | None = None,
        assessed: bytes = b"",
    ) -> bool:
        """One entry to the stream; False when Redis is lost (the node then stops: ``lost``)."""
        if self.lost or self.site is None:
            return False
        return self._send(Entry(kind, self.job, self.site.name, self.node, meta, body, parts or [], assessed))

    def _send(self, entry: Entry) -> bool:
        kind = entry.kind
        try:
            self.client.xadd(ITEMS_KEY, encode(entry))  # type: ignore[arg-type]
        except RedisError as e:
            self.give_up(str(e))
            return False
        self.sent[kind] += 1
        length, asked = self._length  # this node's own entries count at once, not at the next look
        self._length = (length + 1, asked)
        return True

    def give_up(self, why: str) -> None:
        if not self.lost:
            self.lost = why or "connection lost"
            log.error("Redis cannot be reached after retrying (%s): the node stops", self.lost)
            self._stop("redis_lost")

    def record_page(self, request: Request, response: Response) -> PageRef | None:
        fields = page_fields(request, response, request.meta.pop(BROWSER_EXCHANGES, None))
        if self.lost or self.site is None:
            sha256 = hashlib.sha256(fields["body"]).hexdigest()
        else:
            entry = page_entry(fields, self.job, self.site.name, self.node)  # packed: its WARC records made here
            self._send(entry)
            sha256 = entry.meta["warc"]["sha256"] if entry.warc else hashlib.sha256(entry.body).hexdigest()
        return PageRef(0, response.url, response.status, fields["fetched_at"], sha256, "", 0, 0)

    def record_resource(
        self, url: str, content_type: str, data: bytes, *, uri: str = "", page: PageRef | None = None
    ) -> ResourceRef | None:
        sha256 = hashlib.sha256(data).hexdigest()
        self._shots[sha256] = (data, uri)
        return ResourceRef(url, content_type, now_utc(), sha256, "", 0, 0)

    def record_error(self, url: str, kind: str, message: str) -> None:
        if kind in REFUSALS:
            if (url, kind) in self._refused:
                return
            self._refused.add((url, kind))
        self.send("error", {"url": url, "kind": kind, "message": message})
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"adclear/errors/{kind}")

    def attach_image(self, ad_key: str, page: PageRef, *, position: int, data: bytes = b"") -> None:
        """A picture of the ad at ``ad_key`` (its bytes went out as a page entry): an ``image`` entry, sent after
        the ad's own entry so that the writer finds the ad stored (held until then)."""
        meta = {"ad_key": ad_key, "position": position, "page": {"url": page.url, "sha256": page.sha256}}
        if ad_key in self._ads_sent:
            self.send("image", meta)
        else:
            self._held.setdefault(ad_key, []).append(meta)

    def seen_recently(self, ad_key: str, since: str) -> bool:
        """Incremental crawling: the writer stored the ad at ``ad_key`` fetched at or after ``since`` (its hash
        ``FETCHED_KEY``): a ``listed`` entry, and the ad is not fetched."""
        if self.lost or self.site is None:
            return False
        try:
            fetched = self.client.hget(FETCHED_KEY.format(site=self.site.name), ad_key)
        except RedisError as e:
            self.give_up(str(e))
            return False
        if not isinstance(fetched, bytes) or fetched.decode() < since:
            return False
        return self.send("listed", {"ad_key": ad_key})

    def send_ad(self, item: AdItem, assessed: Assessment | None = None) -> bool:
        meta: dict[str, Any] = {
            "platform": item.platform,
            "url": item.url,
            "page_url": item.page_url,
            "in_slot": item.in_slot,
            "title": item.title,
            "body": item.body,
            "contact": item.contact,
            "author": item.author,
            "posted_at": item.posted_at,
            "key": item.key,
            "content_hash": item.content_hash,
            "page": {"url": item.page.url, "sha256": item.page.sha256} if item.page is not None else None,
        }
        shot = b""
        if item.screenshot is not None and item.screenshot.sha256 in self._shots:
            shot, uri = self._shots.pop(item.screenshot.sha256)
            s = item.screenshot
            meta["screenshot"] = {"url": s.url, "uri": uri, "content_type": s.content_type, "fetched_at": s.fetched_at}
        carried = assessed.pack() if assessed is not None else b""
        if not self.send("ad", meta, shot, assessed=carried):
            return False
        self._ads_sent.add(item.key)
        for held in self._held.pop(item.key, []):
            self.send("image", held)
        return True

    async def wait_for_room(self) -> None:
        """Back-pressure: wait while the stream holds more than ``max_stream`` entries (asked every 0.25 s; what
        this node sent since is added to the last answer, so that a fast node does not run far past the bound)."""
        waited = False
        while not self.lost:
            length, asked = self._length
            if time.monotonic() - asked > 0.25:
                try:
                    length = int(self.client.xlen(ITEMS_KEY))
                except RedisError as e:
                    self.give_up(str(e))
                    return
                self._length = (length, time.monotonic())
            if length <= self.max_stream:
                return
            if not waited and self.crawler.stats:
                self.crawler.stats.inc_value("adclear/stream/waits")
            waited = True
            await asyncio.sleep(0.25)


class StreamPipeline:
    """The ad, clean, to the stream (after ``CleanTextPipeline``); waits while the writer is behind."""

    def __init__(self, recorder: StreamRecorder, rules_dir: Path | None):
        self.recorder = recorder
        self.model = OfferedModel(recorder.client, rules_dir)  # the writer's model in use (crawler.modeloffer)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StreamPipeline:
        recorder = crawler.get_extension(StreamRecorder)
        if recorder is None:
            raise NotConfigured("StreamPipeline needs the StreamRecorder extension")
        rules = crawler.settings.get("ADCLEAR_RULES")
        return cls(recorder, Path(rules) if rules else None)

    async def process_item(self, item: AdItem) -> AdItem:
        await self.recorder.wait_for_room()
        ad = item.ad_text
        self.recorder.send_ad(item, self.model.current().assess(ad.text, ad.title, for_writer=True))
        return item
