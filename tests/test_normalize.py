"""Normalisation undoes the evasions of DOMAIN.md and maps every character back to the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.normalize import normalize


def origins(s: str) -> list[str]:
    """For each character of the normalised text, the original characters it came from."""
    n = normalize(s)
    return [s[slice(*n.span(i, i + 1))] for i in range(len(n.text))]


def test_spaced_characters_are_joined():
    n = normalize("保 本 保 息，年化 12 %")
    assert n.text == "保本保息,年化12%"
    assert origins("保 本 保 息") == ["保", "本", "保", "息"]
    a = n.text.index("年化")
    assert "保 本 保 息，年化 12 %"[slice(*n.span(a, a + 5))] == "年化 12 %"


@pytest.mark.parametrize("s", ["保✦本", "保-本", "保*本", "保·本", "保.本", "保_本", "保｜本", "保 ★ 本"])
def test_symbols_between_cjk_are_removed(s):
    n = normalize(s)
    assert n.text == "保本"
    assert origins(s) == ["保", "本"]
    assert s[slice(*n.span(0, 2))] == s  # the span of the whole word covers the inserted symbol


def test_unrelated_things_are_not_glued():
    assert normalize("hello   world").text == "hello world"
    assert normalize("3-5年").text == "3-5年"
    assert normalize("abc 💰 def").text == "abc def"
    assert normalize("收益 \n 高").text == "收益\n高"  # never across lines
    assert normalize("www.example.com 保本").text == "www.example.com保本"


def test_full_width_and_compatibility_forms():
    s = "ＶＸ：ＡＢＣ１２３，年化１５％"
    n = normalize(s)
    assert n.text == "微信:abc123,年化15%"
    i = n.text.index("15%")
    assert s[slice(*n.span(i, i + 3))] == "１５％"
    assert normalize("①年化⑫%").text == "1年化12%"


def test_zero_width_characters_and_bom_are_dropped():
    s = "\ufeff保\u200b本\u200d保\u2060息"
    n = normalize(s)
    assert n.text == "保本保息"
    assert s[slice(*n.span(0, 4))] == "保\u200b本\u200d保\u2060息"
    assert normalize("v\u200bx").text == "微信"


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("加薇信咨询", "加微信咨询"),
        ("威信号:abc123", "微信号:abc123"),
        ("徽信联系", "微信联系"),
        ("V信：abc123", "微信:abc123"),
        ("vx 12345678", "微信 12345678"),
        ("wx:licai", "微信:licai"),
        ("详情加V", "详情加微信"),
        ("扣扣群123456", "qq群123456"),
    ],
)
def test_contact_channel_homophones(s, expected):
    n = normalize(s)
    assert n.text == expected
    i = n.text.index("微信") if "微信" in n.text else n.text.index("qq")
    mapped = s[slice(*n.span(i, i + 2))]
    assert mapped.lower() in {"薇信", "威信", "徽信", "v信", "vx", "wx", "v", "扣扣"}


def test_homophone_words_are_left_alone_without_a_channel_context():
    assert normalize("提高企业威信").text == "提高企业威信"
    assert normalize("vxlan network").text == "vxlan network"


@pytest.mark.parametrize(
    ("s", "expected", "number", "source"),
    [
        ("月息三分", "月息3分", "3", "三"),
        ("年化百分之十二", "年化12%", "12%", "百分之十二"),
        ("五万起投", "5万起投", "5万", "五万"),
        ("十二点五", "12.5", "12.5", "十二点五"),
        ("三万五起投", "35000起投", "35000", "三万五"),
        ("给你两分利", "给你2分利", "2", "两"),
    ],
)
def test_chinese_numerals_in_rates_and_amounts(s, expected, number, source):
    n = normalize(s)
    assert n.text == expected
    i = n.text.index(number)
    assert s[slice(*n.span(i, i + len(number)))] == source


@pytest.mark.parametrize("s", ["千万不要相信", "十分重要", "三分之一的人", "一起去", "统一思想", "得到几十万"])
def test_numerals_in_ordinary_words_are_left_alone(s):
    assert normalize(s).text == s


def test_traditional_characters_become_simplified():
    s = "穩賺不賠，無風險，資金安全"
    n = normalize(s)
    assert n.text == "稳赚不赔,无风险,资金安全"
    assert origins(s)[:4] == ["穩", "賺", "不", "賠"]


def test_emoji_and_decorations_are_removed():
    s = "💰高收益🔥🔥立即投资👉加群"
    n = normalize(s)
    assert n.text == "高收益立即投资加群"
    assert s[slice(*n.span(0, 3))] == "高收益"
    assert s[slice(*n.span(3, 7))] == "立即投资"


def test_latin_is_case_folded():
    assert normalize("P2P平台 USDT").text == "p2p平台usdt"


def test_plain_text_maps_to_itself():
    s = "普通文本没有变化"
    n = normalize(s)
    assert n.text == s
    assert n.span(2, 4) == (2, 4)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_every_span_maps_inside_the_original(s):
    n = normalize(s)
    for i in range(len(n.text)):
        a, b = n.span(i, i + 1)
        assert 0 <= a < b <= len(s)  # every character comes from at least one original character
    for i in range(len(n.text) + 1):
        for j in range(i, min(len(n.text), i + 6) + 1):
            a, b = n.span(i, j)
            assert 0 <= a <= b <= len(s)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("保本 息✦-\u200b年化百分之十二三万五起投加V薇信vx，。\n1２%穩賺")), max_size=40
    )
)
def test_spans_are_monotone_on_evasion_alphabet(s):
    n = normalize(s)
    starts = [n.span(i, i + 1)[0] for i in range(len(n.text))]
    assert starts == sorted(starts)


# The shortcuts of normalize() (separators between CJK characters removed by a plain substitution; runs and
# lone numerals that would be kept skipped by the regex instead of refused by _sep_repl and _num_repl) must
# give exactly what the general step gives: the same text and the same map back.
_SHORTCUT_ALPHABET = [*"保本息年化收益率利返月分万五一二十九点直 \t\n\u3000✦-_.~|\u200b，。a1%", "\ue000", "\ue001"]


def _all_spans(n):
    return [n.span(i, j) for i in range(len(n.text) + 1) for j in range(i, min(len(n.text), i + 4) + 1)]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(_SHORTCUT_ALPHABET), max_size=30))
def test_the_separator_shortcuts_equal_the_general_separator_step(s):
    import importlib
    import re

    N = importlib.import_module("classifier.normalize")
    every_run = re.compile(rf"[\s{N._MARKER}{N._INVISIBLE}{N._FILLER}]+")  # _sep_repl called for every run
    start = N._step1(s)
    general = N._sub(start, every_run, N._sep_repl)
    short = N._sub(start, N._CJK_GAP_RE, "")
    short = N._sub(short, N._SEP_RE, N._sep_repl)
    assert short.text == general.text
    assert _all_spans(short) == _all_spans(general)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(_SHORTCUT_ALPHABET + list("百千零两亿个元%几数化\n")), max_size=30))
def test_the_lone_numeral_shortcut_equals_calling_num_repl(s):
    import importlib
    import re

    N = importlib.import_module("classifier.normalize")
    general_re = re.compile(rf"[百千]分之[{N._N}]+(?:点[{N._D}]+)?|[{N._D}十拾][{N._N}]*(?:点[{N._D}]+)?")
    start = N._step1(s)
    general = N._sub(start, general_re, N._num_repl)
    short = N._sub(start, N._NUM_RE, N._num_repl)
    assert short.text == general.text
    assert _all_spans(short) == _all_spans(general)


def test_the_spaces_written_out_are_what_str_isspace_says_but_the_newline():
    from classifier.normalize import SPACES_NOT_NEWLINE

    every = "".join(chr(c) for c in range(0x110000) if chr(c).isspace() and c != 10)
    assert SPACES_NOT_NEWLINE == every
