"""Fit the null model of melody.score.significance: LAMBDA and K of P(S >= x) = 1 - exp(-K m n e^(-lambda x)).

Scores come from pairs of *unrelated* real melodies (different corpus tunes, different collections), each
query aligned against a whole catalog sample, the way search uses them. Prints the fitted constants.

    .venv/bin/python scripts/calibrate.py --pairs 20000
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody import align  # noqa: E402
from melody.io.abc import load_abc  # noqa: E402
from melody.represent import features  # noqa: E402


def corpus(folder: str, limit: int, rng) -> list:
    import music21
    root = os.path.join(os.path.dirname(music21.__file__), "corpus", folder)
    tunes = [m for f in sorted(glob.glob(os.path.join(root, "*.abc"))) for m in load_abc(f) if len(m.notes) >= 8]
    rng.shuffle(tunes)
    return tunes[:limit]


def fit(scores, mn):
    """MLE of (lambda, K) for Gumbel maxima with location log(K m n) / lambda."""
    def nll(theta):
        lam, logk = np.exp(theta[0]), theta[1]
        z = lam * scores - logk - np.log(mn)
        return -np.sum(np.log(lam) - z - np.exp(-z))
    res = minimize(nll, x0=[0.0, np.log(0.1)], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6})
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    queries = corpus("oneills1850", 400, rng) + corpus("ryansMammoth", 400, rng)
    refs = corpus("essenFolksong", 4000, rng)
    qf = [features(m) for m in queries]
    rf = [features(m) for m in refs]
    scores, mn = [], []
    while len(scores) < args.pairs:
        a, b = qf[rng.integers(len(qf))], rf[rng.integers(len(rf))]
        s = align.local_align(a, b).score
        scores.append(s)
        mn.append(len(a) * len(b))
    scores, mn = np.array(scores), np.array(mn, dtype="f8")
    lam, k = fit(scores, mn)
    y = k * mn * np.exp(-lam * scores)
    p = -np.expm1(-y)
    print(f"pairs={len(scores)} mean score={scores.mean():.2f} LAMBDA={lam:.4f} K={k:.5f}")
    for alpha in (0.1, 0.01, 0.001):
        print(f"  fraction of null pairs with p <= {alpha}: {np.mean(p <= alpha):.4f}")


if __name__ == "__main__":
    main()
