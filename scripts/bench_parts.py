#!/usr/bin/env python
"""A borrowing in any part: is a catalog phrase found when it is not in the lead, and what does searching
every part cost?

Band arrangements (lead, chords, bass, drums, as bench_accuracy writes them) whose lead sings held-out
material that borrows nothing (bench_accuracy's "medley" negatives), plus one more line in a non-lead part:

    bass     the bass track plays the phrase (in the bass register) instead of its roots for a while
    counter  a countermelody track (strings, below the lead) plays the phrase, then a held-out phrase
    riff     a synth track plays the phrase twice in a row, as an ostinato (inner register)

Positives: that line is a 10-20 note phrase of a catalog tune, moved to the song's key and the part's
register and varied a little (none, or one ornament, rhythm change or wrong note); negatives: the same
arrangement with a phrase of a held-out tune instead (nothing borrowed). Catalog: the 1,000 tunes
bench_accuracy builds for the same seed. Each song is searched with `query_file(..., parts="lead")` and
`parts="all"`: R@1 (the reference ranks first), flagged (it is flagged), wrong (another tune flagged),
negatives flagged, and the time per song (load + search) of each.

--chorales N runs the first N of music21's Bach chorales (four real voices, some doubled by instruments; none
in the catalog) through both settings: real inner voices and bass lines that borrow nothing from the folk
catalog, so a flag is a false flag or a real kinship to look at.

--accuracy runs bench_accuracy's own queries (330 + 8-note copies + syncopated, no variation or dispute
groups) through both settings instead: what searching every part costs where the borrowing is in the lead.

    .venv/bin/python scripts/bench_parts.py --seed 0 --json /tmp/parts0.json
    .venv/bin/python scripts/bench_parts.py --seed 0 --accuracy --json /tmp/parts_acc0.json
    .venv/bin/python scripts/bench_parts.py --seed 0 --chorales 100 --json /tmp/parts_bach.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import benchdata  # noqa: E402

# role -> (track name, General MIDI program, median pitch of the part)
ROLES = {"bass": ("Bass", 33, 43), "counter": ("Strings", 48, 60), "riff": ("Synth", 81, 64)}
PLANS = ({}, {"ornament": 1}, {"rhythm": 1}, {"pitch": 1})       # "varied a little"


def _line(gen, rng, tune, key_pc: int, register: float, plan: dict) -> tuple[list[list], bytes]:
    """A 10-20 note phrase of `tune` in the song's key, at `register` (median pitch), varied by `plan`
    (quarters from 0, [pitch, start, dur, origin]), and the phrase's intervals as written in the tune."""
    i, n = gen._phrase(rng, tune)
    seq = benchdata._fit(benchdata._excerpt(tune, i, n), tune.key_pc, key_pc, register)
    seq = benchdata.vary(seq, plan, rng, key_pc, tune.minor)
    return benchdata._shift(seq, -seq[0][1]), benchdata.interval_bytes(tune.pitch[i:i + n])


def song(gen, split, k: int, role: str, positive: bool, seed: int, qdir: str):
    """Write song k (a positive borrowing catalog tune q.ref_index in `role`'s part, or a negative) as MIDI;
    returns its benchdata.Query (category "<role>" or "neg/<role>")."""
    from melody.testing import Track, accompany, write_midi

    rng = np.random.default_rng([seed, 60, list(ROLES).index(role), k, positive])
    q = gen.negative(rng, f"{'p' if positive else 'n'}{role[0]}{k:03d}", "neg/medley")   # the lead: held out
    q.arrangement, q.positive, q.category = "band", positive, role if positive else f"neg/{role}"
    spb = 60.0 / q.bpm
    bpb = q.time_signature[0] * 4.0 / q.time_signature[1]
    lead = [(p, s / spb, d / spb, int(rng.integers(80, 111))) for p, s, d, _ in q.lead]
    comp, bass, drums = accompany(lead, q.key_pc, q.minor, bpb, seed * 100_003 + k)
    name, program, register = ROLES[role]
    if positive:
        q.ref_index = int(rng.integers(len(split.catalog)))
        tune = split.catalog[q.ref_index]
        q.ref_title = tune.melody.title
    else:
        tune = split.heldout[int(rng.integers(len(split.heldout)))]
    plan = PLANS[int(rng.integers(len(PLANS)))]
    phrase, iv = _line(gen, rng, tune, q.key_pc, register, plan)
    if positive:       # other catalog tunes holding the same phrase count as found too (bench_accuracy)
        q.alt_ref_indices = [j for j, b in enumerate(gen.catalog_bytes) if j != q.ref_index and iv in b]
    end = max(s + d for _, s, d, _ in lead)
    length = benchdata._end(phrase)
    t0 = bpb * int(rng.integers(0, max(1, int((end - length) // bpb)) + 1))      # on a bar line
    if role == "riff":                  # an ostinato: twice, the second from the next bar line
        phrase = phrase + benchdata._shift(phrase, bpb * np.ceil(length / bpb - 1e-9))
    elif role == "counter":             # the countermelody goes on with held-out material
        more, _ = gen._context(rng, q.key_pc, q.minor, bpb, register)
        if more:
            phrase = phrase + benchdata._shift(more, np.ceil(length * 2 - 1e-9) / 2 - more[0][1])
    part = [(p, s + t0, d, 85) for p, s, d, _ in benchdata._make_monophonic(benchdata._shift(phrase, 0.0))]
    q.phrase_notes = len(part)
    tracks = [comp, drums]
    if role == "bass":                  # the phrase replaces the roots while it sounds
        start, stop = part[0][1], part[-1][1] + part[-1][2]
        bass.notes = [n for n in bass.notes if n[1] + n[2] <= start or n[1] >= stop] + part
        bass.notes.sort(key=lambda n: n[1])
        tracks.append(bass)
    else:
        tracks += [bass, Track(name, program=program, notes=part)]
    lead_name, lead_program = benchdata._LEAD_TRACKS[int(rng.integers(len(benchdata._LEAD_TRACKS)))]
    tracks.insert(int(rng.integers(len(tracks) + 1)), Track(lead_name, program=lead_program, notes=lead))
    q.path = os.path.join(qdir, f"{q.qid}.mid")
    write_midi(q.path, tracks, q.bpm, q.time_signature)
    return q


def run_queries(queries, cat, ids, modes=("lead", "all")) -> dict:
    """{mode: [row]}: each query through query_file with that parts setting (bench_accuracy's rows, plus
    the seconds, the parts searched and the part of the true match)."""
    from melody.api import query_file
    from melody.io import load

    rows = {mode: [] for mode in modes}
    for q in queries:
        for mode in modes:
            t0 = time.perf_counter()
            result = query_file(q.path, cat, top=10, parts=mode)
            seconds = time.perf_counter() - t0
            if result["status"] != "ok":
                raise SystemExit(f"{q.path}: {result['error']}")
            matches = [SimpleNamespace(**d) for d in result["matches"]]
            row = bench_accuracy.evaluate(q, matches, ids)
            row.update(seconds=seconds, parts=len(load(q.path, parts=mode)) if mode == "all" else 1)
            if row.get("rank"):
                row["true_part"] = (result["matches"][row["rank"] - 1].get("query_part") or {}).get("name")
            rows[mode].append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0, "median_s": float("nan"), "mean_parts": float("nan")}
    out = bench_accuracy.summarize(rows)
    out["median_s"] = float(np.median([r["seconds"] for r in rows]))
    out["mean_parts"] = float(np.mean([r["parts"] for r in rows]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-per-role", type=int, default=20, help="positives (and as many negatives) per role")
    ap.add_argument("--n-catalog", type=int, default=1000)
    ap.add_argument("--n-heldout", type=int, default=400)
    ap.add_argument("--accuracy", action="store_true",
                    help="bench_accuracy's queries (no variation or dispute groups) instead of the part songs")
    ap.add_argument("--chorales", type=int, default=0, metavar="N",
                    help="the first N Bach chorales of music21's corpus (negatives) instead of the part songs")
    ap.add_argument("--workdir", help="queries, corpus cache and catalog (default: a temp dir, removed)")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    import melody
    workdir = args.workdir or tempfile.mkdtemp(prefix="melody-parts-")
    try:
        t0 = time.perf_counter()
        if args.accuracy:
            split, queries = benchdata.build(args.n_catalog, 330, args.seed, workdir, args.n_heldout,
                                             n_variation=0, n_dispute=0)
        elif args.chorales:
            corpus = benchdata.load_corpus(os.path.join(workdir, "cache"))
            split = benchdata.split_corpus(corpus, args.n_catalog, args.n_heldout, args.seed)
            root = os.path.join(benchdata.corpus_dir(), "bach")
            files = sorted(f for f in os.listdir(root) if f.endswith(".mxl"))[:args.chorales]
            queries = [benchdata.Query(f"bach-{os.path.splitext(f)[0]}", False, "neg/chorale", "band",
                                       path=os.path.join(root, f)) for f in files]
        else:
            corpus = benchdata.load_corpus(os.path.join(workdir, "cache"))
            split = benchdata.split_corpus(corpus, args.n_catalog, args.n_heldout, args.seed)
            gen = benchdata.Generator(split, args.seed)
            qdir = os.path.join(workdir, f"parts-{args.seed}")
            os.makedirs(qdir, exist_ok=True)
            queries = [song(gen, split, k, role, positive, args.seed, qdir)
                       for role in ROLES for positive in (True, False) for k in range(args.n_per_role)]
        cat_dir = os.path.join(workdir, f"catalog-{args.seed}")
        shutil.rmtree(cat_dir, ignore_errors=True)
        cat = melody.Catalog.create(cat_dir)
        ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
        print(f"{len(queries)} queries, catalog of {len(ids)} in {time.perf_counter() - t0:.1f} s", flush=True)
        rows = run_queries(queries, cat, ids)
        groups = {}
        for mode, mode_rows in rows.items():
            cats = sorted({r["category"] for r in mode_rows})
            groups[mode] = {"positives": summary([r for r in mode_rows if r["positive"]]),
                            "negatives": summary([r for r in mode_rows if not r["positive"]]),
                            **{c: summary([r for r in mode_rows if r["category"] == c]) for c in cats}}
            pos = [r for r in mode_rows if r["positive"]]
            neg = [r for r in mode_rows if not r["positive"]]
            groups[mode]["tpr_at_1pct_cut"] = bench_accuracy.tpr_at_cut(pos, neg)
        ratio = float(np.sum([r["seconds"] for r in rows["all"]]) / np.sum([r["seconds"] for r in rows["lead"]]))
        print(f"{'group':22s} {'mode':5s} {'n':>4s} {'R@1':>6s} {'flagged':>8s} {'wrong':>6s} {'neg flagged':>11s} "
              f"{'median s':>9s} {'parts':>6s}")
        for name in groups["lead"]:
            if name == "tpr_at_1pct_cut":
                continue
            for mode in rows:
                g = groups[mode][name]
                fmt = lambda key: f"{g[key]:.3f}" if g.get(key) is not None else "-"   # noqa: E731
                print(f"{name:22s} {mode:5s} {g['n']:4d} {fmt('recall_at_1'):>6s} {fmt('tpr'):>8s} "
                      f"{fmt('pos_wrong_flagged'):>6s} {fmt('fpr'):>11s} {g['median_s']:9.3f} {g['mean_parts']:6.2f}")
        print("TPR at the empirical 1% cut: " + ", ".join(
            f"{mode} {cut:.3f}" for mode in rows if (cut := groups[mode]["tpr_at_1pct_cut"]) is not None))
        print(f"time all / lead (load + search, summed): {ratio:.2f}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"config": vars(args), "groups": groups, "time_ratio": ratio,
                           "queries": {mode: [dict(q.truth(), **r) for q, r in zip(queries, mode_rows)]
                                       for mode, mode_rows in rows.items()}}, fh, indent=1)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
