"""Statistics built by hand for the report tests: every count different, so that a number read back from a file
can only match the one it came from; crawled-looking text that is hostile (formulas, markup, control bytes)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from review.statistics import METRICS, Durations, OverdueItem, Period, Row, Scope, Statistics

HOSTILE_URL = '=HYPERLINK("http://evil.example/","<b>点我</b>")\x07'
HOSTILE_SITE = "<script>alert(1)</script>理财网"
FORMULA_SITE = "=1+1理财"  # a site name a spreadsheet would compute


def counts(base: int) -> dict[str, int]:
    """Every metric, each a distinct number derived from ``base``."""
    return {key: base * 100 + i for i, key in enumerate(METRICS)}


def sample(*, weeks: int = 3, overdue: int = 3) -> Statistics:
    mondays = [date(2026, 11, 16) + timedelta(weeks=i) for i in range(weeks)]
    week_rows = [
        Row(f"2026-W{47 + i}", f"2026-W{47 + i}（{m:%m-%d} 至 {m + timedelta(days=6):%m-%d}）", counts(i + 1))
        for i, m in enumerate(mondays)
    ]
    sites = [
        Row("demo-classifieds", "示范分类信息网", counts(5)),
        Row(HOSTILE_SITE, HOSTILE_SITE, counts(6)),
        Row(FORMULA_SITE, FORMULA_SITE, counts(13)),
    ]
    categories = [
        Row("保本高收益", "承诺保本高收益", counts(7)),
        Row("虚构项目", "虚构投资项目", counts(8)),
        Row("原始股", "销售原始股", counts(9)),
    ]
    regions = [Row("110105", "朝阳区", counts(10))]
    reviewers = [Row("li", "李审核", counts(11)), Row("wang", "王审核", counts(12))]
    items = [
        OverdueItem(
            900 + i,
            40 + i,
            HOSTILE_URL if i == 0 else f"http://demo.example/ad/{i}",
            HOSTILE_SITE,
            "市市场监管局",
            "2026-11-30",
            3 + i,
        )
        for i in range(overdue)
    ]
    totals = {key: 1000 + 37 * i for i, key in enumerate(METRICS)}
    return Statistics(
        title="打击非法集资广告专项整治",
        office="示范市防范和处置非法集资工作领导小组办公室",
        period=Period(date(2026, 11, 16), date(2026, 12, 6)),
        scope=Scope(),
        generated_at="2026-12-03T01:00:00Z",
        totals=totals,
        illegal_rate=totals["confirmed"] / (totals["confirmed"] + totals["rejected"]),
        time_to_confirm=Durations(totals["confirmed"], 5.25, 30.5),
        time_to_removal=Durations(totals["takedowns_removed"], 49.0, 120.75),
        breakdowns={"week": week_rows, "site": sites, "category": categories, "region": regions, "reviewer": reviewers},
        overdue=items,
        phases=[
            ("部署落实", Period(date(2026, 11, 16), date(2026, 11, 22))),
            ("排查整治", Period(date(2026, 11, 23), date(2026, 11, 29))),
            ("督导总结", Period(date(2026, 11, 30), date(2026, 12, 6))),
        ],
    )


def empty() -> Statistics:
    """A period in which nothing happened: every count zero, no rows, nothing decided, no office named."""
    return dataclasses.replace(
        sample(),
        office="",
        period=Period(date(2027, 1, 4), date(2027, 1, 10)),
        totals=dict.fromkeys(METRICS, 0),
        illegal_rate=None,
        time_to_confirm=Durations(0, None, None),
        time_to_removal=Durations(0, None, None),
        breakdowns={key: [] for key in ("week", "site", "category", "region", "reviewer")},
        overdue=[],
        phases=[],
    )
