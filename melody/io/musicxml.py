"""Fast MusicXML reader (.musicxml/.xml/.mxl) using only the standard library: ~50x faster than music21.

Reads ``score-partwise`` and ``score-timewise`` scores and returns the melody part as one `Melody`, chosen
with the part-selection rules of `notation.py` (one shared scoring function).  Like music21, a part with
several staves counts as one part per staff, every voice of a staff is read and reduced to its top line
(`monophonic`; chords keep the top note) or, for a staff written in several voices, to its melody as the MIDI
loader reduces a track (`lead.lead_line`: a melody and its accompaniment in one staff), tied notes are
merged, grace and cue notes are skipped.  Other
root elements raise `_Unsupported` (the caller then falls back to music21).

Safety: ElementTree's expat parser never fetches external entities or DTDs; files (and zip members) over
50 MB and documents declaring entities are refused.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib

import numpy as np

from ..errors import CorruptFile, NoMelody
from ..notes import Melody, make_notes, monophonic
from .lead import lead_line
from .notation import _part_score
from .parts import check_parts, distinct_parts, part_meta

__all__ = ["load_musicxml"]

MAX_XML_BYTES = 50 * 1024 * 1024
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_UNIT_QL = {"whole": 4.0, "half": 2.0, "quarter": 1.0, "eighth": 0.5, "16th": 0.25, "32nd": 0.125}
_NUMBER = re.compile(r"\d+")


class _Unsupported(Exception):
    """Valid XML this reader does not handle (the dispatcher then tries music21)."""


def _read_xml(path: str) -> ET.Element:
    try:
        with open(path, "rb") as fh:
            zipped = fh.read(4).startswith(b"PK")
        if zipped:
            with zipfile.ZipFile(path) as zf:
                data = _read_member(zf, _rootfile(zf))
        else:
            if os.path.getsize(path) > MAX_XML_BYTES:
                raise CorruptFile(f"{path}: larger than {MAX_XML_BYTES >> 20} MB, refusing to parse")
            with open(path, "rb") as fh:
                data = fh.read()
        if b"<!ENTITY" in data:
            raise CorruptFile(f"{path}: declares XML entities, refusing to parse")
        return ET.fromstring(data)
    except OSError as exc:
        raise CorruptFile(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError, EOFError, NotImplementedError) as exc:
        raise CorruptFile(f"{path}: broken .mxl archive ({exc})") from None
    except ET.ParseError as exc:
        raise CorruptFile(f"{path}: not well-formed XML ({exc})") from None
    except ValueError as exc:   # a zip member over the size limit
        raise CorruptFile(f"{path}: {exc}") from None


def _rootfile(zf: zipfile.ZipFile) -> str:
    names = zf.namelist()
    if "META-INF/container.xml" in names:
        container = ET.fromstring(_read_member(zf, "META-INF/container.xml"))
        for rootfile in container.iter("rootfile"):
            if rootfile.get("full-path") in names:
                return rootfile.get("full-path")
    for name in names:
        if not name.startswith("META-INF/") and name.lower().endswith((".xml", ".musicxml")):
            return name
    raise KeyError("no MusicXML document inside")


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as fh:   # read at most the limit + 1: the header's size may lie
        data = fh.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"archive member {name} is larger than {MAX_XML_BYTES >> 20} MB")
    return data


def _num(el: ET.Element | None, default: float = 0.0) -> float:
    try:
        return float(el.text)
    except (AttributeError, TypeError, ValueError):
        return default


def _tempo(direction: ET.Element) -> float | None:
    """Quarter notes per minute of a <direction> (metronome first, else <sound tempo>), None if none."""
    for met in direction.iter("metronome"):
        unit = _UNIT_QL.get((met.findtext("beat-unit") or "").strip())
        per_minute = _num(met.find("per-minute"), 0.0)
        if unit and per_minute:
            return per_minute * unit * (1.5 if met.find("beat-unit-dot") is not None else 1.0)
    for sound in direction.iter("sound"):
        if sound.get("tempo"):
            return float(sound.get("tempo"))
    return None


def _parts(root: ET.Element) -> list:
    """[(part id, [measure elements])]; a timewise measure's music sits in its <part> child."""
    if root.tag == "score-partwise":
        return [(p.get("id"), p.findall("measure")) for p in root.findall("part")]
    if root.tag != "score-timewise":
        raise _Unsupported(f"<{root.tag}> documents are not read by the fast MusicXML reader")
    parts = {}
    for measure in root.findall("measure"):
        for p in measure.findall("part"):
            p.set("number", measure.get("number") or "")
            parts.setdefault(p.get("id"), []).append(p)
    return list(parts.items())


def _read_part(measures: list):
    """Walk one part's measures.  Returns {staff: [[onset, duration, pitch, bar, chord group], ...]} (times in
    quarter notes from the start), the offset of each bar number, the first tempo mark (qpm or None) and
    {staff: the voices its notes are written in}."""
    staves, measure_offsets, bpm, voices = {}, {}, None, {}
    divisions, bar_ql, start, bar, group = 1.0, 4.0, 0.0, 0, 0
    open_ties = {}   # (staff, pitch, end) -> (note with <tie type="start">, its voice): the next one extends it
    for measure in measures:
        number = measure.get("number") or ""
        match = _NUMBER.match(number)
        if match:
            bar = int(match.group())   # "12a" (a split measure) is bar 12
        elif not number.startswith("X"):
            bar += 1                   # Finale's unnumbered measures X1, X2... keep the previous number
        measure_offsets.setdefault(bar, start)
        pos = highest = 0.0
        last_onset = 0.0
        for el in measure:
            tag = el.tag
            if tag == "note":
                if el.find("grace") is not None:
                    continue
                dur = _num(el.find("duration")) / divisions
                if el.find("chord") is not None:
                    onset = last_onset
                else:
                    onset, last_onset = pos, pos
                    pos += dur
                    group += 1
                highest = max(highest, onset + dur)
                pitch = el.find("pitch")
                if pitch is None or dur <= 0 or el.find("cue") is not None:
                    continue   # rests, unpitched percussion, cue notes
                midi = round(12 * (_num(pitch.find("octave"), 4) + 1) + _STEP.get(
                    (pitch.findtext("step") or "C").strip().upper(), 0) + _num(pitch.find("alter")))
                staff = int(_num(el.find("staff"), 1))
                voice, ties = el.findtext("voice"), {t.get("type") for t in el.findall("tie")}
                voices.setdefault(staff, set()).add(voice)
                tied, tie_voice = open_ties.pop((staff, midi, round(onset + start, 6)), (None, None))
                if tied is not None and ("stop" in ties or tie_voice == voice):   # "stop" is often missing
                    tied[1] = onset + start + dur - tied[0]
                else:
                    tied = [onset + start, dur, midi, bar, group]
                    staves.setdefault(staff, []).append(tied)
                if "start" in ties:
                    open_ties[(staff, midi, round(tied[0] + tied[1], 6))] = (tied, voice)
            elif tag == "backup":
                pos = max(pos - _num(el.find("duration")) / divisions, 0.0)
            elif tag == "forward":
                pos += _num(el.find("duration")) / divisions
                highest = max(highest, pos)
            elif tag == "attributes":
                divisions = _num(el.find("divisions"), divisions) or divisions
                time = el.find("time")
                if time is not None and time.find("beats") is not None:
                    try:
                        beats = sum(float(b) for b in time.findtext("beats").split("+"))
                        bar_ql = 4.0 * beats / _num(time.find("beat-type"), 4.0)
                    except (ValueError, ZeroDivisionError):
                        pass
            elif tag in ("direction", "sound") and bpm is None:
                qpm = _tempo(el)
                if qpm and 10 <= qpm <= 1000:
                    bpm = qpm
        if start == 0.0 and measure.get("implicit") == "yes" and 0.0 < highest < bar_ql:
            measure_offsets[bar] = highest - bar_ql     # a pickup's notes end their bar
        start += highest if highest > 0 else bar_ql
    return staves, measure_offsets, bpm, voices


def _staff_notes(events: list, measure_offsets: dict, bpm: float, voiced: bool = False):
    """The melody line of one staff (NOTE_DTYPE), and the fraction of its onsets that are chords. A staff
    written in one voice is its top line (chords give their top note); one written in several (`voiced`: a
    melody over its accompaniment, as in a piano-vocal score's right hand) is reduced as a MIDI track is."""
    on, dur, pitch, bar, groups = (np.array(col, dtype="f8") for col in zip(*events))
    beat = on - np.array([measure_offsets[int(b)] for b in bar])
    sec = 60.0 / bpm
    notes = make_notes(on * sec, dur * sec, pitch, bar.astype("i4"), beat)
    _, sizes = np.unique(groups, return_counts=True)
    return (lead_line(notes) if voiced else monophonic(notes)), float(np.mean(sizes > 1))


def _text(root: ET.Element, path: str) -> str:
    return " ".join((root.findtext(path) or "").split())


def load_musicxml(path: str | os.PathLike, parts: str = "lead") -> list[Melody]:
    """Parse a MusicXML file (plain or compressed .mxl) and return its melody as a one-item list; with
    parts="all", one melody per staff with notes, in score order (`melody.io.parts`: short staves and
    doublings dropped), each naming its part in `meta`.

    Raises CorruptFile (unreadable, broken zip, malformed XML, too large), NoMelody (no pitched notes) and
    _Unsupported (not a partwise or timewise score: use music21 instead).
    """
    check_parts(parts)
    path = os.fspath(path)
    root = _read_xml(path)
    names = {sp.get("id"): " ".join((sp.findtext("part-name") or "").split())
             for sp in root.iter("score-part")}
    bpm, staves = None, []
    for part_id, measures in _parts(root):
        part_staves, offsets, part_bpm, voices = _read_part(measures)
        bpm = bpm or part_bpm
        keys = sorted(set(part_staves) | {1})   # like music21: one part per staff, empty ones too
        staves += [(names.get(part_id, ""), part_staves.get(s), offsets, len(voices.get(s, ())) > 1,
                    f" (staff {s})" if len(keys) > 1 else "") for s in keys]
    bpm = bpm or 120.0
    lines, scores = {}, {}
    for k, (name, events, offsets, voiced, _) in enumerate(staves):
        if not events:
            continue
        lines[k], chordal = _staff_notes(events, offsets, bpm, voiced)
        scores[k] = _part_score(name, lines[k]["pitch"], chordal, k)
    if not lines:
        raise NoMelody(f"{path}: no notes found")
    ranked = sorted(scores, key=lambda k: -scores[k])      # stable: the first of equals, as before
    kept = distinct_parts(lines, ranked, parts)
    title = _text(root, "work/work-title") or _text(root, "movement-title")
    composer = next((" ".join((c.text or "").split()) for c in root.iter("creator")
                     if c.get("type") == "composer"), "")
    melodies = []
    for index, k in enumerate(kept):
        name, staff = staves[k][0], staves[k][4]
        meta = {"part": name, "qpm": bpm}
        if parts == "all":
            meta.update(part_meta(index, (name or f"part {k + 1}") + staff))
        melodies.append(Melody(lines[k], title=title or os.path.splitext(os.path.basename(path))[0],
                               composer=composer, source=path, meta=meta))
    return melodies
