"""What a spider hands to the pipelines: one ad, as found on one page; what the pipelines add to it.

The spider fills in where the ad was found and the HTML fragments its site's selectors picked. Then, one job
each (``crawler.pipelines``): CleanText turns the fragments into text (``set_text``, which also makes the
ad's content hash and key, once); Classify adds the verdict (unless the database holds this very content
already); Store writes it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classifier import Verdict
from classifier.contacts import Contact
from core import ads
from core.ads import AdText

__all__ = ["AdItem", "PageRef", "ResourceRef"]


@dataclass(frozen=True, slots=True)
class PageRef:
    """Where the page an ad was found on lies in the run's WARC file (set by WarcArchiveMiddleware)."""

    page_id: int
    url: str
    status: int
    fetched_at: str
    sha256: str
    warc_file: str
    warc_offset: int
    warc_length: int
    record_id: str = ""  # the record's WARC-Record-ID (a screenshot's record is concurrent to it)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A WARC ``resource`` record about a page (a screenshot of a rendered page): where it lies, its SHA-256."""

    url: str  # the page it shows
    content_type: str
    fetched_at: str
    sha256: str
    warc_file: str
    warc_offset: int
    warc_length: int


@dataclass(slots=True)
class AdItem:
    site: str
    platform: str
    url: str  # canonical URL of the ad (of the page, for an ad slot without its own URL)
    page_url: str  # the URL actually fetched
    # HTML fragments as the site's selectors found them; CleanTextPipeline turns them into text
    title_html: str = ""
    body_html: str = ""
    contact_html: str = ""
    author_html: str = ""
    posted_at_html: str = ""
    in_slot: bool = False  # an ad slot in a list page: identified by page URL + hash of its text
    page: PageRef | None = None
    screenshot: ResourceRef | None = None  # a full-page PNG of the rendered page (social sites)
    screenshot_data: bytes = b""  # its bytes, kept only to be read beside the crawl (images.read_screenshots)
    # filled by CleanTextPipeline (set_text)
    title: str = ""
    body: str = ""
    contact: str = ""
    author: str = ""
    posted_at: str | None = None
    text: str = ""  # what the classifier reads: the body and the contact line (core.ads.ad_text)
    content_hash: str = ""  # of title, body and contact (core.ads.content_hash)
    key: str = ""  # what the ad is stored under (core.ads.ad_key)
    # filled by ClassifyPipeline: None for an ad stored with this content already (its verdict stands)
    verdict: Verdict | None = None
    # from a crawler node's assessment (the ingest writer): the contacts it found and the text as the classifier
    # normalised it (``RulesOutcome.whole``), so that the writer need not normalise the ad again
    contacts: list[Contact] | None = None
    normalized: str | None = None
    # filled by StorePipeline: the ad's id and what changed ("new", "same", "changed", "repeat")
    extra: dict[str, Any] = field(default_factory=dict)

    def set_text(self, *, title: str, body: str, contact: str, author: str, posted_at: str | None) -> None:
        """The ad's clean text, and what follows from it once: the classifier's text, the content hash, the key."""
        self.title, self.body, self.contact, self.author, self.posted_at = title, body, contact, author, posted_at
        self.text = ads.ad_text(title, body, contact)[1]
        self.content_hash = ads.content_hash(title, body, contact)
        self.key = ads.ad_key(self.url, self.content_hash, in_slot=self.in_slot)

    @property
    def ad_text(self) -> AdText:
        """What the classifier reads of the ad (made by ``set_text``)."""
        return AdText(self.title, self.text, self.url)
