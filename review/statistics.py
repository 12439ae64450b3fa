"""量化统计: a campaign's or a date range's numbers, derived from the ledger, sightings and crawl runs.

Nothing here keeps a counter of its own: every figure is counted from the rows that record what happened
(crawl_runs, pages, sightings, verdicts, the ledger and the takedowns it derives, tips), so a figure can always
be recounted from them. ``adclear stats``, the web dashboard and the reports all read one ``Statistics``.

Periods are days in China time (Asia/Shanghai), both ends included; the database keeps UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "BREAKDOWNS",
    "METRICS",
    "Durations",
    "OverdueItem",
    "Period",
    "Row",
    "Scope",
    "Statistics",
]

# Every count, in the order tables and reports show them, with its Chinese label.
METRICS: dict[str, str] = {
    "sites": "监测网站数",
    "pages": "监测页面数",
    "sightings": "监测条次",
    "ads_seen": "发现广告数",
    "flagged": "疑似违法广告",
    "confirmed": "确认违法广告",
    "rejected": "驳回（非违法）",
    "takedowns_requested": "提请处置",
    "takedowns_dispatched": "已交办",
    "takedowns_removed": "已删除",
    "takedowns_overdue": "逾期未处置",
    "takedowns_reappeared": "删除后复现",
    "tips_received": "受理举报线索",
    "tips_verified": "线索核查属实",
    "tips_to_takedowns": "线索转处置",
}

# The breakdowns, each a list of rows with the same keys as METRICS (a count that has no meaning for a
# breakdown, such as sites per site, is still given).
BREAKDOWNS: dict[str, str] = {
    "week": "按周",
    "site": "按网站/平台",
    "category": "按涉嫌类型",
    "region": "按地区",
    "reviewer": "按审核人员",
}


@dataclass(frozen=True)
class Period:
    """Days in China time, both included."""

    start: date
    end: date

    def label(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"


@dataclass(frozen=True)
class Scope:
    """What a campaign watches; an empty tuple means everything."""

    sites: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Durations:
    """How long a step took, over the ads that took it within the period; hours, None when none did."""

    count: int
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: ``key`` as stored (ISO week "2026-W48", site name, category …), ``label`` as shown."""

    key: str
    label: str
    counts: dict[str, int]


@dataclass(frozen=True)
class OverdueItem:
    takedown_id: int
    ad_id: int
    url: str
    site: str
    receiver: str
    deadline: str  # YYYY-MM-DD
    days_overdue: int


@dataclass(frozen=True)
class Statistics:
    """Everything a dashboard or a report shows, for one period and scope."""

    title: str  # the campaign's name (and phase), or the period's label
    office: str  # who reports (campaign office, or seeds.yml operator)
    period: Period
    scope: Scope
    generated_at: str  # UTC ISO 8601
    totals: dict[str, int]  # every key of METRICS
    illegal_rate: float | None  # confirmed / (confirmed + rejected); None when nothing was decided
    time_to_confirm: Durations  # first seen → confirmation
    time_to_removal: Durations  # confirmation → removal verified (or reported removed)
    breakdowns: dict[str, list[Row]] = field(default_factory=dict)  # every key of BREAKDOWNS
    overdue: list[OverdueItem] = field(default_factory=list)
    phases: list[tuple[str, Period]] = field(default_factory=list)  # a campaign's phases, in order
