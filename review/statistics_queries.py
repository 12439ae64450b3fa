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
    "confirmed_categories",
    "decisions",
    "flagged",
    "hours_to_confirm",
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


# Runs that are not monitoring: a tipped URL fetched once (its ad counts among the tips), a takedown's URL fetched
# again (its outcome counts among the takedowns). Their pages and sightings are not 监测条次.
NOT_MONITORING = ("tip", "recheck")


def runs(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str, str | None]]:
    """The monitoring crawl runs that may have worked in the window: (id, site, started_at, finished_at)."""
    sql = f"""SELECT id, site, started_at, finished_at FROM crawl_runs
              WHERE started_at < ? AND (finished_at IS NULL OR finished_at >= ?)
                AND spider NOT IN ({", ".join("?" * len(NOT_MONITORING))}) ORDER BY id"""
    return [tuple(r) for r in db.execute(sql, [hi, lo, *NOT_MONITORING])]


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


# ledger entries undone: the seq of every decision a ``reversed`` entry names
_REVERSED = "SELECT json_extract(payload, '$.decided_seq') FROM ledger WHERE action = 'reversed'"
# an ad's first flag's strongest category (the partial index verdicts_first_flag)
_FLAG_CATEGORY = """(SELECT json_extract(v.categories, '$[0]') FROM verdicts v WHERE v.ad_id = {0} AND v.label = 'flag'
                     ORDER BY v.classified_at LIMIT 1)"""
# an ad's category: its standing confirmation's, else its first flag's
_CATEGORY = f"""coalesce((SELECT json_extract(c.payload, '$.category') FROM ledger c WHERE c.ad_id = {{0}}
                          AND c.action = 'confirmed' AND c.seq NOT IN rev ORDER BY c.seq DESC LIMIT 1),
                         {_FLAG_CATEGORY}, '')"""


def _weeks_case(column: str, week_ends: list[str]) -> tuple[str, list[str]]:
    """A CASE giving the index of the week a time falls in, from the weeks' ends."""
    return "CASE " + " ".join(f"WHEN {column} < ? THEN {i}" for i in range(len(week_ends))) + " END", week_ends


def flagged(
    db: sqlite_utils.Database, lo: str, hi: str, week_ends: list[str], confirmed: dict[int, str]
) -> list[tuple[str, int, str, int]]:
    """Ads first flagged in the window: (site, week index, category, count), the category a confirmation gave
    (``confirmed``: ad id → category) else the first flag's."""
    case, args = _weeks_case("f.at", week_ends)
    sql = f"""WITH conf(ad_id, category) AS MATERIALIZED (SELECT CAST(key AS INTEGER), value FROM json_each(?)),
                   f AS (SELECT ad_id, min(classified_at) AS at, json_extract(categories, '$[0]') AS category
                         FROM verdicts WHERE label = 'flag' GROUP BY ad_id)
              SELECT a.site, {case}, coalesce(c.category, f.category, ''), count(*)
              FROM f JOIN ads a ON a.id = f.ad_id LEFT JOIN conf c ON c.ad_id = f.ad_id
              WHERE f.at >= ? AND f.at < ? GROUP BY 1, 2, 3"""
    payload = json.dumps({str(k): v for k, v in confirmed.items()}, ensure_ascii=False)
    return [tuple(r) for r in db.execute(sql, [payload, *args, lo, hi])]


def confirmed_categories(db: sqlite_utils.Database) -> dict[int, str]:
    """ad id → the category of its standing confirmation."""
    sql = f"""SELECT ad_id, json_extract(payload, '$.category') FROM ledger
              WHERE action = 'confirmed' AND seq NOT IN ({_REVERSED}) ORDER BY seq"""
    return dict(db.execute(sql).fetchall())


_DECIDED = f"""FROM ledger l JOIN ads a ON a.id = l.ad_id
               WHERE l.action IN ('confirmed', 'rejected') AND l.at >= ? AND l.at < ?
                 AND l.seq NOT IN ({_REVERSED})"""
_DECIDED_CATEGORY = f"""coalesce(CASE WHEN l.action = 'confirmed' THEN json_extract(l.payload, '$.category')
                                     ELSE {_FLAG_CATEGORY.format("l.ad_id")} END, '')"""


def decisions(
    db: sqlite_utils.Database, lo: str, hi: str, week_ends: list[str]
) -> list[tuple[str, int, str, str, str, int]]:
    """The confirmations and rejections made in the window that no ``reversed`` entry undid, counted by
    (action, week index, the ad's site, its category, the reviewer)."""
    case, args = _weeks_case("l.at", week_ends)
    sql = f"SELECT l.action, {case}, a.site, {_DECIDED_CATEGORY}, l.actor, count(*) {_DECIDED} GROUP BY 1, 2, 3, 4, 5"
    return [tuple(r) for r in db.execute(sql, [*args, lo, hi])]


def hours_to_confirm(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[float, str, str]]:
    """For each of those confirmations: (hours from the ad's first sighting, the ad's site, the category)."""
    sql = f"""SELECT (julianday(l.at) - julianday(a.first_seen)) * 24, a.site, {_DECIDED_CATEGORY}
              {_DECIDED} AND l.action = 'confirmed'"""
    return [tuple(r) for r in db.execute(sql, [lo, hi])]


def takedowns(
    db: sqlite_utils.Database,
) -> list[tuple[int, int, str, str, str, str, str | None, str | None, str, str]]:
    """Every takedown whose confirmation stands: (takedown id, ad id, requested at, the confirming reviewer, the
    confirmation's category, state, deadline, receiver, url, site)."""
    sql = f"""WITH rev(seq) AS MATERIALIZED ({_REVERSED})
              SELECT t.id, t.ad_id, l.at, c.actor, coalesce(json_extract(c.payload, '$.category'), ''), t.state,
                     t.deadline, t.receiver, a.url, a.site
              FROM takedowns t JOIN ledger l ON l.seq = t.requested_seq
              JOIN ledger c ON c.seq = json_extract(l.payload, '$.confirmed_seq') JOIN ads a ON a.id = t.ad_id
              WHERE c.seq NOT IN rev ORDER BY t.id"""
    return [tuple(r) for r in db.execute(sql)]


def takedown_steps(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str]]:
    """The first dispatch, verified removal and reappearance of each takedown, when in the window:
    (takedown id, action, at)."""
    sql = """SELECT * FROM (
                 SELECT CAST(json_extract(payload, '$.takedown_id') AS INTEGER) AS tid, action, min(at) AS first
                 FROM ledger WHERE action IN ('takedown_dispatched', 'removal_verified', 'reappeared')
                 GROUP BY tid, action)
             WHERE first >= ? AND first < ?"""
    return [tuple(r) for r in db.execute(sql, [lo, hi])]


def tips(db: sqlite_utils.Database, lo: str, hi: str) -> list[tuple[int, str, str, str, int | None, str | None, str]]:
    """Tips received in the window: (id, received_at, state, region, ad id, the ad's site, its category)."""
    sql = f"""WITH rev(seq) AS MATERIALIZED ({_REVERSED})
              SELECT t.id, t.received_at, t.state, t.region, t.ad_id, a.site,
                     CASE WHEN t.ad_id IS NULL THEN '' ELSE {_CATEGORY.format("t.ad_id")} END
              FROM tips t LEFT JOIN ads a ON a.id = t.ad_id WHERE t.received_at >= ? AND t.received_at < ?"""
    return [tuple(r) for r in db.execute(sql, [lo, hi])]
