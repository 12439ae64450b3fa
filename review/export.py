"""Takedown lists a regulator can act on: one row per takedown, in CSV, XLSX or JSON.

A row is a takedown (``takedowns``, whose state the ledger decides: ``review.takedowns``) with what was
recorded when the reviewer confirmed it (the ``confirmed`` and ``takedown_requested`` ledger entries: category,
legal basis, reason, the evidence's digest, time and place in the WARC), the ad as crawled (poster, first
seen, 监测条次 counted from ``sightings``, its normalised ``contacts``, the site's region, a screenshot's
SHA-256) and its lifecycle (交办单号, receiver, deadline, state, overdue, feedback, re-check). All of it is read
in one read transaction together with the ledger head, so the head names exactly the ledger the rows came from.

The head and the export's metadata (issuing office, time, who, filters, row count) are never a data row: the
XLSX has a sheet of its own for them, the JSON a top-level ``metadata`` object (docs/export.schema.json), and a
CSV written by the command line a sidecar ``FILE.meta.json``; a CSV downloaded from the web app carries no
head (the export page and the audit log show it).

An export is an event: ``export`` (the command line's file) and ``download`` (the web app's bytes) record it in
the audit log, with who, from where, the filters and the head, and anchor the head outside the database.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from classifier.taxonomy import CATEGORIES
from core.db import immediate, snapshot
from core.timeutil import SHANGHAI, local, now_utc
from review import audit, export_text, export_xlsx, ledger, takedowns
from review.export_model import (
    CHECK_RESULTS,
    COLUMNS,
    CONTACT_KINDS,
    STATE_LABELS,
    ExportError,
    ExportMeta,
    Filters,
    Office,
    TakedownList,
)
from review.settings import ReviewSettings

__all__ = [
    "CATEGORIES",
    "COLUMNS",
    "FORMATS",
    "MIME_TYPES",
    "STATE_CHOICES",
    "ExportError",
    "Filters",
    "Office",
    "TakedownList",
    "choices",
    "download",
    "overview",
    "export",
    "takedown_list",
    "write",
]

FORMATS = ("csv", "xlsx", "json")
MIME_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}

_SELECT = """
SELECT t.id, t.ad_id, t.requested_seq, t.state, t.receiver, t.deadline, t.dispatched_at, t.feedback_at,
       t.feedback_result, t.checked_at, t.check_result, t.removed_at, t.reappeared_at, t.reappeared_ad_id, b.number,
       r.payload, c.at, c.actor, c.payload, a.url, a.platform, a.title, a.body, a.author, a.first_seen,
       coalesce(s.region, '')
FROM takedowns t
JOIN ledger r ON r.seq = t.requested_seq
LEFT JOIN ledger c ON c.seq = json_extract(r.payload, '$.confirmed_seq')
JOIN ads a ON a.id = t.ad_id
LEFT JOIN sites s ON s.name = a.site
LEFT JOIN dispatch_batches b ON b.id = t.batch_id
"""
# what the state filter can say, for forms: (value, Chinese label)
STATE_CHOICES = (("open", "未办结"), ("all", "全部（含已撤销）"), *STATE_LABELS.items())


def _where(f: Filters) -> tuple[str, list[Any]]:
    states = f.state_set()
    where = [f"t.state IN ({', '.join('?' * len(states))})"]
    args: list[Any] = list(states)
    start, end = f.utc_bounds()
    if start:
        where.append("coalesce(c.at, r.at) >= ?")
        args.append(start)
    if end:
        where.append("coalesce(c.at, r.at) < ?")
        args.append(end)
    if f.receiver:
        where.append("t.receiver = ?")
        args.append(f.receiver)
    if f.platform:
        where.append("a.platform = ?")
        args.append(f.platform)
    if f.category:
        where.append("json_extract(r.payload, '$.category') = ?")
        args.append(f.category)
    return " WHERE " + " AND ".join(where), args


def _per_ad(db: sqlite_utils.Database, sql: str) -> Iterator[tuple[Any, ...]]:
    """``sql`` over the ads that have a takedown (one query for the whole export, not one per row)."""
    return iter(db.execute(sql.replace("{ads}", "(SELECT ad_id FROM takedowns)")).fetchall())


Side = tuple[dict[int, list], dict[int, int], dict[int, tuple], dict[int, str], dict[int, tuple]]
REVERSED = "确认违法（已撤销）"  # 审核结论 of a confirmation a supervisor reversed (更正)


def _side_tables(db: sqlite_utils.Database) -> Side:
    """Contacts, sightings and evidence per ad; the 交办单号 each takedown was last dispatched under (ledger)."""
    contacts: dict[int, list[dict[str, str]]] = {}
    for ad_id, kind, value in _per_ad(
        db, "SELECT ad_id, kind, value FROM contacts WHERE ad_id IN {ads} ORDER BY ad_id, id"
    ):
        contacts.setdefault(ad_id, []).append({"kind": kind, "value": value})
    sightings = dict(_per_ad(db, "SELECT ad_id, count(*) FROM sightings WHERE ad_id IN {ads} GROUP BY ad_id"))
    evidence: dict[int, tuple] = {}  # ad → (page sha, fetched_at, warc_file, offset, screenshot sha), newest
    for ad_id, kind, sha, fetched, warc_file, offset in _per_ad(
        db,
        "SELECT ad_id, kind, sha256, fetched_at, warc_file, warc_offset FROM evidence WHERE ad_id IN {ads} "
        "ORDER BY ad_id, id",
    ):
        page = evidence.get(ad_id, (None, None, None, None, None))
        if kind == "screenshot":
            evidence[ad_id] = (*page[:4], sha)
        else:
            evidence[ad_id] = (sha, fetched, warc_file, offset, page[4])
    numbers = {
        tid: number
        for tid, number in db.execute(
            "SELECT json_extract(payload, '$.takedown_id'), json_extract(payload, '$.number') FROM ledger "
            "WHERE action = 'takedown_dispatched' ORDER BY seq"
        )
    }
    reversals = {  # the decision's ledger seq → (when, who, why) of its reversal
        json.loads(payload).get("decided_seq"): (at, actor, json.loads(payload).get("reason", ""))
        for at, actor, payload in db.execute("SELECT at, actor, payload FROM ledger WHERE action = 'reversed'")
    }
    return contacts, sightings, evidence, numbers, reversals


def _decision(reason: str, reversal: tuple[str, str, str] | None) -> tuple[str, str]:
    """审核结论 and 审核理由: a reversed confirmation says so, with who reversed it, when and why."""
    if reversal is None:
        return "确认违法", reason
    at, actor, why = reversal
    return REVERSED, f"{reason}；撤销理由（{actor}，{local(at, '%Y-%m-%d %H:%M')}）：{why}"


def _row(r: tuple[Any, ...], side: Side, today: date) -> dict[str, Any]:
    (tid, ad_id, seq, state, receiver, deadline, dispatched_at, feedback_at, feedback_result, checked_at,
     check_result, removed_at, reappeared_at, reappeared_ad_id, number, requested_json, confirmed_at, reviewer,
     confirmed_json, url, platform, title, body, author, first_seen, region) = r  # fmt: skip
    contacts, sightings, evidence, numbers, reversals = side
    requested = json.loads(requested_json)
    confirmed = json.loads(confirmed_json) if confirmed_json else {}
    decision, reason = _decision(confirmed.get("reason", ""), reversals.get(requested.get("confirmed_seq")))
    page = evidence.get(ad_id, (None,) * 5)
    # the evidence the reviewer decided on (recorded in the ledger), else the newest archived
    sha = requested.get("evidence_sha256") or page[0]
    warc_file = requested.get("warc_file") or page[2]
    offset = requested.get("warc_offset") if requested.get("warc_file") else page[3]
    found = contacts.get(ad_id, [])
    return {
        "takedown_id": tid,
        "number": number or numbers.get(tid),
        "receiver": receiver,
        "state": state,
        "state_label": STATE_LABELS.get(state, state),
        "overdue": state in takedowns.RUNNING and bool(deadline) and today.isoformat() > deadline,
        "deadline": deadline,
        "dispatched_at": dispatched_at,
        "platform": requested.get("platform") or platform,
        "region": region,
        "url": requested.get("url") or url,
        "title": confirmed.get("title", title),
        "excerpt": confirmed.get("excerpt", " ".join(body.split())[:200]),
        "advertiser": author,
        "contacts": found,
        "contacts_text": "；".join(f"{CONTACT_KINDS.get(c['kind'], c['kind'])} {c['value']}" for c in found),
        "category": requested.get("category", ""),
        "legal_basis": requested.get("legal_basis", ""),
        "decision": decision,
        "reason": reason,
        "reviewer": reviewer or "",
        "confirmed_at": confirmed_at,
        "takedown_action": requested.get("takedown_action", ""),
        "first_seen": first_seen,
        "sightings": sightings.get(ad_id, 0),
        "captured_at": requested.get("fetched_at") or page[1],
        "evidence_sha256": sha,
        "screenshot_sha256": page[4],
        "warc": f"{warc_file}:{offset}" if warc_file else None,
        "feedback_result": feedback_result,
        "feedback_at": feedback_at,
        "check_result": check_result,
        "check_label": CHECK_RESULTS.get(check_result or "", check_result),
        "checked_at": checked_at,
        "removed_at": removed_at,
        "reappeared_at": reappeared_at,
        "reappeared_ad_id": reappeared_ad_id,
        "ad_id": ad_id,
        "requested_seq": seq,
    }


def takedown_list(
    db: sqlite_utils.Database,
    filters: Filters | None = None,
    *,
    office: Office | None = None,
    actor: str = "",
    today: date | None = None,
    now: str | None = None,
    receiver_names: Mapping[str, str] | None = None,
) -> TakedownList:
    """The takedowns the filters select, oldest first, with the ledger head they were read at; a receiver is
    shown by its name in receivers.yml (``receiver_names``, key → 接收单位) when the file knows it."""
    f = filters or Filters()
    exported_at = now or now_utc()
    day = today or datetime.fromisoformat(exported_at).astimezone(SHANGHAI).date()
    where, args = _where(f)
    with snapshot(db):  # the head matches the rows
        _check_names(db, f)
        head = ledger.head(db)
        found = db.execute(_SELECT + where + " ORDER BY t.id", args).fetchall()
        side = _side_tables(db)
    office = office or Office()
    rows = [_row(r, side, day) | {"office": office.name, "exported_at": exported_at} for r in found]
    for row in rows:
        if row["receiver"] and receiver_names:
            row["receiver"] = receiver_names.get(row["receiver"], row["receiver"])
    meta = ExportMeta(office, exported_at, actor, f, head, len(rows), day)
    return TakedownList(rows, meta)


def choices(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """What the filters can name, for the web form: receivers and platforms that have takedowns."""
    receivers = [r for (r,) in db.execute("SELECT DISTINCT receiver FROM takedowns WHERE receiver IS NOT NULL")]
    platforms = [p for (p,) in db.execute("SELECT DISTINCT a.platform FROM takedowns t JOIN ads a ON a.id = t.ad_id")]
    return {"receivers": sorted(receivers), "platforms": sorted(platforms)}


def _check_names(db: sqlite_utils.Database, f: Filters) -> None:
    """A receiver or platform no takedown ever had is a typo, not an empty list: say which ones there are."""
    known = choices(db)
    for given, names, what, option in (
        (f.receiver, known["receivers"], "was dispatched to", "--receiver"),
        (f.platform, known["platforms"], "is on", "--platform"),
    ):
        if given is not None and given not in names:
            listed = "、".join(names[:10]) + ("…" if len(names) > 10 else "") if names else "none yet"
            raise ExportError(
                f"no takedown {what} '{given}'; {option} is one of: {listed}",
                zh=(
                    f"没有{'交办给' if option == '--receiver' else '位于'}“{given}”的处置，"
                    f"可选：{listed if names else '暂无'}"
                ),
            )


def overview(db: sqlite_utils.Database) -> dict[str, Any]:
    """For the export page: the takedowns an unfiltered export holds, per receiver (or platform, not dispatched
    yet), and the ledger head; without reading every row."""
    with snapshot(db):
        head = ledger.head(db)
        per = db.execute(
            "SELECT coalesce(t.receiver, a.platform || '·未交办'), count(*) FROM takedowns t "
            "JOIN ads a ON a.id = t.ad_id WHERE t.state != 'cancelled' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return {"head": head, "total": sum(n for _, n in per), "per": per}


def write(result: TakedownList, path: Path, fmt: str) -> None:
    """Write ``result`` to ``path`` in ``fmt`` (csv, xlsx, json)."""
    if fmt not in FORMATS:
        raise ExportError(
            f"unknown format '{fmt}'; one of {', '.join(FORMATS)}",
            zh=f"未知的导出格式“{fmt}”，可选：{'、'.join(FORMATS)}",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path.write_bytes(export_text.csv_bytes(result))
    elif fmt == "json":
        path.write_bytes(export_text.json_bytes(result))
    else:
        export_xlsx.write(result, path)


def sidecar(path: Path) -> Path:
    """Where a CSV's metadata and ledger head go: ``FILE.csv.meta.json`` beside it."""
    return path.with_name(path.name + ".meta.json")


def export(
    db: sqlite_utils.Database,
    path: Path,
    fmt: str,
    filters: Filters | None = None,
    *,
    actor: str,
    office: Office | None = None,
    address: str = "cli",
    settings: ReviewSettings | None = None,
    today: date | None = None,
    receiver_names: Mapping[str, str] | None = None,
) -> TakedownList:
    """Write the takedown list to ``path`` (a CSV with its ``.meta.json`` sidecar); audited, its head anchored."""
    result = takedown_list(db, filters, office=office, actor=actor, today=today, receiver_names=receiver_names)
    write(result, path, fmt)
    if fmt == "csv":
        sidecar(path).write_bytes(export_text.metadata_bytes(result))
    _audited(db, result, fmt, actor=actor, target=str(path), address=address, settings=settings)
    return result


def download(
    db: sqlite_utils.Database,
    *,
    fmt: str,
    filters: Filters | None = None,
    actor: str,
    address: str,
    office: Office | None = None,
    settings: ReviewSettings | None = None,
    receiver_names: Mapping[str, str] | None = None,
) -> tuple[bytes, str, TakedownList]:
    """(file content, file name, the list): ``export`` for the web app, which sends the file."""
    if fmt not in FORMATS:
        raise ExportError(
            f"unknown format '{fmt}'; one of {', '.join(FORMATS)}",
            zh=f"未知的导出格式“{fmt}”，可选：{'、'.join(FORMATS)}",
        )
    result = takedown_list(db, filters, office=office, actor=actor, receiver_names=receiver_names)
    name = f"takedowns-{local(result.meta.exported_at, '%Y%m%d-%H%M%S')}.{fmt}"
    with tempfile.TemporaryDirectory(prefix="adclear-export-") as tmp:
        path = Path(tmp) / name
        write(result, path, fmt)
        content = path.read_bytes()
    _audited(db, result, fmt, actor=actor, target=name, address=address, settings=settings)
    return content, name, result


def _audited(
    db: sqlite_utils.Database,
    result: TakedownList,
    fmt: str,
    *,
    actor: str,
    target: str,
    address: str,
    settings: ReviewSettings | None,
) -> None:
    meta = replace(result.meta, exported_by=actor)
    detail = {
        "format": fmt,
        "filters": meta.filters.as_dict(),
        "rows": meta.rows,
        "head": meta.checkpoint if meta.head else None,
    }
    with immediate(db):
        audit.record(db, actor=actor, action="export", target=target, detail=detail, address=address)
    ledger.anchor(db, "export", settings)
