"""Transposition-consistent local alignment of absolute pitch (the re-scoring stage of a search).

Interval alignment is transposition-invariant, but one wrong note spoils two intervals, and two melodies
can share an interval sequence locally while drifting apart in key. Here the notes themselves are aligned
after a transposition T: a note pair scores PITCH_MATCH when ``q - r == T``, less when it agrees only up
to whole octaves, PITCH_NEAR when one or two semitones off (a changed note) and PITCH_MISMATCH otherwise.
The kernel keeps one DP layer per transposition (the twelve consecutive semitones around the difference of
the two melodies' median pitches, so every pitch class of T is tried once) and returns the best of them:
a match must keep one transposition throughout.

Moves (over steps, as in `kernels._local`; a cell (i, j) aligns the arrival notes of query step i and
reference step j): (1,1); (2,1) / (1,2), a note of one melody skipped (ornament, passing note, split
note) with the summed lengths compared; gaps (1,0) / (0,1). A wrong note is a (1,1) pair that misses, so
it costs one note, not two intervals. Rhythm uses `kernels._rhythm_score` on the same prepared step rows,
and a pitch match whose notes sit at the same metric position earns PITCH_METRIC.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import kernels as K

P_MATCH, P_OCTAVE, P_NEAR, P_MISMATCH, P_GAP, P_SKIP, P_RHY_MATCH, P_RHY_PEN, P_DUR_FREE, P_METRIC = range(10)
N_PITCH_PARAMS = 10
N_TRANSPOSITIONS = 12


SPAN = 300                      # pitch-score tables cover differences -SPAN..SPAN


@njit(cache=True, error_model="numpy")
def pitch_tables(p):
    """Score of a note pair whose pitches differ by e semitones from the transposition (index e + SPAN),
    without and with the metric bonus (the bonus only for pitch matches, octaves included)."""
    tab = np.empty((2, 2 * SPAN + 1))
    for idx in range(2 * SPAN + 1):
        e = idx - SPAN
        if e == 0:
            v = p[P_MATCH]
        elif e % 12 == 0:
            v = p[P_OCTAVE]
        elif -2 <= e <= 2:
            v = p[P_NEAR]
        else:
            v = p[P_MISMATCH]
        tab[0, idx] = v
        tab[1, idx] = v + (p[P_METRIC] if e % 12 == 0 else 0.0)
    return tab


@njit(cache=True, error_model="numpy")
def _pitch_local(qp, Q, m, rp, R, n, base, p, tab, H):
    """Best score over the 12 transpositions base-6 .. base+5 (and their octaves) of the pitch alignment.

    qp / rp: integer pitches of the m+1 / n+1 notes; Q / R: prepared step rows (kernels.prepare);
    tab: pitch_tables(p); H: float64 (3, >= n+1, 12) work buffer (rows reused modulo 3).
    """
    gap, skip = p[P_GAP], p[P_SKIP]
    rhy_match, rhy_pen = p[P_RHY_MATCH], p[P_RHY_PEN]
    rhy_free = -np.log2(1.0 - p[P_DUR_FREE])
    T = N_TRANSPOSITIONS
    for r in range(3):
        for j in range(n + 1):
            for k in range(T):
                H[r, j, k] = 0.0
    off = SPAN - (base - 6)          # tab[qp - rp + off - k]: transposition base - 6 + k
    best = 0.0
    for i in range(1, m + 1):
        c, b, a = i % 3, (i - 1) % 3, (i - 2) % 3
        Hc, Hb, Ha = H[c], H[b], H[a]
        for k in range(T):
            Hc[0, k] = 0.0
        s = i - 1
        lq, lqp, qmet = Q[K.LOGLEN, s], Q[K.LOGPREV, s], Q[K.MET, s]
        lq2, lqp2 = Q[K.LOGLEN2, s], Q[K.LOGPREV2, s]
        qpi = qp[i]
        for j in range(1, n + 1):
            t = j - 1
            lr, lrp = R[K.LOGLEN, t], R[K.LOGPREV, t]
            r11 = K._rhythm_score(lq, lqp, lr, lrp, rhy_match, rhy_pen, rhy_free)
            r21 = K.NEG
            r12 = K.NEG
            if i >= 2:
                r21 = skip + K._rhythm_score(lq2, lqp2, lr, lrp, rhy_match, rhy_pen, rhy_free)
            j2 = 0
            if j >= 2:
                j2 = j - 2
                r12 = skip + K._rhythm_score(lq, lqp, R[K.LOGLEN2, t], R[K.LOGPREV2, t], rhy_match, rhy_pen,
                                             rhy_free)
            tb = tab[1] if (qmet >= 0.0 and qmet == R[K.MET, t]) else tab[0]
            d = min(max(qpi - rp[j] + off, T - 1), 2 * SPAN)
            Hb1, Hb0, Ha1, Hb2, Hc1, Hcj = Hb[j - 1], Hb[j], Ha[j - 1], Hb[j2], Hc[j - 1], Hc[j]
            for k in range(T):
                h = max(max(Hb1[k] + r11, Ha1[k] + r21), Hb2[k] + r12) + tb[d - k]
                h = max(max(h, max(Hb0[k], Hc1[k]) + gap), 0.0)
                Hcj[k] = h
                best = max(best, h)
    return best


@njit(cache=True, error_model="numpy", nogil=True)
def pitch_scores(qp, qi, ql, qw, qm, rp, ri, rl, rw, rm, note_offsets, step_offsets, rows, p, table, out):
    """Pitch-alignment score of the query against the packed references listed in `rows` (into out[k]).

    qp: integer query pitches (notes); qi, ql, qw, qm its steps (as for kernels.search_scores); rp the
    references' integer pitches, notes of row r at note_offsets[r]:note_offsets[r+1], steps at
    step_offsets[r]:step_offsets[r+1].
    """
    m = qi.shape[0]
    Q = np.empty((K.N_ROWS, max(m, 1)))
    K.prepare(qi, ql, qw, qm, table, Q)
    qmed = np.median(qp.astype(np.float64))
    longest = 1
    for k in range(rows.shape[0]):
        r = rows[k]
        longest = max(longest, step_offsets[r + 1] - step_offsets[r])
    H = np.empty((3, longest + 1, N_TRANSPOSITIONS))
    tab = pitch_tables(p)
    R = np.empty((K.N_ROWS, longest))
    for k in range(rows.shape[0]):
        r = rows[k]
        a, b = step_offsets[r], step_offsets[r + 1]
        na, nb = note_offsets[r], note_offsets[r + 1]
        if b - a < 1 or m < 1:
            out[k] = 0.0
            continue
        K.prepare(ri[a:b], rl[a:b], rw[a:b], rm[a:b], table, R)
        rpr = rp[na:nb]
        base = int(np.rint(qmed - np.median(rpr.astype(np.float64))))
        out[k] = _pitch_local(qp, Q, m, rpr, R, b - a, base, p, tab, H)
