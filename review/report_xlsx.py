"""A campaign's statistics as an XLSX workbook with native Excel charts (openpyxl).

Sheets: 汇总 (every total, the illegal rate, the time taken to confirm and to remove, and the takedown funnel
with its bar chart), one sheet per breakdown (按周 with a line chart of the weekly trend, 按涉嫌类型 and
按网站平台 each with a bar chart of flagged and confirmed ads, 按地区, 按审核人员: every metric per row),
逾期清单 (every overdue takedown) and 报告信息 (title, office, period, phases, scope, when it was made).

The charts are Excel's own (openpyxl.chart), drawn from the cells beside them: an office can restyle them,
and a number changed in a cell changes its chart. The look follows the takedown export (``export_xlsx``): a
bold, frozen header, widths fitted to the text, printed landscape on A4 one page wide with page numbers.
Crawled text (site names, URLs) that would read as a formula is written as an explicit string, and characters
XML cannot hold are dropped; only http(s) URLs become links.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from review.export_xlsx import BOLD, HEADER_ALIGN, HEADER_FILL, LINK, MAX_CELL, display_width
from review.report_brief import ChartSpec, chart_specs
from review.statistics import BREAKDOWNS, METRICS, Row, Statistics

__all__ = ["INFO", "OVERDUE", "SHEETS", "SUMMARY", "write"]

SUMMARY = "汇总"
OVERDUE = "逾期清单"
INFO = "报告信息"
# A breakdown's sheet: its label without the "/" a sheet name cannot hold.
SHEETS: dict[str, str] = {key: label.replace("/", "") for key, label in BREAKDOWNS.items()}
_FORMULA_STARTS = ("=", "+", "-", "@")
RIGHT = Alignment(horizontal="right")
FUNNEL_COLUMN = 4  # D: the funnel's table on 汇总
METRIC_WIDTH = 9


def _put(sheet: Worksheet, row: int, col: int, value: Any, *, link: bool = False) -> Any:
    """One cell; text that would read as a formula stays text, and a link only for http(s)."""
    cell = sheet.cell(row=row, column=col)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL]
        cell.value = value
        if value.startswith(_FORMULA_STARTS):
            cell.data_type = "s"
        if link and value.lower().startswith(("http://", "https://")):
            cell.hyperlink = value
            cell.font = LINK
    else:
        cell.value = value
    return cell


def _header(sheet: Worksheet, titles: list[str], row: int = 1, col: int = 1) -> None:
    for i, title in enumerate(titles, start=col):
        cell = sheet.cell(row=row, column=i, value=title)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, HEADER_ALIGN
    sheet.row_dimensions[row].height = 30


def _widths(sheet: Worksheet, cap: int = 40) -> None:
    widest: dict[str, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is not None:
                shown = cell.value.isoformat() if isinstance(cell.value, date) else str(cell.value)
                widest[cell.column_letter] = max(widest.get(cell.column_letter, 4), display_width(shown))
    for letter, width in widest.items():
        sheet.column_dimensions[letter].width = min(width, cap) + 2


def _print_setup(sheet: Worksheet, stats: Statistics) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddHeader.center.text = ILLEGAL_CHARACTERS_RE.sub("", f"{stats.title} 统计表").replace("&", "&&")
    sheet.oddFooter.left.text = stats.period.label()
    sheet.oddFooter.right.text = "第 &P 页 / 共 &N 页"


def _summary(sheet: Worksheet, stats: Statistics) -> None:
    _header(sheet, ["指标", "数值"])
    for r, (key, label) in enumerate(METRICS.items(), start=2):
        sheet.cell(row=r, column=1, value=label)
        sheet.cell(row=r, column=2, value=stats.totals[key])

    def shown(value: float | None) -> Any:
        return "—" if value is None else value  # 0.0 hours is a figure, None is none

    confirm, removal = stats.time_to_confirm, stats.time_to_removal
    extra: list[tuple[str, Any]] = [
        ("违法率", shown(stats.illegal_rate)),
        ("发现→确认 条数", confirm.count),
        ("发现→确认 中位时长（小时）", shown(confirm.median_hours)),
        ("发现→确认 90%时长（小时）", shown(confirm.p90_hours)),
        ("确认→删除 条数", removal.count),
        ("确认→删除 中位时长（小时）", shown(removal.median_hours)),
        ("确认→删除 90%时长（小时）", shown(removal.p90_hours)),
    ]
    first = len(METRICS) + 2
    for r, (label, value) in enumerate(extra, start=first):
        sheet.cell(row=r, column=1, value=label)
        cell = sheet.cell(row=r, column=2, value=value)
        if label == "违法率" and isinstance(value, float):
            cell.number_format = "0.0%"
        elif isinstance(value, float):
            cell.number_format = "0.0"
        elif isinstance(value, str):
            cell.alignment = RIGHT
    _funnel(sheet, stats, next(c for c in chart_specs(stats) if c.source == "totals"))
    sheet.freeze_panes = "A2"


def _funnel(sheet: Worksheet, stats: Statistics, spec: ChartSpec) -> None:
    """The funnel's steps and counts beside the totals, and its bar chart under them."""
    col = FUNNEL_COLUMN
    _header(sheet, ["处置环节", "条数"], col=col)
    for r, key in enumerate(spec.metrics, start=2):
        sheet.cell(row=r, column=col, value=METRICS[key])
        sheet.cell(row=r, column=col + 1, value=stats.totals[key])
    chart = BarChart()
    chart.type = "bar"  # horizontal: a funnel read from the top
    chart.title = spec.title
    chart.legend = None
    chart.y_axis.title = "条数"
    chart.x_axis.scaling.orientation = "maxMin"  # the first step on top
    chart.y_axis.scaling.min = 0
    chart.dataLabels = DataLabelList(
        showVal=True, showSerName=False, showCatName=False, showLegendKey=False, showPercent=False
    )
    last = len(spec.metrics) + 1
    chart.add_data(Reference(sheet, min_col=col + 1, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=col, min_row=2, max_row=last))
    _axes_visible(chart)
    chart.width, chart.height = 16, 8
    sheet.add_chart(chart, f"{get_column_letter(col)}{last + 3}")


def _axes_visible(chart: Any) -> None:
    """openpyxl ≥ 3.1 hides axes unless told (``delete``), and LibreOffice and Excel then draw none."""
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def _breakdown(sheet: Worksheet, key: str, rows: list[Row], spec: ChartSpec | None) -> None:
    with_key = any(r.key != r.label for r in rows)
    name = {"week": "周", "site": "网站/平台", "category": "涉嫌类型", "region": "地区", "reviewer": "审核人员"}[key]
    titles = [name, *(["代码"] if with_key else []), *METRICS.values()]
    _header(sheet, titles)
    first_metric = 3 if with_key else 2
    for r, row in enumerate(rows, start=2):
        _put(sheet, r, 1, row.label)
        if with_key:
            _put(sheet, r, 2, row.key)
        for i, metric in enumerate(METRICS, start=first_metric):
            sheet.cell(row=r, column=i, value=row.counts.get(metric, 0))
    sheet.freeze_panes = sheet.cell(row=2, column=2)
    if rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{len(rows) + 1}"
    if spec is not None and rows:
        _chart(sheet, spec, len(rows), first_metric)
    _widths(sheet, cap=24)
    for i in range(first_metric, len(titles) + 1):  # numbers are narrow: their titles wrap onto two lines
        sheet.column_dimensions[get_column_letter(i)].width = METRIC_WIDTH


def _chart(sheet: Worksheet, spec: ChartSpec, count: int, first_metric: int) -> None:
    """The brief's chart of this breakdown, drawn by Excel from every row of the sheet (the brief's picture
    shows the largest few)."""
    chart: Any = LineChart() if spec.kind == "line" else BarChart()
    chart.title = spec.title
    chart.y_axis.title = "条数"
    columns = list(METRICS)
    for metric in spec.metrics:
        col = first_metric + columns.index(metric)
        chart.add_data(Reference(sheet, min_col=col, min_row=1, max_row=count + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=count + 1))
    if spec.kind == "line":
        for series in chart.series:  # a week alone is a point: a line needs two
            series.marker.symbol = "circle"
            series.marker.size = 6
    _axes_visible(chart)
    chart.width, chart.height = 18, 8
    sheet.add_chart(chart, f"A{count + 4}")


def _overdue(sheet: Worksheet, stats: Statistics) -> None:
    _header(sheet, ["处置编号", "广告编号", "网站/平台", "接收单位", "处置期限", "逾期天数", "网址"])
    for r, item in enumerate(stats.overdue, start=2):
        sheet.cell(row=r, column=1, value=item.takedown_id)
        sheet.cell(row=r, column=2, value=item.ad_id)
        _put(sheet, r, 3, item.site)
        _put(sheet, r, 4, item.receiver)
        sheet.cell(row=r, column=5, value=date.fromisoformat(item.deadline)).number_format = "yyyy-mm-dd"
        sheet.cell(row=r, column=6, value=item.days_overdue)
        _put(sheet, r, 7, item.url, link=True)
    sheet.freeze_panes = "A2"
    if stats.overdue:
        sheet.auto_filter.ref = f"A1:G{len(stats.overdue) + 1}"
    _widths(sheet, cap=50)


def _info(sheet: Worksheet, stats: Statistics) -> None:
    scope = stats.scope
    items = [
        ("报告名称", stats.title),
        ("发文机关", stats.office),
        ("统计期间", stats.period.label()),
        *((f"阶段：{name}", period.label()) for name, period in stats.phases),
        ("监测网站范围", "、".join(scope.sites) or "全部"),
        ("地区范围", "、".join(scope.regions) or "全部"),
        ("涉嫌类型范围", "、".join(scope.categories) or "全部"),
        ("生成时间（UTC）", stats.generated_at),
        ("说明", "各项数字均由违法广告清理台账、监测记录和举报线索计算，可用 adclear stats 复核。"),
    ]
    _header(sheet, ["项目", "内容"])
    for r, (label, value) in enumerate(items, start=2):
        sheet.cell(row=r, column=1, value=label).font = BOLD
        _put(sheet, r, 2, value)
    _widths(sheet, cap=80)


def write(stats: Statistics, path: Path) -> None:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = SUMMARY
    _summary(summary, stats)
    _widths(summary, cap=30)
    specs = {spec.source: spec for spec in chart_specs(stats)}
    for key, title in SHEETS.items():
        _breakdown(book.create_sheet(title), key, list(stats.breakdowns.get(key, [])), specs.get(key))
    _overdue(book.create_sheet(OVERDUE), stats)
    _info(book.create_sheet(INFO), stats)
    for sheet in book.worksheets:
        _print_setup(sheet, stats)
    book.save(path)
