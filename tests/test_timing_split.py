"""scripts/timing_split.py's oracles redraw bench_sung.py's tempo curve and onset jitter: they must give back
the onsets the take was sung at, and split the effect into its two parts."""
from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import timing_split  # noqa: E402


def _query():
    onset = np.cumsum([0] + [0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.125, 0.125, 0.25, 1.0] * 3)
    lead = [(60 + (k % 7), float(s), 0.2, 0) for k, s in enumerate(onset)]
    return SimpleNamespace(qid="p0007", lead=lead, bpm=120.0)


def test_the_oracle_redraws_the_takes_onsets():
    q = _query()
    for seed in (0, 3):
        _, plan, _ = timing_split.take_plan(q, seed, "timing")
        beats, smooth, played = timing_split.true_times(q, seed)
        np.testing.assert_allclose(played, plan["onset"], atol=1e-9)
        # jitter is what separates the played onsets from the tempo curve's; the beats follow the curve
        assert 0.0 < np.std(played - smooth) < 0.1
        assert np.all(np.diff(beats) > 0) and np.interp(smooth[0], beats, np.arange(len(beats))) >= 0


def test_the_parts_keep_one_effect_each():
    q = _query()
    written = np.array([s for _, s, _, _ in q.lead])
    steady = timing_split.take_plan(q, 1, "steady")[1]["onset"]
    curve = timing_split.take_plan(q, 1, "curve")[1]["onset"]
    jitter = timing_split.take_plan(q, 1, "jitter")[1]["onset"]
    np.testing.assert_allclose(np.diff(steady), np.diff(written), atol=1e-9)
    # the tempo curve moves every onset smoothly: second differences of the curve's onsets stay small
    ratio = np.diff(curve) / np.diff(written)
    assert np.ptp(ratio) > 0.005 and np.max(np.abs(np.diff(ratio))) < 0.05
    # jitter alone keeps the tempo: onsets scatter around the written ones
    offsets = jitter - written - (jitter[0] - written[0])
    assert np.std(offsets) > 0.005 and abs(np.polyfit(written, offsets, 1)[0]) < 0.05
