#!/usr/bin/env python
"""Census of the songwriters' variations that miss the 1% cut or rank 1, by mechanism.

Reads a `bench_accuracy.py --json OUT --workdir DIR` run. For every positive of the seven variation groups
(mode, meter, reset, embellish, extend, fragment, sequence) the true reference's combined score is taken
apart as `census_cut.take_apart` does (stage 1's interval score, stage 2's pitch score, the query's own
null location and scale, the points it lacks for an E-value below the cut). Each query that misses the cut
or rank 1 gets one mechanism, by rule (`mechanism`):

- competitor: another catalog tune ranks above the true one (a relative of the foreign context, a tune
  holding the same notes, or a chance partner at chance-level E-values);
- split: the true tune ranks first, but its alignment covers less than SPLIT_IOU of the borrowed phrase's
  span in the query (notes inserted into the phrase cut it in two, and the better piece is kept);
- weak: the true tune ranks first and its alignment covers the phrase, but the varied phrase scores too low.

Then whether the null is what holds the misses back: the score each query needs for an E-value below the cut
under its own null (`needed_score`: location + scale ln(N / cut), the Gumbel tail of `rescore.fit_null`)
for the misses against the hits, and how many misses would pass with the hits' median need. BENCHMARKS.md,
"Twenty-second session".

    .venv/bin/python scripts/bench_accuracy.py --json /tmp/acc0.json --workdir /tmp/acc0
    .venv/bin/python scripts/census_vary.py /tmp/acc0.json /tmp/acc0
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402
import census_cut  # noqa: E402

SPLIT_IOU = 0.6      # a true match covering less of the phrase's span than this is a split phrase
MECHANISMS = ("competitor", "split", "weak")


def mechanism(rank, query_iou) -> str:
    """The mechanism of a miss (module docstring): rank None (not in the top 10) or > 1 is a competitor."""
    if rank is None or rank > 1:
        return "competitor"
    return "split" if (query_iou is None or query_iou < SPLIT_IOU) else "weak"


def needed_score(location: float, scale: float, n_refs: int, cut: float) -> float:
    """The combined score whose E-value is `cut` in a catalog of n_refs under a Gumbel null with this location
    ((ln K + ln m n) / lambda) and scale (1 / lambda), in the tail where E ~ N exp(-(S - location) / scale)."""
    return location + scale * np.log(n_refs / cut)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", help="bench_accuracy.py --json output")
    ap.add_argument("workdir", help="its --workdir (catalog and queries)")
    args = ap.parse_args(argv)

    import melody
    data = json.load(open(args.result))
    cat = melody.Catalog.open(os.path.join(args.workdir, "catalog"), read_only=True)
    queries = data["queries"]
    negatives = [r for r in queries if r["category"] in benchdata.NEGATIVE_CATEGORIES]
    cut = census_cut.cut_of([r["top_evalue"] if r["top_evalue"] is not None else np.inf for r in negatives])
    rows = []
    for r in queries:
        if r["category"] not in benchdata.VARIATION_CATEGORIES:
            continue
        loaded = max(melody.load(os.path.join(args.workdir, "queries", r["qid"] + ".mid")), key=len)
        d = census_cut.take_apart(cat, loaded, [cat.packed.entries.row_of(r["true_id"])], cut)
        e = r.get("true_evalue")
        d.update(r, hit=r.get("rank") == 1 and e is not None and e < cut,
                 need=needed_score(d["location"], d["scale"], len(cat.packed), cut))
        rows.append(d)

    print(f"cut (E of the negative at 1%): {cut:.3g}\n")
    print("| group | misses of 15 | " + " | ".join(MECHANISMS) + " | misses (mechanism, rank, points short) |")
    print("|---|---|" + "---|" * len(MECHANISMS) + "---|")
    for category in benchdata.VARIATION_CATEGORIES:
        miss = sorted((d for d in rows if d["category"] == category and not d["hit"]), key=lambda d: d["points_short"])
        count = collections.Counter(mechanism(d.get("rank"), d.get("query_iou")) for d in miss)
        listed = ", ".join(f"{d['qid']} ({mechanism(d.get('rank'), d.get('query_iou'))[0]}, {d.get('rank') or '>10'}, "
                           f"{d['points_short']:.0f})" for d in miss)
        print(f"| {category} | {len(miss)} | " + " | ".join(str(count[m]) for m in MECHANISMS) + f" | {listed} |")
    hits, misses = [d for d in rows if d["hit"]], [d for d in rows if not d["hit"]]
    print()
    for m in MECHANISMS:
        short = [d["points_short"] for d in misses if mechanism(d.get("rank"), d.get("query_iou")) == m]
        if short:
            print(f"{m}: {len(short)} misses, median {np.median(short):.0f} points short, "
                  f"{sum(s <= 10 for s in short)} within 10")
    if hits and misses:
        need = float(np.median([d["need"] for d in hits]))
        print(f"score needed for the cut under the query's own null, median: hits {need:.0f}, misses "
              f"{np.median([d['need'] for d in misses]):.0f}; combined score, median: hits "
              f"{np.median([d['score'] for d in hits]):.0f}, misses {np.median([d['score'] for d in misses]):.0f}; "
              f"misses at or above the hits' median need: {sum(d['score'] >= need for d in misses)} of {len(misses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
