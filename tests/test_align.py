"""The Numba alignment kernels against plain-Python references (fast path vs slow path), plus properties.

The references below are written from the kernels' documented semantics (module docstring of
``melody.align.kernels`` and ``DEFAULT_PARAMS``), not by calling the kernel helpers:

- a step of the query (interval, length, weight, length of the step before it or 0 when there is none)
  against a step of the reference scores, for pitch, MATCH times the steps' mean weight when the
  intervals are equal, NEAR when a semitone apart, OCTAVE when an octave apart, MISMATCH otherwise;
  a recording's fractional intervals d apart with TOLERANT_LO < d < TOLERANT_HI earn g MATCH times the
  mean weight plus (1 - g) NEAR, g = (TOLERANT_HI - d) / (TOLERANT_HI - TOLERANT_LO); for
  rhythm, with agree = the larger of shorter/longer for the lengths themselves and for the lengths
  relative to each one's previous step, plus RHY_MATCH when agree >= 1 - DUR_FREE, else minus
  RHY_PEN * (1 - agree), except that with DUR_FADE > 0 a step up to DUR_FADE log2 units past DUR_FREE
  earns g RHY_MATCH minus (1 - g) times that, g = 1 - (log2 units past) / DUR_FADE;
- local alignment (Smith-Waterman, floor 0) with moves (1,1) step score; (1,0)/(0,1) GAP;
  (2,1)/(1,2) FRAG + score of the summed steps against the single one; (2,2) WRONG + score of the two
  sums. A summed step has the summed interval and length, and the information weight of its interval
  (``table``, commonness.WEIGHT_TABLE, interval clipped to +-13), at most the two steps' weights together
  (a sum carries no more information than the two steps that make it); its "step before" is the step
  before the pair;
- runs: a (1,1) move with equal intervals that directly continues a run of such moves earns RUN_BONUS
  on top (a second DP state X, the best alignment ending in an exact run, as in Gotoh's affine gaps);
- DTW with steps (1,1), (1,0), (0,1) over cost min(|interval difference|, 4) / 4 + 0.5 * (1 - ratio).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melody import align
from melody.align import kernels as K
from melody.commonness import WEIGHT_TABLE
from melody.notes import Melody, make_notes
from melody.represent import Features, features

P = align.DEFAULT_PARAMS
INTERVALS = list(range(-7, 8)) + [-12, 12]     # small steps and octave jumps
LENGTHS = [0.25, 0.5, 1.0, 1.5, 2.0]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------------
# plain-Python references


def ref_step(q, r, p):
    """Score of query step q = (interval, length, previous length, weight) against reference step r.

    Same rule as the kernel's log2-space one (agree = 2 ** -|log2 difference|). DUR_FREE values in the
    tests are chosen so that no attainable ratio of the test lengths (multiples of 1/4, sums up to 4,
    also relative to the step before) lands exactly on 1 - DUR_FREE, where rounding (ratios here, log2
    differences there, float32 inputs) could take different branches; that excludes DUR_FREE = 0.
    """
    (qa, ql, qlp, qw), (ra, rl, rlp, rw) = q, r
    d = abs(qa - ra)
    if d < K.TOLERANT_HI:
        g = ref_agreement(d)
        s = g * p[K.MATCH] * (qw + rw) / 2 + (1 - g) * p[K.NEAR]
    elif d < 1.5:
        s = p[K.NEAR]
    elif abs(d - 12) < 0.5:
        s = p[K.OCTAVE]
    else:
        s = p[K.MISMATCH]
    agree = min(ql, rl) / max(ql, rl)
    if qlp > 0 and rlp > 0:          # compare the rhythms relative to each melody's previous step
        agree = max(agree, min(ql / qlp, rl / rlp) / max(ql / qlp, rl / rlp))
    if agree >= 1 - p[K.DUR_FREE]:
        return s + p[K.RHY_MATCH]
    past = np.log2((1 - p[K.DUR_FREE]) / agree)      # DUR_FADE: log2 units past the free band, graded
    if past < p[K.DUR_FADE]:
        g = 1 - past / p[K.DUR_FADE]
        return s + g * p[K.RHY_MATCH] - (1 - g) * p[K.RHY_PEN] * (1 - agree)
    return s - p[K.RHY_PEN] * (1 - agree)


def ref_agreement(d):
    """How far intervals d apart count as equal: 1 up to TOLERANT_LO, 0 from TOLERANT_HI, linear between."""
    return float(np.clip((K.TOLERANT_HI - d) / (K.TOLERANT_HI - K.TOLERANT_LO), 0.0, 1.0))


def _steps(f):
    return [(float(a), float(b), float(c)) for a, b, c in zip(f.interval, f.length, f.weight)]


def _step(steps, k, summed, table):
    """Step k (0-based) of a melody, or steps k-1 and k summed; with the length of the step before it."""
    if not summed:
        a, length, w = steps[k]
        before = k - 1
    else:
        (a1, l1, w1), (a2, l2, w2) = steps[k - 1], steps[k]
        a, length = a1 + a2, l1 + l2
        # the weight of the summed interval, at most what the two steps weigh together
        w = min(float(table[int(np.clip(np.rint(a), -13, 13)) + 13]), w1 + w2)
        before = k - 2
    return (a, length, steps[before][1] if before >= 0 else 0.0, w)


def move_score(q, r, i, j, di, dj, p, table=WEIGHT_TABLE):
    """Score of the move (di, dj) into DP cell (i, j) (steps q[i-di:i] against r[j-dj:j]), no run bonus."""
    if (di, dj) in ((1, 0), (0, 1)):
        return p[K.GAP]
    s = ref_step(_step(q, i - 1, di == 2, table), _step(r, j - 1, dj == 2, table), p)
    if (di, dj) == (1, 1):
        return s
    return s + (p[K.WRONG] if (di, dj) == (2, 2) else p[K.FRAG])


def _exact(q, r, i, j):
    return abs(q[i - 1][0] - r[j - 1][0]) < 0.5


def ref_local(qf, rf, p, table=WEIGHT_TABLE, mask=None):
    """Full Smith-Waterman matrix H (m+1, n+1) with all six moves and exact-run bonuses; masked cells 0.

    X[i, j] is the best alignment that ends at (i, j) with an exact (1,1) move (intervals less than half a
    semitone apart): either a fresh run from H[i-1, j-1] or the continuation of the run ending at (i-1,
    j-1), which earns RUN_BONUS. A (1,1) move whose arrival notes have the same known metric class earns
    METRIC_MATCH, graded as the pitch (`ref_agreement`).
    """
    q, r = _steps(qf), _steps(rf)
    qm, rm = qf.metric_or_unknown(), rf.metric_or_unknown()
    m, n = len(q), len(r)
    H = np.zeros((m + 1, n + 1))
    X = np.full((m + 1, n + 1), -np.inf)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            exact = _exact(q, r, i, j)
            agree = ref_agreement(abs(q[i - 1][0] - r[j - 1][0]))
            metric = agree * p[K.METRIC_MATCH] if qm[i - 1] >= 0 and qm[i - 1] == rm[j - 1] else 0.0
            best = 0.0
            for di, dj in ((1, 1), (1, 0), (0, 1), (2, 1), (1, 2), (2, 2)):
                if i >= di and j >= dj:
                    bonus = metric if (di, dj) == (1, 1) else 0.0
                    best = max(best, H[i - di, j - dj] + move_score(q, r, i, j, di, dj, p, table) + bonus)
            if exact:
                s = move_score(q, r, i, j, 1, 1, p, table) + metric
                X[i, j] = max(H[i - 1, j - 1] + s, X[i - 1, j - 1] + s + p[K.RUN_BONUS])
                best = max(best, X[i, j])
            if mask is not None and mask[i, j]:
                H[i, j], X[i, j] = 0.0, -np.inf
            else:
                H[i, j] = best
    return H


def path_score(qf, rf, start, moves, p, table=WEIGHT_TABLE):
    """Re-score an alignment path: its moves' scores, plus RUN_BONUS for each exact (1,1) move that
    directly follows another and METRIC_MATCH (graded as the pitch) for each (1,1) move between notes of the same known
    metric class. Returns, per move, the running total, the cell reached and whether the move was an
    exact (1,1) one."""
    q, r = _steps(qf), _steps(rf)
    qm, rm = qf.metric_or_unknown(), rf.metric_or_unknown()
    (i, j), total, out, prev_exact = start, 0.0, [], False
    for di, dj in moves:
        i, j = i + di, j + dj
        total += move_score(q, r, i, j, di, dj, p, table)
        exact = (di, dj) == (1, 1) and _exact(q, r, i, j)
        if (di, dj) == (1, 1) and qm[i - 1] >= 0 and qm[i - 1] == rm[j - 1]:
            total += ref_agreement(abs(q[i - 1][0] - r[j - 1][0])) * p[K.METRIC_MATCH]
        if exact and prev_exact:
            total += p[K.RUN_BONUS]
        prev_exact = exact
        out.append((total, (i, j), exact))
    return out


def ref_cost(qf, rf):
    C = np.empty((len(qf), len(rf)))
    for i, (qa, ql, _) in enumerate(_steps(qf)):
        for j, (ra, rl, _) in enumerate(_steps(rf)):
            C[i, j] = min(abs(qa - ra), 4) / 4 + 0.5 * (1 - min(ql, rl) / max(ql, rl))
    return C


def ref_dtw(C, subsequence):
    m, n = C.shape
    D = np.full((m, n), np.inf)
    for i in range(m):
        for j in range(n):
            if i == 0 and (j == 0 or subsequence):
                D[i, j] = C[i, j]
                continue
            prev = min(D[i - 1, j - 1] if i and j else np.inf, D[i - 1, j] if i else np.inf,
                       D[i, j - 1] if j else np.inf)
            D[i, j] = C[i, j] + prev
    return D


# ----------------------------------------------------------------------------------------------------
# strategies


def feat(interval, length=None, weight=None, metric=None):
    n = len(interval)
    return Features(np.asarray(interval, "f4"),
                    np.asarray(np.ones(n) if length is None else length, "f4"),
                    np.asarray(np.ones(n) if weight is None else weight, "f4"), 1.0,
                    None if metric is None else np.asarray(metric, "f4"))


# A recording's intervals: whole semitones off by a singer's intonation. Dyadic offsets, so sums and
# differences are exact in float32 and float64 alike (the kernel and the reference take the same branches).
SUNG_OFFSETS = [0.0, 0.125, -0.125, 0.3125, -0.3125, 0.4375, -0.4375, 0.5625, -0.5625, 0.6875, -0.6875]


@st.composite
def feats(draw, min_size=1, max_size=25, weighted=True, sung=False):
    n = draw(st.integers(min_size, max_size))
    iv = draw(st.lists(st.sampled_from(INTERVALS), min_size=n, max_size=n))
    if sung:
        iv = [a + o for a, o in zip(iv, draw(st.lists(st.sampled_from(SUNG_OFFSETS), min_size=n, max_size=n)))]
    ln = draw(st.lists(st.sampled_from(LENGTHS), min_size=n, max_size=n))
    w = draw(st.lists(st.floats(0.5, 2.0, width=32), min_size=n, max_size=n)) if weighted else None
    met = draw(st.one_of(st.none(), st.lists(st.sampled_from([-1, 0, 1, 2]), min_size=n, max_size=n)))
    return feat(iv, ln, w, met)


def _params(match, near, octave, mismatch, gap, frag, wrong, rhy_match, rhy_pen, dur_free, run_bonus,
            metric_match=0.0, dur_fade=0.0):
    p = np.zeros(K.N_PARAMS)
    p[K.MATCH], p[K.NEAR], p[K.OCTAVE], p[K.MISMATCH] = match, near, octave, mismatch
    p[K.GAP], p[K.FRAG], p[K.WRONG] = gap, frag, wrong
    p[K.RHY_MATCH], p[K.RHY_PEN], p[K.DUR_FREE] = rhy_match, rhy_pen, dur_free
    p[K.RUN_BONUS] = run_bonus
    p[K.METRIC_MATCH] = metric_match
    p[K.DUR_FADE] = dur_fade
    return p


_random_params = st.builds(
    _params, st.floats(0.5, 2.0), st.floats(-2.0, 0.0), st.floats(-2.0, 0.0), st.floats(-3.0, -0.1),
    st.floats(-4.0, -0.1), st.floats(-4.0, 0.0), st.floats(-4.0, 0.0), st.floats(0.0, 1.5),
    st.floats(0.0, 3.0), st.sampled_from([0.0123, 0.05, 0.15, 0.27, 0.33]), st.floats(0.0, 2.0),
    st.floats(0.0, 2.0), st.sampled_from([0.0, 0.0, 0.3]))
params = st.one_of(st.just(P), _random_params)
tables = st.one_of(st.just(WEIGHT_TABLE), st.lists(st.floats(0.5, 8.0, width=32), min_size=27, max_size=27)
                   .map(lambda v: np.array(v, dtype="f4")))


def kernel_H(qf, rf, p=P, mask=None, table=WEIGHT_TABLE):
    return K.local_matrix(qf.interval, qf.length, qf.weight, qf.metric_or_unknown(), rf.interval, rf.length,
                          rf.weight, rf.metric_or_unknown(), p, table, K._NO_MASK if mask is None else mask)


def kernel_score(qf, rf, p=P, table=WEIGHT_TABLE):
    buf = np.empty((6, len(rf) + 1))
    return K.local_score(qf.interval, qf.length, qf.weight, qf.metric_or_unknown(), rf.interval, rf.length,
                         rf.weight, rf.metric_or_unknown(), p, table, buf)


# ----------------------------------------------------------------------------------------------------
# 1. kernels == reference


@FAST
@given(feats(), feats(), params, tables)
def test_local_matrix_matches_reference(qf, rf, p, table):
    H, moves = kernel_H(qf, rf, p, table=table)
    R = ref_local(qf, rf, p, table)
    assert H.shape == (len(qf) + 1, len(rf) + 1)
    np.testing.assert_allclose(H, R, atol=1e-4)
    # only empty cells stop the backtrace (the low four bits hold H's move)
    assert (((moves & 15) == K.STOP) == (H == 0)).all()
    assert kernel_score(qf, rf, p, table) == pytest.approx(R.max(), abs=1e-4)


@FAST
@given(feats(sung=True), st.one_of(feats(), feats(sung=True)), params, tables)
def test_local_matrix_matches_reference_for_recorded_intervals(qf, rf, p, table):
    """A recording's fractional intervals (either side), graded between TOLERANT_LO and TOLERANT_HI."""
    H, _ = kernel_H(qf, rf, p, table=table)
    np.testing.assert_allclose(H, ref_local(qf, rf, p, table), atol=1e-4)
    assert kernel_score(qf, rf, p, table) == pytest.approx(H.max(), abs=1e-4)
    a = align.local_align(qf, rf, p, x_drop=np.inf)
    if a.score > 0:
        (qs, _), (rs, _) = a.query_steps, a.reference_steps
        assert path_score(qf, rf, (qs, rs), a.moves, p)[-1][0] == pytest.approx(a.score, abs=1e-5)


def test_a_sung_interval_more_than_half_a_semitone_off_is_still_partly_the_interval():
    """Query [+2, +2.7, -1] (a singer's third note 70 cents sharp of its intent relative to the second)
    against the written [+2, +2, -1], unit weights and lengths. 0.7 semitones off lies between TOLERANT_LO
    and TOLERANT_HI: g = 0.5, so the middle step scores 0.5 MATCH + 0.5 NEAR + RHY_MATCH = 0.7 instead of
    a near miss's -0.8: 2.2 + 0.7 + 2.2 = 5.1 (3.6 before). The same step written in whole semitones
    ([+2, +3, -1], a score) is still a near miss, and 0.45 off is still a match."""
    assert (K.TOLERANT_LO, K.TOLERANT_HI) == (0.5, 0.9)
    ref = feat([2, 2, -1])
    assert kernel_score(feat([2, 2.7, -1]), ref) == pytest.approx(5.1, abs=1e-5)
    assert kernel_score(feat([2, 3, -1]), ref) == pytest.approx(3.6, abs=1e-6)
    assert kernel_score(feat([2, 2.45, -1]), ref) == pytest.approx(6.6, abs=1e-6)


@FAST
@given(feats(), feats(), params, st.integers(0, 2**32 - 1), st.floats(0.0, 0.5))
def test_mask_zeroes_masked_cells(qf, rf, p, seed, density):
    mask = np.random.default_rng(seed).random((len(qf) + 1, len(rf) + 1)) < density
    H, moves = kernel_H(qf, rf, p, mask)
    assert (H[mask] == 0).all() and (moves[mask] == K.STOP).all()   # no move, no run through it
    np.testing.assert_allclose(H, ref_local(qf, rf, p, mask=mask), atol=1e-4)
    # the public wrapper: the alignment never passes through a masked cell (it may start on one)
    a = align.local_align(qf, rf, p, mask)
    i, j = a.query_steps[0], a.reference_steps[0]
    for di, dj in a.moves:
        i, j = i + di, j + dj
        assert not mask[i, j]


def _pack(refs):
    steps = tuple(np.concatenate([getattr(r, k) for r in refs]).astype("f4")
                  for k in ("interval", "length", "weight"))
    metric = np.concatenate([r.metric_or_unknown() for r in refs]).astype("f4")
    return steps + (metric,), np.concatenate([[0], np.cumsum([len(r) for r in refs])]).astype(np.int64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feats(max_size=15), st.lists(feats(min_size=0, max_size=25), min_size=1, max_size=8), params)
def test_search_equals_per_reference_score(qf, refs, p):
    steps, offsets = _pack(refs)
    out = align.search(qf, steps, offsets, p)
    np.testing.assert_allclose(out, [kernel_score(qf, r, p) for r in refs], rtol=1e-5, atol=1e-4)


def test_search_empty_query_and_catalog():
    rf = feat([1, 2, 3])
    steps = (rf.interval, rf.length, rf.weight)
    assert (align.search(feat([]), steps, np.array([0, 3])) == 0).all()
    assert align.search(rf, steps, np.array([0])).shape == (0,)


def test_local_buffer_wider_than_reference(rng):
    """local_score documents buf as (6, >= n+1): a wider, dirty buffer must not change the score."""
    qf = feat(rng.integers(-5, 6, 12), rng.choice(LENGTHS, 12))
    rf = feat(rng.integers(-5, 6, 9), rng.choice(LENGTHS, 9))
    buf = np.full((6, 40), 99.0)
    s = K.local_score(qf.interval, qf.length, qf.weight, qf.metric_or_unknown(), rf.interval, rf.length,
                      rf.weight, rf.metric_or_unknown(), P, WEIGHT_TABLE, buf)
    assert s == pytest.approx(ref_local(qf, rf, P).max(), abs=1e-6)


# ----------------------------------------------------------------------------------------------------
# 2. backtrace properties


@FAST
@given(feats(), feats(), params)
def test_backtrace_is_consistent(qf, rf, p):
    a = align.local_align(qf, rf, p, x_drop=np.inf)      # the whole path (X-drop is tested separately)
    H, _ = kernel_H(qf, rf, p)
    assert a.score == pytest.approx(H.max(), abs=1e-9)
    if a.score <= 0:
        assert a.pairs == [] and a.moves == []
        return
    (qs, qe), (rs, re) = a.query_steps, a.reference_steps
    assert 0 <= qs < qe <= len(qf) and 0 <= rs < re <= len(rf)
    assert a.pairs[0] == (qs, rs) and a.pairs[-1] == (qe, re)
    assert all(q2 > q1 and r2 > r1 for (q1, r1), (q2, r2) in zip(a.pairs, a.pairs[1:]))
    # re-score the path with the reference move scores: it must add up to the alignment's score
    steps = path_score(qf, rf, (qs, rs), a.moves, p)
    assert steps[-1][1] == (qe, re)
    assert steps[-1][0] == pytest.approx(a.score, abs=1e-5)
    for k, (total, (i, j), exact) in enumerate(steps):
        assert total <= H[i, j] + 1e-5           # no prefix beats the best alignment ending there
        if not (exact and k + 1 < len(steps) and steps[k + 1][2]):
            # outside an exact run the prefix is the best alignment ending there, and positive (a run
            # may start with a step scoring <= 0 that the following run bonuses make worth taking)
            assert total == pytest.approx(H[i, j], abs=1e-5) and total > 0


def _self_score(f, p=P):
    steps = float((p[K.MATCH] * f.weight.astype("f8") + p[K.RHY_MATCH]).sum())
    steps += p[K.METRIC_MATCH] * float((f.metric_or_unknown() >= 0).sum())
    return steps + p[K.RUN_BONUS] * (len(f) - 1)


def _assert_self_alignment(f):
    a = align.local_align(f, f)
    m = len(f)
    assert a.score == pytest.approx(_self_score(f), rel=1e-6)
    assert a.query_steps == (0, m) and a.reference_steps == (0, m)
    assert a.query_notes == (0, m) and a.reference_notes == (0, m)
    assert a.moves == [(1, 1)] * m
    assert a.pairs == [(k, k) for k in range(m + 1)]


@FAST
@given(feats())
def test_self_alignment_covers_everything(f):
    """An exact copy scores the sum of its step matches (one run), every step matched one to one."""
    _assert_self_alignment(f)


@FAST
@given(st.lists(st.sampled_from(INTERVALS), min_size=1, max_size=25))
def test_self_alignment_with_information_weights(intervals):
    _assert_self_alignment(features(_melody(intervals, [1.0] * len(intervals))))


def test_exact_copy_is_not_scored_as_a_wrong_note():
    """Regression: two predictable steps (-3, -3) summing to a rare interval (-6) were worth more as one
    (2,2) "wrong note" move against themselves (WRONG + weight of -6 + RHY_MATCH) than as two exact
    matches, so an exact copy scored above its own match sum and was reported with a wrong note."""
    f = feat([-3, -3], weight=[1.0, 0.6])
    rare = np.full(27, 8.0, dtype="f4")            # every summed interval is as rare as can be
    p = P.copy()
    p[K.RUN_BONUS] = 0.0                            # (a run bonus would hide the bug here)
    H, moves = kernel_H(f, f, p, table=rare)
    assert H.max() == pytest.approx(_self_score(f, p), rel=1e-6)
    assert moves[2, 2] & 15 == K.DIAG and moves[1, 1] & 15 == K.DIAG


FAR = [8, 9, 10, 11]     # context steps: never equal to a phrase step, and no two sum to one


def _melody(intervals, iois, base=60.0, last_duration=1.0):
    pitch = base + np.concatenate([[0.0], np.cumsum(intervals)])
    onset = np.concatenate([[0.0], np.cumsum(iois)])
    duration = np.append(np.asarray(iois, "f8"), last_duration)
    return Melody(make_notes(onset, duration, pitch))


def _embedded(data):
    m = data.draw(st.integers(2, 12), "phrase steps")
    phrase_iv = data.draw(st.lists(st.sampled_from(INTERVALS), min_size=m, max_size=m))
    phrase_ioi = data.draw(st.lists(st.sampled_from(LENGTHS), min_size=m, max_size=m))
    before = data.draw(st.integers(0, 12), "context notes before")
    after = data.draw(st.integers(0, 12), "context notes after")
    ctx = data.draw(st.lists(st.sampled_from(FAR), min_size=before + after, max_size=before + after))
    k = data.draw(st.integers(-12, 12), "transposition")
    tempo = data.draw(st.sampled_from([0.37, 0.5, 1.0, 1.7, 3.0]), "tempo factor")
    query = _melody(phrase_iv, phrase_ioi)
    # context notes take the phrase's median length, so the reference's median (its length unit) is
    # the phrase's; context steps (incl. the joins into and out of the phrase) never match a phrase step
    med = float(np.median(phrase_ioi))
    ref = _melody(ctx[:before] + phrase_iv + ctx[before:], [med] * before + phrase_ioi + [med] * after,
                  base=60.0 + k)
    ref.notes["onset"] *= tempo
    ref.notes["duration"] *= tempo
    return query, ref, m, before


def _assert_found(qf, rf, m, before):
    assert len(rf) >= before + m
    expected = sum(P[K.MATCH] * (float(qf.weight[t]) + float(rf.weight[before + t])) / 2 + P[K.RHY_MATCH]
                   for t in range(m)) + P[K.RUN_BONUS] * (m - 1)
    a = align.local_align(qf, rf)
    assert a.score == pytest.approx(expected, rel=1e-5)
    assert a.query_notes == (0, m)
    assert a.reference_notes == (before, before + m)
    assert a.pairs == [(t, before + t) for t in range(m + 1)]
    # and the score-only kernel and the catalog search agree
    assert kernel_score(qf, rf) == pytest.approx(expected, rel=1e-5)
    out = align.search(qf, (rf.interval, rf.length, rf.weight), np.array([0, len(rf)]))
    assert out[0] == pytest.approx(expected, rel=1e-5)


@FAST
@given(st.data())
def test_embedded_phrase_is_found(data):
    """A phrase put, transposed and at another tempo, into unrelated context is found exactly there."""
    query, ref, m, before = _embedded(data)
    ones = np.ones(len(ref) - 1)
    _assert_found(features(query, np.ones(m)), features(ref, ones), m, before)


@FAST
@given(st.data())
def test_embedded_phrase_is_found_with_information_weights(data):
    query, ref, m, before = _embedded(data)
    qf, rf = features(query), features(ref)
    _assert_found(qf, rf, m, before)


# ----------------------------------------------------------------------------------------------------
# 3. invariants of the features


@FAST
@given(st.lists(st.integers(30, 90), min_size=2, max_size=30), st.data())
def test_features_are_transposition_and_tempo_invariant(pitches, data):
    n = len(pitches)
    iois = data.draw(st.lists(st.sampled_from(LENGTHS), min_size=n, max_size=n))
    k = data.draw(st.integers(-24, 24))
    tempo = data.draw(st.floats(0.25, 4.0))
    onset = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    base = features(Melody(make_notes(onset, iois, pitches)))
    moved = features(Melody(make_notes(onset * tempo, np.asarray(iois) * tempo, np.asarray(pitches) + k)))
    np.testing.assert_array_equal(moved.interval, base.interval)
    np.testing.assert_allclose(moved.length, base.length, rtol=1e-6)
    assert moved.tempo_unit == pytest.approx(base.tempo_unit * tempo, rel=1e-9)
    np.testing.assert_array_equal(base.interval, np.diff(pitches))
    # so the alignment score of a melody against its transposed, re-timed self is its self score
    assert kernel_score(base, moved) == pytest.approx(kernel_score(base, base), rel=1e-5)


# ----------------------------------------------------------------------------------------------------
# 4. DTW


def _check_path(path, C, total, start_row_only):
    assert all((i2 - i1, j2 - j1) in ((1, 1), (1, 0), (0, 1)) for (i1, j1), (i2, j2) in zip(path, path[1:]))
    assert path[0][0] == 0 and (start_row_only or path[0] == (0, 0))
    assert sum(C[i, j] for i, j in path) == pytest.approx(total, abs=1e-9)


@FAST
@given(feats(weighted=False), feats(weighted=False), params)
def test_dtw_global_matches_references(qf, rf, p):
    C = K.step_cost_matrix(qf.interval, qf.length, rf.interval, rf.length, p)
    np.testing.assert_allclose(C, ref_cost(qf, rf), atol=1e-6)
    assert (C >= 0).all() and (C <= 1.5 + 1e-9).all()
    D, total, path = align.dtw(qf, rf, params=p)
    np.testing.assert_allclose(D, ref_dtw(C, False), rtol=1e-12, atol=1e-12)
    librosa = pytest.importorskip("librosa")
    LD, wp = librosa.sequence.dtw(C=C, backtrack=True)
    np.testing.assert_allclose(D, LD, rtol=1e-12, atol=1e-12)
    assert total == pytest.approx(LD[-1, -1], abs=1e-9)
    assert tuple(wp[0]) == (len(qf) - 1, len(rf) - 1) and tuple(wp[-1]) == (0, 0)
    assert path[0] == (0, 0) and path[-1] == (len(qf) - 1, len(rf) - 1)
    _check_path(path, C, total, start_row_only=False)
    assert sum(C[i, j] for i, j in wp) == pytest.approx(total, abs=1e-9)   # both optimal paths


@FAST
@given(feats(weighted=False), feats(weighted=False), params)
def test_dtw_subsequence_matches_references(qf, rf, p):
    C = K.step_cost_matrix(qf.interval, qf.length, rf.interval, rf.length, p)
    D, total, path = align.dtw(qf, rf, subsequence=True, params=p)
    np.testing.assert_allclose(D, ref_dtw(C, True), rtol=1e-12, atol=1e-12)
    assert total == pytest.approx(D[-1].min(), abs=1e-12)
    assert path[-1] == (len(qf) - 1, int(np.argmin(D[-1])))
    _check_path(path, C, total, start_row_only=True)
    if len(qf) <= len(rf):                   # librosa transposes C when the query is the longer one
        librosa = pytest.importorskip("librosa")
        LD = librosa.sequence.dtw(C=C, subseq=True, backtrack=False)
        np.testing.assert_allclose(D, LD, rtol=1e-12, atol=1e-12)


def test_dtw_finds_embedded_query():
    ref = feat([5, -3, 2, 2, 1, -1, -4, 7, 7])
    qf = feat([2, 2, 1, -1])
    _, total, path = align.dtw(qf, ref, subsequence=True)
    assert total == 0.0
    assert path == [(0, 2), (1, 3), (2, 4), (3, 5)]


# ----------------------------------------------------------------------------------------------------
# 5. a textbook example, computed by hand


def test_local_alignment_hand_computed_3x3():
    """Query steps [+2, +2, +1] (C D E F) against reference [+4, +1, +2] (C E F G), all lengths and
    weights 1, a weight table of ones (so a summed step weighs 1), and explicit parameters MATCH 1,
    NEAR -0.4, OCTAVE -0.2, MISMATCH -1, GAP -1, FRAG -0.35, WRONG -0.9, RHY_MATCH 0, RHY_PEN 0.5,
    DUR_FREE 0.1, RUN_BONUS 0 (a summed step of length 2 against a step of length 1: agreement 0.5,
    costs RHY_PEN * (1 - 0.5) = 0.25; equal lengths agree fully and earn RHY_MATCH = 0).

    H[1,3] = 0 + s(2|2) = 1                                                 (DIAG)
    H[2,1] = 0 + FRAG + s(2+2, len 2 | 4, len 1) = -0.35 + 1 - 0.25 = 0.4   (Q2R1: D passed over)
    H[2,3] = H[1,2] + s(2|2) = 1                                            (DIAG)
    H[3,2] = H[2,1] + s(1|1) = 1.4                                          (DIAG)
    H[3,3] = max(H[2,2] + s(1|2) = -0.4, H[2,3] + GAP = 0, H[3,2] + GAP = 0.4,
                 H[1,1] + WRONG + s(3, len 2 | 3, len 2) = 0.1,
                 H[2,1] + FRAG + s(1 | 3, len 2) = 0.4 - 0.35 - 1 - 0.25 = -1.2,
                 H[1,2] + FRAG + s(3, len 2 | 2) = -0.35 - 0.4 - 0.25 = -1.0) = 0.4   (LEFT)
    every other cell stays 0 (e.g. H[2,2]: best candidate H[2,1] + GAP = -0.6).
    """
    qf, rf = feat([2, 2, 1]), feat([4, 1, 2])
    p = _params(1.0, -0.4, -0.2, -1.0, -1.0, -0.35, -0.9, 0.0, 0.5, 0.1, 0.0)
    table = np.ones(27, dtype="f4")
    H, moves = kernel_H(qf, rf, p, table=table)
    expected = np.array([[0, 0, 0, 0],
                         [0, 0, 0, 1.0],
                         [0, 0.4, 0, 1.0],
                         [0, 0, 1.4, 0.4]])
    np.testing.assert_allclose(H, expected, atol=1e-12)
    np.testing.assert_allclose(ref_local(qf, rf, p, table), expected, atol=1e-12)
    mv = moves & 15
    assert mv[2, 1] == K.Q2R1 and mv[3, 2] == K.DIAG and mv[1, 3] == K.DIAG and mv[2, 3] == K.DIAG
    assert mv[3, 3] == K.LEFT
    assert (mv[H == 0] == K.STOP).all()
    a = align.backtrace(H, moves)
    assert a.score == pytest.approx(1.4)
    assert a.query_notes == (0, 3) and a.reference_notes == (0, 2)
    assert a.moves == [(2, 1), (1, 1)]
    assert a.pairs == [(0, 0), (2, 1), (3, 2)]


def test_local_alignment_hand_computed_run():
    """Query [+1, +2, +3] against reference [+1, +2, +5], as above but RUN_BONUS 0.5.

    H[1,1] = 1 (DIAG), X[1,1] = 1 (a run starts)
    H[2,2] = X[2,2] = max(H[1,1] + 1, X[1,1] + 1 + 0.5) = 2.5          (RUN, continued)
    H[2,3] = H[2,2] + GAP = 1.5 (LEFT);  H[3,2] = H[2,2] + GAP = 1.5 (UP)
    H[3,3] = max(H[2,2] + s(3|5) = 1.5, H[2,3] + GAP = 0.5, H[3,2] + GAP = 0.5,
                 H[1,2] + FRAG + s(2+3, len 2 | 5) = -0.35 + 1 - 0.25 = 0.4, ...) = 1.5   (DIAG)
    and H[3,2]'s (1,2) candidate H[2,0] + FRAG + s(3 | 1+2, len 2) = 0.4 loses to the gap.
    """
    qf, rf = feat([1, 2, 3]), feat([1, 2, 5])
    p = _params(1.0, -0.4, -0.2, -1.0, -1.0, -0.35, -0.9, 0.0, 0.5, 0.1, 0.5)
    table = np.ones(27, dtype="f4")
    H, moves = kernel_H(qf, rf, p, table=table)
    expected = np.array([[0, 0, 0, 0],
                         [0, 1.0, 0, 0],
                         [0, 0, 2.5, 1.5],
                         [0, 0, 1.5, 1.5]])
    np.testing.assert_allclose(H, expected, atol=1e-12)
    np.testing.assert_allclose(ref_local(qf, rf, p, table), expected, atol=1e-12)
    mv = moves & 15
    assert mv[1, 1] == K.DIAG and moves[1, 1] >> 4 == K.RUN_START
    assert mv[2, 2] == K.RUN and moves[2, 2] >> 4 == K.RUN_CONTINUE
    assert mv[2, 3] == K.LEFT and mv[3, 2] == K.UP and mv[3, 3] == K.DIAG
    a = align.backtrace(H, moves)
    assert a.score == pytest.approx(2.5)
    assert a.query_notes == (0, 2) and a.reference_notes == (0, 2)
    assert a.moves == [(1, 1), (1, 1)]
    assert a.pairs == [(0, 0), (1, 1), (2, 2)]


def test_search_split_over_threads(rng):
    """A catalog big enough to be cut into ranges for a thread pool scores as one call does."""
    n_ref = 25_000
    lens = rng.integers(0, 19, n_ref)
    n = int(lens.sum())
    assert n >= 200_000
    steps = (rng.integers(-5, 6, n).astype("f4"), rng.choice(LENGTHS, n).astype("f4"),
             rng.uniform(0.5, 4.0, n).astype("f4"))
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    qf = feat([2, 2, 1, -1, -2, 0, 3], [1, 1, 0.5, 0.5, 2, 1, 1], [1, 2, 0.5, 3, 1, 1, 2])
    out = align.search(qf, steps, offsets, workers=3)
    one = np.zeros(n_ref)
    unknown = np.full(n, -1.0, dtype="f4")
    K.search_scores(qf.interval, qf.length, qf.weight, qf.metric_or_unknown(), *steps, unknown, offsets, 0, n_ref,
                    P, WEIGHT_TABLE, one)
    np.testing.assert_array_equal(out, one)
    for r in rng.choice(n_ref, 30, replace=False):
        a, b = offsets[r], offsets[r + 1]
        rf = Features(steps[0][a:b], steps[1][a:b], steps[2][a:b], 1.0)
        assert out[r] == pytest.approx(kernel_score(qf, rf), rel=1e-5, abs=1e-4)


def test_x_drop_splits_a_bridged_path():
    """Two exact phrases joined by unrelated steps: with X-drop the best phrase alone is reported."""
    phrase_a = [2, 2, 1, -3, 5, -2, -2, 4, -7, 3, 2, 2]
    phrase_b = [-4, 7, -2, -1, 3, 5, -5, 2, -3, 1, 2, -2, 4]
    bridge_q, bridge_r = [1, 1, 1, 1, 1, 1], [-6, 6, -6, 6, -6, 6]
    qf = feat(phrase_a + bridge_q + phrase_b)
    rf = feat(phrase_a + bridge_r + phrase_b)
    whole = align.local_align(qf, rf, x_drop=np.inf)
    assert whole.query_steps == (0, len(qf))                  # Smith-Waterman bridges the two phrases
    split = align.local_align(qf, rf)
    first_b = len(phrase_a) + len(bridge_q)
    assert split.query_steps == (first_b, len(qf)) and split.reference_steps == (first_b, len(rf))
    assert split.score < whole.score
