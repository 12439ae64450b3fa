"""How well a picture was read, for tests/test_images.py and benchmarks/bench_images.py alike."""

from __future__ import annotations


def char_accuracy(ref: str, hyp: str) -> float:
    """1 - the edit distance over the reference's length, spaces ignored (as OCR benchmarks count); 0 at worst."""
    ref, hyp = ref.replace(" ", ""), hyp.replace(" ", "")
    prev = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        cur = [i]
        for j, b in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return max(0.0, 1 - prev[-1] / max(1, len(ref)))
