"""Item pipelines: clean text, then store (the ad, its version, its sighting, its evidence)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from adclear.timeutil import parse_local
from adclear.verdicts import ad_text
from crawler.extensions import RunRecorder
from crawler.items import AdItem
from crawler.text import fragments_to_text

log = logging.getLogger(__name__)

__all__ = ["CleanTextPipeline", "StorePipeline"]

DECIDED_RECHECK_SECONDS = 30.0


class CleanTextPipeline:
    """HTML fragments → clean text (crawler.text); an ad with neither title nor body is dropped."""

    def __init__(self, recorder: RunRecorder | None):
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanTextPipeline:
        return cls(crawler.get_extension(RunRecorder))

    def process_item(self, item: AdItem) -> AdItem:
        text = fragments_to_text(
            {
                "title": item.title_html,
                "body": item.body_html,
                "contact": item.contact_html,
                "author": item.author_html,
                "posted_at": item.posted_at_html,
            }
        )
        item.title = " ".join(text["title"].split())
        item.body = text["body"]
        item.contact = " ".join(text["contact"].split())
        item.author = " ".join(text["author"].split())
        posted = " ".join(text["posted_at"].split())
        item.posted_at = parse_local(posted) if posted else None
        if not item.title and not item.body:
            message = "neither title nor body found with the site's detail selectors"
            if self.recorder is not None:
                self.recorder.record_error(item.page_url, "extract", message)
            raise DropItem(f"{item.page_url}: {message}")
        return item


class StorePipeline:
    """Classify the ad and store it through the run's CrawlStore; counts come from the sightings it writes.

    The verdict is computed for every item (the classifier is fast and pure) but stored, with its queue item,
    only for a new or changed ad, in the same transaction as the ad.
    """

    def __init__(self, crawler: Crawler, recorder: RunRecorder):
        from adclear.rules import load_classifier

        self.crawler = crawler
        self.recorder = recorder
        rules = crawler.settings.get("ADCLEAR_RULES")
        self._rules_dir = Path(rules) if rules else None
        load_classifier(self._rules_dir, False)  # a broken rule pack stops the crawl here
        self._classifier: Any = None
        self._decided_ads = None
        self._decided_at = (None, 0.0)  # (decisions stamp, monotonic time of the last check)

    def classifier(self, store) -> Any:  # noqa: ANN001 (CrawlStore)
        """The rules and the model in use (the ledger names it: ``adclear.models``), loaded at the first ad."""
        if self._classifier is None:
            from adclear.rules import classifier_for

            self._classifier = classifier_for(store.db, self._rules_dir)
            if self._classifier.model_error:
                logging.getLogger(__name__).warning(
                    "no model: the rules alone classify (%s)", self._classifier.model_error
                )
        return self._classifier

    def _decided(self, store):  # noqa: ANN001, ANN202 (CrawlStore, classifier.neardup.DecidedAds)
        """The confirmed and rejected ads, reloaded when reviewers decided since (checked at most every 30 s)."""
        from adclear.neardup import decided_stamp, load_decided

        now = time.monotonic()
        stamp, checked = self._decided_at
        if self._decided_ads is None or now - checked > DECIDED_RECHECK_SECONDS:
            fresh = decided_stamp(store.db)
            if self._decided_ads is None or fresh != stamp:
                self._decided_ads = load_decided(store.db)
            self._decided_at = (fresh, now)
        return self._decided_ads

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        recorder = crawler.get_extension(RunRecorder)
        if recorder is None:
            raise NotConfigured("StorePipeline needs the RunRecorder extension")
        return cls(crawler, recorder)

    def process_item(self, item: AdItem) -> AdItem:
        store, run_id = self.recorder.store, self.recorder.run_id
        if store is None or run_id is None:
            raise DropItem("no crawl run is open (see the run's setup error)")
        verdict = None
        if not store.known_content(item):  # unchanged ads keep their verdict: no need to classify them again
            title, text = ad_text(item.title, item.body, item.contact)
            verdict = self.classifier(store).classify(text, title=title, url=item.url, neighbours=self._decided(store))
        result = store.save_ad(item, run_id, verdict, verdict.fingerprint if verdict is not None else None)
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"adclear/ads/{result.change}")
        item.extra["ad_id"] = result.ad_id
        item.extra["change"] = result.change
        if verdict is not None and self.crawler.stats and result.change in ("new", "changed"):
            self.crawler.stats.inc_value(f"adclear/verdicts/{verdict.label}")
        return item
