"""Re-checking a takedown's URL: what is fetched, what is decided from it, and what the re-check hands back.

The crawler knows nothing of takedowns (it may not import review/): the caller hands it ``RecheckTarget``s (a
URL with the ad's stored content hash and text) and gets one ``RecheckOutcome`` per target back, with where
the response lies in the run's WARC file. ``crawler.spiders.recheck`` fetches; ``decide`` decides:

- **removed**: the site answers 404 or 410; or it shows one of the site's ``removed_markers`` (seeds.yml) and
  not the ad's text; or the ad's text is gone (the site's detail selectors find nothing, or text that is
  neither the stored content nor a near-duplicate of it);
- **online**: the ad's text is there (the same content hash, or a near-duplicate of it: an edited ad);
- **unknown**: anything that says nothing about the ad: the site is down, a time-out, a refused address,
  a 5xx, 429 or another 4xx, robots.txt, a page the browser could not render. Never counted as removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from classifier.neardup import NearDupIndex
from classifier.neighbours import comparable_text
from crawler.extensions import RunRecorder

__all__ = ["REMOVED_STATUSES", "RecheckOutcome", "RecheckRecorder", "RecheckTarget", "SeenAd", "decide", "recheck_page"]

REMOVED_STATUSES = (404, 410)


class RecheckRecorder(RunRecorder):
    """A re-check's run: a page that answers 404 or 410 is what it looks for, so it counts as fetched (a run
    that only found removed ads is ``ok``, not "no page fetched")."""

    ANSWERED = "(status BETWEEN 200 AND 299 OR status IN (404, 410))"


@dataclass(frozen=True, slots=True)
class RecheckTarget:
    """A URL to fetch again, and what the ad said when it was confirmed."""

    takedown_id: int
    ad_id: int
    url: str
    content_hash: str  # the ad's content as stored (core.ads.content_hash)
    comparable: str  # its text as near-duplicates compare it (classifier.neighbours.comparable_text)


@dataclass(frozen=True, slots=True)
class RecheckOutcome:
    """What a re-check saw: the outcome, why (one line), and the response's place in the WARC file if any."""

    takedown_id: int
    ad_id: int
    url: str
    outcome: str  # removed, online, unknown
    detail: str
    http_status: int | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class SeenAd:
    """The ad as the site's detail selectors read it off the page again (empty strings: nothing found)."""

    title: str
    text: str  # what the classifier reads (core.ads.ad_text)
    content_hash: str


def decide(
    target: RecheckTarget, status: int, *, seen: SeenAd | None, page_text: str, markers: tuple[str, ...]
) -> tuple[str, str]:
    """(outcome, detail) for a page fetched again: ``status`` its HTTP status, ``seen`` the ad read off it (None:
    the selectors found neither title nor text), ``page_text`` the page's whole text, ``markers`` the site's
    ``removed_markers``."""
    if status in REMOVED_STATUSES:
        return "removed", f"the site answers {status} ({'Gone' if status == 410 else 'Not Found'})"
    if not 200 <= status < 300:
        return "unknown", f"the site answers {status}: says nothing about the ad; try again later"
    if seen is not None and seen.content_hash == target.content_hash:
        return "online", "the ad's text is still there, unchanged"
    marker = next((m for m in markers if m in page_text), None)
    if marker is not None:
        return "removed", f"the page says '{marker}'"
    if seen is None or not seen.text.strip():
        return "removed", "the ad's text is gone: the site's detail selectors find nothing on the page"
    if _near_duplicate(target.comparable, comparable_text(seen.text, seen.title)):
        return "online", "the ad's text is still there, edited (a near-duplicate of what was confirmed)"
    return "removed", "the ad's text is gone: the page shows other text"


def _near_duplicate(original: str, now: str) -> bool:
    index = NearDupIndex()
    index.add(0, original)
    return bool(index.query(now, limit=1))


# ---- on a rendered page (a scrapy-playwright PageMethod, called with the page first) ---------------------------
_READY_JS = """([selector, markers]) => !!document.querySelector(selector) ||
    (!!document.body && markers.some((m) => document.body.innerText.includes(m)))"""
_STATUS_JS = "() => { const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0; }"


async def recheck_page(
    page: Any, *, wait_for: str, markers: list[str], timeout_ms: float, screenshot: bool
) -> bytes | None:
    """Wait until a post page shows the ad (``wait_for``) or one of the site's removed markers; a full-page PNG
    of what it shows (None when not asked or on an HTTP error). A page that shows neither times out: unknown."""
    if int(await page.evaluate(_STATUS_JS) or 0) >= 400:
        return None
    await page.wait_for_function(_READY_JS, arg=[wait_for, markers], timeout=timeout_ms, polling=100)
    if not screenshot:
        return None
    return await page.screenshot(full_page=True, type="png", animations="disabled", caret="hide", timeout=timeout_ms)
