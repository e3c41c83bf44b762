"""Numba kernels of the melody extractor: spectral peaks, harmonic-sum salience, pitch candidates, Viterbi.

Pure functions over arrays, no validation (the callers in ``melody.audio.extract`` do that). Pitches are in
"cents above FMIN" on a grid of ``bin_cents``; the callers convert to MIDI.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

NEG = -1e30


@njit(cache=True, nogil=True, error_model="numpy")
def spectral_peaks(mag, bin_hz, dyn_range, max_peaks, out_freq, out_amp):
    """Local maxima of each magnitude frame within ``dyn_range`` (ratio) of the frame's maximum.

    Frequencies and amplitudes are refined by a parabola through the log magnitudes of the three bins.
    Writes up to ``max_peaks`` peaks (the loudest) per frame into out_freq/out_amp (n_frames, max_peaks),
    zero amplitude where a frame has fewer.
    """
    n_frames, n_bins = mag.shape
    for t in range(n_frames):
        for k in range(max_peaks):
            out_freq[t, k] = 0.0
            out_amp[t, k] = 0.0
        top = 0.0
        for b in range(n_bins):
            if mag[t, b] > top:
                top = mag[t, b]
        if top <= 0.0:
            continue
        floor = top * dyn_range
        count = 0
        for b in range(2, n_bins - 1):
            m = mag[t, b]
            if m < floor or m <= mag[t, b - 1] or m < mag[t, b + 1]:
                continue
            l0 = math.log(mag[t, b - 1] + 1e-12)
            l1 = math.log(m + 1e-12)
            l2 = math.log(mag[t, b + 1] + 1e-12)
            den = l0 - 2.0 * l1 + l2
            delta = 0.5 * (l0 - l2) / den if den < 0.0 else 0.0
            amp = math.exp(l1 - 0.25 * (l0 - l2) * delta)
            freq = (b + delta) * bin_hz
            if count < max_peaks:
                out_freq[t, count] = freq
                out_amp[t, count] = amp
                count += 1
            else:   # replace the weakest kept peak
                weakest = 0
                for k in range(1, max_peaks):
                    if out_amp[t, k] < out_amp[t, weakest]:
                        weakest = k
                if amp > out_amp[t, weakest]:
                    out_freq[t, weakest] = freq
                    out_amp[t, weakest] = amp


@njit(cache=True, nogil=True, error_model="numpy")
def harmonic_salience(peak_freq, peak_amp, fmin, bin_cents, n_harmonics, alpha, out):
    """Harmonic summation: every peak votes for the f0s it could be a harmonic of.

    A peak at f adds ``alpha**(h-1) * amp * cos^2`` to the bins within one semitone of f/h (h = 1..n_harmonics),
    so a pitch whose harmonics are all present outscores its octaves and sub-octaves. out: (n_frames, n_bins).
    The cos^2 window is read from a table at 1/64-bin resolution.
    """
    n_frames, n_peaks = peak_freq.shape
    n_bins = out.shape[1]
    reach = 100.0 / bin_cents
    fine = 64
    table = np.empty(int(reach * fine) + 2)
    for i in range(table.shape[0]):
        c = math.cos(0.5 * math.pi * min(i / (reach * fine), 1.0))
        table[i] = c * c
    shift = np.empty(n_harmonics)      # bins between a harmonic and its fundamental
    for h in range(n_harmonics):
        shift[h] = 1200.0 * math.log2(h + 1.0) / bin_cents
    for t in range(n_frames):
        for b in range(n_bins):
            out[t, b] = 0.0
        for k in range(n_peaks):
            a = peak_amp[t, k]
            if a <= 0.0:
                continue
            top = 1200.0 * math.log2(peak_freq[t, k] / fmin) / bin_cents
            w = a
            for h in range(n_harmonics):
                pos = top - shift[h]
                if pos < -reach:
                    break
                lo = int(math.ceil(pos - reach))
                hi = int(math.floor(pos + reach))
                if lo < 0:
                    lo = 0
                if hi > n_bins - 1:
                    hi = n_bins - 1
                for b in range(lo, hi + 1):
                    out[t, b] += w * table[int(abs(b - pos) * fine)]
                w *= alpha


@njit(cache=True, nogil=True, error_model="numpy")
def top_candidates(sal, n_cand, out_pos, out_val):
    """The ``n_cand`` highest local maxima of each salience frame, positions refined by a parabola (bins)."""
    n_frames, n_bins = sal.shape
    for t in range(n_frames):
        for k in range(n_cand):
            out_pos[t, k] = -1.0
            out_val[t, k] = 0.0
        for b in range(1, n_bins - 1):
            v = sal[t, b]
            if v <= 0.0 or v <= sal[t, b - 1] or v < sal[t, b + 1]:
                continue
            weakest = 0
            for k in range(1, n_cand):
                if out_val[t, k] < out_val[t, weakest]:
                    weakest = k
            if v <= out_val[t, weakest]:
                continue
            den = sal[t, b - 1] - 2.0 * v + sal[t, b + 1]
            delta = 0.5 * (sal[t, b - 1] - sal[t, b + 1]) / den if den < 0.0 else 0.0
            out_pos[t, weakest] = b + delta
            out_val[t, weakest] = v - 0.25 * (sal[t, b - 1] - sal[t, b + 1]) * delta


@njit(cache=True, nogil=True, error_model="numpy")
def viterbi_candidates(cents, emit, unvoiced, per_semitone, cap, switch, attack, attack_scale, shared_cents,
                       path):
    """Best pitch track through per-frame candidates, with an unvoiced state.

    cents, emit: (n_frames, K) candidate pitch (cents) and emission (NaN cents / any emit: no candidate).
    A voiced-to-voiced step costs ``per_semitone`` per semitone moved, at most ``cap`` (a note change),
    divided by ``1 + attack[t, j] / attack_scale`` for a step into candidate j at frame t (a new note whose
    harmonics are attacking is a cheap change; attack_scale <= 0: no discount), except for a step of whole
    octaves or an octave and a fifth (within ``shared_cents``): such a candidate shares the previous pitch's
    partials, and their growth is that note's swell or re-attack, not a new note;
    entering or leaving the unvoiced state costs ``switch``; the unvoiced state earns ``unvoiced[t]`` at frame t.
    path[t] = chosen candidate index, or -1 for unvoiced.
    """
    n, k_n = cents.shape
    score = np.full(k_n + 1, NEG)
    new = np.empty(k_n + 1)
    back = np.empty((n, k_n + 1), dtype=np.int8)
    uv = k_n
    for j in range(k_n):
        if not math.isnan(cents[0, j]):
            score[j] = emit[0, j]
    score[uv] = unvoiced[0]
    back[0, :] = -1
    for t in range(1, n):
        for j in range(k_n):
            if math.isnan(cents[t, j]):
                new[j] = NEG
                back[t, j] = uv
                continue
            best = score[uv] - switch
            arg = uv
            ease = 1.0
            if attack_scale > 0.0 and attack[t, j] > 0.0:
                ease = 1.0 / (1.0 + attack[t, j] / attack_scale)
            for i in range(k_n):
                if score[i] <= NEG or math.isnan(cents[t - 1, i]):
                    continue
                step = abs(cents[t, j] - cents[t - 1, i])
                cost = per_semitone * step / 100.0
                if cost > cap:
                    cost = cap
                wrap = step % 1200.0
                if wrap > shared_cents and wrap < 1200.0 - shared_cents and abs(step - 1902.0) > shared_cents:
                    cost *= ease
                s = score[i] - cost
                if s > best:
                    best = s
                    arg = i
            new[j] = best + emit[t, j]
            back[t, j] = arg
        best = score[uv]
        arg = uv
        for i in range(k_n):
            if score[i] - switch > best:
                best = score[i] - switch
                arg = i
        new[uv] = best + unvoiced[t]
        back[t, uv] = arg
        for j in range(k_n + 1):
            score[j] = new[j]
    state = uv
    for j in range(k_n):
        if score[j] > score[state]:
            state = j
    for t in range(n - 1, -1, -1):
        path[t] = -1 if state == uv else state
        if t > 0:
            state = back[t, state]


@njit(cache=True, nogil=True, error_model="numpy")
def harmonic_flux(logmag, first_prev, cand_midi, bin_hz, n_harmonics, out):
    """How much each candidate's harmonics grew since the previous frame: the attack of a note at that pitch.

    For candidate k of frame t (MIDI pitch, NaN: none), sums over harmonics h = 1..n_harmonics the rise of the
    log magnitude around bin h*f0 (the largest of three bins, so vibrato does not count as growth).
    first_prev: the log magnitudes of the frame before logmag[0] (the previous block's last frame).
    """
    n_frames, n_bins = logmag.shape
    n_cand = cand_midi.shape[1]
    for t in range(n_frames):
        for k in range(n_cand):
            out[t, k] = 0.0
            m = cand_midi[t, k]
            if math.isnan(m):
                continue
            f0 = 440.0 * 2.0 ** ((m - 69.0) / 12.0)
            total = 0.0
            for h in range(1, n_harmonics + 1):
                b = int(round(h * f0 / bin_hz))
                if b + 1 >= n_bins:
                    break
                now = max(logmag[t, b - 1], max(logmag[t, b], logmag[t, b + 1]))
                if t > 0:
                    before = max(logmag[t - 1, b - 1], max(logmag[t - 1, b], logmag[t - 1, b + 1]))
                else:
                    before = max(first_prev[b - 1], max(first_prev[b], first_prev[b + 1]))
                if now > before:
                    total += now - before
            out[t, k] = total


@njit(cache=True, nogil=True, error_model="numpy")
def key_evidence(act, act_times, low_key, cand_midi, hop_s, before_s, after_s, out):
    """Per tracker frame and candidate, the strongest activation of the candidate's key (the nearest
    semitone) among the activation frames within ``before_s`` before to ``after_s`` after the frame.

    act: (n_act, n_keys) activations whose column 0 is MIDI ``low_key``; act_times: (n_act,) seconds,
    increasing; cand_midi: (n, K) MIDI pitch per tracker frame (NaN: no candidate); frame t lies at
    ``t * hop_s`` seconds. out: (n, K), 0 where there is no candidate, its key is out of range, or no
    activation frame lies in the window.
    """
    n, k_n = cand_midi.shape
    n_act, n_keys = act.shape
    lo = 0
    for t in range(n):
        now = t * hop_s
        while lo < n_act and act_times[lo] < now - before_s:
            lo += 1
        for k in range(k_n):
            out[t, k] = 0.0
            m = cand_midi[t, k]
            if math.isnan(m):
                continue
            key = int(math.floor(m + 0.5)) - low_key
            if key < 0 or key >= n_keys:
                continue
            best = 0.0
            i = lo
            while i < n_act and act_times[i] <= now + after_s:
                if act[i, key] > best:
                    best = act[i, key]
                i += 1
            out[t, k] = best
