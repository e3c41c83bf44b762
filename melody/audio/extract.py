"""Predominant melody: a pitch track (f0 per 10 ms frame) from a solo recording or a full mix.

Salience-based, in the spirit of Salamon & Gomez's Melodia, written for this project:

1. short-time spectrum (64 ms Hann window, 10 ms hop at 16 kHz), the loudest spectral peaks per frame;
2. harmonic summation: each peak votes for every f0 it could be a harmonic of, on a 10-cent grid
   (55-1760 Hz), so a harmonic voice or instrument gets one strong pitch and chords spread out;
3. the few most salient pitches of each frame are kept as candidates (bounded memory: the spectrum of
   one block at a time, then 6 candidates per frame for the whole file);
4. a Viterbi path through the candidates prefers continuity (a note changes pitch rarely, more readily
   where the new pitch's harmonics attack) and has an unvoiced state that wins where no pitch is salient
   enough (rests, drums only, noise);
5. two passes: the first path tells where the lead lives (its running upper-quartile pitch: accompaniment
   that takes over sits mostly below the lead), and in an ensemble so does the line the network hears struck
   and held on top (`lead_line`), the higher of the two; the second path pays for candidates far out of that
   register (the bass line, a chord an octave or more below, a harmonic an octave and a fifth above).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .decode import SR

WIN, NFFT, HOP = 1024, 2048, 160
FMIN, BIN_CENTS, N_BINS = 55.0, 10.0, 600
N_PEAKS, N_HARMONICS, ALPHA, DYN_RANGE = 40, 12, 0.8, 10 ** (-40 / 20)
N_CAND = 6
FLUX_BINS = 512          # spectral flux (for the beat tracker) below 4 kHz
ATTACK_HARMONICS = 8
FRAMES_PER_BLOCK = 2000
# Viterbi: emissions are salience / (the file's 95th-percentile frame maximum)
UNVOICED, PER_SEMITONE, CAP, SWITCH = 0.15, 0.5, 1.6, 0.8
# a change of pitch into a candidate whose harmonics attack (summed log growth a, `kernels.harmonic_flux`)
# costs 1 / (1 + a / EASE_ATTACK) of the usual: a short note under a still-ringing one (fast piano runs) wins
# the path; not for a step of whole octaves or an octave and a fifth (within EASE_SHARED_CENTS), whose
# partials are the ringing note's own
EASE_ATTACK, EASE_SHARED_CENTS = 3.0, 50.0
MIN_RMS = 10 ** (-70 / 20)
STEADY_WINDOW, MIN_STEADY = 100, 0.85
# a step of up to GLIDE_STEP semitones that bends less than CALM_STEP from the step before it is calm too: a
# voice's vibrato (+-1 semitone at 6 Hz moves up to 0.4 semitones per frame) and glides move smoothly, noise
# jumps about (scripts/bench_sung.py: wide vibrato was dropped as erratic)
CALM_STEP, GLIDE_STEP = 0.3, 1.0
# Register (second pass): the lead's register is the REGISTER_QUANTILE of the first path's pitch, per
# REGISTER_CHUNK frames, then over +-REGISTER_S seconds; a candidate more than REGISTER_RANGE semitones from
# it keeps exp(-excess / REGISTER_SCALE) of its emission.
REGISTER_QUANTILE, REGISTER_RANGE, REGISTER_SCALE, REGISTER_S, REGISTER_CHUNK = 75.0, 15.0, 3.0, 5.0, 50
# In an ensemble the first path can sit on the band for seconds (a piano lead over a band's chords: the chords'
# summed partials outweigh the lead's), and a register read off it then charges the lead itself. The register
# is read off the lead line too (``lead_line``: the highest candidate per frame whose key the network hears,
# with at least LEAD_LINE_SHARE of the frame's strongest salience, where it holds its pitch within
# LEAD_LINE_CENTS for LEAD_LINE_HOLD frames), and the higher of the two registers is kept: the lead sits
# above the band, and a line the network hears struck and held is not a passing partial or a pad.
LEAD_LINE_SHARE, LEAD_LINE_CENTS, LEAD_LINE_HOLD = 0.5, 50.0, 10
# A held run of the line counts where the network's onset activation at its key reaches LEAD_LINE_STRUCK in its
# first LEAD_LINE_HOLD frames: a note struck as it starts. Measured over the held runs of bench_audio's seed-1
# mixes, the onset at the start of the lead's runs: median 0.81, 70% >= 0.7; the band's: median 0.32, 25%;
# bench_nomelody's pads (a held chord whose top key would otherwise be the line and voice it): median 0.45, 1%.
LEAD_LINE_STRUCK = 0.7
# A candidate at a partial's distance above one the network hears more surely (its note activation under
# LEAD_LINE_OVERTONE times the lower key's) is that note's overtone, not a line above it (`overtones`): measured
# on bench_audio's seed-1 mixes, a third partial heard as a key at 0.35-0.42 over its note's 0.69-0.78, a lead
# over the band's chord tone at 0.66-0.86 over 0.27-0.65.
LEAD_LINE_HARMONICS, LEAD_LINE_HARMONIC_CENTS, LEAD_LINE_OVERTONE = (2, 3, 4, 5, 6), 30.0, 0.7
# Third harmonics (first pass only): a pitch with a candidate an octave and a fifth below it (frequency / 3)
# of at least TWELFTH_RATIO of its salience is taken for that pitch's third harmonic and keeps TWELFTH_KEEP
# of its emission. A candidate at f/3 with no partials of its own gets its salience only from the partials
# of f (as their 3rd, 6th, ... harmonic), at most ALPHA**2 = 0.64 of f's: more means partials of its own.
TWELFTH_RATIO, TWELFTH_KEEP, TWELFTH_CENTS = 0.8, 0.5, 25.0
MIDI_FMIN = 69.0 + 12.0 * np.log2(FMIN / 440.0)


@dataclass
class PitchTrack:
    """Frame-wise melody pitch: ``midi`` (fractional MIDI, NaN where unvoiced), ``salience``, ``rms``;
    the per-frame candidates (``cand_midi``, ``cand_salience``) when the extractor has them."""

    midi: np.ndarray
    salience: np.ndarray
    rms: np.ndarray
    hop_s: float = HOP / SR
    cand_midi: np.ndarray | None = None
    cand_salience: np.ndarray | None = None
    onset_env: np.ndarray | None = None     # spectral flux per frame, for beat tracking
    attack: np.ndarray | None = None        # growth of the melody pitch's harmonics per frame (new attacks)
    key_onset: np.ndarray | None = None     # Basic Pitch's onset activation (frames, 88 keys from MIDI 21)
    key_onset_times: np.ndarray | None = None   # seconds of its frames
    key_note: np.ndarray | None = None      # Basic Pitch's note activation (same frames and keys)

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.midi)) * self.hop_s


def frames(blocks):
    """Cut a stream of sample blocks into centred, windowed analysis frames, FRAMES_PER_BLOCK at a time."""
    window = np.hanning(WIN + 2)[1:-1].astype("f4")
    buf = np.zeros(WIN // 2, dtype="f4")
    for block in blocks:
        buf = np.concatenate([buf, block])
        while len(buf) >= WIN + (FRAMES_PER_BLOCK - 1) * HOP:
            yield _cut(buf, FRAMES_PER_BLOCK, window)
            buf = buf[FRAMES_PER_BLOCK * HOP:]
    buf = np.concatenate([buf, np.zeros(WIN // 2, dtype="f4")])
    n = (len(buf) - WIN) // HOP + 1 if len(buf) >= WIN else 0
    if n > 0:
        yield _cut(buf, n, window)


def _cut(buf, n, window):
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    return buf[idx] * window


def loudness_weights(n_bins: int, bin_hz: float) -> np.ndarray:
    """A-weighting (IEC 61672) per spectrum bin, as a gain: a stand-in for the ear's equal-loudness curve.

    Bass and kick drum partials (< 150 Hz) lose 15-30 dB, so a bass line's many harmonics stop outvoting
    the lead; the 1-4 kHz region where voices and lead instruments carry their energy is kept.
    """
    f2 = (np.arange(n_bins) * bin_hz) ** 2
    num = 12194.0 ** 2 * f2 ** 2
    den = (f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2)) * (f2 + 12194.0 ** 2)
    gain = np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)
    return gain / gain[np.argmin(np.abs(np.arange(n_bins) * bin_hz - 1000.0))]


def candidates(blocks):
    """Per-frame pitch candidates (MIDI, NaN where none), their salience, the frame RMS and spectral flux."""
    bin_hz = SR / NFFT
    weights = loudness_weights(NFFT // 2 + 1, bin_hz)
    out_c, out_s, out_r, out_f, out_a = [], [], [], [], []
    last = None
    for fr in frames(blocks):
        n = len(fr)
        rms = np.sqrt(np.mean(fr.astype("f8") ** 2, axis=1)) * 2.0   # the Hann window loses ~half
        out_r.append(rms)
        if not np.any(rms > MIN_RMS):     # silence: nothing to analyse (an hour of it takes seconds)
            nothing = np.full((n, N_CAND), np.nan, "f4")
            out_c.append(nothing)
            out_s.append(np.zeros((n, N_CAND), "f4"))
            out_a.append(np.zeros((n, N_CAND), "f4"))
            out_f.append(np.zeros(n, "f4"))
            last = None
            continue
        mag = np.abs(np.fft.rfft(fr, n=NFFT, axis=1)).astype("f8") * weights
        logmag = np.log1p(100.0 * mag[:, :FLUX_BINS])
        prev = np.vstack([logmag[:1] if last is None else last, logmag[:-1]])
        out_f.append(np.maximum(logmag - prev, 0.0).sum(axis=1).astype("f4"))
        pf, pa = np.zeros((n, N_PEAKS)), np.zeros((n, N_PEAKS))
        kernels.spectral_peaks(mag, bin_hz, DYN_RANGE, N_PEAKS, pf, pa)
        sal = np.empty((n, N_BINS))
        kernels.harmonic_salience(pf, pa, FMIN, BIN_CENTS, N_HARMONICS, ALPHA, sal)
        pos, val = np.empty((n, N_CAND)), np.empty((n, N_CAND))
        kernels.top_candidates(sal, N_CAND, pos, val)
        midi = np.where(pos >= 0, MIDI_FMIN + pos * BIN_CENTS / 100.0, np.nan)
        attack = np.empty((n, N_CAND))
        kernels.harmonic_flux(logmag, logmag[0] if last is None else last[0], midi, bin_hz, ATTACK_HARMONICS,
                              attack)
        last = logmag[-1:]
        out_c.append(midi.astype("f4"))
        out_s.append(val.astype("f4"))
        out_a.append(attack.astype("f4"))
    if not out_c:
        empty = np.zeros((0, N_CAND), "f4")
        return empty, empty, np.zeros(0), np.zeros(0, "f4"), empty
    return (np.concatenate(out_c), np.concatenate(out_s), np.concatenate(out_r), np.concatenate(out_f),
            np.concatenate(out_a))


# Basic Pitch's evidence (``melody.audio.fuse``), when given: a candidate keeps 1 - NOTE_WEIGHT of its
# emission where its key sounds no note (activation 0), all of it at activation 1, relative to the frame's
# other candidates (the frame's strongest emission is kept, so voicing is decided by the salience alone:
# a sung low note the network hardly sees stays voiced; measured on vocadito); a key's onset
# activation counts like ONSET_EASE of harmonic attack for the discount above
NOTE_WEIGHT, ONSET_EASE = 0.5, 8.0
# Where the network hears one note sounding at one of a frame's candidates (``fuse.heard_alone``), the unvoiced
# state earns HEARD_UNVOICED times UNVOICED: a quiet note needs a quarter of the salience to be voiced. A voice in
# a room or a soft note 15-25 dB below the take's loudest (a short note sung lightly in a run, a low note in a
# weak register, a vowel whose formants miss its partials) falls under UNVOICED, which is relative to the
# loudest frames, though the network still hears it (scripts/bench_sung.py: 17% of a room take's note frames
# unvoiced, two thirds of them heard; the notes the path missed lie a median 12 dB under the take's loud
# frames at a median salience of 0.10). A release tail or a rest the network hears no note in keeps the usual
# threshold, and so does a frame where it hears several keys, or any frame of an ensemble (``fuse.SINGLE_LINE``).
# Chosen on bench_sung's takes (seeds 0 and 1, BENCHMARKS.md "Eighteenth session: ... the sung notes left
# unvoiced"): 0.5 (before), 0.35 and 0.25 tried; 0.25 recovered the most missed notes without extra notes.
HEARD_UNVOICED = 0.25
# A candidate taken for the overtone of a note the network hears (``fuse.heard_overtones``) keeps OVERTONE_KEEP
# of its weighted emission (as a third harmonic does in the first pass, TWELFTH_KEEP); the frame's strongest
# emission is kept, so voicing is unchanged.
OVERTONE_KEEP = 0.5


def track(cand_midi, cand_sal, rms, flux=None, cand_attack=None, cand_note=None, cand_onset=None,
          heard=None, overtone=None, line=None) -> PitchTrack:
    """The melody path through the candidates, in two passes (see module docstring).

    cand_note, cand_onset : (n_frames, N_CAND) Basic Pitch's note and onset activation at each candidate's
        key (``melody.audio.fuse``), or None: the salience alone.
    heard : (n_frames,) bool, frames where the network hears one note, at a candidate's key
        (``fuse.heard_alone``): voiced at ``HEARD_UNVOICED`` of the usual salience; None: nowhere.
    overtone : (n_frames, N_CAND) bool, candidates taken for a heard note's overtone (``fuse.heard_overtones``):
        they keep ``OVERTONE_KEEP`` of their emission (with ``cand_note`` only); None: none.
    line : (n_frames,) MIDI of the lead line the network hears (`lead_line`), NaN where none: the register is
        the higher of its and the first path's; None: the first path's alone."""
    n = len(cand_midi)
    midi = np.full(n, np.nan, dtype="f4")
    salience = np.zeros(n, dtype="f4")
    attack = np.zeros(n, dtype="f4")
    if n == 0:
        return PitchTrack(midi, salience, rms, onset_env=flux)
    top = cand_sal.max(axis=1)
    loud = rms > MIN_RMS
    ref = float(np.percentile(top[loud], 95)) if loud.any() else 0.0
    if ref <= 0:
        return PitchTrack(midi, salience, rms, onset_env=flux)
    emit = np.where(loud[:, None], cand_sal / ref, 0.0).astype("f8")
    cents = np.where(loud[:, None], cand_midi * 100.0, np.nan).astype("f8")
    path = np.empty(n, dtype=np.int64)
    att = (np.zeros(cents.shape) if cand_attack is None else np.nan_to_num(cand_attack.astype("f8")))
    if cand_note is not None:     # reorders a frame's candidates; its strongest emission (voicing) stays
        weighted = emit * ((1.0 - NOTE_WEIGHT) + NOTE_WEIGHT * cand_note)
        if overtone is not None:
            weighted = weighted * np.where(overtone, OVERTONE_KEEP, 1.0)
        top = weighted.max(axis=1, keepdims=True)
        emit = weighted * np.where(top > 0, emit.max(axis=1, keepdims=True) / np.maximum(top, 1e-12), 0.0)
    if cand_onset is not None:
        att = att + ONSET_EASE * cand_onset
    unvoiced = np.full(n, UNVOICED)
    if heard is not None:
        unvoiced[np.asarray(heard, dtype=bool)] *= HEARD_UNVOICED
    first = emit * np.where(third_harmonics(cents, emit), TWELFTH_KEEP, 1.0)
    ease = (att, EASE_ATTACK, EASE_SHARED_CENTS)
    kernels.viterbi_candidates(cents, first, unvoiced, PER_SEMITONE, CAP, SWITCH, *ease, path)
    centre = register(np.where(path >= 0, cand_midi[np.arange(n), np.maximum(path, 0)], np.nan))
    above = None if line is None else register(line)
    if above is not None:
        centre = above if centre is None else np.fmax(centre, above)
    if centre is not None:
        emit = emit * register_weight(cand_midi, centre)
        kernels.viterbi_candidates(cents, emit, unvoiced, PER_SEMITONE, CAP, SWITCH, *ease, path)
    voiced = path >= 0
    rows = np.nonzero(voiced)[0]
    midi[rows] = cand_midi[rows, path[rows]]
    salience[rows] = emit[rows, path[rows]]
    if cand_attack is not None:
        attack[rows] = cand_attack[rows, path[rows]]
    erratic = ~steady(midi)
    midi[erratic] = np.nan
    salience[erratic] = 0.0
    return PitchTrack(midi, salience, rms, cand_midi=cand_midi, cand_salience=(cand_sal / ref).astype("f4"),
                      onset_env=flux, attack=attack)


def third_harmonics(cents: np.ndarray, emit: np.ndarray) -> np.ndarray:
    """(n_frames, K) True for a candidate that has another candidate of its frame an octave and a fifth
    below (within ``TWELFTH_CENTS``) with at least ``TWELFTH_RATIO`` of its emission: its third harmonic.

    A reed (clarinet) or a bright voice can put more energy in the third partial than in the fundamental
    once the ear's loudness curve is applied; the fundamental still shows partials of its own (1, 2, 4, 5)
    that lift it above what the third partial alone would give it."""
    out = np.zeros(cents.shape, dtype=bool)
    for a in range(0, len(cents), FRAMES_PER_BLOCK):     # (frames, K, K) temporaries: a block at a time
        c, e = cents[a:a + FRAMES_PER_BLOCK], emit[a:a + FRAMES_PER_BLOCK]
        gap = c[:, :, None] - c[:, None, :]              # [t, j, i]: how far candidate j is above candidate i
        below = np.abs(gap - 1200.0 * np.log2(3.0)) < TWELFTH_CENTS
        strong = e[:, None, :] >= TWELFTH_RATIO * e[:, :, None]
        out[a:a + FRAMES_PER_BLOCK] = np.any(below & strong, axis=2)
    return out


def register(midi: np.ndarray) -> np.ndarray | None:
    """Where the lead lives, per frame: the ``REGISTER_QUANTILE`` of a pitch path (MIDI, NaN unvoiced),
    per chunk of ``REGISTER_CHUNK`` frames (a fifth of it voiced at least), then over the chunks within
    ``REGISTER_S`` seconds; chunks with nothing near are interpolated. None when nothing is voiced.

    The upper quartile, not the median: where the path strays in a mix it is mostly onto the accompaniment
    below the lead (bass, chords), which drags a median down but leaves the upper quartile on the lead."""
    from numpy.lib.stride_tricks import sliding_window_view

    n = len(midi)
    n_chunks = -(-n // REGISTER_CHUNK)
    padded = np.full(n_chunks * REGISTER_CHUNK, np.nan)
    padded[:n] = midi
    chunks = padded.reshape(n_chunks, REGISTER_CHUNK)
    enough = np.isfinite(chunks).sum(axis=1) >= REGISTER_CHUNK // 5
    if not enough.any():
        return None
    level = np.full(n_chunks, np.nan)
    level[enough] = np.nanpercentile(chunks[enough], REGISTER_QUANTILE, axis=1)
    half = int(round(REGISTER_S / (REGISTER_CHUNK * HOP / SR)))
    window = sliding_window_view(np.concatenate([np.full(half, np.nan), level, np.full(half, np.nan)]),
                                 2 * half + 1)
    have = np.isfinite(window).any(axis=1)
    centre = np.full(n_chunks, np.nan)
    centre[have] = np.nanpercentile(window[have], REGISTER_QUANTILE, axis=1)
    chunk = np.arange(n_chunks)
    return np.repeat(np.interp(chunk, chunk[have], centre[have]), REGISTER_CHUNK)[:n]


def lead_line(cand_midi: np.ndarray, cand_sal: np.ndarray, cand_note: np.ndarray, cand_onset: np.ndarray,
              heard_note: float) -> np.ndarray:
    """(n_frames,) MIDI of the highest candidate of each frame whose key the network hears (``cand_note``, the
    note activation at each candidate's key, at least ``heard_note``) with at least ``LEAD_LINE_SHARE`` of the
    frame's strongest salience and not an overtone (`overtones`), kept where that pitch holds (within
    ``LEAD_LINE_CENTS`` from frame to frame) for ``LEAD_LINE_HOLD`` frames and the network hears its key struck
    (``cand_onset``, the onset activation at each candidate's key, at least ``LEAD_LINE_STRUCK`` in the run);
    NaN elsewhere.

    A line of notes, not a passing partial, a drum's pitch or a pad's held chord: the register of the lead where
    the first path sits on the band (see ``LEAD_LINE_SHARE``)."""
    midi = np.asarray(cand_midi, dtype="f8")
    sal = np.nan_to_num(np.asarray(cand_sal, dtype="f8"))
    note = np.nan_to_num(np.asarray(cand_note, dtype="f8"))
    n = len(midi)
    if n == 0:
        return np.zeros(0)
    strong = (note >= heard_note) & np.isfinite(midi) & (sal >= LEAD_LINE_SHARE * sal.max(axis=1, keepdims=True))
    masked = np.where(strong & ~overtones(midi, note), midi, -np.inf)
    column = np.argmax(masked, axis=1)
    rows = np.arange(n)
    top = np.where(np.isfinite(masked[rows, column]), midi[rows, column], np.nan)
    with np.errstate(invalid="ignore"):
        same = np.abs(np.diff(top)) * 100.0 <= LEAD_LINE_CENTS        # NaN steps break a run
    starts = np.concatenate([[0], np.nonzero(~same)[0] + 1])          # runs of frames holding one pitch
    lengths = np.diff(np.concatenate([starts, [n]]))
    onset = np.nan_to_num(np.asarray(cand_onset, dtype="f8"))[rows, column]
    first = np.minimum(starts + LEAD_LINE_HOLD, n)                    # a note is struck as it starts
    struck = np.array([onset[a:b].max() for a, b in zip(starts, first)])
    keep = (lengths >= LEAD_LINE_HOLD) & (struck >= LEAD_LINE_STRUCK)
    return np.where(np.repeat(keep, lengths), top, np.nan)


def overtones(cand_midi: np.ndarray, cand_note: np.ndarray) -> np.ndarray:
    """(n_frames, K) True for a candidate lying ``LEAD_LINE_HARMONICS`` times above a candidate of its frame
    (within ``LEAD_LINE_HARMONIC_CENTS``) whose key the network hears more strongly (``cand_note``): that
    note's overtone. The network can hear a bright instrument's third partial as a key of its own, though
    more weakly than the note itself; a lead above a band's chord tone is heard more strongly than the chord."""
    cents = np.asarray(cand_midi, dtype="f8") * 100.0
    note = np.nan_to_num(np.asarray(cand_note, dtype="f8"))
    out = np.zeros(cents.shape, dtype=bool)
    for a in range(0, len(cents), FRAMES_PER_BLOCK):     # (frames, K, K) temporaries: a block at a time
        h = note[a:a + FRAMES_PER_BLOCK]
        near = partial_pairs(cents[a:a + FRAMES_PER_BLOCK], LEAD_LINE_HARMONICS, LEAD_LINE_HARMONIC_CENTS)
        out[a:a + FRAMES_PER_BLOCK] = np.any(near & (h[:, :, None] < LEAD_LINE_OVERTONE * h[:, None, :]), axis=2)
    return out


def partial_pairs(cents: np.ndarray, harmonics, tolerance_cents: float) -> np.ndarray:
    """(n_frames, K, K) [t, j, i]: True where candidate j of frame t lies one of ``harmonics`` times above
    candidate i (within ``tolerance_cents``); ``cents``: (n_frames, K) candidates in cents, NaN for none.
    Call it a block of frames at a time: the temporaries are K times the input."""
    gap = cents[:, :, None] - cents[:, None, :]          # [t, j, i]: how far candidate j lies above candidate i
    near = np.zeros(gap.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for k in harmonics:
            near |= np.abs(gap - 1200.0 * np.log2(k)) <= tolerance_cents
    return near


def register_weight(cand_midi: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The share of emission a candidate keeps at its distance from the register (1 within ``REGISTER_RANGE``
    semitones; NaN candidates 1, they have none)."""
    excess = np.maximum(np.abs(cand_midi - centre[:, None]) - REGISTER_RANGE, 0.0)
    return np.exp(-np.nan_to_num(excess) / REGISTER_SCALE)


def steady(midi: np.ndarray) -> np.ndarray:
    """False where the path jumps about: in noise the most salient pitch changes almost every frame,
    in music it holds for a note or glides (vibrato, a scoop: ``GLIDE_STEP``) (measured: >= 95% of steps under 0.3 semitones in music, ~65-70% in
    white or brown noise). Judged over ``STEADY_WINDOW`` frames around each frame; unvoiced frames pass."""
    from scipy.ndimage import uniform_filter1d

    if len(midi) < 2:
        return np.ones(len(midi), dtype=bool)
    step = np.diff(midi.astype("f8"))
    known = np.isfinite(step)
    bend = np.abs(np.diff(step, prepend=np.nan))
    with np.errstate(invalid="ignore"):
        calm = known & ((np.abs(step) < CALM_STEP) | ((np.abs(step) < GLIDE_STEP) & (bend < CALM_STEP)))
    density = uniform_filter1d(known.astype("f8"), STEADY_WINDOW, mode="constant")
    share = uniform_filter1d(calm.astype("f8"), STEADY_WINDOW, mode="constant") / np.maximum(density, 1e-9)
    ok = (share >= MIN_STEADY) | (density < 0.25)
    return ~np.isfinite(midi) | np.concatenate([ok[:1], ok])   # steps -> frames


def melody_track(blocks) -> PitchTrack:
    """Stream of sample blocks at SR -> the predominant-melody pitch track."""
    return track(*candidates(blocks))


def pyin_track(blocks) -> PitchTrack:
    """The alternative we measured against (BENCHMARKS.md): librosa's probabilistic YIN on the whole signal.

    A monophonic f0 tracker: good on solo lines, but in a mix it follows whatever is loudest, and it is
    slower; kept for the side-by-side benchmark (``transcribe(..., method="pyin")``).
    """
    import librosa

    y = np.concatenate([np.zeros(0, "f4"), *blocks])
    if len(y) < WIN:
        return PitchTrack(np.zeros(0, "f4"), np.zeros(0, "f4"), np.zeros(0))
    f0, voiced, prob = librosa.pyin(y, fmin=FMIN, fmax=FMIN * 2 ** (N_BINS * BIN_CENTS / 1200), sr=SR,
                                    frame_length=WIN, hop_length=HOP, center=True)
    rms = librosa.feature.rms(y=y, frame_length=WIN, hop_length=HOP, center=True)[0][:len(f0)] * np.sqrt(2)
    midi = np.where(voiced & np.isfinite(f0), 69.0 + 12.0 * np.log2(np.maximum(f0, 1e-6) / 440.0), np.nan)
    return PitchTrack(midi.astype("f4"), np.where(voiced, prob, 0.0).astype("f4"), rms)

