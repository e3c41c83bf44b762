"""The note-sequence type every loader produces and everything downstream consumes.

A melody is a structured numpy array of notes (``NOTE_DTYPE``), sorted by onset and monophonic, plus
metadata. Times are in seconds; ``bar`` (1-based) and ``beat`` (0-based position in quarter notes inside
the bar) are known for scores and ``-1`` / NaN when not (audio, unquantised MIDI).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import NoMelody

NOTE_DTYPE = np.dtype([
    ("onset", "f8"),      # seconds
    ("duration", "f8"),   # seconds
    ("pitch", "f4"),      # MIDI pitch (fractional for audio)
    ("bar", "i4"),        # 1-based bar number, -1 when unknown
    ("beat", "f4"),       # quarter notes since the start of the bar, NaN when unknown
])

MIN_NOTES = 3


def make_notes(onset, duration, pitch, bar=None, beat=None) -> np.ndarray:
    """Build a NOTE_DTYPE array from columns, sorted by onset (validates lengths and values)."""
    onset = np.asarray(onset, dtype="f8")
    n = len(onset)
    out = np.zeros(n, dtype=NOTE_DTYPE)
    out["onset"] = onset
    out["duration"] = np.asarray(duration, dtype="f8")
    out["pitch"] = np.asarray(pitch, dtype="f4")
    out["bar"] = -1 if bar is None else np.asarray(bar, dtype="i4")
    out["beat"] = np.nan if beat is None else np.asarray(beat, dtype="f4")
    if n and not (np.all(np.isfinite(out["onset"])) and np.all(np.isfinite(out["duration"]))
                  and np.all(np.isfinite(out["pitch"]))):
        raise ValueError("notes contain non-finite onsets, durations or pitches")
    return out[np.argsort(out["onset"], kind="stable")]


@dataclass
class Melody:
    """One monophonic melody with where it came from."""

    notes: np.ndarray
    title: str = ""
    composer: str = ""
    source: str = ""          # path of the file it came from
    index: int = 0            # tune number inside the file (ABC files hold many)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.notes.dtype != NOTE_DTYPE:
            raise TypeError("Melody.notes must be a NOTE_DTYPE array")

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def duration(self) -> float:
        if not len(self.notes):
            return 0.0
        return float((self.notes["onset"] + self.notes["duration"]).max() - self.notes["onset"][0])

    def require(self, minimum: int = MIN_NOTES) -> "Melody":
        """Raise NoMelody unless the melody has at least `minimum` notes."""
        if len(self.notes) < minimum:
            raise NoMelody(f"{self.source or 'melody'}: only {len(self.notes)} notes, need at least {minimum}")
        return self


def tuning_offset(pitch: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The performer's tuning: the (weighted) circular mean of the pitches' fractional semitones, in
    semitones in [-0.5, 0.5). 0 for a score; -0.3 for a singer 30 cents flat. ``np.rint(pitch - offset)``
    then rounds every note of a recording to its intended semitone consistently."""
    pitch = np.asarray(pitch, dtype="f8")
    w = np.ones(len(pitch)) if weight is None else np.asarray(weight, dtype="f8")
    ok = np.isfinite(pitch) & (w > 0)
    if not ok.any():
        return 0.0
    angle = 2 * np.pi * pitch[ok]
    mean = np.arctan2((w[ok] * np.sin(angle)).sum(), (w[ok] * np.cos(angle)).sum()) / (2 * np.pi)
    return float(mean) if abs(mean) > 1e-9 else 0.0


LOW_DIP = 9          # semitones: a lone note more than this below both neighbours of a polyphonic part's top line


def drop_low_dips(notes: np.ndarray, semitones: float = LOW_DIP) -> np.ndarray:
    """Drop lone notes of a skyline that lie more than `semitones` below both kept neighbours.

    Where the melody of a polyphonic part (one piano track: melody on top, bass and chords below) rests or
    ends a note early, the skyline falls through to a bass or chord note and climbs back: ``61 37 61``.
    A real melody almost never dips this far and straight back (more than 9 semitones below both
    neighbours: 0.1% of the notes of 1,000 Essen / O'Neill / Ryan tunes; more than an octave: 3 in 89,000),
    so such a note is taken for the accompaniment. Only for parts that are polyphonic: a monophonic line is
    kept as it is.
    """
    if len(notes) < 3:
        return notes
    pitch = notes["pitch"].astype("f8")
    dip = np.minimum(pitch[:-2], pitch[2:]) - pitch[1:-1]
    keep = np.ones(len(notes), dtype=bool)
    keep[1:-1] = dip <= semitones
    return notes if keep.all() else notes[keep].copy()


def monophonic(notes: np.ndarray) -> np.ndarray:
    """Skyline reduction: at every onset keep the highest note, and cut notes that overlap the next one.

    Notes that start within 30 ms of each other count as one chord (the highest wins). A note that starts
    while a higher kept note still sounds for at least half of its length (and 50 ms) is hidden under it
    (accompaniment under a held melody note) and dropped; short legato overlaps keep both notes.
    """
    if len(notes) == 0:
        return notes
    notes = notes[np.lexsort((-notes["pitch"], notes["onset"]))]
    keep = []
    last_onset = -np.inf
    sounding = []   # (end, pitch) of kept notes
    for k in range(len(notes)):
        onset = notes["onset"][k]
        if onset - last_onset < 0.03:
            continue  # same chord; the highest note (first in this order) was kept
        sounding = [(e, p) for e, p in sounding if e > onset]
        if any(p > notes["pitch"][k] and e - onset >= max(0.5 * notes["duration"][k], 0.05) for e, p in sounding):
            continue  # under a held higher note
        keep.append(k)
        sounding.append((onset + notes["duration"][k], notes["pitch"][k]))
        last_onset = onset
    out = notes[np.array(keep, dtype=np.int64)].copy()
    if len(out) > 1:
        ends = out["onset"] + out["duration"]
        ends[:-1] = np.minimum(ends[:-1], out["onset"][1:])
        out["duration"] = np.maximum(ends - out["onset"], 1e-3)
    return out
