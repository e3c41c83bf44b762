"""Fault runs: kill -9 of real indexing and scanning processes at random moments, then check and resume.

Indexing trials: a fresh catalog is filled from N small songs in atomic batches of 3 files by a subprocess
that is killed (SIGKILL) at a random moment (once a random number of files is committed, plus a random
delay of 0-0.2 s); the catalog is checked (opens, loads, searches, every file whole
or absent, no orphan melodies), indexing is then run to completion and the catalog compared with the
expected content (files lost, files or melodies duplicated).
Scanning trials: `melody scan --out RUN --workers 2` over M ~3-minute songs is killed (the whole process
group: parent and workers) at a random moment (after a random number of journaled files plus 0-0.2 s), resumed with --resume, and the journal checked (files lost,
files journaled twice) and the results compared with a reference run.

    .venv/bin/python scripts/bench_faults.py [--index-trials 30] [--scan-trials 20] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from _batch_world import journal_lines  # noqa: E402  (raw lines: a duplicate must stay visible)
ENV = {**os.environ, "PYTHONPATH": ROOT}
INDEXER = ("import sys; from melody.catalog import Catalog; "
           "Catalog.open(sys.argv[1], create=True).index([sys.argv[2]], workers=1, batch_files=3)")


def wait_then_kill(proc, progress, target, rng, group=False):
    """SIGKILL `proc` (or its process group) once progress() >= target, after a further random delay:
    the moment is random within the work however loaded the machine is."""
    while proc.poll() is None and progress() < target:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.2))
    if group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def committed_files(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def check_catalog(path, expected):
    """(problems, files): problems is a list of what is wrong with the catalog after a kill."""
    from melody.catalog import Catalog
    problems = []
    try:
        cat = Catalog.open(path)
        rows = cat.store.db.execute("SELECT f.sha256, COUNT(m.id) FROM files f LEFT JOIN melodies m "
                                    "ON m.file_id = f.id GROUP BY f.id").fetchall()
        if any(sha not in expected or n != expected[sha] for sha, n in rows):
            problems.append("a file is partly indexed or unknown")
        if len({sha for sha, _ in rows}) != len(rows):
            problems.append("a file is indexed twice")
        if cat.store.db.execute("SELECT COUNT(*) FROM melodies WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]:
            problems.append("orphan melodies")
        if len(cat) and cat.search(cat.melody(0), top=1)[0].id != cat.packed.entries[0].uid:
            problems.append("search does not find a catalog melody")
        cat.close()
        return problems, rows
    except Exception as exc:   # noqa: BLE001 - any failure to use the catalog is what this counts
        return [f"{type(exc).__name__}: {exc}"], []


def index_trials(n, work, rng):
    from _songs import random_lead
    from melody.catalog import file_hash
    from melody.testing import Track, write_midi
    songs = os.path.join(work, "index-songs")
    os.makedirs(songs, exist_ok=True)
    gen = np.random.default_rng(1)
    for k in range(300):
        write_midi(os.path.join(songs, f"s{k:03d}.mid"), [Track("Lead", 0, random_lead(gen, 32))])
    expected = {file_hash(os.path.join(songs, x)): 1 for x in os.listdir(songs)}
    out = {"trials": n, "killed_mid_index": 0, "corrupt_after_kill": 0, "lost": 0, "duplicated": 0,
           "orphan_segments": 0, "problems": []}
    for trial in range(n):
        catalog = os.path.join(work, "index-cat")
        shutil.rmtree(catalog, ignore_errors=True)
        proc = subprocess.Popen([sys.executable, "-c", INDEXER, catalog, songs], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = os.path.join(catalog, "catalog.sqlite")
        wait_then_kill(proc, lambda: committed_files(db), rng.randrange(0, len(expected)), rng)
        if os.path.exists(os.path.join(catalog, "catalog.sqlite")):
            problems, rows = check_catalog(catalog, expected)
            out["killed_mid_index"] += 0 < len(rows) < len(expected)
            if problems:
                out["corrupt_after_kill"] += 1
                out["problems"].append(problems)
        subprocess.run([sys.executable, "-c", INDEXER, catalog, songs], env=ENV, check=True)
        problems, rows = check_catalog(catalog, expected)
        shas = [sha for sha, _ in rows]
        out["lost"] += len(set(expected) - set(shas))
        out["duplicated"] += len(shas) - len(set(shas))
        used = {r[0] for r in sqlite3.connect(os.path.join(catalog, "catalog.sqlite")).execute(
            "SELECT DISTINCT segment FROM melodies")}
        out["orphan_segments"] += len(set(os.listdir(os.path.join(catalog, "segments"))) - used)
        print(f"index trial {trial + 1}/{n}: {len(shas)} files after completion, problems {problems}", flush=True)
    return out


def scan_trials(n, work, rng, n_files):
    from _batch_world import make_refs
    from _songs import random_lead, shift
    from melody.catalog import Catalog
    from melody.testing import Track, accompany, write_midi
    refs = os.path.join(work, "scan-refs")
    leads = make_refs(refs, n_midi=20)
    catalog = os.path.join(work, "scan-cat")
    Catalog.open(catalog, create=True).index([refs], workers=1)
    songs = os.path.join(work, "scan-songs")
    os.makedirs(songs, exist_ok=True)
    gen = np.random.default_rng(4)
    for k in range(n_files):
        lead = random_lead(gen, 360)
        if k % 4 == 0:
            lead = lead[:100] + shift(leads[k % 20][5:30], t0=lead[100][1]) + \
                [(p, s + 30, d) for p, s, d in lead[100:]]
        write_midi(os.path.join(songs, f"q{k:03d}.mid"), [Track("Lead", 0, lead)] + accompany(lead, seed=k))
    base = [sys.executable, "-m", "melody.cli", "scan", songs, "--catalog", catalog, "--quiet", "--workers", "2"]
    ref_dir = os.path.join(work, "scan-reference")
    shutil.rmtree(ref_dir, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(base + ["--out", ref_dir], env=ENV, check=False, capture_output=True)
    full_s = time.perf_counter() - t
    with open(os.path.join(ref_dir, "results.jsonl")) as fh:
        reference = {r["query"]: r for r in map(json.loads, fh)}
    out = {"trials": n, "files": n_files, "uninterrupted_seconds": round(full_s, 1), "journaled_at_kill": [],
           "lost": 0, "duplicated": 0, "different_results": 0, "resume_failed": 0}
    for trial in range(n):
        run_dir = os.path.join(work, "scan-run")
        shutil.rmtree(run_dir, ignore_errors=True)
        proc = subprocess.Popen(base + ["--out", run_dir], env=ENV, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        journal_path = os.path.join(run_dir, "journal.jsonl")

        def journaled():
            try:
                with open(journal_path, "rb") as fh:
                    return fh.read().count(b"\n")
            except OSError:
                return 0
        wait_then_kill(proc, journaled, rng.randrange(0, n_files), rng, group=True)
        at_kill = len(journal_lines(run_dir)) if os.path.exists(os.path.join(run_dir, "journal.jsonl")) else 0
        out["journaled_at_kill"].append(at_kill)
        done = subprocess.run(base + ["--out", run_dir, "--resume"], env=ENV, capture_output=True, text=True)
        if done.returncode not in (0, 1):
            out["resume_failed"] += 1
            print(done.stderr[-500:])
            continue
        paths = [r["path"] for r in journal_lines(run_dir)]
        out["lost"] += len(set(reference) - set(paths))
        out["duplicated"] += len(paths) - len(set(paths))
        with open(os.path.join(run_dir, "results.jsonl")) as fh:
            results = {r["query"]: r for r in map(json.loads, fh)}
        out["different_results"] += sum(results.get(k) != v for k, v in reference.items())
        print(f"scan trial {trial + 1}/{n}: {at_kill} of {n_files} journaled at the kill; after resume "
              f"{len(paths)} records, {len(set(paths))} distinct", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-trials", type=int, default=30)
    ap.add_argument("--scan-trials", type=int, default=20)
    ap.add_argument("--scan-files", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="melody-faults-")
    result = {"loadavg_before": open("/proc/loadavg").read().split()[:3]}
    if args.index_trials:
        result["index"] = index_trials(args.index_trials, work, rng)
    if args.scan_trials:
        result["scan"] = scan_trials(args.scan_trials, work, rng, args.scan_files)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
