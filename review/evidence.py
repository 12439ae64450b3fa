"""Evidence: the archived page or screenshot that shows an ad was online, read back out of its WARC file.

The database says where a record lies (``evidence``: the WARC file, relative to the database's directory, and
the offset). ``payload`` is the one way to read it: a file name that points outside the data directory is
refused before anything is opened, a file that cannot be read is an ``EvidenceMissing`` naming it, and so is a
record whose URI is not the one the evidence is about (``uris``): a page's is its URL (the response of a page
fetched without a browser) or ``urn:dom:<url>`` (the DOM of a rendered page, as it was parsed), a screenshot's
``urn:screenshot:<url>`` (or its URL, in files written before screenshots had a URI of their own).

- ``read``: the latest evidence of a kind, for display; its SHA-256 is recomputed (``Archived.intact``), so
  that a reviewer sees whether the file still holds what was archived.
- ``export_evidence``: all of an ad's evidence written out to files, each checked against the SHA-256 recorded
  when it was archived (a mismatch is an error, never a silently different file), with a ``SHA256SUMS`` file
  (``sha256sum -c`` reads it) and ``evidence.json`` (where each file came from).
- ``check_sample``: ``adclear doctor``'s look at a random sample.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from core.errors import AdclearError, EvidenceMismatch, EvidenceMissing, UnknownAd
from core.warc import dom_uri, read_record, screenshot_uri

__all__ = ["Archived", "EvidenceFile", "check_sample", "export_evidence", "payload", "read", "uris"]

KINDS = ("page", "screenshot")
SUFFIX = {"page": ".html", "screenshot": ".png"}


def uris(kind: str, url: str) -> tuple[str, ...]:
    """The WARC-Target-URIs that evidence of ``kind`` about the page at ``url`` may have."""
    if kind == "screenshot":
        return screenshot_uri(url), url
    return url, dom_uri(url)


def payload(
    data_dir: Path, warc_file: str, offset: int, what: str = "the evidence", expect: tuple[str, ...] = ()
) -> bytes:
    """The payload of the WARC record at ``warc_file`` (relative to ``data_dir``) and ``offset``; ``what`` it is,
    for the messages; ``expect``: the URIs it may have (``uris``), any when empty."""
    base = data_dir.resolve()
    path = (base / warc_file).resolve()
    if not path.is_relative_to(base):
        raise EvidenceMissing(
            f"{what} points outside the data directory: {warc_file}", zh=f"{what}的存档位置不在数据目录内：{warc_file}"
        )
    if not path.exists():
        raise EvidenceMissing(
            f"the WARC file {path} holding {what} is missing",
            zh=f"存放{what}的 WARC 文件 {path} 不存在：请管理员从备份恢复",
        )
    try:
        headers, data = read_record(path, offset)
    except Exception as e:  # warcio and gzip raise their own on a damaged file
        raise EvidenceMissing(
            f"cannot read {warc_file} at {offset}: {e}", zh=f"无法读取 {warc_file}（偏移 {offset}）：{e}"
        ) from None
    uri = headers.get("WARC-Target-URI", "")
    if expect and uri not in expect:
        raise EvidenceMissing(
            f"the record at {warc_file}@{offset} is {uri!r}, not {what} ({expect[0]})",
            zh=f"{warc_file}@{offset} 处的记录是 {uri}，不是{what}：存档与数据库不符，请管理员检查",
        )
    return data


@dataclass(frozen=True, slots=True)
class Archived:
    kind: str
    url: str
    fetched_at: str
    sha256: str  # as recorded at fetch time
    payload: bytes
    content_type: str  # as the site served it ('' when unknown)

    @property
    def intact(self) -> bool:
        return hashlib.sha256(self.payload).hexdigest() == self.sha256

    @property
    def charset(self) -> str:
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value.strip().strip("\"'"):
                return value.strip().strip("\"'").lower()
        return ""


def read(db: sqlite_utils.Database, data_dir: Path, ad_id: int, kind: str = "page") -> Archived:
    """The ad's latest evidence of ``kind`` ('page' or 'screenshot'), read from its WARC file."""
    if kind not in KINDS:
        raise EvidenceMissing(f"unknown kind of evidence '{kind}'", zh=f"未知的证据类型“{kind}”")
    row = db.execute(
        """SELECT e.url, e.fetched_at, e.sha256, e.warc_file, e.warc_offset, coalesce(p.content_type, '')
           FROM evidence e LEFT JOIN pages p ON p.id = e.page_id
           WHERE e.ad_id = ? AND e.kind = ? ORDER BY e.id DESC LIMIT 1""",
        [ad_id, kind],
    ).fetchone()
    if row is None:
        raise EvidenceMissing(
            f"ad {ad_id} has no {kind} evidence",
            zh=f"广告 {ad_id} 没有{'页面' if kind == 'page' else '截图' if kind == 'screenshot' else kind}证据",
        )
    url, fetched_at, sha256, warc_file, offset, content_type = row
    data = payload(data_dir, warc_file, offset, f"the {kind} of ad {ad_id}", uris(kind, url))
    return Archived(kind, url, fetched_at, sha256, data, "image/png" if kind == "screenshot" else content_type)


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    path: Path
    kind: str
    sha256: str
    url: str
    fetched_at: str


def export_evidence(db: sqlite_utils.Database, data_dir: Path, ad_id: int, out: Path) -> list[EvidenceFile]:
    """Write every piece of the ad's evidence into ``out``, checked against its SHA-256; returns the files."""
    if db.execute("SELECT 1 FROM ads WHERE id = ?", [ad_id]).fetchone() is None:
        raise UnknownAd(f"no ad {ad_id}", zh=f"没有编号为 {ad_id} 的广告")
    rows = db.execute(
        "SELECT kind, url, fetched_at, sha256, warc_file, warc_offset FROM evidence WHERE ad_id = ? ORDER BY id",
        [ad_id],
    ).fetchall()
    if not rows:
        raise AdclearError(f"ad {ad_id} has no archived evidence", zh=f"广告 {ad_id} 没有存档证据")
    out.mkdir(parents=True, exist_ok=True)
    files: list[EvidenceFile] = []
    for kind, url, fetched_at, sha, warc_file, offset in rows:
        data = payload(data_dir, warc_file, offset, f"ad {ad_id}'s {kind}", uris(kind, url))
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise EvidenceMismatch(
                f"ad {ad_id}: the {kind} at {warc_file}@{offset} has SHA-256 {actual}, not the recorded {sha}",
                zh=f"广告 {ad_id}：{warc_file}@{offset} 处的存档与记录的 SHA-256 不符，证据可能被改动：请管理员检查",
            )
        stamp = fetched_at[:19].replace(":", "").replace("-", "")
        path = out / f"ad{ad_id}-{kind}-{stamp}-{sha[:12]}{SUFFIX.get(kind, '.bin')}"
        path.write_bytes(data)
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


def check_sample(db: sqlite_utils.Database, data_dir: Path, sample: int) -> tuple[int, int, str]:
    """(pieces checked, pieces archived, the first problem or '') for a random sample of the evidence."""
    total = db.execute("SELECT count(*) FROM evidence").fetchone()[0]
    rows = db.execute(
        "SELECT id, ad_id, kind, url, sha256, warc_file, warc_offset FROM evidence ORDER BY random() LIMIT ?",
        [sample],
    ).fetchall()
    for evidence_id, ad_id, kind, url, sha, warc_file, offset in rows:
        where = f"ad {ad_id}'s {kind} (evidence {evidence_id}, {warc_file}@{offset})"
        try:
            data = payload(data_dir, warc_file, offset, "it", uris(kind, url))
        except EvidenceMissing as e:
            return len(rows), total, f"{where} cannot be read: {e}"
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            return len(rows), total, f"{where} has SHA-256 {actual}, not the recorded {sha}"
    return len(rows), total, ""
