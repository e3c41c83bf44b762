"""The melody line of one part (a MIDI track, a MusicXML staff) that may hold melody and accompaniment.

Shared by the MIDI and MusicXML loaders: a monophonic part is its own line; a polyphonic one (a piano
part with the tune on top of its chords, or inside them) goes through the pattern rules of `notes.py` and
the continuity line of `voices.py`.
"""
from __future__ import annotations

import numpy as np

from ..notes import CHORDAL_TEXTURE, chord_top_share, drop_low_dips, drop_repeated_chords, monophonic

POLYPHONIC_SHARE = 0.9         # a voice whose skyline keeps less than this share of its notes is polyphonic
MAX_VOICED_NOTES = 100_000   # a polyphonic part with more notes keeps its pattern-rule line (the continuity
                             # line's table takes ~0.7 KB per onset: 3,000 onsets in a 3-minute song)


def lead_line(part: np.ndarray) -> np.ndarray:
    """One melody line (monophonic NOTE_DTYPE, sorted) from a part's notes: the skyline; for a polyphonic
    part (melody and accompaniment in one track or staff), first without the accompaniment's repeated chords
    (unless the chords carry the tune, as in a hymn), then without the notes where the skyline falls through
    to the accompaniment and climbs back (see notes.py); in a melody-and-accompaniment part, that line is
    then followed by continuity through the onsets of block chords and the onsets it leaves empty
    (voices.melody_line)."""
    notes = monophonic(part)
    if len(notes) >= POLYPHONIC_SHARE * len(part):   # monophonic, or nearly: taken as it is
        return notes
    if chord_top_share(notes, part) > CHORDAL_TEXTURE:   # the chords carry the tune, as in a hymn
        return drop_low_dips(notes)
    part = drop_repeated_chords(part)
    notes = drop_low_dips(monophonic(part))
    if len(part) > MAX_VOICED_NOTES:
        return notes
    from ..voices import melody_line                 # numba: imported only for polyphonic parts
    return melody_line(part, anchor=notes)
