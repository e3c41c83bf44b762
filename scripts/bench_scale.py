"""Catalog scale: open time, query latency, hit rate, filter recall and peak memory of `Catalog.search`.

    .venv/bin/python scripts/make_catalog.py --count 100000 --catalog /tmp/cat100k     # once
    .venv/bin/python scripts/bench_scale.py --catalog /tmp/cat100k [--queries 20] [--exhaustive 10] [--json out.json]

Queries: excerpts of 20-60 notes of the melodies planted by make_catalog.py (DIR/planted.json), transposed by
-5..+6 semitones and played 0.8-1.25x as fast, every other one with two changed notes; the planted melody is
the right answer. Reported:

* open: a fresh process times `Catalog.open(read_only=True)` and the first access to its packed arrays (what a
  `melody query` pays before searching; imports excluded, reported apart);
* query latency (median, p95, max) of `Catalog.search(top=10)` in one warm process, and the stage-1 share
  (`melody.align.search`, the exhaustive interval alignment over every reference);
* hit@1 / hit@10: the planted melody ranked first / in the top 10;
* first pass: the share of the catalog the full kernel re-scored (catalogs of at least
  melody.catalog.PREFILTER_MIN melodies are ranked by the fast kernel first), and recall@10 against the
  exhaustive search (the full kernel on every row, PREFILTER_MIN raised) on the first `--exhaustive` queries:
  the share of the exhaustive top 10 that the normal top 10 holds;
* peak RSS of the query process (ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import melody.catalog as catalog_module  # noqa: E402
from melody.catalog import Catalog  # noqa: E402
from melody.notes import Melody  # noqa: E402

OPEN_SNIPPET = """
import time, json
t = time.perf_counter()
from melody.catalog import Catalog
t_import = time.perf_counter() - t
t = time.perf_counter()
cat = Catalog.open({path!r}, read_only=True)
t_open = time.perf_counter() - t
t = time.perf_counter()
n = len(cat.packed)
t_packed = time.perf_counter() - t
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({{"import_s": t_import, "open_s": t_open, "packed_s": t_packed, "melodies": n,
                  "rss_mb": hwm[0] / 1024}}))   # ru_maxrss would carry the parent's peak over fork + exec
"""


def make_queries(cat: Catalog, planted: list[dict], n: int, rng) -> list[tuple[Melody, str]]:
    row_of = {t["uid"]: cat.packed.entries.row_of(t["uid"]) for t in planted}
    out = []
    for k in range(n):
        t = planted[k % len(planted)]
        m = cat.melody(row_of[t["uid"]])
        length = int(rng.integers(20, 61))
        length = min(length, len(m.notes))
        start = int(rng.integers(0, len(m.notes) - length + 1))
        notes = np.array(m.notes[start:start + length])
        speed = float(rng.uniform(0.8, 1.25))
        t0 = notes["onset"][0]
        notes["onset"] = (notes["onset"] - t0) / speed
        notes["duration"] = notes["duration"] / speed
        notes["pitch"] = notes["pitch"] + int(rng.integers(-5, 7))
        if k % 2:                       # two changed notes
            for i in rng.choice(np.arange(1, length - 1), size=2, replace=False):
                notes["pitch"][i] += int(rng.choice([-2, -1, 1, 2]))
        out.append((Melody(notes, title=f"query {k}", source=f"query-{k}"), t["uid"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True, help="a catalog made by scripts/make_catalog.py")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exhaustive", type=int, default=10, help="queries also searched exhaustively (recall@10)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    with open(os.path.join(args.catalog, "planted.json")) as fh:
        planted = json.load(fh)["planted"]
    t = time.perf_counter()          # the packed cache of this code version (built once, as the first query would),
    subprocess.run([sys.executable, "-c", "import sys; from melody.catalog import Catalog; "   # in its own process:
                    "Catalog.open(sys.argv[1]).packed", os.path.abspath(args.catalog)],       # its memory is not ours
                   check=True, cwd=ROOT)
    print(f"packed cache ready in {time.perf_counter() - t:.1f} s", flush=True)
    opens = []
    for _ in range(3):          # fresh processes; the first one may read from disk, the others from page cache
        res = subprocess.run([sys.executable, "-c", OPEN_SNIPPET.format(path=os.path.abspath(args.catalog))],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        opens.append(json.loads(res.stdout.strip().splitlines()[-1]))
    open_s = [o["open_s"] + o["packed_s"] for o in opens]
    print(f"catalog {args.catalog}: {opens[0]['melodies']:,} melodies")
    print(f"open + packed arrays (fresh process, imports excluded): {open_s[0]:.2f} s first, "
          f"{min(open_s[1:]):.2f} s warm page cache (import melody {opens[-1]['import_s']:.2f} s); "
          f"RSS after open {opens[-1]['rss_mb']:,.0f} MB", flush=True)

    cat = Catalog.open(args.catalog, read_only=True)
    rng = np.random.default_rng(args.seed)
    queries = make_queries(cat, planted, args.queries, rng)
    p = cat.packed
    cat.search(queries[0][0], top=10)        # warm-up: JIT cache load, derived arrays
    aligned = []
    lat, hit1, hit10, q_notes, found = [], [], [], [], []
    for k, (q, uid) in enumerate(queries):
        t = time.perf_counter()
        matches = cat.search(q, top=10)
        lat.append(time.perf_counter() - t)
        aligned.append(cat.last_search["full_kernel_rows"])
        ids = [m.id for m in matches]
        hit1.append(bool(ids) and ids[0] == uid)
        hit10.append(uid in ids)
        q_notes.append(len(q.notes))
        if k < args.exhaustive:
            prefilter_min = catalog_module.PREFILTER_MIN
            catalog_module.PREFILTER_MIN = 1 << 62
            try:
                full = [m.id for m in cat.search(q, top=10)]
            finally:
                catalog_module.PREFILTER_MIN = prefilter_min
            found.append(len(set(full) & set(ids)) / max(len(full), 1))
            print(f"  query {k}: {len(q.notes)} notes, {lat[-1]:.2f} s, exhaustive top 10 kept {found[-1]:.2f}",
                  flush=True)
    lat = np.array(lat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    share = float(np.median(aligned)) / len(p)
    fig = {"catalog": args.catalog, "melodies": len(p), "steps": int(len(p.interval)),
           "open_first_s": open_s[0], "open_warm_s": min(open_s[1:]), "queries": len(queries),
           "query_notes_mean": float(np.mean(q_notes)), "latency_median_s": float(np.median(lat)),
           "latency_p95_s": float(np.percentile(lat, 95)), "latency_max_s": float(lat.max()),
           "aligned_share": share, "recall_at_10_vs_exhaustive": float(np.mean(found)) if found else None,
           "exhaustive_queries": len(found),
           "hit_at_1": float(np.mean(hit1)), "hit_at_10": float(np.mean(hit10)), "peak_rss_mb": rss}
    print(f"{len(queries)} queries ({np.mean(q_notes):.0f} notes on average), top 10: latency median "
          f"{fig['latency_median_s']:.2f} s, p95 {fig['latency_p95_s']:.2f} s, max {fig['latency_max_s']:.2f} s; "
          f"full kernel on {share:.2%} of the catalog")
    if found:
        print(f"recall@10 against the exhaustive search ({len(found)} queries): {fig['recall_at_10_vs_exhaustive']:.3f}")
    print(f"planted melody first: {fig['hit_at_1']:.3f}, in top 10: {fig['hit_at_10']:.3f}; peak RSS {rss:,.0f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(fig, fh, indent=1)


if __name__ == "__main__":
    main()
