"""Beats of a recording of one line (melody.audio.rhythm.one_line, beats_of_one_line): the beat tracker's
marks are kept only where the notes' own pulse agrees with them, and transcribe applies this to solos only."""
from __future__ import annotations

import numpy as np
import soundfile

import melody.audio as audio
from melody.audio import fuse, rhythm
from melody.audio.decode import blocks
from melody.audio.extract import PitchTrack
from melody.meter import guess_beats
from melody.notes import make_notes

SPB = 0.5                                   # seconds per beat
# two bars of 4/4 (beats), long notes on the beats, eighths between: (start, length) in beats
BAR = [(0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.5), (3.5, 0.5)]


def snapped_line(bars=4, shift=0.0):
    """A steady tune's notes as snap_to_beats leaves them, with the tracker's beat marks `shift` beats off
    the notes' own pulse (0: in phase; 0.5: every eighth mark swapped, as a tracker locked on the off-beat)."""
    starts = np.array([b * 4 + s for b in range(bars) for s, _ in BAR])
    lengths = np.array([d for _ in range(bars) for _, d in BAR])
    notes = make_notes(1.0 + starts * SPB, lengths * SPB, 60 + np.arange(len(starts)) % 5)
    pos = starts + shift
    notes["beat"] = np.where(np.abs(pos - np.round(pos)) < 1e-9, np.mod(np.round(pos), 4), 0.5)
    return notes, {"snapped": True, "meter": 4, "downbeat_phase": 0}


def activation(frames, keys_per_frame, rng):
    """Note activation (frames x 88 keys) with `keys_per_frame` keys on in every frame, the rest low."""
    act = rng.uniform(0.0, 0.2, (frames, 88)).astype("f4")
    for t in range(frames):
        act[t, rng.choice(88, keys_per_frame, replace=False)] = 0.9
    return act


def test_one_line_is_told_from_chords(rng):
    assert rhythm.one_line(activation(400, 1, rng))
    assert not rhythm.one_line(activation(400, 3, rng))
    some = activation(400, 1, rng)
    some[:120, 5] = 0.9                     # a second key in 30% of the frames (a held note under the next)
    assert rhythm.one_line(some)
    some[:250, 5] = 0.9                     # in 62%: an accompaniment
    assert not rhythm.one_line(some)
    assert not rhythm.one_line(None) and not rhythm.one_line(np.zeros((0, 88)))
    assert not rhythm.one_line(np.zeros((50, 88), "f4"))      # nothing sounds


def test_tracked_beats_that_agree_with_the_notes_pulse_are_kept():
    notes, info = snapped_line()
    own = guess_beats(notes)
    assert np.array_equal(np.abs(own - np.round(own)) < 1e-3, np.abs(notes["beat"] - np.round(notes["beat"])) < 1e-3)
    out, got = rhythm.beats_of_one_line(notes, info)
    assert out is notes and got["beats_kept"] and got["meter"] == 4


def test_tracked_beats_at_another_level_of_the_same_pulse_are_kept():
    notes, info = snapped_line()
    half = notes.copy()              # a tracker at half the tempo: every other beat, in phase
    pos = (half["onset"] - 1.0) / SPB
    half["beat"] = np.where(np.abs(pos / 2 - np.round(pos / 2)) < 1e-9, 0.0, 0.5)
    assert rhythm.beats_of_one_line(half, info)[1]["beats_kept"]


def test_tracked_beats_off_the_notes_pulse_are_removed_and_onsets_stay():
    notes, info = snapped_line(shift=0.5)
    out, got = rhythm.beats_of_one_line(notes, info)
    assert not got["beats_kept"] and got["meter"] == 0
    assert np.isnan(out["beat"]).all() and (out["bar"] == -1).all()
    assert np.array_equal(out["onset"], notes["onset"]) and np.array_equal(out["pitch"], notes["pitch"])
    assert np.isfinite(notes["beat"]).all()          # the input is not modified


def test_unsnapped_or_unmarked_notes_are_left_as_they_are():
    notes, info = snapped_line(shift=0.5)
    assert rhythm.beats_of_one_line(notes, {"snapped": False})[0] is notes
    plain = notes.copy()
    plain["beat"] = np.nan
    assert rhythm.beats_of_one_line(plain, info)[0] is plain


def _fake_transcription(monkeypatch, tmp_path, keys_per_frame, rng):
    """transcribe on a stand-in track whose beat tracker marks the off-beats; returns its melody."""
    path = tmp_path / "take.wav"
    soundfile.write(path, 0.1 * np.sin(2 * np.pi * 440 * np.arange(22050 * 12) / 22050), 22050)
    track = PitchTrack(np.full(100, 60.0, "f4"), np.ones(100, "f4"), np.ones(100, "f4"),
                       key_note=activation(300, keys_per_frame, rng))
    notes, info = snapped_line(shift=0.5)
    monkeypatch.setattr(fuse, "fused_track", lambda p, stats: (list(blocks(p, stats)), track)[1])   # decodes: stats
    monkeypatch.setattr(audio, "notes_from_track", lambda tr: notes.copy())
    monkeypatch.setattr(audio, "snap_to_beats", lambda n, env, hop: (n, dict(info)))
    return audio.transcribe(path)[0]


def test_transcribe_drops_a_solos_off_pulse_beats_and_keeps_a_mixs(monkeypatch, tmp_path, rng):
    solo = _fake_transcription(monkeypatch, tmp_path, 1, rng)
    assert np.isnan(solo.notes["beat"]).all() and solo.meta["beats_kept"] is False
    mix = _fake_transcription(monkeypatch, tmp_path, 3, rng)
    assert np.isfinite(mix.notes["beat"]).all() and "beats_kept" not in mix.meta
