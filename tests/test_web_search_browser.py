"""Search and the pages of a contact or an advertiser, in real headless Chromium against the app on loopback.

The data: the web tests' users and ads (tests.webdata, with its hostile ad) and the ads of
tests.test_search_entities: one advertiser on three sites under one phone, written three ways, and one that
changes its phone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from core.chromium import BASE_ARGS, DEFAULT_CHROMIUM
from tests.test_search_entities import fill
from tests.webdata import HOSTILE_TITLE, PASSWORDS, build, running_app

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("ADCLEAR_CHROMIUM", DEFAULT_CHROMIUM)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make system-deps` (or set ADCLEAR_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(BASE_ARGS), headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(base URL, ids of the ads of tests.test_search_entities.ADS, ids of tests.webdata's ads)."""
    db_path = tmp_path_factory.mktemp("search") / "data" / "adclear.db"
    web_ids = build(db_path)
    ids = fill(db_path)
    with running_app(db_path) as base:
        yield base, ids, web_ids


@pytest.fixture(scope="module")
def page(browser, site):
    base = site[0]
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "rev1")
    page.fill("input[name=password]", PASSWORDS["rev1"])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def results(page) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("#results li.adcard", "els => els.map(e => e.dataset.ad)")]


@pytest.mark.parametrize("written", ["138 0013 8000", "１３８　００１３　８０００", "１３８-００１３-８０００"])
def test_a_phone_written_with_evasions_finds_every_ad_with_that_contact(site, page, written):
    base, ids, _ = site
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/queue")
    page.click("#nav-search")
    page.fill("#search-q", written)
    with page.expect_navigation():
        page.click("#search-submit")
    assert results(page) == [ids[2], ids[1], ids[0]]  # three sites, newest first
    assert "13800138000" in page.inner_text("#read-as")
    sites = page.eval_on_selector_all("#results .site", "els => els.map(e => e.textContent)")
    assert [s.split("（")[1].rstrip("）") for s in sites] == ["site-c", "site-b", "site-a"]


def test_the_entity_page_lists_the_ads_across_sites_from_the_ad_page(site, page):
    base, ids, _ = site
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/ad/{ids[0]}")
    assert "2" in page.inner_text("#contacts")  # the other ads with this contact: 2
    with page.expect_navigation():
        page.click("#contacts a.contact-link >> text=13800138000")
    assert "13800138000" in page.inner_text("#entity-name")
    assert results(page) == [ids[2], ids[1], ids[0]]
    assert "3 个站点" in page.inner_text("#entity-summary")
    with page.expect_navigation():  # on to the advertiser named on two of them
        page.click("a.author-link >> text=鑫盛通财富")
    assert results(page) == [ids[1], ids[0]]
    page.goto(f"{base}/entity?author={quote('环球汇金')}")
    rows = page.eval_on_selector_all("#entity-contacts tr td:first-child", "els => els.map(e => e.textContent)")
    assert [r.split()[-1] for r in rows] == ["13700002290", "555001234", "13700002291"]  # the phone changed
    with page.expect_navigation():  # the name searched in every ad's text
        page.click("#name-in-text")
    assert results(page) == [ids[4], ids[3]]


def test_search_and_entity_pages_fit_a_phone(site, page):
    base, ids, _ = site
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/search?q=" + quote("保本 １３８ ００１３ ８０００"), "/entity?kind=mobile&value=13800138000"):
        page.goto(f"{base}{path}")
        assert results(page), path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path


def test_crawled_text_in_results_is_text_and_bad_parameters_are_refused(site, page):
    base, _, web_ids = site
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/search?q={quote('年化20%')}")
    assert web_ids["hostile"] in results(page)
    assert HOSTILE_TITLE in page.inner_text("#results")  # shown as text, not run
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.goto(f"{base}/search?from=2026-13-01").status == 400
    assert page.goto(f"{base}/entity").status == 400
    assert page.goto(f"{base}/entity?kind=mobile&value=13999999999").status == 404
    answer = page.goto(f"{base}/search?contact={quote('保本')}")
    assert answer.status == 200 and page.locator("#search-error").is_visible()
