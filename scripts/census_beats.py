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


SHIFTS = ("in place", "by half a bar", "by a beat", "by part of a beat", "no single offset")


def beats_per_bar(time_signature: str) -> float | None:
    """Beats of a bar as MTC's `beat` counts them (music21's: a compound bar's beats are dotted); None when
    unknown."""
    try:
        num, den = (int(x) for x in time_signature.split("/"))
    except (AttributeError, ValueError):
        return None
    return num / 3 if num in (6, 9, 12) and den in (4, 8, 16) else float(num)


def whole_shift(beats_a, beats_b, pitch_a, pitch_b, pairs, bar_beats: float, min_share: float = 0.5) -> str:
    """How a variant sits in the bar against another (SHIFTS): the offset (a's beat minus b's, modulo the
    bar) shared by most of the exactly matched note pairs (under their median transposition); "no single
    offset" where fewer than `min_share` of them share one. A half-bar offset in a bar of an even number of
    beats is a half bar, not two beats."""
    if not pairs:
        return SHIFTS[-1]
    diffs = np.array([pitch_a[i] - pitch_b[j] for i, j in pairs], dtype="f8")
    t = np.round(np.median(diffs))
    offsets = [round(((beats_a[i] - beats_b[j]) % bar_beats) * 12) / 12 % bar_beats
               for (i, j), d in zip(pairs, diffs) if d == t]
    if not offsets:
        return SHIFTS[-1]
    values, counts = np.unique(offsets, return_counts=True)
    best = float(values[np.argmax(counts)])
    if counts.max() < min_share * len(offsets):
        return SHIFTS[-1]
    if best == 0:
        return SHIFTS[0]
    if bar_beats % 2 == 0 and best == bar_beats / 2:
        return SHIFTS[1]
    return SHIFTS[2] if best == round(best) else SHIFTS[3]


def shift_census(records, melodies, pairs_of_melodies, min_pairs: int = 6) -> collections.Counter:
    """`whole_shift` counted over the given pairs of melodies whose records (MTC JSON objects, `features`)
    have one and the same known time signature; pairs in two meters are counted as "another meter"."""
    from melody.align import local_align
    from melody.represent import features
    from melody.score.match import _substitutions
    counts = collections.Counter()
    for a, b in pairs_of_melodies:
        sig_a, sig_b = (set(map(str, records[k]["features"]["timesignature"])) for k in (a, b))
        if len(sig_a) != 1 or sig_a != sig_b or beats_per_bar(next(iter(sig_a))) is None:
            counts["another meter"] += 1
            continue
        pairs = _substitutions(local_align(features(melodies[a]), features(melodies[b])).pairs)
        if len(pairs) < min_pairs:
            continue
        fa, fb = records[a]["features"], records[b]["features"]
        counts[whole_shift(np.array(fa["beat"]) - 1, np.array(fb["beat"]) - 1, fa["midipitch"], fb["midipitch"],
                           pairs, beats_per_bar(next(iter(sig_a))))] += 1
    return counts


def family_pairs(melodies, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Every pair of melodies of one family, and as many pairs of two families drawn with ``seed`` (chance)."""
    family = [m.meta["family"] for m in melodies]
    every = list(itertools.combinations(range(len(melodies)), 2))
    same = [(a, b) for a, b in every if family[a] == family[b]]
    other = [(a, b) for a, b in every if family[a] != family[b]]
    pick = np.random.default_rng(seed).choice(len(other), len(same), replace=False)
    return same, [other[k] for k in pick]


def main(argv=None) -> int:
    from bench_families import DEFAULT_DATA, load_mtc
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=0, help="seed of the cross-family sample")
    ap.add_argument("--shift", action="store_true", help="only count how whole variants sit in the bar "
                    "against each other (`whole_shift`), family pairs and chance pairs")
    args = ap.parse_args(argv)
    melodies = load_mtc(args.data)
    same, chance_pairs = family_pairs(melodies, args.seed)
    if args.shift:
        import gzip
        import json
        with gzip.open(args.data, "rt", encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh]
        print("| pairs | " + " | ".join(SHIFTS) + " | another meter |\n|---|" + "---|" * (len(SHIFTS) + 1))
        for name, chosen in (("one family", same), ("two families (chance)", chance_pairs)):
            counts = shift_census(records, melodies, chosen)
            print(f"| {name} | " + " | ".join(str(counts[s]) for s in SHIFTS + ("another meter",)) + " |")
        return 0
    related = census(melodies, same)
    chance = census(melodies, chance_pairs)
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
    chance = census(melodies, chance_pairs, where=class_pair)
    print("\nmetric agreement as log-odds (bits), whatever the pitch outcome; matched pairs; changed pairs")
    print("| pairs | " + " | ".join(agreement_bits(related, chance)) + " |")
    print("|---|---|---|---|---|")
    for name, outcomes in (("all", OUTCOMES), ("matched", ("match",)), ("changed", ("near", "mismatch"))):
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in agreement_bits(related, chance, outcomes).values())
              + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
