"""Retries with backoff that honour Retry-After.

Scrapy's RetryMiddleware retries at once. Here a retried request waits first: the seconds a 429 or 503 asks
for in ``Retry-After`` (seconds or an HTTP date), else an exponential backoff (``ADCLEAR_RETRY_BACKOFF`` ×
2^attempt, at most ``ADCLEAR_RETRY_BACKOFF_MAX``). A server that asks for more than
``ADCLEAR_RETRY_AFTER_MAX`` seconds is not retried in this run: the response goes on to the spider and is
recorded as an error (e.g. ``http_429``) with the wait it asked for.

The wait does not hold a download slot: other requests to the site go on (at the site's delay).
"""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet import defer, reactor

__all__ = ["BackoffRetryMiddleware", "retry_after_seconds"]

log = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def _sleep(seconds: float) -> None:
    d: defer.Deferred[None] = defer.Deferred()
    # an IDelayedCall: zope interfaces are opaque to mypy (their methods take no self)
    call: Any = reactor.callLater(seconds, d.callback, None)  # type: ignore[arg-type]
    try:
        await maybe_deferred_to_future(d)
    finally:
        if call.active():
            call.cancel()


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("ADCLEAR_RETRY_BACKOFF", 1.0)
        self.backoff_max = settings.getfloat("ADCLEAR_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("ADCLEAR_RETRY_AFTER_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    def _backoff(self, request: Request) -> float:
        attempt = request.meta.get("retry_times", 0)
        return min(self.backoff_max, self.backoff * (2**attempt))

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            request.meta["adclear_retry_after"] = asked
            log.info(
                "%s asks to wait %.0f s (Retry-After), more than %.0f s: not retried in this run",
                request.url,
                asked,
                self.retry_after_max,
            )
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        delay = asked if asked is not None else self._backoff(request)
        if delay > 0:
            self.crawler.stats.inc_value("adclear/retry_wait_seconds", int(delay))
            await _sleep(delay)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await _sleep(self._backoff(request))
        return retry
