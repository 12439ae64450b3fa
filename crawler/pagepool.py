"""A Playwright download handler whose rendered requests reuse open browser pages.

Opening a page starts a renderer process: about 0.3 s of CPU on a 2-core machine, half the cost of rendering a
small post page. So here a page, once rendered and read, goes back to an idle pool, and the next rendered
request navigates it to its own URL (scrapy-playwright's ``meta["playwright_page"]``). Pages are taken from the
pool when a download starts, not when a request is scheduled, and at most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT``
pooled downloads run at once, so that idle pages can never hold the slots that new pages wait for.

A page is closed, never reused, after ``ADCLEAR_BROWSER_PAGE_USES`` navigations (nothing it accumulates grows
without end), after any failure (a page in an unknown state), and when the handler closes. Callbacks never see
a page: it is taken out of ``meta`` before the response leaves the handler. ``ADCLEAR_BROWSER_PAGE_USES = 1``
opens a fresh page for every request (scrapy-playwright's own behaviour). Pages still idle when the handler
closes are closed with their context.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

__all__ = ["PooledPlaywrightDownloadHandler"]

log = logging.getLogger(__name__)

_POOLED = "adclear_pooled_page"  # meta flag: this handler, not the spider, asked to keep the page open


class PooledPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_uses = crawler.settings.getint("ADCLEAR_BROWSER_PAGE_USES", 10)
        self.idle: list[Any] = []  # playwright Page objects, ready for the next download
        self.uses: dict[int, int] = {}  # id(page) → downloads rendered in it
        self.slots = asyncio.Semaphore(max(1, self.config.max_pages_per_context))

    async def download_request(self, request: Request, *args: Any) -> Response:  # type: ignore[override]
        meta = request.meta
        if (
            self.max_uses <= 1
            or not meta.get("playwright")
            or meta.get("playwright_include_page")
            and not meta.get(_POOLED)
        ):
            return await super().download_request(request, *args)
        async with self.slots:
            meta["playwright_include_page"] = True  # the page stays open: this handler closes or keeps it
            meta[_POOLED] = True
            meta.pop("playwright_page", None)
            page = self._take()
            if page is not None:
                meta["playwright_page"] = page
            try:
                response = await super().download_request(request, *args)
            except BaseException:
                page = meta.pop("playwright_page", None)
                if page is not None:
                    self.uses.pop(id(page), None)
                    await self._close_page(page, "failed")
                raise
            page = meta.pop("playwright_page", None)
            if page is not None:
                await self._release(page)
            return response

    def _take(self) -> Any:
        while self.idle:
            page = self.idle.pop()
            if not page.is_closed():
                self.stats.inc_value("adclear/pagepool/reused")
                return page
            self.uses.pop(id(page), None)
        return None

    async def _release(self, page: Any) -> None:
        uses = self.uses.pop(id(page), 0) + 1
        if uses >= self.max_uses or page.is_closed():
            await self._close_page(page, "retired")
        else:
            self.uses[id(page)] = uses
            self.idle.append(page)

    async def _close_page(self, page: Any, why: str) -> None:
        with suppress(Exception):  # the page of a browser that crashed is already gone
            await page.close()
        self.stats.inc_value(f"adclear/pagepool/closed/{why}")
