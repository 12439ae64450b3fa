"""Reports of a campaign's statistics (``adclear report``): an XLSX workbook, a Word 工作简报/工作总结, an HTML page.

Each is made from one ``Statistics`` (``review.statistics.for_campaign``): the workbook from the figures
themselves (``report_xlsx``), the Word document and the HTML page from the ``Brief`` that puts them into
sentences, tables and charts (``report_brief``, printed by ``report_docx`` and ``report_html``). A report is
written to a temporary file beside its destination and renamed into place, so a failure leaves no half file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import date
from pathlib import Path

from core.errors import AdclearError
from review import report_docx, report_html, report_xlsx
from review.report_brief import brief
from review.statistics import Statistics

__all__ = ["FONTS", "FORMATS", "ReportError", "default_name", "write"]

FORMATS = ("xlsx", "docx", "html")
FONTS = tuple(report_docx.FONTS)
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


class ReportError(AdclearError):
    """A report that cannot be made as asked (an unknown format or font set) or written where asked."""


def default_name(stats: Statistics, fmt: str) -> str:
    """ "<title>_<first day>_<last day>.<fmt>", the title stripped of what a file name cannot hold."""
    title = _UNSAFE_NAME.sub("_", stats.title).strip(" ._") or "report"
    return f"{title[:80]}_{stats.period.start.isoformat()}_{stats.period.end.isoformat()}.{fmt}"


def _render(stats: Statistics, fmt: str, path: Path, today: date, fonts: str, whole: bool) -> None:
    if fmt == "xlsx":
        report_xlsx.write(stats, path)
    elif fmt == "docx":
        report_docx.write(brief(stats, today, whole=whole), path, report_docx.FONTS[fonts])
    else:
        path.write_text(report_html.render(brief(stats, today, whole=whole)), encoding="utf-8")


def write(stats: Statistics, path: Path, fmt: str, *, today: date, fonts: str = "gongwen", whole: bool = False) -> None:
    """``stats`` as a report in ``fmt`` at ``path``, signed on ``today`` (China time); ``whole``: the period is
    the campaign's own (``report_brief.brief``: a whole campaign that has ended gets a 工作总结)."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}",
                          zh=f"不支持的报告格式“{fmt}”，可选：{'、'.join(FORMATS)}")  # fmt: skip
    if fonts not in report_docx.FONTS:
        raise ReportError(f"unknown font set {fonts!r}; one of {', '.join(report_docx.FONTS)}",
                          zh=f"不支持的字体方案“{fonts}”，可选：{'、'.join(report_docx.FONTS)}")  # fmt: skip
    # made by the writer itself, so that the file gets the mode the umask gives (mkstemp's would be 0600)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _render(stats, fmt, temporary, today, fonts, whole)
        os.replace(temporary, path)
    except OSError as e:
        raise ReportError(f"cannot write the report to {path}: {e.strerror or e}",
                          zh=f"报告无法写入 {path}：{e.strerror or e}") from None  # fmt: skip
    finally:
        with contextlib.suppress(OSError):  # gone already, or its folder never was
            temporary.unlink(missing_ok=True)
