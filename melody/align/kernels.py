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
from numba import njit

MATCH, NEAR, OCTAVE, MISMATCH, GAP, FRAG, WRONG, RHY_MATCH, RHY_PEN, DUR_FREE, RUN_BONUS, METRIC_MATCH, \
    DUR_FADE = range(13)
N_PARAMS = 13

# Backtrace codes for the full-matrix local alignment.
STOP, DIAG, UP, LEFT, Q2R1, Q1R2, Q2R2, RUN = range(8)
RUN_START, RUN_CONTINUE = 0, 1   # how a cell of the exact-run state X was entered (moves >> 4)
NEG = -1e30
_NO_MASK = np.zeros((1, 1), dtype=np.bool_)
MOVES = {DIAG: (1, 1), UP: (1, 0), LEFT: (0, 1), Q2R1: (2, 1), Q1R2: (1, 2), Q2R2: (2, 2)}


# Rows of a prepared step table (see `prepare`): one column per step of a melody.
IV, LOGLEN, W, LOGPREV, IV2, LOGLEN2, W2, LOGPREV2, MET = range(9)
N_ROWS = 9
NONE = -1e9   # "no previous step" in the LOGPREV rows


@njit(cache=True, error_model="numpy")
def prepare(interval, length, weight, metric, table, out):
    """Fill out[:, :n] with everything the DP needs per step, so the inner loop does no division or log.

    Rows: interval, log2 length, weight, log2 length of the step before (NONE for the first), then the
    same for the step summed with the one before it, then the metric class of the step's arrival note
    (-1: unknown) (used by the (2,x) moves; the weight of a sum is the
    table weight of the summed interval, but never more than its two steps carry).
    """
    n = interval.shape[0]
    for k in range(n):
        out[IV, k] = interval[k]
        out[LOGLEN, k] = np.log2(length[k])
        out[W, k] = weight[k]
        out[MET, k] = metric[k]
        out[LOGPREV, k] = np.log2(length[k - 1]) if k >= 1 else NONE
        if k >= 1:
            s = interval[k - 1] + interval[k]
            out[IV2, k] = s
            out[LOGLEN2, k] = np.log2(length[k - 1] + length[k])
            out[W2, k] = min(table[min(max(int(np.rint(s)), -13), 13) + 13], weight[k - 1] + weight[k])
            out[LOGPREV2, k] = np.log2(length[k - 2]) if k >= 2 else NONE
        else:
            out[IV2, k] = 0.0
            out[LOGLEN2, k] = 0.0
            out[W2, k] = 0.0
            out[LOGPREV2, k] = NONE


# A recording's intervals are fractional: a singer puts each note N(0, 15-40 cents) off its intent (Mauch,
# Frieler & Dixon 2014), so an interval is off by the difference of two such errors, more than half a
# semitone for 1 step in 5. Between TOLERANT_LO and TOLERANT_HI semitones apart two intervals are neither
# the same nor a semitone apart: the match is graded linearly from full (TOLERANT_LO) to a near miss
# (TOLERANT_HI). Scores' intervals are whole semitones and never land in that band, so symbolic pairs score
# exactly as before. Chosen on scripts/bench_sung.py (seeds 0 and 1): 0.5-0.9 ranked 8 more sung queries
# first than 0.35-0.75 (which took part of the match from steps 0.35-0.5 off); 0.5-1.0 was within a query
# of it (BENCHMARKS.md, fifteenth session: a sung note 30 cents off).
TOLERANT_LO = 0.5
TOLERANT_HI = 0.9


@njit(cache=True, error_model="numpy")
def _agreement(d):
    """How far two intervals d semitones apart count as the same: 1 below TOLERANT_LO, 0 from TOLERANT_HI
    on, linear between (only fractional, recorded intervals fall between)."""
    if d <= TOLERANT_LO:
        return 1.0
    if d >= TOLERANT_HI:
        return 0.0
    return (TOLERANT_HI - d) / (TOLERANT_HI - TOLERANT_LO)


@njit(cache=True, error_model="numpy")
def _pitch_score(qa, qw, ra, rw, match, near, octave, mismatch):
    """Pitch part of a step score: equal intervals earn `match` times the steps' mean information weight
    (rare intervals earn more); near misses, octave slips and mismatches cost fixed amounts. Intervals
    between equal and a near miss (a recording's, `_agreement`) earn the two in proportion."""
    d = abs(qa - ra)
    if d < TOLERANT_HI:
        g = _agreement(d)
        return g * match * 0.5 * (qw + rw) + (1.0 - g) * near
    if d < 1.5:
        return near
    if abs(d - 12.0) < 0.5:
        return octave
    return mismatch


@njit(cache=True, error_model="numpy")
def _rhythm_score(lq, lqp, lr, lrp, rhy_match, rhy_pen, rhy_free, fade):
    """Rhythm part of a step score, from log2 lengths l and log2 lengths of the step before lp (NONE: none).

    The lengths agree when they differ by at most `rhy_free` (log2 units), either as normalised lengths or
    relative to each melody's previous step (so a different tempo normalisation of the surrounding music
    does not hide a shared rhythm); agreeing lengths earn `rhy_match`, others cost `rhy_pen` * (1 - ratio).
    With fade > 0 (DUR_FADE: a MIDI part read as played, `melody.score.rescore.played_params`) the tolerance
    is graded: lengths up to `fade` log2 units past rhy_free earn a linear mix of the two, the match's share
    falling from 1 to 0 with the distance past rhy_free.
    """
    dl = abs(lq - lr)
    if lqp > NONE and lrp > NONE:
        dl = min(dl, abs((lq - lqp) - (lr - lrp)))
    if dl <= rhy_free + 1e-9:    # tolerance: equal relative rhythms can differ by rounding in log2
        return rhy_match
    penalty = -rhy_pen * (1.0 - np.exp2(-dl))
    if dl >= rhy_free + fade:
        return penalty
    g = (rhy_free + fade - dl) / fade
    return g * rhy_match + (1.0 - g) * penalty


@njit(cache=True, error_model="numpy")
def _step_score(qa, lq, lqp, qw, ra, lr, lrp, rw, match, near, octave, mismatch, rhy_match, rhy_pen, rhy_free, fade):
    """Score of aligning a query step with a reference step: pitch part + rhythm part.

    Scalars only: passing arrays into a non-inlined Numba function costs reference counting per call.
    """
    return (_pitch_score(qa, qw, ra, rw, match, near, octave, mismatch)
            + _rhythm_score(lq, lqp, lr, lrp, rhy_match, rhy_pen, rhy_free, fade))


@njit(cache=True, error_model="numpy")
def _local(Q, R, m, n, p, H, X, moves, full, mask):
    """Fill the local-alignment DP of prepared steps Q (query, m steps) and R (reference, n steps).

    Two states, as in Gotoh's affine gaps: H is the best alignment ending at a cell, X the best ending in a
    run of exact pitch matches. Each exact match that continues a run earns RUN_BONUS on top: under
    copying, an exact step is likely to follow an exact step; by chance it is not, so long exact runs are
    stronger evidence than the same number of scattered matches. A (1,1) step whose arrival notes sit at
    the same metric position (downbeat / beat / off-beat, when both scores have bars) earns METRIC_MATCH:
    borrowed phrases usually keep their place in the bar; a shifted one just misses the bonus. Only exact
    intervals earn it, so it strengthens real matches without lengthening chance alignments. moves[i, j] holds H's move in its low
    four bits and how X was entered (RUN_START / RUN_CONTINUE) in the high bits.

    full=True: H, X and moves are (m+1, n+1) and keep every cell (for backtracing); cells where the
    (m+1, n+1) bool `mask` is set score 0 (pass a (1, 1) mask for none).
    full=False: H and X are (3, >= n+1), rows are reused modulo 3 (score only); moves and mask unused.
    Returns the best score.
    """
    masked = full and mask.shape[0] == m + 1
    match, near, octave, mismatch = p[MATCH], p[NEAR], p[OCTAVE], p[MISMATCH]
    gap, frag, wrong = p[GAP], p[FRAG], p[WRONG]
    rhy_match, rhy_pen = p[RHY_MATCH], p[RHY_PEN]
    rhy_free = -np.log2(1.0 - p[DUR_FREE])
    fade = p[DUR_FADE]
    run_bonus = p[RUN_BONUS]
    metric_match = p[METRIC_MATCH]
    miss = max(near, octave, mismatch)      # the best a step can score for pitch without equal intervals
    for r in range(1 if full else 3):
        for j in range(n + 1):
            H[r, j] = 0.0
            X[r, j] = NEG
    r_iv, r_len, r_w, r_prev, r_met = R[IV], R[LOGLEN], R[W], R[LOGPREV], R[MET]
    r_iv2, r_len2, r_w2, r_prev2 = R[IV2], R[LOGLEN2], R[W2], R[LOGPREV2]
    best = 0.0
    for i in range(1, m + 1):
        c = i if full else i % 3
        b = i - 1 if full else (i - 1) % 3
        a = i - 2 if full else (i - 2) % 3
        Hc, Hb, Ha, Xc, Xb = H[c], H[b], H[a], X[c], X[b]   # row views: cheaper indexing in the inner loop
        Hc[0] = 0.0
        Xc[0] = NEG
        k = i - 1
        qa, lq, qw, lqp, qmet = Q[IV, k], Q[LOGLEN, k], Q[W, k], Q[LOGPREV, k], Q[MET, k]
        qa2, lq2, qw2, lqp2 = Q[IV2, k], Q[LOGLEN2, k], Q[W2, k], Q[LOGPREV2, k]
        for j in range(1, n + 1):
            t = j - 1
            ra, lr, rw, lrp = r_iv[t], r_len[t], r_w[t], r_prev[t]
            h = 0.0
            mv = STOP
            s = Hb[j] + gap
            if s > h:
                h, mv = s, UP
            s = Hc[j - 1] + gap
            if s > h:
                h, mv = s, LEFT
            x = NEG
            xm = RUN_START
            exact = abs(qa - ra) < 0.5
            diag = Hb[j - 1] + _pitch_score(qa, qw, ra, rw, match, near, octave, mismatch)
            if qmet >= 0.0 and qmet == r_met[t]:   # same interval, same place in the bar (graded as the pitch)
                diag += _agreement(abs(qa - ra)) * metric_match
            if exact or diag + rhy_match > h:      # else the diagonal cannot win (rhythm adds <= rhy_match)
                diag += _rhythm_score(lq, lqp, lr, lrp, rhy_match, rhy_pen, rhy_free, fade)
                if diag > h:
                    h, mv = diag, DIAG
                if exact:
                    x = diag
                    s = Xb[j - 1] + (diag - Hb[j - 1]) + run_bonus
                    if s > x:
                        x, xm = s, RUN_CONTINUE
                    if x > h:
                        h, mv = x, RUN
            # The summed moves are rarely the best: skip each one as soon as a bound shows it cannot win.
            # Unless the summed intervals are (nearly) equal, its pitch part is at most `miss`; the rhythm part adds
            # at most rhy_match. Only then pay for the exact pitch and rhythm parts.
            if j >= 2:
                ra2, lr2, rw2, lrp2 = r_iv2[t], r_len2[t], r_w2[t], r_prev2[t]
                base = Hb[j - 2] + frag
                if base + miss + rhy_match > h or abs(qa - ra2) < TOLERANT_HI:
                    s = base + _pitch_score(qa, qw, ra2, rw2, match, near, octave, mismatch)
                    if s + rhy_match > h:
                        s += _rhythm_score(lq, lqp, lr2, lrp2, rhy_match, rhy_pen, rhy_free, fade)
                        if s > h:
                            h, mv = s, Q1R2
                if i >= 2:
                    base = Ha[j - 2] + wrong
                    if base + miss + rhy_match > h or abs(qa2 - ra2) < TOLERANT_HI:
                        s = base + _pitch_score(qa2, qw2, ra2, rw2, match, near, octave, mismatch)
                        if s + rhy_match > h:
                            s += _rhythm_score(lq2, lqp2, lr2, lrp2, rhy_match, rhy_pen, rhy_free, fade)
                            if s > h:
                                h, mv = s, Q2R2
            if i >= 2:
                base = Ha[j - 1] + frag
                if base + miss + rhy_match > h or abs(qa2 - ra) < TOLERANT_HI:
                    s = base + _pitch_score(qa2, qw2, ra, rw, match, near, octave, mismatch)
                    if s + rhy_match > h:
                        s += _rhythm_score(lq2, lqp2, lr, lrp, rhy_match, rhy_pen, rhy_free, fade)
                        if s > h:
                            h, mv = s, Q2R1
            if masked and mask[i, j]:
                h, mv, x, xm = 0.0, STOP, NEG, RUN_START
            Hc[j] = h
            Xc[j] = x
            if full:
                moves[i, j] = mv | (xm << 4)
            if h > best:
                best = h
    return best


@njit(cache=True, error_model="numpy")
def local_score(qi, ql, qw, qm, ri, rl, rw, rm, p, table, buf):
    """Best local-alignment score of query vs reference in O(n) memory (buf: float64 (6, >= n+1))."""
    m, n = qi.shape[0], ri.shape[0]
    Q = np.empty((N_ROWS, max(m, 1)))
    R = np.empty((N_ROWS, max(n, 1)))
    prepare(qi, ql, qw, qm, table, Q)
    prepare(ri, rl, rw, rm, table, R)
    return _local(Q, R, m, n, p, buf[0:3], buf[3:6], buf, False, _NO_MASK)


@njit(cache=True, error_model="numpy")
def local_matrix(qi, ql, qw, qm, ri, rl, rw, rm, p, table, mask):
    """Full local-alignment matrix H (m+1, n+1) and the move into every cell, for backtracing.

    mask: bool (m+1, n+1), cells forced to 0 (already used by earlier passages), or (1, 1) for none.
    """
    m, n = qi.shape[0], ri.shape[0]
    Q = np.empty((N_ROWS, max(m, 1)))
    R = np.empty((N_ROWS, max(n, 1)))
    prepare(qi, ql, qw, qm, table, Q)
    prepare(ri, rl, rw, rm, table, R)
    H = np.zeros((m + 1, n + 1))
    X = np.full((m + 1, n + 1), NEG)
    moves = np.zeros((m + 1, n + 1), dtype=np.int8)
    _local(Q, R, m, n, p, H, X, moves, True, mask)
    return H, moves


@njit(cache=True, error_model="numpy", nogil=True)
def search_scores(qi, ql, qw, qm, ri, rl, rw, rm, offsets, first, last, p, table, out):
    """Local-alignment score of the query against references first..last-1 of a packed catalog.

    Reference r's steps are ri[offsets[r]:offsets[r+1]] (likewise rl, rw, rm); its score goes to out[r].
    Releases the GIL: melody.align.search runs one call per core on disjoint ranges. (A plain nogil
    kernel on threads instead of prange: Numba loads it from its cache in milliseconds, not ~0.7 s.)
    """
    m = qi.shape[0]
    Q = np.empty((N_ROWS, max(m, 1)))
    prepare(qi, ql, qw, qm, table, Q)
    longest = 1
    for r in range(first, last):
        longest = max(longest, offsets[r + 1] - offsets[r])
    buf = np.empty((6, longest + 1))     # allocated once per call, reused for every reference
    R = np.empty((N_ROWS, longest))
    for r in range(first, last):
        a = offsets[r]
        b = offsets[r + 1]
        prepare(ri[a:b], rl[a:b], rw[a:b], rm[a:b], table, R)
        out[r] = _local(Q, R, m, b - a, p, buf[0:3], buf[3:6], buf, False, _NO_MASK)


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
