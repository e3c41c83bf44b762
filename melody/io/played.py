"""A played part read against its own local tempo: each onset as a simple fraction of the beat it falls in.

A player's onsets wander 10-40 ms around the written ones, and the tempo itself drifts and broadens into a
phrase end. Compared note by note with the written tune, the jitter puts one played length in six further
than DUR_FREE from the written one (BENCHMARKS.md, "Twenty-first session": the written onsets are worth
up to 5-50x in E). A score's onsets sit on a grid of simple fractions of the beat; a player's sit near it,
at a tempo that changes slowly. So the part is read as a musician would transcribe it:

1. the tempo is the beat tracked over every part's onsets (`melody.audio.rhythm.beat_times`), smoothed
   (`local_beats`: each beat time fitted from its TEMPO_SPAN neighbours on either side) so that one
   jittered onset does not move the beat, while a drift or a ritardando over a few beats does;
2. each onset is placed in that beat (`beat_positions`) and read as the nearest quarter or third of it
   (the one subdivision that fits the part better, as `melody.audio.rhythm._grid_fit` chooses; the part's
   median lag behind the beats removed first);
3. the onset is moved to that fraction of the smoothed beat, so the part keeps its own time line without
   the jitter.

Every onset goes to its nearest grid point: one half-way between two points is as far from its written
place either way, as played or moved. A note the grid would put on the same point as the previous one (a
grace note, a quick ornament: the reading would lose a note) is placed half a step after it instead.

A part is read wherever a beat is tracked. How close its onsets lie to the grid does not decide it: a
phrase swung and jittered at once lies as far from either grid as onsets at random (a third of a step at
the 75th percentile), yet its tracked beat is right. Moved at most half a step, an onset of a free rhythm
read on a beat it does not keep moves no further than a player's jitter would; a part without a tracked
beat (no steady pulse, a tracker lost) is not read.

The reading is a second view, not the notes: the MIDI reader keeps the notes as played and gives the read
onsets in meta "read_onsets" (`melody.io.midi.load_midi`), and `melody.catalog.Catalog.search` ranks the
part both ways (`read_view`), each reference keeping the better, corrected for taking the better of two
(`melody.score.rescore.rescore_views`). Read in place of the played onsets, the lengths came closer to the
written ones (past DUR_FREE: 17% of a timing phrase's steps → 8%), yet the true E-values moved both ways
(median x1.0): where the reading errs (a triplet read as sixteenths, a ritardando's last notes past the
tracked beats) it costs as much as the jitter did, and cleaner lengths lift chance partners too
(BENCHMARKS.md, "Twenty-second session").

A recording of a single line whose onsets fit no beat grid is read likewise (`melody.audio.played_reading`, on
the beat of its own onsets), a third view beside its own two (as transcribed, repeated notes merged), but on the
grid its onsets keep to best in that grid's own steps, at the tracked tempo or twice it (`closest_reading_meta`,
LINE_SUBDIVISIONS): a transcription's onsets jitter more than a MIDI player's.
"""
from __future__ import annotations

import numpy as np

# Beats either side of a beat in its smoothed time: a drift is followed, one onset's jitter is averaged over
# five beats. Set beforehand; on bench_accuracy's played phrases (seeds 0, 1) spans of 1 and 3 read the
# lengths about as well (BENCHMARKS.md, "Twenty-second session"), and none follows a ritardando's last
# notes where the tracker's beats stop before them (they go on at the last beat's period).
TEMPO_SPAN = 2
SUBDIVISIONS = (4, 3)   # quarters of a beat (sixteenths in 2/4 and 4/4), or thirds (triplets, compound time)
# A recording's line (`closest_reading_meta`) is read on halves, thirds or quarters of its beat, at the tracked
# tempo or twice it, whichever grid its onsets keep to best counted in steps of that grid. Onsets at random lie as
# many steps off any grid, so a finer grid wins only where the onsets keep to it, and the beat level the tracker
# found does not choose the grid (counted in beats, the finest grid always lies closer: eighths jittered by a sixth
# of their length were read as sixteenths). On the read lines of bench_audio's seed-1 solos the share of
# inter-onset ratios read more than 0.2 octave off the written ones falls from 0.385 to 0.224 (0.260 -> 0.072 on
# the seed-2 solos); at the tracked tempo alone, or on quarters and thirds alone, it reads worse than before
# (0.451, 0.423): BENCHMARKS.md, "Twenty-seventh session: a line read on the grid it keeps to".
LINE_SUBDIVISIONS = (2, 3, 4)
LINE_TEMPO_FACTORS = (1.0, 2.0)


def local_beats(beats: np.ndarray, span: int = TEMPO_SPAN) -> np.ndarray:
    """Each beat time replaced by the value at its index of a straight line fitted (least squares) to the
    beats within `span` indices of it: a tempo that changes over a few beats is kept, a beat the tracker
    placed on one early or late onset is pulled back. Fewer than three beats are returned as they are."""
    from ..audio.rhythm import local_line

    beats = np.asarray(beats, dtype="f8")
    if len(beats) < 3:
        return beats.copy()
    return np.maximum.accumulate(local_line(beats, np.ones(2 * span + 1)))   # equal weights within `span`


def grid_reading(pos: np.ndarray) -> tuple[np.ndarray, int]:
    """(grid position of each onset in beats, subdivision) for onsets at fractional beat positions `pos`.
    The part's median lag behind the beat is removed first; the subdivision is the one whose onsets lie
    closer to it (75th percentile of the distance, in beats)."""
    grid, sub, _ = _closest_grid(pos, SUBDIVISIONS, in_steps=False)
    return grid, sub


def _closest_grid(pos: np.ndarray, subdivisions, in_steps: bool) -> tuple[np.ndarray, int, float]:
    """`grid_reading` over ``subdivisions``, with the spread each was judged by (in beats, or ``in_steps`` in
    steps of its own grid, which does not favour the finer grid: see LINE_SUBDIVISIONS): (grid, subdivision,
    spread) of the closest; a tie goes to the first."""
    best = None
    for sub in subdivisions:
        raw = pos - np.round(pos * sub) / sub
        lag = float(np.median(raw))
        grid = np.round((pos - lag) * sub) / sub
        # in beats a finer grid must fit closer; in steps every grid is judged alike
        spread = float(np.percentile(np.abs(pos - lag - grid) * (sub if in_steps else 1), 75))
        if best is None or spread < best[0]:
            best = (spread, grid + lag, sub)
    return best[1], best[2], best[0]


def quantised(line: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """The line with its onsets read against the local tempo of `beats` (tracked beat times, seconds): see
    the module docstring. Each note keeps its pitch, length and marks; a line of fewer than three notes,
    or with fewer than four beats, comes back unchanged."""
    return _reading(line, beats, SUBDIVISIONS, in_steps=False)[0]


def _reading(line: np.ndarray, beats: np.ndarray, subdivisions, in_steps: bool) -> tuple[np.ndarray, float]:
    """`quantised` on the given grids, and the chosen grid's spread (`_closest_grid`; inf where unread)."""
    from ..audio.rhythm import beat_positions, times_at

    if len(line) < 3 or len(beats) < 4:
        return line, np.inf
    smooth = local_beats(beats)
    onset = line["onset"].astype("f8")
    pos = beat_positions(onset, smooth)
    grid, sub, spread = _closest_grid(pos, subdivisions, in_steps)
    placed = grid.copy()
    for i in range(1, len(placed)):                         # keep every note, in order
        if placed[i] <= placed[i - 1] + 1e-9:
            placed[i] = placed[i - 1] + 0.5 / sub
    new_onset = np.maximum(times_at(placed, smooth), 0.0)
    new_onset = np.maximum.accumulate(new_onset)
    out = line.copy()
    out["onset"] = new_onset
    return out, spread


def reading_meta(line: np.ndarray, beats: np.ndarray) -> dict:
    """The meta that carries a line's reading against its local tempo (`quantised` on the tracked ``beats``):
    {"read_onsets": [...]}, or {} where the line is not read (fewer than three notes or four beats). Set by
    the MIDI reader on a part read as played and by `melody.audio` on a line recorded off any beat grid; read
    back by `read_view`."""
    read = quantised(line, beats)
    return {} if read is line else {"read_onsets": [round(float(t), 6) for t in read["onset"]]}


def closest_reading_meta(line: np.ndarray, beat_sets) -> dict:
    """`reading_meta` for a recording's line, tracked on several beats (``beat_sets``: the line's beat at
    LINE_TEMPO_FACTORS of its tempo, the tracked tempo first): each read on LINE_SUBDIVISIONS, judged in grid
    steps, and the reading whose onsets lie closest kept (a tie goes to the first). {} where the first is not
    read: a line whose tracked tempo gives too few beats (`melody.audio.rhythm.MIN_BEATS`: a short phrase) has
    no beat to read it on, and twice that tempo would only give the same guess more beats."""
    best, spread = line, np.inf
    for k, beats in enumerate(beat_sets):
        read, s = _reading(line, beats, LINE_SUBDIVISIONS, in_steps=True)
        if k == 0 and read is line:
            return {}
        if s < spread:
            best, spread = read, s
    return {} if best is line else {"read_onsets": [round(float(t), 6) for t in best["onset"]]}


def read_view(melody):
    """The melody with its onsets as read against its local tempo (meta "read_onsets", `reading_meta`: a
    MIDI part read as played, a single line recorded off any beat grid), or None where it has none:
    `melody.catalog.Catalog.search` ranks such a melody both ways."""
    from ..notes import Melody

    onsets = melody.meta.get("read_onsets")
    if onsets is None or len(onsets) != len(melody.notes):
        return None
    notes = melody.notes.copy()
    notes["onset"] = np.asarray(onsets, dtype=notes["onset"].dtype)
    return Melody(notes, melody.title, melody.composer, melody.source, melody.index, melody.meta)
