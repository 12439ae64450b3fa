"""The SQL behind 量化统计 (``review.statistics``): each function reads one kind of record for a time window.

The window is ``[lo, hi)`` in UTC ISO 8601 text, as the database keeps times; weeks are named by the Monday
of their China-time week (``date(t, '+8 hours', 'weekday 0', '-6 days')``: Asia/Shanghai has no daylight
saving), which ``review.statistics`` turns into ISO week names. Every function returns plain rows; what they
mean is written in ``review.statistics``'s docstring. Sets of ids and categories are passed as JSON
(``json_each``), so that nothing is written, not even a temporary table: a read-only database can be counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

__all__ = [
    "MONDAY",
    "ad_facts",
    "decisions",
    "flag_firsts",
    "pages_by_run",
    "runs",
    "sightings_by_category",
    "sightings_by_site",
    "sites",
    "takedown_steps",
    "takedowns",
    "tips",
]

MONDAY = "date({}, '+8 hours', 'weekday 0', '-6 days')"  # the Monday (China time) of the week of a UTC time


def _ids(values: Iterable[Any]) -> str:
    return json.dumps(sorted(set(values)), ensure_ascii=False)


def sites(db: sqlite_utils.Database) -> dict[str, str]:
    """Every site's region ('' when none)."""
    return {name: region or "" for name, region in db.execute("SELECT name, region FROM sites")}


def runs(db: sqlite_utils.Database) -> dict[int, tuple[str, str]]:
    """Every crawl run: id → (site, started_at)."""
    return {rid: (site, started) for rid, site, started in db.execute("SELECT id, site, started_at FROM crawl_runs")}


def pages_by_run(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, int]]:
    """Pages fetched in the window: (run id, Monday of the week, count)."""
    sql = f"""SELECT run_id, {MONDAY.format("fetched_at")} AS monday, count(*) FROM pages
              WHERE fetched_at >= ? AND fetched_at < ? GROUP BY run_id, monday"""
    return [tuple(r) for r in db.execute(sql, [lo, hi])]


def sightings_by_site(
    db: sqlite_utils.Database, lo: str, hi: str, only_ads: Iterable[int] | None = None
) -> tuple[list[tuple[str, str, int, int]], list[tuple[str, int]]]:
    """Sightings in the window by the site of the run that made them: (site, Monday, sightings, distinct ads)
    per site and week, and (site, distinct ads) per site over the whole window; ``only_ads``: only these ads."""
    where, args = "s.seen_at >= ? AND s.seen_at < ?", [lo, hi]
    if only_ads is not None:
        where += " AND s.ad_id IN (SELECT value FROM json_each(?))"
        args.append(_ids(only_ads))
    joined = f"FROM sightings s JOIN crawl_runs r ON r.id = s.run_id WHERE {where}"
    weekly = db.execute(
        f"""SELECT r.site, {MONDAY.format("s.seen_at")} AS monday, count(*), count(DISTINCT s.ad_id) {joined}
            GROUP BY r.site, monday""",
        args,
    ).fetchall()
    per_site = db.execute(f"SELECT r.site, count(DISTINCT s.ad_id) {joined} GROUP BY r.site", args).fetchall()
    return [tuple(r) for r in weekly], [tuple(r) for r in per_site]


def sightings_by_category(
    db: sqlite_utils.Database, lo: str, hi: str, categories: dict[int, str], sites: Iterable[str] | None
) -> list[tuple[str, int, int]]:
    """Sightings in the window of the ads given a category, on ``sites`` (None: all):
    (category, sightings, distinct ads)."""
    sql = """WITH cat(ad_id, category) AS MATERIALIZED (SELECT CAST(key AS INTEGER), value FROM json_each(?))
             SELECT c.category, count(*), count(DISTINCT s.ad_id) FROM cat c
             JOIN sightings s ON s.ad_id = c.ad_id JOIN crawl_runs r ON r.id = s.run_id
             WHERE s.seen_at >= ? AND s.seen_at < ? AND (? IS NULL OR r.site IN (SELECT value FROM json_each(?)))
             GROUP BY c.category"""
    payload = json.dumps({str(k): v for k, v in categories.items()}, ensure_ascii=False)
    chosen = None if sites is None else _ids(sites)
    return [tuple(r) for r in db.execute(sql, [payload, lo, hi, chosen, chosen])]


def ad_facts(db: sqlite_utils.Database, ad_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """ad id → (site, first_seen) for the ads named."""
    sql = "SELECT id, site, first_seen FROM ads WHERE id IN (SELECT value FROM json_each(?))"
    return {r[0]: (r[1], r[2]) for r in db.execute(sql, [_ids(ad_ids)])}


def flag_firsts(db: sqlite_utils.Database) -> list[tuple[int, str, str]]:
    """Every ad ever flagged: (ad id, when its first ``flag`` verdict was made, that verdict's categories JSON)."""
    sql = """SELECT ad_id, min(classified_at), categories FROM verdicts WHERE label = 'flag' GROUP BY ad_id"""
    return [tuple(r) for r in db.execute(sql)]


def decisions(db: sqlite_utils.Database) -> list[tuple[int, str, str, str, int, str | None]]:
    """Every confirmation and rejection in the ledger that no ``reversed`` entry undid:
    (seq, at, reviewer, action, ad id, category)."""
    sql = """SELECT l.seq, l.at, l.actor, l.action, l.ad_id, json_extract(l.payload, '$.category') FROM ledger l
             WHERE l.action IN ('confirmed', 'rejected')
               AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.action = 'reversed' AND r.ad_id = l.ad_id
                               AND json_extract(r.payload, '$.decided_seq') = l.seq)
             ORDER BY l.seq"""
    return [tuple(r) for r in db.execute(sql)]


def takedowns(db: sqlite_utils.Database) -> list[tuple[int, int, str, int, str, str | None, str | None, str]]:
    """Every takedown whose confirmation stands: (takedown id, ad id, requested at, confirmed seq, state,
    deadline, receiver, url)."""
    sql = """SELECT t.id, t.ad_id, l.at, json_extract(l.payload, '$.confirmed_seq'), t.state, t.deadline,
                    t.receiver, a.url
             FROM takedowns t JOIN ledger l ON l.seq = t.requested_seq JOIN ads a ON a.id = t.ad_id
             WHERE NOT EXISTS (SELECT 1 FROM ledger r WHERE r.action = 'reversed' AND r.ad_id = t.ad_id
                               AND json_extract(r.payload, '$.decided_seq')
                                   = json_extract(l.payload, '$.confirmed_seq'))
             ORDER BY t.id"""
    return [tuple(r) for r in db.execute(sql)]


def takedown_steps(db: sqlite_utils.Database) -> list[tuple[int, str, str]]:
    """The first dispatch, verified removal and reappearance of each takedown: (takedown id, action, at)."""
    sql = """SELECT CAST(json_extract(payload, '$.takedown_id') AS INTEGER) AS tid, action, min(at) FROM ledger
             WHERE action IN ('takedown_dispatched', 'removal_verified', 'reappeared') GROUP BY tid, action"""
    return [tuple(r) for r in db.execute(sql)]


def tips(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str, str, int | None]]:
    """Tips received in the window: (id, received_at, state, region, ad id)."""
    sql = "SELECT id, received_at, state, region, ad_id FROM tips WHERE received_at >= ? AND received_at < ?"
    return [tuple(r) for r in db.execute(sql, [lo, hi])]
