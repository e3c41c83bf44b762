"""Which parts of a multi-part file (MIDI tracks and channels, MusicXML staves) become melodies.

`load(path, parts="lead")` keeps the one part that looks most like the melody (each loader's own score);
`parts="all"` keeps every pitched part with enough notes, each reduced to its line by `lead.lead_line`,
so a borrowed riff, bass line or countermelody is searched too. A part that only doubles another (in unison
or at the octave) is dropped: searching it again would find nothing new and cost a try
(`melody.api.query_file` multiplies each part's E-values by the number of parts searched).
"""
from __future__ import annotations

import numpy as np

from ..errors import MelodyError

PARTS = ("lead", "all")
MIN_PART_NOTES = 8           # a part whose line changes pitch fewer times than this (a few hits, a held pad, a
                             # pedal bass) is not searched: 8 is the shortest copy bench_accuracy measures
                             # (exact8), and counted with repeated notes, a bass holding one note for bars
                             # matched the repeated-note runs of folk tunes by chance (scripts/bench_parts.py
                             # seed 0: negatives flagged 2 of 60, 0 of 60 counted without repeats)
MIN_PITCH_CLASSES = 3        # nor one that moves between fewer pitch classes (timpani, octave jumps, a two-note
                             # ostinato): in 100 Bach chorales a timpani part matched 16 notes of a folk tune
                             # exactly (E 0.0003), a line no melody search can weigh
DOUBLING_ONSET_S = 0.05      # notes of two parts starting within this many seconds sound together
DOUBLING_SHARE = 0.9         # two lines doubling each other (same pitch class at the same time) in this share of
                             # the longer line's notes are one line: a doubled bass, strings doubling the lead


def check_parts(parts: str) -> str:
    """`parts` if it is one of PARTS; MelodyError naming the choices otherwise."""
    if parts not in PARTS:
        raise MelodyError(f"parts must be one of {', '.join(PARTS)}, got {parts!r}")
    return parts


def doubles(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two monophonic lines (NOTE_DTYPE, sorted by onset) are one line doubled: at least
    DOUBLING_SHARE of the longer line's notes have a note of the other starting with them
    (DOUBLING_ONSET_S) on the same pitch class."""
    if not len(a) or not len(b):
        return False
    longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
    onsets, t = shorter["onset"], longer["onset"]
    after = np.searchsorted(onsets, t)
    lo, hi = np.clip(after - 1, 0, len(onsets) - 1), np.clip(after, 0, len(onsets) - 1)
    k = np.where(np.abs(onsets[lo] - t) <= np.abs(onsets[hi] - t), lo, hi)    # the nearest onset
    near = np.abs(onsets[k] - t) <= DOUBLING_ONSET_S
    same_class = np.rint(longer["pitch"] - shorter["pitch"][k]) % 12 == 0
    return bool(np.sum(near & same_class) >= DOUBLING_SHARE * len(longer))


def pitch_changes(line: np.ndarray) -> int:
    """The number of notes of a line that differ in pitch from the note before (the first counts): its
    length with repeated notes merged."""
    return int(len(line) and 1 + np.count_nonzero(np.rint(np.diff(line["pitch"]))))


def melodic(line: np.ndarray) -> bool:
    """Whether a line is searched as a part of its own: at least MIN_PART_NOTES notes with repeated notes
    merged (`pitch_changes`) on at least MIN_PITCH_CLASSES pitch classes."""
    return pitch_changes(line) >= MIN_PART_NOTES and \
        len(np.unique(np.rint(line["pitch"]) % 12)) >= MIN_PITCH_CLASSES


def distinct_parts(lines: dict, ranked: list, parts: str = "all") -> list:
    """The parts of a file to load, in file order: `ranked` lists the parts' keys likeliest melody first
    (the loader's own score; the first is the lead, always kept), `lines` maps each key to its line (with
    parts="lead", at least the lead's). parts="lead" keeps the lead alone; "all" keeps every other part too
    whose line is `melodic` and does not double a part kept before it (so a doubling keeps the likelier
    melody)."""
    kept = list(ranked[:1])
    if parts == "lead":
        return kept
    for k in ranked[1:]:
        if melodic(lines[k]) and not any(doubles(lines[k], lines[j]) for j in kept):
            kept.append(k)
    return sorted(kept)


def part_meta(index: int, name: str) -> dict:
    """The Melody.meta entries naming a part of a file loaded with parts="all" (`query_part` of a match)."""
    return {"part_index": index, "part_name": name}
