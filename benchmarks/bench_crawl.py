"""Crawl throughput: adclear's full pipeline against a no-op pipeline, beside `scrapy bench`, in one run.

A synthetic classifieds site (the demo site's layout, N ads made from the demo ads) is served from a separate
process on 127.0.0.1, so that the server does not share the crawler's interpreter. The same spider then crawls
it three times, each a fresh `scrapy crawl` process:

1. full: WARC archiving, clean text, classification, storage (what `adclear crawl` does);
2. no-op pipeline: the same crawl with ITEM_PIPELINES empty (pages still archived);
3. bare: no adclear component at all (no archive, no run recorder, no pipeline): Scrapy alone on this site;

then `scrapy bench` (Scrapy's own local benchmark) for the machine's baseline. Pages/min are responses per
minute over the spider's own elapsed time (Scrapy's stats), so process start-up is not counted.

    .venv/bin/python benchmarks/bench_crawl.py [--ads 2000] [--concurrency 8] [--skip-scrapy-bench]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


FILLER = "的一是在不了有和人这中大为上个国我以要他"


def make_ads(n: int, target: Path) -> None:
    from demo.classifieds.site import ClassifiedsSite

    base = ClassifiedsSite().ads
    rng = random.Random(7)
    rows = []
    for i in range(n):
        ad = base[i % len(base)]
        rows.append(
            {
                "id": 100000 + i,
                "section": ad.section,
                "title": f"{ad.title} {i}",
                "body": ad.body
                + f"\n编号{i}："
                + "".join(rng.choice("的一是在不了有和人这中大为上个国我以要他") for _ in range(40)),
                "contact": ad.contact,
                "author": ad.author,
                "posted_at": ad.posted_at,
                "truth": ad.truth,
                "category": ad.category,
            }
        )
    target.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")


def serve(ads_file: str, port: int) -> None:
    """The synthetic site: the demo classifieds pages over a custom ads file (run in its own process)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    from demo.classifieds.site import ClassifiedsSite

    site = ClassifiedsSite(Path(ads_file))
    _ = site.ads

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/robots.txt":
                status, ctype, body = 200, "text/plain", b"User-agent: *\nDisallow: /classifieds/user/\n"
            else:
                status, ctype, body = site.page(path) or (404, "text/plain", b"not found")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seeds_file(base: str, concurrency: int, pages: int, target: Path) -> None:
    text = (REPO / "seeds.yml").read_text(encoding="utf-8").split("  - name: demo-hostile")[0]
    text = text.replace("http://127.0.0.1:8731", base)
    text = text.replace("    concurrency: 4\n", f"    concurrency: {concurrency}\n")
    text = text.replace("    max_pages: 500\n", f"    max_pages: {pages}\n").replace(
        "      max_pages: 20\n", "      max_pages: 10000\n"
    )
    target.write_text(text, encoding="utf-8")


def crawl(label: str, tmp: Path, seeds: Path, extra: list[str]) -> dict:
    """One `scrapy crawl` in a fresh process; figures from the stats Scrapy dumps into its log."""
    db = tmp / label / "adclear.db"
    log = tmp / f"{label}.log"
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "demo-classifieds",
        "-s",
        f"ADCLEAR_DB={db}",
        "-s",
        f"ADCLEAR_SEEDS={seeds}",
        "-s",
        "LOG_LEVEL=INFO",
        "-s",
        f"LOG_FILE={log}",
        *extra,
    ]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    text = log.read_text(encoding="utf-8")

    def stat(name: str) -> float:
        match = re.search(rf"'{re.escape(name)}': ([0-9.]+)", text)
        return float(match.group(1)) if match else 0.0

    pages, elapsed = stat("response_received_count"), stat("elapsed_time_seconds")
    stored = 0
    if db.exists():
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT count(*) FROM ads").fetchone()[0]
    return {
        "label": label,
        "pages": int(pages),
        "items": int(stat("item_scraped_count")),
        "stored": stored,
        "elapsed": elapsed,
        "ppm": pages / elapsed * 60,
    }


def statistics_median(runs: list[dict]) -> dict:
    """The run with the median pages/min."""
    ordered = sorted(runs, key=lambda r: r["ppm"])
    return ordered[len(ordered) // 2]


def scrapy_bench(seconds: int) -> float | None:
    """`scrapy bench`'s rate (pages/min), from its log lines, run outside the project."""
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "bench",
                "-s",
                f"CLOSESPIDER_TIMEOUT={seconds}",
                "-s",
                "LOGSTATS_INTERVAL=1",
            ],
            cwd=empty,
            capture_output=True,
            text=True,
        )
    rates = [int(m) for m in re.findall(r"Crawled \d+ pages \(at (\d+) pages/min\)", result.stderr)]
    rates = rates[2:] or rates  # skip the warm-up seconds
    return sum(rates) / len(rates) if rates else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-scrapy-bench", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each crawl; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ads = tmp / "ads.yml"
        make_ads(args.ads, ads)
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(ads), str(port)], cwd=REPO)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            seeds = tmp / "seeds.yml"
            seeds_file(f"http://127.0.0.1:{port}", args.concurrency, args.ads * 3, seeds)
            bare = [
                "-s",
                'DOWNLOADER_MIDDLEWARES={"crawler.middlewares.WarcArchiveMiddleware": null}',
                "-s",
                'EXTENSIONS={"crawler.extensions.RunRecorder": null}',
                "-s",
                "ITEM_PIPELINES={}",
            ]
            variants = {"full": [], "noop": ["-s", "ITEM_PIPELINES={}"], "bare": bare}
            samples: dict[str, list[dict]] = {k: [] for k in variants}
            for i in range(args.repeat):  # interleaved, so that a busy moment hits every variant alike
                for label, extra in variants.items():
                    samples[label].append(crawl(f"{label}{i}", tmp, seeds, extra) | {"label": label})
            runs = [statistics_median(samples[label]) for label in variants]
        finally:
            server.terminate()
            server.wait()
    bench = None if args.skip_scrapy_bench else scrapy_bench(15)
    report(args, runs, bench)


def report(args: argparse.Namespace, runs: list[dict], bench: float | None) -> None:
    print(
        f"synthetic classifieds site: {args.ads} ads, concurrency {args.concurrency}, on 127.0.0.1 "
        f"(server in its own process); {os.cpu_count()} cores; median of {args.repeat} interleaved runs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'crawl':<34}{'pages':>7}{'ads stored':>11}{'seconds':>9}{'pages/min':>11}{'ratio':>7}")
    names = {
        "full": "full pipeline (archive+classify+store)",
        "noop": "no-op item pipeline",
        "bare": "bare Scrapy (no adclear parts)",
    }
    noop = runs[1]["ppm"]
    for r in runs:
        print(
            f"{names[r['label']]:<34}{r['pages']:>7}{r['stored']:>11}{r['elapsed']:>9.1f}{r['ppm']:>11,.0f}"
            f"{r['ppm'] / noop:>7.2f}"
        )
    full = runs[0]["ppm"] / noop
    print(f"full / no-op pipeline: {full:.2f} (goal ≥ 0.80: {'met' if full >= 0.8 else 'NOT met'})")
    if bench:
        print(
            f"scrapy bench (same machine, same run): {bench:,.0f} pages/min; full pipeline = "
            f"{runs[0]['ppm'] / bench:.2f} × scrapy bench"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
