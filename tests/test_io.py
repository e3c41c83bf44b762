"""Loading chooses the reader by extension; a file whose content is another type says so in its one line."""
from __future__ import annotations

import numpy as np
import pytest

from _songs import random_lead, write_abc
from melody.errors import CorruptFile, MelodyError, UnsupportedFile
from melody.io import load, sniff
from melody.testing import Track, write_midi

MUSICXML = ('<?xml version="1.0" encoding="UTF-8"?>\n<score-partwise version="3.1"><part-list>'
            '<score-part id="P1"><part-name>x</part-name></score-part></part-list><part id="P1"></part>'
            '</score-partwise>\n')


@pytest.fixture
def files(tmp_path):
    lead = random_lead(np.random.default_rng(3), 12)
    out = {"midi": write_midi(str(tmp_path / "song.mid"), [Track("Lead", 0, lead)]),
           "abc": write_abc(tmp_path / "tunes.abc", [("One", lead)])}
    (tmp_path / "score.musicxml").write_text(MUSICXML)
    out["musicxml"] = str(tmp_path / "score.musicxml")
    import soundfile
    t = np.arange(8000) / 8000.0
    for ext in ("wav", "flac", "ogg"):
        soundfile.write(str(tmp_path / f"tone.{ext}"), 0.3 * np.sin(2 * np.pi * 440 * t), 8000)
        out[ext] = str(tmp_path / f"tone.{ext}")
    return out


def test_sniff_names_each_type_by_content(files, tmp_path):
    expected = {"midi": "MIDI", "abc": "ABC", "musicxml": "MusicXML", "wav": "WAV", "flac": "FLAC", "ogg": "Ogg"}
    assert {k: sniff(files[k]) for k in expected} == expected
    (tmp_path / "text.txt").write_text("just words\n")
    assert sniff(str(tmp_path / "text.txt")) is None and sniff(str(tmp_path / "missing.mid")) is None


@pytest.mark.parametrize("kind, wrong, right", [("midi", "take.mp3", ".mid"), ("abc", "tune.mid", ".abc"),
                                                 ("musicxml", "score.abc", ".musicxml"), ("midi", "song", ".mid"),
                                                 ("midi", "song.txt", ".mid")])
def test_wrong_extension_says_what_the_file_is(files, tmp_path, kind, wrong, right):
    path = tmp_path / wrong
    path.write_bytes(open(files[kind], "rb").read())
    with pytest.raises((CorruptFile, UnsupportedFile)) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and f"rename it to {right}" in message and "\n" not in message
    assert "does not exist" not in message           # libsndfile's words for an mp3 it cannot decode


def test_right_extension_or_unknown_content_gets_no_hint(tmp_path):
    bad = tmp_path / "noise.mid"
    bad.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MelodyError) as info:
        load(bad)
    assert "rename" not in str(info.value)
    truncated = tmp_path / "cut.mid"
    truncated.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00")
    with pytest.raises(MelodyError) as info:
        load(truncated)
    assert "rename" not in str(info.value) and str(truncated) in str(info.value)


def test_mp3_decoding_prints_nothing(capfd):
    """libsndfile's libmpg123 writes resync notes ("error: part2_3_length ... too large") to the process's
    stderr for this mp3 (the demo's), which it then decodes fine: a user saw "error" lines for a good file."""
    import os

    from melody.audio import decode
    mp3 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "morning_commute_band.mp3")
    audio, stats = decode.read(mp3)
    out, err = capfd.readouterr()
    assert stats.seconds > 40 and len(audio) > 40 * decode.SR
    assert out == "" and err == ""
    os.write(2, b"still here\n")                  # stderr is given back
    assert capfd.readouterr().err == "still here\n"


def test_a_pipe_named_like_music_is_refused_without_being_opened(tmp_path):
    """A FIFO called song.mid would block a reader forever (and its size 0 said 'empty file'): refused by kind."""
    import os
    fifo = tmp_path / "song.mid"
    os.mkfifo(fifo)
    with pytest.raises(UnsupportedFile, match="song.mid: not a regular file"):
        load(str(fifo))
