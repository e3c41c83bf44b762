"""How common is a melodic step? Information weights for the alignment score.

Following Muellensiefen & Pendzich (2009), shared material counts by how rare it is in the repertoire: a
step that the two preceding steps make predictable (the next note of a scale run, the usual cadence
formula) weighs little; a surprising leap weighs a lot. The weight of step k is its information in bits,
``-log2 P(interval_k | interval_k-1, interval_k-2)``, from a smoothed trigram model of intervals counted
over ~11,600 public-domain folk tunes of music21's corpus (essenFolksong, oneills1850, ryansMammoth;
intervals clipped to +-13 semitones). The counts live in ``data/interval_ngrams.npz`` (plain integer
arrays, loaded without pickle) and are rebuilt by ``scripts/calibrate.py --commonness``.
"""
from __future__ import annotations

import os

import numpy as np

N_SYMBOLS = 27          # intervals -13..13
START = 27              # context symbol before the first step
MATCH_OFFSET_BITS = 0.3  # a match is evidence only as far as it beats chance agreement
MIN_WEIGHT, MAX_WEIGHT = 0.5, 8.0
SMOOTHING = 20.0        # Dirichlet pseudo-counts towards the lower-order model
NGRAM_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "interval_ngrams.npz")


def _load_model(path: str = NGRAM_PATH):
    with np.load(path, allow_pickle=False) as data:
        counts = data["counts"].astype("f8")          # (28 context, 28 context, 27 next)
    uni = counts.sum(axis=(0, 1)) + 1.0
    p1 = uni / uni.sum()
    bi = counts.sum(axis=0)                           # (28 previous, 27 next)
    p2 = (bi + SMOOTHING * p1) / (bi.sum(axis=1, keepdims=True) + SMOOTHING)
    p3 = (counts + SMOOTHING * p2[None, :, :]) / (counts.sum(axis=2, keepdims=True) + SMOOTHING)
    return p1, p3


P_UNIGRAM, P_TRIGRAM = _load_model()


def _symbols(interval: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(interval), -13, 13).astype(np.int64) + 13


def _to_weight(bits: np.ndarray) -> np.ndarray:
    return np.clip(bits - MATCH_OFFSET_BITS, MIN_WEIGHT, MAX_WEIGHT).astype("f4")


def interval_weights(interval: np.ndarray) -> np.ndarray:
    """Information weight of each interval on its own (no context), in bits, clipped."""
    return _to_weight(-np.log2(P_UNIGRAM[_symbols(np.asarray(interval))]))


def step_weights(interval: np.ndarray) -> np.ndarray:
    """Information weight of each step given the two steps before it (see module docstring)."""
    s = _symbols(np.asarray(interval))
    ctx = np.concatenate([[START, START], s])
    return _to_weight(-np.log2(P_TRIGRAM[ctx[:-2], ctx[1:-1], s]))


WEIGHT_TABLE = interval_weights(np.arange(-13, 14))   # weights of summed steps, indexed by interval + 13
