"""How surprising is a local-alignment score? A Karlin-Altschul / Gumbel null model, as in BLAST.

For unrelated melodies of m and n steps, the best local score S follows
``P(S >= x) = 1 - exp(-K m n exp(-lambda x))``. LAMBDA and K were fitted on scores of unrelated corpus
melodies (scripts/calibrate.py). When the catalog is large enough, K is re-estimated per query from the
query's own scores against the catalog (their median; most references are unrelated), so a query made of
clichés (scale runs, repeated notes) that resembles everything gets a larger K and weaker significance.

The E-value of a match is the number of references expected to score at least this well by chance:
``E = N * p``. `score` = exp(-E) is the probability that no chance match in the catalog is this good.
"""
from __future__ import annotations

import numpy as np

LAMBDA = 1.0
K_GLOBAL = 0.1
MIN_FOR_LOCAL_FIT = 200
DEFAULT_MAX_EVALUE = 0.01   # a match is flagged when its E-value is at most this


def search_space(m: int, n: np.ndarray) -> np.ndarray:
    return np.maximum(float(m), 1.0) * np.maximum(n.astype("f8"), 1.0)


def fit_k(scores: np.ndarray, m: int, n: np.ndarray, lam: float = LAMBDA) -> float:
    """K for this query: the median of Y = K m n exp(-lambda S) must equal ln 2 (Y ~ Exp(1) under the null)."""
    y = search_space(m, n) * np.exp(-lam * scores)
    return float(np.log(2.0) / np.median(y))


def evalues(scores: np.ndarray, m: int, n: np.ndarray, lam: float = LAMBDA, k: float | None = None):
    """E-values of every reference's score against a catalog of len(scores) references.

    Returns (evalue array, K used).
    """
    scores = np.asarray(scores, dtype="f8")
    if k is None:
        k = K_GLOBAL
        if len(scores) >= MIN_FOR_LOCAL_FIT:
            k = max(k, fit_k(scores, m, n, lam))
    y = k * search_space(m, n) * np.exp(-lam * scores)
    p = -np.expm1(-y)
    return len(scores) * p, k


def confidence(evalue: np.ndarray | float):
    """exp(-E): the probability that no chance match this good exists in the catalog."""
    return np.exp(-np.asarray(evalue, dtype="f8"))
