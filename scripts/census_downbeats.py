#!/usr/bin/env python
"""Where the bar starts, read off a melody whose beats are known: how often a reading of the downbeat is right.

A recording's beats come from the tracker (`melody.audio.rhythm.snap_to_beats`), and which of them starts a
bar is guessed from the notes and the flux (`rhythm.downbeats`). This census asks how good that guess can be
on real melodies with written bars, where the beats are given exactly: each melody's notes are put on its
quarter-note beats (one beat a second, the flux silent, so only the notes speak), every reading chooses the
bar's length (2, 3 or 4 beats) and its phase, and the choice is compared with the written bars:

- *right*: the written bar length and phase;
- *half right*: two beats for a written four (or four for two) in phase with the written downbeats;
- *wrong*: any other choice; *unmarked*: no downbeat chosen (the search then reads beats only).

Readings: `downbeats` (the library's guess: notes starting on a beat weighted by their length, meters of 4
and 3 beats, marked where the best phase stands out), and `long notes` (the phase of each meter whose beats
carry the most durational accent, the meter with the most accent per beat; no threshold), `first note` (the
melody starts on a downbeat, four beats a bar: what a reading that knows nothing assumes).

Melodies with bars of 2, 3 or 4 quarter notes are counted (6/8 is read as 3 quarter-note beats). Data:
MTC-ANN (real sung variants; `--data`), and with `--corpus N` the first N tunes of each collection of the
bundled folk corpus (`benchdata.load_corpus`). BENCHMARKS.md, "Twenty-first session: where the bar starts".

    .venv/bin/python scripts/census_downbeats.py [--data ../shared/data/mtc-ann-dev.jsonl.gz] [--corpus 300]
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

OUTCOMES = ("right", "half right", "wrong", "unmarked")
BAR_QUARTERS = (2.0, 3.0, 4.0)


def written_bars(start: np.ndarray, downbeat: np.ndarray, bar_q: float):
    """(onsets in beats, (bar length, phase)) of a melody with onsets `start` (quarter notes) and its written
    downbeat notes: the onsets shifted so that the beats are whole numbers and the first note's beat is 0 (a
    pickup of half a beat starts at 0.5), the phase the first downbeat's beat modulo the bar; None when the
    bar is not 2-4 quarter notes or no note is on a downbeat."""
    if bar_q not in BAR_QUARTERS or not downbeat.any():
        return None
    first = float(start[np.flatnonzero(downbeat)[0]])
    shifted = start - (first - np.floor(first))
    base = np.floor(shifted[0] + 1e-6)
    shifted = shifted - base
    return shifted, (bar_q, int(round(first - (first - np.floor(first)) - base)) % int(bar_q))


def mtc_records(path: str) -> list[dict]:
    """MTC-ANN feature records as {id, start, dur (quarters), pitch, bars}: onsets from `onsettick` (ticks per
    quarter: the smallest ticks-per-duration ratio, a note followed by no rest), downbeats from
    `beatstrength` 1, the bar from the (single) time signature."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            f = rec["features"]
            signatures = set(f["timesignature"])
            if len(signatures) != 1 or not f["timesignature"][0] or "/" not in f["timesignature"][0]:
                continue
            num, den = map(int, f["timesignature"][0].split("/"))
            tick = np.asarray(f["onsettick"], dtype="f8")
            dur = np.asarray(f["duration"], dtype="f8") * 4.0
            if len(tick) < 8:
                continue
            per_quarter = float(np.min(np.diff(tick) / np.maximum(dur[:-1], 1e-9)))
            start = (tick - tick[0]) / per_quarter
            written = written_bars(start, np.asarray(f["beatstrength"]) >= 0.999, 4.0 * num / den)
            if written is not None:
                out.append({"id": rec["id"], "start": written[0], "dur": dur,
                            "pitch": np.asarray(f["midipitch"], "f8"), "bars": written[1]})
    return out


def corpus_records(per_collection: int, cache_dir: str | None) -> list[dict]:
    """The first `per_collection` tunes of each bundled corpus collection, as `mtc_records` gives them."""
    import benchdata

    out = []
    for collection, melodies in benchdata.load_corpus(cache_dir, log=None).items():
        taken = 0
        for m in melodies:
            t = benchdata.to_tune(m, collection)
            written = None if t is None else written_bars(t.start, np.abs(t.bar_pos) < 1e-3, t.bar_q)
            if written is None:
                continue
            out.append({"id": f"{collection}/{m.title}", "start": written[0], "dur": t.dur,
                        "pitch": t.pitch.astype("f8"), "bars": written[1]})
            taken += 1
            if taken >= per_collection:
                break
    return out


def on_beats(rec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(beat number, whether on a beat, length in beats to the next onset) of every note (`written_bars`'
    onsets: the first note's beat is 0)."""
    start = rec["start"]
    on = np.abs(start - np.round(start)) < 1e-3
    length = np.append(np.diff(start), rec["dur"][-1])
    return np.round(start).astype(np.int64), on, length


def library_downbeats(rec: dict) -> tuple[int, int] | None:
    """`rhythm.downbeats` on the melody's exact beats (one a second) with a silent flux: the notes alone."""
    from melody.audio.rhythm import downbeats

    beat_no, on, length = on_beats(rec)
    beats = np.arange(int(beat_no.max()) + 2, dtype="f8")
    hop = 0.01
    meter, phase = downbeats(beat_no, on, length, np.zeros(int(beats[-1] / hop) + 1), beats, hop)
    return (meter, phase) if meter else None


def long_notes(rec: dict) -> tuple[int, int]:
    """The bar (2, 3 or 4 beats) and phase whose downbeats carry the most durational accent per downbeat (a
    note's log length, 0 on a beat without an onset)."""
    beat_no, on, length = on_beats(rec)
    accent = np.zeros(int(beat_no.max()) + 1)
    accent[beat_no[on]] = np.log2(1.0 + length[on])
    best = max((accent[phase::meter].mean(), meter, phase) for meter in (2, 3, 4) for phase in range(meter))
    return best[1], best[2]


def first_note(rec: dict) -> tuple[int, int]:
    """Four beats a bar, the first note's beat a downbeat."""
    return 4, 0


READINGS = {"downbeats": library_downbeats, "long notes": long_notes, "first note": first_note}


def judge(choice: tuple[int, int] | None, bars: tuple[float, int]) -> str:
    """A reading's (beats a bar, phase) against the written (bar length, phase), phases in beats from the
    melody's first beat."""
    if choice is None:
        return "unmarked"
    meter, phase = choice
    bar_q, written = int(bars[0]), bars[1]
    if meter == bar_q and (phase - written) % meter == 0:
        return "right"
    if {meter, bar_q} == {2, 4} and (phase - written) % 2 == 0:
        return "half right"
    return "wrong"


def census(records: list[dict], readings=READINGS) -> dict[str, collections.Counter]:
    """{reading: Counter(outcome)} over the records (`mtc_records`, `corpus_records`)."""
    out = {name: collections.Counter() for name in readings}
    for rec in records:
        for name, read in readings.items():
            out[name][judge(read(rec), rec["bars"])] += 1
    return out


def main(argv=None) -> int:
    from bench_families import DEFAULT_DATA
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--corpus", type=int, default=0, help="also this many tunes of each corpus collection")
    ap.add_argument("--cache", default=None, help="benchdata's corpus cache folder")
    args = ap.parse_args(argv)
    sets = [("MTC-ANN", mtc_records(args.data))]
    if args.corpus:
        sets.append(("corpus", corpus_records(args.corpus, args.cache)))
    print("| melodies | reading | " + " | ".join(OUTCOMES) + " |\n|---|---|" + "---|" * len(OUTCOMES))
    for name, records in sets:
        for reading, counts in census(records).items():
            print(f"| {name} ({len(records)}) | {reading} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
