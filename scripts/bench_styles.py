#!/usr/bin/env python
"""Do E-values keep their promise for queries of another style? Chorale sopranos against a folk catalog,
and the same sopranos made unrelated: retrograde, inversion, shuffled within 8-note windows.

Catalog: the 1,000 folk tunes bench_accuracy builds for --seed (Essen, O'Neill, Ryan). Queries:

    chorale   the lead (soprano) of music21's first N Bach chorales (`melody.load`, parts="lead")
    essen     N Essen tunes outside the catalog (another title and interval sequence), drawn with --seed and
              *not* filtered for shared runs as bench_accuracy's held-out tunes are (so kin stays in)

and each also in three versions that keep its rhythm, register and step sizes but cannot borrow anything:
`retrograde` (pitches in reverse order), `inversion` (intervals mirrored about the median pitch) and
`shuffle` (pitches permuted within consecutive 8-note windows). A flag (best E <= 0.1) on a transformed query
is a false flag; a calibrated null promises at most ~0.1 per query (E is the expected number of chance
matches this good), and bench_accuracy's threshold was chosen for <= 1% flagged negatives.

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/bench_styles.py --seed 0 --n 100 \
        --workdir /tmp/styles --json /tmp/styles/styles0.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import benchdata  # noqa: E402

SHUFFLE_WINDOW = 8      # notes per window of `shuffle`: about a chorale phrase (7-9 notes between fermatas)
REPEAT_WINDOW = 8       # intervals per window of `self_repetition` (a phrase restated, not a stock 3-note turn)
LONG_REPEAT = (60, 0.3)  # (notes, self_repetition): the group of controls that flagged most (seeds 0-1, BENCHMARKS)
TRANSFORMS = ("original", "retrograde", "inversion", "shuffle")


def with_pitch(melody, pitch):
    """`melody` with its pitches replaced (onsets, durations, bars and beats kept)."""
    from melody.notes import Melody
    notes = melody.notes.copy()
    notes["pitch"] = pitch
    return Melody(notes, title=melody.title, source=melody.source, meta=dict(melody.meta))


def transformed(melody, kind: str, rng):
    """One of TRANSFORMS applied to the pitch sequence; rhythm and metric positions are the original's."""
    pitch = melody.notes["pitch"].astype("f8")
    if kind == "original":
        return melody
    if kind == "retrograde":
        return with_pitch(melody, pitch[::-1])
    if kind == "inversion":
        axis = np.round(np.median(pitch))
        return with_pitch(melody, 2 * axis - pitch)
    if kind == "shuffle":
        out = pitch.copy()
        for i in range(0, len(out), SHUFFLE_WINDOW):
            out[i:i + SHUFFLE_WINDOW] = rng.permutation(out[i:i + SHUFFLE_WINDOW])
        return with_pitch(melody, out)
    raise ValueError(f"unknown transform {kind!r}")


def self_repetition(pitch) -> float:
    """The share of the melody's REPEAT_WINDOW-interval windows that occur more than once in it (0 for a tune
    that never restates a phrase, about 0.5 for AABB tunes and written-out repeats)."""
    b = benchdata.interval_bytes(np.round(np.asarray(pitch, dtype="f8")))
    windows = [b[i:i + REPEAT_WINDOW] for i in range(len(b) - REPEAT_WINDOW + 1)]
    if not windows:
        return 0.0
    counts = Counter(windows)
    return float(np.mean([counts[w] > 1 for w in windows]))


def shares_run(melody, grams: set) -> bool:
    """Whether the melody shares a run of benchdata.SHARED_RUN exact intervals with the catalog."""
    b = benchdata.interval_bytes(np.round(melody.notes["pitch"]))
    k = benchdata.SHARED_RUN
    return any(b[i:i + k] in grams for i in range(len(b) - k + 1))


def essen_outside(corpus, split, n: int, seed: int) -> list:
    """n Essen melodies that are not catalog tunes (title and interval sequence), drawn with `seed`."""
    titles = {benchdata._norm_title(t.melody.title) for t in split.catalog} - {""}
    keys = {t.intervals for t in split.catalog}
    pool = [m for m in corpus["essenFolksong"] if len(m.notes) >= benchdata.MIN_TUNE_NOTES
            and benchdata._norm_title(m.title) not in titles
            and benchdata.interval_bytes(np.round(m.notes["pitch"])) not in keys]
    rng = np.random.default_rng([seed, 77])
    return [pool[k] for k in rng.permutation(len(pool))[:n]]


def long_repeating(row: dict) -> bool:
    """Whether a query is in the LONG_REPEAT group (more notes, and at least that self-repetition)."""
    return row["notes"] > LONG_REPEAT[0] and row["repetition"] >= LONG_REPEAT[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=100, help="chorales, and Essen tunes")
    ap.add_argument("--workdir", required=True, help="corpus cache and catalog (kept, reused)")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    import melody
    from melody.io import load

    t0 = time.perf_counter()
    corpus = benchdata.load_corpus(os.path.join(args.workdir, "cache"))
    split = benchdata.split_corpus(corpus, 1000, 400, args.seed)
    cat_dir = os.path.join(args.workdir, f"catalog-{args.seed}")
    if os.path.exists(cat_dir):
        cat = melody.Catalog.open(cat_dir, read_only=True)
    else:
        cat = melody.Catalog.create(cat_dir)
        bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    grams = set()
    for t in split.catalog:
        b = t.intervals
        grams.update(b[i:i + benchdata.SHARED_RUN] for i in range(len(b) - benchdata.SHARED_RUN + 1))
    root = os.path.join(benchdata.corpus_dir(), "bach")
    files = sorted(f for f in os.listdir(root) if f.endswith(".mxl"))[:args.n]
    sets = {"chorale": [(f"bach-{os.path.splitext(f)[0]}", load(os.path.join(root, f))[0]) for f in files],
            "essen": [(f"essen-{k:03d}", m) for k, m in enumerate(essen_outside(corpus, split, args.n, args.seed))]}
    print(f"catalog and queries in {time.perf_counter() - t0:.1f} s", flush=True)

    rows = []
    for style, queries in sets.items():
        for k, (qid, mel) in enumerate(queries):
            for kind in TRANSFORMS:
                q = transformed(mel, kind, np.random.default_rng([args.seed, 78, k]))
                matches = cat.search(q, top=3)
                best = matches[0].to_dict(evidence=True) if matches else None
                row = {"qid": qid, "style": style, "transform": kind, "title": mel.title, "notes": len(q.notes),
                       "shares_run": shares_run(q, grams),
                       "repetition": self_repetition(mel.notes["pitch"]),
                       "evalue": best["evalue"] if best else float("inf"),
                       "flagged": bool(best and best["flagged"])}
                if best:
                    row.update({key: best[key] for key in ("title", "source", "matched_notes", "exact_notes",
                                                           "query_notes", "reference_notes", "transposition")},
                               title=mel.title, ref_title=best["title"], evidence=best.get("evidence"))
                rows.append(row)
            print(f"{style} {k + 1}/{len(queries)}", flush=True) if (k + 1) % 25 == 0 else None

    print(f"\n{'style':8s} {'transform':11s} {'n':>4s} {'flagged':>8s} {'E<=1':>6s} {'mean notes':>10s} "
          f"{'shares 7-run':>12s}")
    table = {}
    for style in sets:
        for kind in TRANSFORMS:
            r = [x for x in rows if x["style"] == style and x["transform"] == kind]
            g = {"n": len(r), "flagged": sum(x["flagged"] for x in r), "e_le_1": sum(x["evalue"] <= 1 for x in r),
                 "mean_notes": float(np.mean([x["notes"] for x in r])),
                 "shares_run": sum(x["shares_run"] for x in r)}
            table[f"{style}/{kind}"] = g
            print(f"{style:8s} {kind:11s} {g['n']:4d} {g['flagged']:8d} {g['e_le_1']:6d} {g['mean_notes']:10.1f} "
                  f"{g['shares_run']:12d}")
    print(f"\ncontrols (retrograde, inversion, shuffle) flagged, by length and self-repetition (>= {LONG_REPEAT[1]}):")
    for style in sets:
        ctrl = [x for x in rows if x["style"] == style and x["transform"] != "original"]
        for name, wanted in (("long, repeating", True), ("the others", False)):
            r = [x for x in ctrl if long_repeating(x) == wanted]
            print(f"  {style:8s} {name:16s} {sum(x['flagged'] for x in r):3d} of {len(r)}")
    for x in rows:
        if x["flagged"]:
            print(f"  {x['style']}/{x['transform']} {x['qid']} E={x['evalue']:.3g} {x['ref_title']!r} "
                  f"{x['matched_notes']} notes, {x['exact_notes']} exact")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "table": table, "rows": rows}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
