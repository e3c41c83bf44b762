#!/usr/bin/env python
"""Census of lead extraction: the melody line the loader takes from a file against the melody as written.

For every query of a `bench_accuracy.py --dump DIR` (its truth.json holds each query's written lead) the file
is loaded through `melody.io.load` (lead-track choice and `io/lead.py`'s line, as a search sees it) and the
line is compared with the written lead as mir_eval's note transcription metrics compare notes: a line note
matches a written note of the same pitch (within 50 cents) whose onset lies within 50 ms, one to one; offsets
ignored. Precision, recall and F are summed over the queries of each arrangement kind (band: a lead track of
its own; piano: melody, bass and chords in one track).

Each error gets a kind, read off the file's part (the track the loader took), the written lead and the line:

- extra notes (a line note no written note matches):
  - *instead of the melody*: a written note starts there too and the line took another pitch of the part:
    `octave` (12 or 24 semitones off), `chord tone above` (the melody lies inside or under the chords),
    `chord tone below`;
  - *melody holds*: no written note starts there, one sounds (a chord struck under a held melody note, its
    top taken);
  - *melody rests*: nothing written sounds (the accompaniment's notes in the melody's rests);
- missed notes (a written note the line lacks, with no line note in its place):
  - `not in the file`: the part has no note of that pitch there (the arrangement lost it);
  - `under a chord`: struck with a block chord (CHORD_SIZE or more notes), the line took none of them;
  - `under a held note`: a higher note of the part still sounds over it;
  - `other`;
- held notes cut (a matched note whose line note lasts under half its written length): `in the file` when the
  part's note itself is that short (the arrangement restrikes the melody's key, so MIDI ends the note), `by
  the line` otherwise (the line takes a later note, usually an extra one, while it still sounds).

`--real` adds scores that are not this generator's: music21 corpus chorales (four voices merged into one
part; the melody is the soprano) and piano-vocal songs (the voice merged with both piano staves; the melody
is the voice), each read at 100 quarters a minute with chords' notes kept and ties merged.

    .venv/bin/python scripts/bench_accuracy.py --dump /tmp/q0 [--seed 1]
    PYTHONPATH=. .venv/bin/python scripts/census_lead.py /tmp/q0 [/tmp/q1 ...] [--real] [--json OUT] [--show N]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

ONSET_S = 0.05          # mir_eval's onset tolerance
HOLD_S = 0.05           # a note sounds over an onset when it started this much before and ends this much after
CUT_SHARE = 0.5         # a matched note lasting under this share of its written length is cut

# music21 corpus files: chorales are taken as they come (four parts, soprano first); songs with the voice first
# and the piano's two staves last (the piano-vocal scores the corpus holds)
SONGS = ("schubert/Lindenbaum.xml", "handel/rinaldo/Lascia_chio_pianga.mxl", "schumann_robert/dichterliebe_no2.xml",
         "beach/prayer_of_a_tired_child.musicxml", "weber/concertino_clarinet.mxl", "liliuokalani/aloha_oe.mxl")
SECONDS_PER_QUARTER = 0.6


def match(truth: np.ndarray, line: np.ndarray, tol: float = ONSET_S) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches of same-pitch notes with onsets within `tol`, closest onsets first (mir_eval takes
    a maximum bipartite matching; on monophonic lines the two agree but for ties). `truth` and `line` are
    (onset, duration, pitch) float arrays; returns for each truth note the index of its line note or -1, and
    for each line note its truth note or -1."""
    t_of = np.full(len(truth), -1)
    l_of = np.full(len(line), -1)
    pairs = []
    for i, (on, _, p) in enumerate(truth):
        for k in np.flatnonzero((np.abs(line[:, 0] - on) <= tol + 1e-9) & (np.abs(line[:, 2] - p) < 0.5)):
            pairs.append((abs(line[k, 0] - on), i, k))
    for _, i, k in sorted(pairs):
        if t_of[i] < 0 and l_of[k] < 0:
            t_of[i], l_of[k] = k, i
    return t_of, l_of


def classify(truth: np.ndarray, line: np.ndarray, part: np.ndarray, chord_size: int = 3) -> collections.Counter:
    """The error kinds (module docstring) of one line; `truth`, `line` and `part` are (onset, duration, pitch)
    arrays. Also counts "truth", "line" and "hits"."""
    t_of, l_of = match(truth, line)
    out = collections.Counter(truth=len(truth), line=len(line), hits=int((t_of >= 0).sum()))
    t_end = truth[:, 0] + truth[:, 1]
    for k in np.flatnonzero(l_of < 0):
        on, _, p = line[k]
        struck = np.flatnonzero(np.abs(truth[:, 0] - on) <= ONSET_S)
        if len(struck):
            d = p - truth[struck[0], 2]
            kind = "octave" if abs(d) in (12, 24) else ("chord tone above" if d > 0 else "chord tone below")
            out["extra: instead of the melody: " + kind] += 1
        elif np.any((truth[:, 0] < on - HOLD_S) & (t_end > on + HOLD_S)):
            out["extra: melody holds"] += 1
        else:
            out["extra: melody rests"] += 1
    p_end = part[:, 0] + part[:, 1]
    for i in np.flatnonzero(t_of < 0):
        on, _, p = truth[i]
        if np.any((np.abs(line[:, 0] - on) <= ONSET_S) & (l_of < 0)):
            continue                                   # a substitution, counted with the extra notes
        struck = np.abs(part[:, 0] - on) <= ONSET_S
        if not np.any(struck & (np.abs(part[:, 2] - p) < 0.5)):
            out["missed: not in the file"] += 1
        elif len(np.unique(part[struck, 2])) >= chord_size:
            out["missed: under a chord"] += 1
        elif np.any((part[:, 0] < on - HOLD_S) & (p_end > on + HOLD_S) & (part[:, 2] > p)):
            out["missed: under a held note"] += 1
        else:
            out["missed: other"] += 1
    for i in np.flatnonzero(t_of >= 0):
        k = t_of[i]
        if line[k, 1] < CUT_SHARE * truth[i, 1]:
            same = np.flatnonzero((np.abs(part[:, 0] - truth[i, 0]) <= ONSET_S) & (np.abs(part[:, 2] - truth[i, 2]) < 0.5))
            in_file = len(same) and part[same, 1].max() < CUT_SHARE * truth[i, 1]
            out["held note cut " + ("in the file" if in_file else "by the line")] += 1
    return out


def prf(c: collections.Counter) -> tuple[float, float, float]:
    p = c["hits"] / max(c["line"], 1)
    r = c["hits"] / max(c["truth"], 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def _triples(notes) -> np.ndarray:
    return np.c_[notes["onset"], notes["duration"], notes["pitch"]].astype("f8")


def loaded_part(path: str):
    """(the line `melody.io.load` gives, the notes of the track it took) for a MIDI file."""
    from melody.io import load
    from melody.io import midi

    mel = load(path)[0]
    mid = midi._read(path)
    voice = midi._voices(mid)[(mel.meta["track_index"], mel.meta["channel"])]
    raw = np.array(voice["notes"], dtype="f8")
    tmap = midi._tempo_map(mid, mid.ticks_per_beat)
    on = midi._ticks_to_seconds(raw[:, 0], tmap)
    off = midi._ticks_to_seconds(raw[:, 1], tmap)
    return _triples(mel.notes), np.c_[on, off - on, raw[:, 2]]


def bench(dump_dir: str, show: int = 0) -> dict:
    """Counters per arrangement kind (and per query) over a dump's queries."""
    with open(os.path.join(dump_dir, "truth.json")) as fh:
        truth = json.load(fh)
    kinds, rows = collections.defaultdict(collections.Counter), []
    for q in truth["queries"]:
        line, part = loaded_part(os.path.join(dump_dir, q["path"]))
        written = np.array([(s, d, p) for p, s, d, _ in q["lead"]], dtype="f8")
        c = classify(written, line, part)
        kinds[q["arrangement"]] += c
        rows.append({"qid": q["qid"], "group": q.get("category", ""), "arrangement": q["arrangement"],
                     **dict(zip(("precision", "recall", "f"), prf(c))),
                     "errors": {k: v for k, v in c.items() if k not in ("truth", "line", "hits")}})
    if show:
        worst = sorted((r for r in rows if r["arrangement"] == "piano"), key=lambda r: r["f"])[:show]
        for r in worst:
            print(f"  {r['qid']:6s} P {r['precision']:.3f} R {r['recall']:.3f} {r['errors']}")
    return {"kinds": kinds, "rows": rows}


def _music21_notes(part) -> np.ndarray:
    out = []
    for el in part.flatten().stripTies().notes:
        d = float(el.duration.quarterLength)
        if d > 0:
            out += [(float(el.offset) * SECONDS_PER_QUARTER, d * SECONDS_PER_QUARTER, p.midi) for p in el.pitches]
    return np.array(out, dtype="f8").reshape(-1, 3)


def _top_of_each_onset(notes: np.ndarray) -> np.ndarray:
    keep = {}
    for on, d, p in notes:
        if on not in keep or p > keep[on][2]:
            keep[on] = (on, d, p)
    return np.array(sorted(keep.values()), dtype="f8").reshape(-1, 3)


def real(n_chorales: int = 60, tmp: str | None = None) -> dict:
    """Counters for music21's chorales (truth: the soprano) and piano-vocal songs (truth: the voice), each
    written as a one-track MIDI file (`melody.testing.write_midi`, 100 quarters a minute, one velocity) and
    read back through `melody.io.load`, as a notation program's export of the merged staves would be: a key
    that two voices strike sounds once (MIDI ends its note where it is struck again)."""
    import tempfile

    from music21 import corpus

    from melody.testing import Track, write_midi

    tmp = tmp or tempfile.mkdtemp(prefix="census-lead-")

    def line_of(notes):
        path = os.path.join(tmp, "part.mid")
        beats = [(int(p), on / SECONDS_PER_QUARTER, d / SECONDS_PER_QUARTER, 80) for on, d, p in notes]
        write_midi(path, [Track("Piano", program=0, notes=beats)], bpm=60.0 / SECONDS_PER_QUARTER)
        return loaded_part(path)

    kinds, rows = collections.defaultdict(collections.Counter), []
    n = 0
    for path in corpus.getComposer("bach"):
        if n >= n_chorales:
            break
        try:
            parts = list(corpus.parse(path).parts)
        except Exception:          # an unreadable corpus file is left out, as the chorale sets of earlier sessions
            continue
        if len(parts) != 4:
            continue
        voices = [_music21_notes(p) for p in parts]
        if not len(voices[0]):
            continue
        n += 1
        part = np.concatenate(voices)
        c = classify(_top_of_each_onset(voices[0]), *line_of(part))
        kinds["chorales"] += c
        rows.append({"file": os.path.basename(str(path)), **dict(zip(("precision", "recall", "f"), prf(c)))})
    for name in SONGS:
        try:
            parts = list(corpus.parse(name).parts)
        except Exception:
            continue
        if "aloha" in name:
            parts = parts[4:]              # the song's own system (the file holds an arrangement before it)
        voice = _music21_notes(parts[0])
        part = np.concatenate([voice] + [_music21_notes(p) for p in parts[-2:]])
        c = classify(_top_of_each_onset(voice), *line_of(part))
        kinds["songs"] += c
        rows.append({"file": name, **dict(zip(("precision", "recall", "f"), prf(c)))})
    return {"kinds": kinds, "rows": rows}


def report(title: str, kinds: dict) -> None:
    for kind, c in sorted(kinds.items()):
        p, r, f = prf(c)
        print(f"{title} {kind:9s} notes {c['truth']:6d}  P {p:.4f}  R {r:.4f}  F {f:.4f}")
        for k, v in sorted(c.items(), key=lambda kv: (kv[0].split(":")[0], -kv[1])):
            if k not in ("truth", "line", "hits"):
                print(f"      {v:5d}  {k}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dumps", nargs="*", help="bench_accuracy.py --dump directories")
    ap.add_argument("--real", action="store_true", help="also music21's chorales and piano-vocal songs")
    ap.add_argument("--show", type=int, default=0, help="print the N worst piano queries of each dump")
    ap.add_argument("--json", metavar="OUT", help="write every count and per-query row")
    args = ap.parse_args(argv)
    out = {}
    for d in args.dumps:
        res = bench(d, args.show)
        report(os.path.basename(os.path.normpath(d)), res["kinds"])
        out[d] = res
    if args.real:
        res = real()
        report("real", res["kinds"])
        for r in res["rows"]:
            if "/" in r["file"]:
                print(f"      {r['file']:45s} P {r['precision']:.3f} R {r['recall']:.3f}")
        out["real"] = res
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
