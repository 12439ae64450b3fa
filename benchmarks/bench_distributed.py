"""A distributed crawl on this machine: one crawler node against two, the ingest writer against a plain
``executemany``, the stream's lag under load, and what Redis's AOF ``appendfsync always`` costs.

Everything runs here, against Debian's redis-server on a free loopback port (AOF on, as docs/operations.md
recommends) and the synthetic classifieds site of benchmarks/bench_crawl.py (served from its own process):

1. crawl: ``adclear crawl --redis`` with one node, then with two, while ``adclear ingest`` writes; pages/min
   while fetching (first page fetched to last, from the pages stored: the ratios are taken on it) and over the
   whole job (the nodes' Scrapy stats, first start to last finish: it includes noticing the job's end, on the
   nodes' idle checks every 5 s), and the stream's length sampled every 0.1 s (the lag: entries sent and not
   yet stored);
2. writer: N ad entries (the synthetic ads' text, each with its page) handled by ``IngestWriter`` in batches,
   in ``--rounds`` rounds (each in new databases; best and median):
   new ads without the nodes' assessment (classified on the writer), new ads with it (concluded and stored),
   the same ads again in a second job (sighted again), and read 20 to a list page: the list pages packed as
   nodes send them (their WARC records made on the node: the writer checks and appends them) and, in turn
   first, unpacked (the writer archives them, as from a node of format 1). Each timed from the writer's start
   to its last batch handled. Against it, a plain ``executemany`` of the same rows into a table of the ads'
   columns, in one transaction, same run;
3. Redis: single XADDs of a typical page entry with ``appendfsync always`` against ``everysec``.

    .venv/bin/python benchmarks/bench_distributed.py [--ads 1500] [--writer-ads 5000] [--page-kb 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from benchmarks.bench_crawl import free_port, make_ads, seeds_file  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402

SITE = "demo-classifieds"


def adclear(*args: str, db: Path, seeds: Path, log: Path) -> subprocess.Popen:
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adclear", "--db", str(db), "--seeds", str(seeds), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def spider_stats(log: Path) -> tuple[int, float, float]:
    """(pages, start, finish) of a node from the stats Scrapy dumps (times as epoch seconds)."""
    text = log.read_text(encoding="utf-8")
    pages = int(re.search(r"'response_received_count': (\d+)", text).group(1))  # type: ignore[union-attr]
    elapsed = float(re.search(r"'elapsed_time_seconds': ([\d.]+)", text).group(1))  # type: ignore[union-attr]
    found = re.search(r"'finish_time': datetime\.datetime\(([\d, ]+)[,)]", text)
    parts = [int(p) for p in found.group(1).split(",") if p.strip()]  # type: ignore[union-attr]
    finish = datetime(*parts[:6], parts[6] if len(parts) > 6 else 0, tzinfo=UTC).timestamp()
    return pages, finish - elapsed, finish


def crawl(nodes: int, url: str, seeds: Path, tmp: Path, fsync: str = "always") -> dict:
    """One job with ``nodes`` nodes and the writer (0 nodes: a local crawl, no Redis); pages/min and the lag."""
    client = redis.Redis.from_url(url)
    client.flushall()
    client.config_set("appendfsync", fsync)
    label = f"{nodes}-{fsync}"
    db = tmp / f"crawl{label}" / "adclear.db"
    logs = [tmp / f"node{label}-{i}.log" for i in range(max(nodes, 1))]
    if nodes == 0:
        procs = [adclear("crawl", "-v", SITE, db=db, seeds=seeds, log=logs[0])]
        writer = None
    else:
        writer = adclear("ingest", "--redis", url, db=db, seeds=seeds, log=tmp / f"ingest{label}.log")
        procs = [
            adclear("crawl", "--redis", url, "-v", SITE, db=tmp / f"n{i}.db", seeds=seeds, log=log)
            for i, log in enumerate(logs)
        ]
    lag: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            lag.append(int(client.xlen("adclear:items")))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    for p in procs:
        p.wait()
    ended = time.monotonic()
    while writer is not None and (
        client.xlen("adclear:items") or client.xpending("adclear:items", "ingest")["pending"]
    ):
        time.sleep(0.05)
    drain = time.monotonic() - ended
    done.set()
    sampler.join()
    if writer is not None:
        writer.terminate()
        writer.wait()
    client.config_set("appendfsync", "always")
    stats = [spider_stats(log) for log in logs]
    pages = sum(s[0] for s in stats)
    elapsed = max(s[2] for s in stats) - min(s[1] for s in stats)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM ads").fetchone()[0]
        fetched, first, last = conn.execute("SELECT count(*), min(fetched_at), max(fetched_at) FROM pages").fetchone()
    client.close()
    # the fetching itself, first page to last: a job's end is noticed on the nodes' idle checks (an idle engine
    # asks every 5 s), which would make the job's time, and the ratio of two of them, a multiple of those checks
    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return {
        "nodes": "local" if nodes == 0 else f"{nodes} node{'s' if nodes > 1 else ''}, {fsync}",
        "pages": pages,
        "per_node": [s[0] for s in stats],
        "elapsed": elapsed,
        "ppm": pages / elapsed * 60,
        "span": span,
        "fetch_ppm": fetched / span * 60,
        "stored": stored,
        "lag_max": max(lag or [0]),
        "lag_median": statistics.median(lag or [0]),
        "drain": drain,
    }


def entries(
    n: int,
    job: str,
    ads_file: Path,
    per_page: int = 1,
    assess: bool = True,
    page_kb: int = 0,
    pack: bool = True,
    packing: list[float] | None = None,
) -> list[dict[bytes, bytes]]:
    """n ad entries from the synthetic ads, as a node sends them: each after its page, or ``per_page`` of them
    after the list page they were read from; with the node's assessment (``assess``) or without (an older
    node's, or one whose classifier is not the writer's: the writer classifies). ``page_kb``: each page grown
    to that size with other ads' titles in a list page's markup (``_padded``: real pages weigh 100–300 kB; the
    ads alone make pages of a few hundred bytes). ``pack``: each page as its WARC records, made here as a node
    makes them (``crawler.stream.page_entry``; the seconds each took appended to ``packing``), else with its
    payload for the writer to archive (a node of format 1)."""
    import yaml

    from core.ads import ad_key, ad_text, content_hash
    from core.classifiers import load_classifier
    from crawler.stream import Entry, encode, page_entry

    classifier = load_classifier(None)

    rows = yaml.safe_load(ads_file.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        url = f"http://127.0.0.1/classifieds/ad/{i}.html"
        title, body, contact = f"{row['title']} {i}", row["body"], row["contact"]
        page_url = url if per_page == 1 else f"http://127.0.0.1/classifieds/list/{i // per_page}.html"
        html = f"<html><h1>{title}</h1><div>{body}</div><div>{contact}</div></html>".encode()
        if i % per_page == 0:
            body_bytes = _padded(html * per_page, rows, i, page_kb * 1024) if page_kb else html * per_page
            page = {"url": page_url, "status": 200, "reason": "OK", "fetched_at": "2026-12-03T00:00:00.000000+00:00"}
            page |= {"method": "GET", "request_headers": [], "response_headers": [("Content-Type", "text/html")]}
            page |= {"body": body_bytes, "content_type": "text/html", "encoding": "utf-8", "exchanges": None}
            started = time.perf_counter()
            made = page_entry(page, job, SITE, "bench", pack=pack)
            if packing is not None and pack:
                packing.append(time.perf_counter() - started)
            out.append(encode(made))
            page_sha = hashlib.sha256(body_bytes).hexdigest()
        chash = content_hash(title, body, contact)
        ad = {"platform": "示范同城网", "url": url, "page_url": page_url, "title": title, "body": body}
        ad |= {"contact": contact, "key": ad_key(url, chash), "content_hash": chash}
        ad["page"] = {"url": page_url, "sha256": page_sha}
        assessed = b""
        if assess:
            read_title, read_text = ad_text(title, body, contact)
            assessed = classifier.assess(read_text, read_title, for_writer=True).pack()  # as a node does
        out.append(encode(Entry("ad", job, SITE, "bench", ad, assessed=assessed)))
    return out


def _padded(html: bytes, rows: list[dict], i: int, size: int) -> bytes:
    """``html`` grown to ``size`` bytes the way a classifieds list page is: mostly markup around short titles
    (the saved 58同城 list page of 262 kB: its first 100 kB compress to 0.115 of their size in 0.63 ms at zlib level
    6, these pages to 0.121 in 0.62 ms)."""
    items, j, total = [], i, len(html)
    while total < size:
        j += 7
        title = rows[j % len(rows)]["title"]
        item = (
            f'<li class="list-item" data-id="{j}" data-sort="{j % 97}"><div class="img-box"><a href="/classifieds/'
            f'ad/{j}.html" target="_blank" rel="nofollow"><img src="/static/pic/{j % 1000}.jpg" alt="" width="180" '
            f'height="135" loading="lazy"></a></div><div class="info"><h3 class="title"><a href="/classifieds/ad/{j}'
            f'.html" target="_blank">{title}</a></h3><p class="meta"><span class="area">示范县</span><span class='
            f'"time">{j % 28 + 1}天前</span></p></div><div class="price"><b>{j % 9000 + 500}</b>元</div></li>\n'
        ).encode()
        items.append(item)
        total += len(item)
    head, _, tail = html.rpartition(b"</html>")  # a list page repeats its ads' html: one list, before the last
    return head + b'<ul class="list">' + b"".join(items) + b"</ul></html>" + tail


def writer_rate(
    url: str, tmp: Path, n: int, ads_file: Path, batch: int, page_kb: int = 0, number: int = 0
) -> dict[str, float]:
    """Ads/s of the writer on new ads and on the same ads again (in a new database); a plain executemany of the
    rows beside. List pages twice, packed by the nodes and unpacked (archived by the writer), in turn first
    from one round (``number``) to the next; ``packing``: the nodes' seconds a page, to pack it."""
    from core.seeds import load_seeds
    from crawler.ingest import IngestWriter

    class TimedWriter(IngestWriter):
        """Notes when each batch is handled: the time to the last, not to the writer's noticing the stream idle
        (``until_idle``, and the read ahead blocking on an empty stream), which at 20,000 ads/s is as long as the
        work itself."""

        handled_at = 0.0

        def handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
            super().handle(entries)
            self.handled_at = time.perf_counter()

    client = redis.Redis.from_url(url)
    client.flushall()
    seeds = load_seeds(REPO / "seeds.yml")
    db = tmp / "adclear.db"
    figures = {}
    plain = tmp / "classified-here.db"
    packing: list[float] = []
    lists = [("again, 20/page", "job-3", 20, True, db, True), ("20/page, unpacked", "job-5", 20, True, db, False)]
    for label, job, per_page, assess, into, pack in (
        ("new, classified", "job-0", 1, False, plain, True),
        ("new", "job-1", 1, True, db, True),
        ("seen again", "job-2", 1, True, db, True),
        *(lists if number % 2 == 0 else lists[::-1]),
    ):
        pipe = client.pipeline(transaction=False)
        sent = entries(n, job, ads_file, per_page, assess, page_kb, pack, packing)
        for fields in sent:
            pipe.xadd("adclear:items", fields)  # type: ignore[arg-type]
        pipe.execute()
        w = TimedWriter(client, into, seeds, consumer="bench", batch=batch)
        w.settle()  # as adclear ingest does before its first batch: the classifier loaded, the heap frozen
        total = len(sent)
        started = time.perf_counter()
        w.run(until_idle=0.2, stop=lambda w=w, total=total: w.figures.entries >= total)
        figures[label] = n / (w.handled_at - started)
        w.close()
        if label == "new":
            figures["new, rows alone"], figures["rows per new ad"] = rows_alone(db, tmp / "rows-alone.db", n)
    # the baseline: the same rows, one executemany, one transaction
    rows = []
    for fields in entries(n, "job-4", ads_file)[1::2]:
        meta = json.loads(fields[b"meta"])
        rows.append((meta["key"], meta["url"], SITE, meta["platform"], meta["title"], meta["body"], meta["contact"]))
    conn = sqlite3.connect(tmp / "plain.db")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE ads (id INTEGER PRIMARY KEY, ad_key TEXT UNIQUE, url, site, platform, title, body, contact)"
    )
    started = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO ads (ad_key, url, site, platform, title, body, contact) VALUES (?,?,?,?,?,?,?)", rows
        )
    figures["executemany"] = n / (time.perf_counter() - started)
    figures["packing ms"] = statistics.median(packing) * 1000
    conn.close()
    client.close()
    return figures


# a new ad's rows in the order their foreign keys ask (the writer's rows of the "new" job: nothing else is there yet)
NEW_AD_TABLES = ("sites", "crawl_runs", "pages", "ads", "sightings", "ad_versions", "evidence", "contacts")
NEW_AD_TABLES += ("fingerprints", "verdicts", "queue")


def rows_alone(written: Path, into: Path, n: int) -> tuple[float, float]:
    """The ceiling of any bulk path for new ads: the rows the writer wrote for them (every table, the search index
    included), copied into a new database of the same schema (its indexes and triggers: ``core.db.connect``)
    with one ``executemany`` per table in one transaction, no Python between rows and no WARC record; (ads/s, rows
    per ad)."""
    from core.db import connect
    from core.search_index import pairs

    source = sqlite3.connect(written)
    tables = {table: source.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in NEW_AD_TABLES}
    search = source.execute("SELECT rowid, text FROM ad_search ORDER BY rowid").fetchall()
    source.close()
    found = [(rowid, pairs(text)) for rowid, text in search]  # the pairs table keeps no text to read back
    conn = connect(into).conn
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for table, rows in tables.items():
        if rows:
            conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.executemany("INSERT INTO ad_search (rowid, text) VALUES (?, ?)", search)
    conn.executemany("INSERT INTO ad_search_pairs (rowid, pairs) VALUES (?, ?)", found)
    conn.execute("DELETE FROM search_pending")  # listed by the ads' trigger, indexed above
    conn.execute("COMMIT")
    rate = n / (time.perf_counter() - started)
    conn.close()
    return rate, (sum(map(len, tables.values())) + 2 * len(search)) / n


def writer_rounds(url: str, tmp: Path, args: argparse.Namespace, ads_file: Path) -> dict[str, list[float]]:
    """``writer_rate`` ``args.rounds`` times, each in new databases: every figure's rounds, best and median
    reported (this machine's speed swings by a third within a minute)."""
    rounds: dict[str, list[float]] = {}
    for number in range(args.rounds):
        where = tmp / f"writer{number}"
        where.mkdir()
        found = writer_rate(url, where, args.writer_ads, ads_file, args.batch, args.page_kb, number)
        for label, rate in found.items():
            rounds.setdefault(label, []).append(rate)
    return rounds


def xadd_rate(url: str, fsync: str, n: int = 3000) -> float:
    client = redis.Redis.from_url(url)
    client.flushall()
    client.config_set("appendfsync", fsync)
    body = b"x" * 20_000  # a typical page
    started = time.perf_counter()
    for _ in range(n):
        client.xadd("adclear:bench", {b"kind": b"page", b"body": body})
    rate = n / (time.perf_counter() - started)
    client.config_set("appendfsync", "always")
    client.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1500, help="ads of the synthetic site (pages: about 1.1×)")
    parser.add_argument("--writer-ads", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the writer's figures (best and median)")
    parser.add_argument("--writer-only", action="store_true", help="skip the crawls and Redis's fsync costs")
    parser.add_argument(
        "--page-kb", type=int, default=0, help="the writer's pages padded to this size (real pages: 100–300 kB)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        server = RedisServer(tmp / "redis").start()
        ads = tmp / "ads.yml"
        make_ads(args.ads, ads)
        port = free_port()
        site = subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / "bench_crawl.py"), "--serve", str(ads), str(port)]
        )
        try:
            time.sleep(1.5)
            seeds = tmp / "seeds.yml"
            seeds_file(f"http://127.0.0.1:{port}", 8, args.ads * 3, seeds)
            writer = writer_rounds(server.url, tmp, args, ads)
            if args.writer_only:
                report_writer(writer, args)
                return
            crawls = [crawl(nodes, server.url, seeds, tmp) for nodes in (0, 1, 2)]
            crawls.append(crawl(1, server.url, seeds, tmp, fsync="everysec"))
            fsync = {mode: xadd_rate(server.url, mode) for mode in ("always", "everysec")}
        finally:
            site.terminate()
            site.wait()
            server.stop()
    report(crawls, writer, fsync, args)


def report(crawls: list[dict], writer: dict, fsync: dict, args: argparse.Namespace) -> None:
    print(f"crawl of a synthetic site of {args.ads} ads, the writer running: pages/min while fetching (first page")
    print("fetched to last, from the pages stored), and over the whole job (the nodes' Scrapy stats: start to finish)")
    head = f"{'crawl':<22}{'pages':>7}{'per node':>14}{'fetch s':>8}{'pages/min':>11}{'job s':>7}{'job p/min':>11}"
    print(f"{head}{'stored':>8}{'lag max':>9}{'lag med':>9}{'drain s':>9}")
    for c in crawls:
        split = "+".join(map(str, c["per_node"]))
        line = f"{c['nodes']:<22}{c['pages']:>7}{split:>14}{c['span']:>8.1f}{c['fetch_ppm']:>11,.0f}"
        line += f"{c['elapsed']:>7.1f}{c['ppm']:>11,.0f}{c['stored']:>8}"
        print(f"{line}{c['lag_max']:>9}{c['lag_median']:>9.0f}{c['drain']:>9.1f}")
    local, one, two, one_everysec = (c["fetch_ppm"] for c in crawls)
    print(f"two nodes / one node: {two / one:.2f} (2 cores: the nodes, the writer, Redis and the site share them)")
    print(f"one node / a local crawl: {one / local:.2f}; with appendfsync everysec: {one_everysec / local:.2f}")
    report_writer(writer, args)
    always, everysec = fsync["always"], fsync["everysec"]
    print(
        f"Redis XADD of a 20 kB page, one at a time: appendfsync always {always:,.0f}/s, everysec {everysec:,.0f}/s "
        f"({always / everysec:.2f})"
    )


def report_writer(writer: dict[str, list[float]], args: argparse.Namespace) -> None:
    base = statistics.median(writer["executemany"])
    size = f", pages padded to {args.page_kb} kB" if args.page_kb else ", pages of a few hundred bytes"
    print(f"ingest writer, {args.writer_ads} ads in batches of {args.batch}{size}, {args.rounds} rounds (ads/s):")
    print(f"  {'':<30}{'best':>10}{'median':>10}  {'median / executemany':>22}")
    labels = {"new, classified": "new, classified on the writer", "new": "new, assessed by the nodes"}
    labels |= {"20/page, unpacked": "  the same, the writer packing", "new, rows alone": "  their rows alone, bulk"}
    for label in (
        "new, classified",
        "new",
        "new, rows alone",
        "seen again",
        "again, 20/page",
        "20/page, unpacked",
        "executemany",
    ):
        rates = writer[label]
        median = statistics.median(rates)
        print(f"  {labels.get(label, label):<30}{max(rates):>10,.0f}{median:>10,.0f}  {median / base:>22.3f}")
    packed, unpacked = (statistics.median(writer[label]) for label in ("again, 20/page", "20/page, unpacked"))
    print(
        f"  list pages packed by the nodes / by the writer: {packed / unpacked:.2f} (medians); a node packs a page "
        f"in {statistics.median(writer['packing ms']):.2f} ms (median of the rounds' medians)"
    )
    met = {
        label: "met" if statistics.median(writer[label]) >= 20_000 else "NOT met"
        for label in ("new", "seen again", "again, 20/page")
    }
    print(
        f"  goal ≥ 20,000 ads/s batched (median): {met['new']} (new ads), {met['seen again']} (seen again, a page "
        f"each), {met['again, 20/page']} (seen again, 20 ads a list page)"
    )
    ceiling = statistics.median(writer["new, rows alone"])
    print(
        f"  a new ad's rows alone, {statistics.mean(writer['rows per new ad']):.1f} rows in "
        f"{len(NEW_AD_TABLES) + 2} tables (search index included), written in bulk: {ceiling:,.0f} ads/s "
        f"({statistics.median(writer['new']) / ceiling:.2f} of it reached by the writer): the ceiling of any bulk path"
    )


if __name__ == "__main__":
    main()
