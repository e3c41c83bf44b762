"""Beats for melodies without bars: where the notes keep a steady pulse, mark which ones start on a beat.

A score's notes carry their place in the bar (`melody.notes`), and the alignment rewards a borrowed phrase
that keeps it (`melody.represent.metric_classes`, METRIC_MATCH). A recording, or a score without a
meter, has none, so a copied phrase found in it misses that bonus on every step. Where the onsets of such
a melody sit on a steady grid (a perfect transcription, a rendered or quantised performance), the beat
can be read off the notes themselves:

* the pulse: the grid of half (or a third of) the median inter-onset interval has to hold nine onsets
  in ten, to GRID_TOLERANCE of its step; jittered or rubato timing fails this and is left unknown, as it
  was (a wrong grid is worse than none);
* the beat level: BEAT_UNITS median inter-onset intervals. Most melodies carry about two notes per beat
  (in the benchmark's folk-tune corpus the quarter note is twice the median inter-onset interval in
  two tunes of three, equal to it in one of five); a wrong level still marks every other beat right;
* the phase: long notes start on beats (the phase of the grid that puts the most log-length on beats).

The downbeat is not guessed: the notes alone rarely show it (on the benchmark, guessing it from long
notes changed nothing), so beats are marked 1.0 (metric class 1) and the notes between them 0.5 (class 0).
"""
from __future__ import annotations

import numpy as np

from .notes import Melody

MIN_NOTES = 8            # fewer notes say nothing reliable about a pulse
BEAT_UNITS = 2.0         # the beat, in median inter-onset intervals
TATUMS = (2, 3)          # the pulse grid: the median inter-onset interval divided by this
GRID_TOLERANCE = 0.1     # an onset is on the grid within this share of the grid step
GRID_SHARE = 0.9         # and this share of the onsets must be


def steady_grid(onset: np.ndarray) -> float | None:
    """The step (s) of a steady grid that the onsets sit on, or None when they keep no steady pulse.

    Every inter-onset interval is rounded to a whole number of steps of half (or a third of, for triplet
    rhythms) the median inter-onset interval; the grid's step and origin are then fitted by least squares
    to the onsets' grid numbers, so neither a late first note nor a few milliseconds of tempo error
    accumulate over a long melody. The onsets must then sit on that one grid.
    """
    fit = _fit_grid(onset)
    return None if fit is None else fit[0]


def _fit_grid(onset: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """(step, origin, grid number of every onset) of the steady grid, or None (see `steady_grid`)."""
    onset = np.asarray(onset, dtype="f8")
    if len(onset) < MIN_NOTES:
        return None
    ioi = np.diff(onset)
    ioi = ioi[ioi > 1e-3]
    if len(ioi) < MIN_NOTES - 1:
        return None
    unit = float(np.median(ioi))
    rel = onset - onset[0]
    gaps = np.diff(onset)
    for tatum in TATUMS:
        # grid numbers from the inter-onset intervals (each rounded on its own: no error accumulates),
        # then the step and origin that fit them best
        k = np.concatenate([[0.0], np.cumsum(np.round(gaps / (unit / tatum)))])
        if np.ptp(k) == 0:
            continue
        step, origin = np.polyfit(k, rel, 1)
        residual = np.abs((rel - origin) / step - k)
        if step > 0 and np.mean(residual <= GRID_TOLERANCE) >= GRID_SHARE:
            return float(step), float(onset[0] + origin), k.astype(np.int64)
    return None


def guess_beats(notes: np.ndarray) -> np.ndarray | None:
    """``beat`` values for notes without bars (1.0 on a beat, 0.5 between beats), or None when their onsets
    keep no steady pulse (see the module docstring)."""
    onset = notes["onset"].astype("f8")
    fit = _fit_grid(onset)
    if fit is None:
        return None
    step, origin, k = fit
    ioi = np.diff(onset)
    unit = float(np.median(ioi[ioi > 1e-3]))
    per_beat = max(int(round(BEAT_UNITS * unit / step)), 1)     # grid steps per beat
    on_grid = np.abs((onset - origin) / step - k) <= GRID_TOLERANCE
    length = np.append(ioi, notes["duration"][-1]) if len(onset) else np.zeros(0)
    weight = np.where(on_grid, np.log2(1.0 + np.maximum(length, 0.0) / unit), 0.0)
    score = [weight[np.mod(k - phase, per_beat) == 0].sum() for phase in range(per_beat)]
    phase = int(np.argmax(score))
    on_beat = on_grid & (np.mod(k - phase, per_beat) == 0)
    return np.where(on_beat, 1.0, 0.5).astype("f4")


def with_guessed_beats(notes: np.ndarray) -> np.ndarray:
    """The notes with guessed beats where none is known and the onsets keep a steady pulse; else as given."""
    if len(notes) == 0 or np.isfinite(notes["beat"]).any():
        return notes
    beat = guess_beats(notes)
    if beat is None:
        return notes
    out = notes.copy()
    out["beat"] = beat
    return out


def melody_with_guessed_beats(melody: Melody) -> Melody:
    """The melody with `with_guessed_beats` applied to its notes (itself when nothing changes)."""
    notes = with_guessed_beats(melody.notes)
    return melody if notes is melody.notes else Melody(notes, melody.title, melody.composer, melody.source,
                                                       melody.index, melody.meta)
