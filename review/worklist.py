"""The queue as the web app shows it: filtered, paged, counted, with the neighbours of an ad.

Open items are the ones ``review.queue.claim`` can give out or that someone holds: state ``pending`` or
``claimed`` (escalated items wait for a supervisor in ``review.escalations``). Listing walks the partial index
``queue_open_order`` (priority, queue time, ad) and stops at a page, so it stays fast with millions of ads;
the totals (a walk of the whole index) are cached by the web app for a few seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlite_utils

from adclear.timeutil import SHANGHAI, local, now_utc
from adclear.verdicts import FLAG_PRIORITY

__all__ = ["BANDS", "Filter", "counts", "filter_options", "items", "neighbours", "totals"]

OPEN = "q.state IN ('pending', 'claimed')"  # exactly the partial indexes' condition
# score bands, as priority ranges (priority = score + a tenth of the model score, + 1000 for a flag): (label, low, high)
BANDS: dict[str, tuple[float, float]] = {
    "high": (FLAG_PRIORITY + 8, float("inf")),  # flag, score ≥ 8
    "mid": (FLAG_PRIORITY + 5, FLAG_PRIORITY + 8),  # flag, 5 ≤ score < 8
    "low": (FLAG_PRIORITY, FLAG_PRIORITY + 5),  # flag, score < 5
    "watch": (float("-inf"), FLAG_PRIORITY),  # watch
}
STATES = ("", "pending", "claimed", "mine")


@dataclass(frozen=True, slots=True)
class Filter:
    platform: str = ""
    site: str = ""
    category: str = ""
    band: str = ""
    date_from: str = ""  # YYYY-MM-DD, Asia/Shanghai, on the ad's first sighting
    date_to: str = ""
    source: str = ""  # the kind of site (seeds.yml `kind`: classifieds, social, forum, …)
    state: str = ""  # '', pending, claimed, mine

    @classmethod
    def from_args(cls, args: Any) -> Filter:
        """From a query string; values that are not valid are dropped, not trusted."""
        from classifier.taxonomy import CATEGORIES

        def text(key: str) -> str:
            return str(args.get(key, "") or "").strip()[:100]

        return cls(
            platform=text("platform"),
            site=text("site"),
            category=text("category") if text("category") in CATEGORIES else "",
            band=text("band") if text("band") in BANDS else "",
            date_from=text("from") if day_in_bounds(text("from")) else "",
            date_to=text("to") if day_in_bounds(text("to")) else "",
            source=text("source"),
            state=text("state") if text("state") in STATES else "",
        )

    def query(self) -> dict[str, str]:
        """The filter as query-string arguments (only the set ones)."""
        names = {"date_from": "from", "date_to": "to"}
        return {names.get(k, k): v for k, v in asdict(self).items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query())


# the dates a filter can name: within them, the time-zone arithmetic cannot overflow
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def day_in_bounds(text: str) -> date | None:
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


def _local_midnight_utc(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC).isoformat(timespec="microseconds")


def _where(f: Filter, reviewer: str) -> tuple[list[str], list[Any]]:
    clauses, args = [OPEN], []
    if f.platform:
        clauses.append("a.platform = ?")
        args.append(f.platform)
    if f.site:
        clauses.append("a.site = ?")
        args.append(f.site)
    if f.source:
        clauses.append("a.site IN (SELECT name FROM sites WHERE kind = ?)")
        args.append(f.source)
    if f.category:
        clauses.append("v.categories LIKE ?")
        args.append(f'%"{f.category}"%')  # a CATEGORIES name: no LIKE wildcards in it
    if f.band:
        low, high = BANDS[f.band]
        if low != float("-inf"):
            clauses.append("q.priority >= ?")
            args.append(low)
        if high != float("inf"):
            clauses.append("q.priority < ?")
            args.append(high)
    if f.date_from:
        clauses.append("a.first_seen >= ?")
        args.append(_local_midnight_utc(date.fromisoformat(f.date_from)))
    if f.date_to:
        clauses.append("a.first_seen < ?")
        args.append(_local_midnight_utc(date.fromisoformat(f.date_to) + timedelta(days=1)))
    now = now_utc()
    if f.state == "pending":
        clauses.append("(q.state = 'pending' OR q.lease_until < ?)")
        args.append(now)
    elif f.state == "claimed":
        clauses.append("q.state = 'claimed' AND q.lease_until >= ?")
        args.append(now)
    elif f.state == "mine":
        clauses.append("q.state = 'claimed' AND q.lease_until >= ? AND q.claimed_by = ?")
        args += [now, reviewer]
    return clauses, args


# the planner, without statistics, prefers queue_open and a sort of every open item: name the partial index
QUEUE = "queue q INDEXED BY queue_open_order"
_FROM = f"FROM {QUEUE} JOIN ads a ON a.id = q.ad_id JOIN verdicts v ON v.id = q.verdict_id"


def items(
    db: sqlite_utils.Database, f: Filter = Filter(), *, reviewer: str = "", limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """One page of open items, highest priority first, oldest first among equals."""
    clauses, args = _where(f, reviewer)
    rows = db.execute(
        f"""SELECT q.ad_id, q.priority, q.state, q.claimed_by, q.lease_until, q.queued_at, v.label, v.score,
                   v.categories, a.title, a.site, a.platform, a.first_seen
            {_FROM} WHERE {" AND ".join(clauses)}
            ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT ? OFFSET ?""",
        [*args, limit, offset],
    ).fetchall()
    now = now_utc()
    out = []
    for ad_id, prio, state, by, lease, queued, label, score, cats, title, site, platform, first in rows:
        held = state == "claimed" and lease is not None and lease >= now
        out.append(
            {
                "ad_id": ad_id,
                "priority": prio,
                "claimed_by": by if held else None,
                "lease_until": local(lease, "%H:%M") if held else "",
                "queued_at": local(queued),
                "age": _age(queued, now),
                "label": label,
                "score": score,
                "categories": json.loads(cats),
                "title": title,
                "site": site,
                "platform": platform,
                "first_seen": local(first),
            }
        )
    return out


def _age(stamp: str | None, now: str) -> str:
    """How long ago, briefly: 35分钟, 5小时, 3天."""
    if not stamp:
        return ""
    seconds = (datetime.fromisoformat(now) - datetime.fromisoformat(stamp)).total_seconds()
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))}分钟"
    if seconds < 86400:
        return f"{int(seconds // 3600)}小时"
    return f"{int(seconds // 86400)}天"


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
        "SELECT count(*), count(*) FILTER (WHERE claimed_by = ?) FROM queue INDEXED BY queue_open "
        "WHERE state = 'claimed' AND lease_until >= ?",
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
        first = db.execute(
            f"SELECT q.ad_id FROM {QUEUE} WHERE {OPEN} ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT 1"
        ).fetchone()
        return None, first[0] if first else None
    prio, queued = row
    after = db.execute(
        f"""SELECT q.ad_id FROM {QUEUE} WHERE {OPEN} AND q.priority <= ?
              AND (q.priority < ? OR q.queued_at > ? OR (q.queued_at = ? AND q.ad_id > ?))
            ORDER BY q.priority DESC, q.queued_at, q.ad_id LIMIT 1""",
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
    return {
        "sites": [r[0] for r in rows],
        "platforms": sorted({r[1] for r in rows}),
        "sources": sorted({r[2] for r in rows}),
    }
