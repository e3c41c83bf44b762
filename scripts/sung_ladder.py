#!/usr/bin/env python
"""Where a sung take loses its rank, step by step: from the song's MIDI to the transcribed take.

Each of bench_sung.py's takes (any of its conditions: "all", "hum", "room", an effect alone) is searched in
bench_sung.py's catalog in several readings, each adding one thing a singer or the transcriber does:

- midi: the song's MIDI query (score timing, the score's bars and beats);
- midi_intended: the MIDI query at the pitches the singer meant (the take's tuning and its drift);
- midi_sung: the MIDI query at the pitches the singer sang (the singer's own wrong notes too);
- written_sung: the sung pitches at the written onsets and lengths, as a recording (no bars: the search
  reads beats off the notes, as for any recording that was not snapped);
- sung: the sung pitches at the singer's timing (tempo curve, onset jitter), as a recording, not snapped;
- sung_snap: the same snapped to the beats tracked in the take (`all_split.sung_melody`: a perfect
  transcriber);
- intended_snap: the pitches meant at the singer's timing, snapped (sung_snap without the wrong notes);
- trans_plain: the transcribed notes, not snapped;
- trans: the transcribed notes as `melody.audio.transcribe` gives them (bench_sung.py's query).

A reading with "+graded" appended is searched with a played part's graded length tolerance
(`melody.score.rescore.played_params`: meta "played"). Printed per seed, condition and reading: R@1 / R@10 /
TPR / FPR and the median log10 E-value of the positives' true tune (3 where it is outside the top 10). The
fused pitch tracks are all_split.py's (cached per take under W/all_split). BENCHMARKS.md, "Twenty-second
session: a sung take with a singer's effects together".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/sung_ladder.py --workdir W --seeds 0 1 --conditions all hum room
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
import bench_sung  # noqa: E402
import benchdata  # noqa: E402

READINGS = ("midi", "midi_intended", "midi_sung", "written_sung", "sung", "sung_snap", "intended_snap",
            "trans_plain", "trans")
GRADED = "+graded"
ONSET_TOL_S = 0.05     # a MIDI note is the written lead's note whose onset lies this near
OUTSIDE_LOG_E = 3.0    # log10 E counted for a true tune outside the top 10


def midi_at(midi, lead, pitch: np.ndarray):
    """The MIDI query `midi` (its timing, bars and beats) with each note moved as the take moved the written
    lead's note at its onset: ``pitch`` is the take's pitch per note of ``lead`` ((pitch, onset, duration,
    ...) rows). A MIDI note without a lead note at its onset moves by the median move."""
    from melody.notes import Melody

    written = np.array([row[0] for row in lead], dtype="f8")
    onset = np.array([row[1] for row in lead], dtype="f8")
    move = np.asarray(pitch, dtype="f8") - written
    notes = midi.notes.copy()
    for j in range(len(notes)):
        gap = np.abs(onset - notes["onset"][j])
        k = int(np.argmin(gap))
        notes["pitch"][j] += move[k] if gap[k] <= ONSET_TOL_S else np.median(move)
    return Melody(notes, meta=dict(midi.meta))


def recording(onset, duration, pitch, tr=None):
    """Notes as a recording's query: snapped to the beats tracked in ``tr`` (as `transcribe` snaps them), or
    as given (no bars, not snapped) without a track."""
    from melody.notes import Melody, make_notes

    notes = make_notes(np.asarray(onset, "f8"), np.asarray(duration, "f8"), np.asarray(pitch, "f8"))
    if tr is not None:
        return all_split.snapped_query(notes, tr)
    return Melody(notes, meta={"kind": "audio", "snapped": False})


def written_timing(lead, pitch):
    """The take's pitches at the written lead's onsets and lengths (seconds; the take's 0.3 s lead-in)."""
    onset = np.array([row[1] for row in lead], dtype="f8")
    length = np.array([row[2] for row in lead], dtype="f8")
    return onset - onset.min() + 0.3, length, pitch


def reading(name: str, q, plan: dict, tr):
    """The query of one reading (READINGS, optionally + GRADED) of take (q, plan, tr)."""
    from melody.audio.segment import notes_from_track
    from melody.notes import Melody

    graded = name.endswith(GRADED)
    base = name[:-len(GRADED)] if graded else name
    length = plan["end"] - plan["onset"]
    if base == "midi":
        m = bench_accuracy.load_query(q.path)
    elif base in ("midi_intended", "midi_sung"):
        m = midi_at(bench_accuracy.load_query(q.path), q.lead, plan[base[5:]])
    elif base == "written_sung":
        m = recording(*written_timing(q.lead, plan["sung"]))
    elif base == "sung":
        m = recording(plan["onset"], length, plan["sung"])
    elif base == "sung_snap":
        m = recording(plan["onset"], length, plan["sung"], tr)
    elif base == "intended_snap":
        m = recording(plan["onset"], length, plan["intended"], tr)
    elif base == "trans_plain":
        m = Melody(notes_from_track(tr), meta={"kind": "audio", "snapped": False})
    elif base == "trans":
        m = all_split.query_melody(tr)
    else:
        raise ValueError(f"unknown reading {name!r}; one of {READINGS} (optionally + {GRADED!r})")
    return Melody(m.notes, meta={**m.meta, "played": True}) if graded else m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="bench_sung.py's --workdir (songs, renders); tracks cached under it")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--conditions", nargs="+", default=["all", "hum", "room"], choices=bench_sung.CONDITIONS)
    ap.add_argument("--readings", nargs="+", default=list(READINGS))
    ap.add_argument("--json", metavar="OUT", help="every query's rank and E-values per reading")
    args = ap.parse_args(argv)

    from melody.errors import MelodyError

    queries, cat, ids = all_split.songs_and_catalog(args.workdir, args.every)
    doc = {"config": vars(args), "results": {}}
    for seed in args.seeds:
        for condition in args.conditions:
            takes = all_split.capture(queries, seed, condition, args.workdir)
            rows = {name: [] for name in args.readings}
            for q in queries:
                tr, plan = takes[q.qid]
                for name in args.readings:
                    matches = []
                    if tr is not None or not name.startswith(("trans", "sung_snap", "intended_snap")):
                        try:
                            matches = cat.search(reading(name, q, plan, tr), top=10)
                        except MelodyError:
                            pass
                    rows[name].append(bench_accuracy.evaluate(q, matches, ids))
            for name in args.readings:
                s = bench_accuracy.summarize(rows[name])
                log_e = [np.log10(r["true_evalue"]) if r.get("true_evalue") else OUTSIDE_LOG_E
                         for r in rows[name] if r["positive"]]
                print(f"{seed:<3}{condition:<12}{name:<22}R@1 {s['recall_at_1']:.3f}  R@10 {s['recall_at_10']:.3f}  "
                      f"TPR {s['tpr']:.3f}  FPR {s['fpr']:.3f}  median log10 E {np.median(log_e):.2f}", flush=True)
                doc["results"][f"{seed}-{condition}-{name}"] = {
                    "summary": s, "median_log_e": float(np.median(log_e)),
                    "rows": [{k: r.get(k) for k in ("qid", "positive", "rank", "true_evalue", "top_evalue")}
                             for r in rows[name]]}
            if args.json:
                with open(args.json, "w") as fh:
                    json.dump(doc, fh, indent=1, default=float)
    shutil.rmtree(cat.path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
