"""Numba kernels: local alignment of interval/length sequences, and DTW. No validation here (see align/__init__).

Local alignment (Smith-Waterman) with moves that model how people vary a melody:

- ``(1,1)``  one step against one step (substitution, scored by `_step_score`);
- ``(2,1)`` / ``(1,2)``  two steps of one melody against one of the other, compared by their sums: a passing
  note or ornament inserted, or a note split in two / two notes merged (Mongeau & Sankoff's
  fragmentation and consolidation, done on intervals);
- ``(2,2)``  two steps against two with equal sums: one wrong note in the middle costs one move, not two
  mismatched intervals;
- gaps ``(1,0)`` / ``(0,1)``.

``params`` is a float64 array indexed by the constants below; `melody.align.DEFAULT_PARAMS` documents them.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

MATCH, NEAR, OCTAVE, MISMATCH, GAP, FRAG, WRONG, RHY_MATCH, RHY_PEN, DUR_FREE = range(10)
N_PARAMS = 10

# Backtrace codes for the full-matrix local alignment.
STOP, DIAG, UP, LEFT, Q2R1, Q1R2, Q2R2 = range(7)
_NO_MASK = np.zeros((1, 1), dtype=np.bool_)
MOVES = {DIAG: (1, 1), UP: (1, 0), LEFT: (0, 1), Q2R1: (2, 1), Q1R2: (1, 2), Q2R2: (2, 2)}


@njit(cache=True, error_model="numpy")
def _step_score(qa, ql, qlp, qw, ra, rl, rlp, rw, match, near, octave, mismatch, rhy_match, rhy_pen, dur_free):
    """Log-odds-like score of aligning a query step with a reference step.

    A step is (interval a, length l, length of the step before lp (0: none), information weight w).
    Pitch: equal intervals earn `match` times the steps' mean weight (rare intervals earn more); near
    misses, octave slips and mismatches cost fixed amounts. Rhythm: the lengths agree when their ratio is
    within `dur_free` of 1, either as normalised lengths or relative to each melody's previous step (so a
    different tempo normalisation of the surrounding music does not hide a shared rhythm); agreeing
    lengths earn `rhy_match`, others cost `rhy_pen` times how far apart they are.
    Scalars only: passing arrays into a non-inlined Numba function costs reference counting per call.
    """
    d = abs(qa - ra)
    if d < 0.5:
        s = match * 0.5 * (qw + rw)
    elif d < 1.5:
        s = near
    elif abs(d - 12.0) < 0.5:
        s = octave
    else:
        s = mismatch
    agree = min(ql, rl) / max(ql, rl)
    if qlp > 0.0 and rlp > 0.0:
        lq = ql * rlp
        lr = rl * qlp
        agree = max(agree, min(lq, lr) / max(lq, lr))
    if agree >= 1.0 - dur_free:
        s += rhy_match
    else:
        s -= rhy_pen * (1.0 - agree)
    return s


@njit(cache=True, error_model="numpy")
def _local(qi, ql, qw, ri, rl, rw, p, table, H, moves, full, mask):
    """Fill the local-alignment DP and return the best score.

    full=True: H and moves are (m+1, n+1) and keep every cell (for backtracing); cells where the
    (m+1, n+1) bool `mask` is set score 0 (pass a (1, 1) mask for none).
    table: information weight per interval -13..13 (commonness.WEIGHT_TABLE), for summed steps.
    full=False: H is (3, n+1), rows are reused modulo 3 (score only); moves and mask are not touched.
    """
    masked = full and mask.shape[0] == H.shape[0]
    m = qi.shape[0]
    n = ri.shape[0]
    match, near, octave, mismatch = p[MATCH], p[NEAR], p[OCTAVE], p[MISMATCH]
    gap, frag, wrong = p[GAP], p[FRAG], p[WRONG]
    rhy_match, rhy_pen, dur_free = p[RHY_MATCH], p[RHY_PEN], p[DUR_FREE]
    rows = H.shape[0]
    for r in range(rows if not full else 1):
        for j in range(n + 1):
            H[r, j] = 0.0
    best = 0.0
    for i in range(1, m + 1):
        c = i if full else i % 3
        b = i - 1 if full else (i - 1) % 3
        a = i - 2 if full else (i - 2) % 3
        H[c, 0] = 0.0
        qa, qlen, qwt = qi[i - 1], ql[i - 1], qw[i - 1]
        qprev = ql[i - 2] if i >= 2 else 0.0
        if i >= 2:
            qa2, qlen2 = qi[i - 2] + qa, ql[i - 2] + qlen
            # a sum carries no more information than its two steps (else an exact copy would score more
            # as a (2,2) "wrong note" against itself than as two matches)
            qwt2 = min(table[min(max(int(round(qa2)), -13), 13) + 13], qw[i - 2] + qwt)
        else:
            qa2, qlen2, qwt2 = 0.0, 1.0, 0.0
        qprev2 = ql[i - 3] if i >= 3 else 0.0
        for j in range(1, n + 1):
            ra, rlen, rwt = ri[j - 1], rl[j - 1], rw[j - 1]
            rprev = rl[j - 2] if j >= 2 else 0.0
            rprev2 = rl[j - 3] if j >= 3 else 0.0
            h = 0.0
            mv = STOP
            s = H[b, j - 1] + _step_score(qa, qlen, qprev, qwt, ra, rlen, rprev, rwt,
                                          match, near, octave, mismatch, rhy_match, rhy_pen, dur_free)
            if s > h:
                h, mv = s, DIAG
            s = H[b, j] + gap
            if s > h:
                h, mv = s, UP
            s = H[c, j - 1] + gap
            if s > h:
                h, mv = s, LEFT
            if j >= 2:
                ra2, rlen2 = ri[j - 2] + ra, rl[j - 2] + rlen
                rwt2 = min(table[min(max(int(round(ra2)), -13), 13) + 13], rw[j - 2] + rwt)
                s = H[b, j - 2] + frag + _step_score(qa, qlen, qprev, qwt, ra2, rlen2, rprev2, rwt2,
                                                     match, near, octave, mismatch, rhy_match, rhy_pen, dur_free)
                if s > h:
                    h, mv = s, Q1R2
                if i >= 2:
                    s = H[a, j - 2] + wrong + _step_score(qa2, qlen2, qprev2, qwt2, ra2, rlen2, rprev2, rwt2,
                                                          match, near, octave, mismatch, rhy_match, rhy_pen, dur_free)
                    if s > h:
                        h, mv = s, Q2R2
            if i >= 2:
                s = H[a, j - 1] + frag + _step_score(qa2, qlen2, qprev2, qwt2, ra, rlen, rprev, rwt,
                                                     match, near, octave, mismatch, rhy_match, rhy_pen, dur_free)
                if s > h:
                    h, mv = s, Q2R1
            if masked and mask[i, j]:
                h, mv = 0.0, STOP
            H[c, j] = h
            if full:
                moves[i, j] = mv
            if h > best:
                best = h
    return best


@njit(cache=True, error_model="numpy")
def local_score(qi, ql, qw, ri, rl, rw, p, table, buf):
    """Best local-alignment score of query vs reference in O(n) memory (buf: float64 (3, >= n+1))."""
    return _local(qi, ql, qw, ri, rl, rw, p, table, buf, buf, False, _NO_MASK)


@njit(cache=True, error_model="numpy")
def local_matrix(qi, ql, qw, ri, rl, rw, p, table, mask):
    """Full local-alignment matrix H (m+1, n+1) and the move into every cell, for backtracing.

    mask: bool (m+1, n+1), cells forced to 0 (already used by earlier passages), or (1, 1) for none.
    """
    H = np.zeros((qi.shape[0] + 1, ri.shape[0] + 1))
    moves = np.zeros((qi.shape[0] + 1, ri.shape[0] + 1), dtype=np.int8)
    _local(qi, ql, qw, ri, rl, rw, p, table, H, moves, True, mask)
    return H, moves


@njit(parallel=True, cache=True, error_model="numpy")
def search_scores(qi, ql, qw, ri, rl, rw, offsets, p, table, out):
    """Local-alignment score of the query against every reference in a packed catalog (in parallel).

    Reference r's steps are ri[offsets[r]:offsets[r+1]] (likewise rl, rw); its score goes to out[r].
    """
    n_ref = offsets.shape[0] - 1
    longest = 0
    for r in range(n_ref):
        longest = max(longest, offsets[r + 1] - offsets[r])
    n_chunks = min(n_ref, 256)
    for c in prange(n_chunks):
        buf = np.empty((3, longest + 1))     # one buffer per chunk, reused for all its references
        for r in range(c, n_ref, n_chunks):
            a = offsets[r]
            b = offsets[r + 1]
            out[r] = local_score(qi, ql, qw, ri[a:b], rl[a:b], rw[a:b], p, table, buf)


@njit(cache=True, error_model="numpy")
def step_cost_matrix(qi, ql, ri, rl, p):
    """Cost in [0, 1.5] of every query step against every reference step (for DTW)."""
    m = qi.shape[0]
    n = ri.shape[0]
    C = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            d = min(abs(qi[i] - ri[j]), 4.0) / 4.0
            ratio = min(ql[i], rl[j]) / max(ql[i], rl[j])
            C[i, j] = d + 0.5 * (1.0 - ratio)
    return C


@njit(cache=True, error_model="numpy")
def dtw_accumulate(C, subsequence):
    """Accumulated DTW cost with steps (1,1), (1,0), (0,1); subsequence: free start/end in the reference."""
    m, n = C.shape
    D = np.empty((m, n))
    D[0, 0] = C[0, 0]
    for j in range(1, n):
        D[0, j] = C[0, j] if subsequence else D[0, j - 1] + C[0, j]
    for i in range(1, m):
        D[i, 0] = D[i - 1, 0] + C[i, 0]
        for j in range(1, n):
            D[i, j] = C[i, j] + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return D
