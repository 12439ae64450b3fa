"""The 违法广告清理台账: one append-only hash chain for the whole database.

Each entry's ``hash`` is the SHA-256 of a canonical JSON array of its fields and the previous entry's hash
(``prev_hash``; 64 zeros for the first). Triggers refuse UPDATE, DELETE and an insert that does not extend
the chain. ``verify`` recomputes the chain and names the first bad entry; a chain rewritten wholesale with
recomputed hashes still verifies on its own, which is why every export prints the head (seq and hash) and
``verify(checkpoint=...)`` checks a head kept outside the database.

``append`` must run inside the caller's ``BEGIN IMMEDIATE`` transaction (``core.db.immediate``), so that
the entry lands with the decision it records, or not at all; ``anchor`` then keeps the new head outside the
database (``review.anchors``). ``page`` is the ledger as the web app pages through it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from core.db import database_path
from core.errors import LedgerBroken, LedgerError
from core.timeutil import now_utc
from review import anchors
from review.anchors import Anchor
from review.settings import ReviewSettings

__all__ = [
    "ACTIONS",
    "GENESIS",
    "Entry",
    "Head",
    "LedgerBroken",
    "LedgerError",
    "VerifyResult",
    "anchor",
    "append",
    "check_before_append",
    "entries",
    "head",
    "page",
    "parse_checkpoint",
    "verify",
]

GENESIS = "0" * 64

# Actions, as the ledger records them (English keys; the UI shows the Chinese label).
ACTIONS = {
    "confirmed": "确认违法",
    "rejected": "驳回",
    "takedown_requested": "提请处置",
    "reversed": "撤销决定",
    # a takedown's life (review/takedowns.py): entries about the ad, the takedown named in the payload
    "takedown_dispatched": "交办",
    "feedback_recorded": "反馈",
    "removal_verified": "复核已删除",
    "still_online": "复核仍在线",
    "recheck_failed": "复核未果",
    "takedown_closed": "办结",
    "reappeared": "再现",
    "correction": "更正",
    # dispatch batches (交办单): entries with no ad, the batch number in the payload
    "batch_created": "生成交办单",
    "approved": "审核通过",
    "notice_issued": "已发通知",
    "delivery_failed": "发送失败",
    "handed_over": "人工移交",
    "batch_cancelled": "作废交办单",
    # public tips (举报线索, review/tips.py): entries with the tip's number in the payload, never the tipster
    "tip_received": "受理线索",
    "tip_fetched": "线索网址抓取",
    "tip_verified": "线索核查",
    "tip_feedback": "反馈举报人",
    "tip_closed": "线索办结",
    "model_promoted": "启用模型",  # configuration: which learned model classifies from now on (ad_id NULL)
}


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    ad_id: int | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    head: Head | None
    problem: str = ""  # what is wrong, naming the first bad entry (English, for the command line)
    bad_seq: int | None = None
    kind: str = ""  # the problem's kind (PROBLEMS), so that the web app can say it in its own language
    values: dict[str, Any] = field(default_factory=dict)  # the figures the problem names


# The kinds of problem ``verify`` reports. A checkpoint that differs is not called a rewrite: the same
# difference comes from a checkpoint copied wrong, and only the person holding the export can tell.
PROBLEMS = (
    "missing", "prev_hash", "edited", "checkpoint_differs", "checkpoint_elsewhere", "checkpoint_absent",
    "anchor_cut", "anchor_differs", "decisions_past_end", "unreadable",
)  # fmt: skip


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_hash(seq: int, at: str, actor: str, action: str, ad_id: int | None, payload_json: str, prev_hash: str) -> str:
    material = canonical([seq, at, actor, action, ad_id, payload_json, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def head(db: sqlite_utils.Database) -> Head | None:
    row = db.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(row[0], row[1]) if row else None


def append(db: sqlite_utils.Database, *, actor: str, action: str, ad_id: int | None, payload: dict[str, Any]) -> Entry:
    """Append one entry; the caller holds the write lock (``BEGIN IMMEDIATE``)."""
    if action not in ACTIONS:
        raise LedgerError(f"unknown ledger action '{action}' (known: {', '.join(ACTIONS)})")
    if not db.conn.in_transaction:
        raise LedgerError("ledger.append must run inside a BEGIN IMMEDIATE transaction")
    last = head(db)
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else GENESIS
    at = now_utc()
    payload_json = canonical(payload)
    digest = entry_hash(seq, at, actor, action, ad_id, payload_json, prev)
    db.execute(
        "INSERT INTO ledger (seq, at, actor, action, ad_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, actor, action, ad_id, payload_json, prev, digest],
    )
    return Entry(seq, at, actor, action, ad_id, payload, prev, digest)


_COLUMNS = "seq, at, actor, action, ad_id, payload, prev_hash, hash"


def _entry(row: Any) -> Entry:
    return Entry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])


def entries(db: sqlite_utils.Database, *, last: int | None = None, ad_id: int | None = None) -> list[Entry]:
    """Entries oldest first: all, the ``last`` few, or those about one ad."""
    sql = f"SELECT {_COLUMNS} FROM ledger"
    args: list[Any] = []
    if ad_id is not None:
        sql += " WHERE ad_id = ?"
        args.append(ad_id)
    if last is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
        args.append(last)
    else:
        sql += " ORDER BY seq"
    return [_entry(r) for r in db.execute(sql, args)]


def page(db: sqlite_utils.Database, *, before_seq: int | None = None, limit: int = 100) -> list[Entry]:
    """Entries newest first, before ``before_seq`` (the web app pages through the ledger so)."""
    sql = f"SELECT {_COLUMNS} FROM ledger"
    args: list[Any] = []
    if before_seq is not None:
        sql += " WHERE seq < ?"
        args.append(before_seq)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(limit)
    return [_entry(r) for r in db.execute(sql, args)]


def parse_checkpoint(text: str) -> Head:
    """SEQ:HASH as an export's metadata gives it; ValueError (malformed) for anything else."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq.strip().isdigit() or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
        raise ValueError(
            f"'{text}' is not a checkpoint: write SEQ:HASH (an entry number, a colon and 64 hexadecimal "
            "characters) as an export's metadata gives it"
        )
    return Head(int(seq.strip()), digest)


def _chain(db: sqlite_utils.Database, checkpoint: Head | None) -> VerifyResult:
    """Recompute the chain from the first entry; stop at the first entry that does not hold."""
    expected_seq, prev, count, last = 1, GENESIS, 0, None
    checkpoint_seen = differs = False
    for seq, at, actor, action, ad_id, payload, prev_hash, digest in db.execute(
        "SELECT seq, at, actor, action, ad_id, payload, prev_hash, hash FROM ledger ORDER BY seq"
    ):
        if seq != expected_seq:
            missing = f"entry {expected_seq}" if seq == expected_seq + 1 else f"entries {expected_seq}–{seq - 1}"
            return VerifyResult(
                False,
                count,
                last,
                f"{missing} missing: the chain jumps from {expected_seq - 1} to {seq}",
                expected_seq,
                "missing",
                {"first": expected_seq, "last": seq - 1},
            )
        if prev_hash != prev:
            return VerifyResult(
                False, count, last, f"entry {seq}: prev_hash does not match entry {seq - 1}'s hash", seq, "prev_hash",
                {"seq": seq},
            )  # fmt: skip
        if entry_hash(seq, at, actor, action, ad_id, payload, prev_hash) != digest:
            return VerifyResult(
                False, count, last, f"entry {seq}: its content does not match its hash (edited)", seq, "edited",
                {"seq": seq},
            )  # fmt: skip
        if checkpoint is not None and seq == checkpoint.seq:
            checkpoint_seen = True
            differs = digest != checkpoint.hash  # reported once the whole chain is known to hold
        count += 1
        last = Head(seq, digest)
        prev, expected_seq = digest, seq + 1
    if checkpoint is not None and not checkpoint_seen:
        end = last.seq if last else 0
        return VerifyResult(
            False,
            count,
            last,
            f"checkpoint entry {checkpoint.seq} is not in the ledger (it ends at {end})",
            checkpoint.seq,
            "checkpoint_absent",
            {"seq": checkpoint.seq, "end": end},
        )
    if differs and checkpoint is not None:
        return _checkpoint_differs(db, checkpoint, count, last)
    return VerifyResult(True, count, last)


def _checkpoint_differs(db: sqlite_utils.Database, checkpoint: Head, count: int, last: Head | None) -> VerifyResult:
    """The entry at the checkpoint's number has another hash: a number mistyped (the hash is another entry's),
    or a checkpoint copied wrong, or a ledger rewritten since: the message names all that it can be."""
    other = db.execute("SELECT seq FROM ledger WHERE hash = ?", [checkpoint.hash]).fetchone()
    if other is not None:
        return VerifyResult(
            False,
            count,
            last,
            f"the checkpoint's hash is entry {other[0]}'s, not entry {checkpoint.seq}'s: its number was written wrong",
            checkpoint.seq,
            "checkpoint_elsewhere",
            {"seq": checkpoint.seq, "other": other[0]},
        )
    return VerifyResult(
        False,
        count,
        last,
        f"entry {checkpoint.seq}: its hash differs from the checkpoint {checkpoint}: either the checkpoint was "
        "copied wrong (hold it against the export it came from) or the ledger was rewritten after it was taken",
        checkpoint.seq,
        "checkpoint_differs",
        {"seq": checkpoint.seq},
    )


Problem = tuple[str, str, dict[str, Any]]  # (English message, kind, values)


def _anchor_problem(db: sqlite_utils.Database, last: Head | None, anchor: Anchor | None) -> Problem | None:
    """How the chain disagrees with the anchor kept outside the database (None when it holds or there is none)."""
    if anchor is None:
        return None
    end = last.seq if last else 0
    if anchor.seq > end:
        cut = f"entry {anchor.seq} was" if anchor.seq == end + 1 else f"entries {end + 1}–{anchor.seq} were"
        return (
            f"the ledger ends at entry {end} but its anchor file recorded entry {anchor.seq} at {anchor.at}: "
            f"{cut} cut from its tail",
            "anchor_cut",
            {"end": end, "seq": anchor.seq, "at": anchor.at},
        )
    row = db.execute("SELECT hash FROM ledger WHERE seq = ?", [anchor.seq]).fetchone()
    if row is not None and row[0] != anchor.hash:
        return (
            f"entry {anchor.seq}: hash differs from the anchor recorded at {anchor.at}: the chain was rewritten",
            "anchor_differs",
            {"seq": anchor.seq, "at": anchor.at},
        )
    return None


def _beyond(db: sqlite_utils.Database, last: Head | None, anchor: Anchor | None) -> Problem | None:
    """What points past the ledger's end: the anchor kept outside it, or decisions recorded with their entries."""
    problem = _anchor_problem(db, last, anchor)
    if problem:
        return problem
    end = last.seq if last else 0
    past = db.execute(
        "SELECT max(ledger_seq), max(reversed_seq) FROM decisions WHERE ledger_seq > ? OR reversed_seq > ?", [end, end]
    ).fetchone()
    pointed = max((s for s in past if s is not None), default=None)
    if pointed is not None:
        return (
            f"decisions point at ledger entry {pointed}, past its end at entry {end}: entries were cut from its tail",
            "decisions_past_end",
            {"seq": pointed, "end": end},
        )
    return None


def verify(db: sqlite_utils.Database, *, checkpoint: Head | None = None, anchor: Anchor | None = None) -> VerifyResult:
    """The chain recomputed, held against ``checkpoint`` (a head kept elsewhere), ``anchor`` (the anchor file's
    latest, ``review.anchors.latest``) and the decisions that cite its entries. A ledger whose pages cannot be read
    is reported as broken, not raised."""
    try:
        result = _chain(db, checkpoint)
        if result.ok:
            problem = _beyond(db, result.head, anchor)
            if problem:
                end = result.head.seq if result.head else 0
                return VerifyResult(False, result.entries, result.head, problem[0], end + 1, problem[1], problem[2])
        return result
    except sqlite3.DatabaseError as e:
        return VerifyResult(
            False,
            0,
            None,
            f"the ledger cannot be read ({e}): run `adclear doctor`, and restore the database from a backup "
            "(docs/operations.md)",
            None,
            "unreadable",
            {"error": str(e)},
        )


def check_before_append(db: sqlite_utils.Database) -> None:
    """Refuse to extend a chain whose head does not hold, or that ends before its latest anchor (cheap: the head,
    its predecessor and the anchor file's tail). Inside the caller's write transaction."""
    rows = db.execute(
        "SELECT seq, at, actor, action, ad_id, payload, prev_hash, hash FROM ledger ORDER BY seq DESC LIMIT 2"
    ).fetchall()
    problem = ""
    if rows:
        seq, at, actor, action, ad_id, payload, prev_hash, digest = rows[0]
        expected_prev = rows[1][7] if len(rows) > 1 else GENESIS
        if entry_hash(seq, at, actor, action, ad_id, payload, prev_hash) != digest:
            problem = f"entry {seq}: its content does not match its hash (edited)"
        elif prev_hash != expected_prev or (len(rows) > 1 and rows[1][0] != seq - 1):
            problem = f"entry {seq} does not follow entry {seq - 1}"
    last = Head(rows[0][0], rows[0][7]) if rows else None
    anchored = _anchor_problem(db, last, anchors.latest(db))
    problem = problem or (anchored[0] if anchored else "")
    if problem:
        raise LedgerBroken(
            f"the ledger fails its check ({problem}); nothing was recorded: run `adclear ledger verify`",
            zh=f"台账校验未通过（{problem}），本次未记录任何内容：请主管核查台账",
        )


def anchor(db: sqlite_utils.Database, why: str, settings: ReviewSettings | None = None) -> Anchor | None:
    """Keep the current head outside the database (``review.anchors``), after a decision batch, an export or a
    promotion has committed; None for an empty ledger or an in-memory database. Never undoes what committed:
    a file or webhook that cannot be written is a logged warning, and the next batch writes a newer head."""
    path = database_path(db)
    current = head(db)
    if path is None or current is None:
        return None
    kept = Anchor(current.seq, current.hash, now_utc(), why)
    anchors.keep(path, kept, (settings or ReviewSettings()).anchor_url)
    return kept
