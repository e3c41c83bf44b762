"""Inputs shared by the SIMD kernels' tests (tests/test_fast.py, tests/test_sieve.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from melody.align import fast
from melody.notes import Melody, make_notes
from melody.represent import Features

INTERVALS = list(range(-7, 8)) + [-12, 12]


@st.composite
def melodies(draw, min_steps=0, max_steps=24, lengths=(0.25, 0.5, 1.0, 2.0, 4.0)):
    """Random steps with interval, length, weight (multiples of 1/16 bit) and metric class. The default
    lengths are powers of two: their log2 is exact in the layout's 1/16 octave."""
    n = draw(st.integers(min_steps, max_steps))
    iv = draw(st.lists(st.sampled_from(INTERVALS), min_size=n, max_size=n))
    ln = draw(st.lists(st.sampled_from(lengths), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(8, 128), min_size=n, max_size=n))
    met = draw(st.lists(st.sampled_from([-1.0, 0.0, 1.0, 2.0]), min_size=n, max_size=n))
    return Features(np.array(iv, "f4"), np.array(ln, "f4"), np.array(w, "f4") / 16, 1.0, np.array(met, "f4"))


def pack(refs: list[Features]):
    """The references' steps concatenated (interval, length, weight, metric) and their offsets."""
    offsets = np.zeros(len(refs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(f) for f in refs])
    cat = lambda get: (np.concatenate([get(f) for f in refs]) if refs else np.zeros(0)).astype("f4")  # noqa: E731
    return (cat(lambda f: f.interval), cat(lambda f: f.length), cat(lambda f: f.weight),
            cat(lambda f: f.metric_or_unknown()), offsets)


def layout_of(refs: list[Features]):
    return fast.build_layout(*pack(refs))


def memory_mapped(layout: dict, folder) -> dict:
    """The layout saved as one .npy per array and read back memory-mapped, as the packed cache serves it."""
    for name, arr in layout.items():
        np.save(folder / f"{name}.npy", arr)
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in layout}


def song(rng, n=60) -> Melody:
    pitch = 60 + np.cumsum(rng.choice([-4, -2, -1, 0, 1, 2, 3, 5], n))
    dur = rng.choice([0.25, 0.5, 0.5, 1.0], n)
    onset = np.concatenate([[0.0], np.cumsum(dur[:-1])])
    return Melody(make_notes(onset, dur, pitch), "song")
