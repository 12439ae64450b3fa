"""量化统计 on a small campaign built on the demo sites (issue 17's first "must show").

Two crawls a week apart (ISO weeks 47 and 48 of 2026, an injected clock: ``tests/clock.py``), confirmations,
a rejection, a confirmation reversed, a 交办单 handed over, a re-check that finds one ad removed and one still
online, two tips; then every number ``adclear stats --json`` prints is checked against a count made here,
straight from the ledger, sightings, pages, crawl runs, verdicts and tips with SQL of its own. The known story
is checked too (three confirmations stand, one removal …), so that a count that is 0 on both sides fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from core.db import connect
from core.timeutil import SHANGHAI
from review.statistics import BREAKDOWNS, METRICS, quantile
from review.users import add_user
from tests.conftest import NO_READING, REPO, run_adclear, seeds_for

pytestmark = pytest.mark.slow

WEEK_A, WEEK_B = "2026-11-17T02:00:00+00:00", "2026-11-24T02:00:00+00:00"  # Tuesdays 10:00 China time
LO, HI = "2026-11-15T16:00:00+00:00", "2026-11-29T16:00:00+00:00"  # 2026-11-16 … 2026-11-29, China days
CAT = "投资理财/P2P网贷"
RUNNING = ("dispatched", "answered", "online")


@pytest.fixture(scope="module")
def server(own_demo_server):
    return own_demo_server


def at(when: str, *args, db: Path, seeds: Path | None = None) -> str:
    """adclear ARGS with its clock at ``when``."""
    cmd = [sys.executable, "-m", "tests.clock", when, "--db", str(db)]
    cmd += ["--seeds", str(seeds)] if seeds else []
    done = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def ad_id_of(db, path: str) -> int:
    return db.execute("SELECT id FROM ads WHERE url LIKE ?", [f"%{path}"]).fetchone()[0]


def week(stamp: str) -> str:
    y, w, _ = datetime.fromisoformat(stamp).astimezone(SHANGHAI).date().isocalendar()
    return f"{y}-W{w:02d}"


def week_spans(lo: str, hi: str) -> list[tuple[str, str, str]]:
    """The ISO weeks (China time) of [lo, hi), each cut to it."""
    first = datetime.fromisoformat(lo).astimezone(SHANGHAI).date()
    monday, spans = first - timedelta(days=first.weekday()), []
    while (start := datetime.combine(monday, time(), SHANGHAI).astimezone(UTC).isoformat()) < hi:
        end = datetime.combine(monday + timedelta(days=7), time(), SHANGHAI).astimezone(UTC).isoformat()
        spans.append((week(start), max(start, lo), min(end, hi)))
        monday += timedelta(days=7)
    return spans


def build(server, tmp_path: Path) -> tuple[Path, Path, dict[str, int], date]:
    db_path, seeds = tmp_path / "data" / "adclear.db", seeds_for(server.base_url, tmp_path / "seeds.yml")
    at(WEEK_A, "crawl", *NO_READING, "demo-classifieds", db=db_path, seeds=seeds)
    db = connect(db_path)
    add_user(db, "张三", "reviewer", "Kiwi-Harbor-2041")
    add_user(db, "李四", "reviewer", "Kiwi-Harbor-2041")
    add_user(db, "王五", "supervisor", "Kiwi-Harbor-2041")
    add_user(db, "赵六", "supervisor", "Kiwi-Harbor-2041")
    ads = {n: ad_id_of(db, f"/ad/{n}.html") for n in (1001, 1003, 1004, 1005, 1006)}
    confirm = ("review", "confirm", "--category", CAT, "--reason", "承诺保本高息")
    at("2026-11-17T03:00:00+00:00", *confirm, ads[1001], "--as", "张三", db=db_path)
    at("2026-11-17T05:30:00+00:00", "review", "reject", ads[1004], "--reason", "防非宣传", "--as", "李四", db=db_path)
    at("2026-11-18T01:00:00+00:00", *confirm, ads[1003], "--as", "李四", db=db_path)
    at("2026-11-18T02:00:00+00:00", *confirm, ads[1005], "--as", "张三", db=db_path)
    at("2026-11-18T02:30:00+00:00", "review", "reverse", ads[1005], "--reason", "看错了", "--as", "王五", db=db_path)
    at(WEEK_B, "crawl", *NO_READING, "demo-classifieds", db=db_path, seeds=seeds)
    at("2026-11-24T06:00:00+00:00", "review", "confirm", ads[1006], "--category", "养老投资", "--reason", "以床位为名",
       "--as", "李四", db=db_path)  # fmt: skip
    deadline = date.today() + timedelta(days=7)  # dispatch refuses a deadline before today (the real one)
    made = at("2026-11-24T07:00:00+00:00", "dispatch", "create", "1", "2", "--as", "王五", db=db_path, seeds=seeds)
    number = made.split()[0]
    at("2026-11-24T07:10:00+00:00", "dispatch", "approve", number, "--as", "赵六", db=db_path, seeds=seeds)
    at("2026-11-24T07:20:00+00:00", "dispatch", "handover", number, "--to", "平台 小李", "--deadline", deadline,
       "--as", "赵六", db=db_path, seeds=seeds)  # fmt: skip
    request = urllib.request.Request(f"{server.base_url}/_demo/takedown?site=classifieds&id=1001", method="POST")
    urllib.request.urlopen(request, data=b"", timeout=10).close()
    at("2026-11-25T03:00:00+00:00", "recheck", db=db_path, seeds=seeds)
    db.execute(
        """INSERT INTO tips (number, received_at, channel, summary, url, entered_by, state, ad_id, updated_at)
           VALUES ('T1', '2026-11-19T02:00:00+00:00', 'phone', '有人推荐高息理财', NULL, '王五', 'verified', ?, ?),
                  ('T2', '2026-11-25T09:00:00+00:00', 'letter', '小区传单', NULL, '王五', 'received', NULL, ?),
                  ('T3', '2026-11-30T09:00:00+00:00', 'web', '期外', NULL, '王五', 'received', NULL, ?)""",
        [ads[1001], WEEK_A, WEEK_B, WEEK_B],
    )
    db.conn.commit()
    db.close()
    return db_path, seeds, ads, deadline + timedelta(days=1)


def expected(db, today: date, lo: str = LO, hi: str = HI) -> dict[str, dict[str, Counter]]:
    """Every count, by week, site, category, region and reviewer ('*': the total), from the records."""
    out: dict[str, dict[str, Counter]] = {b: defaultdict(Counter) for b in ("*", *BREAKDOWNS)}
    region = dict(db.execute("SELECT name, region FROM sites").fetchall())
    entries = db.execute("SELECT seq, at, actor, action, ad_id, payload FROM ledger ORDER BY seq").fetchall()
    undone = {json.loads(p)["decided_seq"] for _, _, _, a, _, p in entries if a == "reversed"}
    standing = {s: (when, actor, ad, json.loads(p)) for s, when, actor, a, ad, p in entries
                if a in ("confirmed", "rejected") and s not in undone}  # fmt: skip
    category = {ad: p["category"] for _, (_, _, ad, p) in standing.items() if "category" in p}
    for ad, cats in db.execute("SELECT ad_id, categories FROM verdicts WHERE label = 'flag' ORDER BY classified_at"):
        category.setdefault(ad, (json.loads(cats) or [""])[0])
    site_of = dict(db.execute("SELECT id, site FROM ads").fetchall())

    def count(
        metric: str, when: str, site: str, ad: int | None, reviewer: str | None = None, **other: str | None
    ) -> None:
        if not lo <= when < hi:
            return
        keys = {"*": "*", "week": week(when), "site": site, "category": category.get(ad, ""),
                "region": region.get(site, ""), "reviewer": reviewer, **other}  # fmt: skip
        for b, key in keys.items():
            if key is not None:
                out[b][key][metric] += 1

    crawled: dict[tuple[str, str], set[str]] = defaultdict(set)
    monitoring = "spider NOT IN ('tip', 'recheck')"  # a re-check or a tip fetch is not 监测
    for site, when in db.execute(f"SELECT site, started_at FROM crawl_runs WHERE {monitoring}"):
        if lo <= when < hi:
            for key in (("*", "*"), ("week", week(when)), ("site", site), ("region", region[site])):
                crawled[key].add(site)
    for (b, key), names in crawled.items():
        out[b][key]["sites"] = len(names)
    pages = f"SELECT p.fetched_at, r.site FROM pages p JOIN crawl_runs r ON r.id = p.run_id WHERE r.{monitoring}"
    for when, site in db.execute(pages):
        count("pages", when, site, None, category=None)  # pages have no category
    seen = f"SELECT s.seen_at, r.site FROM sightings s JOIN crawl_runs r ON r.id = s.run_id WHERE r.{monitoring}"
    for when, site in db.execute(seen):
        count("sightings", when, site, None, category=None)
    # ads online: between their first and last sighting (recounted here from the sightings themselves)
    spans = db.execute("SELECT ad_id, min(seen_at), max(seen_at) FROM sightings GROUP BY ad_id").fetchall()
    for ad, first, last in spans:
        if first < hi and last >= lo:
            count("ads_seen", max(first, lo), site_of[ad], ad, category=None, week=None)
    for wk, wk_lo, wk_hi in week_spans(lo, hi):
        out["week"][wk]["ads_seen"] = sum(1 for _, first, last in spans if first < wk_hi and last >= wk_lo)
    for ad, first in db.execute("SELECT ad_id, min(classified_at) FROM verdicts WHERE label = 'flag' GROUP BY ad_id"):
        count("flagged", first, site_of[ad], ad)
    for when, actor, ad, p in standing.values():
        action = "confirmed" if "category" in p else "rejected"
        count(action, when, site_of[ad], ad, actor)
    firsts: dict[tuple[int, str], str] = {}
    for _, when, _, action, _, p in entries:
        tid = json.loads(p).get("takedown_id")
        if tid is not None and (tid, action) not in firsts:
            firsts[(tid, action)] = when
    takedowns = db.execute("SELECT t.id, t.ad_id, t.state, t.deadline, l.at, l.payload FROM takedowns t "
                           "JOIN ledger l ON l.seq = t.requested_seq").fetchall()  # fmt: skip
    for tid, ad, state, deadline, when, payload in takedowns:
        confirmed_seq = json.loads(payload)["confirmed_seq"]
        if confirmed_seq in undone:
            continue
        who = standing[confirmed_seq][1]
        count("takedowns_requested", when, site_of[ad], ad, who)
        if state in RUNNING and deadline < today.isoformat():
            count("takedowns_overdue", when, site_of[ad], ad, who)
        for action, metric in (("takedown_dispatched", "takedowns_dispatched"), ("removal_verified",
                               "takedowns_removed"), ("reappeared", "takedowns_reappeared")):  # fmt: skip
            if (tid, action) in firsts:
                count(metric, firsts[(tid, action)], site_of[ad], ad, who)
    live = {ad for tid, ad, *_rest, payload in takedowns if json.loads(payload)["confirmed_seq"] not in undone}
    for when, state, ad, tip_region in db.execute("SELECT received_at, state, ad_id, region FROM tips"):
        for metric, yes in (("tips_received", True), ("tips_verified", state == "verified"),
                            ("tips_to_takedowns", ad in live)):  # fmt: skip
            if yes:
                count(metric, when, site_of.get(ad, ""), ad, region=tip_region)
    return out


def durations(db) -> tuple[list[float], list[float]]:
    def hours(a: str, b: str) -> float:
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 3600

    rows = db.execute("SELECT seq, at, action, ad_id, payload FROM ledger ORDER BY seq").fetchall()
    undone = {json.loads(p)["decided_seq"] for _, _, a, _, p in rows if a == "reversed"}
    first_seen = dict(db.execute("SELECT id, first_seen FROM ads").fetchall())
    confirm = [hours(first_seen[ad], when) for seq, when, a, ad, _ in rows
               if a == "confirmed" and seq not in undone and LO <= when < HI]  # fmt: skip
    sql = "SELECT t.id, l.at FROM takedowns t JOIN ledger l ON l.seq = t.requested_seq WHERE t.state != 'cancelled'"
    requested = dict(db.execute(sql).fetchall())
    removal = [hours(requested[json.loads(p)["takedown_id"]], when) for _, when, a, _, p in rows
               if a == "removal_verified" and LO <= when < HI]  # fmt: skip
    return confirm, removal


def test_every_figure_of_stats_is_a_count_of_the_records(server, tmp_path):
    db_path, _seeds, ads, late = build(server, tmp_path)
    got = json.loads(run_adclear("stats", "--from", "2026-11-16", "--to", "2026-11-29", "--today", late, "--json",
                                 db=db_path, check=True).stdout)  # fmt: skip
    db = connect(db_path)
    want = expected(db, late)
    assert got["totals"] == {m: want["*"]["*"][m] for m in METRICS}
    # the story as it was played, so that a figure 0 on both sides cannot pass unseen
    story = {"sites": 1, "confirmed": 3, "rejected": 1, "takedowns_requested": 3, "takedowns_dispatched": 2,
             "takedowns_removed": 1, "takedowns_overdue": 1, "tips_received": 2, "tips_verified": 1,
             "tips_to_takedowns": 1}  # fmt: skip
    assert {m: got["totals"][m] for m in story} == story
    assert got["totals"]["sightings"] > got["totals"]["ads_seen"] > got["totals"]["flagged"] > 3
    assert got["illegal_rate"] == pytest.approx(3 / 4)
    for breakdown in BREAKDOWNS:
        rows = {r["key"]: r["counts"] for r in got["breakdowns"][breakdown]}
        made = {k: {m: v.get(m, 0) for m in METRICS} for k, v in want[breakdown].items() if any(v.values())}
        assert {k: v for k, v in rows.items() if any(v.values())} == made, breakdown
    assert [r["key"] for r in got["breakdowns"]["week"]] == ["2026-W47", "2026-W48"]
    assert {r["key"] for r in got["breakdowns"]["reviewer"]} == {"张三", "李四"}
    to_confirm, to_removal = durations(db)
    assert got["time_to_confirm"] == {"count": 3, "median_hours": round(quantile(to_confirm, 0.5), 2),
                                      "p90_hours": round(quantile(to_confirm, 0.9), 2)}  # fmt: skip
    assert got["time_to_removal"]["count"] == len(to_removal) == 1
    assert got["time_to_removal"]["median_hours"] == round(to_removal[0], 2)
    [overdue] = got["overdue"]
    assert (overdue["ad_id"], overdue["days_overdue"]) == (ads[1003], 1)
    # a campaign's phase is the same count over its own days
    run_adclear("campaign", "create", "冬季专项", "--from", "2026-11-16", "--to", "2026-12-31", "--phase",
                "部署落实:2026-11-16:2026-11-22", "--office", "示范县处非办", "--as", "王五",
                db=db_path, check=True)  # fmt: skip
    phase = json.loads(run_adclear("stats", "--campaign", "冬季专项", "--phase", "部署落实", "--today", late, "--json",
                                   db=db_path, check=True).stdout)  # fmt: skip
    first_week = expected(db, late, LO, "2026-11-22T16:00:00+00:00")
    assert phase["totals"] == {m: first_week["*"]["*"][m] for m in METRICS}
    assert (phase["totals"]["confirmed"], phase["totals"]["takedowns_dispatched"]) == (2, 0)
    assert phase["title"] == "冬季专项（部署落实）" and phase["office"] == "示范县处非办"
    table = run_adclear("stats", "--campaign", "冬季专项", "--by", "category", "--today", late, db=db_path, check=True)
    assert "按涉嫌类型" in table.stdout and CAT in table.stdout and "逾期未处置 overdue (1)" in table.stdout
    db.close()
