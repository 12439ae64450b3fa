"""The learned scorer: a linear model over hashed character n-grams and the rule groups (``classifier.features``).

An artifact is one ``.npz`` file read with ``allow_pickle=False`` (plain arrays, no code can run on load):

- ``text_index`` (uint32) and ``text_weight`` (float32): the weights of the hashed n-gram buckets that have one;
- ``rule_weight`` (float64): one weight per ``features.RULE_FEATURES``;
- ``meta``: UTF-8 JSON as bytes: the format, ``bits``, the intercept, the ``flag`` and ``watch`` thresholds,
  and the model card (data, time, seed, cross-validated figures).

Its version is ``model.`` and the first 12 hex digits of the file's SHA-256: every verdict names it. A file
that is missing, damaged or of another format raises ``ModelError`` with the path and the reason; the engine
then classifies with the rules alone and says so in the verdict.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.features import NGRAM_MAX, RULE_FEATURES, bucket_array, model_view, ngrams

__all__ = ["DEFAULT_MODEL_PATH", "FORMAT", "LinearModel", "ModelError", "ModelScore", "load_model"]

FORMAT = "adclear-linear-1"
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.npz"


class ModelError(Exception):
    """A model artifact cannot be used: the message names the file and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class ModelScore:
    """What the model says of one ad: a score between 0 and 1 and the label its thresholds give."""

    score: float
    label: str  # "flag" | "watch" | "clear"
    logit: float


@dataclass
class LinearModel:
    bits: int
    text_weight: np.ndarray  # float32, 2**bits entries (zero where no weight was stored)
    rule_weight: np.ndarray  # float64, one per RULE_FEATURES
    intercept: float
    flag: float  # score at or above: flag
    watch: float  # score at or above: watch
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = "model.unsaved"
    path: Path | None = None

    # --- scoring ----------------------------------------------------------------------------------------
    def logit(self, normalized: str, rule_features: list[float]) -> float:
        buckets = bucket_array(model_view(normalized), self.bits)
        z = self.intercept
        if len(buckets):
            z += float(self.text_weight[buckets].sum()) / math.sqrt(len(buckets))
        for w, x in zip(self.rule_weight.tolist(), rule_features, strict=True):
            z += w * x
        return z

    def score(self, normalized: str, rule_features: list[float]) -> ModelScore:
        z = self.logit(normalized, rule_features)
        p = _sigmoid(z)
        label = "flag" if p >= self.flag else "watch" if p >= self.watch else "clear"
        return ModelScore(round(p, 4), label, z)

    def explain(self, normalized: str, rule_features: list[float], limit: int = 6) -> dict[str, Any]:
        """The n-grams (as the model read them: digits as 0) and rule groups that weighed most, each way."""
        view = model_view(normalized)
        buckets = bucket_array(view, self.bits)
        grams = ngrams(view)
        scale = 1.0 / math.sqrt(len(buckets)) if len(buckets) else 0.0
        per_gram: dict[str, float] = {}
        for gram, b in zip(grams, buckets.tolist(), strict=True):
            per_gram[gram] = per_gram.get(gram, 0.0) + float(self.text_weight[b]) * scale
        # a longer n-gram says more than its parts: among equal contributions keep the longest
        ranked = sorted(per_gram.items(), key=lambda kv: (-abs(kv[1]), -len(kv[0]), kv[0]))
        rules = {
            name: round(float(w) * x, 3)
            for name, w, x in zip(RULE_FEATURES, self.rule_weight, rule_features, strict=True)
        }
        return {
            "for": [[g, round(c, 3)] for g, c in ranked if c > 0][:limit],
            "against": [[g, round(c, 3)] for g, c in ranked if c < 0][:limit],
            "rules": {k: v for k, v in rules.items() if v},
            "text_total": round(sum(per_gram.values()), 3),
            "intercept": round(self.intercept, 3),
        }

    # --- saving -----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        index = np.flatnonzero(self.text_weight).astype(np.uint32)
        meta = dict(self.meta)
        meta.update(
            format=FORMAT,
            bits=self.bits,
            ngram_max=NGRAM_MAX,
            intercept=self.intercept,
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
            arrays = {name: z[name] for name in ("text_index", "text_weight", "rule_weight", "meta")}
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except KeyError as e:
        raise ModelError(f"{path}: not an adclear model (no {e.args[0]} array)") from None
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as e:
        raise ModelError(f"{path}: damaged or not a model file ({type(e).__name__}: {e})") from None
    return _from_arrays(path, data, arrays, meta)


def _from_arrays(path: Path, data: bytes, arrays: dict[str, np.ndarray], meta: Any) -> LinearModel:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{path}: model format {found!r}; this adclear reads {FORMAT!r}")
    if meta.get("rule_features") != list(RULE_FEATURES) or meta.get("ngram_max") != NGRAM_MAX:
        raise ModelError(f"{path}: made for other features than this adclear computes; train it again")
    try:
        bits = int(meta["bits"])
        thresholds = meta["thresholds"]
        flag, watch, intercept = float(thresholds["flag"]), float(thresholds["watch"]), float(meta["intercept"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: its description lacks {e}") from None
    index, weight, rules = arrays["text_index"], arrays["text_weight"], arrays["rule_weight"]
    if not 8 <= bits <= 24 or index.shape != weight.shape or rules.shape != (len(RULE_FEATURES),):
        raise ModelError(f"{path}: arrays of the wrong shape for a {bits}-bit model")
    if len(index) and int(index.max()) >= 1 << bits:
        raise ModelError(f"{path}: a weight index lies outside the model's {1 << bits} buckets")
    if not (np.isfinite(weight).all() and np.isfinite(rules).all() and math.isfinite(intercept)):
        raise ModelError(f"{path}: weights that are not finite numbers")
    if not 0.0 < watch <= flag <= 1.0:
        raise ModelError(f"{path}: thresholds watch={watch} and flag={flag} are not 0 < watch <= flag <= 1")
    text_weight = np.zeros(1 << bits, dtype=np.float32)
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
    )
