"""melody.io.musicxml: hand-written MusicXML with exact expectations, broken files, and agreement with music21
(the notation.py loader) on a fixed sample of music21's corpus.

Run this file directly (``python tests/test_musicxml.py``) to print the agreement rate and parse timings.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import time
import zipfile

import numpy as np
import pytest

from melody.errors import CorruptFile, NoMelody
from melody.io import load
from melody.io import musicxml
from melody.io.musicxml import load_musicxml


def note(step="C", octave=4, dur=1, alter=None, extra="", voice=None, staff=None):
    alter_xml = f"<alter>{alter}</alter>" if alter is not None else ""
    voice_xml = f"<voice>{voice}</voice>" if voice else ""
    staff_xml = f"<staff>{staff}</staff>" if staff else ""
    return (f"<note>{extra}<pitch><step>{step}</step>{alter_xml}<octave>{octave}</octave></pitch>"
            f"<duration>{dur}</duration>{voice_xml}{staff_xml}</note>")


def rest(dur=1):
    return f"<note><rest/><duration>{dur}</duration></note>"


ATTRS = "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"


def score(*parts, header="<work><work-title>Test Tune</work-title></work>"):
    """A partwise document; each part is (name, [measure bodies]) and measures are numbered from 1."""
    plist = "".join(f"<score-part id='P{i}'><part-name>{name}</part-name></score-part>"
                    for i, (name, _) in enumerate(parts, 1))
    body = "".join(f"<part id='P{i}'>" + "".join(f"<measure number='{k}'>{m}</measure>"
                                                 for k, m in enumerate(measures, 1)) + "</part>"
                   for i, (_, measures) in enumerate(parts, 1))
    return f"<?xml version='1.0'?><score-partwise>{header}<part-list>{plist}</part-list>{body}</score-partwise>"


def read(tmp_path, text, name="t.musicxml"):
    path = tmp_path / name
    path.write_text(text)
    (melody,) = load_musicxml(path)
    return melody


def columns(melody, qpm=120.0):
    n = melody.notes
    q = qpm / 60.0
    return ([int(p) for p in n["pitch"]], [round(float(x) * q, 6) for x in n["onset"]],
            [round(float(x) * q, 6) for x in n["duration"]], [int(b) for b in n["bar"]],
            [round(float(b), 6) for b in n["beat"]])


# ------------------------------------------------------------------------------------ hand-written scores

def test_pitches_alters_and_metadata(tmp_path):
    text = score(("Flute", [ATTRS + note("C") + note("F", alter=1) + note("B", 3, alter=-1) + note("A", 5)]),
                 header="<movement-title>Movement</movement-title><identification>"
                        "<creator type='lyricist'>L</creator><creator type='composer'>Anon\n  Ymous</creator>"
                        "</identification>")
    m = read(tmp_path, text)
    assert columns(m)[:2] == ([60, 66, 58, 81], [0, 1, 2, 3])
    assert (m.title, m.composer, m.meta["part"], m.meta["qpm"]) == ("Movement", "Anon Ymous", "Flute", 120.0)
    assert m.source == str(tmp_path / "t.musicxml")


def test_chord_keeps_top_note(tmp_path):
    chord = note("C", dur=2) + note("G", dur=2, extra="<chord/>") + note("E", dur=2, extra="<chord/>")
    m = read(tmp_path, score(("", [ATTRS + chord + note("D", 5, 2)])))
    assert columns(m)[:3] == ([67, 74], [0, 2], [2, 2])


def test_tie_across_barline_merges(tmp_path):
    tie_start, tie_stop = "<tie type='start'/>", "<tie type='stop'/>"
    measures = [ATTRS + note("C", dur=2) + note("E", dur=2, extra=tie_start),
                note("E", dur=1, extra=tie_stop + tie_start) + note("E", dur=1, extra=tie_stop) + note("G", dur=2)]
    pitch, onset, dur, bar, beat = columns(read(tmp_path, score(("", measures))))
    assert (pitch, onset, dur, bar, beat) == ([60, 64, 67], [0, 2, 6], [2, 4, 2], [1, 1, 2], [0, 2, 2])


def test_tie_start_without_stop_still_merges(tmp_path):
    flat = note("B", 4, 1, alter=-1)
    body = ATTRS + note("B", 4, 2, alter=-1, extra="<tie type='start'/>") + flat + flat
    assert columns(read(tmp_path, score(("", [body]))))[:3] == ([70, 70], [0, 3], [3, 1])


def test_backup_second_voice_gives_the_top_line(tmp_path):
    voice1 = note("E", 5, voice=1) + note("D", 5, voice=1) + note("C", 5, dur=2, voice=1)
    voice2 = note("C", 4, dur=4, voice=2)   # a held low note under the melody
    m = read(tmp_path, score(("", [ATTRS + voice1 + "<backup><duration>4</duration></backup>" + voice2])))
    assert columns(m)[:2] == ([76, 74, 72], [0, 1, 2])


def test_forward_moves_time(tmp_path):
    body = ATTRS + note("E", 5) + "<forward><duration>2</duration></forward>" + note("G", 5)
    assert columns(read(tmp_path, score(("", [body, note("C", 5, 4)]))))[:2] == ([76, 79, 72], [0, 3, 4])


def test_grace_notes_skipped_and_rests_keep_time(tmp_path):
    grace = "<note><grace/><pitch><step>B</step><octave>4</octave></pitch></note>"
    body = ATTRS + note("C") + rest(1) + grace + note("D", 4, 2)
    assert columns(read(tmp_path, score(("", [body]))))[:3] == ([60, 62], [0, 2], [1, 2])


def test_divisions_change(tmp_path):
    second = ("<attributes><divisions>4</divisions></attributes>"
              + note("D", dur=2) + note("E", dur=6) + note("F", dur=8))
    pitch, onset, dur, bar, beat = columns(read(tmp_path, score(("", [ATTRS + note("C", dur=4), second]))))
    assert (onset, dur, bar, beat) == ([0, 4, 4.5, 6], [4, 0.5, 1.5, 2], [1, 2, 2, 2], [0, 0, 0.5, 2])


def test_pickup_measure_numbered_zero(tmp_path):
    text = score(("", [ATTRS + note("G", 4), note("C", 5, 4), note("D", 5, 4)])).replace(
        "<measure number='1'>", "<measure number='0' implicit='yes'>", 1).replace(
        "<measure number='2'>", "<measure number='1'>", 1).replace("<measure number='3'>", "<measure number='2'>")
    pitch, onset, dur, bar, beat = columns(read(tmp_path, text))
    assert (onset, bar, beat) == ([0, 1, 5], [0, 1, 2], [3, 0, 0])   # the upbeat is the bar's fourth beat


def test_measure_numbers_suffixes_and_unnumbered(tmp_path):
    measures = [ATTRS + note("C", 4, 4), note("D", 4, 2), note("E", 4, 2), note("F", 4, 4), note("G", 4, 4)]
    text = score(("", measures)).replace("number='2'", "number='2a'").replace("number='3'", "number='X1'").replace(
        "number='4'", "number='3'").replace("number='5'", "number='B'")
    pitch, onset, dur, bar, beat = columns(read(tmp_path, text))
    assert (bar, beat) == ([1, 2, 2, 3, 4], [0, 0, 2, 0, 0])   # Finale's X1 continues bar 2; "B" counts on


@pytest.mark.parametrize("direction, qpm", [
    ("<direction><direction-type><metronome><beat-unit>half</beat-unit><per-minute>50</per-minute>"
     "</metronome></direction-type></direction>", 100.0),
    ("<direction><direction-type><metronome><beat-unit>quarter</beat-unit><beat-unit-dot/>"
     "<per-minute>60</per-minute></metronome></direction-type><sound tempo='90'/></direction>", 90.0),
    ("<sound tempo='72'/>", 72.0),
    ("", 120.0),
])
def test_tempo(tmp_path, direction, qpm):
    m = read(tmp_path, score(("", [ATTRS + direction + note("C") + note("D", dur=3)])))
    assert m.meta["qpm"] == qpm
    assert np.allclose(m.notes["onset"], [0, 60 / qpm]) and np.allclose(m.notes["duration"], [60 / qpm, 180 / qpm])


def test_melody_and_chords_in_one_staff_give_the_melody(tmp_path):
    # a song's melody and its accompaniment in one staff (voice 1: two notes and a half rest a bar; voice 2:
    # the chord on every beat): the staff is read as the MIDI loader reads such a track, so the chords' top
    # in the melody's rests is not taken for the tune (the plain top line took it: 69 72 67 67 ...)
    tune = [("A", 4, "C", 5), ("B", 4, "D", 5), ("C", 5, "E", 5), ("B", 4, "A", 4)]
    chord = note("C", 4, voice=2) + note("E", 4, voice=2, extra="<chord/>") + note("G", 4, voice=2, extra="<chord/>")
    measures = [(ATTRS if k == 0 else "") + note(a, o, voice=1) + note(b, p, voice=1) + rest(2)
                + "<backup><duration>4</duration></backup>" + chord * 4 for k, (a, o, b, p) in enumerate(tune)]
    m = read(tmp_path, score(("Piano", measures)))
    assert columns(m)[:2] == ([69, 72, 71, 74, 72, 76, 71, 69], [0, 1, 4, 5, 8, 9, 12, 13])


def test_melody_part_chosen_by_name_and_range(tmp_path):
    bass = ("Bass", [ATTRS + note("C", 3, 2) + note("G", 2, 2)])
    soprano = ("Soprano", [ATTRS + note("E", 4) + note("F", 4) + note("G", 4, 2)])
    assert read(tmp_path, score(bass, soprano)).meta["part"] == "Soprano"
    assert [int(p) for p in read(tmp_path, score(("", bass[1]), ("", soprano[1]))).notes["pitch"]] == [64, 65, 67]


def test_piano_staves_are_separate_parts(tmp_path):
    body = (ATTRS.replace("</attributes>", "<staves>2</staves></attributes>") + note("E", 5, 2, staff=1)
            + note("D", 5, 2, staff=1) + "<backup><duration>4</duration></backup>"
            + note("C", 3, 1, staff=2) + note("G", 3, 1, staff=2) + note("E", 4, 2, staff=2))
    m = read(tmp_path, score(("Piano", [body])))
    assert columns(m)[:2] == ([76, 74], [0, 2])


def test_timewise_score_reads_like_partwise(tmp_path):
    timewise = ("<score-timewise><part-list><score-part id='P1'><part-name>Lead</part-name></score-part>"
                "</part-list><measure number='1'><part id='P1'>" + ATTRS + note("C", 5, 2) + note("D", 5, 2)
                + "</part></measure><measure number='2'><part id='P1'>" + note("E", 5, 4)
                + "</part></measure></score-timewise>")
    assert columns(read(tmp_path, timewise)) == ([72, 74, 76], [0, 2, 4], [2, 2, 4], [1, 1, 2], [0, 2, 0])


def _write_mxl(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_mxl_rootfile_from_container_and_without(tmp_path):
    text = score(("", [ATTRS + note("C") + note("D") + note("E")]))
    container = ("<container><rootfiles><rootfile full-path='music/score.xml'/></rootfiles></container>")
    with_container = _write_mxl(tmp_path / "a.mxl", {"META-INF/container.xml": container,
                                                     "music/other.xml": "<nothing/>", "music/score.xml": text})
    without = _write_mxl(tmp_path / "b.mxl", {"META-INF/foo.xml": "<x/>", "score.musicxml": text})
    for path in (with_container, without):
        (m,) = load(path)
        assert [int(p) for p in m.notes["pitch"]] == [60, 62, 64]


# ------------------------------------------------------------------------------------ broken files

def _corrupt_files(tmp_path):
    good = score(("", [ATTRS + note("C") + note("D") + note("E")]))
    (tmp_path / "junk.xml").write_bytes(b"this is not XML at all \x00\x01\x02")
    (tmp_path / "truncated.musicxml").write_text(good[: len(good) // 2])
    (tmp_path / "broken.mxl").write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    (tmp_path / "text.mxl").write_bytes(b"\x89PNG not a zip")
    _write_mxl(tmp_path / "empty.mxl", {"readme.txt": "no score here"})
    data = _write_mxl(tmp_path / "whole.mxl", {"score.xml": good}).read_bytes()
    (tmp_path / "cut.mxl").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[60:100] = b"\xff" * 40   # inside the deflated member
    (tmp_path / "flipped.mxl").write_bytes(bytes(flipped))
    (tmp_path / "entities.xml").write_text(
        "<?xml version='1.0'?><!DOCTYPE score-partwise [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
        + good.split("?>", 1)[1].replace("Test Tune", "&b;"))
    return ["junk.xml", "truncated.musicxml", "broken.mxl", "text.mxl", "empty.mxl", "cut.mxl", "flipped.mxl",
            "entities.xml"]


def test_corrupt_files_raise_corrupt_file_naming_the_file(tmp_path):
    for name in _corrupt_files(tmp_path):
        path = tmp_path / name
        with pytest.raises(CorruptFile) as info:
            load_musicxml(path)
        assert str(path) in str(info.value)
        with pytest.raises(CorruptFile) as info:   # through the dispatcher: no music21 fallback, same error
            load(path)
        assert str(path) in str(info.value)


def test_music21_fallback_also_gives_corrupt_file_on_garbage(tmp_path):
    pytest.importorskip("music21")
    from melody.io.notation import load_notation

    for name in _corrupt_files(tmp_path):
        if name == "entities.xml":
            continue   # well-formed: only the fast reader refuses entity declarations (music21 expands them)
        path = tmp_path / name
        with pytest.raises(CorruptFile) as info:
            load_notation(str(path))
        assert str(path) in str(info.value)


def test_oversized_file_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.musicxml"
    path.write_text(score(("", [ATTRS + note("C") * 40])))
    monkeypatch.setattr(musicxml, "MAX_XML_BYTES", 1000)
    with pytest.raises(CorruptFile, match="big.musicxml"):
        load_musicxml(path)
    mxl = _write_mxl(tmp_path / "big.mxl", {"score.xml": path.read_text()})   # compresses below the limit
    with pytest.raises(CorruptFile, match="big.mxl"):
        load_musicxml(mxl)


def test_other_root_falls_back_to_music21(tmp_path):
    path = tmp_path / "opus.xml"
    path.write_text("<?xml version='1.0'?><opus><title>Not a score</title></opus>")
    with pytest.raises(musicxml._Unsupported):
        load_musicxml(path)
    pytest.importorskip("music21")
    with pytest.raises(CorruptFile, match="opus.xml"):   # music21 cannot read it either, and says so
        load(path)


def test_no_pitched_notes_is_no_melody(tmp_path):
    path = tmp_path / "rests.musicxml"
    path.write_text(score(("", [ATTRS + rest(4)])))
    with pytest.raises(NoMelody, match="rests.musicxml"):
        load(path)


def test_dispatcher_uses_the_fast_reader_and_falls_back_on_unexpected_errors(tmp_path, monkeypatch):
    import melody.io.notation as notation

    path = tmp_path / "t.musicxml"
    path.write_text(score(("", [ATTRS + note("C") + note("D") + note("E")])))

    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    with monkeypatch.context() as mp:
        mp.setattr(notation, "load_notation", boom)
        assert [int(p) for p in load(path)[0].notes["pitch"]] == [60, 62, 64]   # music21 never called
    pytest.importorskip("music21")
    monkeypatch.setattr(musicxml, "load_musicxml", boom)
    assert [int(p) for p in load(path)[0].notes["pitch"]] == [60, 62, 64]       # music21 took over


# ------------------------------------------------------------------------------------ agreement with music21

_MUSIC21 = importlib.util.find_spec("music21")
CORPUS = os.path.join(os.path.dirname(_MUSIC21.origin), "corpus") if _MUSIC21 else ""
BACH = sorted(glob.glob(os.path.join(CORPUS, "bach", "*.mxl")))
OTHERS = ["leadSheet/berlinAlexandersRagtime.mxl", "leadSheet/fosterBrownHair.mxl", "schumann_robert/opus48no2.mxl",
          "mozart/k545/movement1_exposition.mxl", "bach/bwv67.4.xml"]
SAMPLE = BACH[::16] + [os.path.join(CORPUS, p) for p in OTHERS]   # 26 chorales + 5 others


def _quarters(melody):
    return melody.notes["onset"] * melody.meta["qpm"] / 60.0


def agreement(files):
    """(fraction of files where pitches, onsets in quarter notes and bars agree, fast s, music21 s, mismatches)."""
    from melody.io.notation import load_notation

    same, fast_s, slow_s, bad = 0, 0.0, 0.0, []
    for path in files:
        t0 = time.perf_counter()
        (fast,) = load_musicxml(path)
        t1 = time.perf_counter()
        (ref,) = load_notation(path)
        fast_s, slow_s = fast_s + t1 - t0, slow_s + time.perf_counter() - t1
        a, b = fast.notes, ref.notes
        ok = (len(a) == len(b) and np.array_equal(a["pitch"], b["pitch"]) and np.array_equal(a["bar"], b["bar"])
              and np.allclose(_quarters(fast), _quarters(ref), atol=1e-6))
        same += ok
        if not ok:
            bad.append(os.path.relpath(path, CORPUS))
    return same / len(files), fast_s, slow_s, bad


@pytest.mark.slow
@pytest.mark.skipif(len(BACH) < 400, reason="music21's bundled Bach corpus is not installed")
def test_agrees_with_music21_on_corpus_sample():
    rate, fast_s, slow_s, bad = agreement(SAMPLE)
    assert rate >= 0.9, f"agreement {rate:.0%}; differs on {bad}"
    assert fast_s * 5 < slow_s, f"fast reader {fast_s:.2f} s vs music21 {slow_s:.2f} s"


@pytest.mark.slow
@pytest.mark.skipif(len(BACH) < 400, reason="music21's bundled Bach corpus is not installed")
def test_whole_bach_folder_is_fast():
    files = BACH + sorted(glob.glob(os.path.join(CORPUS, "bach", "*.xml")))
    t0 = time.perf_counter()
    for path in files:
        assert len(load_musicxml(path)[0]) >= 3
    per_file = (time.perf_counter() - t0) / len(files)
    assert per_file < 0.25, f"{per_file * 1000:.0f} ms per file"   # ~30 ms here; music21 takes ~1 s


if __name__ == "__main__":
    files = BACH + sorted(glob.glob(os.path.join(CORPUS, "bach", "*.xml")))
    t0 = time.perf_counter()
    for path in files:
        load_musicxml(path)
    fast_ms = (time.perf_counter() - t0) / len(files) * 1000
    print(f"fast reader: {fast_ms:.1f} ms per file over {len(files)} files in bach/")
    rate, fast_s, slow_s, bad = agreement(SAMPLE)
    print(f"agreement with music21 on {len(SAMPLE)} files: {rate:.1%} (differs: {bad or 'none'})")
    print(f"on that sample: fast {fast_s / len(SAMPLE) * 1000:.1f} ms/file, "
          f"music21 {slow_s / len(SAMPLE) * 1000:.0f} ms/file")
