"""Addresses that are not public but that a site may reach: ``allow_addresses`` in seeds.yml.

``core.seeds`` checks each entry when seeds.yml is loaded; ``crawler.netpolicy`` allows a connection to an
address that is not public only when one of the site's allowances holds it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["NOT_PUBLIC", "PROBLEMS", "SEEDS_HINT", "SEEDS_HINT_ZH", "TIP_HINT", "TIP_HINT_ZH", "Allowance", "IPAddress"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What makes an address not public, as ``crawler.netpolicy`` names it in a refusal (the test of ipaddress, the
# English, the Chinese), in the order it asks; here so that ``core.reasons`` reads a recorded refusal in Chinese.
PROBLEMS = (
    ("is_unspecified", "an unspecified address", "未指定地址"),
    ("is_loopback", "a loopback address", "本机回环地址"),
    ("is_link_local", "a link-local address", "链路本地地址"),
    ("is_multicast", "a multicast address", "组播地址"),
    ("is_reserved", "a reserved address", "保留地址"),
    ("is_private", "a private address", "内网地址"),
)
NOT_PUBLIC = ("not a public address", "非公网地址")  # none of those, and not global either
# How to allow one: the end of a refusal, for a seeds.yml site and for a tip's URL (adclear/tips.py)
SEEDS_HINT = "add it to the site's allow_addresses in seeds.yml if the site is really there"
SEEDS_HINT_ZH = "如该网站确在此地址，请管理员在 seeds.yml 中把它加入该网站的 allow_addresses"
TIP_HINT = (
    "an operator may allow a range for tips (adclear tip add/fetch --allow-address, $ADCLEAR_TIP_ALLOW_ADDRESSES) "
    "if the page is really there"
)
TIP_HINT_ZH = "如该网页确在此地址，可由管理员为线索放行该地址段"


@dataclass(frozen=True)
class Allowance:
    """Addresses that are not public but that a site may reach: a range, or one address and port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Allowance:
        """``10.20.0.0/16``, ``127.0.0.1``, ``::1``, ``127.0.0.1:8731``, ``[::1]:8731`` or ``http://127.0.0.1:8731``;
        ``ValueError`` with the fix otherwise."""
        value = text.strip()
        port = None
        try:
            if "://" in value:
                parts = urlsplit(value)
                host, port = parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme)
            elif value.startswith("[") and "]:" in value:
                host, _, port_text = value[1:].partition("]:")
                port = int(port_text)
            elif value.count(":") == 1:
                host, _, port_text = value.partition(":")
                port = int(port_text)
            else:
                host = value.strip("[]")
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            raise ValueError(
                f"'{text}' is not an address, a range or an address with a port "
                "(e.g. 10.20.0.0/16, 127.0.0.1:8731 or http://127.0.0.1:8731); write addresses, not host names"
            ) from None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"'{text}' has a port outside 1-65535")
        return cls(network, port)

    def allows(self, address: IPAddress, port: int) -> bool:
        return address.version == self.network.version and address in self.network and self.port in (None, port)

    def __str__(self) -> str:
        host = str(self.network.network_address) if self.network.num_addresses == 1 else str(self.network)
        if self.port is None:
            return host
        return f"[{host}]:{self.port}" if self.network.version == 6 else f"{host}:{self.port}"
