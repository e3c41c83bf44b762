#!/usr/bin/env python
"""Audio queries against a catalog of recordings: bench_audio's queries, the catalog tunes they borrow from
rendered and indexed as recordings.

A label screens tracks against a catalog of its own recordings, so both sides carry transcription errors,
and the stored references have no bars (their beats come from a beat tracker), merged repeats and the
accompaniment's notes in the line. This benchmark takes scripts/bench_audio.py's songs (same split, queries
and renders) and builds two more catalogs beside its 1000-tune MIDI catalog: the same 1000 tunes, of which
`--n-recorded` (every tune a positive borrows from, its exact copies, and random others) are replaced by
recordings of themselves, full mixes in one catalog and the lead alone ("solo") in the other. The rest stay
MIDI. A catalog recording is the whole tune, in another key (up to a tritone either way), tempo (0.7-1.4 of the
tune's), arrangement (band or solo piano, chosen by the tune's own draw) and lead instrument than the query
that borrows from it, rendered with FluidSynth as bench_audio renders, and indexed with `Catalog.index` as
`melody index` does (incremental: a rerun reuses the catalog in the workdir; the stored melodies are then
copied into the 1000-tune catalogs).

Reported: R@1 / R@10 / TPR / FPR of MIDI, mix and solo queries against each catalog, side by side; and
the same split by whether a positive's true reference is a mix or solo recording.

    NUMBA_NUM_THREADS=1 .venv/bin/python scripts/bench_audiocat.py --workdir W --json OUT
    # W: a bench_audio --workdir (its renders are reused); --render-seed picks another catalog render
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
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import bench_audio  # noqa: E402
import benchdata  # noqa: E402
import keyed  # noqa: E402

KEY_SHIFT = (-6, 6)          # semitones, the catalog recording's key against the tune's written key
TEMPO_FACTOR = (0.7, 1.4)    # the catalog recording's tempo against the tune's written tempo


def recorded_tunes(split, queries, n: int, seed: int) -> list[int]:
    """Catalog indices to record: every true reference of a positive (and its exact copies), then random
    others up to n."""
    need = sorted({q.ref_index for q in queries if q.positive} |
                  {k for q in queries if q.positive for k in q.alt_ref_indices})
    rng = np.random.default_rng([seed, 41])
    rest = [k for k in rng.permutation(len(split.catalog)) if k not in set(need)]
    return sorted(need + [int(k) for k in rest[:max(n - len(need), 0)]])


def render_tune(tune: benchdata.Tune, index: int, out_dir: str, seed: int, avoid_programs: set) -> dict:
    """Render catalog tune `index` as a band (or piano) mix and its lead alone; returns the file paths."""
    from melody.testing import Track, accompany, piano_arrangement, write_midi

    rng = np.random.default_rng([seed, 43, index])
    shift = int(rng.integers(KEY_SHIFT[0], KEY_SHIFT[1] + 1))
    bpm = float(np.clip(60.0 / tune.spq * rng.uniform(*TEMPO_FACTOR), *benchdata.BPM_RANGE))
    pitch = tune.pitch + shift
    med = float(np.median(pitch))
    lo, hi = benchdata.LEAD_REGISTER
    pitch = pitch + 12 * (int(np.ceil((lo - med) / 12)) if med < lo else -int(np.ceil((med - hi) / 12)) if med > hi else 0)
    offset = float(tune.bar_pos[0]) % tune.bar_q if tune.bar_q > 0 else 0.0   # a pickup keeps its place in the bar
    lead = [(int(p), float(s) + offset, max(float(d), 1e-3), int(rng.integers(80, 111)))
            for p, s, d in zip(pitch, tune.start, tune.dur)]
    ts = benchdata._time_signature(tune.bar_q)
    key_pc = (tune.key_pc + shift) % 12
    piano = rng.random() < benchdata.P_PIANO
    programs = [(n, p) for n, p in benchdata._LEAD_TRACKS if p not in avoid_programs] or benchdata._LEAD_TRACKS
    name, program = programs[int(rng.integers(len(programs)))]
    seed_arr = int(rng.integers(1 << 30))
    if piano:
        tracks = [piano_arrangement(lead, key_pc, tune.minor, tune.bar_q, seed_arr)]
        program = 0
    else:
        tracks = accompany(lead, key_pc, tune.minor, tune.bar_q, seed_arr)
        tracks.insert(int(rng.integers(len(tracks) + 1)), Track(name, program=program, notes=lead))
    stem = os.path.join(out_dir, f"c{index:04d}")
    ext = ".mp3" if index % 3 == 2 else ".wav"
    rate = 44100 if index % 2 == 0 else 22050
    out = {"index": index, "arrangement": "piano" if piano else "band", "program": program, "bpm": bpm,
           "shift": shift}
    for kind, kind_tracks in (("mix", tracks), ("solo", [Track("Lead", program=program, notes=lead)])):
        with keyed.replacing(f"{stem}-{kind}.mid") as tmp:
            write_midi(tmp, kind_tracks, bpm, ts)
        dst = os.path.join(out_dir, kind, f"c{index:04d}{ext}")
        bench_audio.midi_render(f"{stem}-{kind}.mid", dst, rate)     # again only if its MIDI changed
        out[kind] = dst
    return out


def recording_catalog(paths: list[str], cat_dir: str, log=print):
    """Index the recordings as `melody index` does (incremental); returns {path: stored Melody}."""
    import melody

    cat = melody.Catalog.open(cat_dir, create=True)
    t0 = time.perf_counter()
    rep = cat.index(paths, workers=1)
    if log:
        log(f"indexed {rep.added_files} new recordings ({len(rep.skipped)} already there, {len(rep.failed)} "
            f"failed) in {time.perf_counter() - t0:.0f} s")
        for path, err in rep.failed:
            log(f"  failed: {err}")
    stored = {}
    for row in range(len(cat.packed.entries)):
        m = cat.melody(row)
        stored[os.path.abspath(m.source)] = m
    return stored


def ref_beats(m, how: str):
    """A stored recording with its metric marks as tracked, dropped ("none"), or read off its notes
    ("guessed", `melody.meter`): a diagnosis of how a reference recording's beats count."""
    from melody.meter import melody_with_guessed_beats
    from melody.notes import Melody

    if how == "tracked":
        return m
    notes = m.notes.copy()
    notes["beat"] = np.nan
    m = Melody(notes, m.title, m.composer, m.source, m.index, m.meta)
    return melody_with_guessed_beats(m) if how == "guessed" else m


def written_as_recording(m):
    """Diagnosis: a catalog tune's written notes as a perfect transcription would store them (no bars or
    beats), in place of its recording."""
    from melody.notes import Melody, make_notes

    n = m.notes
    return Melody(make_notes(n["onset"], n["duration"], n["pitch"]), m.title, m.composer, m.source + "#written", m.index)


def mixed_catalog(split, stored: dict, recordings: dict, kind: str, cat_dir: str, beats: str = "tracked",
                  written: bool = False):
    """The 1000-tune catalog with the recorded tunes replaced by their stored `kind` recordings (or, with
    `written`, by their written notes without bars or beats); returns (catalog, ids in catalog order,
    {index: True where recorded})."""
    import melody

    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    melodies, recorded = [], {}
    for k, t in enumerate(split.catalog):
        rec = recordings.get(k)
        m = stored.get(os.path.abspath(rec[kind])) if rec else None
        if m is not None and written:
            m = written_as_recording(t.melody)
        recorded[k] = m is not None
        melodies.append(ref_beats(m, beats) if m is not None else t.melody)
    return cat, bench_accuracy.add_in_order(cat, melodies), recorded


def query_melodies(queries, renders, workdir: str, method: str) -> dict:
    """{kind: [Melody or None]} for midi, mix and solo queries; transcriptions cached in the workdir per
    render's bytes, method and `melody.audio`'s code (`keyed.entries`)."""
    import melody.audio
    from melody.audio import decode, extract, fuse, kernels, neural, rhythm, segment, transcribe
    from melody.errors import MelodyError

    def compute(path):
        try:
            return transcribe(path, method=method)[0]
        except MelodyError:
            return None

    code = keyed.digest(keyed.code_of(melody.audio, decode, extract, fuse, kernels, neural, rhythm, segment))
    paths = [rec[kind] for rec in renders for kind in ("mix", "solo")]
    got = keyed.entries(os.path.join(workdir, f"audiocat-queries-{method}.pkl"),
                        {p: keyed.digest("transcribe", keyed.file_digest(p), method, code) for p in paths}, compute)
    out = {kind: [got[rec[kind]] for rec in renders] for kind in ("mix", "solo")}
    out["midi"] = [bench_accuracy.load_query(q.path) for q in queries]
    return out


def run_searches(queries, qmel: dict, cat, ids, recorded: dict | None, top: int = 10,
                 metric: bool = True) -> dict:
    from melody import align

    params = pitch_params = None
    if not metric:        # diagnosis: the metric bonus off for every pair, in both stages
        params = np.array(align.DEFAULT_PARAMS, dtype="f8")
        params[align.kernels.METRIC_MATCH] = 0.0
        pitch_params = np.array(align.DEFAULT_PITCH_PARAMS, dtype="f8")
        pitch_params[align.pitch.P_METRIC] = 0.0
    rows = {}
    for kind, mels in qmel.items():
        rows[kind] = []
        for q, m in zip(queries, mels):
            matches = cat.search(m, top=top, params=params, pitch_params=pitch_params) if m is not None else []
            row = bench_accuracy.evaluate(q, matches, ids)
            if recorded is not None and q.positive:
                row["ref_recorded"] = recorded[q.ref_index]
            rows[kind].append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="a bench_audio --workdir (renders reused, or made there)")
    ap.add_argument("--seed", type=int, default=1, help="bench_audio's data seed (default 1)")
    ap.add_argument("--n-queries", type=int, default=120)
    ap.add_argument("--n-recorded", type=int, default=200, help="catalog tunes replaced by recordings")
    ap.add_argument("--render-seed", type=int, default=1, help="seed of the catalog recordings' renders")
    ap.add_argument("--method", default="fused", choices=("salience", "fused"))
    ap.add_argument("--catalogs", nargs="+", default=["midi", "mix", "solo"])
    ap.add_argument("--queries", nargs="+", default=["midi", "mix", "solo"])
    ap.add_argument("--ref-beats", default="tracked", choices=("tracked", "none", "guessed"),
                    help="diagnosis: the catalog recordings' metric marks as tracked, dropped or read off the notes")
    ap.add_argument("--written-refs", action="store_true",
                    help="diagnosis: the recorded tunes' written notes without bars or beats in place of their recordings")
    ap.add_argument("--midi-two-readings", action="store_true",
                    help="diagnosis: MIDI queries also ranked with repeated notes merged, as recordings are")
    ap.add_argument("--metric-off", action="store_true", help="diagnosis: no metric bonus for any pair")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    w = os.path.abspath(args.workdir)
    split, queries = benchdata.build(1000, args.n_queries, args.seed, w, n_variation=0)
    renders = bench_audio.render_all(queries, w)
    rdir = os.path.join(w, f"audiocat-r{args.render_seed}")
    for kind in ("mix", "solo"):
        os.makedirs(os.path.join(rdir, kind), exist_ok=True)
    # a catalog recording avoids the lead instruments of the queries that borrow from it
    borrowers = {}
    for q, rec in zip(queries, renders):
        if q.positive:
            prog = bench_audio.lead_program(q.path, {p for p, _, _, _ in q.lead})
            for k in [q.ref_index] + list(q.alt_ref_indices):
                borrowers.setdefault(k, set()).add(prog)
    t0 = time.perf_counter()
    recordings = {k: render_tune(split.catalog[k], k, rdir, args.render_seed, borrowers.get(k, set()))
                  for k in recorded_tunes(split, queries, args.n_recorded, args.render_seed)}
    seconds = sum(float(split.catalog[k].start[-1] + split.catalog[k].dur[-1]) * 60.0 / r["bpm"]
                  for k, r in recordings.items())
    print(f"{len(recordings)} catalog tunes rendered ({seconds / 60:.0f} min each kind) in "
          f"{time.perf_counter() - t0:.0f} s")
    qmel = query_melodies(queries, renders, w, args.method)
    qmel = {k: qmel[k] for k in args.queries}
    if args.midi_two_readings and "midi" in qmel:
        for m in qmel["midi"]:
            m.meta["kind"] = "audio"
    result = {"config": vars(args), "recordings": {str(k): v for k, v in recordings.items()}, "catalogs": {}}
    for ckind in args.catalogs:
        t0 = time.perf_counter()
        if ckind == "midi":
            cat_dir = os.path.join(w, "audiocat-midi")
            import melody
            shutil.rmtree(cat_dir, ignore_errors=True)
            cat = melody.Catalog.create(cat_dir)
            ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
            recorded = None
        else:
            stored = recording_catalog([r[ckind] for r in recordings.values()],
                                       os.path.join(rdir, f"catalog-{ckind}"))
            cat, ids, recorded = mixed_catalog(split, stored, recordings, ckind,
                                               os.path.join(w, f"audiocat-{ckind}-cat"), args.ref_beats,
                                               args.written_refs)
        rows = run_searches(queries, qmel, cat, ids, recorded, metric=not args.metric_off)
        summ = {qk: bench_accuracy.summarize(r) for qk, r in rows.items()}
        result["catalogs"][ckind] = {"summary": summ, "rows": rows,
                                     "recorded_ids": [ids[k] for k in recordings] if recorded else []}
        print(f"\ncatalog {ckind} ({time.perf_counter() - t0:.0f} s)")
        print(f"{'query':<8}{'R@1':>7}{'R@10':>7}{'TPR':>7}{'FPR':>7}")
        for qk, s in summ.items():
            print(f"{qk:<8}{s['recall_at_1']:>7.3f}{s['recall_at_10']:>7.3f}{s['tpr']:>7.3f}{s['fpr']:>7.3f}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
