"""The tips ledger (举报线索核查台账): one row per tip with its 受理, 核查, 处置 and 反馈, as CSV or XLSX.

The rows come from the ``tips`` table and the ledger: 核查 names the decision the ledger holds on the tip's ad
(``review.tips.decision_of``), 处置 the ad's takedowns and their state (``review.takedowns``). Written as the
takedown list is: CSV in UTF-8 with a BOM and every text cell that would run as a formula neutralised
(``review.export_text.neutral``); XLSX in the same office-document look (``review.export_xlsx.table_sheet``:
bold frozen header, autofilter, fitted widths, A4 landscape, the ledger head in the footer) with an 导出信息
sheet.

The tipster's name and phone are left out (条例 Art. 16) unless ``reveal_reason`` is given: then they are
columns, and the audit log keeps who asked, when and why (``tip_export`` with ``identity: true``).
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from openpyxl import Workbook

from core.db import immediate
from core.timeutil import local, now_utc
from review import audit, ledger, takedowns, tips, users
from review.export_model import Column, Office, china_time
from review.export_text import neutral
from review.export_xlsx import METADATA, table_sheet
from review.settings import ReviewSettings

__all__ = ["FORMATS", "IDENTITY", "TipsExportError", "columns", "download", "export", "rows"]

FORMATS = ("csv", "xlsx")
HEADING = "举报线索核查台账"
DECISIONS = {"confirmed": "确认违法", "rejected": "驳回"}
_COLUMNS: tuple[Column, ...] = (
    Column("number", "线索编号"),
    Column("received_at", "受理时间", "datetime"),
    Column("channel", "来源渠道"),
    Column("summary", "线索内容", "long"),
    Column("url", "涉及网址", "url"),
    Column("region", "地区"),
    Column("ad_id", "广告编号", "int"),
    Column("decision", "核查（审核结论）"),
    Column("decided_at", "审核时间", "datetime"),
    Column("result", "核查结果"),
    Column("disposal", "处置", "long"),
    Column("feedback_at", "反馈时间", "datetime"),
    Column("feedback_text", "反馈内容", "long"),
    Column("closed_at", "办结时间", "datetime"),
    # … then the record behind it
    Column("fetch", "网址抓取"),
    Column("verify_note", "核查说明", "long"),
    Column("entered_by", "受理人"),
)
IDENTITY: tuple[Column, ...] = (Column("tipster_name", "举报人"), Column("tipster_phone", "举报人电话"))
PRINTED = 14


class TipsExportError(tips.TipError):
    """An export that cannot be made as asked."""


def columns(*, identity: bool) -> tuple[Column, ...]:
    return (*_COLUMNS[:6], *IDENTITY, *_COLUMNS[6:]) if identity else _COLUMNS


def _row(db: sqlite_utils.Database, tip: tips.Tip, identity: bool) -> dict[str, Any]:
    decided = tips.decision_of(db, tip.ad_id)
    disposal = [f"处置{t.id} {t.state_label}" for t in takedowns.for_ad(db, tip.ad_id)] if tip.ad_id else []
    fetch = tip.fetch_label + (f"：{tip.fetch_detail}" if tip.fetch_outcome in ("refused", "failed") else "")
    row = {
        "number": tip.number,
        "received_at": tip.received_at,
        "channel": tip.channel_label,
        "summary": tip.summary,
        "url": tip.url,
        "region": tip.region,
        "ad_id": tip.ad_id,
        "decision": DECISIONS.get(decided.action, "") if decided else "",
        "decided_at": decided.at if decided else None,
        "result": tips.STATES[tip.state] if tip.state in tips.RESULTS else "",
        "disposal": "；".join(disposal),
        "feedback_at": tip.feedback_at,
        "feedback_text": tip.feedback_text,
        "closed_at": tip.closed_at,
        "fetch": fetch,
        "verify_note": tip.verify_note,
        "entered_by": tip.entered_by,
    }
    if identity:
        row.update(tipster_name=tip.tipster_name, tipster_phone=tip.tipster_phone)
    return row


def rows(db: sqlite_utils.Database, *, identity: bool = False) -> list[dict[str, Any]]:
    """The tips ledger, oldest tip first."""
    return [_row(db, t, identity) for t in reversed(tips.listing(db))]


def _cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "datetime":
        when = china_time(value)
        return when.strftime("%Y-%m-%d %H:%M:%S") if when else ""
    return neutral(value) if isinstance(value, str) else str(value)


def csv_bytes(table: list[dict[str, Any]], cols: tuple[Column, ...]) -> bytes:
    buffer = io.StringIO(newline="")
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow([c.title for c in cols])
    for row in table:
        out.writerow([_cell(c, row[c.key]) for c in cols])
    return buffer.getvalue().encode("utf-8-sig")


@dataclass(frozen=True, slots=True)
class Made:
    path: Path
    rows: int
    identity: bool
    checkpoint: str


def _xlsx(table: list[dict[str, Any]], cols: tuple[Column, ...], path: Path, meta: list[tuple[str, Any]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = HEADING
    office, checkpoint = str(meta[0][1]), str(meta[-1][1])
    printed = PRINTED + (len(IDENTITY) if len(cols) > len(_COLUMNS) else 0)
    table_sheet(sheet, cols, table, office=office, checkpoint=checkpoint, heading=HEADING, printed=printed)
    info = book.create_sheet(METADATA)
    info_cols = (Column("label", "项目"), Column("value", "内容", "long"))
    info_rows = [{"label": k, "value": v} for k, v in meta]
    table_sheet(info, info_cols, info_rows, office=office, checkpoint=checkpoint, heading=HEADING, printed=2)
    book.save(path)


def export(
    db: sqlite_utils.Database,
    path: Path,
    fmt: str,
    *,
    actor: str,
    office: Office | None = None,
    reveal_reason: str = "",
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> Made:
    """Write the tips ledger to ``path``; with ``reveal_reason``, the tipsters' names and phones too. Audited."""
    if fmt not in FORMATS:
        raise TipsExportError(
            f"unknown format '{fmt}'; one of {', '.join(FORMATS)}",
            zh=f"未知的导出格式“{fmt}”，可选：{'、'.join(FORMATS)}",
        )
    identity = bool(reveal_reason.strip())
    users.require(db, actor, "supervisor" if identity else "reviewer")  # the identity: supervisors and admins
    cols = columns(identity=identity)
    table = rows(db, identity=identity)
    head = ledger.head(db)
    checkpoint = str(head) if head else "0:" + ledger.GENESIS
    office = office or Office()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path.write_bytes(csv_bytes(table, cols))
    else:
        meta = [
            ("发文单位", office.name),
            ("导出时间", china_time(now_utc()).strftime("%Y-%m-%d %H:%M:%S")),  # type: ignore[union-attr]
            ("导出人", actor),
            ("线索条数", len(table)),
            ("含举报人信息", f"是（理由：{reveal_reason.strip()}）" if identity else "否（条例第十六条：保密）"),
            ("核对方法", f"adclear ledger verify --checkpoint {checkpoint}"),
            ("检查点", checkpoint),
        ]
        _xlsx(table, cols, path, meta)
    detail = {"format": fmt, "rows": len(table), "identity": identity, "head": checkpoint}
    if identity:
        detail["reason"] = reveal_reason.strip()[:500]
    with immediate(db):
        audit.record(db, actor=actor, action="tip_export", target=str(path.name), detail=detail, address=address)
    ledger.anchor(db, "export", settings)
    return Made(path, len(table), identity, checkpoint)


def download(
    db: sqlite_utils.Database,
    fmt: str,
    *,
    actor: str,
    office: Office | None = None,
    reveal_reason: str = "",
    address: str,
    settings: ReviewSettings | None = None,
) -> tuple[bytes, str]:
    """(file content, file name): ``export`` for the web app, which sends the file."""
    name = f"tips-{local(now_utc(), '%Y%m%d-%H%M%S')}.{fmt if fmt in FORMATS else 'csv'}"
    with tempfile.TemporaryDirectory(prefix="adclear-tips-") as tmp:
        path = Path(tmp) / name
        export(
            db, path, fmt, actor=actor, office=office, reveal_reason=reveal_reason, address=address,
            settings=settings,
        )  # fmt: skip
        return path.read_bytes(), name
