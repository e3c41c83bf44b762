#!/usr/bin/env python
"""What a mix transcription's extra notes are: every transcribed note described against the song's MIDI.

Reuses a `bench_audio.py --workdir W` run's renders and the pitch tracks `solo_errors.py --kind mix` caches
there (W/solo_errors-mix-tracks.pkl, computed once if missing). Each transcribed note is named by
`solo_errors.classify` (ok, extra, octave, ...) and described at its onset (after the file's lag):

- the written lead then: sounding or resting, and the note's step from it (or from the last lead note);
- the accompaniment then (the MIDI's other pitched notes): a note at its key sounding, started before it
  ("held") or within 60 ms of it ("struck"), the lowest one sounding ("bass"); or only an octave of one;
- Basic Pitch: the mean note activation at its key over the note, the onset peak at its key within 60 ms of
  its start ("own onset"), its key's note activation 100-20 ms before it ("sounding before"), and the
  strongest mean activation of a key above it over the note ("a key above heard");
- its median salience over its neighbours', and its steps from the previous and next transcribed notes.

The table groups the notes (extra: all, lead sounding, lead resting, inside the borrowed phrase; the lead's
own notes, "ok") and counts extra notes per lead instrument. BENCHMARKS.md, "Thirteenth session: the
accompaniment's notes in a mix's lead line".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/mix_extras.py --workdir /tmp/ba --seed 1
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_audio  # noqa: E402
import benchdata  # noqa: E402
import solo_errors  # noqa: E402

NEAR_S = 0.06                      # an onset this close to the note's start is its own (or struck with it)
BEFORE_S, GAP_S = 0.10, 0.02       # "sounding before": the activation from BEFORE_S to GAP_S before the start
INTO_S = 0.02                      # what sounds "at the onset" is read this far into the note
SOUNDING = 0.3                     # a key's mean note activation from which it counts as heard


def midi_notes(path: str) -> np.ndarray:
    """(n, 3) pitch, start s, end s of every pitched (not drum) note of a MIDI file with one tempo."""
    import mido

    mid = mido.MidiFile(path)
    tempo = next((m.tempo for tr in mid.tracks for m in tr if m.type == "set_tempo"), 500000)
    out = []
    for tr in mid.tracks:
        tick, started = 0, {}
        for m in tr:
            tick += m.time
            if m.type not in ("note_on", "note_off") or m.channel == 9:
                continue
            sec = mido.tick2second(tick, mid.ticks_per_beat, tempo)
            if m.type == "note_on" and m.velocity > 0:
                started[(m.channel, m.note)] = sec
            elif (m.channel, m.note) in started:
                out.append((m.note, started.pop((m.channel, m.note)), sec))
    return np.array(sorted(out, key=lambda n: (n[1], n[0])), dtype="f8").reshape(-1, 3)


def accompaniment(all_notes: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """The notes of ``all_notes`` (pitch, start, end) that are not the written ``lead``'s (pitch, start, dur)."""
    written = {(int(p), round(s, 2)) for p, s, _ in lead}
    keep = [(int(p), round(s, 2)) not in written for p, s, _ in all_notes]
    return all_notes[np.array(keep, bool)] if len(all_notes) else all_notes


def describe(notes: np.ndarray, tr, lead: np.ndarray, acc: np.ndarray, lag: float) -> list[dict]:
    """One dict per transcribed note (NOTE_DTYPE ``notes`` of the fused track ``tr``): what sounds in the
    score and what the network hears when it starts (see the module docstring). ``lead``: (pitch, start,
    dur) as written; ``acc``: (pitch, start, end) of the other parts; ``lag``: the file's onset lag."""
    from melody.audio.neural import MIDI_LOW
    from melody.audio.segment import note_activation
    from melody.notes import tuning_offset

    if not len(notes):
        return []
    keys = np.rint(notes["pitch"] - tuning_offset(notes["pitch"], notes["duration"])).astype(int)
    activation = note_activation(notes, tr)
    times, act, ons = tr.key_onset_times, tr.key_note, tr.key_onset
    frames = [(int(on / tr.hop_s), max(int((on + d) / tr.hop_s), int(on / tr.hop_s) + 1))
              for on, d in zip(notes["onset"], notes["duration"])]
    sal = [float(np.median(tr.salience[a:b])) for a, b in frames]
    rows = []
    for j, (on, dur, key) in enumerate(zip(notes["onset"], notes["duration"], keys)):
        t = on - lag + INTO_S
        sounding = np.nonzero((lead[:, 1] <= t) & (t < lead[:, 1] + lead[:, 2]))[0]
        last = max(int(np.searchsorted(lead[:, 1], t)) - 1, 0)
        lead_pitch = lead[sounding[0], 0] if len(sounding) else lead[last, 0]
        now = acc[(acc[:, 1] <= t) & (acc[:, 2] > t)]
        same = now[now[:, 0] == key]
        k = key - MIDI_LOW
        n0, n1, b0, b1, o0, o1 = np.searchsorted(times, [on, on + dur, on - BEFORE_S, on - GAP_S, on - NEAR_S,
                                                         on + NEAR_S])
        n1, b1, o1 = max(n1, n0 + 1), max(b1, b0 + 1), max(o1, o0 + 1)
        inside = 0 <= k < act.shape[1] and n0 < len(act)
        neighbours = [sal[x] for x in (j - 1, j + 1) if 0 <= x < len(notes)]
        rows.append({
            "index": j, "onset": float(on - lag), "duration": float(dur), "key": int(key),
            "lead_resting": not len(sounding), "step_to_lead": float(key - lead_pitch),
            "acc_same": bool(len(same)), "acc_held": bool(len(same) and same[:, 1].min() < t - INTO_S - NEAR_S),
            "acc_struck": bool(np.any((acc[:, 0] == key) & (np.abs(acc[:, 1] - (t - INTO_S)) < NEAR_S))),
            "acc_bass": bool(len(same) and key == now[:, 0].min()),
            "acc_octave_only": bool(not len(same) and np.any(now[:, 0] % 12 == key % 12)),
            "activation": float(activation[j]) if activation is not None else float("nan"),
            "own_onset": float(ons[o0:o1, k].max()) if 0 <= k < ons.shape[1] and o0 < len(ons) else 0.0,
            "sounding_before": float(act[b0:b1, k].mean()) if 0 <= k < act.shape[1] and b0 < len(act) else 0.0,
            "above_heard": float(act[n0:n1, k + 1:].mean(axis=0).max()) if inside and k + 1 < act.shape[1] else 0.0,
            "salience_ratio": sal[j] / max(float(np.mean(neighbours)), 1e-9) if neighbours else float("nan"),
            "step_prev": float(key - keys[j - 1]) if j else float("nan"),
            "step_next": float(keys[j + 1] - key) if j + 1 < len(notes) else float("nan"),
        })
    return rows


def held_tone(row: dict) -> bool:
    """The rule measured (and not kept) in the thirteenth session: a note below the previous one whose key
    sounded before it began, with no onset of its own (a chord tone the path falls onto)."""
    return row["own_onset"] < SOUNDING and row["sounding_before"] >= SOUNDING and row["step_prev"] < 0


def table(rows: list[dict]) -> str:
    """The description, one Markdown row per group of notes."""
    groups = [("extra, all", lambda r: r["kind"] == "extra"),
              ("extra, lead sounding", lambda r: r["kind"] == "extra" and not r["lead_resting"]),
              ("extra, lead resting", lambda r: r["kind"] == "extra" and r["lead_resting"]),
              ("extra, in the phrase", lambda r: r["kind"] == "extra" and r["phrase"]),
              ("ok (the lead's notes)", lambda r: r["kind"] == "ok")]
    head = ("| notes | n | lead resting | below the lead (median step) | an accompaniment note at its key: held / "
            "struck with it / bass | only an octave of one | length (median) | activation | own onset | "
            "sounding before | a key above heard | salience / neighbours | a held tone, no onset, below the "
            "previous note |")
    out = [head, "|" + "---|" * 13]
    for name, pick in groups:
        g = [r for r in rows if pick(r)]
        if not g:
            continue
        col = lambda k: np.array([r[k] for r in g], dtype="f8")  # noqa: E731
        med = lambda k: float(np.nanmedian(col(k)))  # noqa: E731
        out.append(f"| {name} | {len(g)} | {col('lead_resting').mean():.2f} | {np.mean(col('step_to_lead') < -0.5):.2f} "
                   f"({med('step_to_lead'):+.0f}) | {col('acc_same').mean():.2f}: {col('acc_held').mean():.2f} / "
                   f"{col('acc_struck').mean():.2f} / {col('acc_bass').mean():.2f} | {col('acc_octave_only').mean():.2f} | "
                   f"{med('duration'):.2f} s | {med('activation'):.2f} | {med('own_onset'):.2f} | "
                   f"{med('sounding_before'):.2f} | {med('above_heard'):.2f} | {med('salience_ratio'):.2f} | "
                   f"{np.mean([held_tone(r) for r in g]):.2f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = solo_errors.workdir_parser(__doc__)
    ap.add_argument("--json", metavar="OUT", help="every note's row")
    args = ap.parse_args(argv)

    from melody.audio.segment import notes_from_track

    with contextlib.redirect_stdout(io.StringIO()):
        _, queries = benchdata.build(args.n_catalog, args.n_queries, args.seed,
                                     os.path.join(args.workdir, "solo_errors"), n_variation=0)
    tracks = solo_errors.capture(queries, args.workdir, "mix")
    rows, per_instrument = [], {}
    for q in queries:
        tr = tracks.get(q.qid)
        if tr is None:
            continue
        notes = notes_from_track(tr)
        lead = np.array([(p, s, d) for p, s, d, _ in q.lead], dtype="f8")
        errors = solo_errors.classify(lead, notes)
        kind = {j: k for k in ("ok", "octave", "pitch", "late", "split", "extra") for _, j in errors[k] if j >= 0}
        program = bench_audio.lead_program(q.path, {int(p) for p in lead[:, 0]})
        instrument = bench_audio.PROGRAMS.get(program, f"program {program}")
        name = f"{instrument} ({q.arrangement})"
        lo, hi = q.query_span
        for r in describe(notes, tr, lead, accompaniment(midi_notes(q.path), lead), errors["lag"]):
            r.update(qid=q.qid, kind=kind.get(r["index"], "?"), instrument=name,
                     phrase=bool(q.positive and lo - 0.01 <= r["onset"] <= hi + 0.01))
            rows.append(r)
            n = per_instrument.setdefault(name, [0, 0])
            n[0] += 1
            n[1] += r["kind"] == "extra"
    print(table(rows))
    print("\nextra notes per lead instrument (of its transcribed notes):")
    for name, (n, extra) in sorted(per_instrument.items(), key=lambda kv: -kv[1][1] / kv[1][0]):
        print(f"  {name:<24} {extra:4d} of {n:5d} ({extra / n:.3f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
