#!/usr/bin/env python
"""Sweep rules that drop transcribed notes by Basic Pitch's note activation, without transcribing again.

Each render of scripts/bench_audio.py (and the real recordings) is tracked once (`fuse.fused_track`, the
expensive part of `transcribe`) and the pitch track cached as a pickle; `transcribe` then runs as in the
package, with `melody.audio._pitch_track` reading the cache and `melody.audio.notes_from_track` wrapped by the
rule under test. The figures are bench_audio's own (`transcription_rows`, `evaluate` / `summarize`), so the
rule "none" reproduces bench_audio on the same renders.

    python scripts/heard_sweep.py capture --seed 2 --workdir /tmp/heard/s2 --kind mix
    python scripts/heard_sweep.py sweep --seed 1 --workdir /tmp/heard/s1 --json /tmp/heard/sw1.json
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
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


def data(seed: int, workdir: str):
    with contextlib.redirect_stdout(io.StringIO()):
        split, queries = benchdata.build(1000, 120, seed, workdir, n_variation=0)
        renders = bench_audio.render_all(queries, workdir, log=None)
    return split, queries, renders


def capture(paths, out: str) -> None:
    """basename -> pitch track (None where tracking fails), pickled to `out` per file's bytes and tracker
    code (`keyed.pitch_tracks`)."""
    t0 = time.perf_counter()
    got = keyed.pitch_tracks(out, {os.path.basename(p): p for p in paths})
    print(f"{len(got)} tracks ready in {time.perf_counter() - t0:.0f} s -> {out}", flush=True)


TRACKS: dict = {}
SEARCHED: dict = {}


def install(rule) -> None:
    """transcribe reads cached tracks (computing and keeping any missing one) and keeps the notes `rule`
    keeps: rule(notes, activation) -> boolean mask (activation None without the network)."""
    import melody.audio as audio
    from melody.audio import segment

    code = keyed.tracker_code()

    def cached_track(path, stats, method):
        name, key = os.path.basename(path), keyed.digest("fused track", keyed.file_digest(path), code)
        if TRACKS.get(name, (None, None))[0] != key:        # missing, or tracked from another render
            TRACKS[name] = (key, keyed.fused_track(path))
        return TRACKS[name][1]

    def notes_kept(tr):
        notes = segment.notes_from_track(tr)
        if rule is None:
            return notes
        return rule(notes, segment.note_activation(notes, tr))

    audio._pitch_track = cached_track
    audio.notes_from_track = notes_kept


def load_tracks(files) -> None:
    """Tracks cached by `capture` ({basename: (key, track)}; used only where the key still holds)."""
    for f in files:
        with open(f, "rb") as fh:
            TRACKS.update(pickle.load(fh)["entries"])


# ---- rules: rule(notes, activation) -> the notes kept ---------------------------------------------------
def below(t, kinds=("mix", "solo"), max_dur=None, merge=False, relative=False):
    """Drop notes heard below t (only those shorter than max_dur); with merge, the previous kept note is
    held over a dropped note that follows it without a gap (the dropped note's time joins its neighbour)."""
    def rule(notes, act):
        if act is None or not len(notes):
            return notes
        drop = act < t * (np.median(act) if relative else 1.0)
        if max_dur is not None:
            drop &= notes["duration"] < max_dur
        out = notes.copy()
        if merge:
            prev = -1
            for k in range(len(out)):
                if not drop[k]:
                    prev = k
                elif prev >= 0 and out["onset"][k] - (out["onset"][prev] + out["duration"][prev]) < 0.05:
                    out["duration"][prev] = out["onset"][k] + out["duration"][k] - out["onset"][prev]
        return out[~drop]
    rule.kinds = kinds
    return rule


def edges(t, heard=0.5):
    """Drop notes heard below t only before the file's first and after its last note heard >= `heard` (an
    intro or outro of drums or noise)."""
    def rule(notes, act):
        if act is None or not np.any(act >= heard):
            return notes
        sure = np.flatnonzero(act >= heard)
        k = np.arange(len(notes))
        return notes[~((act < t) & ((k < sure[0]) | (k > sure[-1])))]
    rule.kinds = ("mix", "solo")
    return rule


RULES = {"none": None}
for t in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
    RULES[f"act<{t}"] = below(t)
for t in (0.3, 0.4, 0.5):
    RULES[f"act<{t} mix only"] = below(t, kinds=("mix",))
    RULES[f"act<{t} dur<0.15"] = below(t, max_dur=0.15)
    RULES[f"act<{t} merge"] = below(t, merge=True)
RULES["act<0.2 merge"] = below(0.2, merge=True)
for t in (0.25, 0.3, 0.4, 0.5):
    RULES[f"act<{t} x median"] = below(t, relative=True)
for t in (0.3, 0.5):
    RULES[f"act<{t} at the edges"] = edges(t)


def real_recordings() -> dict:
    """bench_audio.real_recordings for the fused method only (it also runs salience and pYIN on vocadito)."""
    import melody
    import melody.api
    from melody.audio import transcribe

    out, real = {}, bench_audio.REAL
    voc = os.path.join(real, "vocadito")
    m, _ = transcribe(os.path.join(voc, "vocadito_1.wav"), method="fused")
    for ann in ("A1", "A2"):
        ref = np.loadtxt(os.path.join(voc, f"vocadito_1_notes{ann}.csv"), delimiter=",", ndmin=2)
        p, r, f = bench_audio.note_prf(ref[:, 0], ref[:, 2], 69.0 + 12.0 * np.log2(ref[:, 1] / 440.0), m.notes)
        out[f"vocadito_fused_{ann}"] = {"precision": p, "recall": r, "f": f, "n_est": len(m.notes)}
    mast = os.path.join(real, "mastmelody")
    cat_dir = os.path.join("/tmp/heard", f"mast-{os.getpid()}")
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    refs = sorted(f for f in os.listdir(mast) if "_ref" in f and f.endswith(".wav"))
    cat.index([os.path.join(mast, f) for f in refs] + [os.path.join(os.path.dirname(HERE), "reference_tracks")],
              workers=1)
    takes = []
    for f in sorted(f for f in os.listdir(mast) if "_per" in f and f.endswith(".wav")):
        result = melody.api.query_file(os.path.join(mast, f), cat, top=5)
        top = result["matches"][0] if result["matches"] else None
        takes.append({"take": f, "top_is_melody": bool(top and "51_mel1_ref" in top["source"]),
                      "evalue": top and top["evalue"], "flagged": bool(top and top["flagged"])})
    out["mastmelody"] = {"takes": takes, "top1": float(np.mean([t["top_is_melody"] for t in takes]))}
    return out


def sweep(seed: int, workdir: str, rules, out_json: str | None, real: bool, kinds=("mix", "solo"),
          search: bool = True) -> dict:
    import melody
    from melody.audio import transcribe
    from melody.errors import MelodyError

    split, queries, renders = data(seed, workdir)
    cat = melody.Catalog.create(os.path.join(workdir, f"catalog-heard-{os.getpid()}"))
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    results = {}
    for name in rules:
        rule = RULES[name]
        t0 = time.perf_counter()
        res = {}
        for kind in kinds:
            install(rule if rule is not None and kind in rule.kinds else None)
            rows, ret = [], []
            for q, rec in zip(queries, renders):
                lead = np.array([(p, s, d) for p, s, d, _ in q.lead])
                try:
                    m = transcribe(rec[kind], method="fused")[0]
                except MelodyError:
                    m = None
                p, r, f = bench_audio.note_prf(lead[:, 1], lead[:, 2], lead[:, 0], m.notes) if m else (0, 0, 0)
                rows.append((p, r, f, 0 if m is None else len(m.notes), m is None))
                if search:
                    key = (kind, q.qid, None if m is None else m.notes.tobytes())
                    if key not in SEARCHED:      # a rule that leaves the notes as they were: the same result
                        SEARCHED[key] = bench_accuracy.evaluate(q, cat.search(m, top=10) if m is not None else [], ids)
                    ret.append(SEARCHED[key])
                else:
                    ret.append({"positive": False})
            s = bench_accuracy.summarize(ret) if search else {}
            a = np.array(rows)
            res[kind] = {"precision": a[:, 0].mean(), "recall": a[:, 1].mean(), "f": a[:, 2].mean(),
                         "notes": int(a[:, 3].sum()), "refused": int(a[:, 4].sum()),
                         "r1": s.get("recall_at_1", -1), "r10": s.get("recall_at_10", -1), "tpr": s.get("tpr", -1),
                         "fpr": s.get("fpr", -1),
                         "ranks": [x.get("rank") for x in ret]}
        if real:
            install(rule)
            res["real"] = real_recordings()
        results[name] = res
        line = "  ".join(f"{k} P {v['precision']:.3f} R {v['recall']:.3f} F {v['f']:.3f} R@1 {v['r1']:.3f} "
                         f"R@10 {v['r10']:.3f} TPR {v['tpr']:.3f} FPR {v['fpr']:.3f}"
                         for k, v in res.items() if k != "real")
        print(f"{name:<22} {line}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if real:
            r = res["real"]
            print(f"{'':<22} vocadito F A1 {r['vocadito_fused_A1']['f']:.3f} A2 {r['vocadito_fused_A2']['f']:.3f}"
                  f"  mast top1 {r['mastmelody']['top1']}"
                  f"  E {[round(t['evalue'], 3) for t in r['mastmelody']['takes']]}", flush=True)
        if out_json:
            with open(out_json, "w") as fh:
                json.dump(results, fh, indent=1, default=float)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("capture", "sweep"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--kind", choices=("mix", "solo"))
    ap.add_argument("--tracks", nargs="*", default=[], help="pickles of cached tracks")
    ap.add_argument("--rules", nargs="*", default=list(RULES))
    ap.add_argument("--real", action="store_true", help="also vocadito and MASTmelody per rule")
    ap.add_argument("--kinds", nargs="*", default=["mix", "solo"])
    ap.add_argument("--no-search", action="store_true", help="note P/R/F only")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.what == "capture":
        _, _, renders = data(args.seed, args.workdir)
        capture([r[args.kind] for r in renders], os.path.join(args.workdir, f"heard-{args.kind}-tracks.pkl"))
        return 0
    load_tracks(args.tracks)
    sweep(args.seed, args.workdir, args.rules, args.json, args.real, args.kinds, not args.no_search)
    return 0


if __name__ == "__main__":
    sys.exit(main())
