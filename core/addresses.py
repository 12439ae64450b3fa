"""Addresses that are not public but that a site may reach: ``allow_addresses`` in seeds.yml.

``core.seeds`` checks each entry when seeds.yml is loaded; ``crawler.netpolicy`` allows a connection to an
address that is not public only when one of the site's allowances holds it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Allowance", "IPAddress"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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
