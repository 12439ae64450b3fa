"""What a spider hands to the pipelines: one ad, as found on one page."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # filled by CleanTextPipeline
    title: str = ""
    body: str = ""
    contact: str = ""
    author: str = ""
    posted_at: str | None = None
    extra: dict = field(default_factory=dict)
