#!/usr/bin/env python
"""Census of changed notes by beat strength: do variants of one tune change weak beats more than strong ones?

Every pair of melodies of one MTC-ANN tune family (real variants, sung by different people) is aligned as
`Catalog.search` shows a match (`melody.align.local_align`, with `melody.score.match`'s reading of an
equal gap on both sides as changed notes); under the pairs' median transposition each aligned note pair is
the same pitch, an octave off, a near miss (1-2 semitones) or a mismatch. The pairs are counted by where
their two notes sit (`melody.represent.metric_classes`): both on a downbeat, both on another beat, both off
the beat, at two different places in the bar, or unknown; and the same for as many pairs of melodies of
different families (chance alignments: what the null sees). For each place: the share of its pairs that
are changed, and the log-odds in bits of a changed pair there, log2 of its share of all aligned pairs
among variants over that among chance alignments (likewise for a matched pair): what a score in bits
would charge. The beat-strength weights tried in the pitch re-scoring were read off this table (not
kept: BENCHMARKS.md, "Fifteenth session: a changed weak beat is a smaller change").

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
PLACES = ("both downbeats", "both beats", "both off the beat", "different places", "unknown")


def outcome(difference: int) -> str:
    """A note pair's pitch difference from the transposition, read as the pitch kernel reads it."""
    if difference == 0:
        return "match"
    if difference % 12 == 0:
        return "octave"
    return "near" if abs(difference) <= 2 else "mismatch"


def place(query_class: int, reference_class: int) -> str:
    """Where a note pair sits, from its two notes' metric classes (2 downbeat, 1 beat, 0 off, -1 unknown)."""
    if query_class < 0 or reference_class < 0:
        return "unknown"
    if query_class != reference_class:
        return "different places"
    return PLACES[2 - int(query_class)]


def count_pairs(query_pitch, reference_pitch, query_metric, reference_metric, pairs,
                counts: collections.Counter, where=None) -> None:
    """Add every aligned (query, reference) note pair to counts[(place, outcome)], under the pairs' median
    transposition (place: `where(query class, reference class)`, `place` unless given)."""
    where = where or place
    if not pairs:
        return
    diffs = np.array([query_pitch[i] - reference_pitch[j] for i, j in pairs], dtype="f8")
    transposition = int(np.round(np.median(diffs)))
    for (i, j), d in zip(pairs, diffs):
        counts[(where(query_metric[i], reference_metric[j]), outcome(int(round(d)) - transposition))] += 1


def changed_share(counts: collections.Counter, where: str) -> tuple[float, int]:
    """(share of near misses and mismatches, number of pairs) among the pairs at `where`."""
    total = sum(counts[(where, o)] for o in OUTCOMES)
    changed = counts[(where, "near")] + counts[(where, "mismatch")]
    return (changed / total if total else float("nan")), total


def log_odds(related: collections.Counter, chance: collections.Counter, where: str, outcomes) -> float:
    """log2 of the share of all aligned pairs that sit at `where` with one of `outcomes`, among related
    melodies over that among chance alignments."""
    def share(counts):
        return sum(counts[(where, o)] for o in outcomes) / max(sum(counts.values()), 1)
    a, b = share(related), share(chance)
    return float(np.log2(a / b)) if a > 0 and b > 0 else float("nan")


def agreement_bits(related: collections.Counter, chance: collections.Counter, outcomes=OUTCOMES) -> dict:
    """Metric agreement as log-odds, whatever the pitch outcome (among `outcomes`): log2 of the share of
    the known pairs (both places known) at the same place among related melodies over that among chance
    alignments ("same"), likewise for pairs at two different places ("apart"), and that split into pairs
    of a downbeat and another beat ("downbeat vs beat") and of a note on a beat and one off it ("on vs
    off"); needs counts by `class_pair`. What `melody.align.pitch`'s P_APART / P_APART_BEATS charge."""
    def share(counts, kinds):
        known = sum(v for (k, o), v in counts.items() if k != "unknown" and o in outcomes)
        return sum(v for (k, o), v in counts.items() if k in kinds and o in outcomes) / max(known, 1)
    groups = {"same": ("same",), "apart": ("downbeat vs beat", "on vs off"),
              "downbeat vs beat": ("downbeat vs beat",), "on vs off": ("on vs off",)}
    def bits(kinds):
        a, b = share(related, kinds), share(chance, kinds)
        return float(np.log2(a / b)) if a > 0 and b > 0 else float("nan")
    return {name: bits(kinds) for name, kinds in groups.items()}


def class_pair(query_class: int, reference_class: int) -> str:
    """A note pair's metric agreement (`agreement_bits`): the same place, a downbeat against another beat,
    a note on a beat against one off it, or unknown."""
    if query_class < 0 or reference_class < 0:
        return "unknown"
    if query_class == reference_class:
        return "same"
    return "downbeat vs beat" if min(query_class, reference_class) >= 1 else "on vs off"


def census(melodies, pairs_of_melodies, min_pairs: int = 4, where=None) -> collections.Counter:
    """Counts (`count_pairs`) over the local alignments of the given pairs of melodies (by `where`: `place`
    unless given)."""
    from melody.align import local_align
    from melody.represent import features, metric_classes
    from melody.score.match import _substitutions
    feats = [features(m) for m in melodies]
    metric = [metric_classes(m.notes) for m in melodies]
    counts = collections.Counter()
    for a, b in pairs_of_melodies:
        pairs = _substitutions(local_align(feats[a], feats[b]).pairs)
        if len(pairs) >= min_pairs:
            count_pairs(melodies[a].notes["pitch"], melodies[b].notes["pitch"], metric[a], metric[b], pairs, counts,
                        where or place)
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
    related = census(melodies, same)
    chance = census(melodies, [other[k] for k in pick])
    print(f"{len(melodies)} melodies, {len(same)} pairs of one family and as many of two families; aligned note "
          "pairs by where both notes sit")
    print("| notes | pairs (family / chance) | changed: family | changed: chance | bits: changed | bits: matched |")
    print("|---|---|---|---|---|---|")
    for where in PLACES:
        (s1, n1), (s2, n2) = changed_share(related, where), changed_share(chance, where)
        if n1 + n2 == 0:
            continue
        print(f"| {where} | {n1} / {n2} | {100 * s1:.1f}% | {100 * s2:.1f}% "
              f"| {log_odds(related, chance, where, ('near', 'mismatch')):+.2f} "
              f"| {log_odds(related, chance, where, ('match',)):+.2f} |")
    related = census(melodies, same, where=class_pair)
    chance = census(melodies, [other[k] for k in pick], where=class_pair)
    print("\nmetric agreement as log-odds (bits), whatever the pitch outcome; matched pairs; changed pairs")
    print("| pairs | " + " | ".join(agreement_bits(related, chance)) + " |")
    print("|---|---|---|---|---|")
    for name, outcomes in (("all", OUTCOMES), ("matched", ("match",)), ("changed", ("near", "mismatch"))):
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in agreement_bits(related, chance, outcomes).values())
              + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
