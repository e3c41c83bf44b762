"""Historical borrowings: real re-uses of a tune, written the way later songwriters varied it.

Each query in `scripts/borrowings/` is a public-domain song that took its tune from a melody in
`reference_tracks/` (new words, so notes split or merged; dotted instead of even; another meter; another
mode), or, for the three marked "none", a song that shares idioms (a falling third, a scale run, an
arpeggio) with the references but borrows none of them. Every query is searched against two catalogs:

- `reference_tracks/` alone (33 songs): a small catalog, as in a dispute where a song is compared with a
  handful of others; the counterpart must rank first;
- the default catalog (~13,000 songs, music21's corpus + reference_tracks), if it is built. Its corpus
  holds versions of some of the queries themselves (e.g. PopGoesTheWeasel.abc): a "none" query whose best
  match is a version of itself (SAME_SONG) is a correct find there, and is counted apart.

    .venv/bin/python scripts/bench_borrowings.py [--no-default] [--json OUT]

The songs were written out by the project from the public-domain tunes; they are small and few, so read
the figures as a check of behaviour on real variation, not as an accuracy estimate.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody import Catalog, load  # noqa: E402
from melody.score.significance import DEFAULT_MAX_EVALUE  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = os.path.join(HERE, "borrowings")
REFERENCES = os.path.join(ROOT, "reference_tracks")

# query file -> (the reference it borrows from, or None, how it varies the tune)
CASES = {
    "baa_baa_black_sheep.abc": ("twinkle_twinkle.abc", "notes split for the words, other key"),
    "alphabet_song.abc": ("twinkle_twinkle.abc", "notes split and merged in the second half"),
    "happy_birthday.abc": ("good_morning_to_all.abc", "dotted pickups, held note, other key"),
    "my_country_tis_of_thee.abc": ("god_save_the_king.abc", "transposed copy"),
    "merrily_we_roll_along.abc": ("mary_had_a_little_lamb.abc", "dotted figures, other key and tempo"),
    "what_child_is_this.abc": ("greensleeves.abc", "6/8 instead of 3/4, minor sixth, other key"),
    "bruder_martin.abc": ("frere_jacques.abc", "minor mode, slow"),
    "three_blind_mice.abc": (None, "shares a falling E D C with several references"),
    "pop_goes_the_weasel.abc": (None, "scale steps and arpeggio in 6/8"),   # music21's corpus has it
    "this_old_man.abc": (None, "arpeggios and a falling scale"),
}


# a "none" query's own song, as music21's corpus names it (file name, case and spaces ignored)
SAME_SONG = {"pop_goes_the_weasel.abc": "popgoestheweasel"}


def _same_song(query: str, source: str | None) -> bool:
    key = SAME_SONG.get(query)
    return bool(key and source and key in re.sub(r"[^a-z]", "", os.path.basename(source).lower()))


def run(catalog: Catalog, label: str) -> list[dict]:
    rows = []
    for name, (target, how) in CASES.items():
        query = load(os.path.join(QUERIES, name))[0]
        matches = catalog.search(query, top=10)
        rank, ev = None, None
        for k, m in enumerate(matches, 1):
            if target and os.path.basename(m.source) == target:
                rank, ev = k, m.evalue
                break
        best = matches[0] if matches else None
        rows.append({"catalog": label, "query": name, "borrows": target, "variation": how, "rank": rank,
                     "evalue": ev, "flagged": bool(ev is not None and ev <= DEFAULT_MAX_EVALUE),
                     "best": os.path.basename(best.source) if best else None,
                     "best_evalue": best.evalue if best else None,
                     "best_is_same_song": _same_song(name, best.source if best else None)})
    return rows


def report(rows: list[dict]) -> str:
    lines = ["| catalog | query | borrows | variation | rank | E | best match (E) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ev = f"{r['evalue']:.2g}" if r["evalue"] is not None else "-"
        best = f"{r['best']} ({r['best_evalue']:.2g})" if r["best"] else "-"
        lines.append(f"| {r['catalog']} | {r['query']} | {r['borrows'] or 'none'} | {r['variation']} | "
                     f"{r['rank'] or '-'} | {ev} | {best} |")
    for label in sorted({r["catalog"] for r in rows}):
        pos = [r for r in rows if r["catalog"] == label and r["borrows"]]
        neg = [r for r in rows if r["catalog"] == label and not r["borrows"]]
        first = sum(r["rank"] == 1 for r in pos)
        flagged = sum(r["flagged"] for r in pos)
        hit = [r for r in neg if r["best_evalue"] is not None and r["best_evalue"] <= DEFAULT_MAX_EVALUE]
        same = sum(r["best_is_same_song"] for r in hit)
        lines.append(f"\n{label}: counterpart first {first}/{len(pos)}, flagged {flagged}/{len(pos)}; "
                     f"songs that borrow nothing flagged {len(hit) - same}/{len(neg)}"
                     + (f" (and {same} found a version of itself in the corpus)" if same else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-default", action="store_true", help="skip the default catalog")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        small = Catalog.create(os.path.join(tmp, "refs"))
        small.index([REFERENCES])
        rows = run(small, "reference_tracks")
    if not args.no_default:
        try:
            rows += run(Catalog.open(read_only=True), "default")
        except Exception as exc:    # not built: say so and keep the small catalog's figures
            print(f"default catalog skipped: {exc}", file=sys.stderr)
    print(report(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
