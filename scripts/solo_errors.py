#!/usr/bin/env python
"""Which kind of note error costs an audio query its rank: repair one kind at a time with the truth.

Reuses the renders of a `bench_audio.py --workdir W` run (the same songs: same --seed, --n-queries and
--n-catalog). Each recording's pitch track (solo by default) is computed once as `melody.audio.transcribe`
computes it and cached (W/solo_errors-<kind>-tracks.pkl); the notes come from `notes_from_track` of the code
being measured, before the beat snapping. They are matched with the written lead (`classify`, mir_eval-style
onset matching after removing the file's own lag) and every error falls in one kind: octave, wrong pitch, a
late or early onset (right pitch, 50-200 ms off), a note split in two, a repeated note merged into the one
before, another note swallowed by the held one, a missed note, an extra note. Then each kind is repaired
alone with the truth (`repair`), the notes are snapped and searched as bench_audio searches recordings (a
fresh 1,000-tune catalog, `Catalog.search`), and recall@1 / @10 / TPR / FPR are reported per repair, with the
tracker's metric marks ("marks") and without any ("no marks": the search reads beats off the notes, as for
the written lead given as a recording). BENCHMARKS.md, "Twelfth session: a solo recording's lost ranks".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/solo_errors.py --workdir /tmp/ba --json out.json
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
import keyed  # noqa: E402

ONSET_TOL = 0.05      # s, after the lag: mir_eval's onset tolerance (a matched note)
LATE_TOL = 0.2        # s: a note at the right pitch this far off is the written note found late / early
LAG_TOL, MAX_LAG = 0.15, 0.15   # the file's lag: median offset of same-pitch notes within LAG_TOL
INSIDE = 0.03         # s: an onset at least this far inside a note lies "inside" it

KINDS = ("octave", "pitch", "late", "split", "merged_repeat", "swallowed", "missed", "extra")


def _greedy(pairs: list[tuple]) -> list[tuple[int, int]]:
    """Pairs (cost, i, j), cheapest first, each i and j used once."""
    used_i, used_j, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return out


def _at(e, r, tol: float) -> bool:
    """Whether a transcribed pitch ``e`` is the truth's ``r`` (within ``tol`` semitones)."""
    return abs(e - r) <= tol


def _octave(step: float, tol: float) -> bool:
    """Whether ``step`` semitones is a whole number of octaves (not none), within ``tol``."""
    k = round(step / 12.0)
    return k != 0 and abs(step - 12.0 * k) <= tol


def classify(ref: np.ndarray, est: np.ndarray, tol: float | None = None) -> dict:
    """Match transcribed notes with the written ones and name every error.

    ref : (n, 3) written (pitch, onset s, duration s); est : NOTE_DTYPE transcribed notes.
    tol : None (written truth: whole-semitone pitches, compared with each transcribed pitch's key in the
        performer's tuning), or semitones within which a transcribed pitch is the truth's as it stands
        (sung truth: the fractional pitches a singer sang, in the take's own tuning; 0.5 is mir_eval's).
    Returns the lag and, per kind, lists of (ref index, est index) (-1 where a side has none):
    ok / octave / pitch: onsets within ONSET_TOL (pitch equal, an octave off, otherwise off);
    late: the same pitch, onsets within LATE_TOL; split: an extra note at the pitch of a written note
    that another transcribed note matches, starting inside it; merged_repeat / swallowed: a written note
    starting inside a transcribed note (of its pitch / of another); missed and extra: the rest.
    """
    r_pitch, r_on, r_dur = ref[:, 0], ref[:, 1], ref[:, 2]
    if tol is None:
        e_key, tol = np.rint(est["pitch"].astype("f8") - _tuning(est)), 0.0
    else:
        e_key = est["pitch"].astype("f8")
    e_on, e_dur = est["onset"], est["duration"]
    near = [(abs(e_on[j] - r_on[i]), i, j) for i in range(len(ref)) for j in range(len(est))
            if abs(e_on[j] - r_on[i]) < LAG_TOL and _at(e_key[j], r_pitch[i], tol)]
    lag = float(np.median([e_on[j] - r_on[i] for i, j in _greedy(near)])) if near else 0.0
    lag = float(np.clip(lag, -MAX_LAG, MAX_LAG))
    d = e_on[None, :] - lag - r_on[:, None]
    out = {k: [] for k in ("ok",) + KINDS}
    out["lag"] = lag
    tier_a = [(abs(d[i, j]) + (0 if _at(e_key[j], r_pitch[i], tol) else 1.0), i, j)
              for i, j in zip(*np.nonzero(np.abs(d) <= ONSET_TOL))]
    matched = _greedy(tier_a)
    for i, j in matched:
        step = e_key[j] - r_pitch[i]
        out["ok" if abs(step) <= tol else "octave" if _octave(step, tol) else "pitch"].append((i, j))
    ri = {i for i, _ in matched}
    ej = {j for _, j in matched}
    tier_b = [(abs(d[i, j]), i, j) for i, j in zip(*np.nonzero(np.abs(d) <= LATE_TOL))
              if i not in ri and j not in ej and _at(e_key[j], r_pitch[i], tol)]
    for i, j in _greedy(tier_b):
        out["late"].append((i, j))
        ri.add(i)
        ej.add(j)
    owner = {j: i for k in ("ok", "octave", "pitch", "late") for i, j in out[k]}
    for i in range(len(ref)):
        if i in ri:
            continue
        t = r_on[i] + lag
        cover = [j for j in range(len(est)) if e_on[j] + INSIDE <= t < e_on[j] + e_dur[j] - INSIDE]
        if cover:
            j = cover[0]
            out["merged_repeat" if _at(e_key[j], r_pitch[i], tol) else "swallowed"].append((i, j))
        else:
            out["missed"].append((i, -1))
    for j in range(len(est)):
        if j in ej:
            continue
        t = e_on[j] - lag
        inside = [i for i in range(len(ref)) if r_on[i] + INSIDE <= t < r_on[i] + r_dur[i]
                  and _at(e_key[j], r_pitch[i], tol) and i in ri and owner.get(j) != i]
        if inside:
            out["split"].append((inside[0], j))
        else:
            out["extra"].append((-1, j))
    return out


def _tuning(est) -> float:
    from melody.notes import tuning_offset
    return tuning_offset(est["pitch"], est["duration"]) if len(est) else 0.0


def repair(ref: np.ndarray, est: np.ndarray, errors: dict, kinds, tune: float | None = None) -> np.ndarray:
    """The transcribed notes with the errors of `kinds` set right from the written notes (onsets keep the
    file's lag); ``"timing"`` puts every matched note's onset and length at the written ones, ``"onsets"`` and
    ``"durations"`` one of the two. tune: added to the truth's pitches (default: the transcription's tuning,
    for written truth; 0 for sung truth, already in the take's tuning)."""
    from melody.notes import make_notes

    lag, tune = errors["lag"], _tuning(est) if tune is None else tune
    on, dur, pitch = est["onset"].copy(), est["duration"].copy(), est["pitch"].astype("f8").copy()
    drop = np.zeros(len(est), bool)
    new = []                              # (onset, duration, pitch) of notes to add
    for kind in kinds:
        if kind in ("octave", "pitch"):
            for i, j in errors[kind]:
                pitch[j] = ref[i, 0] + tune
        elif kind == "late":
            for i, j in errors[kind]:
                end = on[j] + dur[j]
                on[j] = ref[i, 1] + lag
                dur[j] = max(end - on[j], 0.03)
        elif kind in ("timing", "onsets", "durations"):
            for k in ("ok", "octave", "pitch", "late"):
                for i, j in errors[k]:
                    if kind != "durations":
                        on[j] = ref[i, 1] + lag
                    if kind != "onsets":
                        dur[j] = ref[i, 2]
        elif kind == "split":
            for i, j in errors[kind]:
                drop[j] = True
                prev = [k for k in range(len(est)) if on[k] < on[j] and not drop[k]]
                if prev:
                    k = prev[-1]
                    dur[k] = max(dur[k], on[j] + dur[j] - on[k])
        elif kind in ("merged_repeat", "swallowed"):
            for i, j in errors[kind]:
                t = ref[i, 1] + lag
                end = on[j] + dur[j]
                if on[j] < t < end:
                    new.append((t, end - t, ref[i, 0] + tune))
                    dur[j] = t - on[j]
        elif kind == "missed":
            for i, _ in errors[kind]:
                new.append((ref[i, 1] + lag, ref[i, 2], ref[i, 0] + tune))
        elif kind == "extra":
            for _, j in errors[kind]:
                drop[j] = True
        else:
            raise ValueError(f"unknown error kind {kind!r}")
    keep = ~drop
    all_on = np.concatenate([on[keep], [n[0] for n in new]])
    all_dur = np.concatenate([dur[keep], [n[1] for n in new]])
    all_pitch = np.concatenate([pitch[keep], [n[2] for n in new]])
    notes = make_notes(all_on, all_dur, all_pitch)
    # a note ends where the next starts (repaired notes may overlap their neighbours)
    nxt = np.concatenate([notes["onset"][1:], [np.inf]])
    notes["duration"] = np.maximum(np.minimum(notes["onset"] + notes["duration"], nxt) - notes["onset"], 1e-3)
    return notes


def _same(a, b) -> bool:
    """Whether two note arrays have the same onsets, durations and pitches (None: no notes)."""
    if a is None or b is None or len(a) != len(b):
        return a is None and b is None
    return all(np.allclose(a[f], b[f], atol=1e-9) for f in ("onset", "duration", "pitch"))


def capture(queries, workdir: str, kind: str) -> dict:
    """qid -> the pitch track of each render as `transcribe` computes it (None where it fails), cached in
    the workdir per render's bytes and tracking code (`keyed.pitch_tracks`); `notes_from_track` (the code
    being measured) makes the notes, `as_query` snaps them. ``kind``: "solo", "mix" or "room<S>" (the solo
    renders in bench_audio's room of seed S, rendered again where missing or stale)."""
    import bench_audio

    adir = os.path.join(workdir, "audio")

    def render_of(qid, k):
        return os.path.join(adir, next(f for f in sorted(os.listdir(adir)) if f.startswith(f"{qid}-{k}.")
                                       and f.endswith((".wav", ".mp3", ".flac"))))

    if kind.startswith("room"):
        rooms = [{"solo": render_of(q.qid, "solo")} for q in queries]
        bench_audio.render_rooms(queries, rooms, int(kind[4:]))
        paths = {q.qid: r["room"] for q, r in zip(queries, rooms)}
    else:
        paths = {q.qid: render_of(q.qid, kind) for q in queries}
    t0 = time.perf_counter()
    out = keyed.pitch_tracks(os.path.join(workdir, f"solo_errors-{kind}-tracks.pkl"), paths)
    print(f"{len(out)} {kind} pitch tracks ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def _program(q) -> str:
    """The song's lead instrument, as bench_audio renders its solo."""
    import bench_audio
    program = bench_audio.lead_program(q.path, {p for p, _, _, _ in q.lead})
    return bench_audio.PROGRAMS.get(program, str(program))


def as_query(notes, tr, marks: bool):
    """The notes snapped as `transcribe` snaps them (`melody.audio.snap_track_notes`: a single line on its
    steadied beats), as a recording; without metric marks if not `marks`."""
    from melody.audio import snap_track_notes
    from melody.notes import Melody

    snapped, info = snap_track_notes(notes, tr)
    if not marks:
        snapped = snapped.copy()
        snapped["bar"], snapped["beat"] = -1, np.nan
    return Melody(snapped, meta={"kind": "audio", **info})


def workdir_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments of every script over a `bench_audio.py --workdir`'s renders: the workdir and bench_audio's
    data (seed, queries, catalog size); ``doc``'s first paragraph is the description."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="a bench_audio.py --workdir with its renders")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-queries", type=int, default=120)
    ap.add_argument("--n-catalog", type=int, default=1000)
    return ap


def main(argv=None) -> int:
    ap = workdir_parser(__doc__)
    ap.add_argument("--kind", default="solo", help="solo, mix, or room<S>: the solos in bench_audio's room of "
                    "seed S (bench_audio.py --room --room-seed S; rendered where missing)")
    ap.add_argument("--repairs", nargs="*", default=["none", *KINDS, "timing", "all"])
    ap.add_argument("--negatives", nargs="*", default=["all"],
                    help="repairs also applied to the negatives (FPR); the others keep the negatives' base rows")
    ap.add_argument("--marks", nargs="*", default=["marks", "none"], choices=("marks", "none"))
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    import melody
    from melody.audio.segment import notes_from_track
    from melody.errors import MelodyError

    hdir = os.path.join(args.workdir, "solo_errors")
    split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, hdir, n_variation=0)
    tracks = capture(queries, args.workdir, args.kind)
    cap = {qid: None if tr is None else (notes_from_track(tr), tr) for qid, tr in tracks.items()}
    cat_dir = os.path.join(hdir, "catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])

    # the error census: per kind, written notes (or transcribed ones, for split / extra) in and out of the phrase
    errors, census = {}, {k: [0, 0] for k in ("ok",) + KINDS}
    by_program: dict[str, dict[str, int]] = {}      # instrument -> kind -> notes (all of the song)
    for q in queries:
        if cap[q.qid] is None:
            continue
        ref = np.array([(p, s, d) for p, s, d, _ in q.lead], dtype="f8")
        errors[q.qid] = e = classify(ref, cap[q.qid][0])
        lo, hi = q.query_span
        prog = _program(q)
        counts = by_program.setdefault(prog, {k: 0 for k in census} | {"written": 0, "songs": 0})
        counts["written"] += len(ref)
        counts["songs"] += 1
        for k in census:
            counts[k] += len(e[k])
            for i, j in e[k]:
                t = ref[i, 1] if i >= 0 else cap[q.qid][0]["onset"][j] - e["lag"]
                census[k][0 if (q.positive and lo - 0.01 <= t <= hi + 0.01) else 1] += 1
    print("errors (phrase of positives / elsewhere):", json.dumps(census), flush=True)
    for prog, counts in sorted(by_program.items()):
        print(f"  {prog:<12}", "  ".join(f"{k} {v}" for k, v in counts.items()), flush=True)

    results = {}
    for marks in args.marks:
        base = {}
        for rep in args.repairs:
            kinds = [] if rep == "none" else list(KINDS) + ["timing"] if rep == "all" else [rep]
            rows, t0, searched = [], time.perf_counter(), 0
            for q in queries:
                c = cap[q.qid]
                notes = None
                if c is not None:
                    ref = np.array([(p, s, d) for p, s, d, _ in q.lead], dtype="f8")
                    notes = repair(ref, c[0], errors[q.qid], kinds) if kinds else c[0]
                # a query the repair leaves as it was (or a negative, unless asked for) keeps its row
                if q.qid in base and (_same(notes, cap[q.qid][0])
                                      or (not q.positive and rep not in args.negatives)):
                    rows.append(base[q.qid])
                    continue
                try:
                    if notes is None:
                        raise MelodyError("no transcription")
                    matches = cat.search(as_query(notes, c[1], marks == "marks"), top=10)
                except MelodyError:
                    matches = []
                searched += 1
                rows.append(bench_accuracy.evaluate(q, matches, ids))
            if rep == "none":
                base = {r["qid"]: r for r in rows}
            s = bench_accuracy.summarize(rows)
            fpr = f"{s['fpr']:.3f}" if rep in args.negatives or rep == "none" else "  -  "
            ranks = {r["qid"]: r.get("rank") for r in rows if r["positive"]}
            results[f"{marks}/{rep}"] = {"summary": s, "ranks": ranks, "searched": searched}
            print(f"{marks:<6} {rep:<14} R@1 {s['recall_at_1']:.3f}  R@10 {s['recall_at_10']:.3f}  "
                  f"TPR {s['tpr']:.3f}  FPR {fpr}  ({searched} searched, {time.perf_counter() - t0:.0f} s)",
                  flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "census": census, "by_program": by_program, "results": results,
                       "errors": errors}, fh, indent=1, default=int)
    return 0


if __name__ == "__main__":
    sys.exit(main())
