"""seeds.yml: the sites to crawl, loaded into validated objects.

Every problem names the file, the line and the fix, e.g.
``seeds.yml line 14: sites[0] (demo-classifieds): unknown key 'start_url'; did you mean 'start_urls'?``.
Nothing is crawled from a file that does not validate. The reference is docs/seeds.md.

Why so long: it is the model of the whole file, one class per section of seeds.yml (sites, their selectors,
rendering, search, schedules), and the code that turns a validation error into the line to fix; split, the
reference would be scattered over modules that mean nothing on their own.
"""

from __future__ import annotations

import builtins
import difflib
import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifier.yamlsource import Located
from core.addresses import Allowance
from core.errors import SeedsInvalid, UnknownSite, one_line, zh_of
from core.schedules import check_schedule
from core.scheduling import RECHECK_JOB
from core.yamlfiles import read_located

__all__ = [
    "DetailSelectors",
    "HealthOptions",
    "ListSelectors",
    "Operator",
    "RecheckOptions",
    "RenderOptions",
    "SearchOptions",
    "Seeds",
    "Site",
    "load_seeds",
]

SITE_KINDS = ("classifieds", "social", "forum")


def _check_selector(value: str) -> str:
    """A CSS selector as parsel understands it (``::text`` and ``::attr()`` included)."""
    from parsel.csstranslator import HTMLTranslator  # here: parsel (and w3lib) cost every command 30 ms to start

    value = value.strip()
    if not value:
        raise ValueError("a selector may not be empty")
    try:
        HTMLTranslator().css_to_xpath(value)
    except Exception as e:  # cssselect raises SelectorSyntaxError or ExpressionError
        raise ValueError(f"'{value}' is not a valid CSS selector ({e})") from None
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an http(s) URL with a host, e.g. https://example.com/list/")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValueError(f"'{value}' has a malformed port") from None
    return value.strip()


Selector = Annotated[str, Field(min_length=1)]
Url = Annotated[str, AfterValidator(_check_url)]
# a cron expression or an interval, in China time (core/schedules.py): when `adclear scheduler` starts a job
ScheduleText = Annotated[str, AfterValidator(check_schedule)]
DEFAULT_SCHEDULE = "0 */6 * * *"  # sites without a schedule: at 00:00, 06:00, 12:00 and 18:00
DEFAULT_RECHECK_SCHEDULE = "30 8 * * *"  # open takedowns re-checked every morning at 08:30


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Operator(_Model):
    """Who runs this crawler: named in the User-Agent so that site operators can reach us."""

    @field_validator("contact")
    @classmethod
    def _ascii_contact(cls, v: str) -> str:
        if not v.isascii():
            raise ValueError("operator.contact goes into the User-Agent header: write it in ASCII, e.g. an e-mail")
        return v

    name: str = "adclear"
    contact: str = ""
    # the office's short code, in its 交办单号 and its WARC files' names (unique across offices), e.g. SFX
    code: Annotated[str, Field(pattern=r"^([A-Za-z0-9][A-Za-z0-9-]{0,15})?$")] = ""
    region: str = ""  # the office's area (行政区划), printed on notices and exports

    def user_agent(self) -> str:
        """``adclear/VERSION (+project URL; operator; contact)``. HTTP headers are ASCII: a name in Chinese is
        left out of the header (the contact is what lets a site reach the operator)."""
        parts = ["+https://github.com/adclear/adclear"]
        if self.name.isascii() and self.name != "adclear":
            parts.append(self.name)
        if self.contact:  # ASCII: checked when seeds.yml is loaded
            parts.append(self.contact)
        return f"adclear/0.1 ({'; '.join(parts)})"


class EntrySelectors(_Model):
    """Ads read off the list page itself: listings with their text, native ad slots (广告) in a feed.

    Each ``item`` is one ad; the other selectors are relative to it. An entry whose ``link`` gives an http(s)
    URL is identified by that URL (canonical); one without (a slot, a ``javascript:`` link) by the page URL and
    the hash of its text, as an ad without a URL of its own.
    """

    item: Selector  # each entry
    marker: Selector | None = None  # keep only entries holding this (e.g. the slot's 广告 label) ...
    marker_text: str | None = None  # ... whose text contains this
    title: Selector
    body: Selector | None = None
    contact: Selector | None = None
    author: Selector | None = None
    posted_at: Selector | None = None
    link: Selector | None = None  # the entry's own URL, e.g. "h2 a::attr(href)"

    @field_validator("item", "marker", "title", "body", "contact", "author", "posted_at", "link")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return v if v is None else _check_selector(v)


class ListSelectors(_Model):
    """How to walk list pages: section links, ad links, the next page; ads read off the page itself."""

    sections: Selector | None = None  # links from a start page to list pages (categories)
    items: Selector | None = None  # links from a list page to ad detail pages
    entries: EntrySelectors | None = None  # ads read off list pages (listings, native ad slots)
    next_page: Selector | None = None  # the link to the next list page
    max_pages: int = Field(50, ge=1, le=100_000)  # list pages followed per section and run

    @field_validator("sections", "items", "next_page")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return v if v is None else _check_selector(v)

    @model_validator(mode="after")
    def _something_to_read(self) -> ListSelectors:
        if self.items is None and self.entries is None:
            raise ValueError("a list needs 'items' (links to ad pages) or 'entries' (ads on the list page), or both")
        return self


class DetailSelectors(_Model):
    """Where the parts of an ad stand on its detail page.

    ``title`` may be left out for social sites only: a post has no title, so its first line (at most
    ``POST_TITLE_CHARS`` characters) stands for one.
    """

    title: Selector | None = None
    body: Selector
    contact: Selector | None = None
    author: Selector | None = None
    posted_at: Selector | None = None

    @field_validator("title", "body", "contact", "author", "posted_at")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return v if v is None else _check_selector(v)


def _check_browser_selector(value: str) -> str:
    """A CSS selector the browser can wait for: no parsel pseudo-elements (``::text``, ``::attr()``)."""
    value = _check_selector(value)
    if "::" in value:
        raise ValueError(f"'{value}' is waited for in the browser: plain CSS only, without ::text or ::attr()")
    return value


class RenderOptions(_Model):
    """How a page of a social site is rendered in Chromium before its links and text are read."""

    wait_for: Selector  # the page is ready when this matches (feed, list and search pages)
    detail_wait_for: Selector | None = None  # post pages are ready when this matches; default: detail.body
    load_more: Selector | None = None  # a button that loads more posts (加载更多), clicked up to max_loads times
    scroll: bool = False  # scroll to the bottom to load more posts (infinite scroll), up to max_loads times
    end_marker: Selector | None = None  # shown once nothing more can be loaded (没有更多了): loading stops
    max_loads: int = Field(5, ge=0, le=1000)  # loads (clicks or scrolls) per feed, search or list page
    timeout: float = Field(20, gt=0, le=300)  # seconds a page, or one load, may take to settle
    screenshot: bool = True  # a full-page PNG of every post page, archived as evidence

    @field_validator("wait_for", "detail_wait_for", "load_more", "end_marker")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return v if v is None else _check_browser_selector(v)


class SearchOptions(_Model):
    """A site's own search: one result page per keyword, crawled like a list page."""

    url: str  # with {keyword} where the keyword goes, e.g. http://example.com/search?q={keyword}
    keywords: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if "{keyword}" not in v:
            raise ValueError(f"'{v}' has no {{keyword}}: write where the keyword goes, e.g. /search?q={{keyword}}")
        _check_url(v.replace("{keyword}", "keyword"))
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        out = []
        for keyword in v:
            keyword = keyword.strip()
            if keyword in out:
                raise ValueError(f"keyword '{keyword}' is listed twice")
            out.append(keyword)
        return out

    def urls(self) -> list[tuple[str, str]]:
        """(keyword, result page URL) for every keyword, the keyword URL-encoded as UTF-8."""
        return [(k, self.url.replace("{keyword}", quote(k, safe=""))) for k in self.keywords]


class HealthOptions(_Model):
    """What a healthy run of the site looks like (``core.runhealth`` checks every run after it ends).

    ``min_items``: the ads a run should see at least; left out, it is learnt: ``learn_fraction`` of the median
    of the site's last ``learn_runs`` ok runs (once ``learn_min_runs`` of them exist). ``error_rate``: a run whose
    failed requests exceed this share is unhealthy (``max_error_rate``, higher, fails it outright). docs/alerts.md.
    """

    min_items: int | None = Field(default=None, ge=0, le=10_000_000)
    learn_runs: int = Field(default=10, ge=1, le=1000)
    learn_min_runs: int = Field(default=3, ge=1, le=1000)
    learn_fraction: float = Field(default=0.5, gt=0, le=1)
    error_rate: float = Field(default=0.2, ge=0, le=1)


class ImageOptions(_Model):
    """The pictures of an ad the crawl keeps (``img`` elements of its body and contact line; docs/images.md):
    at most ``max_count`` an ad, each at most ``max_bytes`` (a larger download is cancelled) and ``max_pixels``
    (checked when read). ``max_count: 0`` keeps none. ``read``: ``adclear crawl`` reads them beside the crawl
    (false: they wait for ``adclear images read``); ``read_screenshots``: the screenshots of rendered pages too
    (off by default: a full page reads slowly and mostly repeats the text the crawl has already)."""

    max_count: int = Field(default=8, ge=0, le=100)
    max_bytes: int = Field(default=5_000_000, ge=1000, le=100_000_000)
    max_pixels: int = Field(default=25_000_000, ge=10_000, le=200_000_000)
    read: bool = True
    read_screenshots: bool = False


class Site(_Model):
    """One site to crawl."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    platform: str = Field(min_length=1)  # the operator of the site: takedowns are routed to it
    kind: Literal["classifieds", "social", "forum"]
    region: str = ""
    start_urls: list[Url] = Field(min_length=1)
    allowed_domains: list[str] = Field(min_length=1)
    # addresses that are not public (loopback, private …) the crawler may reach for this site; others are refused
    allow_addresses: list[str] = []
    list: ListSelectors
    detail: DetailSelectors
    render: RenderOptions | None = None  # social sites: how pages are rendered in Chromium
    search: SearchOptions | None = None  # keyword searches on the site, crawled like list pages
    max_pages: int = Field(1000, ge=1, le=10_000_000)  # pages fetched per run, all kinds
    delay: float = Field(1.0, ge=0, le=600)  # seconds between requests to the site
    concurrency: int = Field(2, ge=1, le=64)  # requests in flight to the site
    timeout: float = Field(30.0, gt=0, le=600)  # seconds before a request that does not answer fails
    retries: int = Field(2, ge=0, le=10)  # retries of a failed request (5xx, 429, timeouts), with backoff
    max_error_rate: float = Field(0.5, ge=0, le=1)  # a run with more failed requests than this fails
    health: HealthOptions = HealthOptions()  # what a healthy run looks like (docs/alerts.md)
    images: ImageOptions = ImageOptions()  # the ad's pictures kept and read (docs/images.md)
    revisit_after: float = Field(0, ge=0)  # hours: an ad fetched more recently is not fetched again (0: always)
    drop_query_params: tuple[str, ...] = ()  # tracking parameters removed from ad URLs, beside utm_*
    # words of the page the site shows for an ad it removed (信息已删除): a re-check that sees one, and not the
    # ad's text, finds the ad removed (404 and 410 need no marker)
    removed_markers: tuple[Annotated[str, Field(min_length=2, max_length=200)], ...] = ()
    schedule: ScheduleText | None = None  # when `adclear scheduler` crawls it; None: seeds.yml's top-level schedule
    enabled: bool = True

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: builtins.list[str]) -> builtins.list[str]:
        out = []
        for d in v:
            d = d.strip().lower()
            if "/" in d or ":" in d.strip("[]") and not _is_ip(d.strip("[]")):
                raise ValueError(
                    f"'{d}' is not a domain: write the host only, e.g. example.com (no scheme, path or port)"
                )
            if not d:
                raise ValueError("an allowed domain may not be empty")
            out.append(d)
        return out

    @field_validator("allow_addresses")
    @classmethod
    def _allowances(cls, v: builtins.list[str]) -> builtins.list[str]:
        return [str(Allowance.parse(a)) for a in v]

    @model_validator(mode="after")
    def _start_urls_allowed(self) -> Site:
        for url in self.start_urls:
            if not self.allows(url):
                raise ValueError(
                    f"start URL {url} is outside allowed_domains {list(self.allowed_domains)}: "
                    "add its host to allowed_domains"
                )
        if self.search is not None and not self.allows(self.search.url.replace("{keyword}", "keyword")):
            raise ValueError(
                f"search URL {self.search.url} is outside allowed_domains {list(self.allowed_domains)}: "
                "add its host to allowed_domains"
            )
        return self

    @model_validator(mode="after")
    def _kind_needs(self) -> Site:
        if self.kind == "social":
            if self.render is None:
                raise ValueError(
                    "a social site is rendered in Chromium: add 'render:' with at least 'wait_for' (see docs/seeds.md)"
                )
            if self.list.items is None:
                raise ValueError("a social site's feed links to its posts: add list.items")
            if self.render.detail_wait_for is None and "::" in self.detail.body:
                raise ValueError(
                    "post pages wait for detail.body, which has ::text or ::attr(): "
                    "set render.detail_wait_for to a plain CSS selector"
                )
        else:
            if self.render is not None:
                raise ValueError(f"'render' is only for social sites; this site's kind is {self.kind}")
            if self.detail.title is None:
                raise ValueError("detail.title is missing; add it (only social sites may leave it out)")
        return self

    @property
    def post_wait_for(self) -> str:
        """What a rendered post page waits for: ``render.detail_wait_for``, else the body selector."""
        if self.render is not None and self.render.detail_wait_for:
            return self.render.detail_wait_for
        return self.detail.body

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on one of the site's allowed domains (subdomains included)."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class RecheckOptions(_Model):
    """When `adclear scheduler` re-checks the open takedowns (`adclear recheck`, every site at once)."""

    schedule: ScheduleText = DEFAULT_RECHECK_SCHEDULE
    enabled: bool = True


class Seeds(_Model):
    """The whole of seeds.yml."""

    version: Literal[1] = 1
    operator: Operator = Operator()
    schedule: ScheduleText = DEFAULT_SCHEDULE  # the schedule of every site that has none of its own
    recheck: RecheckOptions = RecheckOptions()
    sites: list[Site] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Seeds:
        seen: set[str] = set()
        for site in self.sites:
            if site.name == RECHECK_JOB:
                raise ValueError(f"a site may not be named '{RECHECK_JOB}': the scheduler's re-check job is; rename it")
            if site.name in seen:
                raise ValueError(f"two sites are named '{site.name}': give each site its own name")
            seen.add(site.name)
        return self

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        known = ", ".join(s.name for s in self.sites)
        raise UnknownSite(
            f"no site named '{name}' in seeds.yml (configured: {known})",
            zh=f"seeds.yml 中没有名为“{name}”的网站（已配置：{known}）",
        )

    def schedule_of(self, site: Site) -> str:
        """The site's schedule as written: its own, else the top-level default."""
        return site.schedule or self.schedule

    def select(self, names: tuple[str, ...] | list[str] = ()) -> list[Site]:
        """The named sites, or every enabled site when no name is given."""
        if names:
            return [self.site(n) for n in names]
        return [s for s in self.sites if s.enabled]


def load_seeds(path: str | Path) -> Seeds:
    """Load and validate seeds.yml; raise ``SeedsInvalid`` naming the file, the line and the fix, in one line."""
    path = Path(path)
    try:
        return _load(path)
    except SeedsInvalid as e:
        raise SeedsInvalid(one_line(str(e)), zh=one_line(zh_of(e))) from None


def _load(path: Path) -> Seeds:
    if not path.exists():
        raise SeedsInvalid(
            f"{path}: no such file; create it (see docs/seeds.md) or pass --seeds PATH",
            zh=f"找不到 {path}：请管理员创建监测配置文件 seeds.yml",
        )
    located = read_located(path, SeedsInvalid, option="--seeds")
    if not isinstance(located.data, dict):
        raise SeedsInvalid(
            f"{path} line 1: expected a mapping with 'sites:' at the top",
            zh=f"{path} 第 1 行有误：文件开头应为“sites:”",
        )
    try:
        return Seeds.model_validate(located.data)
    except ValidationError as e:
        problem = _describe(path, located, e)
        raise SeedsInvalid(problem, zh=f"监测配置文件有误，请管理员按 docs/seeds.md 修改：{problem}") from None


def _describe(path: Path, located: Located, error: ValidationError) -> str:
    """The first validation problem as one line: file, line, where in the file, what to do."""
    errors = error.errors(include_url=False)
    # An unknown key is usually the cause of a "missing" one (a typo): report it first.
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return _describe_one(path, located, err) + more


def _describe_one(path: Path, located: Located, err: Any) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    line = located.line_of(loc)
    where = _where(located.data, loc)
    if kind == "extra_forbidden":
        key = loc[-1]
        known = _known_keys(loc[:-1])
        hint = difflib.get_close_matches(str(key), known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(known)}"
        return f"{path} line {line}: {where}: unknown key '{key}'; {fix}"
    if kind == "missing":
        return f"{path} line {line}: {where}: '{loc[-1]}' is missing; add it (see docs/seeds.md)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if kind == "literal_error" and loc and loc[-1] == "kind":
        msg = f"kind must be one of {', '.join(SITE_KINDS)}"
    elif kind == "string_pattern_mismatch" and loc and loc[-1] == "name":
        msg = "a site name is lower-case letters, digits, '-' and '_' (e.g. demo-classifieds)"
    return f"{path} line {line}: {where}: {msg}"


def _where(data: Any, loc: tuple[Any, ...]) -> str:
    """``sites[0] (demo-classifieds).list.items`` for a location inside the data."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(node, list) and step < len(node):
                node = node[step]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label += f" ({node['name']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts) or "top level"


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Seeds
    for step in loc:
        if isinstance(step, int):
            continue
        field = model.model_fields.get(step)
        if field is None:
            return []
        annotation = field.annotation
        # list[Site] → Site; Operator | None → Operator
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
    return list(model.model_fields)
