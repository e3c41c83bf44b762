"""Alignment / DTW kernel speed side by side, on the same melody pairs, in one run.

    .venv/bin/python scripts/bench_dtw.py [--queries 20] [--refs 2000] [--query-steps 40] [--json out.json]
    (optional competitors: .venv/bin/pip install -e '.[bench]'  -> dtaidistance, tslearn; librosa is a core dep)

Pairs: `--queries` real melodies of the default catalog cut to `--query-steps` interval steps, against `--refs`
other catalog melodies (whole, their real lengths); every engine gets the interval sequences of the same pairs
(float64 1-D series for the DTW libraries). A cell is one DP cell (one query step x one reference step).

Engines:
* ``melody fast.prefilter_scores``: the first-pass kernel (`melody.align.fast`: the same local alignment in
  int16, 32 references per block in SIMD lanes), on one thread and on all cores; its layout is built once
  (not timed) and its cells are counted like the others' (real steps, not the padding of a block);
* ``melody sieve.sieve_scores``: the pass-0 sieve (`melody.align.sieve`, fewer moves) on the same layout, as
  searches run it (8 bits: uint8 scores, 32 lanes per AVX2 instruction, on the layout's 8-bit copy built once,
  not timed; blocks where a lane may have saturated re-run in int16) and in int16 throughout (bits=16);
* ``melody search_scores``: the real search path, `melody.align.search` (local alignment with rhythm, summed
  moves, metric bonus; thread pool over all cores), and the same kernel on one thread;
* ``melody plain DTW``: a minimal Numba DTW (squared difference, O(n) memory) written here, one thread and on a
  thread pool, as the floor of what a DP cell costs in Numba on this machine;
* ``melody dtw (matrix)``: `melody.align.dtw`'s kernels (cost matrix + accumulation, full matrices);
* dtaidistance ``distance_fast`` (C, per pair) and ``distance_matrix_fast`` (C, OpenMP, parallel=True, block of
  queries x references): its best API;
* ``librosa.sequence.dtw`` and ``tslearn.metrics.dtw`` per pair (slow: run on a subset of the pairs,
  `--slow-pairs`, and reported per cell like the rest).

Cycles per cell = CPU clock (from /proc/cpuinfo, "cpu MHz", the clock the kernel reports; turbo may differ) x
threads used / (cells per second); cells per cycle is its inverse.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody import align  # noqa: E402
from melody.align import fast, sieve  # noqa: E402
from melody.align import kernels as K  # noqa: E402
from melody.catalog import Catalog  # noqa: E402
from melody.commonness import WEIGHT_TABLE  # noqa: E402
from melody.represent import Features  # noqa: E402


@njit(cache=True, nogil=True, fastmath=False)
def dtw_pairs(q, q_off, r, r_off, qi_first, qi_last, out):
    """Full DTW (squared difference, steps (1,1),(1,0),(0,1)) of queries qi_first..qi_last-1 vs every ref."""
    longest = 1
    for k in range(len(r_off) - 1):
        longest = max(longest, r_off[k + 1] - r_off[k])
    prev = np.empty(longest + 1)
    cur = np.empty(longest + 1)
    for qi in range(qi_first, qi_last):
        qa, qb = q_off[qi], q_off[qi + 1]
        for k in range(len(r_off) - 1):
            ra, rb = r_off[k], r_off[k + 1]
            n = rb - ra
            prev[0] = 0.0
            for j in range(1, n + 1):
                prev[j] = np.inf
            for i in range(qa, qb):
                cur[0] = np.inf
                x = q[i]
                for j in range(1, n + 1):
                    d = x - r[ra + j - 1]
                    best = prev[j - 1]
                    if prev[j] < best:
                        best = prev[j]
                    if cur[j - 1] < best:
                        best = cur[j - 1]
                    cur[j] = d * d + best
                prev, cur = cur, prev
            out[qi, k] = np.sqrt(prev[n])


def cpu_mhz() -> float:
    try:
        with open("/proc/cpuinfo") as fh:
            vals = [float(line.split(":")[1]) for line in fh if line.startswith("cpu MHz")]
        return float(np.mean(vals)) if vals else float("nan")
    except OSError:
        return float("nan")


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", default=None, help="where the melodies come from (default: the default catalog)")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--refs", type=int, default=2000)
    ap.add_argument("--query-steps", type=int, default=40)
    ap.add_argument("--slow-pairs", type=int, default=200, help="pairs for librosa / tslearn (default 200)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    threads = os.cpu_count() or 1
    mhz = cpu_mhz()
    cat = Catalog.open(args.catalog, read_only=True)
    p = cat.packed
    rng = np.random.default_rng(args.seed)
    n_steps = np.diff(p.step_offsets)
    long_enough = np.flatnonzero(n_steps >= args.query_steps)
    rows = rng.permutation(long_enough)
    q_rows, r_rows = rows[:args.queries], rng.permutation(np.setdiff1d(np.flatnonzero(n_steps >= 2), rows[:args.queries]))[:args.refs]

    def feats(row, cut=None):
        f = cat.features(int(row))
        if cut is not None:
            s = slice(0, cut)
            f = Features(f.interval[s], f.length[s], f.weight[s], f.tempo_unit, f.metric[s])
        return f

    queries = [feats(r, args.query_steps) for r in q_rows]
    refs = [feats(r) for r in r_rows]
    ref_len = np.array([len(f) for f in refs])
    # packed references, as the catalog search sees them
    cat_arrays = [np.concatenate([getattr(f, k) for f in refs]).astype("f4")
                  for k in ("interval", "length", "weight", "metric")]
    r_off = np.zeros(len(refs) + 1, dtype=np.int64)
    r_off[1:] = np.cumsum(ref_len)
    q_len = np.array([len(f) for f in queries])
    cells_all = int(q_len.sum() * ref_len.sum())
    print(f"{len(queries)} queries x {len(refs)} references: {q_len.mean():.0f} x {ref_len.mean():.0f} steps on "
          f"average, {cells_all / 1e6:.1f} M cells; {threads} threads, cpu MHz {mhz:.0f}", flush=True)
    results = []

    def record(name, seconds, cells, n_threads, note=""):
        rate = cells / seconds
        cyc = mhz * 1e6 * n_threads / rate
        results.append({"engine": name, "seconds": seconds, "cells": cells, "cells_per_s": rate,
                        "threads": n_threads, "cycles_per_cell": cyc, "note": note})
        print(f"  {name:<44} {rate / 1e6:9.1f} Mcell/s  {cyc:8.2f} cycles/cell ({1 / cyc:.3f} cells/cycle)  "
              f"({n_threads} thr, {seconds:.3f} s) {note}", flush=True)

    # --- ours: the real search path
    qf0 = queries[0]
    align.search(qf0, tuple(cat_arrays), r_off)          # JIT / cache load
    t = best_of(lambda: [align.search(q, tuple(cat_arrays), r_off) for q in queries], args.repeat)
    record("melody search_scores (align.search)", t, cells_all, threads,
           "thread pool" if r_off[-1] >= 200_000 else "one range (< 200k steps: no split)")

    def one_thread():
        out = np.zeros(len(refs))
        for q in queries:
            K.search_scores(q.interval, q.length, q.weight, q.metric_or_unknown(), *cat_arrays, r_off, 0, len(refs),
                            align.DEFAULT_PARAMS, WEIGHT_TABLE, out)
    t = best_of(one_thread, args.repeat)
    record("melody search_scores, 1 thread", t, cells_all, 1)

    def forced_pool():
        bounds = np.searchsorted(r_off, np.linspace(0, r_off[-1], 4 * threads + 1)).clip(0, len(refs))
        bounds[0], bounds[-1] = 0, len(refs)
        for q in queries:
            out = np.zeros(len(refs))
            qm = q.metric_or_unknown()

            def run(k):
                K.search_scores(q.interval, q.length, q.weight, qm, *cat_arrays, r_off, int(bounds[k]),
                                int(bounds[k + 1]), align.DEFAULT_PARAMS, WEIGHT_TABLE, out)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, range(len(bounds) - 1)))
    t = best_of(forced_pool, args.repeat)
    record(f"melody search_scores, {threads} threads", t, cells_all, threads)

    # --- ours: the first-pass kernel across references in SIMD lanes (melody.align.fast)
    layout = fast.build_layout(*cat_arrays, r_off)
    padded = layout["steps"].shape[0] * layout["steps"].shape[2]
    for n_thr in (1, threads):
        fast.prefilter_scores(qf0, layout, workers=n_thr)         # JIT / cache load
        t = best_of(lambda: [fast.prefilter_scores(q, layout, workers=n_thr) for q in queries], args.repeat)
        record(f"melody fast.prefilter_scores, {n_thr} thread{'s' if n_thr > 1 else ''}", t, cells_all, n_thr,
               f"int16 x {layout['meta'][1]} lanes; padding {padded / r_off[-1]:.2f}x")

    # --- ours: the sieve on the same layout (melody.align.sieve; what a 1M-melody search spends its time in)
    layout["sieve8"] = sieve.sieve_layout(layout)
    for bits, name in ((8, "sieve.sieve_scores"), (16, "sieve.sieve_scores int16")):
        for n_thr in (1, threads):
            sieve.sieve_scores(qf0, layout, workers=n_thr, bits=bits)            # JIT / cache load
            t = best_of(lambda: [sieve.sieve_scores(q, layout, workers=n_thr, bits=bits) for q in queries],
                        args.repeat)
            kind = "uint8" if bits == 8 else "int16"
            record(f"melody {name}, {n_thr} thread{'s' if n_thr > 1 else ''}", t, cells_all, n_thr,
                   f"{kind} x {layout['meta'][1]} lanes; padding {padded / r_off[-1]:.2f}x")

    # --- plain DTW in Numba (same pairs, interval series)
    qs = np.concatenate([q.interval for q in queries]).astype("f8")
    q_off = np.zeros(len(queries) + 1, dtype=np.int64)
    q_off[1:] = np.cumsum(q_len)
    rs = cat_arrays[0].astype("f8")
    out = np.zeros((len(queries), len(refs)))
    dtw_pairs(qs, q_off, rs, r_off, 0, 1, out)
    t = best_of(lambda: dtw_pairs(qs, q_off, rs, r_off, 0, len(queries), out), args.repeat)
    record("melody plain DTW (Numba), 1 thread", t, cells_all, 1)
    ours_dtw = out.copy()

    def dtw_pool():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: dtw_pairs(qs, q_off, rs, r_off, k, k + 1, out), range(len(queries))))
    t = best_of(dtw_pool, args.repeat)
    record(f"melody plain DTW (Numba), {threads} threads", t, cells_all, threads)

    # --- melody.align.dtw kernels (full matrices), on the slow subset
    pairs = [(qi, ri) for qi in range(len(queries)) for ri in range(len(refs))]
    sub = [pairs[k] for k in rng.choice(len(pairs), min(args.slow_pairs, len(pairs)), replace=False)]
    sub_cells = int(sum(q_len[a] * ref_len[b] for a, b in sub))
    align.dtw(queries[0], refs[0])
    t = best_of(lambda: [align.dtw(queries[a], refs[b]) for a, b in sub], args.repeat)
    record("melody align.dtw (matrix + path)", t, sub_cells, 1, f"{len(sub)} pairs")

    # --- dtaidistance
    try:
        from dtaidistance import dtw as ddtw
        series = [q.interval.astype("f8") for q in queries] + [f.interval.astype("f8") for f in refs]
        ddtw.distance_fast(series[0], series[-1])
        t = best_of(lambda: [ddtw.distance_fast(series[a], series[len(queries) + b]) for a, b in sub], args.repeat)
        record("dtaidistance distance_fast (C), per pair", t, sub_cells, 1, f"{len(sub)} pairs")
        block = ((0, len(queries)), (len(queries), len(series)))
        t = best_of(lambda: ddtw.distance_matrix_fast(series, block=block, parallel=True), args.repeat)
        record("dtaidistance distance_matrix_fast (parallel)", t, cells_all, threads, "queries x refs block")
        m = ddtw.distance_matrix_fast(series, block=block, parallel=True)[:len(queries), len(queries):]
        agree = np.allclose(m, ours_dtw, rtol=1e-6, atol=1e-6)
        print(f"  (plain DTW agrees with dtaidistance: {agree})")
    except ImportError:
        print("  dtaidistance not installed (pip install -e '.[bench]')")

    # --- librosa
    try:
        import librosa
        librosa.sequence.dtw(X=queries[0].interval[None].astype("f8"), Y=refs[0].interval[None].astype("f8"))
        few = sub[: max(1, len(sub) // 4)]
        few_cells = int(sum(q_len[a] * ref_len[b] for a, b in few))
        t = best_of(lambda: [librosa.sequence.dtw(X=queries[a].interval[None].astype("f8"),
                                                  Y=refs[b].interval[None].astype("f8"), metric="sqeuclidean")
                             for a, b in few], 1)
        record("librosa.sequence.dtw, per pair", t, few_cells, 1, f"{len(few)} pairs")
    except ImportError:
        print("  librosa not installed")

    # --- tslearn
    try:
        from tslearn.metrics import dtw as tdtw
        tdtw(queries[0].interval.astype("f8"), refs[0].interval.astype("f8"))
        t = best_of(lambda: [tdtw(queries[a].interval.astype("f8"), refs[b].interval.astype("f8")) for a, b in sub],
                    args.repeat)
        record("tslearn.metrics.dtw, per pair", t, sub_cells, 1, f"{len(sub)} pairs")
    except ImportError:
        print("  tslearn not installed (pip install -e '.[bench]')")

    by = {r["engine"]: r["cells_per_s"] for r in results}
    ours = by["melody search_scores (align.search)"]
    best_dtai = max([v for k, v in by.items() if k.startswith("dtaidistance")], default=float("nan"))
    first = by[f"melody fast.prefilter_scores, {threads} threads"]
    print(f"first pass (fast.prefilter_scores, {threads} thr) / dtaidistance best API: {first / best_dtai:.2f}x; "
          f"/ align.search: {first / ours:.1f}x; {first / 1e9:.3f} Gcell/s")
    for name in ("sieve.sieve_scores", "sieve.sieve_scores int16"):
        for n_thr in sorted({1, threads}):
            sv = by[f"melody {name}, {n_thr} thread{'s' if n_thr > 1 else ''}"]
            print(f"{name} ({n_thr} thr) / dtaidistance best API: {sv / best_dtai:.2f}x; {sv / 1e9:.3f} Gcell/s, "
                  f"{sv / (mhz * 1e6 * n_thr):.2f} cells/cycle per core")
    print(f"search kernel (align.search) / dtaidistance best API: {ours / best_dtai:.2f}x; "
          f"plain Numba DTW ({threads} thr) / dtaidistance best: {by[f'melody plain DTW (Numba), {threads} threads'] / best_dtai:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu_mhz": mhz, "threads": threads, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
