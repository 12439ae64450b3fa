"""Parsing bounded: a page is measured before it is parsed, and parsed off the event loop, within a time limit.

All sites of a crawl share one event loop, and libxml2 (lxml, parsel) checks each new attribute of an element
against all the earlier ones: one ``<div>`` with 200,000 attributes took 259 s to parse, during which no site
fetched anything. So before a page reaches a spider, ``PageCheckMiddleware``:

1. refuses a page larger than ``DOWNLOAD_MAXSIZE`` (a rendered page has no download limit of its own),
   ``too_large``;
2. refuses, without parsing, a page with more than ``ADCLEAR_PAGE_MAX_ELEMENTS`` start tags or an element with
   more than ``ADCLEAR_PAGE_MAX_ATTRIBUTES`` attributes, found by one pass of a regular expression that reads
   tags as an HTML tokenizer does (comments, raw text such as ``<script>``, quoted values), in linear time;
3. parses the page (the Selector that callbacks then use) in a worker thread (lxml releases the GIL while it
   parses), for at most ``ADCLEAR_PARSE_SECONDS``, and refuses it when that time passes or when its elements
   are nested more than ``ADCLEAR_PAGE_MAX_DEPTH`` deep.

A refused page is archived (it was received) and recorded in ``crawl_errors`` (``too_complex``, or
``too_large``) with the limit it passed; the spider never sees it. Real pages are far inside these limits: the
saved pages in tests have at most 2,464 elements, 17 levels and 7 attributes per element.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.settings import BaseSettings

from crawler.errors import Refused
from crawler.sniff import is_page, no_sniff

__all__ = ["PageCheckMiddleware", "PageLimits", "page_problem"]


@dataclass(frozen=True)
class PageLimits:
    max_bytes: int = 16 * 1024 * 1024
    max_elements: int = 100_000
    max_attributes: int = 1_000
    max_depth: int = 256
    seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> PageLimits:
        return cls(
            max_bytes=settings.getint("DOWNLOAD_MAXSIZE", cls.max_bytes) or cls.max_bytes,
            max_elements=settings.getint("ADCLEAR_PAGE_MAX_ELEMENTS", cls.max_elements),
            max_attributes=settings.getint("ADCLEAR_PAGE_MAX_ATTRIBUTES", cls.max_attributes),
            max_depth=settings.getint("ADCLEAR_PAGE_MAX_DEPTH", cls.max_depth),
            seconds=settings.getfloat("ADCLEAR_PARSE_SECONDS", cls.seconds),
        )


# ---- reading tags as an HTML tokenizer does, in one linear pass ----------------------------------------------
_SPACE = rb"[\t\n\f\r ]"
# an attribute: separators (may be none after a quoted value), a name, maybe "=" and a value; atomic
_ATTRIBUTE = (
    rb"(?>(?:" + _SPACE + rb"|/(?!>))*+[^\t\n\f\r />][^\t\n\f\r />=]*+"
    rb"(?:" + _SPACE + rb"*+=" + _SPACE + rb"*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))?+)"
)
_TAG_END = rb"(?:[\t\n\f\r /]*+>|\Z)"
_RAW_TEXT = (b"script", b"style", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript", b"textarea", b"title")


def _lexer(max_attributes: int) -> re.Pattern[bytes]:
    """Tokens of a document, each tag with at most ``max_attributes`` attributes: the match of the whole
    sequence stops at the first tag with more."""
    attributes = _ATTRIBUTE + rb"{0,%d}+" % max_attributes
    raw = b"".join(
        rb"|<(?i:" + name + rb")(?=[\t\n\f\r />])" + attributes + _TAG_END + rb".*?(?:</(?i:" + name + rb")|\Z)"
        for name in _RAW_TEXT
    )
    token = (
        rb"[^<]++"  # text
        rb"|<!--(?:>|->|.*?(?:--!?>|\Z))"  # a comment, including the abrupt <!--> and <!--->
        + raw  # <script> … </script> and the other raw text elements, whose content holds no tags
        + rb"|<(?i:plaintext)(?=[\t\n\f\r />]).*"  # the rest of the document is text
        rb"|</?[A-Za-z][^\t\n\f\r />]*+"
        + attributes
        + _TAG_END  # a start or end tag
        + rb"|<[!?][^>]*+>?|</[^A-Za-z>][^>]*+>?|</>|</\Z"  # doctype, bogus comments
        rb"|<(?![A-Za-z!?/])"  # a "<" that opens nothing
    )
    return re.compile(rb"(?:" + token + rb")*+", re.DOTALL)


_LEXERS: dict[int, re.Pattern[bytes]] = {}
_START_TAG = re.compile(rb"<[A-Za-z]")


def page_problem(body: bytes, limits: PageLimits) -> tuple[str, str] | None:
    """(kind, message) when ``body`` is over a limit that can be seen without parsing it; else None."""
    if len(body) > limits.max_bytes:
        return "too_large", f"the page is {len(body):,} bytes, more than DOWNLOAD_MAXSIZE ({limits.max_bytes:,})"
    if body.count(b"<") > limits.max_elements and _START_TAG.subn(b"", body)[1] > limits.max_elements:
        return "too_complex", f"more than {limits.max_elements:,} elements (ADCLEAR_PAGE_MAX_ELEMENTS): not parsed"
    lexer = _LEXERS.get(limits.max_attributes)
    if lexer is None:
        lexer = _LEXERS[limits.max_attributes] = _lexer(limits.max_attributes)
    read = lexer.match(body)
    if read is not None and read.end() < len(body):
        return (
            "too_complex",
            f"an element has more than {limits.max_attributes:,} attributes (ADCLEAR_PAGE_MAX_ATTRIBUTES): not parsed",
        )
    return None


def _parse(response: TextResponse, limits: PageLimits) -> tuple[str, str] | None:
    """Parse the page (the Selector is kept on the response for the callbacks) and measure its tree."""
    root = response.selector.root
    if not hasattr(root, "xpath"):
        return None
    if root.xpath("count(//*)") > limits.max_elements:
        return "too_complex", f"more than {limits.max_elements:,} elements (ADCLEAR_PAGE_MAX_ELEMENTS)"
    if root.xpath("boolean(" + "/".join(["*"] * limits.max_depth) + ")"):
        return "too_complex", f"elements nested more than {limits.max_depth} deep (ADCLEAR_PAGE_MAX_DEPTH)"
    return None


class PageCheckMiddleware:
    """Downloader middleware: pages over a limit are refused before a spider parses them (see above)."""

    def __init__(self, limits: PageLimits):
        self.limits = limits

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageCheckMiddleware:
        return cls(PageLimits.from_settings(crawler.settings))

    async def process_response(self, request: Request, response: Response) -> Response:
        if request.callback is NO_CALLBACK or not 200 <= response.status < 300:
            return response  # robots.txt, or an error page that no spider reads
        if not isinstance(response, TextResponse) or not is_page(
            response.headers.get(b"Content-Type"), response.body, no_sniff=no_sniff(response.headers)
        ):
            return response  # not a page: the spider records not_html
        problem = page_problem(response.body, self.limits)
        if problem is None:
            loop = asyncio.get_running_loop()
            try:
                problem = await asyncio.wait_for(
                    loop.run_in_executor(None, _parse, response, self.limits), self.limits.seconds
                )
            except TimeoutError:
                problem = "too_complex", f"parsing took more than {self.limits.seconds:g} s (ADCLEAR_PARSE_SECONDS)"
        if problem is not None:
            raise Refused(*problem, url=response.url)
        return response
