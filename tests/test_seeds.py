"""seeds.yml validation: each mistake gives the file, the line and the fix, exit code 1, nothing crawled."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.errors import SeedsInvalid
from core.seeds import load_seeds

GOOD = """\
version: 1
sites:
  - name: shop
    platform: 示例平台
    kind: classifieds
    start_urls:
      - http://127.0.0.1:9/list/
    allowed_domains: [127.0.0.1]
    list:
      items: "ul.ads a"
      next_page: "a.next"
    detail:
      title: "h1"
      body: "div.body"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seeds.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_seeds_file_is_valid_and_crawls_the_demo():
    seeds = load_seeds(Path(__file__).parents[1] / "seeds.yml")
    names = [s.name for s in seeds.sites]
    assert "demo-classifieds" in names
    demo = seeds.site("demo-classifieds")
    assert demo.start_urls == ["http://127.0.0.1:8731/classifieds/"]
    assert demo.allows("http://127.0.0.1:8731/classifieds/ad/1001.html")
    assert not demo.allows("http://10.0.0.1/x")


def test_a_good_file_loads_with_defaults(tmp_path):
    seeds = load_seeds(write(tmp_path, GOOD))
    site = seeds.site("shop")
    assert site.kind == "classifieds"
    assert site.list.max_pages == 50 and site.delay == 1.0 and site.concurrency == 2


CASES = [
    pytest.param(
        GOOD.replace("    start_urls:", "    start_url:"),
        "line 6: sites[0] (shop).start_url: unknown key 'start_url'; did you mean 'start_urls'? (and 1 more problem)",
        id="unknown-key",
    ),
    pytest.param(
        GOOD.replace("    platform: 示例平台\n", ""),
        "line 3: sites[0] (shop).platform: 'platform' is missing; add it (see docs/seeds.md)",
        id="missing-field",
    ),
    pytest.param(
        GOOD.replace("http://127.0.0.1:9/list/", "htp:/127.0.0.1/list/"),
        "line 7: sites[0] (shop).start_urls[0]: 'htp:/127.0.0.1/list/' is not an http(s) URL with a host, "
        "e.g. https://example.com/list/",
        id="malformed-url",
    ),
    pytest.param(
        GOOD.replace('body: "div.body"', 'body: "div[class="'),
        "line 14: sites[0] (shop).detail.body: 'div[class=' is not a valid CSS selector",
        id="bad-selector",
    ),
    pytest.param(
        GOOD.replace("kind: classifieds", "kind: blog"),
        "line 5: sites[0] (shop).kind: kind must be one of classifieds, social, forum",
        id="unknown-kind",
    ),
    pytest.param(
        GOOD.replace("allowed_domains: [127.0.0.1]", "allowed_domains: [example.com]"),
        "line 3: sites[0] (shop): start URL http://127.0.0.1:9/list/ is outside allowed_domains ['example.com']: "
        "add its host to allowed_domains",
        id="start-url-off-domain",
    ),
    pytest.param(
        GOOD.replace("    kind: classifieds\n", "    kind: classifieds\n    kind: forum\n"),
        "line 6: key 'kind' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        GOOD.replace('      items: "ul.ads a"', '      items: "ul.ads a'),
        "line 11: not valid YAML",
        id="broken-yaml",
    ),
    pytest.param(
        GOOD + GOOD.split("sites:\n")[1],
        "line 1: top level: two sites are named 'shop': give each site its own name",
        id="duplicate-site",
    ),
    pytest.param(
        GOOD.replace("name: shop", "name: My Shop"),
        "line 3: sites[0] (My Shop).name: a site name is lower-case letters, digits, '-' and '_'",
        id="bad-name",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_mistake_names_file_line_and_fix(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(SeedsInvalid) as caught:
        load_seeds(path)
    assert str(caught.value).startswith(f"{path} {expected}")


@pytest.mark.parametrize(("text", "expected"), CASES[:4])
def test_the_cli_prints_one_line_exits_1_and_crawls_nothing(tmp_path, text, expected):
    path = write(tmp_path, text)
    db = tmp_path / "data" / "adclear.db"
    result = CliRunner().invoke(main, ["--db", str(db), "--seeds", str(path), "crawl"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path} {expected}")
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    assert not db.exists(), "nothing may be crawled (or even created) from an invalid seeds.yml"


def test_missing_file_says_how_to_fix(tmp_path):
    result = CliRunner().invoke(main, ["--seeds", str(tmp_path / "nope.yml"), "sites"])
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: {tmp_path / 'nope.yml'}: no such file; create it (see docs/seeds.md) or pass --seeds PATH\n"
    )


def test_unknown_site_name_is_refused(tmp_path):
    path = write(tmp_path, GOOD)
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "a.db"), "--seeds", str(path), "crawl", "shopp"])
    assert result.exit_code == 1
    assert result.output == "Error: no site named 'shopp' in seeds.yml (configured: shop)\n"


def test_a_list_needs_items_or_entries(tmp_path):
    path = write(tmp_path, GOOD.replace('      items: "ul.ads a"\n', ""))
    with pytest.raises(SeedsInvalid) as caught:
        load_seeds(path)
    assert str(caught.value) == (
        f"{path} line 9: sites[0] (shop).list: a list needs 'items' (links to ad pages) "
        "or 'entries' (ads on the list page), or both"
    )


def test_entries_alone_are_enough(tmp_path):
    entries = '      entries: {item: "li.slot", title: "h3", link: "a::attr(href)"}\n'
    text = GOOD.replace('      items: "ul.ads a"\n', entries)
    site = load_seeds(write(tmp_path, text)).site("shop")
    assert site.list.items is None and site.list.entries.item == "li.slot"
