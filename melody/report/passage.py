"""The matched passages of a match, as note arrays placed on a common time and pitch axis."""
from __future__ import annotations

import numpy as np

from ..notes import Melody


def passage(melody: Melody, notes: list[int], transpose: float = 0.0, time_scale: float = 1.0) -> np.ndarray:
    """Notes ``notes[0]..notes[1]`` (inclusive) of a melody, starting at 0 s.

    Parameters
    ----------
    melody : Melody
        The query or reference melody.
    notes : list of int
        ``[first, last]`` note indices, as in a match's ``query_notes`` / ``reference_notes``.
    transpose : float
        Semitones added to every pitch (a match's ``transposition`` puts the reference in the query's key).
    time_scale : float
        Onsets and durations are multiplied by this (``1 / tempo_ratio`` puts the reference in query time).

    Returns
    -------
    numpy.ndarray
        A copy in ``NOTE_DTYPE``, onsets relative to the first note of the passage.

    Raises
    ------
    ValueError
        If the indices are outside the melody or the scale is not positive.
    """
    first, last = int(notes[0]), int(notes[1])
    if not 0 <= first <= last < len(melody.notes):
        raise ValueError(f"note range {[first, last]} is outside a melody of {len(melody.notes)} notes")
    if not time_scale > 0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")
    out = melody.notes[first:last + 1].copy()
    out["onset"] = (out["onset"] - out["onset"][0]) * time_scale
    out["duration"] = out["duration"] * time_scale
    out["pitch"] = out["pitch"] + transpose
    return out


def aligned_pairs(match: dict) -> list[dict]:
    """The aligned note pairs of a match (its ``evidence["aligned"]``).

    Raises
    ------
    ValueError
        If the match has no evidence (ask ``query_file(..., evidence=True)``).
    """
    evidence = match.get("evidence")
    if not evidence or "aligned" not in evidence:
        raise ValueError("the match has no evidence; use query_file(..., evidence=True)")
    return evidence["aligned"]


def reference_scale(match: dict) -> float:
    """Factor that maps reference seconds onto query seconds over the matched passage."""
    ratio = float(match.get("tempo_ratio") or 1.0)
    return 1.0 / ratio if ratio > 0 else 1.0
