"""scripts/bench_audiocat.py: which catalog tunes are recorded, and the diagnosis forms of a reference."""
import os
import sys
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_audiocat  # noqa: E402

from melody.notes import Melody, make_notes  # noqa: E402


def test_every_borrowed_tune_and_its_copies_are_recorded_then_random_others():
    split = SimpleNamespace(catalog=list(range(50)))
    queries = [SimpleNamespace(positive=True, ref_index=7, alt_ref_indices=[31]),
               SimpleNamespace(positive=True, ref_index=12, alt_ref_indices=[]),
               SimpleNamespace(positive=False, ref_index=-1, alt_ref_indices=[])]
    picked = bench_audiocat.recorded_tunes(split, queries, 10, seed=1)
    assert len(picked) == len(set(picked)) == 10 and picked == sorted(picked)
    assert {7, 12, 31} <= set(picked)
    assert bench_audiocat.recorded_tunes(split, queries, 10, seed=1) == picked
    assert bench_audiocat.recorded_tunes(split, queries, 10, seed=2) != picked
    assert bench_audiocat.recorded_tunes(split, queries, 2, seed=1) == [7, 12, 31]   # never fewer than needed


def test_a_reference_without_its_bars_or_with_its_beats_dropped():
    notes = make_notes([0, 1, 2, 3], [1] * 4, [60, 62, 64, 65], bar=[0, 0, 1, 1], beat=[0, 1, 0, 1])
    m = Melody(notes, title="t", source="tune.abc", index=3)
    written = bench_audiocat.written_as_recording(m)
    assert (written.notes["bar"] == -1).all() and np.isnan(written.notes["beat"]).all()
    assert written.notes["pitch"].tolist() == [60, 62, 64, 65] and written.index == 3
    assert written.source != m.source                 # its own file in the catalog
    assert bench_audiocat.ref_beats(m, "tracked") is m
    assert np.isnan(bench_audiocat.ref_beats(m, "none").notes["beat"]).all()
