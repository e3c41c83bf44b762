"""Decode wav/flac/ogg/mp3 into mono float32 blocks at one analysis rate, in bounded memory.

The file is read block by block (``BLOCK_SECONDS``), mixed down to mono and resampled with a streaming
resampler, so a one-hour file costs no more memory than a ten-second one.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..errors import CorruptFile

SR = 16000                 # analysis rate: melodies live below 2 kHz, harmonics up to 8 kHz are plenty
BLOCK_SECONDS = 10.0
MIN_RATE, MAX_RATE = 8000, 192000
CLIP_LEVEL = 0.999


@dataclass
class AudioStats:
    """What decoding saw: length, level and clipping, for the per-file messages."""

    path: str
    rate: int = 0
    channels: int = 0
    seconds: float = 0.0
    peak: float = 0.0
    clipped: int = 0         # input samples at full scale
    samples: int = 0         # input samples (per channel)
    warnings: list = field(default_factory=list)

    @property
    def clipped_fraction(self) -> float:
        return self.clipped / max(self.samples, 1)


def blocks(path: str, stats: AudioStats | None = None, sr: int = SR) -> Iterator[np.ndarray]:
    """Yield the file's audio as consecutive mono float32 blocks at ``sr`` Hz.

    Raises
    ------
    CorruptFile
        The file cannot be decoded, has an absurd sample rate, or contains NaN/infinite samples.
    """
    import soundfile
    import soxr

    stats = stats if stats is not None else AudioStats(path)
    quiet = _QuietStderr() if path.lower().endswith(".mp3") else contextlib.nullcontext()
    try:
        with quiet:
            f = soundfile.SoundFile(path)
    except Exception as exc:   # libsndfile names the problem ("Format not recognised", "unexpected end")
        reason = _short(exc)
        if "does not exist" in reason and os.path.isfile(path):   # libsndfile's words for an undecodable mp3
            reason = f"not a valid {os.path.splitext(path)[1].lstrip('.').lower() or 'audio'} file"
        raise CorruptFile(f"{path}: cannot decode audio ({reason})") from None
    with f:
        stats.rate, stats.channels = int(f.samplerate), int(f.channels)
        if not MIN_RATE <= stats.rate <= MAX_RATE:
            raise CorruptFile(f"{path}: sample rate {stats.rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
        resampler = soxr.ResampleStream(stats.rate, sr, 1, dtype="float32", quality="HQ") \
            if stats.rate != sr else None
        step = int(BLOCK_SECONDS * stats.rate)
        while True:
            try:
                with quiet:
                    data = f.read(step, dtype="float32", always_2d=True)
            except Exception as exc:
                raise CorruptFile(f"{path}: audio data is damaged after {stats.seconds:.1f} s "
                                  f"({_short(exc)})") from None
            last = len(data) < step
            mono = np.zeros(0, dtype="f4")
            if len(data):
                if not np.all(np.isfinite(data)):
                    raise CorruptFile(f"{path}: audio contains NaN or infinite samples "
                                      f"(near {stats.seconds:.1f} s); re-export the file")
                mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
                stats.samples += len(mono)
                stats.seconds = stats.samples / stats.rate
                stats.peak = max(stats.peak, float(np.abs(data).max()))
                stats.clipped += int(np.count_nonzero(np.abs(data).max(axis=1) >= CLIP_LEVEL))
            out = resampler.resample_chunk(mono, last=last) if resampler else mono
            if len(out):
                yield np.ascontiguousarray(out, dtype="f4")
            if last:
                return


def read(path: str, sr: int = SR) -> tuple[np.ndarray, AudioStats]:
    """The whole file as one mono array at ``sr`` Hz (for short files, tests and plots)."""
    stats = AudioStats(os.fspath(path))
    parts = list(blocks(stats.path, stats, sr))
    return (np.concatenate(parts) if parts else np.zeros(0, dtype="f4")), stats


class _QuietStderr:
    """Silence file descriptor 2 while libsndfile decodes an mp3: its libmpg123 prints resync notes ("error:
    part2_3_length ... too large") for files it then decodes fine, and library code never prints."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):   # no fd 2 (an embedding host): nothing to silence
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(os.linesep, " ")[:200]
