#!/usr/bin/env python
"""Census of the songwriters' variations that lose their rank: where the true tune was lost and what beat it.

Reads a `bench_accuracy.py --json OUT --workdir DIR` run (its catalog and query files are kept in DIR) and, for
every positive of the variation groups and the 8-note copies not ranked first, runs the search again stage by
stage: the true tune's stage-1 rank (outside the RESCORE_TOP re-scored candidates it cannot rank), its
stage-2 rank, its combined score and E-value against the winner's, how much of the borrowed phrase its
interval alignment covers, and whether the winner aligns to the borrowed phrase or only to the query's
foreign context (the written lead's notes are regenerated from the seed to tell them apart). Each miss gets
a first-guess cause (BENCHMARKS.md, "Thirteenth session"):

- stage 1: the true tune is not among the re-scored candidates;
- context: the winner aligns only to the foreign context (a catalog relative of the held-out material);
- length: the true tune's combined score is at least the winner's; it loses on the search-space correction
  of its longer reference;
- same notes: the winner holds the borrowed phrase's pitch changes itself, all or all but one of them in one
  exact run (repeated notes merged, `shared_run`): a relative of the source, or a stock figure;
- split: the true alignment covers at most 0.7 of the borrowed notes of a phrase with notes inserted or
  re-set (inserted bar, sequence, ornament figures, split notes, a varied continuation);
- weak: the rest (read the alignments: a winner holding the same notes is a stock figure or a relative).

With --written each miss is searched again from the generator's written lead alone (a one-track MIDI file,
`write_lead`) in place of the arrangement: a miss whose true tune then ranks first was lost in the
arrangement or its lead extraction ("arrangement"), the others keep a cause of their own.

    .venv/bin/python scripts/bench_accuracy.py --json /tmp/acc0.json --workdir /tmp/acc0
    .venv/bin/python scripts/census_variations.py /tmp/acc0.json /tmp/acc0 [--written]
"""
from __future__ import annotations

import argparse
import collections
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

GROUPS = tuple(benchdata.VARIATION_CATEGORIES) + (benchdata.SHORT_CATEGORY,)
INSERTING = ("extend", "sequence", "embellish", "reset", "fragment")   # groups whose phrase gains or re-sets notes
SPLIT_COVER = 0.7


def write_lead(query, path: str) -> str:
    """The query's written lead alone as a one-track MIDI file (its tempo and meter, as `benchdata.render`
    writes the arrangement): what the query is before it is arranged and its lead extracted again."""
    from melody.testing import Track, write_midi

    seconds_per_beat = 60.0 / query.bpm
    notes = [(p, s / seconds_per_beat, d / seconds_per_beat, 100) for p, s, d, _ in query.lead]
    return write_midi(path, [Track("Melody", program=73, notes=notes)], query.bpm, query.time_signature)


def note_origins(loaded, lead, context) -> list[str]:
    """Per loaded note: 'B' a borrowed note, 'M' a borrowed note moved (mode change, varied continuation), 'N'
    a note the variation added, 'c' foreign context, 'x' not in the written lead (30 ms, same pitch)."""
    before, after = context
    out = []
    for t, p in zip(loaded.notes["onset"], np.round(loaded.notes["pitch"]).astype(int)):
        tag = "x"
        for k, (lp, s, _, o) in enumerate(lead):
            if abs(s - t) < 0.03 and lp == p:
                tag = "c" if (k < before or k >= len(lead) - after) else "B" if o >= 0 else "M" if o == -2 else "N"
                break
        out.append(tag)
    return out


def pitch_changes(pitch) -> np.ndarray:
    """The intervals between a melody's successive different pitches (repeated notes merged)."""
    pitch = np.rint(np.asarray(pitch, dtype="f8")).astype(np.int64)
    if len(pitch) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.diff(pitch[np.concatenate([[True], pitch[1:] != pitch[:-1]])])


def shared_run(phrase_pitch, reference_pitch) -> tuple[int, int]:
    """(k, n): the longest run of the phrase's n pitch changes (`pitch_changes`) that the reference holds
    exactly, in one place, in any transposition."""
    a, b = pitch_changes(phrase_pitch), pitch_changes(reference_pitch)
    best = 0
    run = np.zeros(len(b) + 1, dtype=np.int64)
    for x in a:                 # longest common substring, one row at a time
        run[1:] = np.where(b == x, run[:-1] + 1, 0)
        best = max(best, int(run.max(initial=0)))
    return best, len(a)


def trace(cat, query, true_row: int) -> dict:
    """Stage by stage, the true tune's fate and the winner's, for one query."""
    from melody import align
    from melody.align import pitch as pitch_kernel
    from melody.meter import melody_with_guessed_beats
    from melody.score.rescore import (View, _stage1_order, pitch_scores, pitches, query_pitches, rescore_views,
                                      style_sample)

    p = cat.packed
    sq = melody_with_guessed_beats(query)
    qf = p.query_features(sq)
    null = style_sample(qf, p)
    s1, ev1 = cat._stage1(qf, p, None, null)
    order, ev, best = rescore_views([View(sq, qf, p, s1, ev1)], null_rows=null)
    winner = int(order[0]) if int(order[0]) != true_row else int(order[1])
    combined = best[true_row]
    if np.isnan(combined):      # not re-scored: what stage 2 would have given it
        combined = s1[true_row] + pitch_scores(query_pitches(sq), qf, p, pitches(p), np.array([true_row]))[0]

    def passage(row):
        a = align.local_align(qf, cat.features(row), None)
        return a.query_notes

    # the longest exact run's share of the pitch score (melody.align.pitch, P_EXACT)
    no_run = align.DEFAULT_PITCH_PARAMS.copy()
    no_run[pitch_kernel.P_EXACT] = 0.0
    rows = np.array([true_row, winner])
    qp = query_pitches(sq)
    run_term = pitch_scores(qp, qf, p, pitches(p), rows) - pitch_scores(qp, qf, p, pitches(p), rows, no_run)

    return {"stage1_rank": int(np.flatnonzero(_stage1_order(s1, ev1) == true_row)[0]) + 1,
            "stage2_rank": int(np.flatnonzero(order == true_row)[0]) + 1,
            "true": (float(combined), float(ev[true_row]), passage(true_row), len(cat.melody(true_row).notes)),
            "winner": (float(best[winner]), float(ev[winner]), passage(winner), len(cat.melody(winner).notes)),
            "winner_title": cat.melody(winner).title, "winner_row": winner,
            "exact_run": (float(run_term[0]), float(run_term[1])),
            "winner_pitch": cat.melody(winner).notes["pitch"]}


def cause(group: str, t: dict, tags: list[str], held: tuple[int, int] = (0, 0)) -> tuple[str, float, str]:
    """(first-guess cause, share of borrowed notes in the true alignment, where the winner aligns); held: the
    borrowed phrase's pitch changes the winner holds in one exact run, of how many (`shared_run`)."""
    borrowed = sum(g in "BM" for g in tags)
    q0, q1 = t["true"][2]
    cover = sum(g in "BM" for g in tags[q0:q1 + 1]) / max(borrowed, 1)
    w0, w1 = t["winner"][2]
    on_phrase = sum(g in "BMN" for g in tags[w0:w1 + 1])
    where = "context" if on_phrase == 0 else "phrase"
    if t["stage1_rank"] > 100:
        return "stage 1", cover, where
    if where == "context":
        return "context", cover, where
    if t["true"][0] >= t["winner"][0]:
        return "length", cover, where
    if held[1] >= 2 and held[0] >= held[1] - 1:
        return "same notes", cover, where
    if cover <= SPLIT_COVER and group in INSERTING:
        return "split", cover, where
    return "weak", cover, where


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", help="bench_accuracy.py --json output")
    ap.add_argument("workdir", help="its --workdir (catalog and queries)")
    ap.add_argument("--written", action="store_true",
                    help="search each miss from its written lead alone, not the arrangement (write_lead)")
    args = ap.parse_args(argv)

    import melody
    from melody.catalog import Catalog

    data = json.load(open(args.result))
    cfg = data["config"]
    with tempfile.TemporaryDirectory() as tmp:      # the written leads, regenerated (deterministic per seed)
        _, queries = benchdata.build(cfg["n_catalog"], cfg["n_queries"], cfg["seed"], tmp, cfg["n_heldout"],
                                     log=None, n_variation=cfg["n_variation"])
    written = {q.qid: q for q in queries}
    cat = Catalog.open(os.path.join(args.workdir, "catalog"), read_only=True)
    counts = collections.Counter()
    print("| query | group | cause | stage-1 rank | combined true / winner | exact run term true / winner "
          "| E true / winner | notes true / winner | borrowed notes in the true alignment | winner aligns to "
          "| phrase's pitch changes the winner holds | winner |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    lead_dir = tempfile.mkdtemp(prefix="census-leads-")
    for r in data["queries"]:
        if r["category"] not in GROUPS or r.get("rank") == 1:
            continue
        q = written[r["qid"]]
        path = os.path.join(args.workdir, "queries", r["qid"] + ".mid")
        if args.written:
            path = write_lead(q, os.path.join(lead_dir, r["qid"] + ".mid"))
        loaded = max(melody.load(path), key=len)
        t = trace(cat, loaded, cat.packed.entries.row_of(r["true_id"]))
        group = r["category"].split("/")[0]
        tags = note_origins(loaded, q.lead, q.context_notes)
        borrowed = [k for k, g in enumerate(tags) if g in "BM"]
        phrase = loaded.notes["pitch"][borrowed[0]:borrowed[-1] + 1] if borrowed else []
        held = shared_run(phrase, t["winner_pitch"])
        why, cover, where = cause(group, t, tags, held)
        if args.written and t["stage2_rank"] == 1:
            why = "arrangement"
        counts[group, why] += 1
        print(f"| {r['qid']} | {group} | {why} | {t['stage1_rank']} | {t['true'][0]:.1f} / {t['winner'][0]:.1f} "
              f"| {t['exact_run'][0]:.1f} / {t['exact_run'][1]:.1f} "
              f"| {t['true'][1]:.3g} / {t['winner'][1]:.3g} | {t['true'][3]} / {t['winner'][3]} | {cover:.2f} "
              f"| {where} | {held[0]} of {held[1]} | {t['winner_title'][:30]} |", flush=True)
    shutil.rmtree(lead_dir, ignore_errors=True)
    causes = ("split", "context", "length", "same notes", "stage 1", "weak") + (("arrangement",) if args.written else ())
    print("\n| group | " + " | ".join(causes) + " |\n|---|" + "---|" * len(causes))
    for group in sorted({g for g, _ in counts}):
        print(f"| {group} | " + " | ".join(str(counts[group, c]) for c in causes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
