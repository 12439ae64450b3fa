"""A takedown list as an XLSX workbook a regulator can read, filter and print (openpyxl).

Sheets: 汇总 (per receiver: how many takedowns in each state, overdue, reappeared; each name links to its
sheet), one sheet per receiver (a takedown not dispatched yet goes to its platform's sheet, "平台·未交办"), and
导出信息 (issuing office, export time, who, the filters, the row count, the ledger head and how to check it).
The head is never a data row.

Each data sheet: a bold, frozen header with an autofilter; column widths fitted to the text, counting East
Asian wide characters double; long text wrapped; URLs as hyperlinks (http and https only: a crawled
``javascript:`` URL stays text); times as real datetimes in China time with a date format; printed landscape on
A4, one page wide, the header repeated on every page. Crawled text is hostile: a cell that would read as a
formula is written as an explicit string cell (no ``'`` shown), and characters XML cannot hold are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from copy import copy
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from review.export_model import COLUMNS, PRINTED, STATE_LABELS, Column, TakedownList, china_time

__all__ = ["SUMMARY", "METADATA", "display_width", "sheet_key", "table_sheet", "write"]

SUMMARY = "汇总"
METADATA = "导出信息"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
MAX_CELL = 32_767  # Excel's limit on a cell's text
MAX_WIDTH = {"long": 30, "url": 30, "hash": 22, "text": 22}
LINE_HEIGHT = 15  # points, of one line of 11-point text
MAX_LINES = 5  # a row grows to show wrapped text up to this many lines
BOLD = Font(name="Calibri", size=11, bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
LINK = Font(name="Calibri", size=11, color="0563C1", underline="single")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
LEFT = Alignment(vertical="top", horizontal="left")
HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FORMULA_STARTS = ("=", "+", "-", "@")


def display_width(text: str) -> int:
    """Columns the text takes on screen: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def sheet_key(row: dict[str, Any]) -> str:
    """The sheet a takedown goes on: its receiver, else its platform while it is not dispatched."""
    return row["receiver"] or f"{row['platform'] or '未知平台'}·未交办"


def _sheet_title(name: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", name).strip("'") or "未命名"
    title, n = base[:31], 2
    while title.lower() in taken or title in (SUMMARY, METADATA):
        suffix = f"~{n}"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL]


def _put(sheet: Worksheet, row: int, col: int, value: Any, kind: str = "text") -> Any:
    """Write one cell the way its column wants it; returns the cell (None for no value: no cell is made)."""
    if value is None or value == "":
        return None
    cell = sheet.cell(row=row, column=col)
    if kind == "datetime":
        when = china_time(value)
        cell.value = when.replace(tzinfo=None) if when else None  # Excel has no time zones: China time
    elif kind == "date":
        cell.value = date.fromisoformat(value)
    elif isinstance(value, bool):
        cell.value = "是" if value else "否"
    elif isinstance(value, int | float):
        cell.value = value
    else:
        text = _text(str(value))
        cell.value = text
        if text.startswith(_FORMULA_STARTS):
            cell.data_type = "s"  # text, never a formula, and shown as written
        if kind == "url" and text.lower().startswith(("http://", "https://")):
            cell.hyperlink = text
    return cell


class _Looks:
    """Each look (column kind, linked or not) styled once, then copied: styling 300,000 cells one attribute at a
    time cost most of a 10,000-row export (openpyxl hashes every style object it is given)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, bool], StyleArray] = {}

    def apply(self, cell: Any, kind: str) -> None:
        key = (kind, cell.hyperlink is not None)
        made = self._made.get(key)
        if made is not None:
            cell._style = copy(made)
            return
        cell.alignment = WRAP if kind == "long" else TOP
        if kind == "datetime":
            cell.number_format = DATETIME_FORMAT
        elif kind == "date":
            cell.number_format = DATE_FORMAT
        if key[1]:
            cell.font = LINK
        self._made[key] = copy(cell._style)


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "datetime":
        return "2027-01-01 00:00:00"
    if kind == "date":
        return "2027-01-01"
    if isinstance(value, bool):
        return "是"
    return str(value)


def _widths(sheet: Worksheet, columns: tuple[Column, ...], rows: list[dict[str, Any]]) -> None:
    for i, col in enumerate(columns, start=1):
        longest = max(display_width(line) for line in col.title.splitlines())
        cap = MAX_WIDTH.get(col.kind, MAX_WIDTH["text"])
        for row in rows:
            shown = _shown(row[col.key], col.kind)
            if shown:
                longest = max(longest, display_width(shown[: cap * 2]))
                if longest >= cap:
                    break
        sheet.column_dimensions[get_column_letter(i)].width = min(max(longest, 4), cap) + 2


def _heights(sheet: Worksheet, columns: tuple[Column, ...], rows: list[dict[str, Any]], printed: int) -> None:
    """Rows tall enough for their wrapped text (a spreadsheet does not always grow them when it opens a file)."""
    wrapped = [
        (c.key, sheet.column_dimensions[get_column_letter(i)].width - 2)
        for i, c in enumerate(columns, start=1)
        if c.kind == "long" and i <= printed
    ]
    sheet.row_dimensions[1].height = 2 * LINE_HEIGHT
    for r, row in enumerate(rows, start=2):
        lines = max((-(-display_width(str(row[key] or "")) // int(width)) for key, width in wrapped), default=1)
        if lines > 1:
            sheet.row_dimensions[r].height = min(lines, MAX_LINES) * LINE_HEIGHT


def _header(sheet: Worksheet, titles: list[str]) -> None:
    for i, title in enumerate(titles, start=1):
        cell = sheet.cell(row=1, column=i, value=title)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, HEADER_ALIGN
    sheet.freeze_panes = "A2"


def _print_setup(sheet: Worksheet, office: str, checkpoint: str, heading: str = "违法广告处置清单") -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
    sheet.print_options.gridLines = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.75  # inches: room for the page header and footer
    sheet.page_margins.header = sheet.page_margins.footer = 0.3
    sheet.oddHeader.center.text = _text(f"{office} {heading}").replace("&", "&&")
    sheet.oddFooter.left.text = f"台账链头 {checkpoint[:24]}…"
    sheet.oddFooter.right.text = "第 &P 页 / 共 &N 页"


def _data_sheet(sheet: Worksheet, rows: list[dict[str, Any]], result: TakedownList) -> None:
    table_sheet(sheet, COLUMNS, rows, office=result.meta.office.name, checkpoint=result.meta.checkpoint)


def table_sheet(
    sheet: Worksheet,
    columns: tuple[Column, ...],
    rows: list[dict[str, Any]],
    *,
    office: str,
    checkpoint: str,
    heading: str = "违法广告处置清单",
    printed: int = PRINTED,
) -> None:
    """One data sheet in the office-document look: the takedown list's, or another list's (the tips ledger,
    ``review.tips_export``) with its own columns, printed heading and number of printed columns."""
    _header(sheet, [c.title for c in columns])
    kinds = [(c.key, c.kind) for c in columns]
    looks = _Looks()
    for r, row in enumerate(rows, start=2):
        for i, (key, kind) in enumerate(kinds, start=1):
            cell = _put(sheet, r, i, row[key], kind)
            if cell is not None:
                looks.apply(cell, kind)
    last = f"{get_column_letter(len(columns))}{len(rows) + 1}"
    sheet.auto_filter.ref = f"A1:{last}"
    _widths(sheet, columns, rows)
    _heights(sheet, columns, rows, printed)
    sheet.print_title_rows = "1:1"
    # the printout: the columns one acts on, one page wide; the record behind them stays on screen
    sheet.print_area = f"A1:{get_column_letter(min(printed, len(columns)))}{len(rows) + 1}"
    _print_setup(sheet, office, checkpoint, heading)


def _summary(sheet: Worksheet, groups: dict[str, tuple[str, list[dict[str, Any]]]], result: TakedownList) -> None:
    states = list(STATE_LABELS)
    titles = ["接收单位/平台", "合计", *STATE_LABELS.values(), "逾期", "再现"]
    _header(sheet, titles)
    for r, (name, (title, rows)) in enumerate(groups.items(), start=2):
        cell = _put(sheet, r, 1, name)
        cell.hyperlink = f"#'{title}'!A1"
        cell.font = LINK
        counts = [sum(1 for row in rows if row["state"] == s) for s in states]
        extra = [sum(1 for row in rows if row["overdue"]), sum(1 for row in rows if row["reappeared_at"])]
        for i, n in enumerate([len(rows), *counts, *extra], start=2):
            sheet.cell(row=r, column=i, value=n)
    total = len(groups) + 2
    sheet.cell(row=total, column=1, value="合计").font = BOLD
    for i in range(2, len(titles) + 1):
        letter = get_column_letter(i)
        column_sum = sum(sheet.cell(row=r, column=i).value or 0 for r in range(2, total))
        sheet.cell(row=total, column=i, value=column_sum).font = BOLD
        sheet.column_dimensions[letter].width = max(display_width(titles[i - 1]) + 2, 8)
    names = [display_width(n) for n in groups] or [0]
    sheet.column_dimensions["A"].width = min(max(*names, 14), 40) + 2
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(total - 1, 1)}"
    _print_setup(sheet, result.meta.office.name, result.meta.checkpoint)


def _metadata(sheet: Worksheet, result: TakedownList) -> None:
    meta = result.meta
    head = meta.head
    items: list[tuple[str, Any, str]] = [
        ("发文单位", meta.office.name, "text"),
        ("单位代码", meta.office.code, "text"),
        ("地区", meta.office.region, "text"),
        ("导出时间", meta.exported_at, "datetime"),
        ("导出人", meta.exported_by, "text"),
        ("筛选条件", meta.filters.describe(), "text"),
        ("逾期计算日", meta.today.isoformat(), "date"),
        ("处置记录条数", meta.rows, "int"),
        ("台账链头序号", head.seq if head else 0, "int"),
        ("台账链头哈希", head.hash if head else "", "text"),
        ("检查点", meta.checkpoint, "text"),
        ("核对方法", f"adclear ledger verify --checkpoint {meta.checkpoint}", "text"),
        ("说明", "本表为导出信息，不是处置记录；处置记录见各接收单位工作表。", "text"),
    ]
    _header(sheet, ["项目", "内容"])
    looks = _Looks()
    for r, (label, value, kind) in enumerate(items, start=2):
        title = sheet.cell(row=r, column=1, value=label)
        title.font, title.alignment = BOLD, LEFT
        cell = _put(sheet, r, 2, value, kind)
        if cell is not None:
            looks.apply(cell, kind)
            cell.alignment = LEFT
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = max(display_width(str(v)) for _, v, _ in items) + 2
    _print_setup(sheet, meta.office.name, meta.checkpoint)


def write(result: TakedownList, path: Path) -> None:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = SUMMARY
    taken = {SUMMARY.lower(), METADATA.lower()}
    groups: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for row in result.rows:
        key = sheet_key(row)
        if key not in groups:
            groups[key] = (_sheet_title(key, taken), [])
        groups[key][1].append(row)
    for title, rows in groups.values():
        _data_sheet(book.create_sheet(title), rows, result)
    if not groups:  # an empty export still has its (empty) list, with its header
        _data_sheet(book.create_sheet(_sheet_title("处置清单", taken)), [], result)
    _summary(summary, groups, result)
    _metadata(book.create_sheet(METADATA), result)
    book.save(path)
