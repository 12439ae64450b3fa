"""Search over a million ads: ``review.search.search`` against a ``LIKE '%…%'`` scan of the same ads, same run.

1. Builds a synthetic database (``--ads``, default 1,000,000): ads of about 100 characters made of promotion
   and ordinary phrases, company names (each in about 1 ad of 1,000) and a mobile number per advertiser (in
   about 5 ads each), written spaced in the text, with their ``contacts`` rows and verdicts; executemany in one
   transaction. The index is filled by SQL with ``core.search_index.search_text`` and ``pairs`` as SQL functions
   (what the crawl stores, normalisation included). Apart, on ``--index-sample`` ads: what indexing adds to the
   crawl (whose classifier normalised the text just before), what normalising costs, and storing the ad's row.
2. For each kind of query, ``--rounds`` rounds, interleaved: the search as the web app runs it (parse, query,
   the page's 30 rows with their contacts and decisions) ``--repeat`` times, then the baseline once: the same
   page by ``(title || body || contact) LIKE '%word%'``, newest first (a phone: spaced as the ads write it,
   the scan's best chance; typed otherwise, or full-width, the scan would not find it). p50/p95 of each, and
   the ratio of the medians.

    .venv/bin/python benchmarks/bench_search.py                 # the full run (about 12 minutes)
    .venv/bin/python benchmarks/bench_search.py --ads 100000    # a quick one
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROMOTION = [
    "年化收益{r}%",
    "保本保息",
    "稳赚不赔",
    "千元起投",
    "原始股内部认购",
    "即将上市",
    "推荐返利",
    "养老公寓会员卡",
    "每月分红",
    "区块链矿机托管",
    "名额有限",
    "国资背景",
    "本息保障",
    "零风险高回报",
]
ORDINARY = [
    "两室一厅出租",
    "招聘货车司机",
    "月薪{r}千包吃住",
    "二手车转让",
    "家政服务上门",
    "家电维修",
    "周末书法班招生",
    "农家乐周末开业",
    "宠物寄养",
    "婚纱摄影优惠",
    "驾校报名",
    "水果批发",
]


def _prefixes(count: int) -> list[str]:
    """Two-character company name prefixes of characters that normalisation keeps as they are."""
    from classifier.normalize import normalize

    chars = [c for c in (chr(0x4E00 + (i * 37) % 20000) for i in range(4 * count)) if normalize(c).text == c]
    return [chars[i] + chars[(i * 7 + 3) % len(chars)] for i in range(count)]


PREFIXES = _prefixes(500)
SUFFIXES = ["财富", "投资", "科技", "商贸", "置业", "养老", "农业", "汇金", "资本", "控股"]
SITES = [f"site-{i:02d}" for i in range(12)]
ADS_PER_ADVERTISER = 5  # each advertiser's phone is in about this many ads


def company(i: int) -> str:
    return PREFIXES[i % len(PREFIXES)] + SUFFIXES[(i // len(PREFIXES)) % len(SUFFIXES)]


def phone(adv: int) -> str:
    return f"13{adv % 10}{adv:08d}"


def ad_row(i: int, base: datetime, n: int) -> tuple:
    rnd = random.Random(i)
    adv = rnd.randrange(max(1, n // ADS_PER_ADVERTISER))
    promo = rnd.random() < 0.5
    pool = PROMOTION if promo else ORDINARY
    words = [rnd.choice(pool).format(r=rnd.randrange(5, 30)) for _ in range(5)]
    name = company(rnd.randrange(len(PREFIXES) * len(SUFFIXES)))
    p = phone(adv)
    title = f"{name}{words[0]}{words[1]}"
    body = f"{name}{','.join(words[2:])}。详情咨询{p[:3]} {p[3:7]} {p[7:]},地址示范县人民路{i % 300}号。"
    seen = (base + timedelta(seconds=i * 20)).isoformat(timespec="seconds")
    status = ("flagged", "confirmed", "rejected", "clear")[rnd.randrange(4)] if promo else "clear"
    return (i, f"k{i}", f"http://x/{i}", SITES[i % len(SITES)], "平台", title, body, "", name, f"h{i}", seen, status, p)


def build(db_path: Path, n: int) -> None:
    from core.db import connect
    from core.search_index import pairs, search_text

    started = time.perf_counter()
    connect(db_path).close()  # migrations
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a throw-away database: no log of a million rows
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    conn.create_function("pairs", 1, pairs, deterministic=True)
    conn.create_function("search_text", 4, search_text, deterministic=True)
    base, now = datetime(2025, 6, 1, tzinfo=UTC), datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sites (name, platform, kind, config, updated_at) VALUES (?, '平台', 'classifieds', '{}', ?)",
        [(s, now) for s in SITES],
    )
    rows = (ad_row(i, base, n) for i in range(1, n + 1))
    phones: list[tuple[int, str]] = []

    def ads() -> Iterator[tuple]:
        for row in rows:
            phones.append((row[0], row[-1]))
            yield row[:-1]

    conn.executemany(
        "INSERT INTO ads (id, ad_key, url, site, platform, title, body, contact, author, content_hash, first_seen, "
        "last_seen, last_fetched, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (r[:11] + (r[10], r[10], r[11]) for r in ads()),
    )
    conn.executemany(
        "INSERT INTO contacts (ad_id, kind, value, matched, first_seen) VALUES (?, 'mobile', ?, ?, '')",
        ((i, p, p) for i, p in phones),
    )
    conn.execute(
        "INSERT INTO verdicts (ad_id, content_hash, classifier_version, classified_at, score, label, categories, "
        "hits) SELECT id, content_hash, 'bench', first_seen, 5, CASE status WHEN 'clear' THEN 'clear' ELSE 'flag' "
        "END, '[]', '[]' FROM ads"
    )
    built = time.perf_counter()
    conn.execute("DELETE FROM search_pending")
    conn.execute("INSERT INTO ad_search (rowid, text) SELECT id, search_text(title, body, contact, author) FROM ads")
    conn.execute("INSERT INTO ad_search_pairs (rowid, pairs) SELECT rowid, pairs(text) FROM ad_search")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")  # as adclear opens it
    conn.close()
    size = db_path.stat().st_size / 2**20
    print(
        f"built {n:,} ads in {built - started:.1f} s, indexed in {time.perf_counter() - built:.1f} s "
        f"(database {size:,.0f} MiB)"
    )


def index_cost(db_path: Path, sample: int) -> None:
    """What indexing costs an ad in the crawl (the classifier normalised its text just before), what normalising
    it costs, and storing its row, on ``sample`` ads."""
    from core.db import connect, immediate
    from core.search_index import index_ad, search_text

    small = db_path.with_name("sample.db")
    db = connect(small)
    base = datetime(2025, 6, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    with immediate(db):
        for s in SITES:
            db.execute(
                "INSERT INTO sites (name, platform, kind, config, updated_at) VALUES (?, 'p', 'c', '{}', '')", [s]
            )
        for i in range(1, sample + 1):
            r = ad_row(i, base, sample)
            db.execute(
                "INSERT INTO ads (id, ad_key, url, site, platform, title, body, contact, author, content_hash, "
                "first_seen, last_seen, last_fetched, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*r[:11], r[10], r[10], r[11]],
            )
    stored = time.perf_counter() - t0
    rows = db.execute("SELECT id, title, body, contact, author FROM ads ORDER BY id").fetchall()
    cold = warm = 0.0
    with immediate(db):
        for ad_id, title, body, contact, author in rows:
            t0 = time.perf_counter()
            search_text(title, body, contact, author)  # normalising, as a crawl of an unclassified text would
            t1 = time.perf_counter()
            index_ad(db, ad_id)  # what the crawl adds: the classifier normalised the same strings just before
            t2 = time.perf_counter()
            cold, warm = cold + (t1 - t0), warm + (t2 - t1)
    db.close()
    print(
        f"indexing an ad in the crawl (its text normalised already): {warm / sample * 1e6:.0f} µs; normalising "
        f"it: {cold / sample * 1e6:.0f} µs; making and storing the ad's row: {stored / sample * 1e6:.0f} µs "
        f"({sample:,} ads)"
    )


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95 + 0.5) - 1)]


def kinds(n: int) -> dict[str, tuple[Callable[[int], dict], Callable[[int], str]]]:
    """Each kind of query: (the search's arguments, the baseline's word) for the k-th query of the kind."""

    def a_phone(k: int) -> str:
        return phone(random.Random(n * 7 + k).randrange(max(1, n // ADS_PER_ADVERTISER)))

    def spaced(k: int) -> str:  # as the ads write it: the baseline's best chance
        p = a_phone(k)
        return f"{p[:3]} {p[3:7]} {p[7:]}"

    def a_company(k: int) -> str:
        return company((k * 131) % (len(PREFIXES) * len(SUFFIXES)))

    return {
        "common word 保本保息": (lambda k: {"text": "保本保息"}, lambda k: "保本保息"),
        "rare word (company name)": (lambda k: {"text": a_company(k)}, a_company),
        "2-char word 返利": (lambda k: {"text": "返利"}, lambda k: "返利"),
        "2-char rare (name's first half)": (lambda k: {"text": a_company(k)[:2]}, lambda k: a_company(k)[:2]),
        "phone, spaced": (
            lambda k: {"text": " ".join((a_phone(k)[:3], a_phone(k)[3:7], a_phone(k)[7:]))},
            spaced,
        ),
        "phone, full-width": (
            lambda k: {"text": a_phone(k).translate(str.maketrans("0123456789", "０１２３４５６７８９"))},
            spaced,
        ),
        "word + site + decision": (
            lambda k: {"text": "原始股", "site": SITES[k % len(SITES)], "decision": "confirmed"},
            lambda k: "原始股",
        ),
        "two common words, no ad has both": (lambda k: {"text": "保本保息 货车司机"}, lambda k: "保本保息%货车司机"),
        "no match": (lambda k: {"text": f"无此词{k}"}, lambda k: f"无此词{k}"),
    }


def measure(db_path: Path, rounds: int, repeat: int) -> None:
    from core.db import connect
    from review.search import Query, search

    db = connect(db_path)
    conn = sqlite3.connect(db_path)
    n = db.execute("SELECT max(id) FROM ads").fetchone()[0]
    print(f"{'query':<34} {'search p50':>11} {'p95':>8} {'LIKE p50':>10} {'p95':>8} {'ratio':>7}  results")
    for name, (args, word) in kinds(n).items():
        fast: list[float] = []
        slow: list[float] = []
        found = 0
        for r in range(rounds):
            for k in range(repeat):
                q = Query(**args(r * repeat + k))
                fast.append(timed(lambda q=q: search(db, q, limit=31)))
            found = len(search(db, Query(**args(r * repeat)), limit=31))
            w = word(r * repeat)
            extra = " AND site = ? AND status = 'confirmed'" if "site" in args(0) else ""
            extra_args = [args(r * repeat)["site"]] if extra else []
            slow.append(
                timed(
                    lambda w=w, extra=extra, extra_args=extra_args: conn.execute(
                        "SELECT id, title FROM ads WHERE (title || body || contact) LIKE ?"
                        f"{extra} ORDER BY id DESC LIMIT 31",
                        ["%" + w + "%", *extra_args],
                    ).fetchall()
                )
            )
        ratio = statistics.median(slow) / statistics.median(fast)
        print(
            f"{name:<34} {statistics.median(fast):>8.1f} ms {p95(fast):>5.1f} ms {statistics.median(slow):>7.1f} ms "
            f"{p95(slow):>5.1f} ms {ratio:>6.1f}x  {'30+' if found > 30 else found}"
        )
    print(f"({rounds} rounds: {repeat} searches then 1 LIKE scan each; ratio = LIKE median / search median)")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--index-sample", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        db_path = args.keep or Path(tmp) / "search.db"
        if not db_path.exists():
            build(db_path, args.ads)
        index_cost(Path(tmp) / "x.db", args.index_sample)
        measure(db_path, args.rounds, args.repeat)


if __name__ == "__main__":
    main()
