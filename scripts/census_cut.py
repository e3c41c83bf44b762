#!/usr/bin/env python
"""Census of separation at the 1% false-positive cut: the positives below it, and the negatives that set it.

Reads a `bench_accuracy.py --json OUT --workdir DIR` run (its catalog and query files are kept in DIR). The
cut is the benchmark's (`bench_accuracy.tpr_at_cut`): the E-value that all but floor(1%) of the negatives'
best matches reach. For every 10-20-note positive whose true match is not below it (or not flagged at E <=
0.1), the query's stage 2 is re-fitted as search fits it (`Catalog._stage1`, `rescore.fit_null`,
`rescore.tail_bound`; the local view alone) and the true reference's combined score taken apart: stage 1's
interval score and stage 2's pitch score, the null's location for that reference ((ln K + ln m n) / lambda,
the score a chance alignment of this length typically reaches) and scale (1 / lambda), what the
reference-length correction charges against a reference of the catalog's median length, the points the
true match lacks for an E-value below the cut, and its E-value under the prior alone (no per-query fit).
Queries of at most `rescore.PASSAGE_MAX` steps also get the passage view and are listed without this.
Then the most significant negatives: their best match, the aligned and exactly matching notes, and the
longest run of notes with identical intervals the two melodies share anywhere (the benchmark's held-out
filter drops negatives sharing `benchdata.SHARED_RUN` intervals: a shorter run with a changed note between
is how a tune-family relative slips through). BENCHMARKS.md, "Fourteenth session".

With --alignment, a third table reads what the reported match's alignment (the interval path `Catalog.search`
reports, `score.match.build_match`) found for every positive listed and for the negatives read: how the
borrowed phrase's notes were paired (exact, another octave, a step off, far off, left unaligned), how many
pairs run into the query's foreign context or past the reference passage, whether the transposition is the
one the phrase was given, the share of pairs whose notes sit on the same beat of the bar and the share at the
path's most common beat offset (a borrowed phrase keeps its place in the bar, or one shift against it; a
chance partner's notes fall anywhere: `rescore.offset_scatter`). BENCHMARKS.md, "Twenty-fifth
session: the positives below the 1% cut".

With --corrections, every positive and negative of the run is searched again (`Catalog._rank` with
`rescore.rescore_views`' detail) and what each correction of stage 2's E-value did is read off (`corrections`):
the factor for taking the best of several views (`rescore.views_factor`: a re-struck, swung or played query's
second reading), the best view's gain over the score as written, the restatement map (`rescore.restated`), the
query's own null fit against the prior alone (`rescore.chance_fit` against LAMBDA_RESCORE / K_RESCORE), the null
sample's own tail (`rescore.tail_bound`) and the scatter charge (METRIC_SCATTER), each as the factor it
multiplies the E-value by; for the positives below the cut and the negatives read; then the TPR at the 1% cut
with each correction taken off every query at once (`what_if`: the negatives' best over every re-scored
candidate, so a negative that a correction held back can set the cut). BENCHMARKS.md, "Twenty-eighth session:
the positives below the 1% cut, correction by correction".

    .venv/bin/python scripts/bench_accuracy.py --json /tmp/acc0.json --workdir /tmp/acc0
    .venv/bin/python scripts/census_cut.py /tmp/acc0.json /tmp/acc0
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402


def cut_of(negative_evalues, fpr: float = 0.01) -> float:
    """The empirical cut: all but floor(fpr n) of the negatives' best E-values are at least this."""
    best = np.sort(np.asarray(negative_evalues, dtype="f8"))
    return float(best[int(np.floor(fpr * len(best)))])


def longest_shared_run(a, b) -> int:
    """Notes in the longest run of identical consecutive intervals of pitch sequences a and b (anywhere in
    each, any transposition); 0 when they share no interval."""
    ia = np.diff(np.rint(np.asarray(a, dtype="f8"))).astype(int)
    ib = np.diff(np.rint(np.asarray(b, dtype="f8"))).astype(int)
    best, prev = 0, np.zeros(len(ib) + 1, dtype=int)
    for x in ia:
        cur = np.zeros(len(ib) + 1, dtype=int)
        same = ib == x
        cur[1:][same] = prev[:-1][same] + 1
        best = max(best, int(cur.max(initial=0)))
        prev = cur
    return best + 1 if best else 0


def pair_kinds(query_pitch, reference_pitch, pairs, transposition: int, phrase) -> dict:
    """How an alignment pairs the notes of a borrowed phrase: for the query notes in `phrase` (indices), the
    pairs whose pitches agree after `transposition` ("exact"), agree up to octaves ("octave"), lie one or two
    semitones off ("near") or further ("far"), and the phrase's notes no pair holds ("unaligned"); "context":
    pairs whose query note lies outside the phrase."""
    phrase = set(int(i) for i in phrase)
    out = dict.fromkeys(("exact", "octave", "near", "far", "unaligned", "context"), 0)
    for i, j in pairs:
        if int(i) not in phrase:
            out["context"] += 1
            continue
        d = int(round(float(query_pitch[i]) - float(reference_pitch[j]) - transposition))
        out["exact" if d == 0 else "octave" if d % 12 == 0 else "near" if abs(d) <= 2 else "far"] += 1
    out["unaligned"] = len(phrase - {int(i) for i, _ in pairs})
    return out


def same_beat_share(pairs, query_beat, reference_beat) -> float:
    """Share of the aligned pairs whose two notes sit on the same beat of their bars (NaN when no pair has a
    known beat in both melodies)."""
    known = [abs(float(query_beat[i]) - float(reference_beat[j])) < 1e-3 for i, j in pairs
             if np.isfinite(query_beat[i]) and np.isfinite(reference_beat[j])]
    return float(np.mean(known)) if known else float("nan")


def step_kinds(pitch) -> tuple[int, int, int, int]:
    """A passage's steps as (repeated notes, steps of 1-2 semitones, thirds of 3-4, larger leaps)."""
    size = np.abs(np.diff(np.rint(np.asarray(pitch, dtype="f8"))))
    return (int(np.sum(size == 0)), int(np.sum((size >= 1) & (size <= 2))), int(np.sum((size >= 3) & (size <= 4))),
            int(np.sum(size > 4)))


def notes_within(notes, span, eps: float = 1e-3) -> np.ndarray:
    """Indices of the notes whose onset lies in span [start, end) seconds (the benchmark's truth spans)."""
    onset = notes["onset"]
    return np.flatnonzero((onset >= span[0] - eps) & (onset < span[1] - eps))


def alignment_row(cat, loaded, r: dict, uid: str) -> str:
    """One row of the --alignment table: the reported match of query `loaded` against catalog entry `uid`."""
    from melody import align
    from melody.meter import melody_with_guessed_beats
    from melody.score import rescore
    from melody.score.match import build_match
    p = cat.packed
    sq = melody_with_guessed_beats(loaded)
    row = p.entries.row_of(uid)
    ref = cat.melody(row)
    found = build_match(loaded, ref, align.local_align(p.query_features(sq), cat.features(row)), p.entries[row],
                        1.0, 0.1, len(p))
    qn, rn = sq.notes, ref.notes
    beats = same_beat_share(found.pairs, qn["beat"], rn["beat"])
    known = sum(1 for i, j in found.pairs if np.isfinite(qn["beat"][i]) and np.isfinite(rn["beat"][j]))
    one = 1.0 - rescore.offset_scatter(qn["beat"], rn["beat"], found.pairs) / known if known else float("nan")
    beats = f"{beats:.2f} / {one:.2f}"
    a, b = found.query_notes
    if not r["positive"]:
        kinds = step_kinds(qn["pitch"][a:b + 1])
        return (f"| {r['qid']} ({r['category']}) | {found.title[:30]} | {found.matched_notes} / {found.exact_notes} | "
                f"{beats} | {' / '.join(map(str, kinds))} | {a}-{b} of {len(qn)} |")
    k = pair_kinds(qn["pitch"], rn["pitch"], found.pairs, found.transposition, notes_within(qn, r["query_span"]))
    inside = set(notes_within(rn, r["ref_span"]).tolist())
    past = sum(1 for _, j in found.pairs if j not in inside)
    same_t = (found.transposition - r["transpose"]) % 12 == 0
    return (f"| {r['qid']} | {r['category']} | {k['exact']} / {k['octave']} / {k['near']} / {k['far']} | {k['unaligned']} "
            f"| {k['context']} | {past} | {'yes' if same_t else 'no'} | {beats} |")


CORRECTIONS = ("views", "view_gain", "restatement", "fit", "tail", "scatter")
WHAT_IF = ("main", "no views factor", "as written only", "no restatement", "prior only", "no tail bound")


def view_z(detail: dict, k: int, restate: bool = True, fit: bool = True, tail: bool = True) -> np.ndarray:
    """View k's reduced scores of the candidates (`rescore.rescore_views`' detail) as main computes them, or
    with the restatement map undone (``restate=False``; the fit kept), the prior alone in place of the query's
    own fit (``fit=False``) or the null sample's tail bound left off (``tail=False``)."""
    from melody.score import rescore
    lam, log_k = detail["fit"][k]
    scores, log_space = np.asarray(detail["scores"][k], dtype="f8"), np.asarray(detail["log_space"][k], dtype="f8")
    untailed = np.asarray(detail["untailed"][k], dtype="f8")
    if restate and fit and tail:
        return np.asarray(detail["z"][k], dtype="f8")
    scale = (untailed + log_k + log_space) / lam if restate else scores       # the (restated) combined score
    if not fit:
        lam0, k0 = (rescore.LAMBDA_WHOLE, rescore.K_WHOLE) if detail["whole"][k] else \
            (rescore.LAMBDA_RESCORE, rescore.K_RESCORE)
        lam, log_k = lam0, float(np.log(k0))
    scored = np.isfinite(detail["z"][k])          # -inf: a row this view does not score
    z = np.full(len(scale), -np.inf)
    z[scored] = lam * scale[scored] - log_k - log_space[scored]
    if tail:        # the bound main applied, kept as the same shift
        z[scored] += np.asarray(detail["z"][k], dtype="f8")[scored] - untailed[scored]
    return z


def evalues_if(detail: dict, n_refs: int, setting: str = "main") -> np.ndarray:
    """The candidates' E-values (`rescore.rescore_views`' detail) with one correction taken off every view
    (a WHAT_IF setting): the factor for the best of several views set to 1, the score as written alone (the
    first view, factor 1), the restatement map undone, the prior alone for the null, the tail bound off."""
    n_views = len(detail["z"])
    z = np.array([view_z(detail, k, restate=setting != "no restatement", fit=setting != "prior only",
                         tail=setting != "no tail bound") for k in range(n_views)])
    factor = np.asarray(detail["factor"], dtype="f8") * detail["agree"]
    if setting == "as written only":
        z = z[:1]
    if setting in ("no views factor", "as written only"):
        factor = np.ones_like(factor)
    return n_refs * -np.expm1(-factor * np.exp(-z.max(axis=0)))


def corrections(detail: dict, c: int) -> dict:
    """What each correction of stage 2's E-value did to candidate column c (`rescore.rescore_views`' detail),
    as the factor it multiplies the E-value by (> 1: it raised it): "views" (the factor for taking the best of
    several views), "view_gain" (the best view against the score as written, <= 1), "restatement", "fit" (the
    query's own null fit against the prior alone), "tail" (the null sample's own tail) and "scatter" (the scatter
    charge), each taken on the first view; "view" is the index of the view that counted."""
    z = np.asarray(detail["z"], dtype="f8")[:, c]
    first = {name: view_z(detail, 0, **{name: False})[c] for name in ("restate", "fit", "tail")}
    lam = detail["fit"][0][0]
    with np.errstate(invalid="ignore"):         # a row only the passage view scores: -inf in the first view
        return {"view": int(np.argmax(z)), "views": float(np.asarray(detail["factor"])[c] * detail["agree"]),
                "view_gain": float(np.exp(z[0] - z.max())), "restatement": float(np.exp(first["restate"] - z[0])),
                "fit": float(np.exp(first["fit"] - z[0])), "tail": float(np.exp(first["tail"] - z[0])),
                "scatter": float(np.exp(lam * np.asarray(detail["scatter"], dtype="f8")[0, c]))}


def searched(cat, loaded) -> tuple[np.ndarray, dict]:
    """Stage 2's E-value of every row for a query and `rescore_views`' detail, as `Catalog.search` ranks."""
    from melody.meter import melody_with_guessed_beats
    from melody.score import rescore
    sq = melody_with_guessed_beats(loaded)
    params, pitch_params = rescore.played_params(sq)
    detail: dict = {}
    _, evalues, _ = cat._rank(sq, cat.packed, params, pitch_params, detail=detail)
    return evalues, detail


def correction_census(cat, queries: list, load, negatives: int) -> None:
    """The --corrections tables (module docstring)."""
    n_refs = len(cat.packed)
    rows = []
    for r in queries:
        evalues, detail = searched(cat, load(r["qid"]))
        cand = np.asarray(detail["cand"])
        uid = r["true_id"] if r["positive"] else None
        if uid is not None:
            hit = np.flatnonzero(cand == cat.packed.entries.row_of(uid))
            col = int(hit[0]) if len(hit) else None
        else:
            col = int(np.argmin(evalues[cand]))
        e_if = {s: evalues_if(detail, n_refs, s) for s in WHAT_IF}
        rows.append({"r": r, "E": {s: (float(e[col]) if col is not None else np.inf) if uid else float(e.min())
                                   for s, e in e_if.items()},
                     "parts": corrections(detail, col) if col is not None else None, "n_views": len(detail["z"])})
    neg = [x for x in rows if not x["r"]["positive"]]
    pos = [x for x in rows if x["r"]["positive"]]
    cut = cut_of([x["E"]["main"] for x in neg])
    print(f"\ncorrections (factor on E; > 1 raised it), cut {cut:.3g}\n")
    print("| query | E | view counted (of) | views factor | best view's gain | restatement | own fit vs prior | tail | scatter |")
    print("|---|---|---|---|---|---|---|---|---|")
    listed = sorted([x for x in pos if not x["E"]["main"] < cut], key=lambda x: x["E"]["main"]) + \
        sorted(neg, key=lambda x: x["E"]["main"])[:negatives]
    for x in listed:
        p = x["parts"]
        if p is None:
            print(f"| {x['r']['qid']} | not re-scored | | | | | | | |")
            continue
        f = {k: "-" if not np.isfinite(v) else f"{v:.2g}" if k in ("view_gain", "fit") else f"{v:.2f}"
             for k, v in p.items()}        # "-": a row the first view does not score (the passage view's only)
        print(f"| {x['r']['qid']} | {x['E']['main']:.3g} | {p['view']} ({x['n_views']}) | {f['views']} | "
              f"{f['view_gain']} | {f['restatement']} | {f['fit']} | {f['tail']} | {f['scatter']} |")
    print("\n| setting | cut | TPR at the cut | positives at E <= 0.1 | negatives at E <= 0.1 |")
    print("|---|---|---|---|---|")
    for s in WHAT_IF:
        c = cut_of([x["E"][s] for x in neg])
        pe = np.array([x["E"][s] for x in pos])
        ne = np.array([x["E"][s] for x in neg])
        print(f"| {s} | {c:.3g} | {np.mean(pe < c):.3f} | {np.mean(pe <= 0.1):.3f} | {int(np.sum(ne <= 0.1))} |")


def evalue(score: float, lam: float, log_k: float, log_space: float, z_null: np.ndarray, n_refs: int) -> float:
    """Stage 2's E-value of one reference's combined score (one view): the reduced score, bounded by the
    null sample's own tail (`rescore.tail_bound`), in a catalog of n_refs."""
    from melody.score import rescore
    z = rescore.tail_bound(np.array([lam * score - log_k - log_space]), z_null)[0]
    return float(n_refs * -np.expm1(-np.exp(-z)))


def points_short(score: float, lam: float, log_k: float, log_space: float, z_null: np.ndarray, n_refs: int,
                 cut: float) -> float:
    """Combined score the reference lacks for an E-value below `cut` (0 when it has it), the null fixed."""
    if evalue(score, lam, log_k, log_space, z_null, n_refs) < cut:
        return 0.0
    lo, hi = score, score + 1.0
    while evalue(hi, lam, log_k, log_space, z_null, n_refs) >= cut:
        hi += 2.0 * (hi - lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if evalue(mid, lam, log_k, log_space, z_null, n_refs) < cut:
            hi = mid
        else:
            lo = mid
    return hi - score


def take_apart(cat, loaded, true_rows: list[int], cut: float) -> dict:
    """The true reference's stage-2 numbers for one query (local view; see the module docstring)."""
    from melody.meter import melody_with_guessed_beats
    from melody.score import rescore
    p = cat.packed
    sq = melody_with_guessed_beats(loaded)
    qf = p.query_features(sq)
    null = rescore.style_sample(qf, p)
    s1, ev1 = cat._stage1(qf, p, None, null)
    n_steps = np.diff(p.step_offsets)
    rows = np.union1d(null, np.asarray(true_rows, dtype=np.int64))
    combined = np.full(len(p), np.nan)
    combined[rows] = s1[rows] + rescore.pitch_scores(rescore.query_pitches(sq), qf, p, rescore.pitches(p), rows)
    space = rescore.search_space(len(qf), n_steps)
    weight = rescore.STYLE_PRIOR_WEIGHT if rescore.by_style(len(p)) else rescore.PRIOR_WEIGHT
    lam, log_k = rescore.fit_null(combined[null], space[null], None, weight)
    z_null = lam * combined[null] - log_k - np.log(space[null])
    t = max(true_rows, key=lambda r: combined[r])
    log_space = float(np.log(space[t]))
    prior_z = rescore.LAMBDA_RESCORE * combined[t] - np.log(rescore.K_RESCORE) - log_space
    return {"m": len(qf), "n": int(n_steps[t]), "score": float(combined[t]), "interval": float(s1[t]),
            "pitch": float(combined[t] - s1[t]), "location": (log_k + log_space) / lam, "scale": 1.0 / lam,
            "reference_length_points": float(rescore.REF_LENGTH_EXP * np.log(n_steps[t] / np.median(n_steps)) / lam),
            "points_short": points_short(combined[t], lam, log_k, log_space, z_null, len(p), cut),
            "evalue_prior_only": float(len(p) * -np.expm1(-np.exp(-prior_z)))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", help="bench_accuracy.py --json output")
    ap.add_argument("workdir", help="its --workdir (catalog and queries)")
    ap.add_argument("--negatives", type=int, default=5, help="most significant negatives read (default 5)")
    ap.add_argument("--alignment", action="store_true", help="also the alignment table (module docstring)")
    ap.add_argument("--corrections", action="store_true",
                    help="only the corrections census: every positive and negative searched again (module docstring)")
    args = ap.parse_args(argv)

    import melody
    from melody.score import rescore
    data = json.load(open(args.result))
    cat = melody.Catalog.open(os.path.join(args.workdir, "catalog"), read_only=True)
    queries = data["queries"]
    negatives = [r for r in queries if r["category"] in benchdata.NEGATIVE_CATEGORIES]
    cut = cut_of([r["top_evalue"] if r["top_evalue"] is not None else np.inf for r in negatives])

    def load(qid):
        return max(melody.load(os.path.join(args.workdir, "queries", qid + ".mid")), key=len)

    if args.corrections:
        correction_census(cat, [r for r in queries if r["category"] in benchdata.NEGATIVE_CATEGORIES
                                or (r["positive"] and r["category"] in benchdata.POSITIVE_CATEGORIES)],
                          load, args.negatives)
        return 0
    print(f"cut (E of the negative at 1%): {cut:.3g}\n")
    print("| query | variation | arr. | notes: phrase (context) | rank | E | S = S1 + S2 | null location / scale "
          "| reference steps (pts) | points short | E, prior only |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    listed = []
    for r in queries:
        if not r["positive"] or r["category"] not in benchdata.POSITIVE_CATEGORIES:
            continue
        e = r.get("true_evalue")         # absent when the true tune is not among the top 10
        if e is not None and e < cut and e <= 0.1:
            continue
        listed.append(r)
        loaded = load(r["qid"])
        head = (f"| {r['qid']} | {r['category']} | {r['arrangement']} | {r['phrase_notes']} "
                f"({r['context_notes'][0]}+{r['context_notes'][1]}) | {r.get('rank') or '>10'} | {'-' if e is None else f'{e:.2g}'} | ")
        if len(cat.packed.query_features(loaded)) <= rescore.PASSAGE_MAX:
            print(head + "passage-length query | | | | |")
            continue
        true_rows = [cat.packed.entries.row_of(r["true_id"])]
        d = take_apart(cat, loaded, true_rows, cut)
        print(head + f"{d['score']:.0f} = {d['interval']:.0f} + {d['pitch']:.0f} | {d['location']:.0f} / "
              f"{d['scale']:.1f} | {d['n']} ({d['reference_length_points']:+.0f}) | {d['points_short']:.0f} | "
              f"{d['evalue_prior_only']:.2g} |")
    print("\n| negative | E | catalog tune | matched / exact | shared run | query passage | reference passage |")
    print("|---|---|---|---|---|---|---|")
    by_evalue = sorted(negatives, key=lambda r: r["top_evalue"] if r["top_evalue"] is not None else np.inf)
    for r in by_evalue[:args.negatives]:
        loaded = load(r["qid"])
        best = cat.search(loaded, top=1)[0]
        ref = cat.melody(cat.packed.entries.row_of(best.id))
        qp, rp = np.rint(loaded.notes["pitch"]).astype(int), np.rint(ref.notes["pitch"]).astype(int)
        (a, b), (x, y) = best.query_notes, best.reference_notes
        print(f"| {r['qid']} ({r['category']}) | {best.evalue:.3g} | {best.title[:40]} | {best.matched_notes} / "
              f"{best.exact_notes} | {longest_shared_run(qp, rp)} | `{' '.join(map(str, qp[a:b + 1]))}` | "
              f"`{' '.join(map(str, rp[x:y + 1]))}` |")
    if args.alignment:
        print("\n| query | variation | phrase notes paired exact / octave / near / far | unaligned | pairs in context "
              "| pairs past the reference passage | transposition as given | same beat / one offset |")
        print("|---|---|---|---|---|---|---|---|")
        for r in listed:
            print(alignment_row(cat, load(r["qid"]), r, r["true_id"]))
        print("\n| negative | catalog tune | matched / exact | same beat / one offset | steps: repeated / 1-2 / 3-4 / leap | query notes |")
        print("|---|---|---|---|---|---|")
        for r in by_evalue[:args.negatives]:
            print(alignment_row(cat, load(r["qid"]), r, r["top_id"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
