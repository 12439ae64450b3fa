"""Item pipelines, one job each: CleanText → Classify → Store.

- ``CleanTextPipeline`` (100): the HTML fragments become clean text (``crawler.text``); the item makes its
  content hash and key once (``AdItem.set_text``). An ad with neither title nor body is dropped.
- ``ClassifyPipeline`` (500): the verdict, with the ads reviewers decided as neighbours
  (``core.verdicts.classify_ad``); the verdict carries the ad's fingerprint. An ad stored with this very
  content already keeps its verdict and is not classified again.
- ``StorePipeline`` (800): the ad, its version, sighting, evidence, contacts, fingerprint, verdict and queue
  item, in one savepoint (``crawler.store.CrawlStore.save_ad``).

Classify and Store need the crawl run the ``RunRecorder`` extension opens (its store and run id).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from classifier import Assessment, Classifier
from classifier.neardup import DecidedAds
from core.classifiers import classifier_for, load_classifier
from core.fingerprints import decided_stamp, load_decided
from core.models import MODEL_RECHECK_SECONDS, ActiveModel, active_model, promoted_seq
from core.timeutil import parse_local
from core.verdicts import classify_ad
from crawler.extensions import RunRecorder
from crawler.items import AdItem
from crawler.store import CrawlStore
from crawler.text import fragments_to_text

log = logging.getLogger(__name__)

__all__ = ["Classification", "ClassifyPipeline", "CleanTextPipeline", "StorePipeline"]

DECIDED_RECHECK_SECONDS = 30.0  # how often the crawl looks for decisions taken since it loaded them


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
        posted = _one_line(text["posted_at"])
        item.set_text(
            title=_one_line(text["title"]),
            body=text["body"],
            contact=_one_line(text["contact"]),
            author=_one_line(text["author"]),
            posted_at=parse_local(posted) if posted else None,
        )
        if not item.title and not item.body:
            message = "neither title nor body found with the site's detail selectors"
            if self.recorder is not None:
                self.recorder.record_error(item.page_url, "extract", message)
            raise DropItem(f"{item.page_url}: {message}")
        return item


def _open_run(recorder: RunRecorder) -> tuple[CrawlStore, int]:
    """The run's store and id; an item that comes without an open run is dropped."""
    store, run_id = recorder.store, recorder.run_id
    if store is None or run_id is None:
        raise DropItem("no crawl run is open (see the run's setup error)")
    return store, run_id


class Classification:
    """The classifier in use and the decided ads as its neighbours, loaded at the first ad and reloaded when
    an operator promoted another model or reviewers decided since: what ClassifyPipeline and the ingest writer
    (``crawler.ingest``) classify with."""

    def __init__(self, rules_dir: Path | None):
        self.rules_dir = rules_dir
        load_classifier(rules_dir, False)  # a broken rule pack stops the crawl here
        self._classifier: Classifier | None = None
        self.active: ActiveModel | None = None  # the model in use, as the ledger named it when loaded
        self.loads = 0  # how many times the classifier was loaded (a promotion loads it again)
        self._promoted: tuple[int | None, float] = (None, 0.0)  # (the latest promotion, when checked)
        self._decided_ads: DecidedAds | None = None
        self._decided_at: tuple[tuple[int, int, int] | None, float] = (None, 0.0)  # (stamp, when checked)
        self.concluded = 0  # verdicts concluded from a node's assessment
        self.classified = 0  # verdicts classified here
        self._refused: set[str] = set()  # why assessments were not used, each said once

    def classifier(self, store: CrawlStore) -> Classifier:
        """The rules and the model in use (the ledger names it: ``core.models``), loaded at the first ad and
        again once an operator promoted another (looked for at most every ``MODEL_RECHECK_SECONDS``)."""
        now = time.monotonic()
        seq, checked = self._promoted
        if self._classifier is not None and now - checked < MODEL_RECHECK_SECONDS:
            return self._classifier
        latest = promoted_seq(store.db)
        if self._classifier is None or latest != seq:
            self.active = active_model(store.db)
            self._classifier = classifier_for(store.db, self.rules_dir, self.active)
            self.loads += 1
            if self._classifier.model_error:
                log.warning("no model: the rules alone classify (%s)", self._classifier.model_error)
            elif self.loads > 1:
                log.info("the model in use is now %s (ledger entry %s)", self.active.version, latest)
        self._promoted = (latest, now)
        return self._classifier

    def decided(self, store: CrawlStore) -> DecidedAds:
        """The confirmed and rejected ads, reloaded when reviewers decided since (checked at most every 30 s)."""
        now = time.monotonic()
        stamp, checked = self._decided_at
        if self._decided_ads is None or now - checked > DECIDED_RECHECK_SECONDS:
            fresh = decided_stamp(store.db)
            if self._decided_ads is None or fresh != stamp:
                self._decided_ads = load_decided(store.db)
            self._decided_at = (fresh, now)
        return self._decided_ads

    def classify(self, store: CrawlStore, item: AdItem, assessed: bytes | None = None) -> None:
        """``item.verdict``, unless the database holds this very content already (its verdict stands).

        ``assessed``: the ad's ``Assessment.pack``, made by a crawler node (``crawler.node``); concluded with
        the decided ads when this classifier made it, else the ad is classified here (said once per version)."""
        if store.known_content(item):
            return
        classifier, decided = self.classifier(store), self.decided(store)
        if assessed is not None:
            try:
                found = Assessment.unpack(assessed)
            except ValueError as e:  # JSON's and UTF-8's errors are ValueErrors too
                why = f"a node's assessment that cannot be read ({e})"
            else:
                try:
                    item.verdict = classifier.conclude(found, decided)
                    item.contacts, item.normalized = found.contacts, found.outcome.whole
                    self.concluded += 1
                    return
                except ValueError as e:  # another classifier's: a promoted model, other rules than the nodes'
                    why = str(e)
            if why not in self._refused:
                self._refused.add(why)
                log.warning("%s: the ad is classified here", why)
        item.verdict = classify_ad(classifier, item.ad_text, decided)
        self.classified += 1


class ClassifyPipeline:
    """The verdict on each new or changed ad, with the decided ads as neighbours (``item.verdict``)."""

    def __init__(self, recorder: RunRecorder, rules_dir: Path | None):
        self.recorder = recorder
        self.classification = Classification(rules_dir)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        recorder = crawler.get_extension(RunRecorder)
        if recorder is None:
            raise NotConfigured("ClassifyPipeline needs the RunRecorder extension")
        rules = crawler.settings.get("ADCLEAR_RULES")
        return cls(recorder, Path(rules) if rules else None)

    def process_item(self, item: AdItem) -> AdItem:
        store, _ = _open_run(self.recorder)
        self.classification.classify(store, item)
        return item


class StorePipeline:
    """Store the ad through the run's CrawlStore; counts come from the sightings it writes.

    The verdict (and its queue item) is stored only for a new or changed ad, in the same savepoint as the ad.
    """

    def __init__(self, crawler: Crawler, recorder: RunRecorder):
        self.crawler = crawler
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        recorder = crawler.get_extension(RunRecorder)
        if recorder is None:
            raise NotConfigured("StorePipeline needs the RunRecorder extension")
        return cls(crawler, recorder)

    def process_item(self, item: AdItem) -> AdItem:
        store, run_id = _open_run(self.recorder)
        result = store.save_ad(item, run_id)
        stats = self.crawler.stats
        if stats:
            stats.inc_value(f"adclear/ads/{result.change}")
            if item.verdict is not None and result.change in ("new", "changed"):
                stats.inc_value(f"adclear/verdicts/{item.verdict.label}")
        item.extra["ad_id"] = result.ad_id
        item.extra["change"] = result.change
        reading, site = self.recorder.reading, self.recorder.site
        if reading and site and item.screenshot and item.screenshot_data and result.change in ("new", "changed"):
            data, item.screenshot_data = item.screenshot_data, b""  # not kept in the item
            reading.offer(site, result.ad_id, item.screenshot.sha256, data, fresh=True, screenshot=True)
        return item
