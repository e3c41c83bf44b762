"""Audio in: note segmentation (re-articulated repeats, onsets) and beats of transcribed notes, on pitch
tracks built in code."""
from __future__ import annotations

import numpy as np

from melody.audio.extract import PitchTrack
from melody.audio.segment import notes_from_track

HOP = 0.01


def _held_note(n=200, vibrato=0.0):
    """One pitch held for n frames, steady salience, a little harmonic growth every frame (or the steady
    growth a vibrato makes), a quiet spectral flux."""
    midi = (67.0 + vibrato * np.sin(2 * np.pi * 5.5 * np.arange(n) * HOP)).astype("f4")
    attack = np.full(n, 0.1 + 1.4 * (vibrato > 0), dtype="f4")
    return midi, np.ones(n, "f4"), attack, np.full(n, 10.0, "f4")


def _track(midi, sal, attack, flux):
    return PitchTrack(midi, sal, np.ones(len(midi)), HOP, attack=attack, onset_env=flux)


def test_a_soft_reattack_that_stands_out_splits_a_repeated_note():
    """A re-tongued repeat: the note's harmonics grow by 3 (half of what a struck note gives) in three
    frames, and the spectrum's flux peaks with it: two notes."""
    midi, sal, attack, flux = _held_note()
    attack[100:103] = 1.0
    flux[100:103] = 60.0
    got = notes_from_track(_track(midi, sal, attack, flux))
    assert got["onset"].round(2).tolist() == [0.0, 1.0]
    # the same growth without a flux peak is the voice swelling on one note: one note
    flux[100:103] = 10.0
    assert len(notes_from_track(_track(midi, sal, attack, flux))) == 1


def test_a_vibrato_note_is_not_split_by_its_own_harmonics_moving():
    """With vibrato the harmonics grow and shrink all the time: the same growth (3 over three frames) and
    flux peak do not stand out from the note's own median growth there."""
    midi, sal, attack, flux = _held_note(vibrato=0.4)
    attack[100:103] = 1.0
    flux[100:103] = 60.0
    assert len(notes_from_track(_track(midi, sal, attack, flux))) == 1


def test_a_dotted_beat_from_the_tracker_is_corrected_by_the_notes():
    """The flux pulses every 0.5 s (the tracker finds 120 BPM), but the notes run in sixteenths of 180 BPM
    (83 ms): they fit no quarter or third of the 120 BPM beat, and do fit the 180 BPM one (3/2 of it)."""
    from melody.audio import rhythm
    from melody.notes import make_notes

    env = np.zeros(3000, dtype="f4")
    env[(np.arange(0, 30, 0.5) / HOP).astype(int)] = 1.0
    rng = np.random.default_rng(6)
    steps = np.cumsum(rng.choice([1, 2, 2, 4], 60))       # sixteenths, eighths, quarters
    grid = 0.3 + steps / 12.0
    notes = make_notes(grid + rng.normal(0, 0.004, len(grid)), np.full(len(grid), 0.08), np.full(len(grid), 60))
    got, info = rhythm.snap_to_beats(notes, env, HOP)
    assert info["snapped"] and abs(info["tempo_bpm"] - 180) < 4
    assert np.allclose(np.diff(got["onset"]), np.diff(grid), atol=0.012)
