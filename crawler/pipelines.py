"""Item pipelines: clean text, then store (the ad, its version, its sighting, its evidence)."""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from adclear.timeutil import parse_local
from adclear.verdicts import ad_text
from crawler.extensions import RunRecorder
from crawler.items import AdItem
from crawler.text import html_to_text, one_line

__all__ = ["CleanTextPipeline", "StorePipeline"]

log = logging.getLogger(__name__)


class CleanTextPipeline:
    """HTML fragments → clean text with BeautifulSoup; an ad with neither title nor body is dropped."""

    def __init__(self, recorder: RunRecorder | None):
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanTextPipeline:
        return cls(crawler.get_extension(RunRecorder))

    def process_item(self, item: AdItem) -> AdItem:
        item.title = one_line(item.title_html)
        item.body = html_to_text(item.body_html)
        item.contact = one_line(item.contact_html)
        item.author = one_line(item.author_html)
        posted = one_line(item.posted_at_html)
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
        self.classifier = load_classifier(Path(rules) if rules else None)

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
        title, text = ad_text(item.title, item.body, item.contact)
        verdict = self.classifier.classify(text, title=title, url=item.url)
        result = store.save_ad(item, run_id, verdict)
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"adclear/ads/{result.change}")
        item.extra["ad_id"] = result.ad_id
        item.extra["change"] = result.change
        item.extra["label"] = verdict.label
        if self.crawler.stats and result.change in ("new", "changed"):
            self.crawler.stats.inc_value(f"adclear/verdicts/{verdict.label}")
        return item
