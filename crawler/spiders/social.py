"""The spider for public social pages that only show their posts once JavaScript runs.

It walks a site as ``ClassifiedsSpider`` does (start → feed or list → post; search results like lists), with
the same link policy (the site's selectors only, allowed domains, canonical URLs, robots.txt), but every page
is rendered in Chromium through scrapy-playwright:

- a feed, list or search page waits for ``render.wait_for``, then loads more posts (clicks ``render.load_more``
  and/or scrolls) up to ``render.max_loads`` times; its links are read from the rendered DOM;
- a post page waits for ``render.detail_wait_for`` (default: the body selector) and is captured as a
  full-page PNG, archived as a WARC ``resource`` record at ``urn:screenshot:<url>`` and linked to the ad as
  ``screenshot`` evidence.

``WarcArchiveMiddleware`` archives a rendered page so that it replays (crawler/warc.py): the document as the
server sent it, the rendered DOM as a ``conversion`` record, and every response the page loaded. A post has
no title: its first line (at most ``POST_TITLE_CHARS`` characters) stands for one. Pages are never handed to
callbacks, so scrapy-playwright closes every page as soon as it is rendered, on success and on failure.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy_playwright.page import PageMethod
from twisted.python.failure import Failure

from core.warc import screenshot_uri
from crawler.browser import (
    browser_css,
    browser_failure,
    browser_settings,
    capture_post,
    chromium_path,
    executable_problem,
    render_list,
)
from crawler.items import AdItem
from crawler.spiders.classifieds import ClassifiedsSpider
from crawler.text import html_to_text

__all__ = ["POST_TITLE_CHARS", "SocialSpider", "post_title"]

POST_TITLE_CHARS = 30
CONTEXT = "adclear"


def post_title(text: str) -> str:
    """What stands for a post's title: its first line, cut to ``POST_TITLE_CHARS`` characters (with …)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= POST_TITLE_CHARS else first[:POST_TITLE_CHARS] + "…"


class SocialSpider(ClassifiedsSpider):
    name = "social"
    spider_kind = "social"

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The classifieds spider's settings, plus Chromium through scrapy-playwright (crawler.browser)."""
        super().update_settings(settings)
        render = cls.site.render
        assert render is not None  # seeds.yml validation requires render for social sites
        settings.setdict(browser_settings(settings, timeout=render.timeout), priority="spider")

    @property
    def chromium(self) -> str:
        return chromium_path(self.settings)

    # ---- requests ------------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[scrapy.Request]:
        problem = executable_problem(self.chromium)
        if problem is not None:
            # nothing can be rendered: say so once, as the run's error, rather than failing every request
            self.logger.error("not crawling %s: %s", self.site.name, problem)
            recorder = self.recorder
            if recorder is not None:
                recorder.record_error(self.site.start_urls[0], "browser", problem)
            return
        async for request in super().start():
            yield self._rendered(request)

    def _follow(self, response: Response, href: str, callback: Any, **meta: Any) -> scrapy.Request | None:
        request = super()._follow(response, href, callback, **meta)
        if request is None or callback == self.parse_image:  # a picture is fetched as it is, never rendered
            return request
        return self._rendered(request)

    def _rendered(self, request: scrapy.Request) -> scrapy.Request:
        """The request, to be rendered in Chromium: a post page is captured, any other page loads more."""
        render = self.site.render
        assert render is not None
        timeout_ms = render.timeout * 1000
        if request.callback == self.parse_detail:
            method = PageMethod(
                capture_post, wait_for=self.site.post_wait_for, timeout_ms=timeout_ms, screenshot=render.screenshot
            )
        else:
            assert self.site.list.items is not None  # a social site must have them (core.seeds checks)
            method = PageMethod(
                render_list,
                wait_for=render.wait_for,
                items=browser_css(self.site.list.items),
                load_more=render.load_more,
                scroll=render.scroll,
                max_loads=render.max_loads,
                timeout_ms=timeout_ms,
                end_marker=render.end_marker,
            )
        request.meta.update(playwright=True, playwright_context=CONTEXT, playwright_page_methods={"render": method})
        return request

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        render = self.site.render
        method = request.meta.get("playwright_page_methods", {}).get("render")
        waited_for = method.kwargs.get("wait_for", "") if method is not None else ""
        named = browser_failure(
            failure, executable=self.chromium, timeout=render.timeout if render else 0, waited_for=waited_for
        )
        if named is None:
            super().on_error(failure)
            return
        recorder = self.recorder
        if recorder is not None:
            recorder.record_error(request.url, *named)

    # ---- callbacks -----------------------------------------------------------------------------------
    def parse_list(self, response: Response) -> Iterator[scrapy.Request | AdItem]:
        method = response.meta.get("playwright_page_methods", {}).get("render")
        if method is not None and method.result:
            self.crawler.stats.inc_value("adclear/render/loads", method.result)
        yield from super().parse_list(response)

    def parse_detail(self, response: Response) -> Iterator[AdItem | scrapy.Request]:
        method = response.meta.get("playwright_page_methods", {}).get("render")
        png = method.result if method is not None else None
        shot = None
        if png:
            recorder = self.recorder
            page = response.meta.get("adclear_page")
            shot = (
                recorder.record_resource(response.url, "image/png", png, uri=screenshot_uri(response.url), page=page)
                if recorder is not None
                else None
            )
            self.crawler.stats.inc_value("adclear/render/screenshots")
        for item in super().parse_detail(response):
            if not isinstance(item, AdItem):  # a request for one of the post's pictures
                yield item
                continue
            if not item.title_html:
                item.title_html = html.escape(post_title(html_to_text(item.body_html)))
            item.screenshot = shot
            if shot is not None and png and self.site.images.read_screenshots:
                item.screenshot_data = bytes(png)  # read beside the crawl once the ad is stored (StorePipeline)
            yield item
