"""Hostile and broken input: every file gives one line naming it, the batch goes on, counts add up;
plus a short bounded run of the loader fuzzer."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from _batch_world import make_refs
from _hostile import build
from melody import batch
from melody.catalog import Catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# files that may legitimately parse (their notes exist, only their timing is absurd) or be rejected
MAY_PARSE = {"absurd tempo", "10,000 tracks", "notes ending before they start", "ABC with syntax errors"}


def good_files():
    good = os.path.join(ROOT, "examples")
    return sorted(os.path.join(good, n) for n in os.listdir(good) if n.endswith(".mid"))[:1]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from melody.api import query_file

    base = tmp_path_factory.mktemp("hostile")
    make_refs(str(base / "refs"), n_midi=3)
    Catalog.open(str(base / "cat"), create=True).index([str(base / "refs")], workers=1)
    # Warm the kernels: the search of a new checkout compiles its Numba kernels once (20-60 s on a loaded
    # machine) and caches them on disk, where the batch's workers load them. Compiled inside the batch, the
    # good file ran into the 10 s per-file limit below and was reported "timed out".
    query_file(good_files()[0], Catalog.open(str(base / "cat")))
    return str(base / "cat")


def test_hostile_corpus_one_line_each_and_the_batch_goes_on(catalog, tmp_path):
    folder = tmp_path / "hostile"
    corpus = build(str(folder))
    good = good_files()
    t0 = time.monotonic()
    report = batch.run([str(folder / "audio"), str(folder)] + good,
                       batch.Settings(catalog, timeout_s=10), str(tmp_path / "run"), workers=2)
    elapsed = time.monotonic() - t0
    c = report.summary["counts"]
    assert c["scanned"] + c["failed"] + c["skipped"] == c["inputs"] and c["pending"] == 0
    rows = {}
    for f in report.summary["failed"]:
        rows[f["path"]] = ("failed", f["error"])
    for s in report.summary["skipped"]:
        rows[s["path"]] = ("skipped", s["reason"])
    with open(os.path.join(report.run_dir, "results.jsonl")) as fh:
        scanned = {r["query"] for r in map(json.loads, fh) if r["status"] == "ok"}
    for label, path in corpus.items():
        outcome, message = rows.get(path, ("scanned" if path in scanned else "missing", ""))
        if label in MAY_PARSE and outcome == "scanned":
            continue
        if label.endswith("wav") and outcome == "skipped":     # audio not supported by this build
            assert message == "unsupported file type", (label, message)
            continue
        assert outcome == "failed", (label, outcome, message)
        assert "\n" not in message and os.path.basename(path) in message, (label, message)
    assert rows[str(folder / "loop")] == ("skipped", "symlinked folder (not followed)")
    assert rows[str(folder / "fifo.mid")] == ("skipped", "not a regular file")
    assert "symbolic links" in rows[corpus["symlink loop (file)"]][1]
    html = open(os.path.join(report.run_dir, "summary.html"), encoding="utf-8", errors="replace").read()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.mid" in html
    assert rows.get(good[0]) is None and good[0] in scanned, rows.get(good[0])   # scanned after all the bad ones
    assert elapsed < 120


def test_fuzz_loaders_bounded_run():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fuzz_loaders.py"), "--seconds", "8",
                           "--json", "-"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["tried"] >= 50 and stats["crashes"] == 0 and stats["hangs"] == 0, stats
    assert set(stats["by_format"]) >= {".mid", ".abc", ".wav"}
