"""Rendered pages per minute and Chromium's memory: the social spider crawling a feed of synthetic posts.

    .venv/bin/python benchmarks/bench_browser.py                        # 1,000 post pages + baselines of 200
    .venv/bin/python benchmarks/bench_browser.py --pages 200 --baseline-pages 50     # smaller and faster

Each run is a real ``adclear crawl`` in a subprocess, as an operator runs it: the feed rendered and loaded to
its end (加载更多), then every post page rendered in Debian's Chromium, waited for, captured as a full-page PNG,
archived (WARC) and stored with its screenshot evidence. The demo social site serves ``--pages`` synthetic
posts (the demo's texts, numbered) from a separate process on a free loopback port.

Measured: post pages per minute (from the first post page stored to the last; the wall time of the whole crawl,
browser start and feed included, is printed too); Chromium's memory, sampled every 2 s as the sum of the
proportional set sizes (PSS) of the browser's processes (shared pages divided among the processes that map
them: the physical memory the browser uses, the goal's measure) and every 0.5 s as the sum of their resident
set sizes (RSS, which counts the Chromium binary and libraries that every process maps once per process:
1.5-2.5 times the PSS here: shared pages are counted once per process); growth: mean RSS while
pages 100-200 were rendered against the last 100 pages.

Same run, same machine, two baselines (``--baseline-pages`` posts each):
- ``1 page``: one page per context, a fresh page per request (scrapy-playwright's behaviour, one at a time);
- ``no reuse``: the same concurrency as ours, a fresh page per request (scrapy-playwright's behaviour).

Goals (issue #5, 2 cores): >= 200 rendered pages/min, peak <= 1 GB, no growth from the first hundred pages to
the last.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MB = 1024 * 1024
FEED_PAGE = 50  # posts per 加载更多 in the benchmark's feed (the demo shows 8)


def make_posts(n: int, target: Path) -> None:
    """``n`` posts made from the demo's, each numbered so that every text differs."""
    demo = yaml.safe_load((REPO / "demo" / "social" / "posts.yml").read_text(encoding="utf-8"))
    start = datetime(2026, 10, 1, 8, 0)
    rows = []
    for i in range(n):
        base = demo[i % len(demo)]
        rows.append(
            {
                "id": 100_000 + i,
                "author": base["author"],
                "handle": base["handle"],
                "posted_at": (start + timedelta(minutes=7 * i)).strftime("%Y-%m-%d %H:%M"),
                "text": f"【{i + 1}】" + base["text"],
                "truth": base["truth"],
                "category": base.get("category"),
                "comments": base.get("comments") or [],
            }
        )
    target.write_text(yaml.safe_dump(rows, allow_unicode=True, sort_keys=False), encoding="utf-8")


def serve(posts_file: str, ports: multiprocessing.Queue) -> None:  # runs in a child process
    from demo.server import DemoServer
    from demo.social.site import SocialSite

    server = DemoServer(0)
    server.social = SocialSite(Path(posts_file), page_size=FEED_PAGE)
    _ = server.social.posts
    ports.put(server.server_address[1])
    server.serve_forever()


def write_seeds(base_url: str, pages: int, concurrency: int, target: Path) -> Path:
    source = yaml.safe_load((REPO / "seeds.yml").read_text(encoding="utf-8"))
    site = next(s for s in source["sites"] if s["name"] == "demo-social")
    site = {**site, "name": "bench-social", "start_urls": [f"{base_url}/social/"], "allow_addresses": [base_url]}
    site.pop("search", None)
    site["render"] = {**site["render"], "max_loads": pages // FEED_PAGE + 2, "timeout": 60}
    # robots.txt, the feed, then exactly ``pages`` post pages (a few more may be in flight when the limit hits)
    site.update(max_pages=pages + 2, delay=0, concurrency=concurrency)
    data = {"version": 1, "operator": source.get("operator", {}), "sites": [site]}
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def chromium_processes(root: psutil.Process) -> list[psutil.Process]:
    try:
        children = root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for proc in children:
        try:
            if proc.name().startswith("chrom"):
                out.append(proc)
        except psutil.Error:
            pass
    return out


def memory(procs: list[psutil.Process], *, pss: bool) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss if pss else proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def post_pages(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM pages WHERE url LIKE '%/social/p/%'").fetchone()[0]
    except sqlite3.Error:
        return -1


@dataclass
class Run:
    label: str
    pages: int = 0
    screenshots: int = 0
    wall: float = 0.0
    span: float = 0.0  # seconds from the first post page stored to the last
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time, post pages, RSS)
    pss: list[int] = field(default_factory=list)
    status: str = ""

    @property
    def per_min(self) -> float:
        return (self.pages - 1) / self.span * 60 if self.span > 0 and self.pages > 1 else 0.0

    @property
    def peak_rss(self) -> int:
        return max((s[2] for s in self.samples), default=0)

    @property
    def peak_pss(self) -> int:
        return max(self.pss, default=0)

    def mean_rss(self, lo: int, hi: int) -> float:
        values = [rss for _, n, rss in self.samples if lo <= n < hi and rss > 0]
        return statistics.fmean(values) if values else 0.0


def crawl(label: str, base_url: str, pages: int, work: Path, *, concurrency: int, page_uses: int) -> Run:
    run_dir = work / label.replace(" ", "-")
    run_dir.mkdir()
    seeds = write_seeds(base_url, pages, concurrency, run_dir / "seeds.yml")
    db = run_dir / "data" / "adclear.db"
    env = {
        **os.environ,
        "ADCLEAR_BROWSER_PAGES": str(concurrency),
        "ADCLEAR_BROWSER_PAGE_USES": str(page_uses),
        "ADCLEAR_BROWSER_MEMORY_MB": "16384",  # measure, do not stop
        "PYTHONIOENCODING": "utf-8",
    }
    cmd = [sys.executable, "-m", "adclear", "--db", str(db), "--seeds", str(seeds), "crawl", "bench-social"]
    run = Run(label)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    last_pss = 0.0
    while proc.poll() is None:
        procs = chromium_processes(root)
        now = time.monotonic()
        run.samples.append((now - started, post_pages(db), memory(procs, pss=False)))
        if now - last_pss >= 2 and procs:
            run.pss.append(memory(procs, pss=True))
            last_pss = now
        time.sleep(0.5)
    out = proc.stdout.read() if proc.stdout else ""
    run.wall = time.monotonic() - started
    run.status = next((line for line in out.splitlines() if line.startswith("bench-social")), out.strip()[-300:])
    with sqlite3.connect(db) as conn:
        times = [
            datetime.fromisoformat(t)
            for (t,) in conn.execute("SELECT fetched_at FROM pages WHERE url LIKE '%/social/p/%' ORDER BY fetched_at")
        ]
        run.screenshots = conn.execute("SELECT count(*) FROM evidence WHERE kind = 'screenshot'").fetchone()[0]
    run.pages = len(times)
    run.span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="post pages rendered in the main run (1000)")
    parser.add_argument("--baseline-pages", type=int, default=200, help="post pages per baseline run (200)")
    parser.add_argument("--concurrency", type=int, default=4, help="pages rendered at once (ADCLEAR_BROWSER_PAGES)")
    parser.add_argument("--page-uses", type=int, default=10, help="navigations per page (ADCLEAR_BROWSER_PAGE_USES)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baselines")
    args = parser.parse_args()

    cpu = psutil.cpu_count(logical=True)
    load = os.getloadavg()[0]
    version = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; {cpu} CPUs; load average {load:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        work = Path(tmp)
        most = max(args.pages, args.baseline_pages)
        make_posts(most, work / "posts.yml")
        ports: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(str(work / "posts.yml"), ports), daemon=True
        )
        server.start()
        base_url = f"http://127.0.0.1:{ports.get(timeout=60)}"
        try:
            runs = [
                crawl("adclear", base_url, args.pages, work, concurrency=args.concurrency, page_uses=args.page_uses)
            ]
            if not args.no_baseline:
                n = args.baseline_pages
                runs.append(crawl("1 page", base_url, n, work, concurrency=1, page_uses=1))
                runs.append(crawl("no reuse", base_url, n, work, concurrency=args.concurrency, page_uses=1))
        finally:
            server.terminate()
            server.join(5)

    ours = runs[0]
    print(f"\nfeed of synthetic posts, every post page rendered + full-page PNG + WARC + stored; load now {load:.1f}")
    print(
        f"{'run':<10}{'pages':>7}{'shots':>7}{'pages/min':>11}{'ratio':>7}{'wall s':>8}{'peak RSS MB':>13}"
        f"{'peak PSS MB':>13}"
    )
    for run in runs:
        ratio = run.per_min / ours.per_min if ours.per_min else 0
        print(
            f"{run.label:<10}{run.pages:>7}{run.screenshots:>7}{run.per_min:>11.0f}{ratio:>7.2f}{run.wall:>8.0f}"
            f"{run.peak_rss / MB:>13.0f}{run.peak_pss / MB:>13.0f}"
        )
    for run in runs:
        print(f"  {run.label}: {run.status}")
    n = ours.pages
    early, late = ours.mean_rss(100, 200), ours.mean_rss(n - 100, n + 1)
    if n >= 300 and early and late:
        print(
            f"\nmemory growth: mean RSS {early / MB:.0f} MB while pages 100-200 rendered, {late / MB:.0f} MB over "
            f"the last 100 (ratio {late / early:.2f})"
        )
    checkpoints = [c for c in (100, 250, 500, 750, n) if c <= n]
    marks = []
    for c in checkpoints:
        at = [rss for _, done, rss in ours.samples if done >= c and rss > 0]
        if at:
            marks.append(f"{c}: {at[0] / MB:.0f} MB")
    print("RSS when N post pages were done: " + ", ".join(marks))
    print(
        f"\ngoals: >= 200 pages/min: {'met' if ours.per_min >= 200 else 'NOT met'} ({ours.per_min:.0f}); "
        f"peak <= 1 GB (PSS sum): {'met' if ours.peak_pss <= 1024 * MB else 'NOT met'} ({ours.peak_pss / MB:.0f} MB; "
        f"summed RSS {ours.peak_rss / MB:.0f} MB); "
        f"no growth: {'met' if n >= 300 and late <= early * 1.10 else 'NOT met' if n >= 300 else 'not measured'}"
    )
    load_end = os.getloadavg()[0]
    print(f"load average {load_end:.1f} at the end (other work on the machine slows every run alike)")


if __name__ == "__main__":
    main()
