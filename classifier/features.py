"""What the learned scorer reads of an ad: hashed character n-grams of the normalised text, and the rule groups.

The same functions make the features for training (``classifier.training``, a sparse matrix for
scikit-learn) and for scoring one ad (``classifier.model``), so the two can never drift apart.

Text features. The model reads the normalised text (``classifier.normalize``) with every digit written as
``0``: a phone number or an amount says nothing general, "年化0%" does. Each character 1- to 4-gram is hashed
to one of ``2**bits`` buckets (a polynomial hash of its code points, then multiplicative hashing; the
same on every platform and Python version, unlike ``hash()``); the text's vector counts its n-grams per bucket,
divided by the square root of their number. No vocabulary is stored, so the artifact holds no text of the
data it was trained on; the n-grams a verdict shows are read back from the ad itself (``ngrams``).

Rule features. The rule engine's group totals, each divided by its cap (so between 0 and 1), and whether the
rules alone would flag or watch the ad: the model learns how far to trust each legal condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from classifier.taxonomy import EXCULPATORY, SIGNALS

__all__ = [
    "FEATURES",
    "MAX_CHARS",
    "NGRAM_MAX",
    "RULE_FEATURES",
    "bucket_array",
    "model_view",
    "ngrams",
    "shown",
    "rule_features",
]

# What these functions compute, named: a model is read only by the features it was trained on (classifier.model
# refuses another). Change it with anything that changes a feature's value: the view, the hash, the rule features.
FEATURES = "adclear-features-2: ngrams 1-4 of the view without contacts and layout, digits as 0; rules v2"
NGRAM_MAX = 4
MAX_CHARS = 20_000  # an ad longer than this is read from its start (the pages' own limits are larger)

# uint64 arithmetic wraps around in numpy arrays without a warning, which is what a hash wants.
_PRIME = np.uint64(1_000_003)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Knuth's multiplicative hashing constant (2**64 / golden ratio)
_SEEDS = tuple(np.uint64(s) for s in (0x51ED2701, 0xA3B1C5F3, 0x7F4A7C15, 0x2545F491))  # one per n
_DIGITS = str.maketrans({str(d): "0" for d in range(1, 10)})
_ZERO, _ONE, _NINE = np.uint64(ord("0")), np.uint64(ord("1")), np.uint64(ord("9"))

# Rule features, in this order (``rule_features``). Group names are those of ``_scoring.yml``; then each
# signal and exculpatory cue of the taxonomy (how much of it the rules found), whether any category was
# found, and the rules' own label.
RULE_GROUPS = ("inducement", "scheme", "publicity", "backing", "licensed", "exculpatory")
CUES = (*SIGNALS, *EXCULPATORY)
RULE_FEATURES: tuple[str, ...] = (
    *(f"rules.{g}" for g in RULE_GROUPS),
    *(f"cue.{c}" for c in CUES),
    "rules.category",
    "rules.flag",
    "rules.watch",
)
# The direction the law gives each rule feature: a promise of return or a call to the public can never
# count against a flag, an exculpatory cue never for one. Training keeps each weight on its side (+1: at
# least 0, -1: at most 0).
_NEGATIVE_CUES = {"licensed_institution", *EXCULPATORY}
RULE_SIGNS: tuple[int, ...] = tuple(
    -1 if name in ("rules.licensed", "rules.exculpatory") or name.removeprefix("cue.") in _NEGATIVE_CUES else 1
    for name in RULE_FEATURES
)
# The exculpatory group's cap is high (it vetoes); as a feature it saturates at this total, a cue at CUE_SATURATION.
EXCULPATORY_SATURATION = 6.0
CUE_SATURATION = 3.0


# Contacts are left out of what the model reads: whether an ad gives a phone number or a WeChat ID says much
# about where a text was found (every classified ad has one, a quoted pitch in a news report has none) and
# nothing about what it promises. The rules' publicity condition reads them instead.
_CONTACT_RE = re.compile(
    # the leading lookahead (every first character a match can have) lets re skip ahead at C speed: 7x faster
    r"(?=[加添联咨私扫详微q电手热客座t+01wh])(?:"
    r"(?:(?:加|添加|联系|咨询|私信|私聊|扫码|详询|详情)[^。\n,!?;]{0,2})?"
    r"(?:微信|qq|电话|手机|热线|客服|座机|tel|联系人)(?:号|群|号码)?[:：\s]*(?:[a-z0-9][-_a-z0-9]{3,19})?"
    r"|(?<![0-9])(?:\+?86)?1[3-9][0-9]{9}(?![0-9])|(?<![0-9])0[1-9][0-9]{1,2}-?[2-9][0-9]{6,7}(?![0-9])"
    r"|(?:https?://|www\.)[a-z0-9\-._~:/?#@!$&'()*+,;=%]+"
    r")"
)


# Layout is left out too: punctuation, spaces and line breaks say how a page was cut into a text (a quote in a
# report, a page's text with its line breaks, an SMS), not what it says. Trained with them, the model's
# heaviest n-grams were "\n" and ",". Letters, digits, CJK characters and % ‰ are what it reads.
_LAYOUT_RE = re.compile(r"[^\w%‰]+|_+")


def model_view(normalized: str) -> str:
    """The normalised text as the model reads it: contacts and layout left out, at most ``MAX_CHARS`` characters.
    (Its digits are read as 0: ``bucket_array`` does that on the code points, ``shown`` for people.)"""
    return _LAYOUT_RE.sub("", _CONTACT_RE.sub("", normalized[:MAX_CHARS]))


def shown(gram: str) -> str:
    """An n-gram of ``model_view`` as the model read it (digits as 0)."""
    return gram.translate(_DIGITS)


def _hash_shift(bits: int) -> np.uint64:
    if not 8 <= bits <= 24:
        raise ValueError(f"bits must be between 8 and 24, not {bits}")
    return np.uint64(64 - bits)


def bucket_array(view: str, bits: int) -> np.ndarray:
    """The bucket of every 1- to ``NGRAM_MAX``-gram of ``view`` (``model_view``), n-grams of one length
    together, in text order. ``view[i:i+n]`` is at index ``offset(n) + i``, where offset(n) sums
    ``len(view) - m + 1`` over m < n."""
    codes = np.frombuffer(view.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    codes[(codes >= _ONE) & (codes <= _NINE)] = _ZERO  # every digit read as 0
    shift = _hash_shift(bits)
    n = len(codes)
    h = np.zeros(n, dtype=np.uint64)
    parts = []
    for k in range(min(NGRAM_MAX, n)):
        h = h[: n - k] * _PRIME + codes[k:]
        parts.append(((h + _SEEDS[k]) * _GOLDEN) >> shift)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate(parts)


def ngrams(view: str) -> list[str]:
    """The n-grams that ``bucket_array(view, bits)`` hashes, in the same order."""
    out: list[str] = []
    for k in range(1, min(NGRAM_MAX, len(view)) + 1):
        out.extend(view[i : i + k] for i in range(len(view) - k + 1))
    return out


def rule_features(
    totals: dict[str, float], caps: dict[str, float], cues: dict[str, float], categories: int, label: str
) -> list[float]:
    """``RULE_FEATURES`` of one ad: the rules' group totals (before caps), the weight found per signal and
    exculpatory cue, whether a category was found, and the rules' label. Each between 0 and 1."""
    out = []
    for g in RULE_GROUPS:
        cap = EXCULPATORY_SATURATION if g == "exculpatory" else caps.get(g, 1.0) or 1.0
        out.append(min(cap, abs(totals.get(g, 0.0))) / cap)
    out.extend(min(CUE_SATURATION, abs(cues.get(c, 0.0))) / CUE_SATURATION for c in CUES)
    out.append(1.0 if categories else 0.0)
    out.append(1.0 if label == "flag" else 0.0)
    out.append(1.0 if label == "watch" else 0.0)
    return out


def sparse_rows(views: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (data, indices, indptr) of the text features of ``views``, duplicates not yet summed."""
    data: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    indptr = [0]
    for view in views:
        b = bucket_array(view, bits)
        indices.append(b.astype(np.int64))
        data.append(np.full(len(b), 1.0 / np.sqrt(max(len(b), 1))))
        indptr.append(indptr[-1] + len(b))
    if not data:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.array(indptr)
    return np.concatenate(data), np.concatenate(indices), np.array(indptr)


def dense_rows(rows: Iterable[Sequence[float]]) -> np.ndarray:
    return np.array([list(r) for r in rows], dtype=np.float64).reshape(-1, len(RULE_FEATURES))
