"""A fast first pass for catalog search: local alignment across references in SIMD lanes.

`melody.align.kernels._local` scores one reference at a time; its inner loop runs along the reference with
branches and cannot use the CPU's vector units. Here, as in SWIPE (Rognes 2011, inter-sequence SIMD), the
references are grouped into blocks of LANES melodies of similar length and their steps stored
interleaved, ``steps[column, field, lane]``: one DP cell of a block is LANES independent cells, one per
reference, and the innermost loop runs over the lanes with no branch (compares, selects, max, min), which
LLVM turns into AVX2 code on int16 scores (16 lanes per instruction).

The score is `_local`'s, in fixed point (int16, 1/SCORE_UNIT point, saturating at SATURATE):

- ``(1,1)``: pitch (equal intervals earn MATCH times the mean information weight; NEAR / OCTAVE /
  MISMATCH otherwise) + rhythm (RHY_MATCH when the log2 lengths, or the log2 lengths relative to the step
  before, agree within DUR_FREE, else minus RHY_PEN * (1 - 2^-difference), read off a piecewise-linear
  interpolation of that curve) + METRIC_MATCH for equal intervals at the same metric position;
- gaps ``(1,0)`` / ``(0,1)``; ``(1,2)`` / ``(2,1)`` (FRAG + the pitch and rhythm scores of the summed step
  against the single one) and ``(2,2)`` (WRONG + the scores of the two sums): without them the ranking of
  varied copies is far worse (BENCHMARKS.md);
- not the exact-run state (RUN_BONUS; 0 in DEFAULT_PARAMS, where it cannot change a score).

Inputs are quantised (intervals to semitones, log2 lengths to 1/16 octave, weights to 1/16 bit), so a layout
is compact (int16, 18 bytes per step and lane) and can be saved as .npy and memory-mapped; each block is
copied into a scratch buffer with the weights scaled to scores just before it is aligned.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, uint64

from ..commonness import WEIGHT_TABLE
from ..errors import MelodyError
from ..represent import Features
from . import kernels as K

LANES = 32              # references per block (2 AVX2 registers of int16; 16 and 64 measured slower)
LEN_UNIT = 16           # stored log2 lengths: 1/16 octave
W_UNIT = 16             # stored weights: 1/16 bit
LAYOUT_VERSION = 1

# Fields of a stored reference column (int16): interval, interval summed with the step before, log2
# length, log2 length minus the previous step's, the same two for the summed step, weight, weight of the
# summed step, metric class of the arrival note.
F_IV, F_IV2, F_LEN, F_REL, F_LEN2, F_REL2, F_W, F_W2, F_MET = range(9)
N_FIELDS = 9
PAD_IV = 10000          # interval of a padding column or of a missing summed step: matches nothing
NO_REL = 20000          # "no step before" (reference side; the query side uses -NO_REL // 2)
PAD_LEN = 20000         # log2 length of a padding column: far from every real length
PAD_MET = -2            # metric class of a padding column (reference -1: unknown; query -100)
CLIP = 1000             # stored values are clipped to +-CLIP (1000 semitones, 62 octaves of length)

# Query rows (int16, one column per query step).
Q_IV, Q_IV2, Q_LEN, Q_REL, Q_LEN2, Q_REL2, Q_W, Q_W2, Q_MET = range(9)

# Scoring constants handed to the kernel (int16).
(C_NEAR, C_OCTAVE, C_MISMATCH, C_GAP, C_FRAG, C_WRONG, C_RHY_MATCH, C_FREE, C_METRIC,
 C_A1, C_B1, C_A2, C_B2, C_A3, C_B3, C_CAP, C_HALF_W) = range(17)
N_CONSTS = 17
SCORE_UNIT = 8          # kernel scores are int16 in 1/8 point
SATURATE = 30000        # ... and saturate here (3750 points: about 350 identical steps)
_KNOTS = (0.0, 0.5, 1.5, 3.5)       # log2-length differences where the rhythm penalty curve is sampled



def build_layout(interval: np.ndarray, length: np.ndarray, weight: np.ndarray, metric: np.ndarray,
                 step_offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Interleaved block layout of a packed catalog's steps, for `prefilter_scores`.

    interval, length, weight, metric: the references' steps concatenated (as in `melody.catalog.Packed`);
    row r's steps are step_offsets[r]:step_offsets[r+1]. Rows are sorted by length and cut into blocks of
    LANES; a block is as long as its longest row, shorter rows are padded with steps that match nothing.

    Returns plain arrays (save them with np.save, memory-map them back):

    - ``steps``: int16 (columns, N_FIELDS, lanes), the blocks one after the other;
    - ``block_start``: int64 (blocks + 1), first column of each block;
    - ``rows``: int64 (blocks * lanes), the catalog row in each lane (-1: an empty lane);
    - ``meta``: int64 [LAYOUT_VERSION, lanes, number of catalog rows].
    """
    step_offsets = np.ascontiguousarray(step_offsets, dtype=np.int64)
    n_rows = len(step_offsets) - 1
    if n_rows < 0 or (n_rows and step_offsets[0] != 0):
        raise MelodyError("step_offsets must start at 0 and hold one entry more than there are rows")
    n_total = int(step_offsets[-1]) if n_rows else 0
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in (interval, length, weight, metric)]
    if any(len(a) != n_total for a in arrays):
        raise MelodyError(f"interval, length, weight and metric must hold step_offsets[-1] = {n_total} steps")
    lanes = LANES
    if n_total and (not np.all(arrays[1] > 0) or not np.all(np.isfinite(arrays[0]))):
        raise MelodyError("lengths must be positive and intervals finite")
    counts = np.diff(step_offsets)
    order = np.argsort(counts, kind="stable")
    n_blocks = -(-n_rows // lanes)
    rows = np.full(n_blocks * lanes, -1, dtype=np.int64)
    rows[:n_rows] = order
    block_len = np.zeros(n_blocks, dtype=np.int64)
    if n_rows:
        sorted_counts = np.zeros(n_blocks * lanes, dtype=np.int64)
        sorted_counts[:n_rows] = counts[order]
        block_len = sorted_counts.reshape(n_blocks, lanes).max(axis=1)
    block_start = np.zeros(n_blocks + 1, dtype=np.int64)
    block_start[1:] = np.cumsum(block_len)
    steps = np.empty((int(block_start[-1]), N_FIELDS, lanes), dtype=np.int16)
    _fill_layout(*arrays, step_offsets, rows, block_start, WEIGHT_TABLE.astype(np.float64), steps)
    meta = np.array([LAYOUT_VERSION, lanes, n_rows], dtype=np.int64)
    return {"steps": steps, "block_start": block_start, "rows": rows, "meta": meta}


@njit(cache=True, error_model="numpy")
def _q(x, unit):
    """Quantise to int16 in 1/unit steps, clipped to +-CLIP (so no sum or difference the kernel forms with a
    sentinel overflows, and no real value reaches one)."""
    v = np.rint(x * unit)
    return np.int16(min(max(v, -CLIP), CLIP))


@njit(cache=True, error_model="numpy")
def _fill_layout(interval, length, weight, metric, step_offsets, rows, block_start, table, steps):
    """Write every block's interleaved columns (see build_layout); padding columns match nothing."""
    lanes = steps.shape[2]
    for b in range(block_start.shape[0] - 1):
        c0, c1 = block_start[b], block_start[b + 1]
        for lane in range(lanes):
            r = rows[b * lanes + lane]
            a = step_offsets[r] if r >= 0 else 0
            n = step_offsets[r + 1] - a if r >= 0 else 0
            for t in range(c1 - c0):
                col = steps[c0 + t]
                if t >= n:
                    col[F_IV, lane] = PAD_IV
                    col[F_IV2, lane] = PAD_IV
                    col[F_LEN, lane] = PAD_LEN
                    col[F_REL, lane] = NO_REL
                    col[F_LEN2, lane] = PAD_LEN
                    col[F_REL2, lane] = NO_REL
                    col[F_W, lane] = 0
                    col[F_W2, lane] = 0
                    col[F_MET, lane] = PAD_MET
                    continue
                k = a + t
                lg = np.log2(length[k])
                col[F_IV, lane] = _q(interval[k], 1.0)
                col[F_LEN, lane] = _q(lg, LEN_UNIT)
                col[F_W, lane] = _q(weight[k], W_UNIT)
                col[F_MET, lane] = np.int16(metric[k]) if metric[k] >= 0 else np.int16(-1)
                col[F_REL, lane] = _q(lg - np.log2(length[k - 1]), LEN_UNIT) if t >= 1 else NO_REL
                if t >= 1:
                    s = interval[k - 1] + interval[k]
                    lg2 = np.log2(length[k - 1] + length[k])
                    w2 = min(table[min(max(int(np.rint(s)), -13), 13) + 13], weight[k - 1] + weight[k])
                    col[F_IV2, lane] = _q(s, 1.0)
                    col[F_LEN2, lane] = _q(lg2, LEN_UNIT)
                    col[F_W2, lane] = _q(w2, W_UNIT)
                    col[F_REL2, lane] = _q(lg2 - np.log2(length[k - 2]), LEN_UNIT) if t >= 2 else NO_REL
                else:
                    col[F_IV2, lane] = PAD_IV
                    col[F_LEN2, lane] = PAD_LEN
                    col[F_W2, lane] = 0
                    col[F_REL2, lane] = NO_REL


def lane_positions(layout: dict[str, np.ndarray]) -> np.ndarray:
    """Where every catalog row sits in a layout: block * lanes + lane (the inverse of layout["rows"])."""
    lanes, n_rows = check_layout(layout)
    rows = np.asarray(layout["rows"])
    pos = np.full(n_rows, -1, dtype=np.int64)
    valid = rows >= 0
    pos[rows[valid]] = np.flatnonzero(valid)
    return pos


def regroup(layout: dict[str, np.ndarray], selected: np.ndarray, positions: np.ndarray | None = None,
            workers: int | None = None) -> dict:
    """A layout of only the `selected` catalog rows, their columns copied lane by lane out of `layout` into
    fresh blocks (rows keep their length order, so a block still holds rows of similar length).

    `prefilter_scores(..., rows_mask=...)` can only skip whole blocks, and the best 2% of a catalog's rows
    touch about half of its blocks; on the regrouped layout the first pass costs what the selected rows
    cost. Scores come back in catalog row order (rows not selected: 0). positions: `lane_positions(layout)`
    when the caller keeps it; workers: threads copying (default: all cores; the copy waits on memory).
    """
    lanes, n_rows = check_layout(layout)
    pos = lane_positions(layout) if positions is None else positions
    selected = np.asarray(selected, dtype=np.int64)
    selected = selected[np.argsort(pos[selected], kind="stable")]      # layout order: by length
    src = pos[selected]
    block_start = np.asarray(layout["block_start"])
    src_block = src // lanes
    src_len = block_start[src_block + 1] - block_start[src_block]       # a padded source block's length
    n_new = -(-len(selected) // lanes)
    new_len = np.zeros(n_new * lanes, dtype=np.int64)
    new_len[:len(selected)] = src_len
    new_start = np.zeros(n_new + 1, dtype=np.int64)
    new_start[1:] = np.cumsum(new_len.reshape(n_new, lanes).max(axis=1)) if n_new else []
    steps = np.empty((int(new_start[-1]), N_FIELDS, lanes), dtype=np.int16)
    pad = np.array([PAD_IV, PAD_IV, PAD_LEN, NO_REL, PAD_LEN, NO_REL, 0, 0, PAD_MET], dtype=np.int16)
    src_steps, src_col, src_lane = np.asarray(layout["steps"]), block_start[src_block], src % lanes
    deal_blocks(lambda part: _copy_lanes(src_steps, src_col, src_lane, src_len, new_start, pad, steps, part),
                np.arange(n_new), workers)
    rows = np.full(n_new * lanes, -1, dtype=np.int64)
    rows[:len(selected)] = selected
    return {"steps": steps, "block_start": new_start, "rows": rows,
            "meta": np.array([LAYOUT_VERSION, lanes, n_rows], dtype=np.int64)}


@njit(cache=True, nogil=True, error_model="numpy")
def _copy_lanes(steps, src_col, src_lane, src_len, new_start, pad, out, blocks):
    """Copy selected lane k (columns src_col[k]:+src_len[k] of lane src_lane[k]) into lane k % lanes of new
    block k // lanes, for the new blocks in `blocks`; the rest of every new block is padding."""
    lanes = out.shape[2]
    n_sel = src_col.shape[0]
    for i in range(blocks.shape[0]):
        b = blocks[i]
        for lane in range(lanes):
            k = b * lanes + lane
            n = src_len[k] if k < n_sel else 0
            for t in range(new_start[b + 1] - new_start[b]):
                col = out[new_start[b] + t]
                if t < n:
                    src = steps[src_col[k] + t]
                    for f in range(N_FIELDS):
                        col[f, lane] = src[f, src_lane[k]]
                else:
                    for f in range(N_FIELDS):
                        col[f, lane] = pad[f]


def check_layout(layout: dict[str, np.ndarray]) -> tuple[int, int]:
    """Validate a layout's arrays (as build_layout makes them, or loaded back); return (lanes, n_rows)."""
    try:
        steps, block_start, rows, meta = (layout[k] for k in ("steps", "block_start", "rows", "meta"))
    except KeyError as e:
        raise MelodyError(f"layout lacks the array {e.args[0]!r}; rebuild it with build_layout") from None
    if meta.shape != (3,) or int(meta[0]) != LAYOUT_VERSION:
        raise MelodyError("layout was built by another version of melody; rebuild it with build_layout")
    lanes, n_rows = int(meta[1]), int(meta[2])
    if lanes != LANES:
        raise MelodyError(f"layout has {lanes} lanes, this melody uses {LANES}; rebuild it with build_layout")
    n_blocks = len(block_start) - 1
    if (steps.dtype != np.int16 or steps.ndim != 3 or steps.shape[1:] != (N_FIELDS, lanes)
            or rows.shape != (n_blocks * lanes,) or block_start[-1] != steps.shape[0]):
        raise MelodyError("layout arrays do not fit together; rebuild it with build_layout")
    return lanes, n_rows


def query_table(query: Features) -> np.ndarray:
    """The query's steps as int16 rows Q_* in a layout's units (weights still in 1/W_UNIT bit), with the
    query-side sentinels (no step before: -NO_REL // 2; no summed step: -PAD_IV; unknown metric: -100)."""
    n = len(query)
    Q = np.zeros((9, max(n, 1)), dtype=np.int16)
    if n == 0:
        return Q
    iv = np.asarray(query.interval, dtype=np.float64)
    ln = np.asarray(query.length, dtype=np.float64)
    w = np.asarray(query.weight, dtype=np.float64)
    met = query.metric_or_unknown()

    def q16(x, unit):
        return np.clip(np.rint(np.asarray(x) * unit), -CLIP, CLIP).astype(np.int16)

    lg = np.log2(ln)
    Q[Q_IV, :n] = q16(iv, 1)
    Q[Q_LEN, :n] = q16(lg, LEN_UNIT)
    Q[Q_W, :n] = q16(w, W_UNIT)
    Q[Q_MET, :n] = np.where(met >= 0, np.floor(met), -100).astype(np.int16)
    Q[Q_REL, 0] = -(NO_REL // 2)
    Q[Q_REL, 1:n] = q16(lg[1:] - lg[:-1], LEN_UNIT)
    Q[Q_IV2, 0] = -PAD_IV
    Q[Q_LEN2, 0] = -(NO_REL // 2)
    Q[Q_REL2, :2] = -(NO_REL // 2)
    if n >= 2:
        s = iv[:-1] + iv[1:]
        lg2 = np.log2(ln[:-1] + ln[1:])
        w2 = np.minimum(WEIGHT_TABLE[np.clip(np.rint(s).astype(int), -13, 13) + 13], w[:-1] + w[1:])
        Q[Q_IV2, 1:n] = q16(s, 1)
        Q[Q_LEN2, 1:n] = q16(lg2, LEN_UNIT)
        Q[Q_W2, 1:n] = q16(w2, W_UNIT)
        if n >= 3:
            Q[Q_REL2, 2:n] = q16(lg2[1:] - lg[:-2], LEN_UNIT)
    return Q


def kernel_constants(params) -> np.ndarray:
    """The kernel's int16 constants C_* (scores in 1/SCORE_UNIT points) from alignment params (K.*)."""
    p = params
    c = np.zeros(N_CONSTS, dtype=np.int64)
    for dst, src in ((C_NEAR, K.NEAR), (C_OCTAVE, K.OCTAVE), (C_MISMATCH, K.MISMATCH), (C_GAP, K.GAP),
                     (C_FRAG, K.FRAG), (C_WRONG, K.WRONG), (C_RHY_MATCH, K.RHY_MATCH), (C_METRIC, K.METRIC_MATCH)):
        c[dst] = round(p[src] * SCORE_UNIT)
    # lengths agree when they differ by less than this many stored length units (one compare, not two)
    c[C_FREE] = round(-np.log2(1.0 - p[K.DUR_FREE]) * LEN_UNIT) + 1
    # Penalty RHY_PEN * (1 - 2^-x) (x in octaves): the chords between knots (the curve is concave, so their
    # minimum interpolates it) and its cap; a chord is B + (4 dl * A) >> 16 with dl in 1/LEN_UNIT octave.
    pen = [p[K.RHY_PEN] * (1.0 - 2.0 ** -x) * SCORE_UNIT for x in _KNOTS]
    for k, (ca, cb) in enumerate(((C_A1, C_B1), (C_A2, C_B2), (C_A3, C_B3))):
        slope = (pen[k + 1] - pen[k]) / ((_KNOTS[k + 1] - _KNOTS[k]) * LEN_UNIT)     # points per length unit
        c[ca] = round(slope / 4 * 65536)
        c[cb] = round(pen[k] - slope * _KNOTS[k] * LEN_UNIT)
    c[C_CAP] = round(p[K.RHY_PEN] * SCORE_UNIT)
    c[C_HALF_W] = round(p[K.MATCH] * SCORE_UNIT / 2 * 256 / W_UNIT)    # half weight: (W * this) >> 8
    if np.any(np.abs(c) > 32000) or not 0 <= c[C_A1] < 32768 or not 0 <= c[C_A2] < 32768 or not 0 <= c[C_A3] < 32768:
        raise MelodyError("alignment params out of the fast kernel's range")
    return c.astype(np.int16)


def half_weights(w: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Stored weights (1/W_UNIT bit) -> half of MATCH x weight in score units, as the kernel computes it."""
    return ((w.astype(np.int32) * int(c[C_HALF_W])) >> 8).astype(np.int16)


# ----------------------------------------------------------------------------------------------------
# kernel: int16 scores (16 lanes per AVX2 instruction). Every intermediate is cast back to int16 so LLVM can
# keep the arithmetic 16 bits wide (Numba computes integers in 64 bits). Indices are uint64 so that Numba emits
# no negative-index wraparound (which blocks vectorising), and every per-lane select writes a freshly computed
# value (a select between a loaded value and a new one becomes a masked store, very slow on AMD).

I16 = np.int16


@njit(cache=True, nogil=True, error_model="numpy")
def _decode(steps, c0, ncol, half_w, S):
    """Block columns c0..c0+ncol-1 -> S, field-major (N_FIELDS x ncol x LANES, flat) so that the kernels'
    loops run over one flat index, with the weights as half-weight scores."""
    nl = ncol * LANES
    for t in range(ncol):
        src = steps[c0 + t]
        for f in range(N_FIELDS):
            base = f * nl + t * LANES
            for lane in range(LANES):
                v = src[f, lane]
                if f == F_W or f == F_W2:
                    v = np.int16((np.int32(v) * np.int32(half_w)) >> 8)
                S[base + lane] = v


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _mulhi(x, a):
    return I16((np.int32(x) * np.int32(a)) >> 16)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pitch(qa, qw, ra, rw, near, octave, mismatch):
    """Equal intervals: the two half weights; a semitone off: near; an octave off: octave; else mismatch."""
    d = I16(abs(I16(qa - ra)))
    off = octave if d == I16(12) else mismatch
    off = near if d == I16(1) else off
    # `I16(qw + rw) if d == 0 else off` would let LLVM sink the load of rw into that branch, and a conditional
    # int16 load stops the vectoriser; every weight sum exceeds every `off`, so a max picks the same value.
    return max(off, I16(I16(qw + rw) - I16(min(d, I16(1)) * I16(30000))))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rhythm(lq, relq, lr, relr, rm, free, a1, b1, a2, b2, a3, b3, cap):
    """RHY_MATCH when the log2 lengths (or log2 lengths relative to the step before) differ by less than
    `free`, else minus the interpolated penalty."""
    dl = min(I16(abs(I16(lq - lr))), I16(abs(I16(relq - relr))))
    x = I16(min(dl, I16(8000)) * I16(4))
    pen = min(I16(b1 + _mulhi(x, a1)), I16(b2 + _mulhi(x, a2)))
    pen = min(pen, min(I16(b3 + _mulhi(x, a3)), cap))
    return rm if dl < free else I16(-pen)


@njit(cache=True, nogil=True, error_model="numpy")
def _row_scores_single(qa, lq, relq, qw, qmet, S, n, c, T):
    """Scores of one query step against every reference step of the block (T row 0, with the metric bonus)
    and against every summed reference step (T row 1, FRAG included)."""
    NL = uint64(n) * uint64(LANES)
    W = NL + uint64(2 * LANES)
    o = uint64(2 * LANES)
    near, octave, mismatch, metric, frag = c[C_NEAR], c[C_OCTAVE], c[C_MISMATCH], c[C_METRIC], c[C_FRAG]
    rm, free, cap = c[C_RHY_MATCH], c[C_FREE], c[C_CAP]
    a1, b1, a2, b2, a3, b3 = c[C_A1], c[C_B1], c[C_A2], c[C_B2], c[C_A3], c[C_B3]
    for k in range(NL):
        r_iv = S[uint64(F_IV) * NL + k]
        sc = I16(_pitch(qa, qw, r_iv, S[uint64(F_W) * NL + k], near, octave, mismatch)
                 + _rhythm(lq, relq, S[uint64(F_LEN) * NL + k], S[uint64(F_REL) * NL + k], rm, free,
                           a1, b1, a2, b2, a3, b3, cap))
        T[o + k] = I16(sc + metric) if (qa == r_iv) & (qmet == S[uint64(F_MET) * NL + k]) else sc
        T[W + o + k] = I16(frag + I16(
            _pitch(qa, qw, S[uint64(F_IV2) * NL + k], S[uint64(F_W2) * NL + k], near, octave, mismatch)
            + _rhythm(lq, relq, S[uint64(F_LEN2) * NL + k], S[uint64(F_REL2) * NL + k], rm, free,
                      a1, b1, a2, b2, a3, b3, cap)))


@njit(cache=True, nogil=True, error_model="numpy")
def _row_scores_summed(qa2, lq2, relq2, qw2, S, n, c, T):
    """Scores of one summed query step against every reference step (T row 2, FRAG included) and every
    summed reference step (T row 3, WRONG included)."""
    NL = uint64(n) * uint64(LANES)
    W = NL + uint64(2 * LANES)
    o = uint64(2 * LANES)
    near, octave, mismatch, frag, wrong = c[C_NEAR], c[C_OCTAVE], c[C_MISMATCH], c[C_FRAG], c[C_WRONG]
    rm, free, cap = c[C_RHY_MATCH], c[C_FREE], c[C_CAP]
    a1, b1, a2, b2, a3, b3 = c[C_A1], c[C_B1], c[C_A2], c[C_B2], c[C_A3], c[C_B3]
    for k in range(NL):
        T[W + W + o + k] = I16(frag + I16(
            _pitch(qa2, qw2, S[uint64(F_IV) * NL + k], S[uint64(F_W) * NL + k], near, octave, mismatch)
            + _rhythm(lq2, relq2, S[uint64(F_LEN) * NL + k], S[uint64(F_REL) * NL + k], rm, free,
                      a1, b1, a2, b2, a3, b3, cap)))
        T[W + W + W + o + k] = I16(wrong + I16(
            _pitch(qa2, qw2, S[uint64(F_IV2) * NL + k], S[uint64(F_W2) * NL + k], near, octave, mismatch)
            + _rhythm(lq2, relq2, S[uint64(F_LEN2) * NL + k], S[uint64(F_REL2) * NL + k], rm, free,
                      a1, b1, a2, b2, a3, b3, cap)))


@njit(cache=True, nogil=True, error_model="numpy")
def _dp_row(i, n, gap, T, H):
    """One row of the DP from the move scores in T (rows: (1,1), (1,2), (2,1), (2,2)). The cell to the left
    is LANES entries back in the same row: a constant distance, which LLVM vectorises without a check."""
    L = uint64(LANES)
    W = uint64(n + 2) * L
    zero = I16(0)
    top = I16(SATURATE)
    rc = uint64(i % 3) * W
    rb = uint64((i + 2) % 3) * W
    ra = uint64((i + 1) % 3) * W
    bc = uint64(3 + i % 2) * W
    bb = uint64(3 + (i + 1) % 2) * W
    for k in range(L + L, W):
        h = I16(H[rb + k - L] + T[k])
        h = max(h, I16(H[rb + k] + gap))
        h = max(h, I16(H[rc + k - L] + gap))
        h = max(h, I16(H[rb + k - L - L] + T[W + k]))
        h = max(h, I16(H[ra + k - L] + T[W + W + k]))
        h = max(h, I16(H[ra + k - L - L] + T[W + W + W + k]))
        h = min(max(h, zero), top)
        H[rc + k] = h
        H[bc + k] = max(H[bb + k], h)


@njit(cache=True, nogil=True, error_model="numpy")
def _align_block(Q, m, S, n, c, H, T):
    """Fill the DP of the query (Q: int16 rows Q_*, weights as half-weight scores) against one decoded block
    (S) with every move: (1,1), gaps, (1,2) / (2,1) (FRAG + the pitch and rhythm scores of the summed step
    against the single one) and (2,2) (WRONG + the scores of the two sums), leaving each column's best score
    so far in H's best rows.

    Per query row, the move scores of every cell go to T first (4 rows of (n + 2) * LANES), then the DP
    reads them: one loop doing both holds more values than AVX2 has registers and spills them (~1.4x slower).
    H: int16 flat, 5 rows of (n + 2) * LANES: rows 0-2 the DP ring (row i % 3), rows 3-4 the best score seen
    so far in each column (ping-pong on i % 2; the last row written is 3 + (m - 1) % 2). Columns are shifted
    by 2 so that column j - 2 exists. Scores saturate at SATURATE.
    """
    W = uint64(n + 2) * uint64(LANES)
    for k in range(uint64(5) * W):
        H[k] = I16(0)
    for k in range(uint64(4) * W):
        T[k] = I16(0)
    for i in range(m):
        _row_scores_single(Q[Q_IV, i], Q[Q_LEN, i], Q[Q_REL, i], Q[Q_W, i], Q[Q_MET, i], S, n, c, T)
        _row_scores_summed(Q[Q_IV2, i], Q[Q_LEN2, i], Q[Q_REL2, i], Q[Q_W2, i], S, n, c, T)
        _dp_row(i, n, c[C_GAP], T, H)


@njit(cache=True, nogil=True, error_model="numpy")
def _run_blocks(Q, m, steps, block_start, blocks, c, out):
    """Align the query against every block in `blocks`; out[block * lanes + lane] = that lane's best (int16)."""
    lanes = steps.shape[2]
    longest = 1
    for k in range(blocks.shape[0]):
        b = blocks[k]
        longest = max(longest, block_start[b + 1] - block_start[b])
    S = np.empty(longest * N_FIELDS * lanes, dtype=np.int16)
    H = np.empty(5 * (longest + 2) * lanes, dtype=np.int16)
    T = np.empty(4 * (longest + 2) * lanes, dtype=np.int16)
    for k in range(blocks.shape[0]):
        b = blocks[k]
        c0 = block_start[b]
        n = block_start[b + 1] - c0
        if n == 0:
            for lane in range(lanes):
                out[b * lanes + lane] = 0
            continue
        _decode(steps, c0, n, c[C_HALF_W], S)
        _align_block(Q, m, S, n, c, H, T)
        best_row = (3 + (m - 1) % 2) * (n + 2) * lanes    # the ping-pong row written last
        for lane in range(lanes):
            best = np.int16(0)
            for j in range(2, n + 2):
                best = max(best, H[best_row + j * lanes + lane])
            out[b * lanes + lane] = best


def deal_blocks(run, blocks: np.ndarray, workers: int | None = None) -> None:
    """Call ``run(part)`` on parts of `blocks`, one thread per core (the kernels release the GIL). Blocks
    are sorted by length: dealt out round-robin, each thread gets about equal work."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(blocks)))
    if workers == 1:
        run(blocks)
        return
    parts = [np.ascontiguousarray(blocks[k::workers]) for k in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, parts))


def prefilter_scores(query: Features, layout: dict[str, np.ndarray], rows_mask: np.ndarray | None = None,
                     params=None, workers: int | None = None) -> np.ndarray:
    """First-pass local-alignment score of the query against every catalog row of a layout (float32 points).

    The scores approximate `melody.align.search`'s (see the module docstring; quantisation moves them by a
    few tenths of a point): rank with them, then re-score the best few hundred with the full kernel. rows_mask (bool, one per catalog row): score only the
    blocks holding a selected row; rows not selected get -inf.
    """
    from . import _check
    p = _check(params)
    lanes, n_rows = check_layout(layout)
    steps, block_start, rows = layout["steps"], layout["block_start"], layout["rows"]
    out = np.full(n_rows, -np.inf if rows_mask is not None else 0.0, dtype=np.float32)
    n_blocks = len(block_start) - 1
    if rows_mask is not None:
        rows_mask = np.asarray(rows_mask, dtype=bool)
        if rows_mask.shape != (n_rows,):
            raise MelodyError(f"rows_mask must hold one bool per catalog row ({n_rows}), got {rows_mask.shape}")
        lane_on = np.zeros(n_blocks * lanes, dtype=bool)
        valid = rows >= 0
        lane_on[valid] = rows_mask[rows[valid]]
        blocks = np.flatnonzero(lane_on.reshape(n_blocks, lanes).any(axis=1))
    else:
        blocks = np.arange(n_blocks)
    if len(query) == 0 or len(blocks) == 0:
        if rows_mask is not None:
            out[rows_mask] = 0.0
        return out
    consts = kernel_constants(p)
    Q = query_table(query)
    Q[Q_W] = half_weights(Q[Q_W], consts)      # each side brings half of MATCH * (qw + rw)
    Q[Q_W2] = half_weights(Q[Q_W2], consts)
    lane_scores = np.zeros(n_blocks * lanes, dtype=np.int16)
    m = len(query)
    deal_blocks(lambda part: _run_blocks(Q, m, steps, block_start, part, consts, lane_scores), blocks, workers)
    sel = np.zeros(n_blocks * lanes, dtype=bool)
    sel.reshape(n_blocks, lanes)[blocks] = True
    sel &= rows >= 0
    if rows_mask is not None:
        sel[sel] = rows_mask[rows[sel]]
    out[rows[sel]] = lane_scores[sel].astype(np.float32) / SCORE_UNIT
    return out
