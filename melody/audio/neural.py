"""Note activations from Basic Pitch's small CNN, run with onnxruntime.

Basic Pitch (Bittner et al., ICASSP 2022; Spotify, Apache-2.0, see ``melody/data/basic_pitch/``) is a
polyphonic note transcriber of ~17k weights whose constant-Q front end is part of the network. It reads
mono 22,050 Hz audio in 2-second windows and gives, per 256-sample frame (86.1 frames/s):

- ``note``    (frames, 88): a note of that piano key sounds (MIDI 21-108);
- ``onset``   (frames, 88): a note of that key starts;
- ``contour`` (frames, 264): pitch salience, 3 bins per semitone, bin 1 centred on MIDI 21.

The model file ships with the package; nothing is downloaded. The first and last 15 frames of each
window are dropped and windows advance by the 142 frames kept, so every frame comes from a window's interior
and frame i is at i * HOP samples however long the file. The audio is streamed:
memory holds one batch of windows and the activations (~1.8 kB per frame, 90 MB for 10 minutes).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Iterable, NamedTuple

import numpy as np

SR = 22050
HOP = 256
FPS = SR / HOP
WINDOW = 2 * SR - HOP                 # samples per model window (43,844)
OVERLAP_FRAMES = 30
OVERLAP = OVERLAP_FRAMES * HOP
WINDOW_FRAMES = 172
# samples between window starts: exactly the frames kept per window. (WINDOW - OVERLAP, 141.3 frames, with
# 142 kept, put every window 188 samples late on the last: notes drifted 5 ms per second of audio.)
STEP = (WINDOW_FRAMES - OVERLAP_FRAMES) * HOP
BATCH = 8                             # windows per inference call
MIDI_LOW = 21                         # key of note/onset column 0 and of contour bin 1
CONTOUR_BINS_PER_SEMITONE = 3
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "data", "basic_pitch", "nmp.onnx")


class Activations(NamedTuple):
    note: np.ndarray      # (frames, 88) float32 in [0, 1]
    onset: np.ndarray     # (frames, 88)
    contour: np.ndarray | None   # (frames, 264); None when not asked for

    @property
    def hop_s(self) -> float:
        return HOP / SR

    def times(self) -> np.ndarray:
        return np.arange(len(self.note)) * (HOP / SR)


def contour_midi() -> np.ndarray:
    """The MIDI pitch at the centre of each contour bin."""
    return MIDI_LOW + (np.arange(88 * CONTOUR_BINS_PER_SEMITONE) - 1) / CONTOUR_BINS_PER_SEMITONE


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(MODEL_PATH, opts, providers=["CPUExecutionProvider"])
    names = {o.name: o for o in sess.get_outputs()}
    # output names as exported: :0 contour (264 bins), :1 note, :2 onset
    order = [f"StatefulPartitionedCall:{k}" for k in (1, 2, 0)]
    if set(order) != set(names):
        raise RuntimeError(f"unexpected Basic Pitch model outputs {sorted(names)}")
    return sess, sess.get_inputs()[0].name, order


def _windows(blocks: Iterable[np.ndarray]):
    """Model windows of WINDOW samples every STEP samples over the stream, the first one starting
    OVERLAP / 2 samples before the audio (zeros), the last one zero-padded; and the audio's length."""
    buf = np.zeros(OVERLAP // 2, dtype=np.float32)
    n = 0
    for b in blocks:
        b = np.asarray(b, dtype=np.float32)
        n += len(b)
        buf = np.concatenate([buf, b])
        while len(buf) >= WINDOW:
            yield buf[:WINDOW], None
            buf = buf[STEP:]
    while len(buf) > OVERLAP // 2:      # the tail: until the kept frames cover the audio
        yield np.pad(buf[:WINDOW], (0, WINDOW - min(len(buf), WINDOW))), None
        buf = buf[STEP:]
    yield None, n


def activations(blocks: Iterable[np.ndarray], contour: bool = True) -> Activations:
    """Basic Pitch's activations for a stream of mono float blocks at 22,050 Hz (e.g.
    ``melody.audio.decode.blocks(path, sr=neural.SR)``), one row per 256-sample frame of the audio.
    ``contour=False`` leaves the contour out (None): 1.1 kB per frame less to keep."""
    sess, inp, order = _session()
    order = order if contour else order[:2]
    keep = slice(OVERLAP_FRAMES // 2, WINDOW_FRAMES - OVERLAP_FRAMES // 2)
    parts: list[list[np.ndarray]] = [[] for _ in order]
    batch: list[np.ndarray] = []
    n_samples = 0

    def flush():
        outs = sess.run(order, {inp: np.stack(batch)[:, :, None]})
        for k, o in enumerate(outs):
            parts[k].append(o[:, keep, :].reshape(-1, o.shape[2]).astype(np.float32, copy=False))
        batch.clear()

    for w, n in _windows(blocks):
        if w is None:
            n_samples = n
            break
        batch.append(w)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    n_frames = int(np.floor(n_samples / HOP))
    out = []
    for p, width in zip(parts, (88, 88, 264)):    # one output at a time, its parts freed as it is joined
        out.append(np.concatenate(p)[:n_frames] if p else np.zeros((0, width), np.float32))
        p.clear()
    return Activations(out[0], out[1], out[2] if contour else None)


__all__ = ["Activations", "FPS", "HOP", "MIDI_LOW", "SR", "activations", "contour_midi"]
