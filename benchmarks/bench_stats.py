"""量化统计 of a campaign over 1M ads and 3M sightings, against a plain COUNT(*) of the same tables, same run.

    .venv/bin/python benchmarks/bench_stats.py                    # the issue's sizes: 1M ads, 3M sightings
    .venv/bin/python benchmarks/bench_stats.py --ads 100000       # smaller and faster

The synthetic database (built once, kept at --db, rebuilt with --rebuild) has 20 sites in 5 regions, crawled
twice a week for 26 weeks; each ad is seen in three runs of its site (3 sightings per ad) and its page fetched
once; one verdict per ad (8% flag, 10% watch, the rest clear); 3% of the ads confirmed (with their takedown
requested), 3% rejected, 1% of the confirmations reversed; half the takedowns dispatched, a third verified
removed, some overdue; 2,000 tips. The ledger is a real hash chain (its triggers check every insert). Every
table is filled with ``executemany`` in one transaction.

Timed, in interleaved rounds: ``review.statistics.for_campaign`` for a campaign that spans the whole data with
no scope (everything is counted: the worst case), and the baseline, ``SELECT count(*)`` of ads, sightings,
pages, verdicts and ledger. Printed: best and median of each, the ratio, and one run of ``adclear stats
--campaign … --json`` as a process (start-up included). The goal: ≤ 2 s for the campaign's figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics as pystats
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

from core.db import connect
from review import ledger
from review.campaigns import CampaignSpec, create
from review.statistics import for_campaign

START = datetime(2026, 6, 1, tzinfo=UTC)
WEEKS, SITES, REGIONS = 26, 20, 5
CAMPAIGN = "基准专项"


def stamp(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


def _runs(conn) -> list[tuple[int, str, datetime]]:
    runs, run_id = [], 0
    for w in range(WEEKS):
        for half in range(2):
            for s in range(SITES):
                run_id += 1
                started = START + timedelta(days=7 * w + 3.5 * half, minutes=10 * s)
                runs.append((run_id, f"site-{s:02d}", started))
    conn.executemany(
        "INSERT INTO sites (name, platform, kind, region, config, updated_at) VALUES (?, ?, 'classifieds', ?, '{}', ?)",
        [(f"site-{s:02d}", f"平台{s % 7}", f"地区{s % REGIONS}", stamp(START)) for s in range(SITES)],
    )
    conn.executemany(
        "INSERT INTO crawl_runs (id, site, spider, started_at, finished_at, status) VALUES (?, ?, ?, ?, ?, 'ok')",
        [(r, site, site, stamp(t), stamp(t + timedelta(hours=1))) for r, site, t in runs],
    )
    return runs


def _ads(conn, n_ads: int, runs: list[tuple[int, str, datetime]], rng: random.Random) -> list[tuple[int, str, str]]:
    """Ads, their pages, sightings and verdicts; returns (ad id, site, first seen) of each."""
    per_site = [[r for r in runs if r[1] == f"site-{s:02d}"] for s in range(SITES)]
    ads, pages, sightings, verdicts, facts = [], [], [], [], []
    cats = ["投资理财/P2P网贷", "养老投资", "虚拟货币/区块链", "私募股权/原始股", "消费返利/会员返利"]
    for i in range(1, n_ads + 1):
        site_runs = per_site[i % SITES]
        k = rng.randrange(len(site_runs) - 2)
        seen = [(r, t + timedelta(seconds=rng.randrange(3000))) for r, _, t in site_runs[k : k + 3]]
        first, last = stamp(seen[0][1]), stamp(seen[-1][1])
        site = f"site-{i % SITES:02d}"
        ads.append((i, f"https://{site}.example/ad/{i}", f"https://{site}.example/ad/{i}", site, "平台", f"h{i}",
                    first, last, last))  # fmt: skip
        pages.append((i, seen[0][0], f"https://{site}.example/ad/{i}", first, "0" * 64))
        sightings.extend((i, r, stamp(t), "new" if j == 0 else "same") for j, (r, t) in enumerate(seen))
        roll = rng.random()
        label = "flag" if roll < 0.08 else "watch" if roll < 0.18 else "clear"
        categories = json.dumps([cats[i % 5]] if roll < 0.18 else [])
        verdicts.append((i, first, 9.0 if label == "flag" else 1.0, label, categories))
        facts.append((i, site, first))
    conn.executemany(
        """INSERT INTO ads (id, ad_key, url, site, platform, content_hash, first_seen, last_seen, last_fetched)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        ads,
    )
    conn.executemany(
        """INSERT INTO pages (id, run_id, url, status, fetched_at, length, payload_sha256, warc_file, warc_offset,
           warc_length) VALUES (?, ?, ?, 200, ?, 1000, ?, 'x.warc.gz', 0, 1)""",
        pages,
    )
    conn.executemany("INSERT INTO sightings (ad_id, run_id, seen_at, change) VALUES (?, ?, ?, ?)", sightings)
    conn.executemany(
        """INSERT INTO verdicts (ad_id, content_hash, classifier_version, classified_at, score, label, categories, hits)
           VALUES (?, 'h', 'bench', ?, ?, ?, ?, '[]')""",
        verdicts,
    )
    return facts


def _ledger(conn, facts: list[tuple[int, str, str]], rng: random.Random) -> None:
    """Decisions and takedown steps as a real hash chain; the takedowns table as the ledger derives it."""
    events: list[tuple[str, str, str, int, dict]] = []  # (at, actor, action, ad id, payload)
    cats = ["投资理财/P2P网贷", "养老投资", "虚拟货币/区块链"]
    decided = rng.sample(facts, k=len(facts) * 6 // 100)
    for n, (ad, site, first) in enumerate(decided):
        at = datetime.fromisoformat(first) + timedelta(hours=rng.uniform(1, 96))
        who = f"审核员{n % 8}"
        if n % 2:
            events.append((stamp(at), who, "rejected", ad, {"site": site, "reason": "防非宣传"}))
            continue
        events.append((stamp(at), who, "confirmed", ad, {"site": site, "category": cats[n % 3]}))
        events.append((stamp(at + timedelta(microseconds=1)), who, "takedown_requested", ad, {"site": site}))
    events.sort(key=lambda e: e[0])
    rows, takedowns, confirmed_seq, prev = [], [], {}, ledger.GENESIS
    later: list[tuple[str, str, str, int, dict]] = []
    for seq, (at, actor, action, ad, payload) in enumerate(events, start=1):
        if action == "confirmed":
            confirmed_seq[ad] = seq
        if action == "takedown_requested":
            payload = {**payload, "confirmed_seq": confirmed_seq[ad]}
            tid = len(takedowns) + 1
            state, deadline = "requested", None
            when = datetime.fromisoformat(at)
            if tid % 100 == 0:
                later.append(
                    (stamp(when + timedelta(days=2)), actor, "reversed", ad, {"decided_seq": confirmed_seq[ad]})
                )
                state = "cancelled"
            elif tid % 2 == 0:
                deadline = (when + timedelta(days=10)).date().isoformat()
                later.append((stamp(when + timedelta(days=1)), "王五", "takedown_dispatched", ad,
                              {"takedown_id": tid, "receiver": "r", "deadline": deadline}))  # fmt: skip
                state = "dispatched"
                if tid % 3 == 0:
                    later.append(
                        (stamp(when + timedelta(days=5)), "recheck", "removal_verified", ad, {"takedown_id": tid})
                    )
                    state = "removed"
            takedowns.append((tid, ad, seq, state, deadline))
        rows.append((seq, at, actor, action, ad, ledger.canonical(payload)))
    for at, actor, action, ad, payload in sorted(later, key=lambda e: e[0]):
        rows.append((len(rows) + 1, at, actor, action, ad, ledger.canonical(payload)))
    chained = []
    for seq, at, actor, action, ad, payload_json in rows:
        digest = ledger.entry_hash(seq, at, actor, action, ad, payload_json, prev)
        chained.append((seq, at, actor, action, ad, payload_json, prev, digest))
        prev = digest
    columns = "seq, at, actor, action, ad_id, payload, prev_hash, hash"
    conn.executemany(f"INSERT INTO ledger ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", chained)
    conn.executemany(
        "INSERT INTO takedowns (id, ad_id, requested_seq, state, deadline, updated_seq) VALUES (?, ?, ?, ?, ?, ?)",
        [(tid, ad, seq, state, deadline, seq) for tid, ad, seq, state, deadline in takedowns],
    )


def _tip(i: int, fact: tuple[int, str, str]) -> tuple:
    ad, _site, first = fact
    return (f"T{i}", first, "verified" if i % 3 == 0 else "received", ad if i % 2 else None, first)


def build(path: Path, n_ads: int) -> None:
    path.unlink(missing_ok=True)
    db = connect(path)
    rng = random.Random(17)
    conn = db.conn
    conn.execute("BEGIN")
    runs = _runs(conn)
    facts = _ads(conn, n_ads, runs, rng)
    _ledger(conn, facts, rng)
    conn.executemany(
        """INSERT INTO tips (number, received_at, channel, summary, entered_by, state, ad_id, updated_at)
           VALUES (?, ?, 'phone', '线索', '王五', ?, ?, ?)""",
        [_tip(i, facts[i * 97 % len(facts)]) for i in range(2000)],
    )
    conn.execute("COMMIT")
    last = (START + timedelta(weeks=WEEKS)).date()
    create(db, CampaignSpec(CAMPAIGN, START.date(), last), actor="bench")
    conn.execute("ANALYZE")
    db.close()


def baseline(db) -> int:
    return sum(
        db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("ads", "sightings", "pages", "verdicts", "ledger")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", type=Path, default=Path("/tmp/adclear-bench-stats.db"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    db_path = args.db.with_name(f"{args.db.stem}-{args.ads}{args.db.suffix}")
    if args.rebuild or not db_path.exists():
        t0 = time.perf_counter()
        build(db_path, args.ads)
        print(f"built {db_path} in {time.perf_counter() - t0:.1f} s")
    db = connect(db_path)
    sizes = {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("ads", "sightings", "pages", "ledger", "takedowns")
    }
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    today = date(2026, 12, 3)
    times: dict[str, list[float]] = {"stats": [], "count": []}
    for _ in range(args.rounds):
        for name in ("count", "stats"):
            t0 = time.perf_counter()
            result = baseline(db) if name == "count" else for_campaign(db, CAMPAIGN, today=today)
            times[name].append(time.perf_counter() - t0)
    s = for_campaign(db, CAMPAIGN, today=today)
    assert s.totals["sightings"] == sizes["sightings"] and s.totals["ads_seen"] == sizes["ads"], s.totals
    for name, label in (("stats", "for_campaign (every figure)"), ("count", "COUNT(*) of 5 tables")):
        print(f"{label:<28} best {min(times[name]):.3f} s  median {pystats.median(times[name]):.3f} s")
    ratio = min(times["stats"]) / min(times["count"]), pystats.median(times["stats"]) / pystats.median(times["count"])
    print(f"ratio stats / COUNT(*): best {ratio[0]:.1f}×  median {ratio[1]:.1f}×")
    best = min(times["stats"])
    print(f"ads/s counted: {sizes['ads'] / best:,.0f}; sightings/s: {sizes['sightings'] / best:,.0f}")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "adclear", "--db", str(db_path), "stats", "--campaign", CAMPAIGN, "--json"],
                   check=True, capture_output=True)  # fmt: skip
    print(f"adclear stats --campaign (a process, start-up included): {time.perf_counter() - t0:.2f} s")
    print(
        f"goal ≤ 2 s: {'met' if min(times['stats']) <= 2 else 'NOT met'}; "
        f"totals: {json.dumps({k: v for k, v in s.totals.items() if v}, ensure_ascii=False)}"
    )
    _ = result


if __name__ == "__main__":
    main()
