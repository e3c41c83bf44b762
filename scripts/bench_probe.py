#!/usr/bin/env python
"""Probe: kinds of borrowing bench_accuracy's generator never makes, measured per kind.

Each probe group (`benchdata.PROBE_TRANSFORMS`) is a 10-20 note phrase of a catalog tune varied in one way
real songwriters, arrangers and performers vary a borrowed melody, between held-out context and arranged
as bench_accuracy arranges its queries: the melody harmonised in thirds (or sixths) with the harmony on top
(probe/thirds), a diatonic transposition (probe/diatonic), the phrase alone at half or double time inside an
unchanged song (probe/halftime, probe/doubletime), blue notes (probe/blue), pentatonic smoothing
(probe/pentatonic), every note re-struck 2-3 times for new words (probe/strike). The groups have their own
seeds and are searched against bench_accuracy's catalog of the same seed, so its figures stay as they were;
bench_accuracy's negatives (its --json, `--negatives`) give each group's TPR at the empirical 1% cut, and its
groups are printed beside the probe groups for comparison.

    .venv/bin/python scripts/bench_probe.py --seed 0 --workdir W --negatives ACC.json --json OUT
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import benchdata  # noqa: E402

# bench_accuracy's groups nearest to each probe kind, printed beside it (a reference, not a pairing)
NEAREST = ("exact/s0", "pitch/s2", "pitch/s3", "mode/s1", "rhythm/s2", "reset/s2", "meter/s1")


def probe_queries(workdir: str, seed: int, n_each: int, kinds, n_catalog: int = 1000, n_heldout: int = 400):
    """(split, probe queries written as MIDI under workdir/queries-probe): bench_accuracy's split of the seed."""
    corpus = benchdata.load_corpus(os.path.join(workdir, "cache"), log=None)
    split = benchdata.split_corpus(corpus, n_catalog, n_heldout, seed)
    queries = benchdata.Generator(split, seed).probes(n_each, kinds)
    qdir = os.path.join(workdir, "queries-probe")
    os.makedirs(qdir, exist_ok=True)
    for k, q in enumerate(queries):
        benchdata.render(q, os.path.join(qdir, f"{q.qid}.mid"), seed * 100_003 + 90_000 + k)
    return split, queries


def group_table(rows: list[dict], negatives: list[dict]) -> dict:
    """Per probe group: bench_accuracy's summary, TPR at the negatives' 1% cut and the true match's median E."""
    out = {}
    for category in sorted({r["category"] for r in rows}):
        sel = [r for r in rows if r["category"] == category]
        out[category] = dict(bench_accuracy.summarize(sel),
                             cut=bench_accuracy.tpr_at_cut(sel, negatives) if negatives else None,
                             median_true_e=float(np.median([r.get("true_evalue", np.inf) for r in sel])))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", required=True, help="bench_accuracy's workdir of the seed (its corpus cache)")
    ap.add_argument("--n-each", type=int, default=benchdata.N_PROBE, help="queries per probe kind")
    ap.add_argument("--kinds", default=",".join(benchdata.PROBE_TRANSFORMS), help="comma-separated probe kinds")
    ap.add_argument("--negatives", metavar="ACC.json",
                    help="bench_accuracy --json of the same seed and code: its negatives give the 1%% cut")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = [k for k in kinds if k not in benchdata.PROBE_TRANSFORMS]
    if unknown:
        ap.error(f"unknown probe kinds {unknown}; known: {list(benchdata.PROBE_TRANSFORMS)}")

    import melody
    split, queries = probe_queries(args.workdir, args.seed, args.n_each, kinds)
    cat_dir = os.path.join(args.workdir, "catalog-probe")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    rows, times = [], []
    for q in queries:
        loaded = bench_accuracy.load_query(q.path)
        t0 = time.perf_counter()
        matches = cat.search(loaded, top=10)
        times.append(time.perf_counter() - t0)
        row = bench_accuracy.evaluate(q, matches, ids)
        row["lead_recall"], row["lead_precision"] = bench_accuracy.lead_agreement(loaded, q)
        rows.append(row)

    acc = json.load(open(args.negatives)) if args.negatives else None
    negatives = [r for r in acc["queries"] if not r["positive"] and r["category"] in benchdata.NEGATIVE_CATEGORIES] \
        if acc else []
    groups = group_table(rows, negatives)
    print(f"{'group':22s} {'n':>3s} {'R@1':>6s} {'R@10':>6s} {'E<=0.1':>7s} {'1% cut':>7s} {'median E':>9s}")
    for name, g in groups.items():
        print(f"{name:22s} {g['n']:3d} {g['recall_at_1']:6.3f} {g['recall_at_10']:6.3f} {g['tpr']:7.3f} "
              f"{g['cut'] if g['cut'] is not None else float('nan'):7.3f} {g['median_true_e']:9.2g}")
    if acc:
        print("bench_accuracy's groups (same seed, its --json):")
        for name in NEAREST:
            g = acc["groups"].get(name)
            if g:
                print(f"{name:22s} {g['n']:3d} {g['recall_at_1']:6.3f} {g['recall_at_10']:6.3f} {g['tpr']:7.3f} "
                      f"{acc['tpr_at_1pct_cut'].get(name, float('nan')) or float('nan'):7.3f}")
    print(f"median query {np.median(times):.2f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "groups": groups, "median_query_s": float(np.median(times)),
                       "queries": [dict(q.truth(), **r) for q, r in zip(queries, rows)]}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
