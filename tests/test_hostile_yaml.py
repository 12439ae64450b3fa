"""Hostile YAML in seeds.yml and rule packs: alias bombs, recursive aliases and deep nesting are refused quickly,
with the file and the line, and never as a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adclear.cli import main
from core.errors import SeedsInvalid
from core.seeds import load_seeds
from tests.test_seeds import GOOD

# The classic "billion laughs": 327 bytes that expand to 10^9 values in a loader that copies aliases.
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
RULE = "  - id: x.elderly\n    category: 养老投资\n    weight: 1\n    legal_basis: spc.2.10\n    patterns: ['养老']\n"


def write(tmp_path: Path, text: str, name: str = "seeds.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    started = time.monotonic()
    with pytest.raises(SeedsInvalid) as caught:
        load_seeds(path)
    assert time.monotonic() - started < 10
    return str(caught.value)


@pytest.mark.timeout(60)
def test_an_alias_bomb_is_refused_at_once_with_its_line(tmp_path):
    message = refused(write(tmp_path, GOOD + BOMB))
    assert message.startswith(f"{tmp_path / 'seeds.yml'} line ")
    assert "aliases expand to more than" in message
    line = int(message.split(" line ", 1)[1].split(":", 1)[0])
    assert (GOOD + BOMB).splitlines()[line - 1].startswith(("d:", "e:", "f:", "g:", "h:", "i:"))


@pytest.mark.timeout(60)
def test_a_recursive_alias_is_refused_with_its_line(tmp_path):
    text = GOOD + "extra: &loop\n  - *loop\n"
    message = refused(write(tmp_path, text))
    line = len(GOOD.splitlines()) + 1
    assert message == f"{tmp_path / 'seeds.yml'} line {line}: an alias refers to a value that contains it (&loop)"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_with_its_line(tmp_path, depth):
    text = GOOD + "extra: " + "[" * depth + "]" * depth + "\n"
    message = refused(write(tmp_path, text))
    line = len(GOOD.splitlines()) + 1
    assert message == f"{tmp_path / 'seeds.yml'} line {line}: nested more than 50 levels deep; flatten the file"


def test_a_few_aliases_and_a_merge_key_still_work(tmp_path):
    text = (
        "version: 1\nsites:\n"
        "  - &shop\n    name: shop\n    platform: 示例平台\n    kind: classifieds\n"
        "    start_urls: [http://127.0.0.1:9/list/]\n    allowed_domains: [127.0.0.1]\n"
        "    list: {items: 'ul.ads a'}\n    detail: &detail {title: h1, body: div.body}\n"
        "  - <<: *shop\n    name: shop-2\n    detail: *detail\n"
    )
    seeds = load_seeds(write(tmp_path, text))
    assert [s.name for s in seeds.sites] == ["shop", "shop-2"]
    assert seeds.site("shop-2").detail.body == "div.body"
    assert seeds.site("shop-2").platform == "示例平台"


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ("extra: !!python/object:os.system x\n", "line 15: not valid YAML: could not determine a constructor"),
        ("extra: !!int nope\n", "line 15: not valid YAML: 'nope' is not a valid !!int"),
        ("extra: 2026-13-45\n", "line 15: not valid YAML: '2026-13-45' is not a valid !!timestamp"),
        ("extra: \x07\n", "line 15: not valid YAML: special characters are not allowed"),
        ("? [a, b]\n: c\n", "line 15: a key must be a plain word"),
    ],
)
def test_odd_scalars_and_characters_name_the_line(tmp_path, tail, problem):
    assert refused(write(tmp_path, GOOD + tail)).startswith(f"{tmp_path / 'seeds.yml'} {problem}")


@pytest.mark.timeout(60)
def test_the_cli_says_it_in_one_line(tmp_path):
    seeds = write(tmp_path, GOOD + BOMB)
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "a.db"), "--seeds", str(seeds), "sites"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {seeds} line ")
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules:\n" + RULE + BOMB, "aliases expand to more than"),
        ("rules: &r\n  - *r\n", "line 1: an alias refers to a value that contains it (&r)"),
        ("rules: " + "[" * 5000 + "]" * 5000 + "\n", "line 1: nested more than 50 levels deep"),
    ],
)
def test_a_rule_pack_bomb_is_refused_with_file_and_line(tmp_path, text, problem):
    from classifier.rules import RulePackError, load_rule_pack

    write(tmp_path, text, "bomb.yml")
    started = time.monotonic()
    with pytest.raises(RulePackError) as caught:
        load_rule_pack(tmp_path)
    assert time.monotonic() - started < 10
    assert "bomb.yml: not valid YAML: " in str(caught.value)
    assert problem in str(caught.value)
