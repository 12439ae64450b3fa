"""The demo classifieds site: its content meets the demo's needs and its pages are served as a real site's."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter

import pytest

from demo.classifieds.site import GBK_SECTIONS, PER_PAGE, SECTIONS, ClassifiedsSite

LOOKALIKES = {
    "antifraud_publicity",
    "news_or_court",
    "bank_ad",
    "loan_ad",
    "insurance_ad",
    "job_ad",
    "rent_or_sale",
    "ordinary",
}


@pytest.fixture(scope="module")
def site() -> ClassifiedsSite:
    return ClassifiedsSite()


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def test_content_has_promotions_of_many_categories_and_every_kind_of_lookalike(site):
    from classifier.taxonomy import CATEGORIES

    ads = site.ads
    assert len(ads) >= 60
    assert len({a.id for a in ads}) == len(ads)
    promotions = [a for a in ads if a.promotion]
    categories = Counter(a.category for a in promotions)
    assert set(categories) <= set(CATEGORIES)
    assert len([c for c, n in categories.items() if n >= 1]) >= 6
    kinds = Counter(a.truth for a in ads if not a.promotion)
    assert set(kinds) <= LOOKALIKES
    for kind in ("antifraud_publicity", "news_or_court", "bank_ad", "loan_ad", "rent_or_sale", "job_ad"):
        assert kinds[kind] >= 1, kind
    assert all(a.section in SECTIONS for a in ads)
    assert all(a.repost_of in site.by_id for a in ads if a.repost_of)


def test_every_section_paginates(site):
    for section in SECTIONS:
        assert len(site.section_ads(section)) > PER_PAGE, section


def test_the_gbk_section_is_served_in_gbk(demo_site, site):
    (section,) = GBK_SECTIONS
    ad = site.section_ads(section)[0]
    status, ctype, body = fetch(f"{demo_site}{ad.path}")
    assert status == 200
    assert ctype == "text/html; charset=gbk"
    assert b'<meta charset="gbk">' in body
    assert ad.title.encode("gbk") in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_list_pages_link_ads_and_the_next_page(demo_site, site):
    status, _, body = fetch(f"{demo_site}/classifieds/licai/")
    html = body.decode("utf-8")
    assert status == 200
    newest = site.section_ads("licai")[:PER_PAGE]
    for ad in newest:
        assert f'href="{ad.path}"' in html
    assert 'class="next" href="/classifieds/licai/p2.html"' in html
    status, _, body = fetch(f"{demo_site}/classifieds/licai/p99.html")
    assert status == 404


def test_robots_txt_forbids_the_user_area(demo_site):
    status, _, body = fetch(f"{demo_site}/robots.txt")
    assert status == 200
    assert b"Disallow: /classifieds/user/" in body


def test_detail_page_escapes_its_text(site):
    from demo.classifieds.site import Ad

    ad = Ad(
        id=1,
        section="licai",
        title="<script>x</script>",
        body="a & b",
        contact="",
        author="<b>",
        posted_at="2026-11-01 10:00",
        truth="ordinary",
    )
    page = site.detail(ad)
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a &amp; b" in page
