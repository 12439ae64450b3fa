"""NearDupIndex, DecidedAds and clusters: reposts and edited copies are found, unrelated ads are not."""

from __future__ import annotations

import random
import re
import sqlite3

import numpy as np
import pytest

from classifier import neardup
from classifier.fingerprint import BANDS, FINGERPRINT_VERSION, NUM_PERM, Fingerprints, estimate_jaccard
from classifier.neardup import (
    DecidedAds,
    FingerprintVersionError,
    Match,
    NearDupIndex,
    clusters,
    fingerprint_record,
    fingerprint_records,
)
from classifier.neighbours import Neighbour, NeighbourSource

PHRASES = (
    "年化收益高达 保本保息 稳赚不赔 零风险高回报 国家政策支持 国企担保 银行托管 月月返息 到期还本 每月分红 "
    "原始股即将上市 区块链数字货币 养老项目 消费返利 推荐奖励 私募基金 名额有限 先到先得 扫码加微信 咨询电话 "
    "专业理财团队 资金安全有保障 远超银行利息 众筹项目 入股分红 互助基金 固定收益 每日返利 加盟代理 百分百回购"
).split()
CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而"
    "方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好"
)


def make_ad(rng: random.Random) -> str:
    """About 200 characters: sentences of ad phrases, random characters, sometimes a phone number."""
    sentences = []
    while sum(map(len, sentences)) < 200:
        s = rng.choice(PHRASES) + "".join(rng.choice(CHARS) for _ in range(rng.randint(3, 8)))
        s += rng.choice(PHRASES) if rng.random() < 0.5 else ""
        if rng.random() < 0.3:
            s += f"电话1{rng.randrange(10**10):010d}"
        sentences.append(s + rng.choice("。！"))
    return "".join(sentences)


def edit5(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(round(0.05 * len(text))):
        i, op = rng.randrange(len(chars)), rng.random()
        if op < 0.6:
            chars[i] = rng.choice(CHARS)
        elif op < 0.8:
            chars.insert(i, rng.choice(CHARS))
        else:
            del chars[i]
    return "".join(chars)


def new_phone(rng: random.Random, text: str) -> str:
    return re.sub(r"\d+", lambda m: "".join(rng.choice("0123456789") for _ in m.group()), text)


def reorder(rng: random.Random, text: str) -> str:
    sentences = re.findall(r"[^。！]+[。！]", text)
    shuffled = sentences[:]
    while shuffled == sentences:
        rng.shuffle(shuffled)
    return "".join(shuffled)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    rng = random.Random(20240601)
    ads = [make_ad(rng) for _ in range(3000)]
    return ads


@pytest.fixture(scope="module")
def index(corpus) -> NearDupIndex:
    idx = NearDupIndex()
    idx.add_many(list(range(1000, 1000 + len(corpus))), corpus)
    return idx


def ids_of(matches: list[Match]) -> list[int]:
    return [m.ad_id for m in matches]


# ---- finding copies ------------------------------------------------------------------------------------


def test_repost_with_changed_phone_number_is_a_simhash_match(index, corpus):
    rng = random.Random(1)
    with_phone = [i for i, ad in enumerate(corpus) if "电话" in ad][:40]
    assert len(with_phone) == 40
    results = index.query_many([new_phone(rng, corpus[i]) for i in with_phone])
    for i, found in zip(with_phone, results, strict=True):
        assert found[0] == Match(1000 + i, "simhash", 0, 1.0)
        assert len(found) == 1  # nothing else in the corpus is near it


def test_copy_with_five_percent_of_characters_changed_is_found(index, corpus):
    rng = random.Random(2)
    sources = rng.sample(range(len(corpus)), 60)
    results = index.query_many([edit5(rng, corpus[i]) for i in sources])
    found = [r[0] for i, r in zip(sources, results, strict=True) if r and r[0].ad_id == 1000 + i]
    assert len(found) >= 57  # >= 95%
    assert {m.method for m in found} <= {"minhash", "simhash"}
    assert sum(m.method == "minhash" for m in found) >= 50
    assert all(0.5 <= m.similarity < 1 and 0 <= m.distance <= 16 for m in found)
    assert all(len(r) <= 1 for r in results)  # no unrelated ad comes along


def test_copy_with_sentences_reordered_is_found(index, corpus):
    rng = random.Random(3)
    sources = rng.sample(range(len(corpus)), 40)
    results = index.query_many([reorder(rng, corpus[i]) for i in sources])
    assert [r[0].ad_id for r in results] == [1000 + i for i in sources]
    assert all(r[0].similarity >= 0.6 for r in results)


def test_unrelated_ads_are_not_found(index):
    rng = random.Random(4)
    results = index.query_many([make_ad(rng) for _ in range(300)])
    assert results == [[]] * 300
    assert index.query("完全无关的一段文字：今天天气很好，我们去公园散步，看见很多人在放风筝和打太极拳。") == []


def test_single_query_equals_batch_query(index, corpus):
    rng = random.Random(5)
    texts = [edit5(rng, corpus[i]) for i in range(30)] + [make_ad(rng) for _ in range(10)] + ["短文本"]
    assert [index.query(t) for t in texts] == index.query_many(texts)


def test_limit_and_order_closest_first():
    rng = random.Random(6)
    base = make_ad(rng)
    idx = NearDupIndex()
    idx.add_many([1, 2, 3, 4], [base, edit5(rng, base), edit5(rng, edit5(rng, base)), make_ad(rng)])
    found = idx.query(base, limit=10)
    assert ids_of(found) == [1, 2, 3]
    assert found[0] == Match(1, "simhash", 0, 1.0)
    assert found[1].similarity > found[2].similarity >= 0.5
    assert ids_of(idx.query(base, limit=2)) == [1, 2]


def test_short_texts_match_only_exactly():
    idx = NearDupIndex()
    idx.add_many([7, 8, 9], ["加微信领红包 电话123", "加微信领红包电话 999", "加微信领现金"])
    assert idx.query("加微信领红包电话555") == [Match(7, "exact", 0, 1.0), Match(8, "exact", 0, 1.0)]
    assert idx.query("加微信领红包电话555", limit=1) == [Match(7, "exact", 0, 1.0)]
    assert idx.query("加微信领红") == []
    assert len(idx) == 3


# ---- changes -------------------------------------------------------------------------------------------


def test_remove_and_replace(corpus):
    idx = NearDupIndex()
    idx.add_many(list(range(len(corpus))), corpus)  # more than the tail: the tables are built
    assert idx._sorted == len(corpus)
    idx.add(50_000, "新增一条广告：" + corpus[0][::-1])  # waits in the unsorted tail
    assert idx._n - idx._sorted == 1
    assert ids_of(idx.query(corpus[5])) == [5]
    assert idx.remove(5) is True
    assert idx.query(corpus[5]) == []
    assert idx.remove(5) is False
    assert 5 not in idx and 6 in idx
    assert ids_of(idx.query("新增一条广告：" + corpus[0][::-1])) == [50_000]
    assert idx.remove(50_000) is True
    assert idx.query("新增一条广告：" + corpus[0][::-1]) == []
    # the same id with a new text: the old text no longer matches
    idx.add(7, corpus[5])
    assert ids_of(idx.query(corpus[5])) == [7]
    assert idx.query(corpus[7]) == []
    idx._merge()  # the id is now twice in the sorted id index unless the dead entry was dropped
    assert idx.remove(7) is True and idx.query(corpus[5]) == []
    idx.add(7, corpus[5])
    assert len(idx) == len(corpus) - 1
    idx.add(5, "短文本")
    assert idx.remove(5) and idx.query("短文本") == [] and len(idx) == len(corpus) - 1


def test_incremental_merges_give_the_same_answers(corpus, monkeypatch):
    monkeypatch.setattr(neardup, "_TAIL_MAX", 64)
    rng = random.Random(7)
    grown = NearDupIndex()
    grown.add_many(list(range(1000)), corpus[:1000])
    for start in range(1000, 2000, 50):  # tails of 50, merged into the sorted tables in place
        grown.add_many(list(range(start, start + 50)), corpus[start : start + 50])
    for ad_id in range(0, 2000, 7):
        grown.remove(ad_id)
    whole = NearDupIndex()
    whole.add_many([i for i in range(2000) if i % 7], [corpus[i] for i in range(2000) if i % 7])
    queries = [edit5(rng, corpus[i]) for i in range(0, 2000, 13)] + [corpus[i] for i in range(0, 2000, 11)]
    assert grown.query_many(queries) == whole.query_many(queries)
    assert len(grown) == len(whole)


def brute_force(stored: Fingerprints, ids: np.ndarray, alive: np.ndarray, q: Fingerprints, i: int) -> set:
    """The definition of a match, checked against every stored fingerprint."""
    bits = np.bitwise_count(stored.simhash ^ q.simhash[i])
    same = stored.minhash == q.minhash[i]
    shares_band = same.reshape(len(ids), BANDS, -1).all(axis=2).any(axis=1)
    similar = estimate_jaccard(same.sum(axis=1)) >= 0.5
    return set(ids[alive & ((bits <= 3) | (shares_band & similar))].tolist())


def test_every_path_finds_exactly_what_brute_force_finds(monkeypatch):
    """Random fingerprints: near ones made within 0-4 bits of a stored simhash (with an unrelated
    signature), or with a signature that keeps one, two or no band of a stored one. Checked while the
    index grows through the unsorted tail, in-place merges and removals, one query at a time and in
    batches."""
    monkeypatch.setattr(neardup, "_TAIL_MAX", 100)
    rebuilds = []
    rebuild = NearDupIndex._rebuild
    monkeypatch.setattr(NearDupIndex, "_rebuild", lambda self: (rebuilds.append(1), rebuild(self)))
    rng = np.random.default_rng(14)
    n = 3000
    stored = Fingerprints(
        exact=np.zeros(n, np.uint64),
        simhash=rng.integers(0, 2**64, n, dtype=np.uint64),
        minhash=rng.integers(0, 256, (n, NUM_PERM), dtype=np.uint8),
        short=np.zeros(n, bool),
    )
    ids = rng.permutation(10 * n)[:n].astype(np.int64)

    def queries(k: int) -> Fingerprints:
        src = rng.choice(np.flatnonzero(alive), k)
        sim = stored.simhash[src].copy()
        sig = rng.integers(0, 256, (k, NUM_PERM), dtype=np.uint8)
        for j in range(k):
            kind = j % 4
            if kind == 0:  # flip 0..4 bits of the simhash
                for bit in rng.choice(64, int(rng.integers(0, 5)), replace=False):
                    sim[j] ^= np.uint64(1) << np.uint64(bit)
            else:  # other simhash; signature keeps `kept` bands and 3/4 of the bytes of the others
                sim[j] = rng.integers(0, 2**64, dtype=np.uint64)
                sig[j] = stored.minhash[src[j]]
                kept = set(rng.choice(BANDS, kind - 1, replace=False).tolist())
                for band in set(range(BANDS)) - kept:
                    sig[j, band * 4 + int(rng.integers(0, 4))] ^= np.uint8(int(rng.integers(1, 256)))
        return Fingerprints(np.zeros(k, np.uint64), sim, sig, np.zeros(k, bool))

    idx = NearDupIndex()
    alive = np.zeros(n, bool)
    sub = lambda a, b: Fingerprints(*(x[a:b] for x in (stored.exact, stored.simhash, stored.minhash, stored.short)))  # noqa: E731
    # a rebuild, an in-place merge, two tails, a merge of both, a rebuild
    steps = [(0, 1500, 1), (1500, 1620, 1), (1620, 1660, 1), (1660, 1670, 1), (1670, 1760, 1), (1760, 3000, 2)]
    for a, b, rebuilt in steps:
        idx.add_fingerprints(ids[a:b], sub(a, b))
        assert len(rebuilds) == rebuilt
        assert idx._n - idx._sorted == (0 if b - a > 60 else b - 1620)  # rows waiting in the tail
        alive[a:b] = True
        gone = rng.choice(b, 40, replace=False)
        for r in gone.tolist():
            idx.remove(int(ids[r]))
        alive[gone] = False
        q = queries(120)
        expected = [brute_force(stored, ids, alive, q, i) for i in range(len(q))]
        assert sum(map(bool, expected)) > 60  # about 0.25 x 4/5 + 0.5 of them
        batch = [set(ids_of(m)) for m in idx.query_fingerprints(q, limit=None)]
        single = [
            set(ids_of(idx.query_fingerprints(sub_q, limit=None)[0]))
            for sub_q in (
                Fingerprints(q.exact[i : i + 1], q.simhash[i : i + 1], q.minhash[i : i + 1], q.short[i : i + 1])
                for i in range(len(q))
            )
        ]
        assert batch == expected
        assert single == expected


def test_thresholds_are_configurable(corpus):
    rng = random.Random(8)
    strict = NearDupIndex(min_similarity=0.95)
    strict.add_many(list(range(200)), corpus[:200])
    assert strict.query(edit5(rng, corpus[3])) == []
    assert ids_of(strict.query(new_phone(rng, corpus[3]))) == [3]
    with pytest.raises(ValueError, match="max_bits=4"):
        NearDupIndex(max_bits=4)
    with pytest.raises(ValueError, match="min_similarity=0"):
        NearDupIndex(min_similarity=0)


# ---- decided ads -------------------------------------------------------------------------------------


def test_decided_ads_returns_confirmed_and_rejected_neighbours_in_order():
    rng = random.Random(9)
    ad = make_ad(rng)
    poster = "警惕非法集资！" + make_ad(rng) + "以上话术均为诈骗，请勿轻信。"
    decided = DecidedAds()
    source: NeighbourSource = decided
    decided.confirm(11, ad)
    decided.reject(12, edit5(rng, ad))  # a look-alike a reviewer rejected
    decided.reject(13, poster)
    found = source.nearest(new_phone(rng, ad))
    assert [(n.ad_id, n.index, n.method) for n in found] == [
        (11, "confirmed", "simhash"),
        (12, "rejected", "minhash"),
    ]
    assert found[0] == Neighbour(11, "confirmed", "simhash", 0, 1.0)
    assert found[1].similarity < 1.0
    assert source.nearest(poster, limit=1) == [Neighbour(13, "rejected", "simhash", 0, 1.0)]
    assert source.nearest(make_ad(rng)) == []
    # a reviewer reverses: the ad moves to the other index
    decided.reject(11, ad)
    assert [(n.ad_id, n.index) for n in decided.nearest(ad)] == [(11, "rejected"), (12, "rejected")]
    # closest first across the two indexes, whichever index that is
    other = make_ad(rng)
    decided.confirm(21, edit5(rng, other))
    decided.reject(22, other)
    assert [(n.ad_id, n.index) for n in decided.nearest(other)] == [(22, "rejected"), (21, "confirmed")]
    decided.forget(21), decided.forget(22)
    assert decided.forget(11) is True and decided.forget(11) is False
    assert [n.ad_id for n in decided.nearest(ad)] == [12]
    assert len(decided) == 2


# ---- persistence -------------------------------------------------------------------------------------


def test_records_round_trip_through_sqlite(corpus):
    texts = corpus[:300] + ["加微信领红包电话123"]
    ids = list(range(300)) + [999]
    records = fingerprint_records(texts)
    assert records[0] == fingerprint_record(texts[0])
    assert records[-1]["simhash"] is None and records[-1]["minhash"] is None
    assert len(records[0]["minhash"]) == 64 and records[0]["fp_version"] == FINGERPRINT_VERSION
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute("create table fp (ad_id integer primary key, fp_version, exact integer, simhash integer, minhash blob)")
    db.executemany(
        "insert into fp values (:ad_id, :fp_version, :exact, :simhash, :minhash)",
        [{"ad_id": i, **r} for i, r in zip(ids, records, strict=True)],
    )
    loaded = NearDupIndex.from_records(dict(row) for row in db.execute("select * from fp"))
    pairs = NearDupIndex.from_records(list(zip(ids, records, strict=True)))
    direct = NearDupIndex()
    direct.add_many(ids, texts)
    rng = random.Random(10)
    queries = [edit5(rng, t) for t in corpus[:40]] + ["加微信领红包电话 456", make_ad(rng)]
    expected = direct.query_many(queries)
    assert sum(bool(r) for r in expected) >= 39
    assert loaded.query_many(queries) == expected == pairs.query_many(queries)
    assert sorted(loaded.records()) == sorted(direct.records())


def test_bytes_round_trip(index, corpus):
    rng = random.Random(12)
    index.add(77_777, "短广告加微信123")
    copy = NearDupIndex.from_bytes(index.to_bytes())
    queries = [edit5(rng, t) for t in corpus[:50]] + ["短广告加微信 999"]
    assert copy.query_many(queries) == index.query_many(queries)
    assert copy.query("短广告加微信") == [] and copy.query("短广告加微信0") == [Match(77_777, "exact", 0, 1.0)]
    assert len(copy) == len(index)
    index.remove(77_777)


def test_other_fingerprint_versions_are_refused():
    rec = fingerprint_record("保本保息年化收益高达百分之二十，国企担保，名额有限先到先得")
    with pytest.raises(FingerprintVersionError, match="recompute"):
        NearDupIndex.from_records([{"ad_id": 1, **rec, "fp_version": FINGERPRINT_VERSION + 1}])


# ---- clusters ------------------------------------------------------------------------------------------


def test_clusters_group_copies_and_keep_unrelated_apart():
    rng = random.Random(13)
    a, b = make_ad(rng), make_ad(rng)
    a1 = edit5(rng, a)
    a2 = edit5(rng, reorder(rng, a1))  # a copy of a copy: joined through a1
    items = {
        40: a1,
        12: b,
        31: a,
        55: new_phone(rng, b),
        60: a2,
        70: make_ad(rng),
        80: "加微信领红包电话1",
        81: "加微信领红包电话2",
        82: "加微信领现金",
    }
    groups = clusters(list(items), list(items.values()))
    assert groups == {40: 31, 12: 12, 31: 31, 55: 12, 60: 31, 70: 70, 80: 80, 81: 80, 82: 82}
    with pytest.raises(ValueError, match="distinct"):
        clusters([1, 1], [a, b])
