#!/usr/bin/env python
"""How a recording's rhythm is compared: search the same transcriptions under other rhythm settings.

Reuses the renders of a bench_audio workdir W and the pitch tracks that `scripts/solo_errors.py` caches there
(W/solo_errors-<kind>-tracks.pkl: computed here, the same way, when missing), and builds a catalog of the
same songs. Each track's notes
come from `notes_from_track` and are snapped by `rhythm.snap_to_beats` as `transcribe` does; then every
named variant changes one thing about how the query's rhythm is read or compared, and the queries are
searched with `Catalog.search` as bench_audio searches recordings. R@1 / R@10 / TPR / FPR per variant, and
the positives whose rank moved against "main". BENCHMARKS.md, "Thirteenth session: a solo recording's
rhythm".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/rhythm_variants.py --workdir /tmp/ba \
        --variants main free25 met40 played_free25
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
import solo_errors  # noqa: E402

# variant -> (which notes: "snapped" as transcribed, "played" before snapping, "thirds_unmarked" snapped but
# without metric marks where the grid is thirds of the tracked beat; parameter overrides of the
# interval alignment (melody.align.kernels names) and of stage 2 (melody.align.pitch P_ names))
VARIANTS = {
    "main": ("snapped", {}),
    "rhythm_off": ("snapped", {"RHY_MATCH": 0.0, "RHY_PEN": 0.0, "P_RHY_MATCH": 0.0, "P_RHY_PEN": 0.0,
                               "P_RHY_INFO": 0.0}),
    "metric_off": ("snapped", {"METRIC_MATCH": 0.0, "P_METRIC": 0.0}),
    "met40": ("snapped", {"METRIC_MATCH": 0.6, "P_METRIC": 0.4}),
    "free25": ("snapped", {"DUR_FREE": 0.25, "P_DUR_FREE": 0.25}),
    "pen1": ("snapped", {"RHY_PEN": 1.0, "P_RHY_PEN": 1.0}),
    "metric_off_free25": ("snapped", {"METRIC_MATCH": 0.0, "P_METRIC": 0.0, "DUR_FREE": 0.25, "P_DUR_FREE": 0.25}),
    "thirds_unmarked": ("thirds_unmarked", {}),
    "played": ("played", {}),
    "played_free25": ("played", {"DUR_FREE": 0.25, "P_DUR_FREE": 0.25}),
    # the metric bonus kept only where the marks agree with the best partners' beyond chance (`trusted_search`)
    "trust05": ("snapped", {"trust_z": 0.5}),
    "trust1": ("snapped", {"trust_z": 1.0}),
    "trust2": ("snapped", {"trust_z": 2.0}),
    # the same with a plain one-sided exact binomial test at 5% instead of a z cutoff (fixed beforehand,
    # BENCHMARKS.md "Thirteenth session: the metric-agreement rule")
    "binom05": ("snapped", {"trust_p": 0.05}),
}
TRUST_TOP = 3     # candidates (found with the metric bonus off) whose alignments test the query's marks


def metric_agreement(cat, query, matches, params) -> tuple[int, int, float]:
    """(steps whose metric classes agree, steps compared, agreements expected by chance) over the (1,1)
    steps with equal intervals of the query's alignments with `matches` (both classes known). The chance
    rate of a pair is the sum over classes of the two melodies' class shares."""
    from melody import align
    from melody.meter import melody_with_guessed_beats

    packed = cat.packed
    qf = packed.query_features(melody_with_guessed_beats(query))
    qmet = qf.metric_or_unknown()
    agree = n = 0
    expected = 0.0
    for match in matches:
        rf = cat.features(packed.entries.row_of(match.id))
        rmet = rf.metric_or_unknown()
        known_q, known_r = qmet[qmet >= 0], rmet[rmet >= 0]
        if not len(known_q) or not len(known_r):
            continue
        chance = sum(float(np.mean(known_q == c) * np.mean(known_r == c)) for c in (0.0, 1.0, 2.0))
        aln = align.local_align(qf, rf, params)
        i, j = aln.query_steps[0], aln.reference_steps[0]
        for di, dj in aln.moves:
            if (di, dj) == (1, 1) and abs(qf.interval[i] - rf.interval[j]) < 0.5 and qmet[i] >= 0 and rmet[j] >= 0:
                n += 1
                agree += int(qmet[i] == rmet[j])
                expected += chance
            i, j = i + di, j + dj
    return agree, n, expected


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of k agreements in n steps at chance rate p."""
    from scipy.stats import binom
    return float(binom.sf(k - 1, n, min(max(p, 0.0), 1.0)))


def trusted_search(cat, query, z_min: float | None = None, p_max: float | None = None, default=None):
    """Search with the metric bonus off; where the query's marks agree with its TRUST_TOP best partners'
    beyond chance (`metric_agreement`: binomial z >= z_min, or the exact one-sided binomial p-value
    <= p_max), search again with the bonus on (or return `default`, that search's result if already run)."""
    params, pitch_params = variant_params({"METRIC_MATCH": 0.0, "P_METRIC": 0.0})
    first = cat.search(query, top=10, params=params, pitch_params=pitch_params)
    agree, n, expected = metric_agreement(cat, query, first[:TRUST_TOP], params)
    if p_max is not None:
        trusted = n > 0 and binomial_tail(agree, n, expected / n) <= p_max
    else:
        z = (agree - expected) / np.sqrt(max(expected * (1.0 - expected / n), 1e-9)) if n else 0.0
        trusted = z >= z_min
    if not trusted:
        return first
    return default if default is not None else cat.search(query, top=10)


def variant_params(overrides: dict):
    """(stage-1 params, stage-2 params): the defaults with `overrides` set."""
    from melody import align
    from melody.align import kernels, pitch

    p, pp = align.DEFAULT_PARAMS.copy(), align.DEFAULT_PITCH_PARAMS.copy()
    for name, value in overrides.items():
        if name.startswith("P_"):
            pp[getattr(pitch, name)] = value
        else:
            p[getattr(kernels, name)] = value
    return p, pp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="a bench_audio.py --workdir where solo_errors.py has run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-queries", type=int, default=120)
    ap.add_argument("--n-catalog", type=int, default=1000)
    ap.add_argument("--kind", default="solo", choices=("solo", "mix"))
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    import melody
    from melody.audio import snap_track_notes
    from melody.audio.segment import notes_from_track
    from melody.errors import MelodyError
    from melody.notes import Melody

    hdir = os.path.join(args.workdir, "rhythm_variants")
    split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, hdir, n_variation=0)
    tracks = solo_errors.capture(queries, args.workdir, args.kind)
    readings = {}
    for qid, tr in tracks.items():
        if tr is not None:
            played = notes_from_track(tr)
            snapped, info = snap_track_notes(played, tr)
            unmarked = snapped.copy()
            if info.get("subdivision") == 3:      # the search then reads beats off the notes, if it can
                unmarked["bar"], unmarked["beat"] = -1, np.nan
            readings[qid] = {"played": Melody(played, meta={"kind": "audio"}),
                             "snapped": Melody(snapped, meta={"kind": "audio", **info}),
                             "thirds_unmarked": Melody(unmarked, meta={"kind": "audio", **info})}
    cat_dir = os.path.join(hdir, "catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])

    results, main_matches = {}, {}
    for name in args.variants:
        which, overrides = VARIANTS[name]
        trust_z, trust_p = overrides.get("trust_z"), overrides.get("trust_p")
        trust = trust_z is not None or trust_p is not None
        params, pitch_params = variant_params({} if trust else overrides)
        rows, t0 = [], time.perf_counter()
        for q in queries:
            try:
                if q.qid not in readings:
                    raise MelodyError("no transcription")
                if trust:     # main's own result where main ran first (the same default search)
                    matches = trusted_search(cat, readings[q.qid][which], trust_z, trust_p,
                                             default=main_matches.get(q.qid))
                else:
                    matches = cat.search(readings[q.qid][which], top=10, params=params, pitch_params=pitch_params)
            except MelodyError:
                matches = []
            if name == "main":
                main_matches[q.qid] = matches
            rows.append(bench_accuracy.evaluate(q, matches, ids))
        s = bench_accuracy.summarize(rows)
        ranks = {r["qid"]: r.get("rank") for r in rows if r["positive"]}
        results[name] = {"summary": s, "ranks": ranks}
        moved = ""
        if "main" in results and name != "main":
            base = results["main"]["ranks"]
            moved = " ".join(f"{q}:{base[q]}->{r}" for q, r in ranks.items() if r != base[q] and 1 in (r, base[q]))
        print(f"{name:<18} R@1 {s['recall_at_1']:.3f}  R@10 {s['recall_at_10']:.3f}  TPR {s['tpr']:.3f}  "
              f"FPR {s['fpr']:.3f}  ({time.perf_counter() - t0:.0f} s)  {moved}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "results": results}, fh, indent=1, default=int)
    return 0


if __name__ == "__main__":
    sys.exit(main())
