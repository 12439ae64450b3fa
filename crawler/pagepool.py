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

It also records what a rendered page fetched (``Capture``): every response the page received while it was
loaded and worked on (the document as the server sent it, redirects, scripts, styles, the JSON its scripts
fetched) with its body, as ``crawler.warc.Exchange`` in ``meta[BROWSER_EXCHANGES]``, for ``RunRecorder`` to
archive. This only listens: the network policy's routing is untouched, and a request it refused got no
response, so it has nothing to record. Bodies are read before the page methods' result is returned (a page
reused or closed loses them); a body larger than ``DOWNLOAD_MAXSIZE`` is left out, as are those not read
within the navigation timeout.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from core.timeutil import now_utc
from crawler.browserguard import BrowserGuard
from crawler.extensions import BROWSER_EXCHANGES, RunRecorder
from crawler.netpolicy import NetworkPolicy
from crawler.resolver import address_book
from crawler.warc import Exchange

__all__ = ["Capture", "PooledPlaywrightDownloadHandler"]

log = logging.getLogger(__name__)

_POOLED = "adclear_pooled_page"  # meta flag: this handler, not the spider, asked to keep the page open


class PooledPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_uses = crawler.settings.getint("ADCLEAR_BROWSER_PAGE_USES", 10)
        self.idle: list[Any] = []  # playwright Page objects, ready for the next download
        self.uses: dict[int, int] = {}  # id(page) → downloads rendered in it
        self.slots = asyncio.Semaphore(max(1, self.config.max_pages_per_context))
        self.guard: BrowserGuard | None = None
        self.gate_lock = asyncio.Lock()
        self.captures: dict[int, Capture] = {}  # id(page) → what the page's current download fetched
        self.max_body = crawler.settings.getint("DOWNLOAD_MAXSIZE")

    # ---- the network policy in the browser (crawler/browserguard.py) ---------------------------------------
    def _guard(self) -> BrowserGuard:
        if self.guard is None:
            recorder = self._crawler.get_extension(RunRecorder)
            site = self._crawler.spider.site
            record = recorder.record_error if recorder is not None else _log_refusal
            self.guard = BrowserGuard(NetworkPolicy.for_site(site), address_book(self._crawler.settings), record)
            if recorder is not None:  # the browser closes after the run: its last refusals are written before
                recorder.before_close.append(self.guard.flush)
        return self.guard

    def _make_request_handler(self, **kwargs: Any) -> Any:
        """scrapy-playwright's ``page.route`` handler, behind the site's network policy: every request a page
        makes is checked first (crawler/browserguard.py). A refused request is aborted as the browser aborts
        a navigation it gives up (net::ERR_ABORTED) rather than failed (net::ERR_FAILED, which would replace a
        page that tried ``location.href = 'http://10.…'`` by an error page), and a refused resource as blocked."""
        forward = super()._make_request_handler(**kwargs)

        async def handler(route: Any, request: Any) -> None:
            if await self._guard().abort(request):
                await route.abort("aborted" if request.is_navigation_request() else "blockedbyclient")
                return
            await forward(route, request)

        return handler

    async def _maybe_launch_browser(self) -> None:
        """The browser is launched behind the SOCKS gate: no connection of its own escapes the policy."""
        async with self.gate_lock:
            gate = self._guard().gate
            if gate.server is None:
                port = await gate.start()
                self.config.launch_options["proxy"] = {"server": f"socks5://127.0.0.1:{port}"}
        await super()._maybe_launch_browser()

    async def _create_browser_context(self, name: str, context_kwargs: dict | None, spider: Any = None) -> Any:
        kwargs = {**(context_kwargs or {}), "service_workers": "block"}  # they bypass request interception
        return await super()._create_browser_context(name, kwargs, spider)

    async def _create_page(self, request: Request, spider: Any) -> Any:
        page = await super()._create_page(request, spider)
        page.on("requestfailed", self._guard().request_failed)
        return page

    # ---- what a rendered page fetched, for the archive -------------------------------------------------------
    async def _download_request_with_page(self, request: Request, page: Any, spider: Any) -> Response:
        capture = Capture(page, self.max_body)
        page.on("response", capture.on_response)
        self.captures[id(page)] = capture
        try:
            response = await super()._download_request_with_page(request, page, spider)
        finally:
            self.captures.pop(id(page), None)
            page.remove_listener("response", capture.on_response)
            capture.cancel()
        request.meta[BROWSER_EXCHANGES] = capture.exchanges()
        return response

    async def _apply_page_methods(self, page: Any, request: Request, spider: Any) -> None:
        await super()._apply_page_methods(page, request, spider)
        capture = self.captures.get(id(page))
        if capture is not None:  # before the page's content is read and the page closed or reused
            timeout_ms = self.config.navigation_timeout_ms
            await capture.settle(timeout_ms / 1000 if timeout_ms else 30.0)

    async def _close(self) -> None:
        await super()._close()
        if self.guard is not None:
            await self.guard.gate.close()

    async def download_request(self, request: Request, *args: Any) -> Response:
        try:
            return await self._pooled_download(request, *args)
        except Exception as e:
            translated = self._guard().translate(e, request.url) if self.guard is not None else None
            if translated is None:
                raise
            raise translated from e

    async def _pooled_download(self, request: Request, *args: Any) -> Response:
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


def _log_refusal(url: str, kind: str, message: str) -> None:
    log.warning("%s %s: %s", kind, url, message)


class Capture:
    """The responses one page received during one download, with their bodies (``crawler.warc.Exchange``)."""

    def __init__(self, page: Any, max_body: int = 0):
        self.page = page
        self.max_body = max_body
        self.pending: list[asyncio.Task] = []
        self.done: list[tuple[int, Exchange]] = []  # (order of arrival, exchange)

    def on_response(self, response: Any) -> None:
        """Playwright's ``response`` event: read the body in a task (``settle`` waits for them)."""
        if response.url.startswith(("http://", "https://")):
            self.pending.append(asyncio.ensure_future(self._read(len(self.pending), response)))

    async def _read(self, order: int, response: Any) -> None:
        request = response.request
        try:
            headers = await response.headers_array()
            length = next((h["value"] for h in headers if h["name"].lower() == "content-length"), "")
            if self.max_body and length.isdigit() and int(length) > self.max_body:
                log.info("not archiving %s: %s bytes, above DOWNLOAD_MAXSIZE", response.url, length)
                return
            body = b"" if 300 <= response.status < 400 else await response.body()
            request_headers = await request.headers_array()
            document = request.is_navigation_request() and request.frame == self.page.main_frame
        except Exception as e:  # Playwright's Error: the body is gone (the page navigated on, it failed)
            log.debug("not archiving %s: %s", response.url, e)
            return
        if self.max_body and len(body) > self.max_body:
            log.info("not archiving %s: %d bytes, above DOWNLOAD_MAXSIZE", response.url, len(body))
            return
        exchange = Exchange(
            url=response.url,
            method=request.method,
            request_headers=_pairs(request_headers),
            status=response.status,
            reason=response.status_text,
            response_headers=_pairs(headers),
            body=body,
            fetched_at=now_utc(),
            document=document,
        )
        self.done.append((order, exchange))

    async def settle(self, timeout: float) -> None:
        """Wait until the bodies of the responses received so far are read (at most ``timeout`` seconds)."""
        pending = [t for t in self.pending if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                log.info("a response of %s was not read within %g s: not archived", self.page.url, timeout)
                task.cancel()

    def cancel(self) -> None:
        for task in self.pending:
            task.cancel()

    def exchanges(self) -> list[Exchange]:
        """The exchanges read, in the order the responses arrived."""
        return [exchange for _, exchange in sorted(self.done, key=lambda pair: pair[0])]


def _pairs(headers: list[dict[str, str]]) -> list[tuple[str, str]]:
    # HTTP/2 pseudo-headers (':status') are no HTTP/1.1 header lines
    return [(h["name"], h["value"]) for h in headers if not h["name"].startswith(":")]
