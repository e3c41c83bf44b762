"""Pass-0 quality and speed: does `melody.align.sieve`'s ranking keep stage 1's top 10 within a small share?

    .venv/bin/python scripts/bench_sieve.py [--catalog DIR] [--queries 120] [--truth exhaustive|union]
        [--check-union] [--json out.json]

Queries as in bench_prefilter.py (seeded; a quarter exact excerpts of 20-60 notes, transposed, 0.8-1.25x
tempo; half such excerpts varied; a quarter unrelated melodies). The truth is stage 1's top 10: the full
kernel's scores (`melody.align.search`) ranked by reduced score z (`significance.reduced_scores`, which
corrects for reference length), either over every reference (`--truth exhaustive`) or, for large catalogs,
over the union of the first pass's (`fast.prefilter_scores`) top `--union` by raw score and by z (`--truth
union`; on the default catalog it agreed with the exhaustive truth, see BENCHMARKS.md).

For each share K of the catalog: "sieve" is the share of the true top 10 among the sieve's top K; "cascade"
the share that survives sieve (top K) -> first pass on those rows -> its top 1000 by z -> full kernel (the
candidates' true scores: a true top-10 reference in the final 1000 is found). Both with the sieve ranked by
raw score and by z. Timings: per query, wall clock, `--workers` threads, with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_prefilter import excerpt, unrelated  # noqa: E402
from melody import align  # noqa: E402
from melody.align import fast, sieve  # noqa: E402
from melody.catalog import Catalog  # noqa: E402
from melody.score.significance import reduced_scores  # noqa: E402

SHARES = (0.005, 0.01, 0.02, 0.05, 0.10)
FAST_KEEP = 1000


def load():
    return open("/proc/loadavg").read().split()[0]


def top_by(x, k):
    k = min(k, len(x))
    part = np.argpartition(-x, k - 1)[:k]
    return part[np.argsort(-x[part], kind="stable")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", default=None, help="default: the default catalog")
    ap.add_argument("--queries", type=int, default=120)
    ap.add_argument("--workers", type=int, default=1, help="threads for every kernel (default 1)")
    ap.add_argument("--truth", choices=("exhaustive", "union"), default="exhaustive")
    ap.add_argument("--union", type=int, default=3000, help="--truth union: first-pass candidates per ranking")
    ap.add_argument("--check-union", action="store_true", help="--truth exhaustive: also compare the union truth")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bits", default="8,16", help="sieve kernels to compare (8: the 8-bit kernel with int16 "
                    "re-runs of saturated blocks, as searches use it; 16: int16 throughout)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    cat = Catalog.open(args.catalog, read_only=True)
    p = cat.packed
    n_rows = len(p.step_offsets) - 1
    counts = np.diff(p.step_offsets)
    layout = fast.build_layout(p.interval, p.length, p.weight, p.metric, p.step_offsets)
    layout["sieve8"] = sieve.sieve_layout(layout)
    bits = [int(b) for b in args.bits.split(",")]
    padded = layout["steps"].shape[0] * layout["steps"].shape[2]
    print(f"{n_rows:,} melodies, {len(p.interval):,} steps (padded {padded:,}); truth: {args.truth}", flush=True)
    rng = np.random.default_rng(args.seed)
    candidates = np.flatnonzero(counts >= 20)
    kinds = ["excerpt"] * (args.queries // 4) + ["varied"] * (args.queries // 2)
    kinds += ["unrelated"] * (args.queries - len(kinds))
    rankers = tuple(f"{kind}{b}" for b in bits for kind in ("raw", "z"))
    rec = {(stage, rk, s): [] for stage in ("sieve", "cascade") for rk in rankers for s in SHARES}
    by_kind = {(kind, s): [] for kind in set(kinds) for s in SHARES}
    worst = {rk: [] for rk in rankers}
    agree = []
    t_sieve = {b: [] for b in bits}
    t_sieve_all, t_fast, m_steps = [], [], []
    for qi, kind in enumerate(kinds):
        q = unrelated(rng) if kind == "unrelated" else excerpt(cat, int(rng.choice(candidates)), rng,
                                                                vary=(kind == "varied"))
        qf = p.query_features(q)
        m = len(qf)
        m_steps.append(m)
        if qi == 0:     # warm-up: JIT cache loads
            for b in bits:
                sieve.sieve_scores(qf, layout, workers=args.workers, bits=b)
            fast.prefilter_scores(qf, layout, workers=args.workers)
        svs = {}
        for b in bits:
            t = time.perf_counter()
            svs[b] = sieve.sieve_scores(qf, layout, workers=args.workers, bits=b)
            t_sieve[b].append(time.perf_counter() - t)
        t = time.perf_counter()
        sieve.sieve_scores(qf, layout, bits=bits[0])
        t_sieve_all.append(time.perf_counter() - t)
        t = time.perf_counter()
        fs = fast.prefilter_scores(qf, layout, workers=args.workers)
        t_fast.append(time.perf_counter() - t)
        fz = reduced_scores(fs, m, counts)
        if args.truth == "union" or args.check_union:
            union = np.union1d(top_by(fs, args.union), top_by(fz, args.union))
            truth_z = np.full(n_rows, -np.inf)
            steps = (p.interval, p.length, p.weight, p.metric)
            truth_z[union] = reduced_scores(align.search_rows(qf, steps, p.step_offsets, union, workers=args.workers),
                                            m, counts[union])
        if args.truth == "exhaustive":
            full_z = reduced_scores(align.search(qf, (p.interval, p.length, p.weight, p.metric), p.step_offsets,
                                                 workers=args.workers), m, counts)
            if args.check_union:
                agree.append(len(np.intersect1d(top_by(full_z, 10), top_by(truth_z, 10))) / 10)
            truth_z = full_z
        true10 = top_by(truth_z, 10)
        for rk in rankers:
            sv = svs[int(rk.lstrip("rawz"))]
            key = sv if rk.startswith("raw") else reduced_scores(sv, m, counts)
            order = np.argsort(-key, kind="stable")
            rank = np.empty(n_rows, dtype=np.int64)
            rank[order] = np.arange(n_rows)
            worst[rk].append(int(rank[true10].max()) / n_rows)
            for s in SHARES:
                k = max(1, int(round(s * n_rows)))
                kept = order[:k]
                rec[("sieve", rk, s)].append(float(np.mean(rank[true10] < k)))
                survivors = kept[top_by(fz[kept], FAST_KEEP)]
                hit = float(np.mean(np.isin(true10, survivors)))
                rec[("cascade", rk, s)].append(hit)
                if rk == f"z{bits[0]}":
                    by_kind[(kind, s)].append(hit)
        if (qi + 1) % 20 == 0:
            print(f"  {qi + 1} queries; load {load()}", flush=True)
    res = {"catalog": args.catalog or "default", "melodies": n_rows, "queries": len(kinds), "truth": args.truth,
           "recall": {}, "timing": {}, "load_end": open("/proc/loadavg").read().split()[:3]}
    if agree:
        res["union_truth_agreement"] = float(np.mean(agree))
        print(f"union truth (first pass top {args.union} by raw and z, full kernel) vs exhaustive top 10: "
              f"{np.mean(agree):.4f}")
    print(f"\nrecall of stage 1's top 10 ({len(kinds)} queries); K = share of the catalog kept by the sieve")
    print("stage    ranker " + "  ".join(f"K={s * 100:>4.1f}%" for s in SHARES) + "   min (K=2%)")
    for stage in ("sieve", "cascade"):
        for rk in rankers:
            r = [float(np.mean(rec[(stage, rk, s)])) for s in SHARES]
            res["recall"][f"{stage}_{rk}"] = dict(zip(map(str, SHARES), r))
            print(f"{stage:<8} {rk:<6} " + "  ".join(f"{v:8.4f}" for v in r) +
                  f"   {min(rec[(stage, rk, 0.02)]):.2f}")
    print(f"cascade (sieve by z, {bits[0]} bits) by query kind:")
    for kind in sorted(set(kinds)):
        r = [float(np.mean(by_kind[(kind, s)])) for s in SHARES]
        res["recall"][f"cascade_z_{kind}"] = dict(zip(map(str, SHARES), r))
        print(f"  {kind:<10} " + "  ".join(f"{v:8.4f}" for v in r))
    for rk in rankers:
        w = np.array(worst[rk])
        res[f"worst_share_{rk}"] = {"median": float(np.median(w)), "p95": float(np.quantile(w, 0.95)),
                                    "max": float(w.max())}
        print(f"worst sieve rank of a true top-10 reference, as a share of the catalog ({rk}): median "
              f"{np.median(w):.4f}, p95 {np.quantile(w, 0.95):.4f}, max {w.max():.4f}")
    ms = np.array(m_steps, dtype=float)
    timed = [(f"sieve{b}", t_sieve[b], args.workers) for b in bits]
    timed += [(f"sieve{bits[0]}_all_cores", t_sieve_all, os.cpu_count()), ("fast", t_fast, args.workers)]
    for name, ts, thr in timed:
        ts = np.array(ts)
        rate = float(np.median(ms * padded / ts))
        res["timing"][name] = {"median_s": float(np.median(ts)), "threads": thr, "padded_gcell_s": rate / 1e9,
                               "real_gcell_s": float(np.median(ms * len(p.interval) / ts)) / 1e9}
        print(f"  {name:<16} {np.median(ts) * 1e3:8.1f} ms  {rate / 1e9:6.3f} Gcell/s computed (with padding), "
              f"{thr} thread(s)")
    print(f"load average at the end {' '.join(res['load_end'])}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
