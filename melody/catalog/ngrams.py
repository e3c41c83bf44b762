"""Candidate filter for large catalogs: an inverted index of interval n-grams.

Every run of GRAM consecutive pitch intervals (rounded to semitones, clipped to an octave) of every catalog
melody is a key; the index lists, per key, the rows whose melodies contain it (CSR: ``starts`` per key into
``postings``). A query is scored against every row at once by summing the inverse document frequency
(log N / df) of the query's distinct keys the row shares: rare shared patterns count, scale runs and
repeated notes hardly do. Intervals are transposition-invariant and the index ignores rhythm, so a borrowed
phrase in another key, tempo or rhythm keeps its keys; a changed note spoils at most GRAM + 1 of them.

The filter only chooses which rows the exact alignment scores (`melody.catalog.Catalog.search`); it never
decides a match on its own.
"""
from __future__ import annotations

import numpy as np

GRAM = 4                    # intervals per key
CLIP = 12                   # intervals beyond an octave count as an octave
SYMBOLS = 2 * CLIP + 1
N_KEYS = SYMBOLS ** GRAM
ROW_BITS = 32               # sort key = key << ROW_BITS | row


def gram_keys(interval: np.ndarray, step_offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(keys, start positions) of every GRAM-step window that lies inside one melody.

    ``step_offsets`` (rows' step ranges) keeps windows from crossing from one melody into the next; None
    means one melody.
    """
    s = (np.clip(np.rint(np.asarray(interval, dtype="f4")), -CLIP, CLIP) + CLIP).astype(np.int64)
    n = len(s) - GRAM + 1
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.zeros(n, dtype=np.int64)
    for k in range(GRAM):
        key = key * SYMBOLS + s[k:k + n]
    pos = np.arange(n, dtype=np.int64)
    if step_offsets is None:
        return key, pos
    row = np.searchsorted(step_offsets, pos, side="right") - 1
    inside = pos + GRAM <= step_offsets[row + 1]
    return key[inside], pos[inside]


def build_index(interval: np.ndarray, step_offsets: np.ndarray, chunk_rows: int = 200_000):
    """(starts int64 [N_KEYS + 1], postings int32): the rows holding each key, each row once per key."""
    step_offsets = np.asarray(step_offsets, dtype=np.int64)
    n_rows = len(step_offsets) - 1
    parts = []
    for a in range(0, n_rows, chunk_rows):          # windows never cross rows, so chunks by row are exact
        b = min(a + chunk_rows, n_rows)
        lo, hi = step_offsets[a], step_offsets[b]
        key, pos = gram_keys(interval[lo:hi], step_offsets[a:b + 1] - lo)
        row = np.searchsorted(step_offsets, pos + lo, side="right") - 1
        parts.append(_sorted_unique((key << ROW_BITS) | row))
    combined = _sorted_unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    keys = combined >> ROW_BITS
    postings = (combined & ((1 << ROW_BITS) - 1)).astype(np.int32)
    starts = np.searchsorted(keys, np.arange(N_KEYS + 1, dtype=np.int64)).astype(np.int64)
    return starts, postings


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's hash-based unique is ~20x slower on tens of millions of int64)."""
    x = np.sort(x)
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]


def candidate_scores(query_interval: np.ndarray, starts: np.ndarray, postings: np.ndarray,
                     n_rows: int) -> np.ndarray:
    """Sum over the query's distinct keys of log(N / df), for every row that holds the key (float32)."""
    keys = _sorted_unique(gram_keys(query_interval)[0])
    out = np.zeros(n_rows, dtype=np.float32)
    if len(keys) == 0 or n_rows == 0:
        return out
    lo, hi = starts[keys], starts[keys + 1]
    df = hi - lo
    keep = df > 0
    lo, hi, df = lo[keep], hi[keep], df[keep]
    if len(df) == 0:
        return out
    idf = np.log(n_rows / df).astype(np.float32)
    rows = np.concatenate([postings[a:b] for a, b in zip(lo, hi)])
    out += np.bincount(rows, weights=np.repeat(idf, df), minlength=n_rows).astype(np.float32)
    return out


def candidates(query_interval: np.ndarray, starts: np.ndarray, postings: np.ndarray, n_rows: int,
               count: int) -> np.ndarray:
    """The `count` rows (sorted) that share the most n-gram evidence with the query (ties: lower row)."""
    score = candidate_scores(query_interval, starts, postings, n_rows)
    count = min(count, n_rows)
    if count >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    top = np.argpartition(-score, count - 1)[:count]
    return np.sort(top).astype(np.int64)
