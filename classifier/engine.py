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
from pathlib import Path
from typing import Any

from classifier.assessment import Assessment, RulesOutcome
from classifier.contacts import extract_contacts
from classifier.features import rule_features
from classifier.fingerprint import fingerprint_many
from classifier.keyindex import KeyIndex, Probe
from classifier.model import LinearModel, ModelError, load_model
from classifier.neardup import records_of
from classifier.neighbours import Neighbour, NeighbourSource
from classifier.normalize import Normalized, normalize
from classifier.rules import DEFAULT_RULES_DIR, Rule, RulePack, load_rule_pack
from classifier.taxonomy import CATEGORIES
from classifier.verdict import Hit, Verdict

__all__ = ["Classifier", "classify", "default_classifier", "run_rule_tests"]

__version__ = "0.1.0"


class Classifier:
    """A loaded rule pack and, optionally, a learned model, ready to classify. Build with ``from_directory``
    or ``default``.

    ``model_error`` says why no model is used when one was asked for (a missing or damaged file): the
    classifier then works with the rules alone, and its verdicts say so.
    """

    def __init__(self, pack: RulePack, model: LinearModel | None = None, model_error: str | None = None):
        self.pack = pack
        self.rules: tuple[Rule, ...] = pack.rules
        self.scoring = pack.scoring
        self.model = model
        self.model_error = model_error
        self.rules_version = f"{__version__}+rules.{pack.digest[:12]}"
        model_part = model.version if model is not None else "model.none"
        self.version = f"{self.rules_version}+{model_part}"
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
        self._index = KeyIndex(phases=2)
        for i, (rule, p) in enumerate(self._scan):
            self._index.add(i, 1 if self._sign[rule.id] < 0 else 0, p.keys, p.first_chars)
        self._index.finish()

    @classmethod
    def from_directory(cls, path: Path | str, model: Path | str | None | bool = True) -> Classifier:
        """Load the rule pack in ``path``; raises ``RulePackError``.

        ``model``: a model file, True for the bundled one, False or None for rules only. A model that cannot
        be loaded leaves the classifier with the rules alone and ``model_error`` set.
        """
        return cls.with_model(load_rule_pack(path), model)

    @classmethod
    def with_model(cls, pack: RulePack, model: Path | str | None | bool = True) -> Classifier:
        if model is None or model is False:
            return cls(pack)
        try:
            return cls(pack, load_model(None if model is True else model))
        except ModelError as e:
            return cls(pack, None, str(e))

    @classmethod
    def default(cls) -> Classifier:
        """The rule pack shipped in ``classifier/rules`` with the bundled model (loaded once per process)."""
        return default_classifier()

    def rules_only(self) -> Classifier:
        """The same rule pack without the model."""
        return Classifier(self.pack)

    # --- matching ---------------------------------------------------------------------------------------
    def _present(self, text: str) -> Probe:
        """What of ``text`` the index looks at (made once per text for both phases)."""
        return self._index.probe(text)

    def _candidates(self, text: str, present: Probe, phase: int) -> list[int]:
        """The patterns of ``phase`` that can match ``text``; ``present``: ``_present(text)``."""
        return self._index.candidates(text, present, phase)

    def _match_field(self, norm: Normalized, field: str, whole: str, present: Probe, phase: int) -> list[Hit]:
        text = norm.text
        if not text:
            return []
        hits: list[Hit] = []
        per_rule: dict[str, int] = {}
        spans: set[tuple[str, int, int]] = set()  # a rule's two patterns matching the same words are one hit
        limit = self.scoring.max_hits_per_rule
        scan = self._scan
        for i in self._candidates(text, present, phase):
            rule, pattern = scan[i]
            if pattern.also and not _meets(text, pattern.also):
                continue  # a requirement the index does not cover is missing: the regex cannot match
            matches = (pattern.scan or pattern.regex).finditer(text)
            for m in matches:
                a, b = m.span()
                if a == b:
                    continue
                if rule.unless and self._cancelled(rule, text, whole, a, b):
                    continue
                if (rule.id, a, b) in spans:
                    continue
                spans.add((rule.id, a, b))
                n = per_rule.get(rule.id, 0)
                if n >= limit:
                    break
                per_rule[rule.id] = n + 1
                oa, ob = norm.span(a, b)
                weight = 0.0 if rule.status == "shadow" else rule.weight * self._sign[rule.id]
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
    def rules_outcome(self, text: str, title: str = "", complete: bool = False) -> RulesOutcome:
        """The rule pack's part of a verdict: hits, score, label and group totals (no model, no neighbours).

        ``complete``: look for exculpatory cues even where nothing scored (the model reads them; the rules'
        score and label are the same either way)."""
        hits, whole = self.hits(text or "", title or "", complete)
        sc = self.scoring
        totals: dict[str, float] = dict.fromkeys(sc.groups, 0.0)
        cues: dict[str, float] = {}
        if not hits:
            return RulesOutcome(hits, whole, 0.0, "clear", totals, False, 0.0, [], cues)
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
            if h.kind != "category":
                cues[h.name] = cues.get(h.name, 0.0) + abs(h.weight)
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
        categories = sorted(cat_weight, key=lambda c: (-cat_weight[c], CATEGORIES.index(c)))
        label = self._label(score, requirement, exculpatory)
        return RulesOutcome(hits, whole, score, label, totals, requirement, exculpatory, categories, cues)

    def rule_features(self, outcome: RulesOutcome) -> list[float]:
        """What the learned scorer reads of the rules' outcome (``features.RULE_FEATURES``)."""
        caps = {g: float(spec["cap"]) for g, spec in self.scoring.groups.items()}
        return rule_features(outcome.totals, caps, outcome.cues, len(outcome.categories), outcome.label)

    def classify(self, text: str, title: str = "", url: str = "", neighbours: NeighbourSource | None = None) -> Verdict:
        """Classify one ad: ``conclude(assess(text, title), neighbours)``. ``url`` is accepted for the record;
        rules and model read only ``title`` and ``text``.

        With a model, the label is the model's (it reads the rules' group totals as well as the text); an ad
        the rules alone would flag or watch is queued at least as ``watch``. Without one (none loaded, or a broken
        file), the rules decide and the verdict says so.
        """
        return self.conclude(self.assess(text, title), neighbours)

    def assess(self, text: str, title: str = "", *, for_writer: bool = False) -> Assessment:
        """The rules' and the model's part of the verdict on one ad: what needs the text alone. ``for_writer``:
        with what else the text alone gives and the one writer of a distributed crawl would otherwise make (a
        crawler node makes it): the fingerprint the conclusion compares with the decided ads, and the contacts."""
        out = self.rules_outcome(text, title, complete=self.model is not None)
        label, model_info = self._model_part(out)
        if not for_writer:
            return Assessment(self.version, out, label, model_info)
        found = extract_contacts(title, text)
        return Assessment(self.version, out, label, model_info, fingerprint_many([out.whole]), found)

    def conclude(self, assessed: Assessment, neighbours: NeighbourSource | None = None) -> Verdict:
        """The verdict from an assessment of this classifier (``ValueError`` for another version's), with the
        decided ads ``neighbours`` when given (their effect, and the fingerprint the verdict then carries)."""
        if assessed.version != self.version:
            raise ValueError(f"an assessment of classifier {assessed.version}, this one is {self.version}")
        out, label, model_info = assessed.outcome, assessed.label, assessed.model
        if not out.hits and neighbours is None and label == "clear":
            return Verdict(0.0, "clear", [], [], [], self.version, dict(self._no_conditions), [], out.label, model_info)
        totals, sc = out.totals, self.scoring
        adjustments: list[str] = []
        if out.exculpatory >= sc.veto_exculpatory and out.score >= sc.flag:
            adjustments.append(f"排除线索合计 {out.exculpatory:g}，规则不作为疑似违法广告（至多可疑）")
        if self.model is None and self.model_error is not None:
            adjustments.append("模型未能加载，仅按规则判断：" + self.model_error)
        conditions = {
            "利诱性": totals.get("inducement", 0.0) > 0 or totals.get("scheme", 0.0) > 0,
            "公开性": totals.get("publicity", 0.0) > 0,
            "非法性": totals.get("licensed", 0.0) == 0,
        }
        score = out.score
        nearest: list[Neighbour] = []
        fingerprint = None
        if neighbours is not None:
            # the fingerprint of what neighbours are compared on: made once, handed to the source and kept in
            # the verdict, which is what gets stored for the ad (core.fingerprints)
            fps = assessed.fingerprints if assessed.fingerprints is not None else fingerprint_many([out.whole])
            fingerprint = records_of(fps)[0]
            nearest = list(neighbours.nearest(out.whole, fingerprints=fps))
            score, label = self._apply_neighbours(nearest, out, label, adjustments)
        return Verdict(
            score=score,
            label=label,  # type: ignore[arg-type]
            categories=out.categories,
            hits=out.hits,
            nearest=nearest,
            version=self.version,
            conditions=conditions,
            adjustments=adjustments,
            rules_label=out.label,
            model=model_info,
            fingerprint=fingerprint,
        )

    def _model_part(self, out: RulesOutcome) -> tuple[str, dict[str, Any]]:
        """The label before neighbours, and the learned scorer's part of the verdict ({} without a model)."""
        if self.model is None:
            return out.label, ({"version": None, "error": self.model_error} if self.model_error is not None else {})
        ms = self.model.score(out.whole, self.rule_features(out), explain=True)
        label = ms.label
        if out.label != "clear" and label == "clear":
            label = "watch"  # what the rules saw is never dropped silently: queued at low priority
        model_info: dict[str, Any] = {
            "version": self.model.version,
            "score": ms.score,
            "label": ms.label,
            "flag_at": self.model.flag,
            "watch_at": self.model.watch,
        }
        if ms.explain is not None:
            model_info["explain"] = ms.explain
        return label, model_info

    def _label(self, score: float, requirement: bool, exculpatory: float) -> str:
        sc = self.scoring
        if score >= sc.flag and requirement and exculpatory < sc.veto_exculpatory:
            return "flag"
        if score >= sc.watch:
            return "watch"
        return "clear"

    def _apply_neighbours(
        self, nearest: list[Neighbour], out: RulesOutcome, label: str, adjustments: list[str]
    ) -> tuple[float, str]:
        """A rejected ad nearer than any confirmed one lowers the score (rules: by the penalty; with a model:
        the label one step); a confirmed near-duplicate flags."""
        sc = self.scoring
        score = out.score
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
            if self.model is None:
                label = self._label(score, out.requirement, out.exculpatory)
            else:
                label = {"flag": "watch", "watch": "clear"}.get(label, label)
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


@functools.lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier.with_model(load_rule_pack(DEFAULT_RULES_DIR), True)


def classify(text: str, title: str = "", url: str = "") -> Verdict:
    """Classify with the default rule packs (loaded once and cached)."""
    return default_classifier().classify(text, title=title, url=url)


def run_rule_tests(directory: Path | str = DEFAULT_RULES_DIR) -> list[str]:
    """Run every rule's ``tests`` examples; return one line per failure (empty when all pass).

    A ``match`` example must produce at least one hit of its rule (after ``unless``); a ``no_match`` example
    must produce none. Examples are classified whole, exactly as an ad body would be.
    """
    clf = Classifier(load_rule_pack(directory))
    failures: list[str] = []
    for rule in clf.rules:
        for example in rule.tests_match:
            hits, _ = clf.hits(example, complete=True)
            if not any(h.rule_id == rule.id for h in hits):
                failures.append(f"{rule.file}: rule {rule.id}: expected a match on {example!r}")
        for example in rule.tests_no_match:
            hits, _ = clf.hits(example, complete=True)
            got = [h.matched for h in hits if h.rule_id == rule.id]
            if got:
                failures.append(f"{rule.file}: rule {rule.id}: expected no match on {example!r}, matched {got!r}")
    return failures
