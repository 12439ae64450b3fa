"""Name resolution for the network policy: injectable, cached for the process, and pinned.

``AddressBook`` resolves a host once per process with the resolver named by ``ADCLEAR_RESOLVER`` (an import
path to a function ``host -> list of addresses``; by default the system's ``getaddrinfo``) and keeps the answer.
Every part of the crawler asks it: the network policy checks the addresses it gives, Twisted connects to the
same addresses (``PinnedResolver`` is installed as Twisted's resolver), and the browser's SOCKS proxy connects
to them too. So a name that resolves to a public address when checked and to 10.0.0.1 a second later (DNS
rebinding) still reaches only the address that was checked. Tests inject a resolver that never sends a packet.

A name that no site's policy checked first (none should reach the resolver that way) gets its public
addresses only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object
from twisted.internet import threads
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from zope.interface import implementer

from crawler.netpolicy import IPAddress, address_problem, literal_address

__all__ = ["DEFAULT_RESOLVER", "AddressBook", "PinnedResolver", "address_book", "system_resolve"]

log = logging.getLogger(__name__)

DEFAULT_RESOLVER = "crawler.resolver.system_resolve"
Resolve = Callable[[str], list[str]]


def system_resolve(host: str) -> list[str]:
    """The host's addresses, as the system resolves them (``getaddrinfo``), in its order, each once."""
    found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class AddressBook:
    """Hosts resolved once per process; ``OSError`` (the resolver's) when a host does not resolve."""

    def __init__(self, resolve: Resolve):
        self.resolve = resolve
        self._known: dict[str, list[IPAddress]] = {}
        self._lock = threading.Lock()

    def cached(self, host: str) -> list[IPAddress] | None:
        key = _key(host)
        literal = literal_address(key)
        return [literal] if literal is not None else self._known.get(key)

    def lookup(self, host: str) -> list[IPAddress]:
        """The host's addresses, resolved at the first call (blocking: call it from a thread)."""
        key = _key(host)
        known = self.cached(key)
        if known is not None:
            return known
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolve(key)]
        if not found:
            raise OSError(f"{host} resolves to no address")
        with self._lock:
            return self._known.setdefault(key, found)

    async def resolve_async(self, host: str) -> list[IPAddress]:
        """``lookup`` in a worker thread: the event loop all sites share never waits for DNS."""
        known = self.cached(host)
        if known is not None:
            return known
        return await asyncio.get_running_loop().run_in_executor(None, self.lookup, host)


def _key(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")


_BOOK: AddressBook | None = None


def address_book(settings: BaseSettings) -> AddressBook:
    """The process's AddressBook, made at the first call from ``ADCLEAR_RESOLVER``."""
    global _BOOK
    if _BOOK is None:
        _BOOK = AddressBook(load_object(settings.get("ADCLEAR_RESOLVER") or DEFAULT_RESOLVER))
    return _BOOK


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str):
        self.name = name

    def cancel(self) -> None:  # pragma: no cover (Twisted never cancels a name resolution today)
        pass


@implementer(IHostnameResolver)
class PinnedResolver:
    """Twisted's resolver for the crawl (``TWISTED_DNS_RESOLVER``): the addresses the policy checked."""

    def __init__(self, reactor: Any, book: AddressBook):
        self.reactor = reactor
        self.book = book

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> PinnedResolver:
        return cls(reactor, address_book(crawler.settings))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(  # Twisted's interface: its names
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)  # type: ignore[call-arg,misc]  # zope: opaque to mypy
        known = self.book.cached(hostName)
        if known is not None:
            _deliver(resolutionReceiver, known, portNumber)
            return resolution  # type: ignore[return-value]  # implements IHostResolution (zope)

        def public_only(addresses: list[IPAddress]) -> None:
            unchecked = [a for a in addresses if address_problem(a) is not None]
            if unchecked:
                log.warning("%s was not checked by a site's policy: its addresses %s are left out", hostName, unchecked)
            _deliver(resolutionReceiver, [a for a in addresses if address_problem(a) is None], portNumber)

        d = threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.book.lookup, hostName)
        d.addCallbacks(public_only, lambda _: resolutionReceiver.resolutionComplete())  # type: ignore[misc]
        return resolution  # type: ignore[return-value]


def _deliver(receiver: IResolutionReceiver, addresses: list[IPAddress], port: int) -> None:
    for address in addresses:
        kind = IPv6Address if address.version == 6 else IPv4Address
        receiver.addressResolved(kind("TCP", str(address), port))  # type: ignore[call-arg,misc]  # zope
    receiver.resolutionComplete()  # type: ignore[misc]
