"""Swung eighths: a melody played long-short where it is written even, read off its onsets and straightened.

A player swings a tune written in even eighths: each beat's two eighths come long-short, 2:1 in most jazz and
pop, 3:1 in a hornpipe or a dotted feel. Compared with the written tune, every swung pair costs the rhythm
terms twice (a length 4/3 and 2/3 of the written one, outside DUR_FREE). `swung_pairs` finds the pairs in
the onsets themselves and `straightened` plays them even again, so that `melody.catalog.Catalog.search`
can read a swung query both ways (as given and straightened) and keep the better reading of each reference,
corrected for taking the better of two (`melody.score.rescore.rescore_views`).

Only a melody whose places in the bar are unknown is read for swing (a performance whose file's bars say
nothing, `melody.io.midi.on_beat_grid`, or a score without bars; recordings are ranked their own way):
where the bars are known, a long-short figure on every beat is what the score writes (a dotted rhythm, a
compound meter's quarter-and-eighth, read as two thirds of a dotted-quarter beat by some readers), and the
catalog holds it as written. A pair is two inter-onset intervals whose ratio is between SWING_RATIOS and
whose sum is, within BEAT_TOLERANCE, the median sum of all such candidates (the beat); a beat split evenly
is two short notes in a row (the pairs' median short length, within BEAT_TOLERANCE).

A melody is swung when it has at least MIN_PAIRS pairs with a consistent ratio (within RATIO_SPREAD of their
median; the others are left as they are), and at least SWING_SHARE of its beats that are split in two are
split long-short. A performance of a tune written in dotted rhythms (a hornpipe) is read as swung too: its
second reading is the straightened one, which the better-of-two correction pays for. Chosen on the
performance group of scripts/bench_accuracy.py (BENCHMARKS.md, "Twentieth session: a melody played, not
written").
"""
from __future__ import annotations

import numpy as np

from .notes import Melody

SWING_RATIOS = (1.4, 3.6)   # long / short: from a light swing to a dotted (3:1) feel
RATIO_SPREAD = 1.5          # a pair's ratio within this factor of the median ratio (a player's jitter)
BEAT_TOLERANCE = 0.2        # a pair fills the beat within this share of it
MIN_PAIRS = 4               # fewer swung pairs say nothing
SWING_SHARE = 0.75          # of the beats split in two, this share split long-short


def _pairs_from_intervals(onset: np.ndarray) -> tuple[list[int], int]:
    """(first notes of the long-short pairs, number of beats split evenly) from the inter-onset intervals
    alone: pairs in SWING_RATIOS whose sums agree with their median (the beat)."""
    ioi = np.diff(onset)
    if len(ioi) < 2:
        return [], 0
    a, b = ioi[:-1], ioi[1:]
    ratio = a / np.maximum(b, 1e-6)
    cand = np.flatnonzero((ratio >= SWING_RATIOS[0]) & (ratio <= SWING_RATIOS[1]))
    if not len(cand):
        return [], 0
    beat = float(np.median(a[cand] + b[cand]))
    swung, k = [], 0
    for i in cand:                        # greedy from the left: a pair's notes are in no other pair
        if i >= k and abs((a[i] + b[i]) / beat - 1.0) <= BEAT_TOLERANCE:
            swung.append(int(i))
            k = i + 2
    # a beat split evenly: two short notes in a row (in swing the short note comes after a long one, while
    # a straight quarter-and-two-eighths figure has as many long-short pairs as even ones)
    short = float(np.median(b[cand]))
    near = np.abs(ioi / short - 1.0) <= BEAT_TOLERANCE
    even = int(np.sum(near[:-1] & near[1:]))
    return swung, even


def swung_pairs(notes: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(the swing ratio, the first note of every long-short pair) of a melody played swung, or None (see the
    module docstring)."""
    onset = notes["onset"].astype("f8")
    if len(onset) < 2 * MIN_PAIRS + 1:
        return None
    if (notes["bar"] >= 0).any():          # a score's bars: its long-short figures are written so
        return None
    swung, even = _pairs_from_intervals(onset)
    if len(swung) < MIN_PAIRS or len(swung) < SWING_SHARE * (len(swung) + even):
        return None
    first = np.array(swung, dtype=np.int64)
    ratio = (onset[first + 1] - onset[first]) / np.maximum(onset[first + 2] - onset[first + 1], 1e-6)
    middle = float(np.median(ratio))
    steady = np.abs(np.log(ratio / middle)) <= np.log(RATIO_SPREAD)     # a pair out of line is left as it is
    if steady.sum() < MIN_PAIRS:
        return None
    return float(np.median(ratio[steady])), first[steady]


def straightened(melody: Melody) -> Melody | None:
    """The melody with its swung pairs (`swung_pairs`) played even: each pair's short note moved to the
    middle of the beat the pair fills, the long note cut there if it sounded on; None when it is not
    swung."""
    notes = melody.notes
    found = swung_pairs(notes)
    if found is None:
        return None
    _, first = found
    out = notes.copy()
    onset = notes["onset"].astype("f8")
    end = onset + notes["duration"].astype("f8")
    middle = 0.5 * (onset[first] + onset[first + 2])
    out["onset"][first + 1] = middle
    out["duration"][first + 1] = np.maximum(end[first + 1] - middle, 1e-3)
    out["duration"][first] = np.minimum(notes["duration"][first], middle - onset[first])
    out["beat"][first + 1] = np.where(np.isfinite(notes["beat"][first + 1]), 0.5, np.nan)   # between beats
    return Melody(out, melody.title, melody.composer, melody.source, melody.index, melody.meta)
