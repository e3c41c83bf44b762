"""Notation loading: MusicXML written by music21, a hand-written **kern spine, a two-tune ABC file."""
from __future__ import annotations

import numpy as np
import pytest

from melody.errors import MelodyError
from melody.io import load

music21 = pytest.importorskip("music21")

# (midi pitch, quarter lengths) in 3/4, four bars
MELODY = [(67, 1), (69, 1), (71, 1), (72, 2), (74, 1), (72, 1), (71, 0.5), (69, 0.5), (67, 1), (65, 3)]
MELODY_BARS = [1, 1, 1, 2, 2, 3, 3, 3, 3, 4]
MELODY_BEATS = [0, 1, 2, 0, 2, 0, 1, 1.5, 2, 0]


def write_two_part_score(path, melody_name="Flute", bass_name="Bass", bass_first=False, bpm=90):
    m21 = music21
    score = m21.stream.Score()
    score.metadata = m21.metadata.Metadata(title="Two Parts", composer="Anon")
    mel, bass = m21.stream.Part(), m21.stream.Part()
    if melody_name:
        mel.partName = melody_name
    if bass_name:
        bass.partName = bass_name
    measures = [m21.stream.Measure(number=i) for i in range(1, 5)]
    measures[0].append(m21.tempo.MetronomeMark(number=bpm))
    measures[0].append(m21.meter.TimeSignature("3/4"))
    for (pitch, ql), bar in zip(MELODY, MELODY_BARS):
        measures[bar - 1].append(m21.note.Note(pitch, quarterLength=ql))
    for m in measures:
        mel.append(m)
    for i, root in enumerate([43, 48, 50, 43], 1):   # a bass line: one dotted half per bar
        bm = m21.stream.Measure(number=i)
        if i == 1:
            bm.append(m21.meter.TimeSignature("3/4"))
        bm.append(m21.note.Note(root, quarterLength=3))
        bass.append(bm)
    for part in ([bass, mel] if bass_first else [mel, bass]):
        score.insert(0, part)
    score.write("musicxml", fp=str(path))
    return path


@pytest.mark.parametrize("names,bass_first", [(("Flute", "Bass"), False), (("", ""), True)])
def test_musicxml_two_parts_loads_melody_with_bars(tmp_path, names, bass_first):
    path = write_two_part_score(tmp_path / "two.musicxml", *names, bass_first=bass_first, bpm=90)
    (melody,) = load(path)
    assert [int(p) for p in melody.notes["pitch"]] == [p for p, _ in MELODY]
    spb = 60.0 / 90
    onsets = np.concatenate([[0], np.cumsum([ql for _, ql in MELODY])[:-1]]) * spb
    assert np.allclose(melody.notes["onset"], onsets)
    assert np.allclose(melody.notes["duration"], [ql * spb for _, ql in MELODY])
    assert list(melody.notes["bar"]) == MELODY_BARS
    assert np.allclose(melody.notes["beat"], MELODY_BEATS)
    assert melody.title == "Two Parts" and melody.composer == "Anon"
    assert melody.source == str(path)


KERN = """!!!OTL: Tiny Tune
!!!COM: Nobody
**kern
*M3/4
*MM120
=1-
4c
4d
4e
=2
2f
4e
=3
4d
8c
8d
4e
=4
2.c
==
*-
"""


def test_kern_spine_loads(tmp_path):
    path = tmp_path / "tiny.krn"
    path.write_text(KERN)
    (melody,) = load(path)
    assert [int(p) for p in melody.notes["pitch"]] == [60, 62, 64, 65, 64, 62, 60, 62, 64, 60]
    assert np.allclose(melody.notes["onset"], [0, 0.5, 1, 1.5, 2.5, 3, 3.5, 3.75, 4, 4.5])
    assert list(melody.notes["bar"]) == [1, 1, 1, 2, 2, 3, 3, 3, 3, 4]
    assert melody.title == "Tiny Tune" and melody.composer == "Nobody"


ABC = """X:1
T:First Tune
M:4/4
L:1/4
Q:1/4=120
K:G
G A B c | d2 B2 | c B A G |]

X:2
T:Second Tune
C:Trad
M:3/4
L:1/8
K:D
D2 F2 A2 | d4 A2 | F2 E2 D2 |]
"""


def test_abc_two_tunes(tmp_path):
    path = tmp_path / "two.abc"
    path.write_text(ABC)
    melodies = load(path)
    assert [m.title for m in melodies] == ["First Tune", "Second Tune"]
    assert [m.index for m in melodies] == [0, 1]
    assert melodies[1].composer == "Trad"
    assert [int(p) for p in melodies[0].notes["pitch"]] == [67, 69, 71, 72, 74, 71, 72, 71, 69, 67]
    assert [int(p) for p in melodies[1].notes["pitch"]] == [62, 66, 69, 74, 69, 66, 64, 62]   # F# in D
    assert np.allclose(melodies[0].notes["onset"][:5], [0, 0.5, 1, 1.5, 2])
    assert all(m.source == str(path) for m in melodies)


def test_abc_two_tunes_through_music21(tmp_path):
    """The music21 fallback (for ABC dialects the fast reader does not know) agrees on tunes and pitches."""
    from melody.io.notation import load_notation

    path = tmp_path / "two.abc"
    path.write_text(ABC)
    melodies = load_notation(str(path))
    assert [m.title for m in melodies] == ["First Tune", "Second Tune"]
    fast = load(path)
    for a, b in zip(melodies, fast):
        assert np.array_equal(a.notes["pitch"], b.notes["pitch"])
        assert np.allclose(a.notes["onset"], b.notes["onset"])


def test_garbage_musicxml_raises_named_error(tmp_path):
    path = tmp_path / "bad.musicxml"
    path.write_text("<score-partwise><part id='P1'><measure number='1'><note>")
    with pytest.raises(MelodyError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_binary_garbage_krn_raises_corrupt(tmp_path):
    path = tmp_path / "bad.krn"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MelodyError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_a_pickup_ends_its_bar_in_both_abc_readers(tmp_path):
    """An upbeat is the end of a bar, not a downbeat, in the fast reader and in music21's (a catalog of ABC tunes
    and a query written in MusicXML or MIDI with a leading rest then agree on where the upbeat sits)."""
    from melody.io.notation import load_notation

    path = tmp_path / "pickup.abc"
    path.write_text("X:1\nT:Upbeat\nM:3/4\nL:1/8\nK:C\nGA | c2 d2 e2 | f6 |]\n")
    for melody in (load(path)[0], load_notation(str(path))[0]):
        assert list(melody.notes["bar"]) == [0, 0, 1, 1, 1, 2]
        assert np.allclose(melody.notes["beat"], [2, 2.5, 0, 1, 2, 0])
