"""First-pass quality and speed: does `melody.align.fast`'s ranking keep the full kernel's best references?

    .venv/bin/python scripts/bench_prefilter.py [--catalog DIR] [--queries 200] [--json out.json]

Queries (seeded): a quarter are excerpts of 20-60 notes cut from catalog melodies, transposed and played
0.8-1.25x faster or slower, with their bars kept; half are such excerpts varied by `benchdata.vary` (1-4 of:
an inserted ornament, a rhythm change, a wrong pitch, an octave slip; their bars are dropped, as for a
recording); a quarter are unrelated melodies from `benchdata.generate_melody`. For each query the exhaustive
search (`melody.align.search`, the full kernel over every reference) gives the true top 10 / top 100; the
first pass (`fast.prefilter_scores`) ranks every reference; recall@N within K is the share of the true top N
found among the first pass's top K. Timings: per query, wall clock, all cores
(`--workers`), with the load average printed; Gcell/s counts query steps x reference steps (real ones, not
the padding of a block) and also the padded cells the kernel actually computes.
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

import benchdata  # noqa: E402
from melody import align  # noqa: E402
from melody.align import fast  # noqa: E402
from melody.catalog import Catalog  # noqa: E402
from melody.notes import Melody, make_notes  # noqa: E402

KS = (20, 50, 100, 200, 500, 1000, 2000, 5000)


def excerpt(cat: Catalog, row: int, rng, vary: bool) -> Melody:
    """20-60 notes of catalog melody `row`, transposed, at another tempo; `vary`: also varied, bars dropped."""
    notes = cat.melody(row).notes
    n = min(int(rng.integers(20, 61)), len(notes))
    start = int(rng.integers(0, len(notes) - n + 1))
    notes = np.array(notes[start:start + n])
    speed = float(rng.uniform(0.8, 1.25))
    shift = int(rng.integers(-5, 7))
    onset = (notes["onset"] - notes["onset"][0]) / speed
    dur = notes["duration"] / speed
    if not vary:
        return Melody(make_notes(onset, dur, notes["pitch"] + shift, notes["bar"], notes["beat"]), "excerpt")
    unit = float(np.median(np.diff(onset))) or 1.0          # "quarter" = the median inter-onset interval
    seq = [[int(p), float(o / unit), float(d / unit), k] for k, (p, o, d) in
           enumerate(zip(notes["pitch"], onset, dur))]
    key_pc, minor = benchdata.estimate_key(notes["pitch"].astype(int), dur)
    plan = {}
    for _ in range(int(rng.integers(1, 5))):
        op = str(rng.choice(list(benchdata.OPERATIONS)))
        plan[op] = plan.get(op, 0) + 1
    seq = benchdata.vary(seq, plan, rng, key_pc, minor)
    arr = np.array([s[:3] for s in seq], dtype="f8")
    return Melody(make_notes(arr[:, 1] * unit, arr[:, 2] * unit, arr[:, 0] + shift), "varied")


def unrelated(rng) -> Melody:
    seq, _, _, _ = benchdata.generate_melody(rng, int(rng.integers(4, 9)))
    arr = np.array([s[:3] for s in seq], dtype="f8")
    keep = min(len(arr), int(rng.integers(20, 61)))
    arr = arr[:keep]
    spq = float(rng.uniform(0.35, 0.7))
    return Melody(make_notes(arr[:, 1] * spq, arr[:, 2] * spq, arr[:, 0]), "unrelated")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", default=None, help="default: the default catalog")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None, help="threads for both kernels (default: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    cat = Catalog.open(args.catalog, read_only=True)
    p = cat.packed
    n_rows = len(p.step_offsets) - 1
    t = time.perf_counter()
    layout = fast.build_layout(p.interval, p.length, p.weight, p.metric, p.step_offsets)
    t_layout = time.perf_counter() - t
    padded = layout["steps"].shape[0] * layout["steps"].shape[2]
    print(f"{n_rows:,} melodies, {len(p.interval):,} steps; layout {t_layout:.1f} s, "
          f"{sum(a.nbytes for a in layout.values()) / 1e6:.0f} MB, padded steps {padded:,} "
          f"({padded / len(p.interval):.2f}x)", flush=True)
    rng = np.random.default_rng(args.seed)
    counts = np.diff(p.step_offsets)
    candidates = np.flatnonzero(counts >= 20)
    kinds = (["excerpt"] * (args.queries // 4) + ["varied"] * (args.queries // 2))
    kinds += ["unrelated"] * (args.queries - len(kinds))
    steps = (p.interval, p.length, p.weight, p.metric)
    recall = {n: {k: [] for k in KS} for n in (10, 100)}
    worst = {kind: [] for kind in set(kinds)}
    times = {"full": [], "fast": []}
    cells = []
    for qi, kind in enumerate(kinds):
        if kind == "unrelated":
            q = unrelated(rng)
        else:
            q = excerpt(cat, int(rng.choice(candidates)), rng, vary=(kind == "varied"))
        qf = p.query_features(q)
        if qi == 0:     # warm-up: JIT cache loads
            align.search(qf, steps, p.step_offsets, workers=args.workers)
            fast.prefilter_scores(qf, layout, workers=args.workers)
        t = time.perf_counter()
        full = align.search(qf, steps, p.step_offsets, workers=args.workers)
        times["full"].append(time.perf_counter() - t)
        cells.append(len(qf))
        top = {n: np.argsort(-full, kind="stable")[:n] for n in (10, 100)}
        t = time.perf_counter()
        pre = fast.prefilter_scores(qf, layout, workers=args.workers)
        times["fast"].append(time.perf_counter() - t)
        rank = np.empty(n_rows, dtype=np.int64)
        rank[np.argsort(-pre, kind="stable")] = np.arange(n_rows)
        for n in (10, 100):
            for k in KS:
                recall[n][k].append(float(np.mean(rank[top[n]] < k)))
        worst[kind].append(int(rank[top[10]].max()))
        if (qi + 1) % 20 == 0:
            print(f"  {qi + 1} queries; load {open('/proc/loadavg').read().split()[0]}", flush=True)
    q_steps = np.array(cells, dtype=float)
    real_cells = q_steps * len(p.interval)
    pad_cells = q_steps * padded
    res = {"catalog": args.catalog or "default", "melodies": n_rows, "queries": len(kinds),
           "layout_s": t_layout, "load": open("/proc/loadavg").read().split()[:3], "recall": {}, "timing": {}}
    print(f"\nrecall of the full kernel's top N within the first pass's top K ({len(kinds)} queries):")
    print("N    " + "  ".join(f"K={k:>5}" for k in KS) + "   min over queries (K=200)")
    for n in (10, 100):
        r = {k: float(np.mean(recall[n][k])) for k in KS}
        res["recall"][f"top{n}"] = r
        print(f"{n:<4} " + "  ".join(f"{r[k]:7.4f}" for k in KS) + f"   {min(recall[n][200]):.2f}")
    res["worst_rank_of_top10"] = {kind: int(np.max(v)) for kind, v in worst.items()}
    res["median_worst_rank_of_top10"] = {kind: float(np.median(v)) for kind, v in worst.items()}
    print("worst first-pass rank (0-based) of a true top-10 reference, by query kind: max "
          f"{res['worst_rank_of_top10']}, median {res['median_worst_rank_of_top10']}")
    print("\nper query (median): ")
    for name, ts in times.items():
        ts = np.array(ts)
        rate = float(np.median(real_cells / ts))
        prate = float(np.median(pad_cells / ts)) if name != "full" else rate
        res["timing"][name] = {"median_s": float(np.median(ts)), "gcell_s": rate / 1e9, "padded_gcell_s": prate / 1e9}
        print(f"  {name:<5} {np.median(ts) * 1e3:8.1f} ms  {rate / 1e9:6.3f} Gcell/s (real cells)  "
              f"{prate / 1e9:6.3f} Gcell/s (computed, with padding)")
    print(f"load average {' '.join(res['load'])}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
