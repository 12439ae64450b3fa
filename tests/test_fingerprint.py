"""Fingerprints: collapsing, stability across processes, short texts, and the vectorised code against a
plain-Python reference of the same definitions."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier import fingerprint as fp
from classifier.fingerprint import (
    MIN_CHARS,
    NUM_PERM,
    collapse,
    collapse_many,
    estimate_jaccard,
    exact_hash,
    fingerprint,
    fingerprint_many,
    hamming,
    simhash,
    simhash_many,
    to_signed64,
    to_unsigned64,
)

AD = (
    "国家政策支持，保本保息，年化收益高达18%，投资一万元每月分红1500元。"
    "国企担保银行托管，资金安全有保障，名额有限先到先得！咨询电话13812345678，扫码加微信了解详情。"
)
CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而"


# ---- a plain-Python reference of the documented definitions ------------------------------------------

M64 = (1 << 64) - 1


def ref_mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def ref_grams(text: str) -> list[int]:
    c = collapse(text)
    return [
        ref_mix(((ord(c[i]) << 42) | (ord(c[i + 1]) << 21) | ord(c[i + 2])) ^ 0x9E3779B97F4A7C15)
        for i in range(len(c) - 2)
    ]


def ref_simhash(text: str) -> int:
    grams = ref_grams(text)
    return sum(1 << b for b in range(64) if 2 * sum((g >> b) & 1 for g in grams) > len(grams))


def ref_minhash(text: str) -> bytes:
    xs = [g >> 32 for g in ref_grams(text)]
    out = []
    for a, b in zip(fp._PERM_A.tolist(), fp._PERM_B.tolist(), strict=True):
        m = min((a * x + b) & 0xFFFFFFFF for x in xs)
        out.append(((m * 0x9E3779B1) & 0xFFFFFFFF) >> 24)
    return bytes(out)


def random_ad(rng: random.Random, length: int = 200) -> str:
    return "".join(rng.choice(CHARS) for _ in range(length))


# ---- tests ---------------------------------------------------------------------------------------------


def test_collapse_replaces_digit_runs_and_drops_whitespace():
    assert collapse("电话 138-1234-5678，投资 10,000 元\n月息 1.5%") == "电话#，投资#元月息#%"
    assert collapse("加 微 信\tabc\u3000123") == "加微信abc#"
    # full-width digits are normalised before us, but any Unicode digit counts
    assert collapse("电话１３８") == "电话#"
    assert collapse_many(["a 1 b", "", "c\n2"]) == ["a#b", "", "c#"]


def test_changed_phone_numbers_amounts_and_spacing_change_nothing():
    other = AD.replace("13812345678", "15999990000").replace("1500", "2600").replace("18", "25")
    spaced = " ".join(AD)
    assert fingerprint(other) == fingerprint(AD) == fingerprint(spaced)


def test_vectorised_code_matches_the_plain_python_reference():
    rng = random.Random(3)
    texts = [AD, AD[:25], random_ad(rng, 20), random_ad(rng, 57), random_ad(rng, 300)]
    fps = fingerprint_many(texts)
    for i, text in enumerate(texts):
        assert int(fps.simhash[i]) == ref_simhash(text), i
        assert fps.minhash[i].tobytes() == ref_minhash(text), i
        assert int(fps.exact[i]) == int.from_bytes(
            hashlib.blake2b(collapse(text).encode(), digest_size=8).digest(), "little"
        )


def test_batch_and_single_text_agree_for_mixed_lengths():
    rng = random.Random(5)
    # lengths around the short-text threshold, and one longer than a numpy chunk (one group of its own)
    lengths = [0, 5, MIN_CHARS - 1, MIN_CHARS, MIN_CHARS + 1, 200, 211, 180, 40_000, 3, 999]
    texts = [random_ad(rng, n) for n in lengths]
    fps = fingerprint_many(texts)
    assert simhash_many(texts).tolist() == [simhash(t) or 0 for t in texts]
    for i, text in enumerate(texts):
        assert fps[i] == fingerprint(text), lengths[i]
    assert fps.short.tolist() == [n < MIN_CHARS for n in lengths]


def test_short_texts_get_only_an_exact_hash():
    short = "加微信领红包" + "1" * 30  # digits collapse to one character: 7 characters in all
    fp_short = fingerprint(short)
    assert fp_short.is_short and fp_short.simhash is None and fp_short.minhash is None
    assert fp_short.exact == exact_hash(collapse(short)) == exact_hash("加微信领红包#")
    assert simhash(short) is None
    boundary = random_ad(random.Random(1), MIN_CHARS)
    assert not fingerprint(boundary).is_short
    assert fingerprint(boundary[:-1]).is_short


def test_fingerprints_are_the_same_in_another_process_and_pinned():
    """Python's hash() is salted per process; ours must not be. The pinned values also catch an
    accidental change of the hashing, which must come with a new FINGERPRINT_VERSION."""
    code = (
        "from classifier.fingerprint import fingerprint\n"
        f"f = fingerprint({AD!r})\n"
        "print(f.exact, f.simhash, f.minhash.hex())\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    ).stdout.split()
    here = fingerprint(AD)
    assert out == [str(here.exact), str(here.simhash), here.minhash.hex()]
    assert here.simhash == ref_simhash(AD)
    assert (here.simhash, here.minhash[:8].hex()) == PINNED


PINNED = (10629634150289015459, "89990a5780e03f3f")  # FINGERPRINT_VERSION 1


def test_edits_move_simhash_a_little_and_unrelated_texts_far():
    rng = random.Random(11)
    base = random_ad(rng)
    edited = list(base)
    for i in rng.sample(range(len(base)), 10):  # 5% of 200
        edited[i] = rng.choice("甲乙丙丁戊己庚辛壬癸")
    near = hamming(simhash(base), simhash("".join(edited)))
    far = hamming(simhash(base), simhash(random_ad(rng)))
    assert near < far
    assert far >= 20


@pytest.mark.parametrize("target", [0.3, 0.6, 0.9])
def test_minhash_estimates_jaccard_similarity(target):
    # two sets of distinct 3-grams with a known Jaccard similarity: shared + own parts
    rng = random.Random(int(target * 10))
    pool = [chr(0x4E00 + i) for i in range(6000)]
    rng.shuffle(pool)
    shared_n = 300
    own_n = round(shared_n * (1 / target - 1) / 2)

    triples = ["".join(pool[i : i + 3]) for i in range(0, len(pool), 3)]
    shared = triples[:shared_n]
    a = triples[shared_n : shared_n + own_n]
    b = triples[shared_n + own_n : shared_n + 2 * own_n]
    # a digit between triples: the 3-grams are mostly the triples themselves
    ta, tb = "1".join(shared + a), "1".join(shared + b)
    ga, gb = set(ref_grams(ta)), set(ref_grams(tb))
    true_j = len(ga & gb) / len(ga | gb)
    fa, fb = fingerprint(ta), fingerprint(tb)
    same = sum(x == y for x, y in zip(fa.minhash, fb.minhash, strict=True))
    est = estimate_jaccard(same)
    # 64 bytes: standard deviation sqrt(J(1-J)/64) <= 0.0625; allow about 3 of them
    assert abs(est - true_j) < 0.19, (est, true_j)
    assert len(fa.minhash) == NUM_PERM


def test_signed_conversion_for_sqlite_round_trips():
    for v in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        s = to_signed64(v)
        assert -(1 << 63) <= s < (1 << 63)
        assert to_unsigned64(s) == v
    assert estimate_jaccard(np.array([64, 0])).tolist() == [1.0, 0.0]
