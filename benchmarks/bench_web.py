"""The review web app under load: page latency with a million ads, and 20 reviewers claiming at once.

1. Builds a synthetic database (``--ads``, default 1,000,000 ads with verdicts, queue items, contacts and
   sightings; executemany in one transaction) and starts ``adclear serve`` (waitress) on a free loopback port.
2. Page latency, one client, ``--samples`` requests each: the queue page, the queue page filtered, an ad page,
   and the baseline: a static file served by the same server. p50/p95 and the ratio to the baseline.
3. ``--clients`` reviewers (default 20), each logged in with its own session, for ``--seconds`` (default 60):
   claim the next ad, reject it, which claims the next (the app's own flow). Throughput and p95 per request,
   then the check: from the audit log, no ad was claimed twice, every decision was taken by the ad's claimant,
   and no ad was decided twice.

    .venv/bin/python benchmarks/bench_web.py                      # the full run (about 3 minutes)
    .venv/bin/python benchmarks/bench_web.py --ads 50000 --seconds 10   # a quick one

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SITES = [(f"site-{i:02d}", f"平台{i % 5}", ("classifieds", "social", "forum")[i % 3]) for i in range(12)]
CATEGORIES = ["投资理财/P2P网贷", "养老投资", "虚拟货币/区块链", "房产商铺返租/售后回购", "合作社/互助金"]
PASSWORD = "Bench-Mark-Pass-2026"


def mix(i: int, salt: int) -> int:
    """A pseudo-random number from ``i``: site, category and score independent of each other."""
    return ((i * 2654435761 + salt * 40503) ^ (i >> 7)) * 2246822519 % 4294967291


def build(db_path: Path, n: int, clients: int) -> None:
    from core.db import connect
    from review.users import add_user

    started = time.perf_counter()
    connect(db_path).close()  # migrations
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    base = datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sites (name, platform, kind, config, updated_at) VALUES (?, ?, ?, '{}', ?)",
        [(name, platform, kind, now) for name, platform, kind in SITES],
    )
    conn.execute(
        "INSERT INTO crawl_runs (site, spider, started_at, status) VALUES ('site-00', 'bench', ?, 'ok')", [now]
    )

    def ads():
        for i in range(1, n + 1):
            site, platform, _ = SITES[mix(i, 1) % len(SITES)]
            rate = 6 + i % 15
            title = f"第{i}号理财 年化{rate}% 保本保息"
            body = f"投资理财项目{i}，年化收益{rate}%，保本保息，千元起投，名额有限，加微信 wx{i % 50000:05d} 咨询。"
            seen = (base + timedelta(minutes=i % 500000)).isoformat(timespec="microseconds")
            yield (
                i,
                f"k{i}",
                f"http://{site}.example/ad/{i}.html",
                site,
                platform,
                title,
                body,
                "",
                f"h{i}",
                seen,
                seen,
                seen,
                "flagged",
            )

    conn.executemany(
        "INSERT INTO ads (id, ad_key, url, site, platform, title, body, contact, content_hash, first_seen, "
        "last_seen, last_fetched, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ads(),
    )

    def verdicts():
        for i in range(1, n + 1):
            rate = 6 + i % 15
            title = f"第{i}号理财 年化{rate}% 保本保息"
            start = title.index("年化")
            end = start + len(f"年化{rate}%")
            hits = [
                {
                    "rule_id": "return.annual_rate",
                    "kind": "signal",
                    "name": "promised_return",
                    "weight": 2.0,
                    "legal_basis": "《广告法》第二十五条",
                    "matched": title[start:end],
                    "start": start,
                    "end": end,
                    "field": "title",
                    "status": "active",
                },
                {
                    "rule_id": "guarantee.principal",
                    "kind": "signal",
                    "name": "guarantee",
                    "weight": 2.0,
                    "legal_basis": "《广告法》第二十五条",
                    "matched": "保本保息",
                    "start": end + 1,
                    "end": end + 5,
                    "field": "title",
                    "status": "active",
                },
                {
                    "rule_id": "p2p.wealth",
                    "kind": "category",
                    "name": CATEGORIES[mix(i, 2) % 5],
                    "weight": 1.0,
                    "legal_basis": "最高法非法集资司法解释(2022)第二条第(八)项",
                    "matched": "投资理财",
                    "start": 0,
                    "end": 4,
                    "field": "text",
                    "status": "active",
                },
            ]
            score = round(2 + mix(i, 3) % 800 / 100, 2)
            label = "flag" if mix(i, 4) % 10 < 7 else "watch"
            yield (
                i,
                i,
                f"h{i}",
                "bench",
                now,
                score,
                label,
                json.dumps([CATEGORIES[mix(i, 2) % 5]], ensure_ascii=False),
                json.dumps(hits, ensure_ascii=False),
            )

    conn.executemany(
        "INSERT INTO verdicts (id, ad_id, content_hash, classifier_version, classified_at, score, label, "
        "categories, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        verdicts(),
    )
    conn.execute(
        "INSERT INTO queue (ad_id, verdict_id, priority, state, queued_at, updated_at) "
        "SELECT v.ad_id, v.id, round(v.score + CASE v.label WHEN 'flag' THEN 1000 ELSE 0 END, 3), 'pending', "
        "a.first_seen, a.first_seen FROM verdicts v JOIN ads a ON a.id = v.ad_id"
    )
    conn.execute(
        "INSERT INTO contacts (ad_id, kind, value, matched, first_seen) "
        "SELECT id, 'wechat', 'wx' || substr('00000' || (id % 50000), -5), 'wx', first_seen FROM ads"
    )
    conn.execute("INSERT INTO sightings (ad_id, run_id, seen_at, change) SELECT id, 1, first_seen, 'new' FROM ads")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    from core.db import connect as reconnect

    db = reconnect(db_path)
    for c in range(clients):
        add_user(db, f"rev{c:02d}", "reviewer", PASSWORD)
    db.close()
    print(f"built {n:,} ads in {time.perf_counter() - started:.1f} s ({db_path.stat().st_size / 2**20:.0f} MiB)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One browser-like client: keep-alive connection, the session cookie, the page's CSRF token."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.token = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
        cookie = answer.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        found = re.search(r'name="csrf-token" content="([^"]+)"', text)
        if found:
            self.token = found.group(1)
        return answer.status, dict(answer.getheaders()), text

    def login(self, name: str) -> None:
        self.request("GET", "/login")
        status, headers, _ = self.request(
            "POST", "/login", {"name": name, "password": PASSWORD, "csrf_token": self.token}
        )
        assert status == 302, f"login of {name} failed: {status}"
        self.request("GET", "/queue")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def page_latency(port: int, samples: int, n: int) -> None:
    client = Client(port)
    client.login("rev00")
    rng = random.Random(1)
    platform = quote(SITES[3][1])

    def get(path: str) -> None:
        status, _, _ = client.request("GET", path)
        assert status == 200, (path, status)

    cases = {
        "static file (baseline)": lambda: get("/static/app.css"),
        "queue page": lambda: get("/queue"),
        "queue page, page 20": lambda: get("/queue?page=20"),
        "queue, platform+band": lambda: get(f"/queue?platform={platform}&band=high"),
        "queue, category+site": lambda: get(f"/queue?category={quote(CATEGORIES[2])}&site=site-07"),
        "ad page": lambda: get(f"/ad/{rng.randint(1, n)}"),
    }
    for fn in cases.values():  # warm the caches
        for _ in range(3):
            fn()
    results = {name: timed(fn, samples) for name, fn in cases.items()}
    base = statistics.median(results["static file (baseline)"])
    print(f"\npage latency, {samples} requests each, one client (ms):")
    print(f"  {'':<24}{'p50':>8}{'p95':>8}{'p95/base p50':>14}")
    for name, values in results.items():
        print(f"  {name:<24}{statistics.median(values):>8.1f}{pct(values, 95):>8.1f}{pct(values, 95) / base:>14.1f}")


def claim_load(port: int, clients: int, seconds: float) -> dict:
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    decided = [0]

    def reviewer(c: int) -> None:
        client = Client(port)
        client.login(f"rev{c:02d}")
        t = time.perf_counter()
        status, headers, _ = client.request("POST", "/claim", {"csrf_token": client.token})
        mine = [(time.perf_counter() - t) * 1000]
        location = headers.get("Location", "")
        done = 0
        while time.monotonic() < stop and "/ad/" in location:
            ad = location.rsplit("/", 1)[1]
            t = time.perf_counter()
            status, headers, text = client.request(
                "POST", f"/ad/{ad}/reject", {"csrf_token": client.token, "reason": "非集资广告"}
            )
            mine.append((time.perf_counter() - t) * 1000)
            location = headers.get("Location", "")
            if status != 302 or f"/ad/{ad}" == location:
                with lock:
                    errors.append(f"rev{c:02d} ad {ad}: {status} {location}")
                break
            done += 1
        with lock:
            latencies.extend(mine)
            decided[0] += done

    threads = [threading.Thread(target=reviewer, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "decided": decided[0], "elapsed": elapsed}


def check(db_path: Path) -> dict:
    conn = sqlite3.connect(db_path)
    q = conn.execute
    double_claims = q(
        "SELECT count(*) FROM (SELECT target FROM audit_log WHERE action = 'claim' GROUP BY target HAVING count(*) > 1)"
    ).fetchone()[0]
    claims = q("SELECT count(*) FROM audit_log WHERE action = 'claim'").fetchone()[0]
    double_decisions = q(
        "SELECT count(*) FROM (SELECT ad_id FROM decisions GROUP BY ad_id HAVING count(*) > 1)"
    ).fetchone()[0]
    not_claimant = q(
        """SELECT count(*) FROM decisions d JOIN audit_log c ON c.target = 'ad:' || d.ad_id AND c.action = 'claim'
           WHERE c.actor != d.reviewer"""
    ).fetchone()[0]
    held_twice = q(
        "SELECT count(*) FROM (SELECT ad_id FROM queue WHERE state = 'claimed' GROUP BY ad_id HAVING count(*) > 1)"
    ).fetchone()[0]
    decisions = q("SELECT count(*) FROM decisions").fetchone()[0]
    conn.close()
    return {
        "claims": claims,
        "decisions": decisions,
        "ads claimed twice": double_claims,
        "ads decided twice": double_decisions,
        "decisions not by the claimant": not_claimant,
        "queue items held twice": held_twice,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8, help="server worker threads")
    parser.add_argument("--db", type=Path, help="reuse (or keep) the synthetic database here")
    parser.add_argument("--skip-pages", action="store_true", help="only the claiming run")
    parser.add_argument("--server-log", type=Path, help="write the server's stderr here")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="adclear-bench-web-")
    db_path = args.db or Path(tmp.name) / "data" / "adclear.db"
    if not db_path.exists():
        build(db_path, args.ads, args.clients)
    port = free_port()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adclear",
            "--db",
            str(db_path),
            "serve",
            "--port",
            str(port),
            "--threads",
            str(args.threads),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        # never a pipe nobody reads: waitress logs under load, and a full pipe would block the server
        stderr=args.server_log.open("w") if args.server_log else subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start (see --server-log)")
        if not args.skip_pages:
            page_latency(port, args.samples, args.ads)
        result = claim_load(port, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait(10)
    lat = result["latencies"] or [float("nan")]
    print(f"\n{args.clients} reviewers claiming and deciding for {args.seconds:g} s ({args.threads} server threads):")
    print(f"  requests: {len(lat)} ({len(lat) / result['elapsed']:.1f}/s); each is a decision plus the next claim")
    print(f"  latency ms: p50 {statistics.median(lat):.1f}, p95 {pct(lat, 95):.1f}, max {max(lat):.1f}")
    verdict = check(db_path)
    for key, value in verdict.items():
        print(f"  {key}: {value}")
    if result["errors"]:
        print("  errors:", *result["errors"][:5], sep="\n    ")
    bad = any(verdict[k] for k in verdict if "twice" in k or "not by" in k) or result["errors"]
    print("\nzero double claims: " + ("NO" if bad else "yes"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
