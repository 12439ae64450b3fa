"""Write an ad's evidence back out of the WARC files: the archived page(s) and screenshot(s), with digests.

Each payload is checked against the SHA-256 recorded when it was archived; a mismatch is an error, never a
silently different file. A ``SHA256SUMS`` file (``sha256sum -c`` reads it) and ``evidence.json`` (where each
file came from) go beside the files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from adclear.errors import AdclearError, UnknownAd

__all__ = ["EvidenceFile", "EvidenceMismatch", "export_evidence"]

SUFFIX = {"page": ".html", "screenshot": ".png"}


class EvidenceMismatch(AdclearError):
    """An archived payload no longer matches the digest recorded for it."""


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    path: Path
    kind: str
    sha256: str
    url: str
    fetched_at: str


def export_evidence(db: sqlite_utils.Database, data_dir: Path, ad_id: int, out: Path) -> list[EvidenceFile]:
    from crawler.warc import read_record

    if db.execute("SELECT 1 FROM ads WHERE id = ?", [ad_id]).fetchone() is None:
        raise UnknownAd(f"no ad {ad_id}")
    rows = db.execute(
        "SELECT kind, url, fetched_at, sha256, warc_file, warc_offset FROM evidence WHERE ad_id = ? ORDER BY id",
        [ad_id],
    ).fetchall()
    if not rows:
        raise AdclearError(f"ad {ad_id} has no archived evidence")
    out.mkdir(parents=True, exist_ok=True)
    files: list[EvidenceFile] = []
    for kind, url, fetched_at, sha, warc_file, offset in rows:
        warc_path = data_dir / warc_file
        if not warc_path.exists():
            raise AdclearError(f"the WARC file {warc_path} holding ad {ad_id}'s {kind} is missing")
        _, payload = read_record(warc_path, offset)
        actual = hashlib.sha256(payload).hexdigest()
        if actual != sha:
            raise EvidenceMismatch(
                f"ad {ad_id}: the {kind} at {warc_file}@{offset} has SHA-256 {actual}, not the recorded {sha}"
            )
        stamp = fetched_at[:19].replace(":", "").replace("-", "")
        path = out / f"ad{ad_id}-{kind}-{stamp}-{sha[:12]}{SUFFIX.get(kind, '.bin')}"
        path.write_bytes(payload)
        files.append(EvidenceFile(path, kind, sha, url, fetched_at))
    (out / "SHA256SUMS").write_text("".join(f"{f.sha256}  {f.path.name}\n" for f in files), encoding="utf-8")
    manifest = [
        {"file": f.path.name, "kind": f.kind, "sha256": f.sha256, "url": f.url, "fetched_at": f.fetched_at}
        for f in files
    ]
    (out / "evidence.json").write_text(
        json.dumps({"ad_id": ad_id, "files": manifest}, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return files
