"""What the classifier says about one ad: ``Verdict`` and its ``Hit`` s, with Chinese explanations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from classifier.neighbours import Neighbour
from classifier.taxonomy import EXCULPATORY, SIGNALS, text_kind

__all__ = ["LABELS", "Hit", "Verdict", "model_lines", "rule_feature_name"]

Label = Literal["flag", "watch", "clear"]
LABELS: dict[str, str] = {"flag": "疑似违法集资广告", "watch": "可疑，低优先级复核", "clear": "未见集资特征"}
Kind = Literal["category", "signal", "exculpatory"]


@dataclass(slots=True)
class Hit:
    """One rule matching one place of the ad.

    ``start``/``end`` index the ORIGINAL string of ``field`` (the ``title`` or the ``text`` as given), so that
    ``text[start:end] == matched``. ``weight`` is what the hit scored (0 for rules in ``shadow`` status; negative
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
    status: Literal["active", "shadow", "testing"] = "active"  # "testing": shadow, as stored by earlier versions

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
        trial = "（试行规则，不计分）" if self.status in ("shadow", "testing") else ""
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
    rules_label: str = ""  # what the rules alone said
    # the learned scorer: {"version", "score", "label", "explain"} or {"version": None, "error"}; {} for none
    model: dict[str, Any] = field(default_factory=dict)
    # the near-duplicate fingerprint of the text compared with decided ads (``classifier.neardup.records_of``),
    # when neighbours were asked; None otherwise. Not part of ``to_dict``: it is stored beside the verdict.
    fingerprint: dict[str, Any] | None = None

    @property
    def flagged(self) -> bool:
        return self.label == "flag"

    def explain(self) -> list[str]:
        """Chinese one-liners for reviewers: the verdict, each rule hit, each neighbour."""
        seen = "、".join(f"{k}{'✓' if v else '✗'}" for k, v in self.conditions.items())
        lines = [f"结论：{self.label}（{LABELS[self.label]}），得分 {self.score:g}" + (f"；{seen}" if seen else "")]
        if self.categories:
            lines.append("涉嫌类型：" + "、".join(self.categories))
        lines.extend(model_lines(self.model, self.rules_label))
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
            "rules_label": self.rules_label,
            "model": self.model,
        }


_RULE_FEATURE_NAMES = {  # the rules' totals per legal condition ("合计"), told apart from the single cues
    "rules.inducement": "利诱性合计",
    "rules.scheme": "集资类型合计",
    "rules.publicity": "公开性合计",
    "rules.backing": "虚假背书合计",
    "rules.licensed": "持牌机构合计",
    "rules.exculpatory": "排除线索合计",
    "rules.flag": "规则判为疑似",
    "rules.watch": "规则判为可疑",
    "rules.category": "规则找到集资类型",
}


def rule_feature_name(name: str) -> str:
    """A rule feature of the learned scorer (``features.RULE_FEATURES``) as a reviewer reads it: a group of the
    rules, or a signal or exculpatory cue by the name the hits give it (``cue.ordinary`` → 普通商业或生活内容)."""
    cue = name.removeprefix("cue.")
    if cue != name:
        return (SIGNALS.get(cue) or EXCULPATORY.get(cue) or (cue,))[0]
    return _RULE_FEATURE_NAMES.get(name, name)


def model_lines(model: dict[str, Any], rules_label: str = "") -> list[str]:
    """Chinese one-liners on the learned scorer's part of a verdict (``Verdict.model`` or a stored one)."""
    if not model:
        return []
    if model.get("error"):
        return ["模型：未使用（" + str(model["error"]) + "），仅按规则判断"]
    line = f"模型：分数 {model.get('score', 0):.2f}，模型结论 {model.get('label', '')}"
    if "flag_at" in model:
        line += f"（≥{model['flag_at']:.2f} 疑似，≥{model['watch_at']:.2f} 可疑）"
    if rules_label:
        line += f"；规则结论 {rules_label}"
    lines = [line + f"；{model.get('version', '')}"]
    explain = model.get("explain") or {}
    if explain.get("versus"):
        lines.append(f"模型认为此文最接近的一类（以下权重即与之相比）：{text_kind(str(explain['versus']))}")
    if explain.get("for"):
        lines.append("模型加权最高的字串：" + "、".join(f"“{g}” {c:+.2f}" for g, c in explain["for"]))
    if explain.get("against"):
        lines.append("模型减分的字串：" + "、".join(f"“{g}” {c:+.2f}" for g, c in explain["against"]))
    if explain.get("rules"):
        parts = [f"{rule_feature_name(k)} {v:+.2f}" for k, v in explain["rules"].items()]
        lines.append("模型对规则结果的权重：" + "、".join(parts))
    return lines
