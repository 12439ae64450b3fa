"""Parsing is bounded: a page that is cheap to send and costly to parse is refused and recorded, without parsing
it, and the crawl's other sites go on (one <div> with 200,000 attributes once took 259 s and stalled every site)."""

from __future__ import annotations

import sqlite3
import time

import pytest
import yaml

from crawler.pagecheck import PageLimits, page_problem
from demo.hostile.site import PARSE_BOMBS
from tests.conftest import SHARED_DATA, run_adclear, seeds_for

LIMITS = PageLimits(max_elements=1_000, max_attributes=50)
MANY = " ".join(f"a{i}" for i in range(51))


@pytest.mark.parametrize(
    "page",
    [
        f"<div {MANY}>",
        f'<p class="x">text</p><div\n{MANY}>',
        "<div " + "".join(f'a{i}="1"' for i in range(51)) + ">",  # no space needed after a quoted value
        f'<div title=">" {MANY}>',  # a ">" inside quotes does not end the tag
        f'<!-- <x a=" --><div {MANY}>',  # a quote inside a comment opens nothing
        f"<script>var s = '<x a=\"';</script><div {MANY}>",  # nor inside a script
        f"<SCRIPT {MANY}></SCRIPT>",
        f"<div {MANY}",  # cut off before its ">"
        f"</div {MANY}>",  # end tags are tokenized with their attributes too
    ],
)
def test_an_element_with_too_many_attributes_is_found_without_parsing(page):
    assert page_problem(page.encode(), LIMITS) == (
        "too_complex",
        "an element has more than 50 attributes (ADCLEAR_PAGE_MAX_ATTRIBUTES): not parsed",
    )


@pytest.mark.parametrize(
    "page",
    [
        f"<p>{MANY}</p>",  # words, not attributes
        f"<!-- <div {MANY}> -->",
        f"<script>'<div {MANY}>'</script><p>ok</p>",
        f"<textarea><div {MANY}></textarea>",
        "<div " + " ".join(f"a{i}" for i in range(50)) + ">",
        "<a<a<a<a<a" * 200,
        "年化 < 18% 的 <理财> 产品",
        "",
    ],
)
def test_pages_within_the_limits_pass(page):
    assert page_problem(page.encode(), LIMITS) is None


def test_too_many_elements_and_too_many_bytes():
    assert page_problem(b"<i></i>" * 1_001, LIMITS)[1].startswith("more than 1,000 elements")
    assert page_problem(b"<" * 5_000, LIMITS) is None  # "<" that opens no element is text
    assert page_problem(b"x" * 20, PageLimits(max_bytes=10)) == (
        "too_large",
        "the page is 20 bytes, more than DOWNLOAD_MAXSIZE (10)",
    )


def test_real_pages_pass_with_the_default_limits():
    pages = sorted((SHARED_DATA / "html").glob("*.html")) if SHARED_DATA.is_dir() else []
    if not pages:
        pytest.skip(f"the real pages are not here ({SHARED_DATA})")
    for path in pages:
        assert page_problem(path.read_bytes(), PageLimits()) is None, path.name


# ---- a crawl -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_server):
    """The parse bombs and the demo classifieds site, crawled at once by one ``adclear crawl``."""
    tmp = tmp_path_factory.mktemp("bombs")
    seeds = seeds_for(demo_server.base_url, tmp / "seeds.yml")
    data = yaml.safe_load(seeds.read_text(encoding="utf-8"))
    hostile = next(s for s in data["sites"] if s["name"] == "demo-hostile")
    hostile["start_urls"] = [f"{demo_server.base_url}/hostile/bombs.html"]
    data["sites"] = [s for s in data["sites"] if s["name"] == "demo-classifieds"] + [hostile]
    seeds.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    db = tmp / "data" / "adclear.db"
    started = time.monotonic()
    result = run_adclear("crawl", "demo-hostile", "demo-classifieds", db=db, seeds=seeds, timeout=240)
    return db, result, time.monotonic() - started


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_each_bomb_is_refused_and_recorded_with_its_limit(crawled):
    db, result, _ = crawled
    errors = {
        url.split("/hostile", 1)[1]: (kind, message)
        for url, kind, message in rows(
            db, "SELECT url, kind, message FROM crawl_errors WHERE url LIKE '%/hostile/ad/%'"
        )
    }
    for path, (what, kind) in PARSE_BOMBS.items():
        assert errors.get(path.removeprefix("/hostile"), ("",))[0] == kind, f"{what}: {errors}"
    assert "more than 1,000 attributes" in errors["/ad/attributes.html"][1]
    assert "nested more than 256 deep" in errors["/ad/deep.html"][1]
    assert "more than 100,000 elements" in errors["/ad/elements.html"][1]
    assert not rows(db, "SELECT id FROM ads WHERE title IN ('属性炸弹', '嵌套炸弹', '元素炸弹')")


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_the_other_site_is_crawled_in_full_meanwhile(crawled):
    db, result, seconds = crawled
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo-classifieds: ok (run " in result.stdout
    (ads,) = rows(db, "SELECT count(*) FROM ads WHERE site = 'demo-classifieds'")[0]
    assert ads >= 80
    assert seconds < 120, f"the crawl took {seconds:.0f} s"
