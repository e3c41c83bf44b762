"""Notes -> transposition- and tempo-invariant features, keeping the map back to notes.

Element ``e`` of a melody's features describes the step from note ``e`` to note ``e + 1``:
``interval[e]`` is the pitch change in semitones (transposition-invariant) and ``length[e]`` is the
inter-onset interval of note ``e`` divided by the melody's median inter-onset interval (tempo-invariant,
roughly "in beats"). The kernels compare lengths as ratios, so the exact normaliser cancels where two
melodies have the same rhythm at any tempo. ``metric[e]`` is where note ``e + 1`` sits in its bar
(2 downbeat, 1 on a beat, 0 off the beat, -1 unknown: audio or a score without bars).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .commonness import step_weights
from .notes import Melody


@dataclass(frozen=True)
class Features:
    interval: np.ndarray   # float32, len = n_notes - 1
    length: np.ndarray     # float32, len = n_notes - 1, normalised inter-onset intervals
    weight: np.ndarray     # float32, len = n_notes - 1, information weight of each step (1 = average)
    tempo_unit: float      # seconds per length unit (the median inter-onset interval)
    metric: np.ndarray | None = None   # float32 metric class of each step's arrival note; None: unknown

    def __len__(self) -> int:
        return len(self.interval)

    def metric_or_unknown(self) -> np.ndarray:
        return self.metric if self.metric is not None else np.full(len(self.interval), -1.0, dtype="f4")


def metric_classes(notes: np.ndarray) -> np.ndarray:
    """Metric class of every note from its beat (quarter notes into the bar): 2 on the downbeat, 1 on
    another quarter-note beat, 0 in between, -1 when the position is unknown."""
    beat = notes["beat"].astype("f8")
    known = np.isfinite(beat)
    out = np.full(len(beat), -1.0, dtype="f4")
    out[known] = 0.0
    out[known & (np.abs(beat - np.round(beat)) < 1e-3)] = 1.0
    out[known & (np.abs(beat) < 1e-3)] = 2.0
    return out


def inter_onsets(notes: np.ndarray) -> np.ndarray:
    """Inter-onset intervals in seconds; the last note uses its own duration."""
    onset = notes["onset"]
    ioi = np.empty(len(onset), dtype="f8")
    ioi[:-1] = np.diff(onset)
    if len(onset):
        ioi[-1] = notes["duration"][-1]
    return np.maximum(ioi, 1e-3)


def features(melody: Melody | np.ndarray, weight: np.ndarray | None = None) -> Features:
    """Intervals and normalised lengths of a melody (see module docstring)."""
    notes = melody.notes if isinstance(melody, Melody) else melody
    pitch = notes["pitch"].astype("f8")
    ioi = inter_onsets(notes)
    unit = float(np.median(ioi[:-1])) if len(ioi) > 1 else 1.0
    interval = np.diff(pitch).astype("f4")
    length = (ioi[:-1] / unit).astype("f4")
    if weight is None:
        weight = step_weights(interval)
    return Features(interval, length, np.asarray(weight, dtype="f4"), unit, metric_classes(notes)[1:])
