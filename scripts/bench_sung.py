#!/usr/bin/env python
"""Sung and hummed renditions of bench_audio.py's songs: note F and retrieval under a singer's effects.

bench_audio.py renders each song's lead with a General MIDI instrument: in tune, steady, no vibrato beyond
the patch's. This benchmark sings the same leads (the same songs, positives and negatives, and the same
1000-tune MIDI catalog) with a voice synthesised in numpy (harmonics under vowel formants, consonants,
breaths) and a singer's effects drawn per take (`--seed`) at strengths taken from published measurements:

- tuning: the take's own reference pitch, anywhere in +-50 cents of A440 (an unaccompanied singer has no
  reference), drifting over the take as a random walk of 2-8 cents per note (15% of takes 2x). Mauch,
  Frieler & Dixon, "Intonation in unaccompanied singing", JASA 136(1), 2014: median absolute drift 11 cents
  over ~50 s, significant in 22% of takes; the brief's "tens of cents, sometimes a semitone";
- intonation: each note off its intended pitch by N(0, s), s 15-40 cents per take (Mauch et al.: median
  absolute note error 19 cents, i.e. s ~ 28);
- vibrato: 4.5-6.5 Hz, +-30-100 cents (per take), starting 0.15-0.3 s into notes long enough, with 10%
  rate and extent jitter (Timmers & Desain 2000 after Seashore and Sundberg: 5.5-8 Hz and 0.6-2 semitones
  peak to peak for trained singers; amateurs slower and narrower);
- scoops: 30-80% of notes (per take) start 50-200 cents low and glide up over 40-150 ms, or, joined to the
  note before, glide from its pitch (portamento; Timmers & Desain: notes generally start with a rising pitch);
- timing: a smooth tempo curve (log-tempo s.d. 3-10%, over ~3 s) and onset jitter of N(0, 15-35 ms);
- consonants and breaths: 60% of notes start with an unvoiced consonant (a fricative or a plosive burst,
  30-80 ms before the vowel), and a breath (250-400 ms of noise) replaces the end of a note before rests
  and every 4-8 s of continuous singing;
- hum: every effect above, hummed (a nasal /m/: strong fundamental, weak upper harmonics, no consonants,
  notes re-articulated by a dip in loudness);
- room: every effect above plus a room (exponentially decaying noise reverb, RT60 0.3-1.0 s) and pink noise
  at 15-30 dB SNR.

Each take is sung in a voice range (its melody moved by octaves to put the fewest notes outside A3-G5 or
A2-G4, a female or male amateur's range) and in a key of its own (retrieval is transposition invariant). Conditions: "clean" (the voice with no effect), each
effect alone, "all" (every effect), "hum" and "room".

Reported per condition: note P / R / F of the transcription (mir_eval: onset within 50 ms, pitch within 50
cents, offsets ignored) against the notes the singer meant (the written notes at the take's timing and in
the take's tuning at that moment, so a singer's drift is no error but a note sung 60 cents off its intent
is), and retrieval R@1 / R@10 / TPR / FPR against bench_audio's MIDI catalog; beside them the same songs as
MIDI queries and, with --solo-renders (bench_audio's --workdir/audio), as FluidSynth solos.

    NUMBA_NUM_THREADS=1 .venv/bin/python scripts/bench_sung.py --seed 0 --workdir /tmp/sung/w0 --json out.json
    ... --conditions all hum room          # the combined conditions only
    ... --every 3                          # every third song (50 of 150)
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

SR = 22050
EFFECTS = ("tuning", "intonation", "vibrato", "scoops", "timing", "consonants")
CONDITIONS = ("clean",) + EFFECTS + ("all", "hum", "room")
# vowel formants (F1, F2, F3 Hz; bandwidths 80, 120, 200), an adult average (Peterson & Barney 1952)
VOWELS = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410],
                   [300, 870, 2240], [660, 1720, 2410]], dtype="f8")
BANDWIDTHS = np.array([80.0, 120.0, 200.0])


# ------------------------------------------------------------------------------------------- the take

def draw_take(rng: np.random.Generator) -> dict:
    """One singer's take: every effect's strength, drawn once (each condition uses the ones it names)."""
    return {
        "female": bool(rng.random() < 0.5),
        "key": int(rng.integers(-5, 7)),
        "offset": float(rng.uniform(-0.5, 0.5)),                              # semitones
        "drift_step": float(rng.uniform(0.02, 0.08) * (2.0 if rng.random() < 0.15 else 1.0)),
        "note_sd": float(rng.uniform(0.15, 0.40)),
        "vib_rate": float(rng.uniform(4.5, 6.5)), "vib_extent": float(rng.uniform(0.30, 1.00)),
        "vib_delay": float(rng.uniform(0.15, 0.30)),
        "scoop_share": float(rng.uniform(0.3, 0.8)),
        "tempo_sd": float(rng.uniform(0.03, 0.10)), "jitter_s": float(rng.uniform(0.015, 0.035)),
        "consonant_share": 0.6, "breath_every_s": float(rng.uniform(4.0, 8.0)),
        "rt60": float(rng.uniform(0.3, 1.0)), "snr_db": float(rng.uniform(15.0, 30.0)),
    }


def effects_of(condition: str) -> set[str]:
    if condition == "clean":
        return set()
    if condition in ("all", "hum", "room"):
        return set(EFFECTS)
    return {condition}


def _smooth_noise(rng, n: int, every: int) -> np.ndarray:
    """Unit-variance noise varying smoothly over ~`every` samples (linear interpolation of knots)."""
    knots = rng.normal(size=n // every + 2)
    return np.interp(np.arange(n) / every, np.arange(len(knots)), knots)


def plan_notes(lead, take: dict, effects: set[str], rng, drawn: set[str] | None = None) -> dict:
    """The sung notes: onsets, ends (seconds of the take) and intended pitches (the written pitch in the
    take's key, register and tuning at that note), and each note's sung pitch (intent + its error).

    drawn : the effects whose random draws are made (default: `effects`). An effect drawn but not in
        `effects` is not applied, so a take sung without one effect keeps every other effect's draws
        (scripts/all_split.py)."""
    drawn = set(effects) if drawn is None else set(drawn) | set(effects)
    written = np.array([p for p, _, _, _ in lead], dtype="f8")
    on = np.array([s for _, s, _, _ in lead], dtype="f8")
    end = on + np.array([d for _, _, d, _ in lead], dtype="f8")
    low, high = (57, 79) if take["female"] else (45, 67)          # A3-G5, A2-G4: an amateur's range
    shifts = take["key"] + 12 * np.arange(-6, 7)
    outside = [np.sum((written + s < low) | (written + s > high)) for s in shifts]
    best = [s for s, o in zip(shifts, outside) if o == min(outside)]
    shift = min(best, key=lambda s: abs(np.median(written) + s - 0.5 * (low + high)))
    pitch = written + shift
    n = len(pitch)
    tuning = np.zeros(n)
    if "tuning" in drawn:
        tuning = (take["offset"] + np.cumsum(rng.normal(0.0, take["drift_step"], n))) * ("tuning" in effects)
    error = rng.normal(0.0, take["note_sd"], n) * ("intonation" in effects) if "intonation" in drawn else np.zeros(n)
    if "timing" in drawn:
        grid = np.linspace(0.0, end.max() + 1.0, 1000)
        log_tempo = take["tempo_sd"] * _smooth_noise(rng, len(grid), max(int(len(grid) * 3.0 / grid[-1]), 1))
        warped = np.concatenate([[0.0], np.cumsum(np.diff(grid) * np.exp(-log_tempo[:-1]))])
        on2, end2 = np.interp(on, grid, warped), np.interp(end, grid, warped)
        on2 = on2 + rng.normal(0.0, take["jitter_s"], n)
        on2 = np.maximum.accumulate(on2)
        for k in range(1, n):                       # keep notes at least 60 ms apart, in order
            on2[k] = max(on2[k], on2[k - 1] + 0.06)
        end2 = np.minimum(np.maximum(end2, on2 + 0.06), np.r_[on2[1:] - 0.01, np.inf])
        if "timing" in effects:
            on, end = on2, end2
    lead_in = on.min() - 0.3                        # every take starts 0.3 s in
    on, end = on - lead_in, end - lead_in
    return {"onset": on, "end": np.maximum(end, on + 0.05), "intended": pitch + tuning, "sung": pitch + tuning + error}


def sing(notes: dict, take: dict, effects: set[str], rng, hum: bool = False, drawn: set[str] | None = None) -> np.ndarray:
    """The take as audio: a glottal source's harmonics under the vowel's formants (or a hum), the note
    pitches with vibrato and scoops where `effects` says, consonants and breaths. drawn: as `plan_notes`'s
    (the effects whose random draws are made, applied only where `effects` names them)."""
    drawn = set(effects) if drawn is None else set(drawn) | set(effects)
    on, end, sung = notes["onset"], notes["end"], notes["sung"]
    total = int(SR * (end.max() + 0.8))
    t = np.arange(total) / SR
    f0 = np.full(total, np.nan)
    amp = np.zeros(total)
    vowel = np.zeros((total, 3))
    noise = np.zeros(total)
    n = len(on)
    breath_clock = 0.0
    for k in range(n):
        a, b = int(on[k] * SR), int(end[k] * SR)
        if b - a < 4:
            continue
        # a breath before a rest, or after breath_every_s of continuous singing: in the rest, or in the
        # note's tail where the rest is too short for it (at most half the note)
        gap_after = on[k + 1] - end[k] if k + 1 < n else 0.0
        breath_clock += end[k] - on[k]
        if "consonants" in drawn and not hum and k + 1 < n and (gap_after > 0.25 or breath_clock > take["breath_every_s"]):
            length = int(SR * rng.uniform(0.25, 0.40))
            b = max(a + (b - a) // 2, min(b, int(on[k + 1] * SR) - length))
            breath = bench_audio.coloured_noise(rng, length, SR) * np.sin(np.linspace(0, np.pi, length)) * 0.06
            # drawn but not applied: the pause for the breath stays (the voice's later draws depend on it),
            # its noise goes
            noise[b:b + length] += breath[:max(0, min(length, total - b))] * ("consonants" in effects)
            breath_clock = 0.0
        seg = t[a:b] - on[k]
        semitones = np.full(b - a, sung[k])
        if "scoops" in drawn and rng.random() < take["scoop_share"]:
            tau = rng.uniform(0.04, 0.15) / 3.0
            joined = k > 0 and on[k] - end[k - 1] < 0.03
            start = sung[k - 1] if joined and rng.random() < 0.5 else sung[k] - rng.uniform(0.5, 2.0)
            semitones = semitones + ("scoops" in effects) * (start - sung[k]) * np.exp(-seg / tau)
        if "vibrato" in drawn and seg[-1] > take["vib_delay"] + 0.1:
            rate = take["vib_rate"] * (1 + 0.1 * _smooth_noise(rng, b - a, int(0.5 * SR)))
            extent = take["vib_extent"] * (1 + 0.1 * _smooth_noise(rng, b - a, int(0.5 * SR)))
            ramp = np.clip((seg - take["vib_delay"]) / 0.2, 0.0, 1.0)
            semitones = semitones + ("vibrato" in effects) * ramp * extent * np.sin(2 * np.pi * np.cumsum(rate) / SR)
        f0[a:b] = semitones
        attack = int(SR * rng.uniform(0.02, 0.06))
        release = min(int(SR * 0.04), (b - a) // 3)
        env = np.ones(b - a) * 10 ** (rng.normal(0, 3) / 20)
        attack = min(attack, b - a)
        env[:attack] *= np.linspace(0.0, 1.0, attack)
        if release:
            env[-release:] *= np.linspace(1.0, 0.0, release)
        if hum:                                      # re-articulated by a loudness dip, not a consonant
            env[:attack] = np.maximum(env[:attack], rng.uniform(0.2, 0.5))
        amp[a:b] = env
        vowel[a:b] = VOWELS[rng.integers(len(VOWELS))] * rng.uniform(0.9, 1.1)
        if "consonants" in drawn and not hum and rng.random() < take["consonant_share"]:
            length = int(SR * rng.uniform(0.03, 0.08))
            s = max(a - length, 0)
            burst = rng.normal(size=a - s)
            if rng.random() < 0.5:                   # a fricative: high-passed noise
                burst = np.diff(burst, prepend=0.0) * 0.5
            else:                                    # a plosive: a decaying burst
                burst *= np.exp(-np.arange(a - s) / (0.01 * SR))
            noise[s:a] += 0.15 * burst * ("consonants" in effects)
    voiced = np.isfinite(f0)
    hz = np.where(voiced, 440.0 * 2.0 ** ((np.nan_to_num(f0, nan=60.0) - 69.0) / 12.0), 0.0)
    hz *= 1 + 0.002 * _smooth_noise(rng, total, int(0.02 * SR))            # jitter: a voice is never still
    phase = 2 * np.pi * np.cumsum(hz) / SR
    out = np.zeros(total)
    for h in range(1, 30):
        fh = h * hz
        if hum:
            gain = (1.0 / h ** 2) * (1 + 3 * np.exp(-0.5 * ((fh - 250.0) / 100.0) ** 2))
        else:
            gain = (1.0 / h) * (0.05 + sum(np.exp(-0.5 * ((fh - vowel[:, j]) / BANDWIDTHS[j]) ** 2) * (1.0, 0.6, 0.25)[j]
                                           for j in range(3)))
        gain = np.where(fh < SR / 2 - 500, gain, 0.0)
        out += gain * np.sin(h * phase)
    out *= amp * (1 + 0.05 * _smooth_noise(rng, total, int(0.05 * SR)))        # shimmer
    out /= np.sqrt(np.mean(out[voiced] ** 2)) + 1e-12
    return out + noise * (0.0 if hum else 1.0) + 0.003 * rng.normal(size=total)


def room(x: np.ndarray, take: dict, rng) -> np.ndarray:
    """A room (exponentially decaying noise reverb at the take's RT60) and pink noise at its SNR."""
    return bench_audio.in_room(x, SR, take["rt60"], take["snr_db"], rng)


def render(q, condition: str, seed: int, path: str, without: str | None = None) -> dict:
    """Sing query `q` under `condition` into `path` (a wav); the take's notes (what the singer meant).
    without: one of the condition's effects left out, every other draw of the take kept (the same voice)."""
    import soundfile

    import zlib

    take_rng = np.random.default_rng([seed, int(q.qid[1:]) if q.qid[1:].isdigit() else zlib.crc32(q.qid.encode())])
    take = draw_take(take_rng)
    drawn = effects_of(condition)
    effects = drawn - {without}
    rng = np.random.default_rng([seed, take_rng.integers(1 << 30), CONDITIONS.index(condition)])
    notes = plan_notes(q.lead, take, effects, np.random.default_rng([seed, take_rng.integers(1 << 30)]), drawn)

    def write(tmp):
        x = sing(notes, take, effects, rng, hum=condition == "hum", drawn=drawn)
        if condition == "room":
            x = room(x, take, rng)
        soundfile.write(tmp, (0.25 * x / (np.max(np.abs(x)) + 1e-12)).astype("f4"), SR, subtype="PCM_16")

    # the take is sung again unless this file was sung from the same plan, voice and code (`keyed`)
    key = keyed.digest("sung", notes, take, sorted(effects), sorted(drawn), condition, rng.bit_generator.state,
                       SR, VOWELS, BANDWIDTHS, keyed.code_of(write, sing, room, _smooth_noise, bench_audio.in_room,
                                                            bench_audio.coloured_noise))
    keyed.make(path, key, write)
    return notes


# ------------------------------------------------------------------------------------------- measuring

def sung_take(seed: int):
    """The take bench_sung renders for (query, condition, path): the notes the singer meant, as
    (onsets, lengths, pitches)."""
    def take(q, condition: str, path: str):
        plan = render(q, condition, seed, path)
        return plan["onset"], plan["end"] - plan["onset"], plan["intended"]
    return take


def measure(queries, split, conditions, seed: int, workdir: str, solo_dir: str | None, log=print,
            take=None, name: str = "sung", keep_notes: bool = False) -> dict:
    """Per kind (the MIDI query, the FluidSynth solo with ``solo_dir``, each condition's take): retrieval
    against the catalog and note P / R / F. ``take(q, condition, path)`` renders a take to ``path`` and returns
    the notes meant (default: ``sung_take``); takes go to ``workdir/NAME-SEED``. With ``keep_notes`` each
    song's reference and transcribed notes are kept too (``notes``)."""
    import melody
    from melody.audio import transcribe
    from melody.errors import MelodyError

    take = take or sung_take(seed)
    adir = os.path.join(workdir, f"{name}-{seed}")
    os.makedirs(adir, exist_ok=True)
    cat_dir = os.path.join(workdir, f"catalog-{name}-{os.getpid()}")   # runs side by side share renders, not catalogs
    shutil.rmtree(cat_dir, ignore_errors=True)
    cat = melody.Catalog.create(cat_dir)
    ids = bench_accuracy.add_in_order(cat, [t.melody for t in split.catalog])
    kinds = ["midi"] + (["solo"] if solo_dir else []) + list(conditions)
    rows = {k: [] for k in kinds}
    notes_f = {k: [] for k in kinds if k != "midi"}
    notes_kept = {k: [] for k in kinds if k != "midi"}     # (reference, transcribed) per song, for a census
    t0 = time.perf_counter()
    for i, q in enumerate(queries):
        for kind in kinds:
            est, ref = None, None
            try:
                if kind == "midi":
                    m = bench_accuracy.load_query(q.path)
                elif kind == "solo":
                    src = next(os.path.join(solo_dir, f"{q.qid}-solo{e}") for e in (".wav", ".mp3")
                               if os.path.exists(os.path.join(solo_dir, f"{q.qid}-solo{e}")))
                    lead = np.array([(p, s, d) for p, s, d, _ in q.lead])
                    ref = (lead[:, 1], lead[:, 2], lead[:, 0])
                    m = transcribe(src)[0]
                    est = m.notes
                else:
                    path = os.path.join(adir, f"{q.qid}-{kind}.wav")
                    ref = take(q, kind, path)
                    m = transcribe(path)[0]
                    est = m.notes
                matches = cat.search(m, top=10)
            except MelodyError:
                matches = []
            rows[kind].append(bench_accuracy.evaluate(q, matches, ids))
            if kind != "midi":
                notes_f[kind].append(bench_audio.note_prf(*ref, est) if est is not None else (0.0, 0.0, 0.0))
                if keep_notes:
                    notes_kept[kind].append({
                        "ref": np.c_[ref[0], ref[1], ref[2]].round(4).tolist() if ref is not None else None,
                        "est": (np.c_[est["onset"], est["duration"], est["pitch"]].round(4).tolist()
                                if est is not None else None)})
        if log and (i + 1) % 10 == 0:
            log(f"{i + 1}/{len(queries)} songs, {time.perf_counter() - t0:.0f} s")
    shutil.rmtree(cat_dir, ignore_errors=True)
    out = {}
    for kind in kinds:
        s = bench_accuracy.summarize(rows[kind])
        if kind in notes_f:
            prf = np.array(notes_f[kind]).reshape(-1, 3)
            s.update(note_p=float(prf[:, 0].mean()), note_r=float(prf[:, 1].mean()), note_f=float(prf[:, 2].mean()))
        s["rows"] = rows[kind]
        s["note_rows"] = notes_f.get(kind)
        if keep_notes:
            s["notes"] = notes_kept.get(kind)
        out[kind] = s
    return out


def take_arguments(ap: argparse.ArgumentParser, who: str) -> None:
    """The arguments a benchmark of takes of bench_audio's songs shares (this one's and bench_played's): which
    songs, which takes (`who`: whose effects the take seed draws), the FluidSynth solos, the output."""
    ap.add_argument("--n-catalog", type=int, default=1000)
    ap.add_argument("--n-queries", type=int, default=120, help="bench_audio's --n-queries (default 120: 150 songs)")
    ap.add_argument("--song-seed", type=int, default=1, help="bench_audio's --seed: which songs (default 1)")
    ap.add_argument("--seed", type=int, default=0, help=f"the takes: every {who}'s effects (default 0)")
    ap.add_argument("--every", type=int, default=1, help="only every K-th song (default 1: all; 3: 50 of 150)")
    ap.add_argument("--solo-renders", help="bench_audio's renders (its --workdir/audio): also the FluidSynth solos")
    ap.add_argument("--json", metavar="OUT")


def songs(args: argparse.Namespace):
    """(split, queries): bench_audio's songs as `take_arguments` chose them."""
    split, queries = benchdata.build(args.n_catalog, args.n_queries, args.song_seed, args.workdir, n_variation=0)
    return split, queries[::args.every]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    take_arguments(ap, "singer")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--workdir", required=True, help="songs, renders and the catalog (renders are reused)")
    args = ap.parse_args(argv)

    split, queries = songs(args)
    res = measure(queries, split, args.conditions, args.seed, args.workdir, args.solo_renders)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "results": res}, fh, indent=1)
    keys = ("note_p", "note_r", "note_f", "recall_at_1", "recall_at_10", "tpr", "fpr")
    print(f"\n{'seed ' + str(args.seed):<12}" + "".join(f"{k:>7}" for k in ("noteP", "noteR", "noteF", "R@1", "R@10", "TPR", "FPR")))
    for kind, s in res.items():
        print(f"{kind:<12}" + "".join(f"{s[k]:>7.3f}" if k in s else " " * 7 for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
