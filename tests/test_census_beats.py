"""scripts/census_beats.py: changed notes counted by the weaker note's metric class."""
from __future__ import annotations

import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import census_beats as C  # noqa: E402


def test_pairs_are_read_under_the_median_transposition_by_where_both_notes_sit():
    q = np.array([62, 64, 66, 67, 69, 83])      # the reference a tone up; note 2 one semitone off, 5 an octave
    r = np.array([60, 62, 63, 65, 62, 69])      # note 4 a fifth off
    qm = np.array([2, 0, 0, 1, 0, 0])
    rm = np.array([2, 1, 0, 1, 0, -1])
    counts = collections.Counter()
    C.count_pairs(q, r, qm, rm, [(k, k) for k in range(6)], counts)
    assert counts == {("both downbeats", "match"): 1, ("different places", "match"): 1,
                      ("both off the beat", "near"): 1, ("both beats", "match"): 1,
                      ("both off the beat", "mismatch"): 1, ("unknown", "octave"): 1}
    assert C.changed_share(counts, "both off the beat") == (1.0, 2)
    assert C.changed_share(counts, "both downbeats") == (0.0, 1)
    chance = collections.Counter({("both off the beat", "mismatch"): 3, ("both beats", "match"): 9})
    # 2 of 6 pairs among relatives, 3 of 12 by chance
    assert C.log_odds(counts, chance, "both off the beat", ("near", "mismatch")) == np.log2((2 / 6) / (3 / 12))


def test_outcomes_as_the_pitch_kernel_reads_them():
    assert [C.outcome(d) for d in (0, 12, -24, 1, -2, 3, 11, 13)] == [
        "match", "octave", "octave", "near", "near", "mismatch", "mismatch", "mismatch"]


def test_metric_agreement_as_log_odds_whatever_the_pitch():
    assert [C.class_pair(q, r) for q, r in ((2, 2), (2, 1), (1, 2), (0, 1), (2, 0), (-1, 0), (0, 0))] == [
        "same", "downbeat vs beat", "downbeat vs beat", "on vs off", "on vs off", "unknown", "same"]
    related = collections.Counter({("same", "match"): 70, ("same", "near"): 10, ("on vs off", "match"): 10,
                                   ("downbeat vs beat", "mismatch"): 10, ("unknown", "match"): 50})
    chance = collections.Counter({("same", "match"): 30, ("same", "mismatch"): 20, ("on vs off", "near"): 35,
                                  ("downbeat vs beat", "match"): 15})
    bits = C.agreement_bits(related, chance)      # unknown pairs left out: 100 known pairs in both
    assert bits["same"] == np.log2(0.8 / 0.5) and bits["apart"] == np.log2(0.2 / 0.5)
    assert bits["on vs off"] == np.log2(0.1 / 0.35) and bits["downbeat vs beat"] == np.log2(0.1 / 0.15)
    matched = C.agreement_bits(related, chance, ("match",))
    assert matched["same"] == np.log2((70 / 80) / (30 / 45))


def test_a_whole_variant_shifted_in_the_bar_is_read_by_its_matched_pairs_common_offset():
    pitch_a = np.array([62, 64, 65, 67, 69, 71])        # b a tone lower
    pitch_b = np.array([60, 62, 63, 65, 67, 69])
    pairs = [(k, k) for k in range(6)]
    beats = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0])
    assert C.whole_shift(beats, beats, pitch_a, pitch_b, pairs, 4.0) == "in place"
    assert C.whole_shift((beats + 2) % 4, beats, pitch_a, pitch_b, pairs, 4.0) == "by half a bar"
    assert C.whole_shift((beats + 1) % 4, beats, pitch_a, pitch_b, pairs, 4.0) == "by a beat"
    assert C.whole_shift((beats + 0.5) % 4, beats, pitch_a, pitch_b, pairs, 4.0) == "by part of a beat"
    # in a triple bar no offset is half a bar; pairs off the transposition (a changed note) do not vote
    off = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    changed = pitch_a.copy()
    changed[3:] += 1
    assert C.whole_shift((off + 1) % 3, off, changed, pitch_b, pairs, 3.0) == "by a beat"
    mixed = (off + np.array([0.0, 0.0, 0.5, 0.5, 1.0, 1.0])) % 3     # a third of the pairs at each offset
    assert C.whole_shift(mixed, off, pitch_a, pitch_b, pairs, 3.0) == "no single offset"
    assert C.beats_per_bar("6/8") == 2 and C.beats_per_bar("3/4") == 3 and C.beats_per_bar(None) is None
