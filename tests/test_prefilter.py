"""The engine's prefilter (classifier/prefilter.py) must never skip a pattern on a text it matches.

A pattern is run only on texts that hold one of its ``keys``; a key set that misses one way of matching would
lose hits silently. These tests check that on random regexes and strings, on the shipped rule pack with its
examples and with text built around its keys, and that the keys are selective enough to be worth having.
"""

from __future__ import annotations

import random
import re
import re._parser as sre_parse  # type: ignore[import-not-found]

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import Classifier, prefilter

ALPHABET = "收益保本息高月年日1%a "


def _needs(source: str) -> frozenset[str] | None:
    regex = re.compile(source)
    return prefilter.needs(sre_parse.parse(source), regex.flags)


def _holds(keys: frozenset[str] | None, text: str) -> bool:
    return keys is None or any(k in text for k in keys)


# --- random regexes over a small alphabet: if it matches, the text holds a key --------------------------------
_atoms = st.one_of(
    st.sampled_from(list(ALPHABET)).map(re.escape),
    st.sampled_from(["[收益]", "[^保]", r"\d", "[0-9]", ".", r"\s", "[高月年]"]),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, min_size=1, max_size=4).map("".join),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: "(?:" + "|".join(xs) + ")"),
        children.map(lambda x: f"(?:{x})?"),
        children.map(lambda x: f"(?:{x})+"),
        children.map(lambda x: f"(?:{x}){{0,3}}"),
        children.map(lambda x: f"(?:{x}){{2}}"),
        children.map(lambda x: f"(?:{x}){{1,2}}"),
        children.map(lambda x: f"(?<!保){x}"),
        children.map(lambda x: f"{x}(?!息)"),
        children.map(lambda x: f"(?={x})"),
    )


_regexes = st.recursive(_atoms, _combine, max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(source=_regexes, texts=st.lists(st.text(alphabet=ALPHABET, max_size=14), min_size=1, max_size=20))
def test_a_random_regex_never_matches_a_text_without_one_of_its_keys(source: str, texts: list[str]) -> None:
    try:
        regex = re.compile(source)
    except re.error:
        return
    parsed = sre_parse.parse(source)
    keys = _needs(source)
    clauses = prefilter.required_clauses(parsed, regex.flags)
    for text in texts:
        if any(m.end() > m.start() for m in regex.finditer(text)):
            assert _holds(keys, text), (source, keys, text)
            for clause in clauses:
                assert _holds(clause, text), (source, clause, text)


def test_a_sequence_gives_one_requirement_per_part() -> None:
    source = r"(?:保证|确保)[^。]{0,8}(?:收益|回报)"
    clauses = prefilter.required_clauses(sre_parse.parse(source))
    assert set(clauses) == {frozenset({"保证", "确保"}), frozenset({"收益", "回报"})}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("收益", {"收益"}),
        ("保本|保息", {"保本", "保息"}),
        # one part of up to three characters of each of 保证本金, 保证本息, 确保本金, 确保本息: the rarest
        ("(?:保证|确保)(?:本金|本息)", {"证本金", "证本息", "确保本", "保本息"}),
        (r"\d+%", {"%"}),  # the digits could be anything; the % must be there
        ("(?<!不)保收益", {"保收益"}),  # a lookbehind consumes nothing
        ("(?i)abc", None),  # case folding: not analysed
        ("[^。]{0,8}", None),  # could be anything
        (".收益.", {"收益"}),
    ],
)
def test_keys_of_known_regexes(source: str, expected: set[str] | None) -> None:
    keys = prefilter.required_grams(sre_parse.parse(source), re.compile(source).flags)
    assert keys == (None if expected is None else frozenset(expected))


# --- the shipped rule pack ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def _texts_for(clf: Classifier) -> list[str]:
    """Rule examples, and strings made of pieces of every pattern's keys and examples (random, fixed seed)."""
    from classifier.normalize import normalize

    examples = [t for r in clf.rules for t in (*r.tests_match, *r.tests_no_match)]
    pieces = [k for _r, p in clf._scan for k in (p.keys or ())] + [e[i : i + 4] for e in examples for i in (0, 3, 6)]
    rnd = random.Random(11)
    built = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12))) for _ in range(3000)]
    return [normalize(t).text for t in examples + built]


def test_no_pattern_of_the_rule_pack_matches_a_text_without_its_keys(clf: Classifier) -> None:
    checked = matched = 0
    for text in _texts_for(clf):
        for rule, pattern in clf._scan:
            checked += 1
            if pattern.regex.search(text):
                matched += 1
                assert _holds(pattern.keys, text), (rule.id, pattern.source, sorted(pattern.keys or ()), text)
                for clause in pattern.also:
                    assert _holds(clause, text), (rule.id, pattern.source, sorted(clause), text)
    assert matched > 1000, "the texts exercise the patterns"


def test_the_engine_runs_every_pattern_that_matches(clf: Classifier) -> None:
    """The candidates the engine picks include every pattern that matches (the index, not only the keys)."""
    for text in _texts_for(clf)[::7]:
        for phase in (0, 1):
            picked = set(clf._candidates(text, clf._present(text), phase))
            for i, (rule, pattern) in enumerate(clf._scan):
                if (clf._sign[rule.id] < 0) == bool(phase) and pattern.regex.search(text):
                    assert i in picked, (rule.id, pattern.source, text)


def test_the_keys_are_selective(clf: Classifier) -> None:
    """Almost every pattern has keys, and an ordinary sentence wakes few patterns."""
    without = [p.source for _r, p in clf._scan if p.keys is None]
    assert len(without) <= 5, without
    text = "本店位于市中心，交通便利，营业时间上午九点至晚上八点，欢迎新老顾客光临选购新鲜水果。"
    woken = clf._candidates(text, clf._present(text), 0) + clf._candidates(text, clf._present(text), 1)
    assert len(woken) <= 5, [clf._scan[i][0].id for i in woken]


def test_the_key_index_finds_keys_of_every_length_and_keyless_patterns() -> None:
    """The engine's index on a small hand-made set: one-, two- and three-character keys, a pattern without
    keys but with known first characters, and one about which nothing is known."""
    from classifier.keyindex import KeyIndex

    index = KeyIndex(phases=2)
    index.add(0, 0, frozenset({"息"}), None)
    index.add(1, 0, frozenset({"保本", "刚兑"}), None)
    index.add(2, 0, frozenset({"年化率"}), None)
    index.add(3, 0, None, frozenset({"加", "v"}))
    index.add(4, 1, None, None)
    index.add(5, 1, frozenset({"警方"}), None)
    index.finish()

    def picked(text: str, phase: int = 0) -> list[int]:
        return index.candidates(text, index.probe(text), phase)

    assert picked("") == []
    assert picked("本店新鲜水果") == []
    assert picked("月息2分") == [0]
    assert picked("承诺保本") == [1]
    assert picked("刚兑") == [1]
    assert picked("年化12%") == []  # the bigram of 年化率 is there, the key is not
    assert picked("年化率12%") == [2]
    assert picked("加我") == [3]
    assert picked("v") == [3]
    assert picked("保本，加v，月息") == [0, 1, 3]
    assert picked("", 1) == [4]
    assert picked("据警方通报", 1) == [4, 5]
    assert picked("据警方通报", 0) == []


def test_the_key_index_reads_characters_outside_the_basic_plane() -> None:
    """Keys within the BMP: texts are read as UTF-16 (a character beyond it never matches a key); a key beyond
    it switches the index to UTF-32."""
    from classifier.keyindex import KeyIndex

    narrow = KeyIndex()
    narrow.add(0, 0, frozenset({"保本"}), None)
    narrow.finish()
    text = "𠮷保本𠮷"
    assert narrow.candidates(text, narrow.probe(text), 0) == [0]

    wide = KeyIndex()
    wide.add(0, 0, frozenset({"𠮷"}), None)
    wide.add(1, 0, frozenset({"保𠮷"}), None)
    wide.finish()
    assert wide.candidates("保本", wide.probe("保本"), 0) == []
    assert wide.candidates("𠮷", wide.probe("𠮷"), 0) == [0]
    assert wide.candidates("a保𠮷", wide.probe("a保𠮷"), 0) == [0, 1]


# --- the regex the engine scans with: the same matches ------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(source=_regexes, texts=st.lists(st.text(alphabet=ALPHABET, max_size=14), min_size=1, max_size=20))
def test_a_random_regex_and_its_scan_regex_find_the_same_matches(source: str, texts: list[str]) -> None:
    try:
        regex = re.compile(source)
    except re.error:
        return
    parsed = sre_parse.parse(source)
    scan = prefilter.scan_regex(regex, parsed, prefilter.first_chars(parsed))
    for text in texts:
        assert [m.span() for m in scan.finditer(text)] == [m.span() for m in regex.finditer(text)], (source, text)


def test_scan_regex_wraps_only_what_re_cannot_skip_through() -> None:
    def scan(source: str) -> str:
        regex = re.compile(source)
        parsed = sre_parse.parse(source)
        return prefilter.scan_regex(regex, parsed, prefilter.first_chars(parsed)).pattern

    assert scan("(?<!不)保收益") == "(?<!不)保收益"  # one first character: re's own literal prefix is as good
    assert scan("(?<!不)(?:保收益|刚兑)").startswith("(?=[保刚])")
    assert scan("(?:年化|收益)率") == "(?:年化|收益)率"  # branches of literals: re skips ahead by itself
    assert scan("(?:[年月]息|收益)").startswith("(?=[年收月])")
    assert scan("(?i)(?:ab|[cd]e)") == "(?i)(?:ab|[cd]e)"  # nothing known under case folding


def test_every_pattern_of_the_rule_pack_scans_to_the_same_matches(clf: Classifier) -> None:
    wrapped = 0
    for _rule, pattern in clf._scan:
        if pattern.scan is None or pattern.scan is pattern.regex:
            continue
        wrapped += 1
        for text in _texts_for(clf)[::3]:
            assert [m.span() for m in pattern.scan.finditer(text)] == [m.span() for m in pattern.regex.finditer(text)]
    assert wrapped >= 20, "the pack has patterns that start with a lookbehind or with branches of groups"
