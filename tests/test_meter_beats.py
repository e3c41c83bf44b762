"""The beat of a melody without bars, read off its notes (melody.meter): the metric hierarchy on the notes'
grid, the quarter-note beat among its levels, the downbeat where the bar stands out."""
from __future__ import annotations

import numpy as np

from melody.meter import beats_on_grid, guess_beats, hierarchy, salience
from melody.notes import make_notes
from melody.represent import metric_classes


def tune(bars, spq, t0=0.5):
    """Notes of `bars` (lists of (start, length) in quarters within a bar of `bar_q` quarters, cycled) and the
    score's beat field (quarters since the bar's start)."""
    starts, lengths, beat = [], [], []
    t = 0.0
    for bar_q, bar in bars:
        for s, d in bar:
            starts.append(t + s)
            lengths.append(d)
            beat.append(s)
        t += bar_q
    starts, lengths = np.array(starts), np.array(lengths)
    pitch = 60 + (np.arange(len(starts)) * 5) % 12
    notes = make_notes(t0 + starts * spq, lengths * spq, pitch)
    return notes, np.array(beat)


def classes_of(notes, beat):
    scored = notes.copy()
    scored["beat"] = beat
    return metric_classes(scored)


# 6/8 in eighths and dotted quarters (bar of 3 quarters): the written quarter-note beats are eighths 0, 2, 4
SIX_EIGHT = [(3.0, [(0.0, 1.0), (1.0, 0.5), (1.5, 1.0), (2.5, 0.5)]),
             (3.0, [(0.0, 1.5), (1.5, 0.5), (2.0, 0.5), (2.5, 0.5)]),
             (3.0, [(0.0, 0.5), (0.5, 0.5), (1.0, 0.5), (1.5, 1.0), (2.5, 0.5)]),
             (3.0, [(0.0, 1.5), (1.5, 1.5)])] * 3
# 4/4 with a long note on every downbeat and a phrase end every two bars
FOUR_FOUR = [(4.0, [(0.0, 2.0), (2.0, 1.0), (3.0, 0.5), (3.5, 0.5)]),
             (4.0, [(0.0, 1.5), (1.5, 0.5), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0)]),
             (4.0, [(0.0, 2.0), (2.0, 0.5), (2.5, 0.5), (3.0, 0.5), (3.5, 0.5)]),
             (4.0, [(0.0, 3.0), (3.0, 1.0)])] * 3


def test_a_compound_tune_gets_the_written_quarter_beats_not_its_long_notes_phase():
    notes, beat = tune(SIX_EIGHT, spq=0.4)
    truth = classes_of(notes, beat) >= 1
    got = guess_beats(notes)
    assert got is not None
    assert np.array_equal(np.abs(got - np.round(got)) < 1e-3, truth)


def test_downbeats_are_marked_where_the_bar_stands_out():
    notes, beat = tune(FOUR_FOUR, spq=0.5)
    truth = classes_of(notes, beat)
    got = classes_of(notes, guess_beats(notes))
    assert np.array_equal(got >= 1, truth >= 1)
    assert (got == 2).sum() >= (truth == 2).sum() // 2            # most bars found
    assert np.all(truth[got == 2] == 2)                           # and only bars


def test_the_beat_follows_the_tempo_within_the_range_of_songs():
    """The same eighth-note tune: its quarter note is the beat from 0.35 to 0.9 s; played four times as
    fast (a quarter of 0.12 s) it is not, and its beat is a longer note."""
    for spq in (0.35, 0.6, 0.9):
        notes, beat = tune(FOUR_FOUR, spq=spq)
        assert np.array_equal(classes_of(notes, guess_beats(notes)) >= 1, classes_of(notes, beat) >= 1)
    fast, beat = tune(FOUR_FOUR, spq=0.12)
    on = np.abs(guess_beats(fast) - 1.0) < 1e-3
    assert on.sum() < (classes_of(fast, beat) == 1).sum()


def test_beats_on_a_grid_do_not_depend_on_how_its_points_are_numbered():
    notes, beat = tune(FOUR_FOUR, spq=0.5)
    k = np.round((notes["onset"] - notes["onset"][0]) / 0.25).astype(np.int64)
    on = np.ones(len(notes), bool)
    ref = beats_on_grid(notes, k, on, 0.25)
    for shift in (1, 3, 17):
        assert np.array_equal(beats_on_grid(notes, k + shift, on, 0.25), ref)


def test_the_hierarchy_groups_a_waltz_in_threes_and_a_march_in_twos():
    waltz = [(3.0, [(0.0, 2.0), (2.0, 1.0)]), (3.0, [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)])] * 4
    for bars, group in ((waltz, 3), (FOUR_FOUR, 2)):
        notes, beat = tune(bars, spq=0.5)
        k = np.round((notes["onset"] - notes["onset"][0]) / 0.5).astype(np.int64)     # quarter-note grid
        on = np.ones(len(notes), bool)
        levels = hierarchy(k, salience(notes, 0.5, on), int(k.max()) + 1)
        assert levels[1][0] == group and levels[1][1] == 0         # the bar, from its first beat
