#!/usr/bin/env python
"""Which kind of note error costs a sung query its rank: solo_errors.py's error kinds, on bench_sung.py's
takes, judged against the notes as *sung*.

Each take's fused pitch track is all_split.py's (cached under W/all_split, computed once per seed and reading:
"all", "hum", "room" or a take without one effect). The notes come from `notes_from_track` of the code being
measured; `solo_errors.classify` matches them with the notes the singer sang (the take's plan: onsets, ends and
the sung pitches, a singer's own wrong notes and timing included, in the take's own tuning; a transcribed
pitch within 50 cents of the sung one is that note) and names every error: octave, wrong pitch, late (50-200
ms), split, merged repeat, swallowed, missed, extra. Then each kind is repaired alone from the sung notes
(`solo_errors.repair`), the notes are snapped to the take's beats as `transcribe` snaps them and searched in
bench_sung.py's catalog, positives and negatives alike. Printed per seed, reading and repair: R@1 / R@10 / TPR /
FPR and the census of errors per sung note. BENCHMARKS.md, "Seventeenth session: a singer's notes, error by
error".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/sung_errors.py --workdir W --seeds 0 1 --readings all hum
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import all_split  # noqa: E402
import bench_accuracy  # noqa: E402
import benchdata  # noqa: E402
import solo_errors  # noqa: E402

SUNG_TOL = 0.5     # semitones: a transcribed pitch this near the sung one is that note (mir_eval's 50 cents)
KINDS = ("ok",) + solo_errors.KINDS


def sung_truth(plan: dict) -> np.ndarray:
    """(n, 3) pitch, onset, duration of the notes as sung (the take's plan)."""
    return np.column_stack([plan["sung"], plan["onset"], plan["end"] - plan["onset"]]).astype("f8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True,
                    help="bench_sung.py's --workdir (songs, renders); tracks cached under it")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--readings", nargs="+", default=["all", "hum"],
                    choices=all_split.READINGS + all_split.OTHER_TAKES)
    ap.add_argument("--repairs", nargs="*", default=["none", *solo_errors.KINDS, "timing", "all"])
    ap.add_argument("--json", metavar="OUT", help="per query: rank, errors (indices) per kind and reading")
    args = ap.parse_args(argv)

    from melody.audio.segment import notes_from_track
    from melody.errors import MelodyError

    queries, cat, ids = all_split.songs_and_catalog(args.workdir, args.every)
    doc = {"config": vars(args), "results": {}}
    for seed in args.seeds:
        for reading in args.readings:
            tracks = all_split.capture(queries, seed, reading, args.workdir)
            notes, errors, census, sung = {}, {}, dict.fromkeys(KINDS, 0), 0
            for q in queries:
                tr, plan = tracks[q.qid]
                if tr is None:
                    continue
                notes[q.qid] = notes_from_track(tr)
                errors[q.qid] = e = solo_errors.classify(sung_truth(plan), notes[q.qid], tol=SUNG_TOL)
                sung += len(plan["onset"])
                for k in KINDS:
                    census[k] += len(e[k])
            print(f"seed {seed} {reading}: {sung} sung notes; " + ", ".join(
                f"{k} {census[k] / sung:.3f}" for k in KINDS), flush=True)
            cell = doc["results"][f"{seed}-{reading}"] = {"census": census, "sung": sung, "repairs": {},
                                                          "errors": errors}
            base = {}
            for rep in args.repairs:
                kinds = [] if rep == "none" else list(solo_errors.KINDS) + ["timing"] if rep == "all" else [rep]
                rows = []
                for q in queries:
                    tr, plan = tracks[q.qid]
                    matches = []
                    if tr is not None:
                        est = notes[q.qid]
                        if kinds:
                            est = solo_errors.repair(sung_truth(plan), est, errors[q.qid], kinds, tune=0.0)
                        if q.qid in base and solo_errors._same(est, notes[q.qid]):   # the repair changed nothing
                            rows.append(base[q.qid])
                            continue
                        try:
                            matches = cat.search(all_split.snapped_query(est, tr), top=10)
                        except MelodyError:
                            pass
                    rows.append(bench_accuracy.evaluate(q, matches, ids))
                if rep == "none":
                    base = {r["qid"]: r for r in rows}
                s = bench_accuracy.summarize(rows)
                cell["repairs"][rep] = {"summary": s, "ranks": {r["qid"]: r.get("rank") for r in rows if r["positive"]}}
                print(f"  {rep:<14} R@1 {s['recall_at_1']:.3f}  R@10 {s['recall_at_10']:.3f}  "
                      f"TPR {s['tpr']:.3f}  FPR {s['fpr']:.3f}", flush=True)
    shutil.rmtree(cat.path, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
