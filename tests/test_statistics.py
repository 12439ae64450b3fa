"""review.statistics without a crawl: scopes, reversals, weeks and the sums of breakdowns (fast; test_stats.py is
the end-to-end check against the records)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.db import connect
from review import decisions
from review.statistics import BREAKDOWNS, METRICS, Period, Scope, compute, quantile, window
from review.takedowns import today_in_china
from tests.webdata import add_ad, build

# the counts an event adds once to one row of every breakdown (the distinct counts and per-breakdown zeros aside)
ADDITIVE = ("sightings", "flagged", "confirmed", "rejected", "takedowns_requested")


@pytest.fixture
def db(tmp_path):
    db_path = tmp_path / "data" / "adclear.db"
    ids = build(db_path)
    db = connect(db_path)
    other = add_ad(db, "养老公寓床位预售 年回报10%", "签约即返10%养老收益，五年后全额退还本金。", site="other-site")
    decisions.confirm(db, ids["promo0"], reviewer="rev1", category="投资理财/P2P网贷", reason="承诺保本高息")
    decisions.confirm(db, other, reviewer="rev2", category="养老投资", reason="以床位返利为名")
    decisions.confirm(db, ids["promo3"], reviewer="rev1", category="私募股权/原始股", reason="原始股")
    decisions.reverse(db, ids["promo3"], reviewer="boss", reason="看错了")
    decisions.reject(db, ids["promo2"], reviewer="rev2", reason="防非宣传")
    yield db
    db.close()


def today_period() -> Period:
    today = today_in_china()
    return Period(today - timedelta(days=6), today)


def test_a_reversed_confirmation_counts_nowhere_and_rows_add_up(db):
    s = compute(db, today_period())
    assert (s.totals["confirmed"], s.totals["rejected"], s.totals["takedowns_requested"]) == (2, 1, 2)
    assert s.illegal_rate == pytest.approx(2 / 3)
    assert {r.key: r.counts["confirmed"] for r in s.breakdowns["reviewer"]} == {"rev1": 1, "rev2": 1}
    assert "私募股权/原始股" not in {r.key for r in s.breakdowns["category"] if r.counts["confirmed"]}
    for breakdown in BREAKDOWNS:
        for metric in ADDITIVE:
            if breakdown == "reviewer" and metric in ("sightings", "flagged"):
                continue  # nobody reviews a crawl
            if breakdown == "category" and metric == "sightings":
                continue  # what is monitored has no category
            assert sum(r.counts[metric] for r in s.breakdowns[breakdown]) == s.totals[metric], (breakdown, metric)
    assert set(s.totals) == set(METRICS) and all(set(r.counts) == set(METRICS) for r in s.breakdowns["week"])


def test_a_scope_restricts_the_counts(db):
    period = today_period()
    only_other = compute(db, period, Scope(sites=("other-site",)))
    assert (only_other.totals["confirmed"], only_other.totals["rejected"]) == (1, 0)
    assert [r.key for r in only_other.breakdowns["site"]] == ["other-site"]
    by_category = compute(db, period, Scope(categories=("投资理财/P2P网贷",)))
    assert (by_category.totals["confirmed"], by_category.totals["takedowns_requested"]) == (1, 1)
    assert by_category.totals["sightings"] == compute(db, period).totals["sightings"]  # monitoring has no category
    nowhere = compute(db, period, Scope(regions=("别处",)))
    assert set(nowhere.totals.values()) == {0} and nowhere.illegal_rate is None


def test_a_period_before_anything_is_empty_and_weeks_are_china_weeks(db):
    s = compute(db, Period(date(2026, 1, 1), date(2026, 1, 31)))
    assert set(s.totals.values()) == {0}
    assert s.time_to_confirm.count == 0 and s.time_to_confirm.median_hours is None
    # 2026-11-23 is a Monday: its China-time midnight is 16:00 UTC the day before
    assert window(Period(date(2026, 11, 23), date(2026, 11, 29))) == (
        "2026-11-22T16:00:00+00:00", "2026-11-29T16:00:00+00:00")  # fmt: skip


def test_quantiles_interpolate_between_sorted_values():
    assert quantile([], 0.5) is None
    assert quantile([4.0], 0.9) == 4.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([10.0, 0.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == pytest.approx(90.0)
