"""scripts/sung_ladder.py searches a sung take in readings that add one thing at a time: the MIDI query at
the pitches the singer sang keeps the score's timing and marks, and the sung pitches at the written timing
keep the take's pitches."""
from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import sung_ladder  # noqa: E402

from melody.notes import Melody, make_notes  # noqa: E402

LEAD = [(60, 1.0, 0.5, 0), (62, 1.5, 0.5, 0), (64, 2.0, 1.0, 0)]


def _midi():
    # the MIDI reader's notes: the lead's three and one it did not write (a grace note at 2.5 s)
    notes = make_notes([1.0, 1.5, 2.0, 2.5], [0.5, 0.5, 0.4, 0.1], [60, 62, 64, 65], bar=[0, 0, 1, 1],
                       beat=[0, 1, 0, 1])
    return Melody(notes, meta={"track": "Vocals"})


def test_the_midi_query_at_the_pitches_sung_keeps_its_timing_and_marks():
    sung = np.array([63.3, 65.0, 66.6])          # the take 3 semitones up, the first note 30 cents sharp
    m = sung_ladder.midi_at(_midi(), LEAD, sung)
    np.testing.assert_allclose(m.notes["pitch"], [63.3, 65.0, 66.6, 68.0], atol=1e-5)
    np.testing.assert_array_equal(m.notes["onset"], _midi().notes["onset"])
    np.testing.assert_array_equal(m.notes["bar"], [0, 0, 1, 1])
    assert m.meta == {"track": "Vocals"}


def test_the_sung_pitches_at_the_written_timing():
    onset, length, pitch = sung_ladder.written_timing(LEAD, np.array([63.3, 65.0, 66.6]))
    np.testing.assert_allclose(onset, [0.3, 0.8, 1.3])
    np.testing.assert_allclose(length, [0.5, 0.5, 1.0])
    m = sung_ladder.recording(onset, length, pitch)
    assert m.meta["kind"] == "audio" and not m.meta["snapped"]
    assert np.all(m.notes["bar"] == -1)


def test_a_graded_reading_is_searched_as_a_played_part():
    plan = {"onset": np.array([0.3, 0.82, 1.29]), "end": np.array([0.8, 1.3, 2.3]),
            "intended": np.array([63.1, 65.1, 67.1]), "sung": np.array([63.3, 65.0, 66.6])}
    q = SimpleNamespace(lead=LEAD)
    plain = sung_ladder.reading("sung", q, plan, None)
    graded = sung_ladder.reading("sung+graded", q, plan, None)
    assert not plain.meta.get("played") and graded.meta["played"]
    for field in ("onset", "duration", "pitch"):
        np.testing.assert_array_equal(plain.notes[field], graded.notes[field])
    np.testing.assert_allclose(plain.notes["onset"], plan["onset"])
    with pytest.raises(ValueError, match="unknown reading"):
        sung_ladder.reading("sang", q, plan, None)
