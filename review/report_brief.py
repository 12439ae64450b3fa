"""What a report says, in words, tables and charts, before any file format: one ``Brief`` from one ``Statistics``.

The Word brief (``report_docx``) and the HTML page (``report_html``) both print a ``Brief``, and the workbook
(``report_xlsx``) draws its native charts from the same ``ChartSpec``s, so a number in a sentence, in a table
and under a chart is the same number: each is read from the ``Statistics`` once, here.

The sections follow the usual order of a 工作简报/工作总结: 一、工作开展情况 (the numbers in sentences),
二、主要数据 (tables and charts), 三、存在的问题 (overdue and reappeared takedowns, named from the figures, with
the overdue list), 四、下一步工作 (what follows from them). The wording is a draft an office edits before it
sends it: every sentence is built from figures, none claims what the figures do not show.

A report of a whole campaign that has ended (its period covers every phase, or is the campaign's own, and the
report is dated after it) is a 工作总结; every other (a phase, a week, a campaign still running) is a 工作简报.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from review.export_xlsx import display_width
from review.statistics import BREAKDOWNS, METRICS, Durations, Period, Row, Statistics

__all__ = [
    "CHART_TOP",
    "TABLE_COLUMNS",
    "Brief",
    "ChartSpec",
    "Section",
    "Table",
    "brief",
    "chart_specs",
    "chinese_date",
    "clean",
    "hours_text",
    "rate_text",
]

# The columns of each breakdown's table in the brief (the workbook has every metric).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "week": ("sightings", "ads_seen", "flagged", "confirmed", "takedowns_requested", "takedowns_removed"),
    "site": ("pages", "ads_seen", "flagged", "confirmed", "takedowns_removed", "takedowns_overdue"),
    "category": ("flagged", "confirmed", "rejected", "takedowns_requested", "takedowns_removed"),
    "region": ("ads_seen", "flagged", "confirmed", "takedowns_removed", "tips_received"),
    "reviewer": ("confirmed", "rejected"),
}
FUNNEL = ("flagged", "confirmed", "takedowns_requested", "takedowns_dispatched", "takedowns_removed")
CHART_TOP = 12  # bars in a drawn chart; the tables list every row
OVERDUE_SHOWN = 20  # overdue takedowns listed in the brief; the workbook lists all
_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Crawled text as a document can hold it: characters XML refuses are dropped."""
    return _XML_UNSAFE.sub("", text)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def period_text(period: Period) -> str:
    return f"{chinese_date(period.start)}至{chinese_date(period.end)}"


def _one_decimal(value: float) -> str:
    """Rounded half up, as a spreadsheet shows it (5.25 → 5.3; Python's format would give 5.2)."""
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def rate_text(rate: float | None) -> str:
    return "—" if rate is None else f"{_one_decimal(rate * 100)}%"


def hours_text(value: float | None) -> str:
    return "—" if value is None else _one_decimal(value)


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def shares(self) -> tuple[float, ...]:
        """Each column's share of the table's width, from the text it holds (a header may wrap onto two lines;
        a long URL wraps too, but gets the most room)."""
        widths = []
        for c, title in enumerate(self.header):
            widest = max([(display_width(title) + 1) // 2, *(display_width(row[c]) for row in self.rows)])
            widths.append(min(max(widest, 8), 24) + 2)
        total = sum(widths)
        return tuple(w / total for w in widths)


@dataclass(frozen=True)
class ChartSpec:
    """One chart: bars or lines over ``categories``, a series per metric. ``source`` names the breakdown (or
    "totals") the values come from and ``metrics`` their keys, so a workbook can point its chart at its cells."""

    key: str  # trend, category, site, funnel
    title: str
    kind: str  # line | bar | funnel
    source: str
    metrics: tuple[str, ...]
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def empty(self) -> bool:
        return not self.categories or not any(v for _, values in self.series for v in values)


@dataclass(frozen=True)
class Section:
    heading: str  # 一、工作开展情况 …
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[ChartSpec, ...] = ()


@dataclass(frozen=True)
class Brief:
    kind: str  # 工作简报 | 工作总结
    masthead: str  # the 版头 of a 简报, "专项整治工作简报"; none for a 总结
    title: str  # the document's title
    office: str
    dated: str  # 成文日期, Chinese
    period: str
    sections: tuple[Section, ...] = field(default=())


def _is_summary(stats: Statistics, today: date) -> bool:
    if not stats.phases:
        return False
    first, last = stats.phases[0][1], stats.phases[-1][1]
    return stats.period.start <= first.start and stats.period.end >= last.end and today > stats.period.end


def _rows(stats: Statistics, key: str) -> list[Row]:
    return list(stats.breakdowns.get(key, []))


def _top(rows: list[Row], metric: str) -> list[Row]:
    ranked = sorted(rows, key=lambda r: -r.counts.get(metric, 0))
    return [r for r in ranked[:CHART_TOP] if r.counts.get(metric, 0)]


def chart_specs(stats: Statistics) -> tuple[ChartSpec, ...]:
    """The four charts: the weekly trend, flagged and confirmed by category and by site, the takedown funnel."""

    def of(rows: list[Row], metrics: tuple[str, ...]) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((METRICS[m], tuple(r.counts.get(m, 0) for r in rows)) for m in metrics)

    weeks = _rows(stats, "week")
    trend = ("flagged", "confirmed", "takedowns_removed")
    pair = ("flagged", "confirmed")
    categories, sites = _top(_rows(stats, "category"), "flagged"), _top(_rows(stats, "site"), "flagged")
    totals = stats.totals
    return (
        ChartSpec("trend", "按周趋势", "line", "week", trend, tuple(r.label for r in weeks), of(weeks, trend)),
        ChartSpec(
            "category", "按涉嫌类型", "bar", "category", pair, tuple(r.label for r in categories), of(categories, pair)
        ),
        ChartSpec("site", "按网站/平台", "bar", "site", pair, tuple(r.label for r in sites), of(sites, pair)),
        ChartSpec(
            "funnel",
            "处置漏斗",
            "funnel",
            "totals",
            FUNNEL,
            tuple(METRICS[m] for m in FUNNEL),
            (("条数", tuple(totals.get(m, 0) for m in FUNNEL)),),
        ),
    )


def _took(step: str, d: Durations) -> str:
    """ "从首次发现到确认的中位时长为 …" or nothing when no ad took the step in the period."""
    if not d.count or d.median_hours is None:
        return ""
    return f"{step}的中位时长为{hours_text(d.median_hours)}小时，90%在{hours_text(d.p90_hours)}小时以内。"


def _work_done(stats: Statistics) -> Section:
    t, office = stats.totals, clean(stats.office) or "我单位"
    paragraphs = [
        f"{period_text(stats.period)}，{office}围绕“{clean(stats.title)}”开展互联网非法集资广告监测，"
        f"共监测网站{t['sites']}个、页面{t['pages']}个，监测{t['sightings']}条次，"
        f"发现广告{t['ads_seen']}条，新发现疑似违法广告{t['flagged']}条。"
    ]
    if stats.phases:
        named = "、".join(f"{clean(name)}（{period_text(p)}）" for name, p in stats.phases)
        paragraphs.insert(0, f"本次专项整治分{len(stats.phases)}个阶段：{named}。")
    paragraphs.append(
        f"经人工审核，确认违法广告{t['confirmed']}条，驳回{t['rejected']}条，"
        + ("尚无审核结论，未计算违法率。" if stats.illegal_rate is None else f"违法率{rate_text(stats.illegal_rate)}。")
        + _took("从首次发现到确认", stats.time_to_confirm)
    )
    paragraphs.append(
        f"提请处置{t['takedowns_requested']}条，已交办{t['takedowns_dispatched']}条，已删除{t['takedowns_removed']}条，"
        f"逾期未处置{t['takedowns_overdue']}条，删除后复现{t['takedowns_reappeared']}条。"
        + _took("从确认到删除", stats.time_to_removal)
    )
    paragraphs.append(
        f"受理群众举报线索{t['tips_received']}条，核查属实{t['tips_verified']}条，转处置{t['tips_to_takedowns']}条。"
    )
    return Section("一、工作开展情况", tuple(paragraphs))


def _breakdown_table(stats: Statistics, key: str) -> Table | None:
    rows = _rows(stats, key)
    if not rows:
        return None
    columns = TABLE_COLUMNS[key]
    body = tuple((clean(r.label), *(str(r.counts.get(m, 0)) for m in columns)) for r in rows)
    name = {"week": "周次", "site": "网站/平台", "category": "涉嫌类型", "region": "地区", "reviewer": "审核人员"}[key]
    return Table(
        f"{BREAKDOWNS[key]}统计",
        (name, *(METRICS[m] for m in columns)),
        body,
    )


def _figures(stats: Statistics) -> Section:
    totals = Table("主要指标", ("指标", "数值"), tuple((label, str(stats.totals[k])) for k, label in METRICS.items()))
    tables = [totals]
    for key in ("week", "category", "site", "region", "reviewer"):
        table = _breakdown_table(stats, key)
        if table is not None:
            tables.append(table)
    charts = tuple(c for c in chart_specs(stats) if not c.empty)
    where = "表1" if len(tables) == 1 else f"表1至表{len(tables)}"
    lead = f"本期主要数据见{where}" + ("，趋势与构成见下图。" if charts else "。")
    return Section("二、主要数据", (lead,), tuple(tables), charts)


def _numbered_items(items: list[str]) -> tuple[str, ...]:
    """（一）（二）… before each item, when there is more than one."""
    if len(items) == 1:
        return tuple(items)
    return tuple(f"（{'一二三四五六七八九十'[i]}）{text}" for i, text in enumerate(items))


def _problems(stats: Statistics) -> Section:
    t = stats.totals
    said: list[str] = []
    if t["takedowns_overdue"]:
        receivers = "、".join(dict.fromkeys(clean(i.receiver) for i in stats.overdue if i.receiver)) or "有关单位"
        said.append(f"处置时效有待提高。截至统计日，有{t['takedowns_overdue']}条违法广告逾期未处置，涉及{receivers}。")
    if t["takedowns_reappeared"]:
        said.append(f"违法广告反复出现。有{t['takedowns_reappeared']}条违法广告删除后再次出现，需持续复查。")
    if not said:
        said.append("本期未发现逾期未处置和删除后复现的情况。")
    numbered = _numbered_items(said)
    tables: tuple[Table, ...] = ()
    if stats.overdue:
        shown = stats.overdue[:OVERDUE_SHOWN]
        rows = tuple(
            (str(i.takedown_id), clean(i.site), clean(i.receiver), i.deadline, str(i.days_overdue), clean(i.url))
            for i in shown
        )
        more = f"（共{len(stats.overdue)}条，列出前{len(shown)}条）" if len(stats.overdue) > len(shown) else ""
        header = ("处置编号", "网站/平台", "接收单位", "处置期限", "逾期天数", "网址")
        tables = (Table(f"逾期未处置清单{more}", header, rows),)
    return Section("三、存在的问题", numbered, tables)


def _next_steps(stats: Statistics) -> Section:
    t = stats.totals
    steps = ["持续做好日常监测，扩大监测网站和平台覆盖面，提高疑似违法广告的发现和审核效率。"]
    if t["takedowns_overdue"]:
        steps.append("督促有关单位和平台在期限内完成处置，对逾期未处置的逐条跟踪、通报。")
    if t["takedowns_reappeared"]:
        steps.append("对删除后复现的违法广告加强复查，对反复发布的主体依法从严处理。")
    steps.append("做好群众举报线索的受理、核查和反馈工作，依法保护举报人信息。")
    numbered = _numbered_items(steps)
    return Section("四、下一步工作", numbered)


def brief(stats: Statistics, today: date, *, whole: bool = False) -> Brief:
    """The report's words, tables and charts; ``today`` (China) is the date it is signed. ``whole``: the period is
    the campaign's own (a campaign without phases can say so only this way)."""
    summary = _is_summary(stats, today) or (whole and today > stats.period.end)
    title = clean(stats.title)
    return Brief(
        kind="工作总结" if summary else "工作简报",
        masthead="" if summary else "专项整治工作简报",
        title=f"{title}工作总结" if summary else f"{title}工作进展情况",
        office=clean(stats.office),
        dated=chinese_date(today),
        period=period_text(stats.period),
        sections=_numbered((_work_done(stats), _figures(stats), _problems(stats), _next_steps(stats))),
    )


def _numbered(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    """Tables numbered 表1, 表2 … through the whole report, in the order they are printed."""
    done, n = [], 0
    for section in sections:
        tables = []
        for table in section.tables:
            n += 1
            tables.append(Table(f"表{n} {table.caption}", table.header, table.rows))
        done.append(Section(section.heading, section.paragraphs, tuple(tables), section.charts))
    return tuple(done)
