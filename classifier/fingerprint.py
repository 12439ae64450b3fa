"""Fingerprints of normalised ad texts: a 64-bit simhash and a compact MinHash signature.

Input is text that the normaliser has already folded (NFKC, homophones, ...). Before fingerprinting this
module removes whitespace and turns every run of digits (``138-1234-5678``, ``10,000``) into one ``#``, so
that a repost with another phone number or amount has the same fingerprint (:func:`collapse`).

Features are character 3-grams of the collapsed text. Each 3-gram is packed into one integer (three code
points of 21 bits) and mixed with the SplitMix64 finaliser: a stable 64-bit hash, the same in every process
and on every machine (Python's ``hash()`` is salted per process and is never used here).

From the 3-gram hashes, all computed at once in numpy for a whole batch:

* ``simhash``: 64-bit simhash (bit i is set when more than half of the 3-grams have bit i set).
  Reposts that differ by a few characters stay within 3 bits.
* ``minhash``: ``NUM_PERM`` (64) min-wise hashes over the top 32 bits ``x`` of each 3-gram hash, one
  permutation ``(a*x + b) mod 2**32`` (``a`` odd) each; only one byte of each minimum is kept (b-bit
  MinHash, b = 8), so a signature is 64 bytes. Two signatures agree in a byte with probability
  ``J + (1 - J)/256`` where ``J`` is the Jaccard similarity of the 3-gram sets: :func:`estimate_jaccard`
  inverts that. Groups of ``ROWS`` (4) bytes read as one uint32
  are the LSH band keys used by :mod:`classifier.neardup`.
* ``exact``: a 64-bit BLAKE2b hash of the collapsed text. Texts with fewer than ``MIN_CHARS`` (20)
  characters after collapsing carry only this hash: their 3-gram sets are too small for similarity to
  mean anything (Rspamd draws the same line).

See docs/near-duplicates.md for why 3-grams, why these sizes, and the measurements.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BANDS",
    "FINGERPRINT_VERSION",
    "MIN_CHARS",
    "NGRAM",
    "NUM_PERM",
    "ROWS",
    "Fingerprint",
    "Fingerprints",
    "collapse",
    "collapse_many",
    "estimate_jaccard",
    "exact_hash",
    "fingerprint",
    "fingerprint_many",
    "hamming",
    "simhash",
    "simhash_many",
    "to_signed64",
    "to_unsigned64",
]

#: Bump when any parameter below or the hashing changes: stored fingerprints must then be recomputed.
FINGERPRINT_VERSION = 1
#: Characters per feature (character n-grams of the collapsed text); at most 3, as the code points of an
#: n-gram are packed into 63 bits before hashing.
NGRAM = 3
#: Texts shorter than this (after :func:`collapse`) get only an exact hash.
MIN_CHARS = 20
#: MinHash permutations; one byte of each is kept, so the signature has NUM_PERM bytes.
NUM_PERM = 64
#: LSH banding of the signature: BANDS bands of ROWS bytes (one uint32 key per band).
ROWS = 4
BANDS = NUM_PERM // ROWS

_DIGITS = re.compile(r"\d+(?:[.,:/\-]\d+)*")
_DIGIT_MARK = "#"

_MASK64 = (1 << 64) - 1
_U64 = np.uint64
_C1 = _U64(0xBF58476D1CE4E5B9)
_C2 = _U64(0x94D049BB133111EB)
_GRAM_SEED = _U64(0x9E3779B97F4A7C15)
_S21 = _U64(21)
_S32 = _U64(32)
# texts are fingerprinted in groups of about this many characters: the largest numpy temporary of a group
# (characters x NUM_PERM x 4 bytes) then stays near 8 MiB.
_CHUNK_CELLS = 16_384


def _splitmix64_sequence(seed: int, count: int) -> list[int]:
    """SplitMix64 in pure Python: fixed constants for the MinHash permutations, independent of numpy."""
    out = []
    state = seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        out.append(z ^ (z >> 31))
    return out


_PERM_A = np.array([(v >> 32) | 1 for v in _splitmix64_sequence(0xADC1EA5, NUM_PERM)], dtype=np.uint32)
_PERM_B = np.array([v >> 32 for v in _splitmix64_sequence(0x5EED0B, NUM_PERM)], dtype=np.uint32)
_REMIX = np.uint32(0x9E3779B1)


def collapse(text: str) -> str:
    """Remove whitespace and replace every run of digits (with inner ``.,:/-``) by one ``#``."""
    return _DIGITS.sub(_DIGIT_MARK, "".join(text.split()))


def collapse_many(texts: Sequence[str]) -> list[str]:
    """:func:`collapse` of many texts (one regular-expression pass over all of them)."""
    # whitespace is gone after split/join, so a newline can separate the texts safely
    joined = "\n".join("".join(t.split()) for t in texts)
    return _DIGITS.sub(_DIGIT_MARK, joined).split("\n") if texts else []


def exact_hash(collapsed: str) -> int:
    """Stable unsigned 64-bit hash of an already collapsed text."""
    return int.from_bytes(hashlib.blake2b(collapsed.encode("utf-8"), digest_size=8).digest(), "little")


def to_signed64(value: int) -> int:
    """Unsigned 64-bit value as the signed integer SQLite can store."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned64(value: int) -> int:
    """Inverse of :func:`to_signed64`."""
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit fingerprints."""
    return ((a ^ b) & _MASK64).bit_count()


def estimate_jaccard(matching_bytes: np.ndarray | int, num_perm: int = NUM_PERM) -> np.ndarray | float:
    """Jaccard similarity of two 3-gram sets from the number of equal signature bytes."""
    p = np.asarray(matching_bytes, dtype=np.float64) / num_perm
    est = np.clip((p - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
    return float(est) if est.ndim == 0 else est


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Fingerprint of one text. ``simhash`` and ``minhash`` are None for a short text."""

    exact: int  # unsigned 64-bit
    simhash: int | None  # unsigned 64-bit
    minhash: bytes | None  # NUM_PERM bytes

    @property
    def is_short(self) -> bool:
        return self.simhash is None


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """Fingerprints of many texts, as numpy arrays (rows of short texts hold zeros in simhash/minhash)."""

    exact: np.ndarray  # uint64 (n,)
    simhash: np.ndarray  # uint64 (n,)
    minhash: np.ndarray  # uint8 (n, NUM_PERM)
    short: np.ndarray  # bool (n,)

    def __len__(self) -> int:
        return len(self.exact)

    def __getitem__(self, i: int) -> Fingerprint:
        if self.short[i]:
            return Fingerprint(int(self.exact[i]), None, None)
        return Fingerprint(int(self.exact[i]), int(self.simhash[i]), self.minhash[i].tobytes())


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, elementwise on uint64 (wrap-around arithmetic is well defined in numpy)."""
    x = x ^ (x >> _U64(30))
    x = x * _C1
    x = x ^ (x >> _U64(27))
    x = x * _C2
    return x ^ (x >> _U64(31))


def _length_groups(lengths: np.ndarray) -> list[np.ndarray]:
    """Indices of texts in groups of similar length, each small enough for the numpy temporaries."""
    order = np.argsort(lengths, kind="stable")
    groups = []
    i = 0
    while i < len(order):
        j = i + 1
        # lengths ascend, so the last text of a group is its longest: bound count x longest
        while j < len(order) and (j - i + 1) * int(lengths[order[j]]) <= _CHUNK_CELLS:
            j += 1
        groups.append(order[i:j])
        i = j
    return groups


def _gram_matrix(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Stable 64-bit hashes of the character n-grams, one row per text padded with zeros; and counts.

    Every text must have at least NGRAM characters.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    width = int(lengths.max())
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    inside = np.arange(width)[None, :] < lengths[:, None]
    matrix = np.zeros((len(texts), width), np.uint64)
    matrix[inside] = cps
    key = matrix[:, : width - NGRAM + 1].copy()
    for j in range(1, NGRAM):
        key <<= _S21
        key |= matrix[:, j : width - NGRAM + 1 + j]
    counts = lengths - NGRAM + 1
    grams = _mix(key ^ _GRAM_SEED)
    grams[np.arange(width - NGRAM + 1)[None, :] >= counts[:, None]] = 0
    return grams, counts


def _simhash_rows(grams: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Simhash of each row of a zero-padded gram matrix (padding has no bit set, so it adds nothing)."""
    rows, width = grams.shape
    bits = np.unpackbits(grams.view(np.uint8).reshape(rows, width, 8), axis=2, bitorder="little")
    ones = bits.sum(axis=1, dtype=np.int32)
    on = (2 * ones > counts[:, None]).astype(np.uint8)
    return np.packbits(on, axis=1, bitorder="little").view("<u8").ravel().astype(np.uint64)


def _minhash_rows(grams: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One byte of each of NUM_PERM minimums per row of a zero-padded gram matrix."""
    x = (grams >> _S32).astype(np.uint32)
    # padding repeats the row's first n-gram: a repeated element does not change a minimum
    pad = np.arange(grams.shape[1])[None, :] >= counts[:, None]
    x[pad] = np.broadcast_to(x[:, :1], x.shape)[pad]
    # permutation i: x -> (a_i * x + b_i) mod 2**32 (a_i odd, so a bijection: no ties)
    values = x[:, :, None] * _PERM_A
    values += _PERM_B
    mins = values.min(axis=1)
    # keep one byte that depends on every bit of the minimum (its low bits alone are weak)
    mins *= _REMIX
    return (mins >> np.uint32(24)).astype(np.uint8)


def _fingerprint_one(text: str, *, with_minhash: bool) -> tuple[int, np.ndarray | None]:
    """The same as :func:`_fingerprint_long` for one text, with fewer numpy calls (a query's path)."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    width = len(cps) - NGRAM + 1
    key = cps[:width].copy()
    for j in range(1, NGRAM):
        key <<= _S21
        key |= cps[j : width + j]
    grams = _mix(key ^ _GRAM_SEED)
    ones = np.unpackbits(grams.view(np.uint8).reshape(width, 8), axis=1, bitorder="little").sum(axis=0, dtype=np.int32)
    sim = int(np.packbits(2 * ones > width, bitorder="little").view("<u8")[0])
    if not with_minhash:
        return sim, None
    values = (grams >> _S32).astype(np.uint32)[:, None] * _PERM_A
    values += _PERM_B
    mins = values.min(axis=0)
    mins *= _REMIX
    return sim, (mins >> np.uint32(24)).astype(np.uint8)


def _fingerprint_long(texts: Sequence[str], *, with_minhash: bool) -> tuple[np.ndarray, np.ndarray]:
    """Simhashes and MinHash signatures of texts that all have at least MIN_CHARS characters."""
    n = len(texts)
    simhashes = np.zeros(n, np.uint64)
    minhashes = np.zeros((n, NUM_PERM) if with_minhash else (0, NUM_PERM), np.uint8)
    if n == 1:
        simhashes[0], sig = _fingerprint_one(texts[0], with_minhash=with_minhash)
        if with_minhash:
            minhashes[0] = sig  # type: ignore[assignment]  # not None: with_minhash
        return simhashes, minhashes
    if n == 0:
        return simhashes, minhashes
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    for group in _length_groups(lengths):
        grams, counts = _gram_matrix([texts[i] for i in group])
        simhashes[group] = _simhash_rows(grams, counts)
        if with_minhash:
            minhashes[group] = _minhash_rows(grams, counts)
    return simhashes, minhashes


def fingerprint_many(texts: Sequence[str]) -> Fingerprints:
    """Fingerprints of many normalised texts (collapsed here), as arrays in the order given."""
    collapsed = collapse_many(texts)
    n = len(collapsed)
    exact = np.array([exact_hash(c) for c in collapsed], dtype=np.uint64)
    short = np.array([len(c) < MIN_CHARS for c in collapsed], dtype=bool)
    simhashes = np.zeros(n, np.uint64)
    minhashes = np.zeros((n, NUM_PERM), np.uint8)
    if n == 1:
        if not short[0]:
            simhashes[:], minhashes[:] = _fingerprint_long(collapsed, with_minhash=True)
    else:
        long_idx = np.flatnonzero(~short)
        simhashes[long_idx], minhashes[long_idx] = _fingerprint_long(
            [collapsed[i] for i in long_idx], with_minhash=True
        )
    return Fingerprints(exact=exact, simhash=simhashes, minhash=minhashes, short=short)


def fingerprint(text: str) -> Fingerprint:
    """Fingerprint of one normalised text."""
    return fingerprint_many([text])[0]


def simhash_many(texts: Sequence[str]) -> np.ndarray:
    """64-bit simhashes (uint64 array) of many normalised texts; 0 for texts shorter than MIN_CHARS."""
    collapsed = collapse_many(texts)
    out = np.zeros(len(collapsed), np.uint64)
    long_idx = np.fromiter((i for i, c in enumerate(collapsed) if len(c) >= MIN_CHARS), dtype=np.int64)
    out[long_idx] = _fingerprint_long([collapsed[i] for i in long_idx], with_minhash=False)[0]
    return out


def simhash(text: str) -> int | None:
    """64-bit simhash of one normalised text, or None when it is shorter than MIN_CHARS."""
    collapsed = collapse(text)
    if len(collapsed) < MIN_CHARS:
        return None
    return int(_fingerprint_long([collapsed], with_minhash=False)[0][0])
