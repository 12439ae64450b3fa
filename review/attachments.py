"""Files that came with a receiver's answer (回函, screenshots), kept beside the database under their SHA-256.

The ledger entry names each by its file name and SHA-256, so a file can be checked later against what was
recorded; the same content is kept once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import sqlite_utils

from core.db import database_path
from core.errors import AdclearError

__all__ = ["MAX_ATTACHMENT", "AttachmentError", "attachments_dir", "store_attachment"]

MAX_ATTACHMENT = 20 * 1024 * 1024  # a scanned reply letter; larger files are refused, not truncated


class AttachmentError(AdclearError):
    """An attachment that cannot be kept (too large)."""


def attachments_dir(db: sqlite_utils.Database) -> Path:
    path = database_path(db)
    return (path.parent if path else Path("data")) / "attachments"


def store_attachment(db: sqlite_utils.Database, name: str, data: bytes) -> dict[str, str]:
    """Keep a feedback attachment beside the database, named by its SHA-256; returns {name, sha256}."""
    if len(data) > MAX_ATTACHMENT:
        raise AttachmentError(
            f"attachment {name!r} is {len(data):,} bytes; at most {MAX_ATTACHMENT:,}",
            zh=f"附件“{name}”大小为 {len(data):,} 字节，超过上限 {MAX_ATTACHMENT:,} 字节：请压缩或拆分后再上传",
        )
    digest = hashlib.sha256(data).hexdigest()
    folder = attachments_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / digest
    if not target.exists():
        partial = folder / f".{digest}.partial"
        partial.write_bytes(data)
        os.replace(partial, target)  # never a half-written file under its digest
    return {"name": Path(name).name[:200] or digest, "sha256": digest}
