"""What a response is, decided as browsers decide it: the WHATWG MIME Sniffing Standard (mimesniff.spec.whatwg.org).

A page counts for what a reader would see. A browser trusts a ``text/html`` Content-Type whatever the bytes
(a NUL byte inside a comment changes nothing), sniffs only when the type is missing or unknown, or is one of
the ``text/plain`` values old Apache servers sent for everything, and then looks for an HTML tag, an image
signature or binary bytes in the first 1,445 bytes. ``computed_type`` does the same; ``is_page`` says whether
the crawler reads the response as a page (HTML, XML, or plain text, which a browser shows as text).
"""

from __future__ import annotations

from typing import Any

__all__ = ["HEADER_BYTES", "computed_type", "is_page", "no_sniff"]

HEADER_BYTES = 1445  # the "resource header" the standard reads

_WHITESPACE = b"\t\n\x0c\r "
_TAG_END = (b" ", b">")  # a "tag-terminating byte"
# HTML signatures (§7.1 step 1), matched case-insensitively after leading whitespace, then a space or ">"
_HTML_TAGS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
)
# byte signatures (§6.1 images, §6.2 audio and video, §6.3 archives, §7.1 the rest)
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"BM", "image/bmp"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"OggS\x00", "application/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1a\x07\x00", "application/x-rar-compressed"),
    (b"\x1aE\xdf\xa3", "video/webm"),
)
_BOMS = (b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf")
# "binary data bytes": control characters other than tab, line feed, form feed, carriage return and escape
_BINARY = bytes([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_UNKNOWN = {"", "unknown/unknown", "application/unknown", "*/*"}
# what old Apache servers sent for every file (§7 "check-for-apache-bug flag"), compared byte for byte
_APACHE_BUG = {
    b"text/plain",
    b"text/plain; charset=ISO-8859-1",
    b"text/plain; charset=iso-8859-1",
    b"text/plain; charset=UTF-8",
}
_PAGE_TYPES = {"text/html", "text/plain", "application/xhtml+xml", "text/xml", "application/xml"}


def _essence(content_type: bytes) -> str:
    essence = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    return essence if "/" in essence or essence in _UNKNOWN else ""


def _is_xml(essence: str) -> bool:
    return essence.endswith("+xml") or essence in ("text/xml", "application/xml")


def computed_type(content_type: bytes | None, body: bytes, *, no_sniff: bool = False) -> str:
    """The type a browser gives a response with this Content-Type header value (None: none sent) and body.

    ``no_sniff``: the response said ``X-Content-Type-Options: nosniff``.
    """
    supplied = _essence(content_type or b"")
    header = body[:HEADER_BYTES]
    if supplied in _UNKNOWN:
        return _unknown_type(header, scriptable=not no_sniff)
    if no_sniff:
        return supplied
    if (content_type or b"").strip() in _APACHE_BUG:
        return _text_or_binary(header)
    if _is_xml(supplied) or supplied == "text/html":
        return supplied
    if supplied.startswith("image/"):
        sniffed = _signature(header)
        return sniffed if sniffed and sniffed.startswith("image/") else supplied
    return supplied


def is_page(content_type: bytes | None, body: bytes, *, no_sniff: bool = False) -> bool:
    """Whether a reader sees this response as a page (HTML, XML or text), not as an image or a download."""
    essence = computed_type(content_type, body, no_sniff=no_sniff)
    return essence in _PAGE_TYPES or _is_xml(essence)


def no_sniff(headers: Any) -> bool:
    """Whether response headers (Scrapy's ``Headers``) say ``X-Content-Type-Options: nosniff``."""
    value = headers.get(b"X-Content-Type-Options") or b""
    return value.split(b",", 1)[0].strip().lower() == b"nosniff"


def _signature(header: bytes) -> str | None:
    for pattern, essence in _SIGNATURES:
        if header.startswith(pattern):
            return essence
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "image/webp"
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return "audio/wave"
    return None


def _unknown_type(header: bytes, *, scriptable: bool) -> str:
    """§7.1 "rules for identifying an unknown MIME type"."""
    if scriptable:
        start = header.lstrip(_WHITESPACE)
        lowered = start[:16].lower()
        for tag in _HTML_TAGS:
            if lowered.startswith(tag) and start[len(tag) : len(tag) + 1] in _TAG_END:
                return "text/html"
        if start.startswith(b"<?xml"):
            return "text/xml"
    if header.startswith(b"%!PS-Adobe-"):
        return "application/postscript"
    if header.startswith(_BOMS):
        return "text/plain"
    return _signature(header) or _text_or_binary_bytes(header)


def _text_or_binary(header: bytes) -> str:
    """§7.2 "rules for distinguishing if a resource is text or binary"."""
    if header.startswith(_BOMS):
        return "text/plain"
    if not _has_binary(header):
        return "text/plain"
    return _unknown_type(header, scriptable=False)


def _text_or_binary_bytes(header: bytes) -> str:
    return "application/octet-stream" if _has_binary(header) else "text/plain"


def _has_binary(header: bytes) -> bool:
    return len(header.translate(None, _BINARY)) < len(header)
