"""Measuring a classifier on labelled rows: precision, recall, F1, false positives per kind, a threshold sweep.

Rows are mappings with ``text`` and ``label`` (1 = illegal-fundraising promotion, 0 = not), and optionally
``id``, ``kind``, ``title``, ``note``. Only ``flag`` counts as a positive prediction: ``watch`` is queued at low
priority but is not a claim that the ad is illegal. Rows whose ``note`` contains "borderline" are also
reported separately, without them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.engine import Classifier
from classifier.verdict import Verdict

__all__ = ["Counts", "Report", "evaluate", "labelled_summary", "read_jsonl", "summary_text", "wilson"]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, label: int, predicted: bool) -> None:
        if label == 1:
            if predicted:
                self.tp += 1
            else:
                self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fp_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "fp_rate": round(self.fp_rate, 4),
        }


@dataclass
class KindStats:
    n: int = 0
    positives: int = 0  # rows labelled 1
    flagged: int = 0
    watched: int = 0

    def to_dict(self) -> dict[str, Any]:
        rate = self.flagged / self.n if self.n else 0.0
        return {"n": self.n, "positives": self.positives, "flagged": self.flagged, "watched": self.watched,
                "flag_rate": round(rate, 4)}  # fmt: skip


@dataclass
class Report:
    overall: Counts
    without_borderline: Counts
    per_kind: dict[str, KindStats]
    sweep: list[tuple[float, float, float, int]]  # threshold, precision, recall, predicted positives
    wrong: list[dict[str, Any]] = field(default_factory=list)
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "overall": self.overall.to_dict(),
            "without_borderline": self.without_borderline.to_dict(),
            "per_kind": {k: v.to_dict() for k, v in sorted(self.per_kind.items())},
            "sweep": [
                {"threshold": t, "precision": round(p, 4), "recall": round(r, 4), "predicted": n}
                for t, p, r, n in self.sweep
            ],
            "wrong": self.wrong,
        }

    def to_text(self, show_wrong: int = 50) -> str:
        lines = [f"classifier {self.version}", "", "label 1 (only 'flag' counts as positive)"]
        lines.append(f"{'rows':<22}{'n':>6}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}{'F1':>7}")
        for name, c in (("all", self.overall), ("without borderline", self.without_borderline)):
            lines.append(
                f"{name:<22}{c.n:>6}{c.tp:>5}{c.fp:>5}{c.fn:>5}{c.precision:>11.3f}{c.recall:>8.3f}{c.f1:>7.3f}"
            )
        lines += ["", "per kind (flag rate = recall for positive kinds, false-positive rate for the others)"]
        lines.append(f"{'kind':<24}{'n':>6}{'label 1':>9}{'flag':>6}{'watch':>7}{'flag rate':>11}")
        for kind, s in sorted(self.per_kind.items()):
            rate = s.flagged / s.n if s.n else 0.0
            lines.append(f"{kind:<24}{s.n:>6}{s.positives:>9}{s.flagged:>6}{s.watched:>7}{rate:>11.3f}")
        lines += ["", "threshold sweep (positive = score >= threshold)"]
        lines.append(f"{'threshold':>10}{'precision':>11}{'recall':>8}{'predicted':>11}")
        for t, p, r, n in self.sweep:
            lines.append(f"{t:>10.2f}{p:>11.3f}{r:>8.3f}{n:>11}")
        if self.wrong and show_wrong:
            lines += ["", f"wrong rows ({len(self.wrong)}; first {min(show_wrong, len(self.wrong))})"]
            for w in self.wrong[:show_wrong]:
                text = w["text"].replace("\n", " ")
                text = text if len(text) <= 60 else text[:59] + "…"
                lines.append(
                    f"{w['id']}  label={w['label']} kind={w['kind']} -> {w['predicted']} ({w['score']:g})  {text}"
                )
                if w["hits"]:
                    lines.append("      " + ", ".join(w["hits"]))
        return "\n".join(lines)


def _is_borderline(row: Mapping[str, Any]) -> bool:
    return "borderline" in str(row.get("note") or "").lower()


def evaluate(
    rows: Iterable[Mapping[str, Any]],
    classifier: Classifier | None = None,
    thresholds: Iterable[float] | None = None,
) -> Report:
    """Classify every row and compare with its label."""
    clf = classifier or Classifier.default()
    overall, clean = Counts(), Counts()
    per_kind: dict[str, KindStats] = {}
    scored: list[tuple[float, int]] = []
    wrong: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        label = int(row["label"])
        v: Verdict = clf.classify(str(row.get("text") or ""), title=str(row.get("title") or ""))
        predicted = v.label == "flag"
        overall.add(label, predicted)
        if not _is_borderline(row):
            clean.add(label, predicted)
        kind = str(row.get("kind") or ("positive" if label == 1 else "negative"))
        ks = per_kind.setdefault(kind, KindStats())
        ks.n += 1
        ks.positives += label == 1
        ks.flagged += predicted
        ks.watched += v.label == "watch"
        scored.append((v.score, label))
        if predicted != (label == 1):
            wrong.append(
                {
                    "id": row.get("id", i),
                    "label": label,
                    "kind": kind,
                    "predicted": v.label,
                    "score": v.score,
                    "text": str(row.get("text") or ""),
                    "hits": [f"{h.rule_id}:{h.matched}" for h in v.hits],
                }
            )
    if thresholds is None:
        thresholds = [x / 2 for x in range(1, 17)]
    sweep = []
    for t in thresholds:
        c = Counts()
        for score, label in scored:
            c.add(label, score >= t)
        sweep.append((t, c.precision, c.recall, c.tp + c.fp))
    return Report(overall, clean, per_kind, sweep, wrong, clf.version)


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- grouped cross-validation reports ------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of the proportion k/n ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": round(k / n, 4) if n else None, "ci95": [round(lo, 4), round(hi, 4)]}


def labelled_summary(rows: Sequence[Any], labels: Sequence[str]) -> dict[str, Any]:
    """Precision, recall and F1 (flag only) with 95% intervals over the labelled rows (corpus rows apart),
    the same without borderline rows, the flag rate per kind, and per corpus."""
    out: dict[str, Any] = {}
    for name, keep in (("all", lambda r: True), ("without borderline", lambda r: not r.borderline)):
        c = Counts()
        for r, lab in zip(rows, labels, strict=True):
            if not r.corpus and keep(r):
                c.add(r.label, lab == "flag")
        out[name] = {
            "tp": c.tp,
            "fp": c.fp,
            "fn": c.fn,
            "precision": _rate(c.tp, c.tp + c.fp),
            "recall": _rate(c.tp, c.tp + c.fn),
            "f1": round(c.f1, 4),
        }
    kinds: dict[str, list[int]] = {}
    for r, lab in zip(rows, labels, strict=True):
        key = r.kind
        k = kinds.setdefault(key, [0, 0, 0, 0, int(r.corpus)])  # n, positives, flagged, watched, corpus
        k[0] += 1
        k[1] += r.label
        k[2] += lab == "flag"
        k[3] += lab == "watch"
    out["kinds"] = {
        kind: {"positives": v[1], "watched": v[3], "corpus": bool(v[4]), **_rate(v[2], v[0])}
        for kind, v in sorted(kinds.items())
    }
    return out


def summary_text(title: str, s: dict[str, Any]) -> str:
    """A summary from ``labelled_summary`` as the tables ``adclear eval --cv`` prints."""

    def ci(d: dict[str, Any]) -> str:
        if d["rate"] is None:
            return "      –"
        return f"{d['rate']:.3f} [{d['ci95'][0]:.2f}–{d['ci95'][1]:.2f}]"

    lines = [
        title,
        f"{'rows':<20}{'TP':>5}{'FP':>5}{'FN':>5}  {'precision (95% CI)':<20}{'recall (95% CI)':<20}{'F1':>6}",
    ]
    for name in ("all", "without borderline"):
        d = s[name]
        counts = f"{name:<20}{d['tp']:>5}{d['fp']:>5}{d['fn']:>5}"
        lines.append(f"{counts}  {ci(d['precision']):<20}{ci(d['recall']):<20}{d['f1']:>6.3f}")
    lines.append(f"{'kind':<26}{'n':>6}{'label 1':>8}{'flag':>6}{'watch':>6}  flag rate (95% CI)")
    for kind, d in s["kinds"].items():
        lines.append(f"{kind:<26}{d['n']:>6}{d['positives']:>8}{d['k']:>6}{d['watched']:>6}  {ci(d)}")
    return "\n".join(lines)
