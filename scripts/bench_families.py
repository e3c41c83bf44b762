"""Tune-family retrieval on real folk-song variants (MTC-ANN dev half: 159 melodies, 13 families).

Leave-one-out: every melody queries a catalog of all 159 (itself excluded from its ranking) through the
same `Catalog.search` the CLI uses; reports mean average precision (MAP) and top-1 family accuracy. The JSON
output also lists every query (its AP, where its own family's best member ranks, which family ranks first),
worst first: the queries to study. The search is asked the question a tune family asks, whether each melody
is a variant of a whole tune as well (`Catalog.search`'s ``variants``: the whole-song evidence added to the
shared passage's); --no-variants gives the default search's figures (a borrowed passage alone).

    .venv/bin/python scripts/bench_families.py [--data ../shared/data/mtc-ann-dev.jsonl.gz] [--json OUT] [--no-variants]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody import Catalog, Melody, make_notes  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mtc-ann-dev.jsonl.gz")


def load_mtc(path: str, bpm: float = 100.0) -> list[Melody]:
    """MTC feature records -> Melody (quarter note = 60/bpm s; bars counted from beat resets)."""
    melodies = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            rec = json.loads(line)
            f = rec["features"]
            quarter = 60.0 / bpm
            dur = np.array(f["duration"], dtype="f8") * 4 * quarter
            onset = np.concatenate([[0.0], np.cumsum(dur[:-1])])
            beat = np.array(f["beat"], dtype="f8")
            bar = np.cumsum(np.concatenate([[1], (np.diff(beat) < 0).astype(int)]))
            notes = make_notes(onset, dur, f["midipitch"], bar, beat - 1)
            melodies.append(Melody(notes, title=rec["id"], source=f"mtc/{rec['id']}", index=k,
                                   meta={"family": rec["tunefamily"]}))
    return melodies


def average_precision(relevant: np.ndarray) -> float:
    hits = np.cumsum(relevant)
    if hits[-1] == 0:
        return 0.0
    return float(np.sum(relevant * hits / np.arange(1, len(relevant) + 1)) / hits[-1])


def evaluate(melodies, workdir: str, variants: bool = True) -> dict:
    cat = Catalog.create(os.path.join(workdir, "families"))
    ids = cat.add(melodies)
    family = {uid: m.meta["family"] for uid, m in zip(ids, melodies)}
    aps, top1, times, per_query = [], [], [], []
    for uid, m in zip(ids, melodies):
        t = time.perf_counter()
        matches = cat.search(m, top=len(melodies), max_evalue=0.01, variants=variants)
        times.append(time.perf_counter() - t)
        ranked = [x.id for x in matches if x.id != uid]
        ranked += [u for u in ids if u != uid and u not in set(ranked)]   # unmatched ones rank last
        rel = np.array([family[r] == m.meta["family"] for r in ranked], dtype=float)
        aps.append(average_precision(rel))
        top1.append(rel[0])
        per_query.append({"id": m.title, "family": m.meta["family"], "AP": aps[-1],
                          "own_family_rank": int(np.argmax(rel)) + 1 if rel.any() else None,
                          "first_family": family[ranked[0]], "notes": len(m.notes)})
    per_query.sort(key=lambda r: r["AP"])
    return {"melodies": len(melodies), "families": len(set(family.values())), "MAP": float(np.mean(aps)),
            "top1": float(np.mean(top1)), "median_query_s": float(np.median(times)), "variants": variants,
            "queries": per_query}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--variants", action=argparse.BooleanOptionalAction, default=True,
                    help="search for variants of the whole tune too (the default; --no-variants: shared passages only)")
    args = ap.parse_args()
    melodies = load_mtc(args.data)
    with tempfile.TemporaryDirectory() as d:
        res = evaluate(melodies, d, args.variants)
    print(f"MTC-ANN families ({'variants' if args.variants else 'passages only'}): "
          f"{res['melodies']} melodies, {res['families']} families: "
          f"MAP {res['MAP']:.3f}, top-1 {res['top1']:.3f}, median query {res['median_query_s'] * 1e3:.1f} ms")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
