"""Beat tracking by dynamic programming (Ellis 2007) at a given tempo: an onset envelope in, beat frames out.

The tracker `melody.audio.rhythm` uses on a recording's spectral flux and on a played MIDI file's onsets.
It gives the beats ``librosa.beat.beat_track(onset_envelope=env, bpm=bpm, trim=True)`` gives (librosa 0.11,
static tempo), frame for frame, without importing ``librosa.beat``: that module compiles one of its Numba
kernels without the on-disk cache on every import, 7-14 s paid by the first recording or played MIDI file
of every process (BENCHMARKS.md, twenty-fourth session). Every loop here is jitted with ``cache=True``.

The steps (D. P. W. Ellis, "Beat tracking by dynamic programming", J. New Music Research 36(1), 2007):

1. the envelope is divided by its standard deviation and smoothed with a Gaussian window of the beat period
   (s.d. a 32nd of it): the *local score* of a beat at each frame (`_local_score`);
2. the *cumulative score* of a beat at frame i is its local score plus the best, over the candidate
   previous beats 1/2 to 2 periods before, of their cumulative score minus a penalty that grows with the
   squared log ratio of the gap to the period, times ``tightness`` (`_cumulative_score`);
3. the last beat is the latest local maximum of the cumulative score that reaches half the median of those
   maxima (`_last_beat`); the beats are read back from it through each beat's best predecessor (`_backtrack`);
4. with ``trim``, beats before the first and after the last frame whose local score exceeds half the RMS of
   the (smoothed) beats' local scores are dropped: weak beats tracked into a silent intro or tail (`_trimmed`).

Where the arithmetic could be done several ways (the order of a sum, where a window is rounded), it is done
as librosa does it, so the beats are the same to the frame; those places say so.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# how closely successive beats keep the period: the weight of the squared log ratio of gap to period
# (librosa's default and Ellis's choice; larger is stricter)
TIGHTNESS = 100.0
# the local score's Gaussian window spans one period either side; its s.d. is the period divided by this
WINDOW_SD_DIVISOR = 32.0
# the first beat is the first frame whose local score exceeds this share of the largest
FIRST_BEAT_SHARE = 0.01
# the last beat's cumulative score reaches at least this share of the median of its local maxima
LAST_BEAT_SHARE = 0.5
# trimming drops leading and trailing beats whose frames' local scores are at most this share of the RMS of
# the beats' local scores smoothed over five beats (a Hann window)
TRIM_SHARE = 0.5
TRIM_SMOOTHING = 5


def track_beats(onset_env: np.ndarray, frame_rate: float, bpm: float, tightness: float = TIGHTNESS,
                trim: bool = True) -> np.ndarray:
    """Frames of the beats in ``onset_env`` at a tempo of ``bpm`` (a sorted int64 array; empty when the
    envelope has no onset).

    Parameters
    ----------
    onset_env : 1-D array of finite onset strengths, one per frame
    frame_rate : frames per second
    bpm : the tempo the beats keep (beats per minute); its period is rounded to whole frames
    tightness : how strictly the gaps keep the period (`TIGHTNESS`); rounded to float32 as librosa does
    trim : drop weak beats at the start and end (librosa's ``trim=True``)

    Raises
    ------
    ValueError : the envelope is not 1-D or not finite, or frame_rate, bpm or tightness is not positive.

    Examples
    --------
    >>> env = np.zeros(400); env[10::25] = 1.0        # an onset every 25 frames
    >>> track_beats(env, frame_rate=50.0, bpm=120.0)[:4]
    array([10, 35, 60, 85])
    """
    env = np.asarray(onset_env, dtype="f8")
    if env.ndim != 1:
        raise ValueError(f"onset_env must be 1-D, got shape {env.shape}")
    if not np.all(np.isfinite(env)):
        raise ValueError("onset_env has non-finite values")
    if not (frame_rate > 0 and bpm > 0 and tightness > 0):
        raise ValueError(f"frame_rate ({frame_rate}), bpm ({bpm}) and tightness ({tightness}) must be positive")
    if len(env) < 2 or not env.any():
        return np.zeros(0, dtype=np.int64)
    # np.round is half-to-even, in numpy and in Numba alike: the period and the nearest candidate gap
    period = float(np.round(float(frame_rate) * 60.0 / np.float64(bpm)))
    if period < 1:
        raise ValueError(f"bpm {bpm} is faster than one beat a frame at {frame_rate} frames/s")
    nearest_gap = int(np.round(period / 2))
    with np.errstate(over="ignore"):    # a flat envelope's s.d. is 0: divided by `tiny`, as librosa's is
        local = _local_score(env / (env.std(ddof=1) + np.finfo(env.dtype).tiny), period)
    backlink, cumulative = _cumulative_score(local, period, nearest_gap, float(np.float32(tightness)))
    beats = _backtrack(backlink, _last_beat(cumulative))
    return np.flatnonzero(_trimmed(local, beats, trim))


@njit(cache=True, nogil=True)
def _local_score(env, period):
    """The envelope convolved ("same" size) with a Gaussian window of 2 * period + 1 frames.

    As in librosa 0.11, frame 0 of the envelope never contributes (its loop stops one short there), and
    each frame's sum runs over the window from its first tap; the order matters to the last bit."""
    window = np.exp(-0.5 * (np.arange(-period, period + 1) * WINDOW_SD_DIVISOR / period) ** 2)
    size = len(window)
    half = size // 2
    n = len(env)
    out = np.zeros(n)
    for i in range(n):
        total = 0.0
        for k in range(max(0, i + half - n + 1), min(i + half, size)):
            total += window[k] * env[i + half - k]
        out[i] = total
    return out


@njit(cache=True, nogil=True)
def _cumulative_score(local, period, nearest_gap, tightness):
    """(best previous beat of each frame or -1, cumulative score of a beat there): the dynamic program.

    Candidate gaps run from ``nearest_gap`` to 2 * period frames, nearest first; a tie keeps the nearest.
    Frames before the first whose local score reaches FIRST_BEAT_SHARE of the largest start no chain."""
    n = len(local)
    farthest_gap = int(2 * period)
    penalty = np.zeros(farthest_gap + 1)
    for gap in range(max(nearest_gap, 1), farthest_gap + 1):
        penalty[gap] = tightness * (np.log(gap) - np.log(period)) ** 2
    first_threshold = FIRST_BEAT_SHARE * local.max()
    backlink = np.full(n, -1, dtype=np.int64)
    cumulative = np.zeros(n)
    started = False
    for i in range(n):
        best, best_at = -np.inf, -1
        for gap in range(nearest_gap, farthest_gap + 1):
            at = i - gap
            if at < 0:
                break
            score = cumulative[at] - penalty[gap]
            if score > best:
                best, best_at = score, at
        cumulative[i] = local[i] + best if best_at >= 0 else local[i]
        if started or local[i] >= first_threshold:
            backlink[i] = best_at
            started = True
    return backlink, cumulative


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Frames above the one before and at least the one after; the last frame needs only the first, the
    first frame never counts (librosa.util.localmax)."""
    peak = np.zeros(len(x), dtype=bool)
    if len(x) >= 2:
        peak[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
        peak[-1] = x[-1] > x[-2]
    return peak


def _last_beat(cumulative: np.ndarray) -> int:
    """The latest local maximum of the cumulative score that reaches LAST_BEAT_SHARE of the maxima's median;
    the last frame when there is none."""
    peaks = np.flatnonzero(_local_maxima(cumulative))
    if len(peaks) == 0:
        return len(cumulative) - 1
    threshold = LAST_BEAT_SHARE * np.median(cumulative[peaks])
    good = peaks[cumulative[peaks] >= threshold]
    return int(good[-1]) if len(good) else len(cumulative) - 1


@njit(cache=True, nogil=True)
def _backtrack(backlink, last):
    """A mask of the beats: ``last`` and each beat's best previous beat in turn."""
    beats = np.zeros(len(backlink), dtype=np.bool_)
    at = last
    while at >= 0:
        beats[at] = True
        at = backlink[at]
    return beats


@njit(cache=True, nogil=True)
def _trimmed(local, beats, trim):
    """``beats`` without those before the first and after the last frame whose local score exceeds the
    threshold: TRIM_SHARE of the RMS of the beats' local scores convolved with a Hann window of
    TRIM_SMOOTHING beats (with ``trim``; else 0, which still drops beats on frames that score nothing).

    The RMS runs over the full convolution less its first TRIM_SMOOTHING // 2 values, as in librosa."""
    out = beats.copy()
    n = len(local)
    threshold = 0.0
    if trim:
        edge = TRIM_SMOOTHING // 2
        smooth = np.convolve(local[beats], np.hanning(TRIM_SMOOTHING))[edge:n + edge]
        threshold = TRIM_SHARE * ((smooth ** 2).mean() ** 0.5)
    start = 0
    while start < n and local[start] <= threshold:
        out[start] = False
        start += 1
    end = n - 1
    while end >= 0 and local[end] <= threshold:
        out[end] = False
        end -= 1
    return out
