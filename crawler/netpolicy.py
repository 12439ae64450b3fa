"""Where the crawler may connect: one network policy for every request, the browser's included.

A request is refused unless its scheme is http or https, its host is on the site's ``allowed_domains`` (any host
for a tipped URL on no site of seeds.yml, ``any_domain``: ``crawler.spiders.tip``) and
every address the host resolves to is public. An address that is not public (loopback, private, link-local,
shared, multicast, reserved, unspecified; also when wrapped in IPv6: ``::ffff:10.0.0.1``, 6to4, Teredo,
NAT64) is refused unless the site's ``allow_addresses`` in seeds.yml allows it (``10.20.0.0/16``, or one
server, ``http://127.0.0.1:8731``), as the demo allows the loopback server it runs on.

This module decides; ``crawler.resolver`` resolves (injectable, cached, and pinned: what is connected to is
what was checked), ``crawler.middlewares.NetworkPolicyMiddleware`` applies the policy to Scrapy's requests
(before connecting, again for every redirect, and to the final URL), and ``crawler.browserguard`` to every
request Chromium makes. A refusal is a ``Refused`` exception whose kind and message go into ``crawl_errors``:
``offsite`` for a scheme or a host outside the site, ``blocked`` for an address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from scrapy import Request

from core.addresses import NOT_PUBLIC, PROBLEMS, SEEDS_HINT, SEEDS_HINT_ZH, Allowance, IPAddress
from core.seeds import Site
from crawler.errors import Refused

__all__ = [
    "SEEDS_HINT_ZH",
    "Allowance",
    "NetworkPolicy",
    "Refused",
    "address_problem",
    "in_context",
    "literal_address",
    "port_of",
]


SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: the last 32 bits are an IPv4 address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which is where it goes."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """What makes ``address`` not public ("a private address" …); None for a public address."""
    found = _address_problem(address)
    return found[0] if found else None


def _address_problem(address: IPAddress) -> tuple[str, str] | None:
    """What makes ``address`` not public, in English and in Chinese."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        problem = _address_problem(inner)
        return (
            (f"{problem[0]} ({inner}) inside an IPv6 address", f"{problem[1]}（{inner}，嵌在 IPv6 地址中）")
            if problem
            else None
        )
    for test, english, zh in PROBLEMS:
        if getattr(address, test):
            return english, zh
    return None if address.is_global else NOT_PUBLIC


class NetworkPolicy:
    """A site's policy: its allowed domains, and the addresses that are not public which it may reach."""

    def __init__(
        self, allowed_domains: Iterable[str], allowances: Iterable[Allowance] = (), *, any_domain: bool = False
    ):
        self.allowed_domains = tuple(d.lower().strip("[]") for d in allowed_domains)
        self.allowances = tuple(allowances)
        # a tipped URL (crawler.spiders.tip): any host, as a short link sends to another; its addresses still checked
        self.any_domain = any_domain

    @classmethod
    def for_site(cls, site: Site) -> NetworkPolicy:
        """The policy of a seeds.yml site (``core.seeds.Site``)."""
        return cls(site.allowed_domains, [Allowance.parse(a) for a in site.allow_addresses])

    def refusal(self, url: str, addresses: Iterable[IPAddress] | None) -> Refused | None:
        """``check_url``, then, for a host name, ``check_addresses`` on what it resolved to (None: unknown yet)."""
        refused = self.check_url(url)
        if refused is not None or addresses is None:
            return refused
        parts = urlsplit(url)
        return self.check_addresses(parts.hostname or "", port_of(parts), addresses)

    def allows_host(self, host: str) -> bool:
        if self.any_domain:
            return True
        host = host.lower().strip("[]").rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def check_url(self, url: str) -> Refused | None:
        """The checks that need no name resolution: scheme, host, domain, and a literal address."""
        try:
            parts = urlsplit(url)
        except ValueError:  # "http://[::1": an unclosed IPv6 address
            return Refused("offsite", "not followed: a malformed URL", zh="未抓取：网址格式有误")
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            return Refused(
                "offsite",
                f"not followed: {scheme or 'a relative'}: URL",
                zh="未抓取：网址须以 http:// 或 https:// 开头",
            )
        try:
            host, port = parts.hostname or "", port_of(parts)
        except ValueError:
            return Refused("offsite", "not followed: the URL's port is malformed", zh="未抓取：网址的端口有误")
        if not host:
            return Refused("offsite", "not followed: the URL has no host", zh="未抓取：网址缺少主机名")
        address = literal_address(host)
        if not self.allows_host(host):
            problem = _address_problem(address) if address is not None else None
            what = f"{problem[0]}, outside allowed_domains" if problem else f"outside allowed_domains ({self.domains})"
            zh = f"是{problem[1]}，且" if problem else ""
            return Refused(
                "offsite", f"not followed: {host} is {what}", zh=f"未抓取：{host} {zh}不在本网站允许的域名内"
            )
        if address is not None:
            return self.check_addresses(host, port, [address])
        return None

    @property
    def domains(self) -> str:
        return ", ".join(self.allowed_domains)

    def check_addresses(self, host: str, port: int, addresses: Iterable[IPAddress]) -> Refused | None:
        """Every address ``host`` resolved to must be public or allowed: one that is not refuses the host."""
        for address in addresses:
            found = _address_problem(address)
            if found is None or any(a.allows(address, port) for a in self.allowances):
                continue
            problem, problem_zh = found
            literal = literal_address(host) == address
            what = f"{address} is {problem}" if literal else f"{host} resolves to {address}, {problem}"
            what_zh = f"{address} 是{problem_zh}" if literal else f"{host} 解析为 {address}，是{problem_zh}"
            allowed = ", ".join(str(a) for a in self.allowances)
            only = f"; allow_addresses has {allowed} only" if allowed else ""
            return Refused(
                "blocked",
                f"refused before connecting: {what} (port {port}{only}); {SEEDS_HINT}",
                zh=f"未连接即拒绝：{what_zh}（端口 {port}）；{SEEDS_HINT_ZH}",
            )
        return None


def port_of(parts: SplitResult) -> int:
    """The port a URL connects to (``ValueError`` when malformed)."""
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def in_context(refused: Refused, request: Request, url: str, *, final: bool = False) -> Refused:
    """The refusal as recorded: about the page that was asked for, naming the hop that was refused."""
    chain = request.meta.get("redirect_urls") or []
    if final:
        refused.url = request.url
        refused.message = f"the page ended at {url}: {refused.message}"
        refused.zh = f"网页最终到达 {url}：{refused.zh}" if refused.zh else ""
    elif chain:
        refused.url = chain[0]
        refused.message = f"redirects to {url}: {refused.message}"
        refused.zh = f"跳转到 {url}：{refused.zh}" if refused.zh else ""
    else:
        refused.url = url
    return refused
