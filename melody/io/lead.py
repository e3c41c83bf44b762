"""The melody line of one part (a MIDI track, a MusicXML staff) that may hold melody and accompaniment.

Shared by the MIDI and MusicXML loaders: a monophonic part is its own line; a polyphonic one (a piano
part with the tune on top of its chords, or inside them) goes through the pattern rules of `notes.py` and
the continuity line of `voices.py`. A MIDI part first gets back the melody notes its chords cut short
(`hold_restruck_keys`).
"""
from __future__ import annotations

import numpy as np

from ..notes import (CHORD_SIZE, CHORD_WINDOW, CHORDAL_TEXTURE, chord_top_share, drop_low_dips, drop_repeated_chords,
                     monophonic, onset_groups)

POLYPHONIC_SHARE = 0.9         # a voice whose skyline keeps less than this share of its notes is polyphonic
MAX_VOICED_NOTES = 100_000   # a polyphonic part with more notes keeps its pattern-rule line (the continuity
                             # line's table takes ~0.7 KB per onset: 3,000 onsets in a 3-minute song)
RESTRIKE_S = 0.002           # seconds: a note released this close to the onset of a chord tone of its pitch was
                             # ended by that chord striking its key again (MIDI ends a sounding key's note where
                             # the key is struck again: the same tick, so 2 ms covers any rounding)


def hold_restruck_keys(part: np.ndarray, window: float = CHORD_WINDOW) -> np.ndarray:
    """A MIDI part's melody notes held through the block chords that strike their key again.

    A key sounds once: where a piano part's accompaniment strikes a chord holding the pitch of the melody's
    held note, MIDI ends the melody note there and the chord's tone starts (a held C over a restruck C-E-G
    reads as a short C and a C of the chord), so the melody loses its length and gains the chord's tone as a
    repeated note. Such a note is a voice of its own (not a tone of a block chord released together with it,
    CHORD_SIZE or more notes struck and released within `window`) released where a tone of a block chord of
    the same pitch starts: it is given the length the key sounds, to the chord tone's release or the next note
    struck after the chord, whichever comes first (a melody note struck meanwhile ends it). Not where a voice
    of its own (released apart from the chord) is struck with the chord inside or above its compass: there the
    melody moves on, and the chord took its last pitch as the melody left it. The chord keeps
    its tone, so the chord rules see the chord as written and the continuity line sees the melody's pitch held
    over it (`voices.melody_line`: letting the chord pass is then free). Not for MusicXML, where a held note is
    written held and a note ending at a chord of its pitch is a repeated one. Returns a copy when it changes
    anything; the notes' order is kept."""
    if len(part) < CHORD_SIZE + 1:
        return part
    order = np.argsort(part["onset"], kind="stable")
    onset = part["onset"][order]
    release = onset + part["duration"][order]
    pitch = np.rint(part["pitch"][order]).astype(np.int64)
    starts, ends = onset_groups(onset, window)
    group_of = np.repeat(np.arange(len(starts)), ends - starts)
    # a tone of a block chord: CHORD_SIZE or more distinct pitches struck together, CHORD_SIZE or more of the
    # group's notes (itself included) released within `window` of it
    by_pitch = np.lexsort((pitch, group_of))
    new_pitch = np.ones(len(part), dtype=bool)
    new_pitch[1:] = (group_of[by_pitch][1:] != group_of[by_pitch][:-1]) | (pitch[by_pitch][1:] != pitch[by_pitch][:-1])
    distinct = np.add.reduceat(new_pitch.astype(np.int64), starts)       # groups hold consecutive indices
    key = group_of * (2.0 * (release.max() + 1.0)) + release                # releases sorted within each group
    sorted_key = np.sort(key)
    together = (np.searchsorted(sorted_key, key + window, side="right")
                - np.searchsorted(sorted_key, key - window, side="left"))
    tone = (distinct[group_of] >= CHORD_SIZE) & (together >= CHORD_SIZE)
    # ... struck with a voice of its own (released apart) inside or above the chord's compass
    lowest_tone = np.minimum.reduceat(np.where(tone, pitch, 128), starts)
    highest_other = np.maximum.reduceat(np.where(tone, -1, pitch), starts)
    moves_on = (highest_other > lowest_tone)[group_of]
    own = np.flatnonzero(~tone)
    if not len(own) or not tone.any():
        return part
    by_release = own[np.argsort(release[own], kind="stable")]
    out = None
    next_onset = np.append(onset[starts[1:]], np.inf)[group_of]   # the next struck note after each note's group
    struck = np.flatnonzero(tone & ~moves_on)
    lo = np.searchsorted(release[by_release], onset[struck] - RESTRIKE_S, side="left")
    hi = np.searchsorted(release[by_release], onset[struck] + RESTRIKE_S, side="right")
    for k, a, b in zip(struck[hi > lo], lo[hi > lo], hi[hi > lo]):
        for i in by_release[a:b]:
            if pitch[i] == pitch[k] and onset[i] < onset[k] - window:
                if out is None:
                    out = part.copy()
                out["duration"][order[i]] = min(release[k], next_onset[k]) - onset[i]
    return part if out is None else out


def lead_line(part: np.ndarray, restruck_keys: bool = False) -> np.ndarray:
    """One melody line (monophonic NOTE_DTYPE, sorted) from a part's notes: the skyline; for a polyphonic
    part (melody and accompaniment in one track or staff), first without the accompaniment's repeated chords
    (unless the chords carry the tune, as in a hymn), then without the notes where the skyline falls through
    to the accompaniment and climbs back (see notes.py); in a melody-and-accompaniment part, that line is
    then followed by continuity through the onsets of block chords and the onsets it leaves empty
    (voices.melody_line). With `restruck_keys` (a MIDI part) a melody-and-accompaniment part's melody notes
    are first held through the chords that strike their key again (`hold_restruck_keys`)."""
    notes = monophonic(part)
    if len(notes) >= POLYPHONIC_SHARE * len(part):   # monophonic, or nearly: taken as it is
        return notes
    if chord_top_share(notes, part) > CHORDAL_TEXTURE:   # the chords carry the tune, as in a hymn
        return drop_low_dips(notes)
    if restruck_keys:
        part = hold_restruck_keys(part)
    part = drop_repeated_chords(part)
    notes = drop_low_dips(monophonic(part))
    if len(part) > MAX_VOICED_NOTES:
        return notes
    from ..voices import melody_line                 # numba: imported only for polyphonic parts
    return melody_line(part, anchor=notes)
