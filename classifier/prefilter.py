"""What a rule pattern needs in a text before it can match: the engine's prefilter.

The engine runs a pattern's regex only on texts that hold one of the pattern's ``needs``: a set of short
strings (one to three characters) such that **every** match of the pattern contains at least one of them.
A wrong set would silently lose hits, so the analysis is conservative: anything it does not understand (a
large character class, a back reference, case folding) is "could be anything" and yields no requirement
there; a pattern with no requirement at all (``None``) is run on every text its first characters allow.

Two analyses, both over the parsed regex (``re._parser``), and the cheaper set wins:

- ``required_grams``: strings that must occur *somewhere* in a match, in the manner of Russ Cox's trigram
  index for regular expressions (https://swtch.com/~rsc/regexp/regexp4.html): exact sets of short strings
  are multiplied out along a sequence while they stay small, then each string contributes its rarest part
  of up to three characters; of the requirements of a sequence the rarest is kept (one match must satisfy
  them all); a branch needs one of its alternatives' requirements;
- ``start_keys``: the two characters a match can *start* with (a special case of the above).

"Rarest" is estimated from the rank of characters in a list of the most frequent Chinese characters (cost
of a string = product of its characters' frequencies); it only decides how often a pattern runs, never
whether a hit is found. tests/test_prefilter.py checks on many texts that a pattern never matches a text
without one of its needs.
"""

from __future__ import annotations

import re
import re._constants as sre_c
from typing import Any

__all__ = [
    "also_needs",
    "char_frequency",
    "cost",
    "first_chars",
    "needs",
    "scan_regex",
    "required_clauses",
    "required_grams",
    "start_keys",
]

# The most frequent characters of modern Chinese text, most frequent first (ranks, not counts, are used).
_COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性"
    "好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第"
    "向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管"
    "特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处"
    "队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单"
    "风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土"
    "许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省"
    "列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置"
    "派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
)
_RANK = {ch: i for i, ch in enumerate(_COMMON)}
# A key is at most this long: longer keys rule out more texts, shorter ones are shared by more patterns
# (fewer keys to look for); 3 was the fastest of 2, 3, 4 and whole strings on benchmarks/bench_classifier.py.
_KEY_LENGTH = 3
_MAX_EXACT = 64  # largest set of exact strings carried along a sequence before it becomes a requirement


# Function characters stand next to almost anything ("的平台", "是收益"), so a key holding one is about as
# common as the key without it: counted as nearly certain to occur, a key is not anchored on them.
_FUNCTION = frozenset("的了是在和与及或也都就而之着过得地么吗呢吧啊")


def char_frequency(ch: str) -> float:
    """A rough relative frequency of ``ch`` in Chinese ad text."""
    if ch in _FUNCTION:
        return 0.5
    if ch in _RANK:
        return 1.0 / (_RANK[ch] + 20)
    if ch.isascii():
        if ch.isdigit():
            return 1 / 20  # numbers are everywhere in ads (prices, dates, phone numbers)
        if ch.isalpha():
            return 1 / 40
        return 1 / 300 if ch in "%‰@#$&*+=<>" else 1 / 15
    if ch in "，。！？、；：“”（）【】《》…":
        return 1 / 8
    return 1 / 2000  # a Chinese character outside the common list


def _gram_cost(g: str) -> float:
    cost = 1.0
    for ch in g:
        cost *= char_frequency(ch)
    return cost


def cost(needs: frozenset[str] | None) -> float:
    """Roughly how often a text holds one of ``needs`` (lower: the pattern runs on fewer texts)."""
    if needs is None:
        return float("inf")
    return sum(_gram_cost(g) for g in needs)


def _best(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Of two requirements that must both hold, the one that rules out more texts."""
    if a is None:
        return b
    if b is None:
        return a
    return a if cost(a) <= cost(b) else b


def _rarest_part(s: str, n: int = _KEY_LENGTH) -> str:
    return min((s[i : i + n] for i in range(max(1, len(s) - n + 1))), key=_gram_cost)


def _need_of_exact(exact: frozenset[str]) -> frozenset[str] | None:
    """A requirement met by every string of ``exact``: the rarest part of each; None if one is empty."""
    if "" in exact:
        return None
    return frozenset(_rarest_part(s) for s in exact)


# What the analysis knows of a (sub)pattern: every string it can match, when they are few (exact), or
# else requirements that all hold for every match (clauses: each a set of strings, one of which occurs).
_Clauses = tuple[frozenset[str], ...]
_Info = tuple[frozenset[str] | None, _Clauses]
_ANYTHING: _Info = (None, ())
_EMPTY: _Info = (frozenset({""}), ())


def _class_chars(av: Any) -> frozenset[str] | None:
    chars: set[str] = set()
    for iop, iav in av:
        if iop is sre_c.LITERAL:
            chars.add(chr(iav))
        elif iop is sre_c.RANGE and iav[1] - iav[0] < _MAX_EXACT:
            chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
        elif iop is sre_c.CATEGORY and iav is sre_c.CATEGORY_DIGIT:
            chars.update("0123456789")  # normalised text has only ASCII digits
        else:  # NEGATE, a large range, another category
            return None
    return frozenset(chars) if len(chars) <= _MAX_EXACT else None


def _clauses(info: _Info) -> _Clauses:
    exact, clauses = info
    if exact is None:
        return clauses
    need = _need_of_exact(exact)
    return () if need is None else (need,)


def _seq(items: Any) -> _Info:
    exact: frozenset[str] | None = frozenset({""})
    clauses: list[frozenset[str]] = []
    whole = True  # the sequence is still one exact set
    for op, av in items:
        e, cl = _item(op, av)
        if exact is not None and e is not None and len(exact) * len(e) <= _MAX_EXACT:
            exact = frozenset(a + b for a in exact for b in e)
            continue
        whole = False
        clauses.extend(_clauses((exact, ())))
        clauses.extend(cl)
        exact = e
    if whole:
        return exact, ()
    clauses.extend(_clauses((exact, ())))
    return None, tuple(clauses)


def _item(op: Any, av: Any) -> _Info:
    c = sre_c
    if op is c.LITERAL:
        return frozenset({chr(av)}), ()
    if op is c.IN:
        return _class_chars(av), ()
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return _EMPTY  # zero width: consumes nothing
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & re.IGNORECASE:
            return _ANYTHING
        return _seq(sub)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _seq(av)
    if op is c.BRANCH:
        infos = [_seq(b) for b in av[1]]
        if all(e is not None for e, _cl in infos):
            union: frozenset[str] = frozenset().union(*(e for e, _cl in infos if e is not None))
            if len(union) <= _MAX_EXACT:
                return union, ()
        # one of the branches matched: it met its own cheapest requirement
        best = [min(_clauses(info), key=cost, default=None) for info in infos]
        if any(b is None for b in best):
            return _ANYTHING
        return None, (frozenset().union(*best),)  # type: ignore[arg-type]
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = av
        e, cl = _seq(sub)
        if lo == 0:
            if hi == 1 and e is not None:
                return e | {""}, ()
            return _EMPTY if e == frozenset({""}) else _ANYTHING
        if lo == hi and e is not None and len(e) ** lo <= _MAX_EXACT:
            out = frozenset({""})
            for _ in range(lo):
                out = frozenset(a + b for a in out for b in e)
            return out, ()
        return None, _clauses((e, cl))  # at least one copy
    return _ANYTHING  # ANY, NOT_LITERAL, GROUPREF, conditionals ...


def required_clauses(parsed: Any, flags: int = 0) -> list[frozenset[str]]:
    """Requirements that every match meets, cheapest first: each a set of strings (one to three
    characters) one of which the match holds. Empty: none known."""
    if flags & re.IGNORECASE:
        return []
    try:
        info = _seq(parsed)
    except RecursionError:
        return []
    return sorted(set(_clauses(info)), key=lambda c: (cost(c), sorted(c)))


def required_grams(parsed: Any, flags: int = 0) -> frozenset[str] | None:
    """The cheapest of ``required_clauses``; None: none known."""
    clauses = required_clauses(parsed, flags)
    return clauses[0] if clauses else None


# --- what a match can start with ----------------------------------------------------------------------------
def first_chars(parsed: Any) -> frozenset[str] | None:
    """The characters a match must start with; None: unknown (or the pattern can match the empty string)."""
    first, nullable = _first(parsed)
    return None if first is None or nullable else frozenset(first)


def scan_regex(regex: re.Pattern[str], parsed: Any, first: frozenset[str] | None) -> re.Pattern[str]:
    """``regex``, or the same regex behind a lookahead of its first characters when that is faster to scan.

    ``re`` skips ahead to a possible match at C speed only when a pattern starts with a literal, a character
    class or branches that all start with a literal; any other start (a lookbehind, a branch beginning with a
    group) makes it try the whole pattern at every position. ``(?=[first characters])`` in front restores the
    skip (2-3 times faster on such rule patterns, benchmarks/bench_classifier.py) and changes no match, as a
    match can only start with one of them (tests/test_prefilter.py checks both).
    """
    if first is None or len(first) < 2 or _scans_fast(parsed):
        return regex
    chars = "".join(re.escape(ch) for ch in sorted(first))
    try:
        return re.compile(f"(?=[{chars}])(?:{regex.pattern})", regex.flags)
    except re.error:  # e.g. global inline flags, which must stay at the start
        return regex


def _scans_fast(parsed: Any) -> bool:
    """Whether ``re`` finds a literal or character-set prefix for the pattern by itself."""
    data = parsed.data
    while data and data[0][0] is sre_c.SUBPATTERN:
        data = data[0][1][3].data
    if not data:
        return False
    op, av = data[0]
    if op in (sre_c.LITERAL, sre_c.IN):
        return True
    return op is sre_c.BRANCH and all(b.data and b.data[0][0] is sre_c.LITERAL for b in av[1])


def _first(seq: Any) -> tuple[set[str] | None, bool]:
    """Possible first characters of a parsed (sub)pattern, and whether it can match the empty string."""
    out: set[str] = set()
    for op, av in seq:
        f, nullable = _first_item(op, av)
        if f is None:
            return None, False
        out |= f
        if not nullable:
            return out, False
    return out, True


def _first_item(op: Any, av: Any) -> tuple[set[str] | None, bool]:
    c = sre_c
    if op is c.LITERAL:
        return {chr(av)}, False
    if op is c.IN:
        chars: set[str] = set()
        for iop, iav in av:
            if iop is c.LITERAL:
                chars.add(chr(iav))
            elif iop is c.RANGE and iav[1] - iav[0] < 128:
                chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
            else:
                return None, False
        return chars, False
    if op is c.BRANCH:
        out: set[str] = set()
        nullable = False
        for branch in av[1]:
            f, n = _first(branch)
            if f is None:
                return None, False
            out |= f
            nullable = nullable or n
        return out, nullable
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & re.IGNORECASE:
            return None, False
        return _first(sub)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        lo, _hi, sub = av
        f, n = _first(sub)
        return f, (lo == 0 or n)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _first(av)
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return set(), True
    return None, False


class _GiveUp(Exception):
    pass


def _prefixes(items: list[Any], prefix: str, out: set[str], k: int = 2, limit: int = 400) -> None:
    """Add to ``out`` every string a match can start with (length ``k``, or shorter where it may end)."""
    if len(out) > limit:
        raise _GiveUp
    if len(prefix) >= k:
        out.add(prefix[:k])
        return
    if not items:
        if not prefix:
            raise _GiveUp
        out.add(prefix)
        return
    c = sre_c
    op, av = items[0]
    rest = items[1:]
    if prefix and op not in _KNOWN_OPS:
        out.add(prefix)  # what follows is not a known character: the prefix so far must do
        return
    if op is c.LITERAL:
        _prefixes(rest, prefix + chr(av), out, k, limit)
    elif op is c.IN:
        chars: list[str] = []
        if prefix and (len(av) > 32 or any(iop is c.NEGATE for iop, _ in av)):
            out.add(prefix)
            return
        for iop, iav in av:
            if iop is c.LITERAL:
                chars.append(chr(iav))
            elif iop is c.RANGE and iav[1] - iav[0] < 32:
                chars.extend(chr(x) for x in range(iav[0], iav[1] + 1))
            elif iop is c.CATEGORY and iav is c.CATEGORY_DIGIT:
                chars.extend("0123456789")  # normalised text has only ASCII digits
            else:
                raise _GiveUp
        for ch in chars:
            _prefixes(rest, prefix + ch, out, k, limit)
    elif op is c.BRANCH:
        for branch in av[1]:
            _prefixes(list(branch) + rest, prefix, out, k, limit)
    elif op is c.SUBPATTERN:
        if av[1] & re.IGNORECASE:
            raise _GiveUp
        _prefixes(list(av[3]) + rest, prefix, out, k, limit)
    elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
        lo, hi, sub = av
        if lo == 0:
            _prefixes(rest, prefix, out, k, limit)
        again = [(op, (max(lo - 1, 0), hi - 1, sub))] if hi > 1 else []
        _prefixes(list(sub) + again + rest, prefix, out, k, limit)
    elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        _prefixes(rest, prefix, out, k, limit)
    else:
        raise _GiveUp


_KNOWN_OPS = {
    sre_c.LITERAL, sre_c.IN, sre_c.BRANCH, sre_c.SUBPATTERN, sre_c.MAX_REPEAT, sre_c.MIN_REPEAT,
    sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT,
}  # fmt: skip


def start_keys(parsed: Any, flags: int = 0) -> frozenset[str] | None:
    """The strings (two characters, or one where a match may end there) a match can start with."""
    if flags & re.IGNORECASE:
        return None
    out: set[str] = set()
    try:
        _prefixes(list(parsed), "", out)
    except (_GiveUp, RecursionError):
        return None
    return frozenset(out)


def needs(parsed: Any, flags: int = 0) -> frozenset[str] | None:
    """The cheaper of ``required_grams`` and ``start_keys``: every match holds one of these strings."""
    return _best(required_grams(parsed, flags), start_keys(parsed, flags))


def also_needs(parsed: Any, keys: frozenset[str] | None, flags: int = 0, limit: int = 3) -> _Clauses:
    """Up to ``limit`` more requirements besides ``keys``, cheapest first: the engine checks them (a few
    ``in``) before it runs the regex, which costs more."""
    out: list[frozenset[str]] = []
    for clause in required_clauses(parsed, flags):
        if not any(_implies(had, clause) for had in ([keys] if keys else []) + out):
            out.append(clause)
    return tuple(out[:limit])


def _implies(a: frozenset[str], b: frozenset[str]) -> bool:
    """A text that meets ``a`` meets ``b`` (every string of ``a`` holds one of ``b``): ``b`` adds nothing."""
    return all(any(y in x for y in b) for x in a)
