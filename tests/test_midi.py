"""MIDI loading: lead-voice choice, skyline, tempo/time-signature maps, malformed notes and broken files."""
from __future__ import annotations

import random

import mido
import numpy as np
import pytest

from melody.errors import CorruptFile, MelodyError, NoMelody, UnsupportedFile
from melody.io import load
from melody.notes import (CHORD_WINDOW, chord_top_share, drop_low_dips, drop_repeated_chords, make_notes, monophonic,
                          onset_groups, top_voices)
from melody.testing import Track, accompany, piano_arrangement, write_midi

PPQ = 480


def raw_midi(path, tracks, ppq=PPQ, midi_type=1):
    """Write tracks given as lists of (absolute tick, mido message); events are stably sorted by tick."""
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=ppq)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(path)
    return str(path)


def on(pitch, channel=0, velocity=80):
    return mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)


def off(pitch, channel=0):
    return mido.Message("note_off", channel=channel, note=pitch, velocity=0)


def tempo(bpm):
    return mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))


def time_sig(num, den):
    return mido.MetaMessage("time_signature", numerator=num, denominator=den)


def random_lead(seed, n=40, low=64, high=79):
    """A stepwise random lead (C major) on a half-beat grid, with no rests."""
    rng = random.Random(seed)
    scale = [p for p in range(low, high + 1) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    k = len(scale) // 2
    lead, t = [], 0.0
    for _ in range(n):
        k = min(max(k + rng.choice([-2, -1, -1, 1, 1, 2, 0]), 0), len(scale) - 1)
        d = rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])
        lead.append((scale[k], t, d))
        t += d
    p, s, d = lead[-1]
    lead[-1] = (p, s, d + (-t) % 4)   # end on a barline: the accompaniment stops with the tune
    return lead


def pitches(melody):
    return [int(p) for p in melody.notes["pitch"]]


# ---- lead choice ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lead_name,backing_names", [
    ("Melody", ("Chords", "Bass", "Drums")),
    ("Track 1", ("Track 2", "Track 3", "Track 4")),   # no helpful names: register and monophony decide
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lead_chosen_among_chords_bass_drums(tmp_path, seed, lead_name, backing_names):
    # a low lead (C4-C5) so that the chord voicings (up to C5) sometimes rise above it
    lead = random_lead(seed, low=60, high=72)
    chords, bass, drums = accompany(lead, key_pc=0, minor=False, beats_per_bar=4, seed=seed)
    above = [n for n in chords.notes if any(s <= n[1] < s + d and n[0] > p for p, s, d in lead)]
    assert above, "the fixture should have chord notes above the sounding lead note"
    for track, name in zip((chords, bass, drums), backing_names):
        track.name = name
    tracks = [Track(lead_name, 0, [(p, s, d, 90) for p, s, d in lead]), chords, bass, drums]
    path = write_midi(tmp_path / "song.mid", tracks, bpm=100)
    (melody,) = load(path)
    assert melody.meta["track_index"] == 1 and melody.meta["track"] == lead_name
    assert pitches(melody) == [p for p, _, _ in lead]
    assert np.allclose(melody.notes["onset"], [s * 0.6 for _, s, _ in lead])


def test_piano_skyline_gives_the_top_line(tmp_path):
    for seed in range(3):
        lead = random_lead(seed)
        path = write_midi(tmp_path / f"piano{seed}.mid", [piano_arrangement(lead, seed=seed)], bpm=90)
        (melody,) = load(path)
        assert melody.meta["track"] == "Piano"
        assert pitches(melody) == [p for p, _, _ in lead], f"seed {seed}"
        assert np.allclose(melody.notes["onset"], [s * 60 / 90 for _, s, _ in lead])


def test_piano_bass_in_a_melody_rest_is_not_the_lead(tmp_path):
    # the melody rests on beat 2 of each bar and plays short notes: the skyline falls through to the bass
    # (C2..G2) there; those lone dips are accompaniment, not melody
    lead = []
    for bar in range(8):
        t = 4.0 * bar
        lead += [(72 + (bar % 3), t, 1.0), (76, t + 3.0, 0.25), (74, t + 3.5, 0.5)]
    track = Track("Piano", program=0)
    track.notes = [(p, s, d, 90) for p, s, d in lead]
    for bar in range(8):
        track.notes += [(60, 4.0 * bar, 0.9, 60), (64, 4.0 * bar, 0.9, 60), (36 + bar % 8, 4.0 * bar + 2, 0.9, 70)]
    (melody,) = load(write_midi(tmp_path / "rests.mid", [track], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_lone_dips_kept_in_a_monophonic_lead(tmp_path):
    # the same dips in a one-line part are the melody's own (nothing was dropped by the skyline)
    line = [72, 74, 50, 76, 74, 72, 48, 71, 72]
    events = []
    for k, p in enumerate(line):
        events += [(k * PPQ, on(p)), ((k + 1) * PPQ - 10, off(p))]
    (melody,) = load(raw_midi(tmp_path / "dips.mid", [events]))
    assert pitches(melody) == line


def piano_track(lead, accompaniment):
    """One piano track from (pitch, start, duration) tuples in beats: the melody louder than the rest."""
    notes = [(p, s, d, 90) for p, s, d in lead] + [(p, s, d, 60) for p, s, d in accompaniment]
    return Track("Piano", program=0, notes=notes)


def test_repeated_chords_in_melody_rests_are_not_the_lead(tmp_path):
    # a sparse melody (two notes, then a rest of most of the bar) over an oom-pah accompaniment: bass on
    # beats 1 and 3, the same close chord on beats 2 and 4. Where the melody rests, the skyline would take
    # the chords' top (61) for a melody note; the chords struck again with only the bass between are the
    # accompaniment
    lead, accompaniment = [], []
    chords = [(61, 56, 53), (58, 55, 51), (60, 56, 51), (61, 56, 53)]
    for bar, chord in enumerate(chords * 2):
        t = 4.0 * bar
        lead += [(66 + bar % 3, t, 0.5), (70 - bar % 2, t + 0.5, 0.5)]
        accompaniment += [(37 + bar % 5, t, 0.95), (37 + bar % 5, t + 2, 0.95)]
        accompaniment += [(p, t + beat, 0.9) for beat in (1, 3) for p in chord]
    lead.append((65, 32.0, 4.0))                 # the last note, held over the last bass note
    accompaniment.append((37, 32.0, 4.0))
    (melody,) = load(write_midi(tmp_path / "oompah.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_melody_repeated_over_a_repeated_chord_is_kept(tmp_path):
    # the melody repeats its note over the same chord struck again, then runs on in eighths over a bass
    # note: the top lies a fifth or more above the chord, a voice of its own, so both strikes stay
    lead, accompaniment = [], []
    for bar in range(4):
        t, top = 4.0 * bar, 67 + 2 * bar
        lead += [(top, t, 1.0), (top, t + 1, 1.0), (top + 2, t + 2, 0.5), (top + 4, t + 2.5, 0.5),
                 (top + 5, t + 3, 0.5), (top + 4, t + 3.5, 0.5)]
        accompaniment += [(p, t + beat, 0.9) for beat in (0, 1) for p in (60, 55, 52)] + [(48, t + 2, 0.95)]
    (melody,) = load(write_midi(tmp_path / "repeat.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_hymn_chords_keep_their_repeated_top(tmp_path):
    # four voices in one track, every melody note the top of a chord (a hymn): a repeated melody note over
    # the same harmony is two identical chords in a row, and both are the tune
    soprano = [67, 67, 69, 67, 72, 71, 71, 69, 67, 67, 65, 64]
    alto = [64, 64, 65, 64, 64, 62, 62, 60, 59, 59, 59, 60]
    tenor = [60, 60, 60, 60, 57, 55, 55, 57, 55, 55, 55, 55]
    bass = [48, 48, 53, 52, 45, 43, 43, 41, 43, 43, 43, 36]
    notes = [(voice[k], float(k), 1.0) for voice in (soprano, alto, tenor, bass) for k in range(len(soprano))]
    (melody,) = load(write_midi(tmp_path / "hymn.mid", [piano_track([], notes)], bpm=80))
    assert pitches(melody) == soprano


def test_a_held_melody_note_is_held_through_a_chord_that_strikes_its_key(tmp_path):
    # the melody holds a note for two beats over a bass note and a detached chord that holds its pitch: the
    # key sounds once, so MIDI ends the melody note where the chord strikes it and the chord's tone would
    # read as a repeated melody note, splitting the held note's time in two
    lead, accompaniment = [], []
    tunes = [(64, 67, 72), (65, 69, 72), (64, 67, 71), (62, 65, 71)]
    for bar, (a, b, held) in enumerate(tunes * 2):
        t = 4.0 * bar
        lead += [(held + 2 if bar % 2 else held - 1, t, 1.0), (held, t + 1, 2.0), (a + 12, t + 3, 1.0)]
        accompaniment += [(36 + bar % 3, t, 0.95), (36 + bar % 3, t + 2, 0.95)]
        accompaniment += [(p, t + 2, 0.9) for p in (a, b, held)]      # the chord on beat 3 doubles the held note
    (melody,) = load(write_midi(tmp_path / "held.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]
    onsets = np.round(melody.notes["onset"] / 0.6, 3)               # in beats (100 quarters a minute)
    assert list(onsets) == [s for _, s, _ in lead]


def test_hold_restruck_keys_only_joins_a_voice_of_its_own_to_a_chord_tone():
    # a melody note released where a block chord (released together) strikes its pitch is held through it,
    # to the chord's release; a chord's tone released where the next chord strikes its pitch (legato chords),
    # and a melody note followed by the same pitch struck alone (a repeated note), are left as they are
    from melody.io.lead import hold_restruck_keys
    rows = [(0.0, 1.0, 72), (0.0, 1.0, 48),                          # melody over a bass note
            (1.0, 0.9, 72), (1.0, 0.9, 67), (1.0, 0.9, 64),          # a chord that strikes the held 72
            (2.0, 1.0, 67), (2.0, 1.0, 60), (2.0, 1.0, 55), (2.0, 1.0, 52),   # a chord; 67 held on into
            (3.0, 1.0, 67), (3.0, 1.0, 59), (3.0, 1.0, 55),          # the next chord (legato chords)
            (4.0, 0.5, 74), (4.5, 0.5, 74)]                          # a repeated note struck alone
    a = np.array(rows, dtype="f8")
    part = make_notes(a[:, 0], a[:, 1], a[:, 2])
    held = hold_restruck_keys(part)
    changed = np.flatnonzero(held["duration"] != part["duration"])
    assert list(changed) == [0]
    assert held["duration"][0] == pytest.approx(1.9)
    assert part["duration"][0] == 1.0                                # the input is not changed


def test_hold_restruck_keys_not_where_the_melody_moves_on_with_the_chord():
    # the melody steps from 56 to 57 where a chord holding 56 is struck: the chord took the melody's last
    # pitch as it left it; 57, struck with the chord and released apart from it, is the melody's next note
    from melody.io.lead import hold_restruck_keys
    rows = [(0.0, 0.5, 56), (0.0, 0.5, 40), (0.5, 0.45, 52), (0.5, 0.45, 56), (0.5, 0.45, 59), (0.5, 0.5, 57)]
    a = np.array(rows, dtype="f8")
    part = make_notes(a[:, 0], a[:, 1], a[:, 2])
    assert np.array_equal(hold_restruck_keys(part)["duration"], part["duration"])


def hold_restruck_keys_reference(part, window=CHORD_WINDOW):
    """Plain-Python `hold_restruck_keys`: group by group, note by note."""
    from melody.io.lead import RESTRIKE_S
    notes = sorted(range(len(part)), key=lambda i: part["onset"][i])
    groups, last = [], None
    for i in notes:                                  # notes struck within `window` of the one before
        if last is None or part["onset"][i] - part["onset"][last] >= window:
            groups.append([])
        groups[-1].append(i)
        last = i
    release = {i: part["onset"][i] + part["duration"][i] for i in notes}
    pitch = {i: int(round(part["pitch"][i])) for i in notes}
    tone, moves_on, next_onset = {}, {}, {}
    for g, group in enumerate(groups):
        block = len({pitch[i] for i in group}) >= 3
        for i in group:
            tone[i] = block and sum(abs(release[j] - release[i]) <= window for j in group) >= 3
            next_onset[i] = part["onset"][groups[g + 1][0]] if g + 1 < len(groups) else np.inf
        tones = [pitch[i] for i in group if tone[i]]
        for i in group:
            moves_on[i] = bool(tones) and any(not tone[j] and pitch[j] > min(tones) for j in group)
    out = part.copy()
    for k in notes:
        if not tone[k] or moves_on[k]:
            continue
        for i in notes:
            if (not tone[i] and pitch[i] == pitch[k] and abs(release[i] - part["onset"][k]) <= RESTRIKE_S
                    and part["onset"][i] < part["onset"][k] - window):
                out["duration"][i] = min(release[k], next_onset[k]) - part["onset"][i]
    return out


@pytest.mark.parametrize("seed", range(20))
def test_hold_restruck_keys_agrees_with_a_plain_reference(seed):
    # random parts on a grid of eighths: melody notes that end where chords (some detached, some with a voice
    # of their own) strike their pitch, legato chords, bass notes
    from melody.io.lead import hold_restruck_keys
    rng = np.random.default_rng(seed)
    rows, t = [], 0.0
    for _ in range(int(rng.integers(4, 30))):
        step = 0.25 * int(rng.integers(1, 4))
        kind = rng.integers(3)
        if kind == 0:                                # a melody note, maybe over a bass note
            rows.append((t, step, int(rng.integers(64, 70))))
            if rng.random() < 0.5:
                rows.append((t, step * 0.9, int(rng.integers(36, 48))))
        else:                                        # a chord, its tones released together or not
            length = step * (0.9 if kind == 1 else 1.0)
            for p in rng.choice(np.arange(60, 70), size=int(rng.integers(2, 5)), replace=False):
                rows.append((t, length if rng.random() < 0.85 else step * 0.5, int(p)))
        t += step
    a = np.array(rows, dtype="f8")
    part = make_notes(a[:, 0], a[:, 1], a[:, 2])
    np.testing.assert_allclose(hold_restruck_keys(part)["duration"], hold_restruck_keys_reference(part)["duration"])


def test_hold_restruck_keys_stops_at_the_next_note_struck():
    # the melody moves on while the chord still sounds: the held note ends where its next note begins
    from melody.io.lead import hold_restruck_keys
    rows = [(0.0, 1.0, 72), (1.0, 0.9, 72), (1.0, 0.9, 67), (1.0, 0.9, 64), (1.5, 0.5, 71)]
    a = np.array(rows, dtype="f8")
    held = hold_restruck_keys(make_notes(a[:, 0], a[:, 1], a[:, 2]))
    assert held["duration"][0] == pytest.approx(1.5)


def test_a_melody_struck_under_its_chords_top_is_kept(tmp_path):
    # the melody lies inside the chords' register: a short melody note struck with a detached chord whose
    # top is a step above it. The chord's top is the accompaniment (its tones cost CHORD_TONE), and the melody
    # note lies below no voice of its own, so it is not charged for lying under the chord's top
    lead, accompaniment = [], []
    for bar in range(6):
        t, k = 4.0 * bar, bar % 3
        lead += [(58 + k, t, 1.0), (58 + k, t + 1, 0.25), (68 + k, t + 1.25, 0.25), (65 + k, t + 1.5, 0.5),
                 (68 + k, t + 2, 1.0), (60 + k, t + 3, 1.0)]
        accompaniment += [(41 + k, t, 0.95), (41 + k, t + 2, 0.95)]
        accompaniment += [(p + k, t + beat, 0.9) for beat in (1, 3) for p in (53, 56, 60)]
    (melody,) = load(write_midi(tmp_path / "inside.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_a_bass_run_in_a_long_melody_rest_is_not_the_lead(tmp_path):
    # the melody rests for a bar and a quarter while the left hand walks (five notes, more than an octave
    # under the melody on both sides): the whole run is accompaniment, not only lone notes
    lead = [(72, 0, 1), (74, 1, 1), (76, 2, 1), (74, 3, 0.5), (72, 9, 1), (71, 10, 1), (72, 11, 2)]
    walk = [(43, 4, 1), (45, 5, 1), (47, 6, 1), (48, 7, 1), (50, 8, 1)]
    chords = [(p, t, 0.9) for t in (0, 2, 10) for p in (55, 59, 62)]
    (melody,) = load(write_midi(tmp_path / "walk.mid", [piano_track(lead, walk + chords)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_a_melody_dip_of_less_than_an_octave_is_kept_in_a_polyphonic_part(tmp_path):
    # a melody that drops a minor seventh for two notes and comes back (77 67 67 77) over chords: runs of
    # several notes are only taken for accompaniment when they lie more than an octave below
    lead = [(72, 0, 1), (77, 1, 1), (67, 2, 1), (67, 3, 1), (77, 4, 1), (76, 5, 1), (74, 6, 1), (72, 7, 1)]
    chords = [(p, float(t), 0.9) for t in range(8) for p in (48, 52, 55)]
    (melody,) = load(write_midi(tmp_path / "dip.mid", [piano_track(lead, chords)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_drop_low_dips_lone_notes_and_runs():
    def line(pitches_):
        return make_notes(np.arange(len(pitches_), dtype="f8"), np.ones(len(pitches_)), pitches_)

    def kept(pitches_):
        return [int(p) for p in drop_low_dips(line(pitches_))["pitch"]]

    assert kept([61, 37, 61, 60]) == [61, 61, 60]                   # a lone note 24 below both
    assert kept([72, 62, 72]) == [72, 72]                            # 10 below both: dropped
    assert kept([72, 63, 72]) == [72, 63, 72]                        # 9 below: a melodic leap, kept
    assert kept([56, 44, 44, 44, 44, 44, 63, 61]) == [56, 63, 61]    # a run more than an octave below
    assert kept([77, 67, 67, 77]) == [77, 67, 67, 77]                # a run 10 below: kept
    assert kept([76, 50, 52, 54, 55, 57, 59, 60, 78]) == [76, 50, 52, 54, 55, 57, 59, 60, 78]  # longer than 6
    assert kept([40, 72, 74, 50]) == [40, 72, 74, 50]                # first and last notes stay
    assert kept([84, 43, 59, 69, 67]) == [84, 69, 67]                # two lone dips in a row


def test_drop_repeated_chords_keeps_a_melody_moving_between_them():
    def part(events):   # (pitch, onset)
        return make_notes([o for _, o in events], [0.9] * len(events), [p for p, _ in events])

    chord = [(60, 1.0), (56, 1.0), (51, 1.0)]
    again = [(p, 3.0) for p, _ in chord]
    # only the bass between the two strikes: both chords are accompaniment
    out = drop_repeated_chords(part(chord + [(44, 2.0)] + again))
    assert sorted(out["pitch"].tolist()) == [44]
    # a melody note between them, inside the chord's compass or above: the chords stay
    for between in (58, 70):
        out = drop_repeated_chords(part(chord + [(between, 2.0)] + again))
        assert len(out) == 7
    # struck again right away (nothing between): the accompaniment, or a melody note doubled in the chord
    # and repeated, so only the second strike goes
    out = drop_repeated_chords(part(chord + [(p, 2.0) for p, _ in chord]))
    assert out["onset"].tolist() == [1.0, 1.0, 1.0]
    # a different chord, or a note on top (a melody note over the chord): kept
    assert len(drop_repeated_chords(part(chord + [(p + 1, 3.0) for p, _ in chord] + [(44, 2.0)]))) == 7
    assert len(drop_repeated_chords(part(chord + [(44, 2.0)] + again + [(72, 3.0)]))) == 1 + 4


def test_legato_overlap_keeps_both_notes(tmp_path):
    # a descending legato line: each note overlaps the next by 60 ms (below half its length)
    events = []
    for k, p in enumerate([72, 71, 69, 67, 65, 64]):
        events += [(k * PPQ, on(p)), ((k + 1) * PPQ + 58, off(p))]  # 58 ticks at 120 bpm ~ 60 ms
    (melody,) = load(raw_midi(tmp_path / "legato.mid", [events]))
    assert pitches(melody) == [72, 71, 69, 67, 65, 64]


def test_drums_never_chosen(tmp_path):
    lead = [(60 + (k % 3), k * 1.0, 1.0) for k in range(8)]   # a dull, low lead
    busy = [(81 - (k % 5), k * 0.5, 0.25, 100) for k in range(64)]   # high, monophonic, many notes
    tracks = [Track("Lead Vocal", 0, busy, is_drum=True),        # channel 10 even with a lead-ish name
              Track("Drum kit", 0, busy),                        # a drum name on a pitched channel
              Track("Instrument", 0, [(p, s, d, 80) for p, s, d in lead])]
    (melody,) = load(write_midi(tmp_path / "drums.mid", tracks))
    assert melody.meta["track"] == "Instrument"
    assert pitches(melody) == [p for p, _, _ in lead]


# ---- timing ------------------------------------------------------------------------------------

def test_tempo_changes_and_time_signatures(tmp_path):
    # 4/4 at 120 bpm; 60 bpm from beat 4; 3/4 from beat 8; 240 bpm from beat 11; 6/8 from beat 14
    conductor = [(0, time_sig(4, 4)), (0, tempo(120)), (4 * PPQ, tempo(60)), (8 * PPQ, time_sig(3, 4)),
                 (11 * PPQ, tempo(240)), (14 * PPQ, time_sig(6, 8))]
    beats = [0, 1, 2, 3, 3.5, 5, 6, 7, 8, 9, 10, 11, 12, 13.5, 14, 15, 16, 17, 18.5, 19]
    notes = []
    for k, b in enumerate(beats):
        end = beats[k + 1] if k + 1 < len(beats) else b + 1
        notes += [(round(b * PPQ), on(60 + k)), (round(end * PPQ), off(60 + k))]
    (melody,) = load(raw_midi(tmp_path / "tempo.mid", [conductor, notes]))

    def seconds(b):
        segments = [(0, 0.5), (4, 1.0), (11, 0.25)]   # (from beat, seconds per beat)
        t = 0.0
        for (b0, spb), nxt in zip(segments, segments[1:] + [(np.inf, None)]):
            t += (min(b, nxt[0]) - b0) * spb if b > b0 else 0.0
        return t

    def bar_beat(b):
        bars = [(0, 4.0), (4, 4.0), (8, 3.0), (11, 3.0), (14, 3.0), (17, 3.0)]   # (bar start, quarters)
        for number, (start, length) in reversed(list(enumerate(bars, 1))):
            if b >= start:
                return number, b - start

    assert pitches(melody) == [60 + k for k in range(len(beats))]
    assert np.allclose(melody.notes["onset"], [seconds(b) for b in beats])
    assert np.allclose(melody.notes["duration"][:-1], np.diff([seconds(b) for b in beats]))
    assert melody.notes["duration"][3] == pytest.approx(0.5 * 0.5)   # beat 3 .. 3.5 at 120 bpm
    assert melody.notes["duration"][4] == pytest.approx(0.25 + 1.0)  # beat 3.5 .. 5 across the change
    assert list(melody.notes["bar"]) == [bar_beat(b)[0] for b in beats]
    assert np.allclose(melody.notes["beat"], [bar_beat(b)[1] for b in beats])


def test_tempo_in_a_later_track_applies_to_all(tmp_path):
    notes = []
    for k in range(8):
        notes += [(k * PPQ, on(60 + k)), ((k + 1) * PPQ, off(60 + k))]
    other = [(0, tempo(60)), (4 * PPQ, tempo(150))]
    (melody,) = load(raw_midi(tmp_path / "t.mid", [notes, other]))
    assert np.allclose(melody.notes["onset"], [0, 1, 2, 3, 4, 4.4, 4.8, 5.2])


def test_zero_length_reversed_and_stray_events_are_dropped(tmp_path):
    line = [60, 62, 64, 65, 64, 62, 60, 64]
    events = []
    for k, p in enumerate(line):
        events += [(k * PPQ, on(p)), ((k + 1) * PPQ, off(p))]
    events += [(2 * PPQ + 240, on(84)), (2 * PPQ + 240, off(84))]      # zero length, above the line
    events += [(PPQ + 240, off(64)), (PPQ + 300, on(64))]             # reversed: off before on (64 recurs)
    events += [(5 * PPQ + 100, off(86)), (5 * PPQ + 200, on(86))]      # reversed, never closed
    events += [(6 * PPQ + 10, off(90))]                                # stray note-off
    (melody,) = load(raw_midi(tmp_path / "bad_notes.mid", [events]))
    assert pitches(melody) == line
    assert np.allclose(melody.notes["onset"], np.arange(len(line)) * 0.5)
    assert np.all(melody.notes["duration"] > 0)


def test_restruck_key_does_not_shift_later_notes(tmp_path):
    # a stuck note (no note-off) must not pair every later note of that pitch with the previous one's start
    line = [67, 65, 64, 67, 65, 64, 67, 65]
    events = [(0, on(67))]                    # stuck: struck again at beat 0 below, never released
    for k, p in enumerate(line):
        events += [(k * PPQ, on(p)), ((k + 1) * PPQ, off(p))]
    (melody,) = load(raw_midi(tmp_path / "stuck.mid", [events]))
    assert pitches(melody) == line
    assert np.allclose(melody.notes["onset"], np.arange(len(line)) * 0.5)


def test_overlapping_repeated_notes_kept(tmp_path):
    events = []
    for k in range(6):   # the same pitch re-struck before its note-off (sloppy legato repeats)
        events += [(k * PPQ, on(64)), ((k + 1) * PPQ + 30, off(64))]
    (melody,) = load(raw_midi(tmp_path / "repeats.mid", [events]))
    assert np.allclose(melody.notes["onset"], np.arange(6) * 0.5)


def test_title_from_conductor_track(tmp_path):
    lead = random_lead(3, n=10)
    path = write_midi(tmp_path / "x.mid", [Track("Lead", 0, [(p, s, d) for p, s, d in lead])], title="My Song")
    (melody,) = load(path)
    assert melody.title == "My Song" and melody.source == str(path)


# ---- broken inputs -------------------------------------------------------------------------------

def _good_bytes(tmp_path):
    lead = random_lead(5, n=24)
    tracks = [Track("Lead", 0, [(p, s, d) for p, s, d in lead])] + accompany(lead, seed=5)
    write_midi(tmp_path / "good.mid", tracks)
    return (tmp_path / "good.mid").read_bytes()


def _broken_cases(tmp_path):
    good = _good_bytes(tmp_path)
    cases = {}
    (tmp_path / "empty.mid").write_bytes(b"")
    cases["empty.mid"] = CorruptFile
    for n in (4, 14, 30, len(good) // 2, len(good) - 3):
        (tmp_path / f"trunc{n}.mid").write_bytes(good[:n])
        cases[f"trunc{n}.mid"] = CorruptFile
    (tmp_path / "text.mid").write_text("MThd? no: this is a shopping list\neggs\nmilk\n" * 5)
    cases["text.mid"] = CorruptFile
    drums = [(36 + (k % 3) * 2, k * 0.5, 0.25, 100) for k in range(32)]
    write_midi(tmp_path / "drums_only.mid", [Track("Drums", 0, drums, is_drum=True)])
    cases["drums_only.mid"] = NoMelody
    for name, us in (("tempo_fast.mid", 1), ("tempo_zero.mid", 0)):
        notes = [(0, mido.MetaMessage("set_tempo", tempo=us))]
        for k in range(8):
            notes += [(k * PPQ, on(60 + k)), ((k + 1) * PPQ, off(60 + k))]
        raw_midi(tmp_path / name, [notes])
        cases[name] = CorruptFile
    write_midi(tmp_path / "meta_only.mid", [Track("Lead", 0, [])])
    cases["meta_only.mid"] = NoMelody
    return cases


def test_broken_inputs_raise_named_errors(tmp_path):
    for name, error in _broken_cases(tmp_path).items():
        path = tmp_path / name
        with pytest.raises(MelodyError) as info:
            load(path)
        assert isinstance(info.value, error), f"{name}: {type(info.value).__name__}: {info.value}"
        message = str(info.value)
        assert str(path) in message, message
        assert "\n" not in message and "()" not in message, message


def test_slow_but_legal_tempo_loads(tmp_path):
    notes = [(0, mido.MetaMessage("set_tempo", tempo=16_000_000))]   # 3.75 bpm: odd but representable
    for k in range(4):
        notes += [(k * PPQ, on(60 + k)), ((k + 1) * PPQ, off(60 + k))]
    (melody,) = load(raw_midi(tmp_path / "slow.mid", [notes]))
    assert np.allclose(melody.notes["onset"], np.arange(4) * 16.0)


def test_missing_file_raises_named_error(tmp_path):
    path = tmp_path / "nope.mid"
    with pytest.raises(MelodyError, match="nope.mid"):
        load(path)


@pytest.mark.parametrize("name", ["song.aiff", "song.txt", "song", "song.mid.bak"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"MThd whatever")
    with pytest.raises(UnsupportedFile) as info:
        load(path)
    assert str(path) in str(info.value)


def test_a_chunk_longer_than_the_file_is_refused_before_reading_it(tmp_path):
    """A damaged length field (here 2 GB) must not make the loader allocate it (fuzzing found this)."""
    path = tmp_path / "huge.mid"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
    path.write_bytes(header + b"MTrk" + (2**31 - 1).to_bytes(4, "big") + b"\x00\x90\x3c\x40")
    with pytest.raises(CorruptFile) as info:
        load(path)
    assert "huge.mid" in str(info.value) and "declares" in str(info.value) and "\n" not in str(info.value)


def test_a_header_chunk_longer_than_the_file_is_refused_before_reading_it(tmp_path):
    """The header chunk's own length field damaged (~1.9 GB): mido read it whole (a MemoryError under the
    fuzzer's address-space limit, gigabytes without one)."""
    path = tmp_path / "head.mid"
    path.write_bytes(b"MThd" + (0x726B0000).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
                     + (480).to_bytes(2, "big") + b"MTrk" + (4).to_bytes(4, "big") + b"\x00\xff\x2f\x00")
    with pytest.raises(CorruptFile, match="head.mid: a chunk at byte 0 declares 1919614976 bytes"):
        load(path)


def test_an_invalid_key_signature_is_a_corrupt_file(tmp_path):
    path = tmp_path / "key.mid"
    track = b"\x00\xff\x59\x02\x0f\x00" + b"\x00\x90\x3c\x40\x60\x80\x3c\x40" + b"\x00\xff\x2f\x00"   # 15 sharps
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
    path.write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + track)
    with pytest.raises(CorruptFile) as info:
        load(path)
    assert "key.mid" in str(info.value)


def test_a_melody_note_inside_an_oompah_with_its_own_length_is_kept(tmp_path):
    # the melody lies just above the accompaniment's close chord (63 over 60 55 51, a minor third) and is
    # struck with it on beats 2 and 4, but held for its own length (two beats, then a half beat) while the
    # chord is detached: a voice of its own, not the top of the chord struck again in the oom-pah
    lead, accompaniment = [], []
    for bar in range(4):
        t = 4.0 * bar
        lead += [(67 - bar % 2, t, 1.0), (63, t + 1, 2.0), (63, t + 3, 0.5), (65, t + 3.5, 0.5)]
        accompaniment += [(39, t, 0.95), (39, t + 2, 0.95)]
        accompaniment += [(p, t + beat, 0.9) for beat in (1, 3) for p in (60, 55, 51)]
    (melody,) = load(write_midi(tmp_path / "inner.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_chords_on_every_beat_under_a_resting_melody_are_not_a_hymn(tmp_path):
    # the accompaniment strikes the same chord on every beat; the melody plays two notes a bar and rests
    # for the second half. Most of the skyline's notes then top a chord, as in a hymn, but these chords
    # repeat the one before: an accompaniment, whose tops in the melody's rests are not the tune
    lead, accompaniment = [], []
    for bar in range(6):
        t = 4.0 * bar
        lead += [(67 + bar % 3, t, 1.0), (69 - bar % 2, t + 1.5, 0.5)]
        accompaniment += [(p, t + beat, 0.9) for beat in range(4) for p in (60, 55, 52)]
    lead.append((67, 24.0, 2.0))
    accompaniment += [(p, 24.0, 2.0) for p in (60, 55, 48)]
    (melody,) = load(write_midi(tmp_path / "beats.mid", [piano_track(lead, accompaniment)], bpm=100))
    assert pitches(melody) == [p for p, _, _ in lead]


def test_top_voices_a_top_released_apart_or_far_above_is_a_voice_of_its_own():
    rows = [  # (onset, duration, pitch): four groups struck together
        (0.0, 0.9, 64), (0.0, 0.9, 60), (0.0, 0.9, 55),          # a block chord: released together
        (1.0, 2.0, 63), (1.0, 0.9, 60), (1.0, 0.9, 55),          # its top held longer
        (3.0, 0.9, 72), (3.0, 0.9, 60), (3.0, 0.9, 55),          # more than a fourth above
        (4.0, 0.5, 60), (4.0, 0.9, 60)]                           # one pitch: no chord under it
    notes = make_notes(*zip(*rows))
    starts, ends = onset_groups(notes["onset"], CHORD_WINDOW)
    assert top_voices(notes, starts, ends).tolist() == [False, True, True, False]


def test_chord_top_share_counts_chords_that_move_not_chords_struck_again():
    # a hymn: every skyline note tops a chord and the chords change -> 1.0; the same tune's tops over one
    # chord struck on every beat with the tune resting between -> only the chord under each melody note
    hymn = make_notes(np.repeat(np.arange(4.0), 3), np.full(12, 0.9),
                      [67, 60, 52, 69, 62, 53, 71, 62, 55, 72, 64, 55])
    assert chord_top_share(monophonic(hymn), hymn) == 1.0
    rows = [(b, 0.9, p) for b in range(8) for p in (60, 55, 52)] + [(0.0, 1.0, 67), (4.0, 1.0, 69)]
    part = make_notes(*zip(*rows))
    assert chord_top_share(monophonic(part), part) == pytest.approx(2 / 8)


# ---- a performance: onsets that keep no beat of the file ----------------------------------------

def _grid_share_reference(ticks, ppq, divisions=24):
    """Plain-Python reading of `on_beat_grid`: the share of onsets within a tick's rounding of the grid."""
    step = ppq / divisions
    tolerance = max(0.5, ppq / 960)
    hits = sum(1 for t in ticks if abs(t - round(t / step) * step) <= tolerance)
    return hits / len(ticks)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_beat_grid_agrees_with_a_plain_reference(seed):
    from melody.io.midi import GRID_SHARE, on_beat_grid
    rng = np.random.default_rng(seed)
    for ppq in (96, 480, 1024):
        written = np.round(np.cumsum(rng.choice([0.5, 1.0, 1 / 3, 0.25], 40)) * ppq)
        played = np.round(np.cumsum(rng.uniform(0.2, 1.1, 40)) * ppq)
        for ticks in (written, played, np.concatenate([written[:25], played[:15]])):
            assert on_beat_grid(ticks, ppq) == (_grid_share_reference(ticks, ppq) >= GRID_SHARE)
        assert on_beat_grid(written, ppq) and not on_beat_grid(played, ppq)


def test_a_performance_recorded_without_the_beat_has_no_bars(tmp_path):
    # the same tune written (4/4, 100 bpm) and played: a drifting tempo, jittered onsets, in a file at 120 bpm
    rng = np.random.default_rng(3)
    lead = random_lead(4, n=32)
    write_midi(tmp_path / "written.mid", [Track("Melody", notes=lead)], bpm=100)
    seconds = lambda b: 0.6 * b * (1 + 0.04 * b / lead[-1][1])       # 100 bpm slowing by 4% over the tune
    played = []
    for p, s, d in lead:
        on_s = seconds(s) + rng.normal(0, 0.02)
        played.append((p, on_s / 0.5, (seconds(s + d) - seconds(s)) * 0.9 / 0.5))
    write_midi(tmp_path / "played.mid", [Track("Melody", notes=played)], bpm=120)
    (written,) = load(str(tmp_path / "written.mid"))
    (performed,) = load(str(tmp_path / "played.mid"))
    assert pitches(written) == pitches(performed) == [p for p, _, _ in lead]
    assert np.isfinite(written.notes["beat"]).all() and (written.notes["bar"] >= 1).all()
    # its bars at 120 bpm would put most of its notes between the beats: its bars are unknown, and its notes
    # are marked on a beat or between beats only where a beat is tracked on its onsets (as a recording's)
    assert (performed.notes["bar"] == -1).all()
    assert performed.meta.get("played") is True and "played" not in written.meta    # the search grades its rhythm
    beat = performed.notes["beat"][np.isfinite(performed.notes["beat"])]
    assert np.isin(beat, [0.5, 0.0, 1.0, 2.0, 3.0]).all()
    assert np.allclose(performed.notes["onset"][1:] - performed.notes["onset"][0],
                       [seconds(s) - seconds(lead[0][1]) for _, s, _ in lead[1:]], atol=0.1)   # as played


def test_a_swung_file_on_the_beat_keeps_its_bars(tmp_path):
    # eighths played long-short 2:1 land on the beat's thirds: a quantised file, its bars kept
    lead = [(60 + k % 5, k // 2 + (2 / 3 if k % 2 else 0.0), 2 / 3 if k % 2 == 0 else 1 / 3) for k in range(24)]
    (melody,) = load(write_midi(tmp_path / "swung.mid", [Track("Melody", notes=lead)], bpm=110))
    assert np.allclose(melody.notes["beat"], [(s % 4) for _, s, _ in lead], atol=1e-3)


def test_a_played_part_spanning_absurd_times_is_read_without_an_envelope(tmp_path):
    # onsets off the beat grid, the last one six hours later (4 bpm): read as played, no beat tracked
    conductor = [(0, tempo(4))]
    notes = []
    for k in range(12):
        tick = 7 + k * 487 if k < 11 else 24 * 60 * PPQ + 13
        notes += [(tick, on(60 + k)), (tick + 200, off(60 + k))]
    (melody,) = load(raw_midi(tmp_path / "far.mid", [conductor, notes]))
    assert len(melody.notes) == 12 and (melody.notes["bar"] == -1).all()
    assert not np.isfinite(melody.notes["beat"]).any()
