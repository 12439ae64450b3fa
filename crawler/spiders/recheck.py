"""The re-check spider: fetch each takedown's URL again and say whether the ad is removed, online or unknown.

One spider per site, made by ``recheck_spider`` from the site's own spider class (so a social site's posts are
rendered in Chromium as the crawl renders them), with the same network policy, robots.txt, WARC archive and run
record as any crawl. It follows no link, and it fetches past the crawl's incremental skipping: every request
is ``dont_filter`` (no duplicate filter), no JOBDIR (nothing of an earlier run is resumed or skipped), and
``revisit_after`` is never consulted. Every 4xx and 5xx reaches the callback (a 404 is an answer here, not an
error), and redirects are followed (a removed ad often sends to the home page).

It stores no ad: its items are ``crawler.recheck.RecheckOutcome``s, one per target, kept in ``outcomes`` for the
caller (``adclear recheck``), which records them against the takedowns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import DropItem
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy_playwright.page import PageMethod
from twisted.python.failure import Failure

from core.seeds import Operator, Site
from crawler.browser import browser_failure, executable_problem
from crawler.errors import classify_failure
from crawler.items import AdItem, PageRef
from crawler.pipelines import CleanTextPipeline
from crawler.recheck import RecheckOutcome, RecheckRecorder, RecheckTarget, SeenAd, decide, recheck_page
from crawler.spiders.classifieds import ClassifiedsSpider
from crawler.spiders.social import CONTEXT, SocialSpider
from crawler.text import html_to_text

__all__ = ["RecheckMixin", "recheck_spider"]

TARGET = "adclear_recheck"  # request meta: the RecheckTarget
RECORDER = "crawler.extensions.RunRecorder"
ANSWERS = list(range(400, 600))  # statuses handed to the callback: 404 and 410 are what a re-check looks for


def recheck_spider(site: Site, operator: Operator, targets: list[RecheckTarget]) -> type[scrapy.Spider]:
    """A spider class that re-checks ``targets`` (URLs of ``site``)."""
    base: type[ClassifiedsSpider] = SocialSpider if site.kind == "social" else ClassifiedsSpider
    attrs = {
        "name": site.name,
        "site": site,
        "operator": operator,
        "targets": tuple(targets),
        "allowed_domains": list(site.allowed_domains),
        "__module__": __name__,
    }
    return type(f"Recheck_{site.name.replace('-', '_')}", (RecheckMixin, base), attrs)


class RecheckMixin:
    """Put before the site's spider class: its requests, callbacks and settings, for a re-check."""

    spider_kind = "recheck"
    targets: ClassVar[tuple[RecheckTarget, ...]] = ()
    site: ClassVar[Site]
    outcomes: list[RecheckOutcome]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.outcomes = []

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)  # type: ignore[misc]
        # nothing resumed, nothing skipped, nothing stored: outcomes are kept on the spider; the run recorded
        # as a re-check's (crawler.recheck.RecheckRecorder)
        extensions = {
            **settings.getdict("EXTENSIONS"),
            RECORDER: None,
            f"{RecheckRecorder.__module__}.RecheckRecorder": 100,
        }
        settings.setdict({"JOBDIR": None, "ITEM_PIPELINES": {}, "EXTENSIONS": extensions}, priority="spider")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        problem = self._cannot_start()
        if problem is not None:
            for target in self.targets:
                self.outcomes.append(_unknown(target, problem))
            return
        for target in self.targets:
            yield self._request(target)

    def _cannot_start(self) -> str | None:
        recorder = self.recorder  # type: ignore[attr-defined]
        if recorder is not None and recorder.setup_error:
            return f"not re-checked: {recorder.setup_error}"
        if self.site.render is not None:
            problem = executable_problem(self.chromium)  # type: ignore[attr-defined]
            if problem is not None:
                return f"not re-checked: {problem}"
        return None

    def _request(self, target: RecheckTarget) -> scrapy.Request:
        # every error status reaches the callback; redirects are still followed (handle_httpstatus_all would not)
        meta: dict[str, Any] = {TARGET: target, "handle_httpstatus_list": ANSWERS}
        render = self.site.render
        if render is not None:
            method = PageMethod(
                recheck_page,
                wait_for=self.site.post_wait_for,
                markers=list(self.site.removed_markers),
                timeout_ms=render.timeout * 1000,
                screenshot=render.screenshot,
            )
            meta.update(playwright=True, playwright_context=CONTEXT, playwright_page_methods={"render": method})
        return scrapy.Request(
            target.url, callback=self.parse_recheck, errback=self.recheck_failed, dont_filter=True, meta=meta
        )

    # ---- callbacks -----------------------------------------------------------------------------------
    def parse_recheck(self, response: Response) -> Iterator[RecheckOutcome]:
        target: RecheckTarget = response.meta[TARGET]
        page: PageRef | None = response.meta.get("adclear_page")
        seen, page_text = None, ""
        if 200 <= response.status < 300:
            seen = self._seen(response)
            page_text = html_to_text(response.text) if hasattr(response, "text") else ""
        outcome, detail = decide(
            target, response.status, seen=seen, page_text=page_text, markers=self.site.removed_markers
        )
        result = _outcome(target, outcome, detail, page, response.status)
        self.outcomes.append(result)
        yield result

    def _seen(self, response: Response) -> SeenAd | None:
        """The ad read off the page with the site's detail selectors, as the crawl reads it (None: nothing)."""
        items = [i for i in self.parse_detail(response) if isinstance(i, AdItem)]  # type: ignore[attr-defined]
        if not items:
            return None
        try:
            item = CleanTextPipeline(None).process_item(items[0])
        except DropItem:
            return None
        return SeenAd(item.title, item.text, item.content_hash)

    def recheck_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        target: RecheckTarget = request.meta[TARGET]
        self.on_error(failure)  # type: ignore[attr-defined]  # recorded in crawl_errors, as in any crawl
        named = None
        if self.site.render is not None:
            named = browser_failure(failure, executable=self.chromium, timeout=self.site.render.timeout)  # type: ignore[attr-defined]
        kind, message = named or classify_failure(failure)
        self.outcomes.append(_unknown(target, f"{kind}: {message}"))


def _unknown(target: RecheckTarget, detail: str) -> RecheckOutcome:
    return RecheckOutcome(target.takedown_id, target.ad_id, target.url, "unknown", detail)


def _outcome(target: RecheckTarget, outcome: str, detail: str, page: PageRef | None, status: int) -> RecheckOutcome:
    if page is None:
        return RecheckOutcome(target.takedown_id, target.ad_id, target.url, outcome, detail, status)
    return RecheckOutcome(
        target.takedown_id, target.ad_id, target.url, outcome, detail, status,
        page.warc_file, page.warc_offset, page.warc_length, page.sha256,
    )  # fmt: skip
