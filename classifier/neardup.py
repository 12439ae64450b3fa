"""Near-duplicate search over ads already decided by reviewers.

``NearDupIndex`` holds the fingerprints of :mod:`classifier.fingerprint` with their ad ids and finds, for
a normalised text, the ads it copies:

* ``exact``: a short text (under ``MIN_CHARS`` characters after collapsing) with the same exact hash.
* ``simhash``: a near-identical repost, simhash within ``max_bits`` (default 3) bits. Four tables keyed
  by the four 16-bit blocks of the simhash (a pigeonhole: two fingerprints within 3 bits agree on at
  least one block); each table is a counting sort, ``65,537`` offsets plus one uint32 row per ad.
* ``minhash``: an edited copy. The 64-byte b-bit MinHash signature is cut into 16 bands of 4 bytes; an ad
  that shares a band with the query is a candidate (LSH), and a candidate is kept when the Jaccard
  similarity estimated from all 64 bytes reaches ``min_similarity`` (default 0.5). Each band table is a
  sorted uint32 key array with the matching rows, searched with ``np.searchsorted``.

New ads go to a small unsorted tail that is searched by brute force and merged into the sorted tables in
one pass when it grows; a removed ad is a tombstone until the tables are rebuilt. ``DecidedAds`` pairs a
``confirmed`` and a ``rejected`` index and answers the rule engine as a ``NeighbourSource``.
:func:`clusters` groups near-duplicates among many ads. See docs/near-duplicates.md.

Why so long (750 lines): ``NearDupIndex`` is one data structure. Its counting-sort and band tables, the tail,
the tombstones, the merge and the vectorised query all rely on the same row numbering and sort order; split
across modules, each part would have to reach into the others' arrays.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from classifier.fingerprint import (
    BANDS,
    FINGERPRINT_VERSION,
    NUM_PERM,
    Fingerprints,
    estimate_jaccard,
    fingerprint_many,
    to_signed64,
)
from classifier.neighbours import IndexName, Neighbour

__all__ = [
    "DEFAULT_MAX_BITS",
    "DEFAULT_MIN_SIMILARITY",
    "DecidedAds",
    "FingerprintVersionError",
    "Match",
    "NearDupIndex",
    "clusters",
    "clusters_from_records",
    "fingerprint_record",
    "fingerprint_records",
    "fingerprints_from_records",
    "records_of",
]

#: Simhash distance up to which a text is a near-identical repost (method "simhash"); at most 3.
DEFAULT_MAX_BITS = 3
#: Estimated Jaccard similarity of 3-gram sets from which a text is an edited copy (method "minhash").
DEFAULT_MIN_SIMILARITY = 0.5

_BLOCKS = 4  # simhash tables: 16-bit blocks, so max_bits <= _BLOCKS - 1
_METHODS = ("exact", "simhash", "minhash")  # also the order of preference between equal similarities
_TAIL_MAX = 2048  # unsorted rows searched by brute force before a merge
_QUERY_CHUNK = 8192  # queries handled at once (bounds the candidate arrays)
_U64 = np.uint64
_LOW32 = _U64(0xFFFFFFFF)
_TABLES = np.arange(_BLOCKS)
_SHIFTS = (16 * _TABLES).astype(_U64)
_BANDS_AT = np.arange(BANDS)


class FingerprintVersionError(ValueError):
    """Stored fingerprints were made by another version of classifier.fingerprint."""


class Match(NamedTuple):
    """A stored ad that the queried text copies."""

    ad_id: int
    method: str  # "exact", "simhash" or "minhash"
    distance: int  # simhash: differing bits; minhash: differing bands (of 16); exact: 0
    similarity: float  # estimated Jaccard similarity of 3-gram sets; 1.0 for exact


def fingerprint_records(texts: Sequence[str]) -> list[dict[str, Any]]:
    """Per-ad records to store (for instance in SQLite) and load with ``NearDupIndex.from_records``.

    ``exact`` and ``simhash`` are signed 64-bit integers (SQLite's INTEGER); ``minhash`` is 64 bytes;
    ``simhash`` and ``minhash`` are None for a short text.
    """
    return records_of(fingerprint_many(texts))


def records_of(fps: Fingerprints) -> list[dict[str, Any]]:
    """The records (see :func:`fingerprint_records`) of fingerprints already made."""
    out = []
    for i in range(len(fps)):
        short = bool(fps.short[i])
        out.append(
            {
                "fp_version": FINGERPRINT_VERSION,
                "exact": to_signed64(int(fps.exact[i])),
                "simhash": None if short else to_signed64(int(fps.simhash[i])),
                "minhash": None if short else fps.minhash[i].tobytes(),
            }
        )
    return out


def fingerprint_record(text: str) -> dict[str, Any]:
    """The record of one normalised text (see :func:`fingerprint_records`)."""
    return fingerprint_records([text])[0]


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo[i], hi[i]): the owner i and the position of every element, as flat arrays."""
    lengths = hi - lo
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(lo)), lengths)
    first = np.cumsum(lengths) - lengths
    return owner, np.arange(total) - np.repeat(first - lo, lengths)


def fingerprints_from_records(recs: Sequence[Mapping[str, Any]]) -> Fingerprints:
    """Stored records (:func:`fingerprint_record`) back into fingerprint arrays."""
    versions = {rec.get("fp_version", FINGERPRINT_VERSION) for rec in recs}
    if versions != {FINGERPRINT_VERSION} and versions:
        raise FingerprintVersionError(
            f"fingerprint versions {sorted(versions)} in the records, this code reads version "
            f"{FINGERPRINT_VERSION}: recompute the records with fingerprint_records()"
        )
    sigs = [rec["minhash"] for rec in recs]
    sims = [rec["simhash"] for rec in recs]
    short = np.array([sig is None for sig in sigs], dtype=bool)
    exact = np.zeros(len(recs), np.uint64)
    if short.any():
        exact[short] = np.array([recs[int(i)]["exact"] for i in np.flatnonzero(short)], np.int64).view(np.uint64)
        sigs = [bytes(NUM_PERM) if sig is None else sig for sig in sigs]
        sims = [0 if sim is None else sim for sim in sims]
    sig = np.frombuffer(b"".join(sigs), np.uint8)
    if len(sig) != len(recs) * NUM_PERM:
        raise ValueError(f"a minhash field is not {NUM_PERM} bytes long")
    fps = Fingerprints(
        exact=exact,
        simhash=np.array(sims, np.int64).view(np.uint64),
        minhash=sig.reshape(len(recs), NUM_PERM),
        short=short,
    )
    return fps


class NearDupIndex:
    """Fingerprints of ads with their ids; finds the stored ads that a text repeats or copies."""

    def __init__(self, *, max_bits: int = DEFAULT_MAX_BITS, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> None:
        if not 0 <= max_bits < _BLOCKS:
            raise ValueError(
                f"max_bits={max_bits}: the simhash tables find distances 0..{_BLOCKS - 1}; edited copies "
                "further away are found by MinHash (lower min_similarity instead)"
            )
        if not 0.0 < min_similarity <= 1.0:
            raise ValueError(f"min_similarity={min_similarity}: give a Jaccard similarity in (0, 1]")
        self.max_bits = max_bits
        self.min_similarity = float(min_similarity)
        # rows (long texts): [0, _sorted) are in the tables, [_sorted, _n) are the unsorted tail
        self._n = 0
        self._sorted = 0
        self._dead = 0
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, bool)
        self._sim = np.zeros(0, np.uint64)
        self._sig = np.zeros((0, NUM_PERM), np.uint8)
        # simhash tables: table t lists the sorted rows by block t; offsets[t, v] starts block value v
        self._sim_rows = np.zeros((_BLOCKS, 0), np.uint32)
        self._sim_table = np.zeros((_BLOCKS, 0), np.uint64)  # the simhash of each of those rows
        self._sim_off = np.zeros((_BLOCKS, 65537), np.int64)
        # band tables: band b holds the sorted keys of that band and the row of each key
        self._band_keys = np.zeros((BANDS, 0), np.uint32)
        self._band_rows = np.zeros((BANDS, 0), np.uint32)
        self._id_sorted = np.zeros(0, np.int64)  # ids of sorted rows (dead ones included), ascending
        self._id_row = np.zeros(0, np.int64)
        self._tail_row: dict[int, int] = {}  # id -> row for the tail
        # short texts: exact hash -> ids, and id -> exact hash
        self._exact: dict[int, list[int]] = {}
        self._short: dict[int, int] = {}

    # ---- size and contents -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n - self._dead + len(self._short)

    def __contains__(self, ad_id: object) -> bool:
        return isinstance(ad_id, int | np.integer) and (
            int(ad_id) in self._short or self._row_of(int(ad_id)) is not None
        )

    @property
    def nbytes(self) -> dict[str, int]:
        """Bytes held by the numpy arrays (room for new rows included), by part; the Python dicts of short
        texts and of the tail are not counted."""
        return {
            "rows": self._ids.nbytes + self._alive.nbytes + self._id_sorted.nbytes + self._id_row.nbytes,
            "simhash": self._sim.nbytes + self._sim_rows.nbytes + self._sim_table.nbytes + self._sim_off.nbytes,
            "minhash": self._sig.nbytes + self._band_keys.nbytes + self._band_rows.nbytes,
        }

    def _row_of(self, ad_id: int) -> int | None:
        row = self._tail_row.get(ad_id)
        if row is None:
            i = int(np.searchsorted(self._id_sorted, ad_id))
            if i < len(self._id_sorted) and self._id_sorted[i] == ad_id:
                row = int(self._id_row[i])
        return row if row is not None and self._alive[row] else None

    # ---- adding and removing -----------------------------------------------------------------------

    def add(self, ad_id: int, normalized_text: str) -> None:
        """Store (or replace) the fingerprint of one ad."""
        self.add_many([ad_id], [normalized_text])

    def add_many(self, ad_ids: Sequence[int], normalized_texts: Sequence[str]) -> None:
        """Store (or replace) the fingerprints of many ads; a later duplicate id wins."""
        if len(ad_ids) != len(normalized_texts):
            raise ValueError(f"{len(ad_ids)} ids for {len(normalized_texts)} texts")
        self.add_fingerprints(ad_ids, fingerprint_many(normalized_texts))

    def add_fingerprints(self, ad_ids: Sequence[int] | np.ndarray, fps: Fingerprints) -> None:
        """Store (or replace) already computed fingerprints."""
        ids = np.asarray(ad_ids, dtype=np.int64)
        if len(ids) != len(fps):
            raise ValueError(f"{len(ids)} ids for {len(fps)} fingerprints")
        if len(ids) == 0:
            return
        # last occurrence of each id wins
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        if len(keep) < len(ids):
            ids = ids[keep]
            fps = Fingerprints(fps.exact[keep], fps.simhash[keep], fps.minhash[keep], fps.short[keep])
        self._discard(ids)
        for i in np.flatnonzero(fps.short):
            ad_id, h = int(ids[i]), int(fps.exact[i])
            self._short[ad_id] = h
            self._exact.setdefault(h, []).append(ad_id)
        long_ = ~fps.short
        self._append(ids[long_], fps.simhash[long_], fps.minhash[long_])

    def remove(self, ad_id: int) -> bool:
        """Forget one ad (a reviewer's reversal). True when it was there."""
        return bool(self._discard(np.array([ad_id], np.int64)))

    def _discard(self, ids: np.ndarray) -> int:
        """Remove these ids wherever they are; return how many were present."""
        found = 0
        if self._short:
            for ad_id in ids.tolist():
                h = self._short.pop(ad_id, None)
                if h is not None:
                    found += 1
                    self._exact[h].remove(ad_id)
                    if not self._exact[h]:
                        del self._exact[h]
        rows = []
        if self._tail_row:
            rows += [r for r in (self._tail_row.pop(i, None) for i in ids.tolist()) if r is not None]
        if len(self._id_sorted):
            pos = np.searchsorted(self._id_sorted, ids).clip(0, len(self._id_sorted) - 1)
            hit = self._id_sorted[pos] == ids
            rows += self._id_row[pos[hit]].tolist()
        if rows:
            r = np.array(rows, np.int64)
            r = r[self._alive[r]]
            self._alive[r] = False
            self._dead += len(r)
            found += len(r)
        return found

    def _append(self, ids: np.ndarray, sims: np.ndarray, sigs: np.ndarray) -> None:
        n, k = self._n, len(ids)
        if k == 0:
            return
        if n + k > len(self._ids):
            # grow by an eighth (the signatures dominate memory), and leave room after a bulk load
            cap = max(n + k + (n + k) // 64 + 1024, n + n // 8 + 1024)
            self._ids = np.resize(self._ids, cap)
            self._alive = np.resize(self._alive, cap)
            self._sim = np.resize(self._sim, cap)
            sig = np.zeros((cap, NUM_PERM), np.uint8)
            sig[:n] = self._sig[:n]
            self._sig = sig
        self._ids[n : n + k] = ids
        self._alive[n : n + k] = True
        self._sim[n : n + k] = sims
        self._sig[n : n + k] = sigs
        self._n = n + k
        if self._n - self._sorted > _TAIL_MAX:
            self._merge()
        else:
            self._tail_row.update(zip(ids.tolist(), range(n, n + k), strict=True))

    # ---- the sorted tables -------------------------------------------------------------------------

    def _merge(self) -> None:
        """Move the tail into the sorted tables (a full rebuild when the tail is large or many are dead)."""
        tail = self._n - self._sorted
        if tail == 0 and self._dead * 2 <= self._n:
            return
        if self._sorted == 0 or tail * 8 > self._sorted or self._dead * 2 > self._n:
            self._rebuild()
            return
        lo, hi = self._sorted, self._n
        new_rows = np.arange(lo, hi, dtype=np.uint32)
        sim_rows = np.empty((_BLOCKS, hi), np.uint32)
        sim_table = np.empty((_BLOCKS, hi), np.uint64)
        for t in range(_BLOCKS):
            block = ((self._sim[lo:hi] >> _U64(16 * t)) & _U64(0xFFFF)).astype(np.int64)
            order = np.argsort(block, kind="stable")
            off = self._sim_off[t]
            at = off[block[order] + 1]
            sim_rows[t] = np.insert(self._sim_rows[t], at, new_rows[order])
            sim_table[t] = np.insert(self._sim_table[t], at, self._sim[lo:hi][order])
            off[1:] += np.cumsum(np.bincount(block, minlength=65536))
        self._sim_rows, self._sim_table = sim_rows, sim_table
        keys = self._sig[lo:hi].view("<u4")
        band_keys = np.empty((BANDS, hi), np.uint32)
        band_rows = np.empty((BANDS, hi), np.uint32)
        for b in range(BANDS):
            order = np.argsort(keys[:, b], kind="stable")
            at = np.searchsorted(self._band_keys[b], keys[order, b], side="right")
            band_keys[b] = np.insert(self._band_keys[b], at, keys[order, b])
            band_rows[b] = np.insert(self._band_rows[b], at, new_rows[order])
        self._band_keys, self._band_rows = band_keys, band_rows
        live = self._alive[self._id_row]  # drop ids of rows removed since: an id may come back in the tail
        if not live.all():
            self._id_sorted, self._id_row = self._id_sorted[live], self._id_row[live]
        ids = self._ids[lo:hi]
        order = np.argsort(ids, kind="stable")
        at = np.searchsorted(self._id_sorted, ids[order], side="right")
        self._id_sorted = np.insert(self._id_sorted, at, ids[order])
        self._id_row = np.insert(self._id_row, at, np.arange(lo, hi, dtype=np.int64)[order])
        self._sorted = hi
        self._tail_row.clear()

    def _rebuild(self) -> None:
        """Drop dead rows and sort every table from scratch."""
        if self._dead:
            keep = np.flatnonzero(self._alive[: self._n])
            n = len(keep)
            self._ids[:n], self._sim[:n], self._sig[:n] = self._ids[keep], self._sim[keep], self._sig[keep]
            self._alive[:n], self._alive[n:] = True, False
            self._n, self._dead = n, 0
        n = self._sorted = self._n
        self._tail_row.clear()
        ids, sim, keys = self._ids[:n], self._sim[:n], self._sig[:n].view("<u4")
        self._sim_rows = np.empty((_BLOCKS, n), np.uint32)
        self._sim_table = np.empty((_BLOCKS, n), np.uint64)
        self._sim_off = np.zeros((_BLOCKS, 65537), np.int64)
        for t in range(_BLOCKS):
            block = ((sim >> _U64(16 * t)) & _U64(0xFFFF)).astype(np.uint16)
            self._sim_rows[t] = np.argsort(block, kind="stable")
            np.take(sim, self._sim_rows[t], out=self._sim_table[t])
            np.cumsum(np.bincount(block, minlength=65536), out=self._sim_off[t, 1:])
        # each band: sort (key << 32 | row) in one buffer reused for every band (fresh memory is slow)
        rows = np.arange(n, dtype=_U64)
        packed, half = np.empty(n, _U64), np.empty(n, _U64)
        self._band_keys = np.empty((BANDS, n), np.uint32)
        self._band_rows = np.empty((BANDS, n), np.uint32)
        for b in range(BANDS):
            np.copyto(packed, keys[:, b])
            packed <<= _U64(32)
            packed |= rows
            packed.sort()
            np.right_shift(packed, _U64(32), out=half)
            np.copyto(self._band_keys[b], half, casting="unsafe")
            np.bitwise_and(packed, _LOW32, out=half)
            np.copyto(self._band_rows[b], half, casting="unsafe")
        self._id_row = np.argsort(ids, kind="stable")
        self._id_sorted = ids[self._id_row]

    # ---- queries -----------------------------------------------------------------------------------

    def query(self, normalized_text: str, limit: int = 3) -> list[Match]:
        """Stored ads that this text repeats or copies, closest first (at most ``limit``)."""
        return self.query_many([normalized_text], limit=limit)[0]

    def query_many(self, normalized_texts: Sequence[str], limit: int = 3) -> list[list[Match]]:
        """:meth:`query` for many texts at once (much faster per text)."""
        return self.query_fingerprints(fingerprint_many(normalized_texts), limit=limit)

    def query_fingerprints(self, fps: Fingerprints, limit: int | None = 3) -> list[list[Match]]:
        """:meth:`query_many` on fingerprints already computed (``limit=None``: every match)."""
        out: list[list[Match]] = [[] for _ in range(len(fps))]
        q, row, method, distance, similarity = self.match_arrays(fps, limit=limit)
        ids = self._ids[row].tolist()
        for qi, ad_id, m, d, s in zip(
            q.tolist(), ids, method.tolist(), distance.tolist(), similarity.tolist(), strict=True
        ):
            out[qi].append(Match(ad_id, _METHODS[m], d, s))
        for i in np.flatnonzero(fps.short):
            found = self._exact.get(int(fps.exact[i]), [])
            out[i] = [Match(ad_id, "exact", 0, 1.0) for ad_id in sorted(found)[:limit]]
        return out

    def match_arrays(
        self, fps: Fingerprints, limit: int | None = 3
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Matches of the long texts among ``fps`` as arrays, ordered by query then closest first.

        Returns (query index, row, method code into ("exact", "simhash", "minhash"), distance,
        similarity); ``self.ids_of(row)`` gives the ad ids. Short texts are not looked up here.
        """
        self._merge_if_needed(len(fps))
        parts = []
        long_idx = np.flatnonzero(~fps.short)
        for start in range(0, len(long_idx), _QUERY_CHUNK):
            chunk = long_idx[start : start + _QUERY_CHUNK]
            q, *rest = self._match_chunk(fps.simhash[chunk], fps.minhash[chunk], limit)
            parts.append((chunk[q], *rest))
        if not parts:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, empty, np.zeros(0)
        q, row, method, distance, similarity = (np.concatenate(p) for p in zip(*parts, strict=True))
        return q, row, method, distance, similarity

    def ids_of(self, rows: np.ndarray) -> np.ndarray:
        """Ad ids of rows returned by :meth:`match_arrays`."""
        return self._ids[rows]

    def _merge_if_needed(self, queries: int) -> None:
        tail = self._n - self._sorted
        # brute force over the tail costs queries x tail; a merge costs a pass over the tables
        if self._dead * 2 > self._n or tail * queries > 1 << 21:
            self._merge()

    def _match_chunk(self, qsim: np.ndarray, qsig: np.ndarray, limit: int | None) -> tuple[np.ndarray, ...]:
        if len(qsim) == 1:
            q, row = self._candidates_one(qsim, qsig)
        else:
            q, row = self._candidates(qsim, qsig)
        return self._verify(q, row, qsim, qsig, limit)

    def _candidates(self, qsim: np.ndarray, qsig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query, row) pairs sharing a simhash block within max_bits, or a MinHash band; with repeats."""
        nq = len(qsim)
        qkeys = qsig.view("<u4")
        owner, rows = self._tail_candidates(qsim, qsig)
        cand_q, cand_row = [owner], [rows]
        # near-identical: one of the four 16-bit blocks must agree
        m = self._sim_rows.shape[1]
        if m:
            block = ((qsim[:, None] >> _SHIFTS) & _U64(0xFFFF)).astype(np.int64)
            owner, pos = _expand(self._sim_off[_TABLES, block].ravel(), self._sim_off[_TABLES, block + 1].ravel())
            q, table = np.divmod(owner, _BLOCKS)
            at = table * m + pos
            near = np.bitwise_count(self._sim_table.ravel()[at] ^ qsim[q]) <= self.max_bits
            cand_q.append(q[near])
            cand_row.append(self._sim_rows.ravel()[at[near]])
        # edited copies: one of the sixteen bands must agree
        m = self._band_keys.shape[1]
        if m:
            first = np.empty((nq, BANDS), np.int64)
            for b in range(BANDS):
                if nq > 64:  # sorted needles make searchsorted much faster
                    order = np.argsort(qkeys[:, b])
                    first[order, b] = self._band_keys[b].searchsorted(qkeys[order, b])
                else:
                    first[:, b] = self._band_keys[b].searchsorted(qkeys[:, b])
            # first == m: the needle is above every key, and so differs from the last one
            hit = self._band_keys.ravel()[(first.clip(max=m - 1) + _BANDS_AT * m)] == qkeys
            q, band = np.nonzero(hit)
            if len(q):
                start = first[q, band]
                last = start + 1
                # several ads may share a key: where the next key is the same, find where the run ends
                after = np.minimum(last, m - 1) + band * m
                run = (last < m) & (self._band_keys.ravel()[after] == qkeys[q, band])
                for b in np.unique(band[run]).tolist():
                    on = run & (band == b)
                    last[on] = self._band_keys[b].searchsorted(qkeys[q[on], b], side="right")
                owner, pos = _expand(start, last)
                cand_q.append(q[owner])
                cand_row.append(self._band_rows.ravel()[band[owner] * m + pos])
        return np.concatenate(cand_q).astype(np.int64), np.concatenate(cand_row).astype(np.int64)

    def _candidates_one(self, qsim: np.ndarray, qsig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_candidates` for one query, with scalar lookups (far fewer numpy calls)."""
        found = [self._tail_candidates(qsim, qsig)[1]]
        sim = int(qsim[0])
        m = self._sim_rows.shape[1]
        if m:
            for t in range(_BLOCKS):
                block = (sim >> (16 * t)) & 0xFFFF
                lo, hi = int(self._sim_off[t, block]), int(self._sim_off[t, block + 1])
                near = np.bitwise_count(self._sim_table[t, lo:hi] ^ qsim[0]) <= self.max_bits
                found.append(self._sim_rows[t, lo:hi][near])
        m = self._band_keys.shape[1]
        if m:
            # needles of the table's dtype: a Python int would make searchsorted convert the whole table
            for b, key in enumerate(qsig.view("<u4")[0]):
                keys = self._band_keys[b]
                i = int(keys.searchsorted(key))
                if i < m and keys[i] == key:
                    found.append(self._band_rows[b, i : int(keys.searchsorted(key, side="right"))])
        row = np.concatenate(found).astype(np.int64)
        return np.zeros(len(row), np.int64), row

    def _tail_candidates(self, qsim: np.ndarray, qsig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates among the unsorted tail, by brute force."""
        lo, hi = self._sorted, self._n
        if hi == lo:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hit = np.bitwise_count(qsim[:, None] ^ self._sim[None, lo:hi]) <= self.max_bits
        hit |= (qsig.view("<u4")[:, None, :] == self._sig[lo:hi].view("<u4")[None, :, :]).any(axis=2)
        owner, rows = np.nonzero(hit)
        return owner, rows + lo

    def _verify(
        self, q: np.ndarray, row: np.ndarray, qsim: np.ndarray, qsig: np.ndarray, limit: int | None
    ) -> tuple[np.ndarray, ...]:
        """Keep the candidates close enough on their whole fingerprint, once each, closest first."""
        live = self._alive[row]
        q, row = q[live], row[live]
        # verify before removing repeats: few candidates pass
        bits = np.bitwise_count(self._sim[row] ^ qsim[q]).astype(np.int64)
        sig = self._sig[row]
        same_bytes = (sig == qsig[q]).sum(axis=1)
        same_bands = (sig.view("<u4") == qsig.view("<u4")[q]).sum(axis=1)
        similarity = np.asarray(estimate_jaccard(same_bytes))
        is_near = bits <= self.max_bits
        keep = is_near | (similarity >= self.min_similarity)
        q, row, bits, same_bands, similarity, is_near = (
            a[keep] for a in (q, row, bits, same_bands, similarity, is_near)
        )
        _, once = np.unique((q.astype(_U64) << _U64(32)) | row.astype(_U64), return_index=True)
        q, row, bits, same_bands, similarity, is_near = (
            a[once] for a in (q, row, bits, same_bands, similarity, is_near)
        )
        method = np.where(is_near, 1, 2)
        distance = np.where(is_near, bits, BANDS - same_bands)
        # closest first: similarity, then method (simhash before minhash), distance, ad id
        order = np.lexsort((self._ids[row], distance, method, -similarity, q))
        q, row, method, distance, similarity = (a[order] for a in (q, row, method, distance, similarity))
        if limit is not None and len(q):
            first = np.searchsorted(q, q, side="left")
            top = np.arange(len(q)) - first < limit
            q, row, method, distance, similarity = (a[top] for a in (q, row, method, distance, similarity))
        return q, row, method, distance, similarity

    # ---- persistence -------------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        *,
        max_bits: int = DEFAULT_MAX_BITS,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> NearDupIndex:
        """An index from stored records: mappings with ``ad_id`` and the fields of
        :func:`fingerprint_record` (database rows), or ``(ad_id, record)`` pairs; all of one kind."""
        rows = records if isinstance(records, list) else list(records)
        if rows and isinstance(rows[0], tuple):
            ids = [ad_id for ad_id, _ in rows]
            recs = [rec for _, rec in rows]
        else:
            ids = [rec["ad_id"] for rec in rows]  # type: ignore[call-overload]
            recs = rows
        fps = fingerprints_from_records(recs)  # type: ignore[arg-type]
        index = cls(max_bits=max_bits, min_similarity=min_similarity)
        index.add_fingerprints(np.array(ids, np.int64), fps)
        index._merge()
        return index

    def records(self) -> Iterable[tuple[int, dict[str, Any]]]:
        """``(ad_id, record)`` for every stored ad, as :func:`fingerprint_record` makes them."""
        for row in np.flatnonzero(self._alive[: self._n]).tolist():
            yield (
                int(self._ids[row]),
                {
                    "fp_version": FINGERPRINT_VERSION,
                    "exact": None,
                    "simhash": to_signed64(int(self._sim[row])),
                    "minhash": self._sig[row].tobytes(),
                },
            )
        for ad_id, h in self._short.items():
            yield ad_id, {"fp_version": FINGERPRINT_VERSION, "exact": to_signed64(h), "simhash": None, "minhash": None}

    def to_bytes(self) -> bytes:
        """The whole index as bytes (numpy .npz, no pickle); :meth:`from_bytes` reads it back."""
        live = np.flatnonzero(self._alive[: self._n])
        buf = io.BytesIO()
        np.savez(
            buf,
            header=np.array([FINGERPRINT_VERSION, self.max_bits, round(self.min_similarity * 1e6)], np.int64),
            ids=self._ids[live],
            simhash=self._sim[live],
            minhash=self._sig[live],
            short_ids=np.array(list(self._short), np.int64),
            short_exact=np.array(list(self._short.values()), np.uint64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> NearDupIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            version, max_bits, sim_micro = z["header"].tolist()
            if version != FINGERPRINT_VERSION:
                raise FingerprintVersionError(
                    f"saved index has fingerprint version {version}, this code reads version "
                    f"{FINGERPRINT_VERSION}: rebuild it from the ads' texts"
                )
            index = cls(max_bits=max_bits, min_similarity=sim_micro / 1e6)
            ids, short_ids = z["ids"], z["short_ids"]
            n, s = len(ids), len(short_ids)
            fps = Fingerprints(
                exact=np.concatenate([np.zeros(n, _U64), z["short_exact"]]),
                simhash=np.concatenate([z["simhash"], np.zeros(s, _U64)]),
                minhash=np.concatenate([z["minhash"], np.zeros((s, NUM_PERM), np.uint8)]),
                short=np.concatenate([np.zeros(n, bool), np.ones(s, bool)]),
            )
        index.add_fingerprints(np.concatenate([ids, short_ids]), fps)
        index._merge()
        return index


class DecidedAds:
    """The ads reviewers decided: a ``confirmed`` and a ``rejected`` index (a ``NeighbourSource``)."""

    def __init__(self, *, max_bits: int = DEFAULT_MAX_BITS, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> None:
        self.confirmed = NearDupIndex(max_bits=max_bits, min_similarity=min_similarity)
        self.rejected = NearDupIndex(max_bits=max_bits, min_similarity=min_similarity)

    def __len__(self) -> int:
        return len(self.confirmed) + len(self.rejected)

    def confirm(self, ad_id: int, normalized_text: str) -> None:
        """A reviewer confirmed this ad: its copies now score as near-duplicates of it."""
        self.rejected.remove(ad_id)
        self.confirmed.add(ad_id, normalized_text)

    def reject(self, ad_id: int, normalized_text: str) -> None:
        """A reviewer rejected this ad (not illegal): its look-alikes lose score."""
        self.confirmed.remove(ad_id)
        self.rejected.add(ad_id, normalized_text)

    def forget(self, ad_id: int) -> bool:
        """Drop a decision (reversed without a new one). True when the ad was in either index."""
        return self.confirmed.remove(ad_id) | self.rejected.remove(ad_id)

    def nearest(
        self, normalized_text: str, *, limit: int = 3, fingerprints: Fingerprints | None = None
    ) -> list[Neighbour]:
        """Nearest decided ads, closest first; empty when none is near enough (``fingerprints``: the text's,
        when the caller made it already)."""
        if fingerprints is None:
            fingerprints = fingerprint_many([normalized_text])
        return self.nearest_fingerprints(fingerprints, limit=limit)[0]

    def nearest_many(self, normalized_texts: Sequence[str], *, limit: int = 3) -> list[list[Neighbour]]:
        """:meth:`nearest` for many texts, fingerprinting each text once."""
        return self.nearest_fingerprints(fingerprint_many(normalized_texts), limit=limit)

    def nearest_fingerprints(self, fps: Fingerprints, *, limit: int = 3) -> list[list[Neighbour]]:
        """:meth:`nearest_many` for texts fingerprinted already (``fingerprint_many``)."""
        if not len(self.confirmed) and not len(self.rejected):
            return [[] for _ in range(len(fps))]
        indexes: tuple[tuple[IndexName, NearDupIndex], ...] = (
            ("confirmed", self.confirmed),
            ("rejected", self.rejected),
        )
        found = [(name, index.query_fingerprints(fps, limit=limit)) for name, index in indexes]
        out = []
        for i in range(len(fps)):
            both = [
                Neighbour(m.ad_id, name, m.method, m.distance, m.similarity)
                for name, matches in found
                for m in matches[i]
            ]
            both.sort(key=lambda n: (-n.similarity, _METHODS.index(n.method), n.distance, n.index, n.ad_id))
            out.append(both[:limit])
        return out

    @classmethod
    def from_records(
        cls,
        confirmed: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        rejected: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        *,
        max_bits: int = DEFAULT_MAX_BITS,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> DecidedAds:
        ads = cls(max_bits=max_bits, min_similarity=min_similarity)
        ads.confirmed = NearDupIndex.from_records(confirmed, max_bits=max_bits, min_similarity=min_similarity)
        ads.rejected = NearDupIndex.from_records(rejected, max_bits=max_bits, min_similarity=min_similarity)
        return ads


def clusters(
    ad_ids: Sequence[int],
    normalized_texts: Sequence[str],
    *,
    max_bits: int = DEFAULT_MAX_BITS,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> dict[int, int]:
    """Group near-duplicates: ``{ad_id: cluster_id}`` where cluster_id is the smallest ad id of the group.

    Two ads are in one cluster when a chain of matches (exact, simhash or minhash, as ``NearDupIndex``
    decides them) joins them. Every ad is in the result; an ad with no copy is its own cluster.
    """
    return _clusters(ad_ids, fingerprint_many(normalized_texts), max_bits=max_bits, min_similarity=min_similarity)


def clusters_from_records(
    ad_ids: Sequence[int],
    records: Sequence[Mapping[str, Any]],
    *,
    max_bits: int = DEFAULT_MAX_BITS,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> dict[int, int]:
    """:func:`clusters` from stored fingerprint records instead of texts."""
    return _clusters(ad_ids, fingerprints_from_records(records), max_bits=max_bits, min_similarity=min_similarity)


def _clusters(ad_ids: Sequence[int], fps: Fingerprints, *, max_bits: int, min_similarity: float) -> dict[int, int]:
    ids = np.asarray(ad_ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("clusters() needs distinct ad ids")
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    fps = Fingerprints(fps.exact[order], fps.simhash[order], fps.minhash[order], fps.short[order])
    n = len(ids)
    # position of each ad once sorted by id, so that the smallest position of a group is its smallest id
    pos_of_row = np.flatnonzero(~fps.short)
    index = NearDupIndex(max_bits=max_bits, min_similarity=min_similarity)
    index.add_fingerprints(ids, fps)
    index._merge()
    # rows of the index were appended in id order, so a row number maps to pos_of_row[row]
    q, row, *_ = index.match_arrays(fps, limit=None)
    a, b = q, pos_of_row[row]
    short = np.flatnonzero(fps.short)
    if len(short):  # equal exact hashes among short texts
        hashes = fps.exact[short]
        by_hash = np.argsort(hashes, kind="stable")
        same = hashes[by_hash][1:] == hashes[by_hash][:-1]
        a = np.concatenate([a, short[by_hash][1:][same]])
        b = np.concatenate([b, short[by_hash][:-1][same]])
    label = np.arange(n)
    while True:  # min-label propagation with pointer jumping until every edge agrees
        np.minimum.at(label, a, label[b])
        np.minimum.at(label, b, label[a])
        label = label[label]
        if np.array_equal(label[a], label[b]):
            break
    label = label[label]
    cluster_of = dict(zip(ids.tolist(), ids[label].tolist(), strict=True))
    return {int(ad_id): cluster_of[int(ad_id)] for ad_id in np.asarray(ad_ids).tolist()}
