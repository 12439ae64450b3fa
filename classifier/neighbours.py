"""What the classifier needs to know about ads already decided by reviewers.

The near-duplicate indexes (confirmed ads, rejected ads) live outside the rule engine; the engine only asks
a ``NeighbourSource`` for the nearest decided ads to a text and turns the answer into score and explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from classifier.normalize import normalize

if TYPE_CHECKING:  # classifier.fingerprint imports nothing of this module; the name is for the annotation only
    from classifier.fingerprint import Fingerprints

__all__ = ["Neighbour", "NeighbourSource", "comparable_text"]

IndexName = Literal["confirmed", "rejected"]


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A decided ad that resembles the text being classified."""

    ad_id: int
    index: IndexName  # which index it was found in
    method: str  # "exact", "simhash" or "minhash": how it was matched
    distance: int  # Hamming distance in bits for simhash, 0 for exact, differing hash bands for minhash
    similarity: float  # estimated similarity, 0..1 (1.0 for an exact match)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ad_id": self.ad_id,
            "index": self.index,
            "method": self.method,
            "distance": self.distance,
            "similarity": round(self.similarity, 3),
        }


class NeighbourSource(Protocol):
    """Anything that can answer: which decided ads does this (normalised) text resemble?"""

    def nearest(
        self, normalized_text: str, *, limit: int = 3, fingerprints: Fingerprints | None = None
    ) -> list[Neighbour]:
        """Nearest decided ads, closest first; empty when none is near enough. ``fingerprints``: the text's
        fingerprint (``fingerprint_many([normalized_text])``), made by the classifier, which keeps it in the
        verdict; a source may use it instead of fingerprinting the text again."""
        ...


def comparable_text(text: str, title: str = "") -> str:
    """What near-duplicates are compared on: the normalised title, a newline, the normalised text.

    The same string the classifier hands to ``NeighbourSource.nearest`` (``Classifier.hits`` builds it from
    the fields it normalises anyway): fingerprints stored for an ad must be made from it.
    """
    body = normalize(text).text
    return f"{normalize(title).text}\n{body}" if title else body
