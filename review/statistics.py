"""量化统计: a campaign's or a date range's numbers, derived from the ledger, sightings and crawl runs.

Nothing here keeps a counter of its own: every figure is counted from the rows that record what happened
(crawl_runs, pages, sightings, verdicts, the ledger and the takedowns it derives, tips), so a figure can always
be recounted from them. ``adclear stats``, the web dashboard and the reports all read one ``Statistics``
(``compute`` for a period and scope, ``for_campaign`` for a campaign or one of its phases).

Periods are days in China time (Asia/Shanghai), both ends included; the database keeps UTC, so the period is
the UTC window [first day 00:00 +08:00, day after the last 00:00 +08:00). "In the period" below means a time
inside that window. What each count means (docs/campaigns.md says the same for its readers):

- ``sites``: sites with a crawl run (or re-check run) started in the period.
- ``pages``: pages (responses archived) fetched in the period.
- ``sightings`` (监测条次): sightings of ads with their ``seen_at`` in the period; one per ad and crawl run.
- ``ads_seen``: distinct ads with a sighting in the period.
- ``flagged``: ads first flagged in the period: their first verdict labelled ``flag`` was made in it (each ad
  counts once, in the period and week of that first flag, whatever later verdicts say).
- ``confirmed`` / ``rejected``: ``confirmed`` / ``rejected`` ledger entries made in the period that no
  ``reversed`` entry undid (whenever the reversal came: a reversed confirmation no longer counts anywhere).
- ``takedowns_requested``: ``takedown_requested`` entries made in the period whose confirmation stands.
- ``takedowns_dispatched`` / ``takedowns_removed`` / ``takedowns_reappeared``: takedowns (of a standing
  confirmation) whose first ``takedown_dispatched`` / ``removal_verified`` / ``reappeared`` entry was made in
  the period (a takedown dispatched twice counts once, when it was first dispatched).
- ``takedowns_overdue``: takedowns requested in the period that are overdue on ``today`` (default: today in
  China): still owed an answer (dispatched, answered or found still online) after their deadline. The same
  takedowns make the ``overdue`` list.
- ``tips_received``: tips received in the period; ``tips_verified``: those of them whose state is
  ``verified`` (属实); ``tips_to_takedowns``: those of them whose ad has a takedown of a standing confirmation.
- ``illegal_rate``: confirmed / (confirmed + rejected), None when nothing was decided.
- ``time_to_confirm``: over the confirmations counted, hours from the ad's first sighting (``ads.first_seen``)
  to the confirmation; ``time_to_removal``: over the removals counted, hours from the takedown's request (the
  confirmation) to the first verified removal. Median and 90th percentile by linear interpolation between the
  sorted values (the "linear" method of numpy and of ``statistics.quantiles(method='inclusive')``).

An ad's 涉嫌类型 (category) is the category its standing confirmation gives; an ad not confirmed takes the
first category of the verdict that first flagged it; any other ad has none (key '', shown 未分类). A tip's is
its ad's. The scope: ``sites`` and ``regions`` (``sites.region``) restrict every count to those sites (a tip by
its ``region``, and by its ad's site when it has an ad); ``categories`` restricts the counts about ads
(sightings, ads seen and everything after them) and tips to ads of those categories, not sites and pages.

Breakdowns: ``week`` (ISO week of the China-time day, "2026-W48"), ``site``, ``category``, ``region``,
``reviewer``. Every event counts in the row of its own time, site, category, region and reviewer (a sighting's
site is that of the crawl run that made it, a takedown's reviewer the one who confirmed it), so a breakdown's
rows add up to the total, except for the distinct counts: ``sites`` (a site crawled in two weeks is in both
weeks' rows) and ``ads_seen`` by week (an ad seen in two weeks is in both). Counts that have no meaning for a
breakdown are 0 in its rows: ``sites`` and ``pages`` by category, everything but decisions and takedowns by
reviewer, and tips by reviewer.

Why so long: the definitions above are the contract of every figure the reports print, and belong beside the
one function that counts them; the SQL is in ``review.statistics_queries``.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlite_utils

from core.timeutil import SHANGHAI, now_utc
from review import campaigns
from review import statistics_queries as q
from review.takedowns import RUNNING, today_in_china

__all__ = [
    "BREAKDOWNS",
    "METRICS",
    "NO_CATEGORY",
    "Durations",
    "OverdueItem",
    "Period",
    "Row",
    "Scope",
    "Statistics",
    "compute",
    "for_campaign",
    "quantile",
]

NO_CATEGORY = "未分类"

# Every count, in the order tables and reports show them, with its Chinese label.
METRICS: dict[str, str] = {
    "sites": "监测网站数",
    "pages": "监测页面数",
    "sightings": "监测条次",
    "ads_seen": "发现广告数",
    "flagged": "疑似违法广告",
    "confirmed": "确认违法广告",
    "rejected": "驳回（非违法）",
    "takedowns_requested": "提请处置",
    "takedowns_dispatched": "已交办",
    "takedowns_removed": "已删除",
    "takedowns_overdue": "逾期未处置",
    "takedowns_reappeared": "删除后复现",
    "tips_received": "受理举报线索",
    "tips_verified": "线索核查属实",
    "tips_to_takedowns": "线索转处置",
}

# The breakdowns, each a list of rows with the same keys as METRICS (a count that has no meaning for a
# breakdown, such as sites per site, is still given).
BREAKDOWNS: dict[str, str] = {
    "week": "按周",
    "site": "按网站/平台",
    "category": "按涉嫌类型",
    "region": "按地区",
    "reviewer": "按审核人员",
}


@dataclass(frozen=True)
class Period:
    """Days in China time, both included."""

    start: date
    end: date

    def label(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"


@dataclass(frozen=True)
class Scope:
    """What a campaign watches; an empty tuple means everything."""

    sites: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Durations:
    """How long a step took, over the ads that took it within the period; hours, None when none did."""

    count: int
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: ``key`` as stored (ISO week "2026-W48", site name, category …), ``label`` as shown."""

    key: str
    label: str
    counts: dict[str, int]


@dataclass(frozen=True)
class OverdueItem:
    takedown_id: int
    ad_id: int
    url: str
    site: str
    receiver: str
    deadline: str  # YYYY-MM-DD
    days_overdue: int


@dataclass(frozen=True)
class Statistics:
    """Everything a dashboard or a report shows, for one period and scope."""

    title: str  # the campaign's name (and phase), or the period's label
    office: str  # who reports (campaign office, or seeds.yml operator)
    period: Period
    scope: Scope
    generated_at: str  # UTC ISO 8601
    totals: dict[str, int]  # every key of METRICS
    illegal_rate: float | None  # confirmed / (confirmed + rejected); None when nothing was decided
    time_to_confirm: Durations  # first seen → confirmation
    time_to_removal: Durations  # confirmation → removal verified (or reported removed)
    breakdowns: dict[str, list[Row]] = field(default_factory=dict)  # every key of BREAKDOWNS
    overdue: list[OverdueItem] = field(default_factory=list)
    phases: list[tuple[str, Period]] = field(default_factory=list)  # a campaign's phases, in order


# --- counting --------------------------------------------------------------------------------------------------
def window(period: Period) -> tuple[str, str]:
    """The period as a UTC window [lo, hi), as stored text."""

    def utc(day: date) -> str:
        return datetime.combine(day, time(), SHANGHAI).astimezone(UTC).isoformat()

    return utc(period.start), utc(period.end + timedelta(days=1))


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_of(stamp: str) -> str:
    """The ISO week of a stored UTC time's China-time day."""
    dt = datetime.fromisoformat(stamp)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return iso_week(dt.astimezone(SHANGHAI).date())


def _week_label(key: str) -> str:
    monday = date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
    return f"{key}（{monday:%m-%d} 至 {monday + timedelta(days=6):%m-%d}）"


def hours_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600


def quantile(values: Iterable[float], q_: float) -> float | None:
    """The q-quantile by linear interpolation between the sorted values (numpy's default); None for none."""
    ordered = sorted(values)
    if not ordered:
        return None
    pos = q_ * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _durations(hours: list[float]) -> Durations:
    median, p90 = quantile(hours, 0.5), quantile(hours, 0.9)
    return Durations(len(hours), None if median is None else round(median, 2), None if p90 is None else round(p90, 2))


class _Tally:
    """Totals and breakdown rows, filled event by event."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.rows: dict[str, dict[str, Counter[str]]] = {b: defaultdict(Counter) for b in BREAKDOWNS}

    def add(self, metric: str, keys: dict[str, str | None], n: int = 1) -> None:
        """``keys``: week, site, category, region, reviewer; a key left out or None has no row for this count."""
        self.totals[metric] += n
        for breakdown, key in keys.items():
            if key is not None:
                self.rows[breakdown][key][metric] += n

    def rows_of(self, breakdown: str) -> list[Row]:
        made = []
        for key in sorted(self.rows[breakdown]):
            counts = {m: self.rows[breakdown][key].get(m, 0) for m in METRICS}
            if breakdown == "week":
                label = _week_label(key)
            elif breakdown == "category":
                label = key or NO_CATEGORY
            else:
                label = key or "（无）"
            made.append(Row(key, label, counts))
        return made


@dataclass
class _Context:
    """What every collector needs: the window, the scope, the sites' regions and the ads' categories."""

    db: sqlite_utils.Database
    lo: str
    hi: str
    scope: Scope
    regions: dict[str, str]
    categories: dict[int, str]  # ad id → category, for ads that have one

    def inside(self, stamp: str | None) -> bool:
        return stamp is not None and self.lo <= stamp < self.hi

    def site_in(self, site: str) -> bool:
        s = self.scope
        return (not s.sites or site in s.sites) and (not s.regions or self.regions.get(site, "") in s.regions)

    def ad_in(self, site: str, ad_id: int) -> bool:
        return self.site_in(site) and (
            not self.scope.categories or self.categories.get(ad_id, "") in self.scope.categories
        )

    def keys(self, stamp: str, site: str, ad_id: int | None, reviewer: str | None = None) -> dict[str, str | None]:
        category = self.categories.get(ad_id, "") if ad_id is not None else ""
        return {
            "week": week_of(stamp),
            "site": site,
            "category": category,
            "region": self.regions.get(site, ""),
            "reviewer": reviewer,
        }


def _categories(db: sqlite_utils.Database, decided: list[tuple]) -> tuple[dict[int, str], list[tuple[int, str]]]:
    """Every ad's category (standing confirmation first, else its first flag) and every ad's first flag."""
    flags = q.flag_firsts(db)
    categories: dict[int, str] = {}
    for ad_id, _at, cats in flags:
        first = json.loads(cats or "[]")
        if first:
            categories[ad_id] = first[0]
    for _seq, _at, _actor, action, ad_id, category in decided:
        if action == "confirmed" and category:
            categories[ad_id] = category
    return categories, [(ad_id, at) for ad_id, at, _ in flags]


def _monitoring(ctx: _Context, tally: _Tally) -> None:
    """sites, pages, sightings, ads seen."""
    runs = q.runs(ctx.db)
    weeks: dict[str, set[str]] = defaultdict(set)  # week → sites crawled in it
    for site, started in runs.values():
        if ctx.inside(started) and ctx.site_in(site):
            weeks[week_of(started)].add(site)
    crawled = set().union(*weeks.values())
    tally.totals["sites"] = len(crawled)
    for wk, names in weeks.items():
        tally.rows["week"][wk]["sites"] = len(names)
    for site in crawled:
        tally.rows["site"][site]["sites"] = 1
        tally.rows["region"][ctx.regions.get(site, "")]["sites"] += 1
    for run_id, monday, n in q.pages_by_run(ctx.db, ctx.lo, ctx.hi):
        site = runs[run_id][0]
        if ctx.site_in(site):
            wk = iso_week(date.fromisoformat(monday))
            tally.add("pages", {"week": wk, "site": site, "region": ctx.regions.get(site, "")}, n)
    wanted = {a: c for a, c in ctx.categories.items() if not ctx.scope.categories or c in ctx.scope.categories}
    weekly, per_site = q.sightings_by_site(ctx.db, ctx.lo, ctx.hi, list(wanted) if ctx.scope.categories else None)
    for site, monday, n, ads in weekly:
        if ctx.site_in(site):
            wk = iso_week(date.fromisoformat(monday))
            tally.add("sightings", {"week": wk, "site": site, "region": ctx.regions.get(site, "")}, n)
            tally.rows["week"][wk]["ads_seen"] += ads
    for site, ads in per_site:
        if ctx.site_in(site):
            tally.add("ads_seen", {"site": site, "region": ctx.regions.get(site, "")}, ads)
    scoped = ctx.scope.sites or ctx.scope.regions
    sites = [s for s in {*ctx.regions, *crawled} if ctx.site_in(s)] if scoped else None
    for category, n, ads in q.sightings_by_category(ctx.db, ctx.lo, ctx.hi, wanted, sites):
        tally.rows["category"][category]["sightings"] += n
        tally.rows["category"][category]["ads_seen"] += ads
    rest = {m: tally.totals[m] - sum(r[m] for r in tally.rows["category"].values()) for m in ("sightings", "ads_seen")}
    if any(rest.values()):
        tally.rows["category"][""].update(rest)


def _decisions(ctx: _Context, tally: _Tally, decided: list[tuple], flags: list[tuple[int, str]]) -> list[float]:
    """flagged, confirmed, rejected; returns the hours from first seen to each confirmation counted."""
    mine = [f for f in flags if ctx.inside(f[1])]
    events = [d for d in decided if ctx.inside(d[1])]
    facts = q.ad_facts(ctx.db, [a for a, _ in mine] + [d[4] for d in events])
    for ad_id, at in mine:
        site = facts[ad_id][0]
        if ctx.ad_in(site, ad_id):
            tally.add("flagged", ctx.keys(at, site, ad_id))
    hours = []
    for _seq, at, actor, action, ad_id, _category in events:
        site, first_seen = facts[ad_id]
        if ctx.ad_in(site, ad_id):
            tally.add(action, ctx.keys(at, site, ad_id, actor))
            if action == "confirmed":
                hours.append(hours_between(first_seen, at))
    return hours


def _takedowns(
    ctx: _Context, tally: _Tally, decided: list[tuple], today: date
) -> tuple[list[float], list[OverdueItem]]:
    """takedowns requested, dispatched, removed, overdue, reappeared; the hours from request to removal."""
    reviewer = {d[0]: d[2] for d in decided}
    steps: dict[int, dict[str, str]] = defaultdict(dict)
    for tid, action, at in q.takedown_steps(ctx.db):
        steps[tid][action] = at
    rows = q.takedowns(ctx.db)
    facts = q.ad_facts(ctx.db, [r[1] for r in rows])
    metric = {"takedown_dispatched": "takedowns_dispatched", "removal_verified": "takedowns_removed",
              "reappeared": "takedowns_reappeared"}  # fmt: skip
    hours, overdue = [], []
    for tid, ad_id, requested_at, confirmed_seq, state, deadline, receiver, url in rows:
        site = facts[ad_id][0]
        if not ctx.ad_in(site, ad_id):
            continue
        who = reviewer.get(confirmed_seq)
        if ctx.inside(requested_at):
            tally.add("takedowns_requested", ctx.keys(requested_at, site, ad_id, who))
            if state in RUNNING and deadline and today.isoformat() > deadline:
                tally.add("takedowns_overdue", ctx.keys(requested_at, site, ad_id, who))
                late = (today - date.fromisoformat(deadline)).days
                overdue.append(OverdueItem(tid, ad_id, url, site, receiver or "", deadline, late))
        for action, at in steps.get(tid, {}).items():
            if ctx.inside(at):
                tally.add(metric[action], ctx.keys(at, site, ad_id, who))
                if action == "removal_verified":
                    hours.append(hours_between(requested_at, at))
    overdue.sort(key=lambda o: (-o.days_overdue, o.takedown_id))
    return hours, overdue


def _tips(ctx: _Context, tally: _Tally, decided_ads: set[int]) -> None:
    """tips received, verified, turned into takedowns."""
    tips = q.tips(ctx.db, ctx.lo, ctx.hi)
    facts = q.ad_facts(ctx.db, [t[4] for t in tips if t[4] is not None])
    for _tid, at, state, region, ad_id in tips:
        site = facts[ad_id][0] if ad_id in facts else ""
        if ctx.scope.regions and region not in ctx.scope.regions:
            continue
        if ad_id in facts and not ctx.ad_in(site, ad_id):
            continue
        keys = {**ctx.keys(at, site, ad_id), "region": region, "reviewer": None}
        tally.add("tips_received", keys)
        if state == "verified":
            tally.add("tips_verified", keys)
        if ad_id in decided_ads:
            tally.add("tips_to_takedowns", keys)


def compute(
    db: sqlite_utils.Database,
    period: Period,
    scope: Scope = Scope(),
    *,
    title: str = "",
    office: str = "",
    today: date | None = None,
) -> Statistics:
    """Every figure of the period and scope, as the module's docstring defines them."""
    lo, hi = window(period)
    decided = q.decisions(db)
    categories, flags = _categories(db, decided)
    ctx = _Context(db, lo, hi, scope, q.sites(db), categories)
    tally = _Tally()
    _monitoring(ctx, tally)
    to_confirm = _decisions(ctx, tally, decided, flags)
    to_removal, overdue = _takedowns(ctx, tally, decided, today or today_in_china())
    _tips(ctx, tally, {r[1] for r in q.takedowns(db)})
    totals = {m: tally.totals.get(m, 0) for m in METRICS}
    judged = totals["confirmed"] + totals["rejected"]
    return Statistics(
        title=title or period.label(),
        office=office,
        period=period,
        scope=scope,
        generated_at=now_utc(),
        totals=totals,
        illegal_rate=totals["confirmed"] / judged if judged else None,
        time_to_confirm=_durations(to_confirm),
        time_to_removal=_durations(to_removal),
        breakdowns={b: tally.rows_of(b) for b in BREAKDOWNS},
        overdue=overdue,
    )


def for_campaign(
    db: sqlite_utils.Database,
    name: str,
    phase: str | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    today: date | None = None,
) -> Statistics:
    """A campaign's figures (its scope and office), over its period, one of its phases, or ``start``–``end``
    (each defaulting to the campaign's or phase's own day)."""
    c = campaigns.get(db, name)
    first, last, title = c.starts_on, c.ends_on, c.name
    if phase is not None:
        p = c.phase(phase)
        first, last, title = p.starts_on, p.ends_on, f"{c.name}（{p.name}）"
    period = Period(start or first, end or last)
    if period.start > period.end:
        raise campaigns.CampaignError(f"the period {period.label()} ends before it starts")
    scope = Scope(tuple(c.sites), tuple(c.regions), tuple(c.categories))
    stats = compute(db, period, scope, title=title, office=c.office, today=today)
    return dataclasses.replace(stats, phases=[(p.name, Period(p.starts_on, p.ends_on)) for p in c.phases])
