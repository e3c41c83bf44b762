"""scripts/census_downbeats.py: readings of the bar on melodies whose beats and bars are written."""
from __future__ import annotations

import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import census_downbeats as C  # noqa: E402


def _waltz(pickup: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3/4 tune after a pickup of `pickup` quarter notes: each bar a half note then a quarter note."""
    start = [0.0] if pickup else []
    dur = [pickup] if pickup else []
    for bar in range(8):
        t = pickup + 3 * bar
        start += [t, t + 2]
        dur += [2.0, 1.0]
    start, dur = np.array(start), np.array(dur)
    return start, dur, np.isin(start, pickup + 3 * np.arange(8))


def test_the_written_bar_is_counted_from_the_first_notes_beat_even_after_half_a_beat_of_pickup():
    start, _, down = _waltz(1.0)
    shifted, bars = C.written_bars(start, down, 3.0)
    assert bars == (3.0, 1) and shifted[0] == 0.0
    start, _, down = _waltz(0.5)
    shifted, bars = C.written_bars(start, down, 3.0)
    assert shifted[0] == 0.5 and shifted[1] == 1.0 and bars == (3.0, 1)    # beats whole, the pickup between
    assert C.written_bars(start, down, 2.5) is None                          # 5/8: not counted
    assert C.written_bars(start, np.zeros(len(start), bool), 3.0) is None


def test_a_choice_is_right_half_right_wrong_or_unmarked():
    assert C.judge((3, 1), (3.0, 1)) == "right"
    assert C.judge((4, 6), (4.0, 2)) == "right"
    assert C.judge((2, 0), (4.0, 2)) == "half right"
    assert C.judge((4, 1), (2.0, 1)) == "half right"
    assert C.judge((4, 1), (4.0, 3)) == "wrong"
    assert C.judge((3, 1), (4.0, 1)) == "wrong"
    assert C.judge(None, (4.0, 1)) == "unmarked"


def test_long_notes_find_the_waltzs_bar_and_the_first_note_does_not():
    start, dur, down = _waltz(1.0)
    shifted, bars = C.written_bars(start, down, 3.0)
    rec = {"start": shifted, "dur": dur, "pitch": np.full(len(start), 60.0), "bars": bars}
    assert C.long_notes(rec) == (3, 1)
    counts = C.census([rec])
    assert counts["long notes"]["right"] == 1 and counts["first note"]["wrong"] == 1
    assert sum(counts["downbeats"].values()) == 1


def test_mtc_records_read_quarters_from_ticks_across_a_rest(tmp_path):
    # 2/4 with an eighth-note pickup; 12 ticks a quarter; a quarter rest after the fourth note
    dur = [0.125, 0.25, 0.125, 0.125, 0.25, 0.25, 0.25, 0.25, 0.5]          # whole notes
    tick = [0, 6, 18, 24, 42, 54, 66, 78, 90]
    strength = [0.25, 1.0, 0.5, 0.25, 0.5, 1.0, 0.5, 1.0, 0.5]
    rec = {"id": "x", "features": {"onsettick": tick, "duration": dur, "midipitch": [60] * 9,
                                   "beatstrength": strength, "timesignature": ["2/4"] * 9}}
    path = tmp_path / "mtc.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")
    (got,) = C.mtc_records(str(path))
    assert np.allclose(got["start"], [0.5, 1, 2, 2.5, 4, 5, 6, 7, 8])
    assert got["bars"] == (2.0, 1)
