"""Beats for melodies without bars: where the notes keep a steady pulse, mark which ones start on a beat.

A score's notes carry their place in the bar (`melody.notes`), and the alignment rewards a borrowed phrase
that keeps it (`melody.represent.metric_classes`, METRIC_MATCH). A recording, or a score without a
meter, has none, so a copied phrase found in it misses that bonus on every step. Where the onsets of such
a melody sit on a steady grid (a perfect transcription, a rendered or quantised performance), the beat
can be read off the notes themselves:

* the pulse: the grid of half (or a third of) the median inter-onset interval has to hold nine onsets
  in ten, to GRID_TOLERANCE of its step; jittered or rubato timing fails this and is left unknown, as it
  was (a wrong grid is worse than none);
* the metric hierarchy (`hierarchy`): from the grid step up, each level groups the one below in twos or
  threes, at the phase whose points carry the most accent (`salience`: a note's log length, more after a
  rest) and the most onsets; it ends when a level would span more than a third of the melody;
* the beat (a score's quarter note, what `metric_classes` calls a beat): one of those levels, or in
  compound time two thirds of the dotted level in phase with the bar (the notated quarter of 6/8). The
  levels are a factor 2 or 3 apart and the notes cannot tell which one is written as the quarter, so the
  length decides, under two log-normal priors one octave wide: around BEAT_SECONDS (120 a minute, the
  tempo `melody.audio.rhythm.tempo` assumes) and around BEAT_UNITS median inter-onset intervals (most
  melodies carry about two notes per beat);
* the downbeat: the most strongly grouped level of 2, 3 or 4 beats above the beat, marked only where its
  grouping stands out (DOWNBEAT_STRENGTH): a wrong downbeat costs the metric bonus of the beats it moves.

Beats are marked 1.0 (metric class 1), downbeats 0.0 (class 2), the notes between 0.5 (class 0). Against
the written beats, with the bars removed and each melody at a random tempo (a quarter of 0.3-1.0 s), the
beats are right (more than 80% of the notes marked alike) in 123 of 149 MTC-ANN melodies (two median
inter-onset intervals with the long notes' phase: 108) and 488 of 803 music21-corpus tunes (361);
BENCHMARKS.md, tenth session (beats).
"""
from __future__ import annotations

import numpy as np

from .notes import Melody

MIN_NOTES = 8            # fewer notes say nothing reliable about a pulse
BEAT_UNITS = 2.0         # the beat's likeliest length, in median inter-onset intervals
BEAT_SECONDS = 0.5       # and in seconds (120 quarter notes a minute)
GROUPINGS = (2, 3)       # each metric level groups the one below in twos or threes
REST_ACCENT = 1.0        # a note after a rest is accented by this much (a note twice the median length: 1.58)
BAR_BEATS = (2, 3, 4)    # beats in a bar
DOWNBEAT_STRENGTH = 1.3  # the bar's level is marked when its grouping is this strong (1: says nothing)
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
    """``beat`` values for notes without bars (0.0 on a guessed downbeat, 1.0 on another beat, 0.5 between
    beats), or None when their onsets keep no steady pulse (see the module docstring)."""
    onset = notes["onset"].astype("f8")
    fit = _fit_grid(onset)
    if fit is None:
        return None
    step, origin, k = fit
    on_grid = np.abs((onset - origin) / step - k) <= GRID_TOLERANCE
    return beats_on_grid(notes, k, on_grid, step)


def beats_on_grid(notes: np.ndarray, k: np.ndarray, on_grid: np.ndarray, step: float) -> np.ndarray:
    """``beat`` values (as `guess_beats`) for notes whose onsets sit at grid numbers `k` of a grid of `step`
    seconds (`on_grid`: the onsets the grid explains; the others are off the beat): the metric hierarchy
    built on the grid (`hierarchy`), the quarter-note beat chosen among its levels (`_quarter`), and the
    bar's downbeats where the level above the beat stands out (DOWNBEAT_STRENGTH)."""
    onset = notes["onset"].astype("f8")
    k = np.asarray(k, dtype=np.int64)
    k0 = k - int(k[on_grid].min() if on_grid.any() else k.min())
    ioi = np.diff(onset)
    unit = float(np.median(ioi[ioi > 1e-3])) if np.any(ioi > 1e-3) else step
    w = salience(notes, unit, on_grid)
    span = int(k0[on_grid].max()) + 1 if on_grid.any() else 1
    levels = hierarchy(k0[on_grid], w[on_grid], span)
    period, phase, bar = _quarter(levels, step, unit)
    on_beat = on_grid & (np.mod(k0 - phase, period) == 0)
    out = np.where(on_beat, 1.0, 0.5)
    if bar is not None:
        bar_period, bar_phase = bar
        out = np.where(on_grid & (np.mod(k0 - bar_phase, bar_period) == 0), 0.0, out)
    return out.astype("f4")


def salience(notes: np.ndarray, unit: float, on_grid: np.ndarray) -> np.ndarray:
    """How strongly each note marks its onset as metrically strong: its log length (the time to the next
    onset, in median inter-onset intervals) plus REST_ACCENT after a rest of half that interval or more;
    0 for notes off the grid."""
    onset = notes["onset"].astype("f8")
    dur = notes["duration"].astype("f8")
    length = np.append(np.diff(onset), dur[-1]) if len(onset) else np.zeros(0)
    w = np.log2(1.0 + np.maximum(length, 0.0) / unit)
    gap = np.concatenate([[0.0], onset[1:] - (onset[:-1] + dur[:-1])]) if len(onset) else np.zeros(0)
    w = w + REST_ACCENT * (gap >= 0.5 * unit)
    return np.where(on_grid, w, 0.0)


def hierarchy(k: np.ndarray, w: np.ndarray, span: int) -> list[tuple[int, int, float]]:
    """The metric levels of onsets at grid numbers `k` (0 .. span-1) with saliences `w`: [(period, phase,
    strength)] from the grid step (1, 0, 1.0) up. Each level groups the one below in twos or threes, at the
    phase whose positions carry the most salience per position, times the share of them that carry an onset
    (strength: that product relative to the level below, 1 when the grouping says nothing); it stops when a
    level would have fewer than three periods in the span."""
    levels = [(1, 0, 1.0)]
    period, phase = 1, 0
    while True:
        here = np.mod(k - phase, period) == 0
        total = float(w[here].sum())
        if total <= 0:
            break
        best = None
        for group in GROUPINGS:
            if span < 3 * group * period:
                continue
            for j in range(group):
                ph = (phase + j * period) % (group * period)
                on = np.mod(k - ph, group * period) == 0
                positions = np.arange(ph, span, group * period)
                covered = float(np.isin(positions, k[on]).mean()) if len(positions) else 0.0
                strength = float(w[on].sum()) / total * group * covered
                if best is None or strength > best[0]:
                    best = (strength, group, ph)
        if best is None:
            break
        strength, group, phase = best
        period *= group
        levels.append((period, phase, strength))
    return levels


def _quarter(levels, step: float, unit: float):
    """(period, phase) of the quarter-note beat in grid steps, and (period, phase) of the bar or None.

    Candidates are the levels and, where a level is grouped in threes (compound time: eighths in dotted
    quarters), two of its periods in phase with the level above (the notated quarter of 6/8). The one
    chosen has the most likely length under two log-normal priors, each one octave wide: around
    BEAT_SECONDS (a tempo of 120 quarters a minute, as `melody.audio.rhythm.tempo` assumes) and around
    BEAT_UNITS median inter-onset intervals (most melodies carry about two notes per beat).
    """
    cands = []
    for i, (period, phase, _) in enumerate(levels):
        cands.append((period, phase, i))
        if i + 1 < len(levels) and levels[i + 1][0] == 3 * period:
            top = levels[i + 2] if i + 2 < len(levels) and levels[i + 2][0] % (2 * period) == 0 else levels[i + 1]
            cands.append((2 * period, top[1] % (2 * period), i + 1))

    def log_prior(period):
        seconds = period * step
        return -0.5 * (np.log2(seconds / BEAT_SECONDS) ** 2 + np.log2(seconds / (BEAT_UNITS * unit)) ** 2)

    period, phase, _ = max(cands, key=lambda c: log_prior(c[0]))
    return period, phase, _bar(levels, period, phase)


def _bar(levels, period: int, phase: int):
    """(period, phase) in grid steps of the bar above a beat of `period` steps at `phase`, or None."""
    # the bar: the most strongly grouped level of 2, 3 or 4 beats above the beat, if it stands out
    bars = [(strength, bar_period, bar_phase) for bar_period, bar_phase, strength in levels
            if bar_period > period and bar_period % period == 0 and bar_period // period in BAR_BEATS
            and (bar_phase - phase) % period == 0]
    strength, bar_period, bar_phase = max(bars, default=(0.0, 0, 0))
    return (bar_period, bar_phase) if strength >= DOWNBEAT_STRENGTH else None


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
