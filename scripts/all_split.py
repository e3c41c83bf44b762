#!/usr/bin/env python
"""Why a singer's effects compound: bench_sung.py's "all" takes sung again leaving out one effect at a
time, with the same voice (every other draw of the take kept: `bench_sung.render(..., without=)`).

Readings: "all" (bench_sung.py's own take, the same render) and "no_<effect>" for each of
`bench_sung.EFFECTS` (tuning, intonation, vibrato, scoops, timing, consonants). Leaving out "timing" moves
the notes' ends, and the voice's draws that depend on a note's length (vibrato's rate noise, and with it the
later vowels) then shift; every other removal keeps the voice's draws exactly. Leaving out "consonants"
keeps the pause a breath takes (its noise goes).

Each take's fused pitch track is computed once and cached (W/all_split/tracks-SEED-READING.pkl, per take's
bytes and tracking code: `keyed.pitch_tracks`; a take is sung again when its plan changed); notes come from `notes_from_track` and `snap_to_beats` as `transcribe` makes them and are
searched against bench_sung.py's catalog. Printed per seed and reading: R@1 / R@10 / TPR / FPR, note F
(mir_eval against the notes meant, as bench_sung.py), and the transcription's note errors against the
notes *sung* (`note_errors`: found, missing, merged, late, wrong pitch, split, extra, per meant note).
--json keeps every query's row (rank, the true and the winning reference's scores) and its note errors.
BENCHMARKS.md, "Sixteenth session: a singer's effects together".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/all_split.py --workdir W --seeds 0 1 --every 3
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

import bench_accuracy  # noqa: E402
import bench_audio  # noqa: E402
import bench_sung  # noqa: E402
import benchdata  # noqa: E402
import keyed  # noqa: E402

READINGS = ("all",) + tuple(f"no_{e}" for e in bench_sung.EFFECTS)
OTHER_TAKES = ("clean", "hum", "room")   # bench_sung.py's other takes, read as they are (not split)
ERRORS = ("found", "missing", "merged", "late", "wrong_pitch", "split", "extra")
ONSET_S = 0.05          # mir_eval's onset tolerance: a note found
LATE_S = 0.15           # an onset 50-150 ms off, at the pitch: late (or early), not missed
PITCH_TOL = 0.5         # semitones: mir_eval's 50 cents


def note_errors(onset, end, sung, est) -> dict:
    """Each meant note against the transcription (`est`: notes with onset, duration, pitch), judged at
    the pitch the singer *sang* (a singer's own wrong note is no transcription error):

    - found: a transcribed onset within ONSET_S at the pitch;
    - late: none, but one at the pitch within LATE_S (early or late);
    - wrong_pitch: an onset within ONSET_S at another pitch (a scoop's slide read as the note, an octave);
    - merged: no onset near, but a transcribed note sounds through the meant note's onset (it was held
      over from the note before);
    - missing: nothing transcribed sounds at the meant note's onset or within LATE_S after it.

    And the transcribed notes that start no meant note: split (inside a meant note, at its pitch: the note
    cut in two) and extra (anything else: a slide's in-between pitch, a breath, a reverb tail)."""
    est_on = np.asarray(est["onset"], dtype="f8")
    est_end = est_on + np.asarray(est["duration"], dtype="f8")
    est_p = np.asarray(est["pitch"], dtype="f8")
    out = dict.fromkeys(ERRORS, 0)
    used = np.zeros(len(est_on), dtype=bool)
    for k in range(len(onset)):
        d = np.abs(est_on - onset[k])
        at_pitch = np.abs(est_p - sung[k]) <= PITCH_TOL
        near = np.flatnonzero((d <= ONSET_S) & at_pitch)
        if len(near):
            out["found"] += 1
            used[near[np.argmin(d[near])]] = True
            continue
        late = np.flatnonzero((d <= LATE_S) & at_pitch)
        if len(late):
            out["late"] += 1
            used[late[np.argmin(d[late])]] = True
            continue
        wrong = np.flatnonzero(d <= ONSET_S)
        if len(wrong):
            out["wrong_pitch"] += 1
            used[wrong[np.argmin(d[wrong])]] = True
            continue
        if np.any((est_on < onset[k] - ONSET_S) & (est_end > onset[k] + ONSET_S)):
            out["merged"] += 1
        else:
            out["missing"] += 1
    for j in np.flatnonzero(~used):
        inside = np.flatnonzero((onset + ONSET_S < est_on[j]) & (est_on[j] < end))
        if len(inside) and abs(est_p[j] - sung[inside[-1]]) <= PITCH_TOL:
            out["split"] += 1
        else:
            out["extra"] += 1
    return out


def capture(queries, seed: int, reading: str, workdir: str) -> dict:
    """qid -> (fused pitch track or None, the take's plan); the renders are kept beside it (any of
    bench_sung.py's conditions, "all" and OTHER_TAKES among them, is its own render,
    W/sung-SEED/QID-READING.wav), and the tracks are cached (W/all_split/tracks-SEED-READING.pkl) per take's
    bytes and tracking code (`keyed.pitch_tracks`)."""
    plans, wavs = {}, {}
    for q in queries:
        if reading in bench_sung.CONDITIONS:
            wav_dir, without, condition = os.path.join(workdir, f"sung-{seed}"), None, reading
        else:
            wav_dir, without, condition = os.path.join(workdir, "all_split", f"sung-{seed}"), reading[3:], "all"
        wavs[q.qid] = os.path.join(wav_dir, f"{q.qid}-{reading}.wav")
        os.makedirs(wav_dir, exist_ok=True)
        plans[q.qid] = bench_sung.render(q, condition, seed, wavs[q.qid], without=without)   # sung again if stale
    tracks = keyed.pitch_tracks(os.path.join(workdir, "all_split", f"tracks-{seed}-{reading}.pkl"), wavs)
    return {qid: (tracks[qid], plans[qid]) for qid in wavs}


def snapped_query(notes, tr):
    """Notes snapped to the beats tracked in the take, as `melody.audio.transcribe` snaps them: the query."""
    from melody.audio import snap_track_notes
    from melody.notes import Melody

    snapped, info = snap_track_notes(notes, tr)
    return Melody(snapped, meta={"kind": "audio", **info})


def query_melody(tr):
    """The query as `melody.audio.transcribe` makes it from the track."""
    from melody.audio.segment import notes_from_track

    return snapped_query(notes_from_track(tr), tr)


def sung_melody(tr, plan):
    """The query a perfect transcriber would give: the notes as sung (onsets, ends and pitches of the take's
    plan, a singer's wrong notes and timing included), snapped to the beats tracked in the take."""
    from melody.notes import make_notes

    return snapped_query(make_notes(plan["onset"], plan["end"] - plan["onset"], plan["sung"]), tr)


def songs_and_catalog(workdir: str, every: int):
    """bench_sung's songs (every `every`-th query) and a fresh catalog of its 1000 tunes under
    WORKDIR/all_split (one per process): (queries, catalog, ids in catalog order)."""
    import melody

    split, queries = benchdata.build(1000, 120, 1, workdir, n_variation=0, log=None)
    os.makedirs(os.path.join(workdir, "all_split"), exist_ok=True)
    cat_dir = os.path.join(workdir, "all_split", f"catalog-{os.getpid()}")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    return queries[::every], cat, bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="bench_sung.py's --workdir (songs, renders); tracks cached under it")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--readings", nargs="+", default=list(READINGS), choices=READINGS + OTHER_TAKES)
    ap.add_argument("--json", metavar="OUT", help="every query's row and note errors")
    ap.add_argument("--as-sung", action="store_true",
                    help="search the notes as sung (`sung_melody`: a perfect transcriber) instead of the transcription")
    args = ap.parse_args(argv)

    from melody.errors import MelodyError

    queries, cat, ids = songs_and_catalog(args.workdir, args.every)
    doc = {"config": vars(args), "results": {}}
    print(f"{'seed':<5}{'reading':<16}{'R@1':>7}{'R@10':>7}{'TPR':>7}{'FPR':>7}{'noteF':>7}"
          + "".join(f"{e:>12}" for e in ERRORS), flush=True)
    for seed in args.seeds:
        for reading in args.readings:
            tracks = capture(queries, seed, reading, args.workdir)
            rows, f1, errors = [], [], dict.fromkeys(ERRORS, 0)
            for q in queries:
                tr, plan = tracks[q.qid]
                matches, errs = [], None
                if tr is not None:
                    m = sung_melody(tr, plan) if args.as_sung else query_melody(tr)
                    f1.append(bench_audio.note_prf(plan["onset"], plan["end"] - plan["onset"], plan["intended"], m.notes)[2])
                    errs = note_errors(plan["onset"], plan["end"], plan["sung"], m.notes)
                    for e in ERRORS:
                        errors[e] += errs[e]
                    try:
                        matches = cat.search(m, top=10)
                    except MelodyError:
                        pass
                row = bench_accuracy.evaluate(q, matches, ids)
                row.update(note_errors=errs, top_alignment=float(matches[0].alignment_score) if matches else None,
                           sung_off=int(np.sum(np.abs(plan["sung"] - plan["intended"]) > PITCH_TOL)), n_meant=len(plan["onset"]))
                rows.append(row)
            s = bench_accuracy.summarize(rows)
            meant = sum(r["n_meant"] for r in rows)
            print(f"{seed:<5}{reading:<16}{s['recall_at_1']:>7.3f}{s['recall_at_10']:>7.3f}{s['tpr']:>7.3f}{s['fpr']:>7.3f}"
                  f"{np.mean(f1):>7.3f}" + "".join(f"{errors[e] / meant:>12.3f}" for e in ERRORS), flush=True)
            doc["results"][f"{seed}-{reading}"] = {"summary": s, "note_f": float(np.mean(f1)), "errors": errors,
                                                   "meant": meant, "rows": rows}
    shutil.rmtree(cat.path, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
