"""Public tips (举报线索): received by staff, checked against the ad their URL became, answered, closed.

A tip's life: ``add`` (受理: channel, what was reported, an optional URL, optional attachments kept under their
SHA-256 by ``review.attachments``, a 线索编号 ``〔2026〕SFX线字第0001号`` per office and year, allocated as
``review.dispatch`` allocates 交办单号) → ``record_fetch`` (the URL fetched by ``adclear/tips.py``: the ad it
became is queued first, or why it was refused) → ``verify`` (核查: verified or unfounded; by default what the
reviewers decided on its ad, read from the ledger) → ``feedback`` (反馈: what the tipster was told) → ``close``
(办结; a closed tip keeps its result, so that "verified" counts it). Each step is a ledger entry
(``tip_received``, ``tip_fetched``, ``tip_verified``, ``tip_feedback``, ``tip_closed``) naming the tip by its
number; the ``tips`` row caches where it stands.

Confidentiality (条例 Art. 16): the tipster's name, phone and other contact stay in the ``tips`` row. The ledger,
which every export and every reviewer reads, holds at most ``tipster_hash`` (SHA-256 of a salt kept in the row,
the name and the phone: it proves later which identity was recorded without telling it), never the identity and
never the free text of the feedback (its SHA-256 only). Reviewers see the identity masked (``mask_name``,
``mask_phone``); supervisors and admins see it; exports leave it out unless asked for with a reason, which the
audit log keeps (``review.tips_export``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import sqlite_utils

from core.db import immediate
from core.timeutil import now_utc
from review import alerts, attachments, audit, ledger, queue, users
from review.dispatch import Office, check_office, next_serial
from review.settings import ReviewSettings
from review.tips_model import (
    CHANNELS,
    FETCH_OUTCOMES,
    RESULTS,
    STATES,
    Setup,
    Tip,
    TipError,
    mask_name,
    mask_phone,
    tip_number,
)
from review.workdays import today_china

__all__ = [
    "CHANNELS",
    "RESULTS",
    "STATES",
    "Setup",
    "Tip",
    "TipError",
    "add",
    "attachment_list",
    "close",
    "decision_of",
    "feedback",
    "for_ad",
    "get",
    "history",
    "listing",
    "mask_name",
    "mask_phone",
    "record_fetch",
    "reveal",
    "tip_number",
    "verify",
]

MAX_SUMMARY = 2000
MAX_FIELD = 200
_DECISION_ACTIONS = ("confirmed", "rejected", "reversed")
_COLUMNS = (
    "id, number, office, year, serial, received_at, channel, summary, url, region, tipster_name, tipster_phone, "
    "tipster_other, entered_by, state, ad_id, fetch_outcome, fetch_detail, verified_at, verify_note, feedback_at, "
    "feedback_text, closed_at, updated_at"
)


def _tipster_hash(salt: str, name: str, phone: str) -> str:
    material = json.dumps([salt, name.strip(), phone.strip()], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _writing(db: sqlite_utils.Database, settings: ReviewSettings | None) -> Iterator[None]:
    """A write transaction on a ledger that passes its check; afterwards its head is anchored outside."""
    with immediate(db):
        ledger.check_before_append(db)
        yield
    ledger.anchor(db, "tip", settings)


def _row(row: Any) -> Tip:
    return Tip(*row)


def get(db: sqlite_utils.Database, ref: int | str) -> Tip:
    """A tip by its id or its 线索编号; ``TipError`` when there is none."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit():
        row = db.execute(f"SELECT {_COLUMNS} FROM tips WHERE id = ?", [int(text)]).fetchone()
    else:
        row = db.execute(f"SELECT {_COLUMNS} FROM tips WHERE number = ?", [text]).fetchone()
    if row is None:
        raise TipError(
            f"no tip {text!r}: give its id or its number as `adclear tip list` shows them",
            zh=f"没有线索“{text}”：请填写线索编号",
        )
    return _row(row)


def listing(db: sqlite_utils.Database, *, state: str | None = None, open_only: bool = False) -> list[Tip]:
    """Tips, newest first: all, those in one state, or those not closed."""
    clauses, args = [], []
    if state:
        clauses.append("state = ?")
        args.append(state)
    if open_only:
        clauses.append("closed_at IS NULL")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM tips{where} ORDER BY id DESC", args)]


def for_ad(db: sqlite_utils.Database, ad_id: int) -> list[Tip]:
    """The tips whose URL became this ad (the ad's page names them)."""
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM tips WHERE ad_id = ? ORDER BY id", [ad_id])]


def _clean_url(url: str | None) -> str | None:
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > 2000 or not url.lower().startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise TipError(
            f"{url[:200]!r} is not a web address: write it as http://… or https://…",
            zh=f"“{url[:200]}”不是网址：请以 http:// 或 https:// 开头",
        )
    return url


def _checked_entry(channel: str, summary: str, received_at: str | None) -> str:
    """The tip's content, stripped; ``TipError`` when its channel, content or time cannot be recorded."""
    if channel not in CHANNELS:
        raise TipError(
            f"channel '{channel}' is not one of {', '.join(CHANNELS)}",
            zh=f"未知的来源渠道“{channel}”，可选：{'、'.join(CHANNELS)}",
        )
    summary = summary.strip()
    if not summary:
        raise TipError(
            "a tip needs its content (what was reported): it may not be empty", zh="请填写线索内容（举报的具体情况）"
        )
    if received_at is not None and received_at > now_utc():
        raise TipError(
            f"the time it was received ({received_at}) is in the future: give the time it came in",
            zh=f"接收时间（{received_at}）晚于现在：请填写实际接收时间",
        )
    return summary


def add(
    db: sqlite_utils.Database,
    office: Office,
    *,
    channel: str,
    summary: str,
    actor: str,
    url: str | None = None,
    region: str = "",
    tipster_name: str = "",
    tipster_phone: str = "",
    tipster_other: str = "",
    received_at: str | None = None,
    files: Sequence[tuple[str, bytes]] = (),
    today: date | None = None,
    address: str = "cli",
    settings: ReviewSettings | None = None,
) -> Tip:
    """受理: record a tip with its attachments; its ``tip_received`` entry names it without its tipster."""
    summary = _checked_entry(channel, summary, received_at)
    check_office(office)
    clean = _clean_url(url)
    stored = [attachments.store_attachment(db, name, data) for name, data in files]  # before the lock: files
    now = now_utc()
    year = (today or today_china()).year
    salt = secrets.token_hex(16)
    name, phone = tipster_name.strip()[:MAX_FIELD], tipster_phone.strip()[:MAX_FIELD]
    with _writing(db, settings):
        users.require(db, actor, "reviewer")
        serial = next_serial(db, "tips", office.code, year)
        number = tip_number(office.code, year, serial)
        cursor = db.execute(
            """INSERT INTO tips (number, office, year, serial, received_at, channel, summary, url, region,
                   tipster_name, tipster_phone, tipster_other, tipster_salt, entered_by, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                number, office.code, year, serial, received_at or now, channel, summary[:MAX_SUMMARY], clean,
                region.strip()[:MAX_FIELD], name, phone, tipster_other.strip()[:MAX_FIELD], salt, actor, now,
            ],
        )  # fmt: skip
        tip_id = int(cursor.lastrowid or 0)
        for item in stored:
            db.execute(
                "INSERT OR IGNORE INTO tip_attachments (tip_id, name, sha256, size, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [tip_id, item["name"], item["sha256"], _size(files, item), actor, now],
            )
        payload: dict[str, Any] = {"number": number, "channel": channel, "url": clean, "attachments": stored}
        if name or phone:
            payload["tipster_hash"] = _tipster_hash(salt, name, phone)
        ledger.append(db, actor=actor, action="tip_received", ad_id=None, payload=payload)
        audit.record(db, actor=actor, action="tip_add", target=f"tip:{number}", address=address)
    alerts.tip_alert(db, tip_id, number=number, channel=channel, summary=summary)  # never who gave it
    return get(db, tip_id)


def _size(files: Sequence[tuple[str, bytes]], item: dict[str, str]) -> int:
    return next((len(data) for _, data in files if hashlib.sha256(data).hexdigest() == item["sha256"]), 0)


def attachment_list(db: sqlite_utils.Database, tip_id: int) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT name, sha256, size, added_by, added_at FROM tip_attachments WHERE tip_id = ? ORDER BY id", [tip_id]
    ).fetchall()
    return [dict(zip(("name", "sha256", "size", "added_by", "added_at"), r, strict=True)) for r in rows]


def record_fetch(
    db: sqlite_utils.Database,
    ref: int | str,
    *,
    outcome: str,
    detail: str,
    ad_id: int | None,
    actor: str,
    settings: ReviewSettings | None = None,
) -> Tip:
    """What fetching the tip's URL gave: the ad it became (queued first, review.queue.to_front), or why not."""
    if outcome not in FETCH_OUTCOMES or (outcome == "fetched") != (ad_id is not None):
        raise TipError(
            f"a fetch outcome is fetched (with its ad) or refused or failed, not {outcome!r}",
            zh=f"抓取结果只能是已抓取、已拒绝或失败，不是“{outcome}”",
        )
    tip = get(db, ref)
    if tip.url is None:
        raise TipError(f"tip {tip.number} has no URL to fetch", zh=f"线索 {tip.number} 没有可抓取的网址")
    with _writing(db, settings):
        state = "verifying" if ad_id is not None and tip.state == "received" else tip.state
        db.execute(
            "UPDATE tips SET fetch_outcome = ?, fetch_detail = ?, ad_id = coalesce(?, ad_id), state = ?, "
            "updated_at = ? WHERE id = ?",
            [outcome, detail[:500], ad_id, state, now_utc(), tip.id],
        )
        payload = {"number": tip.number, "url": tip.url, "outcome": outcome, "detail": detail[:500]}
        ledger.append(db, actor=actor, action="tip_fetched", ad_id=ad_id, payload=payload)
        if ad_id is not None:
            queue.to_front(db, ad_id)
    return get(db, tip.id)


def decision_of(db: sqlite_utils.Database, ad_id: int | None) -> ledger.Entry | None:
    """The ad's decision as the ledger has it last (confirmed, rejected, or reversed: undecided again)."""
    if ad_id is None:
        return None
    row = db.execute(
        "SELECT seq FROM ledger WHERE ad_id = ? AND action IN ('confirmed', 'rejected', 'reversed') "
        "ORDER BY seq DESC LIMIT 1",
        [ad_id],
    ).fetchone()
    if row is None:
        return None
    entry = next(e for e in ledger.entries(db, ad_id=ad_id) if e.seq == row[0])
    return None if entry.action == "reversed" else entry


def verify(
    db: sqlite_utils.Database,
    ref: int | str,
    *,
    actor: str,
    result: str | None = None,
    note: str = "",
    settings: ReviewSettings | None = None,
) -> Tip:
    """核查: verified or unfounded. Without ``result``, the decision the reviewers recorded on the tip's ad
    (confirmed: verified; rejected: unfounded); a tip without a decided ad needs ``result`` and a note."""
    tip = get(db, ref)
    if tip.closed_at:
        raise TipError(f"tip {tip.number} is closed", zh=f"线索 {tip.number} 已办结")
    decided = decision_of(db, tip.ad_id)
    if result is None:
        if decided is None:
            why = "its ad is not decided yet" if tip.ad_id else "it has no ad (no URL, or the fetch did not succeed)"
            raise TipError(
                f"tip {tip.number}: {why}: decide the ad in the queue, or give the result and a note",
                zh=f"线索 {tip.number}："
                + ("其广告尚未审核" if tip.ad_id else "没有对应的广告（无网址或抓取未成功）")
                + "：请先在待审队列中审核该广告，或填写核查结果和说明",
            )
        result = "verified" if decided.action == "confirmed" else "unfounded"
    elif result not in RESULTS:
        raise TipError(
            f"the result is verified or unfounded, not {result!r}", zh=f"核查结果只能是属实或不属实，不是“{result}”"
        )
    elif decided is None and not note.strip():
        raise TipError(
            f"tip {tip.number}: without a decided ad, say how it was checked (a note)",
            zh=f"线索 {tip.number} 没有已审核的广告：请说明如何核查的",
        )
    now = now_utc()
    with _writing(db, settings):
        users.require(db, actor, "reviewer")
        db.execute(
            "UPDATE tips SET state = ?, verified_at = ?, verify_note = ?, updated_at = ? WHERE id = ?",
            [result, now, note.strip()[:MAX_SUMMARY], now, tip.id],
        )
        payload: dict[str, Any] = {"number": tip.number, "result": result, "note": note.strip()[:500]}
        if decided is not None:
            payload["decision"] = {"seq": decided.seq, "action": decided.action}
        ledger.append(db, actor=actor, action="tip_verified", ad_id=tip.ad_id, payload=payload)
    return get(db, tip.id)


def feedback(
    db: sqlite_utils.Database,
    ref: int | str,
    *,
    actor: str,
    text: str,
    at: str | None = None,
    settings: ReviewSettings | None = None,
) -> Tip:
    """反馈: what the tipster was told and when; the ledger keeps the text's SHA-256, not the text."""
    tip = get(db, ref)
    text = text.strip()
    if not text:
        raise TipError("feedback needs what the tipster was told", zh="请填写答复举报人的内容")
    if tip.state not in RESULTS:
        raise TipError(
            f"tip {tip.number} is {tip.state_label}: verify it first (核查), then answer the tipster",
            zh=f"线索 {tip.number} 当前为“{tip.state_label}”：请先核查，再答复举报人",
        )
    when = at or now_utc()
    with _writing(db, settings):
        users.require(db, actor, "reviewer")
        db.execute(
            "UPDATE tips SET feedback_at = ?, feedback_text = ?, updated_at = ? WHERE id = ?",
            [when, text[:MAX_SUMMARY], now_utc(), tip.id],
        )
        digest = hashlib.sha256(text[:MAX_SUMMARY].encode("utf-8")).hexdigest()
        payload = {"number": tip.number, "at": when, "text_sha256": digest}
        ledger.append(db, actor=actor, action="tip_feedback", ad_id=tip.ad_id, payload=payload)
    return get(db, tip.id)


def close(
    db: sqlite_utils.Database, ref: int | str, *, actor: str, note: str = "", settings: ReviewSettings | None = None
) -> Tip:
    """办结: a verified or unfounded tip whose tipster was answered (or, with a note, could not be)."""
    tip = get(db, ref)
    if tip.closed_at:
        raise TipError(f"tip {tip.number} is closed already", zh=f"线索 {tip.number} 已办结")
    if tip.state not in RESULTS:
        raise TipError(
            f"tip {tip.number} is {tip.state_label}: verify it first (核查)",
            zh=f"线索 {tip.number} 当前为“{tip.state_label}”：请先核查",
        )
    if tip.feedback_at is None and not note.strip():
        raise TipError(
            f"tip {tip.number}: the tipster was not answered (反馈): record it, or say why not (a note)",
            zh=f"线索 {tip.number} 尚未答复举报人：请先登记反馈，或在说明中写明原因",
        )
    now = now_utc()
    with _writing(db, settings):
        users.require(db, actor, "reviewer")
        db.execute("UPDATE tips SET closed_at = ?, updated_at = ? WHERE id = ?", [now, now, tip.id])
        payload = {"number": tip.number, "result": tip.state, "note": note.strip()[:500]}
        ledger.append(db, actor=actor, action="tip_closed", ad_id=tip.ad_id, payload=payload)
    return get(db, tip.id)


def reveal(db: sqlite_utils.Database, tip: Tip, *, actor: str, address: str = "cli") -> dict[str, str]:
    """The tipster in full, for a supervisor or an admin; every look is kept in the audit log."""
    users.require(db, actor, "supervisor")
    with immediate(db):
        audit.record(db, actor=actor, action="tip_reveal", target=f"tip:{tip.number}", address=address)
    return tip.tipster(reveal=True)


def history(db: sqlite_utils.Database, tip: Tip) -> list[ledger.Entry]:
    """The tip's own ledger entries, oldest first."""
    rows = db.execute(
        "SELECT seq, at, actor, action, ad_id, payload, prev_hash, hash FROM ledger "
        "WHERE action LIKE 'tip\\_%' ESCAPE '\\' AND json_extract(payload, '$.number') = ? ORDER BY seq",
        [tip.number],
    ).fetchall()
    return [ledger.Entry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]
