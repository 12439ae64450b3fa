"""The config-driven spider for classifieds sites and forums: start → sections → list → detail → next page.

Everything site-specific comes from the site's seeds.yml entry (selectors, domains, limits); one spider class
per site is made by ``crawler.spiderloader``. Only links picked by the site's selectors are followed, only on
the site's allowed domains, only over http(s); robots.txt is obeyed (ROBOTSTXT_OBEY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from core.seeds import Operator, Site
from crawler.errors import Refused
from crawler.extensions import RunRecorder
from crawler.items import AdItem
from crawler.netpolicy import NetworkPolicy
from crawler.sniff import is_page, no_sniff
from crawler.urls import canonical_url, is_crawlable

__all__ = ["ClassifiedsSpider"]


class ClassifiedsSpider(scrapy.Spider):
    name = "classifieds"
    spider_kind = "classifieds"
    site: ClassVar[Site]
    operator: ClassVar[Operator]

    @classmethod
    def for_site(cls, site: Site, operator: Operator) -> type[ClassifiedsSpider]:
        """A spider class bound to one site; its settings come from ``update_settings``."""
        attrs = {
            "name": site.name,
            "site": site,
            "operator": operator,
            "allowed_domains": list(site.allowed_domains),
            "__module__": cls.__module__,
        }
        return type(f"{cls.__name__}_{site.name.replace('-', '_')}", (cls,), attrs)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The site's politeness and limits, a User-Agent naming the operator, a JOBDIR beside the database."""
        super().update_settings(settings)
        site, operator = cls.site, cls.operator
        ua = operator.user_agent()
        jobdir = Path(settings["ADCLEAR_DB"]).parent / "jobs" / site.name
        settings.setdict(
            {
                "DOWNLOAD_DELAY": site.delay,
                "CONCURRENT_REQUESTS_PER_DOMAIN": site.concurrency,
                "AUTOTHROTTLE_START_DELAY": site.delay,
                "AUTOTHROTTLE_TARGET_CONCURRENCY": float(site.concurrency),
                "CLOSESPIDER_PAGECOUNT": site.max_pages,
                "DOWNLOAD_TIMEOUT": site.timeout,
                "RETRY_TIMES": site.retries,
                "USER_AGENT": ua,
                "JOBDIR": str(jobdir),
            },
            priority="spider",
        )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not hasattr(type(self), "site"):
            raise ValueError(f"spider {self.name} needs a site: run `scrapy crawl SITE` with a site of seeds.yml")

    @property
    def recorder(self) -> RunRecorder | None:
        return self.crawler.get_extension(RunRecorder)

    # ---- requests ------------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[scrapy.Request]:
        recorder = self.recorder
        if recorder is not None and recorder.setup_error:
            self.logger.error("not crawling %s: %s", self.site.name, recorder.setup_error)
            return
        for url in self.site.start_urls:
            yield scrapy.Request(url, callback=self.parse_start, errback=self.on_error)
        for request in self.search_requests():
            yield request

    def search_requests(self) -> Iterator[scrapy.Request]:
        """One request per keyword of the site's ``search`` (seeds.yml); result pages are list pages."""
        if self.site.search is None:
            return
        for keyword, url in self.site.search.urls():
            yield scrapy.Request(
                url, callback=self.parse_list, errback=self.on_error, meta={"list_page": 1, "adclear_search": keyword}
            )

    @cached_property
    def policy(self) -> NetworkPolicy:
        return NetworkPolicy.for_site(self.site)

    def _follow(self, response: Response, href: str, callback: Any, **meta: Any) -> scrapy.Request | None:
        url = _absolute(response, href)
        refused = self.policy.check_url(url) if url is not None else Refused("offsite", "not followed: a malformed URL")
        url = url or href.strip()
        if refused is not None:  # the request would be refused: never scheduled, recorded once per run
            self.crawler.stats.inc_value(f"adclear/{refused.kind}_links")
            recorder = self.recorder
            if recorder is not None:
                recorder.record_offsite(url if is_crawlable(url) else url[:200], refused.message, refused.kind)
            return None
        canonical = canonical_url(url, self.site.drop_query_params)
        if callback == self.parse_detail and self.site.revisit_after and self._recently_fetched(canonical):
            return None
        return scrapy.Request(canonical, callback=callback, errback=self.on_error, meta=meta)

    def _recently_fetched(self, url: str) -> bool:
        """Incremental crawling: an ad fetched within ``revisit_after`` hours is only sighted, not fetched."""
        recorder = self.recorder
        since = (datetime.now(UTC) - timedelta(hours=self.site.revisit_after)).isoformat(timespec="microseconds")
        if recorder is None or not recorder.seen_recently(url, since):
            return False
        self.crawler.stats.inc_value("adclear/ads/listed")
        return True

    def on_error(self, failure: Failure) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.record_failure(failure, failure.request)  # type: ignore[attr-defined]

    def _not_a_page(self, response: Response) -> bool:
        """An image, a download, binary bytes: recorded as ``not_html``, and nothing is read from it."""
        if _is_html(response):
            return False
        recorder = self.recorder
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or "no Content-Type"
        if recorder is not None:
            recorder.record_error(response.url, "not_html", f"expected an HTML page, got {ctype}")
        return True

    # ---- callbacks -----------------------------------------------------------------------------------
    def parse_start(self, response: Response) -> Iterator[scrapy.Request | AdItem]:
        sections = self.site.list.sections
        if sections and _is_html(response):
            for href in _links(response, sections):
                request = self._follow(response, href, self.parse_list, list_page=1)
                if request is not None:
                    yield request
        yield from self.parse_list(response)

    def parse_list(self, response: Response) -> Iterator[scrapy.Request | AdItem]:
        if self._not_a_page(response):
            return
        if self.site.list.items:
            for href in _links(response, self.site.list.items):
                request = self._follow(response, href, self.parse_detail)
                if request is not None:
                    yield request
        if self.site.list.entries is not None:
            yield from self.parse_entries(response)
        number = response.meta.get("list_page", 1)
        next_sel = self.site.list.next_page
        if next_sel and number < self.site.list.max_pages:
            for href in _links(response, next_sel)[:1]:
                request = self._follow(response, href, self.parse_list, list_page=number + 1)
                if request is not None:
                    yield request

    def parse_entries(self, response: Response) -> Iterator[AdItem]:
        """Ads read off a list page: listings, native ad slots. Evidence is the list page itself."""
        entries = self.site.list.entries
        if entries is None:
            return
        page = response.meta.get("adclear_page")
        for node in response.css(entries.item):
            if entries.marker is not None:
                marks = node.css(entries.marker)
                if not marks:
                    continue
                if entries.marker_text and entries.marker_text not in "".join(marks.css("::text").getall()):
                    continue

            def html(selector: str | None, node=node) -> str:
                return "\n".join(node.css(selector).getall()) if selector else ""

            link = ""
            if entries.link:
                found = (
                    node.css(entries.link).get()
                    if "::attr(" in entries.link
                    else node.css(entries.link).xpath("@href").get()
                )
                link = (_absolute(response, found) or "") if found else ""
            own_url = is_crawlable(link)
            yield AdItem(
                site=self.site.name,
                platform=self.site.platform,
                url=canonical_url(link if own_url else response.url, self.site.drop_query_params),
                page_url=response.url,
                title_html=html(entries.title),
                body_html=html(entries.body),
                contact_html=html(entries.contact),
                author_html=html(entries.author),
                posted_at_html=html(entries.posted_at),
                in_slot=not own_url,
                page=page,
            )

    def parse_detail(self, response: Response) -> Iterator[AdItem | scrapy.Request]:
        detail = self.site.detail
        if self._not_a_page(response):
            return

        def html(selector: str | None) -> str:
            return "\n".join(response.css(selector).getall()) if selector else ""

        yield AdItem(
            site=self.site.name,
            platform=self.site.platform,
            url=canonical_url(response.url, self.site.drop_query_params),
            page_url=response.url,
            title_html=html(detail.title),
            body_html=html(detail.body),
            contact_html=html(detail.contact),
            author_html=html(detail.author),
            posted_at_html=html(detail.posted_at),
            page=response.meta.get("adclear_page"),
        )
        yield from self.image_requests(response)

    def image_requests(self, response: Response) -> Iterator[scrapy.Request]:
        """The pictures of the ad on this detail page (``img`` in its body and contact line), within the site's
        limits (seeds.yml ``images``), through the same network policy as pages (``_follow``)."""
        detail, limits = self.site.detail, self.site.images
        sources: list[str] = []
        for selector in (detail.body, detail.contact):
            if selector:
                sources.extend(response.css(selector).css("img::attr(src)").getall())
        ad_key = canonical_url(response.url, self.site.drop_query_params)
        for position, src in enumerate(dict.fromkeys(s.strip() for s in sources if s.strip())):
            if position >= limits.max_count:
                self.crawler.stats.inc_value("adclear/images_over_count")
                break
            request = self._follow(response, src, self.parse_image, adclear_ad=ad_key, adclear_position=position)
            if request is not None:
                request.meta["download_maxsize"] = limits.max_bytes
                yield request.replace(dont_filter=True)  # the same picture on two ads belongs to both

    def parse_image(self, response: Response) -> Iterator[AdItem]:
        """A picture of an ad: archived (WarcArchiveMiddleware), attached to its ad and read beside the crawl."""
        recorder, page = self.recorder, response.meta.get("adclear_page")
        if recorder is None or page is None or response.status != 200:
            return
        position = response.meta["adclear_position"]
        recorder.attach_image(response.meta["adclear_ad"], page, position=position, data=response.body)
        yield from ()


def _absolute(response: Response, href: str) -> str | None:
    """``href`` made absolute against the page, None when it is malformed (``http://[::1``, a bad port)."""
    try:
        url = response.urljoin(href.strip())
        canonical_url(url)
    except ValueError:
        return None
    return url


def _links(response: Response, selector: str) -> list[str]:
    """hrefs picked by a selector: the elements' own href, or their first descendant link's."""
    if "::attr(" in selector or "::text" in selector:
        return response.css(selector).getall()
    out = []
    for node in response.css(selector):
        href = node.xpath("@href").get() or node.xpath(".//a/@href").get()
        if href:
            out.append(href)
    return out


def _is_html(response: Response) -> bool:
    """A page, as a browser decides from the Content-Type and the first bytes (crawler.sniff): Scrapy picks
    HtmlResponse from a URL ending in .html whatever the bytes, and a NUL byte does not make HTML binary."""
    return isinstance(response, TextResponse) and is_page(
        response.headers.get(b"Content-Type"), response.body, no_sniff=no_sniff(response.headers)
    )
