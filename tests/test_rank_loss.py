"""scripts/rank_loss.py: a lost rank is put down to the readings that alone restore it, and the score's metric
marks are carried onto the transcribed notes they match."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import rank_loss  # noqa: E402
import solo_errors  # noqa: E402

from melody.notes import make_notes  # noqa: E402


def test_mechanisms_are_the_readings_that_alone_restore_rank_one():
    assert rank_loss.mechanisms({"nomarks": 3, "scoremarks": 1, "timing": 1, "notes": 2, "ends": 2}, True) \
        == ["marks", "timing"]
    assert rank_loss.mechanisms({"nomarks": 1, "scoremarks": None, "timing": 4, "notes": 1, "ends": 1}, True) \
        == ["marks", "notes", "ends"]
    assert rank_loss.mechanisms({"nomarks": 2, "scoremarks": None, "timing": None, "notes": 5, "ends": 2}, False) \
        == ["not re-scored", "several"]


def test_score_marks_follow_the_written_notes_they_match():
    # written: four quarter notes in a bar of 4/4 (downbeat, beats 1-3); the recording hears them 30 ms late,
    # misses the third and adds a stray note between the second and the fourth
    ref = np.array([[60, 0, .5], [62, .5, .5], [64, 1, .5], [65, 1.5, .5]], dtype="f8")
    score = make_notes(ref[:, 1], ref[:, 2], ref[:, 0], bar=[1, 1, 1, 1], beat=[0, 1, 2, 3])
    heard = make_notes([0.03, 0.53, 1.2, 1.53], [.5, .5, .3, .5], [60, 62, 50, 65])
    errors = solo_errors.classify(ref, heard)
    marked = rank_loss.score_marks(heard, ref[:, 1], score, errors)
    assert list(marked["beat"]) == [0, 1, 0.5, 3]
    assert np.all(marked["bar"] == -1)
    assert np.allclose(marked["onset"], heard["onset"])      # the recording's timing is kept


def test_ends_keeps_only_the_notes_inside_the_written_span():
    ref = np.array([[60, 1.0, .5], [62, 1.5, .5]], dtype="f8")
    heard = make_notes([0.2, 1.02, 1.52, 2.6], [.3, .5, .5, .3], [55, 60, 62, 70])
    errors = solo_errors.classify(ref, heard)
    kept = rank_loss.reading("ends", heard, heard, None, ref, errors, None)
    assert list(kept["pitch"]) == [60, 62]


def test_view_scores_read_one_rows_column_and_nothing_for_a_row_not_rescored():
    detail = {"cand": np.array([3, 7, 9]), "z": np.array([[1.0, 2.0, 3.0], [0.5, -np.inf, 4.0]])}
    assert rank_loss.view_scores(detail, 7) == [2.0, -np.inf]
    assert rank_loss.view_scores(detail, 9) == [3.0, 4.0]
    assert rank_loss.view_scores(detail, 5) == [-np.inf, -np.inf]


def test_marks_agree_counts_the_notes_a_grid_puts_on_the_written_beats():
    """A grid at the written phase marks the written beats; the same notes on the off-beat phase (the
    tracker following the off-beats) agree only where neither side marks a beat."""
    # written: quarter, two eighths, quarter, two eighths (beats 0, 1, 1.5, 2, 3, 3.5 of a 4/4 bar)
    beats = np.array([0, 1, 1.5, 2, 3, 3.5], dtype="f8")
    ref = np.c_[np.full(6, 60.0) + np.arange(6), beats * 0.5, np.full(6, 0.25)]
    score = make_notes(ref[:, 1], ref[:, 2], ref[:, 0], bar=[1] * 6, beat=beats)
    heard = make_notes(ref[:, 1] + 0.02, ref[:, 2], ref[:, 0])
    errors = solo_errors.classify(ref, heard)
    right = heard.copy()
    right["beat"] = beats.astype("f4")
    assert rank_loss.marks_agree(right, heard, ref[:, 1], score, errors) == (6, 6)
    shifted = heard.copy()
    shifted["beat"] = (beats + 0.5).astype("f4")          # every note half a beat off: on-beat <-> off-beat
    assert rank_loss.marks_agree(shifted, heard, ref[:, 1], score, errors) == (0, 6)
