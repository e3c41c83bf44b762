"""All catalog melodies packed into flat arrays for the search kernels, computed vectorised."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


from ..notes import Melody
from ..represent import Features, features, metric_classes


FEATURES_VERSION = 3   # bump when features or weights change: cached step arrays are then rebuilt
_CACHED = ("interval", "length", "weight", "metric", "step_offsets", "tempo_unit")


@dataclass
class Packed:
    entries: list           # store.Entry per row
    notes: np.ndarray       # NOTE_DTYPE, all melodies concatenated
    offsets: np.ndarray     # notes of row r: offsets[r]:offsets[r+1]
    interval: np.ndarray    # float32 steps, all melodies concatenated
    length: np.ndarray
    weight: np.ndarray
    metric: np.ndarray      # float32 metric class of each step's arrival note (represent.metric_classes)
    step_offsets: np.ndarray
    tempo_unit: np.ndarray  # seconds per length unit, per row
    derived: dict = field(default_factory=dict, repr=False, compare=False)   # per-catalog caches of search stages

    def query_features(self, query: Melody) -> Features:
        return features(query)


def pack(entries, notes: np.ndarray, offsets: np.ndarray) -> Packed:
    """Steps of every melody, identical to represent.features() melody by melody."""
    n_rows = len(offsets) - 1
    counts = np.diff(offsets)
    pitch = notes["pitch"].astype("f8")
    onset = notes["onset"]
    last = np.zeros(len(notes), dtype=bool)
    last[offsets[1:][counts > 0] - 1] = True
    ioi = np.empty(len(notes))
    ioi[:-1] = np.diff(onset)
    ioi[last] = notes["duration"][last]
    ioi = np.maximum(ioi, 1e-3)
    step = ~last
    d_pitch = np.zeros(len(notes))
    d_pitch[:-1] = np.diff(pitch)
    interval = d_pitch[step].astype("f4")
    ioi_steps = ioi[step]
    step_counts = np.maximum(counts - 1, 0)
    step_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    step_offsets[1:] = np.cumsum(step_counts)
    group = np.repeat(np.arange(n_rows), step_counts)
    # per-melody median of the step IOIs: sort within groups, average the two middle values
    order = np.lexsort((ioi_steps, group))
    sorted_ioi = ioi_steps[order]
    has = step_counts > 0
    lo = step_offsets[:-1] + (step_counts - 1) // 2
    hi = step_offsets[:-1] + step_counts // 2
    unit = np.ones(n_rows)
    unit[has] = 0.5 * (sorted_ioi[lo[has]] + sorted_ioi[hi[has]])
    length = (ioi_steps / unit[group]).astype("f4")
    weight = step_weights_packed(interval, step_offsets)
    first = np.zeros(len(notes), dtype=bool)
    first[offsets[:-1][counts > 0]] = True
    metric = metric_classes(notes)[~first]          # a step's class is its arrival note's
    return Packed(entries, notes, offsets, interval, length, weight, metric, step_offsets, unit)


def repeats(notes: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """True for every note that repeats the pitch of the note before it in the same melody."""
    pitch = np.rint(notes["pitch"].astype("f8"))
    rep = np.zeros(len(notes), dtype=bool)
    rep[1:] = pitch[1:] == pitch[:-1]
    if offsets is not None and len(offsets) > 1:
        starts = offsets[:-1][np.diff(offsets) > 0]
        rep[starts] = False
    return rep


def merge_repeats(notes: np.ndarray, offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The notes with every repeated note merged into the one before it (which then lasts until the next
    pitch change), and the new offsets. A transcription cannot hear a repeated note that is not
    re-articulated, so a recording is compared with its references in this form."""
    rep = repeats(notes, offsets)
    keep = ~rep
    out = notes[keep].copy()
    ends = notes["onset"] + notes["duration"]
    group_end = np.maximum.reduceat(ends, np.nonzero(keep)[0]) if len(out) else ends[:0]
    out["duration"] = group_end - out["onset"]
    if offsets is None:
        return out, None
    row = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    new_offsets[1:] = np.cumsum(np.bincount(row[keep], minlength=len(offsets) - 1))
    return out, new_offsets


def step_weights_packed(interval: np.ndarray, step_offsets: np.ndarray) -> np.ndarray:
    """commonness.step_weights for every melody of a packed array, without a Python loop per melody."""
    from ..commonness import P_TRIGRAM, START, _symbols, _to_weight
    s = _symbols(interval)
    prev1 = np.empty_like(s)
    prev2 = np.empty_like(s)
    prev1[1:], prev2[2:] = s[:-1], s[:-2]
    prev1[:1], prev2[:2] = START, START
    pos = np.arange(len(s)) - np.repeat(step_offsets[:-1], np.diff(step_offsets))   # index inside its melody
    prev1[pos < 1] = START
    prev2[pos < 2] = START
    return _to_weight(-np.log2(P_TRIGRAM[prev2, prev1, s]))


def save_packed(path: str, packed: Packed) -> None:
    """Write the step arrays next to the catalog (atomically; a read-only catalog just goes uncached)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: getattr(packed, k) for k in _CACHED})
        os.replace(tmp, path)
        for name in os.listdir(os.path.dirname(path)):   # older generations
            if name != os.path.basename(path) and name.startswith("steps-"):
                os.remove(os.path.join(os.path.dirname(path), name))
    except OSError:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_packed(path: str, entries, notes: np.ndarray, offsets: np.ndarray) -> Packed | None:
    """The cached step arrays for this catalog generation, or None when missing or not matching."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in _CACHED}
    except (OSError, ValueError, KeyError):
        return None
    if len(arrays["step_offsets"]) != len(offsets) or arrays["step_offsets"][-1] != len(arrays["interval"]):
        return None
    return Packed(entries, notes, offsets, **arrays)
