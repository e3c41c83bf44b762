"""Alignment: validated public wrappers around the Numba kernels, and backtraces into note spans."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..commonness import WEIGHT_TABLE
from ..errors import MelodyError
from ..represent import Features
from . import kernels as K
from . import pitch as P

# Scores of the local alignment, roughly log-odds in bits of "related" vs "chance" (see kernels). Random
# pairs of folk melodies score clearly negative per step, so chance alignments stay short and the
# E-values of the significance model separate a borrowed phrase from shared clichés.
DEFAULT_PARAMS = np.zeros(K.N_PARAMS)
DEFAULT_PARAMS[K.MATCH] = 1.0       # per bit of information of the matched interval (weights: commonness)
DEFAULT_PARAMS[K.NEAR] = -2.0       # off by a semitone (major/minor variant); it also shifts the key of the rest
DEFAULT_PARAMS[K.OCTAVE] = -1.0     # off by an octave
DEFAULT_PARAMS[K.MISMATCH] = -3.0
DEFAULT_PARAMS[K.GAP] = -4.5        # a step of one melody left unmatched
DEFAULT_PARAMS[K.FRAG] = -3.5       # cost of a passing note / split / merge on top of the summed step's score
DEFAULT_PARAMS[K.WRONG] = -2.5      # cost of one wrong note (two steps with equal sums)
DEFAULT_PARAMS[K.RHY_MATCH] = 1.2   # same note length (after tempo normalisation)
DEFAULT_PARAMS[K.RHY_PEN] = 2.0     # times (1 - length ratio): 1:2 costs 1.0
DEFAULT_PARAMS[K.DUR_FREE] = 0.15   # length ratios within 15% count as the same (expressive timing)
DEFAULT_PARAMS[K.RUN_BONUS] = 0.0   # exact-run bonus: off (with the metric bonus it lowered separation, BENCHMARKS.md)
DEFAULT_PARAMS[K.METRIC_MATCH] = 1.5  # a (1,1) step whose notes sit at the same metric position
DEFAULT_PARAMS[K.DUR_FADE] = 0.0    # log2 past DUR_FREE over which a length ratio's credit fades (0: yes or no)


@dataclass
class Alignment:
    """The best local alignment of two feature sequences.

    ``query_steps`` / ``reference_steps`` are half-open ranges of steps; the aligned notes are
    ``[start, end]`` inclusive of both ends (step e joins notes e and e + 1). ``pairs`` lists aligned
    note indices (query_note, reference_note) at the ends of every move.
    """

    score: float
    query_steps: tuple[int, int]
    reference_steps: tuple[int, int]
    pairs: list[tuple[int, int]]
    moves: list[tuple[int, int]]

    @property
    def query_notes(self) -> tuple[int, int]:
        return self.query_steps[0], self.query_steps[1]

    @property
    def reference_notes(self) -> tuple[int, int]:
        return self.reference_steps[0], self.reference_steps[1]


def _check(params):
    params = DEFAULT_PARAMS if params is None else np.asarray(params, dtype="f8")
    if params.shape != (K.N_PARAMS,):
        raise MelodyError(f"alignment params must have {K.N_PARAMS} values, got shape {params.shape}")
    return params


def local_align(query: Features, reference: Features, params=None, mask: np.ndarray | None = None,
                x_drop: float | None = None) -> Alignment:
    """Best local alignment of two melodies' features, with its backtrace.

    ``mask`` (bool, (m+1, n+1)) forbids cells already used by earlier alignments (to list every shared
    passage, Waterman-Eggert style): a masked cell scores 0.
    """
    p = _check(params)
    if mask is None:
        mask = K._NO_MASK
    elif mask.shape != (len(query) + 1, len(reference) + 1):
        raise MelodyError(f"mask must have shape {(len(query) + 1, len(reference) + 1)}, got {mask.shape}")
    H, moves = K.local_matrix(query.interval, query.length, query.weight, query.metric_or_unknown(),
                              reference.interval, reference.length, reference.weight,
                              reference.metric_or_unknown(), p, WEIGHT_TABLE, mask)
    return backtrace(H, moves, X_DROP if x_drop is None else x_drop)


X_DROP = 6.0   # a stretch of the path that loses more than this much score splits it into two passages


def backtrace(H: np.ndarray, moves: np.ndarray, x_drop: float = X_DROP) -> Alignment:
    """Follow the moves back from the best cell until the score drops to zero; keep the best passage.

    Two states (see kernels._local): in H, follow H's move (RUN switches to the exact-run state at the
    same cell); in the run state, step diagonally and return to H where the run started.

    Smith-Waterman happily bridges two borrowed phrases through unrelated notes when each phrase scores
    more than the bridge costs. As BLAST's X-drop does for extensions, the path is cut wherever its
    running score falls more than `x_drop` below its best so far, and the best-scoring piece is returned
    (its score is the piece's own). The other pieces are found again by `melody.api.compare`.
    """
    i, j = np.unravel_index(int(np.argmax(H)), H.shape)
    if H[i, j] <= 0:
        return Alignment(0.0, (0, 0), (0, 0), [], [])
    cells = [(int(i), int(j))]          # visited cells, end first
    steps = []                          # the move that entered cells[k] from cells[k+1]
    in_run = False
    while i > 0 and j > 0:
        code = int(moves[i, j])
        if in_run:
            di, dj = 1, 1
            in_run = (code >> 4) == K.RUN_CONTINUE
        else:
            move = code & 15
            if move == K.STOP or H[i, j] <= 0:
                break
            if move == K.RUN:
                in_run = True
                continue
            di, dj = K.MOVES[move]
        steps.append((di, dj))
        i, j = i - di, j - dj
        cells.append((int(i), int(j)))
    cells.reverse()
    steps.reverse()
    first, last, score = _best_piece([max(float(H[c]), 0.0) for c in cells], x_drop)
    cells, steps = cells[first:last + 1], steps[first:last]
    # DP cell (i, j) means "steps up to i / j", i.e. up to notes i / j: the path starts at notes cells[0].
    pairs = [cells[0]] + [c for c, (di, dj) in zip(cells[1:], steps) if di and dj]
    return Alignment(score, (cells[0][0], cells[-1][0]), (cells[0][1], cells[-1][1]), pairs, steps)


def _best_piece(values: list[float], x_drop: float) -> tuple[int, int, float]:
    """Cut a path's running scores where they fall more than x_drop below the piece's best so far;
    return (first, last, score) of the best rise inside any piece (from its lowest point to its peak)."""
    best = (0, 0, 0.0)
    low = top = 0                       # lowest point of the current piece, its best point after `low`
    for k in range(1, len(values)):
        if values[k] - values[top] < -x_drop:      # fell too far: a new piece starts here
            low = top = k
            continue
        if values[k] < values[low]:
            low = top = k
        elif values[k] > values[top]:
            top = k
        if values[top] - values[low] > best[2]:
            best = (low, top, values[top] - values[low])
    return best


def search(query: Features, steps: tuple[np.ndarray, ...], offsets: np.ndarray,
           params=None, workers: int | None = None) -> np.ndarray:
    """Local-alignment score of the query against every packed reference, on all cores.

    steps: the references' (interval, length, weight[, metric]) arrays concatenated; reference r's steps are
    offsets[r]:offsets[r+1]. The references are cut into ranges of about equal work, one kernel call per
    range on a thread pool (the kernel releases the GIL).
    """
    p = _check(params)
    out = np.zeros(len(offsets) - 1)
    if len(query) == 0 or len(out) == 0:
        return out
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    query_metric = query.metric_or_unknown()
    ref_metric = steps[3] if len(steps) > 3 else np.full(len(steps[0]), -1.0, dtype="f4")
    workers = workers or os.cpu_count() or 1
    n_parts = 1 if offsets[-1] < 200_000 else 4 * workers
    # cut where the cumulative step count crosses equal shares
    bounds = np.searchsorted(offsets, np.linspace(0, offsets[-1], n_parts + 1)).clip(0, len(out))
    bounds[0], bounds[-1] = 0, len(out)
    ranges = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def run(rng):
        K.search_scores(query.interval, query.length, query.weight, query_metric, steps[0], steps[1], steps[2],
                        ref_metric, offsets, rng[0], rng[1], p, WEIGHT_TABLE, out)

    if len(ranges) == 1:
        run(ranges[0])
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, ranges))
    return out


def search_rows(query: Features, steps: tuple[np.ndarray, ...], offsets: np.ndarray, rows: np.ndarray,
                params=None, workers: int | None = None) -> np.ndarray:
    """`search` on the references `rows` only (one score per entry of rows): their steps are gathered
    into contiguous arrays first, so a few thousand rows of a memory-mapped million cost only their own pages."""
    rows = np.asarray(rows, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = offsets[rows + 1] - offsets[rows]
    sub = np.zeros(len(rows) + 1, dtype=np.int64)
    sub[1:] = np.cumsum(counts)
    take = np.repeat(offsets[rows] - sub[:-1], counts) + np.arange(sub[-1])
    return search(query, tuple(np.asarray(a)[take] for a in steps), sub, params, workers)


def dtw(query: Features, reference: Features, subsequence: bool = False, params=None):
    """DTW of two melodies' steps: returns (accumulated cost matrix, total cost, path as (i, j) pairs)."""
    p = _check(params)
    if len(query) == 0 or len(reference) == 0:
        raise MelodyError("DTW needs at least two notes in each melody")
    C = K.step_cost_matrix(query.interval, query.length, reference.interval, reference.length, p)
    D = K.dtw_accumulate(C, subsequence)
    i = D.shape[0] - 1
    j = int(np.argmin(D[-1])) if subsequence else D.shape[1] - 1
    total = float(D[i, j])
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            if subsequence:
                break
            j -= 1
        elif j == 0:
            i -= 1
        else:
            steps = ((D[i - 1, j - 1], i - 1, j - 1), (D[i - 1, j], i - 1, j), (D[i, j - 1], i, j - 1))
            _, i, j = min(steps, key=lambda s: s[0])
        path.append((i, j))
    return D, total, path[::-1]


# Every pair the pitch alignment aligns costs PAIR_COST, whatever its pitches: two folk melodies of one style
# and key earn, pair by pair, about as much as they lose (a pitch match with its metric and rhythm +4-5, a note
# a step off with the shared rhythm about -0.3), so a chance partner's score grew with the length of a loose
# alignment through phrase and context, and an exact 8-note copy or a varied 10-14-note phrase lost to it
# (BENCHMARKS.md, twenty-third session, "the true tune that does not rank first": its "loose" cause). The
# re-scoring's null was refitted for it (melody.score.rescore: LAMBDA_RESCORE, K_RESCORE, LAMBDA_WHOLE,
# K_WHOLE). On scripts/bench_accuracy.py seeds 0 / 1 / 2: 3 / 2 / 4 more true tunes first, none lost, every
# cut and TPR at E <= 0.1 equal or higher but the riffs' (one flag fewer on seeds 1, 2); its cost: MTC-ANN
# families MAP 0.908 -> 0.904 (a family's members align long, and pay for every pair) and one held-out negative
# flagged on seed 2. 0.5 lost riffs and families MAP (0.896), a cost on the changed pairs only (P_NEAR,
# P_MISMATCH 0.5 more) lost a 10-20-note phrase (BENCHMARKS.md, twenty-fourth session).
PAIR_COST = 0.25

# Absolute-pitch alignment under one transposition (melody.align.pitch), for re-scoring candidates.
DEFAULT_PITCH_PARAMS = np.zeros(P.N_PITCH_PARAMS)
DEFAULT_PITCH_PARAMS[P.P_MATCH] = 2.0 - PAIR_COST      # same pitch after the transposition
DEFAULT_PITCH_PARAMS[P.P_OCTAVE] = 1.0 - PAIR_COST     # same pitch class, another octave
DEFAULT_PITCH_PARAMS[P.P_NEAR] = -1.5 - PAIR_COST      # one or two semitones off (a changed note)
DEFAULT_PITCH_PARAMS[P.P_MISMATCH] = -2.5 - PAIR_COST
DEFAULT_PITCH_PARAMS[P.P_GAP] = -3.0       # a note of one melody left unmatched
DEFAULT_PITCH_PARAMS[P.P_SKIP] = -2.0      # a note skipped inside a move (ornament, passing or split note)
DEFAULT_PITCH_PARAMS[P.P_RHY_MATCH] = 1.2  # rhythm as in the interval alignment
DEFAULT_PITCH_PARAMS[P.P_RHY_PEN] = 2.0
DEFAULT_PITCH_PARAMS[P.P_DUR_FREE] = 0.15
DEFAULT_PITCH_PARAMS[P.P_METRIC] = 1.0     # a pitch match at the same metric position
DEFAULT_PITCH_PARAMS[P.P_RHY_INFO] = 0.25  # per bit of a shared change of length (pitch.RHYTHM_BITS)
DEFAULT_PITCH_PARAMS[P.P_RUN] = 1.0        # a step copied whole (interval and change of length) inside a run
DEFAULT_PITCH_PARAMS[P.P_SHIFT] = 0.0      # rhythm of a step whose note came early or late (-RHY_PEN: off)
DEFAULT_PITCH_PARAMS[P.P_REPEAT] = -1.5    # a skipped note that repeats a neighbour's pitch (split / added repeat)
DEFAULT_PITCH_PARAMS[P.P_EXACT] = 0.5     # per bit of the longest exactly shared run of intervals (pitch._exact_run)
DEFAULT_PITCH_PARAMS[P.P_PC_INFO] = 0.5   # per bit of an exact match's pitch class above the query's mean (pitch.pc_worth)
DEFAULT_PITCH_PARAMS[P.P_OCT_REL] = 1.0   # an octave pair continuing one with the same interval is a match (pitch module)
DEFAULT_PITCH_PARAMS[P.P_MODE] = 4.0      # keys in different modes: the reference in the other mode too, at this cost (0: off)
DEFAULT_PITCH_PARAMS[P.P_WHOLE] = 0.0     # > 0: a query of at most this many steps aligned whole (rescore's passage view)
DEFAULT_PITCH_PARAMS[P.P_CHAIN] = 25.0    # a further query-disjoint alignment (a hook restated) adds its score less this
DEFAULT_PITCH_PARAMS[P.P_RESTATE] = 20.0  # ... less only this where it restates the passage an earlier one matched
DEFAULT_PITCH_PARAMS[P.P_RESTATE_SPAN] = 24.0  # ... i.e. starts at most this many reference steps before its end
DEFAULT_PITCH_PARAMS[P.P_DUR_FADE] = 0.0  # log2 past P_DUR_FREE over which a length ratio's credit fades to the penalty
# Both melodies also in scale degrees of their keys (a phrase restated on another degree, a harmony line in
# thirds), at this cost (0: off). On bench_probe seed 1, 4 and 6 gave the same thirds / diatonic gains; 6 cost the
# 10-20 note positives 1 flag of 165 where 4 cost 2 and exact8 1 of 15 (BENCHMARKS.md, twenty-eighth session)
DEFAULT_PITCH_PARAMS[P.P_DEGREE] = 6.0


def pitch_search(query_pitch: np.ndarray, query: Features, notes_and_steps: tuple[np.ndarray, ...],
                 note_offsets: np.ndarray, step_offsets: np.ndarray, rows, params=None,
                 workers: int | None = None) -> np.ndarray:
    """Pitch-alignment score (melody.align.pitch) of the query against the packed references `rows`.

    query_pitch: the query's note pitches in its own tuning: integers for a score; a recording's are
    fractional, and a note between two semitones matches either in part (`melody.align.pitch._graded_note`);
    notes_and_steps: (pitches, interval, length, weight,
    metric) of the packed references, notes of row r at note_offsets[r]:note_offsets[r+1], steps at
    step_offsets[r]:step_offsets[r+1]. Returns one score per entry of `rows`.
    """
    p = DEFAULT_PITCH_PARAMS if params is None else np.asarray(params, dtype="f8")
    if p.shape != (P.N_PITCH_PARAMS,):
        raise MelodyError(f"pitch params must have {P.N_PITCH_PARAMS} values, got shape {p.shape}")
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.zeros(len(rows))
    if len(query) == 0 or len(rows) == 0:
        return out
    tuned = np.asarray(query_pitch, dtype="f8")
    qp = np.ascontiguousarray(np.rint(tuned), dtype=np.int64)
    qdev = np.ascontiguousarray(tuned - qp)
    rp, ri, rl, rw, rm = notes_and_steps
    note_offsets = np.ascontiguousarray(note_offsets, dtype=np.int64)
    step_offsets = np.ascontiguousarray(step_offsets, dtype=np.int64)
    workers = min(workers or os.cpu_count() or 1, max(1, len(rows) // 50))
    parts = [np.arange(k, len(rows), workers) for k in range(workers)]   # interleaved: equal work

    def run(idx):
        part = np.zeros(len(idx))
        P.pitch_scores(qp, qdev, query.interval, query.length, query.weight, query.metric_or_unknown(), rp, ri, rl, rw,
                       rm, note_offsets, step_offsets, rows[idx], p, WEIGHT_TABLE, part)
        out[idx] = part

    if workers == 1:
        run(parts[0])
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, parts))
    return out
