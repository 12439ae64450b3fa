"""The rule engine: normalised text in, ``Verdict`` out. Pure: no I/O after the rule pack is loaded.

Scoring mirrors the four conditions of SPC interpretation (2022) Art. 1 rather than counting words. Hits are
grouped as ``_scoring.yml`` says (inducement: promised return, guarantee; scheme: categories; publicity:
contact channel, call to invest, urgency; backing: false backing; licensed and exculpatory cues subtract).
Each rule counts once, each group is capped, and::

    score = max(0, Σ sign(group) · min(cap(group), Σ weight of the group's distinct rules))

``flag`` needs ``score >= thresholds.flag``, at least one group of ``flag_requires_any`` at its level
(an inducement, or a scheme that implies one) and an exculpatory total below ``veto.exculpatory``;
``watch`` needs ``score >= thresholds.watch``; everything else is ``clear``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

from classifier import prefilter
from classifier.neighbours import Neighbour, NeighbourSource
from classifier.normalize import Normalized, normalize
from classifier.rules import DEFAULT_RULES_DIR, Rule, RulePack, load_rule_pack
from classifier.taxonomy import CATEGORIES
from classifier.verdict import Hit, Verdict

__all__ = ["Classifier", "classify", "default_classifier"]

__version__ = "0.1.0"


class Classifier:
    """A loaded rule pack, ready to classify. Build with ``from_directory`` or ``default``."""

    def __init__(self, pack: RulePack):
        self.pack = pack
        self.rules: tuple[Rule, ...] = pack.rules
        self.scoring = pack.scoring
        self.version = f"{__version__}+rules.{pack.digest[:12]}"
        self._group: dict[str, str | None] = {r.id: self.scoring.group_of(r.kind, r.name) for r in self.rules}
        self._sign: dict[str, int] = {
            r.id: int(self.scoring.groups[g]["sign"]) if (g := self._group[r.id]) else 1 for r in self.rules
        }
        self._no_conditions = {"利诱性": False, "公开性": False, "非法性": True}
        # (rule, pattern) pairs in rule order. A pattern whose every match holds one of a few short strings
        # ("keys", classifier.prefilter) is run only on a text holding one of them; any other pattern is run
        # on every text its first characters allow. Patterns of subtracting groups (exculpatory cues, licensed
        # institutions) form a second index: they are looked for only when a scoring hit gives them
        # something to excuse.
        self._scan = [(rule, p) for rule in self.rules for p in rule.patterns]
        self._index = (_KeyIndex(), _KeyIndex())
        for i, (rule, p) in enumerate(self._scan):
            self._index[1 if self._sign[rule.id] < 0 else 0].add(i, p.keys, p.first_chars)
        self._looked_at = np.zeros(sys.maxunicode + 1, dtype=bool)  # code point -> an index looks at it
        for index in self._index:
            index.finish()
            self._looked_at[list(index.code_points())] = True

    @classmethod
    def from_directory(cls, path: Path | str) -> Classifier:
        """Load the rule pack in ``path``; raises ``RulePackError``."""
        return cls(load_rule_pack(path))

    @classmethod
    def default(cls) -> Classifier:
        """The rule pack shipped in ``classifier/rules`` (loaded once per process)."""
        return default_classifier()

    # --- matching ---------------------------------------------------------------------------------------
    def _present(self, text: str) -> set[int]:
        """The code points of ``text`` that the indexes look at.

        One vectorised lookup: ``set(text)`` would make a string object of every CJK character, which costs
        more than all the rest of choosing the patterns (benchmarks/bench_classifier.py).
        """
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        return set(cps[self._looked_at[cps]].tolist())

    def _candidates(self, text: str, present: set[int], phase: int) -> list[int]:
        """The patterns of ``phase`` that can match ``text``; ``present``: ``_present(text)``."""
        index = self._index[phase]
        found: set[int] = set()
        by_char, by_rare = index.by_char, index.by_rare
        for cp in present & index.char_set:
            found.update(by_char[cp])
        for cp in present & index.rare_set:
            by_second = by_rare[cp]
            for second in present.intersection(by_second):
                for key, ids in by_second[second]:
                    if key in text:
                        found.update(ids)
        for i, first in index.always:
            if first is None or not first.isdisjoint(present):
                found.add(i)
        return sorted(found)

    def _match_field(self, norm: Normalized, field: str, whole: str, present: set[int], phase: int) -> list[Hit]:
        text = norm.text
        if not text:
            return []
        hits: list[Hit] = []
        per_rule: dict[str, int] = {}
        limit = self.scoring.max_hits_per_rule
        scan = self._scan
        for i in self._candidates(text, present, phase):
            rule, pattern = scan[i]
            if pattern.also and not _meets(text, pattern.also):
                continue  # a requirement the index does not cover is missing: the regex cannot match
            matches = pattern.regex.finditer(text)
            for m in matches:
                a, b = m.span()
                if a == b:
                    continue
                if rule.unless and self._cancelled(rule, text, whole, a, b):
                    continue
                n = per_rule.get(rule.id, 0)
                if n >= limit:
                    break
                per_rule[rule.id] = n + 1
                oa, ob = norm.span(a, b)
                weight = 0.0 if rule.status == "testing" else rule.weight * self._sign[rule.id]
                hits.append(
                    Hit(
                        rule_id=rule.id,
                        kind=rule.kind,  # type: ignore[arg-type]
                        name=rule.name,
                        weight=weight,
                        legal_basis=rule.legal_basis,
                        matched=norm.original[oa:ob],
                        start=oa,
                        end=ob,
                        field=field,  # type: ignore[arg-type]
                        status=rule.status,  # type: ignore[arg-type]
                    )
                )
        return hits

    @staticmethod
    def _cancelled(rule: Rule, text: str, whole: str, a: int, b: int) -> bool:
        if rule.unless_window is None:
            region = whole
        else:
            w = rule.unless_window
            region = text[max(0, a - w) : b + w]
        return any(u.search(region) for u in rule.unless)

    def hits(self, text: str, title: str = "", complete: bool = False) -> tuple[list[Hit], str]:
        """Rule hits on ``title`` and ``text``, and the normalised text (title, newline, body).

        Subtracting cues are looked for only when some scoring hit was found (they could not change a
        score of 0), unless ``complete`` asks for every hit.
        """
        nx = normalize(text)
        if title:
            nt = normalize(title)
            whole = f"{nt.text}\n{nx.text}"
            fields = [(nt, "title"), (nx, "text")]
        else:
            whole = nx.text
            fields = [(nx, "text")]
        keyed = [(n, name, self._present(n.text)) for n, name in fields if n.text]
        found = [h for n, name, present in keyed for h in self._match_field(n, name, whole, present, 0)]
        if complete or any(h.weight > 0 for h in found):
            found += [h for n, name, present in keyed for h in self._match_field(n, name, whole, present, 1)]
        return found, whole

    # --- scoring ----------------------------------------------------------------------------------------
    def classify(self, text: str, title: str = "", url: str = "", neighbours: NeighbourSource | None = None) -> Verdict:
        """Classify one ad. ``url`` is accepted for the record; rules read only ``title`` and ``text``."""
        hits, whole = self.hits(text or "", title or "")
        if not hits and neighbours is None:
            return Verdict(0.0, "clear", [], [], [], self.version, dict(self._no_conditions), [])
        sc = self.scoring
        totals: dict[str, float] = {g: 0.0 for g in sc.groups}
        counted: set[str] = set()
        cat_weight: dict[str, float] = {}
        for h in hits:
            if h.status != "active":
                continue
            if h.kind == "category":
                cat_weight[h.name] = cat_weight.get(h.name, 0.0) + (0.0 if h.rule_id in counted else h.weight)
            if h.rule_id in counted:
                continue
            counted.add(h.rule_id)
            g = self._group.get(h.rule_id)
            if g is not None:
                totals[g] += abs(h.weight)
        score = 0.0
        for g, total in totals.items():
            spec = sc.groups[g]
            score += spec["sign"] * min(spec["cap"], total)
        score = round(max(0.0, score), 3)
        exculpatory = sum(min(sc.groups[g]["cap"], t) for g, t in totals.items() if sc.groups[g]["sign"] < 0)
        requirement = not sc.flag_requires_any or any(totals.get(g, 0.0) >= v for g, v in sc.flag_requires_any.items())
        adjustments: list[str] = []
        if exculpatory >= sc.veto_exculpatory and score >= sc.flag:
            adjustments.append(f"排除线索合计 {exculpatory:g}，不作为疑似违法广告（至多可疑）")
        label = self._label(score, requirement, exculpatory)
        categories = sorted(cat_weight, key=lambda c: (-cat_weight[c], CATEGORIES.index(c)))
        conditions = {
            "利诱性": totals.get("inducement", 0.0) > 0 or totals.get("scheme", 0.0) > 0,
            "公开性": totals.get("publicity", 0.0) > 0,
            "非法性": totals.get("licensed", 0.0) == 0,
        }

        nearest: list[Neighbour] = []
        if neighbours is not None:
            nearest = list(neighbours.nearest(whole))
            score, label = self._apply_neighbours(nearest, score, label, requirement, exculpatory, adjustments)
        return Verdict(
            score=score,
            label=label,
            categories=categories,
            hits=hits,
            nearest=nearest,
            version=self.version,
            conditions=conditions,
            adjustments=adjustments,
        )

    def _label(self, score: float, requirement: bool, exculpatory: float) -> str:
        sc = self.scoring
        if score >= sc.flag and requirement and exculpatory < sc.veto_exculpatory:
            return "flag"
        if score >= sc.watch:
            return "watch"
        return "clear"

    def _apply_neighbours(
        self,
        nearest: list[Neighbour],
        score: float,
        label: str,
        requirement: bool,
        exculpatory: float,
        adjustments: list[str],
    ) -> tuple[float, str]:
        sc = self.scoring
        confirmed = [n for n in nearest if n.index == "confirmed"]
        rejected = [n for n in nearest if n.index == "rejected" and n.similarity >= sc.rejected_min_similarity]
        best_c = max(confirmed, key=lambda n: (n.similarity, -n.distance), default=None)
        best_r = max(rejected, key=lambda n: (n.similarity, -n.distance), default=None)
        if best_r is not None and (
            best_c is None or (best_r.similarity, -best_r.distance) > (best_c.similarity, -best_c.distance)
        ):
            new = round(max(0.0, score - sc.rejected_penalty), 3)
            adjustments.append(f"与已驳回广告 #{best_r.ad_id} 近似（距离 {best_r.distance}），得分 {score:g} → {new:g}")
            score = new
            label = self._label(score, requirement, exculpatory)
        if best_c is not None:
            adjustments.append(f"与已确认违法广告 #{best_c.ad_id} 近似（距离 {best_c.distance}）")
            label = "flag"
        return score, label


def _meets(text: str, clauses: tuple[frozenset[str], ...]) -> bool:
    """Every clause has a string in ``text`` (loops, not generators: this runs for every candidate)."""
    for clause in clauses:
        for key in clause:
            if key in text:
                break
        else:
            return False
    return True


class _KeyIndex:
    """Patterns by what a text must hold for them to match, by code point.

    A key of two or three characters is filed under its rarest character and then its second rarest: a text
    is checked for the key (``in``, C speed) only when it holds both, so a text is looked at for a few dozen
    keys, not for every key.
    """

    def __init__(self) -> None:
        self.by_char: dict[int, list[int]] = {}  # one-character key -> patterns
        # rarest character -> second rarest -> [(key, patterns)]
        self.by_rare: dict[int, dict[int, list[tuple[str, list[int]]]]] = {}
        self.always: list[tuple[int, frozenset[int] | None]] = []  # patterns without keys, their first characters
        self._keys: dict[str, list[int]] = {}
        self.char_set: frozenset[int] = frozenset()  # set(by_char), set(by_rare): made by finish()
        self.rare_set: frozenset[int] = frozenset()

    def add(self, i: int, keys: frozenset[str] | None, first_chars: frozenset[str] | None) -> None:
        if keys is None:
            self.always.append((i, None if first_chars is None else frozenset(map(ord, first_chars))))
            return
        for key in keys:
            if len(key) == 1:
                self.by_char.setdefault(ord(key), []).append(i)
            elif key in self._keys:
                self._keys[key].append(i)
            else:
                self._keys[key] = ids = [i]
                rare, second = sorted(key, key=prefilter.char_frequency)[:2]
                self.by_rare.setdefault(ord(rare), {}).setdefault(ord(second), []).append((key, ids))

    def finish(self) -> None:
        """Called once every pattern is added."""
        self.char_set, self.rare_set = frozenset(self.by_char), frozenset(self.by_rare)

    def code_points(self) -> set[int]:
        out = set(self.by_char) | set(self.by_rare)
        out.update(cp for by_second in self.by_rare.values() for cp in by_second)
        out.update(cp for _i, first in self.always for cp in first or ())
        return out


@functools.lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier(load_rule_pack(DEFAULT_RULES_DIR))


def classify(text: str, title: str = "", url: str = "") -> Verdict:
    """Classify with the default rule packs (loaded once and cached)."""
    return default_classifier().classify(text, title=title, url=url)
