"""What the classifier says about one ad: ``Verdict`` and its ``Hit`` s, with Chinese explanations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from classifier.neighbours import Neighbour
from classifier.taxonomy import EXCULPATORY, SIGNALS

__all__ = ["LABELS", "Hit", "Verdict"]

Label = Literal["flag", "watch", "clear"]
LABELS: dict[str, str] = {"flag": "疑似违法集资广告", "watch": "可疑，低优先级复核", "clear": "未见集资特征"}
Kind = Literal["category", "signal", "exculpatory"]


@dataclass(slots=True)
class Hit:
    """One rule matching one place of the ad.

    ``start``/``end`` index the ORIGINAL string of ``field`` (the ``title`` or the ``text`` as given), so that
    ``text[start:end] == matched``. ``weight`` is what the hit scored (0 for rules in ``testing``; negative
    for exculpatory cues).
    """

    rule_id: str
    kind: Kind
    name: str  # the category, signal or exculpatory cue
    weight: float
    legal_basis: str
    matched: str
    start: int
    end: int
    field: Literal["title", "text"] = "text"
    status: Literal["active", "testing"] = "active"

    @property
    def category(self) -> str | None:
        return self.name if self.kind == "category" else None

    @property
    def signal(self) -> str | None:
        return self.name if self.kind == "signal" else None

    @property
    def exculpatory(self) -> str | None:
        return self.name if self.kind == "exculpatory" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "kind": self.kind,
            "name": self.name,
            "weight": self.weight,
            "legal_basis": self.legal_basis,
            "matched": self.matched,
            "start": self.start,
            "end": self.end,
            "field": self.field,
            "status": self.status,
        }

    def explain(self) -> str:
        where = "标题" if self.field == "title" else "正文"
        quoted = f"{where}“{self.matched}”"
        trial = "（试行规则，不计分）" if self.status == "testing" else ""
        if self.kind == "category":
            what = f"涉嫌类型【{self.name}】"
        elif self.kind == "signal":
            what = f"特征【{SIGNALS.get(self.name, (self.name,))[0]}】"
        else:
            what = f"排除线索【{EXCULPATORY.get(self.name, (self.name,))[0]}】"
        basis = f"，依据{self.legal_basis}" if self.legal_basis and self.kind != "exculpatory" else ""
        return f"规则 {self.rule_id} 命中{quoted}：{what}，分值 {self.weight:+g}{basis}{trial}"


@dataclass(slots=True)
class Verdict:
    """The classifier's answer for one ad."""

    score: float
    label: Label
    categories: list[str]
    hits: list[Hit]
    nearest: list[Neighbour] = field(default_factory=list)
    version: str = ""
    conditions: dict[str, bool] = field(default_factory=dict)  # legal conditions of SPC Art. 1 seen
    adjustments: list[str] = field(default_factory=list)  # neighbour effects, vetoes: Chinese one-liners

    @property
    def flagged(self) -> bool:
        return self.label == "flag"

    def explain(self) -> list[str]:
        """Chinese one-liners for reviewers: the verdict, each rule hit, each neighbour."""
        seen = "、".join(f"{k}{'✓' if v else '✗'}" for k, v in self.conditions.items())
        lines = [f"结论：{self.label}（{LABELS[self.label]}），得分 {self.score:g}" + (f"；{seen}" if seen else "")]
        if self.categories:
            lines.append("涉嫌类型：" + "、".join(self.categories))
        lines.extend(h.explain() for h in self.hits)
        lines.extend(self.adjustments)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "label": self.label,
            "categories": list(self.categories),
            "hits": [h.to_dict() for h in self.hits],
            "nearest": [n.to_dict() for n in self.nearest],
            "version": self.version,
        }
