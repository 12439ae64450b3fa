"""Counts for the demo summary and for reports, and how each rule fares with reviewers.

``triage_counts``: what the classifier flagged and what waits in the queue.

``rule_stats``, like SpamAssassin's hit-frequencies: for every rule, the ads it hit that reviewers confirmed and
those they rejected, its precision, and a weight re-fitted from that precision for a person to review. Nothing
here changes a rule pack: the proposal is printed, an operator edits the YAML. Re-fit: with Laplace-smoothed
precision p of the rule and p0 over all decided ads, a scoring rule's weight becomes weight × p / p0 and an
exculpatory rule's (it subtracts) weight × (1 - p) / (1 - p0), clipped to [0, 2 × weight] and rounded to 0.5;
rules with fewer than ``min_support`` decided hits keep their weight.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from classifier.rules import Rule
from core.verdicts import LATEST

__all__ = ["RuleStat", "rule_stats", "triage_counts"]


def triage_counts(db: sqlite_utils.Database) -> dict[str, Any]:
    """Ads by current label; flagged and queued ads by their first category."""
    rows = db.execute(
        f"""SELECT v.label, v.categories, q.state FROM verdicts v
            JOIN ({LATEST}) latest ON latest.id = v.id
            LEFT JOIN queue q ON q.ad_id = v.ad_id"""
    ).fetchall()
    labels: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    queued: Counter[str] = Counter()
    for label, cats, state in rows:
        labels[label] += 1
        category = (json.loads(cats) or ["(无类型)"])[0]
        if label == "flag":
            flagged[category] += 1
        if state in ("pending", "claimed"):
            queued[category] += 1
    return {
        "labels": dict(labels),
        "flagged": dict(flagged),
        "queued": dict(queued),
        "queued_total": sum(queued.values()),
    }


@dataclass(frozen=True, slots=True)
class RuleStat:
    rule_id: str
    kind: str
    name: str
    weight: float
    status: str
    confirmed: int  # decided ads this rule hit that reviewers confirmed
    rejected: int
    precision: float | None
    proposed: float | None  # None: not enough decisions

    @property
    def support(self) -> int:
        return self.confirmed + self.rejected


def rule_stats(db: sqlite_utils.Database, rules: Iterable[Rule], *, min_support: int = 5) -> list[RuleStat]:
    """``rules``: the loaded rules (``Classifier.rules``); statistics from each decision's verdict."""
    confirmed: dict[str, int] = {}
    rejected: dict[str, int] = {}
    totals = {"confirmed": 0, "rejected": 0}
    for decision, hits in db.execute(
        """SELECT d.decision, v.hits FROM decisions d JOIN verdicts v ON v.id = d.verdict_id
           WHERE d.id IN (SELECT max(id) FROM decisions WHERE reversed_seq IS NULL GROUP BY ad_id)"""
    ):
        totals[decision] += 1
        target = confirmed if decision == "confirmed" else rejected
        for rule_id in {h["rule_id"] for h in json.loads(hits)}:
            target[rule_id] = target.get(rule_id, 0) + 1
    p0 = (totals["confirmed"] + 1) / (totals["confirmed"] + totals["rejected"] + 2)
    out = []
    for rule in rules:
        c, r = confirmed.get(rule.id, 0), rejected.get(rule.id, 0)
        precision = c / (c + r) if c + r else None
        proposed = None
        if c + r >= min_support:
            p = (c + 1) / (c + r + 2)
            factor = (1 - p) / (1 - p0) if rule.kind == "exculpatory" else p / p0
            raw = rule.weight * factor
            low, high = sorted((0.0, 2 * rule.weight))
            proposed = round(max(low, min(high, raw)) * 2) / 2
        out.append(RuleStat(rule.id, rule.kind, rule.name, rule.weight, rule.status, c, r, precision, proposed))
    return out
