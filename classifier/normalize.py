"""Normalisation of ad text before rule matching, with a map back to the original characters.

``normalize(s)`` undoes the evasions of DOMAIN.md so that one regular expression catches every spelling:

1. per character (one C-level ``str.translate`` with a lazily filled table): NFKC (full-width letters and
   digits, compatibility forms, circled numbers), lower case, traditional -> simplified (OpenCC's character
   table, from ``opencc-python-reimplemented``); zero-width characters, BOM and other format characters are
   dropped; emoji and decorative symbols become a private marker handled in step 2;
2. separators: whitespace, markers and filler symbols (``-_*·•.~|/``) between two CJK characters are removed
   (保 本 保 息, 保✦本, 保-本 -> 保本); whitespace between a CJK character and a digit or letter is removed
   (加 V, 5 万); elsewhere (between two Latin words or two numbers) a run becomes one space, so unrelated
   things are never glued;
3. contact-channel homophones and abbreviations (薇信, 威信, 徽信, v信, vx, wx, 加V -> 微信; 扣扣 -> qq);
4. Chinese numerals next to a unit or a rate word (月息三分 -> 月息3分, 年化百分之十二 -> 年化12%,
   五万起投 -> 5万起投, 十二点五 -> 12.5).

Every character of ``Normalized.text`` comes from a span of the original: ``Normalized.span(a, b)`` gives the
original span that produced ``text[a:b]``. Nothing is invented without such an origin.

Why so long: every step rewrites the text *and* its map back to the original, and the steps share that map's
bookkeeping (``_Step``, ``_back``, ``_sub``, ``_rewrite``); split into modules, each step would need those internals.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from classifier.vocabulary import jp_variants, vocabulary

__all__ = ["Normalized", "normalize", "normalize_char"]

_MARKER = "\ue000"  # stands for an emoji or decorative symbol between steps 1 and 2; never in the output
_INVISIBLE = "\ue001"  # stands for a zero-width or format character between steps 1 and 2; always dropped

_DROP_CHARS = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u034f\u180e\u20e3")


def _load_t2s() -> dict[str, str]:
    """OpenCC's traditional -> simplified character table (first candidate of each line)."""
    try:
        import opencc  # opencc-python-reimplemented: ships the OpenCC dictionaries
    except ImportError as e:  # pragma: no cover - an installation problem
        raise ImportError(
            "classifier needs OpenCC's character table from the 'opencc-python-reimplemented' package: "
            "pip install 'opencc-python-reimplemented==0.1.7'"
        ) from e

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                target = parts[1].split(" ")[0]
                if len(target) == 1 and target != parts[0]:
                    table[parts[0]] = target
    return table


_T2S = _load_t2s()
_VOCABULARY = vocabulary()
# Variant glyphs (evasion.yml, then OpenCC's Japanese shinjitai reversed): read as the character they stand
# for, before traditional -> simplified. Separator characters (丶, U+3164 HANGUL FILLER, ...) become markers.
_VARIANTS = {**jp_variants(), **_VOCABULARY.variants}
_EXTRA_SEPARATORS = _VOCABULARY.separators


def normalize_char(ch: str) -> str:
    """What one character becomes in step 1: the invisible marker (dropped in step 2), the decoration marker,
    or one or more characters."""
    if ch in _DROP_CHARS or ch == _INVISIBLE:
        return _INVISIBLE
    if ch in _EXTRA_SEPARATORS:
        return _MARKER
    if ch in _VARIANTS:
        ch = _VARIANTS[ch]
    cp = ord(ch)
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x1F3FB <= cp <= 0x1F3FF or 0xE0000 <= cp <= 0xE007F:
        return _INVISIBLE  # variation selectors, skin tones, tag characters: parts of emoji
    cat = unicodedata.category(ch)
    if cat == "Cf" or (cat == "Cc" and ch not in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"):
        return _INVISIBLE  # format and control characters
    if cat == "Co" or ch == _MARKER:
        return _MARKER
    if cat == "Nd":
        return str(unicodedata.decimal(ch))  # any script's digits -> ASCII, so \d means [0-9] after this
    out = unicodedata.normalize("NFKC", ch).lower()
    if not out:
        return ""
    if cat in ("So", "Sk") and not ch.isascii() and not any(c.isalnum() for c in out):
        return _MARKER
    if cat == "Sm" and not out.isascii() and (0x2190 <= cp <= 0x21FF or 0x27F0 <= cp <= 0x297F):
        return _MARKER  # arrows used as decoration
    if cat in ("Po", "Pd") and ch in "•●◆◇■□▪▫※‣⁃∙・✓✔":
        return _MARKER
    return "".join(_T2S.get(c, c) for c in out)


class _Table(dict):
    """``str.translate`` table filled on first sight of each character."""

    irregular: set[str]

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        out = normalize_char(ch)
        if len(out) != 1:
            self.irregular.add(ch)
        self[cp] = out
        return out


_TABLE = _Table()
_TABLE.irregular = set()


# One normalisation step's map from its output back to its input: pieces in output order, each
# (output start, input start, input end, exact). An exact piece maps character for character; any other maps
# all its characters to the whole input span (a replacement). Deleted input has no piece.
_Pieces = tuple[list[int], list[int], list[int], list[bool]]


class _Step:
    """One step's map, from its edits (start, end, replacement) in the step's input. A step with a constant
    replacement keeps its input and regex instead and finds its edits only when a span is asked for (most
    ads have no hit, so most maps are never needed)."""

    __slots__ = ("_pieces", "_edits", "_input", "_regex", "_repl")

    def __init__(
        self,
        pieces: _Pieces | None = None,
        edits: list[tuple[int, int, str]] | None = None,
        source: str = "",
        regex: re.Pattern[str] | None = None,
        repl: str = "",
    ):
        self._pieces = pieces
        self._edits = edits
        self._input = source  # the step's input text
        self._regex = regex
        self._repl = repl

    def pieces(self) -> _Pieces:
        if self._pieces is None:
            if self._edits is None:
                assert self._regex is not None
                repl = self._repl
                self._edits = [(m.start(), m.end(), repl) for m in self._regex.finditer(self._input)]
            self._pieces = _pieces_of(self._edits, len(self._input))
            self._input = ""  # no longer needed
            self._edits = None
        return self._pieces


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text and the maps that lead each of its characters back to ``original``."""

    original: str
    text: str
    steps: tuple[_Step, ...] = ()  # first step first; empty: text[i] comes from original[i]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``original`` that produced ``text[start:end]``."""
        a, b = start, end
        for step in reversed(self.steps):
            pieces = step._pieces  # made once per step (this runs for every hit)
            a, b = _back(pieces if pieces is not None else step.pieces(), a, b)
        return a, b


def _back(step: _Pieces, a: int, b: int) -> tuple[int, int]:
    out_start, in_start, in_end, exact = step
    if not out_start:
        return 0, 0
    i = bisect.bisect_right(out_start, a) - 1
    if i < 0:
        i = 0
    if a >= b:  # an empty span: the position where output a begins
        if i + 1 < len(out_start) or a < out_start[i] + (in_end[i] - in_start[i] if exact[i] else 1):
            pos = in_start[i] + (a - out_start[i]) if exact[i] else in_start[i]
            pos = min(pos, in_end[i])
        else:
            pos = in_end[i]
        return pos, pos
    j = bisect.bisect_right(out_start, b - 1) - 1
    sa = in_start[i] + (a - out_start[i]) if exact[i] else in_start[i]
    sb = in_start[j] + (b - out_start[j]) if exact[j] else in_end[j]
    return sa, sb


_N_CHARS = "零〇一壹二贰两三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万亿"  # Chinese numerals (step 4)
_RANGE_CHARS = frozenset("-~—–")

# --- step 2: separators -------------------------------------------------------------------------------------
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_PUNCT = frozenset("，。！？；：、“”‘’（）【】《》〈〉「」『』〔〕,.!?;:()")
_FILLER = r"\-_*·•.~|/\\^`=#—–"
_SEP = rf"[\s{_MARKER}{_INVISIBLE}{_FILLER}]"
_NOT_SEP = rf"[^\s{_MARKER}{_INVISIBLE}{_FILLER}]"
# Runs that _sep_repl would keep as they are, in the commonest cases: a lone newline between two other
# characters, one space between two letters or digits, filler alone after a letter or digit (3-5, www.x).
# A space between two lone digits is not kept: letter-spaced digits (年化 1 8 %) are joined by _sep_repl.
_LONE_DIGIT_SPACE = r"(?<=(?<![0-9])[0-9]) (?=[0-9](?![0-9]))"
_KEPT_RUN = (
    rf"(?<={_NOT_SEP})\n(?={_NOT_SEP})|(?!{_LONE_DIGIT_SPACE})(?<=[0-9a-z]) (?=[0-9a-z])"
    rf"|(?<=[0-9a-z])[{_FILLER}]+(?={_NOT_SEP})"
)
# Every whole run of separators (``(?<!sep)``: never a part of one) but those: _sep_repl decides what it
# becomes. A pattern starting with assertions makes ``re`` try them at every position; the leading
# ``(?=sep)`` lets it skip ahead to the next separator at C speed (3x faster on benchmarks/ ads).
_SEP_RE = re.compile(rf"(?={_SEP})(?<!{_SEP})(?!{_KEPT_RUN}){_SEP}+")
# What ``\s`` matches (str.isspace) but the newline: written out, as finding them among 65,536 characters took
# 18 ms of every command's start (tests/test_normalize.py checks the list against str.isspace).
SPACES_NOT_NEWLINE = (
    "\t\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_SPACES_NOT_NEWLINE = re.escape(SPACES_NOT_NEWLINE)
# The commonest case of _sep_repl, a run without a newline between two CJK characters, which always goes:
# removed by a plain substitution before _SEP_RE (no Python call per run). Removing it joins two CJK
# characters, so no other run's neighbours change.
_GAP = rf"[{_SPACES_NOT_NEWLINE}{_MARKER}{_INVISIBLE}{_FILLER}]"
# A range between Chinese numerals (百分之九~百分之十五, 三-五) is not a gap: joined, the numerals would read as one.
_NUMERAL_RANGE = rf"(?<=[{_N_CHARS}]){_GAP}*[\-~—–]{_GAP}*(?=[{_N_CHARS}])"
_CJK_GAP_RE = re.compile(rf"(?={_GAP})(?<=[{_CJK}])(?!{_NUMERAL_RANGE}){_GAP}+(?=[{_CJK}])")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_SPACES = frozenset(" \t\f\v\u00a0\u3000\u2028\u2029\x1c\x1d\x1e\x1f\x85")


def _is_cjk(ch: str) -> bool:
    return (
        "\u4e00" <= ch <= "\u9fff"
        or "\u3400" <= ch <= "\u4dbf"
        or "\uf900" <= ch <= "\ufaff"
        or ("\U00020000" <= ch <= "\U0003134f")
    )


def _lone_digits(text: str, a: int, b: int) -> bool:
    """The digits on each side of the run text[a:b] stand alone (1 8, not 12 34)."""
    return not (a >= 2 and text[a - 2].isdigit()) and not (b + 1 < len(text) and text[b + 1].isdigit())


def _sep_repl(m: re.Match[str]) -> str:
    """What a run of separators becomes, given its neighbours (itself: kept as it is)."""
    text = m.string
    a, b = m.span()
    if not a or b == len(text):
        return ""  # leading or trailing separators
    before, after = text[a - 1], text[b]
    cjk_before, cjk_after = _is_cjk(before), _is_cjk(after)
    run = m.group()
    if before in _N_CHARS and after in _N_CHARS and not _RANGE_CHARS.isdisjoint(run) and "\n" not in run:
        return "~"  # a range between Chinese numerals: 九~十五
    if cjk_before and cjk_after and "\n" not in run:
        return ""  # 保 本, 保✦本, 保-本
    visible = run.replace(_INVISIBLE, "")
    if not visible:
        return ""  # zero-width characters: dropped
    if "\n" in visible:
        return "\n" if run != "\n" else m.group()  # never glue across lines
    has_marker = _MARKER in visible
    if all(c in _SPACES or c == _MARKER for c in visible):
        if (cjk_before or before in _CJK_PUNCT) and (after in _ALNUM or after == "%" or after in _CJK_PUNCT):
            return ""  # 加 V, 收益 12%
        if (before in _ALNUM or before == "%" or before in _CJK_PUNCT) and (cjk_after or after in _CJK_PUNCT):
            return ""  # 5 万
        if before.isdigit() and after == "%":
            return ""
        if before.isdigit() and after.isdigit() and _lone_digits(text, a, b):
            return ""  # letter-spaced digits: 1 8 % -> 18%
        if before in _ALNUM and after in _ALNUM:
            return m.group() if run == " " else " "  # keep Latin words and numbers apart
        if has_marker:
            return ""
        return m.group() if run == " " else " "
    if has_marker:
        return " " if before in _ALNUM and after in _ALNUM else ""
    return visible  # filler between other things (3-5, www.x.com): kept, without zero-width characters


# --- step 3: contact channels -------------------------------------------------------------------------------
_CONTACT_RE = re.compile(
    r"(?:vx|wx|v信|微x|weixin|wechat)(?![a-z])"
    r"|[薇威徽危卫维]信"
    r"|[v薇威](?![a-z]|信)"
    r"|[扣抠蔻寇叩]{2}(?=号|群|[:：]|\s*[0-9])"
)
_CONTACT_AFTER = re.compile(r"号|群|联系|咨询|[:：]|\s*[a-z0-9]")


def _contact_repl(m: re.Match[str]) -> str:
    g = m.group()
    text = m.string
    a, b = m.span()
    before = text[a - 1] if a else ""
    if g[0] in "扣抠蔻寇叩":
        return "qq"
    if g[0] in "vw微" and len(g) > 1:
        return m.group() if before.isascii() and before.isalpha() else "微信"  # vx, wx, v信 but not in a word
    if len(g) == 2:  # 薇信, 威信: a channel when added to or followed by an id
        return "微信" if before in "加+添" or _CONTACT_AFTER.match(text, b) else m.group()
    return "微信" if before in "加+添" else m.group()  # 加V, 加薇


# --- step 4: Chinese numerals -------------------------------------------------------------------------------
_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
    "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
_D = "零〇一壹二贰两三叁四肆五伍六陆七柒八捌九玖"
_N = _D + "十拾百佰千仟万亿"
_NOT_BEFORE = frozenset(_N + "几数")
_UNIT_AFTER = frozenset("元块角厘倍成个年月天日周期份股人位级层代名%‰万亿")
_RATE_WORDS = ("息", "利", "率", "年化", "收益", "回报", "返", "赚", "翻", "高达", "分红")
_RATE_BEFORE = re.compile(rf"(?:{'|'.join(_RATE_WORDS)})$")
# A lone numeral character (一直, 九点) with no unit after it and no rate word before it is never converted:
# the regex skips it rather than calling _num_repl to say so (most Chinese text has many of them). A skipped
# match is one character long, so the scan goes on exactly where it would have after the call.
_LONE_NUMERAL = (
    rf"[{_D}十拾](?![{_N}]|点[{_D}]|[分{''.join(sorted(_UNIT_AFTER))}])"
    rf"(?<![{''.join(sorted({w[-1] for w in _RATE_WORDS}))}\n].)"
)
_NUM_RE = re.compile(  # the leading (?=...): see _SEP_RE
    rf"(?=[百千{_D}十拾])(?:[百千]分之[{_N}]+(?:点[{_D}]+)?|(?!{_LONE_NUMERAL})[{_D}十拾][{_N}]*(?:点[{_D}]+)?)"
)
_COMMON_ONE = re.compile(r"^一(?:[个年月天日周份股倍元块万亿]|点[0-9])")


def _cn_int(s: str) -> int | None:
    """Value of a Chinese integer numeral (十二, 两万五千, 三万五, 一二三); None if it is not one."""
    if not s:
        return None
    if all(c in _DIGITS for c in s):  # digit by digit: 一二三
        return int("".join(str(_DIGITS[c]) for c in s))
    total = section = 0
    digit: int | None = None
    last_unit = 1
    for c in s:
        if c in _DIGITS:
            if digit is not None and digit != 0 and _DIGITS[c] != 0:
                return None
            digit = _DIGITS[c]
        elif c in _UNITS:
            u = _UNITS[c]
            section += (1 if digit is None else digit) * u
            digit = None
            last_unit = u
        elif c in _BIG:
            b = _BIG[c]
            section += digit or 0
            if section == 0:
                return None
            total += section * b
            section, digit = 0, None
            last_unit = b
        else:
            return None
    if digit is not None:
        if digit and last_unit >= 100 and s[-2] not in "零〇":
            digit *= last_unit // 10  # 三万五 = 35000, 一百二 = 120 (colloquial)
        section += digit
    return total + section


def _cn_number(s: str) -> str | None:
    """Arabic spelling of a Chinese numeral; a trailing 万/亿 stays as the unit (五万 -> 5万)."""
    whole, _, frac = s.partition("点")
    suffix = ""
    if whole and whole[-1] in _BIG and not any(c in _BIG for c in whole[:-1]) and not frac:
        whole, suffix = whole[:-1], whole[-1]
    value = _cn_int(whole)
    if value is None:
        return None
    out = str(value)
    if frac:
        out += "." + "".join(str(_DIGITS[c]) for c in frac)
    return out + suffix


def _num_repl(m: re.Match[str]) -> str:
    g = m.group()
    if g[1:3] == "分之":  # 百分之十二 -> 12%
        n = _cn_number(g[3:])
        return g if n is None else n + ("%" if g[0] == "百" else "‰")
    text = m.string
    a, b = m.span()
    if a and text[a - 1] in _NOT_BEFORE:
        return g  # inside a longer numeral (千万, 几十万): leave it
    num, nxt = g, text[b : b + 2]
    rate_context = bool(_RATE_BEFORE.search(text, max(0, a - 4), a))
    first = nxt[:1]
    if first == "分":
        if nxt[1:2] == "之":
            return g  # 三分之一: a fraction
        if not (rate_context or nxt[1:2] in ("利", "息")):
            return g  # 十分 = "very"
        unit_ok = True
    else:
        unit_ok = first in _UNIT_AFTER or num[-1] in _BIG
    unambiguous = "点" in num or (len(num) >= 2 and any(c in "十拾百佰千仟万亿" for c in num))
    if not (unit_ok or rate_context or unambiguous):
        return g
    if num == "一" and not rate_context and not _COMMON_ONE.match(num + nxt):
        return g
    n = _cn_number(num)
    return g if n is None else n


# --- the pipeline -------------------------------------------------------------------------------------------
def _pieces_of(edits: list[tuple[int, int, str]], length: int) -> _Pieces:
    """The map of one substitution step from its edits."""
    out_start: list[int] = []
    in_start: list[int] = []
    in_end: list[int] = []
    exact: list[bool] = []
    last = pos = 0
    for a, b, out in edits:
        if a > last:
            out_start.append(pos)
            in_start.append(last)
            in_end.append(a)
            exact.append(True)
            pos += a - last
        if out:
            out_start.append(pos)
            in_start.append(a)
            in_end.append(b)
            exact.append(len(out) == b - a)
            pos += len(out)
        last = b
    if last < length:
        out_start.append(pos)
        in_start.append(last)
        in_end.append(length)
        exact.append(True)
    return out_start, in_start, in_end, exact


def _sub(norm: Normalized, regex: re.Pattern[str], repl: Callable[[re.Match[str]], str] | str) -> Normalized:
    """Apply ``regex``/``repl`` to ``norm.text`` as one more step, with its map back.

    A function's edits are recorded as they are made (re-running it for the map cost more than recording:
    the shortcuts of _SEP_RE and _NUM_RE leave few calls); a constant's are found again when needed.
    """
    source = norm.text
    if isinstance(repl, str):
        text = regex.sub(repl, source)
        if text == source:
            return norm
        return Normalized(norm.original, text, (*norm.steps, _Step(source=source, regex=regex, repl=repl)))
    edits: list[tuple[int, int, str]] = []
    record = edits.append

    def apply(m: re.Match[str]) -> str:
        out = repl(m)
        if out != m.group():  # a match replaced by itself maps character for character anyway
            record((m.start(), m.end(), out))
        return out

    text = regex.sub(apply, source)
    if not edits:
        return norm
    return Normalized(norm.original, text, (*norm.steps, _Step(edits=edits, source=source)))


def _step1(s: str) -> Normalized:
    text = s.translate(_TABLE)
    if len(text) == len(s):  # every character became one character
        return Normalized(s, text)
    # some character became several (NFKC of ㈱, ﬁ, ½): map those as replacements
    out_start: list[int] = []
    in_start: list[int] = []
    in_end: list[int] = []
    exact: list[bool] = []
    pos = 0
    for i, ch in enumerate(s):
        out = _TABLE[ord(ch)]
        if len(out) == 1 and exact and exact[-1] and in_end[-1] == i:
            in_end[-1] = i + 1
        elif out:
            out_start.append(pos)
            in_start.append(i)
            in_end.append(i + 1)
            exact.append(len(out) == 1)
        pos += len(out)
    return Normalized(s, text, (_Step((out_start, in_start, in_end, exact)),))


def _rewrite(norm: Normalized, edits: list[tuple[int, int, str]]) -> Normalized:
    """``norm`` with ``edits`` (start, end, replacement; sorted, not overlapping) made as one more step."""
    if not edits:
        return norm
    source = norm.text
    parts: list[str] = []
    last = 0
    for a, b, out in edits:
        parts.append(source[last:a])
        parts.append(out)
        last = b
    parts.append(source[last:])
    return Normalized(norm.original, "".join(parts), (*norm.steps, _Step(edits=edits, source=source)))


# --- step 5: the fundraising vocabulary misspelt (classifier.vocabulary) ------------------------------------
# (The vocabulary's regexes and tables are made at the first text normalised, not at import: every command
# imports this module, few normalise anything; 60 ms of each one's start.)
_HAS_LATIN = re.compile(r"[a-z]{2}")
# 著 is simplified Chinese for "famous, write" and traditional Chinese for 着 as well (意味著, 看著): read as 着
# unless it is part of a word where it means the former.
_ZHU_RE = re.compile(r"(?<![显土卓编原名巨论专遗合昭撰译拙杰])著(?![名作称述录书者])")


_EMPTY: frozenset[str] = frozenset()


def _sound_alike(norm: Normalized) -> Normalized:
    """Runs that stand for a word of the vocabulary, read as the word (classifier.vocabulary)."""
    edits: list[tuple[int, int, str]] = []
    end = 0
    text = norm.text
    last = len(text) - 1
    after, before = _VOCABULARY.neighbours
    for m in _VOCABULARY.anchor_re.finditer(text):
        i = m.start()
        if i < end:
            continue  # inside a rewrite already made
        ch = text[i]
        if not ((i < last and text[i + 1] in after.get(ch, _EMPTY)) or (i and text[i - 1] in before.get(ch, _EMPTY))):
            continue  # no neighbour could complete a run (a word as written, or none): decided without a call
        found = _VOCABULARY.sound_alike(m)
        if found is not None and found[0] >= end:
            edits.append(found)
            end = found[1]
    return _rewrite(norm, edits)


_ID_BEFORE = re.compile(r"(?:信|qq|vx|wx|id|号|@|/)[:：]?\s*$")


def _pinyin_repl(m: re.Match[str]) -> str:
    """A word spelt in pinyin, unless it is an account name (微信:licai)."""
    if _ID_BEFORE.search(m.string, max(0, m.start() - 4), m.start()):
        return m.group()
    return _VOCABULARY.pinyin_words.get(re.sub(r"[^a-z]", "", m.group()), m.group())


def _initials_repl(m: re.Match[str]) -> str:
    return _VOCABULARY.initials[m.group()]


_HAS_NUMERAL = re.compile(rf"[{_D}十拾]|[百千]分之")
_HAS_CONTACT_HINT = re.compile(r"[vw薇威徽危卫维扣抠蔻寇叩]")
_HAS_SEPARATOR = re.compile(_SEP)


@functools.lru_cache(maxsize=8)
def normalize(s: str) -> Normalized:
    """Normalise ``s`` for rule matching; see the module docstring for the steps.

    The last 8 results are kept (``Normalized`` is immutable): the crawl reads an ad's title and text for
    rules, then for contacts (classifier.contacts). Few, because an ad's text can be large.
    """
    norm = _step1(s)
    latin = _HAS_LATIN.search(norm.text) is not None
    if latin:  # before separators: the words it writes in characters are then joined like any others
        norm = _sub(norm, _VOCABULARY.pinyin_re, _pinyin_repl)
    if _HAS_SEPARATOR.search(norm.text):
        norm = _sub(norm, _CJK_GAP_RE, "")
        if _HAS_SEPARATOR.search(norm.text):
            norm = _sub(norm, _SEP_RE, _sep_repl)
    norm = _sound_alike(norm)
    if "著" in norm.text:
        norm = _sub(norm, _ZHU_RE, "着")
    if _HAS_CONTACT_HINT.search(norm.text):
        norm = _sub(norm, _CONTACT_RE, _contact_repl)
    if _HAS_NUMERAL.search(norm.text):
        norm = _sub(norm, _NUM_RE, _num_repl)
    if latin:
        norm = _sub(norm, _VOCABULARY.initials_re, _initials_repl)
    return norm
