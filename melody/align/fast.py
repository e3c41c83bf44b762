"""A fast first pass for catalog search: local alignment across references in SIMD lanes.

`melody.align.kernels._local` scores one reference at a time; its inner loop runs along the reference with
branches and cannot use the CPU's vector units. Here, as in SWIPE (Rognes 2011, inter-sequence SIMD), the
references are grouped into blocks of ``lanes`` melodies of similar length and their steps stored
interleaved, ``steps[column, field, lane]``: one DP cell of a block is ``lanes`` independent cells, one per
reference, and the innermost loop runs over the lanes with no branch (compares, selects, max), which LLVM
turns into AVX2 code (8 float32 lanes per instruction).

The score is `_local`'s local alignment, simplified where that buys speed:

- ``(1,1)``: pitch (equal intervals earn MATCH times the mean information weight; NEAR / OCTAVE /
  MISMATCH otherwise) + rhythm (RHY_MATCH when the log2 lengths, or the log2 lengths relative to the step
  before, agree within DUR_FREE, else minus RHY_PEN * (1 - 2^-difference), here read off a piecewise-linear
  interpolation of that curve) + METRIC_MATCH for equal intervals at the same metric position;
- gaps ``(1,0)`` / ``(0,1)``;
- with ``moves="all"`` (the default) the summed moves too: ``(1,2)`` / ``(2,1)`` (FRAG + the pitch and
  rhythm scores of the summed step against the single one) and ``(2,2)`` (WRONG + the scores of the sums);
  ``moves="diag"`` leaves them out (cheaper, but it ranks varied copies much worse);
- not the exact-run state (RUN_BONUS; 0 in DEFAULT_PARAMS, where it cannot change a score).

Stored values are quantised (intervals to semitones, log2 lengths to 1/16 octave, weights to 1/16 bit),
so a layout is compact (int16, 18 bytes per step) and can be saved as .npy and memory-mapped; each block is
decoded into float32 (with the scoring parameters folded in) just before it is aligned.
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

LANES = 32              # references per block (4 AVX2 registers of float32)
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

# Query rows (float32, one column per query step).
Q_IV, Q_IV2, Q_LEN, Q_REL, Q_LEN2, Q_REL2, Q_W, Q_W2, Q_MET = range(9)

# Scoring constants handed to the kernel (float32).
(C_NEAR, C_OCTAVE, C_MISMATCH, C_GAP, C_FRAG, C_WRONG, C_RHY_MATCH, C_FREE, C_METRIC,
 C_S1, C_B2, C_S2, C_B3, C_S3, C_CAP) = range(15)
N_CONSTS = 15
_KNOTS = (0.0, 0.5, 1.5, 3.5)       # log2-length differences where the rhythm penalty curve is sampled

MOVES = ("all", "diag")


def build_layout(interval: np.ndarray, length: np.ndarray, weight: np.ndarray, metric: np.ndarray,
                 step_offsets: np.ndarray, lanes: int = LANES) -> dict[str, np.ndarray]:
    """Interleaved block layout of a packed catalog's steps, for `prefilter_scores`.

    interval, length, weight, metric: the references' steps concatenated (as in `melody.catalog.Packed`);
    row r's steps are step_offsets[r]:step_offsets[r+1]. Rows are sorted by length and cut into blocks of
    `lanes`; a block is as long as its longest row, shorter rows are padded with steps that match nothing.

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
    if lanes < 1 or lanes % 8:
        raise MelodyError(f"lanes must be a positive multiple of 8, got {lanes}")
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
    """Quantise to int16 in 1/unit steps, clipped to the representable range."""
    v = np.rint(x * unit)
    return np.int16(min(max(v, -30000.0), 30000.0))


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


def check_layout(layout: dict[str, np.ndarray]) -> tuple[int, int]:
    """Validate a layout's arrays (as build_layout makes them, or loaded back); return (lanes, n_rows)."""
    try:
        steps, block_start, rows, meta = (layout[k] for k in ("steps", "block_start", "rows", "meta"))
    except KeyError as e:
        raise MelodyError(f"layout lacks the array {e.args[0]!r}; rebuild it with build_layout") from None
    if meta.shape != (3,) or int(meta[0]) != LAYOUT_VERSION:
        raise MelodyError("layout was built by another version of melody; rebuild it with build_layout")
    lanes, n_rows = int(meta[1]), int(meta[2])
    n_blocks = len(block_start) - 1
    if (steps.dtype != np.int16 or steps.ndim != 3 or steps.shape[1:] != (N_FIELDS, lanes)
            or rows.shape != (n_blocks * lanes,) or block_start[-1] != steps.shape[0]):
        raise MelodyError("layout arrays do not fit together; rebuild it with build_layout")
    return lanes, n_rows


def query_table(query: Features) -> np.ndarray:
    """The query's steps as float32 rows Q_* (same quantisation and sentinels as a layout's columns)."""
    n = len(query)
    Q = np.zeros((9, max(n, 1)), dtype=np.float32)
    if n == 0:
        return Q
    iv = np.rint(np.asarray(query.interval, dtype=np.float64))
    lg = np.rint(np.log2(np.asarray(query.length, dtype=np.float64)) * LEN_UNIT) / LEN_UNIT
    w = np.rint(np.asarray(query.weight, dtype=np.float64) * W_UNIT) / W_UNIT
    met = query.metric_or_unknown()
    Q[Q_IV, :n] = iv
    Q[Q_LEN, :n] = lg
    Q[Q_W, :n] = w
    Q[Q_MET, :n] = np.where(met >= 0, np.floor(met), -100.0)
    no_rel = -(NO_REL // 2) / LEN_UNIT
    Q[Q_REL, 0] = no_rel
    Q[Q_REL, 1:n] = np.rint((np.log2(query.length[1:].astype("f8")) - np.log2(query.length[:-1].astype("f8")))
                            * LEN_UNIT) / LEN_UNIT
    Q[Q_IV2, 0] = -PAD_IV
    Q[Q_LEN2, 0] = no_rel
    Q[Q_REL2, :2] = no_rel
    if n >= 2:
        s = query.interval[:-1].astype("f8") + query.interval[1:]
        lsum = query.length[:-1].astype("f8") + query.length[1:]
        lg2 = np.log2(lsum)
        w2 = np.minimum(WEIGHT_TABLE[np.clip(np.rint(s).astype(int), -13, 13) + 13],
                        query.weight[:-1].astype("f8") + query.weight[1:])
        Q[Q_IV2, 1:n] = np.rint(s)
        Q[Q_LEN2, 1:n] = np.rint(lg2 * LEN_UNIT) / LEN_UNIT
        Q[Q_W2, 1:n] = np.rint(w2 * W_UNIT) / W_UNIT
        if n >= 3:
            Q[Q_REL2, 2:n] = np.rint((lg2[1:] - np.log2(query.length[:-2].astype("f8"))) * LEN_UNIT) / LEN_UNIT
    return Q


def kernel_constants(params) -> tuple[np.ndarray, float]:
    """(consts, match) for the kernel from alignment params (K.* indices)."""
    p = params
    rhy_free = -np.log2(1.0 - p[K.DUR_FREE])
    c = np.zeros(N_CONSTS, dtype=np.float64)
    c[C_NEAR], c[C_OCTAVE], c[C_MISMATCH] = p[K.NEAR], p[K.OCTAVE], p[K.MISMATCH]
    c[C_GAP], c[C_FRAG], c[C_WRONG], c[C_RHY_MATCH] = p[K.GAP], p[K.FRAG], p[K.WRONG], p[K.RHY_MATCH]
    c[C_FREE] = rhy_free + 0.5 / LEN_UNIT      # stored lengths are rounded: half a step of slack
    c[C_METRIC] = p[K.METRIC_MATCH]
    # Penalty RHY_PEN * (1 - 2^-x) through knots: min of the chords (the curve is concave) and its cap.
    pen = [p[K.RHY_PEN] * (1.0 - 2.0 ** -x) for x in _KNOTS]
    slopes = [(pen[k + 1] - pen[k]) / (_KNOTS[k + 1] - _KNOTS[k]) for k in range(3)]
    c[C_S1] = slopes[0]
    c[C_S2], c[C_B2] = slopes[1], pen[1] - slopes[1] * _KNOTS[1]
    c[C_S3], c[C_B3] = slopes[2], pen[2] - slopes[2] * _KNOTS[2]
    c[C_CAP] = p[K.RHY_PEN]
    return c.astype(np.float32), float(p[K.MATCH])


def rhythm_penalty_curve(x: np.ndarray, params) -> np.ndarray:
    """The rhythm score the fast kernel gives a log2-length difference x (for tests and reports)."""
    c, _ = kernel_constants(params)
    x = np.asarray(x, dtype=np.float64)
    pen = np.minimum(np.minimum(c[C_S1] * x, c[C_B2] + c[C_S2] * x), np.minimum(c[C_B3] + c[C_S3] * x, c[C_CAP]))
    return np.where(x <= c[C_FREE], c[C_RHY_MATCH], -pen)


# ----------------------------------------------------------------------------------------------------
# kernel. Indices are uint64 so that Numba emits no negative-index wraparound (which blocks vectorising),
# and every per-lane select writes a freshly computed value (a select between a loaded value and a new one
# becomes a masked store, very slow on AMD).


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _decode(steps, c0, ncol, match, S):
    """Block columns c0..c0+ncol-1 -> float32 S (ncol, N_FIELDS, lanes) in score units."""
    lanes = steps.shape[2]
    inv_len = np.float32(1.0 / LEN_UNIT)
    wscale = np.float32(0.5 * match / W_UNIT)
    for t in range(ncol):
        src = steps[c0 + t]
        dst = S[t]
        for f in range(N_FIELDS):
            scale = np.float32(1.0)
            if f == F_LEN or f == F_REL or f == F_LEN2 or f == F_REL2:
                scale = inv_len
            elif f == F_W or f == F_W2:
                scale = wscale
            for lane in range(lanes):
                dst[f, lane] = np.float32(src[f, lane]) * scale


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def _pitch(qa, qw, ra, rw, near, octave, mismatch):
    d = abs(qa - ra)
    exact = qw + rw
    off = np.float32(octave) if abs(d - np.float32(12.0)) < np.float32(0.5) else np.float32(mismatch)
    off = np.float32(near) if d < np.float32(1.5) else off
    return exact if d < np.float32(0.5) else off


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def _rhythm(lq, relq, lr, relr, rm, free, s1, b2, s2, b3, s3, cap):
    dl = min(abs(lq - lr), abs(relq - relr))
    pen = min(min(s1 * dl, b2 + s2 * dl), min(b3 + s3 * dl, cap))
    return rm if dl <= free else -pen


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def _step11(qa, qw, lq, relq, qmet, r_iv, r_w, r_len, r_rel, r_met, near, octave, mismatch, metric,
            rm, free, s1, b2, s2, b3, s3, cap):
    """Score of a (1,1) move: pitch + rhythm + the metric bonus for equal intervals in the same place."""
    sc = _pitch(qa, qw, r_iv, r_w, near, octave, mismatch) + _rhythm(lq, relq, r_len, r_rel, rm, free, s1, b2,
                                                                     s2, b3, s3, cap)
    return sc + metric if (abs(qa - r_iv) < np.float32(0.5)) & (qmet == r_met) else sc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _align_block(Q, m, S, n, lanes, c, H, P):
    """Fill the DP of the query against one decoded block (moves (1,1) and gaps), leaving each column's best
    score so far in H's best rows.

    H: float32 flat, 5 rows of (n + 2) * lanes: rows 0-2 the DP ring (row i % 3), rows 3-4 the best
    score seen so far in each column (ping-pong on i % 2; the last row written is 3 + (m - 1) % 2).
    Columns are shifted by 2 so that column j - 2 exists. P (lanes) holds the cell to the left: read from H's
    current row, LLVM's overlap check (hoisted over the whole row) would always fail and run scalar code.
    Two kernels (this one and `_align_block_all`)
    rather than a flag: a branch inside the lane loop would make LLVM use masked loads.
    """
    L = uint64(lanes)
    W = uint64(n + 2) * L
    NFL = uint64(N_FIELDS) * L
    two = uint64(2)
    zero = np.float32(0.0)
    near, octave, mismatch, gap, metric = c[C_NEAR], c[C_OCTAVE], c[C_MISMATCH], c[C_GAP], c[C_METRIC]
    rm, free, cap = c[C_RHY_MATCH], c[C_FREE], c[C_CAP]
    s1, b2, s2, b3, s3 = c[C_S1], c[C_B2], c[C_S2], c[C_B3], c[C_S3]
    for k in range(uint64(5) * W):
        H[k] = zero
    for i in range(m):
        rc = uint64(i % 3) * W
        rb = uint64((i + 2) % 3) * W
        bc = uint64(3 + i % 2) * W
        bb = uint64(3 + (i + 1) % 2) * W
        qa, lq, relq, qw, qmet = Q[Q_IV, i], Q[Q_LEN, i], Q[Q_REL, i], Q[Q_W, i], Q[Q_MET, i]
        for lane in range(L):
            P[lane] = zero
        for j in range(two, uint64(n) + two):
            s0 = (j - two) * NFL
            cj = j * L
            for lane in range(L):
                col = s0 + lane
                sc = _step11(qa, qw, lq, relq, qmet, S[col + uint64(F_IV) * L], S[col + uint64(F_W) * L],
                             S[col + uint64(F_LEN) * L], S[col + uint64(F_REL) * L], S[col + uint64(F_MET) * L],
                             near, octave, mismatch, metric, rm, free, s1, b2, s2, b3, s3, cap)
                h = H[rb + cj - L + lane] + sc
                h = max(h, H[rb + cj + lane] + gap)
                h = max(h, P[lane] + gap)
                h = max(h, zero)
                H[rc + cj + lane] = h
                P[lane] = h
                H[bc + cj + lane] = max(H[bb + cj + lane], h)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _align_block_all(Q, m, S, n, lanes, c, H, P):
    """`_align_block` plus the summed moves: (1,2) and (2,1) (FRAG + the pitch and rhythm scores of the summed
    step against the single one) and (2,2) (WRONG + the scores of the two sums)."""
    L = uint64(lanes)
    W = uint64(n + 2) * L
    NFL = uint64(N_FIELDS) * L
    two = uint64(2)
    zero = np.float32(0.0)
    near, octave, mismatch, gap, metric = c[C_NEAR], c[C_OCTAVE], c[C_MISMATCH], c[C_GAP], c[C_METRIC]
    frag, wrong = c[C_FRAG], c[C_WRONG]
    rm, free, cap = c[C_RHY_MATCH], c[C_FREE], c[C_CAP]
    s1, b2, s2, b3, s3 = c[C_S1], c[C_B2], c[C_S2], c[C_B3], c[C_S3]
    for k in range(uint64(5) * W):
        H[k] = zero
    for i in range(m):
        rc = uint64(i % 3) * W
        rb = uint64((i + 2) % 3) * W
        ra = uint64((i + 1) % 3) * W
        bc = uint64(3 + i % 2) * W
        bb = uint64(3 + (i + 1) % 2) * W
        qa, lq, relq, qw, qmet = Q[Q_IV, i], Q[Q_LEN, i], Q[Q_REL, i], Q[Q_W, i], Q[Q_MET, i]
        qa2, lq2, relq2, qw2 = Q[Q_IV2, i], Q[Q_LEN2, i], Q[Q_REL2, i], Q[Q_W2, i]
        for lane in range(L):
            P[lane] = zero
        for j in range(two, uint64(n) + two):
            s0 = (j - two) * NFL
            cj = j * L
            for lane in range(L):
                col = s0 + lane
                r_iv = S[col + uint64(F_IV) * L]
                r_len = S[col + uint64(F_LEN) * L]
                r_rel = S[col + uint64(F_REL) * L]
                r_w = S[col + uint64(F_W) * L]
                sc = _step11(qa, qw, lq, relq, qmet, r_iv, r_w, r_len, r_rel, S[col + uint64(F_MET) * L],
                             near, octave, mismatch, metric, rm, free, s1, b2, s2, b3, s3, cap)
                h = H[rb + cj - L + lane] + sc
                h = max(h, H[rb + cj + lane] + gap)
                h = max(h, P[lane] + gap)
                r_iv2 = S[col + uint64(F_IV2) * L]
                r_w2 = S[col + uint64(F_W2) * L]
                r_len2 = S[col + uint64(F_LEN2) * L]
                r_rel2 = S[col + uint64(F_REL2) * L]
                s12 = (_pitch(qa, qw, r_iv2, r_w2, near, octave, mismatch)
                       + _rhythm(lq, relq, r_len2, r_rel2, rm, free, s1, b2, s2, b3, s3, cap))
                s21 = (_pitch(qa2, qw2, r_iv, r_w, near, octave, mismatch)
                       + _rhythm(lq2, relq2, r_len, r_rel, rm, free, s1, b2, s2, b3, s3, cap))
                s22 = (_pitch(qa2, qw2, r_iv2, r_w2, near, octave, mismatch)
                       + _rhythm(lq2, relq2, r_len2, r_rel2, rm, free, s1, b2, s2, b3, s3, cap))
                h = max(h, H[rb + cj - L - L + lane] + frag + s12)
                h = max(h, H[ra + cj - L + lane] + frag + s21)
                h = max(h, H[ra + cj - L - L + lane] + wrong + s22)
                h = max(h, zero)
                H[rc + cj + lane] = h
                P[lane] = h
                H[bc + cj + lane] = max(H[bb + cj + lane], h)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _run_blocks(Q, m, steps, block_start, blocks, match, c, summed, out):
    """Align the query against every block in `blocks`; out[block * lanes + lane] = that lane's best."""
    lanes = steps.shape[2]
    longest = 1
    for k in range(blocks.shape[0]):
        b = blocks[k]
        longest = max(longest, block_start[b + 1] - block_start[b])
    S = np.empty((longest, N_FIELDS, lanes), dtype=np.float32)
    H = np.empty(5 * (longest + 2) * lanes, dtype=np.float32)
    P = np.empty(lanes, dtype=np.float32)
    Sflat = S.reshape(-1)
    for k in range(blocks.shape[0]):
        b = blocks[k]
        c0 = block_start[b]
        n = block_start[b + 1] - c0
        if n == 0:
            for lane in range(lanes):
                out[b * lanes + lane] = 0.0
            continue
        _decode(steps, c0, n, match, S)
        if summed:
            _align_block_all(Q, m, Sflat, n, lanes, c, H, P)
        else:
            _align_block(Q, m, Sflat, n, lanes, c, H, P)
        best_row = (3 + (m - 1) % 2) * (n + 2) * lanes    # the ping-pong row written last
        for lane in range(lanes):
            best = np.float32(0.0)
            for j in range(2, n + 2):
                best = max(best, H[best_row + j * lanes + lane])
            out[b * lanes + lane] = best


def prefilter_scores(query: Features, layout: dict[str, np.ndarray], rows_mask: np.ndarray | None = None,
                     params=None, moves: str = "all", workers: int | None = None) -> np.ndarray:
    """First-pass local-alignment score of the query against every catalog row of a layout (float32).

    The scores approximate `melody.align.search`'s (see the module docstring): rank with them, then re-score
    the best few thousand with the full kernel. rows_mask (bool, one per catalog row): score only the
    blocks holding a selected row; rows not selected get -inf. moves: "all" (every move of `_local`) or
    "diag" (one-to-one steps and gaps only: about twice as fast, a much rougher ranking).
    """
    from . import _check
    p = _check(params)
    if moves not in MOVES:
        raise MelodyError(f"moves must be one of {MOVES}, got {moves!r}")
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
    consts, match = kernel_constants(p)
    Q = query_table(query)
    Q[Q_W] *= np.float32(0.5 * match)      # each side brings half of MATCH * (qw + rw)
    Q[Q_W2] *= np.float32(0.5 * match)
    lane_scores = np.zeros(n_blocks * lanes, dtype=np.float32)
    workers = max(1, min(workers or os.cpu_count() or 1, len(blocks)))
    summed = moves == "all"
    m = len(query)
    if workers == 1:
        _run_blocks(Q, m, steps, block_start, blocks, match, consts, summed, lane_scores)
    else:
        # blocks are sorted by length: dealing them out round-robin gives each thread about equal work
        parts = [np.ascontiguousarray(blocks[k::workers]) for k in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda part: _run_blocks(Q, m, steps, block_start, part, match, consts, summed,
                                                   lane_scores), parts))
    sel = np.zeros(n_blocks * lanes, dtype=bool)
    sel.reshape(n_blocks, lanes)[blocks] = True
    sel &= rows >= 0
    if rows_mask is not None:
        sel[sel] = rows_mask[rows[sel]]
    out[rows[sel]] = lane_scores[sel]
    return out
