"""A page in the run's WARC file and its ``pages`` row: what a local crawl does for every response, and what the
ingest writer of a distributed crawl does for every page a node sends (``crawler.ingest``).

``page_fields`` takes what is needed of a Scrapy response as plain values (a node sends them through the
stream); ``archive_page`` writes them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from scrapy import Request
from scrapy.http import Response

from core.timeutil import now_utc
from crawler.items import PageRef, ResourceRef
from crawler.store import CrawlStore
from crawler.warc import ArchivedRecord, Exchange, RunArchive

__all__ = ["archive_page", "archive_resource", "index_page", "page_fields"]


def page_fields(request: Request, response: Response, exchanges: list[Exchange] | None) -> dict[str, Any]:
    """What ``archive_page`` needs of a response, as plain values (a crawler node sends them to the writer)."""
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    return {
        "url": response.url,
        "method": request.method,
        "request_headers": _headers(request.headers),
        "status": response.status,
        "reason": reason,
        "response_headers": _headers(response.headers),
        "body": response.body,
        "content_type": (response.headers.get(b"Content-Type") or b"").decode("latin-1"),
        "encoding": getattr(response, "encoding", "") or "utf-8",
        "exchanges": exchanges,
        "fetched_at": now_utc(),
    }


def archive_page(
    archive: RunArchive,
    store: CrawlStore,
    run_id: int,
    *,
    url: str,
    method: str,
    request_headers: list[tuple[str, str]],
    status: int,
    reason: str,
    response_headers: list[tuple[str, str]],
    body: bytes,
    content_type: str,
    encoding: str,
    exchanges: list[Exchange] | None,
    fetched_at: str,
) -> PageRef:
    """Archive a page in the run's WARC file and index it in ``pages``: a rendered page (``exchanges``, what the
    browser fetched) as ``_archive_rendered`` writes it, any other as its request and response."""
    if exchanges is not None:
        record = _archive_rendered(archive, url, body, encoding, exchanges, fetched_at)
    else:
        record = archive.write_exchange(
            url=url,
            method=method,
            request_headers=request_headers,
            status=status,
            reason=reason,
            response_headers=response_headers,
            body=body,
            fetched_at=fetched_at,
        )
    return index_page(
        store,
        run_id,
        record,
        url=url,
        status=status,
        fetched_at=fetched_at,
        content_type=content_type,
        length=len(body),
    )


def index_page(
    store: CrawlStore,
    run_id: int,
    record: ArchivedRecord,
    *,
    url: str,
    status: int,
    fetched_at: str,
    content_type: str,
    length: int,
) -> PageRef:
    """A page archived at ``record``, indexed in ``pages`` (``archive_page``; the ingest writer for a page a node
    packed)."""
    page_id = store.record_page(
        run_id,
        url=url,
        status=status,
        fetched_at=fetched_at,
        content_type=content_type,
        length=length,
        sha256=record.sha256,
        warc_file=record.warc_file,
        warc_offset=record.offset,
        warc_length=record.length,
    )
    where = (record.warc_file, record.offset, record.length, record.record_id)
    return PageRef(page_id, url, status, fetched_at, record.sha256, *where)


def archive_resource(
    archive: RunArchive, url: str, content_type: str, data: bytes, fetched_at: str, uri: str, page: PageRef | None
) -> ResourceRef:
    """Something made from a page (a screenshot) as a WARC resource record about ``url``, at ``uri``
    (``core.warc.screenshot_uri(url)`` for a screenshot), concurrent to the ``page`` it shows."""
    record = archive.write_resource(
        url=url,
        content_type=content_type,
        data=data,
        fetched_at=fetched_at,
        uri=uri,
        concurrent_to=page.record_id if page is not None else "",
    )
    return ResourceRef(url, content_type, fetched_at, record.sha256, record.warc_file, record.offset, record.length)


def _archive_rendered(
    archive: RunArchive, url: str, body: bytes, encoding: str, exchanges: list[Exchange], fetched_at: str
) -> ArchivedRecord:
    """A page rendered in the browser: the document as the server sent it (``response`` records, redirects
    first), the rendered DOM (``conversion``, referring to the document's response: returned), then every
    resource the page loaded (a payload already in the file under the same URL as a ``revisit``)."""
    document = None
    for exchange in exchanges:
        if exchange.document:
            written = archive.write_browser_exchange(exchange, dedup=False)
            if exchange.url == url and not 300 <= exchange.status < 400:
                document = written
    rendered = archive.write_conversion(
        url=url, content_type=f"text/html; charset={encoding}", data=body, fetched_at=fetched_at, source=document
    )
    for exchange in exchanges:
        if not exchange.document:
            archive.write_browser_exchange(exchange)
    return rendered


def _headers(headers: Any) -> list[tuple[str, str]]:
    out = []
    for key, values in headers.items():
        for value in values:
            out.append((key.decode("latin-1"), value.decode("latin-1")))
    return out
