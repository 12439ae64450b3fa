"""Rule hits as highlighted text, built without ever trusting the text.

The ad's title and text are cut into segments at every hit boundary; each segment knows which hits cover it.
Templates print each segment through Jinja's autoescape inside a ``<mark>``: no HTML from the ad survives, and
no ``|safe`` is needed. A hit whose span does not hold its matched words (the ad changed since it was
classified) is reported and not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Segment", "numbered_hits", "segments"]


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hits: tuple[int, ...]  # numbers (1-based) of the hits covering it
    kinds: tuple[str, ...]  # their kinds: category, signal, exculpatory
    ends: tuple[int, ...] = ()  # the hits that end with this segment (their numbers are shown there)

    @property
    def css(self) -> str:
        if not self.hits:
            return ""
        if "category" in self.kinds:
            return "hit hit-category"
        if "signal" in self.kinds:
            return "hit hit-signal"
        return "hit hit-exculpatory"


def numbered_hits(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hits with a number (1-based, as in the explanation table)."""
    return [{**hit, "n": n} for n, hit in enumerate(hits, 1)]


def segments(text: str, hits: list[dict[str, Any]], field: str) -> tuple[list[Segment], list[int]]:
    """``text`` cut at the boundaries of the hits on ``field``; also the numbers of hits that do not fit."""
    spans: list[tuple[int, int, int, str]] = []
    stale: list[int] = []
    for hit in hits:
        if hit.get("field", "text") != field:
            continue
        start, end = int(hit.get("start", -1)), int(hit.get("end", -1))
        if not (0 <= start < end <= len(text)) or text[start:end] != hit.get("matched"):
            stale.append(hit["n"])
            continue
        spans.append((start, end, hit["n"], hit.get("kind", "")))
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [(n, kind, e) for s, e, n, kind in spans if s <= a and b <= e]
        out.append(
            Segment(
                text[a:b],
                tuple(n for n, _, _ in covering),
                tuple(k for _, k, _ in covering),
                tuple(n for n, _, e in covering if e == b),
            )
        )
    return out, stale
