#!/usr/bin/env python
"""Solo instruments played by a person: note F and retrieval under a player's effects, rendered with FluidSynth.

bench_audio.py renders each song's lead with its General MIDI program exactly as written: no vibrato beyond
the sample's, no pedal, no slurs, one velocity, the written timing. This benchmark plays the same leads (the
same songs, positives and negatives, and the same 1000-tune MIDI catalog) on the same programs and the same
soundfont, with a player's effects written as MIDI controls on the lead track and drawn per take (`--seed`)
at strengths taken from published measurements of players:

- vibrato (bowed strings, winds, voice-like leads): a pitch-bend LFO at 5-7 Hz, a half-width of 10-35 cents
  on strings (violinists' vibrato is 5.5-7 Hz and about +-20 cents wide, wider on long notes: Seashore 1938,
  MacLeod 2008, Geringer, MacLeod & Allen 2010), 8-25 cents on winds (flute, sax, trumpet: narrower; a
  clarinettist mostly plays without, so a clarinet take gets a quarter of it), 15-40 cents on voice-like
  leads; starting 0.1-0.3 s into notes long enough, with 10% rate and width jitter, 50% wider on notes over
  1 s. The pitch-bend range is set to 12 semitones by RPN 0, so slurs (below) can use it too;
- slurs (bowed, winds, voice-like): 40-80% of note changes (per take) joined without a new attack, in slurs
  of 2-6 notes broken at a rest, a repeated note or a leap over an octave. FluidSynth 2.3's legato pedal
  (CC68) and portamento (CC65/CC5) on FluidR3_GM were checked and do *not* slur: a change across two of the
  soundfont's sample zones is re-attacked after a fast release (the level dips 15-20 dB for 10-30 ms on the
  clarinet), so a slur is written as one held MIDI note whose pitch bend moves to each slurred note over
  20-60 ms (a finger change; the sample stretched, no attack). On keyboards and guitars a slur is finger
  legato: the key is released 20-60 ms after the next is struck (key overlap: Repp 1997);
- sustain pedal (piano, guitar-like leads, i.e. plucked and struck sounds): CC64 down over each bar (half bar
  in 4/4 on half of the takes), 60-80% of bars (per take), pressed 50-150 ms after the bar's first onset and
  lifted at the next bar's (syncopated pedalling), so earlier notes ring under later ones;
- dynamics: velocity from a take's level (60-90), an arch over each phrase (+-10-25), accented downbeats
  (+8-20), soft passing notes (short, off the beat: -8-20) and N(0, 5) per note, clipped to 40-110 (Palmer
  1996, Repp 1999: phrase arches and metrical accents of 10-20 velocity units); on sustained instruments each
  note over 0.4 s also swells with CC11 expression (from 55-80% up to full at 40-60% of the note, down to
  80% at its end);
- timing: a smooth tempo curve (log-tempo s.d. 3-8% over ~4 s), a ritardando into each phrase end (the last
  two beats' inter-onset intervals up to 10-25% longer: Repp 1992, Friberg & Sundberg 1999), onset jitter
  N(0, 10-25 ms) (motor noise of skilled players: Repp 2005), notes held for 85-100% of their interval
  (per take) and 10-30% of short notes staccato (40-60% of the interval; Bresin & Battel 2000);
- room: every effect above plus bench_sung's room (bench_audio.in_room: RT60 0.3-1.0 s, pink noise at
  15-30 dB SNR).

Conditions: "plain" (this script's MIDI without effects: bench_audio's solo render, re-rendered here at
22.05 kHz, 0.3 s in, on two channels), each effect alone, "all" (every effect) and "room". An effect that does not apply to a take's
instrument (pedal on a violin, vibrato on a piano) leaves it as plain.

Reported per condition: note P / R / F of the transcribed lead (mir_eval: onset within 50 ms, pitch within
50 cents, offsets ignored) against the written notes at the take's own timing, per family too (struck:
piano, guitar; sustained: strings, winds, voice-like), and retrieval R@1 / R@10 / TPR / FPR against
bench_audio's MIDI catalog; beside them the same songs as MIDI queries and, with --solo-renders, as
bench_audio's FluidSynth solos.

    NUMBA_NUM_THREADS=1 .venv/bin/python scripts/bench_played.py --workdir /tmp/ba --every 3 --seed 0 --json out.json
    ... --conditions plain all                       # a subset
    ... --solo-renders /tmp/ba/audio                 # also bench_audio's own solo renders
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_audio  # noqa: E402
import bench_sung  # noqa: E402
import keyed  # noqa: E402

SR = 22050
EFFECTS = ("vibrato", "slurs", "pedal", "dynamics", "timing")
CONDITIONS = ("plain",) + EFFECTS + ("all", "room")
TICKS_PER_S = 960                 # 480 ppq at 120 bpm: about 1 ms a tick
BEND_RANGE = 12                   # semitones, set by RPN 0 (slurs bend up to an octave)
CONTROL_STEP_S = 0.01             # pitch bend and expression are written every 10 ms while they move


def family(program: int) -> str:
    """'struck' (pianos, chromatic percussion, guitars: a decaying sound, pedalled), 'bowed' (strings),
    'wind' (brass, reeds, pipes) or 'voice' (choir, synth voice, synth leads)."""
    if 40 <= program <= 51:
        return "bowed"
    if 56 <= program <= 79:
        return "wind"
    if 52 <= program <= 55 or 80 <= program <= 87:
        return "voice"
    return "struck"


def draw_take(rng: np.random.Generator) -> dict:
    """One player's take: every effect's strength, drawn once (each condition applies the ones it names)."""
    return {
        "vib_rate": float(rng.uniform(5.0, 7.0)), "vib_delay": float(rng.uniform(0.1, 0.3)),
        "vib_extent": {"bowed": float(rng.uniform(0.10, 0.35)), "wind": float(rng.uniform(0.08, 0.25)),
                       "voice": float(rng.uniform(0.15, 0.40))},
        "slur_share": float(rng.uniform(0.4, 0.8)), "slur_max": int(rng.integers(2, 7)),
        "pedal_half_bar": bool(rng.random() < 0.5), "pedal_share": float(rng.uniform(0.6, 0.8)),
        "level": float(rng.uniform(60, 90)), "arch": float(rng.uniform(10, 25)),
        "accent": float(rng.uniform(8, 20)), "passing": float(rng.uniform(8, 20)),
        "tempo_sd": float(rng.uniform(0.03, 0.08)), "rit": float(rng.uniform(0.10, 0.25)),
        "jitter_s": float(rng.uniform(0.010, 0.025)), "hold": float(rng.uniform(0.85, 1.0)),
        "staccato_share": float(rng.uniform(0.1, 0.3)),
        "rt60": float(rng.uniform(0.3, 1.0)), "snr_db": float(rng.uniform(15.0, 30.0)),
    }


def effects_of(condition: str) -> set[str]:
    if condition == "plain":
        return set()
    if condition in ("all", "room"):
        return set(EFFECTS)
    return {condition}


def _smooth_noise(rng, n: int, every: float) -> np.ndarray:
    """Unit-variance noise varying smoothly over ~`every` samples (linear interpolation of knots)."""
    every = max(every, 1.0)
    knots = rng.normal(size=int(n / every) + 2)
    return np.interp(np.arange(n) / every, np.arange(len(knots)), knots)


def phrase_ends(beat_on: np.ndarray, beat_end: np.ndarray) -> np.ndarray:
    """Whether each written note ends a phrase: a rest of half a beat or more follows it, it is held at least
    twice the median interval and 4 notes have passed since the last phrase end, or it is the last note."""
    n = len(beat_on)
    ioi = np.diff(beat_on)
    med = float(np.median(ioi)) if len(ioi) else 1.0
    out = np.zeros(n, dtype=bool)
    last = -1
    for k in range(n):
        gap = beat_on[k + 1] - beat_end[k] if k + 1 < n else np.inf
        long = (beat_end[k] - beat_on[k]) >= 2 * med and k - last >= 4
        if gap >= 0.5 or long or k == n - 1:
            out[k] = True
            last = k
    return out


def plan(q, program: int, take: dict, effects: set[str], rng) -> dict:
    """The played notes and controls of query `q`'s lead on `program`.

    Every random draw is made whatever `effects` holds (so each condition plays the same take, differing in
    the effects applied). Returns onsets / ends (seconds, performed), written pitches, velocities, the
    slur group of each note (-1: attacked), and control curves: pedal spans, pitch bend and expression."""
    fam = family(program)
    sustained = fam != "struck"
    pitch = np.array([p for p, _, _, _ in q.lead], dtype="f8")
    on = np.array([s for _, s, _, _ in q.lead], dtype="f8")
    end = on + np.array([d for _, _, d, _ in q.lead], dtype="f8")
    n = len(pitch)
    spb = 60.0 / q.bpm
    num, den = q.time_signature
    bar_beats = num * 4.0 / den
    beat_on, beat_end = on / spb, end / spb
    ends_phrase = phrase_ends(beat_on, beat_end)

    # --- timing: tempo curve, ritardando, jitter, articulation
    grid = np.linspace(0.0, end.max() + 2.0, 2000)
    log_tempo = take["tempo_sd"] * _smooth_noise(rng, len(grid), len(grid) * 4.0 / grid[-1])
    rit = np.zeros(len(grid))
    for k in np.flatnonzero(ends_phrase):       # the two beats before each phrase end's note, slowing into it
        t1 = on[k]
        t0 = t1 - 2 * spb
        inside = (grid >= t0) & (grid <= t1 + (end[k] - on[k]))
        rit[inside] = np.maximum(rit[inside], np.clip((grid[inside] - t0) / (2 * spb), 0, 1))
    stretch = np.exp(log_tempo) * (1 + take["rit"] * rit)
    warped = np.concatenate([[0.0], np.cumsum(np.diff(grid) * stretch[:-1])])
    jitter = rng.normal(0.0, take["jitter_s"], n)
    staccato = rng.random(n) < take["staccato_share"]
    staccato_len = rng.uniform(0.4, 0.6, n)
    if "timing" in effects:
        on2 = np.interp(on, grid, warped) + jitter
        for k in range(1, n):                   # in order, at least 50 ms apart
            on2[k] = max(on2[k], on2[k - 1] + 0.05)
        written_len = np.interp(end, grid, warped) - np.interp(on, grid, warped)
        nxt = np.r_[on2[1:], np.inf]
        ioi = np.minimum(nxt - on2, written_len)
        short = (end - on) < np.median(end - on) + 1e-9
        length = np.where(staccato & short, staccato_len * ioi, take["hold"] * written_len)
        end2 = on2 + np.maximum(np.minimum(length, nxt - on2), 0.04)
        on, end = on2, end2
    lead_in = 0.3 - on.min()                    # every take starts 0.3 s in
    on, end = on + lead_in, end + lead_in

    # --- slurs: groups of consecutive notes joined without an attack
    joins = rng.random(n) < take["slur_share"]
    group = np.full(n, -1)
    slur_glide = rng.uniform(0.02, 0.06, n)
    overlap = rng.uniform(0.02, 0.06, n)
    if "slurs" in effects:
        g, size = 0, 1
        for k in range(1, n):
            ok = (joins[k] and size < take["slur_max"] and on[k] - end[k - 1] < 0.05
                  and pitch[k] != pitch[k - 1] and abs(pitch[k] - pitch[k - 1]) <= 12)
            if sustained and ok:
                anchor_ok = group[k - 1] < 0 or np.ptp(np.r_[pitch[group == group[k - 1]], pitch[k]]) <= 12
                if anchor_ok:
                    if group[k - 1] < 0:
                        group[k - 1] = g
                        g += 1
                    group[k] = group[k - 1]
                    size += 1
                    continue
            elif not sustained and ok:          # finger legato: held over the next note's attack
                end[k - 1] = max(end[k - 1], on[k] + overlap[k])
            size = 1

    # --- dynamics
    phrase_id = np.concatenate([[0], np.cumsum(ends_phrase[:-1])])
    arch = np.zeros(n)
    for pid in np.unique(phrase_id):
        idx = np.flatnonzero(phrase_id == pid)
        x = np.linspace(0.0, 1.0, len(idx)) if len(idx) > 1 else np.zeros(1)
        peak = rng.uniform(0.4, 0.7)
        arch[idx] = np.where(x <= peak, x / peak, (1 - x) / (1 - peak)) * 2 - 1   # -1 .. +1 .. -1
    downbeat = np.abs(beat_on / bar_beats - np.round(beat_on / bar_beats)) < 1e-3
    on_beat = np.abs(beat_on - np.round(beat_on)) < 1e-3
    dur_w = beat_end - beat_on
    passing = (~on_beat) & (dur_w < np.median(dur_w))
    noise = rng.normal(0.0, 5.0, n)
    velocity = np.full(n, 100.0)
    if "dynamics" in effects:
        velocity = (take["level"] + take["arch"] * arch + take["accent"] * downbeat
                    - take["passing"] * passing + noise)
    velocity = np.clip(np.round(velocity), 40, 110 if "dynamics" in effects else 127).astype(int)
    swell_from = rng.uniform(0.55, 0.8, n)
    swell_peak = rng.uniform(0.4, 0.6, n)

    # --- pedal (struck and plucked sounds)
    step = bar_beats / 2 if (take["pedal_half_bar"] and num == 4 and den == 4) else bar_beats
    n_spans = int(np.ceil(beat_end.max() / step)) + 1
    pedalled = rng.random(n_spans) < take["pedal_share"]
    press_delay = rng.uniform(0.05, 0.15, n_spans)
    pedal = []
    if "pedal" in effects and not sustained:
        span_of = np.floor(beat_on / step + 1e-6).astype(int)
        for s in np.unique(span_of):
            idx = np.flatnonzero(span_of == s)
            if not pedalled[s]:
                continue
            down = on[idx[0]] + press_delay[s]
            later = np.flatnonzero(span_of > s)
            up = on[later[0]] if len(later) else end[idx[-1]] + 0.5
            if up > down + 0.05:
                pedal.append((down, up))

    # --- vibrato and the slurs' pitch as one pitch-bend curve (semitones), expression (0-1)
    vib_extent = take["vib_extent"].get(fam, 0.0) * (0.25 if program in (71, 72) else 1.0)
    t_end = end.max() + 0.5
    times = np.arange(0.0, t_end, CONTROL_STEP_S)
    bend = np.zeros(len(times))
    expression = np.ones(len(times))
    rate_noise = _smooth_noise(rng, len(times), 0.5 / CONTROL_STEP_S)
    width_noise = _smooth_noise(rng, len(times), 0.5 / CONTROL_STEP_S)
    phase = 2 * np.pi * np.cumsum(take["vib_rate"] * (1 + 0.1 * rate_noise)) * CONTROL_STEP_S
    anchors = pitch.copy()
    for gid in np.unique(group[group >= 0]):
        idx = np.flatnonzero(group == gid)
        anchors[idx] = pitch[idx[0]] if np.ptp(pitch[idx]) == 0 else np.round(np.median(pitch[idx]))
    k_of = np.searchsorted(on, times, side="right") - 1          # the note sounding (latest onset) at each time
    for k in range(n):
        inside = (times >= on[k]) & (times < (on[k + 1] if k + 1 < n else t_end)) & (k_of == k)
        if not inside.any():
            continue
        seg = times[inside] - on[k]
        curve = np.full(len(seg), pitch[k] - anchors[k])
        if group[k] >= 0 and k > 0 and group[k - 1] == group[k]:        # glide from the slurred note before
            curve += (pitch[k - 1] - pitch[k]) * np.clip(1 - seg / slur_glide[k], 0, 1)
        # a slurred note inherits its group's ongoing vibrato; an attacked note starts its own after the delay
        start = on[np.flatnonzero(group == group[k])[0]] if group[k] >= 0 else on[k]
        last = end[np.flatnonzero(group == group[k])[-1]] if group[k] >= 0 else end[k]
        if "vibrato" in effects and vib_extent > 0 and last - start > take["vib_delay"] + 0.15:
            since = times[inside] - start
            ramp = np.clip((since - take["vib_delay"]) / 0.15, 0, 1)
            wide = 1.5 if last - start > 1.0 else 1.0
            j0 = np.searchsorted(times, start)             # the vibrato's phase runs on through a slur
            curve += ramp * vib_extent * wide * (1 + 0.1 * width_noise[inside]) * np.sin(phase[inside] - phase[min(j0, len(times) - 1)])
        bend[inside] = curve
        if "dynamics" in effects and sustained and end[k] - on[k] > 0.4:
            x = np.clip(seg / (end[k] - on[k]), 0, 1)
            expression[inside] = np.where(x < swell_peak[k], swell_from[k] + (1 - swell_from[k]) * x / swell_peak[k],
                                          1 - 0.2 * (x - swell_peak[k]) / (1 - swell_peak[k]))
    return {"onset": on, "end": end, "pitch": pitch, "anchor": anchors, "velocity": velocity, "group": group,
            "pedal": pedal, "times": times, "bend": bend, "expression": expression, "family": fam}


def write_played_midi(path: str, notes: dict, program: int) -> None:
    """The planned take as a one-track MIDI file (120 bpm, 480 ppq: ticks of ~1 ms). Successive notes (a slur
    group is one note held from its first onset to its last end at its anchor pitch) alternate between two
    channels of the same program: pitch bend and expression are a channel's, and on one channel a new note's
    bend would move the previous note's release too (a flute's tail jumping by the next note's bend). On both
    channels RPN 0 sets the pitch-bend range to `BEND_RANGE`; then notes, CC64 pedal, and each channel's pitch
    bend and CC11 expression while its note sounds, where they move."""
    import mido

    ev = []                                 # (tick, order, message): bends / controls before notes on a tick

    def at(t):
        return max(int(round(t * TICKS_PER_S)), 0)

    def bend_value(b):
        return int(np.clip(round(b / BEND_RANGE * 8192), -8192, 8191))

    on, end, group = notes["onset"], notes["end"], notes["group"]
    anchor, vel = notes["anchor"], notes["velocity"]
    times, bend, expression = notes["times"], notes["bend"], notes["expression"]
    n = len(on)
    channel = np.zeros(n, dtype=int)
    k, m = 0, 0
    while k < n:
        last = k
        if group[k] >= 0:
            while last + 1 < n and group[last + 1] == group[k]:
                last += 1
        ch = m % 2
        channel[k:last + 1] = ch
        a, b = at(on[k]), max(at(end[last]), at(on[k]) + 1)
        p = int(anchor[k])
        j = min(int(np.searchsorted(times, on[k] - 1e-9)), len(times) - 1)   # its bend in place as it sounds
        ev.append((a, 0, mido.Message("pitchwheel", channel=ch, pitch=bend_value(bend[j]))))
        ev.append((a, 0, mido.Message("control_change", channel=ch, control=11,
                                      value=int(np.clip(round(expression[j] * 127), 0, 127)))))
        ev.append((a, 2, mido.Message("note_on", channel=ch, note=p, velocity=int(vel[k]))))
        ev.append((b, 1, mido.Message("note_off", channel=ch, note=p, velocity=0)))
        k, m = last + 1, m + 1
    for down, up in notes["pedal"]:
        for ch in (0, 1):
            ev.append((at(down), 0, mido.Message("control_change", channel=ch, control=64, value=127)))
            ev.append((at(up), 0, mido.Message("control_change", channel=ch, control=64, value=0)))
    k_of = np.searchsorted(on, times, side="right") - 1          # the note sounding (latest onset) at each time
    prev = {0: (None, None), 1: (None, None)}
    for t, k, b, e in zip(times, k_of, bend, expression):
        if k < 0:
            continue
        ch = int(channel[k])
        value, ex = bend_value(b), int(np.clip(round(e * 127), 0, 127))
        if value != prev[ch][0]:
            ev.append((at(t), 0, mido.Message("pitchwheel", channel=ch, pitch=value)))
        if ex != prev[ch][1]:
            ev.append((at(t), 0, mido.Message("control_change", channel=ch, control=11, value=ex)))
        prev[ch] = (value, ex)
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    for ch in (0, 1):
        tr.append(mido.Message("program_change", channel=ch, program=int(program) & 127, time=0))
        for control, value in ((101, 0), (100, 0), (6, BEND_RANGE), (38, 0), (101, 127), (100, 127)):
            tr.append(mido.Message("control_change", channel=ch, control=control, value=value, time=0))
    ev.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _, msg in ev:
        tr.append(msg.copy(time=tick - now))
        now = tick
    with keyed.replacing(path) as tmp:
        mid.save(tmp)


def render(q, program: int, condition: str, seed: int, path: str) -> dict:
    """Play query `q` under `condition` into `path` (a wav, with its MIDI beside it); the take's notes."""
    import soundfile

    from melody import testing

    take_rng = np.random.default_rng([seed, zlib.crc32(q.qid.encode())])
    take = draw_take(take_rng)
    notes = plan(q, program, take, effects_of(condition), np.random.default_rng([seed, take_rng.integers(1 << 30)]))
    mid = os.path.splitext(path)[0] + ".mid"
    write_played_midi(mid, notes, program)
    room_rng = np.random.default_rng([seed, take_rng.integers(1 << 30), 7])

    def write(tmp):
        testing.render_audio(mid, tmp, sample_rate=SR)
        if condition == "room":
            x, sr = soundfile.read(tmp, dtype="float64", always_2d=True)
            wet = bench_audio.in_room(x.mean(axis=1), sr, take["rt60"], take["snr_db"], room_rng)
            soundfile.write(tmp, (0.25 * wet / (np.max(np.abs(wet)) + 1e-12)).astype("f4"), sr, subtype="PCM_16")

    key = keyed.digest("played", keyed.file_digest(mid), condition, take["rt60"], take["snr_db"],
                       room_rng.bit_generator.state, SR,
                       keyed.code_of(write, testing.render_audio, bench_audio.in_room, bench_audio.coloured_noise))
    keyed.make(path, key, write)
    return notes


# ------------------------------------------------------------------------------------------- measuring

def cache_tracks(folder: str) -> None:
    """Keep each recording's pitch track (`melody.audio`'s first half: decoding, tracker, network) in
    ``folder``, one pickle per file keyed by the file's bytes and `keyed.tracker_code`, and reuse it: a run
    that changes only the segmentation (``melody/audio/segment.py``) then transcribes in seconds. The rest of
    `melody.audio.transcribe` (notes, refusal, beats) runs as always."""
    import pickle

    import melody.audio as audio

    os.makedirs(folder, exist_ok=True)
    compute = audio._pitch_track
    code = keyed.tracker_code()

    def cached(path, stats, method):
        dst = os.path.join(folder, f"{os.path.basename(path)}-{method}.pkl")
        key = keyed.digest("track", keyed.file_digest(path), method, code)
        if keyed.is_current(dst, key):
            with open(dst, "rb") as fh:
                return pickle.load(fh)
        tr = compute(path, stats, method)

        def write(tmp):
            with open(tmp, "wb") as fh:
                pickle.dump(tr, fh)
        keyed.make(dst, key, write)
        return tr

    audio._pitch_track = cached


def measure(queries, split, conditions, seed: int, workdir: str, solo_dir: str | None, log=print) -> dict:
    """bench_sung's measurement (``bench_sung.measure``) of the played takes, with note F per instrument family."""
    programs = {q.qid: bench_audio.lead_program(q.path, {p for p, _, _, _ in q.lead}) for q in queries}

    def take(q, condition: str, path: str):
        plan = render(q, programs[q.qid], condition, seed, path)
        return plan["onset"], plan["end"] - plan["onset"], plan["pitch"]

    out = bench_sung.measure(queries, split, conditions, seed, workdir, solo_dir, log, take=take, name="played",
                             keep_notes=True)
    families = [family(programs[q.qid]) for q in queries]
    fam = np.array(["struck" if f == "struck" else "sustained" for f in families])
    for kind, s in out.items():
        if s.get("note_rows"):
            f = np.array(s["note_rows"]).reshape(-1, 3)[:, 2]
            for name in ("struck", "sustained"):
                if (fam == name).any():
                    s[f"note_f_{name}"] = float(f[fam == name].mean())
    out["families"] = families
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_sung.take_arguments(ap, "player")
    ap.add_argument("--conditions", nargs="+", default=[c for c in CONDITIONS if c != "room"], choices=CONDITIONS)
    ap.add_argument("--workdir", required=True, help="songs and catalog (bench_audio's); renders go to played-SEED/")
    ap.add_argument("--track-cache", metavar="DIR", help="keep and reuse each recording's pitch track here "
                    "(a run that changes only melody/audio/segment.py then takes minutes)")
    args = ap.parse_args(argv)
    if args.track_cache:
        cache_tracks(args.track_cache)

    split, queries = bench_sung.songs(args)
    res = measure(queries, split, args.conditions, args.seed, args.workdir, args.solo_renders)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": vars(args), "results": res}, fh, indent=1)
    keys = ("note_p", "note_r", "note_f", "note_f_struck", "note_f_sustained", "recall_at_1", "recall_at_10", "tpr", "fpr")
    print(f"\n{'seed ' + str(args.seed):<10}" + "".join(f"{k:>8}" for k in ("noteP", "noteR", "noteF", "F strk", "F sust",
                                                                      "R@1", "R@10", "TPR", "FPR")))
    for kind, s in res.items():
        if kind != "families":
            print(f"{kind:<10}" + "".join(f"{s[k]:>8.3f}" if k in s else " " * 8 for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
