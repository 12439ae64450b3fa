"""The learned scorer's fit over the kinds of text it must tell apart: a multinomial logistic regression.

A promotion is told apart from a news report of a case, from anti-fraud publicity, from a bank's product page
and from an ordinary post by different words: a reporting frame, a warning, a licence, the absence of money.
A single "promotion or not" weight vector has to fold all of these into one direction; a multinomial
regression over the kinds of the labelled rows (and one class for the corpora of ordinary text) learns a
direction per kind. What the classifier keeps of it are the contrasts, promotion against each other class:
``log P(promotion) / P(kind)`` is linear in the features, so the score is

    P(promotion) = 1 / (1 + sum over kinds of exp(-margin(kind)))

and with one other class this is the binary logistic regression (``classifier.training.fit_logistic``).
Measured by grouped cross-validation before it replaced the binary fit: docs/model.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MIN_CLASS_ROWS", "NEGATIVE", "PROMOTION", "classes_of", "fit_multinomial"]

# A kind of look-alike with fewer training rows than this is not a class of its own: it joins "negative"
# (a direction learned from a handful of rows describes those rows, not their kind).
MIN_CLASS_ROWS = 10
PROMOTION = "promotion"
CORPUS = "corpus"
NEGATIVE = "negative"


def classes_of(kinds: Sequence[str], labels: np.ndarray, corpus: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The classes of these rows (promotion first) and each row's class index: promotions, the corpora's rows
    together, and each kind of labelled negative with at least ``MIN_CLASS_ROWS`` rows (the others together)."""
    names = [PROMOTION if y == 1 else CORPUS if c else str(k) for k, y, c in zip(kinds, labels, corpus, strict=True)]
    counts = Counter(names)
    names = [n if n in (PROMOTION, CORPUS) or counts[n] >= MIN_CLASS_ROWS else NEGATIVE for n in names]
    others = sorted(set(names) - {PROMOTION})
    classes = [PROMOTION, *others]
    index = {name: i for i, name in enumerate(classes)}
    return classes, np.array([index[n] for n in names], dtype=np.int64)


def fit_multinomial(
    X: Any,
    cls: np.ndarray,
    n_classes: int,
    weight: np.ndarray,
    C: float,
    n_free: int,
    signs: Sequence[int],
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted, L2-regularised multinomial logistic regression (C times the weighted log-loss plus half the
    squared norm of the weights, intercepts not penalised), fitted with L-BFGS-B. Class 0 is the promotion;
    the columns after the first ``n_free`` keep the direction ``signs`` gives them against every other class
    (+1: the promotion's weight at least 0, every other class's at most 0; -1 the other way round).

    Returns the contrasts: weights (columns × classes-1) and intercepts (classes-1) of log P(class 0) / P(k)."""
    from scipy.optimize import minimize

    n, m = X.shape
    K = n_classes
    if K < 2:
        raise ValueError("a multinomial fit needs at least two classes")
    Y = np.zeros((n, K))
    Y[np.arange(n), cls] = 1.0
    cw = C * np.asarray(weight, dtype=np.float64)
    Xt = X.T.tocsr()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: m * K].reshape(m, K)
        Z = X @ W + theta[m * K :]
        Z -= Z.max(axis=1, keepdims=True)
        logp = Z - np.log(np.exp(Z).sum(axis=1))[:, None]
        value = -float(cw @ (logp * Y).sum(axis=1)) + 0.5 * float((W * W).sum())
        R = cw[:, None] * (np.exp(logp) - Y)
        return value, np.concatenate([(Xt @ R + W).ravel(), R.sum(axis=0)])

    free: tuple[float | None, float | None] = (None, None)
    bounds = [free] * (n_free * K)
    for s in signs:
        for k in range(K):
            bounds.append((0.0, None) if (k == 0) == (s > 0) else (None, 0.0))
    bounds += [free] * (m * K + K - len(bounds))  # any remaining column, and the intercepts
    result = minimize(
        loss, np.zeros(m * K + K), jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": max_iter, "ftol": 1e-9, "gtol": 1e-5},
    )  # fmt: skip
    W = result.x[: m * K].reshape(m, K)
    b = result.x[m * K :]
    return W[:, :1] - W[:, 1:], b[0] - b[1:]
