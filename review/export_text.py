"""A takedown list as CSV or JSON bytes.

CSV: UTF-8 with a BOM (Excel then reads it as Chinese), CRLF line ends (RFC 4180), one header row and one row
per takedown, nothing else: the metadata and ledger head go to a sidecar (``metadata_bytes``). Crawled text is
hostile: a cell starting with ``= + - @``, a tab or a CR would run as a formula in a spreadsheet, so it is
prefixed with ``'`` (CSV has no cell types; the XLSX marks such cells as text instead, with no quote shown).
Times are China time, ``YYYY-MM-DD HH:MM:SS``.

JSON: ``{"$schema", "metadata", "columns", "takedowns"}`` as docs/export.schema.json publishes it; times ISO 8601
with their offset (``+08:00``), days ``YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from review.export_model import COLUMNS, TakedownList, china_time

__all__ = ["FORMULA_STARTS", "SCHEMA_ID", "csv_bytes", "json_bytes", "metadata_bytes", "neutral"]

SCHEMA_ID = "https://github.com/adclear/adclear/blob/main/docs/export.schema.json"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TIME_KINDS = {c.key for c in COLUMNS if c.kind == "datetime"}
# JSON has the codes beside the labels (state, check_result) and the contacts as a list, not as text
_TABLE_ONLY = ("contacts_text",)


def neutral(value: str) -> str:
    """Text a spreadsheet will show, never run: ``=1+1`` → ``'=1+1``."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in _TIME_KINDS:
        when = china_time(value)
        return when.strftime("%Y-%m-%d %H:%M:%S") if when else ""
    if isinstance(value, str):
        return neutral(value)
    return str(value)


def csv_bytes(result: TakedownList) -> bytes:
    buffer = io.StringIO(newline="")
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow([c.title for c in COLUMNS])
    for row in result.rows:
        out.writerow([_cell(c.key, row[c.key]) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def _columns() -> list[dict[str, str]]:
    keys = [c.key for c in COLUMNS if c.key not in _TABLE_ONLY]
    titles = {c.key: c.title for c in COLUMNS}
    return [{"key": k, "title": titles[k]} for k in keys]


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key in _TABLE_ONLY:
            continue
        if key in _TIME_KINDS:
            when = china_time(value)
            value = when.isoformat(timespec="seconds") if when else None
        out[key] = value
    return out


def json_bytes(result: TakedownList) -> bytes:
    document = {
        "$schema": SCHEMA_ID,
        "metadata": result.meta.as_dict(),
        "columns": _columns(),
        "takedowns": [_json_row(row) for row in result.rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def metadata_bytes(result: TakedownList) -> bytes:
    """The sidecar of a CSV: its metadata and ledger head, and what its columns are."""
    document = {"$schema": SCHEMA_ID, "metadata": result.meta.as_dict(), "columns": _columns()}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
