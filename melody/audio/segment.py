"""Pitch track -> notes: tuning, vibrato- and glide-tolerant note boundaries, re-articulated repeats.

1. The track is median-smoothed (vibrato and pitch jitter average out) and quantised to semitones with
   hysteresis: a note changes only when the pitch moves more than ``HYSTERESIS`` semitones from it.
2. Pieces shorter than ``MIN_NOTE_S`` (glides, scoops, octave blips) join the neighbour they are
   closest to in pitch, and a longer slide into a note (a scoop, a portamento: ``GLIDE_MAX_S``) joins that
   note, which starts where the slide starts; a note of one pitch splits where the salience dips and rises
   again (a repeated note), and unvoiced gaps (rests, consonants) end notes.
3. Each note's pitch is its median pitch after its way in (``held_pitch``), fractional: a singer 30 cents
   flat keeps exact intervals (``melody.notes.tuning_offset`` finds the performer's tuning where whole
   semitones are needed).
4. In an ensemble, a note that starts far weaker than the notes around it and lies under them is a chord
   tone of the accompaniment the path fell onto (``_drop_accompaniment``): dropped. So is a note far under the
   lead's recent struck notes, heard less surely than they were or starting far weaker to the salience, while
   the lead is still heard above it: the lead's note held (``_hold_struck_lead``). Before both, a note whose
   octave above the network hears struck with it and sounding nearly as surely is moved to that octave: the
   lead the band doubles an octave down (``_lift_octave_doubling``). These rules read a band under the lead: a recording heard as one line, or as one
   line and its octaves only (``fuse.octave_line``: an instrument whose octave partial the network hears as a
   key), keeps every note.
"""
from __future__ import annotations

import bisect

import numpy as np
from scipy.ndimage import median_filter

from ..notes import make_notes
from .extract import PitchTrack
from .fuse import octave_line, single_line
from .neural import MIDI_LOW

SMOOTH_FRAMES = 5
CHANGE, CHANGE_FRAMES = 0.75, 5  # semitones away from the current note, for this many frames: a new note
MIN_NOTE_S = 0.07
SETTLE_FRAMES = 16
MAX_GAP_S = 0.03           # a shorter unvoiced gap inside one pitch is a dropout, not a new note
RISE, RISE_FRAMES = np.log(2.5), 3    # an attack: the melody's salience grows 2.5x within 30 ms
ATTACK = 6.0                          # summed log-magnitude growth of the note's harmonics over RISE_FRAMES
# a weaker re-attack still counts where it stands out from the note's own sound: its harmonics grow by
# ATTACK_MIN, ATTACK_CONTRAST times their median growth over the note (vibrato and tremolo keep that median
# high), and the whole spectrum's flux peaks at FLUX_CONTRAST times its median over the note (a new
# articulation, not a swell of the voice alone)
ATTACK_MIN, ATTACK_CONTRAST, FLUX_CONTRAST = 2.5, 6.0, 4.0
# Inside a vibrato (frames `vibrato` reads as one: ``swing`` > 0) the note's harmonics grow and fall at each
# swing: its partials sweep across the instrument's resonances (a bowed string's body, a wind's bore, a
# singer's formants: Fletcher & Sanders 1967 measured the violin's partials swinging 10-20 dB over a
# vibrato), and across the analysis bins. There a growth of ATTACK alone is no re-attack; the note splits
# only where its salience jumps (RISE) or where the growth stands out from the note's own and the spectrum's
# flux peaks (ATTACK_CONTRAST, FLUX_CONTRAST), as a tongued, bowed or struck re-articulation does. Measured
# on scripts/bench_played.py (BENCHMARKS.md, "Twentieth session: a solo instrument played by a person"):
# with a player's vibrato the ATTACK test split synth leads' long notes at their crests.
NEIGHBOURHOOD = 10                    # frames: the strongest attack nearby wins
MAX_ATTACK_S = 0.08
# Basic Pitch's onset activation at a note's own key (``PitchTrack.key_onset``, when the track has it): a
# peak of KEY_ONSET_SPLIT inside the note starts a repeated note there (a re-played note whose attack the
# salience misses). The network's onset peaks lie KEY_ONSET_LAG_S after the onset (median, benchmark renders).
KEY_ONSET_SPLIT, KEY_ONSET_LAG_S = 0.7, 0.009
# A short note the path skips (it stays on the still-sounding previous note): where the network's onset at
# another key peaks >= INSERT_ONSET inside a note and that key's note activation then averages >= INSERT_NOTE
# over MIN_NOTE_S, a note at that key starts there if the key is the line's next note, by either test:
# - no third key sounds then (activation >= INSERT_NOTE): the recording is a single line there;
# - the key lies above the held note and our own salience has it (a candidate within 60 ms after, at least
#   INSERT_SUPPORT of the held note's salience there): in a mix the accompaniment's onsets under a held lead
#   note come from below it (the same assumption as the tracker's register), with its other keys sounding.
# The key must be more than CHANGE and at most INSERT_MAX_STEP semitones from the held note's pitch, the onset
# INSERT_MARGIN_S from either end of the note, and not the key of a next note that starts within
# INSERT_LATE_S (the path found that one, late).
INSERT_ONSET, INSERT_NOTE, INSERT_MAX_STEP, INSERT_MARGIN_S, INSERT_LATE_S = 0.6, 0.5, 9, 0.03, 0.15
INSERT_SUPPORT, SUPPORT_S = 0.5, 0.06
# A key struck alone while the line's note rings on (`_struck_alone`): a piano's sustain pedal, a guitar's
# open strings or a resonant room keep the last note sounding, often louder than a softer new note struck
# under it, and the path stays on the ringing note (or starts a "repeat" of it at the new strike). A ringing
# note is not struck again; the new key is. Where the network hears an onset peak of KEY_ONSET_SPLIT or more
# at one key only (no other key's onset peaks that high within STRUCK_ALONE_S: HOLD_NEAR_S's 60 ms, not
# tuned), not at the note's own key (which must have been sounding before it: the note rings) nor at a key a
# note around the strike already has, and that key then sounds (mean note activation >= INSERT_NOTE over
# MIN_NOTE_S) while every other key sounding then was sounding before (ringing, not a chord tone entering
# with it), the line takes that key from there: the note is split at the strike, or re-pitched where it
# starts at it (within STRUCK_ALONE_S); where the path reaches that key itself within INSERT_LATE_S, that
# note starts at the strike instead. The key must lie more than CHANGE and at most INSERT_MAX_STEP semitones
# from the note, as for `_insert_key_onsets`; the thresholds are those rules' own. Single lines only
# (`fuse.single_line`): in a mix the band strikes keys alone under a held lead note too (ungated, the rule
# moved notes of 30 of bench_audio's 150 mixes, most of them onto the accompaniment's register). Measured on
# scripts/bench_played.py (BENCHMARKS.md, "Twenty-first session: a key struck alone under a ringing note"):
# with pedal and dynamics a soft piano note under a ringing louder one was held over.
STRUCK_ALONE_S = 0.06
# A key struck alone over the band (`_struck_over_band`): in an ensemble the band sounds and strikes keys all the
# time, so `_struck_alone`'s tests (the held note rings on, nothing else starts to sound) never hold there; but the
# band strikes chords, several keys at once, on its beats, and a lead note struck between them is the one onset the
# network hears then. Where the network's onset at a key peaks at OVER_BAND_ONSET or more inside a note (INSERT_MARGIN_S
# from either end), more than CHANGE and at most INSERT_MAX_STEP semitones from it, and no other key's onset
# activation reaches OVER_BAND_QUIET within STRUCK_ALONE_S (the held note's own key aside: its strike just before, an
# ornament's 50-150 ms earlier, is no chord), a note at that key starts there: the path held the note before over a
# short lead note (an ornament, a run's quick note: its note activation often stays under INSERT_NOTE), or reached
# the struck note late. Measured on bench_audio's seed-1 mixes (BENCHMARKS.md, "Twenty-sixth session: a lead note
# struck alone over the band"): of such peaks inside main's notes (the held key counted), 101 of 107 are written lead
# onsets at that key (0.6 / 0.5; 0.7 / 0.7 gave 126 of 173, the band's chords leaking through); where main's notes
# lack that key there, 23 of 29, and 31 of 44 with the held key aside.
OVER_BAND_ONSET, OVER_BAND_QUIET = 0.6, 0.5
# Vibrato: a voice swings around the pitch it means at 4-8 Hz, by up to +-1 semitone (Timmers & Desain 2000,
# after Seashore and Sundberg: 5.5-8 Hz and 0.6-2 semitones crest to trough in trained singers; amateurs
# slower). A crest more than CHANGE from the note would start a note, and Basic Pitch hears each crest near the
# next key start a note there. A stretch of at least VIBRATO_HALVES consecutive half cycles of VIBRATO_HALF_S
# seconds swinging VIBRATO_SWING semitones (each within VIBRATO_LIKE times its neighbour's) is read as the
# one note at its centre. A voice glides through the middle of its swing (at least VIBRATO_MIDDLE frames of a
# half cycle within the middle half of the swing); a played trill or a run of notes steps across it.
VIBRATO_HALF_S, VIBRATO_SWING, VIBRATO_LIKE = (0.05, 0.15), (0.2, 3.0), 2.0
VIBRATO_HALVES, VIBRATO_MIDDLE = 3, 2
VIBRATO_REACH = 1.2      # frames before the first and after the last crest within this many half swings
# A glide into a note is the note's: a singer scoops up into a note or slides over from the one before
# (portamento) in 40-150 ms (Timmers & Desain 2000: notes generally start with a rising pitch), and the note is
# heard from where the slide starts, at the pitch it arrives at. A piece of at most GLIDE_MAX_S that moves
# towards the next note on every frame (no step back by more than GLIDE_BACK) and most of its frames by at
# least GLIDE_SPEED semitones (GLIDE_MOVING of them: no held pitch in it), over at least GLIDE_SPAN semitones
# in all, joins the next note, which then starts where the glide does. A short sung note holds its pitch for
# a few frames; a glide never does. Where the path joins a note only as its glide arrives (a fast slide is
# quiet: its harmonics smear over many pitches), the note starts where a chain of candidates, each at most
# GLIDE_STEP from the next and no nearer the note's pitch, leads back over GLIDE_SPAN semitones or more (at
# most GLIDE_MAX_S, not into the note before). Set from those bounds (a slide's 40-150 ms, a semitone), not
# tuned; a looser chain rule moved onsets early in takes without slides (BENCHMARKS.md, "Sixteenth session:
# a singer's effects together").
GLIDE_MAX_S, GLIDE_BACK, GLIDE_SPEED, GLIDE_MOVING, GLIDE_SPAN, GLIDE_STEP = 0.15, 0.1, 0.05, 0.8, 1.0, 1.0
# A note's frame holds its pitch where the track's centre line (`centre_line`: over a vibrato the middle of its
# swing) lies within STEADY_SEMITONES of the note (`note_steadiness`): nearer the note than any other key. A sung
# note's 30-cent intonation stays inside, and so does a vibrato of any width VIBRATO_SWING reads as one.
STEADY_SEMITONES = 0.5
# `_lift_octave_doubling` and `_hold_struck_lead` move a note up 12 or 24 semitones where the path took the
# octave under the lead; the track's frames still lie at the octave the path took, and there the note holds its
# pitch as surely (a glide does not hold at an exact octave either): `note_steadiness` reads them at either.
MOVED_OCTAVES = np.array([0.0, 12.0, 24.0])
# The accompaniment under the lead (`_drop_accompaniment`): in an ensemble (the network hears more than one line,
# `fuse.single_line`) the lead is mixed over the band, and where the path falls onto a chord tone (the lead's
# note decaying or resting) that note starts far weaker than the lead's notes start and lies under them. A
# note whose first ACCOMP_ATTACK_S of salience peaks under ACCOMP_PEAK times the median peak of the
# ACCOMP_NEIGHBOURS notes on either side, and whose pitch lies ACCOMP_BELOW or more semitones under their
# median pitch, is dropped (the note before it held on). Measured on bench_audio's mixes (BENCHMARKS.md,
# "Nineteenth session: the accompaniment's notes"): nine in ten of a mix's extra notes lie under the lead, a
# median octave, most of them the band's piano chord tones under a held lead note, starting at about half
# the salience the lead's notes start with; ACCOMP_PEAK 0.3 / 0.4 / 0.5 tried (0.5 kept: 0.4 drops fewer
# extra notes and gains less; an upper quartile of the neighbours with 0.5 / 9 semitones drops the lead's
# own notes), ACCOMP_BELOW 3 / 5 / 7. A single line keeps every note: a solo's weak low notes (a low register
# under the ear's loudness curve) are its own, and the rule dropped 9 of 4,831 solo lead notes before it
# was kept to ensembles.
ACCOMP_ATTACK_S, ACCOMP_PEAK, ACCOMP_BELOW, ACCOMP_NEIGHBOURS = 0.1, 0.5, 5.0, 4
# The lead's held note (`_hold_struck_lead`): a lead note is struck (the network hears an onset at its key, at
# least HOLD_STRUCK within HOLD_NEAR_S of its start) and then decays or is held softer; in an ensemble the band's
# chord tones under it are struck again and outlast it, and the path falls onto them, several in a row, so
# `_drop_accompaniment`'s neighbours are the accompaniment too. The lead's register and how surely the network
# hears it are read off its own struck notes instead: the last HOLD_RECENT struck notes kept. A later note that
# lies HOLD_BELOW or more semitones under their median pitch and that the network hears less surely (mean note
# activation at its key) than HOLD_HEARD times their median is not a new lead note, struck or not (the band
# strikes its chords too), but the lead's note held: dropped, the note before held on over it. Where the network
# hears an onset at an octave of it (12 or 24 semitones up, back in the register) as it starts, the lead struck
# there and the path took the chord tone under it: the note is moved to that octave. A step down the lead's line
# stays inside its register; a leap of a ninth or more under its recent notes is kept where the network hears it
# as surely as the lead. Measured on bench_audio's mixes, seeds 1 and 2 (BENCHMARKS.md, "Twentieth session: a
# mix's long held lead note"): HOLD_BELOW 7 / 9 / 12 tried (7 drops more lead notes, 12 few extra notes),
# HOLD_HEARD 0.7 / 0.9 / none, a salience condition as `_drop_accompaniment`'s (0.7, 0.9 of the struck notes'
# peak: fewer extra notes dropped, smaller gains), HOLD_RECENT 3 / 4 / 6. Single lines keep every note: ungated
# the rule dropped 3 lead notes of bench_audio's solos and only 2 more extra notes of the mixes. And the lead must
# still be there: some key above the floor heard at HOLD_ABOVE or more (mean note activation over the note; under
# Basic Pitch's own 0.3, a held note decaying). A voice whose wide vibrato makes the network hear several keys (an
# "ensemble" to `fuse.single_line`) leaps down an octave with nothing heard above it: without this test its
# low notes were dropped and the notes held over them no longer held their pitch (bench_nomelody seed 1's
# sung_line_wide_vibrato, steady share 0.76 -> 0.70 against STEADY_SHARE 0.67). 0.2 and 0.3 tried: 0.3 keeps
# half the gain.
HOLD_STRUCK, HOLD_NEAR_S, HOLD_RECENT, HOLD_HEARD, HOLD_BELOW, HOLD_ABOVE = 0.5, 0.06, 4, 0.9, 9.0, 0.2
# A note within HOLD_STEP semitones of the note kept before it is the line's own step (a descending arpeggio in
# thirds and fourths walks under the register one step at a time), not the band's chord tone, which the path
# reaches by a leap from the lead's note (a median octave): kept. Measured on bench_audio's mixes
# (BENCHMARKS.md, "Twenty-first session: a mix's lead doubled an octave below"): of the seed-1 notes the rule
# dropped or moved, 2 lead notes (p0030's arpeggio 71 67 62 59 55) and 2 extra notes lie within 5 semitones of
# the note kept before them (within 6: the same 2 and 3); the extra and octave notes it dropped or moved lie a
# median 12 under it.
HOLD_STEP = 5.0
# A chord tone the band strikes fresh under the lead's decaying note is heard by the network as surely as the lead
# (bench_audio's p0054: a piano lead holds 67 for 1.9 s while the band strikes 55 and 59 on each beat, heard at
# 0.7-0.8 against the lead's 0.6-0.7), but its salience starts far weaker than the lead's struck notes start (0.3-0.5
# against 0.9-1.4): the lead is mixed over its band. So a note under `_hold_struck_lead`'s floor also counts as
# heard less surely where the peak of its first ACCOMP_ATTACK_S of salience lies under HOLD_PEAK times the median
# peak of the lead's last struck notes. Measured on bench_audio's mixes, seeds 1 and 2 (BENCHMARKS.md,
# "Twenty-second session: the mixes that still lose rank 1"): 0.5 / 0.6 / 0.7 / 0.8 tried; 0.8 drops lead notes
# in the phrases, 0.5 and 0.6 fewer extra notes and no rank gained.
HOLD_PEAK = 0.7
# The lead doubled an octave below (`_lift_octave_doubling`): a harmonic sum credits a pitch with the partials of
# the note an octave above it (every partial of that note is an even partial of the lower one), and a band's
# keyboard or bass often doubles the lead's note an octave down. Where the path took the lower octave and the
# network hears the key an octave up struck as the note starts (an onset of at least HOLD_STRUCK within
# HOLD_NEAR_S) and sounding over it at LIFT_HEARD or more times the note's own key, with that pitch among the
# tracker's candidates in the note's first ACCOMP_ATTACK_S, both keys were struck together and the lead is the
# upper one (the tracker's register assumption: the lead is mixed over its band): the note moves up an octave.
# Measured on bench_audio's mixes (BENCHMARKS.md, "Twenty-first session: a mix's lead doubled an octave below"):
# of the seed-1 ensembles' notes an octave under the written lead, 45 of 77 pass the test at 0.7 against 3 of
# 4,474 correct notes (seed 2: 59 of 80 against 2 of 4,571); 0.5 / 0.7 / 0.9 tried (0.5 moves lead notes and
# loses ranks at 10, 0.9 half the octave errors), and a register condition (3 or more semitones under the
# median of the 4 + 4 notes around: lower note F on both seeds). No condition on the salience: the octave's
# candidate is as salient as the path's for the errors and for the lead's own notes alike.
LIFT_HEARD = 0.7
# A note's pitch is the pitch it holds, not its way in: the median of its frames after the first GLIDE_MAX_S
# (a scoop's or a portamento's longest), or after the first third of a note shorter than 3 x GLIDE_MAX_S. A
# glide into the note is part of it (above), and over a short note its frames pull the median towards where
# the glide came from. A third, not a half: a note's last frames can hold the next note's first (its cut is
# read on the smoothed pitch), and on the clean voice skipping half gave a short note that pitch (BENCHMARKS.md,
# "Seventeenth session: a singer's notes, error by error").


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def vibrato(pitch: np.ndarray, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The centre line of one voiced run's smoothed pitch, and its half swing per frame (0 outside vibrato).

    The centre is the pitch itself except over vibrato (see ``VIBRATO_HALF_S``), where it is the mean of each
    crest or trough with its two neighbours' (the middle of the swing), interpolated between them.
    """
    centre, swing = pitch.astype("f8").copy(), np.zeros(len(pitch))
    step = np.diff(pitch)
    moving = np.nonzero(step)[0]
    if len(moving) < 2:
        return centre, swing
    turn = np.nonzero(np.sign(step[moving[1:]]) != np.sign(step[moving[:-1]]))[0]
    # an extremum is the middle of the plateau between the last step towards it and the first step away
    frame = (moving[turn] + 1 + moving[turn + 1]) // 2
    value = pitch[moving[turn] + 1].astype("f8")
    if len(frame) < VIBRATO_HALVES + 1:
        return centre, swing
    lo, hi = VIBRATO_HALF_S[0] / hop_s, VIBRATO_HALF_S[1] / hop_s
    size = np.abs(np.diff(value))
    half = np.zeros(len(size), dtype=bool)
    for k in range(len(size)):
        if lo <= frame[k + 1] - frame[k] <= hi and VIBRATO_SWING[0] <= size[k] <= VIBRATO_SWING[1]:
            between = pitch[frame[k] + 1:frame[k + 1]]
            middle = np.abs(between - 0.5 * (value[k] + value[k + 1])) < 0.25 * size[k]
            half[k] = middle.sum() >= VIBRATO_MIDDLE
    like = np.ones(len(size), dtype=bool)             # each half cycle like the one before it
    like[1:] = np.maximum(size[1:], size[:-1]) <= VIBRATO_LIKE * np.minimum(size[1:], size[:-1])
    k = 0
    while k < len(size):
        if not half[k]:
            k += 1
            continue
        end = k + 1
        while end < len(size) and half[end] and like[end]:
            end += 1
        if end - k >= VIBRATO_HALVES:                 # half cycles k..end-1: extrema k..end
            v = value[k:end + 1]
            mid = v.copy()
            mid[1:-1] = 0.25 * (v[:-2] + 2 * v[1:-1] + v[2:])
            mid[0], mid[-1] = 0.5 * (v[0] + v[1]), 0.5 * (v[-2] + v[-1])
            span = np.arange(frame[k], frame[end] + 1)
            half_swing = 0.5 * float(np.mean(size[k:end]))
            centre[span] = np.interp(span, frame[k:end + 1], mid)
            swing[span] = half_swing
            # the rise to the first crest and the fall from the last (up to a half cycle) are the note's too
            for first, level, way in ((frame[k] - 1, mid[0], -1), (frame[end] + 1, mid[-1], 1)):
                j = first
                while (0 <= j < len(pitch) and abs(j - first) < hi and swing[j] == 0
                       and abs(pitch[j] - level) <= VIBRATO_REACH * half_swing):
                    centre[j], swing[j] = level, half_swing
                    j += way
        k = end
    return centre, swing


def _stable_notes(pitch: np.ndarray, min_len: int) -> list[list[int]]:
    """Cut one voiced run (smoothed pitch per frame) where the pitch leaves the current note for good.

    The current note's pitch is the median of its frames so far (of its first ``SETTLE_FRAMES`` while it
    is younger than that, so a vibrato's first swing is not mistaken for its pitch); a new note starts at the first of
    ``CHANGE_FRAMES`` consecutive frames more than ``CHANGE`` semitones away from it. Slow drift and scoops
    move the median along, vibrato stays within reach, a step to another note does not.
    """
    cuts = [0]
    start = 0
    settle = _settle(pitch, 0)
    so_far = sorted(pitch[:settle].tolist())   # the note's frames, sorted: its median is the middle
    n = len(pitch)
    t = 1
    while t < n:
        ref = so_far[len(so_far) // 2]
        if abs(pitch[t] - ref) > CHANGE:
            away = pitch[t:t + CHANGE_FRAMES] - ref
            if len(away) == CHANGE_FRAMES and (np.all(away > CHANGE) or np.all(away < -CHANGE)):
                cuts.append(t)
                start = t
                settle = _settle(pitch, t)
                so_far = sorted(pitch[t:t + settle].tolist())
                t += 1
                continue
        if t - start >= settle:
            bisect.insort(so_far, float(pitch[t]))
        t += 1
    cuts.append(n)
    return _merge_short([[a, b] for a, b in zip(cuts[:-1], cuts[1:])], pitch, min_len)


def _join_glides(pieces: list[list[int]], pitch: np.ndarray, max_len: int) -> list[list[int]]:
    """Pieces of one voiced run (``_stable_notes``) with each glide into the next piece joined to it (see
    ``GLIDE_MAX_S``): the next note starts where its glide starts."""
    out: list[list[int]] = []
    for k, (s, e) in enumerate(pieces):
        if out and out[-1][2]:                    # the piece before was this one's glide
            s = out.pop()[0]
        glide = False
        if k + 1 < len(pieces) and e - s <= max_len:
            target = float(np.median(pitch[pieces[k + 1][0]:pieces[k + 1][1]]))
            way = np.sign(target - pitch[s])
            step = np.diff(pitch[s:e + 1]) * way          # the steps inside and the one into the next piece
            glide = (abs(target - pitch[s]) >= GLIDE_SPAN and bool(np.all(step > -GLIDE_BACK))
                     and np.mean(step >= GLIDE_SPEED) >= GLIDE_MOVING)
        out.append([s, e, glide])
    return [[s, e] for s, e, _ in out]


def _settle(pitch: np.ndarray, t: int) -> int:
    """How many frames from ``t`` on set a new note's pitch: ``SETTLE_FRAMES``, or fewer where the pitch
    leaves the median of the first ``CHANGE_FRAMES`` frames by more than ``CHANGE`` and stays on that side
    for the next ``SETTLE_FRAMES`` frames (or to the end of the voiced run, at least ``CHANGE_FRAMES``): a
    short note's reference must not take in the next notes' pitch. A vibrato swings back within its period
    and keeps the whole window."""
    head = float(np.median(pitch[t:t + CHANGE_FRAMES]))
    for j in range(t + CHANGE_FRAMES, min(t + SETTLE_FRAMES, len(pitch))):
        rest = pitch[j:j + SETTLE_FRAMES] - head
        if len(rest) >= CHANGE_FRAMES and (np.all(rest > CHANGE) or np.all(rest < -CHANGE)):
            return j - t
    return SETTLE_FRAMES


def _merge_short(pieces: list[list[int]], pitch: np.ndarray, min_len: int) -> list[list[int]]:
    """Pieces shorter than min_len (glides, blips) join the neighbour closest in median pitch."""
    while len(pieces) > 1:
        lengths = [b - a for a, b in pieces]
        k = int(np.argmin(lengths))
        if lengths[k] >= min_len:
            break
        mid = np.median(pitch[pieces[k][0]:pieces[k][1]])
        dist = [abs(np.median(pitch[pieces[j][0]:pieces[j][1]]) - mid) if 0 <= j < len(pieces) else np.inf
                for j in (k - 1, k + 1)]
        if dist[0] <= dist[1]:
            pieces[k - 1][1] = pieces[k][1]
        else:
            pieces[k + 1][0] = pieces[k][0]
        del pieces[k]
    return pieces


def held_pitch(pitch: np.ndarray, skip: int) -> float:
    """A note's pitch from its frames' pitches: the median after its first ``skip`` frames (at most a third
    of them), where a glide into the note lies (see ``GLIDE_MAX_S``)."""
    return float(np.median(pitch[min(skip, len(pitch) // 3):]))


def _split_repeats(start: int, stop: int, logsal: np.ndarray, attack: np.ndarray | None,
                   min_len: int, flux: np.ndarray | None = None, swing: np.ndarray | None = None) -> list[int]:
    """Frames inside [start, stop) where a repeated note starts: the melody's salience jumps up by
    ``RISE`` within ``RISE_FRAMES`` (a struck or plucked note), or the note's own harmonics grow by
    ``ATTACK`` (summed log-magnitude rise over ``RISE_FRAMES`` frames: a re-tongued or re-bowed note;
    not inside a vibrato, where ``swing`` > 0: see ``_vibrato_growth``), or grow by ``ATTACK_MIN`` where
    that stands out from the note (see ``ATTACK_CONTRAST``; needs the spectral ``flux``); strongest first,
    at most one per ``NEIGHBOURHOOD``."""
    if stop - start < 2 * min_len:
        return []
    seg = logsal[start:stop]
    n = len(seg)
    strength = np.full(n, -np.inf)
    for k in range(RISE_FRAMES, n):
        rise = seg[k] - seg[k - RISE_FRAMES:k].min()
        if rise >= RISE:
            strength[k - RISE_FRAMES + int(np.argmin(seg[k - RISE_FRAMES:k + 1]))] = rise / RISE
    if attack is not None:
        grow = np.convolve(attack[start:stop].astype("f8"), np.ones(RISE_FRAMES), mode="full")[:n]
        for k in np.nonzero((grow >= ATTACK) & ~_vibrato_growth(swing, start, stop, n))[0]:
            onset = max(k - RISE_FRAMES + 1, 0)
            strength[onset] = max(strength[onset], grow[k] / ATTACK)
        if flux is not None:
            note_flux = flux[start:stop].astype("f8")
            flux_floor = FLUX_CONTRAST * max(float(np.median(note_flux)), 1e-9)
            stands_out = (grow >= ATTACK_MIN) & (grow >= ATTACK_CONTRAST * float(np.median(grow)))
            for k in np.nonzero(stands_out)[0]:
                onset = max(k - RISE_FRAMES + 1, 0)
                if note_flux[max(onset - 2, 0):onset + 4].max() >= flux_floor:
                    strength[onset] = max(strength[onset], grow[k] / ATTACK_MIN)
    cuts = []
    for k in np.argsort(-strength):
        if not np.isfinite(strength[k]):
            break
        if k < min_len or n - k < min_len:
            continue
        if any(abs(k - c) < max(min_len, NEIGHBOURHOOD) for c in cuts):
            continue
        cuts.append(int(k))
    return sorted(start + c for c in cuts)


def _vibrato_growth(swing: np.ndarray | None, start: int, stop: int, n: int) -> np.ndarray:
    """Per frame of [start, stop): whether the growth summed up to it (over ``RISE_FRAMES``) lies inside a
    vibrato, every frame it sums over having ``swing`` > 0 (see the comment above ``_split_repeats``'s
    ATTACK test)."""
    if swing is None:
        return np.zeros(n, dtype=bool)
    inside = np.asarray(swing[start:stop]) > 0
    run = np.convolve(inside.astype("f8"), np.ones(RISE_FRAMES), mode="full")[:n]
    return run >= RISE_FRAMES - 1e-9


def _smoothed_runs(tr: PitchTrack):
    """(start, stop, pitch, smoothed pitch) per voiced run of ``tr.midi`` in frames, dropouts shorter than
    ``MAX_GAP_S`` bridged (so they do not cut a note in two) and filled in by interpolation; the smoothed
    pitch is its running median over ``SMOOTH_FRAMES``."""
    max_gap = int(round(MAX_GAP_S / tr.hop_s))
    joined: list[list[int]] = []
    for a, b in _runs(np.isfinite(tr.midi)):
        if joined and a - joined[-1][1] <= max_gap:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    for a, b in joined:
        seg = tr.midi[a:b].astype("f8")
        known = np.isfinite(seg)
        seg = np.interp(np.arange(b - a), np.nonzero(known)[0], seg[known])
        yield a, b, seg, median_filter(seg, size=min(SMOOTH_FRAMES, b - a), mode="nearest")


def notes_from_track(tr: PitchTrack) -> np.ndarray:
    """Segment a pitch track into NOTE_DTYPE notes (integer MIDI pitch in the performer's tuning)."""
    voiced = np.isfinite(tr.midi)
    if not voiced.any():
        return make_notes([], [], [])
    min_len = max(int(round(MIN_NOTE_S / tr.hop_s)), 1)
    logsal = np.log(np.maximum(tr.salience, 1e-6)).astype("f8")
    glide_len = int(round(GLIDE_MAX_S / tr.hop_s))
    spans = []   # [start, stop, pitch] in frames
    swing = np.zeros(len(tr.midi))      # half the vibrato's swing per frame (0 outside vibrato)
    for a, b, seg, smooth in _smoothed_runs(tr):
        if b - a < min_len:
            continue
        centre, swing[a:b] = vibrato(smooth, tr.hop_s)
        # the glide test reads the unsmoothed pitch: the median filter flattens a glide's first frames
        for s, e in _join_glides(_stable_notes(centre, min_len), seg, glide_len):
            inner = _split_repeats(a + s, a + e, logsal, tr.attack, min_len, tr.onset_env, swing)
            if tr.key_onset is not None:
                pitch = float(np.median(seg[s:e]))
                for c in _key_onsets(tr, pitch, (a + s + min_len) * tr.hop_s, (a + e - min_len) * tr.hop_s,
                                     KEY_ONSET_SPLIT):
                    # the network hears a vibrato's return to the note's own key as a new onset
                    if swing[c] == 0 and all(abs(c - x) >= max(min_len, NEIGHBOURHOOD) for x in inner):
                        inner.append(c)
            cuts = [a + s] + sorted(inner) + [a + e]
            for s2, e2 in zip(cuts[:-1], cuts[1:]):
                if e2 - s2 >= min_len:
                    part = seg[s2 - a:e2 - a]
                    spans.append([s2, e2, round(float(np.median(part)), 2), round(held_pitch(part, glide_len), 2)])
    if tr.cand_midi is not None:
        _refine_onsets(spans, tr, min_len)
        _glide_onsets(spans, tr, min_len)
    # the segmentation's rules read a note's median over all its frames (a network onset at a key the note
    # drifts through is no new note); the note is reported at its held pitch (inserted notes keep theirs)
    held = {(span[0], span[2]): span[3] for span in spans}
    spans = [span[:3] for span in spans]
    one_line = tr.key_note is not None and single_line(tr.key_note)
    if tr.key_onset is not None and tr.key_note is not None:
        spans = _insert_key_onsets(spans, tr, swing)
        spans = _struck_alone(spans, tr, swing) if one_line else _struck_over_band(spans, tr, swing)
    spans = np.array([[s, e, held.get((s, p), p)] for s, e, p in spans], dtype="f8").reshape(-1, 3)
    if tr.cand_midi is not None and tr.key_note is not None and not one_line and not octave_line(tr.key_note):
        spans = _lift_octave_doubling(spans, tr, int(round(ACCOMP_ATTACK_S / tr.hop_s)))
        spans = _drop_accompaniment(spans, tr.salience, int(round(ACCOMP_ATTACK_S / tr.hop_s)))
        spans = _hold_struck_lead(spans, tr)
    return make_notes(spans[:, 0] * tr.hop_s, (spans[:, 1] - spans[:, 0]) * tr.hop_s, spans[:, 2])


def _drop_accompaniment(spans: np.ndarray, salience: np.ndarray, attack: int) -> np.ndarray:
    """``spans`` (n, 3: start frame, stop frame, pitch) without the notes taken for the accompaniment: the
    peak of their first ``attack`` frames of ``salience`` under ``ACCOMP_PEAK`` times the median peak of the
    ``ACCOMP_NEIGHBOURS`` notes on either side, their pitch ``ACCOMP_BELOW`` or more under those notes' median
    pitch. The note before a dropped one is held on over it where it ran up to it."""
    n = len(spans)
    if n < 3:
        return spans
    peak = _start_peaks(spans, salience, attack)
    drop = np.zeros(n, dtype=bool)
    for j in range(n):
        around = [k for k in range(max(j - ACCOMP_NEIGHBOURS, 0), min(j + ACCOMP_NEIGHBOURS + 1, n)) if k != j]
        drop[j] = (peak[j] < ACCOMP_PEAK * np.median(peak[around])
                   and spans[j, 2] <= np.median(spans[around, 2]) - ACCOMP_BELOW)
    out = spans.copy()
    for j in np.nonzero(drop)[0]:
        k = j - 1
        while k >= 0 and drop[k]:
            k -= 1
        if k >= 0 and out[j, 0] - out[k, 1] <= 1:
            out[k, 1] = out[j, 1]
    return out[~drop]


def _start_peaks(spans: np.ndarray, salience: np.ndarray, attack: int) -> np.ndarray:
    """Each span's (start frame, stop frame, ...) peak ``salience`` over its first ``attack`` frames (at least one):
    how loud the note starts."""
    start, stop = spans[:, 0].astype(np.int64), spans[:, 1].astype(np.int64)
    return np.array([salience[a:max(min(b, a + attack), a + 1)].max() for a, b in zip(start, stop)])


def _lift_octave_doubling(spans: np.ndarray, tr: PitchTrack, attack: int) -> np.ndarray:
    """``spans`` (n, 3: start frame, stop frame, pitch) with each note whose key an octave up the network hears
    struck as it starts (``HOLD_STRUCK`` within ``HOLD_NEAR_S``) and sounding at ``LIFT_HEARD`` or more times
    its own key (`_span_activation`), that pitch a candidate within its first ``attack`` frames, moved up an
    octave: the lead the band doubles an octave below (see ``LIFT_HEARD``). Needs the network's evidence
    (``tr.key_onset``, ``tr.key_note``) and the candidates."""
    if not len(spans) or tr.key_onset is None or tr.key_note is None or tr.cand_midi is None:
        return spans
    out = spans.copy()
    up = out.copy()
    up[:, 2] += 12.0
    own, above = _span_activation(tr, out), _span_activation(tr, up)
    near = HOLD_NEAR_S
    for j in np.nonzero(above >= LIFT_HEARD * own)[0]:
        a, b = int(out[j, 0]), int(out[j, 1])
        cands = tr.cand_midi[a:max(min(b, a + attack), a + 1)]
        if (np.any(np.abs(cands - up[j, 2]) < 0.5)
                and _key_onsets(tr, up[j, 2], a * tr.hop_s - near, a * tr.hop_s + near, HOLD_STRUCK)):
            out[j, 2] = up[j, 2]
    return out


def _hold_struck_lead(spans: np.ndarray, tr: PitchTrack) -> np.ndarray:
    """``spans`` (n, 3: start frame, stop frame, pitch) without the notes taken for the lead's held note (see
    ``HOLD_STRUCK``): ``HOLD_BELOW`` or more semitones under the median pitch of the last ``HOLD_RECENT``
    struck notes kept, heard (`_span_activation`) under ``HOLD_HEARD`` times their median or starting under
    ``HOLD_PEAK`` times their salience peak, while a key above that
    floor is heard at ``HOLD_ABOVE`` (`_heard_above`: the lead still there); such a note moves
    up to the octave where the network hears an onset as it starts, if there is one. A note within ``HOLD_STEP``
    semitones of the note kept before it is the line's own step: kept. Needs the network's
    evidence (``tr.key_onset``, ``tr.key_note``). The note before a dropped one is held on over it where it ran
    up to it."""
    n = len(spans)
    if n < 2 or tr.key_onset is None or tr.key_note is None:
        return spans
    start = spans[:, 0].astype(np.int64)
    near = HOLD_NEAR_S / tr.hop_s

    def struck_at(j: int, pitch: float) -> bool:
        return bool(_key_onsets(tr, pitch, (start[j] - near) * tr.hop_s, (start[j] + near) * tr.hop_s, HOLD_STRUCK))

    struck = [struck_at(j, p) for j, p in enumerate(spans[:, 2])]
    heard = _span_activation(tr, spans)
    peak = _start_peaks(spans, tr.salience, int(round(ACCOMP_ATTACK_S / tr.hop_s)))
    keep = np.ones(n, dtype=bool)
    out = spans.copy()
    recent: list[int] = []
    last = -1                       # the note kept last
    for j in range(n):
        if len(recent) == HOLD_RECENT and (last < 0 or abs(out[j, 2] - out[last, 2]) > HOLD_STEP):
            floor = np.median(out[recent, 2]) - HOLD_BELOW
            weaker = (heard[j] < HOLD_HEARD * np.median(heard[recent])
                      or peak[j] < HOLD_PEAK * np.median(peak[recent]))
            if out[j, 2] <= floor and weaker and _heard_above(tr, out[j], floor) >= HOLD_ABOVE:
                up = [o for o in (12.0, 24.0) if out[j, 2] + o > floor and struck_at(j, out[j, 2] + o)]
                if up:
                    out[j, 2] += up[0]
                    heard[j] = _span_activation(tr, out[j:j + 1])[0]
                    struck[j] = True
                else:
                    keep[j] = False
        if keep[j]:
            last = j
            if struck[j]:
                recent = (recent + [j])[-HOLD_RECENT:]
    for j in np.nonzero(~keep)[0]:
        k = j - 1
        while k >= 0 and not keep[k]:
            k -= 1
        if k >= 0 and out[j, 0] - out[k, 1] <= 1:
            out[k, 1] = out[j, 1]
    return out[keep]


def _heard_above(tr: PitchTrack, span: np.ndarray, floor: float) -> float:
    """The strongest mean Basic Pitch note activation, over ``span`` (start frame, stop frame, pitch), of a key
    above ``floor`` (MIDI): how surely the network hears something in the lead's register meanwhile."""
    times = tr.key_onset_times
    lo = int(np.searchsorted(times, span[0] * tr.hop_s))
    hi = max(int(np.searchsorted(times, span[1] * tr.hop_s)), lo + 1)
    first = max(int(np.floor(floor + 0.5)) + 1 - MIDI_LOW, 0)
    if lo >= len(tr.key_note) or first >= tr.key_note.shape[1]:
        return 0.0
    return float(tr.key_note[lo:hi, first:].mean(axis=0).max())


def _span_activation(tr: PitchTrack, spans: np.ndarray) -> np.ndarray:
    """Each span's (start frame, stop frame, pitch) mean Basic Pitch note activation at its nearest key."""
    return _activation(tr, spans[:, 0] * tr.hop_s, spans[:, 1] * tr.hop_s, spans[:, 2])


def note_activation(notes: np.ndarray, tr: PitchTrack) -> np.ndarray | None:
    """Each note's mean Basic Pitch note activation (``tr.key_note``) at its nearest key over its span: how
    surely the network, trained on real sung and played notes, hears it as a pitched note. Drum hits and noise
    that the salience tracker holds for a note score ~0.1-0.5, sung and played notes mostly 0.5-0.9
    (BENCHMARKS.md, "no melody"). None when the track has no network evidence (the salience method)."""
    if tr.key_note is None or tr.key_onset_times is None:
        return None
    return _activation(tr, notes["onset"], notes["onset"] + notes["duration"], notes["pitch"])


def _activation(tr: PitchTrack, start_s, end_s, pitch) -> np.ndarray:
    """Mean ``tr.key_note`` from start_s to end_s (at least one frame) at each pitch's nearest key; 0 off
    the network's keys or past its end."""
    times, act = tr.key_onset_times, tr.key_note
    out = np.zeros(len(pitch))
    lo = np.searchsorted(times, start_s)
    hi = np.maximum(np.searchsorted(times, end_s), lo + 1)
    keys = np.floor(np.asarray(pitch) + 0.5).astype(np.int64) - MIDI_LOW
    for k in range(len(out)):
        if 0 <= keys[k] < act.shape[1] and lo[k] < len(act):
            out[k] = float(act[lo[k]:hi[k], keys[k]].mean())
    return out


def centre_line(tr: PitchTrack) -> np.ndarray:
    """The pitch a voice means, per frame of ``tr.midi`` (NaN where unvoiced): within each voiced run (dropouts
    shorter than ``MAX_GAP_S`` bridged) the median-smoothed pitch, and over a vibrato the middle of its swing
    (`vibrato`), as `notes_from_track` reads the track. A vibrato or a trill swings back to its centre; a glide
    goes one way, and its centre line is the glide itself."""
    out = np.full(len(tr.midi), np.nan)
    for a, b, _, smooth in _smoothed_runs(tr):
        out[a:b] = np.where(np.isfinite(tr.midi[a:b]), vibrato(smooth, tr.hop_s)[0], np.nan)
    return out


def note_steadiness(notes: np.ndarray, tr: PitchTrack) -> np.ndarray:
    """Each note's share of its voiced frames where the track's centre line (`centre_line`: the pitch, or over
    a vibrato the middle of its swing) lies within ``STEADY_SEMITONES`` of the note's pitch: 1 for a held
    note, with or without a vibrato, about half or less for a piece of a glide. Speech glides through every
    syllable, and each of its partials glides as far in semitones, so the share is low whichever harmonic the
    path follows; sung and played notes hold, and a singer's wide vibrato (+-1.5 semitones) swings back to the
    note (BENCHMARKS.md, "a singer with a wide vibrato is not speech"). A note without a voiced frame counts as
    held (0 frames off pitch). A note moved up an octave or two (``MOVED_OCTAVES``) holds where the track holds
    the octave the path took."""
    out = np.ones(len(notes))
    centre = centre_line(tr)
    a = np.round(notes["onset"] / tr.hop_s).astype(np.int64)
    b = np.maximum(np.round((notes["onset"] + notes["duration"]) / tr.hop_s).astype(np.int64), a + 1)
    for k in range(len(notes)):
        seg = centre[a[k]:b[k]]
        seg = seg[np.isfinite(seg)]
        if len(seg):
            off = np.abs(seg[:, None] - (notes["pitch"][k] - MOVED_OCTAVES)[None, :]).min(axis=1)
            out[k] = float(np.mean(off <= STEADY_SEMITONES))
    return out


def _refine_onsets(spans: list[list], tr: PitchTrack, min_len: int) -> None:
    """Move each note's start back over its attack, up to ``MAX_ATTACK_S``: while the frame before still
    has a candidate at the note's pitch, weaker than the one after it (the note is still growing).

    A slow attack (flute, bowed strings, a soft voice) becomes the predominant pitch only after the
    previous note has faded; its onset is when it started, not when it won. The previous note is cut there.
    While the previous note fades the new one's salience wavers rather than grows steadily, so a note that
    grows in gradually (no attack of ``ATTACK`` where it won) after a note of another pitch class moves back
    while its candidate is no stronger than where it won. A repeat or an octave shares the previous
    note's harmonics (its candidate was there all along), and a struck or tongued note starts at its attack:
    those keep the strict rule.
    """
    limit = int(round(MAX_ATTACK_S / tr.hop_s))
    cm, cs = tr.cand_midi, tr.cand_salience
    for k, span in enumerate(spans):
        start, pitch = int(span[0]), span[2]
        floor = int(spans[k - 1][0]) + min_len if k else 0
        level = _level(cm[start], cs[start], pitch)
        gradual = (k > 0 and 0.5 < abs(spans[k - 1][2] - pitch) % 12 < 11.5
                   and not _sharp_attack(tr.attack, start))
        ceiling = level
        t = start
        while t - 1 >= floor and start - (t - 1) <= limit:
            prev = _level(cm[t - 1], cs[t - 1], pitch)
            if prev <= 0.0 or (prev > ceiling if gradual else prev >= level):
                break
            level = prev
            t -= 1
        if t < start:
            span[0] = t
            if k and spans[k - 1][1] > t:
                spans[k - 1][1] = t


def _glide_onsets(spans: list[list], tr: PitchTrack, min_len: int) -> None:
    """Move each note's start back to where its glide starts (see ``GLIDE_MAX_S``): while the frame before has
    a candidate within ``GLIDE_STEP`` of the glide's pitch so far and no nearer the note's pitch, up to
    ``GLIDE_MAX_S``; kept where the chain itself covers ``GLIDE_SPAN`` semitones or more. The note before ends
    there."""
    limit = int(round(GLIDE_MAX_S / tr.hop_s))
    cm = tr.cand_midi
    for k, span in enumerate(spans):
        start, pitch = int(span[0]), span[2]
        floor = int(spans[k - 1][0]) + min_len if k else 0
        here = float(tr.midi[start]) if np.isfinite(tr.midi[start]) else pitch
        first, t = here, start
        while t - 1 >= floor and start - (t - 1) <= limit:
            c = cm[t - 1]
            ok = (np.abs(c - here) <= GLIDE_STEP) & (np.abs(c - pitch) >= abs(here - pitch) + GLIDE_SPEED) & np.isfinite(c)
            if k and 0 < t - 1 < spans[k - 1][1]:       # the chain has reached the note before: the glide's start
                ok &= np.abs(c - spans[k - 1][2]) > GLIDE_STEP
            if not ok.any():
                break
            here = float(c[ok][np.argmin(np.abs(c[ok] - here))])
            t -= 1
        if t < start and abs(here - first) >= GLIDE_SPAN:
            span[0] = t
            if k and spans[k - 1][1] > t:
                spans[k - 1][1] = t


def _sharp_attack(attack: np.ndarray | None, start: int) -> bool:
    """Whether the harmonics at frame ``start`` grow by ``ATTACK`` within ``RISE_FRAMES`` (30 ms before to
    50 ms after it): a struck, plucked or tongued onset."""
    if attack is None:
        return False
    near = attack[max(start - 3, 0):start + 5].astype("f8")
    return len(near) >= RISE_FRAMES and np.convolve(near, np.ones(RISE_FRAMES), mode="valid").max() >= ATTACK


def _level(cands: np.ndarray, sal: np.ndarray, pitch: float) -> float:
    """The strongest salience of the candidates (one frame's, or a window's) within half a semitone of pitch."""
    near = np.abs(cands - pitch) < 0.5
    return float(sal[near].max()) if near.any() else 0.0


def _key_onsets(tr: PitchTrack, pitch: float, t0: float, t1: float, threshold: float) -> list[int]:
    """Tracker frames of the onsets whose network onset peaks (local maxima >= threshold at the key of
    ``pitch``) lie between t0 and t1 seconds."""
    key = int(np.floor(pitch + 0.5)) - MIDI_LOW
    if not 0 <= key < tr.key_onset.shape[1]:
        return []
    times = tr.key_onset_times
    lo, hi = np.searchsorted(times, [t0 + KEY_ONSET_LAG_S, t1 + KEY_ONSET_LAG_S])
    lo, hi = max(lo, 1), min(hi, len(times) - 1)
    if hi <= lo:
        return []
    rows = lo + np.nonzero(_onset_peaks(tr.key_onset[lo - 1:hi + 1, key], threshold))[0]
    return _onset_frames(tr, rows).tolist()


def _onset_peaks(on: np.ndarray, threshold: float) -> np.ndarray:
    """Where the network's onset activation (frames along axis 0) peaks at ``threshold`` or more: a mask of
    its inner frames (frame i + 1 of ``on`` at row i)."""
    inner = on[1:-1]
    return (inner >= threshold) & (inner >= on[:-2]) & (inner > on[2:])


def _onset_frames(tr: PitchTrack, rows: np.ndarray) -> np.ndarray:
    """Tracker frames of the onsets whose network onset peaks at activation frames ``rows``."""
    return np.round((tr.key_onset_times[rows] - KEY_ONSET_LAG_S) / tr.hop_s).astype(np.int64)


def _struck_keys(tr: PitchTrack, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's onset peaks of at least ``level``, in time order: activation rows, keys (from MIDI_LOW)
    and tracker frames."""
    rows, keys = np.nonzero(_onset_peaks(tr.key_onset, level))
    rows = rows + 1
    order = np.argsort(tr.key_onset_times[rows], kind="stable")
    rows, keys = rows[order], keys[order]
    return rows, keys, _onset_frames(tr, rows)



def _strikes(tr: PitchTrack, spans: list[list], level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """`_struck_keys` at ``level`` and the network's frame step in seconds, or None where there is nothing to
    split (no spans, under three activation rows, no onset peak that strong): what `_insert_key_onsets`,
    `_struck_alone` and `_struck_over_band` start from."""
    if len(tr.key_onset) < 3 or not spans:
        return None
    rows, keys, frames = _struck_keys(tr, level)
    if not len(rows):
        return None
    times = tr.key_onset_times
    return rows, keys, frames, float(np.median(np.diff(times))) if len(times) > 1 else tr.hop_s


def _insert_key_onsets(spans: list[list], tr: PitchTrack, swing: np.ndarray | None = None) -> list[list]:
    """``spans`` ([start, stop, pitch] in tracker frames, in time order) with a note started wherever the
    network says another key begins inside one and then sounds alone (see ``INSERT_ONSET``). The new note
    keeps the performer's tuning (the held note's offset from its key) and runs to the held note's end.
    ``swing``: half the vibrato's swing per tracker frame; a key the held note's vibrato reaches is its crest."""
    strikes = _strikes(tr, spans, INSERT_ONSET)
    if strikes is None:
        return spans
    rows, keys, frames, step = strikes
    note = tr.key_note
    width = max(int(round(MIN_NOTE_S / step)), 1)
    margin = max(int(round(INSERT_MARGIN_S / tr.hop_s)), 1)
    late = int(round(INSERT_LATE_S / tr.hop_s))
    support = max(int(round(SUPPORT_S / tr.hop_s)), 1)
    out: list[list] = []
    p = 0
    for k, span in enumerate(spans):
        start, stop, pitch = int(span[0]), int(span[1]), float(span[2])
        next_key = int(np.floor(spans[k + 1][2] + 0.5)) if k + 1 < len(spans) else None
        next_start = int(spans[k + 1][0]) if k + 1 < len(spans) else None
        while p < len(frames) and frames[p] < start + margin:
            p += 1
        q = p
        while q < len(frames) and frames[q] <= stop - margin:
            c, row, key = int(frames[q]), int(rows[q]), int(keys[q]) + MIDI_LOW
            q += 1
            held = int(np.floor(pitch + 0.5))
            # a key within CHANGE of the held pitch is that note heard by a singer between two keys
            if abs(key - pitch) <= CHANGE or abs(key - held) > INSERT_MAX_STEP or c - start < margin:
                continue
            if swing is not None and 0 <= c < len(swing) and abs(key - pitch) <= swing[c] + 0.5:
                continue
            if next_key == key and next_start - c <= late:
                continue
            sounding = note[row:row + width].mean(axis=0) >= INSERT_NOTE
            if not sounding[key - MIDI_LOW]:
                continue
            sounding[key - MIDI_LOW] = False
            if 0 <= held - MIDI_LOW < len(sounding):
                sounding[held - MIDI_LOW] = False
            new_pitch = key + (pitch - held)
            above = key > held and _support(tr, c, new_pitch, pitch, support) >= INSERT_SUPPORT
            if sounding.any() and not above:
                continue
            out.append([start, c, pitch])
            start, pitch = c, round(new_pitch, 2)
        out.append([start, stop, pitch])
    return out


def _struck_alone(spans: list[list], tr: PitchTrack, swing: np.ndarray | None = None) -> list[list]:
    """``spans`` ([start, stop, pitch] in tracker frames, in time order) with the line moved to each key the
    network hears struck alone while a note of another key is held (see ``STRUCK_ALONE_S``). The struck note
    keeps the performer's tuning and runs to the held note's end. ``swing``: half the vibrato's swing per
    tracker frame; a key the held note's vibrato reaches is its crest."""
    strikes = _strikes(tr, spans, KEY_ONSET_SPLIT)
    if strikes is None:
        return spans
    rows, keys, frames, step = strikes
    on, note = tr.key_onset, tr.key_note
    width = max(int(round(MIN_NOTE_S / step)), 1)
    near_rows = max(int(round(STRUCK_ALONE_S / step)), 1)
    near = int(round(STRUCK_ALONE_S / tr.hop_s))
    min_len = max(int(round(MIN_NOTE_S / tr.hop_s)), 1)
    late = int(round(INSERT_LATE_S / tr.hop_s))
    close = np.diff(rows) <= near_rows           # rows are in time order: a strike's neighbours are beside it
    alone = np.ones(len(rows), dtype=bool)
    alone[1:] &= ~close
    alone[:-1] &= ~close
    out = [list(span) for span in spans]
    starts = [span[0] for span in out]
    for r, key, c, single in zip(rows, keys + MIDI_LOW, frames, alone):
        if not single:
            continue
        # the notes around the strike: where one of them is at the struck key, the line has it already
        around = []
        k = bisect.bisect_right(starts, c + near) - 1
        while k >= 0 and out[k][1] + near > c:
            around.insert(0, k)
            k -= 1
        if not around or any(int(np.floor(out[k][2] + 0.5)) == key for k in around):
            continue
        j = next((k for k in around if out[k][0] <= c < out[k][1]), around[-1])
        start, stop, pitch = int(out[j][0]), int(out[j][1]), float(out[j][2])
        if c < start - near or (c - start > near and stop - c < min_len):
            continue
        held = int(np.floor(pitch + 0.5))
        if abs(key - pitch) <= CHANGE or abs(key - held) > INSERT_MAX_STEP or not 0 <= held - MIDI_LOW < on.shape[1]:
            continue
        if swing is not None and 0 <= c < len(swing) and abs(key - pitch) <= swing[c] + 0.5:
            continue
        if on[max(r - near_rows, 0):r + near_rows + 1, held - MIDI_LOW].max() >= KEY_ONSET_SPLIT:
            continue                                  # the held note is struck too
        if note[max(r - width, 0):r, held - MIDI_LOW].mean() < INSERT_NOTE:
            continue                                  # the held key was not sounding before: nothing rings
        after = note[r:r + width].mean(axis=0) >= INSERT_NOTE
        if not after[key - MIDI_LOW]:
            continue
        after[key - MIDI_LOW] = False
        if (after & ~(note[max(r - width, 0):r].mean(axis=0) >= INSERT_NOTE)).any():
            continue                                  # another key starts to sound with it: a chord
        new_pitch = round(key + (pitch - held), 2)
        if (j + 1 < len(out) and int(np.floor(out[j + 1][2] + 0.5)) == key
                and out[j + 1][0] - c <= late):       # the path found the struck note, late: it starts here
            if c - start >= min_len:
                out[j][1] = out[j + 1][0] = starts[j + 1] = int(c)
        elif c - start <= near:
            out[j][2] = new_pitch
        else:
            out[j:j + 1] = [[start, int(c), pitch], [int(c), stop, new_pitch]]
            starts.insert(j + 1, int(c))
    return out


def _struck_over_band(spans: list[list], tr: PitchTrack, swing: np.ndarray | None = None) -> list[list]:
    """``spans`` ([start, stop, pitch] in tracker frames, in time order) with a note started wherever the network
    hears one key struck inside a note of another while no other key's onset rises (see ``OVER_BAND_ONSET``). The
    struck note keeps the performer's tuning and runs to the held note's end; where the path reaches that key
    itself within INSERT_LATE_S, that note starts at the strike instead. ``swing``: half the vibrato's swing per
    tracker frame; a key the held note's vibrato reaches is its crest."""
    strikes = _strikes(tr, spans, OVER_BAND_ONSET)
    if strikes is None:
        return spans
    rows, keys, frames, step = strikes
    on = tr.key_onset
    near_rows = max(int(round(STRUCK_ALONE_S / step)), 1)
    margin = max(int(round(INSERT_MARGIN_S / tr.hop_s)), 1)
    late = int(round(INSERT_LATE_S / tr.hop_s))
    out = [list(span) for span in spans]
    starts = [span[0] for span in out]
    for r, key, c in zip(rows, keys, frames):
        col = int(key)
        key = col + MIDI_LOW
        j = bisect.bisect_right(starts, c) - 1
        if j < 0 or not out[j][0] + margin <= c <= out[j][1] - margin:
            continue
        start, stop, pitch = int(out[j][0]), int(out[j][1]), float(out[j][2])
        held = int(np.floor(pitch + 0.5))
        window = on[max(r - near_rows, 0):r + near_rows + 1]
        skip = [col] + ([held - MIDI_LOW] if 0 <= held - MIDI_LOW < on.shape[1] and held != key else [])
        if np.delete(window, skip, axis=1).max() >= OVER_BAND_QUIET:
            continue                                  # another key struck with it: the band's chord
        if abs(key - pitch) <= CHANGE or abs(key - held) > INSERT_MAX_STEP:
            continue
        if swing is not None and 0 <= c < len(swing) and abs(key - pitch) <= swing[c] + 0.5:
            continue
        if j + 1 < len(out) and int(np.floor(out[j + 1][2] + 0.5)) == key and out[j + 1][0] - c <= late:
            out[j][1] = out[j + 1][0] = starts[j + 1] = int(c)      # the path found the struck note, late
            continue
        out[j:j + 1] = [[start, int(c), pitch], [int(c), stop, round(key + (pitch - held), 2)]]
        starts.insert(j + 1, int(c))
    return out


def _support(tr: PitchTrack, frame: int, pitch: float, held: float, width: int) -> float:
    """The strongest candidate salience at ``pitch`` over ``width`` frames from ``frame``, relative to that at
    the ``held`` pitch (inf where the held pitch has none; 0 where the track keeps no candidates)."""
    if tr.cand_midi is None:
        return 0.0
    cm, cs = tr.cand_midi[frame:frame + width], tr.cand_salience[frame:frame + width]
    new, old = _level(cm, cs, pitch), _level(cm, cs, held)
    return new / old if old > 0 else (np.inf if new > 0 else 0.0)
