"""专项整治: campaigns, their phases and scope, whose numbers ``review.statistics`` counts.

A campaign is a name, its office (发文机关), its first and last day (China time, both included), its scope
(sites, regions, categories: empty means all) and its phases (部署落实, 排查整治, 督导总结 …), each a named run
of days inside the campaign's, not overlapping another. Creating a campaign and adding a phase are recorded in
the audit log. A campaign can be written as a YAML file (``load_file``); a value that does not fit is refused
with its line::

    name: 2026年冬季打击非法集资宣传专项行动
    office: 示范县处置非法集资工作领导小组办公室
    from: 2026-11-16
    to: 2026-12-31
    scope: {sites: [demo-classifieds], regions: [], categories: []}
    phases:
      - {name: 部署落实, from: 2026-11-16, to: 2026-11-22}
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils

from classifier import taxonomy
from classifier.yamlsource import YamlProblem, load_located
from core.db import immediate
from core.errors import AdclearError
from core.timeutil import now_utc
from review import audit

__all__ = [
    "Campaign",
    "CampaignError",
    "CampaignSpec",
    "Phase",
    "add_phase",
    "create",
    "get",
    "listing",
    "load_file",
    "parse_day",
]

MAX_NAME = 200


class CampaignError(AdclearError):
    """A campaign or phase that cannot be made or found (bad dates, a name taken, a phase outside its days)."""


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What a campaign is made from (the command line's options or a YAML file)."""

    name: str
    starts_on: date
    ends_on: date
    office: str = ""
    sites: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    office: str
    starts_on: date
    ends_on: date
    sites: list[str]
    regions: list[str]
    categories: list[str]
    created_by: str
    created_at: str
    phases: list[Phase] = field(default_factory=list)

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        names = "、".join(p.name for p in self.phases) or "none yet"
        raise CampaignError(
            f"campaign {self.name!r} has no phase {name!r} (its phases: {names})",
            zh=f"专项行动“{self.name}”没有名为“{name}”的阶段（现有阶段：{names}）",
        )


def parse_day(value: Any, what: str) -> date:
    """A day as written (YYYY-MM-DD, or a date YAML read); ``CampaignError`` naming ``what`` otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CampaignError(
            f"{what} must be a day YYYY-MM-DD, not {str(value)!r}", zh=f"{what} 应为日期（YYYY-MM-DD），不是“{value}”"
        ) from None


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise CampaignError(
            f"{what} must be 1 to {MAX_NAME} printable characters, not {name!r}",
            zh=f"{what} 应为 1 至 {MAX_NAME} 个可打印字符，不是“{name}”",
        )
    return name


def _check_spec(spec: CampaignSpec) -> CampaignSpec:
    name = _check_name(spec.name, "a campaign's name")
    if spec.starts_on > spec.ends_on:
        raise CampaignError(
            f"campaign {name!r} ends ({spec.ends_on}) before it starts ({spec.starts_on})",
            zh=f"专项行动“{name}”的结束日期（{spec.ends_on}）早于开始日期（{spec.starts_on}）：请改正日期",
        )
    unknown = [c for c in spec.categories if c not in taxonomy.CATEGORIES]
    if unknown:
        raise CampaignError(
            f"unknown category {unknown[0]!r}; one of: {'、'.join(taxonomy.CATEGORIES)}",
            zh=f"未知的类别“{unknown[0]}”，可选：{'、'.join(taxonomy.CATEGORIES)}",
        )
    phases: list[Phase] = []
    for p in spec.phases:
        _check_phase(name, spec.starts_on, spec.ends_on, phases, p)
        phases.append(p)
    return spec


def _check_phase(campaign: str, first: date, last: date, others: list[Phase], p: Phase) -> None:
    _check_name(p.name, "a phase's name")
    if p.starts_on > p.ends_on:
        raise CampaignError(
            f"phase {p.name!r} ends ({p.ends_on}) before it starts ({p.starts_on})",
            zh=f"阶段“{p.name}”的结束日期（{p.ends_on}）早于开始日期（{p.starts_on}）：请改正日期",
        )
    if p.starts_on < first or p.ends_on > last:
        raise CampaignError(
            f"phase {p.name!r} ({p.starts_on} to {p.ends_on}) lies outside campaign {campaign!r} ({first} to {last})",
            zh=f"阶段“{p.name}”（{p.starts_on} 至 {p.ends_on}）超出专项行动“{campaign}”的起止日期（{first} 至 {last}）",
        )
    for o in others:
        if o.name == p.name:
            raise CampaignError(
                f"campaign {campaign!r} already has a phase {p.name!r}",
                zh=f"专项行动“{campaign}”已有名为“{p.name}”的阶段：请换一个名称",
            )
        if p.starts_on <= o.ends_on and o.starts_on <= p.ends_on:
            raise CampaignError(
                f"phase {p.name!r} overlaps phase {o.name!r} ({o.starts_on} to {o.ends_on})",
                zh=f"阶段“{p.name}”与阶段“{o.name}”（{o.starts_on} 至 {o.ends_on}）时间重叠：请调整日期",
            )


def create(db: sqlite_utils.Database, spec: CampaignSpec, *, actor: str, address: str = "cli") -> Campaign:
    """Record a new campaign with its phases (audited); ``CampaignError`` when it does not fit."""
    spec = _check_spec(spec)
    scope = {"sites": list(spec.sites), "regions": list(spec.regions), "categories": list(spec.categories)}
    with immediate(db):
        if db.execute("SELECT 1 FROM campaigns WHERE name = ?", [spec.name.strip()]).fetchone():
            raise CampaignError(
                f"a campaign named {spec.name.strip()!r} exists already (see `adclear campaign list`)",
                zh=f"已有名为“{spec.name.strip()}”的专项行动：请换一个名称",
            )
        cursor = db.execute(
            """INSERT INTO campaigns (name, office, starts_on, ends_on, scope, created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [spec.name.strip(), spec.office.strip(), spec.starts_on.isoformat(), spec.ends_on.isoformat(),
             json.dumps(scope, ensure_ascii=False), actor, now_utc()],
        )  # fmt: skip
        campaign_id = int(cursor.lastrowid or 0)
        for p in spec.phases:
            _insert_phase(db, campaign_id, p)
        detail = {"name": spec.name.strip(), "from": spec.starts_on.isoformat(), "to": spec.ends_on.isoformat(),
                  "scope": scope, "phases": [p.name for p in spec.phases]}  # fmt: skip
        audit.record(db, actor=actor, action="campaign_create", target=f"campaign:{campaign_id}", detail=detail,
                     address=address)  # fmt: skip
    return get(db, spec.name.strip())


def _insert_phase(db: sqlite_utils.Database, campaign_id: int, p: Phase) -> None:
    db.execute(
        "INSERT INTO campaign_phases (campaign_id, name, starts_on, ends_on) VALUES (?, ?, ?, ?)",
        [campaign_id, p.name.strip(), p.starts_on.isoformat(), p.ends_on.isoformat()],
    )


def add_phase(db: sqlite_utils.Database, campaign: str, p: Phase, *, actor: str, address: str = "cli") -> Campaign:
    """Add a phase to a campaign (audited): inside its days, overlapping none of its other phases."""
    p = Phase(p.name.strip(), p.starts_on, p.ends_on)
    with immediate(db):
        c = get(db, campaign)
        _check_phase(c.name, c.starts_on, c.ends_on, c.phases, p)
        _insert_phase(db, c.id, p)
        detail = {"phase": p.name, "from": p.starts_on.isoformat(), "to": p.ends_on.isoformat()}
        audit.record(db, actor=actor, action="campaign_phase", target=f"campaign:{c.id}", detail=detail,
                     address=address)  # fmt: skip
    return get(db, campaign)


_COLUMNS = "id, name, office, starts_on, ends_on, scope, created_by, created_at"


def _campaign(db: sqlite_utils.Database, row: Any) -> Campaign:
    scope = json.loads(row[5] or "{}")
    phases = [
        Phase(n, date.fromisoformat(a), date.fromisoformat(b))
        for n, a, b in db.execute(
            "SELECT name, starts_on, ends_on FROM campaign_phases WHERE campaign_id = ? ORDER BY starts_on, id",
            [row[0]],
        )
    ]
    return Campaign(
        row[0], row[1], row[2], date.fromisoformat(row[3]), date.fromisoformat(row[4]), scope.get("sites", []),
        scope.get("regions", []), scope.get("categories", []), row[6], row[7], phases,
    )  # fmt: skip


def get(db: sqlite_utils.Database, name: str) -> Campaign:
    row = db.execute(f"SELECT {_COLUMNS} FROM campaigns WHERE name = ?", [name.strip()]).fetchone()
    if row is None:
        raise CampaignError(
            f"no campaign named {name.strip()!r} (see `adclear campaign list`)",
            zh=f"没有名为“{name.strip()}”的专项行动",
        )
    return _campaign(db, row)


def listing(db: sqlite_utils.Database) -> list[Campaign]:
    """Every campaign, the latest first."""
    return [_campaign(db, r) for r in db.execute(f"SELECT {_COLUMNS} FROM campaigns ORDER BY starts_on DESC, id DESC")]


# --- a campaign written as YAML ----------------------------------------------------------------------------------
_KEYS = {"name", "office", "from", "to", "scope", "phases"}


def load_file(path: Path) -> CampaignSpec:
    """A campaign from a YAML file; ``CampaignError`` naming the file and the line of what does not fit."""
    try:
        located = load_located(path)
    except YamlProblem as e:
        raise CampaignError(
            f"{path} line {e.line or 1}: {e.problem}", zh=f"{path} 第 {e.line or 1} 行有误：{e.problem}"
        ) from None
    except OSError as e:
        raise CampaignError(f"{path}: cannot read it ({e.strerror})", zh=f"无法读取 {path}（{e.strerror}）") from None
    data = located.data

    def fail(where: tuple[Any, ...], problem: str) -> CampaignError:
        return CampaignError(
            f"{path} line {located.line_of(where)}: {problem}",
            zh=f"{path} 第 {located.line_of(where)} 行有误：{problem}",
        )

    if not isinstance(data, dict):
        raise fail((), "a campaign is a mapping with name, office, from, to, scope and phases")
    for key in data:
        if key not in _KEYS:
            raise fail((key,), f"unknown key {key!r} (one of: {', '.join(sorted(_KEYS))})")
    for key in ("name", "from", "to"):
        if data.get(key) in (None, ""):
            raise fail((), f"a campaign needs {key!r}")
    spec = _spec_of(data, fail)
    checks: list[tuple[tuple[Any, ...], Any]] = [
        (("name",), lambda: _check_spec(CampaignSpec(spec.name, spec.starts_on, spec.starts_on))),
        (("to",), lambda: _check_spec(CampaignSpec(spec.name, spec.starts_on, spec.ends_on))),
        (("scope", "categories"), lambda: _check_spec(dataclasses.replace(spec, phases=()))),
    ]
    for i, phase in enumerate(spec.phases):
        checks.append((("phases", i), lambda i=i, phase=phase: _check_phase(
            spec.name, spec.starts_on, spec.ends_on, list(spec.phases[:i]), phase)))  # fmt: skip
    for where, check in checks:
        try:
            check()
        except CampaignError as e:
            raise fail(where, str(e)) from None
    return spec


def _spec_of(data: dict[str, Any], fail: Any) -> CampaignSpec:
    def day(where: tuple[Any, ...], what: str) -> date:
        value: Any = data
        for k in where:
            value = value[k]
        try:
            return parse_day(value, what)
        except CampaignError as e:
            raise fail(where, str(e)) from None

    scope = data.get("scope") or {}
    if not isinstance(scope, dict) or set(scope) - {"sites", "regions", "categories"}:
        raise fail(("scope",), "scope is a mapping of sites, regions and categories, each a list")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("sites", "regions", "categories"):
        value = scope.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(("scope", key), f"scope.{key} is a list of names")
        lists[key] = tuple(value)
    phases = []
    for i, p in enumerate(data.get("phases") or []):
        if not isinstance(p, dict) or set(p) != {"name", "from", "to"}:
            raise fail(("phases", i), "a phase is a mapping of name, from and to")
        phase = Phase(str(p["name"]), day(("phases", i, "from"), "from"), day(("phases", i, "to"), "to"))
        phases.append(phase)
    return CampaignSpec(
        name=str(data["name"]), starts_on=day(("from",), "from"), ends_on=day(("to",), "to"),
        office=str(data.get("office") or ""), phases=tuple(phases), **lists,
    )  # fmt: skip
