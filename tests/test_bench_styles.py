"""The unrelated controls of scripts/bench_styles.py: each transform keeps a melody's rhythm and changes only
the order or direction of its pitches, as the benchmark's reading of a flag on them assumes."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_styles  # noqa: E402

from melody import Melody, make_notes  # noqa: E402


@pytest.fixture
def tune():
    pitch = [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 71, 74, 76, 74, 72, 71]
    onset = np.cumsum([0] + [0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.5])
    notes = make_notes(onset, np.full(len(pitch), 0.4), pitch, bar=1 + (onset // 2).astype(int), beat=onset % 2)
    return Melody(notes, title="t")


def _same_rhythm(a, b):
    for key in ("onset", "duration", "bar", "beat"):
        np.testing.assert_array_equal(a.notes[key], b.notes[key])


def test_original_is_the_melody(tune):
    assert bench_styles.transformed(tune, "original", np.random.default_rng(0)) is tune


def test_retrograde_reverses_the_pitches_only(tune):
    r = bench_styles.transformed(tune, "retrograde", np.random.default_rng(0))
    _same_rhythm(r, tune)
    np.testing.assert_array_equal(r.notes["pitch"], tune.notes["pitch"][::-1])


def test_inversion_mirrors_every_interval_about_the_median(tune):
    r = bench_styles.transformed(tune, "inversion", np.random.default_rng(0))
    _same_rhythm(r, tune)
    np.testing.assert_array_equal(np.diff(r.notes["pitch"]), -np.diff(tune.notes["pitch"]))
    assert abs(np.median(r.notes["pitch"]) - np.median(tune.notes["pitch"])) <= 1


def test_shuffle_permutes_within_windows(tune):
    r = bench_styles.transformed(tune, "shuffle", np.random.default_rng(1))
    _same_rhythm(r, tune)
    w = bench_styles.SHUFFLE_WINDOW
    for i in range(0, len(tune.notes), w):
        assert sorted(r.notes["pitch"][i:i + w]) == sorted(tune.notes["pitch"][i:i + w])
    assert not np.array_equal(r.notes["pitch"], tune.notes["pitch"])


def test_unknown_transform_is_refused(tune):
    with pytest.raises(ValueError, match="unknown transform"):
        bench_styles.transformed(tune, "augmentation", np.random.default_rng(0))


def test_self_repetition_counts_restated_phrases():
    phrase = [60, 62, 64, 65, 67, 65, 64, 62, 60, 59]
    other = [72, 71, 69, 67, 66, 64, 62, 61, 59, 57]
    assert bench_styles.self_repetition(phrase + other) == 0.0
    assert bench_styles.self_repetition(phrase + phrase) > 0.3
    assert bench_styles.self_repetition(phrase * 4) == 1.0
    assert bench_styles.self_repetition([60, 62, 64]) == 0.0
