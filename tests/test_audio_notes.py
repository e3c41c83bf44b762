"""Audio in: note segmentation (re-articulated repeats, onsets) and beats of transcribed notes, on pitch
tracks built in code."""
from __future__ import annotations

import numpy as np

from melody.audio.extract import PitchTrack
from melody.audio.segment import notes_from_track

HOP = 0.01


def _held_note(n=200, vibrato=0.0):
    """One pitch held for n frames, steady salience, a little harmonic growth every frame (or the steady
    growth a vibrato makes), a quiet spectral flux."""
    midi = (67.0 + vibrato * np.sin(2 * np.pi * 5.5 * np.arange(n) * HOP)).astype("f4")
    attack = np.full(n, 0.1 + 1.4 * (vibrato > 0), dtype="f4")
    return midi, np.ones(n, "f4"), attack, np.full(n, 10.0, "f4")


def _track(midi, sal, attack, flux):
    return PitchTrack(midi, sal, np.ones(len(midi)), HOP, attack=attack, onset_env=flux)


def test_a_soft_reattack_that_stands_out_splits_a_repeated_note():
    """A re-tongued repeat: the note's harmonics grow by 3 (half of what a struck note gives) in three
    frames, and the spectrum's flux peaks with it: two notes."""
    midi, sal, attack, flux = _held_note()
    attack[100:103] = 1.0
    flux[100:103] = 60.0
    got = notes_from_track(_track(midi, sal, attack, flux))
    assert got["onset"].round(2).tolist() == [0.0, 1.0]
    # the same growth without a flux peak is the voice swelling on one note: one note
    flux[100:103] = 10.0
    assert len(notes_from_track(_track(midi, sal, attack, flux))) == 1


def test_a_vibrato_note_is_not_split_by_its_own_harmonics_moving():
    """With vibrato the harmonics grow and shrink all the time: the same growth (3 over three frames) and
    flux peak do not stand out from the note's own median growth there."""
    midi, sal, attack, flux = _held_note(vibrato=0.4)
    attack[100:103] = 1.0
    flux[100:103] = 60.0
    assert len(notes_from_track(_track(midi, sal, attack, flux))) == 1


def test_a_vibrato_crest_that_grows_the_harmonics_by_an_attack_is_still_one_note():
    """An instrument's vibrato sweeps its partials across its resonances: at each crest the harmonics grow by
    an attack's amount (6 over three frames, what ATTACK alone would split on) with no flux peak and no jump
    of the salience: one note. The same growth on a steady pitch is a re-bowed or re-tongued repeat."""
    n = 200
    crest = [int(k) for k in np.arange(40, 170, 18)]                  # 5.5 Hz: a crest every ~18 frames
    midi, sal, attack, flux = _held_note(n, vibrato=0.3)
    for c in crest:
        attack[c:c + 3] = 2.2
    assert len(notes_from_track(_track(midi, sal, attack, flux))) == 1
    steady, sal, attack, flux = _held_note(n)
    attack[100:103] = 2.2
    assert notes_from_track(_track(steady, sal, attack, flux))["onset"].round(2).tolist() == [0.0, 1.0]
    # inside the vibrato a re-articulation still splits: the salience dips and jumps back (RISE)
    midi, sal, attack, flux = _held_note(n, vibrato=0.3)
    sal[96:100] = 0.2
    got = notes_from_track(_track(midi, sal, attack, flux))["onset"]
    assert len(got) == 2 and 0.95 <= got[1] <= 1.01


def _dotted_case(n_notes):
    """The flux pulses every 0.5 s (the tracker finds 120 BPM), but the notes run in sixteenths of 180 BPM
    (83 ms): they fit no quarter or third of the 120 BPM beat, and do fit the 180 BPM one (3/2 of it)."""
    from melody.notes import make_notes

    env = np.zeros(3000, dtype="f4")
    env[(np.arange(0, 30, 0.5) / HOP).astype(int)] = 1.0
    rng = np.random.default_rng(6)
    steps = np.cumsum(rng.choice([1, 2, 2, 4], n_notes))       # sixteenths, eighths, quarters
    grid = 0.3 + steps / 12.0
    notes = make_notes(grid + rng.normal(0, 0.004, len(grid)), np.full(len(grid), 0.08), np.full(len(grid), 60))
    return notes, env, grid


def test_a_dotted_beat_from_the_tracker_is_corrected_by_the_notes():
    from melody.audio import rhythm

    notes, env, grid = _dotted_case(60)
    got, info = rhythm.snap_to_beats(notes, env, HOP)
    assert info["snapped"] and abs(info["tempo_bpm"] - 180) < 4
    assert np.allclose(np.diff(got["onset"]), np.diff(grid), atol=0.012)


def test_a_short_phrase_is_not_snapped_at_another_tempo():
    """Twenty onsets (a short sung phrase) are too little evidence for a tempo the tracker did not find."""
    from melody.audio import rhythm

    notes, env, _ = _dotted_case(60)
    notes = notes[:20]
    got, info = rhythm.snap_to_beats(notes, env, HOP)
    assert not info["snapped"] and got is notes


def _two_notes(second: float, attack_at_switch: float = 0.0):
    """A note of MIDI 70 for a second, then one of ``second`` that wins at frame 100 but sounds from frame
    92 among the candidates, its salience wavering as the first one fades (a slow attack after a note)."""
    n = 200
    midi = np.where(np.arange(n) < 100, 70.0, second).astype("f4")
    cand_midi = np.full((n, 6), np.nan, "f4")
    cand_sal = np.zeros((n, 6), "f4")
    cand_midi[:, 0], cand_sal[:, 0] = midi, 1.0
    cand_midi[92:100, 1] = second
    cand_sal[92:100, 1] = [0.3, 0.45, 0.4, 0.55, 0.5, 0.7, 0.65, 0.6]
    cand_sal[100, 0] = 0.75
    attack = np.zeros(n, "f4")
    attack[99:102] = attack_at_switch
    return PitchTrack(midi, np.ones(n, "f4"), np.ones(n), HOP, cand_midi, cand_sal, np.full(n, 10.0, "f4"),
                      attack)


def test_a_gradual_onset_moves_back_to_where_its_pitch_appears():
    got = notes_from_track(_two_notes(74.0))
    assert abs(got["onset"][1] - 0.92) < 1e-6
    assert abs(got["onset"][0] + got["duration"][0] - 0.92) < 1e-6          # the first note ends there


def test_an_octave_or_a_struck_note_keeps_its_onset():
    """An octave's candidate may be the first note's harmonic, and a note with a sharp attack starts at
    it: only the strict rule applies (back while the salience keeps falling: one frame here)."""
    for track in (_two_notes(82.0), _two_notes(74.0, attack_at_switch=3.0)):
        got = notes_from_track(track)
        assert abs(got["onset"][1] - 0.99) < 1e-6


def test_a_short_note_between_two_others_keeps_its_pitch():
    """Fast passages: an 80 ms note is not absorbed into the note after it (a step of one semitone) or
    before it (a leap): its reference pitch is set by its own frames, not by the next note's."""
    for pitches in ((70.0, 72.0, 73.0), (74.0, 67.0, 76.0)):
        midi = np.concatenate([np.full(20, pitches[0]), np.full(8, pitches[1]), np.full(20, pitches[2])])
        got = notes_from_track(PitchTrack(midi.astype("f4"), np.ones(len(midi), "f4"), np.ones(len(midi)), HOP))
        assert np.round(got["pitch"]).tolist() == list(pitches)
        assert got["onset"].round(2).tolist() == [0.0, 0.2, 0.28]


def test_a_vibrato_note_after_a_short_one_is_one_note():
    """The shorter reference of a new note still holds a wide vibrato (+-0.6 semitones) together."""
    n = 120
    vib = 67.0 + 0.6 * np.sin(2 * np.pi * 5.5 * np.arange(n) * HOP)
    midi = np.concatenate([np.full(20, 64.0), vib]).astype("f4")
    got = notes_from_track(PitchTrack(midi, np.ones(len(midi), "f4"), np.ones(len(midi)), HOP))
    assert np.round(got["pitch"]).tolist() == [64.0, 67.0]


def test_an_onset_half_way_between_grid_points_stays_put():
    """Onsets 45 ms off a 125 ms grid (a sixteenth triplet, a grace note) are not the grid's: moving them
    onto it would put them on their neighbour's grid point. The others are snapped."""
    from melody.audio import rhythm
    from melody.notes import make_notes

    env = np.zeros(2000, dtype="f4")
    env[(np.arange(0, 20, 0.5) / HOP).astype(int)] = 1.0          # a click every half second: 120 BPM
    rng = np.random.default_rng(2)
    grid = np.array([0, 1, 1.5, 2, 3, 3.25, 3.5, 4, 6, 7, 8, 9.5, 10, 12, 13, 14]) * 0.5 + 1.0
    onsets = grid + rng.normal(0, 0.008, len(grid))
    off = np.array([grid[4] + 0.045, grid[10] + 0.045])
    notes = make_notes(np.r_[onsets, off], np.full(len(grid) + 2, 0.1), np.arange(60, 60 + len(grid) + 2))
    got, info = rhythm.snap_to_beats(notes, env, HOP)
    assert info["snapped"] and len(got) == len(notes)
    kept = np.isin(np.round(got["onset"], 6), np.round(off, 6))
    assert kept.sum() == 2 and np.all(got["beat"][kept] == 0.5)
    snapped = got["onset"][~kept]
    assert np.allclose(np.diff(snapped), np.diff(grid), atol=0.012)


def _glide(start: float, end: float, frames: int, tau_s: float = 0.04) -> np.ndarray:
    """A singer's slide from ``start`` towards ``end``: an exponential approach (a scoop or a portamento)."""
    return end + (start - end) * np.exp(-np.arange(frames) * HOP / tau_s)


def test_a_glide_into_a_note_is_the_notes_start():
    """A portamento (60 -> 67, 100 ms) and a scoop from below (a jump to 63.5, then up to 67): one note after
    the first, starting where the slide starts, not a note at a pitch on the way or a late onset."""
    for slide in (_glide(60.0, 67.0, 10), _glide(63.5, 67.0, 10)):
        midi = np.concatenate([np.full(30, 60.0), slide, np.full(30, 67.0)]).astype("f4")
        got = notes_from_track(PitchTrack(midi, np.ones(len(midi), "f4"), np.ones(len(midi)), HOP))
        assert np.round(got["pitch"]).tolist() == [60.0, 67.0]
        assert got["onset"][0] == 0.0 and abs(got["onset"][1] - 0.3) <= 0.011      # the slide's first frame or next


def test_a_short_scooped_note_has_the_pitch_it_holds():
    """A 120-140 ms note scooped into from two semitones below (a slow scoop, 50 ms time constant) between two
    longer notes: its pitch is the one it arrives at and holds, within mir_eval's 50 cents, not the median of
    the scoop and the hold (main read 66.33 and 66.45 for a sung 67); a held note keeps its pitch exactly."""
    for held in (4, 6):
        midi = np.concatenate([np.full(30, 60.0), _glide(65.0, 67.0, 8, 0.05), np.full(held, 67.0),
                               np.full(30, 64.0)]).astype("f4")
        got = notes_from_track(PitchTrack(midi, np.ones(len(midi), "f4"), np.ones(len(midi)), HOP))
        assert len(got) == 3 and np.abs(got["pitch"] - [60.0, 67.0, 64.0]).max() < 0.5
        assert got["pitch"][[0, 2]].tolist() == [60.0, 64.0]


def _missed_glide(gap_pitch: np.ndarray):
    """A note of 60 (30 frames), 8 frames the path leaves unvoiced with one candidate at ``gap_pitch``, then
    a note of 67."""
    midi = np.concatenate([np.full(30, 60.0), np.full(8, np.nan), np.full(40, 67.0)]).astype("f4")
    n = len(midi)
    cand_midi = np.full((n, 6), np.nan, "f4")
    cand_sal = np.zeros((n, 6), "f4")
    cand_midi[:, 0], cand_sal[:, 0] = np.nan_to_num(midi, nan=0.0), 1.0
    cand_midi[30:38, 0], cand_sal[30:38, 0] = gap_pitch, 0.1
    cand_midi[:, 1], cand_sal[:, 1] = 48.0, 0.2                      # a steady low partial, never the melody
    return PitchTrack(midi, np.where(np.isfinite(midi), 1.0, 0.0).astype("f4"), np.ones(n), HOP, cand_midi,
                      cand_sal, np.full(n, 10.0, "f4"), np.zeros(n, "f4"))


def test_a_glide_the_path_missed_moves_the_onset_back():
    """A fast slide is quiet (its harmonics smear over many pitches) and the path joins the note only as the
    slide arrives; the candidates still show the slide, and the note starts where it does."""
    got = notes_from_track(_missed_glide(np.linspace(61.0, 66.5, 8)))
    assert got["onset"].round(2).tolist() == [0.0, 0.3]
    # candidates holding a pitch in the gap (the first note's tail, a reverb) are no glide: the onset stays
    got = notes_from_track(_missed_glide(np.full(8, 60.0)))
    assert got["onset"].round(2).tolist() == [0.0, 0.38]


def test_a_note_drifting_between_two_keys_is_not_split_at_the_lower_key():
    """A held note sung at 45.5 for 450 ms that drifts up to 46.0 (a real singer's pitch as the note is held),
    and the network hears an onset at key 45 inside it: one note. The network's onset rules read the note's
    median over all its frames (45.5, half a semitone from 45: the note itself); its held pitch (46.0) is only
    what is reported (main reported 45.5). Reading the held pitch there split the note (vocadito gained two
    notes, BENCHMARKS.md, "Seventeenth session")."""
    from melody.audio.neural import MIDI_LOW
    from melody.audio.segment import KEY_ONSET_LAG_S

    midi = np.concatenate([np.full(45, 45.5), np.full(35, 46.0)]).astype("f4")
    n = len(midi)
    key_onset, key_note = np.zeros((n, 88), "f4"), np.zeros((n, 88), "f4")
    key_onset[50, 45 - MIDI_LOW] = 0.9
    key_note[50:, 45 - MIDI_LOW] = 0.8
    tr = PitchTrack(midi, np.ones(n, "f4"), np.ones(n), HOP, key_onset=key_onset,
                    key_onset_times=np.arange(n) * HOP + KEY_ONSET_LAG_S, key_note=key_note)
    got = notes_from_track(tr)
    assert len(got) == 1 and got["onset"][0] == 0.0 and abs(got["pitch"][0] - 46.0) < 0.5


def _line_with_a_low_note(low_salience: float, keys_heard: int = 3):
    """A line of seven 0.3 s notes around MIDI 72, the fourth an octave below the others, its salience
    ``low_salience`` (the others 1.0), from the salience tracker (its candidates kept); the network hears
    ``keys_heard`` keys sounding throughout (3: an ensemble, a lead over chords; 1: a single line)."""
    pitches = [72, 74, 76, 62, 76, 74, 72]
    midi = np.repeat(np.array(pitches, "f4"), 30)
    sal = np.repeat(np.array([1.0, 1.0, 1.0, low_salience, 1.0, 1.0, 1.0], "f4"), 30)
    key_note = np.zeros((len(midi), 88), "f4")
    key_note[:, 30:30 + keys_heard] = 0.8
    return PitchTrack(midi, sal, np.ones(len(midi)), HOP, cand_midi=midi[:, None].copy(),
                      cand_salience=sal[:, None].copy(), key_note=key_note)


def test_a_weak_low_note_in_an_ensemble_is_the_accompaniment():
    """In an ensemble, a note under the line that starts at a fifth of the salience the line's notes start
    with is a chord tone the path fell onto (the lead decaying over the band): dropped, the note before held
    on over it."""
    got = notes_from_track(_line_with_a_low_note(0.2))
    assert got["pitch"].round().tolist() == [72, 74, 76, 76, 74, 72]
    assert abs(got["duration"][2] - 0.6) < 0.02
    # as loud as the line (a melody's own leap down an octave): kept
    got = notes_from_track(_line_with_a_low_note(0.9))
    assert got["pitch"].round().tolist() == [72, 74, 76, 62, 76, 74, 72]


def test_a_weak_low_note_of_a_single_line_is_kept():
    """A single line has no accompaniment to fall onto: its weak low note (a low register, a soft note) stays."""
    got = notes_from_track(_line_with_a_low_note(0.2, keys_heard=1))
    assert got["pitch"].round().tolist() == [72, 74, 76, 62, 76, 74, 72]


def test_a_weak_note_in_the_lines_register_is_kept():
    """Weak alone is not enough: a soft note among its neighbours' pitches (a passing note played lightly) stays."""
    tr = _line_with_a_low_note(0.2)
    tr.midi[90:120] = 75.0
    tr.cand_midi[90:120] = 75.0
    assert notes_from_track(tr)["pitch"].round().tolist() == [72, 74, 76, 75, 76, 74, 72]


def _struck_line(pitches, heard, onsets=None, above=None, ensemble=True):
    """A line of 0.3 s notes (MIDI ``pitches``), each struck: the network hears an onset at its key where it
    starts (and at the extra keys ``onsets`` maps a note's index to) and hears its key sounding at ``heard``
    (one value per note), and over the notes ``above`` maps to (key, activation) that key too (the lead's held
    note decaying over them); the salience is the same for every note (1.0), so only the network tells them
    apart. ``ensemble``: three keys (MIDI 51-53) sound throughout, a band under the line; else a single line."""
    from melody.audio.neural import MIDI_LOW
    from melody.audio.segment import KEY_ONSET_LAG_S

    midi = np.repeat(np.array(pitches, "f4"), 30)
    n = len(midi)
    key_onset, key_note = np.zeros((n, 88), "f4"), np.zeros((n, 88), "f4")
    for i, p in enumerate(pitches):
        for key in [p] + list((onsets or {}).get(i, [])):
            key_onset[30 * i, key - MIDI_LOW] = 0.9
        key_note[30 * i:30 * (i + 1), p - MIDI_LOW] = heard[i]
    for i, (key, level) in (above or {}).items():
        key_note[30 * i:30 * (i + 1), key - MIDI_LOW] = level
    if ensemble:
        key_note[:, 51 - MIDI_LOW:54 - MIDI_LOW] = 0.8
    sal = np.ones(n, "f4")
    return PitchTrack(midi, sal, np.ones(n), HOP, cand_midi=midi[:, None].copy(), cand_salience=sal[:, None].copy(),
                      key_onset=key_onset, key_onset_times=np.arange(n) * HOP + KEY_ONSET_LAG_S, key_note=key_note)


LINE = [72, 76, 74, 72, 76, 74, 60, 57, 76, 74]
HEARD = [0.8] * 6 + [0.3, 0.3] + [0.8] * 2
HELD = {6: (74, 0.25), 7: (74, 0.25)}      # the lead's 74 still heard, decaying, over the two chord tones


def test_chord_tones_under_the_leads_held_note_are_that_note():
    """In an ensemble, two chord tones in a row an octave under the lead's struck notes, struck too (the band
    strikes its chords) and as loud to the salience, but heard by the network at under half the lead's
    activation, while the lead's 74 is still heard above them: the lead's note held, not new notes. The note
    before them is held on over both. (Their neighbours are each other, so a rule against the notes around
    them cannot see them.)"""
    got = notes_from_track(_struck_line(LINE, HEARD, above=HELD))
    assert got["pitch"].round().tolist() == [72, 76, 74, 72, 76, 74, 76, 74]
    assert abs(got["duration"][5] - 0.9) < 0.02


def test_a_leap_down_heard_as_surely_as_the_lead_is_kept():
    """The same leap down an octave and more, heard as surely as the lead's notes: the lead's own line."""
    got = notes_from_track(_struck_line(LINE, [0.8] * len(LINE), above=HELD))
    assert got["pitch"].round().tolist() == LINE


def test_chord_tones_heard_as_surely_but_starting_far_weaker_than_the_lead_are_its_held_note():
    """The same leap down, heard as surely as the lead (the band strikes its chord tones fresh while the lead's
    note decays), but starting at 0.55 of the salience the lead's struck notes start with (over
    `_drop_accompaniment`'s half): the lead's note held, not new notes."""
    tr = _struck_line(LINE, [0.8] * len(LINE), above=HELD)
    tr.salience[180:240] = 0.55
    got = notes_from_track(tr)
    assert got["pitch"].round().tolist() == [72, 76, 74, 72, 76, 74, 76, 74]


def test_a_leap_down_with_nothing_heard_above_it_is_kept():
    """The same soft leap down with no key in the lead's register heard over it: nothing is held there, the line
    itself went down (a voice whose wide vibrato makes the network hear several keys, bench_nomelody's
    sung_line_wide_vibrato)."""
    got = notes_from_track(_struck_line(LINE, HEARD))
    assert got["pitch"].round().tolist() == LINE


def test_a_chord_tone_where_the_lead_strikes_an_octave_above_is_that_octave():
    """The lead strikes 76 as the band strikes 64 under it and the path takes 64: the note is the lead's 76."""
    line = [72, 76, 74, 72, 76, 74, 64, 57, 76, 74]
    got = notes_from_track(_struck_line(line, HEARD, onsets={6: [76]}, above={6: (76, 0.8), 7: (76, 0.25)}))
    assert got["pitch"].round().tolist() == [72, 76, 74, 72, 76, 74, 76, 76, 74]


def test_a_line_stepping_down_is_kept_however_softly_heard():
    """A lead that moves down by step stays in its own register: every note kept, though the network hears
    the later ones at under half the first ones' activation."""
    line = [79, 77, 76, 74, 72, 71, 69, 67, 65, 64, 62, 60]
    got = notes_from_track(_struck_line(line, [0.8] * 4 + [0.3] * 8))
    assert got["pitch"].round().tolist() == line


def test_a_single_lines_softer_low_notes_are_kept():
    """A single line has no band to fall onto: its low notes heard less surely stay."""
    got = notes_from_track(_struck_line(LINE, HEARD, above=HELD, ensemble=False))
    assert got["pitch"].round().tolist() == LINE


def _doubled_line(above_heard: float, struck: bool = True, candidate: bool = True, ensemble: bool = True):
    """A struck line whose fifth note the path took an octave under the lead's 76 (the band doubling it, or
    the harmonic sum's sub-octave): the network hears 76 at ``above_heard`` over that note (its own 64 at
    0.8), struck as it starts if ``struck``; 76 is one of the tracker's candidates there if ``candidate``."""
    line = [72, 76, 74, 72, 64, 74, 72]
    tr = _struck_line(line, [0.8] * len(line), onsets={4: [76]} if struck else None, above={4: (76, above_heard)},
                      ensemble=ensemble)
    second = np.full(len(tr.midi), np.nan, "f4")
    if candidate:
        second[120:150] = 76.0
    tr.cand_midi = np.column_stack([tr.cand_midi[:, 0], second])
    tr.cand_salience = np.column_stack([tr.cand_salience[:, 0], np.where(np.isnan(second), 0, 0.9).astype("f4")])
    return tr


def test_a_note_whose_octave_above_is_struck_and_heard_is_that_octave():
    """In an ensemble the path took 64 where the network hears 76 struck with it and sounding nearly as surely
    (0.7 against 0.8), and the tracker has 76 among its candidates: the lead is the upper octave."""
    got = notes_from_track(_doubled_line(0.7))
    assert got["pitch"].round().tolist() == [72, 76, 74, 72, 76, 74, 72]


def test_an_octave_above_heard_faintly_or_not_struck_leaves_the_note():
    """The octave above heard faintly (an overtone: 0.3 against 0.8), heard but not struck with the note (a note
    held from before), not among the candidates, or in a single line: the note keeps its pitch."""
    line = [72, 76, 74, 72, 64, 74, 72]
    for tr in (_doubled_line(0.3), _doubled_line(0.7, struck=False), _doubled_line(0.7, candidate=False),
               _doubled_line(0.7, ensemble=False)):
        assert notes_from_track(tr)["pitch"].round().tolist() == line


def test_a_descending_arpeggio_keeps_its_low_notes():
    """A lead walking down an arpeggio (79 76 72 67 64) reaches 64 a ninth under its recent notes and heard less
    surely, with the notes before still ringing above it; but it is a third from the note before it, the line's
    own step, not a chord tone reached by a leap from the lead's note: kept."""
    line = [79, 76, 79, 76, 72, 67, 64]
    got = notes_from_track(_struck_line(line, [0.8] * 6 + [0.3], above={6: (72, 0.25)}))
    assert got["pitch"].round().tolist() == line


def test_a_note_moved_up_an_octave_holds_where_the_track_holds_the_octave_under_it():
    """The note moved to the lead's octave keeps the track's frames an octave under it: they hold its pitch as
    surely (a glide holds no exact octave either), so the note reads as held, not as speech's glide."""
    from melody.audio.segment import note_steadiness

    tr = _doubled_line(0.7)
    got = notes_from_track(tr)
    assert got["pitch"].round().tolist()[4] == 76
    assert note_steadiness(got, tr).tolist() == [1.0] * len(got)


def _octave_partial_line(band: bool):
    """A struck line with no band (unless ``band``) whose every note the network also hears an octave up,
    struck with it and sounding at 0.7 or 0.5 against the note's 0.8 (an instrument's octave partial: a steel
    pan's tuned octave), that octave among the tracker's candidates throughout."""
    line = [64, 67, 69, 67, 64, 62, 64]
    tr = _struck_line(line, [0.8] * len(line), onsets={i: [p + 12] for i, p in enumerate(line)},
                      above={i: (p + 12, 0.7 if i % 2 else 0.5) for i, p in enumerate(line)}, ensemble=band)
    tr.cand_midi = np.column_stack([tr.cand_midi[:, 0], tr.cand_midi[:, 0] + 12])
    tr.cand_salience = np.column_stack([tr.cand_salience[:, 0], np.full(len(tr.midi), 0.9, "f4")])
    return line, tr


def test_an_instrument_heard_with_its_octave_partial_keeps_its_notes():
    """Every note heard with its octave and nothing else: one instrument, not a band doubling its lead, so no
    note moves up (on main every other note did, and the line's intervals broke)."""
    line, tr = _octave_partial_line(band=False)
    assert notes_from_track(tr)["pitch"].round().tolist() == line


def test_the_same_line_over_a_band_is_lifted_where_the_octave_is_heard_as_surely():
    """The same line with a band under it: the notes whose octave is heard at 0.7 of their own move up."""
    line, tr = _octave_partial_line(band=True)
    got = notes_from_track(tr)["pitch"].round().tolist()
    assert got == [p + 12 if i % 2 else p for i, p in enumerate(line)]
