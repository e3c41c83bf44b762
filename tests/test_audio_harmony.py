"""An ensemble's bar read off its band's chord changes (melody.audio.rhythm: pitch_class_profile,
harmonic_change, the harmony cue of downbeats and snap_to_beats)."""
from __future__ import annotations

import numpy as np

from melody.audio import rhythm
from melody.notes import make_notes
from melody.represent import metric_classes

HOP = 0.01
FPS = 100.0
LOWEST_KEY = 21
C_MAJOR, F_MAJOR, G_MAJOR = (48, 52, 55), (53, 57, 60), (55, 59, 62)


def band(beats: np.ndarray, chord_of_beat) -> tuple[np.ndarray, np.ndarray]:
    """(frame times, 88-key activation) of a band holding chord_of_beat(k)'s keys from beat k to beat k + 1."""
    period = beats[1] - beats[0]
    times = np.arange(0.0, beats[-1] + period, 1.0 / FPS)
    act = np.zeros((len(times), 88))
    for k, t0 in enumerate(beats):
        rows = (times >= t0) & (times < t0 + period)
        for key in chord_of_beat(k):
            act[rows, key - LOWEST_KEY] = 0.8
    return times, act


def test_a_key_and_its_octaves_fold_into_one_pitch_class():
    act = np.zeros((2, 88))
    act[0, 60 - LOWEST_KEY] = 0.5
    act[0, 72 - LOWEST_KEY] = 0.25
    act[1, 67 - LOWEST_KEY] = 1.0
    got = rhythm.pitch_class_profile(act, LOWEST_KEY)
    assert got.shape == (2, 12)
    assert got[0, 0] == 0.75 and got[0].sum() == 0.75
    assert got[1, 7] == 1.0 and got[1].sum() == 1.0


def test_the_lead_and_what_sounds_above_it_are_left_out_of_the_bands_harmony():
    """With the melody's pitch per frame, only keys more than LEAD_MARGIN under it count; where there is no
    melody (NaN), every key does."""
    act = np.zeros((2, 88))
    for key in (48, 52, 55, 71, 72, 84):
        act[:, key - LOWEST_KEY] = 1.0
    got = rhythm.pitch_class_profile(act, LOWEST_KEY, np.array([72.0, np.nan]))
    assert np.array_equal(np.flatnonzero(got[0]), [0, 4, 7]) and got[0].sum() == 3.0   # C E G under the lead
    assert got[1].sum() == 6.0


def test_the_change_is_where_the_chord_changes_and_nothing_where_it_is_held():
    beats = np.arange(8) * 0.5 + 0.25
    times, act = band(beats, lambda k: C_MAJOR if k < 4 else F_MAJOR)
    change = rhythm.harmonic_change(times, rhythm.pitch_class_profile(act, LOWEST_KEY), beats)
    assert change.shape == (8,)
    assert change[4] > 0.5                           # C major -> F major (one pitch class shared)
    assert np.allclose(np.delete(change, 4), 0.0)    # the same chord, and the first beat (nothing before it)


def test_silence_on_either_side_is_no_change():
    beats = np.arange(6) * 0.5
    times, act = band(beats, lambda k: () if k in (2, 3) else G_MAJOR)
    change = rhythm.harmonic_change(times, rhythm.pitch_class_profile(act, LOWEST_KEY), beats)
    assert np.allclose(change, 0.0)


def test_the_bar_starts_where_the_band_changes_chord_when_notes_and_flux_say_nothing():
    """Notes of one length on every beat over a flux as strong on every beat: no downbeat stands out. A band
    changing chord every four beats, from beat 1 on, puts the bar there."""
    n = 24                                   # whole bars of 3 and of 4: every phase as many notes
    beats = np.arange(n) * 0.5 + 0.5
    beat_no = np.arange(n)
    on_beat = np.ones(n, bool)
    dur = np.ones(n)
    env = np.zeros(int((beats[-1] + 1.0) / HOP))
    env[np.round(beats / HOP).astype(int)] = 1.0
    assert rhythm.downbeats(beat_no, on_beat, dur, env, beats, HOP) == (0, 0)
    chords = (C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR)
    times, act = band(beats, lambda k: chords[(k + 3) // 4])       # changes at beats 1, 5, 9, ...
    change = rhythm.harmonic_change(times, rhythm.pitch_class_profile(act, LOWEST_KEY), beats)
    assert rhythm.downbeats(beat_no, on_beat, dur, env, beats, HOP, change) == (4, 1)


def test_snapped_notes_mark_the_bar_the_band_gives():
    """snap_to_beats with an ensemble's harmony: the notes on the beats where the chord changes are downbeats
    (metric class 2); without it the same notes have no downbeat."""
    period = 0.5
    onsets = 0.5 + np.arange(24) * period
    notes = make_notes(onsets + 0.004, np.full(24, 0.4), np.full(24, 67))
    env = np.zeros(int((onsets[-1] + 1.0) / HOP), dtype="f4")
    env[np.round(onsets / HOP).astype(int)] = 1.0
    plain, info = rhythm.snap_to_beats(notes, env, HOP)
    assert info["snapped"] and not (metric_classes(plain) == 2).any()
    chords = (C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR)
    times, act = band(np.arange(0.0, onsets[-1] + period, period),
                      lambda k: chords[(k + 1) // 4])               # beats from 0 s: changes at 1.5, 3.5, ... s
    got, info = rhythm.snap_to_beats(notes, env, HOP, harmony=(times, rhythm.pitch_class_profile(act, LOWEST_KEY)))
    assert info["meter"] == 4
    down = np.flatnonzero(metric_classes(got) == 2)
    assert len(down) >= 4 and np.allclose(np.mod(got["onset"][down] - 1.5, 2.0), 0.0, atol=0.02)
