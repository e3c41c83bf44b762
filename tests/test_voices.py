"""melody.voices: the continuity (Viterbi) melody line of a polyphonic part, against a brute-force reference."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from melody.notes import NOTE_DTYPE, make_notes, monophonic
from melody.voices import NO_NOTE, _leap_table, _viterbi, line_inputs, melody_line


def path_cost(choice, group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below):
    """Plain-Python cost of one line: choice[g] is the candidate taken at group g, or None."""
    state, resting, total = NO_NOTE, True, 0.0
    for g, c in enumerate(choice):
        top = pitch[group_start[g]]
        if c is None:
            total += skip[g]
            if state == NO_NOTE:
                total += rest_each
            else:
                total += below * max(top - state, 0)
                if resting:
                    total += rest_each
                elif not held[g, state]:
                    total += rest + rest_each
                    resting = True
            continue
        q = pitch[c]
        if state != NO_NOTE:
            total += leap[min(abs(q - state), len(leap) - 1)]
            if not resting and held[g, state] and q < state:
                total += cut
        total += cost[c]
        state, resting = q, False
    return total


def brute_force(group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below):
    """The cheapest cost over every line (each group: none or one of its candidates)."""
    options = [[None] + list(range(group_start[g], group_start[g + 1])) for g in range(len(group_start) - 1)]
    return min(path_cost(ch, group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below)
               for ch in itertools.product(*options))


def random_part(rng, n_onsets):
    notes = []
    for k in range(n_onsets):
        for p in rng.choice(np.arange(48, 80), size=int(rng.integers(1, 4)), replace=False):
            notes.append((0.5 * k, 0.5 * float(rng.integers(1, 4)), int(p)))
    a = np.array(notes, dtype="f8")
    return make_notes(a[:, 0], a[:, 1], a[:, 2])


@pytest.mark.parametrize("seed", range(25))
def test_kernel_finds_the_cheapest_line(seed):
    rng = np.random.default_rng(seed)
    part = random_part(rng, int(rng.integers(1, 6)))
    rest, rest_each, cut, below, repeated = (float(x) for x in rng.uniform(0.5, 6.0, size=5))
    anchor = monophonic(part) if seed % 2 else None     # odd seeds: only chord onsets and gaps are open
    cand, group_start, pitch, cost, skip, held = line_inputs(part, below=below, repeated=repeated, anchor=anchor)
    leap = _leap_table()
    keep = _viterbi(group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below)
    taken = set(np.flatnonzero(keep).tolist())
    choice = []
    for g in range(len(group_start) - 1):
        here = [c for c in range(group_start[g], group_start[g + 1]) if c in taken]
        assert len(here) <= 1, "at most one melody note per onset"
        choice.append(here[0] if here else None)
    got = path_cost(choice, group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below)
    best = brute_force(group_start, pitch, cost, skip, held, leap, rest, rest_each, cut, below)
    assert np.isfinite(best)
    assert got == pytest.approx(best, abs=1e-9)


def test_an_anchored_line_keeps_its_leaps():
    # alone, the rest state is cheaper than an octave leap up and back (5 + 5 nats against a rest and a
    # repeated note); with the skyline as anchor only chord onsets are open, so a melody's leaps stay
    pitch = [60, 62, 64, 65, 67, 79, 67, 48, 60, 60, 59]
    part = make_notes(np.arange(len(pitch)) * 0.5, np.full(len(pitch), 0.5), pitch)
    assert melody_line(part)["pitch"].tolist() != pitch
    assert melody_line(part, anchor=monophonic(part))["pitch"].tolist() == pitch


def notes_of(rows):
    a = np.array(rows, dtype="f8")
    return make_notes(a[:, 0], a[:, 1], a[:, 2])


def test_a_chord_struck_in_a_melody_rest_is_left_out_and_a_melody_note_on_a_chord_is_kept():
    bass = [(t, 1, 43) for t in range(4)]
    rest = notes_of(bass + [(0, 1, 72), (1, 1, 71), (2, 1, 55), (2, 1, 60), (2, 1, 64), (3, 1, 72)])
    assert monophonic(rest)["pitch"].tolist() == [72, 71, 64, 72]
    assert melody_line(rest, anchor=monophonic(rest))["pitch"].tolist() == [72, 71, 72]
    step = notes_of(bass + [(0, 1, 72), (1, 1, 71), (2, 1, 62), (2, 1, 65), (2, 1, 69), (3, 1, 72)])
    assert melody_line(step, anchor=monophonic(step))["pitch"].tolist() == [72, 71, 69, 72]


def test_the_skyline_is_the_line_without_accompaniment_cues():
    # melody on top of changing chords: nothing repeats, nothing is held over a lower onset
    rows = []
    for k, (mel, chord) in enumerate([(72, (60, 64, 67)), (74, (62, 65, 69)), (76, (64, 67, 71)),
                                      (77, (65, 69, 72)), (79, (67, 71, 74))]):
        rows += [(k, 1.0, mel)] + [(k, 1.0, p) for p in chord]
    a = np.array(rows, dtype="f8")
    part = make_notes(a[:, 0], a[:, 1], a[:, 2])
    assert melody_line(part)["pitch"].tolist() == monophonic(part)["pitch"].tolist() == [72, 74, 76, 77, 79]


def test_a_held_melody_note_is_not_replaced_by_the_chords_under_it():
    # a whole note 67 held over the accompaniment's chords on every beat, then the melody goes on
    rows = [(0, 1, 64), (1, 4, 67), (5, 1, 65), (6, 1, 64)]
    rows += [(t, 0.9, p) for t in range(1, 7) for p in (48, 55, 60)]
    a = np.array(rows, dtype="f8")
    line = melody_line(make_notes(a[:, 0], a[:, 1], a[:, 2]))
    assert line["pitch"].tolist() == [64, 67, 65, 64]


def test_melody_line_validates_and_handles_empty_input():
    assert len(melody_line(np.zeros(0, dtype=NOTE_DTYPE))) == 0
    with pytest.raises(TypeError):
        melody_line(np.zeros(3))


def test_the_midi_loader_leaves_out_a_chord_struck_in_a_melody_rest(tmp_path):
    # one piano track: a melody over a bass on every beat; in bar 2 the melody rests on beat 3 while the
    # left hand strikes a chord whose top (64) the skyline would take, then the melody goes on from 71 to 72
    from melody.io import load
    from melody.testing import Track, write_midi
    melody_notes = [(72, 0, 1), (74, 1, 1), (76, 2, 1), (74, 3, 1), (72, 4, 1), (71, 5, 1), (72, 7, 1),
                    (74, 8, 2), (72, 10, 2)]
    notes = [(p, s, d, 90) for p, s, d in melody_notes]
    notes += [(43 + 2 * (k % 2), k, 0.9, 60) for k in range(12)]
    notes += [(p, 6, 0.9, 60) for p in (55, 60, 64)]
    path = write_midi(str(tmp_path / "piano.mid"), [Track("Piano", notes=notes)])
    line = load(path)[0].notes
    assert np.rint(line["pitch"]).tolist() == [p for p, _, _ in melody_notes]


def test_line_inputs_on_a_small_part():
    # onset 0: melody 74 (2 beats) over a close chord 60 64 67; onset 1: the chord again; onset 2: 71 alone
    part = notes_of([(0, 2, 74), (0, 1, 60), (0, 1, 64), (0, 1, 67), (1, 1, 60), (1, 1, 64), (1, 1, 67),
                     (2, 1, 71)])
    cand, group_start, pitch, cost, skip, held = line_inputs(part, below=1.0, repeated=2.0, chord_tone=3.0)
    assert group_start.tolist() == [0, 4, 7, 8] and not skip.any()
    assert pitch.tolist() == [74, 67, 64, 60, 67, 64, 60, 71]                    # each onset high to low
    assert held[1, 74] and not held[1, 67] and not held[2, 74]                   # 74 sounds on over onset 1
    # onset 0: below the top, and the chord's tones 3 more (74 is released apart: a voice of its own);
    # onset 1: below the held 74, plus the chord struck again (the first strike is free)
    assert cost[:4].tolist() == [0, 7 + 3, 10 + 3, 14 + 3]
    assert cost[4:7].tolist() == [7 + 2, 10 + 2, 14 + 2]
    _, _, _, cost, _, _ = line_inputs(part, below=1.0, repeated=2.0, chord_tone=0.0)
    assert cost[:4].tolist() == [0, 7, 10, 14]
    # with the skyline as anchor: onset 0's 74 lies a fifth above the chord, a voice of its own, so the
    # anchor's note stands; onset 1 (a close chord) is open; onset 2: the anchor's 71
    _, _, _, cost, skip, _ = line_inputs(part, below=1.0, repeated=2.0, anchor=monophonic(part))
    assert skip[0] == np.inf and np.isinf(cost[1:4]).all()
    assert skip[1] == 0 and np.isfinite(cost[4:7]).all()
    assert skip[2] == np.inf and cost[7] == 0


def test_a_melody_note_inside_the_chords_register_with_its_own_length_is_the_line():
    # after a note of its own (67), the melody (64 65 64 62, a beat and a half each) lies a step under the
    # top of the accompaniment's close chords (detached half-beat chords 57 60 65 / 53 60 65 on every beat):
    # where it is struck with a chord, the note released apart from the chord is the melody, not the top
    melody = [(0.0, 1.0, 67), (1.0, 1.5, 64), (2.5, 1.5, 65), (4.0, 1.5, 64), (5.5, 1.0, 62)]
    chords = [(float(b), 0.5, p) for b in range(1, 6) for p in ((57, 60, 65) if b % 2 else (53, 60, 65))]
    part = notes_of(melody + chords)
    line = melody_line(part, anchor=monophonic(part))
    assert list(zip(line["onset"].tolist(), line["pitch"].tolist())) == [(t, p) for t, _, p in melody]
    line = melody_line(part, anchor=monophonic(part), chord_tone=0.0)        # without the cost: the top
    assert line["pitch"][line["onset"] == 1.0].tolist() == [65]
