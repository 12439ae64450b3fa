"""The learned scorer: a linear model over hashed character n-grams and the rule groups (``classifier.features``).

An artifact is one ``.npz`` file read with ``allow_pickle=False`` (plain arrays, no code can run on load):

- ``text_index`` (uint32) and ``text_weight`` (float32): the weights of the hashed n-gram buckets that have one,
  a row per bucket and a column per contrast;
- ``rule_weight`` (float64): a row per ``features.RULE_FEATURES``, a column per contrast;
- ``meta``: UTF-8 JSON as bytes: the format, ``bits``, the contrasts and their intercepts, the ``flag`` and
  ``watch`` thresholds, and the model card (data, time, seed, cross-validated figures).

A contrast is the log-odds of a promotion against one other class of text the model was trained to tell it
from (news and court reports, anti-fraud publicity, bank text, …: ``classifier.multinomial``); the score is
``1 / (1 + sum(exp(-margin)))`` over the contrasts, which with one contrast is the logistic function. Files of
the first format (``adclear-linear-1``: one contrast, "promotion or not", in one-dimensional arrays) are read
too, so that a model promoted before still loads.

Its version is ``model.`` and the first 12 hex digits of the file's SHA-256: every verdict names it. A file
that is missing, damaged or of another format raises ``ModelError`` with the path and the reason; the engine
then classifies with the rules alone and says so in the verdict.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.features import FEATURES, MAX_CHARS, NGRAM_MAX, RULE_FEATURES, bucket_array, model_view, shown

__all__ = ["DEFAULT_MODEL_PATH", "FORMAT", "LinearModel", "ModelError", "ModelScore", "load_model"]

FORMAT = "adclear-linear-2"
FORMATS = ("adclear-linear-1", FORMAT)  # read; the first: one contrast, its arrays one-dimensional
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.npz"
ARRAYS = ("text_index", "text_weight", "rule_weight", "meta")
_ONES = np.ones(NGRAM_MAX * MAX_CHARS, dtype=np.float32)  # as many as a text read whole has n-grams


class ModelError(Exception):
    """A model artifact cannot be used: the message names the file and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class ModelScore:
    """What the model says of one ad: a score between 0 and 1 and the label its thresholds give."""

    score: float
    label: str  # "flag" | "watch" | "clear"
    logit: float
    explain: dict[str, Any] | None = None


@dataclass
class LinearModel:
    bits: int
    text_weight: np.ndarray  # float32, 2**bits rows (zero where no weight was stored), a column per contrast
    rule_weight: np.ndarray  # float64, a row per RULE_FEATURES, a column per contrast
    intercept: np.ndarray  # float64, one per contrast (a number is taken as one contrast)
    flag: float  # score at or above: flag
    watch: float  # score at or above: watch
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = "model.unsaved"
    path: Path | None = None
    contrasts: tuple[str, ...] = ("negative",)  # the class each column tells a promotion from

    def __post_init__(self) -> None:
        # one-dimensional weights (a single contrast) are one column
        self.text_weight = self.text_weight.reshape(len(self.text_weight), -1)
        self.rule_weight = np.asarray(self.rule_weight, dtype=np.float64).reshape(len(RULE_FEATURES), -1)
        self.intercept = np.atleast_1d(np.asarray(self.intercept, dtype=np.float64))
        self.contrasts = tuple(self.contrasts)
        if not self.text_weight.shape[1] == self.rule_weight.shape[1] == len(self.intercept) == len(self.contrasts):
            raise ValueError("a model needs the same number of contrasts in every array and in its names")

    # --- scoring ----------------------------------------------------------------------------------------
    def _read(self, normalized: str) -> tuple[str, np.ndarray, float]:
        """The model's view of the text, the weights of each of its n-grams (a row each) and the scale of one
        occurrence (``features``: divided by the square root of their number)."""
        view = model_view(normalized)
        buckets = bucket_array(view, self.bits)
        scale = 1.0 / math.sqrt(len(buckets)) if len(buckets) else 0.0
        return view, np.take(self.text_weight, buckets, axis=0), scale

    def _margins(self, rows: np.ndarray, scale: float, rule_features: list[float]) -> list[float]:
        """The log-odds of a promotion against each contrast's class. (The rows are summed as a product with
        ones, a BLAS call: numpy's sum down the columns of a narrow array took three times as long; the few
        contrasts are added up in Python, where numpy's cost per call outweighs the arithmetic.)"""
        text = (_ONES[: len(rows)] @ rows).tolist()
        rules = np.dot(rule_features, self.rule_weight).tolist()
        return [i + t * scale + r for i, t, r in zip(self.intercept.tolist(), text, rules, strict=True)]

    @staticmethod
    def _logit(margins: list[float]) -> float:
        """log(p / (1 - p)) of the score: -log(sum(exp(-margin))), the margin itself for one contrast."""
        if len(margins) == 1:
            return margins[0]
        low = min(margins)
        return low - math.log(sum(math.exp(low - m) for m in margins))

    def logit(self, normalized: str, rule_features: list[float]) -> float:
        _, rows, scale = self._read(normalized)
        return self._logit(self._margins(rows, scale, rule_features))

    def score(self, normalized: str, rule_features: list[float], explain: bool = False) -> ModelScore:
        """The score (0..1) and label; with ``explain`` (for a label other than clear) what weighed most."""
        view, rows, scale = self._read(normalized)
        margins = self._margins(rows, scale, rule_features)
        z = self._logit(margins)
        p = _sigmoid(z)
        label = "flag" if p >= self.flag else "watch" if p >= self.watch else "clear"
        why = self._explain(view, rows, scale, rule_features, margins) if explain and label != "clear" else None
        return ModelScore(round(p, 4), label, z, why)

    def explain(self, normalized: str, rule_features: list[float], limit: int = 6) -> dict[str, Any]:
        """The n-grams (as the model read them: digits as 0) and rule features that weighed most, each way."""
        view, rows, scale = self._read(normalized)
        return self._explain(view, rows, scale, rule_features, self._margins(rows, scale, rule_features), limit)

    def _explain(
        self,
        view: str,
        rows: np.ndarray,
        scale: float,
        rule_features: list[float],
        margins: list[float],
        limit: int = 6,
    ) -> dict[str, Any]:
        """What weighed most in the contrast the ad is nearest to (the class the model found it likest after a
        promotion, ``versus``). An n-gram's weight is its bucket's (``features``): the largest contributions
        are found with numpy and only they are read back from the text."""
        j = margins.index(min(margins))
        contribution = rows[:, j] * scale
        rules = {
            name: round(w * x, 3)
            for name, w, x in zip(RULE_FEATURES, self.rule_weight[:, j].tolist(), rule_features, strict=True)
            if w * x
        }
        intercept = round(float(self.intercept[j]), 3)
        out: dict[str, Any] = {"for": [], "against": [], "rules": rules, "intercept": intercept}
        if len(self.contrasts) > 1:
            out["versus"] = self.contrasts[j]
        if not len(contribution):
            return out
        out["text_total"] = round(float(contribution.sum()), 3)
        size = np.abs(contribution)
        many = min(len(size), 4 * limit)
        top = np.argpartition(-size, many - 1)[:many] if many < len(size) else np.arange(len(size))
        order = top[np.argsort(-size[top], kind="stable")]
        starts = _ngram_starts(len(view))
        read = shown(view)
        seen: set[str] = set()
        for k, c in zip(order.tolist(), contribution[order].tolist(), strict=True):
            side = "for" if c > 0 else "against" if c < 0 else ""
            if not side or len(out[side]) >= limit:
                continue
            gram = shown(_ngram_at(view, starts, k))
            if gram not in seen:
                seen.add(gram)
                out[side].append([gram, round(c * read.count(gram), 3)])
        return out

    # --- saving -----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        index = np.flatnonzero(self.text_weight.any(axis=1)).astype(np.uint32)
        meta = dict(self.meta)
        meta.update(
            format=FORMAT,
            bits=self.bits,
            ngram_max=NGRAM_MAX,
            features=FEATURES,
            contrasts=list(self.contrasts),
            intercept=self.intercept.tolist(),
            thresholds={"flag": self.flag, "watch": self.watch},
            rule_features=list(RULE_FEATURES),
        )
        buf = io.BytesIO()
        arrays = {
            "text_index": index,
            "text_weight": self.text_weight[index].astype(np.float32),
            "rule_weight": self.rule_weight.astype(np.float64),
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"), np.uint8),
        }
        _savez_deterministic(buf, arrays)
        return buf.getvalue()

    def save(self, path: Path | str) -> str:
        """Write the artifact to ``path`` (atomically) and return its version."""
        path = Path(path)
        data = self.to_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.version = version_of(data)
        self.path = path
        return self.version


def _ngram_starts(length: int) -> list[int]:
    """Where the n-grams of each length begin in ``bucket_array``'s output (n = 1, 2, ...)."""
    starts, total = [], 0
    for n in range(1, min(NGRAM_MAX, length) + 1):
        starts.append(total)
        total += length - n + 1
    return starts


def _ngram_at(view: str, starts: list[int], k: int) -> str:
    n = bisect.bisect_right(starts, k)  # the n-gram length: starts[n - 1] <= k < starts[n]
    i = k - starts[n - 1]
    return view[i : i + n]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def version_of(data: bytes) -> str:
    return "model." + hashlib.sha256(data).hexdigest()[:12]


def _savez_deterministic(buf: io.BytesIO, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` with fixed member times, so that one model always gives the same bytes."""
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())


def load_model(path: Path | str | None = None) -> LinearModel:
    """Read an artifact (default: the bundled ``classifier/models/default.npz``); raises ``ModelError``."""
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: no model file there") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            missing = [name for name in ARRAYS if name not in z.files]
            if missing:
                raise ModelError(f"{path}: not an adclear model (no {', '.join(missing)} array)")
            arrays = {name: z[name] for name in ARRAYS}
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as e:
        raise ModelError(f"{path}: damaged or not a model file ({type(e).__name__}: {e})") from None
    return _from_arrays(path, data, arrays, meta)


def _from_arrays(path: Path, data: bytes, arrays: dict[str, np.ndarray], meta: Any) -> LinearModel:
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{path}: model format {found!r}; this adclear reads {' and '.join(map(repr, FORMATS))}")
    if (
        meta.get("features") != FEATURES
        or meta.get("rule_features") != list(RULE_FEATURES)
        or meta.get("ngram_max") != NGRAM_MAX
    ):
        made_for = meta.get("features", "an earlier version")
        raise ModelError(f"{path}: made for other features ({made_for}) than this adclear computes; train it again")
    first = meta["format"] == FORMATS[0]
    try:
        bits = int(meta["bits"])
        thresholds = meta["thresholds"]
        flag, watch = float(thresholds["flag"]), float(thresholds["watch"])
        intercept = np.array([meta["intercept"]] if first else meta["intercept"], dtype=np.float64)
        contrasts = ("negative",) if first else tuple(str(c) for c in meta["contrasts"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: its description lacks {e}") from None
    index, weight, rules = arrays["text_index"], arrays["text_weight"], arrays["rule_weight"]
    if first:
        weight, rules = weight.reshape(-1, 1), rules.reshape(-1, 1)
    n = len(contrasts)
    if (
        not 8 <= bits <= 24
        or n < 1
        or intercept.shape != (n,)
        or index.ndim != 1
        or weight.shape != (len(index), n)
        or rules.shape != (len(RULE_FEATURES), n)
    ):
        raise ModelError(f"{path}: arrays of the wrong shape for a {bits}-bit model of {n} contrast(s)")
    if len(index) and int(index.max()) >= 1 << bits:
        raise ModelError(f"{path}: a weight index lies outside the model's {1 << bits} buckets")
    if not (np.isfinite(weight).all() and np.isfinite(rules).all() and np.isfinite(intercept).all()):
        raise ModelError(f"{path}: weights that are not finite numbers")
    if not 0.0 < watch <= flag <= 1.0:
        raise ModelError(f"{path}: thresholds watch={watch} and flag={flag} are not 0 < watch <= flag <= 1")
    text_weight = np.zeros((1 << bits, n), dtype=np.float32)
    text_weight[index.astype(np.int64)] = weight
    return LinearModel(
        bits=bits,
        text_weight=text_weight,
        rule_weight=rules.astype(np.float64),
        intercept=intercept,
        flag=flag,
        watch=watch,
        meta=meta,
        version=version_of(data),
        path=path,
        contrasts=contrasts,
    )
