"""Audio in: decode (bounded memory) -> predominant-melody pitch track -> notes -> a Melody.

The result is the same note type every symbolic loader produces, with times in seconds of the audio and
bars unknown, so everything downstream (features, search, significance, reports) is shared.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import MelodyError, NoMelody
from ..notes import Melody, tuning_offset
from .decode import SR, AudioStats, blocks
from .extract import MIN_RMS, PitchTrack, candidates, pyin_track, track
from .rhythm import snap_to_beats
from .segment import notes_from_track

MIN_SECONDS = 0.5
MIN_VOICED_FRACTION = 0.03
CLIPPED_WARNING = 0.01
SILENT_PEAK = 10 ** (-70 / 20)   # a file whose loudest sample is this quiet or quieter is silent


METHODS = ("salience", "pyin", "fused")
LOAD_METHOD = "fused"         # what `load_audio` (melody.io.load, catalogs, the CLI) transcribes with
METHOD_ENV = "MELODY_TRANSCRIBER"   # overrides LOAD_METHOD; set by the CLI's --transcriber, read by its workers too


def transcribe(path: str | os.PathLike, method: str = "fused", snap: bool = True) -> tuple[Melody, PitchTrack]:
    """The melody of an audio file (solo or full mix) as notes, and the pitch track it came from.

    method : "fused" (default: the harmonic-sum predominant melody, for solo lines and mixes, with Basic
        Pitch's note and onset evidence, `melody.audio.fuse`), "salience" (the same without the network,
        ~3x faster) or "pyin" (librosa's monophonic pYIN, slower; kept for comparison).
    snap : move onsets onto the recording's beat grid where it has a steady beat (`melody.audio.rhythm`).

    Raises
    ------
    CorruptFile : undecodable, NaN samples, absurd sample rate.
    NoMelody : too short, silent, or no stable pitched line (noise, drums only).
    """
    path = os.fspath(path)
    if method not in METHODS:
        raise ValueError(f"unknown transcription method {method!r} (choose from {', '.join(METHODS)})")
    stats = AudioStats(path)
    if method == "pyin":
        tr = pyin_track(blocks(path, stats))
        _require_sound(path, stats)
    else:
        cand = candidates(blocks(path, stats))
        # before the tracking and the network (most of the time): a silent or too short file is refused after
        # one decoding pass, with the message the whole transcription would end in
        _require_sound(path, stats, cand[2])
        if method == "fused":
            from .fuse import fused_track
            tr = fused_track(path, stats, cand)
        else:
            tr = track(*cand)
    voiced = float(np.isfinite(tr.midi).mean()) if len(tr.midi) else 0.0
    notes = notes_from_track(tr)
    rhythm = {"snapped": False}
    if snap:
        notes, rhythm = snap_to_beats(notes, tr.onset_env, tr.hop_s)
    if voiced < MIN_VOICED_FRACTION or len(notes) < 3:
        raise NoMelody(_no_melody(path, len(notes), stats))
    if stats.clipped_fraction > CLIPPED_WARNING:
        stats.warnings.append(f"{100 * stats.clipped_fraction:.1f}% of samples are clipped; "
                              "pitches may be less reliable")
    title = os.path.splitext(os.path.basename(path))[0]
    meta = {"kind": "audio", "method": method,
            "tuning_cents": int(round(100 * tuning_offset(notes["pitch"], notes["duration"]))), "seconds": round(stats.seconds, 3), "sample_rate": stats.rate,
            "channels": stats.channels, "voiced_fraction": round(voiced, 3), "warnings": stats.warnings, **rhythm}
    return Melody(notes, title=title, source=path, meta=meta), tr


def _no_melody(path: str, n_notes: int, stats: AudioStats) -> str:
    return (f"{path}: no melody found ({n_notes} stable pitched note{'' if n_notes == 1 else 's'} "
            f"in {stats.seconds:.1f} s; noise, drums or speech only?)")


def _require_sound(path: str, stats: AudioStats, frame_rms: np.ndarray | None = None):
    """Raise NoMelody for audio too short or silent (`stats` of the whole decoded file), or, given the
    salience frames' RMS, without a frame loud enough for the tracker (`extract.track` would find no
    pitch in any frame: no notes)."""
    if stats.seconds < MIN_SECONDS:
        raise NoMelody(f"{path}: only {stats.seconds:.2f} s of audio, need at least {MIN_SECONDS} s")
    if stats.peak <= SILENT_PEAK:
        level = "every sample is zero" if stats.peak == 0 else f"peak {20 * np.log10(stats.peak):.0f} dBFS"
        raise NoMelody(f"{path}: the audio is silent ({level})")
    if frame_rms is not None and not np.any(frame_rms > MIN_RMS):
        raise NoMelody(_no_melody(path, 0, stats))


def load_method() -> str:
    """The method `load_audio` transcribes with: $MELODY_TRANSCRIBER where set (an environment variable, so
    that a batch's worker processes follow the command line's --transcriber), else LOAD_METHOD."""
    method = os.environ.get(METHOD_ENV) or LOAD_METHOD
    if method not in METHODS:
        raise MelodyError(f"${METHOD_ENV}={method!r} is not a transcription method; use one of {', '.join(METHODS)}")
    return method


def load_audio(path: str | os.PathLike) -> list[Melody]:
    """`transcribe` for `melody.io.load`: one melody per audio file."""
    return [transcribe(path, method=load_method())[0]]


__all__ = ["METHODS", "SR", "PitchTrack", "load_audio", "load_method", "transcribe"]
