"""Recordings without a melody (drums, hand percussion, noise, speech-like sounds) are refused with one line
naming the file; sung and played lines, a bass line among them, are not; a batch goes on past the refused
file. The corpus is scripts/bench_nomelody.py's, smaller (BENCHMARKS.md has the full measurement)."""
from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest
import soundfile

from conftest import require_system
from melody import batch
from melody import audio
from melody.audio import extract
from melody.audio.decode import AudioStats
from melody.audio.segment import centre_line, note_activation, note_steadiness, notes_from_track
from melody.errors import NoMelody
from melody.io import load
from melody.notes import make_notes
from melody.testing import soundfont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_nomelody as corpus  # noqa: E402
import bench_sung  # noqa: E402

REFUSED = ("drums.wav", "hand_percussion.wav", "voiced_speech.wav", "pink_noise.wav")
ACCEPTED = ("sung_line.wav", "bass_line.wav", "flute_line.mp3")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """{name: path}: 12-20 s recordings without and with a melody."""
    require_system(bool(shutil.which("fluidsynth") and soundfont()), "FluidSynth + fluid-soundfont-gm")
    from melody.testing import Track, render_audio, write_midi

    folder = tmp_path_factory.mktemp("nomelody")
    rng = np.random.default_rng(4)
    paths = {}

    def wav(name, x):
        paths[name] = str(folder / name)
        soundfile.write(paths[name], corpus.level(x), corpus.SR)

    def midi(name, tracks, bpm):
        mid = write_midi(str(folder / (os.path.splitext(name)[0] + ".mid")), tracks, bpm=bpm)
        paths[name] = render_audio(mid, str(folder / name), sample_rate=22050)

    midi("drums.wav", [corpus.drum_kit(8)], 120)                 # kick, snare, hats, crash, a tom fill
    midi("hand_percussion.wav", [corpus.percussion(6, "hand")], 100)
    wav("voiced_speech.wav", corpus.voiced_speech(rng, 12))
    wav("pink_noise.wav", corpus.coloured_noise(rng, 12 * corpus.SR, 1.0))
    wav("sung_line.wav", corpus.sung_line(rng, 12))
    midi("bass_line.wav", [corpus.bass_line(rng, 8)], 110)
    midi("flute_line.mp3", [Track("Flute", 73, corpus.line(rng, 24))], 110)
    return paths


@pytest.mark.parametrize("name", REFUSED)
def test_a_recording_without_a_melody_is_refused_with_one_line(recordings, name):
    with pytest.raises(NoMelody) as err:
        load(recordings[name])
    message = str(err.value)
    assert message.startswith(f"{recordings[name]}: no melody found (") and "\n" not in message
    assert message.endswith("drums or speech only?): give a recording or score of a sung or played tune")
    if name != "pink_noise.wav":      # the tracker holds drum hits and glides for notes; the network does not
        assert "of them heard as sung or played notes" in message


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_sung_or_played_line_is_accepted(recordings, name):
    (melody,) = load(recordings[name])
    assert len(melody.notes) >= 15


def test_the_batch_goes_on_past_a_recording_without_a_melody(recordings, tmp_path):
    from _batch_world import make_refs
    from melody.catalog import Catalog

    make_refs(str(tmp_path / "refs"), n_midi=2)
    catalog = str(tmp_path / "cat")
    Catalog.open(catalog, create=True).index([str(tmp_path / "refs")], workers=1)
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("drums.wav", "bass_line.wav", "flute_line.mp3"):    # the refused file first
        shutil.copy(recordings[name], folder / name)
    report = batch.run([str(folder)], batch.Settings(catalog, timeout_s=120), str(tmp_path / "run"), workers=1)
    assert (report.scanned, report.failed) == (2, 1)
    (failed,) = report.summary["failed"]
    assert failed["path"].endswith("drums.wav")
    assert "drums.wav: no melody found (" in failed["error"] and "\n" not in failed["error"]


def _track(key_note, hop_s=0.01):
    n = len(key_note)
    return extract.PitchTrack(np.full(n, np.nan, "f4"), np.zeros(n, "f4"), np.zeros(n), hop_s=hop_s,
                              key_note=key_note, key_onset=np.zeros_like(key_note),
                              key_onset_times=np.arange(n) * hop_s)


def test_note_activation_is_the_mean_at_the_notes_key_over_the_note(rng):
    act = rng.random((300, 88)).astype("f4")
    tr = _track(act)
    notes = make_notes([0.0, 0.5, 1.234, 2.95], [0.3, 0.02, 0.4, 0.5], [60.0, 71.6, 20.0, 45.4])
    got = note_activation(notes, tr)
    times = tr.key_onset_times
    expected = []
    for onset, duration, pitch in zip(notes["onset"], notes["duration"], notes["pitch"]):   # the plain reading
        key = int(np.floor(pitch + 0.5)) - 21
        frames = [t for t in range(len(times)) if onset <= times[t] < onset + duration] or \
            [t for t in range(len(times)) if times[t] >= onset][:1]
        expected.append(float(act[frames, key].mean()) if 0 <= key < 88 and frames else 0.0)
    assert got == pytest.approx(expected, rel=1e-6)       # a note under the piano's lowest key (20) is heard as 0
    assert note_activation(notes, extract.PitchTrack(np.zeros(3), np.zeros(3), np.zeros(3))) is None


def test_speech_whose_fundamental_the_network_hears_is_refused_as_gliding(recordings):
    # the path on the speech's fundamental (fuse.heard_overtones) makes the network hear a few flat syllables as
    # notes: enough for the count alone (the twelfth session's measure), not once the notes' glides are judged
    path = recordings["voiced_speech.wav"]
    tr = audio._pitch_track(path, AudioStats(path), "fused")
    notes = notes_from_track(tr)
    activation = note_activation(notes, tr)
    assert np.sum(activation >= audio.HEARD_NOTE) >= audio.MIN_NOTES          # the count passes it
    assert audio.time_share(notes, note_steadiness(notes, tr)) < audio.STEADY_SHARE
    assert audio.time_share(notes, activation) < audio.HEARD_NOTE
    with pytest.raises(NoMelody, match=r"their pitch glides \(held \d+% of their time, heard \d+%\)"):
        load(path)


def test_note_steadiness_is_the_share_of_a_notes_voiced_frames_whose_centre_is_at_its_pitch():
    hop = 0.01
    midi = np.full(300, np.nan)
    midi[0:30] = 60.0 + np.array([0.1, -0.2, 0.4] * 10)         # held, within half a semitone
    midi[30:60] = np.linspace(62.0, 65.0, 30)                    # a glide of 3 semitones
    midi[60:70] = 70.0
    midi[65:68] = np.nan                                         # unvoiced frames do not count
    midi[68:70] = 71.0
    t = np.arange(100) * hop                                     # a +-1.5-semitone vibrato at 5 Hz
    midi[150:250] = 67.0 + 1.5 * np.sin(2 * np.pi * 5.0 * t)
    tr = extract.PitchTrack(midi.astype("f4"), np.ones(300, "f4"), np.ones(300), hop_s=hop)
    notes = make_notes([0.0, 0.3, 0.6, 0.9, 1.5], [0.3, 0.3, 0.1, 0.05, 1.0], [60.0, 63.5, 70.0, 50.0, 67.0])
    got = note_steadiness(notes, tr)
    centre = centre_line(tr)
    expected = []
    for onset, duration, pitch in zip(notes["onset"], notes["duration"], notes["pitch"]):   # the plain reading
        frames = [centre[t] for t in range(300) if onset <= t * hop + 1e-9 < onset + duration and np.isfinite(midi[t])]
        expected.append(np.mean([abs(f - pitch) <= 0.5 for f in frames]) if frames else 1.0)
    assert got == pytest.approx(expected)
    # the glide is judged frame by frame, as the raw pitch (its centre line is the glide itself)
    assert got[0] == 1.0 and got[1] == pytest.approx(10 / 30) and got[3] == 1.0
    # the vibrato swings back to its note: held, where the raw pitch is within half a semitone a third of the time
    assert np.mean(np.abs(midi[150:250] - 67.0) <= 0.5) < 0.4 and got[4] >= 0.9
    # over the notes' time: each note weighted by its duration
    want = float(np.sum(notes["duration"] * got) / np.sum(notes["duration"]))
    assert audio.time_share(notes, got) == pytest.approx(want)
    assert audio.time_share(notes[:0], got[:0]) == 0.0


def test_the_centre_line_is_the_pitch_but_over_a_vibrato_its_middle():
    hop = 0.01
    t = np.arange(120) * hop
    midi = np.concatenate([np.linspace(60.0, 64.0, 40), np.full(10, np.nan), 67.0 + 1.5 * np.sin(2 * np.pi * 5.0 * t)])
    centre = centre_line(extract.PitchTrack(midi.astype("f4"), np.ones(170, "f4"), np.ones(170), hop_s=hop))
    assert np.array_equal(np.isnan(centre), np.isnan(midi))          # unvoiced where the track is
    assert centre[2:38] == pytest.approx(midi[2:38], abs=1e-5)         # a glide is its own centre line
    assert np.max(np.abs(centre[70:150] - 67.0)) < 0.3                 # a vibrato's is its middle


def test_a_sung_line_with_a_wide_vibrato_is_not_refused_as_gliding(tmp_path):
    # an opera singer's vibrato: +-1.5 semitones at 5 Hz from each note's start. Its raw pitch is within half a
    # semitone of the note a third of the time (0.45 of the notes' time held), and the network hears the notes
    # weakly (0.42 on average): both under the thresholds, so the raw pitch refused it as speech
    rng = np.random.default_rng(1)
    onset = 0.3 + 0.6 * np.arange(20)
    pitch = 57.0 + np.clip(np.cumsum(rng.integers(-2, 3, 20)), -5, 12)
    take = {"vib_rate": 5.0, "vib_extent": 1.5, "vib_delay": 0.05}
    x = bench_sung.sing({"onset": onset, "end": onset + 0.55, "sung": pitch}, take, {"vibrato"}, rng)
    path = str(tmp_path / "wide_vibrato.wav")
    soundfile.write(path, (0.25 * x / np.abs(x).max()).astype("f4"), bench_sung.SR)
    tr = audio._pitch_track(path, AudioStats(path), "fused")
    notes = notes_from_track(tr)
    assert audio.time_share(notes, note_activation(notes, tr)) < audio.HEARD_NOTE
    assert audio.time_share(notes, note_steadiness(notes, tr)) >= 0.8
    (melody,) = load(path)
    assert len(melody.notes) >= 15


@pytest.mark.parametrize("level, accepted", [(0.42, True), (0.15, False)])
def test_a_line_heard_as_a_whole_is_a_melody_with_fewer_heard_notes_than_the_count(recordings, monkeypatch,
                                                                                   level, accepted):
    # a 3-5 s take in a room: the network hears 2 of its notes at HEARD_NOTE, its line at 0.38-0.45 on average
    # (drum kits, percussion, noise: 0.10-0.21); two notes stay at 0.6, the rest at `level`
    def heard(notes, tr):
        out = np.full(len(notes), level)
        out[:2] = 0.6
        return out

    monkeypatch.setattr(audio, "note_activation", heard)
    path = recordings["sung_line.wav"]
    if accepted:
        (melody,) = load(path)
        assert len(melody.notes) >= 10
    else:
        with pytest.raises(NoMelody, match=r"2 of them heard as sung or played notes"):
            load(path)
