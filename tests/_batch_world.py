"""A small catalog and a folder of query songs for the batch, fault and hostile-input tests."""
from __future__ import annotations

import json
import os

import numpy as np

from _songs import end_of, filler, random_lead, shift, write_abc
from melody.testing import Track, accompany, write_midi


def song(path, lead, bpm=120, seed=0):
    return write_midi(path, [Track("Lead", 0, list(lead))] + accompany(lead, seed=seed), bpm=bpm)


def make_refs(folder, n_midi=6, seed=5):
    """n_midi MIDI references plus one ABC file with two tunes; returns the leads."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    leads = [random_lead(rng, 40) for _ in range(n_midi + 2)]
    for k in range(n_midi):
        song(os.path.join(folder, f"ref{k}.mid"), leads[k], seed=k)
    write_abc(os.path.join(folder, "tunes.abc"), [("Tune A", leads[n_midi]), ("Tune B", leads[n_midi + 1])])
    return leads


def make_queries(folder, leads, n_borrow=4, n_original=4, seed=9):
    """Borrowers (a phrase of leads[k % 3], transposed, between filler) and originals, plus clutter."""
    os.makedirs(os.path.join(folder, "sub"), exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n_borrow):
        borrowed = shift(leads[k % 3][4:30], semitones=k - 2, t0=8.0)
        song(os.path.join(folder, f"borrow{k}.mid"), filler(8) + borrowed + filler(8, 64, end_of(borrowed)),
             bpm=90 + 5 * k, seed=k)
    for k in range(n_original):
        sub = "sub" if k % 2 else ""
        song(os.path.join(folder, sub, f"original{k}.mid"),
             random_lead(rng, 40, start_pitch=70), seed=10 + k)
    return sorted(os.path.join(r, n) for r, _, ns in os.walk(folder) for n in ns)


def journal_lines(run_dir):
    """Parsed journal records (torn lines ignored)."""
    out = []
    with open(os.path.join(run_dir, "journal.jsonl"), "rb") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def results_by_path(run_dir):
    with open(os.path.join(run_dir, "results.jsonl")) as fh:
        return {r["query"]: r for r in map(json.loads, fh)}
