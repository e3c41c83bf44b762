"""Notes -> transposition- and tempo-invariant features, keeping the map back to notes.

Element ``e`` of a melody's features describes the step from note ``e`` to note ``e + 1``:
``interval[e]`` is the pitch change in semitones (transposition-invariant) and ``length[e]`` is the
inter-onset interval of note ``e`` divided by the melody's median inter-onset interval (tempo-invariant,
roughly "in beats"). The kernels compare lengths as ratios, so the exact normaliser cancels where two
melodies have the same rhythm at any tempo.
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

    def __len__(self) -> int:
        return len(self.interval)


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
    return Features(interval, length, np.asarray(weight, dtype="f4"), unit)
