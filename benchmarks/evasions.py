"""Copies of a text as a promoter would write it to slip past a filter: one kind of evasion per copy.

Used by ``benchmarks/bench_evasion.py`` and ``tests/test_evasion.py``. The edits touch the words a filter
looks for (``KEY_WORDS``, a list kept here, apart from the classifier's own vocabulary) and are drawn from
general sources, not from the classifier's tables: homophones from pypinyin's readings of every character
that jieba's dictionary uses, variant glyphs from OpenCC's traditional and Japanese tables, pinyin from
pypinyin. The same edits are applied to promotions and to look-alikes, so a normaliser that merely turned
every misspelling into a promotion would show up as false positives.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["EVASIONS", "KEY_WORDS", "evade"]

# What filters look for in fundraising promotions (the law's and the campaigns' vocabulary).
KEY_WORDS = (
    "保本", "保息", "收益", "投资", "利息", "年化", "回报", "返利", "理财", "分红", "高息", "本金", "稳赚",
    "原始股", "入股", "翻倍", "回购", "月息", "日息", "众筹", "零风险", "无风险", "股权", "认养", "返租",
    "提现", "上市", "分红", "平台", "项目", "利率", "返还",
)  # fmt: skip
_KEY_RE = re.compile("|".join(sorted(set(KEY_WORDS), key=len, reverse=True)))
_SEPARATORS = (" ", "·", "\u3164", "丶", "\u200b", "*", "-", "💰", "✦", "  ")
_RATE_WORDS = {"年化": "nh", "收益": "sy", "利息": "lx", "月息": "yx", "日息": "rx", "回报": "hb", "返利": "fl"}


@functools.cache
def _homophones() -> dict[str, list[str]]:
    """Toneless syllable -> characters of jieba's dictionary words read so (common enough to be read)."""
    from pathlib import Path as _P

    import jieba
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    chars: set[str] = set()
    with open(_P(jieba.__file__).parent / "dict.txt", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= 50:
                chars.update(parts[0])
    out: dict[str, list[str]] = {}
    for ch in sorted(chars):
        for reading in pinyin_dict.get(ord(ch), "").split(","):
            if reading:
                out.setdefault(to_normal(reading), []).append(ch)
    return out


@functools.cache
def _readings(ch: str) -> list[str]:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(ch)


@functools.cache
def _variant_table() -> dict[str, str]:
    """Simplified -> a variant glyph: the traditional form's Japanese shinjitai where OpenCC has one, else the
    traditional form itself, plus a few 异体字 seen in real promotions of no table here (夲 for 本)."""
    import opencc

    base = Path(opencc.__file__).parent / "dictionary"
    s2t: dict[str, str] = {}
    with open(base / "STCharacters.txt", encoding="utf-8") as f:
        for line in f:
            a, _, b = line.rstrip("\n").partition("\t")
            if len(a) == 1 and b:
                s2t[a] = b.split(" ")[0]
    jp: dict[str, str] = {}
    with open(base / "JPVariants.txt", encoding="utf-8") as f:
        for line in f:
            a, _, b = line.rstrip("\n").partition("\t")
            if len(a) == 1 and b:
                jp[a] = b.split(" ")[0]
    out = {}
    for word in KEY_WORDS:
        for ch in word:
            trad = s2t.get(ch, ch)
            if trad in jp:
                out[ch] = jp[trad]
            elif trad != ch:
                out[ch] = trad
    out["本"] = "夲"
    return out


def _on_keys(text: str, rng: random.Random, edit: Callable[[str, random.Random], str]) -> str:
    return _KEY_RE.sub(lambda m: edit(m.group(), rng), text)


def homophone(word: str, rng: random.Random) -> str:
    """One character of the word replaced by another read the same (tones ignored)."""
    table = _homophones()
    positions = list(range(len(word)))
    rng.shuffle(positions)
    for i in positions:
        reading = _readings(word[i])[0]
        choices = [c for c in table.get(reading, []) if c != word[i]]
        if choices:
            return word[:i] + rng.choice(choices) + word[i + 1 :]
    return word


def variant(word: str, rng: random.Random) -> str:
    table = _variant_table()
    return "".join(table.get(c, c) for c in word)


def pinyin(word: str, rng: random.Random) -> str:
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(word)
    return (" " if rng.random() < 0.3 else "").join(syllables)


def separated(word: str, rng: random.Random) -> str:
    sep = rng.choice(_SEPARATORS)
    return sep.join(word)


_ASCII_FULL = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def full_width(text: str, rng: random.Random) -> str:
    return "".join(_ASCII_FULL.get(c, "\u3000" if c == " " else c) for c in text)


@functools.cache
def _s2t() -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC("s2t").convert


def traditional(text: str, rng: random.Random) -> str:
    return _s2t()(text)


_CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """0..99999 in Chinese numerals (十二, 一百零五, 三万五千)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    out = ""
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十")]
    zero = False
    for value, unit in units:
        d = (n // value) % 10
        if d:
            if zero and out:
                out += "零"
            out += _CN_DIGITS[d] + unit
            zero = False
        elif out:
            zero = True
    if n % 10:
        out += ("零" if zero and out else "") + _CN_DIGITS[n % 10]
    return out


_NUMBER_RE = re.compile(r"(?<![\d.])(\d{1,5})(?:\.(\d+))?(%|元|万|倍|分|个月|年|天)")


def chinese_numerals(text: str, rng: random.Random) -> str:
    """Figures before a unit in Chinese numerals: 12% -> 百分之十二, 5万 -> 五万, 3.5% -> 百分之三点五."""

    def repl(m: re.Match[str]) -> str:
        whole, frac, unit = int(m.group(1)), m.group(2), m.group(3)
        num = cn_number(whole) + ("点" + "".join(_CN_DIGITS[int(d)] for d in frac) if frac else "")
        return f"百分之{num}" if unit == "%" else num + unit

    return _NUMBER_RE.sub(repl, text)


def _initials_or_pinyin(text: str, rng: random.Random) -> str:
    """Rate words before a figure as pinyin initials (nh 12%), other key words in pinyin."""

    def repl(m: re.Match[str]) -> str:
        word = m.group()
        after = text[m.end() : m.end() + 6]
        if word in _RATE_WORDS and re.match(r"\s*[:：]?\s*\d", after):
            return f" {_RATE_WORDS[word]} "
        return f" {pinyin(word, rng)} "  # a space apart from the next word, as people type pinyin

    return re.sub(r" {2,}", " ", _KEY_RE.sub(repl, text))


EVASIONS: dict[str, Callable[[str, random.Random], str]] = {
    "homophones": lambda t, r: _on_keys(t, r, homophone),
    "variant glyphs": lambda t, r: _on_keys(t, r, variant),
    "pinyin": _initials_or_pinyin,
    "separators": lambda t, r: _on_keys(t, r, separated),
    "full-width": full_width,
    "traditional": traditional,
    "chinese numerals": chinese_numerals,
}


def evade(text: str, kind: str, seed: int = 0) -> str:
    """``text`` with one kind of evasion applied (deterministic for a seed)."""
    return EVASIONS[kind](text, random.Random(f"{kind}:{seed}:{len(text)}"))
