#!/usr/bin/env python
"""Accuracy benchmark: does `Catalog.search` find borrowed melodies, and only those?

Builds a catalog of real folk tunes, generates positive queries (a varied phrase of a catalog tune between
foreign context, arranged for band or piano, written as MIDI and loaded back; plus transposed exact copies
of only 8 notes, group exact8/s0; syncopated phrases, group sync/s3; the kinds of variation songwriters
use when they borrow, one group each: mode change, meter change, rhythm re-set to new words, embellishment,
an inserted bar and a held note, a quoted fragment varied, a motif in sequence) and negative queries
(nothing borrowed), runs every query and reports recall@1/@10, the flag's true- and false-positive rates,
span IoU and timings, overall and per category. Dispute mode (--n-dispute, on by default) queries whole
songs, each a variant of one tune of a small catalog of such tunes, and whole held-out songs that borrow
nothing, against that small catalog: the counterpart must rank first. Last come 40 negatives laid out as
songs are (group song/s60: sections of held-out tunes restated 2-4 times, AABA, verse-chorus, 60-200 notes),
kept apart from the 165 negatives: long queries that restate their material flag by chance more often.
Then, in dispute mode, 20 riff songs (group "dispute riff", --n-riff): a 5-8 note motif of a dispute tune
restated 3-4 times back to back in each of two choruses, as written, re-set, shifted in the bar or with an
upbeat added; the counterpart must rank first.
Last of all (--n-perform) come phrases played, not written (group perform/<kind>: swung, staccato or legato,
a player's timing in a file whose tempo and bars say nothing, or all at once), each beside its twin as
written (straight/<kind>: the same query and arrangement), and held-out negatives played the same ways
(perform-neg/<kind>), against the big catalog; kept apart from every other group. --only-perform searches only them and the 165 negatives (for the 1% cut).
See scripts/benchdata.py for how the data is made.

Columns: R@1 / R@10 = the true reference (or a catalog tune holding the same phrase exactly) is ranked
first / in the top 10; TPR = it is flagged; FPR = a negative has any flagged match; wrong = a positive has a
flagged match that is not its reference; IoU-q / IoU-r = median overlap of the true match's query_span /
reference_span with the truth (the query's best of a hook's or riff's statements; over positives whose
reference is in the top 10); lead-r / lead-p = recall /
precision of the loaded query notes against the lead that was written (lead extraction). "TPR at the
empirical 1% cut" (printed below the table): the share of the 10-20 note positives whose true match has a
smaller E-value than all but floor(1%) of the negatives' best matches (separation, independent of the flag's
threshold).

    .venv/bin/python scripts/bench_accuracy.py                      # 1000 tunes, 330 + 15 + 15 + 7 x 15 + 40 songs
    .venv/bin/python scripts/bench_accuracy.py --json bench.json --workdir /tmp/bench
    .venv/bin/python scripts/bench_accuracy.py --dump /tmp/queries  # only write queries + truth.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402


def add_in_order(cat, melodies) -> list[str]:
    """cat.add, returning the ids in the order of `melodies`.

    Catalog.add stores melodies grouped by source file, and returns ids in that grouped order; so the
    melodies are passed grouped (keeping their order inside a group) and the ids mapped back.
    """
    first = {}
    for k, m in enumerate(melodies):
        first.setdefault(m.source, k)
    order = sorted(range(len(melodies)), key=lambda k: (first[melodies[k].source], k))
    got = cat.add([melodies[k] for k in order])
    if len(got) != len(melodies):
        raise SystemExit(f"cat.add returned {len(got)} ids for {len(melodies)} melodies")
    ids = [""] * len(melodies)
    for k, uid in zip(order, got):
        ids[k] = uid
    return ids


def load_query(path: str):
    """The query's lead line through the public loader (exercises multi-track lead extraction)."""
    import melody
    load = getattr(melody, "load", None)
    if load is None:
        from melody.io import load
    melodies = load(path)
    return max(melodies, key=len)


def lead_agreement(loaded, query: benchdata.Query) -> tuple[float, float]:
    """(recall, precision) of the loaded melody against the written lead: a note agrees when it has the
    same pitch and an onset within 30 ms."""
    on = loaded.notes["onset"]
    pitch = np.round(loaded.notes["pitch"]).astype(int)
    hits = 0
    for p, s, _, _ in query.lead:
        k = np.searchsorted(on, s - 0.03)
        while k < len(on) and on[k] <= s + 0.03:
            if pitch[k] == p:
                hits += 1
                break
            k += 1
    return hits / max(len(query.lead), 1), hits / max(len(on), 1)


def iou(a, b) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(inter, 0.0) / union if union > 0 else 0.0


def evaluate(query: benchdata.Query, matches, ids: list[str]) -> dict:
    row = {"qid": query.qid, "positive": query.positive, "category": query.category,
           "arrangement": query.arrangement, "n_matches": len(matches),
           "any_flagged": any(m.flagged for m in matches),
           "top_score": float(matches[0].score) if matches else None,
           "top_evalue": float(matches[0].evalue) if matches else None,
           "top_id": matches[0].id if matches else None}
    if query.positive:
        true_ids = {ids[query.ref_index]} | {ids[k] for k in query.alt_ref_indices}
        rank = next((r for r, m in enumerate(matches, 1) if m.id in true_ids), None)
        row.update(rank=rank, true_id=ids[query.ref_index],
                   true_flagged=bool(rank and matches[rank - 1].flagged),
                   wrong_flagged=any(m.flagged and m.id not in true_ids for m in matches))
        if rank:
            m = matches[rank - 1]
            row.update(true_score=float(m.score), true_evalue=float(m.evalue),
                       query_iou=max(iou(tuple(m.query_span), span) for span in [query.query_span, *query.restated_spans]),
                       ref_iou=iou(tuple(m.reference_span), query.ref_span),
                       query_span=list(m.query_span), reference_span=list(m.reference_span))
    return row


def summarize(rows: list[dict]) -> dict:
    pos = [r for r in rows if r["positive"]]
    neg = [r for r in rows if not r["positive"]]
    out = {"n": len(rows), "n_pos": len(pos), "n_neg": len(neg)}
    if pos:
        found = [r for r in pos if r.get("rank")]
        out.update(
            recall_at_1=float(np.mean([r.get("rank") == 1 for r in pos])),
            recall_at_10=float(np.mean([r.get("rank") is not None for r in pos])),
            tpr=float(np.mean([r["true_flagged"] for r in pos])),
            pos_wrong_flagged=float(np.mean([r["wrong_flagged"] for r in pos])),
            median_query_iou=float(np.median([r["query_iou"] for r in found])) if found else None,
            median_ref_iou=float(np.median([r["ref_iou"] for r in found])) if found else None)
    if neg:
        out["fpr"] = float(np.mean([r["any_flagged"] for r in neg]))
    if rows and "lead_recall" in rows[0]:
        out["lead_recall"] = float(np.mean([r["lead_recall"] for r in rows]))
        out["lead_precision"] = float(np.mean([r["lead_precision"] for r in rows]))
    return out


def tpr_at_cut(pos: list[dict], neg: list[dict], fpr: float = 0.01) -> float | None:
    """Share of positives whose true match's E-value is below the negatives' empirical `fpr` cut: all but
    floor(fpr n) negatives have a best E-value at least as large."""
    if not pos or not neg:
        return None
    best = np.sort([r["top_evalue"] if r["top_evalue"] is not None else np.inf for r in neg])
    cut = best[int(np.floor(fpr * len(best)))]
    return float(np.mean([r.get("true_evalue", np.inf) < cut for r in pos]))


def _fmt(v, pct=True):
    if v is None:
        return "-"
    return f"{100 * v:5.1f}" if pct else f"{v:5.2f}"


COLUMNS = [  # (header, summary key, shown as a percentage)
    ("n", "n", None), ("R@1", "recall_at_1", True), ("R@10", "recall_at_10", True), ("TPR", "tpr", True),
    ("FPR", "fpr", True), ("wrong", "pos_wrong_flagged", True), ("IoU-q", "median_query_iou", False),
    ("IoU-r", "median_ref_iou", False), ("lead-r", "lead_recall", True), ("lead-p", "lead_precision", True)]


def print_table(groups: dict[str, dict]) -> None:
    """One line per group; '-' where a figure does not apply (e.g. recall of negatives)."""
    head = f"{'group':<20}" + "".join(f"{h:>7}" for h, _, _ in COLUMNS)
    print(head)
    print("-" * len(head))
    for name, s in groups.items():
        cells = [f"{s[key]:>7}" if pct is None else f"{_fmt(s.get(key), pct):>7}" for _, key, pct in COLUMNS]
        print(f"{name:<20}" + "".join(cells))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-catalog", type=int, default=1000, help="catalog size (default 1000)")
    ap.add_argument("--n-queries", type=int, default=330, help="queries, half positive (default 330)")
    ap.add_argument("--n-heldout", type=int, default=400, help="held-out tunes for context/negatives")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="OUT", help="write the figures (and per-query rows) as JSON")
    ap.add_argument("--workdir", help="where queries, corpus cache and catalog go (default: a temp dir, removed)")
    ap.add_argument("--dump", metavar="DIR", help="only write the queries (MIDI) and truth.json to DIR")
    ap.add_argument("--n-variation", type=int, default=benchdata.N_VARIATION,
                    help=f"queries per kind of songwriters' variation (default {benchdata.N_VARIATION}; 0: none)")
    ap.add_argument("--n-dispute", type=int, default=40,
                    help="dispute mode: whole songs against a small catalog of this many tunes (default 40; 0: off)")
    ap.add_argument("--n-song", type=int, default=benchdata.N_SONG,
                    help=f"negatives laid out as songs restating their sections (default {benchdata.N_SONG}; 0: none)")
    ap.add_argument("--n-riff", type=int, default=benchdata.N_RIFF,
                    help="dispute mode: songs restating a short riff of a dispute tune "
                         f"(default {benchdata.N_RIFF}; 0: none)")
    ap.add_argument("--n-perform", type=int, default=benchdata.N_PERFORM,
                    help=f"phrases played, not written, each with its twin as written (default {benchdata.N_PERFORM}; 0: none)")
    ap.add_argument("--only-perform", action="store_true",
                    help="search only the performed phrases, their twins and the negatives (faster)")
    args = ap.parse_args(argv)

    if args.dump:
        split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, args.dump, args.n_heldout,
                                         n_variation=args.n_variation, n_dispute=args.n_dispute,
                                         n_song=args.n_song, n_riff=args.n_riff, n_perform=args.n_perform)
        print(f"wrote {len(queries)} queries and {benchdata.dump(split, queries, args.dump)}")
        return 0

    import melody
    if not hasattr(melody, "Catalog"):
        print("melody.Catalog does not exist yet: use --dump to only generate the data", file=sys.stderr)
        return 2

    workdir = args.workdir or tempfile.mkdtemp(prefix="melody-bench-")
    try:
        t0 = time.perf_counter()
        split, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed, workdir, args.n_heldout,
                                         n_variation=args.n_variation, n_dispute=args.n_dispute,
                                         n_song=args.n_song, n_riff=args.n_riff, n_perform=args.n_perform)
        t_data = time.perf_counter() - t0

        cat_dir = os.path.join(workdir, "catalog")
        shutil.rmtree(cat_dir, ignore_errors=True)
        t0 = time.perf_counter()
        cat = melody.Catalog.create(cat_dir)
        ids = add_in_order(cat, [t.melody for t in split.catalog])
        t_build = time.perf_counter() - t0
        print(f"catalog: {len(ids)} melodies in {t_build:.1f} s")

        dispute = [q for q in queries if q.category.startswith(benchdata.DISPUTE_CATEGORY + "/")]
        songs = [q for q in queries if q.category == benchdata.SONG_CATEGORY]     # kept apart, last
        played = [q for q in queries if q.category.split("/")[0] in (benchdata.PERFORM_CATEGORY,
                                                                      benchdata.STRAIGHT_CATEGORY,
                                                                      benchdata.PERFORM_NEGATIVE)]
        queries = [q for q in queries if q not in dispute and q not in songs and q not in played]
        if args.only_perform:
            queries = [q for q in queries if q.category in benchdata.NEGATIVE_CATEGORIES]
            dispute, songs = [], []
        songs = songs + played          # both searched against the big catalog, rows split below
        small = None
        if dispute:          # the small catalog of dispute mode: ids in a list parallel to the big catalog
            shutil.rmtree(os.path.join(workdir, "catalog-dispute"), ignore_errors=True)
            small = melody.Catalog.create(os.path.join(workdir, "catalog-dispute"))
            members = split.stats["dispute_catalog"]
            small_ids = [""] * len(ids)
            for k, uid in zip(members, add_in_order(small, [split.catalog[k].melody for k in members])):
                small_ids[k] = uid

        rows, t_load, t_search = [], [], []
        for q in queries + dispute + songs:
            t0 = time.perf_counter()
            loaded = load_query(q.path)
            t_load.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            in_dispute = small is not None and q.category.startswith(benchdata.DISPUTE_CATEGORY + "/")
            matches = (small if in_dispute else cat).search(loaded, top=10)
            t_search.append(time.perf_counter() - t0)
            row = evaluate(q, matches, small_ids if in_dispute else ids)
            row["lead_recall"], row["lead_precision"] = lead_agreement(loaded, q)
            rows.append(row)
        s_rows = rows[len(queries) + len(dispute):]
        p_rows = s_rows[len(s_rows) - len(played):]
        s_rows = s_rows[:len(s_rows) - len(played)]
        songs = songs[:len(songs) - len(played)]
        d_rows = rows[len(queries):len(queries) + len(dispute)]
        rows = rows[:len(queries)]
        t_search, t_load = t_search[:len(queries)], t_load[:len(queries)]

        extra = (benchdata.SHORT_CATEGORY, benchdata.SYNC_CATEGORY)     # added later, kept apart
        varied = tuple(benchdata.VARIATION_CATEGORIES)                   # eighth session, kept apart
        neg = [r for r in rows if not r["positive"]]
        base = [r for r in rows if r["positive"] and r["category"] in benchdata.POSITIVE_CATEGORIES]
        groups = {"positives": summarize([r for r in rows if r["positive"] and r["category"] not in varied]),
                  "pos 10-20 notes": summarize(base),
                  "negatives": summarize(neg)}
        if any(r["category"] in varied for r in rows):
            groups["variations"] = summarize([r for r in rows if r["category"] in varied])
        for category in (list(benchdata.POSITIVE_CATEGORIES) + list(extra) + list(varied)
                         + list(benchdata.NEGATIVE_CATEGORIES)):
            sel = [r for r in rows if r["category"] == category]
            if sel:
                groups[category] = summarize(sel)
        for kind in ("band", "piano"):
            for pos in (True, False):
                sel = [r for r in rows if r["arrangement"] == kind and r["positive"] == pos
                       and r["category"] not in varied]
                if sel:
                    groups[f"{'pos' if pos else 'neg'} {kind}"] = summarize(sel)
        if d_rows:
            groups["dispute pos"] = summarize([r for r in d_rows if r["positive"]])
            groups["dispute neg"] = summarize([r for r in d_rows if not r["positive"]])
            whole = [r for r in d_rows if r["positive"] and r["qid"].startswith("d")]
            hooks = [r for r in d_rows if r["positive"] and r["qid"].startswith("h")]
            riffs = [r for r in d_rows if r["qid"].startswith("k")]
            groups["dispute whole"] = summarize(whole)
            groups["dispute hook"] = summarize(hooks)
            if riffs:
                groups["dispute riff"] = summarize(riffs)
            names = (["+".join(kinds) for kinds in benchdata.DISPUTE_KINDS]
                     + [f"hook-{kind}" for kind in benchdata.DISPUTE_HOOK_KINDS]
                     + [f"riff-{kind}" for kind in benchdata.RIFF_KINDS])
            for name in names:
                sel = [r for r in d_rows if r["category"] == f"{benchdata.DISPUTE_CATEGORY}/{name}"]
                if sel:
                    groups["d:" + name] = summarize(sel)
        if s_rows:
            groups[benchdata.SONG_CATEGORY] = summarize(s_rows)
        cuts = {"pos 10-20 notes": tpr_at_cut(base, neg)}
        if p_rows:       # each kind played and as written, then all kinds together
            for prefix in (benchdata.PERFORM_CATEGORY, benchdata.STRAIGHT_CATEGORY, benchdata.PERFORM_NEGATIVE):
                for kind in benchdata.PERFORM_KINDS + ("",):
                    sel = [r for r in p_rows if r["category"].startswith(f"{prefix}/{kind}")]
                    if sel:
                        name = f"{prefix}/{kind or 'any'}"
                        groups[name] = summarize(sel)
                        if prefix != benchdata.PERFORM_NEGATIVE:
                            cuts[name] = tpr_at_cut(sel, neg)
        for category in list(extra) + list(varied):
            cuts[category] = tpr_at_cut([r for r in rows if r["category"] == category], neg)
        if any(r["category"] in varied for r in rows):
            cuts["variations"] = tpr_at_cut([r for r in rows if r["category"] in varied], neg)
        if d_rows:
            d_neg = [r for r in d_rows if not r["positive"]]
            cuts["dispute whole"] = tpr_at_cut(whole, d_neg, fpr=0.0)
            cuts["dispute hook"] = tpr_at_cut(hooks, d_neg, fpr=0.0)
            if riffs:
                cuts["dispute riff"] = tpr_at_cut(riffs, d_neg, fpr=0.0)
        with_ctx = [r for r, q in zip(rows, queries) if q.positive and sum(q.context_notes) > 0
                    and q.category not in varied]
        no_ctx = [r for r, q in zip(rows, queries) if q.positive and sum(q.context_notes) == 0
                  and q.category not in varied]
        if with_ctx:
            groups["pos with context"] = summarize(with_ctx)
        if no_ctx:
            groups["pos phrase only"] = summarize(no_ctx)
        moved = [r for r, q in zip(rows, queries) if q.positive and q.displaced]   # benchdata.P_DISPLACE
        if moved:
            groups["pos displaced"] = summarize(moved)
        timings = {"data_s": t_data, "catalog_build_s": t_build,
                   "catalog_build_per_melody_ms": 1000 * t_build / max(len(ids), 1),
                   "median_load_s": float(np.median(t_load)), "median_query_s": float(np.median(t_search)),
                   "p90_query_s": float(np.percentile(t_search, 90)), "max_query_s": float(np.max(t_search))}

        print()
        print_table(groups)
        print()
        print("TPR at the empirical 1% cut (dispute: below every negative): "
              + ", ".join(f"{k} {_fmt(v)}" for k, v in cuts.items()))
        if s_rows:
            flagged = sorted(r["top_evalue"] for r in s_rows if r["any_flagged"])
            print(f"{benchdata.SONG_CATEGORY} (songs restating their sections, negatives): {len(flagged)} of "
                  f"{len(s_rows)} flagged, best E " + ", ".join(f"{e:.2g}" for e in flagged))
        print("timings: " + ", ".join(f"{k}={v:.3f}" for k, v in timings.items()))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"config": vars(args), "split": split.stats, "timings": timings, "groups": groups,
                           "tpr_at_1pct_cut": cuts,
                           "queries": [dict(q.truth(), **r) for q, r in zip(queries + dispute + songs + played,
                                                                           rows + d_rows + s_rows + p_rows)]},
                          fh, indent=1)
            print(f"figures written to {args.json}")
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
