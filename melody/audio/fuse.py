"""The salience tracker with Basic Pitch's evidence: our candidates and Viterbi, the network's note and
onset activations as extra terms.

The harmonic-sum candidates (``melody.audio.extract``) say which pitches are loud; Basic Pitch
(``melody.audio.neural``), trained on real recordings, says which keys sound as notes and where notes
start. Per tracker frame and candidate we read the activation of the candidate's key near that frame
(``kernels.key_evidence``):

- note: a candidate whose key is not sounding as a note (an octave-low sum of accompaniment partials and
  the lead's even harmonics, a ringing note already released) loses part of its emission
  (``extract.NOTE_WEIGHT``);
- onset: a pitch change into a candidate whose key starts a note is cheaper, like a harmonic attack
  (``extract.ONSET_EASE``);
- voicing: where the network hears one key sounding, and it is a candidate's, a quieter pitch is voiced
  (``heard_alone``, ``extract.HEARD_UNVOICED``): a soft note in a noisy room, a note sung lightly;
- overtones: a candidate at 2-6 times the frequency of a candidate whose key the network hears, its own key
  unheard, is taken for that note's overtone (``heard_overtones``, ``extract.OVERTONE_KEEP``): a low voice
  in a room;
- the onset activation at each note's own key then splits re-played repeats that the salience shows as
  one note, and an onset at another key that then sounds alone starts the short note the path held the
  previous note over (``melody.audio.segment``).

The file is decoded twice (16 kHz for the tracker, 22.05 kHz for the network), both streamed.
"""
from __future__ import annotations

import numpy as np

from . import kernels, neural
from .decode import AudioStats, blocks
from .extract import FRAMES_PER_BLOCK, HOP, SR, PitchTrack, candidates, lead_line, partial_pairs, track

NOTE_BEFORE_S, NOTE_AFTER_S = 0.03, 0.06     # window of activation frames read per tracker frame
ONSET_BEFORE_S, ONSET_AFTER_S = 0.03, 0.06
# A key sounds where its note activation reaches HEARD_NOTE: Basic Pitch's own frame threshold (its
# `predict` default, 0.3), the level at which it continues a note it has started.
HEARD_NOTE = 0.3
# A recording is a single line (one voice or instrument) where, of the activation frames in which the network
# hears any key sounding, at least SINGLE_LINE hear exactly one; only there does a lone key voice a quiet frame.
# In an ensemble a lone key heard in the lead's rest is mostly the accompaniment's (bench_audio's mixes got
# extra notes from it, note F -0.003 on 50 songs). Measured: bench_audio mixes 0.03-0.20, its FluidSynth
# solos 0.32-0.86 (sustained piano and guitar notes overlap), bench_sung takes 0.57-0.97: the middle of the gap.
SINGLE_LINE = 0.4
# ... counting as one key a frame whose other keys are the line's own: a key at a partial's distance above a heard
# key that started with it (LINE_PARTIALS, PARTIAL_ONSET_S: a clarinet's 3rd and 5th partials, which the network
# hears as keys of their own in most of a note), and two or more keys that overlap for no longer than HANDOVER_S
# (a note's release still sounding as the next starts, a legato slur). A band's keys start on their own and
# sound together for longer: its chord under the lead lasts a lead note or more. Measured on bench_audio's seed-1
# renders (BENCHMARKS.md, "Twenty-seventh session: a solo instrument judged a single line"): 24 FluidSynth solos
# (all 8 clarinets) were judged ensembles with 0.10-0.40 of their frames on one key; 10 of them (7 clarinets)
# reach 0.40-0.79 with their own partials and handovers, while one mix of 150 (a negative) passes both this
# and `UNDER_LINE`; on seed 2, 10 solos and no mix. The 2nd-8th partials are the ones the network was seen to
# hear (+12, +19, +24, +28, +31, +34, +36 semitones).
LINE_PARTIALS = (2, 3, 4, 5, 6, 7, 8)
# Basic Pitch's note activation outlasts a release by a few frames, and a legato or a reverberant release rings
# over the next note's start: 0.14 s (12 activation frames) is a short note's length at a quick tempo, shorter
# than any chord a band holds under a lead note. 0.09 and 0.19 s were measured too (the same section).
HANDOVER_S = 0.14
# A key at a partial's distance is the note's own where it starts to sound within PARTIAL_ONSET_S of the note's
# key (the network's onset of a weak partial lags its note's by a frame or a few); a band's bass or chord, a
# twelfth or two octaves under the lead, starts on its own beat. 0.1 s, about a sixteenth at a quick tempo.
PARTIAL_ONSET_S = 0.1
# ... and where fewer than UNDER_LINE of those frames hear two keys more than an octave apart at a distance no
# partial of the lower key lies at (UNDER_LINE_HARMONICS: the network can hear a bright note's 3rd or 4th partial
# as a key): a bass or a chord under the line. A band whose lead the network hears alone half the time (a piano
# lead over a sparse band: bench_audio's p0017, 0.497 of the frames with one key) still has its bass under the
# lead. Measured (scratch, BENCHMARKS.md "Twenty-fourth session: a mix's lead in the wrong register"): every
# bench_audio mix of seeds 1 and 2 0.19-0.99 (p0017 0.30), the FluidSynth solos heard as single lines 0-0.15,
# bench_sung's 400 takes 0-0.03, vocadito and MASTmelody's takes 0-0.05 and its piano references 0-0.13,
# bench_nomelody's recordings heard as single lines 0-0.09: a quarter, inside the gap.
UNDER_LINE = 0.25
UNDER_LINE_HARMONICS = (3, 4, 5, 6, 7, 8)
# One line doubled at the octave, not a band: an instrument whose octave partial the network hears as a key of
# its own (a steel pan's tuned octave; plausibly an organ's 8' + 4' stops, a 12-string guitar's octave strings),
# or a line doubled an octave away with nothing else playing, sounds as two keys an octave apart with every note,
# so `single_line` counts it an ensemble. Where, of the frames in which the network hears several keys, at
# least OCTAVE_LINE hear one key and its octaves and nothing else, no band plays under the line, and the rules
# that read a band under a lead (``melody.audio.segment``: its doubling an octave below, its chord tones under
# a held note) do not apply. A majority, not tuned: measured on bench_audio's seed-1 renders, the mixes heard as
# ensembles 0.00-0.27 and the FluidSynth solos heard as ensembles 0.00-0.31, against bench_nomelody's
# steel_drums_line 1.00 (BENCHMARKS.md, "Twenty-second session: the mixes that still lose rank 1").
OCTAVE_LINE = 0.5
# In a single line a frame counts as heard alone while at most HEARD_KEYS keys sound, one of them a candidate's:
# a short sung note (60-100 ms, a singer's onset jitter) sounds while the network still hears the note before
# it, and with one key only such a note stayed unvoiced (BENCHMARKS.md, "the short notes a singer's timing
# leaves": 1 and 2 tried; 2 gained 3 queries at rank 1 over the sung steady and timing takes, seeds 0 and 1).
HEARD_KEYS = 2
# A candidate lying OVERTONE_HARMONICS times above another of its frame (within OVERTONE_CENTS; a voice's and
# an instrument's partials are harmonic) is that candidate's overtone where the network hears the lower key
# sounding (HEARD_NOTE) and not its own. A low voice (a male singer's A2-D3) has its fundamental 15-20 dB
# down under the ear's loudness curve, so its 4th-6th partials, in the first formant (500-700 Hz), sum to a
# salience as high as the fundamental's; in a room the reverb colours the partials and the network's note
# activation at the sung key drops (0.7-0.8 -> 0.5-0.65), and the path went onto the partials (bench_sung's
# "all" takes of 8 songs put in a room: 27 of 292 notes at a wrong pitch, most of them 1-2.6 octaves high,
# against 12 dry; 17 with this rule; BENCHMARKS.md, "voices and instruments in a room"). Single line only
# (SINGLE_LINE): in a mix a heard bass note under an unheard lead is common.
OVERTONE_HARMONICS, OVERTONE_CENTS = (2, 3, 4, 5, 6), 30.0


def key_evidence(act: np.ndarray, act_times: np.ndarray, cand_midi: np.ndarray, before_s: float,
                 after_s: float) -> np.ndarray:
    """(n_frames, K) the strongest activation of each candidate's nearest key (``act`` columns from MIDI
    ``neural.MIDI_LOW``) within ``before_s`` before to ``after_s`` after each tracker frame; 0 for none."""
    out = np.zeros(cand_midi.shape)
    if len(act) and len(cand_midi):
        kernels.key_evidence(np.ascontiguousarray(act, dtype="f4"), np.asarray(act_times, dtype="f8"),
                             neural.MIDI_LOW, np.asarray(cand_midi, dtype="f8"), HOP / SR, before_s, after_s, out)
    return out


def heard_alone(note: np.ndarray, act_times: np.ndarray, cand_midi: np.ndarray) -> np.ndarray:
    """(n_frames,) True where, at the activation frame nearest each tracker frame, the network hears at most
    ``HEARD_KEYS`` keys sounding (note activation >= ``HEARD_NOTE``) and one of them is the key of one of the
    frame's candidates; all False in a recording that is not a single line (``SINGLE_LINE``).

    One key: a single line (a voice, a solo instrument); two: a short note while the one before still sounds
    (its tail, or its reverb); where more sound (chords, a mix's accompaniment while the lead rests) the
    salience alone decides the voicing."""
    n = len(cand_midi)
    if not len(note) or not n or not single_line(note):
        return np.zeros(n, dtype=bool)                                    # an ensemble, or nothing heard
    hop = float(act_times[1] - act_times[0]) if len(act_times) > 1 else neural.HOP / neural.SR
    rows = np.clip(np.round((np.arange(n) * (HOP / SR) - act_times[0]) / hop).astype(np.int64), 0, len(note) - 1)
    sounding = note >= HEARD_NOTE                                         # (activation frames, 88)
    count = sounding.sum(axis=1)
    keys = np.floor(np.asarray(cand_midi, dtype="f8") + 0.5) - neural.MIDI_LOW
    t, k = np.nonzero(np.isfinite(keys) & (keys >= 0) & (keys < note.shape[1]))
    at_cand = np.zeros(n, dtype=bool)
    at_cand[t[sounding[rows[t], keys[t, k].astype(np.int64)]]] = True
    return (count <= HEARD_KEYS)[rows] & at_cand


def single_line(note: np.ndarray) -> bool:
    """Whether a recording is a single line: of the activation frames (``note``: frames x 88 keys) in which
    the network hears any key sounding, at least ``SINGLE_LINE`` hear one line (`one_line_frames`: one key,
    with its own partials and a note's handover to the next), and fewer than ``UNDER_LINE`` hear a key more than
    an octave under another (`under_line`)."""
    heard = note >= HEARD_NOTE
    n = np.count_nonzero(heard.any(axis=1))
    one = int(np.count_nonzero(one_line_frames(heard)))
    return one > 0 and one >= SINGLE_LINE * n and np.count_nonzero(under_line(heard)) < UNDER_LINE * n


def own_partials(heard: np.ndarray) -> np.ndarray:
    """(frames, keys) ``heard`` (frames x 88 bool) less every key lying a partial's distance (``LINE_PARTIALS``)
    above another heard key and starting to sound with it (within ``PARTIAL_ONSET_S``): what is left are the
    notes' own keys. A note's partials start with it; a band's keys start on their own."""
    near = PARTIAL_ONSET_S * neural.SR / neural.HOP
    keys = np.flatnonzero(heard.any(axis=0))            # run starts of the keys heard at all: an hour of
    started = dict(zip(keys, sounding_since(heard[:, keys]).T))   # activations is 0.3 M frames
    out = heard.copy()
    for gap in sorted({int(round(12 * np.log2(k))) for k in LINE_PARTIALS}):
        for low in keys:
            if low + gap in started:
                with_it = np.abs(started[low + gap] - started[low]) <= near
                out[:, low + gap] &= ~(heard[:, low] & with_it)
    return out


def sounding_since(heard: np.ndarray) -> np.ndarray:
    """(frames, keys) the frame at which each key's current run of heard frames (``heard``: frames x keys bool)
    began; meaningful where ``heard``."""
    begins = heard.copy()
    begins[1:] &= ~heard[:-1]
    frame = np.where(begins, np.arange(len(heard), dtype=np.int32)[:, None], np.int32(0))
    return np.maximum.accumulate(frame, axis=0) if len(heard) else frame


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """(n,) the length of the run of True values each element of ``mask`` lies in; 0 where False."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros(len(edges) - 1, dtype=np.int64)
    out[np.asarray(mask, dtype=bool)] = np.repeat(ends - starts, ends - starts)
    return out


def one_line_frames(heard: np.ndarray) -> np.ndarray:
    """(frames,) True where the heard keys (``heard``: frames x 88 bool) are one line's: one key once its own
    partials are set aside (`own_partials`), or several for no longer than ``HANDOVER_S`` (a release ringing
    into the next note)."""
    keys = own_partials(heard).sum(axis=1)
    several = keys >= 2
    handover = several & (run_lengths(several) <= HANDOVER_S * neural.SR / neural.HOP)
    return (keys == 1) | handover


def under_line(heard: np.ndarray) -> np.ndarray:
    """(frames,) True where two heard keys (``heard``: frames x 88 bool) lie more than an octave apart, at a
    distance that is not one of a note's partials (``UNDER_LINE_HARMONICS``): a bass or a chord under a line."""
    partials = {int(round(12 * np.log2(k))) for k in UNDER_LINE_HARMONICS}
    out = np.zeros(len(heard), dtype=bool)
    for gap in range(13, heard.shape[1]):
        if gap not in partials:
            out |= (heard[:, :-gap] & heard[:, gap:]).any(axis=1)
    return out


def octave_line(note: np.ndarray) -> bool:
    """Whether a recording is one line doubled at the octave (see ``OCTAVE_LINE``): of the activation frames
    (``note``: frames x 88 keys) in which the network hears several keys sounding, at least ``OCTAVE_LINE``
    hear one key and its octaves only."""
    heard = note >= HEARD_NOTE
    several = heard.sum(axis=1) >= 2
    lowest = np.argmax(heard, axis=1)
    keys = np.arange(heard.shape[1])
    # [lowest key, key]: another pitch class; indexed per frame, a bool a key (an int64 a key took 0.47 GB
    # for an hour of audio)
    other_class = ((keys[None, :] - keys[:, None]) % 12 != 0)[lowest]
    octaves = several & ~(heard & other_class).any(axis=1)
    n = int(np.count_nonzero(several))
    return n > 0 and np.count_nonzero(octaves) >= OCTAVE_LINE * n


def heard_overtones(cand_note: np.ndarray, cand_midi: np.ndarray) -> np.ndarray:
    """(n_frames, K) True for a candidate whose key the network does not hear (``cand_note``, `key_evidence`'s
    note activation per candidate, below ``HEARD_NOTE``) lying ``OVERTONE_HARMONICS`` times above a candidate
    of its frame whose key it hears: that note's overtone. Call it for a single line only."""
    cents = np.asarray(cand_midi, dtype="f8") * 100.0
    heard = np.nan_to_num(np.asarray(cand_note, dtype="f8")) >= HEARD_NOTE
    out = np.zeros(cents.shape, dtype=bool)
    for a in range(0, len(cents), FRAMES_PER_BLOCK):     # (frames, K, K) temporaries: a block at a time
        h = heard[a:a + FRAMES_PER_BLOCK]
        below = partial_pairs(cents[a:a + FRAMES_PER_BLOCK], OVERTONE_HARMONICS, OVERTONE_CENTS)
        out[a:a + FRAMES_PER_BLOCK] = ~h & np.any(below & h[:, None, :], axis=2)
    return out


def fused_track(path: str, stats: AudioStats, cand: tuple | None = None) -> PitchTrack:
    """The melody pitch track of the audio file at ``path`` (decoded into ``stats`` at 16 kHz), with
    Basic Pitch's note and onset evidence. ``cand``: the file's `extract.candidates`, when already
    computed."""
    if cand is None:
        cand = candidates(blocks(path, stats))
    act = neural.activations(blocks(path, sr=neural.SR), contour=False)
    return track_from(cand, act.note, act.onset, act.times())


def track_from(cand: tuple, act_note: np.ndarray, act_onset: np.ndarray, act_times: np.ndarray) -> PitchTrack:
    """The fused pitch track from a file's `extract.candidates` (``cand``) and Basic Pitch's note and onset
    activations (frames x 88 keys, at ``act_times`` seconds): `fused_track`'s second half.

    A single line is one voice or instrument: a lone heard key voices a quiet frame and its unheard overtones
    lose emission. An ensemble's register is also read off the lead line the network hears
    (`extract.lead_line`): its first path can sit on the band."""
    note = key_evidence(act_note, act_times, cand[0], NOTE_BEFORE_S, NOTE_AFTER_S)
    onset = key_evidence(act_onset, act_times, cand[0], ONSET_BEFORE_S, ONSET_AFTER_S)
    one_line = single_line(act_note)
    overtone = heard_overtones(note, cand[0]) if one_line else None
    line = None if one_line else lead_line(cand[0], cand[1], note, onset, HEARD_NOTE)
    tr = track(*cand, cand_note=note, cand_onset=onset, heard=heard_alone(act_note, act_times, cand[0]),
               overtone=overtone, line=line)
    tr.key_onset, tr.key_onset_times, tr.key_note = act_onset, act_times, act_note
    return tr


__all__ = ["fused_track", "heard_alone", "heard_overtones", "key_evidence", "octave_line", "one_line_frames",
           "own_partials", "run_lengths", "single_line", "sounding_since", "track_from", "under_line"]
