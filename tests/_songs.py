"""Small random songs for the catalog and CLI tests: leads as (pitch, start_beats, dur_beats) tuples."""
from __future__ import annotations

import numpy as np

from melody.notes import Melody, make_notes

STEPS = [-5, -4, -3, -2, -2, -1, -1, 0, 1, 1, 2, 2, 3, 4, 5, 7, -7]
BEATS = [0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0]


def random_lead(rng: np.random.Generator, n: int, start_pitch: int = 67, t0: float = 0.0) -> list[tuple]:
    """A random melody of n notes on a half-beat grid, kept within G3..C6."""
    pitch, t, lead = start_pitch, t0, []
    for _ in range(n):
        d = float(rng.choice(BEATS))
        lead.append((int(pitch), t, d))
        t += d
        pitch = int(np.clip(pitch + rng.choice(STEPS), 55, 84))
    return lead


def filler(n: int, start_pitch: int = 62, t0: float = 0.0, beats: float = 1.0) -> list[tuple]:
    """Notes leaping a tritone up and down: no step of it can match a random_lead step (no +-6 there)."""
    return [(start_pitch + (6 if k % 2 else 0), t0 + k * beats, beats) for k in range(n)]


def shift(lead, semitones=0, t0=None, stretch=1.0):
    """Transpose a lead, move it to start at beat t0 and scale its durations by `stretch`."""
    start = lead[0][1]
    t0 = start if t0 is None else t0
    return [(p + semitones, t0 + (s - start) * stretch, d * stretch) for p, s, d in lead]


def end_of(lead) -> float:
    return lead[-1][1] + lead[-1][2]


def to_melody(lead, bpm=120.0, title="", source="") -> Melody:
    spb = 60.0 / bpm
    return Melody(make_notes([s * spb for _, s, _ in lead], [d * spb for _, _, d in lead],
                             [p for p, _, _ in lead]), title=title, source=source)


_NAMES = ["C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B"]


def abc_note(pitch: int, eighths: int) -> str:
    """ABC for one note (explicit accidental on every note, so bar-wide accidentals never matter)."""
    name = _NAMES[pitch % 12]
    acc, letter = (name[0], name[1]) if name.startswith("^") else ("=", name)
    octave = pitch // 12 - 5   # 0: C4..B4 as upper case
    if octave >= 1:
        text = letter.lower() + "'" * (octave - 1)
    else:
        text = letter + "," * (-octave)
    return f"{acc}{text}{eighths if eighths != 1 else ''}"


def write_abc(path, tunes) -> str:
    """tunes: [(title, lead)] with durations on a half-beat grid; L:1/8, no bar lines, Q:1/4=120."""
    out = []
    for k, (title, lead) in enumerate(tunes, 1):
        body = " ".join(abc_note(p, int(round(d * 2))) for p, _, d in lead)
        out.append(f"X:{k}\nT:{title}\nM:4/4\nL:1/8\nQ:1/4=120\nK:C\n{body} |]\n")
    with open(path, "w") as fh:
        fh.write("\n".join(out))
    return str(path)
