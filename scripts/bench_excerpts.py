#!/usr/bin/env python
"""Disputes where both sides are short passages: does the counterpart rank first?

Court cases are argued over passages: the plaintiff's few bars against the defendant's. This benchmark
builds a small catalog of short excerpts of real folk tunes (`benchdata.Generator.excerpt_disputes`: n
excerpts of 8-14 notes by default), queries each with a varied version of itself (mode, meter, re-set
rhythm, embellishment, an inserted bar, a motif in sequence, one or two at a time, plus one small change;
written as MIDI with an arrangement and loaded back like every benchmark query), and queries n // 2
held-out excerpts of the same length that borrow nothing. It reports how often the counterpart ranks first
(R@1), how often it is flagged at the default threshold, and how many negatives flag anything.

    .venv/bin/python scripts/bench_excerpts.py                         # 8-14 notes, seed 0, ~1 min
    .venv/bin/python scripts/bench_excerpts.py --notes 16 32 --seed 1 --json /tmp/excerpts.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402
from bench_accuracy import add_in_order, load_query  # noqa: E402


def run(n: int, notes: tuple[int, int], seed: int, workdir: str) -> list[dict]:
    import melody
    corpus = benchdata.load_corpus(os.path.join(workdir, "cache"), log=None)
    split = benchdata.split_corpus(corpus, 1000, 400, seed)
    excerpts, queries = benchdata.Generator(split, seed).excerpt_disputes(n, notes)
    qdir = os.path.join(workdir, "excerpt-queries")
    os.makedirs(qdir, exist_ok=True)
    cat_dir = os.path.join(workdir, "excerpt-catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = add_in_order(cat, excerpts)
    rows = []
    for k, q in enumerate(queries):
        path = os.path.join(qdir, f"{q.qid}.mid")
        benchdata.render(q, path, seed * 100_003 + k)
        matches = cat.search(load_query(path), top=len(excerpts))
        row = {"qid": q.qid, "category": q.category, "positive": q.positive, "notes": len(q.lead),
               "top_evalue": float(matches[0].evalue) if matches else None,
               "any_flagged": any(m.flagged for m in matches)}
        if q.positive:
            true = ids[q.ref_index]
            rank = next((r for r, m in enumerate(matches, 1) if m.id == true), None)
            row.update(rank=rank, true_evalue=float(matches[rank - 1].evalue) if rank else None,
                       true_flagged=bool(rank and matches[rank - 1].flagged))
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="excerpts in the small catalog (default 40)")
    ap.add_argument("--notes", type=int, nargs=2, default=(8, 14), metavar=("LO", "HI"),
                    help="excerpt length in notes (default 8 14)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="write the per-query rows here")
    args = ap.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-excerpts-")
    rows = run(args.n, tuple(args.notes), args.seed, workdir)
    pos = [r for r in rows if r["positive"]]
    neg = [r for r in rows if not r["positive"]]
    print(f"excerpts of {args.notes[0]}-{args.notes[1]} notes, seed {args.seed}: {len(pos)} disputes, "
          f"{len(neg)} negatives")
    print(f"R@1 {np.mean([r['rank'] == 1 for r in pos]):.3f}  flagged first "
          f"{np.mean([r['rank'] == 1 and r['true_flagged'] for r in pos]):.3f}  negatives flagging anything "
          f"{sum(r['any_flagged'] for r in neg)} of {len(neg)}")
    kinds = sorted({r["category"] for r in pos})
    for kind in kinds:
        group = [r for r in pos if r["category"] == kind]
        print(f"  {kind:40s} {sum(r['rank'] == 1 for r in group)} / {len(group)} first")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
