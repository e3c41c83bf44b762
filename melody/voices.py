"""The melody of a polyphonic part (melody and accompaniment in one track) by continuity.

The skyline (``notes.monophonic``) takes the highest note at every onset. In a piano part that carries a
song's melody over its accompaniment it is right most of the time and wrong in a few musical situations:
the melody rests or holds a note while the accompaniment strikes chords (their top enters the line), the
melody lies inside the chords' register (a chord tone above it is taken instead), and the melody rests while
a bass walks (the line falls through to it). `melody_line` follows the melody as a listener does, by
continuity: a small dynamic programme (Viterbi) over the notes struck at each onset, whose state is the
pitch of the melody's last note and whether it rests; each onset adds one of its notes to the line or none.

Costs, each in nats (negative log-probabilities, so they add):

* a melodic interval costs what it costs in real melodies (``LEAP_COST``: the interval sizes of 11,582
  Essen / O'Neill / Ryan tunes), so a line that jumps into the accompaniment and back pays twice;
* a note below the highest note struck with it or still sounding costs ``BELOW`` per semitone, and so does
  the melody's pitch at an onset it lets pass for every semitone the onset's highest note lies above it
  (the melody is usually the top voice);
* a note of a block chord that repeats the block chord before it (the accompaniment striking it again)
  costs ``REPEATED``, and a tone of a block chord (notes struck and released together) struck with a voice
  of its own (a note released apart) inside or above the chord costs ``CHORD_TONE`` (the melody in the
  chords' register, held for its own length);
* a rest costs ``REST`` where it begins and ``REST_EACH`` at every onset it lasts; while the melody's
  last note still sounds (a held note over the accompaniment) letting an onset pass is free, and striking a
  lower note then costs ``CUT`` (a note struck under a held melody note is an inner voice, as in the skyline).

Alone, such a line gives up too many real notes: a rest is cheaper than a leap of an octave and back, and a
melody note doubled by a chord tone looks like the chord. So the MIDI loader gives it an ``anchor``, the
line of the pattern rules (`notes.drop_repeated_chords`, `notes.monophonic`, `notes.drop_low_dips`), and
lets it decide only where those rules are weakest: onsets of block chords where the anchor does not take a
voice of its own on top (`notes.top_voices`: a top more than a fourth above the next note, or released apart
from the chord) and onsets the anchor leaves empty. The kernel is small and pure, with no
allocation inside its loops; `line_inputs` prepares its input.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .notes import CHORD_SIZE, CHORD_WINDOW, NOTE_DTYPE, onset_groups, top_voices

# -ln(share) of melodic intervals of 0..24 semitones (up or down) in the 11,582 tunes of the Essen, O'Neill
# and Ryan collections (775,000 intervals), rounded; the tritone and the major seventh, which folk tunes
# avoid more than songs do, take the mean of their neighbours; above an octave the few counts are pooled.
LEAP_COST = np.array([1.9, 2.0, 1.0, 1.9, 2.6, 2.6, 3.2, 3.7, 4.7, 4.7, 5.1, 5.1, 5.0,
                      8.0, 8.0, 8.0, 8.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
LEAP_BEYOND = 12.0      # an interval of more than two octaves
BELOW = 1.0             # per semitone under the highest note struck or sounding at the onset
REPEATED = 2.0          # a note of a block chord that repeats the block chord before it
REST = 3.0              # where the melody's last note ends and a rest begins
REST_EACH = 2.5         # every onset during a rest (the accompaniment plays on, the melody is silent)
CUT = 3.0               # a lower melody note struck while the last one still sounds
CHORD_TONE = 3.0        # a tone of a block chord struck with a voice of its own inside or above it (as CUT:
                        # an inner voice; 1 / 3 / inf measured on the bench's piano parts and six real songs,
                        # inf lost the songs' notes)
WINDOW = CHORD_WINDOW   # seconds: notes starting this close together are struck together (notes.py's
                        # CHORD_SIZE and top_voices say what a block chord is)
HOLD_MIN = 0.05         # seconds a note must still sound after an onset to count as held over it
NO_NOTE = 128           # the state before the melody's first note
RESTING = NO_NOTE + 1   # added to a state: the melody rests after that pitch


@njit(cache=True)
def _viterbi(group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below):
    """Cheapest line through the onset groups: for each group g the candidates group_start[g] ..
    group_start[g + 1] - 1 (MIDI pitch, note cost; sorted high to low), skip[g] the cost of taking none,
    held[g, p] whether pitch p still sounds at g. The state is the melody's last pitch p (NO_NOTE before
    the first) and whether the melody rests (state p + RESTING): an onset where the line takes no note costs
    skip[g], `below` per semitone that its highest note lies above p, `rest_each` when the melody rests (its
    last note has ended, or before its first note) and `rest` once more where a rest begins. Returns for
    every candidate whether the line takes it."""
    n_groups = len(group_start) - 1
    n_states = 2 * RESTING
    best = np.full(n_states, np.inf)
    best[NO_NOTE + RESTING] = 0.0
    new = np.empty(n_states)
    # the state before group g; -1 - state where the line took the note of the new state's pitch at g
    came_from = np.empty((n_groups, n_states), dtype=np.int16)
    for g in range(n_groups):
        top = pitch[group_start[g]]
        new[:] = np.inf
        for s in range(n_states):                    # no melody note at this onset
            if best[s] == np.inf:
                continue
            p = s % RESTING
            v = best[s] + skip[g]
            after = s
            if p == NO_NOTE:
                v += rest_each                       # before the melody's first note
            else:
                v += below * max(top - p, 0)
                if s >= RESTING:
                    v += rest_each                   # the rest goes on
                elif not held[g, p]:
                    v += rest + rest_each            # the melody's note has ended: a rest begins
                    after = p + RESTING
            if v < new[after]:
                new[after] = v
                came_from[g, after] = s
        for c in range(group_start[g], group_start[g + 1]):
            q = pitch[c]
            low = np.inf
            arg = NO_NOTE + RESTING
            for s in range(n_states):
                if best[s] == np.inf:
                    continue
                p = s % RESTING
                v = best[s]
                if p != NO_NOTE:
                    d = abs(q - p)
                    v += leap[d] if d < len(leap) else leap[len(leap) - 1]
                    if s < RESTING and held[g, p] and q < p:
                        v += cut
                if v < low:
                    low = v
                    arg = s
            v = low + cost[c]
            if v < new[q]:
                new[q] = v
                came_from[g, q] = -1 - arg
        for s in range(n_states):
            best[s] = new[s]
    keep = np.zeros(len(pitch), dtype=np.bool_)
    state = 0
    for s in range(n_states):
        if best[s] < best[state]:
            state = s
    for g in range(n_groups - 1, -1, -1):
        before = came_from[g, state]
        if before < 0:
            for c in range(group_start[g], group_start[g + 1]):
                if pitch[c] == state:
                    keep[c] = True
            before = -1 - before
        state = before
    return keep


def _leap_table() -> np.ndarray:
    """LEAP_COST for 0..127 semitones."""
    out = np.full(128, LEAP_BEYOND)
    out[:len(LEAP_COST)] = LEAP_COST
    return out


def line_inputs(notes: np.ndarray, window: float = WINDOW, below: float = BELOW, repeated: float = REPEATED,
                anchor: np.ndarray | None = None, chord_tone: float = CHORD_TONE):
    """The kernel's input for a polyphonic NOTE_DTYPE array sorted by onset: the candidates (indices into
    `notes`, one per distinct pitch of each onset group, the longest), group starts, candidate pitches and
    costs, the cost of taking no note at each group and the held-pitch matrix. With an `anchor` line (a
    monophonic NOTE_DTYPE array from the same notes) only onsets of block chords (unless the anchor takes a
    voice of its own on top) and onsets where the anchor has no note are left open; elsewhere the anchor's
    note is the only choice."""
    onset = notes["onset"]
    n_notes = len(notes)
    starts, ends = onset_groups(onset, window)
    n_groups = len(starts)
    group_onset = onset[starts]
    group_of_note = np.repeat(np.arange(n_groups), ends - starts)
    pitch = np.clip(np.rint(notes["pitch"]), 0, 127).astype(np.int64)
    end = onset + notes["duration"]
    # candidates: one note per distinct pitch of each group (the longest), each group's sorted high to low
    order = np.lexsort((-notes["duration"], -pitch, group_of_note))
    first = np.ones(n_notes, dtype=bool)
    first[1:] = (group_of_note[order][1:] != group_of_note[order][:-1]) | (pitch[order][1:] != pitch[order][:-1])
    cand = order[first]
    group_of = group_of_note[cand]
    group_start = np.searchsorted(group_of, np.arange(n_groups + 1))
    size = np.diff(group_start)
    cand_pitch = pitch[cand]
    # held[g, p]: a note of pitch p struck before group g still sounds HOLD_MIN after it
    held = np.zeros((n_groups, NO_NOTE + 1), dtype=np.bool_)
    top_sounding = np.full(n_groups, -1, dtype=np.int64)
    first_g = np.searchsorted(group_onset, onset + window, side="left")
    last_g = np.searchsorted(group_onset, end - HOLD_MIN, side="right")
    for i in np.flatnonzero(last_g > first_g):
        held[first_g[i]:last_g[i], pitch[i]] = True
        top_sounding[first_g[i]:last_g[i]] = np.maximum(top_sounding[first_g[i]:last_g[i]], pitch[i])
    # note costs: below the top, and chord tones of a block chord the one before holds (struck again; the
    # first strike may carry the melody)
    top = np.maximum(cand_pitch[group_start[:-1]], top_sounding)
    cost = below * (top[group_of] - cand_pitch).astype("f8")
    low_bits = np.where(cand_pitch < 64, np.left_shift(np.uint64(1), (cand_pitch % 64).astype(np.uint64)), 0)
    high_bits = np.where(cand_pitch >= 64, np.left_shift(np.uint64(1), (cand_pitch % 64).astype(np.uint64)), 0)
    low_set = np.bitwise_or.reduceat(low_bits.astype(np.uint64), group_start[:-1])
    high_set = np.bitwise_or.reduceat(high_bits.astype(np.uint64), group_start[:-1])
    blocks = np.flatnonzero(size >= CHORD_SIZE)
    held_before = (low_set[blocks[1:]] & ~low_set[blocks[:-1]]) | (high_set[blocks[1:]] & ~high_set[blocks[:-1]])
    for g in blocks[1:][held_before == 0]:
        cost[group_start[g]:group_start[g + 1]] += repeated
    # tones of a block chord (CHORD_SIZE or more notes released together) struck with a voice of its own
    # (released apart) inside or above the chord's compass: the melody in the chords' register. The chord's
    # tones cost `chord_tone` more, and the voices of their own lie below only what is not the chord's: the
    # highest of them, or a note still sounding
    cand_release = end[cand]
    for g in blocks:
        here = slice(group_start[g], group_start[g + 1])
        released = cand_release[here]
        tone = (np.abs(released[:, None] - released[None, :]) <= window).sum(axis=1) >= CHORD_SIZE
        own = ~tone
        if tone.any() and np.any(own & (cand_pitch[here] > cand_pitch[here][tone].min())):
            above = max(cand_pitch[here][own].max(), top_sounding[g])
            cost[here] = np.where(tone, cost[here] + chord_tone, below * (above - cand_pitch[here]))
    skip = np.zeros(n_groups)
    if anchor is not None:
        # the anchor line's choice stands except at onsets where it has no note and onsets of block chords,
        # unless there it takes the voice of its own on top (notes.top_voices)
        anchored = np.full(n_groups, -1, dtype=np.int64)
        g_of = np.searchsorted(group_onset, anchor["onset"] + 1e-9, side="right") - 1
        anchored[g_of[g_of >= 0]] = np.rint(anchor["pitch"][g_of >= 0]).astype(np.int64)
        # a top that strikes again the key of a note still sounding (a chord doubling a held melody note) is
        # no voice of its own: the held note is
        group_top = cand_pitch[group_start[:-1]]
        on_top = top_voices(notes, starts, ends, window) & (anchored == group_top) & ~held[np.arange(n_groups), group_top]
        for g in np.flatnonzero((anchored >= 0) & ((size < CHORD_SIZE) | on_top)):
            here = slice(group_start[g], group_start[g + 1])
            chosen = cand_pitch[here] == anchored[g]
            if chosen.any():                         # always, for an anchor made from these notes
                skip[g] = np.inf
                cost[here] = np.where(chosen, cost[here], np.inf)
    return cand, group_start, cand_pitch, cost, skip, held


def melody_line(notes: np.ndarray, window: float = WINDOW, below: float = BELOW, repeated: float = REPEATED,
                rest: float = REST, rest_each: float = REST_EACH, cut: float = CUT,
                anchor: np.ndarray | None = None, chord_tone: float = CHORD_TONE) -> np.ndarray:
    """The melody of a polyphonic part by continuity (see the module's docstring): a monophonic NOTE_DTYPE
    array, sorted by onset, each note cut where the next begins. `notes` is any NOTE_DTYPE array."""
    if notes.dtype != NOTE_DTYPE:
        raise TypeError("melody_line needs a NOTE_DTYPE array")
    if len(notes) == 0:
        return notes.copy()
    notes = notes[np.argsort(notes["onset"], kind="stable")]
    cand, group_start, pitch, cost, skip, held = line_inputs(notes, window, below, repeated, anchor, chord_tone)
    keep = _viterbi(group_start, pitch, cost, skip, held, _leap_table(), float(rest), float(rest_each), float(cut),
                    float(below))
    out = notes[np.sort(cand[keep])].copy()
    if len(out) > 1:
        stop = out["onset"] + out["duration"]
        stop[:-1] = np.minimum(stop[:-1], out["onset"][1:])
        out["duration"] = np.maximum(stop - out["onset"], 1e-3)
    return out
