"""Hear a match: a small additive synthesiser (no sound fonts) and the two passages one after the other."""
from __future__ import annotations

import io

import numpy as np

from ..notes import Melody
from .passage import passage

HARMONICS = (1.0, 0.5, 0.3, 0.15, 0.08)   # amplitudes of partials 1..5: a soft, organ-like tone
ATTACK_S, RELEASE_S, DECAY_PER_S = 0.01, 0.08, 1.5
GAP_S = 0.5
MAX_SECONDS = 600.0


def render(notes: np.ndarray, sr: int = 22050) -> np.ndarray:
    """Synthesise notes (``NOTE_DTYPE``) as mono float32 audio in [-1, 1].

    Each note is a sum of harmonics with a short attack, a gentle exponential decay while held and a
    release after its end, so repeated notes stay audible as separate notes.

    Parameters
    ----------
    notes : numpy.ndarray
        Notes with ``onset`` and ``duration`` in seconds and (fractional) MIDI ``pitch``.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        ``ceil((max(onset + duration) + RELEASE_S) * sr)`` samples (0 for no notes), peak at most 0.8.

    Raises
    ------
    ValueError
        For a non-positive sample rate, negative times, or more than ``MAX_SECONDS`` of audio.
    """
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    if len(notes) == 0:
        return np.zeros(0, dtype="f4")
    onset, duration = notes["onset"].astype("f8"), notes["duration"].astype("f8")
    if np.any(onset < 0) or np.any(duration < 0):
        raise ValueError("notes have negative onsets or durations")
    end = float((onset + duration).max()) + RELEASE_S
    if end > MAX_SECONDS:
        raise ValueError(f"{end:.0f} s of audio is more than the {MAX_SECONDS:.0f} s limit")
    out = np.zeros(int(np.ceil(end * sr)), dtype="f8")
    nyquist = sr / 2
    for t0, dur, pitch in zip(onset, duration, notes["pitch"].astype("f8")):
        freq = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        start = int(round(t0 * sr))
        held, release = max(int(round(dur * sr)), 1), int(round(RELEASE_S * sr))
        t = np.arange(held + release) / sr
        env = np.exp(-DECAY_PER_S * t) * np.minimum(t / ATTACK_S, 1.0)
        env[held:] *= np.linspace(1.0, 0.0, release, endpoint=False)
        tone = sum(a * np.sin(2 * np.pi * freq * (h + 1) * t) for h, a in enumerate(HARMONICS)
                   if freq * (h + 1) < nyquist)
        stop = min(start + len(t), len(out))
        out[start:stop] += (env * tone)[:stop - start]
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= 0.8 / peak
    return out.astype("f4")


def passage_samples(query: Melody, reference: Melody, match: dict, sr: int = 22050) -> np.ndarray:
    """The query passage, ``GAP_S`` of silence, then the reference passage transposed into the query's key."""
    q = passage(query, match["query_notes"])
    r = passage(reference, match["reference_notes"], transpose=match["transposition"])
    return np.concatenate([render(q, sr), np.zeros(int(GAP_S * sr), dtype="f4"), render(r, sr)])


def passage_audio(query: Melody, reference: Melody, match: dict, sr: int = 22050) -> bytes:
    """`passage_samples` as a 16-bit mono WAV file (bytes), ready for a browser's audio player."""
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, passage_samples(query, reference, match, sr), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


MAX_CLIP_SECONDS = 120.0


def clip_audio(path: str, start: float, end: float, margin: float = 0.5) -> bytes:
    """The recording's own audio from ``start - margin`` to ``end + margin`` seconds (at most
    ``MAX_CLIP_SECONDS``), as a 16-bit WAV file (bytes). Only that stretch is read from disk.

    Raises
    ------
    CorruptFile
        If the file cannot be decoded.
    """
    import soundfile

    from ..errors import CorruptFile

    try:
        with soundfile.SoundFile(path) as f:
            sr = f.samplerate
            a = max(int((start - margin) * sr), 0)
            b = min(int((min(end, start + MAX_CLIP_SECONDS) + margin) * sr), f.frames)
            f.seek(a)
            data = f.read(max(b - a, 0), dtype="float32")
    except Exception as exc:
        raise CorruptFile(f"{path}: cannot read the audio passage ({exc})") from None
    buf = io.BytesIO()
    soundfile.write(buf, data, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()

