"""Chromium for the crawler: how it is launched, the settings of a rendering spider, what is done on a page.

Debian's ``chromium`` (``/usr/bin/chromium``, or ``ADCLEAR_CHROMIUM``) is driven by scrapy-playwright; Playwright's
own browser downloads are never used. Each way a rendering crawl can fail without a word is closed here:

- the executable path is always given, and checked before the crawl starts (else rendered pages go missing and
  the run still "finishes");
- the Playwright download handler is registered for http *and* https;
- pages are never handed to callbacks (scrapy-playwright closes each page as soon as it is rendered, on success
  and on failure), contexts and pages per context are bounded, a crashed browser is restarted, and the memory
  limit counts the browser's processes;
- a failure of the browser or of a page is named (``browser``, ``render_timeout``, ``render``) with a message
  that says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM

__all__ = [
    "DEFAULT_CHROMIUM",
    "LAUNCH_ARGS",
    "browser_failure",
    "browser_settings",
    "capture_post",
    "chromium_path",
    "executable_problem",
    "launch_options",
    "render_list",
]

# scrapy-playwright's handler, with rendered requests reusing open pages (crawler/pagepool.py)
HANDLER = "crawler.pagepool.PooledPlaywrightDownloadHandler"
LAUNCH_ARGS = [
    *BASE_ARGS,
    # fewer processes, same pages (benchmarks/bench_browser.py): the GPU process's work (software compositing)
    # on a browser thread; renderers shared once two exist. Each Chromium process maps ~150 MB of the same
    # binary and libraries, which every RSS counts again. (Not --enable-features/--disable-features: Playwright
    # passes its own, and a second one would replace them.)
    "--in-process-gpu",
    "--renderer-process-limit=2",
    # WebRTC's UDP does not go through the SOCKS gate (crawler/browserguard.py): none at all, then
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
# Status of the page's own HTTP response, read in the page (PerformanceNavigationTiming.responseStatus).
_STATUS_JS = "() => { const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0; }"


def chromium_path(settings: BaseSettings) -> str:
    return settings.get("ADCLEAR_CHROMIUM") or DEFAULT_CHROMIUM


def launch_options(executable: str, extra_args: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    return {"executable_path": executable, "headless": True, "args": [*LAUNCH_ARGS, *extra_args]}


def executable_problem(executable: str) -> str | None:
    """Why Chromium at ``executable`` cannot start, in words that say what to do; None when it looks fine."""
    path = Path(executable)
    fix = "install Debian's chromium (make system-deps) or set ADCLEAR_CHROMIUM to its path"
    if not path.exists():
        return f"the browser could not start: no Chromium at {executable}; {fix}"
    if path.is_dir() or not os.access(path, os.X_OK):
        return f"the browser could not start: {executable} is not an executable program; {fix}"
    return None


def browser_settings(settings: BaseSettings, *, timeout: float) -> dict[str, Any]:
    """Settings a rendering spider adds to the project's (at spider priority: the command line still wins).

    ``timeout`` (seconds) bounds a page's navigation; waiting for its content is bounded by the same figure.
    """
    executable = chromium_path(settings)
    timeout_ms = timeout * 1000
    return {
        # http AND https: a scheme without the handler ignores meta["playwright"] silently
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(executable, settings.getlist("ADCLEAR_CHROMIUM_ARGS")),
        "PLAYWRIGHT_MAX_CONTEXTS": settings.getint("ADCLEAR_BROWSER_CONTEXTS", 1),
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": settings.getint("ADCLEAR_BROWSER_PAGES", 4),
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_ms,
        "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,
        # Scrapy's memory limit, counting Chromium's processes too (scrapy-playwright's extension)
        # (the project's extensions kept: a dict setting given here would replace theirs)
        "EXTENSIONS": {
            **settings.getdict("EXTENSIONS"),
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy_playwright.memusage.ScrapyPlaywrightMemoryUsageExtension": 0,
        },
        "MEMUSAGE_ENABLED": True,
        "MEMUSAGE_LIMIT_MB": settings.getint("ADCLEAR_BROWSER_MEMORY_MB", 3072),
        "MEMUSAGE_WARNING_MB": settings.getint("ADCLEAR_BROWSER_MEMORY_MB", 3072) * 3 // 4,
        # download latency of a rendered page is the browser's work, not the site's answer time: AutoThrottle
        # would read it as a slow site; the site's delay and concurrency (seeds.yml) still bound the load
        "AUTOTHROTTLE_ENABLED": False,
    }


def browser_css(selector: str) -> str:
    """A parsel selector as the browser reads it: without ``::attr()``/``::text``."""
    return selector.split("::", 1)[0].strip() or "*"


# ---- what is done on a rendered page (scrapy-playwright PageMethods: called with the page first) -----------
async def _status(page: Any) -> int:
    try:
        return int(await page.evaluate(_STATUS_JS) or 0)
    except Exception:
        return 0


async def render_list(
    page: Any,
    *,
    wait_for: str,
    items: str,
    load_more: str | None,
    scroll: bool,
    max_loads: int,
    timeout_ms: float,
    end_marker: str | None = None,
) -> int:
    """Wait until a feed, list or search page shows ``wait_for``, then load more up to ``max_loads`` times.

    A load is a scroll to the bottom and/or a click on the ``load_more`` button; it counts once more items
    match ``items``. Loading stops early when ``end_marker`` is visible, when the button is gone or disabled
    (and there is no scrolling), or when a load brings nothing within the timeout. Returns the number of loads
    done. A page that answered with an HTTP error is left as it is (its status is the error, not a timeout).
    """
    if await _status(page) >= 400:
        return 0
    await page.wait_for_selector(wait_for, state="attached", timeout=timeout_ms)
    count_js = "(sel) => document.querySelectorAll(sel).length"
    # more items, or the end marker showing (an element with layout is visible enough)
    grown_js = (
        "([sel, n, end]) => document.querySelectorAll(sel).length > n || "
        "(!!end && [...document.querySelectorAll(end)].some((e) => e.getClientRects().length > 0))"
    )
    loads = 0
    for _ in range(max_loads):
        if end_marker and await page.locator(end_marker).first.is_visible():
            break
        before = await page.evaluate(count_js, items)
        acted = False
        if scroll:
            await page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
            acted = True
        if load_more:
            button = page.locator(load_more).first
            if await button.count() and await button.is_visible() and await button.is_enabled():
                # force: no actionability checks, which wait for animation frames that other pages' screenshots
                # delay by seconds; the click is still a real mouse click on the button
                await button.click(force=True, timeout=timeout_ms)
                acted = True
            elif not scroll:
                break  # no button left: everything is loaded
        if not acted:
            break
        try:
            await page.wait_for_function(
                grown_js, arg=[items, before, end_marker or ""], timeout=timeout_ms, polling=100
            )
        except Exception as e:  # playwright's TimeoutError: nothing more came
            if type(e).__name__ != "TimeoutError":
                raise
            break
        if await page.evaluate(count_js, items) <= before:
            break  # the end marker showed and nothing came with it
        loads += 1
    return loads


async def capture_post(page: Any, *, wait_for: str, timeout_ms: float, screenshot: bool) -> bytes | None:
    """Wait until a post page shows ``wait_for``; return a full-page PNG (None when not asked or on an HTTP error)."""
    if await _status(page) >= 400:
        return None
    await page.wait_for_selector(wait_for, state="attached", timeout=timeout_ms)
    if not screenshot:
        return None
    return await page.screenshot(full_page=True, type="png", animations="disabled", caret="hide", timeout=timeout_ms)


# ---- naming failures ---------------------------------------------------------------------------------------
def browser_failure(
    failure: Failure, *, executable: str, timeout: float, waited_for: str = ""
) -> tuple[str, str] | None:
    """(kind, message) for a failure that came from the browser; None for any other failure."""
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout
    except ImportError:  # pragma: no cover (playwright is a dependency)
        return None
    exc = failure.value
    if not isinstance(exc, PlaywrightError):
        return None
    first = (
        (exc.message or str(exc)).strip().splitlines()[0] if (exc.message or str(exc)).strip() else type(exc).__name__
    )
    if "BrowserType.launch" in first or "Failed to launch" in first:
        return "browser", f"the browser could not start ({executable}): {first}; check ADCLEAR_CHROMIUM"
    if isinstance(exc, PlaywrightTimeout):
        if "goto" in first:
            return "render_timeout", f"the page did not load within {timeout:g} s ({first})"
        what = f"'{waited_for}' did not appear" if waited_for else "it did not settle"
        return "render_timeout", f"the page did not render within {timeout:g} s: {what} ({first})"
    if "net::ERR_CONNECTION_REFUSED" in first:
        return "refused", "connection refused: is the site down?"
    if "net::ERR_NAME_NOT_RESOLVED" in first:
        return "dns", f"the host name does not resolve ({first})"
    if "closed" in first or "crash" in first.lower():
        return "browser", f"the browser closed or crashed while rendering the page ({first})"
    return "render", first
