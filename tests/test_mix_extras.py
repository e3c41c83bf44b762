"""scripts/mix_extras.py: the score's notes read back in seconds, and a chord tone the path falls onto
described as what it is (the accompaniment held under the sounding lead, no onset of its own)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import mix_extras  # noqa: E402

from melody.audio import neural  # noqa: E402
from melody.audio.extract import PitchTrack  # noqa: E402
from melody.notes import make_notes  # noqa: E402
from melody.testing import Track, write_midi  # noqa: E402


def test_midi_notes_in_seconds_and_the_accompaniment_apart_from_the_lead(tmp_path):
    path = write_midi(str(tmp_path / "song.mid"), [
        Track("Lead", program=0, notes=[(72, 0, 2, 90), (74, 2, 1, 90)]),
        Track("Chords", program=48, notes=[(60, 0.4, 2, 60), (64, 0.4, 2, 60)]),
        Track("Drums", notes=[(36, 0, 1, 90)], is_drum=True)], bpm=120)
    got = mix_extras.midi_notes(path)
    np.testing.assert_allclose(got, [[72, 0, 1], [60, 0.2, 1.2], [64, 0.2, 1.2], [74, 1, 1.5]])
    lead = np.array([[72, 0, 1], [74, 1, 0.5]])
    np.testing.assert_allclose(mix_extras.accompaniment(got, lead), [[60, 0.2, 1.2], [64, 0.2, 1.2]])


def test_a_chord_tone_the_path_falls_onto_is_described_as_held_accompaniment():
    # the lead holds 72 for 1 s; a chord (60, 64) struck at 0.2 s under it; the path falls onto 64 at 0.5 s
    n = 100
    tr = PitchTrack(np.r_[np.full(50, 72.0), np.full(50, 64.0)].astype("f4"), np.ones(n, "f4"), np.ones(n), 0.01)
    times = np.arange(int(n * 0.01 * neural.FPS)) / neural.FPS
    at = lambda t: int(np.argmin(np.abs(times - t)))  # noqa: E731
    note, onset = np.zeros((len(times), 88), "f4"), np.zeros((len(times), 88), "f4")
    note[:, 72 - neural.MIDI_LOW] = 0.8
    onset[at(0.0), 72 - neural.MIDI_LOW] = 0.9
    for key in (60, 64):
        note[at(0.2):, key - neural.MIDI_LOW] = 0.7
        onset[at(0.2), key - neural.MIDI_LOW] = 0.9
    tr.key_onset, tr.key_onset_times, tr.key_note = onset, times, note
    notes = make_notes([0.0, 0.5], [0.5, 0.5], [72, 64])
    lead, acc = np.array([[72, 0, 1.0]]), np.array([[60, 0.2, 1.0], [64, 0.2, 1.0]])
    lead_note, fallen = mix_extras.describe(notes, tr, lead, acc, lag=0.0)
    assert not lead_note["acc_same"] and lead_note["step_to_lead"] == 0 and lead_note["own_onset"] > 0.8
    assert fallen["step_to_lead"] == -8 and not fallen["lead_resting"]
    assert fallen["acc_same"] and fallen["acc_held"] and not fallen["acc_struck"] and not fallen["acc_bass"]
    assert fallen["own_onset"] == 0 and fallen["sounding_before"] > 0.6 and fallen["above_heard"] > 0.7
    assert mix_extras.held_tone(fallen) and not mix_extras.held_tone(lead_note)
    # struck with the chord instead: its own onset, no longer a held tone
    notes = make_notes([0.0, 0.2], [0.2, 0.8], [72, 64])
    fallen = mix_extras.describe(notes, tr, lead, acc, lag=0.0)[1]
    assert fallen["acc_struck"] and fallen["own_onset"] > 0.8 and not mix_extras.held_tone(fallen)
