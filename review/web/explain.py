"""Why an ad was flagged, as a reviewer reads it: the hits grouped by the four legal conditions, each cue once.

A verdict can hold 13–22 hits, many of them the same words found by two rules ("年化13%" and "年化"). The ad page
shows instead one line per cue (a signal, a category or an exculpatory cue) with every word that evidenced it,
grouped under the condition of the SPC interpretation (2022) Art. 1 it speaks to (非法性, 公开性, 利诱性, 社会性),
then the categories (涉嫌类型) and the cues against (排除). Each line is numbered; the marks in the ad's text carry
the same numbers. The score is written as a short sum of the groups, the rest (near-duplicates, vetoes, caps)
named as one adjustment, so that a person can follow it to the figure stored in the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from classifier.taxonomy import EXCULPATORY, LEGAL_CONDITIONS, SIGNALS
from review.web.highlight import Segment

__all__ = ["Group", "Line", "ScoreTerm", "cue_label", "explain", "lines_for", "renumber", "score_terms"]

CATEGORY_GROUP, AGAINST_GROUP, OTHER_GROUP = "类型", "排除", "其他"


@dataclass
class Line:
    number: int
    kind: str  # category, signal, exculpatory
    name: str  # the cue's key (a category's name, a signal's or exculpatory cue's key)
    words: list[str] = field(default_factory=list)  # every matched text, once each, in order of appearance
    hits: list[int] = field(default_factory=list)  # the hit numbers behind the line (marks in the text)
    weight: float = 0.0  # what the line's active hits add to the score
    bases: list[str] = field(default_factory=list)  # legal bases, once each
    testing: bool = False  # all its hits come from rules on trial (shadow, testing): scored nothing


@dataclass
class Group:
    key: str  # a legal condition, 类型 or 排除
    lines: list[Line]

    @property
    def weight(self) -> float:
        return round(sum(line.weight for line in self.lines), 3)


@dataclass(frozen=True)
class ScoreTerm:
    key: str  # a group's key, or "adjustment"
    weight: float


def _group_of(hit: dict[str, Any]) -> str:
    kind = hit.get("kind", "signal")
    if kind == "category":
        return CATEGORY_GROUP
    if kind == "exculpatory":
        return AGAINST_GROUP
    return SIGNALS.get(str(hit.get("name", "")), ("", OTHER_GROUP))[1]


def explain(hits: list[dict[str, Any]]) -> list[Group]:
    """The numbered hits (``highlight.numbered_hits``) as groups: the four conditions in the law's order (a
    condition with no cue still listed, empty), then categories, then the cues against (only when present)."""
    lines: dict[tuple[str, str], Line] = {}
    keys = (*LEGAL_CONDITIONS, OTHER_GROUP, CATEGORY_GROUP, AGAINST_GROUP)
    order: dict[str, list[Line]] = {key: [] for key in keys}
    for hit in hits:
        kind, name = hit.get("kind", "signal"), str(hit.get("name", ""))
        line = lines.get((kind, name))
        if line is None:
            line = lines[(kind, name)] = Line(0, kind, name, testing=True)
            order.setdefault(_group_of(hit), []).append(line)
        matched = str(hit.get("matched", ""))
        if matched and matched not in line.words:
            line.words.append(matched)
        line.hits.append(int(hit["n"]))
        basis = str(hit.get("legal_basis") or "")
        if basis and kind != "exculpatory" and basis not in line.bases:
            line.bases.append(basis)
        if hit.get("status", "active") == "active":
            line.weight = round(line.weight + float(hit.get("weight", 0.0)), 3)
            line.testing = False
    number = 0
    groups = []
    for key, members in order.items():
        for line in members:
            number += 1
            line.number = number
        if members or key in LEGAL_CONDITIONS:
            groups.append(Group(key, members))
    return groups


def score_terms(groups: list[Group], score: float) -> list[ScoreTerm]:
    """The score as a short sum: each group that weighs something, and what the scorer added beyond the hits."""
    terms = [ScoreTerm(g.key, g.weight) for g in groups if g.weight]
    adjustment = round(score - sum(t.weight for t in terms), 3)
    if adjustment:
        terms.append(ScoreTerm("adjustment", adjustment))
    return terms


def _line_of(groups: list[Group]) -> dict[int, int]:
    return {n: line.number for group in groups for line in group.lines for n in line.hits}


def lines_for(groups: list[Group], hit_numbers: list[int]) -> list[int]:
    """The explanation's line numbers of these hits (for a warning about hits the text no longer holds)."""
    line_of = _line_of(groups)
    return sorted({line_of.get(n, n) for n in hit_numbers})


def renumber(segments: list[Segment], groups: list[Group]) -> list[Segment]:
    """The text's marks numbered as the explanation's lines are (a hit's number becomes its line's)."""
    line_of = _line_of(groups)
    covering = [{line_of.get(n, n) for n in segment.hits} for segment in segments]
    out = []
    for i, segment in enumerate(segments):
        after = covering[i + 1] if i + 1 < len(segments) else set()
        # a line's number once per stretch of text it marks: "年化13%" found by two rules of one cue shows one
        ends = tuple(line for line in dict.fromkeys(line_of.get(n, n) for n in segment.ends) if line not in after)
        out.append(replace(segment, ends=ends))
    return out


def cue_label(line: Line) -> str:
    """The cue's Chinese label (categories are their own name)."""
    if line.kind == "signal":
        return SIGNALS.get(line.name, (line.name,))[0]
    if line.kind == "exculpatory":
        return EXCULPATORY.get(line.name, (line.name,))[0]
    return line.name
