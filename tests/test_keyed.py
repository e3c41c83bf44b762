"""scripts/keyed.py: renders and cached tracks reused only while what they were made from is the same
(bench_sung.py's takes, bench_audio.py's FluidSynth renders and rooms)."""
import os
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_audio  # noqa: E402
import bench_sung  # noqa: E402
import keyed  # noqa: E402


def _song(qid, pitches):
    return SimpleNamespace(qid=qid, lead=[(p, 0.5 * k, 0.45, 0) for k, p in enumerate(pitches)])


def _stamp(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_a_changed_song_is_sung_again_and_an_unchanged_one_is_reused(tmp_path):
    import soundfile

    a, b = str(tmp_path / "p0001-hum.wav"), str(tmp_path / "p0002-hum.wav")
    bench_sung.render(_song("p0001", [60, 62, 64, 65]), "hum", 0, a)
    bench_sung.render(_song("p0002", [67, 65, 64, 62]), "hum", 0, b)
    first_a, first_b = soundfile.read(a)[0], _stamp(b)
    # the generator changes song 1 (a note moves) and leaves song 2 as it was
    bench_sung.render(_song("p0001", [60, 62, 63, 65]), "hum", 0, a)
    bench_sung.render(_song("p0002", [67, 65, 64, 62]), "hum", 0, b)
    again_a = soundfile.read(a)[0]
    assert _stamp(b) == first_b                                     # reused, not sung again
    assert len(again_a) != len(first_a) or not np.allclose(again_a, first_a)   # the new song, sung
    fresh = str(tmp_path / "fresh" / "p0001-hum.wav")
    os.makedirs(os.path.dirname(fresh))
    bench_sung.render(_song("p0001", [60, 62, 63, 65]), "hum", 0, fresh)
    assert np.array_equal(soundfile.read(fresh)[0], again_a)        # what a fresh workdir would sing


def test_a_take_in_a_hard_linked_copy_is_sung_again_without_touching_the_original(tmp_path):
    import soundfile

    src = tmp_path / "w" / "sung-0"
    src.mkdir(parents=True)
    bench_sung.render(_song("p0001", [60, 62, 64, 65]), "clean", 0, str(src / "p0001-clean.wav"))
    original = soundfile.read(src / "p0001-clean.wav")[0]
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "w", copy, copy_function=os.link)          # cp -al
    assert os.stat(copy / "sung-0" / "p0001-clean.wav").st_ino == os.stat(src / "p0001-clean.wav").st_ino
    bench_sung.render(_song("p0001", [60, 62, 63, 65]), "clean", 0, str(copy / "sung-0" / "p0001-clean.wav"))
    assert np.array_equal(soundfile.read(src / "p0001-clean.wav")[0], original)   # the original is intact
    assert not np.array_equal(soundfile.read(copy / "sung-0" / "p0001-clean.wav")[0], original)
    assert [f for f in os.listdir(copy / "sung-0") if not f.startswith(".")] == ["p0001-clean.wav"]


def test_a_render_without_its_key_is_made_again(tmp_path):
    """Renders cached before keys existed cannot be told from stale ones: they are made again."""
    path = str(tmp_path / "p0001-clean.wav")
    with open(path, "wb") as fh:
        fh.write(b"an old render")
    bench_sung.render(_song("p0001", [60, 62, 64, 65]), "clean", 0, path)
    with open(path, "rb") as fh:
        assert fh.read(4) == b"RIFF"


def test_a_room_is_rendered_again_when_its_solo_render_changes(tmp_path):
    import soundfile

    sr = 8000
    solo = tmp_path / "p0001-solo.wav"
    soundfile.write(solo, 0.3 * np.sin(2 * np.pi * 330 * np.arange(sr) / sr), sr)
    rec = {"solo": str(solo)}
    bench_audio.render_rooms([SimpleNamespace(qid="p0001")], [rec], seed=0, log=None)
    first = soundfile.read(rec["room"])[0]
    soundfile.write(solo, 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr), sr)      # rendered again
    bench_audio.render_rooms([SimpleNamespace(qid="p0001")], [rec], seed=0, log=None)
    assert not np.allclose(soundfile.read(rec["room"])[0], first)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="FluidSynth is not installed")
def test_a_midi_render_follows_its_midi_bytes(tmp_path):
    from melody.testing import Track, write_midi

    mid, wav = str(tmp_path / "p0001.mid"), str(tmp_path / "p0001-mix.wav")
    write_midi(mid, [Track("Lead", program=73, notes=[(72, 0.0, 0.5, 100), (74, 0.5, 0.5, 100)])], 120.0)
    assert bench_audio.midi_render(mid, wav, 22050)
    assert not bench_audio.midi_render(mid, wav, 22050)                # the same bytes: reused
    assert bench_audio.midi_render(mid, wav, 44100)                    # another rate: rendered again
    write_midi(mid, [Track("Lead", program=73, notes=[(72, 0.0, 0.5, 100), (76, 0.5, 0.5, 100)])], 120.0)
    assert bench_audio.midi_render(mid, wav, 44100)                    # another song: rendered again


def test_cached_entries_are_computed_again_only_where_their_key_changed(tmp_path):
    cache, calls = str(tmp_path / "tracks.pkl"), []

    def compute(name):
        calls.append(name)
        return name.upper()

    assert keyed.entries(cache, {"a": "k1", "b": "k2"}, compute) == {"a": "A", "b": "B"}
    assert keyed.entries(cache, {"a": "k1", "b": "k3"}, compute) == {"a": "A", "b": "B"}
    assert calls == ["a", "b", "b"]
    with open(cache, "wb") as fh:                   # a cache of the old kind (qid -> track, no keys)
        fh.write(b"\x80\x04}\x94.")
    keyed.entries(cache, {"a": "k1"}, compute)
    assert calls[-1] == "a"


def test_a_key_tells_apart_what_it_was_made_from():
    plan = {"onset": np.array([0.0, 0.5]), "sung": np.array([60.0, 62.0])}
    same = {"sung": np.array([60.0, 62.0]), "onset": np.array([0.0, 0.5])}
    assert keyed.digest("sung", plan, 0) == keyed.digest("sung", same, 0)
    assert keyed.digest("sung", plan, 0) != keyed.digest("sung", plan, 1)
    assert keyed.digest("ab", "c") != keyed.digest("a", "bc")
    assert keyed.digest(np.array([1, 2], dtype="i4")) != keyed.digest(np.array([1, 2], dtype="i8"))
    with pytest.raises(TypeError):
        keyed.digest(object())
