"""The SQL behind 量化统计 (``review.statistics``): each function reads one kind of record for a time window.

The window is ``[lo, hi)`` in UTC ISO 8601 text, as the database keeps times. Every function returns plain
rows; what they mean is written in ``review.statistics``'s docstring. The big tables (sightings, pages, ads)
are only counted over ranges of their indexes (``in_windows``): 3M sightings cost no more than walking an
index once. Lists are passed as JSON (``json_each``): nothing is written, not even a temporary table, so a
read-only database can be counted.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

__all__ = [
    "decisions",
    "flag_firsts",
    "in_windows",
    "runs",
    "sites",
    "takedown_steps",
    "takedowns",
    "tips",
]


def sites(db: sqlite_utils.Database) -> dict[str, str]:
    """Every site's region ('' when none)."""
    return {name: region or "" for name, region in db.execute("SELECT name, region FROM sites")}


def runs(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str, str | None]]:
    """The crawl runs that may have worked in the window: (id, site, started_at, finished_at)."""
    sql = """SELECT id, site, started_at, finished_at FROM crawl_runs
             WHERE started_at < ? AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id"""
    return [tuple(r) for r in db.execute(sql, [hi, lo])]


_INDEXED = {
    "sightings": ("sightings", "run_id", "seen_at"),
    "pages": ("pages", "run_id", "fetched_at"),
    "first_seen": ("ads", "site", "first_seen"),
    "last_seen": ("ads", "site", "last_seen"),
}


def in_windows(db: sqlite_utils.Database, table: str, windows: list[tuple[Any, str, str]]) -> list[int]:
    """For each (key, lo, hi): how many rows of ``table`` ("sightings", "pages", "first_seen", "last_seen") the
    key (a run id; a site for the ads' first and last sightings) has with their time in [lo, hi). Each is a
    count over a range of an index, so that no row is read: ``sightings(run_id, seen_at)``,
    ``pages(run_id, fetched_at)``, ``ads(site, first_seen)``, ``ads(site, last_seen)``."""
    name, key, when = _INDEXED[table]
    sql = f"""SELECT (SELECT count(*) FROM {name} WHERE {key} = w.value ->> 0 AND {when} >= w.value ->> 1
                      AND {when} < w.value ->> 2) FROM json_each(?) w ORDER BY w.key"""
    return [r[0] for r in db.execute(sql, [json.dumps(windows, ensure_ascii=False)])]


def flag_firsts(db: sqlite_utils.Database) -> list[tuple[int, str, str | None, str]]:
    """Every ad ever flagged: (ad id, when its first ``flag`` verdict was made, that verdict's first category,
    the ad's site)."""
    sql = """SELECT v.ad_id, min(v.classified_at), json_extract(v.categories, '$[0]'), a.site
             FROM verdicts v JOIN ads a ON a.id = v.ad_id WHERE v.label = 'flag' GROUP BY v.ad_id"""
    return [tuple(r) for r in db.execute(sql)]


def decisions(db: sqlite_utils.Database) -> list[tuple[int, str, str, str, int, str | None, str, str]]:
    """Every confirmation and rejection in the ledger that no ``reversed`` entry undid:
    (seq, at, reviewer, action, ad id, category, the ad's site, the ad's first sighting)."""
    sql = """SELECT l.seq, l.at, l.actor, l.action, l.ad_id, json_extract(l.payload, '$.category'), a.site,
                    a.first_seen
             FROM ledger l JOIN ads a ON a.id = l.ad_id
             WHERE l.action IN ('confirmed', 'rejected')
               AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.ad_id = l.ad_id AND r.action = 'reversed'
                               AND json_extract(r.payload, '$.decided_seq') = l.seq)
             ORDER BY l.seq"""
    return [tuple(r) for r in db.execute(sql)]


def takedowns(db: sqlite_utils.Database) -> list[tuple[int, int, str, int, str, str | None, str | None, str, str]]:
    """Every takedown whose confirmation stands: (takedown id, ad id, requested at, confirmed seq, state,
    deadline, receiver, url, site)."""
    sql = """SELECT t.id, t.ad_id, l.at, json_extract(l.payload, '$.confirmed_seq'), t.state, t.deadline,
                    t.receiver, a.url, a.site
             FROM takedowns t JOIN ledger l ON l.seq = t.requested_seq JOIN ads a ON a.id = t.ad_id
             WHERE NOT EXISTS (SELECT 1 FROM ledger r WHERE r.ad_id = t.ad_id AND r.action = 'reversed'
                               AND json_extract(r.payload, '$.decided_seq')
                                   = json_extract(l.payload, '$.confirmed_seq'))
             ORDER BY t.id"""
    return [tuple(r) for r in db.execute(sql)]


def takedown_steps(db: sqlite_utils.Database) -> list[tuple[int, str, str]]:
    """The first dispatch, verified removal and reappearance of each takedown: (takedown id, action, at)."""
    sql = """SELECT CAST(json_extract(payload, '$.takedown_id') AS INTEGER) AS tid, action, min(at) FROM ledger
             WHERE action IN ('takedown_dispatched', 'removal_verified', 'reappeared') GROUP BY tid, action"""
    return [tuple(r) for r in db.execute(sql)]


def tips(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str, str, int | None, str | None]]:
    """Tips received in the window: (id, received_at, state, region, ad id, the ad's site)."""
    sql = """SELECT t.id, t.received_at, t.state, t.region, t.ad_id, a.site FROM tips t
             LEFT JOIN ads a ON a.id = t.ad_id WHERE t.received_at >= ? AND t.received_at < ?"""
    return [tuple(r) for r in db.execute(sql, [lo, hi])]
