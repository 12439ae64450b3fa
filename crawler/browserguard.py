"""The network policy inside Chromium: every request a rendered page makes, checked twice.

A page's own requests (images, scripts, ``fetch()``, frames, a ``location.href`` navigation) go to
``BrowserGuard.abort`` first, from the ``page.route`` handler that scrapy-playwright installs on every page
(``crawler.pagepool`` puts the check in front of it, where ``PLAYWRIGHT_ABORT_REQUEST`` would, so that it can
choose how to abort). A refused request is aborted and recorded with its URL.

Interception does not see everything: a redirect is followed inside the browser, and service workers,
preconnects and WebSockets bypass ``page.route``. So the browser is also launched behind ``SocksGate``, a SOCKS5
proxy on loopback inside the crawler: Playwright then tells Chromium to resolve no name itself (``MAP *
~NOTFOUND``) and to send loopback through the proxy too, so every connection the browser opens comes here
with its host name, is checked against the same policy, and goes to the address that was checked (the
AddressBook's). A connection refused here fails the browser's request with ``ERR_SOCKS_CONNECTION_FAILED``;
``BrowserGuard.request_failed`` records it with the request's URL and redirect chain. Service workers are
blocked in the browser context outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import logging
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import error

from crawler.netpolicy import NetworkPolicy, Refused, literal_address, port_of

__all__ = ["REFUSED_BY_PROXY", "BrowserGuard", "SocksGate"]

log = logging.getLogger(__name__)

REFUSED_BY_PROXY = "net::ERR_SOCKS_CONNECTION_FAILED"
HANDSHAKE_SECONDS = 30.0
CONNECT_SECONDS = 30.0
# SOCKS5 (RFC 1928) replies
_OK, _NOT_ALLOWED, _HOST_UNREACHABLE, _REFUSED, _COMMAND = 0x00, 0x02, 0x04, 0x05, 0x07


class SocksGate:
    """A SOCKS5 proxy (CONNECT, no authentication) on 127.0.0.1 that connects only where the policy allows."""

    def __init__(self, policy: NetworkPolicy, book: Any, on_failure: Callable[[str, int, Exception], None]):
        self.policy = policy
        self.book = book  # crawler.resolver.AddressBook
        self.on_failure = on_failure  # (host, port, why): Refused, DNSLookupError or ConnectionRefusedError
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self.tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            host, port = await asyncio.wait_for(_handshake(reader, writer), HANDSHAKE_SECONDS)
            address, code = await self.decide(host, port)
            if address is None:
                await _reply(writer, code)
                return
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_SECONDS)
            except (OSError, TimeoutError) as e:
                self.on_failure(host, port, error.ConnectionRefusedError(f"{address}:{port}: {e}"))
                await _reply(writer, _REFUSED)
                return
            await _reply(writer, _OK)
            await _splice(reader, writer, *upstream)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError, OSError):
            pass
        finally:
            self.tasks.discard(asyncio.current_task())
            writer.close()

    async def decide(self, host: str, port: int) -> tuple[str | None, int]:
        """(the checked address to connect to, or None with the SOCKS reply code that refuses)."""
        url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        refused = self.policy.check_url(url)
        address = literal_address(host)
        if refused is None and address is None:
            try:
                addresses = await self.book.resolve_async(host)
            except (OSError, UnicodeError, ValueError) as e:
                self.on_failure(host, port, error.DNSLookupError(f"{host}: {e}"))
                return None, _HOST_UNREACHABLE
            refused = self.policy.check_addresses(host, port, addresses)
            address = addresses[0]
        if refused is not None:
            log.info("the browser's connection to %s:%d refused: %s", host, port, refused.message)
            self.on_failure(host, port, refused)
            return None, _NOT_ALLOWED
        return str(address), _OK


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int]:
    version, count = await reader.readexactly(2)
    methods = await reader.readexactly(count)
    if version != 5 or 0 not in methods:
        writer.write(b"\x05\xff")
        raise ValueError("not SOCKS5 without authentication")
    writer.write(b"\x05\x00")
    version, command, _, kind = await reader.readexactly(4)
    if kind == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif kind == 4:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif kind == 3:
        length = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(length)).decode("ascii")
    else:
        raise ValueError("unknown address type")
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    if command != 1:  # CONNECT only: no BIND, no UDP ASSOCIATE
        await _reply(writer, _COMMAND)
        raise ValueError("only CONNECT")
    return host, port


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            with contextlib.suppress(Exception):
                sink.write_eof() if sink.can_write_eof() else sink.close()

    try:
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    finally:
        up_writer.close()


class BrowserGuard:
    """The policy for one crawler's browser: the abort hook, the SOCKS gate, and what is recorded."""

    def __init__(self, policy: NetworkPolicy, book: Any, record: Callable[[str, str, str], None]):
        self.policy = policy
        self.book = book
        self.record = record  # (url, kind, message): RunRecorder.record_error
        self.gate = SocksGate(policy, book, self._gate_failed)
        self.gate_failures: dict[tuple[str, int], Exception] = {}  # why the gate did not connect a host:port
        self.failed_pages: dict[str, Exception] = {}  # navigations that failed at the gate, by their first URL
        self.unclaimed: dict[tuple[str, int], Refused] = {}  # gate refusals no page request was found for

    async def abort(self, request: Any) -> bool:
        """True refuses ``request`` (a Playwright request) before it leaves; the refusal is recorded."""
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return False  # never on the network
        refused = self.policy.check_url(url)
        host = _host(url)
        if refused is None and host and literal_address(host) is None:
            try:
                refused = self.policy.refusal(url, await self.book.resolve_async(host))
            except (OSError, UnicodeError, ValueError):
                return False  # it fails in the browser, as a name that does not resolve
        if refused is None:
            return False
        self.record(url, refused.kind, f"{_what(request)}: {refused.message}")
        return True

    def request_failed(self, request: Any) -> None:
        """A page's request failed: when the SOCKS gate refused it, record it with its URL and redirect chain."""
        if REFUSED_BY_PROXY not in (request.failure or ""):
            return
        why = self.gate_failures.get(_host_port(request.url))
        if why is None:
            return
        first = request
        while first.redirected_from is not None:
            first = first.redirected_from
        if isinstance(why, Refused):
            self.unclaimed.pop(_host_port(request.url), None)
            hop = f" redirects to {request.url}" if first is not request else ""
            why = Refused(why.kind, f"{_what(first)}{hop}: {why.message}", first.url)
            self.record(first.url, why.kind, why.message)
        if first.is_navigation_request():
            self.failed_pages[first.url] = why

    def translate(self, failure: Exception, url: str) -> Exception | None:
        """The error a direct connection would have given, for a navigation to ``url`` the gate did not connect
        (Chromium reports every SOCKS failure alike); None for another failure."""
        if REFUSED_BY_PROXY not in str(failure):
            return None
        why = self.failed_pages.pop(url, None) or self.gate_failures.get(_host_port(url))
        return copy.copy(why) if why is not None else None

    def flush(self) -> None:
        """Record the gate's refusals of an address that no page request explained (a WebSocket, a preconnect,
        a worker's connection). Called before the run closes. Connections to other sites that no page request
        explains are only logged: Chromium opens some of its own (Debian's build asks update.googleapis.com and
        accounts.google.com at start), and refusing them is all there is to do."""
        for (host, port), refused in self.unclaimed.items():
            if refused.kind != "blocked":
                log.info("the browser's own connection to %s:%d refused: %s", host, port, refused.message)
                continue
            where = f"[{host}]" if ":" in host else host
            what = "a connection the browser opened (not a page's request: a WebSocket, a preconnect …)"
            self.record(f"http://{where}:{port}/", refused.kind, f"{what}: {refused.message}")
        self.unclaimed.clear()

    def _gate_failed(self, host: str, port: int, why: Exception) -> None:
        self.gate_failures[(host.lower(), port)] = why
        if isinstance(why, Refused):
            self.unclaimed[(host.lower(), port)] = why


def _what(request: Any) -> str:
    kind = "navigation" if request.is_navigation_request() else request.resource_type
    return f"the browser's {kind} request"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), port_of(parts)
    except ValueError:
        return "", 0
