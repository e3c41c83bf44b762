#!/usr/bin/env python
"""Would a recording rank better if its two readings had to agree? An offline re-ranking of bench_audio's
recordings from the search's own reduced scores.

`Catalog.search` reads a recording twice, as transcribed and with repeated notes merged on both sides, and each
reference keeps the better of its two reduced scores z, corrected for taking the better of two
(`rescore.rescore_views`, `views_factor`). A real relative matches both readings; a chance partner often matches
one of them only. This script keeps every query's z of its stage-2 candidates and of its null rows
(``detail`` of `rescore.rescore_views`) and ranks them again by ``(1 - a) max + a min`` over the plain views
(`rescore.combine_views`; a = 0 is the better reading alone, as the search was before `rescore.READINGS_AGREE`,
which is the search's own a). The passage view, where there is one, is still taken as a max. The E-value's factor
is measured on the null rows as `views_factor` measures it for the max (`rescore.agreement_factor`).
Printed per a: rank 1 of the positives, true tunes flagged (E <= 0.1), negatives flagged, and the queries gained
or lost at rank 1 against a = 0. Notes come from the cached pitch tracks (`solo_errors.capture`) with the code
being measured, snapped as `transcribe` snaps them. BENCHMARKS.md, "Twenty-third session: the mixes that still
lose rank 1".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/view_agreement.py --workdir W --seed 1 --kind mix
"""
from __future__ import annotations

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
import solo_errors  # noqa: E402

FLAG_E = 0.1     # significance.DEFAULT_MAX_EVALUE: a match is flagged at E <= this

from melody.score.rescore import agreement_factor, combine_views  # noqa: E402


def rerank(detail: dict, a: float, n_refs: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates (``detail["cand"]``) in the order of their E-values under the combination, and those
    E-values. The plain views are combined; a passage view stays a view of its own (the max of the two). Each
    candidate's factor is the search's own (``detail["factor"]``) times the combination's over the max's
    (`rescore.agreement_factor`), so a = 0 gives the E-values of a search that takes the better reading alone
    (`rescore.READINGS_AGREE` 0)."""
    z, z_null = np.asarray(detail["z"]), np.asarray(detail["z_null"])
    plain = ~np.asarray(detail["whole"], dtype=bool)
    factor = np.asarray(detail["factor"], dtype="f8")
    if plain.sum() >= 2:
        stat = combine_views(z[plain], a)
        factor = factor * agreement_factor(z_null[plain], a) / agreement_factor(z_null[plain], 0.0)
        if (~plain).any():
            stat = np.maximum(stat, z[~plain].max(axis=0))
    else:
        stat = z.max(axis=0)
    ev = n_refs * -np.expm1(-factor * np.exp(-stat))
    order = np.lexsort((-stat, ev))
    return np.asarray(detail["cand"])[order], ev[order]


def main(argv=None) -> int:
    ap = solo_errors.workdir_parser(__doc__)
    ap.add_argument("--kind", default="mix", help="solo, mix or room<S> (solo_errors.capture)")
    ap.add_argument("--a", type=float, nargs="*", default=[0.0, 0.25, 0.5])
    args = ap.parse_args(argv)

    import melody
    from melody.audio.segment import notes_from_track
    from melody.meter import melody_with_guessed_beats

    hdir = os.path.join(args.workdir, "solo_errors")
    split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, hdir, n_variation=0, log=None)
    tracks = solo_errors.capture(queries, args.workdir, args.kind)
    cat_dir = os.path.join(args.workdir, "view_agreement", "catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    row_of = {e.uid: k for k, e in enumerate(cat.packed.entries)}
    n_refs = len(cat.packed.entries)
    t0 = time.perf_counter()
    kept = []            # (query, true rows, detail)
    for q in queries:
        tr = tracks[q.qid]
        if tr is None:
            continue
        query = solo_errors.as_query(notes_from_track(tr), tr, marks=True)
        detail = {}
        cat._rank(melody_with_guessed_beats(query), cat.packed, None, None, detail=detail)
        true_rows = {row_of[ids[k]] for k in [q.ref_index, *q.alt_ref_indices]} if q.positive else set()
        kept.append((q, true_rows, detail))
    print(f"{len(kept)} {args.kind} queries searched in {time.perf_counter() - t0:.0f} s", flush=True)
    base = None
    for a in args.a:
        first, flagged, negatives, at_one = 0, 0, 0, set()
        for q, true_rows, detail in kept:
            order, ev = rerank(detail, a, n_refs)
            if q.positive:
                if order[0] in true_rows:
                    first += 1
                    at_one.add(q.qid)
                hit = [k for k, r in enumerate(order) if r in true_rows]
                flagged += bool(hit) and ev[hit[0]] <= FLAG_E
            else:
                negatives += bool(len(ev)) and ev.min() <= FLAG_E
        base = at_one if base is None else base
        n_pos = sum(q.positive for q, _, _ in kept)
        print(f"a {a:g}: rank 1 {first} / {n_pos}, true flagged {flagged}, negatives flagged {negatives}; "
              f"gained {sorted(at_one - base)} lost {sorted(base - at_one)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
