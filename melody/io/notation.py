"""MusicXML, kern (and ABC as a fallback) through music21: slower, but it reads every notation format."""
from __future__ import annotations

import os
import re

import numpy as np

from ..errors import CorruptFile, NoMelody
from ..notes import Melody, make_notes, monophonic
from .parts import check_parts, distinct_parts, part_meta

_LEAD_PART = re.compile(r"sopran|melod|voice|vocal|lead|solo|cantus|violin ?i\b|flute|tenor", re.I)


def _part_score(part_name: str, pitches: np.ndarray, chordal: float, k: int) -> float:
    score = (np.median(pitches) - 60.0) / 12.0 + 2.0 * (1.0 - chordal) - 0.1 * k
    if part_name and _LEAD_PART.search(part_name):
        score += 3.0
    if part_name and re.search(r"bass|continuo|basso|left|accomp|chord", part_name, re.I):
        score -= 3.0
    return score


def _part_notes(part, bpm: float):
    """Monophonic NOTE_DTYPE array of a music21 part (ties merged, chords reduced to the top note)."""
    from music21 import chord, note

    flat = part.stripTies().flatten()
    measure_offsets = {}                    # where each bar would start were it whole: a pickup's notes end their bar
    for m in part.getElementsByClass("Measure"):
        measure_offsets.setdefault(m.number, float(m.offset) - float(m.paddingLeft or 0.0))
    on, dur, pitch, bar, beat = [], [], [], [], []
    chords = 0
    for el in flat.notes:
        if isinstance(el, note.Note):
            p = el.pitch.midi
        elif isinstance(el, chord.Chord) and len(el.pitches):
            p = max(x.midi for x in el.pitches)
            chords += 1
        else:
            continue
        ql = float(el.duration.quarterLength)
        if ql <= 0:   # grace notes
            continue
        q = float(el.offset)
        on.append(q)
        dur.append(ql)
        pitch.append(p)
        num = el.measureNumber if el.measureNumber is not None else -1
        bar.append(num)
        beat.append(q - measure_offsets[num] if num in measure_offsets else np.nan)
    sec = 60.0 / bpm
    arr = make_notes(np.array(on) * sec, np.array(dur) * sec, pitch, bar, beat)
    return monophonic(arr), chords / max(len(on), 1)


def _tempo(score) -> float:
    from music21 import tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        qpm = mark.getQuarterBPM()
        if qpm and 10 <= qpm <= 1000:
            return float(qpm)
    return 120.0


def load_notation(path: str, parts: str = "lead") -> list[Melody]:
    """Parse any music21-readable score and return one Melody per work (opus: one per tune); with
    parts="all", one per part of each work (`melody.io.parts`), each naming its part in `meta`."""
    import music21

    check_parts(parts)
    try:
        parsed = music21.converter.parse(path)
    except Exception as exc:  # music21 raises many unrelated types on bad input
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise CorruptFile(f"{path}: cannot be parsed as music notation ({msg})") from None
    scores = list(parsed.scores) if isinstance(parsed, music21.stream.Opus) else [parsed]
    melodies = []
    for index, score in enumerate(scores):
        melodies += _score_melodies(score, path, index, parts)
    if not melodies:
        raise NoMelody(f"{path}: no notes found")
    return melodies


def _score_melodies(score, path: str, index: int, parts: str) -> list[Melody]:
    bpm = _tempo(score)
    score_parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    lines, scores, names = {}, {}, {}
    for k, part in enumerate(score_parts):
        try:
            notes, chordal = _part_notes(part, bpm)
        except (ValueError, AttributeError, TypeError):
            continue
        if len(notes) == 0:
            continue
        names[k] = name = part.partName or "" if hasattr(part, "partName") else ""
        lines[k], scores[k] = notes, _part_score(name, notes["pitch"], chordal, k)
    if not lines:
        return []
    ranked = sorted(scores, key=lambda k: -scores[k])      # stable: the first of equals, as before
    kept = distinct_parts(lines, ranked, parts)
    md = score.metadata
    title = (md.title or md.movementName or "") if md else ""
    composer = (md.composer or "") if md else ""
    title = title or os.path.splitext(os.path.basename(path))[0]
    melodies = []
    for part_index, k in enumerate(kept):
        meta = {"part": names[k], "qpm": bpm}
        if parts == "all":
            meta.update(part_meta(part_index, names[k] or f"part {k + 1}"))
        melodies.append(Melody(lines[k], title=str(title), composer=str(composer), source=path, index=index,
                               meta=meta))
    return melodies
