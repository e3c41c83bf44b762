#!/usr/bin/env python
"""Census of changed notes by beat strength: do variants of one tune change weak beats more than strong ones?

Every pair of melodies of one MTC-ANN tune family (real variants, sung by different people) is aligned as
`Catalog.search` shows a match (`melody.align.local_align`, with `melody.score.match`'s reading of an
equal gap on both sides as changed notes); under the pairs' median transposition each aligned note pair is
the same pitch, an octave off, a near miss (1-2 semitones) or a mismatch. The pairs are counted by the
weaker of the two notes' metric classes (`melody.represent.metric_classes`: 2 downbeat, 1 beat, 0 off the
beat), and the same for as many pairs of melodies of different families (chance alignments, the null's
view). The pitch re-scoring's P_OFFBEAT / P_DOWNBEAT (`melody.align.pitch`) were read off this table
(BENCHMARKS.md, fifteenth session: weak beats).

    .venv/bin/python scripts/census_beats.py [--data ../shared/data/mtc-ann-dev.jsonl.gz]
"""
from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

OUTCOMES = ("match", "octave", "near", "mismatch")
CLASSES = ((2, "downbeat"), (1, "beat"), (0, "off the beat"), (-1, "unknown"))


def outcome(difference: int) -> str:
    """A note pair's pitch difference from the transposition, read as the pitch kernel reads it."""
    if difference == 0:
        return "match"
    if difference % 12 == 0:
        return "octave"
    return "near" if abs(difference) <= 2 else "mismatch"


def count_pairs(query_pitch, reference_pitch, query_metric, reference_metric, pairs,
                counts: collections.Counter) -> None:
    """Add every aligned (query, reference) note pair to counts[(weaker metric class, outcome)], under the
    pairs' median transposition."""
    if not pairs:
        return
    diffs = np.array([query_pitch[i] - reference_pitch[j] for i, j in pairs], dtype="f8")
    transposition = int(np.round(np.median(diffs)))
    for (i, j), d in zip(pairs, diffs):
        weaker = int(min(query_metric[i], reference_metric[j]))
        counts[(weaker, outcome(int(round(d)) - transposition))] += 1


def changed_share(counts: collections.Counter, cls: int) -> tuple[float, int]:
    """(share of near misses and mismatches, number of pairs) among the pairs of metric class cls."""
    total = sum(counts[(cls, o)] for o in OUTCOMES)
    changed = counts[(cls, "near")] + counts[(cls, "mismatch")]
    return (changed / total if total else float("nan")), total


def census(melodies, pairs_of_melodies, min_pairs: int = 4) -> collections.Counter:
    """Counts (`count_pairs`) over the local alignments of the given pairs of melodies."""
    from melody.align import local_align
    from melody.represent import features, metric_classes
    from melody.score.match import _substitutions
    feats = [features(m) for m in melodies]
    metric = [metric_classes(m.notes) for m in melodies]
    counts = collections.Counter()
    for a, b in pairs_of_melodies:
        pairs = _substitutions(local_align(feats[a], feats[b]).pairs)
        if len(pairs) >= min_pairs:
            count_pairs(melodies[a].notes["pitch"], melodies[b].notes["pitch"], metric[a], metric[b], pairs, counts)
    return counts


def main(argv=None) -> int:
    from bench_families import DEFAULT_DATA, load_mtc
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=0, help="seed of the cross-family sample")
    args = ap.parse_args(argv)
    melodies = load_mtc(args.data)
    family = [m.meta["family"] for m in melodies]
    every = list(itertools.combinations(range(len(melodies)), 2))
    same = [(a, b) for a, b in every if family[a] == family[b]]
    other = [(a, b) for a, b in every if family[a] != family[b]]
    pick = np.random.default_rng(args.seed).choice(len(other), len(same), replace=False)
    tables = {"same family": census(melodies, same), "other families": census(melodies, [other[k] for k in pick])}
    print(f"{len(melodies)} melodies, {len(same)} pairs of one family and as many of two; aligned note pairs "
          "by the weaker note's metric class: changed (near or mismatch) share, pairs")
    print("| class | " + " | ".join(tables) + " | log2 ratio |")
    print("|---|" + "---|" * (len(tables) + 1))
    for cls, name in CLASSES:
        shares = [changed_share(t, cls) for t in tables.values()]
        if all(n == 0 for _, n in shares):
            continue
        ratio = np.log2(shares[0][0] / shares[1][0]) if shares[1][0] > 0 else float("nan")
        print(f"| {name} | " + " | ".join(f"{100 * s:.1f}% of {n}" for s, n in shares) + f" | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
