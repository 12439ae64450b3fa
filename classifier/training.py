"""Training the learned scorer and measuring it honestly: labelled rows in, ``LinearModel`` and figures out.

Rows come from JSON lines (``text``, ``label``, optional ``title``, ``kind``, ``source``, ``note``), or from
corpora of ordinary text that are all negatives (``read_negatives``: TSV or CSV with a text column). Rows from
one source (a page's host, a repository, a corpus file) form a group, and a group is never split between
training and test (``group_of``). Every learned number is fitted on training rows only:

- the weights: a multinomial logistic regression over the rows' kinds (``classifier.multinomial``: promotion,
  each kind of look-alike, the corpora), or with ``by_kind=False`` a binary one (``fit_logistic``), both L2 and
  L-BFGS-B over ``classifier.features``;
- the ``flag`` threshold: the score that maximises F1 (averaged with its neighbours) on out-of-fold scores of an
  inner grouped cross-validation of the training rows, among those that flag at most ``MAX_CORPUS_FP`` of the
  ordinary corpora;
  ``watch``: the highest score that still reaches ``WATCH_RECALL`` of the positives there.

``cross_validate`` runs that whole procedure inside each outer fold, so that its figures say what the model does
on sources it never saw. scikit-learn is imported here only: classifying needs numpy alone.

Why so long: the fit, the thresholds and the cross-validation that repeats both inside each fold are one
procedure; split, the rule that every learned number is fitted on training folds only would span modules.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from classifier.engine import Classifier
from classifier.features import RULE_FEATURES, RULE_SIGNS, dense_rows, model_view, sparse_rows
from classifier.model import LinearModel
from classifier.multinomial import NEGATIVE, PROMOTION, classes_of, fit_multinomial

__all__ = [
    "DataError",
    "Fitted",
    "Row",
    "TrainParams",
    "Trainer",
    "file_digest",
    "group_of",
    "read_labelled",
    "read_negatives",
]

MAX_CORPUS_FP = 0.005  # a flag threshold may flag at most this share of the ordinary corpora's rows
WATCH_RECALL = 0.95
MAX_CORPUS_WATCH = 0.02  # nor may the watch threshold queue more than this share of them
F1_SMOOTHING = 3  # the flag threshold maximises F1 averaged over this many candidate thresholds each side


class DataError(Exception):
    """Training or evaluation data cannot be read: the message names the file, the line and the problem."""


@dataclass(slots=True)
class Row:
    text: str
    label: int
    kind: str
    group: str
    title: str = ""
    id: str = ""
    borderline: bool = False
    corpus: bool = False  # from a corpus of ordinary text: counted apart from the labelled look-alikes
    origin: str = ""  # the file (or "decisions") it came from


@dataclass(frozen=True, slots=True)
class TrainParams:
    bits: int = 16
    max_weights: int = 20_000  # text weights kept (largest first): the rest are nearly 0 and only make the file big
    C: float = 16.0
    corpus_weight: float = 0.1  # weight of one corpus row against one labelled row
    rule_scale: float = 2.0  # rule features are multiplied by this before fitting (less shrinkage)
    use_rules: bool = True  # False: the text alone ("model only")
    # weight of a labelled look-alike (a negative not from a corpus; a promotion weighs what balances the classes):
    # these hard negatives are what the model must learn to leave alone (3: fewer false positives, docs/model.md)
    lookalike_weight: float = 3.0
    inner_folds: int = 4
    seed: int = 13
    max_iter: int = 5000
    # one class per kind of look-alike (multinomial) instead of "promotion or not": fewer false positives on
    # bank text and more promotions found in the grouped cross-validation (docs/model.md)
    by_kind: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "bits": self.bits,
            "max_weights": self.max_weights,
            "C": self.C,
            "corpus_weight": self.corpus_weight,
            "rule_scale": self.rule_scale,
            "use_rules": self.use_rules,
            "lookalike_weight": self.lookalike_weight,
            "inner_folds": self.inner_folds,
            "seed": self.seed,
            "by_kind": self.by_kind,
        }


# --- reading data --------------------------------------------------------------------------------------------
def group_of(source: str) -> str:
    """The group of a row's ``source``: a URL's host (without www.; for GitHub and Gitee, host/owner/repo),
    or what comes before the first colon (``owner/repo:path``)."""
    s = (source or "").strip()
    if s.startswith(("http://", "https://")):
        parts = urlsplit(s)
        host = (parts.hostname or s).lower().removeprefix("www.")
        if host in ("github.com", "gitee.com"):
            segs = [p for p in parts.path.split("/") if p]
            if len(segs) >= 2:
                return f"{host}/{segs[0]}/{segs[1]}".lower()
        return host
    return s.split(":", 1)[0] or "(no source)"


def read_labelled(path: Path | str) -> list[Row]:
    """Rows of a JSON-lines file; raises ``DataError`` naming the line of a bad one."""
    path = Path(path)
    rows: list[Row] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            label = int(obj["label"])
            text = str(obj["text"])
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path} line {n}: a row needs 'text' and 'label' (0 or 1): {e}") from None
        if label not in (0, 1):
            raise DataError(f"{path} line {n}: label must be 0 or 1, not {label}")
        source = str(obj.get("source") or obj.get("group") or f"{path.name}:{n}")
        rows.append(
            Row(
                text=text,
                title=str(obj.get("title") or ""),
                label=label,
                kind=str(obj.get("kind") or ("positive" if label else "negative")),
                group=str(obj.get("group") or group_of(source)),
                id=str(obj.get("id") or f"{path.name}:{n}"),
                borderline="borderline" in str(obj.get("note") or "").lower(),
                origin=path.name,
            )
        )
    return rows


def read_negatives(path: Path | str, kind: str | None = None) -> list[Row]:
    """Every row of a corpus of ordinary text as a negative, one group per file.

    TSV: the text is the last column; CSV: the column named ``content`` or ``text`` (else the first). A
    header line is skipped when its text column is named ``text`` or ``content``.
    """
    path = Path(path)
    kind = kind or f"corpus:{path.stem}"
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    texts: list[str] = []
    if path.suffix.lower() == ".csv":
        reader = csv.reader(raw.splitlines())
        header = next(reader, [])
        names = [h.strip().lower() for h in header]
        col = next((names.index(c) for c in ("content", "text") if c in names), None)
        if col is None:
            col = 0
            texts.append(header[0] if header else "")
        texts.extend(r[col] for r in reader if len(r) > col)
    else:
        lines = raw.splitlines()
        if lines and lines[0].split("\t")[-1].strip().lower() in ("text", "content"):
            lines = lines[1:]
        texts = [line.split("\t")[-1] for line in lines]
    group = f"corpus:{path.parent.name}/{path.name}"
    return [
        Row(text=t, label=0, kind=kind, group=group, id=f"{path.name}:{i}", corpus=True, origin=path.name)
        for i, t in enumerate(texts, start=1)
        if t.strip()
    ]


def file_digest(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- fitting -------------------------------------------------------------------------------------------------
@dataclass
class Fitted:
    model: LinearModel
    inner_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # out-of-fold, for the thresholds


class Trainer:
    """The rows' features, made once; fits and cross-validates on subsets of them."""

    def __init__(self, rows: Sequence[Row], classifier: Classifier, params: TrainParams | None = None):
        import scipy.sparse as sp  # scikit-learn's own dependency

        self.rows = list(rows)
        if not self.rows:
            raise DataError("no rows to train on")
        self.params = params or TrainParams()
        rules = classifier.rules_only()
        self.y = np.array([r.label for r in self.rows], dtype=np.int64)
        self.corpus = np.array([r.corpus for r in self.rows], dtype=bool)
        self.groups = np.array([r.group for r in self.rows])
        self.kinds = [r.kind for r in self.rows]
        views: list[str] = []
        dense: list[list[float]] = []
        labels: list[str] = []
        for r in self.rows:
            out = rules.rules_outcome(r.text, r.title, complete=True)
            views.append(model_view(out.whole))
            dense.append(rules.rule_features(out))
            labels.append(out.label)
        self.rules_label = np.array(labels)
        data, indices, indptr = sparse_rows(views, self.params.bits)
        text = sp.csr_matrix((data, indices, indptr), shape=(len(self.rows), 1 << self.params.bits))
        text.sum_duplicates()
        self.text = text
        self.dense = dense_rows(dense)
        if self.y.sum() == 0 or self.y.sum() == len(self.y):
            raise DataError("the rows need both labels (1 = promotion, 0 = not) to train on")

    def _matrix(self, idx: np.ndarray) -> Any:
        import scipy.sparse as sp

        if not self.params.use_rules:
            return self.text[idx]
        dense = self.dense[idx].copy()
        dense[:, _WATCH] += dense[:, _FLAG]  # fitted as "the rules say at least watch" (``_label_weights``)
        return sp.hstack([self.text[idx], sp.csr_matrix(dense * self.params.rule_scale)]).tocsr()

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        w = np.where(self.corpus[idx], self.params.corpus_weight, self.params.lookalike_weight)
        pos = self.y[idx] == 1
        w[pos] = w[~pos].sum() / max(1, pos.sum())  # both classes weigh the same in all
        return w

    def _fit_weights(self, idx: np.ndarray) -> LinearModel:
        p = self.params
        n_text = 1 << p.bits
        signs = RULE_SIGNS if p.use_rules else ()
        X = self._matrix(idx)
        # only the buckets these rows use: the others' weights stay 0 (no gradient, L2), and the optimiser's
        # cost grows with the number of columns (65,536 for a handful of rows made small fits take seconds)
        used = np.unique(X[:, :n_text].indices)
        columns = np.concatenate([used, np.arange(n_text, X.shape[1])])
        classes = [PROMOTION, NEGATIVE]
        if p.by_kind:
            classes, cls = classes_of([self.kinds[i] for i in idx], self.y[idx], self.corpus[idx])
        if len(classes) > 2:
            compact, intercept = fit_multinomial(
                X[:, columns], cls, len(classes), self._weights(idx), p.C, len(used), signs, p.max_iter
            )
        else:
            w, b = fit_logistic(X[:, columns], self.y[idx], self._weights(idx), p.C, len(used), signs, p.max_iter)
            compact, intercept = w[:, None], np.array([b])
        coef = np.zeros((X.shape[1], len(classes) - 1))
        coef[columns] = compact
        if p.max_weights and n_text > p.max_weights:  # the buckets whose weights are largest (by their norm)
            weakest = np.argsort(-np.linalg.norm(coef[:n_text], axis=1), kind="stable")[p.max_weights :]
            coef[weakest] = 0.0
        rule_weight = (
            _label_weights(coef[n_text:] * p.rule_scale)
            if p.use_rules
            else np.zeros((len(RULE_FEATURES), len(classes) - 1))
        )
        return LinearModel(
            bits=p.bits,
            text_weight=coef[:n_text].astype(np.float32),
            rule_weight=np.asarray(rule_weight, dtype=np.float64),
            intercept=intercept,
            flag=0.5,
            watch=0.5,
            contrasts=tuple(classes[1:]),
        )

    def scores(self, model: LinearModel, idx: np.ndarray) -> np.ndarray:
        """The model's scores (0..1) of rows ``idx``, computed as the classifier computes them for an ad."""
        margins = np.asarray(self.text[idx] @ model.text_weight.astype(np.float64)) + model.intercept
        margins += self.dense[idx] @ model.rule_weight
        return 1.0 / (1.0 + np.exp(np.minimum(-margins, 700.0)).sum(axis=1))

    def folds(self, idx: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Grouped folds of ``idx``, stratified by label where the groups allow."""
        from sklearn.model_selection import StratifiedGroupKFold

        n_groups = len(set(self.groups[idx].tolist()))
        if n_groups < 2:
            raise DataError(
                f"the rows come from {n_groups} source(s): cross-validation (and choosing the thresholds) needs "
                "rows from at least 2 sources"
            )
        k = max(2, min(k, n_groups))
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(idx[a], idx[b]) for a, b in splitter.split(idx, self.y[idx], self.groups[idx])]

    def fit(self, idx: np.ndarray | None = None) -> Fitted:
        """Weights on rows ``idx`` (default: all), thresholds from an inner grouped cross-validation of them."""
        idx = np.arange(len(self.rows)) if idx is None else np.asarray(idx)
        p = self.params
        inner = np.full(len(self.rows), np.nan)
        for tr, te in self.folds(idx, p.inner_folds, p.seed + 1):
            inner[te] = self.scores(self._fit_weights(tr), te)
        flag, watch = choose_thresholds(inner[idx], self.y[idx], self.corpus[idx])
        model = self._fit_weights(idx)
        model.flag, model.watch = flag, watch
        return Fitted(model, inner[idx])

    def fold_models(self, k: int = 5, seed: int | None = None) -> list[tuple[LinearModel, np.ndarray]]:
        """The model of each grouped fold (fitted as ``fit`` fits, on the other folds) and its test rows."""
        seed = self.params.seed if seed is None else seed
        return [(self.fit(tr).model, te) for tr, te in self.folds(np.arange(len(self.rows)), k, seed)]

    def cross_validate(
        self, k: int = 5, seed: int | None = None, progress: Callable[[str], None] | None = None
    ) -> CVResult:
        """Out-of-fold verdicts of the rules, the model and the two combined, by grouped ``k``-fold CV."""
        seed = self.params.seed if seed is None else seed
        n = len(self.rows)
        score = np.full(n, np.nan)
        label = np.array(["clear"] * n, dtype=object)
        fold_of = np.zeros(n, dtype=np.int64)
        thresholds = []
        for f, (tr, te) in enumerate(self.folds(np.arange(n), k, seed)):
            fitted = self.fit(tr)
            m = fitted.model
            s = self.scores(m, te)
            score[te] = s
            label[te] = np.where(s >= m.flag, "flag", np.where(s >= m.watch, "watch", "clear"))
            fold_of[te] = f
            thresholds.append({"flag": round(m.flag, 4), "watch": round(m.watch, 4)})
            if progress:
                progress(f"fold {f + 1}/{k}: {len(tr)} training rows, {len(te)} test rows, flag at {m.flag:.3f}")
        return CVResult(self.rows, self.rules_label.copy(), label, score, fold_of, thresholds)


_FLAG, _WATCH = RULE_FEATURES.index("rules.flag"), RULE_FEATURES.index("rules.watch")


def _label_weights(fitted: np.ndarray) -> np.ndarray:
    """The rules' label is fitted as two features that grow with it, "flag" and "at least watch", each weight at
    least 0, so that the rules saying flag can never count for less than their saying watch, in any contrast;
    the classifier reads the label one-hot (``features.rule_features``): its flag weight is the sum of the two."""
    out = fitted.copy()
    out[_FLAG] = fitted[_FLAG] + fitted[_WATCH]
    return out


def fit_logistic(
    X: Any, y: np.ndarray, weight: np.ndarray, C: float, n_free: int, signs: Sequence[int], max_iter: int
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (scikit-learn's objective: C times the weighted log-loss plus half the
    squared norm; the intercept not penalised), fitted with L-BFGS-B so that the columns after the first
    ``n_free`` keep the sign ``signs`` gives them (+1: at least 0, -1: at most 0)."""
    from scipy.optimize import minimize

    n = X.shape[1]
    t = np.where(y == 1, 1.0, -1.0)
    cw = C * weight
    Xt = X.T.tocsr()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:n], theta[n]
        z = X @ w + b
        m = t * z
        # log(1 + exp(-m)), stable for large |m|
        value = float(cw @ (np.logaddexp(0.0, -m))) + 0.5 * float(w @ w)
        r = cw * (-t) / (1.0 + np.exp(np.clip(m, -700, 700)))
        grad = np.empty(n + 1)
        grad[:n] = Xt @ r + w
        grad[n] = r.sum()
        return value, grad

    bounds: list[tuple[float | None, float | None]] = [(None, None)] * n_free
    bounds += [(0.0, None) if s > 0 else (None, 0.0) for s in signs]
    bounds += [(None, None)] * (n + 1 - len(bounds))  # any remaining column, and the intercept
    result = minimize(
        loss, np.zeros(n + 1), jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": max_iter, "ftol": 1e-9, "gtol": 1e-5},
    )  # fmt: skip
    return result.x[:n].copy(), float(result.x[n])


def choose_thresholds(scores: np.ndarray, y: np.ndarray, corpus: np.ndarray) -> tuple[float, float]:
    """``flag``: among the scores of the positives that flag at most ``MAX_CORPUS_FP`` of the corpus rows, the one
    where F1 on the labelled rows, averaged with its ``F1_SMOOTHING`` neighbours each side, is highest (the lowest
    of equals); ``watch``: the highest score reaching ``WATCH_RECALL`` of the positives, raised until it queues
    at most ``MAX_CORPUS_WATCH`` of the corpus rows, and never above ``flag``."""
    ok = ~np.isnan(scores)
    s, yy, cc = scores[ok], y[ok], corpus[ok]
    labelled = ~cc
    positives = int((yy == 1).sum())
    if positives == 0:
        return 0.5, 0.5
    candidates = np.unique(np.round(s[yy == 1], 6))
    corpus_s = np.sort(s[cc])
    f1 = np.empty(len(candidates))
    allowed = np.ones(len(candidates), dtype=bool)
    for i, t in enumerate(candidates):
        flagged = s >= t
        if len(corpus_s) and (len(corpus_s) - np.searchsorted(corpus_s, t)) / len(corpus_s) > MAX_CORPUS_FP:
            allowed[i] = False
        tp = int((flagged & (yy == 1)).sum())
        fp = int((flagged & (yy == 0) & labelled).sum())
        f1[i] = 2 * tp / (2 * tp + fp + (positives - tp))
    # the maximum of F1 itself is a single point that a rounding difference in the scores can move far (one fold's
    # threshold went from 0.61 to 0.72 that way): the maximum of its moving average is a plateau, and moves less
    k = F1_SMOOTHING
    smooth = np.array([f1[max(0, i - k) : i + k + 1].mean() for i in range(len(f1))])
    best = float(candidates[int(np.argmax(np.where(allowed, smooth, -1.0)))]) if allowed.any() else 0.5
    pos_sorted = np.sort(s[yy == 1])
    watch = float(pos_sorted[int(math.floor((1 - WATCH_RECALL) * (len(pos_sorted) - 1)))])
    if len(corpus_s):
        allowed_rows = int(math.floor(MAX_CORPUS_WATCH * len(corpus_s)))  # corpus rows that may reach watch
        if allowed_rows < len(corpus_s):
            watch = max(watch, float(np.nextafter(corpus_s[len(corpus_s) - allowed_rows - 1], np.inf)))
    watch = max(1e-4, min(math.ceil(watch * 1e6) / 1e6, best))  # rounded up: never below what was chosen
    return round(best, 6), watch


# --- results -------------------------------------------------------------------------------------------------
@dataclass
class CVResult:
    """Out-of-fold labels of every row: the rules' (fixed, nothing to fit) and the learned scorer's."""

    rows: list[Row]
    rules: np.ndarray
    model: np.ndarray  # the scorer's own label
    score: np.ndarray
    fold: np.ndarray
    thresholds: list[dict[str, float]]

    @property
    def classifier(self) -> np.ndarray:
        """The label the classifier gives: the scorer's, with a rules flag or watch queued at least as watch."""
        out = self.model.copy()
        out[(self.rules != "clear") & (out == "clear")] = "watch"
        return out


def describe_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    return [{"file": Path(p).name, "sha256": file_digest(p)} for p in paths]


def card(
    params: TrainParams,
    files: list[dict[str, Any]],
    rows: Sequence[Row],
    extra: dict[str, Any] | None = None,
    trained_at: datetime | None = None,
) -> dict[str, Any]:
    """The model card's facts, stored in the artifact's meta (``trained_at``: now unless given)."""
    by_origin: dict[str, dict[str, int]] = {}
    for r in rows:
        d = by_origin.setdefault(r.origin, {"rows": 0, "positives": 0})
        d["rows"] += 1
        d["positives"] += r.label
    for f in files:
        f.update(by_origin.get(f["file"], {}))
    meta: dict[str, Any] = {
        "trained_at": (trained_at or datetime.now(UTC)).replace(microsecond=0).isoformat(),
        "params": params.to_dict(),
        "data": files,
        "rows": len(rows),
        "positives": int(sum(r.label for r in rows)),
        "groups": len({r.group for r in rows}),
    }
    if extra:
        meta.update(extra)
    return meta
