"""Pass 0 of catalog search: a cheap local alignment over every reference, to pick the blocks worth the
first pass (`melody.align.fast.prefilter_scores`) at all.

It works on the first pass's blocks (`fast.build_layout`: LANES references of similar length per block) and
vectorises the same way (the innermost loop runs over the lanes of a block). Two kernels compute the score:

- the 8-bit kernel (the default, ``bits=8``; SWIPE's scheme, Rognes 2011): uint8 scores in 1/U8_UNIT point,
  32 lanes per AVX2 instruction, saturating adds and subtracts, every move score stored with a bias so that
  it is never negative; it reads the layout's 8-bit copy (`sieve_layout`, layout["sieve8"]: 7 bytes per
  step and lane against the int16 layout's 18, what a million-melody search reads per query). A lane whose
  best cell reaches 255 - bias may have saturated: its block is aligned again by
- the int16 kernel (``bits=16``: int16 scores in 1/fast.SCORE_UNIT point, saturating at fast.SATURATE, 16
  lanes per instruction), on the int16 layout itself.

On the 100k synthetic catalog the 8-bit kernel is ~2.5x faster per core and ranks as well (BENCHMARKS.md:
its coarser unit keeps stage 1's top 10 as often). The score is a local alignment, a cheaper cousin of the
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
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic

from ..errors import MelodyError
from ..represent import Features
from . import kernels as K
from .fast import (C_FRAG, C_FREE, C_GAP, C_HALF_W, C_METRIC, C_MISMATCH, C_NEAR, C_RHY_MATCH, C_WRONG, F_IV,
                   F_IV2, F_LEN, F_MET, F_REL, F_W, F_W2, LANES, Q_IV, Q_IV2, Q_LEN, Q_MET, Q_REL, Q_W, Q_W2,
                   SATURATE, SCORE_UNIT, W_UNIT, CLIP, check_layout, deal_blocks, half_weights, kernel_constants,
                   query_table)

# The sieve's own int16 constants (scores in 1/SCORE_UNIT point).
S_NEAR, S_MISMATCH, S_GAP, S_RHY_MATCH, S_FREE, S_RHY_PEN, S_HALF_W, S_FRAG, S_WRONG, S_METRIC = range(10)
N_SIEVE_CONSTS = 10
# Decoded block, field-major: interval, half-weight score, log2 length, relative log2 length, summed interval,
# its half-weight score, metric class of the arrival note.
D_IV, D_W, D_LEN, D_REL, D_IV2, D_W2, D_MET = range(7)
N_DECODED = 7
MOVES = ("diag", "summed")
CLIP_W = 160            # stored weights above 10 bits count as 10 bits in the 8-bit kernel

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


# ----------------------------------------------------------------------------------------------------
# 8-bit sieve (SWIPE's scheme, Rognes 2011): the same recurrence in uint8 scores of 1/U8_UNIT point, 32 lanes
# per AVX2 instruction (twice the int16 kernel's), with saturating adds and subtracts (LLVM's uadd.sat /
# usub.sat intrinsics: vpaddusb / vpsubusb). Every move score is stored with a bias added (U8_BIAS, the
# largest move penalty) so that it is never negative; a cell is max over its moves of (cell before + biased
# move score), minus the bias once (max and a saturating subtract commute), which also floors it at 0. A
# lane whose best cell reaches 255 - bias may have saturated: its block is aligned again by the int16 kernel.

U8_UNIT = 4             # 8-bit scores: 1/4 point
U8_IV_CLIP = 100        # intervals clipped to +-100 semitones, + 128 ...
U8_LEN_CLIP = 110       # log2 lengths to +-110/16 octaves, + 128 (18..238); reference sentinel 255
U8_FREE_MAX = 9         # the widest length tolerance (stored units) the 8-bit kernel takes: see query_table_u8
U8_REF_PAD, U8_QUERY_PAD = 255, 0
U8_OFFSET = 128
# Metric classes: real classes from 3, reference unknown 2, padding 1, query unknown 0.
U8_MET_FIRST = 3
# The 8-bit kernel's constants (uint8, biased; see sieve_constants_u8).
(U_NEAR, U_MISMATCH, U_GAP, U_RHY_MATCH, U_RHY_PEN, U_FREE, U_HALF_W, U_FRAG, U_WRONG, U_METRIC, U_BIAS,
 U_CAP) = range(12)
N_U8_CONSTS = 12


def _saturating(name):
    """An LLVM saturating uint8 intrinsic as a Numba function of two uint8 (vectorises to one instruction)."""
    @intrinsic
    def op(typingctx, a, b):
        def codegen(context, builder, signature, args):
            i8 = ir.IntType(8)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i8, [i8, i8]), name)
            return builder.call(fn, args)
        return types.uint8(types.uint8, types.uint8), codegen
    return op


adds_u8 = _saturating("llvm.uadd.sat.i8")      # min(a + b, 255)
subs_u8 = _saturating("llvm.usub.sat.i8")      # max(a - b, 0)
U8 = np.uint8


def sieve_constants_u8(params) -> np.ndarray | None:
    """The 8-bit kernel's constants U_* (scores in 1/U8_UNIT point, biased by U_BIAS), or None when params
    do not fit 8 bits (then the int16 kernel runs alone)."""
    p = params
    unit = U8_UNIT

    def pts(x):
        return round(float(x) * unit)

    near, mismatch, gap = pts(p[K.NEAR]), pts(p[K.MISMATCH]), pts(p[K.GAP])
    rm, pen = pts(p[K.RHY_MATCH]), pts(p[K.RHY_PEN] * 0.5)
    frag, wrong, metric = pts(p[K.FRAG]), pts(p[K.WRONG]), pts(p[K.METRIC_MATCH])
    half_w = round(p[K.MATCH] * unit / 2 * 256 / W_UNIT)
    free = int(kernel_constants(p)[C_FREE])
    bias = max(0, -gap, pen - min(near, mismatch), -frag, -wrong)
    top_half = (CLIP_W * half_w + 128) >> 8               # largest half weight
    largest = bias + 2 * top_half + max(metric, 0) + max(rm, 0)
    if (near > 0 or mismatch > 0 or rm < -pen or pen < 0 or metric < 0 or half_w < 0 or free > U8_FREE_MAX
            or largest > 120 or bias > 60):
        return None
    u = np.zeros(N_U8_CONSTS, dtype=np.int64)
    u[U_NEAR], u[U_MISMATCH], u[U_GAP] = bias + near, bias + mismatch, bias + gap
    u[U_RHY_MATCH], u[U_RHY_PEN] = rm % 256, (-pen) % 256          # added with wraparound to a biased pitch score
    u[U_FREE], u[U_HALF_W], u[U_METRIC] = free, half_w, metric
    u[U_FRAG], u[U_WRONG] = bias + frag, bias + wrong
    u[U_BIAS], u[U_CAP] = bias, 255 - bias
    return u.astype(np.uint8)


# The 8-bit kernel's block layout (`sieve_layout`): per block, field-major, each field ncol x LANES uint8.
E_IV, E_LEN, E_REL, E_IV2, E_MET, E_W, E_W2 = range(7)
N_U8_FIELDS = 7


@njit(cache=True, nogil=True, error_model="numpy")
def _u8_of(v, clip, sentinel):
    """An int16 layout value -> uint8: clipped to +-clip and offset by U8_OFFSET, or `sentinel` beyond +-CLIP."""
    if v > CLIP or v < -CLIP:
        return U8(sentinel)
    return U8(min(max(np.int64(v), -clip), clip) + U8_OFFSET)


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_u8(steps, block_start, out):
    """Write every block of the int16 layout as 8-bit fields E_* (see sieve_layout)."""
    for b in range(block_start.shape[0] - 1):
        c0 = block_start[b]
        n = block_start[b + 1] - c0
        base0 = c0 * N_U8_FIELDS * LANES
        nl = n * LANES
        for t in range(n):
            src = steps[c0 + t]
            for lane in range(LANES):
                at = base0 + t * LANES + lane
                out[at + E_IV * nl] = _u8_of(src[F_IV, lane], U8_IV_CLIP, U8_REF_PAD)
                out[at + E_LEN * nl] = _u8_of(src[F_LEN, lane], U8_LEN_CLIP, U8_REF_PAD)
                out[at + E_REL * nl] = _u8_of(src[F_REL, lane], U8_LEN_CLIP, U8_REF_PAD)
                out[at + E_IV2 * nl] = _u8_of(src[F_IV2, lane], U8_IV_CLIP, U8_REF_PAD)
                m = src[F_MET, lane]
                out[at + E_MET * nl] = U8(min(np.int64(m), 250) + U8_MET_FIRST) if m >= 0 else U8(2 if m == -1 else 1)
                out[at + E_W * nl] = U8(min(max(np.int64(src[F_W, lane]), 0), CLIP_W))
                out[at + E_W2 * nl] = U8(min(max(np.int64(src[F_W2, lane]), 0), CLIP_W))


def sieve_layout(layout: dict[str, np.ndarray]) -> np.ndarray:
    """The 8-bit kernel's copy of a layout's blocks (uint8, flat; block b at block_start[b] * N_U8_FIELDS *
    LANES, its fields E_* one after the other, each ncol x LANES): intervals and log2 lengths clipped to
    +-U8_IV_CLIP / +-U8_LEN_CLIP and offset by U8_OFFSET, sentinels 255; metric classes from U8_MET_FIRST
    (unknown 2, padding 1); weights in 1/W_UNIT bit up to CLIP_W. 7 bytes per step and lane against the int16
    layout's 18: what a sieve reads per query. Save it with the layout as layout["sieve8"]."""
    lanes, _ = check_layout(layout)
    block_start = np.asarray(layout["block_start"])
    out = np.empty(int(block_start[-1]) * N_U8_FIELDS * lanes, dtype=np.uint8)
    _fill_u8(np.asarray(layout["steps"]), block_start, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _row_u8(qa, qa_up, qa_dn, qwb, lo_len, lo_rel, qmet, qa2, c12, c21, c22, S, Wd, n, Hpp, Hp, Hc, B, near, mismatch,
            gap, rm, pen, free, metric, bias):
    """One query row against an 8-bit block (S: its E_* fields; Wd: its two weight fields as half-weight
    scores), every move of _row_summed. Per-row constants: qa, qa2 the query's (summed) interval; qa_up / qa_dn
    = qa +- 1; qwb = bias + its half weight; lo_len / lo_rel the low ends of its length windows; c12 = bias +
    FRAG + qw, c21 = bias + FRAG + qw2, c22 = bias + WRONG + qw2 (the reference's half weight is added per
    cell)."""
    L = uint64(LANES)
    NL = uint64(n) * L
    span = U8(free + free - U8(2))
    for k in range(NL):
        ra = S[k]
        ra2 = S[uint64(E_IV2) * NL + k]
        rw = Wd[k]
        rw2 = Wd[NL + k]
        eq = ra == qa
        off = near if (ra == qa_up) | (ra == qa_dn) else mismatch
        bonus = metric if qmet == S[uint64(E_MET) * NL + k] else U8(0)
        # every biased exact-match score exceeds `off`: a max, not a select that would sink the load of the weight
        pitch = max(off, U8(U8(U8(qwb + rw) + bonus) & (U8(255) if eq else U8(0))))
        # |lq - l| < free  <=>  (l - lo_len) mod 256 <= 2 free - 2, lo_len = lq - free + 1 (query_table_u8)
        d1 = U8(S[uint64(E_LEN) * NL + k] - lo_len)
        d2 = U8(S[uint64(E_REL) * NL + k] - lo_rel)
        rhythm = rm if (min(d1, span) == d1) | (min(d2, span) == d2) else pen
        h = adds_u8(Hp[k + L], U8(pitch + rhythm))
        h = max(h, adds_u8(Hp[k + L + L], gap))
        h = max(h, adds_u8(Hc[k + L], gap))
        h = max(h, U8(adds_u8(Hp[k], U8(c12 + rw2)) & (U8(255) if qa == ra2 else U8(0))))
        h = max(h, U8(adds_u8(Hpp[k + L], U8(c21 + rw)) & (U8(255) if qa2 == ra else U8(0))))
        h = max(h, U8(adds_u8(Hpp[k], U8(c22 + rw2)) & (U8(255) if qa2 == ra2 else U8(0))))
        h = subs_u8(h, bias)
        Hc[k + L + L] = h
        B[k] = max(B[k], h)


@njit(cache=True, nogil=True, error_model="numpy")
def _half_u8(S, NL, half_w, Wd):
    """The block's two weight fields (1/W_UNIT bit) -> half-weight scores in 1/U8_UNIT point, rounded."""
    for k in range(NL + NL):
        Wd[k] = U8((np.int32(S[uint64(E_W) * NL + k]) * np.int32(half_w) + np.int32(128)) >> 8)


@njit(cache=True, nogil=True, error_model="numpy")
def _lane_best_u8(B, n, out, at):
    """out[at + lane] = the best of B's n columns in that lane (column-major: vectorised over the lanes)."""
    L = uint64(LANES)
    for lane in range(L):
        out[uint64(at) + lane] = B[lane]
    for j in range(uint64(1), uint64(n)):
        for lane in range(L):
            out[uint64(at) + lane] = max(out[uint64(at) + lane], B[j * L + lane])


@njit(cache=True, nogil=True, error_model="numpy")
def _sieve_blocks_u8(Q8, m, S8, block_start, blocks, u, out):
    """8-bit sieve score of the query (Q8: uint8 rows R_*) against every block in `blocks` of an 8-bit
    layout S8 (sieve_layout); out[block * LANES + lane] = that lane's best cell (uint8; U_CAP or more: may
    have saturated)."""
    lanes = LANES
    longest = 1
    for k in range(blocks.shape[0]):
        b = blocks[k]
        longest = max(longest, block_start[b + 1] - block_start[b])
    Wd = np.empty(2 * longest * lanes, dtype=np.uint8)
    Ha = np.empty((longest + 2) * lanes, dtype=np.uint8)
    Hb = np.empty((longest + 2) * lanes, dtype=np.uint8)
    Hd = np.empty((longest + 2) * lanes, dtype=np.uint8)
    B = np.empty(longest * lanes, dtype=np.uint8)
    near, mismatch, gap, bias = u[U_NEAR], u[U_MISMATCH], u[U_GAP], u[U_BIAS]
    rm, pen, free, metric = u[U_RHY_MATCH], u[U_RHY_PEN], u[U_FREE], u[U_METRIC]
    for k in range(blocks.shape[0]):
        b = blocks[k]
        c0 = block_start[b]
        n = block_start[b + 1] - c0
        if n == 0:
            for lane in range(lanes):
                out[b * lanes + lane] = 0
            continue
        NL = n * lanes
        S = S8[c0 * N_U8_FIELDS * lanes:(c0 + n) * N_U8_FIELDS * lanes]
        _half_u8(S, uint64(NL), u[U_HALF_W], Wd)
        for j in range((n + 2) * lanes):
            Ha[j] = U8(0)
            Hb[j] = U8(0)
            Hd[j] = U8(0)
        for j in range(NL):
            B[j] = U8(0)
        Hpp, Hp, Hc = Hd, Ha, Hb
        for i in range(m):
            _row_u8(Q8[R_IV, i], Q8[R_IV_UP, i], Q8[R_IV_DN, i], Q8[R_QWB, i], Q8[R_LEN_LO, i], Q8[R_REL_LO, i],
                    Q8[R_MET, i], Q8[R_IV2, i], Q8[R_C12, i], Q8[R_C21, i], Q8[R_C22, i], S, Wd, n, Hpp, Hp, Hc, B,
                    near, mismatch, gap, rm, pen, free, metric, bias)
            Hpp, Hp, Hc = Hp, Hc, Hpp
        _lane_best_u8(B, n, out, b * lanes)


# Query rows of the 8-bit kernel (uint8, one column per query step).
R_IV, R_IV_UP, R_IV_DN, R_QWB, R_LEN_LO, R_REL_LO, R_MET, R_IV2, R_C12, R_C21, R_C22 = range(11)
N_R = 11


def query_table_u8(Q: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The query's int16 rows Q_* (fast.query_table, weights still in 1/W_UNIT bit) -> the 8-bit kernel's
    uint8 rows R_* (per-row constants with the bias folded in)."""
    R = np.zeros((N_R, Q.shape[1]), dtype=np.uint8)
    _fill_query_u8(Q, u, R)
    return R


@njit(cache=True, error_model="numpy")
def _fill_query_u8(Q, u, R):
    """query_table_u8's rows, one query step at a time."""
    bias = np.int64(u[U_BIAS])
    free = np.int64(u[U_FREE])
    for i in range(Q.shape[1]):
        h0 = (min(max(np.int64(Q[Q_W, i]), 0), CLIP_W) * np.int64(u[U_HALF_W]) + 128) >> 8
        h1 = (min(max(np.int64(Q[Q_W2, i]), 0), CLIP_W) * np.int64(u[U_HALF_W]) + 128) >> 8
        iv = np.int64(_u8_of(Q[Q_IV, i], U8_IV_CLIP, U8_QUERY_PAD))
        R[R_IV, i], R[R_IV_UP, i], R[R_IV_DN, i] = U8(iv), U8(iv + 1), U8(iv - 1)
        R[R_QWB, i] = U8(bias + h0)
        # the low end of each length window (a reference length l matches when (l - lo) mod 256 <= 2 free -
        # 2); no step before: lo 0, a window below every stored length (from 128 - U8_LEN_CLIP = 18 > 2
        # U8_FREE_MAX - 2)
        for row, field in ((R_LEN_LO, Q_LEN), (R_REL_LO, Q_REL)):
            v = np.int64(Q[field, i])
            R[row, i] = 0 if abs(v) > CLIP else U8(min(max(v, -U8_LEN_CLIP), U8_LEN_CLIP) + U8_OFFSET - free + 1)
        met = np.int64(Q[Q_MET, i])
        R[R_MET, i] = U8(min(met, 250) + U8_MET_FIRST) if met >= 0 else U8(0)
        R[R_IV2, i] = _u8_of(Q[Q_IV2, i], U8_IV_CLIP, U8_QUERY_PAD)
        R[R_C12, i] = U8(np.int64(u[U_FRAG]) + h0)
        R[R_C21, i] = U8(np.int64(u[U_FRAG]) + h1)
        R[R_C22, i] = U8(np.int64(u[U_WRONG]) + h1)


_CONSTANTS: dict[bytes, tuple] = {}


def _constants(p: np.ndarray) -> tuple:
    """(sieve_constants, fast.kernel_constants, sieve_constants_u8) of params p, kept per params: computing
    them costs ~0.7 ms, as much as sieving a few thousand melodies."""
    key = np.ascontiguousarray(p, dtype=np.float64).tobytes()
    got = _CONSTANTS.get(key)
    if got is None:
        if len(_CONSTANTS) > 64:
            _CONSTANTS.clear()
        got = _CONSTANTS[key] = (sieve_constants(p), kernel_constants(p), sieve_constants_u8(p))
    return got


def sieve_scores(query: Features, layout: dict[str, np.ndarray], params=None, workers: int | None = None,
                 moves: str = "summed", bits: int = 8) -> np.ndarray:
    """Pass-0 score of the query against every catalog row of a layout (float32 points, catalog row order,
    as `fast.prefilter_scores` returns them).

    A cheaper local alignment than the first pass's (see the module docstring; ~2.5x fewer cycles per cell):
    rank the rows by reduced score (`melody.score.significance.reduced_scores` with their step counts, as
    stage 1 ranks), keep the best 1-2% and score them with `fast.prefilter_scores` on a layout of their own
    (`fast.regroup`; BENCHMARKS.md: recall of stage 1's top 10). params: alignment params (melody.align.DEFAULT_PARAMS when
    None); moves: "summed" or "diag"; workers: threads (default: all cores).

    bits=8 (moves="summed" only): the 8-bit kernel scores every block in 1/U8_UNIT point, and the blocks
    where a lane may have saturated are scored again by the int16 kernel (1/SCORE_UNIT point); bits=16: the
    int16 kernel everywhere. Params that do not fit 8 bits fall back to 16.
    """
    lane_scores = sieve_lane_scores(query, layout, params, workers, moves, bits)
    _, n_rows = check_layout(layout)
    out = np.zeros(n_rows, dtype=np.float32)
    rows = np.asarray(layout["rows"])
    valid = rows >= 0
    out[rows[valid]] = lane_scores[valid]
    return out


def sieve_lane_scores(query: Features, layout: dict[str, np.ndarray], params=None, workers: int | None = None,
                      moves: str = "summed", bits: int = 8) -> np.ndarray:
    """`sieve_scores` in the layout's lane order (float32 points, one per block lane; layout["rows"] says
    which catalog row each lane holds, -1 an empty lane scoring 0): what a caller that ranks every row
    works on, without scattering a million scores into row order first."""
    from . import _check
    p = _check(params)
    if moves not in MOVES:
        raise MelodyError(f"moves must be one of {', '.join(MOVES)}, got {moves!r}")
    if bits not in (8, 16):
        raise MelodyError(f"bits must be 8 or 16, got {bits!r}")
    if workers is not None and int(workers) < 1:
        raise MelodyError(f"workers must be at least 1, got {workers}")
    lanes, n_rows = check_layout(layout)
    steps, block_start = layout["steps"], layout["block_start"]
    n_blocks = len(block_start) - 1
    out = np.zeros(n_blocks * lanes, dtype=np.float32)
    if len(query) == 0 or n_blocks == 0:
        return out
    consts, first_pass, u = _constants(p)
    Q = query_table(query)
    m = len(query)
    summed = moves == "summed"
    u = u if bits == 8 and summed else None
    redo = np.arange(n_blocks)
    if u is not None:
        S8 = layout.get("sieve8")
        if S8 is None:
            S8 = sieve_layout(layout)
        elif S8.dtype != np.uint8 or S8.shape != (int(block_start[-1]) * N_U8_FIELDS * lanes,):
            raise MelodyError("layout's sieve8 does not fit its blocks; rebuild it with sieve_layout")
        Q8 = query_table_u8(Q, u)
        lane8 = np.zeros(n_blocks * lanes, dtype=np.uint8)
        deal_blocks(lambda part: _sieve_blocks_u8(Q8, m, S8, block_start, part, u, lane8), redo, workers)
        np.multiply(lane8, np.float32(1.0 / U8_UNIT), out=out)
        redo = np.flatnonzero((lane8 >= u[U_CAP]).reshape(n_blocks, lanes).any(axis=1))
        if len(redo) == 0:
            return out
    Q[Q_W] = half_weights(Q[Q_W], first_pass)      # each side brings half of MATCH * (qw + rw)
    Q[Q_W2] = half_weights(Q[Q_W2], first_pass)
    lane16 = np.zeros(n_blocks * lanes, dtype=np.int16)
    deal_blocks(lambda part: _sieve_blocks(Q, m, steps, block_start, part, consts, summed, lane16), redo, workers)
    if len(redo) == n_blocks:
        np.multiply(lane16, np.float32(1.0 / SCORE_UNIT), out=out)
    else:
        at = (redo[:, None] * lanes + np.arange(lanes)).ravel()
        out[at] = lane16[at].astype(np.float32) / SCORE_UNIT
    return out
