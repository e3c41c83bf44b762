"""Beats for transcribed notes: snap onsets to the performance's own beat grid and mark on/off-beat notes.

A score gives every note a metric position and exact durations; a transcription has neither, and its
onsets wobble by 10-40 ms. Where the music has a steady beat (most songs and mixes), a beat tracker
(`melody.audio.beat_tracker`: Ellis's dynamic program, librosa's beats without importing librosa.beat)
on the spectral flux gives beat times; each note onset is moved to the nearest quarter of its local beat
(shifted by the notes' median lag behind the beats, so absolute onset times keep the notes' own phase),
so inter-onset ratios come out as clean as in a score, and notes on a beat are marked as such
(``beat`` = 1.0, 2.0, ... with ``bar`` unknown: the downbeat is guessed only where it stands out). Where the
onsets fit no grid of the tracked tempo, 3/2 and 2/3 of it are tried (``TEMPO_ALTERNATIVES``); where they
fit none of these either (free rhythm, rubato singing, a tracker that lost the beat or found another wrong
tempo) the notes are left as they were.

A single line (a voice, one instrument: ``line=True``) has a second beat: the one tracked on its own notes'
onsets (`line_onset_envelope`); both its beats are made steady (`steady_beats`: the tracker puts beats on
the onsets it is given, and a line's flux is mostly its own onsets), and its notes snap to whichever of the
two grids they lie closer to. Two onsets that round to one grid point stay two notes in a line (`unshared`).
"""
from __future__ import annotations

import numpy as np

from .beat_tracker import track_beats

SUBDIVISIONS = (4, 3)      # snap to quarter-beats, or to thirds (compound meters, triplets) if they fit better
MAX_RESIDUAL_S = 0.035     # the onsets fit the grid when three quarters of them are this close to it
MAX_MOVE_S = 0.06          # and no onset moves further than this
FAR_STEP = 0.3             # nor further than this share of the grid step (half-way between: not the grid's)
MAX_RESIDUAL_STEP = 0.25   # and that is under this share of the grid step (onsets at random: 0.375)
MIN_BEATS = 8
WINDOW_S, OVERLAP_S = 60.0, 8.0
MIN_DOWNBEAT_CONTRAST = 0.15
# In an ensemble the band's harmony is a third downbeat cue (`downbeats`' ``harmony``): chords change most often
# at the start of a bar (harmonic rhythm; Goto 2001 reads bar lines off chord changes in music without drums).
# Each beat's change is 1 - the cosine of the pitch-class profile of the network's note activation over the beat
# before and the beat after it (`harmonic_change`); an unchanged chord gives 0, a new one up to 1. A single line's
# "harmony" is its own notes, so lines keep the two cues. Measured on bench_audio's seed-1 mixes (BENCHMARKS.md,
# "Twenty-seventh session: where a mix's bar starts"): of 120 snapped mixes, the guessed downbeats agree with the
# score's bars on 39 (16 wrong, 30 unmarked) with two cues and 86 (11 wrong, 2 unmarked) with three; seed 2: 41
# (25 wrong) and 92 (11 wrong) of 126. The profile leaves out the lead (the path's pitch) and whatever sounds
# above it or within LEAD_MARGIN under it (its tuning and glides: 1 semitone, not tuned): the melody changes
# pitch within the bar, the band's chord does not (all keys: 82 right, 12 wrong; the lead's pitch class alone:
# 50 and 23). The benchmark's band changes chord once a bar by construction, so these figures are an upper
# bound for real music.
LEAD_MARGIN = 1.0
PROFILE_BLOCK = 8192   # network frames per block of `pitch_class_profile` (95 s; bounds its memory)
# when the notes fit no grid of the tracked tempo, these multiples of it are tried: a melody moving in
# eighths correlates about as well at two, three and four eighths, and the tracker's prior around 120 BPM
# then takes three eighths for the beat of a fast duple tune (180 BPM tracked at 120), or two for a
# compound one. Three tempi and two subdivisions give a short phrase's onsets six chances to fit a grid by
# accident, so the alternatives need ALTERNATIVE_MIN_NOTES onsets (a sung phrase of a dozen notes is left
# at the tracked tempo)
TEMPO_ALTERNATIVES, ALTERNATIVE_MIN_NOTES = (1.5, 2.0 / 3.0), 24
# A single line's beat is also tracked on its own notes' onsets (`line_onset_envelope`), each a Gaussian pulse
# of LINE_PULSE_FRAMES frames' s.d.: the smoothing librosa's onset strength has (a few frames). The spectral
# flux of a sung line also peaks at each consonant (30-80 ms before its vowel, on most sung notes) and at
# every breath, and in a room at its reverb: on bench_sung's takes with a singer's effects the flux's beats
# let 13-15 of 50 takes snap where the same notes hummed (no consonants) snap 32-34 and the clean voice 46
# (BENCHMARKS.md, twenty-second session). The value is the one measured there, not tuned.
LINE_PULSE_FRAMES = 2.0
# The tracker puts the beats of an envelope of onsets on those onsets (its tightness only bends them), so a
# line fits the grid of its own onsets' beats whatever its rhythm: onsets at random snapped in 30 of 30
# draws, against 2 of 30 on a click they ignore, and the snapping moved no jittered onset towards its written
# time. A line's flux is much the same envelope (a clean instrument's flux is little else than its onsets).
# So in a line both beats are made steady over LINE_BEAT_WIDTH beats (`steady_beats`: a local straight line,
# the tempo curve kept, the beat-to-beat jitter gone) before the fit is judged: random onsets then fit 2 of
# 30, and a sung line's onset jitter (s.d. 15-25 ms) is snapped out. At 4 beats a tempo curve of 5% bends the
# grid off the notes (11 of 20 lines with 15 ms of jitter fit); at 1, random onsets fit 7 of 30
# (BENCHMARKS.md, twenty-third session).
LINE_BEAT_WIDTH = 2.0


def beat_times(onset_env: np.ndarray, hop_s: float, factor: float = 1.0) -> np.ndarray:
    """Beat times (s) from a spectral-flux envelope; empty when no steady beat is found.

    factor : track beats at this multiple of the estimated tempo (`snap_to_beats` tries 3/2 and 2/3).

    Tracked in windows of ``WINDOW_S`` (the tempo may drift over a long piece, and one window at a time
    keeps an hour-long file in bounded memory).
    """
    if onset_env is None or len(onset_env) < 4 / hop_s or not np.any(onset_env > 0):
        return np.zeros(0)
    sr = 1.0 / hop_s
    win = int(WINDOW_S / hop_s)
    beats = []
    for start in range(0, len(onset_env), win):
        stop = min(start + win, len(onset_env))
        if beats and stop - start < 4 / hop_s:
            break
        lo = max(start - int(OVERLAP_S / hop_s), 0)     # context before the window, beats from it dropped
        env = onset_env[lo:stop].astype("f8")
        if not np.any(env > 0):
            continue
        bpm = tempo(env, sr)
        if bpm is None:
            continue
        bpm *= factor
        # frames to seconds as librosa.frames_to_time does it (frame / rate), so the times keep their last bit
        got = track_beats(env, sr, bpm) / sr + lo * hop_s
        beats.append(got[got >= start * hop_s])
    beats = np.concatenate(beats) if beats else np.zeros(0)
    if len(beats) > 1:
        beats = beats[np.concatenate([[True], np.diff(beats) > 0.1])]
    return beats if len(beats) >= MIN_BEATS else np.zeros(0)


def line_onset_envelope(onset: np.ndarray, n_frames: int, hop_s: float) -> np.ndarray:
    """An onset envelope of ``n_frames`` frames (``hop_s`` apart) made of the notes' own onsets: a unit
    Gaussian pulse (s.d. LINE_PULSE_FRAMES frames) at each, the beat tracker's input for a single line."""
    env = np.zeros(n_frames)
    if n_frames == 0 or len(onset) == 0:
        return env
    frames = np.clip(np.round(np.asarray(onset, dtype="f8") / hop_s).astype(np.int64), 0, n_frames - 1)
    np.add.at(env, frames, 1.0)
    reach = int(np.ceil(3 * LINE_PULSE_FRAMES))
    pulse = np.exp(-0.5 * (np.arange(-reach, reach + 1) / LINE_PULSE_FRAMES) ** 2)
    return np.convolve(env, pulse, mode="same")


def local_line(beats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each beat's value on the straight line fitted (weighted least squares) to the beats around it: ``weights``
    (odd length) weighs the neighbours at index offsets -r..r; at the ends only the beats there count."""
    beats = np.asarray(beats, dtype="f8")
    d = np.arange(len(weights), dtype="f8") - (len(weights) - 1) / 2

    r = (len(weights) - 1) // 2

    def near(x, kernel):      # sum over the neighbours j of kernel(j - k) * x[j], for every beat k
        return np.convolve(x, kernel[::-1])[r:r + len(x)]    # ("same" is as long as the kernel when that is longer)

    one = np.ones(len(beats))
    sw, swd, swdd = near(one, weights), near(one, weights * d), near(one, weights * d * d)
    swb, swdb = near(beats, weights), near(beats, weights * d)
    slope = (sw * swdb - swd * swb) / (sw * swdd - swd * swd)
    return (swb - slope * swd) / sw


def steady_beats(beats: np.ndarray, width: float) -> np.ndarray:
    """Each beat moved onto a straight line through its neighbours (`local_line`, Gaussian weights of s.d.
    ``width`` beats): the beats' tempo curve without their beat-to-beat jitter; ``width`` 0 leaves them."""
    if width <= 0 or len(beats) < 3:
        return beats
    reach = int(np.ceil(3 * width))
    return local_line(beats, np.exp(-0.5 * (np.arange(-reach, reach + 1) / width) ** 2))


def tempo(env: np.ndarray, sr: float) -> float | None:
    """Tempo (BPM) of an onset envelope: the strongest autocorrelation lag between 40 and 220 BPM, weighted
    by a log-normal prior around 120 BPM (one octave wide), or None without periodicity.

    One FFT per window; librosa's own estimate builds a full tempogram, which costs ~30x more here.
    """
    x = env - env.mean()
    if not np.any(x):
        return None
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    spec = np.fft.rfft(x, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: len(x)]
    lags = np.arange(len(ac), dtype="f8")
    ok = (lags >= sr * 60.0 / 220.0) & (lags <= sr * 60.0 / 40.0)
    if not ok.any() or ac[0] <= 0:
        return None
    bpm = 60.0 * sr / np.maximum(lags, 1.0)
    weighted = np.where(ok, ac / ac[0], -np.inf) * np.exp(-0.5 * np.log2(bpm / 120.0) ** 2)
    best = int(np.argmax(weighted))
    return float(bpm[best]) if np.isfinite(weighted[best]) and weighted[best] > 0 else None


def beat_positions(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Fractional beat index of each time, linear between beats and extrapolated beyond the ends."""
    idx = np.arange(len(beats), dtype="f8")
    pos = np.interp(times, beats, idx)
    first = (beats[1] - beats[0])
    last = (beats[-1] - beats[-2])
    pos = np.where(times < beats[0], (times - beats[0]) / first, pos)
    return np.where(times > beats[-1], idx[-1] + (times - beats[-1]) / last, pos)


def downbeats(beat_no, on_beat, dur_beats, onset_env, beats, hop_s,
              harmony: np.ndarray | None = None) -> tuple[int, int]:
    """Guess the bar: (beats per bar, index of a downbeat beat), or (0, 0) when nothing stands out.

    Two cues, each as a contrast (best phase against the average of the phases): melody notes that start
    on a downbeat tend to be longer and present, and the accompaniment's onsets (kick, bass, chord
    changes) are strongest there. ``harmony`` (an ensemble's `harmonic_change` per beat, or None) adds a
    third: the band's chord changes there (the note on the harmony cue at ``MIN_DOWNBEAT_CONTRAST``). Meters
    of 4 (or 2) and 3 beats are tried.
    """
    beat_frames = np.clip(np.round(beats / hop_s).astype(np.int64), 0, len(onset_env) - 1)
    strength = np.array([onset_env[max(f - 2, 0):f + 3].max() for f in beat_frames], dtype="f8")
    weight = np.where(on_beat, 1.0 + np.log2(1.0 + np.maximum(dur_beats, 0.0)), 0.0)
    beat_cues = [strength] if harmony is None else [strength, np.asarray(harmony, dtype="f8")]
    best, choice = 0.0, (0, 0)
    for meter in (4, 3):
        if len(beats) < 2 * meter:
            continue
        phase = np.arange(len(beats)) % meter
        by_phase = [np.array([weight[np.mod(beat_no, meter) == k].sum() for k in range(meter)])]
        by_phase += [np.array([cue[phase == k].mean() for k in range(meter)]) for cue in beat_cues]
        score = sum(cue / max(cue.mean(), 1e-9) for cue in by_phase)
        k = int(np.argmax(score))
        contrast = score[k] - np.delete(score, k).max()
        if contrast > best:
            best, choice = contrast, (meter, k)
    return choice if best >= MIN_DOWNBEAT_CONTRAST else (0, 0)


def pitch_class_profile(activation: np.ndarray, lowest_key: int, lead: np.ndarray | None = None) -> np.ndarray:
    """(frames, 12): a key activation (frames, keys from MIDI ``lowest_key``) summed over each pitch class.
    ``lead``: the melody's pitch per frame (NaN where none), or None; where given, only the keys more than
    ``LEAD_MARGIN`` semitones under it count (the band's harmony without its melody)."""
    keys = np.arange(np.shape(activation)[1]) + lowest_key
    out = np.zeros((len(activation), 12))
    for a in range(0, len(activation), PROFILE_BLOCK):     # in blocks: frames x keys in f8 is 0.2 GB an hour
        block = np.asarray(activation[a:a + PROFILE_BLOCK], dtype="f8")
        if lead is not None:
            under = np.asarray(lead[a:a + PROFILE_BLOCK], dtype="f8")[:, None]
            block = np.where(np.isfinite(under) & (keys[None, :] >= under - LEAD_MARGIN), 0.0, block)
        np.add.at(out[a:a + PROFILE_BLOCK].T, keys % 12, block.T)
    return out


def harmonic_change(times: np.ndarray, profile: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Per beat: how far the harmony changes there, 1 - the cosine of the mean pitch-class ``profile`` (frames at
    ``times`` s, 12 columns) over the beat before it and over the beat after it (after the last beat: one more
    beat period). 0 where either side is silent or holds no frame, and at the first beat (the note on the harmony
    cue at ``MIN_DOWNBEAT_CONTRAST``)."""
    beats = np.asarray(beats, dtype="f8")
    out = np.zeros(len(beats))
    if len(beats) < 2 or len(times) == 0:
        return out
    ends = np.concatenate([beats, [beats[-1] + (beats[-1] - beats[-2])]])
    edge = np.searchsorted(times, ends)
    mean = np.array([profile[a:b].mean(axis=0) if b > a else np.zeros(profile.shape[1])
                     for a, b in zip(edge[:-1], edge[1:])])
    norm = np.linalg.norm(mean, axis=1)
    before, after = mean[:-1], mean[1:]
    both = (norm[:-1] > 0) & (norm[1:] > 0)
    cos = np.einsum("ij,ij->i", before, after) / np.where(both, norm[:-1] * norm[1:], 1.0)
    out[1:] = np.where(both, 1.0 - cos, 0.0)
    return out


def times_at(pos: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """The inverse of `beat_positions`: the time of each fractional beat index."""
    idx = np.arange(len(beats), dtype="f8")
    times = np.interp(pos, idx, beats)
    times = np.where(pos < 0, beats[0] + pos * (beats[1] - beats[0]), times)
    return np.where(pos > idx[-1], beats[-1] + (pos - idx[-1]) * (beats[-1] - beats[-2]), times)


def _grid_fit(onset: np.ndarray, beats: np.ndarray):
    """(beat period, subdivision, grid position of each onset, lag, beat position of each onset, fit) of the
    finest grid the onsets fit, or None when they fit none (see the module docstring). ``fit`` (s) is how
    close the onsets lie to it: the 75th percentile of their distance after the lag."""
    period = float(np.median(np.diff(beats)))
    pos = beat_positions(onset, beats)
    fits = []
    for sub in SUBDIVISIONS:
        # a transcription's onsets can trail the beat by a constant lag (a slow attack becomes the
        # predominant pitch late): remove the median lag, at most MAX_MOVE_S, before judging the fit
        raw = pos - np.round(pos * sub) / sub
        lag = float(np.clip(np.median(raw), -MAX_MOVE_S / period, MAX_MOVE_S / period))
        grid = np.round((pos - lag) * sub) / sub
        fits.append((float(np.percentile(np.abs(pos - lag - grid), 75)) * period, sub, grid, lag))
    fit, sub, grid, lag = min(fits, key=lambda f: f[0])
    if fit > min(MAX_RESIDUAL_S, MAX_RESIDUAL_STEP * period / sub):
        return None
    return period, sub, grid, lag, pos, fit


def _tracked_grid(onset: np.ndarray, onset_env: np.ndarray | None, hop_s: float, factors,
                  width: float = 0.0) -> tuple[dict, tuple]:
    """What the beat tracker finds on one envelope ({"beats", "tempo_bpm"} at the tracked tempo) and the
    (beats, `_grid_fit`) of the first tempo in ``factors`` whose grid the onsets fit, or (info, None); the
    beats made steady over ``width`` beats first (`steady_beats`)."""
    info = {"beats": 0, "tempo_bpm": None}
    for factor in factors:
        beats = steady_beats(beat_times(onset_env, hop_s, factor), width)
        if len(beats) == 0:
            if factor == 1.0:
                return info, None
            continue
        if factor == 1.0:
            info = {"beats": int(len(beats)), "tempo_bpm": round(60.0 / float(np.median(np.diff(beats))), 1)}
        fitted = _grid_fit(onset, beats)
        if fitted is not None:
            return info, (beats, fitted)
    return info, None


def unshared(grid: np.ndarray, far: np.ndarray) -> np.ndarray:
    """``far`` with every onset added whose grid point the snapped onset before it already holds: such an
    onset keeps its own time (between beats) instead of being merged into the note before it. Two
    transcribed onsets on one point are two notes (a sung note re-struck, a quick ornament, a glide's
    second pitch); merging kept only the first, a note lost to the melody and to note F."""
    out = far.copy()
    snapped = np.flatnonzero(~far)
    out[snapped[1:][np.diff(grid[snapped]) <= 0]] = True
    return out


def snap_to_beats(notes: np.ndarray, onset_env: np.ndarray | None, hop_s: float,
                  line: bool = False, harmony: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, dict]:
    """Notes with onsets on the beat grid and on-beat marks, or unchanged; plus what was found.

    line : the notes are a single line (a voice, a solo instrument): its beat is also tracked on its own
        notes' onsets (`line_onset_envelope`), both beats are made steady (`steady_beats`), and the notes
        snap to whichever grid (that of ``onset_env`` or that of their own onsets) they lie closer to
        (`_grid_fit`'s fit; ``info["beats_from"]``); two onsets on one grid point stay two notes (`unshared`).
    harmony : an ensemble's (frame times in s, `pitch_class_profile` per frame), or None: where the band's
        chords change is then a cue to the downbeat as well (`downbeats`, `harmonic_change`).
    """
    info = {"beats": 0, "tempo_bpm": None, "snapped": False}
    if len(notes) < 3:
        return notes, info
    factors = (1.0, *TEMPO_ALTERNATIVES) if len(notes) >= ALTERNATIVE_MIN_NOTES else (1.0,)
    envelopes = {"flux": onset_env}
    if line and onset_env is not None:
        envelopes["notes"] = line_onset_envelope(notes["onset"], len(onset_env), hop_s)
    # a line's flux peaks at its own onsets too (a clean instrument's flux is little else): both beats steady
    width = LINE_BEAT_WIDTH if line else 0.0
    tracked = {name: _tracked_grid(notes["onset"], env, hop_s, factors, width) for name, env in envelopes.items()}
    fitting = [name for name, (_, found) in tracked.items() if found is not None]
    if not fitting:
        info.update(tracked["flux"][0])
        return notes, info
    # the grid the onsets lie closer to; a tie goes to the flux (the first)
    source = min(fitting, key=lambda name: tracked[name][1][1][5])
    onset_env = envelopes[source]
    beats, (period, sub, grid, lag, pos, _) = tracked[source][1]
    info["beats"] = int(len(beats))
    info["tempo_bpm"] = round(60.0 / period, 1)
    if line:
        info["beats_from"] = source
    # an onset the grid does not explain stays put: further than MAX_MOVE_S from it, or than FAR_STEP of its
    # step (a sixteenth between the points of a grid of eighths, a grace note), or, in a line, on a point the
    # onset before it holds (`unshared`; in a mix or a played MIDI part the second is merged, as it was)
    far = np.abs(pos - lag - grid) * period > min(MAX_MOVE_S, FAR_STEP * period / sub)
    if line:
        far = unshared(grid, far)
    info["subdivision"] = sub
    out = notes.copy()
    ends = notes["onset"] + notes["duration"]
    # the grid keeps the notes' own phase: the tracker's beats sit wherever the flux peaks, which is not
    # where a note starts (a slow attack, a soft onset); only the spacing of the onsets is cleaned up
    snapped = np.where(far, notes["onset"], times_at(grid + lag, beats))
    # two onsets on one grid point (a mix's, a played part's), or an onset left in place before the snapped
    # one of the note before it: the first is kept
    keep = np.concatenate([[True], np.diff(snapped) > 1e-6])
    out["onset"] = np.maximum(snapped, 0.0)
    out = out[keep]
    ends = ends[keep]
    nxt = np.concatenate([out["onset"][1:], [np.inf]])
    out["duration"] = np.maximum(np.minimum(ends, nxt) - out["onset"], 1e-3)
    on_beat = (np.abs(grid - np.round(grid)) < 1e-6)[keep] & ~far[keep]
    beat_no = np.round(grid[keep]).astype(np.int64)
    change = None if harmony is None else harmonic_change(harmony[0], harmony[1], beats)
    meter, phase = downbeats(beat_no, on_beat, out["duration"] / period, onset_env, beats, hop_s, change)
    in_bar = np.mod(beat_no - phase, meter).astype("f4") if meter else np.ones(len(out), "f4")
    # beat field: 0 on a guessed downbeat, 1.. on other beats (metric classes 2 / 1), 0.5 between (class 0)
    out["beat"] = np.where(on_beat, in_bar, 0.5).astype("f4")
    out["bar"] = -1
    info["meter"], info["downbeat_phase"] = meter, phase
    info["snapped"] = True
    return out, info
