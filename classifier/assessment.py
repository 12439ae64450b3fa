"""What the rules and the model say of one ad before the decided ads are asked: ``Assessment``.

``Classifier.classify`` is ``Classifier.conclude(Classifier.assess(text))``: the assessment (rule hits, score,
the model's part) needs only the text, the conclusion (near-duplicates of confirmed and rejected ads) needs the
decided ads, which live in one database. A crawler node of a distributed crawl has the text and CPU to spare;
the one ingest writer has the database and none to spare: the node assesses and sends the assessment in the
ad's stream entry, and the writer concludes (``crawler.ingest``). ``to_dict``/``from_dict`` carry it as JSON,
``pack``/``unpack`` as compressed bytes; both raise ``ValueError`` on anything they cannot read back as written.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.contacts import Contact
from classifier.fingerprint import FINGERPRINT_VERSION, NUM_PERM, Fingerprints
from classifier.verdict import Hit

__all__ = ["Assessment", "RulesOutcome"]


@dataclass(slots=True)
class RulesOutcome:
    """The rule pack's findings on one ad, before the model and the neighbours."""

    hits: list[Hit]
    whole: str  # the normalised title and text, as the model and the neighbours read them
    score: float
    label: str
    totals: dict[str, float]  # per scoring group, uncapped
    requirement: bool  # flag_requires_any is met
    exculpatory: float
    categories: list[str]
    cues: dict[str, float]  # weight found per signal and exculpatory cue (each rule once)


@dataclass(slots=True)
class Assessment:
    """The rules' outcome and the model's part of a verdict, from the classifier ``version`` that made them:
    only that same classifier may conclude it (``Classifier.conclude``)."""

    version: str
    outcome: RulesOutcome
    label: str  # with the model, before the neighbours
    model: dict[str, Any]  # Verdict.model
    # the fingerprint of ``outcome.whole`` (``fingerprint_many``), made where the text was assessed when asked
    # (a crawler node: ``Classifier.assess(…, for_writer=True)``), so that the conclusion need not make it
    fingerprints: Fingerprints | None = None
    contacts: list[Contact] | None = None  # ``extract_contacts(title, text)``, made there too when asked

    def to_dict(self) -> dict[str, Any]:
        out = self.outcome
        carried: dict[str, Any] = {}
        if self.fingerprints is not None:
            carried["fingerprint"] = _fingerprint_dict(self.fingerprints)
        if self.contacts is not None:
            carried["contacts"] = [[c.kind, c.value, c.matched, c.start, c.end] for c in self.contacts]
        return carried | {
            "version": self.version,
            "label": self.label,
            "model": self.model,
            "hits": [h.to_dict() for h in out.hits],
            "whole": out.whole,
            "score": out.score,
            "rules_label": out.label,
            "totals": out.totals,
            "requirement": out.requirement,
            "exculpatory": out.exculpatory,
            "categories": out.categories,
        }

    def pack(self) -> bytes:
        """As it travels between processes: JSON, zlib-compressed at level 1 (about 25 µs; its hits repeat their
        rules' legal bases, 4–14 kB become 1–3)."""
        return zlib.compress(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode(), 1)

    @classmethod
    def unpack(cls, data: bytes) -> Assessment:
        """The assessment ``pack`` made; ``ValueError`` for anything else."""
        try:
            return cls.from_dict(json.loads(zlib.decompress(data)))
        except zlib.error as e:
            raise ValueError(f"an assessment that does not decompress ({e})") from None

    @classmethod
    def from_dict(cls, data: Any) -> Assessment:
        """The assessment ``to_dict`` wrote; ``ValueError`` naming the first field that is not as written.
        (The signals' weights, ``cues``, were read by the model already and are not carried.)"""
        if not isinstance(data, dict):
            raise ValueError("an assessment is a JSON object")
        totals = _typed(data, "totals", dict)
        if not all(isinstance(k, str) and _number(v) for k, v in totals.items()):
            raise ValueError("assessment totals are not numbers by group")
        categories = _typed(data, "categories", list)
        if not all(isinstance(c, str) for c in categories):
            raise ValueError("assessment categories are not strings")
        hits = [_hit(h) for h in _typed(data, "hits", list)]
        outcome = RulesOutcome(
            hits,
            _typed(data, "whole", str),
            float(_typed(data, "score", float)),
            _typed(data, "rules_label", str),
            {k: float(v) for k, v in totals.items()},
            _typed(data, "requirement", bool),
            float(_typed(data, "exculpatory", float)),
            categories,
            {},
        )
        label = _typed(data, "label", str)
        if label not in ("flag", "watch", "clear") or outcome.label not in ("flag", "watch", "clear"):
            raise ValueError(f"an assessment labelled {label!r} (rules {outcome.label!r})")
        fps = _fingerprints(data["fingerprint"]) if "fingerprint" in data else None
        found = _contacts(data["contacts"]) if "contacts" in data else None
        return cls(_typed(data, "version", str), outcome, label, _typed(data, "model", dict), fps, found)


def _contacts(data: Any) -> list[Contact]:
    """The contacts ``to_dict`` wrote (kind, value, as written, start, end); ``ValueError`` for anything else."""
    if type(data) is not list:
        raise ValueError("assessment contacts are not a list")
    out = []
    for one in data:
        if type(one) is not list or [type(v) for v in one] != [str, str, str, int, int]:
            raise ValueError("an assessment contact that is not (kind, value, as written, start, end)")
        out.append(Contact(*one))
    return out


def _fingerprint_dict(fps: Fingerprints) -> dict[str, Any]:
    """One text's fingerprint as JSON: 64-bit hashes as decimal strings, the MinHash signature in hex."""
    one = fps[0]
    return {
        "fp_version": FINGERPRINT_VERSION,
        "exact": str(one.exact),
        "simhash": None if one.simhash is None else str(one.simhash),
        "minhash": None if one.minhash is None else one.minhash.hex(),
    }


def _fingerprints(data: Any) -> Fingerprints | None:
    """The fingerprint ``_fingerprint_dict`` wrote; None from another fingerprint version (the conclusion makes
    its own); ``ValueError`` for anything else."""
    if not isinstance(data, dict) or set(data) != {"fp_version", "exact", "simhash", "minhash"}:
        raise ValueError("an assessment fingerprint without the fields it is written with")
    if data["fp_version"] != FINGERPRINT_VERSION:
        return None
    try:
        exact = int(data["exact"])
        short = data["simhash"] is None
        simhash = 0 if short else int(data["simhash"])
        minhash = bytes(NUM_PERM) if short else bytes.fromhex(data["minhash"])
    except (TypeError, ValueError):
        raise ValueError("an assessment fingerprint that is not numbers as written") from None
    if short != (data["minhash"] is None) or len(minhash) != NUM_PERM or not 0 <= max(exact, simhash) < 2**64:
        raise ValueError("an assessment fingerprint that is not numbers as written")
    return Fingerprints(
        np.array([exact], np.uint64),
        np.array([simhash], np.uint64),
        np.frombuffer(minhash, np.uint8).reshape(1, NUM_PERM).copy(),
        np.array([short], bool),
    )


_HIT_FIELDS: dict[str, type] = {"rule_id": str, "kind": str, "name": str, "weight": float, "legal_basis": str}
_HIT_FIELDS |= {"matched": str, "start": int, "end": int, "field": str, "status": str}
_HIT_KEYS = _HIT_FIELDS.keys()
# JSON reads back exact types: ``type(v) is int`` refuses a bool where ``isinstance`` would not. An ad carries
# about a dozen hits of ten fields: checked this way, unpacking an assessment took 66 µs instead of 75.
_HIT_TYPES = tuple((name, (int, float) if kind is float else (kind,)) for name, kind in _HIT_FIELDS.items())


def _hit(data: Any) -> Hit:
    if type(data) is not dict or data.keys() != _HIT_KEYS:
        raise ValueError("an assessment hit without the fields Hit.to_dict writes")
    for name, kinds in _HIT_TYPES:
        if type(data[name]) not in kinds:
            raise ValueError(f"assessment field {name!r} is not a {_HIT_FIELDS[name].__name__}")
    return Hit(**{**data, "weight": float(data["weight"])})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _typed(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    ok = _number(value) if kind is float else isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        raise ValueError(f"assessment field {name!r} is not a {kind.__name__}")
    return value
