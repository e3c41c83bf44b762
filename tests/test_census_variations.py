"""scripts/census_variations.py: which loaded notes are borrowed, added or context, and the first-guess cause
of a miss, on hand-made cases."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import census_variations as census  # noqa: E402

from melody import Melody, make_notes  # noqa: E402

# written lead: 2 notes of context, 4 of the phrase (one moved by a mode change, one added), 1 of context
LEAD = [(60, 0.0, 0.5, -1), (62, 0.5, 0.5, -1), (64, 1.0, 0.5, 0), (63, 1.5, 0.5, -2), (65, 2.0, 0.5, -1),
        (67, 2.5, 0.5, 2), (72, 3.0, 0.5, -1)]


def _loaded(pitches, onsets):
    return Melody(make_notes(np.array(onsets), np.full(len(onsets), 0.4), np.array(pitches)))


def test_note_origins_tell_borrowed_moved_added_context_and_stray_notes():
    loaded = _loaded([60, 62, 64, 63, 65, 67, 72, 48], [0.0, 0.5, 1.01, 1.5, 2.0, 2.5, 3.0, 3.2])
    assert census.note_origins(loaded, LEAD, (2, 1)) == ["c", "c", "B", "M", "N", "B", "c", "x"]


def _trace(stage1_rank, true, winner, true_notes=(2, 4), winner_notes=(0, 3)):
    return {"stage1_rank": stage1_rank, "stage2_rank": 2, "true": (true, 1.0, true_notes, 100),
            "winner": (winner, 0.5, winner_notes, 60), "winner_title": "w"}


def test_cause_of_a_miss():
    tags = ["c", "c", "B", "M", "N", "B", "B", "B", "c"]
    assert census.cause("sequence", _trace(150, 90.0, 80.0), tags)[0] == "stage 1"
    assert census.cause("sequence", _trace(5, 80.0, 90.0, winner_notes=(0, 1)), tags) == ("context", 0.4, "context")
    assert census.cause("sequence", _trace(5, 90.0, 80.0), tags)[0] == "length"
    assert census.cause("extend", _trace(5, 80.0, 90.0), tags) == ("split", 0.4, "phrase")
    assert census.cause("meter", _trace(5, 80.0, 90.0), tags)[0] == "weak"        # nothing inserted in a re-barring
    assert census.cause("extend", _trace(5, 80.0, 90.0, true_notes=(2, 7)), tags)[0] == "weak"


def test_shared_run_counts_pitch_changes_held_in_one_place_in_any_key():
    phrase = [67, 69, 69, 71, 72, 74, 72]                 # pitch changes +2 +2 +1 +2 -2 (a repeated note merged)
    assert census.shared_run(phrase, [50, 62, 64, 66, 67, 69, 67, 40]) == (5, 5)     # a fifth lower, not repeated
    assert census.shared_run(phrase, [60, 62, 64, 65, 67, 66, 40]) == (4, 5)          # the last change differs
    assert census.shared_run(phrase, [60, 62, 64, 50, 51, 40]) == (2, 5)          # pieces in two places
    assert census.shared_run(phrase, []) == (0, 5)


def test_a_winner_holding_the_phrase_is_a_same_notes_cause():
    tags = ["c", "c", "B", "B", "B", "B", "B", "B", "c"]
    assert census.cause("exact8", _trace(5, 80.0, 90.0), tags, held=(6, 7))[0] == "same notes"
    assert census.cause("exact8", _trace(5, 80.0, 90.0), tags, held=(5, 7))[0] == "weak"
    assert census.cause("exact8", _trace(5, 90.0, 80.0), tags, held=(7, 7))[0] == "length"   # the true tune scores more


def test_write_lead_writes_the_written_notes_alone(tmp_path):
    import types

    import melody
    query = types.SimpleNamespace(lead=[list(n) for n in LEAD], bpm=120.0, time_signature=(3, 4))
    path = census.write_lead(query, str(tmp_path / "lead.mid"))
    (loaded,) = melody.load(path)
    assert loaded.notes["pitch"].tolist() == [n[0] for n in LEAD]
    assert np.allclose(loaded.notes["onset"], [n[1] for n in LEAD], atol=0.01)
    assert np.allclose(loaded.notes["duration"], [n[2] for n in LEAD], atol=0.01)
