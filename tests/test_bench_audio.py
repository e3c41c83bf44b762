"""scripts/bench_audio.py: the room its solo renders are played in (``--room``), shared with bench_sung.py."""
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_audio  # noqa: E402


def test_the_room_decays_60_db_in_its_rt60_and_adds_noise_at_its_snr():
    sr, rt60 = 8000, 0.5
    click = np.zeros(sr)
    click[0] = 1.0
    wet = bench_audio.in_room(click, sr, rt60, 300.0, np.random.default_rng(0))     # no audible noise
    tail = wet[1:] ** 2
    energy_left = np.cumsum(tail[::-1])[::-1] / tail.sum()          # Schroeder's backward integral
    t60 = np.argmax(10 * np.log10(energy_left + 1e-30) <= -60.0) / sr
    assert abs(t60 - rt60) < 0.05
    assert abs(tail.sum() - 0.25) < 1e-9           # the reverb's energy is a quarter of the direct sound's

    tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    quiet = bench_audio.in_room(tone, sr, 0.3, 300.0, np.random.default_rng(1))
    noisy = bench_audio.in_room(tone, sr, 0.3, 20.0, np.random.default_rng(1))
    snr = 10 * np.log10(np.mean(quiet ** 2) / np.var(noisy - quiet))
    assert abs(snr - 20.0) < 0.01


def test_rooms_are_drawn_per_song_and_written_once(tmp_path):
    import soundfile

    sr = 8000
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(sr) / sr)
    queries, renders = [], []
    for qid in ("p0001", "p0002"):
        path = tmp_path / f"{qid}-solo.wav"
        soundfile.write(path, tone, sr)
        queries.append(SimpleNamespace(qid=qid))
        renders.append({"solo": str(path)})
    bench_audio.render_rooms(queries, renders, seed=0, log=None)
    rooms = [soundfile.read(r["room"])[0] for r in renders]
    assert all(r["room"].endswith("-room0.flac") for r in renders)
    assert not np.allclose(rooms[0], rooms[1])                      # each song its own room and noise
    assert np.abs(rooms[0][sr // 2:] - tone[sr // 2:] * 0.25 / 0.3).max() > 0.01   # not the dry render
    stamp = os.stat(renders[0]["room"]).st_mtime_ns
    again = [{"solo": r["solo"]} for r in renders]
    bench_audio.render_rooms(queries, again, seed=0, log=None)
    assert os.stat(again[0]["room"]).st_mtime_ns == stamp            # reused, not rendered again
    other = [{"solo": r["solo"]} for r in renders]
    bench_audio.render_rooms(queries, other, seed=1, log=None)
    assert not np.allclose(soundfile.read(other[0]["room"])[0], rooms[0])   # another seed, other rooms


def _row(qid, positive=True, rank=None, flagged=False):
    return {"qid": qid, "positive": positive, "rank": rank, "true_flagged": flagged}


def test_flagged_recall_counts_only_the_songs_whose_midi_query_flags_its_tune_first():
    midi = [_row("a", rank=1, flagged=True), _row("b", rank=1, flagged=False), _row("c", rank=2, flagged=True),
            _row("d", rank=1, flagged=True), _row("n", positive=False)]
    audio = [_row("a", rank=1), _row("b", rank=1), _row("c", rank=1), _row("d", rank=3), _row("n", positive=False)]
    assert bench_audio.flagged_recall(midi, audio) == {"n": 2, "at_1": 1, "recall_at_1": 0.5}
    assert bench_audio.flagged_recall(midi[1:2], audio[1:2])["recall_at_1"] is None
    with pytest.raises(ValueError):
        bench_audio.flagged_recall(midi, audio[::-1])
