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
- ``ads_seen``: ads online in the period: first seen before its end and last seen at or after its start (an ad
  is taken to be online from its first sighting to its last; ``ads.first_seen`` and ``ads.last_seen`` are the
  first and last of its sightings).
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
its ``region``, and by its ad's site when it has an ad); ``categories`` restricts the counts about suspect
ads (flagged and everything after it) and tips to ads of those categories: what is monitored (sites, pages,
sightings, ads seen) has no category.

Breakdowns: ``week`` (ISO week of the China-time day, "2026-W48"), ``site``, ``category``, ``region``,
``reviewer``. Every event counts in the row of its own time, site, category, region and reviewer (a sighting's
or page's site is that of the crawl run that made it, a takedown's reviewer the one who confirmed it), so a
breakdown's rows add up to the total, except for the distinct counts: ``sites`` (a site crawled in two weeks
is in both weeks' rows) and ``ads_seen`` by week (an ad online in two weeks is in both). Counts that have no
meaning for a breakdown are 0 in its rows: the monitoring counts by category, and everything but decisions
and takedowns by reviewer.

Speed: the big tables (sightings, pages, ads) are counted over ranges of indexes, per run or site and week,
never row by row (``review.statistics_queries.in_windows``); first flags and decisions are grouped in SQL by
week, site, category and reviewer; takedowns, their steps and tips are tallied here by (metric, week, site,
category, region, reviewer). docs/performance.md has the figures.

Why so long: the definitions above are the contract of every figure the reports print, and belong beside the
one function that counts them; the SQL is in ``review.statistics_queries``.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
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
    "week_label",
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

    def label(self, to: str = " 至 ") -> str:
        return f"{self.start.isoformat()}{to}{self.end.isoformat()}"


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


def week_label(key: str, open_: str = "（", to: str = " 至 ", close: str = "）") -> str:
    """An ISO week with its days: 2026-W49（11-30 至 12-06）, or with another language's marks."""
    monday = date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
    return f"{key}{open_}{monday:%m-%d}{to}{monday + timedelta(days=6):%m-%d}{close}"


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
    """Counts by (metric, week, site, category, region, reviewer: BREAKDOWNS' order), expanded into totals and
    breakdown rows at the end; a key of None has no row in its breakdown. Distinct counts (sites, ads seen by
    week) are set directly."""

    def __init__(self) -> None:
        self.events: Counter[tuple[str, str | None, str | None, str | None, str | None, str | None]] = Counter()
        self.totals: Counter[str] = Counter()
        self.rows: dict[str, dict[str, Counter[str]]] = {b: defaultdict(Counter) for b in BREAKDOWNS}

    def expand(self) -> None:
        for (metric, *keys), n in self.events.items():
            self.totals[metric] += n
            for breakdown, key in zip(BREAKDOWNS, keys, strict=True):
                if key is not None:
                    self.rows[breakdown][key][metric] += n

    def rows_of(self, breakdown: str) -> list[Row]:
        made = []
        for key in sorted(self.rows[breakdown]):
            counts = {m: self.rows[breakdown][key].get(m, 0) for m in METRICS}
            if breakdown == "week":
                label = week_label(key)
            elif breakdown == "category":
                label = key or NO_CATEGORY
            else:
                label = key or "（无）"
            made.append(Row(key, label, counts))
        return made


@dataclass
class _Context:
    """What every collector needs: the window and its weeks, the scope, the sites' regions, the tally."""

    db: sqlite_utils.Database
    period: Period
    scope: Scope
    regions: dict[str, str]
    tally: _Tally = field(default_factory=_Tally)

    def __post_init__(self) -> None:
        self.lo, self.hi = window(self.period)
        self.weeks = _weeks(self.period)
        self._starts = [lo for _, lo, _ in self.weeks]

    def inside(self, stamp: str | None) -> bool:
        return stamp is not None and self.lo <= stamp < self.hi

    def week(self, stamp: str) -> str:
        """The week of a time inside the window."""
        return self.weeks[bisect.bisect_right(self._starts, stamp) - 1][0]

    def site_in(self, site: str) -> bool:
        s = self.scope
        return (not s.sites or site in s.sites) and (not s.regions or self.regions.get(site, "") in s.regions)

    def in_scope(self, site: str, category: str) -> bool:
        return self.site_in(site) and (not self.scope.categories or category in self.scope.categories)

    def count(self, metric: str, at: str, site: str, category: str, reviewer: str | None = None, n: int = 1) -> bool:
        """Count an event about an ad of ``site`` and ``category``, if it lies in the window and the scope; True
        when counted."""
        if not self.lo <= at < self.hi or not self.in_scope(site, category):
            return False
        self.tally.events[(metric, self.week(at), site, category, self.regions.get(site, ""), reviewer)] += n
        return True


def _weeks(period: Period) -> list[tuple[str, str, str]]:
    """The ISO weeks the period touches: (week, lo, hi), each cut to the period's window."""
    lo, hi = window(period)
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        first, last = window(Period(monday, monday + timedelta(days=6)))
        weeks.append((iso_week(monday), max(first, lo), min(last, hi)))
        monday += timedelta(days=7)
    return weeks


def _monitoring(ctx: _Context) -> None:
    """sites, pages, sightings, ads seen: counted over ranges of indexes, per run (or site) and week."""
    tally = ctx.tally
    runs = [r for r in q.runs(ctx.db, ctx.lo, ctx.hi) if ctx.site_in(r[1])]
    crawled: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _run, site, started, _finished in runs:
        if ctx.inside(started):
            for key in (("week", ctx.week(started)), ("site", site), ("region", ctx.regions.get(site, ""))):
                crawled[key].add(site)
    tally.totals["sites"] = len({site for (b, _), sites in crawled.items() if b == "site" for site in sites})
    for (breakdown, name), sites in crawled.items():
        tally.rows[breakdown][name]["sites"] = len(sites)
    # a run's sightings and pages lie between its start and its end: only the weeks it worked in are asked
    windows = [(run, lo, hi, wk, site) for run, site, started, finished in runs for wk, lo, hi in ctx.weeks
               if started < hi and (finished is None or finished >= lo)]  # fmt: skip
    for table in ("sightings", "pages"):
        counts = q.in_windows(ctx.db, table, [w[:3] for w in windows])
        for (_run, _lo, _hi, wk, site), n in zip(windows, counts, strict=True):
            if n:
                tally.events[(table, wk, site, None, ctx.regions.get(site, ""), None)] += n
    _ads_seen(ctx)


def _ads_seen(ctx: _Context) -> None:
    """Ads online in a span [lo, hi): last seen at or after lo, less those first seen at or after hi (they were
    last seen after lo too). Counted per site from lo onwards only, so a short period of a long history is cheap."""
    sites = [s for s in ctx.regions if ctx.site_in(s)]
    cuts = [lo for _, lo, _ in ctx.weeks] + [ctx.hi]  # the weeks' starts and the period's end
    spans = [(site, cut, nxt) for site in sites for cut, nxt in zip(cuts, [*cuts[1:], "9999"], strict=True)]
    last = q.in_windows(ctx.db, "last_seen", spans)
    first = q.in_windows(ctx.db, "first_seen", spans)
    step = len(cuts)
    for i, site in enumerate(sites):
        # from a cut onwards: the sum of the spans from it to the end
        last_from = list(itertools.accumulate(reversed(last[i * step : (i + 1) * step])))[::-1]
        first_from = list(itertools.accumulate(reversed(first[i * step : (i + 1) * step])))[::-1]
        online = last_from[0] - first_from[-1]
        if online:
            ctx.tally.events[("ads_seen", None, site, None, ctx.regions.get(site, ""), None)] += online
        for j, (wk, _lo, _hi) in enumerate(ctx.weeks):
            if last_from[j] - first_from[j + 1]:
                ctx.tally.rows["week"][wk]["ads_seen"] += last_from[j] - first_from[j + 1]


def _decisions(ctx: _Context) -> list[float]:
    """flagged, confirmed, rejected; returns the hours from first seen to each confirmation counted."""
    ends = [hi for _, _, hi in ctx.weeks]
    for site, week, category, n in q.flagged(ctx.db, ctx.lo, ctx.hi, ends, q.confirmed_categories(ctx.db)):
        ctx.count("flagged", ctx.weeks[week][1], site, category, None, n)
    for action, week, site, category, actor, n in q.decisions(ctx.db, ctx.lo, ctx.hi, ends):
        ctx.count(action, ctx.weeks[week][1], site, category, actor, n)
    return [h for h, site, category in q.hours_to_confirm(ctx.db, ctx.lo, ctx.hi) if ctx.in_scope(site, category)]


_STEP_METRICS = {
    "takedown_dispatched": "takedowns_dispatched",
    "removal_verified": "takedowns_removed",
    "reappeared": "takedowns_reappeared",
}


def _takedowns(ctx: _Context, rows: list[tuple], today: date) -> tuple[list[float], list[OverdueItem]]:
    """takedowns requested, dispatched, removed, overdue, reappeared; the hours from request to removal."""
    steps: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for tid, action, at in q.takedown_steps(ctx.db, ctx.lo, ctx.hi):
        steps[tid].append((action, at))
    hours, overdue = [], []
    day = today.isoformat()
    for tid, ad_id, requested_at, who, category, state, deadline, receiver, url, site in rows:
        if ctx.count("takedowns_requested", requested_at, site, category, who):
            if state in RUNNING and deadline and day > deadline:
                ctx.count("takedowns_overdue", requested_at, site, category, who)
                late = (today - date.fromisoformat(deadline)).days
                overdue.append(OverdueItem(tid, ad_id, url, site, receiver or "", deadline, late))
        for action, at in steps.get(tid, ()):
            if ctx.count(_STEP_METRICS[action], at, site, category, who) and action == "removal_verified":
                hours.append(hours_between(requested_at, at))
    overdue.sort(key=lambda o: (-o.days_overdue, o.takedown_id))
    return hours, overdue


def _tips(ctx: _Context, taken_down: set[int]) -> None:
    """tips received, verified, turned into takedowns: by the tip's own region, its ad's site and category."""
    scope = ctx.scope
    for _tid, at, state, region, ad_id, site, category in q.tips(ctx.db, ctx.lo, ctx.hi):
        if scope.regions and region not in scope.regions:
            continue
        if site is not None and not ctx.site_in(site) or scope.categories and category not in scope.categories:
            continue
        for metric, yes in (("tips_received", True), ("tips_verified", state == "verified"),
                            ("tips_to_takedowns", ad_id in taken_down)):  # fmt: skip
            if yes:
                ctx.tally.events[(metric, ctx.week(at), site or "", category, region, None)] += 1


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
    ctx = _Context(db, period, scope, q.sites(db))
    _monitoring(ctx)
    to_confirm = _decisions(ctx)
    takedowns = q.takedowns(db)
    to_removal, overdue = _takedowns(ctx, takedowns, today or today_in_china())
    _tips(ctx, {t[1] for t in takedowns})
    ctx.tally.expand()
    totals = {m: ctx.tally.totals.get(m, 0) for m in METRICS}
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
        breakdowns={b: ctx.tally.rows_of(b) for b in BREAKDOWNS},
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
        raise campaigns.CampaignError(
            f"the period {period.label()} ends before it starts",
            zh=f"统计时段 {period.label()} 的结束日期早于开始日期：请改正日期",
        )
    scope = Scope(tuple(c.sites), tuple(c.regions), tuple(c.categories))
    stats = compute(db, period, scope, title=title, office=c.office, today=today)
    return dataclasses.replace(stats, phases=[(p.name, Period(p.starts_on, p.ends_on)) for p in c.phases])
