"""Ablation: what each component adds, on the same generated queries and the same real tune families.

Every variant scores the bench_accuracy data (seed 0: 1,000 catalog melodies, 345 queries) and the MTC-ANN
families with one component changed: the pitch re-scoring stage (melody.score.rescore), information
(commonness) weights, the exact-run bonus, the summed moves (ornaments / split notes / wrong notes),
rhythm, metric position, the per-query null model of stage 1. Scoring goes the way Catalog.search goes
(stage 1, then stage 2 re-scoring with its own null); without stage 2 the small families catalog uses
stage 1's global null model.

    .venv/bin/python scripts/bench_ablation.py [--n-queries 330] [--families ../shared/data/mtc-ann-dev.jsonl.gz]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bench_families  # noqa: E402
import benchdata  # noqa: E402
from bench_accuracy import add_in_order, load_query  # noqa: E402

import melody  # noqa: E402
from melody import align  # noqa: E402
from melody.align import kernels as K  # noqa: E402
from melody.align import pitch as PK  # noqa: E402
from melody.represent import features  # noqa: E402
from melody.score import significance  # noqa: E402
from melody.score.rescore import rescore  # noqa: E402

VARIANTS = {
    "current defaults": {},
    "no pitch re-scoring (stage 1 only; its own threshold E <= 0.02)": {"no_rescore": True, "threshold": 0.02},
    "re-scoring without rhythm in the pitch alignment": {"P_RHY_MATCH": 0.0, "P_RHY_PEN": 0.0},
    "re-scoring without the metric bonus in the pitch alignment": {"P_METRIC": 0.0},
    "re-scoring without rhythm information (every shared change of length weighs the same)": {"P_RHY_INFO": 0.0},
    "re-scoring without the copied-step run bonus": {"P_RUN": 0.0},
    "re-scoring without shifted-note rhythm (anticipations pay the rhythm penalty)": {"P_SHIFT": -2.0},
    "re-scoring without the cheaper repeated-note skip": {"P_REPEAT": -2.0},
    "re-scoring without the longest exact run (P_EXACT 0)": {"P_EXACT": 0.0},
    "re-scoring without the pitch-class worth (every exact match the same, P_PC_INFO 0)": {"P_PC_INFO": 0.0},
    "re-scoring with every match's octave from the melodies' medians (P_OCT_REL 0)": {"P_OCT_REL": 0.0},
    "re-scoring without the scale-degree reading (P_DEGREE 0)": {"P_DEGREE": 0.0},
    "no commonness weights (every step weighs the mean, 2.5 bits)": {"flat": True},
    "with the exact-run bonus (1.5; off by default)": {"RUN_BONUS": 1.5},
    "no metric-position bonus": {"METRIC_MATCH": 0.0},
    "no summed moves (ornament / split / wrong note)": {"FRAG": -1e3, "WRONG": -1e3},
    "no rhythm": {"RHY_MATCH": 0.0, "RHY_PEN": 0.0},
    "stage 1 with the global null model only (no per-query tail fit)": {"global_null": True},
}


def _params(change):
    p = align.DEFAULT_PARAMS.copy()
    pp = align.DEFAULT_PITCH_PARAMS.copy()
    for k, v in change.items():
        if k.startswith("P_"):
            pp[getattr(PK, k)] = v
        elif hasattr(K, k):
            p[getattr(K, k)] = v
    return p, pp


def _scores(melody_, packed, change):
    """(rows best first, E-values) of one query, the way Catalog.search ranks them."""
    qf = features(melody_)
    p, pp = _params(change)
    packed_ = packed
    if change.get("flat"):
        qf = replace(qf, weight=np.full(len(qf), 2.5, "f4"))
        packed_ = replace(packed, weight=np.full(len(packed.weight), 2.5, "f4"), derived=packed.derived)
    scores = align.search(qf, (packed_.interval, packed_.length, packed_.weight, packed_.metric),
                          packed_.step_offsets, p)
    n_steps = np.diff(packed.step_offsets)
    saved = significance.MIN_FOR_LOCAL_FIT
    if change.get("global_null") or (change.get("no_rescore") and len(scores) < saved):
        significance.MIN_FOR_LOCAL_FIT = 10 ** 12
    try:
        ev, _ = significance.evalues(scores, len(qf), n_steps)
    finally:
        significance.MIN_FOR_LOCAL_FIT = saved
    if change.get("no_rescore"):
        return np.lexsort((-scores, ev)), ev
    order, ev, _ = rescore(melody_, qf, packed_, scores, ev, p, pp)
    return order, ev


def generated(queries, packed, ids, change):
    uid_row = {e.uid: e.row for e in packed.entries}
    true_e, neg_e, top1 = [], [], []
    for q, loaded in queries:
        order, ev = _scores(loaded, packed, change)
        if q.positive:
            rows = [uid_row[ids[q.ref_index]]] + [uid_row[ids[k]] for k in q.alt_ref_indices]
            true_e.append(min(ev[r] for r in rows))
            top1.append(order[0] in rows)
        else:
            neg_e.append(ev.min())
    true_e, neg_e = np.array(true_e), np.array(neg_e)
    thr = change.get("threshold", significance.DEFAULT_MAX_EVALUE)
    cut = np.quantile(neg_e, 0.01)
    return {"R@1": np.mean(top1), "TPR": np.mean(true_e <= thr), "FPR": np.mean(neg_e <= thr),
            "TPR@FPR1%": np.mean(true_e < cut)}


def families(melodies, change):
    with tempfile.TemporaryDirectory() as d:
        cat = melody.Catalog.create(os.path.join(d, "f"))
        ids = cat.add(melodies)
        fam = {u: m.meta["family"] for u, m in zip(ids, melodies)}
        packed = cat.packed
        aps, top1 = [], []
        for uid, m in zip(ids, melodies):
            rows, _ = _scores(m, packed, change)
            order = [packed.entries[k].uid for k in rows if packed.entries[k].uid != uid]
            rel = np.array([fam[x] == m.meta["family"] for x in order], dtype=float)
            aps.append(bench_families.average_precision(rel))
            top1.append(rel[0])
    return {"MAP": np.mean(aps), "top1": np.mean(top1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-catalog", type=int, default=1000)
    ap.add_argument("--n-queries", type=int, default=330)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", default=bench_families.DEFAULT_DATA)
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="run only the variants whose name contains TEXT (repeatable; the defaults always run)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        # the sets the ablation table was measured on (not the songwriters' variation groups added later)
        split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, work, n_variation=0)
        cat = melody.Catalog.create(os.path.join(work, "catalog"))
        ids = add_in_order(cat, [t.melody for t in split.catalog])
        loaded = [(q, load_query(q.path)) for q in queries]
        fam = bench_families.load_mtc(args.families) if os.path.exists(args.families) else None
        print(f"{'variant':62s} {'R@1':>6s} {'TPR':>6s} {'FPR':>6s} {'TPR@1%':>7s} {'MAP':>6s} {'top1':>6s}")
        for name, change in VARIANTS.items():
            if args.only and change and not any(t in name for t in args.only):
                continue
            g = generated(loaded, cat.packed, ids, change)
            f = families(fam, change) if fam else {"MAP": float("nan"), "top1": float("nan")}
            print(f"{name:62s} {g['R@1']:6.3f} {g['TPR']:6.3f} {g['FPR']:6.3f} {g['TPR@FPR1%']:7.3f} "
                  f"{f['MAP']:6.3f} {f['top1']:6.3f}", flush=True)


if __name__ == "__main__":
    main()
