"""The tip spider: fetch the one URL a member of the public reported (举报线索) and store what it shows as an ad.

``tip_spider`` makes it from a site's own spider class: the seeds.yml site whose ``allowed_domains`` hold the
URL's host (its selectors read the ad, its network policy applies, a social site's post is rendered), else
``tip_site``: a site of its own named ``tips``, whose ad is the page's title and whole text, and whose policy
(``tip_policy``) follows a redirect to any host (a short link sends elsewhere) but allows no address that is not
public beyond those the operator allowed for tips.

It fetches the URL once (``dont_filter``, no JOBDIR: nothing of an earlier run is resumed or skipped) through
everything any crawl goes through: the network policy (the name resolved first, refused when not public unless
allowed; every redirect checked again, ``crawler.middlewares.NetworkPolicyMiddleware``), robots.txt, the size and
time limits (``DOWNLOAD_MAXSIZE``, the site's ``timeout``), the WARC archive and ``pages`` index, and the item
pipelines (clean, classify, store: the ad, its sighting, evidence and verdict). It follows no link. The caller
(``adclear/tips.py``) reads back which ad the run sighted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.settings import BaseSettings

from core.addresses import Allowance
from core.seeds import Operator, Site
from crawler.netpolicy import NetworkPolicy
from crawler.spiders.classifieds import ClassifiedsSpider
from crawler.spiders.social import SocialSpider

__all__ = ["MAX_BYTES", "TIP_SITE", "TipMixin", "tip_policy", "tip_site", "tip_spider"]

TIP_SITE = "tips"  # the site of a tipped URL on no site of seeds.yml
MAX_BYTES = 8 * 1024 * 1024  # a tipped page larger than this is refused, not truncated
TIMEOUT = 20.0  # seconds a tipped page on no configured site may take


def tip_site(url: str, allow_addresses: list[str] | tuple[str, ...] = ()) -> Site:
    """The site of a tipped URL that no site of seeds.yml holds: its host only; its title and text are the ad."""
    host = (urlsplit(url).hostname or "").lower()
    return Site.model_validate(
        {
            "name": TIP_SITE,
            "platform": host or "unknown",
            "kind": "classifieds",
            "start_urls": [url],
            "allowed_domains": [host],
            "allow_addresses": list(allow_addresses),
            "list": {"items": "a"},  # never used: the spider follows no link
            "detail": {"title": "title::text", "body": "body"},
            "max_pages": 5,
            "delay": 0,
            "concurrency": 1,
            "timeout": TIMEOUT,
            "retries": 1,
        }
    )


def tip_policy(site: Site) -> NetworkPolicy:
    """The network policy a tipped URL is fetched under: its seeds.yml site's, or, for the tips' own site, any
    host (a short link sends elsewhere) with every address checked: public, or allowed by the operator."""
    if site.name != TIP_SITE:
        return NetworkPolicy.for_site(site)
    return NetworkPolicy((), [Allowance.parse(a) for a in site.allow_addresses], any_domain=True)


def tip_spider(site: Site, operator: Operator, url: str) -> type[scrapy.Spider]:
    """A spider class that fetches ``url`` (a page of ``site``) once and stores it as an ad."""
    base: type[ClassifiedsSpider] = SocialSpider if site.kind == "social" else ClassifiedsSpider
    attrs = {
        "name": site.name,
        "site": site,
        "operator": operator,
        "tip_url": url,
        "network_policy": tip_policy(site),
        # Scrapy's own offsite filter: none for the tips' site, whose policy allows any host
        "allowed_domains": [] if site.name == TIP_SITE else list(site.allowed_domains),
        "__module__": __name__,
    }
    return type(f"Tip_{site.name.replace('-', '_')}", (TipMixin, base), attrs)


class TipMixin:
    """Put before the site's spider class: one request, nothing resumed, the tip's limits."""

    spider_kind = "tip"
    tip_url: ClassVar[str]
    site: ClassVar[Site]

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)  # type: ignore[misc]
        settings.setdict(
            {
                "JOBDIR": None,
                "DOWNLOAD_MAXSIZE": min(settings.getint("DOWNLOAD_MAXSIZE") or MAX_BYTES, MAX_BYTES),
                "DOWNLOAD_WARNSIZE": 0,
                "DOWNLOAD_DELAY": 0,
            },
            priority="spider",
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        recorder = self.recorder  # type: ignore[attr-defined]
        if recorder is not None and recorder.setup_error:
            self.logger.error("not fetching the tip %s: %s", self.tip_url, recorder.setup_error)  # type: ignore[attr-defined]
            return
        request: Any = scrapy.Request(
            self.tip_url,
            callback=self.parse_detail,  # type: ignore[attr-defined]
            errback=self.on_error,  # type: ignore[attr-defined]
            dont_filter=True,
        )
        if isinstance(self, SocialSpider):
            request = self._rendered(request)
        yield request
