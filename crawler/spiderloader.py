"""Spiders are sites: one spider per site of seeds.yml, made from the spider class for the site's kind.

``scrapy list`` prints the sites; ``scrapy crawl demo-classifieds`` crawls one. A seeds.yml that does not
validate stops Scrapy with the same one-line message as ``adclear`` gives, and no traceback.
"""

from __future__ import annotations

import builtins

from scrapy import Request, Spider
from scrapy.settings import BaseSettings

from core.errors import AdclearError
from core.seeds import Operator, Seeds, Site, load_seeds
from crawler.spiders.classifieds import ClassifiedsSpider
from crawler.spiders.social import SocialSpider

__all__ = ["SeedsSpiderLoader", "spider_class"]


def spider_class(site: Site, operator: Operator) -> type[Spider]:
    """The spider class for one site of seeds.yml."""
    kinds: dict[str, type[ClassifiedsSpider]] = {
        "classifieds": ClassifiedsSpider,
        "forum": ClassifiedsSpider,
        "social": SocialSpider,
    }
    base = kinds.get(site.kind)
    if base is None:
        raise AdclearError(f"site {site.name}: no spider for kind '{site.kind}' yet")
    return base.for_site(site, operator)


class SeedsSpiderLoader:
    def __init__(self, settings: BaseSettings):
        self.settings = settings
        self._seeds: Seeds | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SeedsSpiderLoader:
        return cls(settings)

    @property
    def seeds(self) -> Seeds:
        if self._seeds is None:
            try:
                self._seeds = load_seeds(self.settings["ADCLEAR_SEEDS"])
            except AdclearError as e:
                raise SystemExit(f"Error: {e}") from None
        return self._seeds

    def load(self, spider_name: str) -> type[Spider]:
        for site in self.seeds.sites:
            if site.name == spider_name:
                try:
                    return spider_class(site, self.seeds.operator)
                except AdclearError as e:
                    raise SystemExit(f"Error: {e}") from None
        raise KeyError(f"Spider not found: {spider_name} (sites in seeds.yml: {', '.join(self.list())})")

    def list(self) -> builtins.list[str]:
        return [site.name for site in self.seeds.sites]

    def find_by_request(self, request: Request) -> builtins.list[str]:
        return [site.name for site in self.seeds.sites if site.allows(request.url)]
