"""What a decision must agree with: the categories an ad's rule hits point at, and its near-duplicates' decisions.

- **Categories.** A confirmation names one 涉嫌类型. When the hits of an ad (or of the ads of a cluster decided
  at once) name one category, that one is the default; when they name several, nobody may pick for the
  reviewer: ``agreed_category`` gives ``None`` and ``require_category`` refuses, listing each candidate with
  the words that matched it. An art-share scheme whose "原价回购" also hits the leaseback rules is not
  confirmed as a leaseback with two keys.
- **Near-duplicates.** Confirming an ad whose near-duplicate was rejected, or rejecting one whose
  near-duplicate was confirmed, leaves the ledger contradicting itself on near-identical text. Such a decision
  needs a reason (``despite``); ``contradictions`` finds them. A near-duplicate is an ad of the same cluster
  (``ads.cluster_id``, ``core.fingerprints.recluster``) or one the ad's verdict names among its nearest decided
  ads; what counts is its status now (a reversed decision no longer counts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from classifier.taxonomy import CATEGORIES
from core.errors import Contradiction, InvalidChoice
from core.timeutil import now_utc
from core.verdicts import current_verdict
from review.queue import held

__all__ = [
    "Candidate",
    "Clash",
    "agreed_category",
    "candidates",
    "check_despite",
    "cluster_members",
    "cluster_of",
    "contradictions",
    "require_category",
    "undecided_in_cluster",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A category the hits point at, with the hits that name it (their marked words, rules and weights)."""

    category: str
    hits: tuple[dict[str, Any], ...]

    @property
    def words(self) -> list[str]:
        seen: list[str] = []
        for hit in self.hits:
            if hit["matched"] not in seen:
                seen.append(hit["matched"])
        return seen

    @property
    def weight(self) -> float:
        return round(sum(float(h.get("weight", 0)) for h in self.hits if h.get("status", "active") == "active"), 3)


def candidates(verdicts: Iterable[dict[str, Any] | None]) -> list[Candidate]:
    """The categories the verdicts' hits point at (those their ``categories`` list, else every category hit),
    heaviest first."""
    names: list[str] = []
    found: dict[str, list[dict[str, Any]]] = {}
    for verdict in verdicts:
        if not verdict:
            continue
        for hit in verdict.get("hits", []):
            if hit.get("kind") == "category" and hit.get("name") in CATEGORIES:
                same = found.setdefault(hit["name"], [])
                if not any((h["rule_id"], h["matched"]) == (hit["rule_id"], hit["matched"]) for h in same):
                    same.append(hit)  # a cluster's ads hit the same words: each once
        for name in verdict.get("categories", []):
            if name in CATEGORIES and name not in names:
                names.append(name)
    names += [n for n in found if n not in names]
    made = [Candidate(n, tuple(found.get(n, []))) for n in names]
    return sorted(made, key=lambda c: -c.weight)


def for_ads(db: sqlite_utils.Database, ad_ids: Iterable[int]) -> list[Candidate]:
    return candidates(current_verdict(db, i) for i in ad_ids)


def agreed_category(found: list[Candidate]) -> str | None:
    """The category to pre-fill: the only candidate, else none (the reviewer picks)."""
    return found[0].category if len(found) == 1 else None


def describe(found: list[Candidate]) -> str:
    """Each candidate with the words that matched it: 收藏品/艺术品份额 (“艺术品份额”), …"""
    return "; ".join(f"{c.category} ({', '.join('“' + w + '”' for w in c.words[:4])})" for c in found)


def undecided_in_cluster(db: sqlite_utils.Database, cluster_id: int) -> list[int]:
    """The ads of a cluster not decided yet."""
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM ads WHERE cluster_id = ? AND status NOT IN ('confirmed', 'rejected') ORDER BY id",
            [cluster_id],
        )
    ]


def cluster_of(db: sqlite_utils.Database, ad_id: int) -> tuple[int, int] | None:
    """(cluster id, its number of ads) of an ad that has near-duplicates, else None."""
    row = db.execute(
        "SELECT a.cluster_id, (SELECT count(*) FROM ads c WHERE c.cluster_id = a.cluster_id) FROM ads a WHERE a.id = ?",
        [ad_id],
    ).fetchone()
    return (row[0], row[1]) if row and row[0] is not None and row[1] > 1 else None


def cluster_members(db: sqlite_utils.Database, cluster_id: int) -> list[dict[str, Any]]:
    """The ads of a cluster, oldest first: what the cluster page lists (the claim as it holds now)."""
    rows = db.execute(
        f"""SELECT a.id, a.title, a.site, a.platform, a.status, a.first_seen, v.label, v.score, v.categories,
                   CASE WHEN {held("q")} THEN q.claimed_by END, q.state = 'escalated'
            FROM ads a LEFT JOIN queue q ON q.ad_id = a.id
            LEFT JOIN verdicts v ON v.id = (SELECT max(id) FROM verdicts WHERE ad_id = a.id)
            WHERE a.cluster_id = ? ORDER BY a.id""",
        [now_utc(), cluster_id],
    ).fetchall()
    keys = (
        "ad_id",
        "title",
        "site",
        "platform",
        "status",
        "first_seen",
        "label",
        "score",
        "categories",
        "claimed_by",
        "escalated",
    )
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["categories"] = json.loads(item["categories"] or "[]")
        item["decided"] = item["status"] in ("confirmed", "rejected")
        item["escalated"] = bool(item["escalated"])
        out.append(item)
    return out


def require_category(db: sqlite_utils.Database, ad_ids: list[int], what: str) -> str:
    """The category a confirmation of ``ad_ids`` takes when none is given: the only one their hits point at;
    else ``InvalidChoice`` listing the candidates (``what``: "ad 12", "cluster 4")."""
    found = for_ads(db, ad_ids)
    agreed = agreed_category(found)
    if agreed is not None:
        return agreed
    if not found:
        raise InvalidChoice(
            f"{what}: no rule hit names a category; choose one with --category (`adclear categories`)",
            zh=f"{what}：规则命中未指向任何类别，请选择一个类别",
        )
    raise InvalidChoice(
        f"{what}: the hits point at {len(found)} categories, choose one with --category: {describe(found)}",
        zh=f"{what}：规则命中指向 {len(found)} 个类别，请选择其一：{describe(found)}",
    )


@dataclass(frozen=True, slots=True)
class Clash:
    """An ad about to be decided whose near-duplicate ``other`` was decided the other way (``decision``)."""

    ad_id: int
    other: int
    decision: str  # confirmed or rejected: what ``other`` got
    detail: str  # its category or reject reason
    reviewer: str

    def brief(self) -> str:
        return f"#{self.other} {self.decision} ({self.detail}, by {self.reviewer})"


def _neighbours(db: sqlite_utils.Database, ad_id: int) -> list[int]:
    same = [
        r[0]
        for r in db.execute(
            "SELECT b.id FROM ads a JOIN ads b ON b.cluster_id = a.cluster_id AND b.id != a.id WHERE a.id = ? "
            "ORDER BY b.id",
            [ad_id],
        )
    ]
    verdict = current_verdict(db, ad_id) or {}
    near = [int(n["ad_id"]) for n in verdict.get("nearest") or [] if isinstance(n.get("ad_id"), int)]
    return same + [n for n in near if n not in same and n != ad_id]


def contradictions(db: sqlite_utils.Database, ad_ids: list[int], decision: str) -> list[Clash]:
    """The near-duplicates of ``ad_ids`` (outside them) whose standing decision is the opposite of ``decision``
    (``confirmed`` or ``rejected``)."""
    opposite = "rejected" if decision == "confirmed" else "confirmed"
    deciding = set(ad_ids)
    out: list[Clash] = []
    seen: set[int] = set()
    for ad_id in ad_ids:
        for other in _neighbours(db, ad_id):
            if other in deciding or other in seen:
                continue
            row = db.execute(
                "SELECT d.decision, coalesce(d.category, d.reason), d.reviewer FROM ads a "
                "JOIN decisions d ON d.ad_id = a.id AND d.reversed_seq IS NULL "
                "WHERE a.id = ? AND a.status = ? ORDER BY d.id DESC LIMIT 1",
                [other, opposite],
            ).fetchone()
            if row is not None:
                seen.add(other)
                out.append(Clash(ad_id, other, row[0], row[1], row[2]))
    return out


def check_despite(db: sqlite_utils.Database, ad_ids: list[int], decision: str, despite: str) -> dict[str, Any]:
    """Inside the decision's transaction: refuse (``Contradiction``) a decision against a near-duplicate's
    without a reason; else what the ledger and the audit log record of it (empty when nothing clashes)."""
    clashes = contradictions(db, ad_ids, decision)
    if not clashes:
        return {}
    if not despite.strip():
        listed = "; ".join(c.brief() for c in clashes)
        raise Contradiction(
            f"near-duplicates were decided the other way: {listed}; give the reason to decide so anyway "
            "(--despite), or have a supervisor reverse theirs first",
            tuple(clashes),
            zh=f"近似广告已作出相反决定：{listed}；如仍坚持，请说明理由，或请主管先更正其决定",
        )
    return {"despite": {"near_duplicates": sorted({c.other for c in clashes}), "reason": despite.strip()}}
