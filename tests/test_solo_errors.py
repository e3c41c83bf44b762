"""scripts/solo_errors.py: every transcription error is named, and each repair sets right its own kind only."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import solo_errors  # noqa: E402

from melody.notes import make_notes  # noqa: E402

# the written line: eight notes of 0.5 s, a repeated note at 0.5 s
REF = np.array([[60, 0, .5], [60, .5, .5], [62, 1, .5], [64, 1.5, .5], [65, 2, .5], [67, 2.5, .5], [69, 3, .5],
                [71, 3.5, .5]], dtype="f8")


def _transcribed():
    """The line heard 30 ms late with one error of each kind: the repeat merged (60 for 1 s), 64 an octave
    high, 65 split in two, 67 120 ms late, 69 missed, 71 heard as 70, and a stray 50."""
    return make_notes([0.03, 1.03, 1.53, 2.03, 2.28, 2.65, 3.53, 3.9], [1, .5, .5, .25, .25, .35, .35, .1],
                      [60, 62, 76, 65, 65, 67, 70, 50])


def test_every_error_gets_its_kind():
    e = solo_errors.classify(REF, _transcribed())
    assert abs(e["lag"] - 0.03) < 1e-9
    named = {k: sorted((int(i), int(j)) for i, j in e[k]) for k in ("ok",) + solo_errors.KINDS}
    assert named == {"ok": [(0, 0), (2, 1), (4, 3)], "octave": [(3, 2)], "pitch": [(7, 6)], "late": [(5, 5)],
                     "split": [(4, 4)], "merged_repeat": [(1, 0)], "swallowed": [], "missed": [(6, -1)],
                     "extra": [(-1, 7)]}


def test_a_note_inside_a_held_note_of_another_key_is_swallowed():
    est = make_notes([0.0, 1.0], [1.0, 1.0], [60, 64])
    ref = np.array([[60, 0, .5], [62, .5, .5], [64, 1, 1]], dtype="f8")
    e = solo_errors.classify(ref, est)
    assert [(int(i), int(j)) for i, j in e["swallowed"]] == [(1, 0)] and not e["missed"]


def test_each_repair_sets_right_its_own_kind_only():
    est = _transcribed()
    e = solo_errors.classify(REF, est)

    def line(kinds):
        got = solo_errors.repair(REF, est, e, kinds)
        return [(round(float(o), 2), int(p)) for o, p in zip(got["onset"], got["pitch"])]

    base = line([])
    assert base == [(0.03, 60), (1.03, 62), (1.53, 76), (2.03, 65), (2.28, 65), (2.65, 67), (3.53, 70), (3.9, 50)]
    assert line(["octave"]) == [n if n != (1.53, 76) else (1.53, 64) for n in base]
    assert line(["pitch"]) == [n if n != (3.53, 70) else (3.53, 71) for n in base]
    assert line(["late"]) == [n if n != (2.65, 67) else (2.53, 67) for n in base]
    assert line(["split"]) == [n for n in base if n != (2.28, 65)]
    assert line(["merged_repeat"]) == sorted(base + [(0.53, 60)])
    assert line(["missed"]) == sorted(base + [(3.03, 69)])
    assert line(["extra"]) == [n for n in base if n != (3.9, 50)]
    every = line(list(solo_errors.KINDS) + ["timing"])
    assert every == [(round(o + 0.03, 2), int(p)) for p, o, _ in REF]


def test_room_kind_renders_the_solos_rooms_once_and_captures_them(tmp_path, monkeypatch):
    """``--kind room0``: each solo render is put in bench_audio's room of seed 0 where the workdir lacks it, and
    the tracks come from the room files, cached apart from the dry solos'."""
    import types

    import soundfile

    from melody.audio import decode, extract, fuse

    adir = tmp_path / "audio"
    adir.mkdir()
    sr = 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    for qid in ("q1", "q2"):
        soundfile.write(str(adir / f"{qid}-solo.wav"), tone, sr)
        (adir / f"{qid}-solo.mid").write_bytes(b"")
    monkeypatch.setattr(decode, "AudioStats", lambda path: path)
    monkeypatch.setattr(decode, "blocks", lambda path, stats: iter(()))
    monkeypatch.setattr(extract, "candidates", lambda blocks: None)
    monkeypatch.setattr(fuse, "fused_track", lambda path, stats, cand: os.path.basename(path))
    queries = [types.SimpleNamespace(qid="q1"), types.SimpleNamespace(qid="q2")]
    got = solo_errors.capture(queries, str(tmp_path), "room0")
    assert got == {"q1": "q1-room0.flac", "q2": "q2-room0.flac"}
    assert (tmp_path / "solo_errors-room0-tracks.pkl").exists()
    room = soundfile.read(str(adir / "q1-room0.flac"))[0]
    assert len(room) == sr and not np.allclose(room[: sr // 2] / np.abs(room).max(), tone[: sr // 2] / 0.3)


def test_sung_truth_is_judged_within_50_cents_of_the_pitch_sung():
    """A singer 40 cents sharp of the key (the take's own tuning) sang 60.4, 62.4, ...: a transcription at those
    pitches is right, one a semitone off is a wrong pitch and one 12 semitones off an octave; the repair puts
    the sung pitch back as it was sung (no tuning added)."""
    ref = np.array([[60.4, 0, .5], [62.4, .5, .5], [64.1, 1, .5], [65.9, 1.5, .5]], dtype="f8")
    est = make_notes([0.0, 0.5, 1.0, 1.5], [.5, .5, .5, .5], [60.45, 63.4, 76.2, 65.5])
    e = solo_errors.classify(ref, est, tol=0.5)
    named = {k: sorted(int(i) for i, _ in e[k]) for k in ("ok", "octave", "pitch")}
    assert named == {"ok": [0, 3], "octave": [2], "pitch": [1]}
    got = solo_errors.repair(ref, est, e, ["pitch", "octave"], tune=0.0)
    assert np.allclose(got["pitch"], [60.45, 62.4, 64.1, 65.5])


def _track(onset: np.ndarray, keys_per_frame: int):
    """A pitch track whose flux is the notes' own onsets (a clean instrument's), and whose network hears
    ``keys_per_frame`` keys in every frame: 1 a single line (`fuse.single_line`), 3 an ensemble."""
    from melody.audio import rhythm
    from melody.audio.extract import PitchTrack

    hop = 0.0116
    n = int((onset[-1] + 2) / hop)
    key_note = np.zeros((n, 88), dtype="f4")
    key_note[:, 40:40 + keys_per_frame] = 0.9
    return PitchTrack(midi=np.full(n, 60.0), salience=np.ones(n), rms=np.ones(n), hop_s=hop,
                      onset_env=rhythm.line_onset_envelope(onset, n, hop), key_note=key_note)


def test_a_census_query_snaps_as_transcribe_snaps_a_single_line():
    """The census scripts re-read cached pitch tracks and must snap as `transcribe` does: a single line on its
    steadied beats (`melody.audio.snap_track_notes`), where onsets at random fit no grid; an ensemble on the
    flux's beats as tracked, where a clean flux of the notes' own onsets snaps them. Snapped as an ensemble
    (the scripts before the twenty-fourth session), a free-rhythm solo got a grid transcribe never gives it."""
    import all_split

    from melody.audio import snap_track_notes

    snapped = {"line": 0, "ensemble": 0}
    for seed in range(12):
        onset = 0.5 + np.cumsum(np.random.default_rng(seed).uniform(0.11, 0.53, 40))
        notes = make_notes(onset, np.full(40, 0.1), np.full(40, 60.0))
        for name, keys in (("line", 1), ("ensemble", 3)):
            tr = _track(onset, keys)
            query = solo_errors.as_query(notes, tr, marks=True)
            expected, info = snap_track_notes(notes, tr)
            for got in (query, all_split.snapped_query(notes, tr)):
                assert all(np.array_equal(got.notes[f], expected[f], equal_nan=f != "bar")
                           for f in expected.dtype.names)
                # and searched as transcribe's query is: onsets off any grid are read as played
                assert got.meta.get("played", False) == (not info["snapped"])
            snapped[name] += info["snapped"]
    assert snapped["line"] <= 1 and snapped["ensemble"] >= 10
