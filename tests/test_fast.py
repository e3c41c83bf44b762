"""melody.align.fast (the first-pass kernel across references in SIMD lanes) against a plain-Python reference.

The reference below is written from the module's documented semantics, not by calling its kernels:
quantise each step (interval to a semitone, log2 length to 1/16 octave, weight to 1/16 bit; a summed step
has the summed interval and length and the table weight of its interval, at most the two steps' weights);
score a query step against a reference step in 1/8 point as the sum of
- pitch: equal intervals earn the two half weights (MATCH x weight / 2 each, rounded down in 1/8 point),
  one semitone apart NEAR, twelve OCTAVE, else MISMATCH;
- rhythm: RHY_MATCH when the log2 lengths, or the log2 lengths relative to the step before (when both have
  one), differ by less than the kernel's threshold, else minus the interpolated penalty (the kernel's chord
  constants);
- METRIC_MATCH for equal intervals whose arrival notes have the same known metric class;
then local alignment with moves (1,1), gaps, (1,2)/(2,1) (FRAG) and (2,2) (WRONG), floor 0, capped at
SATURATE; the result is the best cell in points.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melody import align
from melody.align import fast
from melody.commonness import WEIGHT_TABLE
from melody.errors import MelodyError
from melody.notes import Melody, make_notes
from melody.represent import Features, features

from _kernels import layout_of, melodies, memory_mapped, pack, song

P = align.DEFAULT_PARAMS
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------------
# plain-Python reference


def ref_steps(f: Features) -> list[dict]:
    """Quantised steps of a melody, each with its summed step (None for the first)."""
    n = len(f)
    out = []
    for k in range(n):
        lg = round(math.log2(float(f.length[k])) * 16)
        step = {"iv": round(float(f.interval[k])), "len": lg, "w": round(float(f.weight[k]) * 16),
                "met": int(f.metric[k]) if f.metric is not None and f.metric[k] >= 0 else None,
                "rel": None if k == 0 else round((math.log2(float(f.length[k])) - math.log2(float(f.length[k - 1])))
                                                 * 16),
                "sum": None}
        if k >= 1:
            s = float(f.interval[k - 1]) + float(f.interval[k])
            l2 = math.log2(float(f.length[k - 1]) + float(f.length[k]))
            w2 = min(float(WEIGHT_TABLE[min(max(round(s), -13), 13) + 13]), float(f.weight[k - 1]) + float(f.weight[k]))
            step["sum"] = {"iv": round(s), "len": round(l2 * 16), "w": round(w2 * 16), "met": None,
                           "rel": None if k < 2 else round((l2 - math.log2(float(f.length[k - 2]))) * 16)}
        out.append(step)
    return out


def ref_pair(q, r, c, metric=False) -> int:
    """Score (1/8 point) of quantised step q against quantised step r."""
    half = lambda w: (w * int(c[fast.C_HALF_W])) >> 8       # noqa: E731
    d = abs(q["iv"] - r["iv"])
    if d == 0:
        s = half(q["w"]) + half(r["w"])
    elif d == 1:
        s = int(c[fast.C_NEAR])
    elif d == 12:
        s = int(c[fast.C_OCTAVE])
    else:
        s = int(c[fast.C_MISMATCH])
    dl = abs(q["len"] - r["len"])
    if q["rel"] is not None and r["rel"] is not None:
        dl = min(dl, abs(q["rel"] - r["rel"]))
    if dl < int(c[fast.C_FREE]):
        s += int(c[fast.C_RHY_MATCH])
    else:
        x = 4 * dl
        chords = [int(c[b]) + ((x * int(c[a])) >> 16) for a, b in
                  ((fast.C_A1, fast.C_B1), (fast.C_A2, fast.C_B2), (fast.C_A3, fast.C_B3))]
        s -= min(min(chords), int(c[fast.C_CAP]))
    if metric and d == 0 and q["met"] is not None and q["met"] == r["met"]:
        s += int(c[fast.C_METRIC])
    return s


def ref_score(query: Features, reference: Features, params=P) -> float:
    c = fast.kernel_constants(params)
    Q, R = ref_steps(query), ref_steps(reference)
    m, n = len(Q), len(R)
    H = [[0] * (n + 1) for _ in range(m + 1)]
    best = 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            q, r = Q[i - 1], R[j - 1]
            h = max(0, H[i - 1][j - 1] + ref_pair(q, r, c, metric=True),
                    H[i - 1][j] + int(c[fast.C_GAP]), H[i][j - 1] + int(c[fast.C_GAP]))
            if j >= 2:
                h = max(h, H[i - 1][j - 2] + int(c[fast.C_FRAG]) + ref_pair(q, r["sum"], c))
            if i >= 2:
                h = max(h, H[i - 2][j - 1] + int(c[fast.C_FRAG]) + ref_pair(q["sum"], r, c))
            if i >= 2 and j >= 2:
                h = max(h, H[i - 2][j - 2] + int(c[fast.C_WRONG]) + ref_pair(q["sum"], r["sum"], c))
            H[i][j] = min(h, fast.SATURATE)
            best = max(best, H[i][j])
    return best / fast.SCORE_UNIT


# ----------------------------------------------------------------------------------------------------
# helpers




# ----------------------------------------------------------------------------------------------------
# the kernel against the reference


@FAST
@given(query=melodies(1, 16), refs=st.lists(melodies(0, 20), min_size=1, max_size=40), workers=st.sampled_from([1, 2]))
def test_kernel_matches_python_reference(query, refs, workers):
    got = fast.prefilter_scores(query, layout_of(refs), workers=workers)
    want = [ref_score(query, r) for r in refs]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float32))


@FAST
@given(query=melodies(1, 12), refs=st.lists(melodies(1, 14), min_size=1, max_size=6))
def test_other_params_match_reference(query, refs):
    p = P.copy()
    p[[align.K.MATCH, align.K.NEAR, align.K.GAP, align.K.RHY_PEN, align.K.DUR_FREE]] = [1.5, -1.0, -3.0, 3.0, 0.25]
    got = fast.prefilter_scores(query, layout_of(refs), params=p)
    np.testing.assert_array_equal(got, np.array([ref_score(query, r, p) for r in refs], dtype=np.float32))


@FAST
@given(query=melodies(1, 16, lengths=(0.5, 1.0, 2.0)), refs=st.lists(melodies(1, 20, lengths=(0.5, 1.0, 2.0)),
                                                                      min_size=1, max_size=8))
def test_close_to_the_full_kernel(query, refs):
    """Same moves and scores as kernels._local (RUN_BONUS is 0): the rhythm curve's interpolation and rounding
    to 1/8 point separate them by a few hundredths of a point per step. Lengths are quantised to 1/16
    octave, so a length ratio within about 1/16 octave of the DUR_FREE threshold can be judged the other way
    (up to RHY_MATCH + the penalty there); DUR_FREE = 0.1 keeps every ratio of these lengths (and of their
    sums) clear of it."""
    p = P.copy()
    p[align.K.DUR_FREE] = 0.1
    got = fast.prefilter_scores(query, layout_of(refs), params=p)
    full = align.search(query, pack(refs)[:4], pack(refs)[4], params=p)
    assert np.all(np.abs(got - full) <= 0.08 * len(query) + 0.25), np.c_[got, full]


def test_saturates_instead_of_wrapping(rng):
    n = 500
    f = Features(rng.choice([-2, 2, 5, -5], n).astype("f4"), np.ones(n, "f4"), np.full(n, 8.0, "f4"), 1.0,
                 np.full(n, 2.0, "f4"))
    got = fast.prefilter_scores(f, layout_of([f]))
    assert got[0] == fast.SATURATE / fast.SCORE_UNIT


# ----------------------------------------------------------------------------------------------------
# invariance, masks, layout


def test_transposed_faster_copy_scores_the_same_and_ranks_its_source_first(rng):
    songs = [song(rng) for _ in range(40)]
    lay = layout_of([features(s) for s in songs])
    src = songs[17].notes
    excerpt = np.array(src[10:45])
    moved = make_notes((excerpt["onset"] - excerpt["onset"][0]) / 1.2, excerpt["duration"] / 1.2,
                       excerpt["pitch"] + 5)
    plain = fast.prefilter_scores(features(Melody(excerpt, "x")), lay)
    transposed = fast.prefilter_scores(features(Melody(moved, "y")), lay)
    np.testing.assert_array_equal(plain, transposed)
    assert int(np.argmax(transposed)) == 17 and transposed[17] > 2 * np.sort(transposed)[-2]


def test_rows_mask_scores_only_selected_rows(rng):
    refs = [features(song(rng, int(rng.integers(5, 40)))) for _ in range(50)]
    lay = layout_of(refs)
    q = features(song(rng, 30))
    every = fast.prefilter_scores(q, lay)
    mask = rng.random(50) < 0.3
    part = fast.prefilter_scores(q, lay, rows_mask=mask)
    np.testing.assert_array_equal(part[mask], every[mask])
    assert np.all(np.isneginf(part[~mask]))
    with pytest.raises(MelodyError, match="rows_mask"):
        fast.prefilter_scores(q, lay, rows_mask=mask[:10])


def test_layout_round_trip_through_npy_memory_map(rng, tmp_path):
    refs = [features(song(rng, int(rng.integers(2, 50)))) for _ in range(45)] + [features(song(rng, 1))]
    lay = fast.build_layout(*pack(refs))
    assert lay["steps"].dtype == np.int16 and lay["steps"].shape[1:] == (fast.N_FIELDS, fast.LANES)
    assert sorted(r for r in lay["rows"] if r >= 0) == list(range(len(refs)))
    loaded = memory_mapped(lay, tmp_path)
    q = features(song(rng, 25))
    np.testing.assert_array_equal(fast.prefilter_scores(q, loaded), fast.prefilter_scores(q, lay))
    assert fast.prefilter_scores(q, loaded)[-1] == 0.0          # a melody of one note has no step


def test_layout_and_query_edge_cases(rng):
    empty = fast.build_layout(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(1, dtype=np.int64))
    q = features(song(rng, 10))
    assert fast.prefilter_scores(q, empty).shape == (0,)
    lay = layout_of([features(song(rng, 20))])
    none = Features(np.zeros(0, "f4"), np.zeros(0, "f4"), np.zeros(0, "f4"), 1.0, None)
    np.testing.assert_array_equal(fast.prefilter_scores(none, lay), [0.0])
    bad = dict(lay, meta=np.array([fast.LAYOUT_VERSION + 1, fast.LANES, 1]))
    with pytest.raises(MelodyError, match="rebuild"):
        fast.prefilter_scores(q, bad)
    with pytest.raises(MelodyError, match="lacks"):
        fast.prefilter_scores(q, {k: v for k, v in lay.items() if k != "rows"})
    with pytest.raises(MelodyError, match="step_offsets"):
        fast.build_layout(np.zeros(3), np.ones(3), np.ones(3), np.zeros(3), np.array([0, 2]))
    with pytest.raises(MelodyError, match="lanes"):
        fast.prefilter_scores(q, dict(lay, meta=np.array([fast.LAYOUT_VERSION, 16, 1])))
