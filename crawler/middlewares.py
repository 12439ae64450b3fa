"""Downloader middlewares."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from w3lib.encoding import html_body_declared_encoding, resolve_encoding

from crawler.extensions import RunRecorder
from crawler.netpolicy import NetworkPolicy, in_context, literal_address
from crawler.resolver import address_book

__all__ = ["CharsetMiddleware", "NetworkPolicyMiddleware", "WarcArchiveMiddleware", "better_encoding"]


class NetworkPolicyMiddleware:
    """The site's network policy (crawler.netpolicy) on every request Scrapy sends, before it connects.

    A redirect is a new request, so it is checked again; so is a response's final URL when it differs from the
    request's (a rendered page that navigated). A refusal is raised as ``Refused``: the request's errback
    records it (the first URL of a redirect chain, with the refused hop in the message). Names are resolved
    through the process's AddressBook, in a thread, and Twisted then connects to those same addresses.
    """

    def __init__(self, crawler: Crawler):
        self.book = address_book(crawler.settings)
        self.policy: NetworkPolicy | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkPolicyMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        site = getattr(spider, "site", None)
        own = getattr(spider, "network_policy", None)  # a spider with a policy of its own (a tip's)
        self.policy = own if own is not None else NetworkPolicy.for_site(site) if site is not None else None

    async def process_request(self, request: Request) -> None:
        await self._check(request, request.url)

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.url != request.url:
            await self._check(request, response.url, final=True)
        return response

    async def _check(self, request: Request, url: str, *, final: bool = False) -> None:
        if self.policy is None:
            return
        refused = self.policy.check_url(url)
        host = urlsplit(url).hostname or ""
        if refused is None and literal_address(host) is None:
            try:
                addresses = await self.book.resolve_async(host)
            except (OSError, UnicodeError, ValueError):
                return  # the download fails as a `dns` error, in the resolver's words
            refused = self.policy.refusal(url, addresses)
        if refused is not None:
            raise in_context(refused, request, url, final=final)


class WarcArchiveMiddleware:
    """Archive every response in the run's WARC file and index it in ``pages``.

    The page's place in the archive travels with the request (``meta["adclear_page"]``) so that the item
    pipeline can link the ad to its evidence.
    """

    def __init__(self, recorder: RunRecorder):
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        recorder = crawler.get_extension(RunRecorder)
        if recorder is None:
            from scrapy.exceptions import NotConfigured

            raise NotConfigured("WarcArchiveMiddleware needs the RunRecorder extension")
        return cls(recorder)

    def process_response(self, request: Request, response: Response) -> Response:
        page = self.recorder.record_page(request, response)
        if page is not None:
            request.meta["adclear_page"] = page
        return response


class CharsetMiddleware:
    """Decode pages whose declared charset lies.

    Scrapy trusts the Content-Type header first. Chinese sites often send GBK bytes under a header that says
    UTF-8 (or ISO-8859-1): the text then comes out as mojibake. When the declared encoding cannot decode the
    body strictly, try the charset the page itself declares (meta), then UTF-8, then GB18030 (a superset of
    GB2312 and GBK), and keep the first that decodes without error. A single-byte header charset
    (ISO-8859-1, windows-1252) decodes anything, so there a different meta charset that decodes wins.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse):
            return response
        corrected = better_encoding(response.body, response.encoding)
        if corrected is None:
            return response
        return response.replace(encoding=corrected)


# Single-byte encodings decode any bytes at all, so "it decodes" proves nothing: a server's default
# ISO-8859-1 in front of a GBK page is the commonest lie of all.
_CATCH_ALL = {"cp1252", "latin-1", "latin1", "iso-8859-1", "iso8859-1", "windows-1252"}


def better_encoding(body: bytes, declared: str) -> str | None:
    """An encoding that decodes ``body`` when ``declared`` does not; None when ``declared`` is fine."""
    meta = html_body_declared_encoding(body)
    meta = (resolve_encoding(meta) or meta) if meta else None
    if declared.lower() in _CATCH_ALL and meta and meta != declared and _decodes(body, meta):
        return meta
    if _decodes(body, declared):
        return None
    candidates = []
    if meta:
        candidates.append(meta)
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        if encoding and encoding != declared and _decodes(body, encoding):
            return encoding
    return None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
