#!/usr/bin/env python
"""Census of separation at the 1% false-positive cut: the positives below it, and the negatives that set it.

Reads a `bench_accuracy.py --json OUT --workdir DIR` run (its catalog and query files are kept in DIR). The
cut is the benchmark's (`bench_accuracy.tpr_at_cut`): the E-value that all but floor(1%) of the negatives'
best matches reach. For every 10-20-note positive whose true match is not below it (or not flagged at E <=
0.1), the query's stage 2 is re-fitted as search fits it (`Catalog._stage1`, `rescore.fit_null`,
`rescore.tail_bound`; the local view alone) and the true reference's combined score taken apart: stage 1's
interval score and stage 2's pitch score, the null's location for that reference ((ln K + ln m n) / lambda,
the score a chance alignment of this length typically reaches) and scale (1 / lambda), what the
reference-length correction charges against a reference of the catalog's median length, the points the
true match lacks for an E-value below the cut, and its E-value under the prior alone (no per-query fit).
Queries of at most `rescore.PASSAGE_MAX` steps also get the passage view and are listed without this.
Then the most significant negatives: their best match, the aligned and exactly matching notes, and the
longest run of notes with identical intervals the two melodies share anywhere (the benchmark's held-out
filter drops negatives sharing `benchdata.SHARED_RUN` intervals: a shorter run with a changed note between
is how a tune-family relative slips through). BENCHMARKS.md, "Fourteenth session".

    .venv/bin/python scripts/bench_accuracy.py --json /tmp/acc0.json --workdir /tmp/acc0
    .venv/bin/python scripts/census_cut.py /tmp/acc0.json /tmp/acc0
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402


def cut_of(negative_evalues, fpr: float = 0.01) -> float:
    """The empirical cut: all but floor(fpr n) of the negatives' best E-values are at least this."""
    best = np.sort(np.asarray(negative_evalues, dtype="f8"))
    return float(best[int(np.floor(fpr * len(best)))])


def longest_shared_run(a, b) -> int:
    """Notes in the longest run of identical consecutive intervals of pitch sequences a and b (anywhere in
    each, any transposition); 0 when they share no interval."""
    ia = np.diff(np.rint(np.asarray(a, dtype="f8"))).astype(int)
    ib = np.diff(np.rint(np.asarray(b, dtype="f8"))).astype(int)
    best, prev = 0, np.zeros(len(ib) + 1, dtype=int)
    for x in ia:
        cur = np.zeros(len(ib) + 1, dtype=int)
        same = ib == x
        cur[1:][same] = prev[:-1][same] + 1
        best = max(best, int(cur.max(initial=0)))
        prev = cur
    return best + 1 if best else 0


def evalue(score: float, lam: float, log_k: float, log_space: float, z_null: np.ndarray, n_refs: int) -> float:
    """Stage 2's E-value of one reference's combined score (one view): the reduced score, bounded by the
    null sample's own tail (`rescore.tail_bound`), in a catalog of n_refs."""
    from melody.score import rescore
    z = rescore.tail_bound(np.array([lam * score - log_k - log_space]), z_null)[0]
    return float(n_refs * -np.expm1(-np.exp(-z)))


def points_short(score: float, lam: float, log_k: float, log_space: float, z_null: np.ndarray, n_refs: int,
                 cut: float) -> float:
    """Combined score the reference lacks for an E-value below `cut` (0 when it has it), the null fixed."""
    if evalue(score, lam, log_k, log_space, z_null, n_refs) < cut:
        return 0.0
    lo, hi = score, score + 1.0
    while evalue(hi, lam, log_k, log_space, z_null, n_refs) >= cut:
        hi += 2.0 * (hi - lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if evalue(mid, lam, log_k, log_space, z_null, n_refs) < cut:
            hi = mid
        else:
            lo = mid
    return hi - score


def take_apart(cat, loaded, true_rows: list[int], cut: float) -> dict:
    """The true reference's stage-2 numbers for one query (local view; see the module docstring)."""
    from melody.meter import melody_with_guessed_beats
    from melody.score import rescore
    p = cat.packed
    sq = melody_with_guessed_beats(loaded)
    qf = p.query_features(sq)
    null = rescore.style_sample(qf, p)
    s1, ev1 = cat._stage1(qf, p, None, null)
    n_steps = np.diff(p.step_offsets)
    rows = np.union1d(null, np.asarray(true_rows, dtype=np.int64))
    combined = np.full(len(p), np.nan)
    combined[rows] = s1[rows] + rescore.pitch_scores(rescore.query_pitches(sq), qf, p, rescore.pitches(p), rows)
    space = rescore.search_space(len(qf), n_steps)
    weight = rescore.STYLE_PRIOR_WEIGHT if rescore.by_style(len(p)) else rescore.PRIOR_WEIGHT
    lam, log_k = rescore.fit_null(combined[null], space[null], None, weight)
    z_null = lam * combined[null] - log_k - np.log(space[null])
    t = max(true_rows, key=lambda r: combined[r])
    log_space = float(np.log(space[t]))
    prior_z = rescore.LAMBDA_RESCORE * combined[t] - np.log(rescore.K_RESCORE) - log_space
    return {"m": len(qf), "n": int(n_steps[t]), "score": float(combined[t]), "interval": float(s1[t]),
            "pitch": float(combined[t] - s1[t]), "location": (log_k + log_space) / lam, "scale": 1.0 / lam,
            "reference_length_points": float(rescore.REF_LENGTH_EXP * np.log(n_steps[t] / np.median(n_steps)) / lam),
            "points_short": points_short(combined[t], lam, log_k, log_space, z_null, len(p), cut),
            "evalue_prior_only": float(len(p) * -np.expm1(-np.exp(-prior_z)))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", help="bench_accuracy.py --json output")
    ap.add_argument("workdir", help="its --workdir (catalog and queries)")
    ap.add_argument("--negatives", type=int, default=5, help="most significant negatives read (default 5)")
    args = ap.parse_args(argv)

    import melody
    from melody.score import rescore
    data = json.load(open(args.result))
    cat = melody.Catalog.open(os.path.join(args.workdir, "catalog"), read_only=True)
    queries = data["queries"]
    negatives = [r for r in queries if r["category"] in benchdata.NEGATIVE_CATEGORIES]
    cut = cut_of([r["top_evalue"] if r["top_evalue"] is not None else np.inf for r in negatives])

    def load(qid):
        return max(melody.load(os.path.join(args.workdir, "queries", qid + ".mid")), key=len)

    print(f"cut (E of the negative at 1%): {cut:.3g}\n")
    print("| query | variation | arr. | notes: phrase (context) | rank | E | S = S1 + S2 | null location / scale "
          "| reference steps (pts) | points short | E, prior only |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in queries:
        if not r["positive"] or r["category"] not in benchdata.POSITIVE_CATEGORIES:
            continue
        e = r.get("true_evalue")         # absent when the true tune is not among the top 10
        if e is not None and e < cut and e <= 0.1:
            continue
        loaded = load(r["qid"])
        head = (f"| {r['qid']} | {r['category']} | {r['arrangement']} | {r['phrase_notes']} "
                f"({r['context_notes'][0]}+{r['context_notes'][1]}) | {r.get('rank') or '>10'} | {'-' if e is None else f'{e:.2g}'} | ")
        if len(cat.packed.query_features(loaded)) <= rescore.PASSAGE_MAX:
            print(head + "passage-length query | | | | |")
            continue
        true_rows = [cat.packed.entries.row_of(r["true_id"])]
        d = take_apart(cat, loaded, true_rows, cut)
        print(head + f"{d['score']:.0f} = {d['interval']:.0f} + {d['pitch']:.0f} | {d['location']:.0f} / "
              f"{d['scale']:.1f} | {d['n']} ({d['reference_length_points']:+.0f}) | {d['points_short']:.0f} | "
              f"{d['evalue_prior_only']:.2g} |")
    print("\n| negative | E | catalog tune | matched / exact | shared run | query passage | reference passage |")
    print("|---|---|---|---|---|---|---|")
    by_evalue = sorted(negatives, key=lambda r: r["top_evalue"] if r["top_evalue"] is not None else np.inf)
    for r in by_evalue[:args.negatives]:
        loaded = load(r["qid"])
        best = cat.search(loaded, top=1)[0]
        ref = cat.melody(cat.packed.entries.row_of(best.id))
        qp, rp = np.rint(loaded.notes["pitch"]).astype(int), np.rint(ref.notes["pitch"]).astype(int)
        (a, b), (x, y) = best.query_notes, best.reference_notes
        print(f"| {r['qid']} ({r['category']}) | {best.evalue:.3g} | {best.title[:40]} | {best.matched_notes} / "
              f"{best.exact_notes} | {longest_shared_run(qp, rp)} | `{' '.join(map(str, qp[a:b + 1]))}` | "
              f"`{' '.join(map(str, rp[x:y + 1]))}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
