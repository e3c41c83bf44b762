"""scripts/all_split.py sings bench_sung.py's "all" takes again without one effect each: the take must keep
every other effect's draws (the same voice), and its note-error count must name each kind of error."""
from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import all_split  # noqa: E402
import bench_sung  # noqa: E402


def _lead():
    onset = np.cumsum([0] + [0.25, 0.25, 0.5, 0.5, 0.25, 0.25, 1.0] * 2)
    return [(60 + (k % 5), float(s), 0.45 if k % 7 in (3, 4, 6) else 0.2, 0) for k, s in enumerate(onset)]


def _plan(seed, without):
    rng = np.random.default_rng(seed)
    take = bench_sung.draw_take(rng)
    drawn = set(bench_sung.EFFECTS)
    return take, bench_sung.plan_notes(_lead(), take, drawn - {without}, np.random.default_rng([seed, 1]), drawn)


def test_a_take_without_one_effect_keeps_the_others_draws():
    for seed in (0, 5):
        _, full = _plan(seed, None)
        _, no_tuning = _plan(seed, "tuning")
        _, no_intonation = _plan(seed, "intonation")
        _, no_timing = _plan(seed, "timing")
        _, no_vibrato = _plan(seed, "vibrato")
        # vibrato is the voice's: the plan is the take's own
        for key in full:
            np.testing.assert_array_equal(no_vibrato[key], full[key])
        # without the singer's tuning, each note keeps its own error; without the errors, the tuning
        np.testing.assert_allclose(no_tuning["sung"] - no_tuning["intended"], full["sung"] - full["intended"])
        assert np.ptp(no_tuning["intended"] - full["intended"]) > 0
        np.testing.assert_array_equal(no_intonation["intended"], full["intended"])
        np.testing.assert_array_equal(no_intonation["sung"], full["intended"])
        np.testing.assert_array_equal(no_timing["sung"], full["sung"])
        written = np.array([s for _, s, _, _ in _lead()])
        np.testing.assert_allclose(np.diff(no_timing["onset"]), np.diff(written), atol=1e-9)
        assert np.max(np.abs(np.diff(full["onset"]) - np.diff(written))) > 0.01
        # the default (drawn = effects) is the take bench_sung.py has always sung
        default = bench_sung.plan_notes(_lead(), bench_sung.draw_take(np.random.default_rng(seed)),
                                        set(bench_sung.EFFECTS), np.random.default_rng([seed, 1]))
        for key in full:
            np.testing.assert_array_equal(default[key], full[key])


def test_a_take_without_consonants_is_the_same_voice():
    take, plan = _plan(3, None)
    drawn = set(bench_sung.EFFECTS)
    x_all = bench_sung.sing(plan, take, drawn, np.random.default_rng(9))
    x_none = bench_sung.sing(plan, take, drawn - {"consonants"}, np.random.default_rng(9), drawn=drawn)
    same = np.isclose(x_all, x_none, atol=1e-9)
    # the voice and its background noise are sample for sample the same; only the bursts and breaths differ
    assert 0.6 < same.mean() < 1.0
    x_default = bench_sung.sing(plan, take, drawn, np.random.default_rng(9))
    np.testing.assert_array_equal(x_default, x_all)


def test_note_errors_names_each_kind():
    onset = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    end = onset + 0.45
    sung = np.array([60.0, 62.0, 64.0, 65.0, 67.0])
    est = {"onset": np.array([0.01, 0.25, 0.6, 1.02, 2.6]),
           "duration": np.array([0.2, 0.2, 0.35, 0.9, 0.3]),
           "pitch": np.array([60.1, 60.0, 61.8, 63.0, 70.0])}
    errs = all_split.note_errors(onset, end, sung, est)
    # 0.0 found; 0.5 late (100 ms); 1.0 at the wrong pitch; 1.5 held over by the note at 1.02; 2.0 nothing
    # sounds; 0.25 cuts note 0 in two; 2.6 starts no meant note at any meant pitch
    assert errs == {"found": 1, "late": 1, "wrong_pitch": 1, "merged": 1, "missing": 1, "split": 1, "extra": 1}
