"""Real saved pages (../shared/data/html), served on loopback and crawled: 贴吧's native ad slots, 58同城's
listings, a GB2312 portal. Skipped, with the reason, where the data is absent."""

from __future__ import annotations

import functools
import sqlite3
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tests.conftest import run_adclear

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

TIEBA = [f"tieba_pingdingshanxueyuan_{i}.html" for i in range(6)]
LISTING_58 = "58_bj_zufang_dashanzi_list.html"
SEEDS = """\
sites:
  - name: tieba
    platform: 百度贴吧
    kind: forum
    start_urls: [{tieba}]
    allowed_domains: [127.0.0.1]
    allow_addresses: [127.0.0.1]
    list:
      entries:
        item: "li.tl_shadow"
        marker: "div.label_text_tag"
        marker_text: "广告"
        title: "div.ti_title"
        link: "a.j_common::attr(href)"
    detail:
      title: "h1"
      body: "div.content"
    delay: 0
  - name: zufang58
    platform: 58同城
    kind: classifieds
    start_urls: ["{base}/{listing}"]
    allowed_domains: [127.0.0.1]
    allow_addresses: [127.0.0.1]
    list:
      entries:
        item: "ul.listUl > li[logr]"
        title: ".des h2 a"
        body: ".des p"
        contact: ".des .jjr"
        link: ".des h2 a::attr(href)"
    detail:
      title: "h1"
      body: "div.content"
    drop_query_params: [psid, cookie, fzbref, key, params, local, apptype, pubid]
    delay: 0
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def guess_type(self, path):  # the saved pages carry their charset in <meta>, as their servers did not
        return "text/html" if str(path).endswith(".html") else super().guess_type(path)


@pytest.fixture(scope="module")
def crawled(shared_data_dir, tmp_path_factory):
    html = shared_data_dir / "html"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    tmp = tmp_path_factory.mktemp("real")
    seeds = tmp / "seeds.yml"
    tieba = ", ".join(f'"{base}/{name}"' for name in TIEBA)
    seeds.write_text(SEEDS.format(base=base, tieba=tieba, listing=LISTING_58), encoding="utf-8")
    db = tmp / "data" / "adclear.db"
    result = run_adclear("crawl", db=db, seeds=seeds)
    server.shutdown()
    server.server_close()
    return db, result, base


@pytest.fixture(scope="module")
def shared_data_dir():
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "html").is_dir():
        pytest.skip(f"the real saved pages are not here ({SHARED_DATA / 'html'}); they live outside the repository")
    return SHARED_DATA


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_tieba_native_ad_slots_are_stored_as_ads_without_urls(crawled):
    db, result, base = crawled
    assert result.returncode == 0, result.stdout + result.stderr
    ads = rows(db, "SELECT ad_key, url, title FROM ads WHERE site = 'tieba'")
    # two slots marked 广告 on each of the six pages; only slots, none of the ~50 user threads per page
    assert len(ads) == 12
    for key, url, _ in ads:
        assert url.startswith(f"{base}/tieba_pingdingshanxueyuan_")  # the page they were seen on
        assert key.startswith(url + "#") and len(key) == len(url) + 17  # page URL + hash of the text
    titles = {t for _, _, t in ads}
    assert "被拒8次，竟然在这借到钱！再也不用担心借不到钱了..." in titles
    assert any("雪佛兰" in t for t in titles)


def test_the_loan_slot_is_not_taken_for_fundraising(crawled):
    db, *_ = crawled
    ((label,),) = rows(
        db,
        """SELECT v.label FROM ads a JOIN verdicts v ON v.ad_id = a.id
                              WHERE a.title LIKE '被拒8次%'""",
    )
    assert label != "flag"


def test_58_listings_are_stored_once_each_by_their_own_url(crawled):
    db, *_ = crawled
    ads = rows(db, "SELECT url, title, body FROM ads WHERE site = 'zufang58'")
    assert len(ads) == 51
    assert len({url for url, _, _ in ads}) == 51
    assert all(urlsplit(url).hostname.endswith(".58.com") for url, _, _ in ads)  # the listing's own link
    assert "整租 | 业主直租京旺家园金盏嘉园精装两居室出租拎包入住" in {t for _, t, _ in ads}
    evidence = rows(
        db, "SELECT count(DISTINCT page_id) FROM evidence e JOIN ads a ON a.id = e.ad_id WHERE a.site = 'zufang58'"
    )
    assert evidence == [(1,)]  # the list page they were read from


def test_no_replacement_characters_anywhere(crawled):
    db, *_ = crawled
    assert rows(db, "SELECT count(*) FROM ads WHERE title || body || contact LIKE '%' || char(65533) || '%'") == [(0,)]


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", "text/html; charset=iso-8859-1"])
def test_the_gb2312_portal_decodes_without_replacement_characters(shared_data_dir, content_type):
    from scrapy.http import HtmlResponse

    from crawler.middlewares import CharsetMiddleware

    body = (shared_data_dir / "html" / "autohome_index_gb2312.html").read_bytes()
    raw = HtmlResponse(url="http://127.0.0.1/", body=body, headers={"Content-Type": content_type})
    response = CharsetMiddleware().process_response(None, raw)
    text = response.text
    assert "\ufffd" not in text
    assert "汽车之家" in text
