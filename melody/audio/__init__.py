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
from .segment import note_activation, notes_from_track

MIN_SECONDS = 0.5
MIN_VOICED_FRACTION = 0.03
MIN_NOTES = 3                 # fewer stable pitched notes than this is no melody
# A transcribed note counts towards MIN_NOTES only where Basic Pitch hears its key as a note at least this
# surely (mean note activation over the note, `segment.note_activation`). Chosen between the two sides of
# scripts/bench_nomelody.py (BENCHMARKS.md, "Twelfth session: recordings without a melody"): in drum kits, hand
# percussion and hi-hats the third most surely heard "note" reaches 0.45 at most (12 of 13 voiced speech-like
# sounds: 0.36 at most, one 0.55); in every recording with a sung or played line (300 bench_audio renders,
# vocadito, MASTmelody, bass lines) 0.58 at least. Known miss: a timpani line (0.16-0.19) is refused.
HEARD_NOTE = 0.5
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
    NoMelody : too short, silent, or no stable pitched line: fewer than MIN_NOTES notes, counting (fused)
        only those Basic Pitch hears as notes (noise, drums, percussion, speech-like sounds).
    """
    path = os.fspath(path)
    if method not in METHODS:
        raise ValueError(f"unknown transcription method {method!r} (choose from {', '.join(METHODS)})")
    stats = AudioStats(path)
    tr = _pitch_track(path, stats, method)
    voiced = float(np.isfinite(tr.midi).mean()) if len(tr.midi) else 0.0
    notes = notes_from_track(tr)
    activation = note_activation(notes, tr)      # None without the network (salience, pyin): every note counts
    heard = len(notes) if activation is None else int(np.sum(activation >= HEARD_NOTE))
    rhythm = {"snapped": False}
    if snap:
        notes, rhythm = snap_to_beats(notes, tr.onset_env, tr.hop_s)
    if voiced < MIN_VOICED_FRACTION or heard < MIN_NOTES:
        raise NoMelody(_no_melody(path, len(notes), stats, heard))
    if stats.clipped_fraction > CLIPPED_WARNING:
        stats.warnings.append(f"{100 * stats.clipped_fraction:.1f}% of samples are clipped; "
                              "pitches may be less reliable")
    title = os.path.splitext(os.path.basename(path))[0]
    meta = {"kind": "audio", "method": method,
            "tuning_cents": int(round(100 * tuning_offset(notes["pitch"], notes["duration"]))), "seconds": round(stats.seconds, 3), "sample_rate": stats.rate,
            "channels": stats.channels, "voiced_fraction": round(voiced, 3), "warnings": stats.warnings, **rhythm}
    return Melody(notes, title=title, source=path, meta=meta), tr


def _pitch_track(path: str, stats: AudioStats, method: str) -> PitchTrack:
    """The file's melody pitch track by `method` (`transcribe`'s first half); NoMelody for a silent or too
    short file, refused after one decoding pass (before the tracking and the network) where it can be."""
    if method == "pyin":
        tr = pyin_track(blocks(path, stats))
        _require_sound(path, stats)
        return tr
    cand = candidates(blocks(path, stats))
    # before the tracking and the network (most of the time): a silent or too short file is refused after
    # one decoding pass, with the message the whole transcription would end in
    _require_sound(path, stats, cand[2])
    if method == "fused":
        from .fuse import fused_track
        return fused_track(path, stats, cand)
    return track(*cand)


def _no_melody(path: str, n_notes: int, stats: AudioStats, heard: int | None = None) -> str:
    """The one line for a recording without a melody: what was found, the likely cause, what to do."""
    if heard is not None and heard < n_notes:     # the tracker held drum hits, noise or speech for notes
        found = f"{n_notes} pitched sounds in {stats.seconds:.1f} s, {heard} of them heard as sung or played notes"
    else:
        found = f"{n_notes} stable pitched note{'' if n_notes == 1 else 's'} in {stats.seconds:.1f} s"
    return (f"{path}: no melody found ({found}; noise, drums or speech only?): "
            "give a recording or score of a sung or played tune")


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
