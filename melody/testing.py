"""Build test and benchmark songs in code: arrange a lead line and write it as a standard MIDI file.

Times here are in beats (quarter notes). A lead is a list of ``(pitch, start_beats, dur_beats)`` tuples,
optionally with a 4th item, the velocity.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import mido

from .align.pitch import KEY_PROFILES

PPQ = 480
DRUM_CHANNEL = 9
KICK, SNARE, HIHAT = 36, 38, 42

_MAJOR = [(0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min")]   # I ii iii IV V vi
_MINOR = [(0, "min"), (3, "maj"), (5, "min"), (7, "maj"), (8, "maj"), (10, "maj")]  # i III iv V VI VII
_PRIOR = {0: 0.3, 5: 0.15, 7: 0.2}   # tonic, subdominant, dominant are a little likelier


@dataclass
class Track:
    """One MIDI track: notes are ``(pitch, start_beats, dur_beats, velocity)``."""

    name: str
    program: int = 0
    notes: list = field(default_factory=list)
    is_drum: bool = False


def write_midi(path, tracks, bpm=120.0, time_signature=(4, 4), title=None):
    """Write a format-1 SMF (480 ppq): a conductor track, then one track per ``Track``. Returns path."""
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    conductor = mido.MidiTrack()
    if title:
        conductor.append(mido.MetaMessage("track_name", name=str(title), time=0))
    num, den = (int(x) for x in time_signature)
    conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(float(bpm)), time=0))
    mid.tracks.append(conductor)
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    for track in tracks:
        if track.is_drum:
            channel = DRUM_CHANNEL
        elif free:
            channel = free.pop(0)
        else:
            raise ValueError("more than 15 pitched tracks")
        mid.tracks.append(_midi_track(track, channel))
    mid.save(path)
    return path


def _midi_track(track, channel):
    spans = []
    for note in track.notes:
        pitch, start, dur = int(note[0]), float(note[1]), float(note[2])
        velocity = int(note[3]) if len(note) > 3 else 80
        a, b = round(start * PPQ), round((start + dur) * PPQ)
        if dur <= 0 or b <= a:
            continue  # zero-or-negative length
        if a < 0 or not 0 <= pitch <= 127:
            raise ValueError(f"{track.name}: bad note {note!r}")
        spans.append([pitch, a, b, min(max(velocity, 1), 127)])
    spans.sort()
    for k in range(len(spans) - 1):  # same pitch overlapping on one channel: end the first one earlier
        if spans[k][0] == spans[k + 1][0] and spans[k][2] > spans[k + 1][1]:
            spans[k][2] = max(spans[k + 1][1], spans[k][1] + 1)
    events = []
    for pitch, a, b, vel in spans:
        events.append((a, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=vel)))
        events.append((b, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    out = mido.MidiTrack()
    out.append(mido.MetaMessage("track_name", name=track.name, time=0))
    out.append(mido.Message("program_change", channel=channel, program=int(track.program) & 127, time=0))
    now = 0
    for tick, _, msg in events:
        out.append(msg.copy(time=tick - now))
        now = tick
    return out


def estimate_key(lead):
    """(key_pc, minor) of a lead by correlating its duration-weighted pitch classes with key profiles."""
    hist = [0.0] * 12
    for n in lead:
        hist[int(round(n[0])) % 12] += max(float(n[2]), 0.0)
    best = (-2.0, 0, False)
    for minor, profile in ((False, KEY_PROFILES[0].tolist()), (True, KEY_PROFILES[1].tolist())):
        for tonic in range(12):
            r = _corr(hist, [profile[(pc - tonic) % 12] for pc in range(12)])
            best = max(best, (r, tonic, minor))
    return best[1], best[2]


def _corr(x, y):
    mx, my = sum(x) / 12, sum(y) / 12
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return sxy / (sx * sy) if sx and sy else 0.0


def _chords(lead, key_pc, minor, bpb, rng):
    """One triad per bar, as (root_pc, [pitch classes]), chosen to fit the lead's notes in that bar."""
    end = max((float(n[1]) + float(n[2]) for n in lead), default=0.0)
    n_bars = max(1, math.ceil(end / bpb - 1e-9))
    chords = []
    for bar in range(n_bars):
        t0, t1 = bar * bpb, (bar + 1) * bpb
        best = None
        for degree, quality in (_MINOR if minor else _MAJOR):
            root = (key_pc + degree) % 12
            pcs = [root, (root + (3 if quality == "min" else 4)) % 12, (root + 7) % 12]
            score = _PRIOR.get(degree, 0.0) + rng.random() * 0.05
            if bar == n_bars - 1 and degree == 0:
                score += 1.0
            for n in lead:
                overlap = min(t1, float(n[1]) + float(n[2])) - max(t0, float(n[1]))
                if overlap > 0 and int(round(n[0])) % 12 in pcs:
                    score += overlap * (1.5 if abs(float(n[1]) - t0) < 1e-6 else 1.0)
            if best is None or score > best[0]:
                best = (score, root, pcs)
        chords.append((best[1], best[2]))
    return chords


def _voicing(pcs, low, high, previous):
    """Close-position triad within [low, high] that moves least from the previous voicing."""
    options = []
    for base in range(low, high + 1):
        if base % 12 in pcs:
            voicing = [base]
            for _ in range(2):
                nxt = voicing[-1] + 1
                while nxt % 12 not in pcs or nxt % 12 in [v % 12 for v in voicing]:
                    nxt += 1
                voicing.append(nxt)
            if voicing[-1] <= high:
                options.append(voicing)
    target = previous or [(low + high) // 2] * 3
    return min(options, key=lambda v: sum(abs(a - b) for a, b in zip(v, target)))


def accompany(lead, key_pc=0, minor=False, beats_per_bar=4, seed=0):
    """Chords (block triads, C3-C5), bass (roots in octave 2 on beats 1 and 3) and drums for a lead."""
    rng = random.Random(seed)
    bpb = float(beats_per_bar)
    chords = _chords(lead, key_pc, minor, bpb, rng)
    comp = Track("Chords", program=rng.choice([0, 4]))
    bass = Track("Bass", program=33)
    drums = Track("Drums", program=0, is_drum=True)
    hits = [0.0] if rng.random() < 0.5 or bpb < 4 else [0.0, bpb / 2]
    previous = None
    for bar, (root, pcs) in enumerate(chords):
        t0 = bar * bpb
        previous = _voicing(pcs, 48, 72, previous)
        for k, hit in enumerate(hits):
            length = (hits[k + 1] if k + 1 < len(hits) else bpb) - hit
            comp.notes += [(p, t0 + hit, length * 0.95, 62) for p in previous]
        for beat in (0.0, 2.0):
            if beat < bpb:
                bass.notes.append((36 + root, t0 + beat, min(2.0, bpb - beat) * 0.9, 90))
        for k in range(int(bpb * 2)):
            beat = k / 2
            drums.notes.append((HIHAT, t0 + beat, 0.25, 70 if k % 2 == 0 else 50))
            if beat == 0 or (bpb >= 4 and beat == bpb / 2 and beat.is_integer()):
                drums.notes.append((KICK, t0 + beat, 0.25, 100))
            elif beat.is_integer() and int(beat) % 2 == 1:
                drums.notes.append((SNARE, t0 + beat, 0.25, 90))
    return [comp, bass, drums]


def piano_arrangement(lead, key_pc=None, minor=None, beats_per_bar=4, seed=0, name="Piano"):
    """One piano track: the lead on top, left-hand bass notes and chords below (key estimated if None)."""
    if key_pc is None or minor is None:
        guess = estimate_key(lead)
        key_pc = guess[0] if key_pc is None else key_pc
        minor = guess[1] if minor is None else minor
    rng = random.Random(seed)
    bpb = float(beats_per_bar)
    track = Track(name, program=0)
    track.notes = [(int(n[0]), float(n[1]), float(n[2]), int(n[3]) if len(n) > 3 else 92) for n in lead]
    previous = None
    for bar, (root, pcs) in enumerate(_chords(lead, key_pc, minor, bpb, rng)):
        t0 = bar * bpb
        previous = _voicing(pcs, 48, 64, previous)
        for k in range(max(1, int(bpb))):  # bass on the strong beats, chord on the others
            if k == 0 or (bpb >= 4 and k == int(bpb) // 2):
                track.notes.append((36 + root, t0 + k, 0.95, 70))
            else:
                track.notes += [(p, t0 + k, 0.9, 55) for p in previous]
    return track


# ----------------------------------------------------------------------------------- audio renders

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


def soundfont() -> str | None:
    """The General MIDI soundfont Debian's fluid-soundfont-gm installs, or None."""
    import os
    return next((p for p in SOUNDFONTS if os.path.exists(p)), None)


def render_audio(midi_path, out_path, sample_rate=22050, timeout=120.0, gain=0.5):
    """Render a MIDI file to audio with FluidSynth and the GM soundfont (wav; .mp3/.flac/.ogg by extension).

    FluidSynth can hang forever on a zero-length note (a stuck voice), so notes are first given at least
    one tick and the render runs under a timeout. Raises RuntimeError when FluidSynth or the soundfont is
    missing, fails, or times out.
    """
    import os
    import shutil
    import subprocess
    import tempfile

    sf2 = soundfont()
    exe = shutil.which("fluidsynth")
    if not sf2 or not exe:
        raise RuntimeError("FluidSynth or the GM soundfont is missing: apt-get install fluidsynth fluid-soundfont-gm")
    with tempfile.TemporaryDirectory(prefix="melody-render-") as tmp:
        safe = os.path.join(tmp, "in.mid")
        _lengthen_zero_notes(midi_path, safe)
        wav = os.path.join(tmp, "out.wav")
        try:
            proc = subprocess.run([exe, "-ni", "-q", "-g", str(gain), "-r", str(int(sample_rate)), "-F", wav,
                                   sf2, safe], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{midi_path}: FluidSynth did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0 or not os.path.exists(wav):
            raise RuntimeError(f"{midi_path}: FluidSynth failed: {proc.stderr.decode(errors='replace')[:200]}")
        ext = os.path.splitext(os.fspath(out_path))[1].lower()
        if ext == ".wav":
            shutil.move(wav, out_path)
        else:
            import soundfile
            data, sr = soundfile.read(wav, dtype="float32")
            soundfile.write(out_path, data, sr)
    return out_path


def _lengthen_zero_notes(src, dst):
    """Copy a MIDI file, moving every note-off that falls on its own note-on's tick one tick later."""
    mid = mido.MidiFile(src)
    for track in mid.tracks:
        events, now = [], 0
        for msg in track:
            now += msg.time
            events.append([now, msg])
        on_at = {}
        for ev in events:
            msg = ev[1]
            if msg.type == "note_on" and msg.velocity > 0:
                on_at[(msg.channel, msg.note)] = ev[0]
            elif msg.type in ("note_off", "note_on") and on_at.get((msg.channel, msg.note)) == ev[0]:
                ev[0] += 1
        events.sort(key=lambda e: e[0])
        track.clear()
        prev = 0
        for t, msg in events:
            track.append(msg.copy(time=t - prev))
            prev = t
    mid.save(dst)
