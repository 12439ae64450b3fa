"""Text in pictures: the two OCR candidates and the two QR decoders on the same rendered pictures, same run.

1. OCR: 10 promotion lines (and two ordinary ones) rendered in six variants (demo/pictures.py: clean, small
   16 px, rotated 8°, low contrast, noisy, poster) read by RapidOCR (what adclear uses, in this process, one
   thread) and by Tesseract 5 ``chi_sim`` (the ``tesseract`` program, when installed), interleaved picture by
   picture: character accuracy per variant (1 − edit distance / length, spaces ignored), the share of
   promotions whose picture alone the classifier flags, and seconds per picture (best, median).
2. QR: 20 payloads (WeChat cards and groups, URLs) drawn clean, rotated 20°, small (1 px a module), blurred
   (Gaussian 2 px), on a card: the share decoded by zxing-cpp (what adclear uses) and by pyzbar (Debian's
   zbar, when installed), and milliseconds per picture.
3. The crawl (``--crawl``): ``adclear crawl`` reading the pictures beside it (``--read-workers 1``) against the
   same crawl with ``--read-workers 0``, rounds interleaved, on two sites: the demo classifieds site (83 ads, 4
   pictures, no delay between requests: the crawl takes a second or two) and a site served here where each of
   ``--ads`` ads shows a picture of its own, crawled at seeds.yml's default delay of 1 s. Pages per minute of
   the crawl's run, and of the crawl and the reading it waited for after it (``read on … s after the crawl`` in
   its summary line), best and median, the ratio to the crawl without OCR, and the worker's peak resident
   memory (its VmHWM, from the summary line).
4. The pool as the crawl's reading runs it (``core.images.ImageReader``, one worker): pictures per second per
   core (``--rounds`` rounds, best and median), a picture read again found by its SHA-256 instead (the
   ``image_reads`` table), and the worker's resident memory after reading.

    .venv/bin/python benchmarks/bench_images.py              # about 3 minutes on an idle core
    .venv/bin/python benchmarks/bench_images.py --quick      # 3 texts, 1 round
    .venv/bin/python benchmarks/bench_images.py --crawl-only # the crawls alone (about 12 minutes)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.classifiers import load_classifier  # noqa: E402
from core.db import connect, immediate  # noqa: E402
from core.images import ImageReader, cached, read_image, remember, sha256  # noqa: E402
from demo.pictures import VARIANTS, png, qr_picture, render  # noqa: E402
from tests.ocrmetrics import char_accuracy  # noqa: E402

PROMOTIONS = [
    "年化收益18% 保本保息 稳赚不赔",
    "养老公寓认购 到期原价回购 每月返利",
    "原始股内部认购 上市后翻十倍",
    "加入会员 推荐一人奖励投资额的10%",
    "种植基地认养果树 每年分红12%",
    "区块链数字资产 静态收益日息1%",
    "艺术品份额交易 保底年回报15%",
    "名额有限 先到先得 咨询微信 abc12345",
    "高息理财 月息3分 本金随时可取",
    "私募基金内部额度 保本年化20%",
]
ORDINARY = ["本店新到苹果 五元一斤 欢迎选购", "周末亲子活动报名 地点市民公园"]
PAYLOADS = (
    [f"https://u.wechat.com/EFbPxq{i:03d}" for i in range(8)]
    + [f"https://weixin.qq.com/g/AbCdEf{i:02d}" for i in range(6)]
    + [f"https://qm.qq.com/cgi-bin/qm/qr?k=Zx{i:04d}" for i in range(3)]
    + [f"http://invest{i}.example.cn/join?ref=88" for i in range(3)]
)


def tesseract(data: bytes) -> str:
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "chi_sim"], input=data, capture_output=True, timeout=60, check=True
    )
    return out.stdout.decode("utf-8", "replace").replace("\n", "")


def bench_ocr(texts: list[str]) -> None:
    classifier = load_classifier()
    have_tess = shutil.which("tesseract") is not None
    print(f"== OCR: {len(texts)} lines × {len(VARIANTS)} variants (flagged: share of the promotions among them)")
    print("variant      | RapidOCR acc  flagged  s/pic best  median | Tesseract acc  flagged  s/pic best  median")
    for variant in VARIANTS:
        row: dict[str, dict[str, list[float]]] = {"rapid": {}, "tess": {}}
        for text in texts:
            data = png(render(text, variant))
            engines = [("rapid", lambda d: read_image(d).text)]
            if have_tess:
                engines.append(("tess", tesseract))
            for name, run in engines:  # interleaved, picture by picture
                started = time.perf_counter()
                got = run(data)
                took = time.perf_counter() - started
                r = row[name]
                r.setdefault("acc", []).append(char_accuracy(text, got))
                r.setdefault("time", []).append(took)
                if text in PROMOTIONS:
                    r.setdefault("flag", []).append(classifier.classify(got).label == "flag")
        cells = []
        for name in ("rapid", "tess"):
            r = row[name]
            if not r:
                cells.append("not installed")
                continue
            flagged = sum(r["flag"]) / len(r["flag"]) if r.get("flag") else 0.0
            best, med = min(r["time"]), statistics.median(r["time"])
            cells.append(f"{statistics.mean(r['acc']):.3f}   {flagged:5.0%}   {best:7.3f} {med:7.3f}")
        print(f"{variant:12} |     {cells[0]}  |      {cells[1]}")


def bench_qr() -> None:
    try:
        from pyzbar import pyzbar
    except ImportError:  # pyzbar is not a dependency: measured when installed
        pyzbar = None
    import zxingcpp

    print(f"== QR: {len(PAYLOADS)} payloads per kind")
    kinds = {
        "clean": {},
        "rotated 20°": {"rotate": 20},
        "small 1px": {"scale": 1},
        "blurred 2px": {"blur": 2.0},
    }
    for kind, args in kinds.items():
        counts = {"zxing": 0, "zbar": 0}
        times: dict[str, list[float]] = {"zxing": [], "zbar": []}
        for payload in PAYLOADS:
            card = qr_picture(payload, **args)
            started = time.perf_counter()
            found = zxingcpp.read_barcodes(card)
            times["zxing"].append(time.perf_counter() - started)
            counts["zxing"] += any(c.text == payload for c in found)
            if pyzbar is not None:
                started = time.perf_counter()
                codes = pyzbar.decode(card)
                times["zbar"].append(time.perf_counter() - started)
                counts["zbar"] += any(c.data.decode("utf-8", "replace") == payload for c in codes)
        zbar = (
            f"{counts['zbar'] / len(PAYLOADS):4.0%} {statistics.median(times['zbar']) * 1000:5.1f} ms"
            if pyzbar is not None
            else "not installed"
        )
        zx = f"{counts['zxing'] / len(PAYLOADS):4.0%} {statistics.median(times['zxing']) * 1000:5.1f} ms"
        print(f"{kind:12} | zxing-cpp {zx} | pyzbar {zbar}")


def bench_pool(texts: list[str], rounds: int) -> None:
    pictures = [png(render(t, v)) for t in texts for v in ("clean", "rotated", "noisy")]
    print(f"== the pool (one worker): {len(pictures)} pictures × {rounds} rounds")
    rates, cached_rates = [], []
    with tempfile.TemporaryDirectory() as tmp, ImageReader(workers=1, timeout=120) as reader:
        db = connect(Path(tmp) / "bench.db")
        reader.read(pictures[0])  # the worker's start and model load, apart
        for _ in range(rounds):
            started = time.perf_counter()
            reads = [reader.read(p) for p in pictures]
            rates.append(len(pictures) / (time.perf_counter() - started))
            with immediate(db):
                for read in reads:
                    remember(db, read)
            started = time.perf_counter()
            hits = sum(cached(db, sha256(p)) is not None for p in pictures)
            cached_rates.append(hits / (time.perf_counter() - started))
        pool = reader._pool
        workers = list(getattr(pool, "_processes", {}).values()) if pool is not None else []
        rss = [psutil.Process(w.pid).memory_info().rss / 2**20 for w in workers]
    print(f"pictures/s per core: best {max(rates):.2f}, median {statistics.median(rates):.2f}")
    print(
        f"read again (same SHA-256, from image_reads): median {statistics.median(cached_rates):,.0f} pictures/s, "
        f"{statistics.median(cached_rates) / statistics.median(rates):,.0f}× the reading"
    )
    print(f"worker resident memory after reading: {', '.join(f'{m:.0f} MB' for m in rss)}")


def _adclear(work: Path, *args: str) -> str:
    """``adclear ARGS`` on the scratch database; its output."""
    cmd = [sys.executable, "-m", "adclear", "--db", str(work / "data" / "adclear.db"), "--seeds",
           str(work / "seeds.yml"), *args]  # fmt: skip
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(cmd, cwd=REPO, capture_output=True, check=True, text=True, env=env).stdout


class PictureSite:
    """A classifieds site on loopback where every ad shows one picture of its own (a promotion or an ordinary
    line, in the six variants): ``ads`` ad pages, 10 to a list page."""

    def __init__(self, ads: int):
        import http.server
        import threading

        texts = [*PROMOTIONS, *ORDINARY]
        self.pictures = {
            i: png(render(f"{texts[i % len(texts)]} {i:03d}", VARIANTS[i % len(VARIANTS)])) for i in range(ads)
        }
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path.startswith("/img/"):
                    self._send(site.pictures[int(path[5:-4])], "image/png")
                elif path.startswith("/ad/"):
                    i = int(path[4:-5])
                    body = f"<h1>二手物品 {i}</h1><div class='b'><p>详情见图 编号{i}</p><img src='/img/{i}.png'></div>"
                    self._send(f"<html><body>{body}</body></html>".encode(), "text/html; charset=utf-8")
                elif path in ("/", "/list"):
                    page = int(self.path.split("page=")[1]) if "page=" in self.path else 0
                    links = "".join(
                        f"<li><a class='ad' href='/ad/{i}.html'>ad {i}</a></li>"
                        for i in range(page * 10, min(ads, page * 10 + 10))
                    )
                    more = f"<a class='next' href='/list?page={page + 1}'>下一页</a>" if (page + 1) * 10 < ads else ""
                    self._send(f"<html><body><ul>{links}</ul>{more}</body></html>".encode(), "text/html; charset=utf-8")
                else:
                    self.send_error(404)

            def _send(self, data: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def site(self, delay: float) -> dict[str, object]:
        return {
            "name": "bench-pictures",
            "platform": "测试同城网",
            "kind": "classifieds",
            "start_urls": [f"{self.base_url}/"],
            "allowed_domains": ["127.0.0.1"],
            "allow_addresses": [self.base_url],
            "list": {"items": "a.ad", "next_page": "a.next"},
            "detail": {"title": "h1", "body": "div.b"},
            "delay": delay,
        }


def _figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    return float(found[1]) if found else 0.0


def _crawl_once(site: dict[str, object], workers: int, tmp: Path) -> dict[str, float]:
    """One fresh crawl of ``site``, reading beside it with ``workers`` (0: not): pages a minute of the crawl
    (its run, start to end), and of the crawl and its reading together (the reading after the crawl added)."""
    import yaml

    work = Path(tempfile.mkdtemp(dir=tmp))
    seeds = yaml.safe_load((REPO / "seeds.yml").read_text(encoding="utf-8"))
    seeds["sites"] = [site]
    (work / "seeds.yml").write_text(yaml.safe_dump(seeds, allow_unicode=True), encoding="utf-8")
    out = _adclear(work, "crawl", str(site["name"]), "--read-workers", str(workers), "--read-timeout", "120")
    with sqlite3.connect(work / "data" / "adclear.db") as conn:
        started, finished, pages = conn.execute("SELECT started_at, finished_at, pages FROM crawl_runs").fetchone()
    from datetime import datetime

    crawl = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    read = _figure(r"pictures: (\d+) read beside the crawl", out)
    after = _figure(r"read on ([\d.]+) s after the crawl", out)
    memory = _figure(r"peak memory (\d+) MB", out)
    left = _figure(r"(\d+) images? left for", out)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "crawl": pages / crawl * 60,
        "with_reading": pages / (crawl + after) * 60,
        "read": read,
        "left": left,
        "memory": memory,
        "seconds": crawl + after,
    }


def bench_crawl(rounds: int, ads: int) -> None:
    from demo.server import start

    demo = start(0)
    pictures = PictureSite(ads)
    demo_site = yaml_site(demo.base_url)
    sites = {
        "demo classifieds (83 ads, 4 pictures, no delay)": demo_site,
        f"a site of {ads} ads with a picture each (seeds.yml's default delay of 1 s)": pictures.site(1.0),
    }
    results: dict[str, dict[int, list[dict[str, float]]]] = {name: {0: [], 1: []} for name in sites}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):  # interleaved: off, on, site after site
                for name, site in sites.items():
                    for workers in (0, 1):
                        results[name][workers].append(_crawl_once(site, workers, Path(tmp)))
    finally:
        demo.shutdown()
        pictures.server.shutdown()
    print(f"== the crawl with OCR beside it (one worker) against without, {rounds} rounds, interleaved (pages/min)")
    for name, by in results.items():
        off, on = by[0], by[1]
        base = statistics.median(r["crawl"] for r in off)
        print(f"{name}:")
        print(f"  {'OCR off':34} best {max(r['crawl'] for r in off):7.0f}  median {base:7.0f}")
        for label, key in (("OCR on: the crawl's run", "crawl"), ("OCR on: crawl + reading after it", "with_reading")):
            values = [r[key] for r in on]
            med = statistics.median(values)
            print(f"  {label:34} best {max(values):7.0f}  median {med:7.0f}  {med / base:.2f}× OCR off")
        read = statistics.median(r["read"] for r in on)
        left = statistics.median(r["left"] for r in on)
        memory = max(r["memory"] for r in on)
        print(f"  pictures read beside the crawl (median) {read:.0f}, left for `images read` {left:.0f}; "
              f"worker peak resident memory {memory:.0f} MB")  # fmt: skip


def yaml_site(base_url: str) -> dict[str, object]:
    """The demo classifieds site of seeds.yml, on ``base_url``."""
    import yaml

    seeds = yaml.safe_load((REPO / "seeds.yml").read_text(encoding="utf-8").replace("http://127.0.0.1:8731", base_url))
    return next(s for s in seeds["sites"] if s["name"] == "demo-classifieds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 texts, 1 round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--crawl", action="store_true", help="also crawls with OCR beside them against without")
    parser.add_argument("--ads", type=int, default=30, help="ads of the picture site crawled (--crawl)")
    parser.add_argument("--crawl-only", action="store_true", help="only the crawls (implies --crawl)")
    args = parser.parse_args()
    texts = PROMOTIONS[:2] + ORDINARY[:1] if args.quick else PROMOTIONS + ORDINARY
    rounds = 1 if args.quick else args.rounds
    print(f"load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores")
    if not args.crawl_only:
        bench_qr()
        bench_ocr(texts)
        bench_pool(texts[:4], rounds)
    if args.crawl or args.crawl_only:
        bench_crawl(rounds, 10 if args.quick else args.ads)


if __name__ == "__main__":
    main()
