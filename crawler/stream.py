"""What crawler nodes send the ingest writer through a Redis Stream, and the connection to that Redis.

A distributed crawl (``adclear crawl --redis URL`` on each node, ``adclear ingest --redis URL`` once) keeps no
state on the nodes: every response, every ad read from it and every error becomes one stream entry, which the
one writer archives, classifies and stores (``crawler.ingest``). An entry is flat, as Redis Streams want:

- ``v`` (the format, ``2``; the writer reads ``1`` too, whose pages are never packed), ``kind`` (``page``,
  ``ad``, ``image``, ``listed``, ``error``, ``end``), ``job``
  (the crawl of one site, ``crawler.frontier``), ``site``, ``node`` (who sent it), ``meta`` (JSON: what the
  kind says below);
- ``body`` (bytes): a page's payload as received (the DOM for a rendered page), an ad's screenshot (PNG);
  none for a packed page;
- ``warc`` (bytes): a page fetched without a browser, *packed*: its WARC records, response and request, made and
  gzip-compressed on the node (``crawler.warc.pack_exchange``) for the writer to append as they are (``meta``'s
  ``warc`` names the response's length, payload digest, record ID and date, ``length`` the payload's). Pictures
  (``image/*``) and rendered pages travel unpacked: the writer reads pictures' bytes, and archives a rendered
  page's resources once per file (``revisit`` records), which only it can know;
- ``x0``, ``x1`` … (bytes): for a rendered page, the payload of each exchange the browser made (``meta``'s
  ``exchanges`` describe them in the same order);
- ``assessed`` (JSON, zlib-compressed: its hits repeat their rules' legal bases, 4–14 kB to 1–3): an ad's
  assessment (``classifier.assessment``, ``Assessment.pack``, with the ad's fingerprint and contacts:
  ``Classifier.assess(…, for_writer=True)``), apart from ``meta`` so that the writer reads it only for an ad it
  stores, not for the many seen again unchanged.
- ``key``, ``hash``: an ad's key and content hash (also in ``meta``), for the writer to know an ad seen again
  unchanged without reading its ``meta`` (``glance``): most ads of a monitoring crawl are.

A page travels ahead of the ads read from it (the middleware sees the response before the spider), so the
writer has archived it when the ads arrive; an ad names its page by URL and SHA-256. A picture of an ad is a
page (its bytes) and then an ``image`` entry naming the ad's key, the picture's position and its page, sent
after the ad's entry. Incremental crawling (seeds.yml ``revisit_after``): the writer keeps, per site, when it
last stored each ad fetched (the hash ``FETCHED_KEY``); a node that finds an ad listed within that time does
not fetch it and sends a ``listed`` entry (its key) instead, which the writer records as a sighting. An entry
that does not decode is ``Malformed``: the writer moves it aside with its reason and goes on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, RedisError, TimeoutError
from redis.retry import Retry

from core.errors import RedisUnavailable
from crawler.items import AdItem
from crawler.warc import Exchange, PackedRecords, pack_exchange

__all__ = [
    "DEAD_KEY",
    "FORMAT",
    "GROUP",
    "FETCHED_KEY",
    "ITEMS_KEY",
    "KINDS",
    "READS",
    "Entry",
    "Glance",
    "Malformed",
    "ad_item",
    "aside",
    "connect",
    "decode",
    "encode",
    "glance",
    "packed_of",
    "page_entry",
    "pairs",
    "safe_url",
]

log = logging.getLogger(__name__)

FORMAT = b"2"  # what nodes send: 2 adds packed pages (``warc``), which a writer of format 1 would archive empty
READS = (b"1", FORMAT)  # what the writer reads
ITEMS_KEY = "adclear:items"  # the stream the nodes write and the writer reads
DEAD_KEY = "adclear:items:dead"  # entries that did not decode, with their reason
GROUP = "ingest"  # the writer's consumer group
KINDS = ("page", "ad", "image", "listed", "error", "end")
FETCHED_KEY = "adclear:fetched:{site}"  # hash: ad key → when the writer last stored it fetched (incremental crawls)
# Fields every kind needs in ``meta``, with their types.
_NEEDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "page": {"url": str, "status": int, "fetched_at": str, "method": str, "request_headers": list},
    "ad": {"url": str, "page_url": str, "platform": str, "title": str, "body": str, "key": str, "content_hash": str},
    "image": {"ad_key": str, "position": int, "page": dict},
    "listed": {"ad_key": str},
    "error": {"url": str, "kind": str, "message": str},
    "end": {"reason": str},
}
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError)


class Malformed(ValueError):
    """A stream entry that cannot be read; the message says why."""


@dataclass(slots=True)
class Entry:
    kind: str
    job: str
    site: str
    node: str
    meta: dict[str, Any]
    body: bytes = b""
    parts: list[bytes] = field(default_factory=list)  # a rendered page's exchanges' payloads
    assessed: bytes = b""  # an ad's assessment (Assessment.pack), read only for an ad to be stored
    warc: bytes = b""  # a packed page's WARC records (crawler.warc.pack_exchange)


def encode(entry: Entry) -> dict[bytes, bytes]:
    fields = {
        b"v": FORMAT,
        b"kind": entry.kind.encode(),
        b"job": entry.job.encode(),
        b"site": entry.site.encode(),
        b"node": entry.node.encode(),
        b"meta": json.dumps(entry.meta, ensure_ascii=False, separators=(",", ":")).encode(),
    }
    if entry.body:
        fields[b"body"] = entry.body
    for number, part in enumerate(entry.parts):
        fields[f"x{number}".encode()] = part
    if entry.assessed:
        fields[b"assessed"] = entry.assessed
    if entry.warc:
        fields[b"warc"] = entry.warc
    if entry.kind == "ad":
        fields[b"key"] = str(entry.meta["key"]).encode()
        fields[b"hash"] = str(entry.meta["content_hash"]).encode()
    return fields


@dataclass(frozen=True, slots=True)
class Glance:
    """An ad entry's job, site, key and content hash, read from its flat fields without its ``meta``."""

    job: str
    site: str
    key: str
    content_hash: str


def glance(fields: dict[bytes, bytes]) -> Glance | None:
    """What the writer needs to know an ad seen again unchanged; None for another kind or an entry without
    these fields (``decode`` reads it, and says what is wrong with it). An ad found unchanged this way is
    sighted without its ``meta`` being read: a spoiled ``meta`` beside a key and hash the writer holds goes
    unnoticed, as the ad is not stored again."""
    if fields.get(b"kind") != b"ad" or fields.get(b"v") not in READS:
        return None
    try:
        found = Glance(*(fields[name].decode() for name in (b"job", b"site", b"key", b"hash")))
    except (KeyError, UnicodeDecodeError):
        return None
    return found if found.job and found.site and found.key and found.content_hash else None


def decode(fields: dict[bytes, bytes]) -> Entry:
    """The entry, or ``Malformed`` naming what is wrong with it."""
    version = fields.get(b"v")
    if version not in READS:
        raise Malformed(f"format {version!r}, this writer reads {' and '.join(map(repr, READS))}")
    try:
        kind, job, site, node = (fields[name].decode() for name in (b"kind", b"job", b"site", b"node"))
    except KeyError as e:
        raise Malformed(f"no {e.args[0].decode()} field") from None
    except UnicodeDecodeError:
        raise Malformed("kind, job, site or node is not UTF-8") from None
    if kind not in KINDS:
        raise Malformed(f"unknown kind {kind!r}")
    if not job or not site:
        raise Malformed("an empty job or site")
    try:
        meta = json.loads(fields.get(b"meta", b""))
    except (ValueError, UnicodeDecodeError) as e:
        raise Malformed(f"meta is not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise Malformed("meta is not a JSON object")
    for name, kind_of in _NEEDS[kind].items():
        if not isinstance(meta.get(name), kind_of) or isinstance(meta.get(name), bool):
            raise Malformed(f"{kind} entry without a valid {name!r}")
    parts: list[bytes] = []
    while f"x{len(parts)}".encode() in fields:
        parts.append(fields[f"x{len(parts)}".encode()])
    body, assessed, warc = (fields.get(name, b"") for name in (b"body", b"assessed", b"warc"))
    return Entry(kind, job, site, node, meta, body, parts, assessed, warc)


def page_entry(fields: dict[str, Any], job: str, site: str, node: str, *, pack: bool = True) -> Entry:
    """A page's entry from ``crawler.archiving.page_fields``: packed (its WARC records made here, ``pack``) when
    fetched without a browser and not a picture, else with its payload and its exchanges' payloads."""
    meta = {name: value for name, value in fields.items() if name not in ("body", "exchanges")}
    exchanges: list[Exchange] | None = fields.get("exchanges")
    body: bytes = fields["body"]
    parts = []
    if exchanges is not None:
        meta["exchanges"] = []
        for exchange in exchanges:
            described = {name: getattr(exchange, name) for name in Exchange.__dataclass_fields__ if name != "body"}
            meta["exchanges"].append(described)
            parts.append(exchange.body)
    elif pack and not str(fields.get("content_type", "")).startswith("image/"):
        described = {name: fields[name] for name in Exchange.__dataclass_fields__ if name not in ("body", "document")}
        packed = pack_exchange(Exchange(**described, body=body))
        meta["length"] = len(body)
        meta["warc"] = {
            "first_length": packed.first_length,
            "sha256": packed.sha256,
            "record_id": packed.record_id,
            "date": packed.date,
        }
        return Entry("page", job, site, node, meta, warc=packed.data)
    return Entry("page", job, site, node, meta, body, parts)


def packed_of(entry: Entry) -> PackedRecords | None:
    """A packed page's records (``page_entry``); None for a page sent with its payload."""
    if not entry.warc:
        return None
    named = entry.meta.get("warc")
    if not isinstance(named, dict) or not isinstance(entry.meta.get("length"), int) or entry.body or entry.parts:
        raise Malformed("a packed page without its records' description and length, or with a payload too")
    try:
        return PackedRecords(
            entry.warc, int(named["first_length"]), str(named["sha256"]), str(named["record_id"]), str(named["date"])
        )
    except (KeyError, TypeError, ValueError) as e:
        raise Malformed(f"a packed page's records cannot be read ({e!r})") from None


def exchanges_of(entry: Entry) -> list[Exchange] | None:
    """The browser exchanges a rendered page's entry carries; None for a page fetched without a browser."""
    described = entry.meta.get("exchanges")
    if described is None:
        return None
    if not isinstance(described, list) or len(described) != len(entry.parts):
        raise Malformed("a rendered page whose exchanges do not match their payloads")
    try:
        return [
            Exchange(
                url=str(e["url"]),
                method=str(e["method"]),
                request_headers=[(str(k), str(v)) for k, v in e["request_headers"]],
                status=int(e["status"]),
                reason=str(e["reason"]),
                response_headers=[(str(k), str(v)) for k, v in e["response_headers"]],
                body=body,
                fetched_at=str(e["fetched_at"]),
                document=bool(e["document"]),
            )
            for e, body in zip(described, entry.parts, strict=True)
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise Malformed(f"a rendered page's exchange cannot be read ({e!r})") from None


def safe_url(url: str) -> str:
    """``url`` without its password, to be shown."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, retry_seconds: float = 60.0, at_once: bool = True) -> redis.Redis:
    """A client of the Redis at ``url`` that retries with backoff for about ``retry_seconds`` when the
    connection is lost (a restart, a network cut), then raises; ``RedisUnavailable`` when it cannot be reached
    now (``at_once``; else after the retries too: a node whose command line checked Redis already). Responses
    are bytes (pages are)."""
    base, cap = 0.1, 5.0
    retries, waited = 0, 0.0
    while waited < retry_seconds:  # the number of tries whose backoff adds up to the time given
        waited += min(cap, base * 2**retries)
        retries += 1
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=5,
            socket_timeout=30,
            health_check_interval=10,
            retry=Retry(ExponentialWithJitterBackoff(cap=cap, base=base), 0 if at_once else retries, RETRYABLE),
            retry_on_error=list(RETRYABLE),
        )
    except ValueError as e:
        raise RedisUnavailable(f"{safe_url(url)} is not a Redis URL ({e}); give redis://HOST:PORT/DB") from None
    try:
        client.ping()  # once: at start, an unreachable Redis is the user's to fix, not a thing to wait for
    except RedisError as e:
        client.close()
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(url)} ({e}); start redis-server there or correct --redis"
        ) from None
    client.set_retry(Retry(ExponentialWithJitterBackoff(cap=cap, base=base), retries, RETRYABLE))
    return client


def ad_item(entry: Entry) -> AdItem:
    """The ad as the node's CleanTextPipeline left it; its key and content hash made again here must agree."""
    meta = entry.meta
    item = AdItem(
        site=entry.site,
        platform=meta["platform"],
        url=meta["url"],
        page_url=meta["page_url"],
        in_slot=bool(meta.get("in_slot", False)),
    )
    posted = meta.get("posted_at")
    item.set_text(
        title=meta["title"],
        body=meta["body"],
        contact=str(meta.get("contact", "")),
        author=str(meta.get("author", "")),
        posted_at=str(posted) if posted else None,
    )
    if item.key != meta["key"] or item.content_hash != meta["content_hash"]:
        raise Malformed("the ad's key or content hash does not match its text")
    return item


def pairs(value: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in value]


def aside(entry_id: bytes, fields: dict[bytes, bytes], reason: str) -> dict[Any, Any]:
    """A malformed entry as it is moved aside: its id, the reason, its own fields (prefixed ``f:`` so that none
    overwrites those two)."""
    return {b"id": entry_id, b"reason": reason.encode(), **{b"f:" + name: value for name, value in fields.items()}}
