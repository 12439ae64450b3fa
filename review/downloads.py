"""Takedown lists as a download from the web app: written, audited with who and from where, returned as bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlite_utils

from adclear.db import immediate
from adclear.timeutil import local, now_utc
from review import anchors, audit
from review.export import FORMATS, TakedownList, takedown_list, write

__all__ = ["MIME_TYPES", "takedown_download"]

MIME_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def takedown_download(
    db: sqlite_utils.Database, *, fmt: str, platform: str | None, actor: str, address: str
) -> tuple[bytes, str, TakedownList]:
    """(file content, file name, the list) of the takedown list; the export is in the audit log."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; one of {', '.join(FORMATS)}")
    result = takedown_list(db, platform=platform or None)
    name = f"takedowns-{local(now_utc(), '%Y%m%d-%H%M%S')}.{fmt}"
    with tempfile.TemporaryDirectory(prefix="adclear-export-") as tmp:
        path = Path(tmp) / name
        write(result, path, fmt)
        content = path.read_bytes()
    with immediate(db):
        audit.record(
            db,
            actor=actor,
            action="export",
            target=name,
            detail={
                "format": fmt,
                "platform": platform or None,
                "rows": len(result.rows),
                "head": str(result.head) if result.head else None,
            },
            address=address,
        )
    anchors.record(db, "export")
    return content, name, result
