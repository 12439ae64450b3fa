"""Takedown lists for the market regulator and the platforms, read from the ledger alone.

One row per ``takedown_requested`` entry whose confirmation was not reversed since, with what was recorded
when the reviewer confirmed (platform, URL, title, excerpt, category, legal basis, reviewer, time, evidence
SHA-256). The last row carries the ledger head
(seq and hash) at export time, so that ``adclear ledger verify --checkpoint SEQ:HASH`` can later show the
ledger still holds what the file was made from.

Crawled text is hostile: a cell that starts with ``= + - @`` (or a tab/CR) would run as a formula in Excel,
so such cells are prefixed with ``'`` in CSV and XLSX.

An export is an event: ``export`` (the command line's file) and ``download`` (the web app's bytes) record it in
the audit log, with who and from where, and anchor the ledger head it carries.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from core.db import immediate, snapshot
from core.timeutil import local, now_utc
from review import audit, ledger
from review.settings import ReviewSettings

__all__ = ["COLUMNS", "FORMATS", "MIME_TYPES", "TakedownList", "download", "export", "takedown_list", "write"]

FORMATS = ("csv", "xlsx", "json")
MIME_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# (key, Chinese header)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "台账序号"),
    ("platform", "发布平台"),
    ("url", "链接"),
    ("title", "广告标题"),
    ("excerpt", "内容摘要"),
    ("category", "涉嫌类型"),
    ("legal_basis", "法律依据"),
    ("takedown_action", "处置方式"),
    ("reviewer", "审核人"),
    ("confirmed_at", "确认时间"),
    ("evidence_sha256", "证据SHA-256"),
    ("ad_id", "广告编号"),
)
HEAD_LABEL = "台账链头"


@dataclass(frozen=True)
class TakedownList:
    rows: list[dict[str, Any]]
    head: ledger.Head | None

    def by_platform(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["platform"]] = counts.get(row["platform"], 0) + 1
        return counts


def takedown_list(db: sqlite_utils.Database, *, platform: str | None = None, since: str | None = None) -> TakedownList:
    """The takedowns requested (optionally for one platform, or since a UTC time), oldest first."""
    with snapshot(db):  # the head matches the rows
        head = ledger.head(db)
        every = ledger.entries(db)
    confirmed: dict[Any, ledger.Entry] = {e.seq: e for e in every if e.action == "confirmed"}
    # a confirmation reversed later is no takedown any more (its entries stay in the ledger, as history)
    reversed_seqs = {e.payload.get("decided_seq") for e in every if e.action == "reversed"}
    rows = []
    for entry in every:
        if entry.action != "takedown_requested":
            continue
        p = entry.payload
        if p.get("confirmed_seq") in reversed_seqs:
            continue
        if platform is not None and p.get("platform") != platform:
            continue
        if since is not None and entry.at < since:
            continue
        origin = confirmed.get(p.get("confirmed_seq"))
        origin_payload = origin.payload if origin else {}
        rows.append(
            {
                "seq": entry.seq,
                "platform": p.get("platform", ""),
                "url": p.get("url", ""),
                "title": origin_payload.get("title", ""),
                "excerpt": origin_payload.get("excerpt", ""),
                "category": p.get("category", ""),
                "legal_basis": p.get("legal_basis", ""),
                "takedown_action": p.get("takedown_action", ""),
                "reviewer": entry.actor,
                "confirmed_at": local(origin.at if origin else entry.at, "%Y-%m-%d %H:%M:%S"),
                "evidence_sha256": p.get("evidence_sha256", ""),
                "ad_id": entry.ad_id,
            }
        )
    return TakedownList(rows, head)


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write(result: TakedownList, path: Path, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    head_cells = [
        HEAD_LABEL,
        result.head.seq if result.head else 0,
        result.head.hash if result.head else ledger.GENESIS,
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        out = csv.writer(buffer)
        out.writerow([title for _, title in COLUMNS])
        for row in result.rows:
            out.writerow([_safe(row[key]) for key, _ in COLUMNS])
        out.writerow(head_cells)
        # UTF-8 with BOM: Excel opens it in Chinese
        path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    elif fmt == "json":
        document = {
            "columns": {key: title for key, title in COLUMNS},
            "rows": result.rows,
            "ledger_head": {"seq": head_cells[1], "hash": head_cells[2]},
        }
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "违法广告处置清单"
        sheet.append([title for _, title in COLUMNS])
        for row in result.rows:
            sheet.append([_safe(row[key]) for key, _ in COLUMNS])
        sheet.append(head_cells)
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
        book.save(path)


def export(
    db: sqlite_utils.Database,
    path: Path,
    fmt: str,
    *,
    platform: str | None,
    actor: str,
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> TakedownList:
    """Write the takedown list (optionally of one platform) to ``path``; the export is in the audit log and its
    ledger head anchored."""
    result = takedown_list(db, platform=platform)
    write(result, path, fmt)
    _audited(db, result, fmt, platform, actor=actor, target=str(path), address=address, settings=settings)
    return result


def download(
    db: sqlite_utils.Database,
    *,
    fmt: str,
    platform: str | None,
    actor: str,
    address: str,
    settings: ReviewSettings | None = None,
) -> tuple[bytes, str, TakedownList]:
    """(file content, file name, the list): ``export`` for the web app, which sends the file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; one of {', '.join(FORMATS)}")
    platform = platform or None
    result = takedown_list(db, platform=platform)
    name = f"takedowns-{local(now_utc(), '%Y%m%d-%H%M%S')}.{fmt}"
    with tempfile.TemporaryDirectory(prefix="adclear-export-") as tmp:
        path = Path(tmp) / name
        write(result, path, fmt)
        content = path.read_bytes()
    _audited(db, result, fmt, platform, actor=actor, target=name, address=address, settings=settings)
    return content, name, result


def _audited(
    db: sqlite_utils.Database,
    result: TakedownList,
    fmt: str,
    platform: str | None,
    *,
    actor: str,
    target: str,
    address: str,
    settings: ReviewSettings | None,
) -> None:
    detail = {
        "format": fmt,
        "platform": platform,
        "rows": len(result.rows),
        "head": str(result.head) if result.head else None,
    }
    with immediate(db):
        audit.record(db, actor=actor, action="export", target=target, detail=detail, address=address)
    ledger.anchor(db, "export", settings)
