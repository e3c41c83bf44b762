#!/usr/bin/env python
"""What a singer's timing costs, split into its parts: bench_sung.py's "timing" takes sung again with the
same voice (the same vowels, levels and attacks: `bench_sung.sing`'s draws) in four ways:

- steady: the written timing (no effect);
- curve: the take's smooth tempo curve only (`bench_sung.plan_notes`, onset jitter 0);
- jitter: the take's onset jitter only (tempo curve 0);
- timing: both, as bench_sung.py's "timing" condition sings them.

Each take's fused pitch track is computed once and cached (W/timing_split/tracks-SEED-PART.pkl, per take:
`keyed.entries`); the notes
come from `notes_from_track` and `snap_to_beats` as `transcribe` makes them, and are searched against
bench_sung.py's catalog. Two oracle readings of the timing take tell the parts apart further:

- true_beats: snapped to the take's own beats (the written quarter notes through its tempo curve) instead
  of the beat tracker's;
- dejittered: each transcribed onset moved back by its note's jitter (the tempo curve kept), then snapped.

Printed per seed and reading: R@1 / R@10 / TPR / FPR, note F (mir_eval, as bench_sung.py), the share of
written notes shorter than 100 ms (inter-onset) that the transcription misses, and the share of
consecutive-step length ratios (log2 of one inter-onset interval over the one before) more than DUR_FREE
off the written ones. BENCHMARKS.md, "Fifteenth session: a singer's timing".

    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/timing_split.py --workdir W --seeds 0 1 --every 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_accuracy  # noqa: E402
import bench_audio  # noqa: E402
import bench_sung  # noqa: E402
import benchdata  # noqa: E402
import keyed  # noqa: E402

PARTS = ("steady", "curve", "jitter", "timing")
ORACLES = ("true_beats", "dejittered")
SHORT_S = 0.1


def take_plan(q, seed: int, part: str):
    """(take, plan, tempo curve of the written times) of query q's timing take, sung as `part` says."""
    take_rng = np.random.default_rng([seed, int(q.qid[1:])])
    take = bench_sung.draw_take(take_rng)
    if part == "curve":
        take["jitter_s"] = 0.0
    elif part == "jitter":
        take["tempo_sd"] = 0.0
    voice_seed = take_rng.integers(1 << 30)
    plan_rng = np.random.default_rng([seed, take_rng.integers(1 << 30)])
    effects = set() if part == "steady" else {"timing"}
    plan = bench_sung.plan_notes(q.lead, take, effects, plan_rng)
    return take, plan, voice_seed


def true_times(q, seed: int):
    """The timing take's written quarter-note beats and its onsets without jitter (seconds of the take):
    `bench_sung.plan_notes`'s tempo curve and jitter drawn again from the same generator."""
    take_rng = np.random.default_rng([seed, int(q.qid[1:])])
    take = bench_sung.draw_take(take_rng)
    take_rng.integers(1 << 30)
    rng = np.random.default_rng([seed, take_rng.integers(1 << 30)])
    on = np.array([s for _, s, _, _ in q.lead], dtype="f8")
    end = on + np.array([d for _, _, d, _ in q.lead], dtype="f8")
    grid = np.linspace(0.0, end.max() + 1.0, 1000)
    log_tempo = take["tempo_sd"] * bench_sung._smooth_noise(rng, len(grid), max(int(len(grid) * 3.0 / grid[-1]), 1))
    warped = np.concatenate([[0.0], np.cumsum(np.diff(grid) * np.exp(-log_tempo[:-1]))])
    smooth = np.interp(on, grid, warped)
    played = np.maximum.accumulate(smooth + rng.normal(0.0, take["jitter_s"], len(on)))
    for k in range(1, len(on)):
        played[k] = max(played[k], played[k - 1] + 0.06)
    lead_in = played.min() - 0.3
    beat_s = 60.0 / q.bpm
    written = np.arange(0.0, np.ceil(end.max() / beat_s) + 2) * beat_s
    beats = np.interp(written, grid, warped, right=np.nan) - lead_in
    return beats[np.isfinite(beats)], smooth - lead_in, played - lead_in


def capture(queries, seed: int, part: str, workdir: str) -> dict:
    """qid -> (fused pitch track or None, the take's plan); the tracks are cached per take (its plan, voice
    and the singer's and tracker's code: `keyed.entries`), the renders are not kept."""
    import soundfile

    takes = {q.qid: take_plan(q, seed, part) for q in queries}

    def compute(qid):
        take, plan, voice_seed = takes[qid]
        rng = np.random.default_rng([seed, voice_seed, bench_sung.CONDITIONS.index("timing")])
        x = bench_sung.sing(plan, take, set() if part == "steady" else {"timing"}, rng)
        with tempfile.TemporaryDirectory(prefix="timing-split-") as tmp:     # tracked, then removed
            wav = os.path.join(tmp, f"{qid}-{seed}-{part}.wav")
            soundfile.write(wav, (0.25 * x / (np.max(np.abs(x)) + 1e-12)).astype("f4"), bench_sung.SR, subtype="PCM_16")
            return keyed.fused_track(wav)

    code = keyed.digest(keyed.code_of(compute, bench_sung.sing, bench_sung._smooth_noise), keyed.tracker_code())
    keys = {qid: keyed.digest("timing take", take, plan, part, seed, int(voice), code)
            for qid, (take, plan, voice) in takes.items()}
    tracks = keyed.entries(os.path.join(workdir, f"tracks-{seed}-{part}.pkl"), keys, compute)
    return {qid: (tracks[qid], takes[qid][1]) for qid in takes}


def reading(q, tr, seed: int, oracle: str | None):
    """The query as `transcribe` makes it from the track, or with an oracle's beats or onsets."""
    from melody.audio import rhythm, snap_track_notes
    from melody.audio.segment import notes_from_track
    from melody.notes import Melody

    notes = notes_from_track(tr)
    beat_times = rhythm.beat_times
    if oracle:
        beats, smooth, played = true_times(q, seed)
        if oracle == "true_beats":
            rhythm.beat_times = lambda env, hop, factor=1.0: beats if factor == 1.0 else np.zeros(0)
        else:
            notes = notes.copy()
            ends = notes["onset"] + notes["duration"]
            for k, t in enumerate(notes["onset"]):
                j = int(np.argmin(np.abs(played - t)))
                if abs(played[j] - t) < 0.07:
                    notes["onset"][k] = t + smooth[j] - played[j]
            order = np.argsort(notes["onset"], kind="stable")
            notes, ends = notes[order], ends[order]
            notes["duration"] = np.maximum(np.minimum(ends, np.r_[notes["onset"][1:], np.inf]) - notes["onset"], 1e-3)
    try:
        snapped, info = snap_track_notes(notes, tr)
    finally:
        rhythm.beat_times = beat_times
    return Melody(snapped, meta={"kind": "audio", **info})


def short_missed(notes, plan) -> tuple[int, int]:
    """(written notes under SHORT_S the transcription misses: no onset within 50 ms at the pitch, of them)"""
    on = plan["onset"]
    ioi = np.r_[np.diff(on), np.inf]
    missed = n = 0
    for k in np.flatnonzero(ioi < SHORT_S):
        n += 1
        d = np.abs(notes["onset"] - on[k])
        j = int(np.argmin(d)) if len(d) else -1
        missed += j < 0 or d[j] > 0.05 or abs(notes["pitch"][j] - plan["intended"][k]) > 0.5
    return missed, n


def ratio_errors(notes, plan, q, free: float) -> tuple[int, int]:
    """(consecutive-step length ratios more than `free` (log2) off the written ones, steps compared):
    transcribed onsets matched to written ones within 70 ms, three in a row."""
    written = np.array([s for _, s, _, _ in q.lead])
    idx = []
    for k, t in enumerate(notes["onset"]):
        j = int(np.argmin(np.abs(plan["onset"] - t)))
        if abs(plan["onset"][j] - t) < 0.07:
            idx.append((k, j))
    bad = n = 0
    for (k0, j0), (k1, j1), (k2, j2) in zip(idx, idx[1:], idx[2:]):
        if (k1, k2, j1, j2) != (k0 + 1, k0 + 2, j0 + 1, j0 + 2):
            continue
        got = np.log2((notes["onset"][k2] - notes["onset"][k1]) / (notes["onset"][k1] - notes["onset"][k0]))
        want = np.log2((written[j2] - written[j1]) / (written[j1] - written[j0]))
        n += 1
        bad += abs(got - want) > free + 1e-9
    return bad, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="bench_sung.py's --workdir (songs); the tracks are cached under it")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--parts", nargs="+", default=list(PARTS) + list(ORACLES), choices=list(PARTS) + list(ORACLES))
    args = ap.parse_args(argv)

    import melody
    from melody.align import kernels
    from melody.errors import MelodyError

    split, queries = benchdata.build(1000, 120, 1, args.workdir, n_variation=0, log=None)
    queries = queries[::args.every]
    tdir = os.path.join(args.workdir, "timing_split")
    os.makedirs(tdir, exist_ok=True)
    cat_dir = os.path.join(tdir, f"catalog-{os.getpid()}")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    free = -np.log2(1.0 - melody.align.DEFAULT_PARAMS[kernels.DUR_FREE])
    print(f"{'seed':<5}{'reading':<12}{'R@1':>7}{'R@10':>7}{'TPR':>7}{'FPR':>7}{'noteF':>7}{'short missed':>14}{'ratios off':>12}")
    for seed in args.seeds:
        for part in args.parts:
            tracks = capture(queries, seed, "timing" if part in ORACLES else part, tdir)
            rows, f1, missed, ratio = [], [], np.zeros(2), np.zeros(2)
            for q in queries:
                tr, plan = tracks[q.qid]
                matches = []
                if tr is not None:
                    m = reading(q, tr, seed, part if part in ORACLES else None)
                    f1.append(bench_audio.note_prf(plan["onset"], plan["end"] - plan["onset"], plan["intended"], m.notes)[2])
                    missed += short_missed(m.notes, plan)
                    ratio += ratio_errors(m.notes, plan, q, free)
                    try:
                        matches = cat.search(m, top=10)
                    except MelodyError:
                        pass
                rows.append(bench_accuracy.evaluate(q, matches, ids))
            s = bench_accuracy.summarize(rows)
            print(f"{seed:<5}{part:<12}{s['recall_at_1']:>7.3f}{s['recall_at_10']:>7.3f}{s['tpr']:>7.3f}{s['fpr']:>7.3f}"
                  f"{np.mean(f1):>7.3f}{missed[0] / max(missed[1], 1):>14.2f}{ratio[0] / max(ratio[1], 1):>12.3f}", flush=True)
    shutil.rmtree(cat_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
