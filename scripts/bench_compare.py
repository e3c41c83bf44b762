#!/usr/bin/env python
"""Is `melody compare A B` calibrated, and does it agree with `melody query`?

Three measurements, on the corpus split of scripts/bench_accuracy.py (1,000 catalog tunes, 400 held-out
tunes that share no run of 7 intervals with the catalog; `benchdata.split_corpus`):

- false flags on pairs that borrow nothing: held-out Essen tunes (German, Chinese, ...) against the
  catalog's Irish tunes (O'Neill, Ryan; no held-out tune shares a run of 7 intervals with the catalog), one
  pair at a time, and as collections (30 x 30 tunes, E-values scaled by `collection_evalue` as
  `compare_files` scales them); and the three songs of scripts/bench_borrowings.py that borrow nothing
  against each of reference_tracks/. Under a calibrated null a pair's best passage has E <= x with
  probability 1 - exp(-x) (0.095 at the default threshold 0.1, 0.01 at 0.01), and a 30 x 30 comparison flags
  about 0.1 passages. Also 30 x 30 catalog tunes of all three collections, which may hold real relatives
  (Irish dance tunes share many figures): flagged passages by the collections of their tunes;
- true flags on pairs that borrow: bench_accuracy-style positives (a varied 10-20 note phrase of a catalog
  tune between held-out context, written as MIDI and loaded back) against their catalog tune, and the seven
  historical borrowings against their reference;
- agreement with `Catalog.search`: the same positives searched in the 1,000-tune catalog (the borrowings in
  reference_tracks/, 33 songs): does compare's best passage overlap the match query reports (IoU of the
  query's note spans), and how do the E-values relate (query's counts a catalog of N tunes, compare's one
  pair: log10(E_query / (N E_compare)) should be near 0).

Each figure is given for the E-value compare reports (``evalue``: stage 2's combined score and null,
`melody.score.pair`) and for stage 1's interval model alone (``interval_evalue``, the model compare used
before).

    NUMBA_NUM_THREADS=1 .venv/bin/python scripts/bench_compare.py [--seed 0] [--pairs 300] [--positives 60] [--json OUT]
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
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import benchdata  # noqa: E402
from bench_accuracy import add_in_order, load_query  # noqa: E402
from bench_borrowings import CASES, QUERIES, REFERENCES  # noqa: E402

THRESHOLD = 0.1
KEYS = ("evalue", "interval_evalue")


def _best(passages: list[dict], key: str) -> float:
    return min((p[key] for p in passages), default=np.inf)


def _iou(a, b) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return max(inter, 0) / union if union > 0 else 0.0


def _span_iou(a, b) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(inter, 0.0) / union if union > 0 else 0.0


def _unrelated(split):
    """(held-out Essen tunes, catalog Irish tunes): the held-out filter leaves almost no Irish tune (they
    share runs of 7 intervals with the catalog's), but every held-out tune shares none with any catalog
    tune, the Irish ones included (as bench_accuracy's negatives)."""
    essen = [t.melody for t in split.heldout if t.collection == "essenFolksong"]
    irish = [t.melody for t in split.catalog if t.collection != "essenFolksong"]
    return essen, irish


def null_pairs(split, n_pairs: int, seed: int) -> list[dict]:
    """Best passage of held-out Essen tunes against catalog Irish tunes, one pair at a time."""
    from melody.api import compare
    essen, irish = _unrelated(split)
    rng = np.random.default_rng([seed, 90])
    rows = []
    for _ in range(n_pairs):
        a, b = essen[rng.integers(len(essen))], irish[rng.integers(len(irish))]
        got = compare(a, b)
        rows.append({"a": a.title, "b": b.title, "m": len(a.notes), "n": len(b.notes),
                     **{k: _best(got, k) for k in KEYS}})
    return rows


def null_collections(split, n_sets: int, size: int, seed: int, mixed: bool = False) -> list[dict]:
    """Flagged passages of `size` x `size` tune comparisons (Essen against Irish; mixed: two draws of
    catalog tunes of all three collections, which may hold relatives), under both models:
    `compare_collections`' E-values, each pair's passages scaled to the whole comparison by
    `collection_evalue`."""
    from melody.api import _features, collection_evalue, compare
    essen, irish = _unrelated(split)
    rows = []
    for k in range(n_sets):
        rng = np.random.default_rng([seed, 94 if mixed else 91, k])
        if mixed:
            picks = rng.choice(len(split.catalog), size=2 * size, replace=False)
            a = [split.catalog[i].melody for i in picks[:size]]
            b = [split.catalog[i].melody for i in picks[size:]]
            coll = {id(split.catalog[i].melody): split.catalog[i].collection[:5] for i in picks}
        else:
            a = [essen[i] for i in rng.choice(len(essen), size=size, replace=False)]
            b = [irish[i] for i in rng.choice(len(irish), size=size, replace=False)]
            coll = {}
        la, lb = [len(_features(m)) for m in a], [len(_features(m)) for m in b]
        evs = {key: [] for key in KEYS}
        flagged = []
        for x, m in zip(a, la):
            for y, n in zip(b, lb):
                for p in compare(x, y):
                    for key in KEYS:
                        evs[key].append(collection_evalue(p[key], m, n, la, lb))
                    if min(collection_evalue(p[key], m, n, la, lb) for key in KEYS) <= THRESHOLD:
                        kinds = sorted((coll.get(id(x), "essen"), coll.get(id(y), "irish")))
                        flagged.append({"a": x.title, "b": y.title, "collections": "x".join(kinds),
                                        "notes": p["matched_notes"],
                                        "exact": p["exact_notes"], "evalue": collection_evalue(p["evalue"], m, n, la, lb),
                                        "interval_evalue": collection_evalue(p["interval_evalue"], m, n, la, lb)})
        rows.append({"set": k, "flagged_passages": flagged, **{f"flagged_{key}": int(np.sum(np.array(evs[key]) <= THRESHOLD)) for key in KEYS},
                     **{f"best_{key}": float(min(evs[key], default=np.inf)) for key in KEYS}})
    return rows


def borrowings(workdir: str) -> list[dict]:
    """The historical borrowings against their reference (compare) and in reference_tracks/ (query), and
    the songs that borrow nothing against every reference (compare)."""
    from melody import Catalog, load
    from melody.api import compare
    cat_dir = os.path.join(workdir, "refs-catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = Catalog.create(cat_dir)
    cat.index([REFERENCES], workers=1)
    refs = {name: load(os.path.join(REFERENCES, name))[0] for name in sorted(os.listdir(REFERENCES))
            if name.endswith(".abc") or name.endswith(".mid") or name.endswith(".xml") or name.endswith(".krn")}
    rows = []
    for name, (target, _) in CASES.items():
        query = load(os.path.join(QUERIES, name))[0]
        if target:
            got = compare(query, refs[target])
            hit = next((m for m in cat.search(query, top=10) if os.path.basename(m.source) == target), None)
            rows.append({"query": name, "reference": target, "positive": True,
                         **{k: _best(got, k) for k in KEYS},
                         "query_evalue": hit.evalue if hit else None, "catalog": len(cat),
                         "span_iou": _iou(got[0]["query_notes"], hit.query_notes) if hit and got else 0.0})
        else:
            for ref_name, ref in refs.items():
                got = compare(query, ref)
                rows.append({"query": name, "reference": ref_name, "positive": False,
                             **{k: _best(got, k) for k in KEYS}})
    cat.close()
    return rows


def positives(split, n: int, seed: int, workdir: str) -> list[dict]:
    """bench_accuracy-style positives against their catalog tune (compare) and in the catalog (query)."""
    import melody
    from melody.api import compare
    gen = benchdata.Generator(split, seed)
    cats = list(benchdata.POSITIVE_CATEGORIES)
    refs = np.random.default_rng([seed, 92]).choice(len(split.catalog), size=n)
    cat_dir = os.path.join(workdir, "catalog")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = add_in_order(cat, [t.melody for t in split.catalog])
    qdir = os.path.join(workdir, "queries")
    os.makedirs(qdir, exist_ok=True)
    rows = []
    for k, ref in enumerate(refs):
        q = gen.positive(np.random.default_rng([seed, 93, k]), f"c{k:04d}", cats[k % len(cats)], int(ref))
        path = os.path.join(qdir, f"{q.qid}.mid")
        benchdata.render(q, path, seed * 100_003 + k)
        query = load_query(path)
        got = compare(query, split.catalog[int(ref)].melody)
        hit = next((m for m in cat.search(query, top=10) if m.id == ids[int(ref)]), None)
        best = got[0] if got else None
        rows.append({"qid": q.qid, "category": q.category, "phrase_notes": q.phrase_notes,
                     **{k2: _best(got, k2) for k2 in KEYS},
                     "truth_iou": _span_iou(best["query_span"], q.query_span) if best else 0.0,
                     **{f"extra_{k2}": sum(_span_iou(p["query_span"], q.query_span) == 0 and p[k2] <= THRESHOLD
                                           for p in got[1:]) for k2 in KEYS},
                     "query_evalue": hit.evalue if hit else None, "catalog": len(cat),
                     "span_iou": _iou(best["query_notes"], hit.query_notes) if hit and best else 0.0})
    cat.close()
    return rows


def _rate(values, threshold=THRESHOLD) -> str:
    v = np.asarray(values, dtype="f8")
    return f"{int(np.sum(v <= threshold))}/{len(v)} ({np.mean(v <= threshold):.3f})"


def _ratio(rows, key) -> str:
    r = [np.log10(max(x["query_evalue"], 1e-300) / (x["catalog"] * max(x[key], 1e-300)))
         for x in rows if x["query_evalue"] is not None and np.isfinite(x[key])]
    if not r:
        return "-"
    q = np.percentile(r, [10, 50, 90])
    return f"median {q[1]:+.2f} (10-90%: {q[0]:+.2f} .. {q[2]:+.2f})"


def _report_sets(coll: list, title: str) -> None:
    print(title.format(len(coll)))
    for key in KEYS:
        bkey = f"best_{key}"
        print(f"  {key:16s} flagged per set {[c[f'flagged_{key}'] for c in coll]}  "
              f"best E {[float(f'{c[bkey]:.2g}') for c in coll]}")


def report(res: dict) -> None:
    pairs = res["null_pairs"]
    print(f"\nfalse flags, Essen x Irish held-out pairs ({len(pairs)}; a calibrated null flags "
          f"{1 - np.exp(-THRESHOLD):.3f} at E <= {THRESHOLD}, 0.010 at E <= 0.01, 0.632 at E <= 1):")
    for key in KEYS:
        v = [p[key] for p in pairs]
        print(f"  {key:16s} E<=0.1 {_rate(v)}  E<=0.01 {_rate(v, 0.01)}  E<=1 {_rate(v, 1.0)}  "
              f"median best E {np.median(v):.3g}")
    _report_sets(res["null_collections"], "collections (30 x 30, {} sets; a calibrated null flags ~0.1 per set):")
    coll = res["mixed_collections"]
    _report_sets(coll, "collections of catalog tunes of all three collections (30 x 30, {} sets; may hold relatives):")
    flags = [f for c in coll for f in c["flagged_passages"]]
    for key in KEYS:
        by = {}
        for f in flags:
            if f[key] <= THRESHOLD:
                by[f["collections"]] = by.get(f["collections"], 0) + 1
        print(f"  {key:16s} flagged passages by the collections of their tunes: {dict(sorted(by.items()))}")
    exact = [f["exact"] for f in flags if f["evalue"] <= THRESHOLD]
    if exact:
        print(f"  passages flagged by evalue: median {np.median([f['notes'] for f in flags if f['evalue'] <= THRESHOLD]):.0f} "
              f"aligned notes, median {np.median(exact):.0f} exact after transposition")
    bor = res["borrowings"]
    neg = [b for b in bor if not b["positive"]]
    print(f"songs borrowing nothing x reference_tracks ({len(neg)} pairs):")
    for key in KEYS:
        print(f"  {key:16s} E<=0.1 {_rate([b[key] for b in neg])}  E<=0.01 {_rate([b[key] for b in neg], 0.01)}")
    pos = res["positives"]
    print(f"positives, compare with their catalog tune ({len(pos)}):")
    for key in KEYS:
        print(f"  {key:16s} flagged {_rate([p[key] for p in pos])}  "
              f"log10(E_query / (N E_compare)) {_ratio(pos, key)}")
    print("  further passages flagged outside the borrowed phrase (chance passages of a borrowing pair): " +
          ", ".join(f"{key} {sum(p[f'extra_{key}'] for p in pos)} in {sum(p[f'extra_{key}'] > 0 for p in pos)} pairs"
                    for key in KEYS))
    print(f"  best passage vs truth: median IoU {np.median([p['truth_iou'] for p in pos]):.2f}; "
          f"vs query's match: median IoU {np.median([p['span_iou'] for p in pos if p['query_evalue'] is not None]):.2f}, "
          f">= 0.5 in {np.mean([p['span_iou'] >= 0.5 for p in pos if p['query_evalue'] is not None]):.3f}; "
          f"query flags {_rate([p['query_evalue'] if p['query_evalue'] is not None else np.inf for p in pos])}")
    bpos = [b for b in bor if b["positive"]]
    print(f"historical borrowings ({len(bpos)}, query in reference_tracks/, N = {bpos[0]['catalog']}):")
    for b in bpos:
        print(f"  {b['query']:28s} compare E {b['evalue']:.2g} (stage 1 {b['interval_evalue']:.2g}), "
              f"query E {b['query_evalue']:.2g}, span IoU {b['span_iou']:.2f}")
    for key in KEYS:
        print(f"  {key:16s} flagged {_rate([b[key] for b in bpos])}  log10(E_query / (N E_compare)) {_ratio(bpos, key)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", type=int, default=300, help="unrelated pairs of held-out tunes")
    ap.add_argument("--sets", type=int, default=3, help="30 x 30 collection comparisons")
    ap.add_argument("--positives", type=int, default=60)
    ap.add_argument("--workdir", default="/tmp/bench-compare")
    ap.add_argument("--json", help="write every row here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    corpus = benchdata.load_corpus(os.path.join(args.workdir, "cache"), log=None)
    split = benchdata.split_corpus(corpus, 1000, 400, args.seed)
    res = {"seed": args.seed}
    for name, fn in (("null_pairs", lambda: null_pairs(split, args.pairs, args.seed)),
                     ("null_collections", lambda: null_collections(split, args.sets, 30, args.seed)),
                     ("mixed_collections", lambda: null_collections(split, args.sets, 30, args.seed, mixed=True)),
                     ("borrowings", lambda: borrowings(args.workdir)),
                     ("positives", lambda: positives(split, args.positives, args.seed, args.workdir))):
        t = time.perf_counter()
        res[name] = fn()
        print(f"{name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    report(res)
    print(f"\n{time.perf_counter() - t0:.0f} s, load {open('/proc/loadavg').read().split()[:3]}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
