"""Content sniffing as browsers do it (WHATWG MIME Sniffing): what counts as a page the crawler reads."""

from __future__ import annotations

import pytest

from crawler.sniff import computed_type, is_page

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PAGE = "<html><body><p>年化18% 保本保息</p></body></html>".encode()


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        # a supplied text/html is trusted, whatever the bytes: a NUL inside a comment changes nothing
        (b"text/html; charset=utf-8", b"<!--\x00-->" + PAGE, "text/html"),
        (b"text/html", PNG, "text/html"),
        (b"TEXT/HTML ; charset=gbk", PAGE, "text/html"),
        (b"application/xhtml+xml", PAGE, "application/xhtml+xml"),
        # no type, or an unknown one: sniffed from the first bytes
        (None, b"  \n<!DOCTYPE html><html>", "text/html"),
        (None, b"<DIV class=x>" + b"\x00", "text/html"),
        (None, b"<!-- x -->" + PAGE, "text/html"),
        (b"*/*", b"<p>hi</p>", "text/html"),
        (None, b"<!--\x00--><html>", "application/octet-stream"),  # "<!--" must be followed by a space or ">"
        (None, b"<?xml version='1.0'?><a/>", "text/xml"),
        (None, PNG, "image/png"),
        (None, b"%PDF-1.7", "application/pdf"),
        (None, "年化18%".encode(), "text/plain"),
        (None, b"\xef\xbb\xbf\x00\x01", "text/plain"),
        (None, b"\x00\x01\x02", "application/octet-stream"),
        # the text/plain that old Apache servers sent for everything is checked for binary bytes
        (b"text/plain", PNG, "image/png"),
        (b"text/plain; charset=UTF-8", b"\x00\x01 hidden", "application/octet-stream"),
        (b"text/plain", "年化18%".encode(), "text/plain"),
        (b"text/plain; charset=gbk", b"\x00\x01", "text/plain"),
        # other supplied types stand, except an image whose bytes are another image
        (b"image/png", PAGE, "image/png"),
        (b"image/gif", PNG, "image/png"),
        (b"application/octet-stream", PAGE, "application/octet-stream"),
        (b"application/pdf", PAGE, "application/pdf"),
    ],
)
def test_the_computed_type_is_the_browsers(content_type, body, expected):
    assert computed_type(content_type, body) == expected


def test_nosniff_keeps_the_supplied_type_and_never_finds_html_in_an_untyped_body():
    assert computed_type(b"text/plain", PNG, no_sniff=True) == "text/plain"
    assert computed_type(None, PAGE, no_sniff=True) == "text/plain"


@pytest.mark.parametrize(
    ("content_type", "body", "page"),
    [
        (b"text/html", b"<!--\x00-->" + PAGE, True),
        (b"application/xml", b"<a/>", True),
        (b"application/rss+xml", b"<rss/>", True),
        (b"text/plain", "保本".encode(), True),
        (b"image/png", PNG, False),
        (None, b"\x00\x01\x02", False),
        (b"application/zip", b"PK\x03\x04", False),
    ],
)
def test_pages_are_html_xml_and_text(content_type, body, page):
    assert is_page(content_type, body) is page
