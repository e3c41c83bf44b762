"""Our beat tracker (`melody.audio.beat_tracker`) gives librosa's static-tempo beats, frame for frame, and
the paths that track beats no longer import librosa.beat (which compiles a kernel afresh in every process)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from melody.audio.beat_tracker import _local_maxima, track_beats
from melody.audio.rhythm import line_onset_envelope

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def librosa_beats():
    """librosa 0.11's tracker at a given tempo, in frames (the reference; importing it compiles ~7 s)."""
    beat = pytest.importorskip("librosa.beat")

    def reference(env, frame_rate, bpm, trim=True):
        return beat.beat_track(onset_envelope=env, sr=frame_rate, hop_length=1, bpm=bpm, trim=trim)[1]

    return reference


def _envelopes(rng):
    """(envelope, frame rate, bpm): noise, sparse decaying onsets after a silent intro, a played line's own
    onsets (tempo drifting, jittered), and a MIDI band's pulses (`melody.io.midi`'s envelope)."""
    out = []
    for _ in range(4):
        n = int(rng.integers(300, 6000))
        out.append((rng.exponential(1.0, n), 100.0, float(rng.uniform(40, 330))))
        sparse = np.zeros(n)
        hits = rng.integers(n // 5, n, n // 20)
        sparse[hits] = rng.uniform(0.1, 3.0, len(hits))
        out.append((np.convolve(sparse, np.exp(-np.arange(8) / 2.0))[:n], 1 / 0.0116, float(rng.uniform(60, 200))))
        beat_s = 60.0 / rng.uniform(70, 160)
        beats = np.cumsum(beat_s * (1 + 0.05 * np.sin(np.arange(60) / 7.0)))
        onsets = np.sort(np.concatenate([beats, beats[::3] + beat_s / 2])) + rng.normal(0, 0.02, 80)
        onsets = onsets[onsets > 0]
        out.append((line_onset_envelope(onsets, int(onsets[-1] / 0.01) + 50, 0.01), 100.0, 60.0 / beat_s))
        pulses = np.bincount(np.round(beats / 0.01).astype(np.int64)).astype("f8")
        out.append((np.convolve(pulses, (1.0, 0.5, 0.25)), 100.0, 60.0 / beat_s * 1.5))
    return out


def test_the_beats_are_librosas_on_noise_onsets_lines_and_bands(rng, librosa_beats):
    for env, frame_rate, bpm in _envelopes(rng):
        assert np.array_equal(track_beats(env, frame_rate, bpm), librosa_beats(env, frame_rate, bpm))
        assert np.array_equal(track_beats(env, frame_rate, bpm, trim=False),
                              librosa_beats(env, frame_rate, bpm, trim=False))


def test_edge_envelopes_give_librosas_beats(librosa_beats):
    one = np.zeros(500)
    one[200] = 1.0
    first = np.zeros(500)
    first[0] = 1.0                  # the local score leaves frame 0 out, as librosa's does: no beat at all
    for env in (one, first, np.full(500, 5.0), np.array([0.0, 1.0]), np.array([1.0, 0.0, 1.0])):
        for bpm in (120.0, 97.3):
            assert np.array_equal(track_beats(env, 100.0, bpm), librosa_beats(env, 100.0, bpm))
    assert track_beats(one, 100.0, 120.0).tolist() == [200] and len(track_beats(first, 100.0, 120.0)) == 0


def test_regular_onsets_are_the_beats_and_a_silent_intro_and_tail_are_trimmed():
    env = np.zeros(1000)
    env[200:800:25] = 1.0                                  # 120 bpm at 50 frames/s, from 4 s to 16 s
    beats = track_beats(env, 50.0, 120.0)
    assert beats.tolist() == list(range(200, 800, 25))
    assert len(track_beats(env, 50.0, 120.0, trim=False)) > len(beats)       # beats tracked into the silence


def test_nothing_to_track_gives_no_beats_and_bad_input_is_refused():
    assert len(track_beats(np.zeros(0), 100.0, 120.0)) == 0
    assert len(track_beats(np.zeros(400), 100.0, 120.0)) == 0
    # a flat envelope of 1s: every local score is at most the trim threshold (librosa 0.11 then reads and
    # writes past the array's ends); the trim stops at the ends and leaves no beat
    assert len(track_beats(np.ones(500), 100.0, 120.0)) == 0
    for bad in (np.ones((2, 50)), np.r_[np.ones(50), np.nan]):
        with pytest.raises(ValueError):
            track_beats(bad, 100.0, 120.0)
    for frame_rate, bpm in ((100.0, 0.0), (0.0, 120.0), (1.0, 600.0)):
        with pytest.raises(ValueError):
            track_beats(np.ones(50), frame_rate, bpm)


def test_local_maxima_are_strict_before_and_loose_after_and_the_first_frame_never_counts():
    x = np.array([5.0, 1.0, 3.0, 3.0, 2.0, 2.0, 4.0])
    assert np.flatnonzero(_local_maxima(x)).tolist() == [2, 6]


def test_tracking_beats_and_reading_a_played_midi_file_leave_librosa_beat_unimported(tmp_path):
    from melody.testing import Track, write_midi

    rng = np.random.default_rng(3)
    onsets = np.cumsum(rng.choice([0.25, 0.5, 0.5, 1.0], 40)) * 0.52 + rng.normal(0, 0.02, 40)
    lead = [(60 + int(k) % 7, t / 0.5, 0.2) for k, t in enumerate(onsets)]
    path = write_midi(tmp_path / "played.mid", [Track("Melody", notes=lead)], bpm=120)
    code = ("import sys, numpy as np; from melody.audio.rhythm import beat_times; import melody; "
            "env = np.zeros(3000); env[100::50] = 1.0; assert len(beat_times(env, 0.01)) > 8; "
            f"m = melody.load({str(path)!r}); m = m[0] if isinstance(m, list) else m; "
            "assert m.meta.get('played') is True; print('librosa.beat' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": ROOT, "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
