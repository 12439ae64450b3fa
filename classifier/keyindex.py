"""Which rule patterns can match a text: patterns indexed by the short strings every match holds.

The rule engine (``classifier.engine``) runs a pattern only on a text that holds one of its keys
(``classifier.prefilter`` finds them when a rule pack is loaded). This index answers "which patterns?" for a
text with a few numpy operations, whatever the number of rules.
"""

from __future__ import annotations

import sys

import numpy as np

from classifier import prefilter

__all__ = ["KeyIndex", "Probe"]

# What the index found in one text: the ids of the key characters it holds (repeated as often as they occur),
# and the slots of its key bigrams.
Probe = tuple[list[int], set[int]]


class KeyIndex:
    """Patterns by what a text must hold for them to match, looked up with a few numpy operations per text.

    A one-character key (or a first character of a pattern without keys) gets a small id, from a table over
    all code points. A longer key is found by one of its bigrams, its rarest (``prefilter.char_frequency``):
    the characters of these bigrams get ids from a second table, and a table over all pairs of those ids
    gives each key bigram a slot, so a text's 199 bigrams are looked up at once and only the slots come back
    to Python (a key of three characters is then checked with ``in``). Patterns are sets of bits.
    """

    def __init__(self, phases: int = 1) -> None:
        self.phases = phases
        self._entries: list[tuple[int, int, frozenset[str] | None, frozenset[str] | None]] = []
        # made by finish():
        self._wide = False  # some key character lies outside the Basic Multilingual Plane
        self._encoding, self._unit = "utf-16-le", "<u2"
        self.single_id = np.zeros(0, dtype=np.uint16)  # code point -> id of a one-character key (0: none)
        self.n_single = 0
        self.pair_id = np.zeros(0, dtype=np.int32)  # code point -> id in key bigrams (0: none)
        self.width = 0  # number of pair ids + 1
        self.pair_slot = np.zeros(0, dtype=np.int32)  # pair id * width + pair id -> slot (0: no key bigram)
        self.n_slots = 0
        self.char_bits: list[list[int]] = []  # per phase, per single id: patterns (bits) with that key
        self.slot_bits: list[list[int]] = []  # per phase, per slot: patterns whose two-character key it is
        self.slot_longer: list[list[list[tuple[str, int]]]] = []  # per phase, per slot: (longer key, bits)
        self.always: list[list[tuple[int, int]]] = []  # per phase: (pattern bit, bits of its first chars; -1: any)

    def add(self, i: int, phase: int, keys: frozenset[str] | None, first_chars: frozenset[str] | None) -> None:
        self._entries.append((i, phase, keys, first_chars))

    @staticmethod
    def _bigram(key: str) -> str:
        """The rarest pair of adjacent characters of ``key``."""
        pairs = [key[j : j + 2] for j in range(len(key) - 1)]
        return min(pairs, key=lambda b: prefilter.char_frequency(b[0]) * prefilter.char_frequency(b[1]))

    def _table(self, chars: set[str], dtype: type) -> tuple[np.ndarray, dict[str, int]]:
        ids = {ch: n for n, ch in enumerate(sorted(chars), start=1)}
        if len(ids) >= 2**15:  # pragma: no cover - a rule pack of tens of thousands of characters
            raise ValueError(f"the rule pack's keys use {len(ids)} distinct characters; the index allows 32,767")
        table: np.ndarray = np.zeros(sys.maxunicode + 1 if self._wide else 0x10000, dtype=dtype)
        if ids:
            table[[ord(ch) for ch in ids]] = list(ids.values())
        return table, ids

    def finish(self) -> None:
        """Build the tables; called once every pattern is added."""
        singles: set[str] = set()
        bigrams: set[str] = set()
        for _i, _phase, keys, first in self._entries:
            if keys is None:
                singles.update(first or ())
            else:
                singles.update(k for k in keys if len(k) == 1)
                bigrams.update(self._bigram(k) for k in keys if len(k) > 1)
        # Keys within the Basic Multilingual Plane (the shipped pack's are): texts are read as UTF-16, so the
        # tables span 64 Ki code points and stay in the processor's cache. A character outside it is then two
        # surrogates with id 0, which is what it would have had anyway: no key uses it.
        self._wide = any(ord(ch) > 0xFFFF for ch in singles | set("".join(bigrams)))
        self._encoding, self._unit = ("utf-32-le", "<u4") if self._wide else ("utf-16-le", "<u2")
        self.single_id, sid = self._table(singles, np.uint16)
        self.n_single = len(sid)
        self.pair_id, pid = self._table(set("".join(bigrams)), np.int32)
        self.width = width = len(pid) + 1
        slots = {b: n for n, b in enumerate(sorted(bigrams), start=1)}
        self.n_slots = len(slots)
        if width > 4096:  # pragma: no cover - the shipped pack's bigrams use under 800 characters
            raise ValueError(f"the rule pack's keys use {width - 1} characters in bigrams; the index allows 4,095")
        self.pair_slot = np.zeros(width * width, dtype=np.uint16 if len(slots) < 2**16 else np.int32)
        for b, n in slots.items():
            self.pair_slot[pid[b[0]] * width + pid[b[1]]] = n
        self.char_bits = [[0] * (self.n_single + 1) for _ in range(self.phases)]
        self.slot_bits = [[0] * (self.n_slots + 1) for _ in range(self.phases)]
        self.slot_longer = [[[] for _ in range(self.n_slots + 1)] for _ in range(self.phases)]
        self.always = [[] for _ in range(self.phases)]
        longer: list[dict[str, int]] = [{} for _ in range(self.phases)]
        for i, phase, keys, first in self._entries:
            bit = 1 << i
            if keys is None:
                first_bits = -1 if first is None else sum(1 << sid[c] for c in first)
                self.always[phase].append((bit, first_bits))
                continue
            for key in keys:
                if len(key) == 1:
                    self.char_bits[phase][sid[key]] |= bit
                elif len(key) == 2:
                    self.slot_bits[phase][slots[key]] |= bit
                else:
                    longer[phase][key] = longer[phase].get(key, 0) | bit
        for phase in range(self.phases):
            for key, bits in sorted(longer[phase].items()):
                self.slot_longer[phase][slots[self._bigram(key)]].append((key, bits))

    def probe(self, text: str) -> Probe:
        # numpy's per-call cost dominates on 200 characters: masks and tolist() beat bincount and unique here
        cps = np.frombuffer(text.encode(self._encoding, "surrogatepass"), dtype=self._unit)
        single = self.single_id[cps]
        chars = single[single != 0].tolist()
        if len(cps) < 2:
            return chars, set()
        c = self.pair_id[cps]
        found = self.pair_slot[c[:-1] * self.width + c[1:]]
        return chars, set(found[found != 0].tolist())

    def candidates(self, text: str, probe: Probe, phase: int) -> list[int]:
        chars, slots = probe
        bits = 0
        char_bits, slot_bits, slot_longer = self.char_bits[phase], self.slot_bits[phase], self.slot_longer[phase]
        for cid in chars:
            bits |= char_bits[cid]
        for slot in slots:
            bits |= slot_bits[slot]
            for key, key_bits in slot_longer[slot]:
                if key in text:
                    bits |= key_bits
        if self.always[phase]:
            held = sum(1 << cid for cid in chars)
            for bit, first_bits in self.always[phase]:
                if first_bits < 0 or first_bits & held:
                    bits |= bit
        out = []
        while bits:
            low = bits & -bits
            out.append(low.bit_length() - 1)
            bits ^= low
        return out
