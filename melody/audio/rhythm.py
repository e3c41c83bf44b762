"""Beats for transcribed notes: snap onsets to the performance's own beat grid and mark on/off-beat notes.

A score gives every note a metric position and exact durations; a transcription has neither, and its
onsets wobble by 10-40 ms. Where the music has a steady beat (most songs and mixes), librosa's beat tracker
on the spectral flux gives beat times; each note onset is moved to the nearest quarter of its local beat,
so inter-onset ratios come out as clean as in a score, and notes on a beat are marked as such
(``beat`` = 1.0, 2.0, ... with ``bar`` unknown: the downbeat is not guessed). Where the onsets do not fit a
grid (free rhythm, rubato singing, a tracker that lost the beat) the notes are left as they were.
"""
from __future__ import annotations

import numpy as np

SUBDIVISIONS = (4, 3)      # snap to quarter-beats, or to thirds (compound meters, triplets) if they fit better
MAX_RESIDUAL_S = 0.035     # the onsets fit the grid when three quarters of them are this close to it
MAX_MOVE_S = 0.06          # and no onset moves further than this
MIN_BEATS = 8


def beat_times(onset_env: np.ndarray, hop_s: float) -> np.ndarray:
    """Beat times (s) from a spectral-flux envelope; empty when no steady beat is found."""
    import librosa

    if onset_env is None or len(onset_env) < 4 / hop_s or not np.any(onset_env > 0):
        return np.zeros(0)
    sr = 1.0 / hop_s
    _, beats = librosa.beat.beat_track(onset_envelope=onset_env.astype("f8"), sr=sr, hop_length=1,
                                       units="time", trim=True)
    beats = np.asarray(beats, dtype="f8")
    return beats if len(beats) >= MIN_BEATS else np.zeros(0)


def beat_positions(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time, linear between beats and extrapolated beyond the ends."""
    idx = np.arange(len(beats), dtype="f8")
    pos = np.interp(times, beats, idx)
    first = (beats[1] - beats[0])
    last = (beats[-1] - beats[-2])
    pos = np.where(times < beats[0], (times - beats[0]) / first, pos)
    return np.where(times > beats[-1], idx[-1] + (times - beats[-1]) / last, pos)


def snap_to_beats(notes: np.ndarray, onset_env: np.ndarray | None, hop_s: float) -> tuple[np.ndarray, dict]:
    """Notes with onsets on the beat grid and on-beat marks, or unchanged; plus what was found."""
    info = {"beats": 0, "tempo_bpm": None, "snapped": False}
    if len(notes) < 3:
        return notes, info
    beats = beat_times(onset_env, hop_s)
    if len(beats) == 0:
        return notes, info
    info["beats"] = int(len(beats))
    info["tempo_bpm"] = round(float(60.0 / np.median(np.diff(beats))), 1)
    pos = beat_positions(notes["onset"], beats)
    period = float(np.median(np.diff(beats)))
    fits = []
    for sub in SUBDIVISIONS:
        # a transcription's onsets can trail the beat by a constant lag (a slow attack becomes the
        # predominant pitch late): remove the median lag, at most MAX_MOVE_S, before judging the fit
        raw = pos - np.round(pos * sub) / sub
        lag = float(np.clip(np.median(raw), -MAX_MOVE_S / period, MAX_MOVE_S / period))
        grid = np.round((pos - lag) * sub) / sub
        fits.append((float(np.percentile(np.abs(pos - lag - grid), 75)) * period, sub, grid))
    fit, sub, grid = min(fits, key=lambda f: f[0])
    if fit > MAX_RESIDUAL_S:
        return notes, info
    far = np.abs(pos - grid) * period > MAX_MOVE_S     # an onset the grid does not explain stays put
    info["subdivision"] = sub
    out = notes.copy()
    ends = notes["onset"] + notes["duration"]
    idx = np.arange(len(beats), dtype="f8")
    step0, step1 = beats[1] - beats[0], beats[-1] - beats[-2]
    snapped = np.interp(grid, idx, beats)
    snapped = np.where(grid < 0, beats[0] + grid * step0, snapped)
    snapped = np.where(grid > idx[-1], beats[-1] + (grid - idx[-1]) * step1, snapped)
    snapped = np.where(far, notes["onset"], snapped)
    keep = np.concatenate([[True], np.diff(snapped) > 1e-6])   # two onsets on one grid point: keep the first
    out["onset"] = np.maximum(snapped, 0.0)
    out = out[keep]
    ends = ends[keep]
    nxt = np.concatenate([out["onset"][1:], [np.inf]])
    out["duration"] = np.maximum(np.minimum(ends, nxt) - out["onset"], 1e-3)
    on_beat = (np.abs(grid - np.round(grid)) < 1e-6)[keep] & ~far[keep]
    out["beat"] = np.where(on_beat, 1.0, 0.5).astype("f4")   # metric class 1 on a beat, 0 between
    out["bar"] = -1
    info["snapped"] = True
    return out, info
