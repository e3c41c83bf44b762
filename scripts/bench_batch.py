"""Batch-scan throughput: files per minute with 1 and 2 local worker processes and a local Dask cluster.

Generates N songs of about 3 minutes (MIDI: a 360-note lead at 120 bpm with chords, bass and drums; every
10th song borrows a 24-note phrase of a reference) and a catalog of R generated reference melodies, then
times `melody scan FILES --catalog C --out RUN` end to end (process start, worker start, reports) in each
mode and checks that every mode gives identical results.

    .venv/bin/python scripts/bench_batch.py [--files 1000] [--refs 300] [--audio 0] [--workdir DIR] [--json OUT]

With --audio N, the first N songs' lead lines are also rendered to WAV and scanned with 2 workers (when this
build reads audio).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
SCAN = [sys.executable, "-m", "melody.cli", "scan"]
ENV = dict(os.environ)


def freeze_code(workdir: str) -> str:
    """Run every mode on one copy of the package: others may change the working tree during the benchmark."""
    target = os.path.join(workdir, "code")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "melody"), os.path.join(target, "melody"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    ENV["PYTHONPATH"] = target
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "melody"], capture_output=True, text=True)
    return head.stdout.strip() + (" + uncommitted changes in melody/" if dirty.stdout.strip() else "")


def make_data(workdir: str, n_files: int, n_refs: int) -> tuple[str, str]:
    from _songs import random_lead, shift
    from melody.catalog import Catalog
    from melody.testing import Track, accompany, write_midi
    songs, refs, catalog = (os.path.join(workdir, x) for x in ("songs", "refs", "catalog"))
    if os.path.exists(os.path.join(workdir, f"done-{n_files}-{n_refs}")):
        return songs, catalog
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(songs)
    os.makedirs(refs)
    rng = np.random.default_rng(2026)
    leads = [random_lead(rng, 48) for _ in range(n_refs)]
    for k, lead in enumerate(leads):
        write_midi(os.path.join(refs, f"ref{k:04d}.mid"), [Track("Lead", 0, lead)])
    for k in range(n_files):
        lead = random_lead(rng, 360, start_pitch=int(rng.integers(60, 72)))
        if k % 10 == 0:                   # a borrowed 24-note phrase in the middle
            ref = leads[int(rng.integers(0, n_refs))]
            mid = len(lead) // 2
            t0 = lead[mid][1]
            phrase = shift(ref[10:34], semitones=int(rng.integers(-5, 6)), t0=t0)
            gap = phrase[-1][1] + phrase[-1][2] - t0
            lead = lead[:mid] + phrase + [(p, s + gap, d) for p, s, d in lead[mid:]]
        sub = os.path.join(songs, f"batch{k // 100:02d}")
        os.makedirs(sub, exist_ok=True)
        write_midi(os.path.join(sub, f"song{k:05d}.mid"), [Track("Lead", 0, lead)] + accompany(lead, seed=k),
                   bpm=120)
    Catalog.open(catalog, create=True).index([refs], workers=2)
    open(os.path.join(workdir, f"done-{n_files}-{n_refs}"), "w").close()
    return songs, catalog


def make_audio(workdir: str, songs: str, n: int) -> str:
    """The first n songs' lead lines rendered to 22.05 kHz WAV (the project's additive synthesiser)."""
    import soundfile

    from melody.io import load
    from melody.report import render
    folder = os.path.join(workdir, f"audio-{n}")
    if os.path.isdir(folder) and len(os.listdir(folder)) == n:
        return folder
    os.makedirs(folder, exist_ok=True)
    files = sorted(os.path.join(r, x) for r, _, xs in os.walk(songs) for x in xs)[:n]
    for path in files:
        melody = load(path)[0]
        out = os.path.join(folder, os.path.basename(path).replace(".mid", ".wav"))
        soundfile.write(out, render(melody.notes, 22050), 22050, subtype="PCM_16")
    return folder


def timed_scan(songs, catalog, run_dir, extra):
    shutil.rmtree(run_dir, ignore_errors=True)
    t = time.perf_counter()
    proc = subprocess.run(SCAN + [songs, "--catalog", catalog, "--out", run_dir, "--quiet", *extra],
                          capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr)
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    with open(os.path.join(run_dir, "results.jsonl")) as fh:
        results = fh.read()
    return seconds, summary, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--refs", type=int, default=300)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "melody-bench-batch"))
    ap.add_argument("--modes", default="local1,local2,dask2")
    ap.add_argument("--audio", type=int, default=0, help="also scan this many songs rendered as WAV (2 workers)")
    ap.add_argument("--json")
    args = ap.parse_args()
    t = time.perf_counter()
    songs, catalog = make_data(args.workdir, args.files, args.refs)
    print(f"data: {args.files} songs, {args.refs} references ({time.perf_counter() - t:.0f} s to make)")
    code = freeze_code(args.workdir)
    print(f"code: {code} (a frozen copy in {args.workdir}/code)")
    modes = {"local1": ["--workers", "1"], "local2": ["--workers", "2"], "dask2": ["--dask", "--workers", "2"]}
    out, reference = {"code": code}, None
    for name in args.modes.split(","):
        load = open("/proc/loadavg").read().split()[0]
        seconds, summary, results = timed_scan(songs, catalog, os.path.join(args.workdir, f"run-{name}"), modes[name])
        c = summary["counts"]
        same = reference is None or results == reference
        reference = reference or results
        out[name] = {"seconds": round(seconds, 1), "files_per_minute": round(60 * c["inputs"] / seconds, 1),
                     "counts": c, "flagged_share": summary["audit"]["flagged_share"], "identical": same,
                     "loadavg_before": float(load)}
        print(f"{name}: {seconds:.1f} s, {out[name]['files_per_minute']} files/min, counts {c}, "
              f"identical to the first mode: {same}, load before {load}", flush=True)
    if args.audio:
        from melody.io import is_supported
        if not is_supported("x.wav"):
            print("audio: this build does not read .wav; skipped")
        else:
            folder = make_audio(args.workdir, songs, args.audio)
            seconds, summary, _ = timed_scan(folder, catalog, os.path.join(args.workdir, "run-audio2"),
                                             ["--workers", "2", "--timeout", "600"])
            c = summary["counts"]
            out["audio2"] = {"seconds": round(seconds, 1), "files_per_minute": round(60 * c["inputs"] / seconds, 2),
                             "counts": c, "flagged_share": summary["audit"]["flagged_share"]}
            print(f"audio2: {seconds:.1f} s, {out['audio2']['files_per_minute']} files/min, counts {c}")
    if "local1" in out:
        for name in [m for m in out if m in modes]:
            out[name]["speedup_vs_1_worker"] = round(out["local1"]["seconds"] / out[name]["seconds"], 2)
        print({k: v["speedup_vs_1_worker"] for k, v in out.items() if k in modes})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
