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
cliché-prone and its matches count less. A small catalog has too few scores for that: there, the sample
is the query against shuffled copies of the references (BLAST's way), which keeps the catalog's own
interval and rhythm make-up (a catalog of leapy melodies makes leaps common, not rare).

The E-value of a match is the number of references expected to score at least this well by chance,
``E = N p``; `confidence` = exp(-E) is the probability that no chance match in the catalog is this good.
"""
from __future__ import annotations

import numpy as np

LAMBDA = 0.2743
K_GLOBAL = 0.01037
MIN_FOR_LOCAL_FIT = 200     # catalogs at least this large fit the tail per query
TAIL_SHARE = 0.05           # the share of references in the fitted tail
TAIL_SKIP = 3               # best scores left out of the fit (they may be real matches)
DEFAULT_MAX_EVALUE = 0.1    # flagged when E <= this: on scripts/bench_accuracy.py FPR 0 of 165 (seed 0), 1 of 165 (seed 1), BENCHMARKS.md


def reduced_scores(scores: np.ndarray, m: int, n: np.ndarray) -> np.ndarray:
    """lambda S - ln(K m n): standard Gumbel for unrelated melodies under the global model."""
    space = max(float(m), 1.0) * np.maximum(np.asarray(n, dtype="f8"), 1.0)
    return LAMBDA * np.asarray(scores, dtype="f8") - np.log(K_GLOBAL * space)


def tail_fit(z: np.ndarray, share: float = TAIL_SHARE, skip: int = TAIL_SKIP) -> tuple[float, float]:
    """(threshold t, rate beta) of the exponential upper tail of reduced scores z (see module docstring):
    t the (1 - share) quantile, beta fitted to the excesses over t less the `skip` best."""
    t = float(np.quantile(z, 1.0 - share))
    tail = np.sort(z[z > t])[:-skip] if np.sum(z > t) > 2 * skip else z[z > t]
    if len(tail) < 5:
        return t, 1.0
    return t, float(1.0 / max(np.mean(tail - t), 1e-3))


def evalues(scores: np.ndarray, m: int, n: np.ndarray, null_scores: np.ndarray | None = None,
            null_n: np.ndarray | None = None, n_refs: int | None = None) -> tuple[np.ndarray, dict]:
    """E-value of every reference's score against a catalog of len(scores) references.

    The tail of the null comes from the catalog's own scores when it has at least MIN_FOR_LOCAL_FIT
    references, else from `null_scores` (the query against shuffled references, lengths `null_n`) when
    given; the global model is the floor either way. Returns (evalues, model used).

    n_refs: the catalog's size when `scores` cover only some of its references (a large catalog whose best
    rows were re-scored after a fast first pass); the tail then comes from `null_scores`, the query's
    first-pass scores against the whole catalog (model "catalog first pass").
    """
    z = reduced_scores(scores, m, n)
    count = len(z) if n_refs is None else int(n_refs)
    p = -np.expm1(-np.exp(-z))                      # global Gumbel p-value
    model = {"model": "global", "lambda": LAMBDA, "K": K_GLOBAL}
    sample = z if count >= MIN_FOR_LOCAL_FIT and n_refs is None else None
    if sample is None and null_scores is not None and len(null_scores) >= MIN_FOR_LOCAL_FIT:
        sample = reduced_scores(null_scores, m, null_n)
    if sample is not None:
        t, beta = tail_fit(sample)
        p_tail = TAIL_SHARE * np.exp(-beta * (z - t))
        # the query's own tail, but never more significant than the global model allows
        p = np.where(z > t, np.maximum(p, p_tail), np.maximum(p, TAIL_SHARE))
        kind = "query tail" if sample is z else "shuffled references" if n_refs is None else "catalog first pass"
        model = {"model": kind, "lambda": LAMBDA,
                 "K": K_GLOBAL, "threshold": t, "beta": beta}
    return count * np.clip(p, 0.0, 1.0), model


def shuffled(steps: tuple[np.ndarray, ...], offsets: np.ndarray, copies: int, seed: int = 0):
    """`copies` shuffles of every reference's steps (order permuted within each reference, every feature
    moved together): unrelated material with the catalog's own composition, for small catalogs' nulls."""
    rng = np.random.default_rng(seed)
    counts = np.diff(offsets)
    order = []
    for _ in range(copies):
        for r, c in enumerate(counts):
            order.append(offsets[r] + rng.permutation(c))
    index = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    new_offsets = np.concatenate([[0], np.cumsum(np.tile(counts, copies))]).astype(np.int64)
    return tuple(a[index] for a in steps), new_offsets


def confidence(evalue):
    """exp(-E): the probability that no chance match this good exists in the catalog."""
    return np.exp(-np.asarray(evalue, dtype="f8"))
