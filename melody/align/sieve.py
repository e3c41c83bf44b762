"""Pass 0 of catalog search: a cheap local alignment over every reference, to pick the blocks worth the
first pass (`melody.align.fast.prefilter_scores`) at all.

It reads the same interleaved block layout as the first pass (`fast.build_layout`: steps[column, field,
lane], LANES references per block), so it needs no storage of its own, and vectorises the same way (the
innermost loop runs over the lanes of a block, int16 scores, 16 lanes per AVX2 instruction). The score is a
local alignment in fixed point (1/fast.SCORE_UNIT point, saturating at fast.SATURATE), a cheaper cousin of the
first pass's:

- (1,1), pitch: equal intervals earn MATCH times the mean information weight of the two steps (the two half
  weights, as in the first pass), plus METRIC_MATCH when their arrival notes have the same metric class; a
  semitone apart NEAR; anything else MISMATCH (no octave case);
- (1,1), rhythm: RHY_MATCH when the log2 lengths, or the log2 lengths relative to the step before, agree
  within DUR_FREE (the first pass's test), else a flat penalty RHY_PEN / 2 (the first pass's cost of a 1:2
  ratio) instead of its interpolated curve;
- gaps ``(1,0)`` / ``(0,1)`` cost GAP;
- ``moves="summed"`` (the default) also (1,2) / (2,1) at FRAG and (2,2) at WRONG, scored only when the
  (summed) intervals are equal (their half weights; no rhythm), never otherwise. ``moves="diag"`` leaves
  them out: ~1.7x faster, but on the default catalog it keeps only ~2/3 of stage 1's top 10 in its top 1%
  (BENCHMARKS.md), because the full kernel's best matches use them, even for unrelated melodies.

Each query row computes its move score and its DP cell in one flat loop over (column, lane), with the cell
to the left a constant LANES entries back, so LLVM vectorises it without a dependence check.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ..errors import MelodyError
from ..represent import Features
from . import kernels as K
from .fast import (C_FRAG, C_FREE, C_GAP, C_HALF_W, C_METRIC, C_MISMATCH, C_NEAR, C_RHY_MATCH, C_WRONG, F_IV,
                   F_IV2, F_LEN, F_MET, F_REL, F_W, F_W2, LANES, Q_IV, Q_IV2, Q_LEN, Q_MET, Q_REL, Q_W, Q_W2,
                   SATURATE, SCORE_UNIT, check_layout, deal_blocks, half_weights, kernel_constants, query_table)

# The sieve's own int16 constants (scores in 1/SCORE_UNIT point).
S_NEAR, S_MISMATCH, S_GAP, S_RHY_MATCH, S_FREE, S_RHY_PEN, S_HALF_W, S_FRAG, S_WRONG, S_METRIC = range(10)
N_SIEVE_CONSTS = 10
# Decoded block, field-major: interval, half-weight score, log2 length, relative log2 length, summed interval,
# its half-weight score, metric class of the arrival note.
D_IV, D_W, D_LEN, D_REL, D_IV2, D_W2, D_MET = range(7)
N_DECODED = 7
MOVES = ("diag", "summed")

I16 = np.int16


def sieve_constants(params) -> np.ndarray:
    """The sieve's int16 constants S_* from alignment params (K.*), shared with the first pass where they
    mean the same (fast.kernel_constants)."""
    c = kernel_constants(params)
    s = np.zeros(N_SIEVE_CONSTS, dtype=np.int16)
    s[S_NEAR], s[S_MISMATCH], s[S_GAP] = c[C_NEAR], c[C_MISMATCH], c[C_GAP]
    s[S_RHY_MATCH], s[S_FREE], s[S_HALF_W] = c[C_RHY_MATCH], c[C_FREE], c[C_HALF_W]
    s[S_FRAG], s[S_WRONG], s[S_METRIC] = c[C_FRAG], c[C_WRONG], c[C_METRIC]
    s[S_RHY_PEN] = round(params[K.RHY_PEN] * 0.5 * SCORE_UNIT)
    return s


# ----------------------------------------------------------------------------------------------------
# kernel. As in fast: every intermediate is cast back to int16 so LLVM keeps the arithmetic 16 bits wide,
# indices are uint64 (no negative-index wraparound), and per-lane selects pick between freshly computed values.
# The DP rows are separate arrays: offsets into one array make LLVM's runtime overlap check fail, and it falls
# back to scalar code (~30x slower).


@njit(cache=True, nogil=True, error_model="numpy")
def _decode(steps, c0, ncol, half_w, S):
    """Block columns c0..c0+ncol-1 -> S, field-major (D_* fields, each ncol x LANES, flat), weights as
    half-weight scores."""
    nl = ncol * LANES
    for t in range(ncol):
        src = steps[c0 + t]
        base = t * LANES
        for lane in range(LANES):
            S[D_IV * nl + base + lane] = src[F_IV, lane]
            S[D_W * nl + base + lane] = np.int16((np.int32(src[F_W, lane]) * np.int32(half_w)) >> 8)
            S[D_LEN * nl + base + lane] = src[F_LEN, lane]
            S[D_REL * nl + base + lane] = src[F_REL, lane]
            S[D_IV2 * nl + base + lane] = src[F_IV2, lane]
            S[D_W2 * nl + base + lane] = np.int16((np.int32(src[F_W2, lane]) * np.int32(half_w)) >> 8)
            S[D_MET * nl + base + lane] = src[F_MET, lane]


# The row kernels spell their scores out: the same expressions in an inline="always" helper stop LLVM from
# vectorising the loop.


@njit(cache=True, nogil=True, error_model="numpy")
def _row_diag(qa, qw, lq, relq, qmet, S, n, Hp, Hc, B, near, mismatch, gap, rm, free, negpen, metric):
    """One query row against a decoded block with (1,1) moves and gaps. Hp, Hc: the previous and the current
    DP row, (n + 2) * LANES entries each (column j at (j + 1) * LANES; columns -1 and 0 are the boundary, 0);
    B: the best score seen so far in each column (n * LANES).

    (1,1): the two half weights for equal intervals (plus METRIC_MATCH when their arrival notes have the same
    metric class), NEAR a semitone apart, else MISMATCH; plus RHY_MATCH when the lengths (or relative lengths)
    agree, else the flat penalty."""
    L = uint64(LANES)
    NL = uint64(n) * L
    zero = I16(0)
    one = I16(1)
    top = I16(SATURATE)
    for k in range(NL):
        d = I16(abs(I16(qa - S[k])))
        off = near if d == one else mismatch
        bonus = metric if qmet == S[uint64(D_MET) * NL + k] else zero
        pitch = max(off, I16(I16(I16(qw + S[NL + k]) + bonus) - I16(min(d, one) * I16(30000))))
        dl = min(I16(abs(I16(lq - S[NL + NL + k]))), I16(abs(I16(relq - S[NL + NL + NL + k]))))
        rhythm = rm if dl < free else negpen
        h = I16(Hp[k + L] + I16(pitch + rhythm))
        h = max(h, I16(Hp[k + L + L] + gap))
        h = max(h, I16(Hc[k + L] + gap))
        h = min(max(h, zero), top)
        Hc[k + L + L] = h
        B[k] = max(B[k], h)


@njit(cache=True, nogil=True, error_model="numpy")
def _row_summed(qa, qw, lq, relq, qmet, qa2, qw2, S, n, Hpp, Hp, Hc, B, near, mismatch, gap, rm, free, negpen,
                metric, frag, wrong):
    """As _row_diag, plus the summed moves with exact pitch only (no rhythm): (1,2) and (2,1) cost FRAG,
    (2,2) WRONG, each earning the half weights of the two (summed) steps when their intervals are equal (else
    about -30000: never the best move). Hpp: the DP row before Hp."""
    L = uint64(LANES)
    NL = uint64(n) * L
    zero = I16(0)
    one = I16(1)
    no = I16(30000)
    top = I16(SATURATE)
    for k in range(NL):
        ra = S[k]
        rw = S[NL + k]
        ra2 = S[uint64(D_IV2) * NL + k]
        rw2 = S[uint64(D_W2) * NL + k]
        d = I16(abs(I16(qa - ra)))
        off = near if d == one else mismatch
        bonus = metric if qmet == S[uint64(D_MET) * NL + k] else zero
        pitch = max(off, I16(I16(I16(qw + rw) + bonus) - I16(min(d, one) * no)))
        dl = min(I16(abs(I16(lq - S[NL + NL + k]))), I16(abs(I16(relq - S[NL + NL + NL + k]))))
        rhythm = rm if dl < free else negpen
        s12 = I16(I16(frag + I16(qw + rw2)) - I16(min(I16(abs(I16(qa - ra2))), one) * no))
        s21 = I16(I16(frag + I16(qw2 + rw)) - I16(min(I16(abs(I16(qa2 - ra))), one) * no))
        s22 = I16(I16(wrong + I16(qw2 + rw2)) - I16(min(I16(abs(I16(qa2 - ra2))), one) * no))
        h = I16(Hp[k + L] + I16(pitch + rhythm))
        h = max(h, I16(Hp[k + L + L] + gap))
        h = max(h, I16(Hc[k + L] + gap))
        h = max(h, I16(Hp[k] + s12))
        h = max(h, I16(Hpp[k + L] + s21))
        h = max(h, I16(Hpp[k] + s22))
        h = min(max(h, zero), top)
        Hc[k + L + L] = h
        B[k] = max(B[k], h)


@njit(cache=True, nogil=True, error_model="numpy")
def _sieve_blocks(Q, m, steps, block_start, blocks, c, summed, out):
    """Sieve score of the query (Q: int16 rows Q_*, weights as half-weight scores) against every block in
    `blocks`; out[block * lanes + lane] = that lane's best cell (int16)."""
    lanes = steps.shape[2]
    longest = 1
    for k in range(blocks.shape[0]):
        b = blocks[k]
        longest = max(longest, block_start[b + 1] - block_start[b])
    S = np.empty(longest * N_DECODED * lanes, dtype=np.int16)
    Ha = np.empty((longest + 2) * lanes, dtype=np.int16)
    Hb = np.empty((longest + 2) * lanes, dtype=np.int16)
    Hd = np.empty((longest + 2) * lanes, dtype=np.int16)
    B = np.empty(longest * lanes, dtype=np.int16)
    near, mismatch, gap = c[S_NEAR], c[S_MISMATCH], c[S_GAP]
    rm, free, negpen = c[S_RHY_MATCH], c[S_FREE], I16(-c[S_RHY_PEN])
    frag, wrong, metric = c[S_FRAG], c[S_WRONG], c[S_METRIC]
    for k in range(blocks.shape[0]):
        b = blocks[k]
        c0 = block_start[b]
        n = block_start[b + 1] - c0
        if n == 0:
            for lane in range(lanes):
                out[b * lanes + lane] = 0
            continue
        _decode(steps, c0, n, c[S_HALF_W], S)
        for j in range((n + 2) * lanes):
            Ha[j] = I16(0)
            Hb[j] = I16(0)
            Hd[j] = I16(0)
        for j in range(n * lanes):
            B[j] = I16(0)
        Hpp, Hp, Hc = Hd, Ha, Hb
        for i in range(m):
            if summed:
                _row_summed(Q[Q_IV, i], Q[Q_W, i], Q[Q_LEN, i], Q[Q_REL, i], Q[Q_MET, i], Q[Q_IV2, i], Q[Q_W2, i],
                            S, n, Hpp, Hp, Hc, B, near, mismatch, gap, rm, free, negpen, metric, frag, wrong)
            else:
                _row_diag(Q[Q_IV, i], Q[Q_W, i], Q[Q_LEN, i], Q[Q_REL, i], Q[Q_MET, i], S, n, Hp, Hc, B,
                          near, mismatch, gap, rm, free, negpen, metric)
            Hpp, Hp, Hc = Hp, Hc, Hpp
        for lane in range(lanes):
            top = np.int16(0)
            for j in range(n):
                top = max(top, B[j * lanes + lane])
            out[b * lanes + lane] = top


def sieve_scores(query: Features, layout: dict[str, np.ndarray], params=None, workers: int | None = None,
                 moves: str = "summed") -> np.ndarray:
    """Pass-0 score of the query against every catalog row of a layout (float32 points, catalog row order,
    as `fast.prefilter_scores` returns them).

    A cheaper local alignment than the first pass's (see the module docstring; ~2.5x fewer cycles per cell):
    rank the rows by reduced score (`melody.score.significance.reduced_scores` with their step counts, as
    stage 1 ranks), keep the best 1-2% and score them with `fast.prefilter_scores` on a layout of their own
    (`fast.regroup`; BENCHMARKS.md: recall of stage 1's top 10). params: alignment params (melody.align.DEFAULT_PARAMS when
    None); moves: "summed" or "diag"; workers: threads (default: all cores).
    """
    from . import _check
    p = _check(params)
    if moves not in MOVES:
        raise MelodyError(f"moves must be one of {', '.join(MOVES)}, got {moves!r}")
    if workers is not None and int(workers) < 1:
        raise MelodyError(f"workers must be at least 1, got {workers}")
    lanes, n_rows = check_layout(layout)
    steps, block_start, rows = layout["steps"], layout["block_start"], layout["rows"]
    out = np.zeros(n_rows, dtype=np.float32)
    n_blocks = len(block_start) - 1
    if len(query) == 0 or n_blocks == 0:
        return out
    consts = sieve_constants(p)
    first_pass = kernel_constants(p)
    Q = query_table(query)
    Q[Q_W] = half_weights(Q[Q_W], first_pass)      # each side brings half of MATCH * (qw + rw)
    Q[Q_W2] = half_weights(Q[Q_W2], first_pass)
    summed = moves == "summed"
    lane_scores = np.zeros(n_blocks * lanes, dtype=np.int16)
    m = len(query)
    deal_blocks(lambda part: _sieve_blocks(Q, m, steps, block_start, part, consts, summed, lane_scores),
                np.arange(n_blocks), workers)
    valid = rows >= 0
    out[rows[valid]] = lane_scores[valid].astype(np.float32) / SCORE_UNIT
    return out
