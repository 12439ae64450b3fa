"""How rule hits add up to a score and a label: ``_scoring.yml`` of a rule pack, read and checked.

See docs/rules.md ("Scoring") for the groups, thresholds, veto and neighbour settings; ``queue_bands`` names the
scores from which a flagged ad is in the review queue's high and mid band (``review.queue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classifier.taxonomy import CATEGORIES, EXCULPATORY, SIGNALS

__all__ = ["KIND_KEYS", "Scoring", "check_scoring"]

KIND_KEYS = ("category", "signal", "exculpatory")


@dataclass(frozen=True, slots=True)
class Scoring:
    """How hits add up to a score and a label (``_scoring.yml``)."""

    flag: float = 4.0
    watch: float = 2.0
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {members, cap, sign}
    flag_requires_any: dict[str, float] = field(default_factory=dict)
    veto_exculpatory: float = 3.0
    unless_window: int = 12
    max_hits_per_rule: int = 3
    rejected_penalty: float = 2.0
    rejected_min_similarity: float = 0.0
    # the review queue's score bands for flagged ads: high from ``high``, mid from ``mid``, low below it
    queue_bands: dict[str, float] = field(default_factory=lambda: {"high": 8.0, "mid": 5.0})

    def group_of(self, kind: str, name: str) -> str | None:
        for gname, g in self.groups.items():
            members = g["members"]
            if name in members or kind in members:
                return gname
        return None


def check_scoring(data: Any, where: str) -> tuple[Scoring, list[str]]:
    problems: list[str] = []
    if data is None:
        return Scoring(), problems
    if not isinstance(data, dict):
        return Scoring(), [f"{where}: must be a mapping"]
    known = {
        "thresholds", "groups", "flag_requires_any", "veto", "unless_window", "max_hits_per_rule", "neighbours",
        "queue_bands",
    }  # fmt: skip
    for k in data:
        if k not in known:
            problems.append(f"{where}: unknown key {k!r} (known: {', '.join(sorted(known))})")
    th = data.get("thresholds", {}) or {}
    flag, watch = float(th.get("flag", 4.0)), float(th.get("watch", 2.0))
    if watch > flag:
        problems.append(f"{where}: thresholds.watch ({watch}) is above thresholds.flag ({flag})")
    groups: dict[str, dict[str, Any]] = {}
    valid_members = set(SIGNALS) | set(EXCULPATORY) | set(CATEGORIES) | set(KIND_KEYS)
    for gname, g in (data.get("groups") or {}).items():
        if not isinstance(g, dict) or "members" not in g:
            problems.append(f"{where}: group {gname}: needs 'members'")
            continue
        for m in g["members"]:
            if m not in valid_members:
                problems.append(f"{where}: group {gname}: unknown member {m!r}")
        sign = g.get("sign", 1)
        if sign not in (1, -1):
            problems.append(f"{where}: group {gname}: sign must be 1 or -1")
        groups[gname] = {"members": list(g["members"]), "cap": float(g.get("cap", 100.0)), "sign": sign}
    fra = {str(k): float(v) for k, v in (data.get("flag_requires_any") or {}).items()}
    for k in fra:
        if k not in groups:
            problems.append(f"{where}: flag_requires_any names unknown group {k!r}")
    veto = data.get("veto") or {}
    nb = data.get("neighbours") or {}
    bands, bp = _check_bands(data.get("queue_bands"), where)
    problems.extend(bp)
    scoring = Scoring(
        flag=flag,
        watch=watch,
        groups=groups,
        flag_requires_any=fra,
        veto_exculpatory=float(veto.get("exculpatory", 3.0)),
        unless_window=int(data.get("unless_window", 12)),
        max_hits_per_rule=int(data.get("max_hits_per_rule", 3)),
        rejected_penalty=float(nb.get("rejected_penalty", 2.0)),
        rejected_min_similarity=float(nb.get("rejected_min_similarity", 0.0)),
        queue_bands=bands,
    )
    return scoring, problems


def _check_bands(data: Any, where: str) -> tuple[dict[str, float], list[str]]:
    """``queue_bands: {high: 8, mid: 5}``: the scores from which a flagged ad is in the queue's high and mid band."""
    bands = dict(Scoring().queue_bands)
    if data is None:
        return bands, []
    if not isinstance(data, dict) or set(data) - set(bands):
        return bands, [f"{where}: queue_bands must be a mapping with 'high' and/or 'mid' (scores)"]
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return bands, [f"{where}: queue_bands.{name} must be a score (a number, 0 or more), not {value!r}"]
        bands[name] = float(value)
    if bands["mid"] > bands["high"]:
        return bands, [f"{where}: queue_bands.mid ({bands['mid']:g}) is above queue_bands.high ({bands['high']:g})"]
    return bands, []
