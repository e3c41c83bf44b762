"""Audio in: decoding, the melody extractor, note segmentation, beat snapping, errors, and audio queries."""
from __future__ import annotations

import itertools
import json
import math
import os
import shutil

import numpy as np
import pytest
import soundfile

from melody.audio import decode, kernels, rhythm, transcribe
from melody.audio.extract import PitchTrack
from melody.audio.segment import notes_from_track
from melody.errors import CorruptFile, MelodyError, NoMelody
from melody.io import load
from melody.notes import make_notes, tuning_offset
from melody.report.audio import render
from melody.testing import soundfont

from conftest import require_system

SR = 22050


def tune(rng, n=24, tempo=0.3):
    """A random stepwise melody on an even-ish grid (onset/duration s, MIDI pitch), starting at 0.2 s."""
    pitch = np.clip(64 + np.cumsum(rng.integers(-4, 5, n)), 52, 84)
    pitch[1:][pitch[1:] == pitch[:-1]] += 2          # no repeated notes: this is about pitch and onsets
    beats = rng.choice([1, 1, 2], n)
    onset = 0.2 + tempo * np.concatenate([[0], np.cumsum(beats)[:-1]])
    return make_notes(onset, beats * tempo * 0.9, pitch)


def note_f(ref, est, tol=0.05):
    """Share of notes matched one-to-one by pitch (within half a semitone) and onset (within tol)."""
    used, hits = set(), 0
    for r in ref:
        for k, e in enumerate(est):
            if k not in used and abs(e["onset"] - r["onset"]) <= tol and abs(e["pitch"] - r["pitch"]) < 0.5:
                used.add(k)
                hits += 1
                break
    p, r = hits / max(len(est), 1), hits / max(len(ref), 1)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)


@pytest.fixture
def solo(tmp_path, rng):
    notes = tune(rng)
    path = tmp_path / "solo.wav"
    soundfile.write(path, render(notes, SR), SR)
    return notes, str(path)


# ------------------------------------------------------------------------------------------ decoding

@pytest.mark.parametrize("ext,rate,channels", [(".wav", 44100, 2), (".flac", 8000, 1), (".ogg", 48000, 2),
                                               (".mp3", 22050, 1), (".wav", 96000, 1)])
def test_every_format_and_rate_decodes_to_the_same_melody(tmp_path, rng, ext, rate, channels):
    notes = tune(rng, n=12)
    x = render(notes, rate)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path = tmp_path / f"song{ext}"
    soundfile.write(path, data, rate)
    y, stats = decode.read(str(path))
    assert stats.rate == rate and stats.channels == channels
    assert abs(len(y) / decode.SR - len(x) / rate) < 0.1      # mp3 pads a few ms
    melody = load(path)[0]
    assert melody.meta["kind"] == "audio"
    assert note_f(notes, melody.notes, tol=0.06) >= 0.9


@pytest.mark.parametrize("sr", [8000, decode.SR])   # resampled, and read as it is
def test_decoding_streams_in_blocks(tmp_path, monkeypatch, sr):
    """A long file is read block by block (bounded memory), and the blocks join up seamlessly, also when
    its length is a whole number of blocks."""
    t = np.arange(25 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype("f4")
    path = tmp_path / "long.wav"
    soundfile.write(path, x, sr)
    monkeypatch.setattr(decode, "BLOCK_SECONDS", 5.0)
    parts = list(decode.blocks(str(path)))
    assert len(parts) >= 5
    assert max(len(p) for p in parts) <= 5.0 * decode.SR + 1000
    y = np.concatenate(parts)
    assert abs(len(y) - 25 * decode.SR) < 200
    ref = np.sin(2 * np.pi * 220 * np.arange(len(y)) / decode.SR)
    mid = slice(decode.SR, len(y) - decode.SR)
    assert abs(np.corrcoef(y[mid], ref[mid])[0, 1]) > 0.99      # no clicks or gaps at block joins


# -------------------------------------------------------------------------------------- transcription

def test_solo_line_is_transcribed(solo):
    notes, path = solo
    melody, track = transcribe(path)
    assert note_f(notes, melody.notes) >= 0.9
    assert np.all(np.diff(melody.notes["onset"]) > 0)
    assert melody.meta["seconds"] == pytest.approx(notes["onset"][-1] + notes["duration"][-1] + 0.08, abs=0.05)
    assert len(track.midi) == pytest.approx(melody.meta["seconds"] / track.hop_s, abs=3)


def test_out_of_tune_performance_keeps_its_intervals(tmp_path, rng):
    """A performance 35 cents flat: same intervals, pitches measured (fractional), notes found."""
    notes = tune(rng)
    flat = notes.copy()
    flat["pitch"] -= 0.35
    path = tmp_path / "flat.wav"
    soundfile.write(path, render(flat, SR), SR)
    got = transcribe(path)[0].notes
    assert note_f(flat, got) >= 0.9
    assert np.median(got["pitch"] - np.round(got["pitch"])) == pytest.approx(-0.35, abs=0.08)
    assert tuning_offset(got["pitch"]) == pytest.approx(-0.35, abs=0.08)


def test_vibrato_and_glides_do_not_split_notes():
    """A pitch track with 5.5 Hz vibrato of +-0.5 semitones (a wide one) and 40 ms glides between notes."""
    hop = 0.01
    targets = [60, 62, 64, 65, 67]
    midi = []
    for k, p in enumerate(targets):
        t = np.arange(50) * hop
        seg = p + 0.5 * np.sin(2 * np.pi * 5.5 * t)
        if k:   # glide in from the previous note
            seg[:4] = np.linspace(targets[k - 1], p, 4)
        midi.append(seg)
    midi = np.concatenate(midi).astype("f4")
    tr = PitchTrack(midi, np.ones_like(midi), np.ones(len(midi)), hop)
    got = notes_from_track(tr)
    assert np.round(got["pitch"]).astype(int).tolist() == targets
    assert np.allclose(got["onset"], np.arange(5) * 0.5, atol=0.06)


def _sung(targets, extent, rate=5.5, hop=0.01, frames=80):
    """A sung pitch track: each target held ``frames`` frames with vibrato of +-``extent`` semitones."""
    t = np.arange(frames) * hop
    return np.concatenate([p + extent * np.sin(2 * np.pi * rate * t) for p in targets]).astype("f4")


def test_a_wide_vibrato_is_one_note_at_its_centre():
    """+-1 semitone at 5 Hz (a trained singer's widest): its crests stay more than CHANGE from the note for
    longer than CHANGE_FRAMES, which started a note at every crest."""
    targets = [60, 64, 62, 67]
    midi = _sung(targets, 1.0, rate=5.0)
    got = notes_from_track(PitchTrack(midi, np.ones_like(midi), np.ones(len(midi)), 0.01))
    assert np.round(got["pitch"]).astype(int).tolist() == targets
    assert np.allclose(got["onset"], np.arange(4) * 0.8, atol=0.06)


def test_vibrato_centre_and_swing_and_steps_are_not_vibrato():
    from melody.audio.segment import vibrato

    centre, swing = vibrato(_sung([62], 0.8, rate=6.0, frames=100).astype("f8"), 0.01)
    inside = swing > 0
    assert inside[20:90].all()
    assert np.abs(centre[inside] - 62).max() < 0.15
    assert np.median(swing[inside]) == pytest.approx(0.8, abs=0.1)
    # notes a whole tone apart every 80 ms step across the middle at once: a played trill or run, kept as notes
    steps = np.repeat(np.tile([60.0, 62.0], 8), 8)
    centre, swing = vibrato(steps, 0.01)
    assert not swing.any() and np.array_equal(centre, steps)


def test_vibrato_and_glides_are_steady_and_noise_is_not(rng):
    from melody.audio.extract import steady

    wide = _sung([62, 65], 1.0, rate=6.5, frames=150)    # up to 0.41 semitones per frame at 6.5 Hz
    assert steady(wide).all()
    glide = np.linspace(60, 67, 100).astype("f4")         # a slow portamento over a fifth: 0.07 per frame
    assert steady(glide).all()
    noise = rng.uniform(50, 80, 300).astype("f4")
    assert not steady(noise)[50:250].any()


def test_rests_end_notes_and_repeated_attacks_split_them():
    hop = 0.01
    midi = np.full(200, 60.0, dtype="f4")
    midi[90:100] = np.nan                     # a rest: two notes
    sal = np.ones(200, dtype="f4")
    sal[140:150] = np.linspace(1.0, 0.2, 10)  # decay, then a new attack of the same pitch at 150
    got = notes_from_track(PitchTrack(midi, sal, np.ones(200), hop))
    assert got["onset"].round(2).tolist() == [0.0, 1.0, 1.49]
    assert np.round(got["pitch"]).tolist() == [60, 60, 60]


def test_tuning_offset_is_a_circular_mean():
    midi = np.array([60.45, 61.45, 62.55, 63.55])   # around the half-semitone: +-0.5 wraps
    assert abs(abs(tuning_offset(midi, np.ones(4))) - 0.5) < 0.01
    assert tuning_offset(np.array([60.2, 64.2, 67.2]), np.ones(3)) == pytest.approx(0.2, abs=1e-6)


# ------------------------------------------------------------------------------------------- kernels

def test_harmonic_salience_peaks_at_the_fundamental():
    f0 = 196.0
    freqs = np.array([[f0 * h for h in range(1, 9)] + [0.0] * 2])
    amps = np.array([[1.0 / h for h in range(1, 9)] + [0.0] * 2])
    out = np.zeros((1, 600))
    kernels.harmonic_salience(freqs, amps, 55.0, 10.0, 12, 0.8, out)
    best = int(np.argmax(out[0]))
    assert 1200 * math.log2(f0 / 55.0) / 10.0 == pytest.approx(best, abs=1)


def test_viterbi_matches_brute_force(rng):
    """The candidate Viterbi equals an exhaustive search over every path (tiny random cases)."""
    for _ in range(30):
        n, k = int(rng.integers(2, 6)), int(rng.integers(1, 4))
        cents = rng.uniform(6000, 6500, (n, k))
        cents[rng.random((n, k)) < 0.2] = np.nan
        cents[rng.random((n, k)) < 0.2] = 6000 + 1200 * rng.integers(0, 2)   # octaves: no attack discount
        emit = rng.uniform(0, 1, (n, k))
        attack = rng.uniform(0, 8, (n, k)) * (rng.random((n, k)) < 0.5)
        per, cap, sw, scale, shared = 0.5, 0.8, 0.4, 3.0, 50.0
        uv = rng.choice([0.15, 0.3], n)                  # the unvoiced state's earning, per frame
        path = np.empty(n, dtype=np.int64)
        kernels.viterbi_candidates(cents, emit, uv, per, cap, sw, attack, scale, shared, path)

        def score(states):
            total = 0.0
            for t, s in enumerate(states):
                if s >= 0 and np.isnan(cents[t, s]):
                    return -np.inf
                total += uv[t] if s < 0 else emit[t, s]
                if t:
                    a = states[t - 1]
                    if (a < 0) != (s < 0):
                        total -= sw
                    elif a >= 0:
                        step = abs(cents[t, s] - cents[t - 1, a])
                        related = min(step % 1200, 1200 - step % 1200) <= shared or abs(step - 1902) <= shared
                        ease = 1.0 if related else 1.0 / (1.0 + attack[t, s] / scale)
                        total -= min(per * step / 100.0, cap) * ease
            return total

        best = max(itertools.product(range(-1, k), repeat=n), key=score)
        assert score(list(path)) == pytest.approx(score(best))


# ------------------------------------------------------------------------------------------- rhythm

def test_onsets_snap_to_a_steady_beat():
    hop = 0.01
    beat = 0.5
    env = np.zeros(2000, dtype="f4")
    env[(np.arange(0, 20, beat) / hop).astype(int)] = 1.0          # a click every half second
    rng = np.random.default_rng(1)
    grid = np.array([0, 1, 1.5, 2, 3, 3.25, 3.5, 4, 6, 7, 8, 9.5, 10, 12, 13, 14]) * beat
    jittered = grid + rng.normal(0, 0.015, len(grid))
    notes = make_notes(jittered, np.full(len(grid), 0.2), np.arange(60, 60 + len(grid)))
    got, info = rhythm.snap_to_beats(notes, env, hop)
    assert info["snapped"] and info["tempo_bpm"] == pytest.approx(120, abs=3)
    assert np.allclose(got["onset"] - got["onset"][0], grid - grid[0], atol=0.02)
    on_beat = np.isclose(grid / beat, np.round(grid / beat))
    from melody.represent import metric_classes
    assert np.array_equal(metric_classes(got) >= 1, on_beat)       # on a beat: downbeat (2) or beat (1)
    assert info["meter"] in (0, 3, 4)



def test_snapping_keeps_the_notes_own_phase():
    """Slow attacks start 45 ms after the clicks: the grid cleans up the spacing but leaves that lag."""
    hop, beat, lag = 0.01, 0.5, 0.045
    env = np.zeros(2000, dtype="f4")
    env[(np.arange(0, 20, beat) / hop).astype(int)] = 1.0
    rng = np.random.default_rng(3)
    grid = np.array([0, 1, 1.5, 2, 3, 3.25, 3.5, 4, 6, 7, 8, 9.5, 10, 12, 13, 14]) * beat + 1.0
    notes = make_notes(grid + lag + rng.normal(0, 0.01, len(grid)), np.full(len(grid), 0.2),
                       np.arange(60, 60 + len(grid)))
    got, info = rhythm.snap_to_beats(notes, env, hop)
    assert info["snapped"]
    # one onset is 38 ms (3.3 sd) off its grid point, more than rhythm.FAR_STEP of the 125 ms step: kept as played
    kept = np.abs(got["onset"] - notes["onset"]) < 1e-9
    assert kept.sum() <= 1 and np.all(np.abs(notes["onset"][kept] - grid[kept] - lag) > 0.3 * 0.125 - 0.01)
    assert np.allclose(got["onset"][~kept], (grid + lag)[~kept], atol=0.015)


def test_random_onsets_do_not_fit_a_fine_grid():
    """At 167 BPM a sixteenth grid is 90 ms: onsets at random are within 35 ms of it three times in four,
    so the fit is judged against the grid step too."""
    hop, beat = 0.01, 0.36
    env = np.zeros(3000, dtype="f4")
    env[(np.arange(0, 30, beat) / hop).astype(int)] = 1.0
    rng = np.random.default_rng(4)
    onsets = np.cumsum(rng.uniform(0.15, 0.45, 60))
    notes = make_notes(onsets, np.full(60, 0.1), np.full(60, 60))
    got, info = rhythm.snap_to_beats(notes, env, hop)
    assert info["tempo_bpm"] == pytest.approx(60 / beat, abs=3)
    assert not info["snapped"]
    assert got is notes

def test_free_rhythm_is_left_alone():
    hop = 0.01
    env = np.zeros(2000, dtype="f4")
    env[(np.arange(0, 20, 0.5) / hop).astype(int)] = 1.0
    rng = np.random.default_rng(2)
    onsets = np.cumsum(rng.uniform(0.11, 0.53, 30))
    notes = make_notes(onsets, np.full(30, 0.1), np.full(30, 60))
    got, info = rhythm.snap_to_beats(notes, env, hop)
    assert not info["snapped"]
    assert got is notes


def test_a_recording_off_any_beat_grid_is_searched_as_played(tmp_path):
    """A recording whose onsets fit no beat grid keeps the performer's timing: it is marked "played", so the
    search grades its length ratios as it does a MIDI part read as played, and it carries its reading against
    its local tempo (meta "read_onsets", `melody.io.played`: a view of its own in the search); one snapped to
    its beat is neither."""
    rng = np.random.default_rng(5)
    pitch = 60 + np.cumsum(rng.choice([-3, -2, 2, 3], 24))
    free = make_notes(0.2 + np.cumsum(np.r_[0, rng.uniform(0.17, 0.55, 23)]), np.full(24, 0.15), pitch)
    steady = make_notes(0.2 + 0.25 * np.arange(24), np.full(24, 0.2), pitch)
    got, count = {}, {}
    for name, notes in (("free", free), ("steady", steady)):
        path = tmp_path / f"{name}.wav"
        soundfile.write(path, render(notes, SR), SR)
        transcribed = transcribe(str(path))[0]
        got[name], count[name] = transcribed.meta, len(transcribed.notes)
    assert not got["free"]["snapped"] and got["free"]["played"] is True
    assert got["steady"]["snapped"] and "played" not in got["steady"]
    assert "read_onsets" not in got["steady"]
    read = np.array(got["free"]["read_onsets"])        # one onset a transcribed note, in order
    assert len(read) == count["free"] and np.all(np.diff(read) > 0)
    from melody.score.rescore import played_params
    from melody.notes import Melody
    stage1, stage2 = played_params(Melody(free, meta=got["free"]))
    assert stage1 is not None and stage2 is not None       # graded, not the defaults


# --------------------------------------------------------------------------------------- bad input

def _raw(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def _write(path, x, sr=SR):
    soundfile.write(path, x, sr)
    return str(path)


@pytest.mark.parametrize("name,make,kind,words", [
    ("silent.wav", lambda p: _write(p, np.zeros(SR * 3, "f4")), NoMelody, "silent (every sample is zero)"),
    ("hush.wav", lambda p: _write(p, np.full(SR * 3, 1e-4, "f4")), NoMelody, "silent (peak -8"),
    ("short.wav", lambda p: _write(p, 0.5 * np.sin(np.arange(2000) / 5.0).astype("f4")), NoMelody, "only 0.09 s"),
    ("one.wav", lambda p: _write(p, np.array([0.5], "f4")), NoMelody, "only 0.00 s"),
    ("noise.wav", lambda p: _write(p, np.random.default_rng(0).normal(0, 0.3, SR * 4).astype("f4")),
     NoMelody, "no melody found"),
    ("text.wav", lambda p: _raw(p, b"this is not audio"), CorruptFile, "cannot decode"),
    ("empty.mp3", lambda p: _raw(p, b""), CorruptFile, "empty file"),
])
def test_bad_audio_gives_one_line_naming_the_file(tmp_path, name, make, kind, words):
    path = make(tmp_path / name)
    with pytest.raises(kind) as err:
        load(path)
    message = str(err.value)
    assert name in message and words in message and "\n" not in message


def test_nan_samples_are_reported(tmp_path):
    x = np.sin(np.arange(SR * 2) / 8.0)
    x[SR] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(CorruptFile, match=r"nan\.wav: audio contains NaN"):
        load(path)


def test_truncated_file_is_reported_or_read_up_to_the_damage(tmp_path, solo):
    _, path = solo
    data = open(path, "rb").read()
    cut = tmp_path / "cut.flac"
    soundfile.write(cut, soundfile.read(path)[0], SR)
    cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 3])
    try:
        melodies = load(cut)
    except MelodyError as exc:
        assert "cut.flac" in str(exc) and "\n" not in str(exc)
    else:
        assert len(melodies[0].notes) >= 3
    assert len(data) > 0


def test_clipping_is_a_warning(tmp_path, rng):
    notes = tune(rng)
    x = np.clip(render(notes, SR) * 4.0, -1.0, 1.0)
    path = tmp_path / "loud.wav"
    soundfile.write(path, x, SR)
    melody = load(path)[0]
    assert any("clipped" in w for w in melody.meta["warnings"])
    assert note_f(notes, melody.notes) >= 0.8


# ---------------------------------------------------------------------------- full mixes and queries

def songs():
    """Eight random 32-note leads (pitch, start_beats, dur_beats): a small catalog; song 3 is the query's."""
    from _songs import random_lead
    rng = np.random.default_rng(7)
    return {f"tune{k}": random_lead(rng, 32) for k in range(8)}


@pytest.fixture(scope="module")
def band(tmp_path_factory):
    require_system(bool(shutil.which("fluidsynth") and soundfont()), "FluidSynth + fluid-soundfont-gm")
    """tune3, a fourth higher on a flute, with chords, bass and drums, rendered by FluidSynth to mp3."""
    from melody.testing import Track, accompany, render_audio, write_midi

    tmp = tmp_path_factory.mktemp("band")
    notes = [(p + 5, s, d, 100) for p, s, d in songs()["tune3"]]
    mid = str(tmp / "band.mid")
    write_midi(mid, [Track("Flute", 73, notes)] + accompany(notes, key_pc=5), bpm=104)
    return mid, render_audio(mid, str(tmp / "band.mp3"), sample_rate=44100)


def test_lead_line_is_found_in_a_full_mix(band):
    mid, mp3 = band
    lead = load(mid)[0].notes
    got = load(mp3)[0].notes
    assert note_f(lead, got) >= 0.55      # a flute over a band: 0.62 measured; BENCHMARKS.md has the full figures


def test_audio_query_finds_its_melody_in_a_midi_catalog(band, tmp_path):
    from melody.api import query_file
    from melody.catalog import Catalog
    from melody.testing import Track, write_midi

    cat = Catalog.create(str(tmp_path / "cat"))
    refs = tmp_path / "refs"
    refs.mkdir()
    for name, lead in songs().items():
        write_midi(str(refs / f"{name}.mid"), [Track("Melody", 0, [(p, s, d, 90) for p, s, d in lead])])
    cat.index([str(refs)], workers=1)
    result = query_file(band[1], cat, top=3)
    assert result["status"] == "ok", result["error"]
    top = result["matches"][0]
    assert os.path.basename(top["source"]) == "tune3.mid"
    assert top["query_span"][1] > top["query_span"][0] > -0.01   # seconds of the recording
    json.dumps(result)


def test_cli_query_on_a_recording(band, tmp_path):
    import subprocess
    import sys

    from melody.catalog import Catalog
    cat = tmp_path / "cat"
    Catalog.create(str(cat)).index([band[0]], workers=1)
    out = subprocess.run([sys.executable, "-m", "melody.cli", "query", band[1], "--catalog", str(cat),
                          "--format", "json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "ok" and result["matches"]


def test_a_catalog_indexes_recordings_and_stores_only_notes(tmp_path, rng):
    """Audio references: the transcribed melody is stored (not the audio); a score query finds it."""
    from melody.api import query_file
    from melody.catalog import Catalog
    from melody.testing import Track, write_midi

    notes = tune(rng, n=30)
    rec = tmp_path / "refs" / "take.flac"
    rec.parent.mkdir()
    soundfile.write(rec, render(notes, SR), SR)
    other = tune(np.random.default_rng(99), n=30)
    soundfile.write(rec.parent / "other.ogg", render(other, SR), SR)
    cat = Catalog.create(str(tmp_path / "cat"))
    report = cat.index([str(rec.parent)], workers=1)
    assert report.added_melodies == 2 and not report.failed
    segments = tmp_path / "cat" / "segments"
    stored = sum(os.path.getsize(segments / f) for f in os.listdir(segments))
    assert stored < 10_000 < os.path.getsize(rec)          # two melodies' notes, not seconds of audio
    score = tmp_path / "score.mid"
    beats = 1 / 0.3   # tune() uses 0.3 s per beat
    write_midi(str(score), [Track("Melody", 0, [(int(p), (o - 0.2) * beats, d * beats, 90)
                                               for o, d, p in zip(notes["onset"], notes["duration"], notes["pitch"])])],
               bpm=200)
    result = query_file(str(score), cat, top=2)
    assert os.path.basename(result["matches"][0]["source"]) == "take.flac"


def test_repeated_notes_merge_within_each_melody_only():
    from melody.catalog.packed import merge_repeats, repeats
    notes = make_notes([0, 1, 2, 3, 4, 5, 6], [1] * 7, [60, 60, 62, 62, 62, 60, 60])
    offsets = np.array([0, 3, 3, 7, 7])          # melodies: 3 notes, none, 4 notes, none
    assert repeats(notes, offsets).tolist() == [False, True, False, False, True, False, True]
    merged, new_offsets = merge_repeats(notes, offsets)
    assert new_offsets.tolist() == [0, 2, 2, 4, 4]
    assert merged["pitch"].tolist() == [60, 62, 62, 60]
    assert merged["onset"].tolist() == [0, 2, 3, 5]
    assert merged["duration"].tolist() == [2, 1, 2, 2]      # a merged note lasts until the pitch changes


def test_beat_positions_and_times_are_inverse():
    beats = np.array([1.0, 1.5, 2.1, 2.6, 3.0])
    t = np.array([0.2, 1.0, 1.7, 2.6, 3.4, 4.0])
    assert np.allclose(rhythm.times_at(rhythm.beat_positions(t, beats), beats), t)


def _click(path, seconds=20.0, level=1e-3):
    """Silence with one click of `level` (-60 dBFS): above the silence threshold, but no analysis frame
    is loud enough for the tracker to find a pitch in."""
    x = np.zeros(int(SR * seconds), "f4")
    x[SR] = level
    return _write(path, x)


@pytest.mark.parametrize("method", ["fused", "salience"])
@pytest.mark.parametrize("name,make,words", [
    ("silent.wav", lambda p: _write(p, np.zeros(SR * 20, "f4")), "the audio is silent (every sample is zero)"),
    ("click.wav", _click, "no melody found (0 stable pitched notes in 20.0 s; noise, drums or speech only?): give a "
                          "recording or score of a sung or played tune"),
])
def test_silent_audio_is_refused_before_the_tracker_and_the_network(tmp_path, monkeypatch, method, name, make,
                                                                    words):
    """A silent recording, or one with no frame loud enough to hold a pitch, is refused after one decoding
    pass, with the message the whole transcription ends in: the pitch tracker and Basic Pitch never run
    (before, both ran over the whole file: a one-hour silent wav timed out in a batch)."""
    from melody.audio import extract, neural

    def never(*args, **kwargs):
        raise AssertionError("ran the tracker or the network on a silent file")

    path = make(tmp_path / name)
    with pytest.raises(NoMelody) as err:
        transcribe(path, method=method)
    assert str(err.value) == f"{path}: {words}"
    monkeypatch.setattr(neural, "activations", never)
    monkeypatch.setattr(extract.kernels, "viterbi_candidates", never)
    with pytest.raises(NoMelody) as early:
        transcribe(path, method=method)
    assert str(early.value) == str(err.value)


def test_a_sung_line_snaps_to_the_beat_of_its_own_onsets_not_its_consonants():
    """A singer's consonants peak in the flux 30-80 ms before most vowels, and breaths between: the flux's
    beats fit no grid of the notes. A single line's beat is also tracked on its own onsets
    (`rhythm.line_onset_envelope`), made steady, and the notes snap to it; a mix (line=False) keeps the flux."""
    from melody.represent import metric_classes

    hop, beat = 0.0116, 0.5
    grid = np.array([0, 1, 1.5, 2, 3, 3.5, 4, 5, 6, 6.5, 7, 8, 9, 9.5, 10, 11, 12, 13, 13.5, 14, 15, 16]) * beat + 0.5
    on_beat = np.isclose((grid - 0.5) / beat, np.round((grid - 0.5) / beat))
    for seed in (0, 1, 5, 7):
        rng = np.random.default_rng(seed)
        onset = grid + rng.normal(0, 0.025, len(grid))              # a singer's onset jitter
        notes = make_notes(onset, np.full(len(grid), 0.3), 60 + np.arange(len(grid)) % 5)
        flux = np.zeros(int(10 / hop))
        for t in onset:
            flux[int(t / hop)] += 0.5                                 # the vowel
            if rng.random() < 0.6:
                flux[int((t - rng.uniform(0.03, 0.08)) / hop)] += 1.0    # a consonant before it
        for t in rng.uniform(0, 9.5, 6):
            flux[int(t / hop):int(t / hop) + 3] += 0.8                # breaths
        assert not rhythm.snap_to_beats(notes, flux, hop)[1]["snapped"]
        got, info = rhythm.snap_to_beats(notes, flux, hop, line=True)
        assert info["snapped"] and info["beats_from"] == "notes" and info["tempo_bpm"] == pytest.approx(120, abs=3)
        # the notes on a beat are marked as the score marks them, and the steady grid takes out most jitter
        assert np.mean((metric_classes(got) >= 1) == on_beat) >= 0.9
        err = np.abs(np.diff(got["onset"]) - np.diff(grid)).mean()
        assert err < 0.75 * np.abs(np.diff(onset) - np.diff(grid)).mean()
    env = rhythm.line_onset_envelope(notes["onset"], len(flux), hop)
    assert env.max() == pytest.approx(1.0, abs=0.05) and np.argmax(env) in np.round(onset / hop).astype(int)
    assert not np.any(rhythm.line_onset_envelope(np.zeros(0), 100, hop))


def test_a_free_rhythm_line_is_left_alone_on_its_own_onsets_beat():
    """The tracker puts the beats of a line's own onsets on those onsets, so any line fits that grid as
    tracked, and a clean instrument's flux is little else: made steady (`rhythm.steady_beats`), onsets at
    random fit neither beat of a line."""
    hop = 0.0116
    snapped = {"click": 0, "own": 0, "own, as a mix": 0}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        onset = 0.5 + np.cumsum(rng.uniform(0.11, 0.53, 40))
        notes = make_notes(onset, np.full(40, 0.1), np.full(40, 60.0))
        click = np.zeros(int((onset[-1] + 2) / hop))
        click[(np.arange(0, onset[-1] + 1, 0.5) / hop).astype(int)] = 1.0     # a beat the notes do not keep
        own = rhythm.line_onset_envelope(onset, len(click), hop)               # a clean instrument's flux
        snapped["click"] += rhythm.snap_to_beats(notes, click, hop, line=True)[1]["snapped"]
        snapped["own"] += rhythm.snap_to_beats(notes, own, hop, line=True)[1]["snapped"]
        snapped["own, as a mix"] += rhythm.snap_to_beats(notes, own, hop)[1]["snapped"]
    assert snapped["click"] <= 1 and snapped["own"] <= 1
    assert snapped["own, as a mix"] >= 10          # the beats as tracked: what a mix keeps
    beats = 0.3 + 0.5 * np.arange(20)
    assert np.allclose(rhythm.steady_beats(beats, 2.0), beats)       # a steady beat stays
    wobbly = beats + np.where(np.arange(20) % 2, 0.03, -0.03)
    assert np.abs(rhythm.steady_beats(wobbly, 2.0)[3:-3] - beats[3:-3]).max() < 0.01


def test_a_short_line_keeps_one_steady_beat_per_tracked_beat():
    """The tracker gives as few as MIN_BEATS beats; fewer than the smoothing kernel's 13 taps came back as 13
    values (numpy's "same" convolution is as long as the longer input), a grid of beats that were never there."""
    for n in (3, rhythm.MIN_BEATS, 12, 13):
        beats = 0.3 + 0.5 * np.arange(n)
        assert np.allclose(rhythm.steady_beats(beats, 2.0), beats)
        assert np.allclose(rhythm.local_line(beats, np.ones(5)), beats)


def test_two_onsets_on_one_grid_point_stay_two_notes():
    """In a line, a second onset 25 ms after a note on the beat (a re-struck sung note, an ornament) falls on
    the first's grid point: it keeps its own time and pitch, between beats, instead of being merged into the
    note before."""
    hop, beat = 0.01, 0.5
    env = np.zeros(2000, dtype="f4")
    env[(np.arange(0, 20, beat) / hop).astype(int)] = 1.0          # a click every half second
    grid = np.array([0, 1, 1.5, 2, 3, 3.5, 4, 6, 7, 8, 9.5, 10, 12, 13, 14]) * beat + 1.0
    onset = np.sort(np.concatenate([grid, [grid[4] + 0.025]]))
    pitch = 60.0 + np.arange(len(onset))
    notes = make_notes(onset, np.full(len(onset), 0.03) + np.diff(onset, append=onset[-1] + 0.5) - 0.03, pitch)
    assert len(rhythm.snap_to_beats(notes, env, hop)[0]) == len(notes) - 1    # a mix's: merged, as it was
    got, info = rhythm.snap_to_beats(notes, env, hop, line=True)
    assert info["snapped"]
    assert len(got) == len(notes) and np.array_equal(got["pitch"], notes["pitch"])
    second = 5
    assert got["onset"][second] == pytest.approx(onset[second]) and got["beat"][second] == 0.5
    assert got["onset"][second - 1] == pytest.approx(grid[4], abs=0.015)
    assert got["onset"][second - 1] + got["duration"][second - 1] <= got["onset"][second] + 1e-9
    assert np.all(np.diff(got["onset"]) > 0)
