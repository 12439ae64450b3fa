"""Near-duplicate fingerprints and index against the `simhash` package (and datasketch), same data, same run.

    .venv/bin/python benchmarks/bench_near_dup.py                 # the issue's sizes: 1M ads, 50k queries
    .venv/bin/python benchmarks/bench_near_dup.py --n 100000      # smaller and faster

Data: synthetic Chinese ads of about 200 characters, sentences built from a vocabulary of fundraising-ad
phrases, runs of random common characters, phone numbers and amounts; every ad is drawn independently, so
two ads are unrelated unless one was made from the other. Copies of indexed ads: the phone numbers and
amounts changed; the sentences reordered; 5% of the characters changed (substituted, inserted, deleted);
all three at once. A "false match" is any returned ad that the query was not made from.

The `simhash` package is pure Python: its fingerprints are timed on --simhash-fp texts and its
SimhashIndex (k=3) is built on --baseline-n fingerprints (default 200k: at 1M it needs minutes and GBs);
its fingerprints for the index are made by our simhash (Simhash(value=...)), which changes its speed
nothing. datasketch (MinHashLSH, threshold 0.5, 128 permutations, a common reference setup) runs on
--datasketch-n ads when installed.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))

from classifier.fingerprint import (
    BANDS,
    ROWS,
    collapse,
    fingerprint,
    fingerprint_many,
    simhash_many,
)
from classifier.neardup import FINGERPRINT_VERSION, NearDupIndex

PHRASES = """年化收益高达 保本保息 稳赚不赔 零风险高回报 国家政策支持 政府背景 国企担保 银行托管 月月返息 到期还本
投资一万元 每月分红 原始股即将上市 上市公司股权 区块链数字货币 虚拟货币挖矿 养老项目 以房养老 消费返利 全返模式
会员积分 推荐奖励 拉人头奖励 动态收益 静态收益 私募基金 内部认购 名额有限 先到先得 限时抢购 扫码加微信
咨询电话 详情请联系 专业理财团队 资金安全有保障 随存随取 利息按天计算 远超银行利息 躺着赚钱 财务自由
一次投入终身受益 众筹项目 入股分红 合作社 互助基金 高额利息 借款给企业 短期周转 固定收益 每日返利 复投奖励
平台注册送 新手专享 加盟代理 百分百回购 保底收益 稳定收益 翻倍 快速致富 抓住机遇 错过再等十年 内部消息
庄家操盘 带你赚钱 免费领取 实地考察 包吃包住 老年人专享 理财产品 收益率 资金池 预付卡 承诺回报 集资建厂
股东分红 每周结算 微信转账 支付宝 欢迎加入 火爆招商 项目考察 会议营销 免费旅游 赠送礼品 健康养生 保健品""".split()
COMMON = "".join(
    dict.fromkeys(
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
        "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去"
        "把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但"
        "质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式"
        "活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回"
        "则任取据处府研亲快收钱买卖房车城市场服务客户商店铺货价格便宜优惠送礼包邮团购会员积分奖励活动名额报名"
        "微信扫码关注朋友圈群聊联系咨询热线免费体验课程培训老师学生家长孩子健康医疗药品保险银行存款贷款利率"
    )
)
PUNCT = "。！"
SENTENCES = 11  # per ad: about 200 characters
RUN = 6  # at most this many random characters after each phrase


# ---- synthetic ads ---------------------------------------------------------------------------------


class AdMaker:
    """Draws ads in numpy: each ad is a sequence of pieces (phrases, characters, digits, punctuation)."""

    def __init__(self) -> None:
        pieces = PHRASES + list(COMMON) + list("0123456789") + list(PUNCT) + ["电话", "投资", "元"]
        self.phrase0 = 0
        self.common0 = len(PHRASES)
        self.digit0 = self.common0 + len(COMMON)
        self.punct0 = self.digit0 + 10
        self.tel, self.invest, self.yuan = self.punct0 + 2, self.punct0 + 3, self.punct0 + 4
        codes = [np.frombuffer(p.encode("utf-32-le"), "<u4") for p in pieces]
        self.piece_len = np.array([len(c) for c in codes])
        self.piece_start = np.cumsum(self.piece_len) - self.piece_len
        self.pool = np.concatenate(codes)

    def make(self, rng: np.random.Generator, n: int) -> list[str]:
        out: list[str] = []
        for start in range(0, n, 50_000):
            out += self._make(rng, min(50_000, n - start))
        return out

    def _make(self, rng: np.random.Generator, n: int) -> list[str]:
        # slots of one sentence: phrase, run, phrase, run, contact (13 slots), punctuation
        s = SENTENCES
        ph1 = self.phrase0 + rng.integers(0, len(PHRASES), (n, s, 1))
        ph2 = self.phrase0 + rng.integers(0, len(PHRASES), (n, s, 1))
        run1 = self.common0 + rng.integers(0, len(COMMON), (n, s, RUN))
        run2 = self.common0 + rng.integers(0, len(COMMON), (n, s, RUN))
        contact = self.digit0 + rng.integers(0, 10, (n, s, 13))
        kind = rng.random((n, s))
        phone, amount = kind < 0.2, (kind >= 0.2) & (kind < 0.35)
        contact[..., 0] = np.where(phone, self.tel, self.invest)
        contact[..., 1] = np.where(phone, self.digit0 + 1, self.digit0 + rng.integers(1, 10, (n, s)))
        contact[..., 5] = np.where(phone, contact[..., 5], self.yuan)
        punct = self.punct0 + rng.integers(0, 2, (n, s, 1))
        slots = np.concatenate([ph1, run1, ph2, run2, contact, punct], axis=2)
        keep = np.ones(slots.shape, bool)
        arange = np.arange(RUN)
        keep[..., 1 : 1 + RUN] = arange < rng.integers(2, RUN + 1, (n, s, 1))
        keep[..., 1 + RUN] = rng.random((n, s)) < 0.6
        keep[..., 2 + RUN : 2 + 2 * RUN] = arange < rng.integers(0, RUN + 1, (n, s, 1))
        c0 = 2 + 2 * RUN
        keep[..., c0 : c0 + 13] = (phone[..., None] & (np.arange(13) < 12)) | (amount[..., None] & (np.arange(13) < 6))
        pieces = slots[keep]
        per_ad = keep.reshape(n, -1).sum(axis=1)
        lengths = self.piece_len[pieces]
        ad_len = np.add.reduceat(lengths, np.cumsum(per_ad) - per_ad)
        first = np.cumsum(lengths) - lengths
        pos = np.arange(int(lengths.sum())) - np.repeat(first - self.piece_start[pieces], lengths)
        text = self.pool[pos].tobytes().decode("utf-32-le")
        ends = np.cumsum(ad_len).tolist()
        return [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def edit_chars(rng: np.random.Generator, text: str, fraction: float = 0.05) -> str:
    """Change `fraction` of the characters: 60% substituted, 20% inserted, 20% deleted, anywhere."""
    chars = list(text)
    for _ in range(max(1, round(fraction * len(text)))):
        op, i = rng.random(), int(rng.integers(len(chars)))
        c = COMMON[int(rng.integers(len(COMMON)))]
        if op < 0.6:
            chars[i] = c
        elif op < 0.8:
            chars.insert(i, c)
        else:
            del chars[i]
    return "".join(chars)


def change_numbers(rng: np.random.Generator, text: str) -> str:
    """Every phone number and amount replaced by other digits."""
    return re.sub(r"\d+", lambda m: "".join(map(str, rng.integers(0, 10, len(m.group())))), text)


def reorder(rng: np.random.Generator, text: str) -> str:
    """The same sentences in another order."""
    sentences = re.findall(r"[^。！]+[。！]?", text)
    order = rng.permutation(len(sentences))
    while len(sentences) > 1 and (order == np.arange(len(sentences))).all():
        order = rng.permutation(len(sentences))
    return "".join(sentences[i] for i in order)


COPY_KINDS = {
    "phone/amounts changed": change_numbers,
    "sentences reordered": reorder,
    "5% characters changed": edit_chars,
    "all three": lambda rng, t: edit_chars(rng, reorder(rng, change_numbers(rng, t))),
}


# ---- measuring -------------------------------------------------------------------------------------


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


ROUNDS = 3


def best_rates(contenders: list[tuple[str, int, object]]) -> list[float]:
    """Items per second of each (name, items, fn), best of ROUNDS rounds run in turn."""
    best = [0.0] * len(contenders)
    for _ in range(ROUNDS):
        for i, (_, items, fn) in enumerate(contenders):
            _, t = timed(fn)
            best[i] = max(best[i], items / t)
    return best


def jaccard3(a: str, b: str) -> float:
    a, b = collapse(a), collapse(b)
    x = {a[i : i + 3] for i in range(len(a) - 2)}
    y = {b[i : i + 3] for i in range(len(b) - 2)}
    return len(x & y) / len(x | y)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="ads in the index (default 1,000,000)")
    p.add_argument("--queries", type=int, default=50_000, help="batch of queries for throughput")
    p.add_argument("--copies", type=int, default=1000, help="copies of each kind for recall")
    p.add_argument("--unrelated", type=int, default=10_000, help="fresh ads queried for false matches")
    p.add_argument("--baseline-n", type=int, default=200_000, help="simhash.SimhashIndex size")
    p.add_argument("--simhash-fp", type=int, default=3000, help="texts fingerprinted by simhash.Simhash")
    p.add_argument("--datasketch-n", type=int, default=20_000, help="datasketch MinHashLSH size (0: skip)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.n
    base_n = min(args.baseline_n, n)
    ds_n = min(args.datasketch_n, n)
    started = time.perf_counter()

    print(
        f"# near-duplicates benchmark: n={n:,}, queries={args.queries:,}, copies={args.copies:,}/kind, "
        f"unrelated={args.unrelated:,}, seed={args.seed}"
    )
    maker = AdMaker()
    ads, t = timed(maker.make, rng, n)
    lengths = np.array([len(a) for a in ads[:20000]])
    print(
        f"data: {n:,} ads in {t:.1f} s, length mean {lengths.mean():.0f} (min {lengths.min()}, "
        f"max {lengths.max()}); e.g. {ads[0][:60]}…"
    )

    # ---- fingerprints/s: each measured ROUNDS times, interleaved, best kept (the machine is shared)
    from simhash import Simhash, SimhashIndex

    sample = ads[:20000]
    base_texts = ads[: args.simhash_fp]
    contenders = [
        ("simhash.Simhash(text) (baseline)", len(base_texts), lambda: [Simhash(collapse(a)) for a in base_texts]),
        ("simhash_many (batch, simhash only)", len(sample), lambda: simhash_many(sample)),
        ("fingerprint_many (batch, simhash + MinHash)", len(sample), lambda: fingerprint_many(sample)),
        ("fingerprint(text) one at a time", 3000, lambda: [fingerprint(a) for a in sample[:3000]]),
    ]
    rates = best_rates(contenders)
    print(f"\n## fingerprints/s (one core; best of {ROUNDS} interleaved rounds)")
    for (name, _, _), rate in zip(contenders, rates, strict=True):
        print(f"  {name:<46} {rate:>10,.0f}/s  {rate / rates[0]:5.1f}x")

    # ---- fingerprints of everything
    fps, t = timed(fingerprint_many, ads)
    print(f"\nfingerprinted all {n:,} ads with fingerprint_many in {t:.1f} s ({n / t:,.0f}/s)")
    ids = np.arange(n, dtype=np.int64)

    # ---- index build and memory
    print("\n## index")
    gc.collect()
    r0 = rss()
    index = NearDupIndex()
    _, t_build = timed(lambda: (index.add_fingerprints(ids, fps), index._merge()))
    gc.collect()
    r_index = rss() - r0
    nb = index.nbytes
    print(
        f"  ours, {n:,} ads: built from fingerprint arrays in {t_build:.2f} s; numpy nbytes: "
        f"simhash tables {mib(nb['simhash'])}, MinHash signatures + band tables {mib(nb['minhash'])}, "
        f"ids {mib(nb['rows'])}; total {mib(sum(nb.values()))}; RSS delta {mib(r_index)}"
    )
    records = [
        {"ad_id": i, "fp_version": FINGERPRINT_VERSION, "exact": None, "simhash": s, "minhash": m}
        for i, s, m in zip(
            range(n),
            fps.simhash.view(np.int64).tolist(),
            (fps.minhash[i].tobytes() for i in range(n)),
            strict=True,
        )
    ]
    loaded, t_rec = timed(NearDupIndex.from_records, records)
    assert len(loaded) == n
    del records, loaded
    blob, t_save = timed(index.to_bytes)
    loaded, t_load = timed(NearDupIndex.from_bytes, blob)
    assert len(loaded) == n
    print(
        f"  ours: from_records({n:,} dicts as from SQLite) {t_rec:.2f} s; to_bytes {t_save:.2f} s "
        f"({mib(len(blob))}); from_bytes {t_load:.2f} s"
    )
    del blob, loaded
    gc.collect()

    r0 = rss()
    pkg_fps = [Simhash(int(v)) for v in fps.simhash[:base_n].tolist()]
    gc.collect()
    r_objs = rss() - r0
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # SimhashIndex logs every add at INFO
    pkg_index, t_pkg_build = timed(SimhashIndex, list(zip(map(str, range(base_n)), pkg_fps, strict=True)), k=3)
    gc.collect()
    r_pkg = rss() - r0 - r_objs
    print(
        f"  simhash.SimhashIndex k=3, {base_n:,} ads: built in {t_pkg_build:.2f} s; RSS delta "
        f"{mib(r_pkg)} (plus {mib(r_objs)} of Simhash objects)"
    )

    # ---- throughput
    qtexts = maker.make(rng, args.queries)  # unrelated to the index: the common case of a new ad
    qfps = fingerprint_many(qtexts)
    single = qtexts[:2000]
    one_fps = [fingerprint_many([t]) for t in single]
    pkg_q = [Simhash(int(v)) for v in qfps.simhash[:5000].tolist()]
    contenders = [
        (
            f"simhash.SimhashIndex k=3 at {base_n:,}, one at a time (baseline)",
            len(pkg_q),
            lambda: [pkg_index.get_near_dups(s) for s in pkg_q],
        ),
        (
            f"ours at {n:,}: query_fingerprints, batch of {args.queries:,}",
            args.queries,
            lambda: index.query_fingerprints(qfps),
        ),
        (
            f"ours at {n:,}: query_many(texts), fingerprinting included",
            args.queries,
            lambda: index.query_many(qtexts),
        ),
        (
            f"ours at {n:,}: query_fingerprints one at a time (as the baseline)",
            len(single),
            lambda: [index.query_fingerprints(f) for f in one_fps],
        ),
        (
            f"ours at {n:,}: query(text) one at a time, fingerprinting included",
            len(single),
            lambda: [index.query(t) for t in single],
        ),
    ]
    rates = best_rates(contenders)
    print(f"\n## queries/s (best of {ROUNDS} interleaved rounds)")
    for (name, _, _), rate in zip(contenders, rates, strict=True):
        print(f"  {name:<72} {rate:>9,.0f}/s  {rate / rates[0]:6.1f}x")
    # a reviewer's decision then a query: the new ad waits in the unsorted tail
    _, t_add = timed(index.add, n + 1, qtexts[0])
    _, t_add2 = timed(index.add, n + 2, qtexts[1])
    _, t_after = timed(index.query, qtexts[0])
    assert index.query(qtexts[0])[0].ad_id == n + 1
    index.remove(n + 1), index.remove(n + 2)
    print(
        f"  ours: add one ad {t_add * 1e3:.2f} ms, another {t_add2 * 1e3:.2f} ms (both wait in the unsorted tail); "
        f"then query {t_after * 1e3:.2f} ms"
    )

    # ---- recall and false matches
    print("\n## recall on copies of indexed ads (found among the 3 returned), false matches")
    limit_src = min(base_n, ds_n) if ds_n else base_n
    sources = rng.choice(limit_src, size=min(args.copies, limit_src), replace=False)
    copies = {kind: [make(rng, ads[i]) for i in sources] for kind, make in COPY_KINDS.items()}
    unrelated = maker.make(rng, args.unrelated)
    jac = {k: np.array([jaccard3(ads[i], c) for i, c in zip(sources, v, strict=True)]) for k, v in copies.items()}

    ds = None
    if ds_n:
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError:
            print("  (datasketch not installed: skipped)")
        else:

            def ds_hashes(texts):
                shingles = []
                for t in texts:
                    c = collapse(t)
                    shingles.append([c[i : i + 3].encode() for i in range(len(c) - 2)])
                return MinHash.bulk(shingles, num_perm=128)

            gc.collect()
            r0 = rss()
            t0 = time.perf_counter()
            ds = MinHashLSH(threshold=0.5, num_perm=128)
            with ds.insertion_session() as session:
                for i, m in enumerate(ds_hashes(ads[:ds_n])):
                    session.insert(i, m)
            t_ds = time.perf_counter() - t0
            gc.collect()
            print(
                f"  datasketch MinHashLSH(threshold=0.5, num_perm=128) on {ds_n:,} ads: built in {t_ds:.1f} s "
                f"(fingerprints included), RSS delta {mib(rss() - r0)} "
                f"(= {mib((rss() - r0) / ds_n * 1_000_000)} per 1M ads)"
            )

    def ours(texts):
        return [[(m.ad_id, m.method) for m in r] for r in index.query_many(texts)]

    def pkg(texts):
        return [
            [(int(x), "simhash") for x in pkg_index.get_near_dups(Simhash(int(v)))]
            for v in simhash_many(texts).tolist()
        ]

    def dsq(texts):
        return [[(int(x), "minhash") for x in ds.query(m)] for m in ds_hashes(texts)]

    matchers = [(f"ours at {n:,}", ours), (f"simhash k=3 at {base_n:,}", pkg)]
    if ds is not None:
        matchers.append((f"datasketch at {ds_n:,}", dsq))
    header = f"  {'copies':<24} {'J med (min)':>12} " + " ".join(f"{name:>26}" for name, _ in matchers)
    print(header)
    for kind, texts in copies.items():
        cells = []
        for name, fn in matchers:
            res = fn(texts)
            found = sum(int(s) in {a for a, _ in r} for s, r in zip(sources, res, strict=True))
            extra = sum(len([a for a, _ in r if a != s]) for s, r in zip(sources, res, strict=True))
            methods = {}
            for s, r in zip(sources, res, strict=True):
                for a, m in r:
                    if a == s:
                        methods[m] = methods.get(m, 0) + 1
            how = "+".join(f"{m[0]}{c}" for m, c in sorted(methods.items())) if name.startswith("ours") else ""
            cells.append(f"{100 * found / len(texts):5.1f}% {how:<9} x{extra}")
        j = jac[kind]
        print(f"  {kind:<24} {np.median(j):6.2f} ({j.min():.2f}) " + " ".join(f"{c:>26}" for c in cells))
    print(
        "  (xN: returned ads that are not the source, i.e. false matches, over all copies of the kind;"
        " s/m: found by simhash/minhash)"
    )
    for name, fn in matchers:
        res = fn(unrelated)
        hit = sum(1 for r in res if r)
        print(f"  unrelated ads matched, {name:<24} {hit:>6} of {len(unrelated):,} = {100 * hit / len(unrelated):.3f}%")

    # ---- why not simhash with a larger k: brute force over the whole index
    print(
        "\n## simhash alone at larger k (brute force over the index): recall on 5%-edited copies vs"
        " unrelated ads that have an indexed ad within k bits"
    )
    edited = fingerprint_many(copies["5% characters changed"][:500]).simhash
    fresh = fingerprint_many(unrelated[:500]).simhash
    sims = index._sim[: index._n]

    def nearest_bits(q: np.ndarray) -> np.ndarray:
        out = np.empty(len(q), np.int64)
        for i in range(0, len(q), 8):
            out[i : i + 8] = np.bitwise_count(q[i : i + 8, None] ^ sims[None, :]).min(axis=1)
        return out

    d_edit = np.bitwise_count(edited ^ fps.simhash[sources[:500]]).astype(np.int64)
    d_fresh = nearest_bits(fresh)
    print(
        f"  edited copy to its source: median {np.median(d_edit):.0f} bits, 95th percentile "
        f"{np.percentile(d_edit, 95):.0f}; unrelated ad to its nearest of {n:,}: median "
        f"{np.median(d_fresh):.0f}, min {d_fresh.min()}"
    )
    for k in (3, 6, 10, 14, 18):
        recall, false = 100 * np.mean(d_edit <= k), 100 * np.mean(d_fresh <= k)
        print(f"  k={k:<2}  recall {recall:5.1f}%   false matches {false:5.1f}%")
    print(f"\n(LSH: {BANDS} bands x {ROWS} bytes; total time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
