"""The review queue: ads waiting for a person, highest priority first, claimed with a lease.

A claim is one ``UPDATE … WHERE id = (SELECT …) RETURNING`` inside ``BEGIN IMMEDIATE``: two reviewers never
hold the same ad, and a lease that runs out returns the ad to the queue. Whether a lease still holds is decided
in one place (``held``, ``claimable``, ``lease_held``): until ``lease_until``, that instant included.

Open items are the ones ``claim`` can give out or that someone holds: state ``pending`` or ``claimed``
(escalated items wait for a supervisor in ``review.escalations``). Listing them (``items``: the command line's
``adclear queue`` and the web app's queue page) walks the partial index ``queue_open_order`` (priority, queue
time, ad) and stops at a page, so it stays fast with millions of ads; the totals (a walk of the whole index)
are cached by the web app for a few seconds. A flagged ad's score band (high, mid, low) comes from the rule
pack's ``queue_bands`` (``classifier.scoring``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlite_utils

from classifier.scoring import Scoring
from classifier.taxonomy import CATEGORIES
from core.db import immediate
from core.timeutil import day_start_utc, local, now_utc
from core.verdicts import FLAG_PRIORITY, REAPPEARED_PRIORITY
from review import audit

__all__ = [
    "BAND_NAMES",
    "BANDS",
    "DEFAULT_LEASE_SECONDS",
    "Filter",
    "claim",
    "claimable",
    "counts",
    "filter_options",
    "first_seen_between",
    "held",
    "holder",
    "items",
    "lease_held",
    "neighbours",
    "release",
    "score_bands",
    "to_front",
    "totals",
]

DEFAULT_LEASE_SECONDS = 15 * 60
TIP_SOURCE = "tip"  # the source filter's word for the ads public tips pointed at (review.tips)
# added to the priority of an ad that is a confirmed ad come back (再现): before every flag, in its own order
OPEN = "q.state IN ('pending', 'claimed')"  # exactly the partial indexes' condition
# the planner, without statistics, prefers queue_open and a sort of every open item: name the partial index
QUEUE = "queue q INDEXED BY queue_open_order"
_FROM = f"FROM {QUEUE} JOIN ads a ON a.id = q.ad_id JOIN verdicts v ON v.id = q.verdict_id"
_ORDER = "ORDER BY q.priority DESC, q.queued_at, q.ad_id"  # review order


# --- leases -------------------------------------------------------------------------------------------------
def held(alias: str = "q") -> str:
    """SQL: the item's claim still holds (one ``?``: now)."""
    p = f"{alias}." if alias else ""
    return f"({p}state = 'claimed' AND {p}lease_until >= ?)"


def claimable(alias: str = "q") -> str:
    """SQL: the item can be claimed: pending, or claimed with a lease that ran out (one ``?``: now)."""
    p = f"{alias}." if alias else ""
    return f"({p}state = 'pending' OR ({p}state = 'claimed' AND {p}lease_until < ?))"


def lease_held(state: str, lease_until: str | None, now: str) -> bool:
    """``held`` for a row already read."""
    return state == "claimed" and lease_until is not None and lease_until >= now


def _lease_end(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


# --- claims -------------------------------------------------------------------------------------------------
def claim(
    db: sqlite_utils.Database,
    reviewer: str,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ad_id: int | None = None,
    max_claims: int | None = None,
    address: str = "cli",
) -> int | None:
    """Claim the next open ad (or ``ad_id``) for ``reviewer``; returns its id, or None if nothing is free.

    With ``max_claims`` (the web app: 1), a reviewer holds at most that many ads: asking for the next one while
    at the limit gives back (and renews) the oldest ad already held; claiming a given ad releases the oldest
    others beyond the limit. So deciding ads opened from a direct link never piles up claims."""
    now = now_utc()
    lease = _lease_end(lease_seconds)
    with immediate(db):
        held_now = [r[0] for r in db.execute(_HELD, [reviewer, now])] if max_claims else []
        if ad_id is None and max_claims and len(held_now) >= max_claims:
            ad_id = held_now[0]  # finish (or release) what you hold first
        row = _claim_one(db, reviewer, now, lease, ad_id)
        if row is not None:
            _audit(db, reviewer, "claim", row[0], address)
            if max_claims:
                others = [a for a in held_now if a != row[0]]
                for extra in others[: max(0, len(others) - (max_claims - 1))]:
                    _release(db, extra, reviewer, address)
    return row[0] if row else None


# a reviewer's live claims, oldest first
_HELD = f"""SELECT ad_id FROM queue INDEXED BY queue_open
            WHERE claimed_by = ? AND {held("")} ORDER BY updated_at, ad_id"""


def _claim_one(db: sqlite_utils.Database, reviewer: str, now: str, lease: str, ad_id: int | None) -> Any:
    if ad_id is None:
        return db.execute(
            f"""UPDATE queue SET state = 'claimed', claimed_by = ?, lease_until = ?, updated_at = ?
                WHERE id = (SELECT q.id FROM {QUEUE}  -- review order, no sort
                            WHERE {OPEN} AND {claimable()} {_ORDER} LIMIT 1)
                RETURNING ad_id""",
            [reviewer, lease, now, now],
        ).fetchone()
    # a given ad: claimable, or one's own claim (renews the lease)
    return db.execute(
        f"""UPDATE queue SET state = 'claimed', claimed_by = ?, lease_until = ?, updated_at = ?
            WHERE id = (SELECT q.id FROM queue q
                        WHERE q.ad_id = ? AND ({claimable()} OR (q.state = 'claimed' AND q.claimed_by = ?)))
            RETURNING ad_id""",
        [reviewer, lease, now, ad_id, now, reviewer],
    ).fetchone()


def release(db: sqlite_utils.Database, ad_id: int, reviewer: str, *, address: str = "cli") -> bool:
    """Give a claimed ad back to the queue; only its holder can."""
    with immediate(db):
        return _release(db, ad_id, reviewer, address)


def _release(db: sqlite_utils.Database, ad_id: int, reviewer: str, address: str) -> bool:
    changed = db.execute(
        "UPDATE queue SET state = 'pending', claimed_by = NULL, lease_until = NULL, updated_at = ? "
        "WHERE ad_id = ? AND state = 'claimed' AND claimed_by = ?",
        [now_utc(), ad_id, reviewer],
    ).rowcount
    if changed:
        _audit(db, reviewer, "release", ad_id, address)
    return bool(changed)


def holder(db: sqlite_utils.Database, ad_id: int) -> tuple[str, str] | None:
    """(reviewer, lease end) of a live claim on the ad, or None."""
    row = db.execute(
        f"SELECT claimed_by, lease_until FROM queue WHERE ad_id = ? AND {held('')}", [ad_id, now_utc()]
    ).fetchone()
    return (row[0], row[1]) if row else None


def _audit(db: sqlite_utils.Database, actor: str, action: str, ad_id: int, address: str) -> None:
    audit.record(db, actor=actor, action=action, target=f"ad:{ad_id}", address=address)


# --- listing ------------------------------------------------------------------------------------------------
BAND_NAMES = ("high", "mid", "low", "watch")
Bands = Mapping[str, tuple[float, float]]


def score_bands(queue_bands: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """The score bands (``Scoring.queue_bands``) as priority ranges (low, high): flagged ads from the ``high``
    score, from ``mid`` to ``high``, below ``mid``; then every watch (priority = score + 1000 for a flag)."""
    high, mid = FLAG_PRIORITY + queue_bands["high"], FLAG_PRIORITY + queue_bands["mid"]
    return {
        "high": (high, float("inf")),
        "mid": (mid, high),
        "low": (FLAG_PRIORITY, mid),
        "watch": (float("-inf"), FLAG_PRIORITY),
    }


BANDS = score_bands(Scoring().queue_bands)  # the bands of a rule pack that names none
STATES = ("", "pending", "claimed", "mine")
# the dates a filter can name: within them, the time-zone arithmetic cannot overflow
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def day_in_bounds(text: str) -> date | None:
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


@dataclass(frozen=True, slots=True)
class Filter:
    platform: str = ""
    site: str = ""
    category: str = ""
    band: str = ""
    date_from: str = ""  # YYYY-MM-DD, Asia/Shanghai, on the ad's first sighting
    date_to: str = ""
    source: str = ""  # the kind of site (seeds.yml `kind`: classifieds, social, forum, …), or 'tip' (举报线索)
    state: str = ""  # '', pending, claimed, mine
    clusters: str = ""  # '1': only ads that have near-duplicates (a cluster of two or more)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Filter:
        """From a query string; values that are not valid are dropped, not trusted."""

        def text(key: str) -> str:
            return str(args.get(key, "") or "").strip()[:100]

        return cls(
            platform=text("platform"),
            site=text("site"),
            category=text("category") if text("category") in CATEGORIES else "",
            band=text("band") if text("band") in BAND_NAMES else "",
            date_from=text("from") if day_in_bounds(text("from")) else "",
            date_to=text("to") if day_in_bounds(text("to")) else "",
            source=text("source"),
            state=text("state") if text("state") in STATES else "",
            clusters="1" if text("clusters") == "1" else "",
        )

    def query(self) -> dict[str, str]:
        """The filter as query-string arguments (only the set ones)."""
        names = {"date_from": "from", "date_to": "to"}
        return {names.get(k, k): v for k, v in asdict(self).items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query())


def first_seen_between(date_from: str, date_to: str) -> tuple[list[str], list[Any]]:
    """SQL conditions on ``a.first_seen`` for the days ``date_from`` to ``date_to`` (YYYY-MM-DD, China time,
    both included; '' for no bound), and their arguments."""
    clauses: list[str] = []
    args: list[Any] = []
    if date_from:
        clauses.append("a.first_seen >= ?")
        args.append(day_start_utc(date.fromisoformat(date_from)))
    if date_to:
        clauses.append("a.first_seen < ?")
        args.append(day_start_utc(date.fromisoformat(date_to) + timedelta(days=1)))
    return clauses, args


def _where(f: Filter, reviewer: str, bands: Bands) -> tuple[list[str], list[Any]]:
    clauses: list[str] = [OPEN]
    args: list[Any] = []
    for clause, value in (
        ("a.platform = ?", f.platform),
        ("a.site = ?", f.site),
        ("a.site IN (SELECT name FROM sites WHERE kind = ?)", f.source if f.source != TIP_SOURCE else ""),
        ("v.categories LIKE ?", f'%"{f.category}"%' if f.category else ""),  # a CATEGORIES name: no wildcards
    ):
        if value:
            clauses.append(clause)
            args.append(value)
    if f.clusters:
        clauses.append(
            "a.cluster_id IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM ads c WHERE c.cluster_id = a.cluster_id AND c.id != a.id)"
        )
    if f.source == TIP_SOURCE:
        clauses.append("a.id IN (SELECT ad_id FROM tips WHERE ad_id IS NOT NULL)")
    if f.band:
        low, high = bands[f.band]
        if low != float("-inf"):
            clauses.append("q.priority >= ?")
            args.append(low)
        if high != float("inf"):
            clauses.append("q.priority < ?")
            args.append(high)
    days, day_args = first_seen_between(f.date_from, f.date_to)
    clauses += days
    args += day_args
    now = now_utc()
    if f.state == "pending":
        clauses.append(claimable())
        args.append(now)
    elif f.state in ("claimed", "mine"):
        clauses.append(held() + (" AND q.claimed_by = ?" if f.state == "mine" else ""))
        args += [now, reviewer] if f.state == "mine" else [now]
    return clauses, args


def items(
    db: sqlite_utils.Database,
    f: Filter = Filter(),
    *,
    reviewer: str = "",
    limit: int = 50,
    offset: int = 0,
    bands: Bands = BANDS,
) -> list[dict[str, Any]]:
    """One page of open items, highest priority first, oldest first among equals; a claim shows while it holds."""
    clauses, args = _where(f, reviewer, bands)
    rows = db.execute(
        f"""SELECT q.ad_id, q.priority, q.state, q.claimed_by, q.lease_until, q.queued_at, v.label, v.score,
                   v.categories, a.title, a.site, a.platform, a.url, a.first_seen, a.cluster_id,
                   (SELECT count(*) FROM ads c WHERE c.cluster_id = a.cluster_id)
            {_FROM} WHERE {" AND ".join(clauses)} {_ORDER} LIMIT ? OFFSET ?""",
        [*args, limit, offset],
    ).fetchall()
    now = now_utc()
    out = []
    for ad_id, prio, state, by, lease, queued, label, score, cats, title, site, platform, url, first, cid, size in rows:
        live = lease_held(state, lease, now)
        out.append(
            {
                "ad_id": ad_id,
                "priority": prio,
                "state": "claimed" if live else "pending",
                "claimed_by": by if live else None,
                "lease_until": local(lease, "%H:%M") if live else "",
                "queued_at": local(queued),
                "age": _age(queued, now),  # seconds queued (review.web.i18n's ``age`` filter says it)
                "label": label,
                "score": score,
                "categories": json.loads(cats),
                "title": title,
                "site": site,
                "platform": platform,
                "url": url,
                "first_seen": local(first),
                "cluster_id": cid,
                "cluster_size": size if cid is not None else 1,
            }
        )
    return out


def _age(stamp: str | None, now: str) -> int | None:
    """How many seconds ago (None without a time); said in the reader's language by the web app."""
    if not stamp:
        return None
    return max(0, int((datetime.fromisoformat(now) - datetime.fromisoformat(stamp)).total_seconds()))


def totals(db: sqlite_utils.Database) -> dict[str, int]:
    """Open items, flag and watch: a walk of the partial index (about 0.3 s at a million open items, so the web
    app caches it)."""
    total, flag = db.execute(
        f"SELECT count(*), count(*) FILTER (WHERE q.priority >= {FLAG_PRIORITY}) FROM {QUEUE} WHERE {OPEN}"
    ).fetchone()
    return {"open": total, "flag": flag, "watch": total - flag}


def counts(db: sqlite_utils.Database, *, reviewer: str = "", totals_: dict[str, int] | None = None) -> dict[str, Any]:
    """``totals`` (or the ones given), items claimed now (and by ``reviewer``), escalated, and the oldest one's age."""
    now = now_utc()
    claimed, mine = db.execute(
        f"SELECT count(*), count(*) FILTER (WHERE claimed_by = ?) FROM queue INDEXED BY queue_open WHERE {held('')}",
        [reviewer, now],
    ).fetchone()
    oldest = db.execute(f"SELECT min(q.queued_at) FROM queue q INDEXED BY queue_open_age WHERE {OPEN}").fetchone()[0]
    escalated = db.execute("SELECT count(*) FROM queue INDEXED BY queue_open WHERE state = 'escalated'").fetchone()[0]
    return {
        **(totals_ if totals_ is not None else totals(db)),
        "claimed": claimed,
        "mine": mine,
        "escalated": escalated,
        "oldest": local(oldest),
        "oldest_age": _age(oldest, now),
    }


def neighbours(db: sqlite_utils.Database, ad_id: int) -> tuple[int | None, int | None]:
    """The open items before and after ``ad_id`` in review order; (None, first item) if it is not open."""
    row = db.execute(f"SELECT q.priority, q.queued_at FROM queue q WHERE q.ad_id = ? AND {OPEN}", [ad_id]).fetchone()
    if row is None:
        first = db.execute(f"SELECT q.ad_id FROM {QUEUE} WHERE {OPEN} {_ORDER} LIMIT 1").fetchone()
        return None, first[0] if first else None
    prio, queued = row
    after = db.execute(
        f"""SELECT q.ad_id FROM {QUEUE} WHERE {OPEN} AND q.priority <= ?
              AND (q.priority < ? OR q.queued_at > ? OR (q.queued_at = ? AND q.ad_id > ?))
            {_ORDER} LIMIT 1""",
        [prio, prio, queued, queued, ad_id],
    ).fetchone()
    before = db.execute(
        f"""SELECT q.ad_id FROM {QUEUE} WHERE {OPEN} AND q.priority >= ?
              AND (q.priority > ? OR q.queued_at < ? OR (q.queued_at = ? AND q.ad_id < ?))
            ORDER BY q.priority, q.queued_at DESC, q.ad_id DESC LIMIT 1""",
        [prio, prio, queued, queued, ad_id],
    ).fetchone()
    return (before[0] if before else None), (after[0] if after else None)


def filter_options(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """The values the filters offer: platforms, sites and kinds of site (from ``sites``, a short table)."""
    rows = db.execute("SELECT name, platform, kind FROM sites ORDER BY name").fetchall()
    tipped = db.execute("SELECT 1 FROM tips WHERE ad_id IS NOT NULL LIMIT 1").fetchone() is not None
    return {
        "sites": [r[0] for r in rows],
        "platforms": sorted({r[1] for r in rows}),
        "sources": sorted({r[2] for r in rows} | ({TIP_SOURCE} if tipped else set())),
    }


def to_front(db: sqlite_utils.Database, ad_id: int) -> bool:
    """Put a reappeared ad (再现: a near-duplicate of a confirmed ad, found again) or a tipped one (举报线索, the
    source 'tip' of the filter) before every other item, queued
    again if it had left the queue undecided; inside the caller's transaction. A decided ad keeps its decision.
    True when the item moved; doing it twice moves nothing."""
    now = now_utc()
    row = db.execute("SELECT state, priority FROM queue WHERE ad_id = ?", [ad_id]).fetchone()
    if row is None:
        verdict = db.execute(
            "SELECT id, score FROM verdicts WHERE ad_id = ? ORDER BY id DESC LIMIT 1", [ad_id]
        ).fetchone()
        if verdict is None:
            return False
        db.execute(
            "INSERT INTO queue (ad_id, verdict_id, priority, state, queued_at, updated_at) "
            "VALUES (?, ?, ?, 'pending', ?, ?)",
            [ad_id, verdict[0], REAPPEARED_PRIORITY + verdict[1], now, now],
        )
        return True
    state, prio = row
    if state not in ("pending", "claimed", "withdrawn") or prio >= REAPPEARED_PRIORITY:
        return False
    db.execute(
        "UPDATE queue SET priority = priority + ?, updated_at = ?, "
        "state = CASE state WHEN 'withdrawn' THEN 'pending' ELSE state END WHERE ad_id = ?",
        [REAPPEARED_PRIORITY, now, ad_id],
    )
    return True
