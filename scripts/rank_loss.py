#!/usr/bin/env python
"""Where a recording loses the rank its own score holds: one line per song, and the mechanisms counted.

For every positive whose MIDI query or written lead (given as a recording) ranks the true tune first and
whose recording (solo, mix, or solo in a room) does not, this reports: the true tune's stage-1 rank in each
reading the search makes of the recording (as transcribed, repeats merged: `Catalog._rank`) and whether
stage 2 re-scores it (RESCORE_TOP); its E-value against the winner's, the written lead's and the MIDI
query's; whether the recording is heard as a single line (`fuse.single_line`, which decides how it snaps:
`melody.audio.snap_track_notes`); the grid the notes were snapped to, its tempo over the written one and
how many matched notes it marks on a beat where the score does (`marks_agree`); the note errors inside the
borrowed phrase (`solo_errors.classify`); and the rank the
recording gets when one thing is set right from the written lead (`READINGS`):

- nomarks: the tracker's metric marks removed (the search reads beats off the notes, as for the lead);
- scoremarks: each transcribed note given the score's metric position of the written note it matches
  (unmatched notes off the beat), onsets as the recording has them;
- timing: every matched note's onset and length set to the written ones, then snapped again;
- notes: every note error repaired (pitch, split, merged, swallowed, missed, extra), then snapped again;
- ends: only the notes inside the written lead's time span (extra or missing notes at the ends).

A song's mechanisms are the readings that bring it to rank 1 alone (`mechanisms`); "not re-scored" when the
true tune is outside stage 2's candidates in every reading. Reuses the renders and cached pitch tracks of a
`bench_audio.py --workdir W` / `solo_errors.py` workdir (the same songs: same --seed, --n-queries,
--n-catalog). BENCHMARKS.md, "Eighteenth session: why a recording ranks lower than its own MIDI".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/rank_loss.py --workdir W --kinds solo mix
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import bench_audio  # noqa: E402
import benchdata  # noqa: E402
import solo_errors  # noqa: E402

READINGS = ("nomarks", "scoremarks", "timing", "notes", "ends")
ENDS_MARGIN_S = 0.1     # "ends": notes this far outside the written lead's span (after the lag) are dropped


def mechanisms(ranks: dict, in_stage2: bool) -> list[str]:
    """The mechanisms of one lost rank: each reading of READINGS whose rank alone is 1 ("marks" for
    nomarks or scoremarks), "not re-scored" when stage 2 never saw the true tune, "several" when no single
    reading restores rank 1."""
    out = []
    if not in_stage2:
        out.append("not re-scored")
    if ranks.get("nomarks") == 1 or ranks.get("scoremarks") == 1:
        out.append("marks")
    out += [r for r in ("timing", "notes", "ends") if ranks.get(r) == 1]
    if not any(ranks.get(r) == 1 for r in READINGS):
        out.append("several")
    return out


def score_marks(notes: np.ndarray, written_onsets: np.ndarray, score_notes: np.ndarray, errors: dict) -> np.ndarray:
    """The transcribed notes with the score's metric marks: a note matched to a written note (same onset
    within 20 ms in the score) takes its beat, the others are marked off the beat (0.5)."""
    out = notes.copy()
    out["bar"] = -1
    out["beat"] = 0.5
    for kind in ("ok", "octave", "pitch", "late"):
        for i, j in errors[kind]:
            k = int(np.argmin(np.abs(score_notes["onset"] - written_onsets[i])))
            if abs(score_notes["onset"][k] - written_onsets[i]) < 0.02 and np.isfinite(score_notes["beat"][k]):
                out["beat"][j] = score_notes["beat"][k]
    return out


def marks_agree(snapped: np.ndarray, raw: np.ndarray, written_onsets: np.ndarray, score_notes: np.ndarray,
                errors: dict) -> tuple[int, int]:
    """(agreeing, compared): of the transcribed notes matched to a written note (`solo_errors.classify`'s ok,
    octave, pitch and late pairs) whose score position is known, how many the snapped recording marks on a
    beat exactly where the score does (`represent.metric_classes` >= 1 on both sides, or on neither). A grid at
    the written tempo and phase agrees on nearly all; one on the off-beats, or at another beat level (a
    compound grid of a duple tune), on few. ``raw``: the notes before the snap, which ``errors`` indexes."""
    from melody.represent import metric_classes

    on_beat = metric_classes(snapped) >= 1
    written = metric_classes(score_notes) >= 1
    agree = compared = 0
    for kind in ("ok", "octave", "pitch", "late"):
        for i, j in errors[kind]:
            k = int(np.argmin(np.abs(score_notes["onset"] - written_onsets[i])))
            if abs(score_notes["onset"][k] - written_onsets[i]) >= 0.02 or not np.isfinite(score_notes["beat"][k]):
                continue
            near = int(np.argmin(np.abs(snapped["onset"] - raw["onset"][j])))
            compared += 1
            agree += bool(on_beat[near] == written[k])
    return agree, compared


def reading(name: str, raw: np.ndarray, snapped: np.ndarray, track, ref: np.ndarray, errors: dict, score) -> np.ndarray:
    """The recording's notes with one thing set right from the written lead (module docstring)."""
    from melody.audio import snap_track_notes

    if name == "nomarks":
        out = snapped.copy()
        out["bar"], out["beat"] = -1, np.nan
        return out
    if name == "scoremarks":
        out = score_marks(raw, ref[:, 1], score.notes, errors)
        if len(snapped) == len(raw):          # the snapped onsets where snapping kept every note
            out["onset"], out["duration"] = snapped["onset"], snapped["duration"]
        return out
    if name in ("timing", "notes"):
        kinds = ["timing"] if name == "timing" else list(solo_errors.KINDS)
        return snap_track_notes(solo_errors.repair(ref, raw, errors, kinds), track)[0]
    if name == "ends":
        lo = ref[0, 1] + errors["lag"] - ENDS_MARGIN_S
        hi = ref[-1, 1] + ref[-1, 2] + errors["lag"] + ENDS_MARGIN_S
        return snapped[(snapped["onset"] >= lo) & (snapped["onset"] <= hi)]
    raise ValueError(f"unknown reading {name!r}")


def view_scores(detail: dict, row: int) -> list[float]:
    """Each view's reduced score z of catalog row ``row`` (`rescore.rescore_views`' ``detail``: the reading as
    transcribed, with repeats merged, and for a passage the passage view); -inf for a row stage 2 did not
    re-score, or a view that does not score it. The true tune and the winner compared view by view say
    whether a reading's chance partner, not the true tune's weakness, took the rank (one view far above
    the other for the winner: its match is one reading's accident)."""
    hit = np.flatnonzero(np.asarray(detail["cand"]) == row)
    if not len(hit):
        return [-np.inf] * len(detail["z"])
    return [float(v) for v in np.asarray(detail["z"])[:, hit[0]]]


def trace(cat, query, true_rows: set) -> dict:
    """The true tune's place in a search: its stage-1 rank in each reading the search makes of the query,
    whether stage 2 re-scores it, its final rank, E-value and best combined score, and the winner's; each
    view's reduced score of both (`view_scores`)."""
    from melody.catalog.packed import merged_reading
    from melody.meter import melody_with_guessed_beats
    from melody.score import rescore

    p = cat.packed
    sq = melody_with_guessed_beats(query)
    qf = p.query_features(sq)
    null = rescore.style_sample(qf, p)
    readings = [(qf, p)]
    merged = merged_reading(sq) if query.meta.get("kind") == "audio" else None
    if merged is not None:
        mp = cat._merged_packed()
        readings.append((mp.query_features(merged), mp))
    stage1 = []
    for f, packed in readings:
        s1, e1 = cat._stage1(f, packed, None, null)
        order = rescore._stage1_order(s1, e1)
        stage1.append(min(int(np.flatnonzero(order == r)[0]) for r in true_rows) + 1)
    detail = {}
    _, evalues, order = cat._rank(sq, p, None, None, detail=detail)
    position = {int(r): k for k, r in enumerate(order)}
    true_row = min(true_rows, key=lambda r: position[r])
    top = int(order[0])
    return {"stage1_ranks": stage1, "in_stage2": min(stage1) <= rescore.RESCORE_TOP,
            "rank": position[true_row] + 1, "evalue": float(evalues[true_row]), "top_evalue": float(evalues[top]),
            "top_is_true": top in true_rows, "view_z": view_scores(detail, true_row),
            "top_view_z": view_scores(detail, top)}


def main(argv=None) -> int:
    ap = solo_errors.workdir_parser(__doc__)
    ap.add_argument("--kinds", nargs="*", default=["solo", "mix"], help="solo, mix, room<S> (solo_errors.capture)")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    import melody
    from melody.audio import snap_track_notes
    from melody.audio.fuse import single_line
    from melody.audio.segment import notes_from_track
    from melody.errors import MelodyError
    from melody.notes import Melody

    hdir = os.path.join(args.workdir, "solo_errors")
    split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, hdir, n_variation=0)
    tracks = {kind: solo_errors.capture(queries, args.workdir, kind) for kind in args.kinds}
    cat_dir = os.path.join(args.workdir, "rank_loss", "catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    row_of = {e.uid: k for k, e in enumerate(cat.packed.entries)}

    def rank(m, q):
        try:
            return bench_accuracy.evaluate(q, cat.search(m, top=10), ids).get("rank")
        except MelodyError:
            return None

    out = {kind: [] for kind in args.kinds}
    at_one = Counter()
    t0 = time.perf_counter()
    for q in queries:
        if not q.positive:
            continue
        true_rows = {row_of[ids[k]] for k in [q.ref_index, *q.alt_ref_indices]}
        score = bench_accuracy.load_query(q.path)
        lead = bench_audio.lead_as_recording(q)
        midi_rank, lead_rank = rank(score, q), rank(lead, q)
        at_one["midi"] += midi_rank == 1
        at_one["lead"] += lead_rank == 1
        ref = np.array([(p, s, d) for p, s, d, _ in q.lead], dtype="f8")
        lo, hi = q.query_span
        for kind in args.kinds:
            tr = tracks[kind][q.qid]
            if tr is None:
                continue
            raw = notes_from_track(tr)
            snapped, info = snap_track_notes(raw, tr)
            query = Melody(snapped, meta={"kind": "audio", **info})
            t = trace(cat, query, true_rows)
            at_one[kind] += t["rank"] == 1
            if t["rank"] == 1 or (midi_rank != 1 and lead_rank != 1):
                continue
            errors = solo_errors.classify(ref, raw)
            in_phrase = Counter()
            for k in solo_errors.KINDS:
                for i, j in errors[k]:
                    onset = ref[i, 1] if i >= 0 else raw["onset"][j] - errors["lag"]
                    in_phrase[k] += lo - 0.01 <= onset <= hi + 0.01
            ranks = {name: rank(Melody(reading(name, raw, snapped, tr, ref, errors, score), meta={"kind": "audio"}), q)
                     for name in READINGS}
            lead_t = trace(cat, lead, true_rows)
            agree, compared = marks_agree(snapped, raw, ref[:, 1], score.notes, errors)
            row = {"qid": q.qid, "midi_rank": midi_rank, "lead_rank": lead_rank, **t, "lead_evalue": lead_t["evalue"],
                   "midi_evalue": trace(cat, score, true_rows)["evalue"],
                   "line": bool(tr.key_note is not None and single_line(tr.key_note)),
                   "beats_from": info.get("beats_from"), "tempo_ratio": (info["tempo_bpm"] / q.bpm
                                                                         if info.get("tempo_bpm") else None),
                   "marks_agree": [agree, compared],
                   "snapped": bool(info.get("snapped")), "subdivision": info.get("subdivision"),
                   "phrase_errors": {k: v for k, v in in_phrase.items() if v}, "readings": ranks,
                   "mechanisms": mechanisms(ranks, t["in_stage2"])}
            out[kind].append(row)
            grid = f"grid 1/{row['subdivision']}" if row["snapped"] else "unsnapped"
            tempo = "" if row["tempo_ratio"] is None else f" x{row['tempo_ratio']:.2f}"
            print(f"{kind:<6} {q.qid} rank {t['rank']:>4} (midi {midi_rank} E {row['midi_evalue']:.3g}, lead "
                  f"{lead_rank}) {'line' if row['line'] else 'ensemble'} {grid}{tempo} marks {agree}/{compared} "
                  f"stage 1 {t['stage1_ranks']} E {t['evalue']:.3g} top {t['top_evalue']:.3g} "
                  f"lead {lead_t['evalue']:.3g} | z by view "
                  + "/".join(f"{v:.2f}" for v in t["view_z"]) + " top " + "/".join(f"{v:.2f}" for v in t["top_view_z"])
                  + " | " + " ".join(f"{k}:{v}" for k, v in ranks.items()) + " | " + ", ".join(row["mechanisms"])
                  + " | phrase errors " + " ".join(f"{k} {v}" for k, v in row["phrase_errors"].items()), flush=True)
    print(f"rank 1 of {sum(q.positive for q in queries)} positives: " + ", ".join(f"{k} {v}" for k, v in at_one.items())
          + f" ({time.perf_counter() - t0:.0f} s)")
    for kind, rows in out.items():
        counts = Counter(m for r in rows for m in r["mechanisms"])
        unsnapped = sum(not r["snapped"] for r in rows)
        print(f"{kind}: {len(rows)} lost ranks ({unsnapped} unsnapped); mechanisms: "
              + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "rank1": dict(at_one), "lost": out}, fh, indent=1, default=int)
    return 0


if __name__ == "__main__":
    sys.exit(main())
