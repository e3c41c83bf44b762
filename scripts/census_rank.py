#!/usr/bin/env python
"""Census of the positives whose true tune does not rank first, in every group, and why each loses.

Reads a `bench_accuracy.py --json OUT --workdir DIR` run (its catalogs and query files are kept in DIR). For
every positive not ranked first (10-20-note phrases, 8-note copies, syncopated phrases, the seven variation
groups, played phrases; the dispute hooks and riffs against the small catalog) it runs the search again stage
by stage (`census_variations.trace`: stage 1, then `rescore.rescore_views` with one view), aligns the true
tune and the winner with stage 1's interval alignment (`align.local_align`, the path `Catalog.search`
reports), and gives each miss one cause (`cause`, BENCHMARKS.md "Twenty-third session"):

- stage 1: the true tune is not among stage 1's RESCORE_TOP candidates, so stage 2 never re-scores it;
- length: the true tune's combined score is at least the winner's; it loses on the null's search-space
  correction of its longer reference;
- context: the winner's path lies (almost) wholly outside the borrowed phrase, in the query's foreign
  material: a catalog relative of the context, or a chance partner of it;
- loose: the winner's path runs through the phrase and its context with at least LOOSE_PAIRS times as many
  aligned notes as the true tune's: a long, loose alignment of material of one style outscores the dense
  evidence of the varied phrase;
- weak: the rest; the winner aligns with the phrase about as densely as the true tune.

A played phrase is traced with one view and the default parameters (the search also reads it straightened
or against its local tempo, `Catalog._rank`), so its figures are approximate. The phrase of a hook or riff song is stated several times, and the truth's span is its first statement
only, so "context" there means "not the first statement" (read those by hand).

Each miss is also taken apart score by score (`score_parts`, a second table): the true tune's and the winner's
interval score (stage 1) and pitch score (stage 2), the pitch score's parts (the longest exact run, the rhythm
terms, the metric bonus, the hook chain: each what the score loses with it switched off), the two melodies
aligned whole from first note to last (the view a tune family shares), and the null's charge for the
reference's search space (ln n / LAMBDA_RESCORE, in points). `decided_by` says on which view the true tune
loses: "interval" (its pitch score is at least the winner's), "pitch" (its interval score is), "both", or
"length". With --families the same for the MTC-ANN queries whose first-ranked melody is of another family
(`bench_families.py`), against their own family's best member.

    .venv/bin/python scripts/bench_accuracy.py --json /tmp/acc0.json --workdir /tmp/acc0
    .venv/bin/python scripts/census_rank.py /tmp/acc0.json /tmp/acc0
    .venv/bin/python scripts/census_rank.py --families
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import benchdata  # noqa: E402

CONTEXT_OVERLAP = 0.1   # a winner's path with less of its time inside the borrowed phrase aligns the context
LOOSE_PAIRS = 1.5       # a winner aligning this many times as many notes as the true tune is a loose alignment
CAUSES = ("stage 1", "length", "context", "loose", "weak")


def share_inside(span: tuple[float, float], phrase: tuple[float, float]) -> float:
    """The share of `span` (seconds) that lies inside `phrase` (0 for an empty span)."""
    inter = min(span[1], phrase[1]) - max(span[0], phrase[0])
    return max(inter, 0.0) / max(span[1] - span[0], 1e-9)


def cause(stage1_rank: int, true_score: float, winner_score: float, winner_inside: float,
          true_pairs: int, winner_pairs: int, candidates: int = 100) -> str:
    """One cause per miss, first match wins (module docstring): stage-1 rank outside `candidates`, a combined
    score at least the winner's, a winner aligning outside the phrase, a winner's looser and longer path."""
    if stage1_rank > candidates:
        return "stage 1"
    if true_score >= winner_score:
        return "length"
    if winner_inside < CONTEXT_OVERLAP:
        return "context"
    if winner_pairs >= LOOSE_PAIRS * max(true_pairs, 1):
        return "loose"
    return "weak"


def decided_by(true: dict, winner: dict, rescored: bool = True) -> str:
    """On which view the true tune loses to the winner (dicts of `score_parts`, one reference each): "stage 1"
    (not `rescored`: outside stage 2's candidates, whatever its scores), "length" (its combined score is at
    least the winner's: lost on the null's charge for its longer reference), "interval" (its pitch score is at
    least the winner's: lost on the interval score alone), "pitch" (its interval score is at least the
    winner's), "both"."""
    if not rescored:
        return "stage 1"
    if true["interval"] + true["pitch"] >= winner["interval"] + winner["pitch"]:
        return "length"
    if true["pitch"] >= winner["pitch"]:
        return "interval"
    if true["interval"] >= winner["interval"]:
        return "pitch"
    return "both"


# The pitch score's parts: the parameters that switch each off (melody.align.pitch); a part is what the score
# loses without it. The rhythm terms are every term that reads lengths.
PARTS_OFF = {"exact run": ("P_EXACT",), "rhythm": ("P_RHY_MATCH", "P_RHY_PEN", "P_RHY_INFO", "P_RUN", "P_SHIFT"),
             "metric": ("P_METRIC",), "chain": ("P_CHAIN",)}
WHOLE_STEPS = 10_000     # P_WHOLE beyond any melody's length: both melodies aligned whole, first note to last


def score_parts(cat, query, qf, rows, combined) -> list[dict]:
    """Each row's scores taken apart, for the query (as searched: beats guessed, `qf` its features; `combined`
    each row's stage-2 score): "interval" (stage 1's), "pitch" (stage 2's pitch alignment), the pitch score's parts
    (PARTS_OFF), "whole" (the pitch alignment of both melodies whole, P_WHOLE) and "length" (the null's charge
    for the reference's search space, ln n / LAMBDA_RESCORE points)."""
    from melody import align
    from melody.score.rescore import LAMBDA_RESCORE, pitch_scores, pitches, query_pitches

    rows = np.asarray(rows, dtype=np.int64)
    p, qp = cat.packed, query_pitches(query)

    def pitch(changes: dict) -> np.ndarray:
        params = align.DEFAULT_PITCH_PARAMS.copy()
        for name, value in changes.items():
            params[getattr(align.pitch, name)] = value
        return pitch_scores(qp, qf, p, pitches(p), rows, params)

    full = pitch({})
    parts = {name: full - pitch(dict.fromkeys(off, 0.0)) for name, off in PARTS_OFF.items()}
    whole = pitch({"P_WHOLE": WHOLE_STEPS})
    steps = np.diff(p.step_offsets)[rows]
    return [{"interval": float(combined[k] - full[k]), "pitch": float(full[k]), **{n: float(v[k]) for n, v in parts.items()},
             "whole": float(whole[k]), "length": float(np.log(max(steps[k], 1)) / LAMBDA_RESCORE)}
            for k in range(len(rows))]


PARTS_HEADER = ("| query | group | decided by | interval true / winner | pitch | exact run | rhythm | metric | chain "
                "| whole | length | winner |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def parts_line(qid: str, group: str, true: dict, winner: dict, title: str, rescored: bool = True) -> str:
    """One row of the score-parts table: each column true / winner."""
    cols = ("interval", "pitch", "exact run", "rhythm", "metric", "chain", "whole", "length")
    return (f"| {qid} | {group} | {decided_by(true, winner, rescored)} | "
            + " | ".join(f"{true[c]:.1f} / {winner[c]:.1f}" for c in cols) + f" | {title[:28]} |")


def group_of(category: str) -> str:
    """The census's group of a bench_accuracy category: the 10-20-note phrases as one group, the others by kind
    (dispute hooks and riffs by their own names)."""
    if category in benchdata.POSITIVE_CATEGORIES:
        return "10-20 notes"
    if category.startswith(benchdata.DISPUTE_CATEGORY + "/"):
        return category.split("-")[0]
    return category.split("/")[0]


def path(cat, query, row: int) -> tuple[tuple[float, float], int]:
    """Stage 1's reported path of the query against a catalog row: its span in the query (seconds) and how
    many note pairs it aligns."""
    from melody import align
    from melody.meter import melody_with_guessed_beats

    qf = cat.packed.query_features(melody_with_guessed_beats(query))
    a = align.local_align(qf, cat.features(row), None)
    if not a.pairs:
        return (0.0, 0.0), 0
    q0, q1 = a.query_notes
    notes = query.notes
    return (float(notes["onset"][q0]), float(notes["onset"][q1] + notes["duration"][q1])), len(a.pairs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", nargs="?", help="bench_accuracy.py --json output")
    ap.add_argument("workdir", nargs="?", help="its --workdir (catalogs and queries)")
    ap.add_argument("--families", action="store_true", help="the MTC-ANN top-1 misses instead (bench_families.py)")
    args = ap.parse_args(argv)
    if args.families:
        return families()
    if not (args.result and args.workdir):
        ap.error("result and workdir are required without --families")

    import melody
    from census_variations import trace
    from melody.catalog import Catalog
    from melody.meter import melody_with_guessed_beats
    from melody.score.rescore import RESCORE_TOP

    data = json.load(open(args.result))
    cfg = data["config"]
    with tempfile.TemporaryDirectory() as tmp:      # the truth's spans, regenerated (deterministic per seed)
        _, queries = benchdata.build(cfg["n_catalog"], cfg["n_queries"], cfg["seed"], tmp, cfg["n_heldout"],
                                     log=None, n_variation=cfg["n_variation"], n_dispute=cfg["n_dispute"],
                                     n_song=cfg["n_song"], n_riff=cfg["n_riff"], n_perform=cfg["n_perform"])
    truth = {q.qid: q for q in queries}
    big = Catalog.open(os.path.join(args.workdir, "catalog"), read_only=True)
    small_dir = os.path.join(args.workdir, "catalog-dispute")
    small = Catalog.open(small_dir, read_only=True) if os.path.isdir(small_dir) else None
    counts, lines = collections.Counter(), []
    print("| query | group | cause | stage-1 rank | rank | combined true / winner | E true / winner "
          "| aligned notes true / winner | winner's path inside the phrase | steps true / winner | winner |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in data["queries"]:
        if not r["positive"] or r.get("rank") == 1:
            continue
        cat = small if r["category"].startswith(benchdata.DISPUTE_CATEGORY + "/") else big
        if cat is None:
            continue
        loaded = max(melody.load(os.path.join(args.workdir, "queries", r["qid"] + ".mid")), key=len)
        true_row = cat.packed.entries.row_of(r["true_id"])
        t = trace(cat, loaded, true_row)
        winner = t["winner_row"]
        phrase = tuple(truth[r["qid"]].query_span)
        (true_span, true_pairs), (win_span, win_pairs) = path(cat, loaded, true_row), path(cat, loaded, winner)
        inside = share_inside(win_span, phrase)
        why = cause(t["stage1_rank"], t["true"][0], t["winner"][0], inside, true_pairs, win_pairs, RESCORE_TOP)
        counts[group_of(r["category"]), why] += 1
        steps = np.diff(cat.packed.step_offsets)
        print(f"| {r['qid']} | {r['category']} | {why} | {t['stage1_rank']} | {t['stage2_rank']} "
              f"| {t['true'][0]:.1f} / {t['winner'][0]:.1f} | {t['true'][1]:.3g} / {t['winner'][1]:.3g} "
              f"| {true_pairs} / {win_pairs} | {inside:.2f} | {steps[true_row]} / {steps[winner]} "
              f"| {t['winner_title'][:28]} |", flush=True)
        sq = melody_with_guessed_beats(loaded)
        true, won = score_parts(cat, sq, cat.packed.query_features(sq), [true_row, winner],
                                [t["true"][0], t["winner"][0]])
        lines.append(parts_line(r["qid"], r["category"], true, won, t["winner_title"],
                                t["stage1_rank"] <= RESCORE_TOP))
    print("\n| group | " + " | ".join(CAUSES) + " |\n|---|" + "---|" * len(CAUSES))
    for group in sorted({g for g, _ in counts}):
        print(f"| {group} | " + " | ".join(str(counts[group, c]) for c in CAUSES) + " |")
    print("\n" + PARTS_HEADER)
    print("\n".join(lines))
    return 0


def families() -> int:
    """The score-parts table for the MTC-ANN queries whose first-ranked melody is of another family, against
    their own family's best-ranked member (`bench_families.py`'s leave-one-out, the query's own row left out)."""
    import bench_families
    from melody.catalog import Catalog
    from melody.meter import melody_with_guessed_beats
    from melody.score.rescore import View, rescore_views, style_sample

    melodies = bench_families.load_mtc(bench_families.DEFAULT_DATA)
    print(PARTS_HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog.create(os.path.join(tmp, "families"))
        rows = [cat.packed.entries.row_of(uid) for uid in cat.add(melodies)]
        family = {row: m.meta["family"] for row, m in zip(rows, melodies)}
        p = cat.packed
        for row, m in zip(rows, melodies):
            sq = melody_with_guessed_beats(m)
            qf = p.query_features(sq)
            null = style_sample(qf, p)
            s1, e1 = cat._stage1(qf, p, None, null)
            order, _, best = rescore_views([View(sq, qf, p, s1, e1)], null_rows=null)
            order = [int(r) for r in order if r != row]
            if family[order[0]] == family[row]:
                continue
            own = next(r for r in order if family[r] == family[row])
            true, won = score_parts(cat, sq, qf, [own, order[0]], best[[own, order[0]]])
            print(parts_line(m.title, f"{family[row]} (own best {order.index(own) + 1})", true, won,
                             family[order[0]]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
