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
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


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
LOW_RUN_DIP = 11     # semitones: the same for a run of several notes (an octave or more below)
LOW_RUN = 6          # notes: the longest such run taken for accompaniment filling a melody rest


def _run_end(pitch: np.ndarray, i: int, last: float, semitones: float, longest: int) -> int:
    """The end of the shortest run of notes from i that all lie more than `semitones` below `last` and
    below the note after the run (at most `longest` notes, never the last note); i when there is none."""
    run_top = -np.inf
    for j in range(i, min(i + longest, len(pitch) - 1)):
        if pitch[j] >= last - semitones:
            break
        run_top = max(run_top, pitch[j])
        if pitch[j + 1] - semitones > run_top:
            return j + 1
    return i


def drop_low_dips(notes: np.ndarray, semitones: float = LOW_DIP, run_semitones: float = LOW_RUN_DIP,
                  longest: int = LOW_RUN) -> np.ndarray:
    """Drop a skyline's lone notes that lie more than `semitones` below the kept notes on both sides, and
    runs of up to `longest` notes that all lie more than `run_semitones` below them.

    Where the melody of a polyphonic part (one piano track: melody on top, bass and chords below) rests or
    ends a note early, the skyline falls through to a bass or chord note and climbs back: ``61 37 61``, or
    through a whole rest, ``56 44 44 44 44 44 63``. A real melody almost never leaves its line this far and
    comes straight back: of the notes of the 11,600 Essen / O'Neill / Ryan tunes, 0.09% are lone notes more
    than 9 semitones below both neighbours, 0.03% lie in runs of 2-6 notes an octave or more below both.
    So such notes are taken for the accompaniment. Only for parts that are polyphonic: a monophonic line is
    kept as it is. The first and last notes stay (a melody may begin or end with a leap).
    """
    n = len(notes)
    if n < 3:
        return notes
    pitch = notes["pitch"].astype("f8")
    keep = np.ones(n, dtype=bool)
    last = pitch[0]                                  # the last kept note
    i = 1
    while i < n - 1:
        j = _run_end(pitch, i, last, semitones, 1)
        if j == i:
            j = _run_end(pitch, i, last, run_semitones, longest)
        if j > i:
            keep[i:j] = False
            i = j
        else:
            last = pitch[i]
            i += 1
    return notes if keep.all() else notes[keep].copy()


CHORD_SIZE = 3       # notes struck together (within CHORD_WINDOW) that make a block chord
CHORD_WINDOW = 0.03  # seconds
CHORD_SPREAD = 5     # semitones: a top note further above the chord's next note is a voice of its own
CHORDAL_TEXTURE = 0.5   # share of a skyline's notes that top block chords above which the chords carry the tune


def onset_groups(onset: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indices of the groups of sorted onsets that lie within `window` of the one before."""
    starts = np.flatnonzero(np.concatenate([[True], np.diff(onset) >= window]))
    return starts, np.append(starts[1:], len(onset))


def top_voices(notes: np.ndarray, starts: np.ndarray, ends: np.ndarray, window: float = CHORD_WINDOW) -> np.ndarray:
    """For each group of notes struck together (`notes` sorted by onset, groups from `onset_groups`),
    whether its highest note is a voice of its own rather than the top of a block chord: it lies more than
    CHORD_SPREAD semitones above the group's next pitch, or no other note of the group is released with it
    (within `window`, as notes within `window` are struck together).

    A block chord is struck and released together; a melody note struck with the accompaniment's chord
    has its own length (a held note over detached chords, a short note over a held chord), as notation
    writes it in a voice of its own. A group of one pitch has no chord under its top: False.
    """
    pitch = np.rint(notes["pitch"]).astype(np.int64)
    release = notes["onset"] + notes["duration"]
    out = np.zeros(len(starts), dtype=bool)
    for g, (a, b) in enumerate(zip(starts, ends)):
        here = pitch[a:b]
        top = here.max()
        under = here < top
        if not under.any():
            continue
        if top - here[under].max() > CHORD_SPREAD:
            out[g] = True
            continue
        top_release = release[a:b][~under]
        out[g] = not np.any(np.abs(release[a:b][under][:, None] - top_release[None, :]) <= window)
    return out


def chord_top_share(skyline: np.ndarray, part: np.ndarray, window: float = CHORD_WINDOW) -> float:
    """The share of a skyline's notes that are the top of a block chord of `part` (CHORD_SIZE or more pitches
    struck together) that does not repeat the block chord before it (all its pitches held by that one):
    0.75-0.98 in 60 Bach chorales (a homophonic texture: the tune is the chords' top, and the chords move
    with it), a median of 0.3 in melody-and-accompaniment piano parts (most melody notes are struck alone or
    over a bass note). An accompaniment that strikes its chord on every beat under a slower melody tops the
    skyline wherever the melody rests or holds; its repeated chords are no sign that the chords carry the tune
    (counted, 17 of the 22 such parts among the 366 piano arrangements of the bench's two seeds read as
    hymns)."""
    if not len(skyline):
        return 0.0
    part = part[np.argsort(part["onset"], kind="stable")]
    starts, ends = onset_groups(part["onset"], window)
    pitch = np.rint(part["pitch"]).astype(np.int64)
    fresh = np.zeros(len(starts), dtype=bool)
    before = None                                    # the pitches of the last block chord
    for g, (a, b) in enumerate(zip(starts, ends)):
        chord = set(pitch[a:b].tolist())
        if len(chord) >= CHORD_SIZE:
            fresh[g] = before is None or not chord <= before
            before = chord
    group = np.searchsorted(part["onset"][starts], skyline["onset"] + window, side="right") - 1
    return float(np.mean(fresh[np.clip(group, 0, None)]))


def drop_repeated_chords(notes: np.ndarray, window: float = CHORD_WINDOW) -> np.ndarray:
    """Drop block chords that the accompaniment strikes again: close chords all of whose notes the nearest
    block chord before holds, with nothing struck in between inside or above the chord's compass; and such
    chords whose next block chord holds them, with only lower notes (a bass) struck in between.

    A piano part with melody and accompaniment in one track keeps time with chords struck on the beats: an
    oom-pah (bass, chord, bass, chord: ``37 | 61 56 53 | 37 | 61 56 53``) or chords on every beat under a
    held or resting melody. Where the melody rests, their top would otherwise enter the skyline (``68 | 61
    61 | 58``). Both chords of an oom-pah go; of a chord struck again right away only the second strike (the
    first may carry a melody note doubled in the chord, as a song's piano part doubles the voice). The melody
    survives: a chord that carries a melody note on top differs from its neighbour in that note; a melody
    note repeated over the same chord lies more than CHORD_SPREAD semitones above the chord's next note (a
    voice of its own: the chord is kept) or, doubled in it, loses only its repetition; a melody moving between
    two chords strikes notes inside or above them. Not for a homophonic texture (a hymn: every melody note
    is a chord's top, and two identical chords in a row are a repeated melody note): see `chord_top_share`.
    Notes are a polyphonic NOTE_DTYPE array; the result keeps their order.
    """
    n = len(notes)
    if n < 2 * CHORD_SIZE:
        return notes
    order = np.argsort(notes["onset"], kind="stable")
    starts, ends = onset_groups(notes["onset"][order], window)
    blocks = [k for k in range(len(starts)) if ends[k] - starts[k] >= CHORD_SIZE]
    if len(blocks) < 2:
        return notes
    pitch = np.rint(notes["pitch"][order]).astype(np.int64)
    chords = [frozenset(pitch[starts[k]:ends[k]].tolist()) for k in blocks]
    own_top = top_voices(notes[order], starts[blocks], ends[blocks], window)
    keep = np.ones(n, dtype=bool)
    for j, k in enumerate(blocks):
        chord = sorted(chords[j])
        if len(chord) < CHORD_SIZE or own_top[j]:
            continue    # doubled notes, not a chord; or a voice of its own on top: a melody note over its harmony
        lowest = chord[0]
        for other in (j - 1, j + 1):
            if not 0 <= other < len(blocks) or not chords[j] <= chords[other]:
                continue
            first, last = min(k, blocks[other]), max(k, blocks[other])
            between = pitch[ends[first]:starts[last]]
            if other > j and not len(between):
                continue    # struck again right away: the first strike may be a doubled melody note
            if not np.any(between > lowest):
                keep[order[starts[k]:ends[k]]] = False
                break
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
