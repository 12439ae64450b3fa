"""Keyword search: seeds.yml's ``search`` makes one result list per keyword, crawled like a list page, on the
classifieds demo (plain HTML, 下一页 links) and on the social demo (rendered, infinite scroll).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from demo.classifieds.site import ClassifiedsSite
from demo.social.site import SocialSite
from tests.conftest import NO_READING, run_adclear, seeds_for


def one_site(base_url: str, target: Path, name: str) -> dict:
    seeds_for(base_url, target)
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    data["sites"] = [s for s in data["sites"] if s["name"] == name]
    return data


def write(data: dict, target: Path) -> Path:
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def stored_urls(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {url for (url,) in conn.execute("SELECT url FROM ads")}


@pytest.mark.slow
def test_classifieds_search_stores_the_ads_found(tmp_path, demo_site):
    """Start page without its sections (its 8 latest ads only), plus two searches whose results span pages."""
    keywords = ["理财", "养老"]
    data = one_site(demo_site, tmp_path / "seeds.yml", "demo-classifieds")
    site = data["sites"][0]
    del site["list"]["sections"]
    site["search"]["keywords"] = keywords
    db = tmp_path / "data" / "adclear.db"
    result = run_adclear("crawl", *NO_READING, "demo-classifieds", db=db, seeds=write(data, tmp_path / "seeds.yml"))
    assert result.returncode == 0, result.stdout + result.stderr

    demo = ClassifiedsSite()
    newest = sorted(demo.ads, key=lambda a: (a.posted_at, a.id), reverse=True)
    found = {a.id for a in demo.ads for k in keywords if k in f"{a.title}\n{a.body}\n{a.contact}"}
    assert len([a for a in demo.ads if "理财" in f"{a.title}\n{a.body}\n{a.contact}"]) > 6, "needs a 下一页"
    expected = {f"{demo_site}{demo.by_id[i].path}" for i in found | {a.id for a in newest[:8]}}
    assert stored_urls(db) == expected
    with sqlite3.connect(db) as conn:
        searched = {u for (u,) in conn.execute("SELECT url FROM pages WHERE url LIKE '%/classifieds/search?%'")}
    assert any("page=2" in u for u in searched)


@pytest.mark.slow
def test_social_search_stores_the_posts_found_scrolling_for_more(tmp_path, demo_site):
    """The feed without its 加载更多 button (its first 8 posts only), plus searches loaded by scrolling."""
    keywords = ["理财", "原始股"]
    data = one_site(demo_site, tmp_path / "seeds.yml", "demo-social")
    site = data["sites"][0]
    del site["render"]["load_more"]
    site["render"]["timeout"] = 3  # the feed does not scroll: the spider waits this long for more, then stops
    site["search"]["keywords"] = keywords
    db = tmp_path / "data" / "adclear.db"
    result = run_adclear("crawl", "demo-social", db=db, seeds=write(data, tmp_path / "seeds.yml"))
    assert result.returncode == 0, result.stdout + result.stderr

    demo = SocialSite()
    found = {p.id for k in keywords for p in demo.search(k)}
    assert len(demo.search("理财")) > demo.search_page_size, "needs a scroll for the second load"
    expected = {f"{demo_site}{demo.by_id[i].path}" for i in found | {p.id for p in demo.newest_first[:8]}}
    assert stored_urls(db) == expected
    assert f"{len(expected)} ads ({len(expected)} new" in result.stdout
    with sqlite3.connect(db) as conn:
        stats = json.loads(conn.execute("SELECT stats FROM crawl_runs").fetchone()[0])
    assert stats["adclear/render/loads"] >= 1  # the scroll that loaded the 6th 理财 post


def test_search_urls_encode_the_keyword():
    from core.seeds import SearchOptions

    search = SearchOptions(url="http://127.0.0.1:8731/s?q={keyword}&t=1", keywords=["理财", "高 回报"])
    assert search.urls() == [
        ("理财", "http://127.0.0.1:8731/s?q=%E7%90%86%E8%B4%A2&t=1"),
        ("高 回报", "http://127.0.0.1:8731/s?q=%E9%AB%98%20%E5%9B%9E%E6%8A%A5&t=1"),
    ]


GOOD = """\
version: 1
sites:
  - name: shop
    platform: 示例平台
    kind: classifieds
    start_urls: [http://127.0.0.1:9/list/]
    allowed_domains: [127.0.0.1]
    list:
      items: "ul.ads a"
    detail:
      title: "h1"
      body: "div.body"
    search:
      url: "http://127.0.0.1:9/search?q={keyword}"
      keywords: [理财, 原始股]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("q={keyword}", "q=理财"),
            "line 14: sites[0] (shop).search.url: 'http://127.0.0.1:9/search?q=理财' has no {keyword}: "
            "write where the keyword goes, e.g. /search?q={keyword}",
        ),
        (
            GOOD.replace("http://127.0.0.1:9/search", "http://example.com/search"),
            "line 3: sites[0] (shop): search URL http://example.com/search?q={keyword} is outside allowed_domains "
            "['127.0.0.1']: add its host to allowed_domains",
        ),
        (GOOD.replace("[理财, 原始股]", "[]"), "line 15: sites[0] (shop).search.keywords: List should have at least 1"),
        (
            GOOD.replace("[理财, 原始股]", "[理财, 理财]"),
            "line 15: sites[0] (shop).search.keywords: keyword '理财' is listed twice",
        ),
    ],
    ids=["no-placeholder", "off-domain", "no-keywords", "twice"],
)
def test_search_mistakes_name_line_and_fix(tmp_path, text, expected):
    from core.errors import SeedsInvalid
    from core.seeds import load_seeds

    path = tmp_path / "seeds.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedsInvalid) as caught:
        load_seeds(path)
    assert str(caught.value).startswith(f"{path} {expected}")


def test_the_demo_sites_answer_searches(demo_site):
    import urllib.request

    with urllib.request.urlopen(f"{demo_site}/classifieds/search?q=%E5%8E%9F%E5%A7%8B%E8%82%A1", timeout=10) as a:
        page = a.read().decode("utf-8")
    hits = [ad for ad in ClassifiedsSite().ads if "原始股" in f"{ad.title}\n{ad.body}\n{ad.contact}"]
    assert hits and all(ad.path in page for ad in hits[:6])
    with urllib.request.urlopen(f"{demo_site}/social/api/search?q=%E5%8E%9F%E5%A7%8B%E8%82%A1", timeout=10) as a:
        answer = json.loads(a.read())
    assert [p["id"] for p in answer["posts"]] == [p.id for p in SocialSite().search("原始股")][:5]
