"""How surprising is a local-alignment score? A Karlin-Altschul / Gumbel null model, as in BLAST.

For unrelated melodies of m and n steps, the best local score S follows
``P(S >= x) = 1 - exp(-K m n exp(-lambda x))``. LAMBDA and K were fitted on scores of unrelated real corpus
melodies (`scripts/calibrate.py`). With them every score becomes a length-corrected *reduced score*
``z = lambda S - ln(K m n)``, standard Gumbel under the null, whose tail is ``P(z' >= z) ~ exp(-z)``.

Real melodies are not random: a query made of common idioms (scale runs, repeated notes, a standard
cadence) resembles many references more than the global model expects. When the catalog is large enough,
the query's own scores against it are the null sample (nearly all references are unrelated): the upper tail
of its reduced scores is fitted by an exponential, ``P(z' >= z) = q exp(-beta (z - t))`` above the
(1 - q) quantile t, leaving out the very best few (candidate true matches). beta < 1 means the query is
cliché-prone and its matches count less.

The E-value of a match is the number of references expected to score at least this well by chance,
``E = N p``; `confidence` = exp(-E) is the probability that no chance match in the catalog is this good.
"""
from __future__ import annotations

import numpy as np

LAMBDA = 0.2130
K_GLOBAL = 0.00819
MIN_FOR_LOCAL_FIT = 200     # catalogs at least this large fit the tail per query
TAIL_SHARE = 0.05           # the share of references in the fitted tail
TAIL_SKIP = 3               # best scores left out of the fit (they may be real matches)
DEFAULT_MAX_EVALUE = 0.005  # flagged when E <= this: on scripts/bench_accuracy.py (seed 0) FPR 1 of 165, see BENCHMARKS.md


def reduced_scores(scores: np.ndarray, m: int, n: np.ndarray) -> np.ndarray:
    """lambda S - ln(K m n): standard Gumbel for unrelated melodies under the global model."""
    space = max(float(m), 1.0) * np.maximum(np.asarray(n, dtype="f8"), 1.0)
    return LAMBDA * np.asarray(scores, dtype="f8") - np.log(K_GLOBAL * space)


def tail_fit(z: np.ndarray) -> tuple[float, float]:
    """(threshold t, rate beta) of the exponential upper tail of reduced scores z (see module docstring)."""
    t = float(np.quantile(z, 1.0 - TAIL_SHARE))
    tail = np.sort(z[z > t])[:-TAIL_SKIP] if np.sum(z > t) > 2 * TAIL_SKIP else z[z > t]
    if len(tail) < 5:
        return t, 1.0
    return t, float(1.0 / max(np.mean(tail - t), 1e-3))


def evalues(scores: np.ndarray, m: int, n: np.ndarray) -> tuple[np.ndarray, dict]:
    """E-value of every reference's score against a catalog of len(scores) references.

    Returns (evalues, model): model says which null model was used and its parameters.
    """
    z = reduced_scores(scores, m, n)
    count = len(z)
    p = -np.expm1(-np.exp(-z))                      # global Gumbel p-value
    model = {"model": "global", "lambda": LAMBDA, "K": K_GLOBAL}
    if count >= MIN_FOR_LOCAL_FIT:
        t, beta = tail_fit(z)
        p_tail = TAIL_SHARE * np.exp(-beta * (z - t))
        above = z > t
        # the query's own tail, but never more significant than the global model allows
        p = np.where(above, np.maximum(p, p_tail), np.maximum(p, TAIL_SHARE))
        model = {"model": "query tail", "lambda": LAMBDA, "K": K_GLOBAL, "threshold": t, "beta": beta}
    return count * np.clip(p, 0.0, 1.0), model


def confidence(evalue):
    """exp(-E): the probability that no chance match this good exists in the catalog."""
    return np.exp(-np.asarray(evalue, dtype="f8"))
