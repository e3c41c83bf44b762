#!/usr/bin/env python
"""Census of rhythm distances: how far apart in log2 are the lengths of two aligned steps, among real
variants and among chance alignments?

Every pair of melodies of one MTC-ANN tune family (real variants, sung by different people) is aligned as
`Catalog.search` shows a match (`melody.align.local_align`, changed notes read as `census_beats` reads
them); every step between two consecutive aligned note pairs of both melodies (a (1,1) pair of steps, as
the pitch re-scoring scores its rhythm) gets its rhythm distance: the smaller of the difference of the
two normalised log2 lengths and the difference of the two changes of log2 length from the step before
(`melody.align.kernels._rhythm_score`'s dl). The same for as many pairs of melodies of different families
(what the null sees). Per band of distance: the share of the steps among variants and among chance pairs,
and the log-odds in bits of that band, log2 of the one over the other: what a rhythm term in bits would
pay for a pair that far apart. Among notated variants a length 7-30% off is rarer than by chance (so a
score keeps its yes/no tolerance) and a 3:2 or 2:1 ratio is a real rhythm change; a played melody's
graded rhythm (`melody.score.rescore.played_params`) ends its fade short of 3:2 (BENCHMARKS.md,
twenty-first session).

    .venv/bin/python scripts/census_rhythm.py [--data ../shared/data/mtc-ann-dev.jsonl.gz]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

# Upper edges of the distance bands (log2 units); the last band is everything beyond.
EDGES = (0.01, 0.1, 0.2, 0.3, 0.45, 0.65, 0.9, 1.1, 1.7)


def rhythm_distance(lq: np.ndarray, lr: np.ndarray, i: int, j: int) -> float:
    """dl of query step i against reference step j (log2 lengths lq / lr), as `_rhythm_score` reads it."""
    d = abs(lq[i] - lr[j])
    if i >= 1 and j >= 1:
        d = min(d, abs((lq[i] - lq[i - 1]) - (lr[j] - lr[j - 1])))
    return float(d)


def distances(melodies, pairs_of_melodies, min_pairs: int = 4) -> np.ndarray:
    """Rhythm distances of every (1,1) step pair in the local alignments of the given pairs of melodies."""
    from melody.align import local_align
    from melody.represent import features
    from melody.score.match import _substitutions
    feats = [features(m) for m in melodies]
    logs = [np.log2(f.length.astype("f8")) for f in feats]
    out = []
    for a, b in pairs_of_melodies:
        pairs = _substitutions(local_align(feats[a], feats[b]).pairs)
        if len(pairs) < min_pairs:
            continue
        for (i, j), (i2, j2) in zip(pairs, pairs[1:]):
            if i2 == i + 1 and j2 == j + 1:
                out.append(rhythm_distance(logs[a], logs[b], i, j))
    return np.array(out)


def table(related: np.ndarray, chance: np.ndarray) -> list[tuple[str, float, float, float]]:
    """(band, share among variants, share among chance pairs, log-odds in bits) per band of EDGES."""
    rows, lo = [], 0.0
    for hi in EDGES + (np.inf,):
        a = float(np.mean((related >= lo) & (related < hi)))
        b = float(np.mean((chance >= lo) & (chance < hi)))
        bits = float(np.log2(a / b)) if a > 0 and b > 0 else float("nan")
        rows.append((f"{lo:.2f}-{hi:.2f}", a, b, bits))
        lo = hi
    return rows


def main(argv=None) -> int:
    from bench_families import DEFAULT_DATA, load_mtc
    from census_beats import family_pairs
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=0, help="seed of the cross-family sample")
    args = ap.parse_args(argv)
    melodies = load_mtc(args.data)
    same, chance_pairs = family_pairs(melodies, args.seed)
    related = distances(melodies, same)
    chance = distances(melodies, chance_pairs)
    print(f"{len(same)} variant pairs: {len(related)} aligned step pairs; {len(same)} chance pairs: "
          f"{len(chance)} aligned step pairs")
    print(f"{'band (log2)':>12} {'variants':>9} {'chance':>9} {'bits':>7}")
    for band, a, b, bits in table(related, chance):
        print(f"{band:>12} {a:9.3f} {b:9.3f} {bits:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
