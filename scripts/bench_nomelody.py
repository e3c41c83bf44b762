#!/usr/bin/env python
"""Recordings without a melody: which are refused, and that no recording with one is.

A corpus built in code (numpy synthesis and FluidSynth renders with the GM soundfont, `--seed` varies every line,
tempo, kit and noise) of sounds without a melody (white, pink and brown noise, speech-shaped noise, voiced speech-
like pulses (a man's and a woman's register, 20 s and a minute), mains hum, an 808 kick, six GM drum kits, hand
percussion, a kick drum alone, hi-hats alone, sustained pads) and of lines that are melodies (bass lines, with and
without drums, flute, voice (one with a +-1-semitone vibrato), whistle, cello, choir, timpani, marimba, steel
drums, a sax over hand percussion, a long drum intro before a flute, clipped music); plus the real recordings of
../shared/data/real-audio-dev and, with `--renders`, bench_audio.py's renders (its `--workdir`). Each file goes
through `transcribe`'s pitch track and notes (fused), and the table gives the measures `transcribe` refuses by: the
`MIN_NOTES`-th best note's Basic Pitch note activation (`segment.note_activation`; a file is refused below
`HEARD_NOTE`), and, for speech-like glides, the share of the notes' time their pitch holds
(`segment.note_steadiness`) and their mean activation over their time (a file is refused with both under
`STEADY_SHARE` and `HEARD_NOTE`). "before": the rule before the network (any 3 notes); "count": the count of heard
notes alone; "now": `transcribe`'s verdict.

    .venv/bin/python scripts/bench_nomelody.py --seed 0 --workdir /tmp/nm0 --renders /tmp/ba --json out.json
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keyed  # noqa: E402

REAL = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data", "real-audio-dev")
SR = 22050
KICK, SNARE, HAT, OPEN_HAT, CRASH, TOM_LOW, TOM_MID, TOM_HIGH, TOM_FLOOR = 36, 38, 42, 46, 49, 45, 47, 50, 41
CONGAS_BONGOS, COWBELL, TAMBOURINE = (63, 62, 64, 63, 60, 61, 63, 64), 56, 54
KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "808": 25, "brush": 40}   # GM2 / GS drum kits


# ------------------------------------------------------------------------------------------- synthesis

def level(x: np.ndarray, dbfs: float = -14.0) -> np.ndarray:
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (dbfs / 20)).astype("f4")


def coloured_noise(rng, n: int, exponent: float) -> np.ndarray:
    """Noise with power falling as 1 / f**exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    return np.fft.irfft(spec / f ** (exponent / 2), n)


def syllables(rng, seconds: float):
    """(start, length) in samples of syllable-long bursts with pauses, as in speech."""
    n, t = int(SR * seconds), 0
    while t < n:
        if rng.random() < 0.15:
            t += int(SR * rng.uniform(0.2, 0.6))
            continue
        length = min(int(SR * rng.uniform(0.1, 0.3)), n - t)
        yield t, length
        t += length


def formants(rng, x: np.ndarray) -> np.ndarray:
    from scipy.signal import lfilter

    y = np.zeros(len(x))
    for f, bw in ((rng.uniform(300, 800), 80), (rng.uniform(900, 2300), 120), (rng.uniform(2400, 3200), 200)):
        r, th = np.exp(-np.pi * bw / SR), 2 * np.pi * f / SR
        y += lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], x)
    return y


def speech_noise(rng, seconds: float) -> np.ndarray:
    """Speech's syllable envelope and formants on noise (whispering, a crowd): no pitch."""
    x, out = coloured_noise(rng, int(SR * seconds), 1.0), np.zeros(int(SR * seconds))
    for t, length in syllables(rng, seconds):
        out[t:t + length] = formants(rng, x[t:t + length]) * np.sin(np.linspace(0, np.pi, length)) ** 2
    return out


def voiced_speech(rng, seconds: float, register: float = 1.0) -> np.ndarray:
    """Speech-like voicing: a glottal pulse train whose pitch glides through each syllable (no held notes);
    ``register`` scales the pitch (1: a man's 90-200 Hz, 1.8: a woman's)."""
    out = np.zeros(int(SR * seconds))
    for t, length in syllables(rng, seconds):
        f0 = register * np.linspace(rng.uniform(110, 200), rng.uniform(90, 180), length)
        pulses = (np.diff(np.floor(np.cumsum(f0) / SR), prepend=0) > 0).astype(float)
        out[t:t + length] = formants(rng, pulses) * np.sin(np.linspace(0, np.pi, length)) ** 0.5
    return out


def kick_808(rng, seconds: float, bpm: float) -> np.ndarray:
    x, t = np.zeros(int(SR * seconds)), np.arange(int(0.5 * SR)) / SR
    hit = np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-t / 0.03)) / SR) * np.exp(-t / rng.uniform(0.08, 0.2))
    for k in range(int(seconds * bpm / 60)):
        a = int(k * 60 / bpm * SR)
        x[a:a + len(hit)] += hit[:len(x) - a]
    return x


def sung_line(rng, seconds: float, vibrato: float = 0.3) -> np.ndarray:
    """A voice-like line: held notes with a 5.5 Hz vibrato of +-``vibrato`` semitones, harmonics under a formant,
    breath noise."""
    t = np.arange(int(SR * seconds)) / SR
    note_s = rng.uniform(0.35, 0.7)
    pitch = np.repeat(rng.integers(55, 74, int(seconds / note_s) + 1), int(SR * note_s))[:len(t)]
    f0 = 440 * 2 ** ((pitch - 69 + vibrato * np.sin(2 * np.pi * 5.5 * t)) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    formant = rng.uniform(500, 900)
    v = sum(np.sin(h * phase) / h * np.exp(-0.5 * ((h * f0 - formant) / 600) ** 2) for h in range(1, 16))
    return v + 0.05 * rng.normal(size=len(t))


def drum_kit(bars: int, fills: bool = True, program: int = 0):
    """A GM drum kit's rock beat (kick, snare, eighth hats, a crash every 4 bars), tom fills every 4th bar."""
    from melody.testing import Track

    drums = Track("Drums", program=program, is_drum=True)
    for bar in range(bars):
        t0 = 4 * bar
        drums.notes += [(HAT, t0 + k / 2, 0.25, 70 if k % 2 == 0 else 50) for k in range(8)]
        drums.notes += [(KICK, t0 + b, 0.25, 100) for b in (0, 2.5)] + [(SNARE, t0 + b, 0.25, 95) for b in (1, 3)]
        if bar % 4 == 0:
            drums.notes.append((CRASH, t0, 1.0, 90))
        if fills and bar % 4 == 3:
            toms = (TOM_HIGH, TOM_HIGH, TOM_MID, TOM_MID, TOM_LOW, TOM_LOW, TOM_FLOOR, TOM_FLOOR)
            drums.notes += [(tom, t0 + 2 + k / 4, 0.25, 100) for k, tom in enumerate(toms)]
    return drums


def percussion(bars: int, pattern: str):
    """Hand percussion (congas, bongos, cowbell, tambourine), a kick drum alone, or hi-hats alone."""
    from melody.testing import Track

    drums = Track("Percussion", is_drum=True)
    for bar in range(bars):
        t0 = 4 * bar
        if pattern == "hand":
            drums.notes += [(CONGAS_BONGOS[k % 8], t0 + k / 4, 0.2, 90 if k % 4 == 0 else 70) for k in range(16)]
            drums.notes += [(COWBELL, t0 + b, 0.2, 80) for b in (0, 1.5, 3)] + [(TAMBOURINE, t0 + 2, 0.2, 60)]
        elif pattern == "kick":
            drums.notes += [(KICK, t0 + b, 0.25, 110) for b in range(4)]
        elif pattern == "hats":
            drums.notes += [(HAT if k % 4 else OPEN_HAT, t0 + k / 4, 0.2, 60 + (k % 2) * 20) for k in range(16)]
    return drums


def bass_line(rng, bars: int, program: int = 33):
    """A walking bass: chord tones of a I-IV-V progression in octave 2, one per beat."""
    from melody.testing import Track

    key = int(rng.integers(0, 7))
    roots = [36, 41, 43, 36, 45, 41, 43, 43]
    shapes = ([0, 4, 7, 9], [0, 7, 5, 4], [0, 2, 4, 7])
    notes = []
    for bar in range(bars):
        shape = shapes[int(rng.integers(0, 3))]
        notes += [(key + roots[bar % 8] + step, 4 * bar + j, 0.9, 95) for j, step in enumerate(shape)]
    return Track("Bass", program=program, notes=notes)


def line(rng, n: int, low: int = 62, high: int = 84, shift: int = 0) -> list[tuple]:
    """A random stepwise melody (pitch, start_beats, dur_beats, velocity) between low and high."""
    pitch = np.clip(int(rng.integers(low + 4, high - 4)) + np.cumsum(rng.integers(-3, 4, n)), low, high)
    notes, t = [], 0.0
    for p in pitch:
        d = float(rng.choice([0.5, 1, 1, 2]))
        notes.append((int(p) + shift, t, d * 0.95, 95))
        t += d
    return notes


def pad(chords, beats_each: float, program: int = 89):
    from melody.testing import Track

    return Track("Pad", program=program, notes=[(p, k * beats_each, beats_each, 80)
                                                for k, chord in enumerate(chords) for p in chord])


PROGRESSION = [[48, 55, 64, 67], [45, 57, 60, 64], [41, 57, 60, 65], [43, 55, 59, 62]]


def build(folder: str, seed: int) -> list[tuple[str, str, str]]:
    """Write the corpus into `folder`: (name, "none" or "melody", path) per file."""
    import soundfile

    from melody.testing import Track, render_audio, write_midi

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    out = []

    # every file is written aside and moved into place (`keyed.replacing`): a workdir copied with hard
    # links never has the other copy's file written through
    def wav(name, kind, x):
        path = os.path.join(folder, name + ".wav")
        with keyed.replacing(path) as tmp:
            soundfile.write(tmp, level(x), SR)
        out.append((name, kind, path))

    def midi(name, kind, tracks, bpm, ext=".wav"):
        mid, path = os.path.join(folder, name + ".mid"), os.path.join(folder, name + ext)
        with keyed.replacing(mid) as tmp:
            write_midi(tmp, tracks, bpm=bpm)
        rate = int(rng.choice([22050, 44100]))
        with keyed.replacing(path) as tmp:
            render_audio(mid, tmp, sample_rate=rate)
        out.append((name, kind, path))

    def tempo(low=80, high=170):
        return float(rng.uniform(low, high))

    n = 20 * SR
    for name, exponent in (("white_noise", 0.0), ("pink_noise", 1.0), ("brown_noise", 2.0)):
        wav(name, "none", coloured_noise(rng, n, exponent))
    wav("speech_noise", "none", speech_noise(rng, 20))
    wav("voiced_speech", "none", voiced_speech(rng, 20))
    t = np.arange(n) / SR
    hum = sum(np.sin(2 * np.pi * rng.choice([50, 60]) * h * t) / h for h in range(1, 6))
    wav("hum_and_noise", "none", 0.3 * hum / np.std(hum) + coloured_noise(rng, n, 1.0) / 3e2)
    wav("kick_808", "none", kick_808(rng, 20, tempo(70, 140)))
    for kit, program in KITS.items():
        midi(f"drums_{kit}", "none", [drum_kit(24, program=program)], tempo(), ".mp3" if kit == "brush" else ".wav")
    midi("hand_percussion", "none", [percussion(16, "hand")], tempo(80, 120))
    midi("kick_only", "none", [percussion(16, "kick")], tempo(90, 130))
    midi("hats_only", "none", [percussion(12, "hats")], tempo(90, 130))
    midi("pad_one_chord", "none", [pad([PROGRESSION[int(rng.integers(0, 4))]], 40)], 120)
    midi("pad_chords", "none", [pad(PROGRESSION * 3, 8)], 120)
    midi("bass_line", "melody", [bass_line(rng, 16)], tempo(90, 130))
    midi("bass_and_drums", "melody", [bass_line(rng, 16), drum_kit(16)], tempo(90, 130))
    midi("bass_fast", "melody", [bass_line(rng, 24)], tempo(150, 180), ".mp3")
    midi("slap_bass", "melody", [bass_line(rng, 12, program=36)], tempo(90, 120))
    midi("synth_bass_and_drums", "melody", [bass_line(rng, 12, program=38), drum_kit(12, program=24)], tempo(110, 130))
    midi("flute_line", "melody", [Track("Flute", 73, line(rng, 40))], tempo(80, 130))
    midi("flute_and_drums", "melody", [Track("Flute", 73, line(rng, 40)), drum_kit(12)], tempo(80, 130))
    midi("voice_line", "melody", [Track("Voice", 53, line(rng, 30, 55, 76))], tempo(70, 110))
    midi("whistle_line", "melody", [Track("Whistle", 78, line(rng, 30, 72, 90))], tempo(90, 130))
    midi("cello_line", "melody", [Track("Cello", 42, line(rng, 30, shift=-24))], tempo(60, 100))
    midi("marimba_line", "melody", [Track("Marimba", 12, line(rng, 40))], tempo(100, 140))
    midi("choir_line", "melody", [Track("Choir", 52, line(rng, 24, 55, 76))], tempo(70, 100))
    midi("timpani_line", "melody", [Track("Timpani", 47, line(rng, 16, 62, 74, shift=-24))], tempo(60, 90))
    midi("steel_drums_line", "melody", [Track("Steel drums", 114, line(rng, 30))], tempo(90, 130))
    midi("sax_and_percussion", "melody", [Track("Sax", 65, line(rng, 40)), percussion(16, "hand")], tempo(90, 120))
    midi("pad_and_lead", "melody", [pad(PROGRESSION * 3, 8), Track("Lead", 80, line(rng, 40))], 120)
    intro = 4 * 20     # 20 bars of drums alone, then the flute enters
    midi("drum_intro_then_flute", "melody", [drum_kit(30), Track("Flute", 73, [(p, s + intro, d, v) for p, s, d, v
                                                                               in line(rng, 30)])], tempo(100, 130))
    wav("sung_line", "melody", sung_line(rng, 15))
    band, sr = soundfile.read(out[[o[0] for o in out].index("flute_and_drums")][2], dtype="float32")
    path = os.path.join(folder, "clipped_band.wav")     # driven 12 dB into the rails
    with keyed.replacing(path) as tmp:
        soundfile.write(tmp, np.clip(band / np.abs(band).max() * 4.0, -1, 1), sr)
    out.append(("clipped_band", "melody", path))
    # drawn last, so that the files above keep their draws: a woman's voice (the network hears more of its
    # syllables as notes) and a minute of speech (more flat syllables than 20 s)
    wav("voiced_speech_high", "none", voiced_speech(rng, 20, register=1.8))
    wav("voiced_speech_long", "none", voiced_speech(rng, 60))
    # and a singer's wide vibrato (+-1 semitone): within half a semitone of its note a third of the time
    wav("sung_line_wide_vibrato", "melody", sung_line(rng, 15, vibrato=1.0))
    return out


# ---------------------------------------------------------------------------------------- measuring

def measure(path: str) -> dict:
    """`transcribe`'s (fused) pitch track and notes of one file, and its no-melody measure."""
    from melody import audio
    from melody.audio.decode import AudioStats
    from melody.audio.segment import note_activation, note_steadiness, notes_from_track
    from melody.errors import MelodyError

    t0 = time.perf_counter()
    try:
        stats = AudioStats(path)
        tr = audio._pitch_track(path, stats, "fused")
    except MelodyError as exc:
        return {"notes": 0, "heard": 0, "kth": 0.0, "median": 0.0, "steady": 0.0, "heard_time": 0.0,
                "early": str(exc), "seconds": None, "time": time.perf_counter() - t0, "refused": True,
                "refused_before": True}
    notes = notes_from_track(tr)
    act = note_activation(notes, tr)
    voiced = float(np.isfinite(tr.midi).mean()) if len(tr.midi) else 0.0
    heard = int(np.sum(act >= audio.HEARD_NOTE))
    ranked = np.sort(act)[::-1]
    kth = float(ranked[audio.MIN_NOTES - 1]) if len(ranked) >= audio.MIN_NOTES else 0.0
    steady, heard_time = audio.time_share(notes, note_steadiness(notes, tr)), audio.time_share(notes, act)
    return {"notes": len(notes), "heard": heard, "kth": kth, "median": float(np.median(act)) if len(act) else 0.0,
            "steady": steady, "heard_time": heard_time, "seconds": stats.seconds, "time": time.perf_counter() - t0,
            "refused": audio.refusal(voiced, len(notes), heard, steady, heard_time) is not None,
            "refused_count": voiced < audio.MIN_VOICED_FRACTION or heard < audio.MIN_NOTES,
            "refused_before": voiced < audio.MIN_VOICED_FRACTION or len(notes) < audio.MIN_NOTES}


def real_files() -> list[tuple[str, str, str]]:
    paths = sorted(glob.glob(os.path.join(REAL, "vocadito", "*.wav")) + glob.glob(os.path.join(REAL, "mastmelody", "*.wav")))
    return [("real:" + os.path.basename(p)[:-4], "melody", p) for p in paths]


def render_files(workdir: str) -> list[tuple[str, str, str]]:
    """The recordings of bench_audio.py's --workdir (its audio/: mixes, solos, rooms) or of a folder of them
    (bench_sung.py's takes, --workdir/sung-S)."""
    folder = os.path.join(workdir, "audio") if os.path.isdir(os.path.join(workdir, "audio")) else workdir
    paths = sorted(p for p in glob.glob(os.path.join(folder, "*")) if p.endswith((".wav", ".mp3", ".flac")))
    return [("render:" + os.path.basename(p), "melody", p) for p in paths]


def _verdict(refused: bool) -> str:
    return "refused" if refused else "accepted"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="varies the corpus's lines, tempi, kits and noise")
    ap.add_argument("--workdir", required=True, help="where the corpus is written")
    ap.add_argument("--renders", action="append", default=[],
                    help="bench_audio.py's --workdir or a folder of takes (bench_sung.py's --workdir/sung-S): "
                         "its recordings are measured too (must pass); repeatable")
    ap.add_argument("--no-real", action="store_true", help="skip ../shared/data/real-audio-dev")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)

    from melody import audio

    files = build(args.workdir, args.seed)
    files += [] if args.no_real else real_files()
    files += [f for folder in args.renders for f in render_files(folder)]
    print(f"{'file':<44}{'kind':<8}{'notes':>6}{'heard':>6}{'k-th':>7}{'median':>7}{'steady':>7}{'h.time':>7}"
          f"  {'before':<9}{'count':<9}now")
    rows = []
    for name, kind, path in files:
        row = {"name": name, "kind": kind, **measure(path)}
        rows.append(row)
        if not name.startswith("render:"):
            print(f"{name:<44}{kind:<8}{row['notes']:>6}{row['heard']:>6}{row['kth']:>7.2f}{row['median']:>7.2f}"
                  f"{row['steady']:>7.2f}{row['heard_time']:>7.2f}  {_verdict(row['refused_before']):<9}"
                  f"{_verdict(row.get('refused_count', True)):<9}{_verdict(row['refused'])}", flush=True)
    wrong = [r for r in rows if r["refused"] != (r["kind"] == "none")]
    for kind in ("none", "melody"):
        sel = [r for r in rows if r["kind"] == kind]
        kth = np.array([r["kth"] for r in sel])
        print(f"{kind}: {len(sel)} files, refused {sum(r['refused_before'] for r in sel)} before, "
              f"{sum(r['refused'] for r in sel)} now; measure ({audio.MIN_NOTES}-th best "
              f"note activation) min {kth.min():.2f} median {np.median(kth):.2f} max {kth.max():.2f}")
    renders = [r for r in rows if r["name"].startswith("render:")]
    if renders:
        kth = np.array([r["kth"] for r in renders])
        print(f"renders: {len(renders)}, refused {sum(r['refused'] for r in renders)}, measure min {kth.min():.2f}, "
              f"1st percentile {np.percentile(kth, 1):.2f}")
    # speech-like: the notes glide (steady) and the network hears them weakly (heard time); both below to refuse
    for kind in ("none", "melody"):
        sel = [r for r in rows if r["kind"] == kind and "early" not in r and r["heard"] >= audio.MIN_NOTES]
        if sel:
            st, ht = np.array([r["steady"] for r in sel]), np.array([r["heard_time"] for r in sel])
            print(f"{kind} passing the count ({len(sel)}): steady min {st.min():.2f} max {st.max():.2f}; "
                  f"heard time min {ht.min():.2f} max {ht.max():.2f}; speech-like "
                  f"{int(np.sum((st < audio.STEADY_SHARE) & (ht < audio.HEARD_NOTE)))}")
    print(f"threshold HEARD_NOTE {audio.HEARD_NOTE}, STEADY_SHARE {audio.STEADY_SHARE}; "
          f"wrong: {[(r['name'], r['kind']) for r in wrong]}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "heard_note": audio.HEARD_NOTE, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
