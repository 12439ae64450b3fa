"""Name what went wrong with a request, in the words crawl_errors.kind uses (docs/operations.md)."""

from __future__ import annotations

from scrapy import exceptions as sx
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

__all__ = ["Refused", "classify_failure"]


class Refused(IgnoreRequest):
    """A request or response the crawler refused on purpose: the network policy (crawler/netpolicy.py), a page
    over its limits (crawler/pagecheck.py). ``kind`` and ``message`` are what ``crawl_errors`` records; ``zh`` the
    message in Chinese where a reader of the web app meets it (a tip's URL refused before fetching)."""

    def __init__(self, kind: str, message: str, url: str = "", zh: str = ""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url  # the URL crawl_errors records ("": the request's)
        self.zh = zh

    def __reduce__(self) -> tuple:
        return (Refused, (self.kind, self.message, self.url, self.zh))


def classify_failure(failure: Failure) -> tuple[str, str]:
    """(kind, message) for a failed request."""
    exc = failure.value
    if isinstance(exc, Refused):
        return exc.kind, exc.message
    if isinstance(exc, HttpError):
        status = exc.response.status
        return f"http_{status}", f"HTTP {status}"
    if isinstance(exc, (tx.DNSLookupError, sx.CannotResolveHostError)):
        return "dns", f"the host name does not resolve: {exc}"
    if isinstance(exc, (tx.ConnectionRefusedError, sx.DownloadConnectionRefusedError)):
        return "refused", "connection refused: is the site down?"
    if isinstance(exc, (tx.TimeoutError, tx.TCPTimedOutError, sx.DownloadTimeoutError, TimeoutError)):
        return "timeout", str(exc) or "the site did not answer in time"
    if isinstance(exc, sx.ResponseDataLossError):
        return "data_loss", "the response ended before its Content-Length: truncated (DOWNLOAD_FAIL_ON_DATALOSS)"
    if isinstance(exc, sx.DownloadCancelledError):
        text = str(exc)
        if "larger than download max size" in text:
            return "too_large", text.split(" in request ")[0]
        return "cancelled", text or "the download was cancelled"
    if isinstance(
        exc, (ResponseNeverReceived, ResponseFailed, tx.ConnectionLost, tx.ConnectionDone, sx.DownloadFailedError)
    ):
        return "connection_lost", f"{type(exc).__name__}: {_reasons(exc)}"
    if isinstance(exc, tx.ConnectError):
        return "connect", str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots", "forbidden by robots.txt"
        if "max redirections" in text:
            return "redirect_loop", "too many redirects (a redirect loop?)"
        return "ignored", text or "request ignored"
    return _snake(type(exc).__name__), f"{type(exc).__name__}: {failure.getErrorMessage()}"


def _reasons(exc: Exception) -> str:
    reasons = getattr(exc, "reasons", None)
    if reasons:
        return "; ".join(r.getErrorMessage() for r in reasons)
    return str(exc)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
