"""Build a large synthetic catalog (for scale benchmarks) with known melodies planted in it.

    .venv/bin/python scripts/make_catalog.py --count 100000 --catalog /tmp/cat100k [--plant 200] [--seed 0]

The synthetic melodies come from a model of the real corpus:

* intervals: the smoothed trigram model of `melody.commonness` (counted over ~11,600 public-domain folk tunes
  of music21's corpus), sampled step by step, so interval statistics (and hence the commonness weights and
  chance alignment scores) are those of real folk melodies; the pitch is kept in a singable register by
  reflecting a step that would leave it;
* rhythm: a second-order Markov chain over note lengths relative to the melody's median note length
  (classes 1/4 .. 4), counted over the training catalog (default: the default catalog, i.e. the same corpus);
  notes are then placed in bars of 2, 3 or 4 quarter notes, so bar / beat (metric classes) exist as for
  scores;
* lengths: 30-200 notes, drawn from the training catalog's length distribution clipped to that range.

`--plant K` copies K real melodies of the training catalog (30+ notes, distinct) into the new catalog at random
positions; their new ids, source ids and titles go to DIR/planted.json (the truth for scripts/bench_scale.py).
Melodies are added with `Catalog.add` in batches of `--batch` (one segment and one SQLite transaction each);
the per-batch add time is printed so a slowdown with catalog size shows. Finally the packed step cache is
built (what the first query would otherwise pay). Everything is seeded: the same arguments give the same
catalog.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from melody.catalog import Catalog, default_catalog_path  # noqa: E402
from melody.commonness import N_SYMBOLS, P_TRIGRAM, START  # noqa: E402
from melody.notes import NOTE_DTYPE, Melody  # noqa: E402

LEN_CLASSES = np.array([0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])   # x the median note length
N_LEN = len(LEN_CLASSES)
LEN_START = N_LEN                # context symbol before the first length
MIN_LEN, MAX_LEN = 30, 200
REGISTER = (50, 86)              # reflect steps that would leave this pitch range
METERS = np.array([2.0, 3.0, 4.0])
METER_P = np.array([0.25, 0.3, 0.45])


def _peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Model:
    """Interval trigram (commonness), length-class trigram and melody-length distribution."""

    def __init__(self, train: Catalog):
        p = train.packed
        counts = np.diff(p.offsets)
        ok = counts >= 3
        self.lengths = np.clip(counts[ok], MIN_LEN, MAX_LEN)
        # length classes of every step (nearest class in log), with the per-melody context
        cls = np.abs(np.log2(np.maximum(p.length, 1e-3))[:, None] - np.log2(LEN_CLASSES)[None, :]).argmin(1)
        pos = np.arange(len(cls)) - np.repeat(p.step_offsets[:-1], np.diff(p.step_offsets))
        prev1 = np.concatenate([[LEN_START], cls[:-1]])
        prev2 = np.concatenate([[LEN_START, LEN_START], cls[:-2]])
        prev1[pos < 1] = LEN_START
        prev2[pos < 2] = LEN_START
        c3 = np.zeros((N_LEN + 1, N_LEN + 1, N_LEN))
        np.add.at(c3, (prev2, prev1, cls), 1.0)
        c2 = c3.sum(0)
        p2 = (c2 + 1.0) / (c2 + 1.0).sum(1, keepdims=True)
        p3 = (c3 + 5.0 * p2[None]) / (c3.sum(2, keepdims=True) + 5.0)
        self.len_cdf = np.cumsum(p3, axis=2)
        pt = P_TRIGRAM / P_TRIGRAM.sum(axis=2, keepdims=True)
        self.iv_cdf = np.cumsum(pt, axis=2)

    def generate(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n melodies: (notes NOTE_DTYPE concatenated, offsets), vectorised over melodies."""
        n_notes = self.lengths[rng.integers(0, len(self.lengths), n)]
        width = int(n_notes.max())
        iv = np.zeros((n, width))              # step k leads into note k (column 0 unused)
        ln = np.zeros((n, width))              # length class of note k (in units of the median)
        s1 = np.full(n, START)
        s2 = np.full(n, START)
        l1 = np.full(n, LEN_START)
        l2 = np.full(n, LEN_START)
        pitch = np.empty((n, width))
        pitch[:, 0] = rng.integers(60, 73, n)
        rows = np.arange(n)
        for k in range(width):
            u = rng.random(n)
            lk = (u[:, None] > self.len_cdf[l2, l1]).sum(1).clip(0, N_LEN - 1)
            ln[:, k] = LEN_CLASSES[lk]
            l2, l1 = l1, lk
            if k == 0:
                continue
            u = rng.random(n)
            sk = (u[:, None] > self.iv_cdf[s2, s1]).sum(1).clip(0, N_SYMBOLS - 1)
            step = (sk - 13).astype("f8")
            nxt = pitch[:, k - 1] + step
            out = (nxt < REGISTER[0]) | (nxt > REGISTER[1])
            step[out] = -step[out]
            pitch[:, k] = pitch[:, k - 1] + step
            s2, s1 = s1, np.where(out, 26 - sk, sk)
        del rows
        # place notes in time: the median length is 0.5 or 1 quarter note; bars of 2, 3 or 4 quarters
        unit_q = rng.choice([0.5, 1.0], n, p=[0.4, 0.6])
        meter = rng.choice(METERS, n, p=METER_P)
        sec_per_q = rng.uniform(0.3, 0.8, n)
        dur_q = ln * unit_q[:, None]
        onset_q = np.cumsum(dur_q, axis=1) - dur_q
        keep = np.arange(width)[None, :] < n_notes[:, None]
        notes = np.zeros(int(keep.sum()), dtype=NOTE_DTYPE)
        notes["onset"] = (onset_q * sec_per_q[:, None])[keep]
        notes["duration"] = (dur_q * sec_per_q[:, None])[keep]
        notes["pitch"] = pitch[keep]
        notes["bar"] = (np.floor(onset_q / meter[:, None]) + 1)[keep]
        notes["beat"] = np.mod(onset_q, meter[:, None])[keep]
        offsets = np.zeros(n + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(n_notes)
        return notes, offsets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, required=True, help="melodies in the new catalog (planted included)")
    ap.add_argument("--catalog", required=True, help="new catalog folder (must not hold a catalog yet)")
    ap.add_argument("--plant", type=int, default=200, help="real corpus melodies planted (default 200)")
    ap.add_argument("--train", default=None, help="catalog of real melodies to train rhythm on and plant from "
                    "(default: the default catalog)")
    ap.add_argument("--batch", type=int, default=20000, help="melodies per Catalog.add call (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if os.path.exists(os.path.join(args.catalog, "catalog.sqlite")):
        ap.error(f"{args.catalog} already holds a catalog; remove it first")
    t0 = time.perf_counter()
    train = Catalog.open(args.train or default_catalog_path(), read_only=True)
    model = Model(train)
    rng = np.random.default_rng(args.seed)
    tp = train.packed
    counts = np.diff(tp.offsets)
    eligible = np.flatnonzero(counts >= MIN_LEN)
    n_plant = min(args.plant, len(eligible), args.count)
    planted_rows = rng.choice(eligible, n_plant, replace=False)
    plant_at = np.sort(rng.choice(args.count, n_plant, replace=False))   # positions in the new catalog
    plant_of = dict(zip(plant_at.tolist(), planted_rows.tolist()))
    print(f"model trained on {len(tp.entries)} melodies in {time.perf_counter() - t0:.1f} s", flush=True)

    cat = Catalog.create(args.catalog)
    truth = []
    gen_s = add_s = 0.0
    done = 0
    while done < args.count:
        n = min(args.batch, args.count - done)
        t = time.perf_counter()
        notes, offsets = model.generate(n, rng)
        melodies = []
        planted_here = []
        for k in range(n):
            pos = done + k
            if pos in plant_of:
                src = train.melody(plant_of[pos])
                melodies.append(Melody(np.array(src.notes), title=src.title, composer=src.composer,
                                       source=f"planted:{args.seed}:{pos}"))
                planted_here.append((k, plant_of[pos], src))
            else:
                melodies.append(Melody(notes[offsets[k]:offsets[k + 1]], title=f"synthetic {pos}",
                                       source=f"synthetic:{args.seed}:{pos}"))
        t1 = time.perf_counter()
        uids = cat.add(melodies)
        t2 = time.perf_counter()
        gen_s += t1 - t
        add_s += t2 - t1
        for k, row, src in planted_here:
            truth.append({"uid": uids[k], "position": done + k, "source_uid": tp.entries[row].uid,
                          "title": src.title, "notes": len(src.notes)})
        done += n
        print(f"{done:>9,} melodies: generate {t1 - t:5.2f} s, add {t2 - t1:5.2f} s "
              f"({n / max(t2 - t1, 1e-9):,.0f} melodies/s)", flush=True)
    t = time.perf_counter()
    cat._packed = None
    cat2 = Catalog.open(args.catalog)
    n_rows = len(cat2.packed.entries)              # builds and saves the packed step cache
    pack_s = time.perf_counter() - t
    with open(os.path.join(args.catalog, "planted.json"), "w") as fh:
        json.dump({"seed": args.seed, "count": args.count, "train": train.path, "planted": truth}, fh, indent=1)
    total = time.perf_counter() - t0
    info = cat2.info()
    print(f"catalog {args.catalog}: {n_rows:,} melodies, {info['notes']:,} notes, {info['bytes'] / 1e6:,.0f} MB; "
          f"{len(truth)} planted (planted.json)")
    print(f"build {total:.1f} s: generate {gen_s:.1f} s, Catalog.add {add_s:.1f} s, pack + cache {pack_s:.1f} s; "
          f"peak RSS {_peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
