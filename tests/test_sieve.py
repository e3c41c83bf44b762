"""melody.align.sieve (pass 0 of catalog search) against a plain-Python reference.

The reference is written from the module's documented semantics: quantise each step (interval to a
semitone, log2 length to 1/16 octave, weight to 1/16 bit; a summed step has the summed interval and the table
weight of its interval, at most the two steps' weights); score in 1/8 point
- (1,1): equal intervals earn the two half weights (MATCH x weight / 2 each, rounded down in 1/8 point), plus
  METRIC_MATCH when their arrival notes have the same known metric class; one semitone apart NEAR, else
  MISMATCH; plus RHY_MATCH when the log2 lengths, or the log2 lengths relative to
  the step before (when both have one), differ by less than the first pass's threshold, else minus RHY_PEN / 2;
- moves="summed" also: (1,2) / (2,1) FRAG and (2,2) WRONG plus the two half weights of the (summed) steps,
  only when their intervals are equal;
- gaps GAP; floor 0, capped at SATURATE; the result is the best cell in points.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melody import align
from melody.align import fast, sieve
from melody.commonness import WEIGHT_TABLE
from melody.errors import MelodyError
from melody.notes import Melody, make_notes
from melody.represent import Features, features

import _kernels
from _kernels import layout_of, memory_mapped, song

P = align.DEFAULT_PARAMS
LENGTHS = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------------
# plain-Python reference


def ref_steps(f: Features) -> list[dict]:
    """Quantised steps: interval, log2 length, relative log2 length (None for the first), weight, and the
    summed step's interval and weight (None for the first)."""
    out = []
    for k in range(len(f)):
        lg = math.log2(float(f.length[k]))
        step = {"iv": round(float(f.interval[k])), "len": round(lg * 16), "w": round(float(f.weight[k]) * 16),
                "met": int(f.metric[k]) if f.metric is not None and f.metric[k] >= 0 else None,
                "rel": None if k == 0 else round((lg - math.log2(float(f.length[k - 1]))) * 16),
                "iv2": None, "w2": None}
        if k >= 1:
            s = float(f.interval[k - 1]) + float(f.interval[k])
            w2 = min(float(WEIGHT_TABLE[min(max(round(s), -13), 13) + 13]), float(f.weight[k - 1]) + float(f.weight[k]))
            step["iv2"], step["w2"] = round(s), round(w2 * 16)
        out.append(step)
    return out


def ref_score(query: Features, reference: Features, params=P, moves="summed", unit=fast.SCORE_UNIT) -> float:
    """The sieve's score in 1/unit point: unit 8 is the int16 kernel (half weights rounded down, capped at
    SATURATE), unit 4 the 8-bit one (half weights rounded to nearest, no cap: the caller compares it with the
    8-bit kernel's saturation threshold)."""
    pts = lambda x: round(float(x) * unit)      # noqa: E731
    if unit == fast.SCORE_UNIT:
        hw = int(fast.kernel_constants(params)[fast.C_HALF_W])
        half = lambda w: (w * hw) >> 8       # noqa: E731
    else:
        hw = round(params[align.K.MATCH] * unit / 2 * 256 / fast.W_UNIT)
        half = lambda w: (min(max(w, 0), sieve.CLIP_W) * hw + 128) >> 8       # noqa: E731
    K = align.K
    near, mismatch, gap, frag, wrong = (pts(params[k]) for k in (K.NEAR, K.MISMATCH, K.GAP, K.FRAG, K.WRONG))
    rm, metric, pen = pts(params[K.RHY_MATCH]), pts(params[K.METRIC_MATCH]), pts(params[K.RHY_PEN] * 0.5)
    free = int(fast.kernel_constants(params)[fast.C_FREE])

    def diag(q, r):
        d = abs(q["iv"] - r["iv"])
        s = half(q["w"]) + half(r["w"]) if d == 0 else near if d == 1 else mismatch
        if d == 0 and q["met"] is not None and q["met"] == r["met"]:
            s += metric
        dl = abs(q["len"] - r["len"])
        if q["rel"] is not None and r["rel"] is not None:
            dl = min(dl, abs(q["rel"] - r["rel"]))
        return s + (rm if dl < free else -pen)

    Q, R = ref_steps(query), ref_steps(reference)
    m, n = len(Q), len(R)
    H = [[0] * (n + 1) for _ in range(m + 1)]
    best = 0
    cap = fast.SATURATE if unit == fast.SCORE_UNIT else 1 << 30
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            q, r = Q[i - 1], R[j - 1]
            h = max(0, H[i - 1][j - 1] + diag(q, r), H[i - 1][j] + gap, H[i][j - 1] + gap)
            if moves == "summed":
                if j >= 2 and q["iv"] == r["iv2"]:
                    h = max(h, H[i - 1][j - 2] + frag + half(q["w"]) + half(r["w2"]))
                if i >= 2 and q["iv2"] == r["iv"]:
                    h = max(h, H[i - 2][j - 1] + frag + half(q["w2"]) + half(r["w"]))
                if i >= 2 and j >= 2 and q["iv2"] == r["iv2"]:
                    h = max(h, H[i - 2][j - 2] + wrong + half(q["w2"]) + half(r["w2"]))
            H[i][j] = min(h, cap)
            best = max(best, H[i][j])
    return best / unit


def ref_sieve(query: Features, refs: list[Features], layout, params=P, moves="summed", bits=8) -> np.ndarray:
    """What sieve_scores returns: the 8-bit score (1/4 point), except in every block where some lane reached
    the 8-bit kernel's saturation threshold (255 - bias): there the int16 kernel's (1/8 point)."""
    want16 = np.array([ref_score(query, r, params, moves) for r in refs], dtype=np.float32)
    u = sieve.sieve_constants_u8(params)
    if bits == 16 or moves != "summed" or u is None:
        return want16
    want8 = np.array([ref_score(query, r, params, moves, unit=sieve.U8_UNIT) for r in refs], dtype=np.float64)
    rows = layout["rows"]
    block_of = np.empty(len(refs), dtype=np.int64)
    block_of[rows[rows >= 0]] = np.flatnonzero(rows >= 0) // fast.LANES
    redo = np.isin(block_of, block_of[want8 * sieve.U8_UNIT >= int(u[sieve.U_CAP])])
    return np.where(redo, want16, want8).astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# helpers


def melodies(min_steps=0, max_steps=24):
    return _kernels.melodies(min_steps, max_steps, lengths=LENGTHS)


# ----------------------------------------------------------------------------------------------------
# the kernel against the reference


@FAST
@given(query=melodies(1, 16), refs=st.lists(melodies(0, 20), min_size=1, max_size=40),
       workers=st.sampled_from([1, 2]), moves=st.sampled_from(sieve.MOVES), bits=st.sampled_from([8, 16]))
def test_kernel_matches_python_reference(query, refs, workers, moves, bits):
    lay = layout_of(refs)
    got = sieve.sieve_scores(query, lay, workers=workers, moves=moves, bits=bits)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref_sieve(query, refs, lay, moves=moves, bits=bits))


@FAST
@given(query=melodies(1, 12), refs=st.lists(melodies(1, 14), min_size=1, max_size=6))
def test_other_params_match_reference(query, refs):
    p = P.copy()
    p[[align.K.MATCH, align.K.NEAR, align.K.GAP, align.K.RHY_PEN, align.K.DUR_FREE, align.K.FRAG,
       align.K.METRIC_MATCH]] = [1.5, -1.0, -3.0, 3.0, 0.25, -2.0, 0.5]
    lay = layout_of(refs)
    np.testing.assert_array_equal(sieve.sieve_scores(query, lay, params=p), ref_sieve(query, refs, lay, p))


def test_saturates_instead_of_wrapping(rng):
    n = 500
    f = Features(rng.choice([-2, 2, 5, -5], n).astype("f4"), np.ones(n, "f4"), np.full(n, 8.0, "f4"), 1.0, None)
    for moves in sieve.MOVES:
        assert sieve.sieve_scores(f, layout_of([f]), moves=moves)[0] == fast.SATURATE / fast.SCORE_UNIT


# ----------------------------------------------------------------------------------------------------
# row order, invariance, edge cases


def test_row_order_matches_the_first_pass_and_follows_a_permuted_catalog(rng):
    refs = [features(song(rng, int(rng.integers(5, 70)))) for _ in range(90)]   # 3 blocks of unequal lengths
    refs[41] = src = features(song(rng, 50))
    q = Features(src.interval[5:35], src.length[5:35], src.weight[5:35], 1.0, None)
    lay = layout_of(refs)
    got = sieve.sieve_scores(q, lay)
    first = fast.prefilter_scores(q, lay)
    assert int(np.argmax(got)) == 41 == int(np.argmax(first))
    perm = rng.permutation(len(refs))
    moved = sieve.sieve_scores(q, layout_of([refs[k] for k in perm]))
    np.testing.assert_array_equal(moved, got[perm])
    assert not np.array_equal(lay["rows"][lay["rows"] >= 0], np.arange(len(refs)))     # the layout did reorder


def test_transposed_faster_copy_scores_the_same_and_ranks_its_source_first(rng):
    songs = [song(rng) for _ in range(40)]
    lay = layout_of([features(s) for s in songs])
    excerpt = np.array(songs[17].notes[10:45])
    moved = make_notes((excerpt["onset"] - excerpt["onset"][0]) / 1.2, excerpt["duration"] / 1.2,
                       excerpt["pitch"] + 5)
    for moves in sieve.MOVES:
        plain = sieve.sieve_scores(features(Melody(excerpt, "x")), lay, moves=moves)
        transposed = sieve.sieve_scores(features(Melody(moved, "y")), lay, moves=moves)
        np.testing.assert_array_equal(plain, transposed)
        assert int(np.argmax(transposed)) == 17 and transposed[17] > 2 * np.sort(transposed)[-2]


def test_summed_moves_find_an_ornamented_copy(rng):
    """An inserted passing note splits one step in two: moves='summed' bridges it with one (2,1) move."""
    src = song(rng, 40)
    notes = np.array(src.notes)
    k = 20
    mid = make_notes([notes["onset"][k] + notes["duration"][k] / 2], [notes["duration"][k] / 2],
                     [notes["pitch"][k] + 1])
    notes["duration"][k] /= 2
    varied = np.sort(np.concatenate([notes, mid]), order="onset")
    lay = layout_of([features(src)])
    q = features(Melody(varied, "v"))
    assert sieve.sieve_scores(q, lay, moves="summed")[0] > sieve.sieve_scores(q, lay, moves="diag")[0]


def test_layout_round_trip_and_edge_cases(rng, tmp_path):
    refs = [features(song(rng, int(rng.integers(2, 50)))) for _ in range(45)] + [features(song(rng, 1))]
    lay = layout_of(refs)
    loaded = memory_mapped(lay, tmp_path)
    q = features(song(rng, 25))
    np.testing.assert_array_equal(sieve.sieve_scores(q, loaded), sieve.sieve_scores(q, lay))
    assert sieve.sieve_scores(q, lay)[-1] == 0.0          # a melody of one note has no step
    empty = fast.build_layout(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(1, dtype=np.int64))
    assert sieve.sieve_scores(q, empty).shape == (0,)
    none = Features(np.zeros(0, "f4"), np.zeros(0, "f4"), np.zeros(0, "f4"), 1.0, None)
    np.testing.assert_array_equal(sieve.sieve_scores(none, lay), np.zeros(len(refs)))
    with pytest.raises(MelodyError, match="moves"):
        sieve.sieve_scores(q, lay, moves="all")
    with pytest.raises(MelodyError, match="workers"):
        sieve.sieve_scores(q, lay, workers=0)
    with pytest.raises(MelodyError, match="rebuild"):
        sieve.sieve_scores(q, dict(lay, meta=np.array([fast.LAYOUT_VERSION + 1, fast.LANES, len(refs)])))


def test_the_8_bit_layout_saved_with_a_layout_is_used_and_checked(rng, tmp_path):
    refs = [features(song(rng, int(rng.integers(2, 60)))) for _ in range(70)]
    lay = layout_of(refs)
    q = features(song(rng, 30))
    plain = sieve.sieve_scores(q, lay)
    s8 = sieve.sieve_layout(lay)
    assert s8.dtype == np.uint8 and s8.shape == (lay["steps"].shape[0] * sieve.N_U8_FIELDS * fast.LANES,)
    np.save(tmp_path / "s8.npy", s8)
    with_s8 = dict(lay, sieve8=np.load(tmp_path / "s8.npy", mmap_mode="r"))
    np.testing.assert_array_equal(sieve.sieve_scores(q, with_s8), plain)
    lanes = sieve.sieve_lane_scores(q, with_s8)
    rows = lay["rows"]
    np.testing.assert_array_equal(lanes[rows >= 0], plain[rows[rows >= 0]])
    assert not np.any(lanes[rows < 0])
    with pytest.raises(MelodyError, match="sieve8"):
        sieve.sieve_scores(q, dict(lay, sieve8=s8[:-1]))
    with pytest.raises(MelodyError, match="bits"):
        sieve.sieve_scores(q, lay, bits=4)


def test_params_beyond_8_bits_fall_back_to_int16(rng):
    p = P.copy()
    p[align.K.MATCH] = 6.0            # an exact step could earn 48 points: past the 8-bit kernel's range
    assert sieve.sieve_constants_u8(p) is None
    refs = [features(song(rng, 30)) for _ in range(5)]
    lay = layout_of(refs)
    q = features(song(rng, 12))
    np.testing.assert_array_equal(sieve.sieve_scores(q, lay, params=p), sieve.sieve_scores(q, lay, params=p, bits=16))
