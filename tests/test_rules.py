"""Rule packs: every rule's own examples, validation errors that name file, rule and problem, lint, tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from classifier import Classifier, RulePackError, lint, load_rule_pack, run_rule_tests
from classifier.rules import DEFAULT_RULES_DIR

PACK = load_rule_pack()
CLF = Classifier(PACK)


def _examples(which: str):
    for rule in PACK.rules:
        examples = rule.tests_match if which == "match" else rule.tests_no_match
        for i, example in enumerate(examples):
            yield pytest.param(rule.id, example, id=f"{rule.id}-{which}-{i}")


@pytest.mark.parametrize(("rule_id", "example"), list(_examples("match")))
def test_rule_matches_its_examples(rule_id, example):
    hits, _ = CLF.hits(example, complete=True)
    mine = [h for h in hits if h.rule_id == rule_id]
    assert mine, f"{rule_id} did not match {example!r}"
    for h in mine:
        assert example[h.start : h.end] == h.matched


@pytest.mark.parametrize(("rule_id", "example"), list(_examples("no_match")))
def test_rule_does_not_match_its_counter_examples(rule_id, example):
    hits, _ = CLF.hits(example, complete=True)
    assert [h.matched for h in hits if h.rule_id == rule_id] == []


def test_every_rule_has_examples_both_ways():
    assert all(r.tests_match and r.tests_no_match for r in PACK.rules)


def test_default_pack_lints_clean_and_its_tests_pass():
    assert lint() == []
    assert run_rule_tests() == []


def test_default_pack_covers_every_category():
    from classifier import CATEGORIES

    assert {r.name for r in PACK.rules if r.kind == "category"} == set(CATEGORIES)


def _pack(tmp_path: Path, body: str, name: str = "equity.yml") -> Path:
    (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


GOOD_RULE = """
rules:
  - id: equity.original_shares
    category: 私募股权/原始股
    weight: 2
    legal_basis: spc.2.5
    patterns: ['原始股']
    tests: {match: ['原始股认购'], no_match: ['股票']}
"""


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            GOOD_RULE.replace("['原始股']", "['原始股', '(?:原始']"),
            "rule equity.original_shares: pattern 2 is not a valid regex: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            GOOD_RULE.replace("weight: 2", "weight: 2\n    colour: red"),
            "rule equity.original_shares: unknown key 'colour'",
        ),
        (
            GOOD_RULE.replace("    weight: 2\n", ""),
            "rule equity.original_shares: 'weight' must be a number from 0 to 10",
        ),
        (
            GOOD_RULE.replace("私募股权/原始股", "股票"),
            "rule equity.original_shares: unknown category '股票'",
        ),
        (
            GOOD_RULE.replace("    category: 私募股权/原始股\n", ""),
            "rule equity.original_shares: needs exactly one of 'category', 'signal', 'exculpatory'",
        ),
        (
            GOOD_RULE.replace(
                "    category: 私募股权/原始股\n", "    category: 私募股权/原始股\n    signal: guarantee\n"
            ),
            "rule equity.original_shares: needs exactly one of 'category', 'signal', 'exculpatory'",
        ),
        (GOOD_RULE.replace("['原始股']", "['P2P']"), "rule equity.original_shares: pattern 1 contains 'P'"),
        (GOOD_RULE.replace("['原始股']", "['穩賺']"), "rule equity.original_shares: pattern 1 contains '穩'"),
        (GOOD_RULE.replace("['原始股']", "['(?:原始股)?']"), "pattern 1 matches the empty string"),
        (GOOD_RULE.replace("spc.2.5", "spc.9.9"), "rule equity.original_shares: unknown legal_basis key 'spc.9.9'"),
        (GOOD_RULE.replace("weight: 2", "weight: 2\n    status: draft"), "'status' must be 'active' or 'shadow'"),
        (
            GOOD_RULE.replace("weight: 2", "weight: 2\n    unless: ['[']"),
            "rule equity.original_shares: unless 1 is not a valid regex",
        ),
        (GOOD_RULE + GOOD_RULE.replace("rules:\n", ""), "rule equity.original_shares: id already used in"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_broken_rule_file_names_file_rule_and_problem(tmp_path, body, problem):
    directory = _pack(tmp_path, body)
    with pytest.raises(RulePackError) as exc:
        Classifier.from_directory(directory)
    message = str(exc.value)
    assert message.startswith(str(directory / "equity.yml") + ": ")
    assert problem in message
    assert any(problem in p for p in lint(directory))


def test_error_message_reads_like_the_documentation(tmp_path):
    directory = _pack(tmp_path, GOOD_RULE.replace("['原始股']", "['原始股', '(原始']"))
    with pytest.raises(RulePackError) as exc:
        load_rule_pack(directory)
    assert str(exc.value) == (
        f"{directory / 'equity.yml'}: rule equity.original_shares: pattern 2 is not a valid regex: "
        "missing ), unterminated subpattern at position 0"
    )


def test_all_problems_are_collected(tmp_path):
    body = GOOD_RULE.replace("weight: 2", "weight: 20\n    colour: red")
    with pytest.raises(RulePackError) as exc:
        load_rule_pack(_pack(tmp_path, body))
    assert len(exc.value.problems) == 2
    assert "(and 1 more problems)" in str(exc.value)


def test_lint_warns_about_rules_without_examples(tmp_path):
    body = GOOD_RULE.replace("    tests: {match: ['原始股认购'], no_match: ['股票']}\n", "")
    problems = lint(_pack(tmp_path, body))
    assert any("rule equity.original_shares: warning: no 'tests.match' examples" in p for p in problems)


def test_run_rule_tests_reports_failing_examples(tmp_path):
    body = GOOD_RULE.replace("no_match: ['股票']", "no_match: ['原始股东']").replace("'原始股认购'", "'上市公司'")
    failures = run_rule_tests(_pack(tmp_path, body))
    assert failures == [
        f"{tmp_path / 'equity.yml'}: rule equity.original_shares: expected a match on '上市公司'",
        f"{tmp_path / 'equity.yml'}: rule equity.original_shares: expected no match on '原始股东', matched ['原始股']",
    ]


def test_defaults_apply_to_every_rule_of_a_file(tmp_path):
    body = """
defaults:
  signal: guarantee
  legal_basis: ad.25
  weight: 1.5
rules:
  - id: g.one
    patterns: ['保本']
  - id: g.two
    weight: 2
    exculpatory: antifraud
    patterns: ['警惕']
"""
    pack = load_rule_pack(_pack(tmp_path, body, "g.yml"))
    one, two = pack.rules
    assert (one.kind, one.name, one.weight, one.legal_basis) == ("signal", "guarantee", 1.5, "《广告法》第二十五条")
    assert (two.kind, two.name, two.weight) == ("exculpatory", "antifraud", 2.0)


def test_unless_cancels_a_hit_in_its_window_or_in_the_whole_text(tmp_path):
    body = """
rules:
  - id: g.window
    signal: guarantee
    weight: 2
    legal_basis: ad.25
    patterns: ['保本']
    unless: ['不保本']
    unless_window: 2
  - id: g.text
    signal: guarantee
    weight: 2
    legal_basis: ad.25
    patterns: ['保息']
    unless: ['存款']
    unless_window: text
"""
    clf = Classifier.from_directory(_pack(tmp_path, body, "g.yml"))
    ids = lambda text, title="": [h.rule_id for h in clf.classify(text, title=title).hits]  # noqa: E731
    assert ids("保本保息") == ["g.window", "g.text"]
    assert ids("本产品不保本") == []
    assert ids("保本，保本，这一句不保本") == ["g.window", "g.window"]
    assert ids("保息。很远很远很远很远很远的地方写着存款") == []
    assert ids("保息", title="存款产品") == []  # the whole text includes the title


def test_version_names_the_rule_pack(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, copy)
    same = Classifier.from_directory(copy)
    assert same.version == Classifier.default().version
    assert same.version.startswith("0.1.0+rules.")
    with open(copy / "cat_equity.yml", "a", encoding="utf-8") as f:
        f.write("\n# an operator's comment\n")
    assert Classifier.from_directory(copy).version != same.version


def test_scoring_file_is_validated(tmp_path):
    _pack(tmp_path, GOOD_RULE)
    (tmp_path / "_scoring.yml").write_text("thresholds: {flag: 1, watch: 2}\nbogus: 1\n", encoding="utf-8")
    problems = lint(tmp_path)
    assert any(p.startswith(f"{tmp_path / '_scoring.yml'}: unknown key 'bogus'") for p in problems)
    assert any("thresholds.watch (2.0) is above thresholds.flag (1.0)" in p for p in problems)


def test_the_queues_score_bands_are_read_and_checked(tmp_path):
    _pack(tmp_path, GOOD_RULE)
    scoring = tmp_path / "_scoring.yml"
    assert load_rule_pack(tmp_path).scoring.queue_bands == {"high": 8.0, "mid": 5.0}  # none named: the defaults
    scoring.write_text("queue_bands: {high: 6.5, mid: 3}\n", encoding="utf-8")
    assert load_rule_pack(tmp_path).scoring.queue_bands == {"high": 6.5, "mid": 3.0}
    for text, problem in [
        ("queue_bands: {high: 4, mid: 6}\n", "queue_bands.mid (6) is above queue_bands.high (4)"),
        ("queue_bands: {high: eight}\n", "queue_bands.high must be a score (a number, 0 or more), not 'eight'"),
        ("queue_bands: {top: 9}\n", "queue_bands must be a mapping with 'high' and/or 'mid' (scores)"),
    ]:
        scoring.write_text(text, encoding="utf-8")
        assert any(p.endswith(problem) for p in lint(tmp_path)), (text, lint(tmp_path))
