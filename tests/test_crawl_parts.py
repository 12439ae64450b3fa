"""The crawler's small parts: canonical URLs, clean text, error names."""

from __future__ import annotations

import pytest

from crawler.text import html_to_text, one_line
from crawler.urls import canonical_url, is_crawlable


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://EXAMPLE.com/ad/1.html?from=home&utm_source=x#top", "http://example.com/ad/1.html"),
        ("http://example.com/list?b=2&a=1&spm=abc", "http://example.com/list?a=1&b=2"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/ad?id=7&ref=share", "http://example.com/ad?id=7"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_site_specific_tracking_params_are_dropped():
    assert canonical_url("http://x.com/a?id=1&sid=99", ("sid",)) == "http://x.com/a?id=1"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "mailto:a@b.c", "data:text/html,x", "ftp://x/y"])
def test_only_http_is_crawlable(url):
    assert not is_crawlable(url)


def test_html_to_text_keeps_paragraphs_and_drops_script():
    html = (
        '<div class="b"><p>第一段  文字</p><script>alert("x")</script><style>p{}</style>'
        "<p>第二段<br>换行　全角空格</p></div>"
    )
    assert html_to_text(html) == "第一段 文字\n第二段\n换行　全角空格"


def test_one_line():
    assert one_line("<h1>\n  标题\n <span>副</span></h1>") == "标题 副"
    assert one_line("") == ""


def test_failures_are_named():
    from scrapy import Request
    from scrapy.exceptions import DownloadConnectionRefusedError, IgnoreRequest
    from scrapy.http import Response
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    from crawler.errors import classify_failure

    response = Response("http://x/", status=503, request=Request("http://x/"))
    assert classify_failure(Failure(HttpError(response, "x"))) == ("http_503", "HTTP 503")
    assert classify_failure(Failure(DownloadConnectionRefusedError("no")))[0] == "refused"
    assert classify_failure(Failure(IgnoreRequest("Forbidden by robots.txt"))) == ("robots", "forbidden by robots.txt")
    assert classify_failure(Failure(ValueError("odd")))[0] == "value_error"


def test_fragments_are_parsed_together_and_kept_apart():
    from crawler.text import fragments_to_text

    text = fragments_to_text(
        {
            "title": "<h1>标题 <!-- 注释 --> 一</h1>",
            "body": "<div><p>第一段<b>未闭合<p>第二段</div>",
            "contact": "<div class='c'>电话 <script>x()</script>138 0000 1234</div>",
            "author": "",
        }
    )
    assert text == {"title": "标题 一", "body": "第一段未闭合\n第二段", "contact": "电话 138 0000 1234", "author": ""}
