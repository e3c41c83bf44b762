"""The predominant-melody path (melody.audio.extract): the lead's register and third-harmonic discounting."""
from __future__ import annotations

import math

import numpy as np
import pytest

from melody.audio import extract, kernels
from melody.audio.decode import SR

HOP_S = extract.HOP / SR


def hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype="f8") - 69.0) / 12.0)


def tone(midi, seconds, partials, sr=SR):
    """A steady harmonic tone: ``partials[h - 1]`` is the amplitude of harmonic h; 10 ms attack and release."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(np.minimum(t, seconds - t) / 0.01, 1.0)
    return env * sum(a * np.sin(2 * np.pi * hz(midi) * h * t) for h, a in enumerate(partials, 1) if a)


def note_pitches(midi_track, n_notes, frames_per_note):
    """Median pitch of the middle of each note of a track whose notes all last ``frames_per_note``."""
    out = []
    for k in range(n_notes):
        mid = midi_track[k * frames_per_note + 5:(k + 1) * frames_per_note - 5]
        out.append(float(np.nanmedian(mid)) if np.isfinite(mid).any() else math.nan)
    return np.array(out)


# ---------------------------------------------------------------------------------------- register

def test_register_stays_on_the_lead_when_the_path_strays_below(rng):
    """A path that spends more than half of its frames on a bass line two octaves down (a decaying lead
    over a steady bass): the register is still the lead's."""
    n = 3000
    lead = 72 + rng.integers(-5, 6, n // 20).repeat(20)
    path = lead.astype("f8")
    stray = rng.random(n // 20).repeat(20) < 0.55
    path[stray] = 45.0
    path[rng.random(n) < 0.1] = np.nan
    centre = extract.register(path)
    assert centre.shape == (n,)
    assert np.all(np.abs(centre - np.percentile(lead, 75)) <= 3.0)
    assert np.median(path[np.isfinite(path)]) < 60      # where a median would have put it


def test_register_follows_the_lead_through_the_piece():
    """A melody that moves up an octave halfway through: the register moves with it, within seconds."""
    n = 4000
    path = np.where(np.arange(n) < n // 2, 62.0, 74.0) + np.tile([0.0, 2.0, 4.0, 2.0], n // 4)
    centre = extract.register(path)
    low, high = np.percentile(path[:n // 2], 75), np.percentile(path[n // 2:], 75)
    assert high - low == pytest.approx(12.0)
    assert np.all(np.abs(centre[:n // 2 - 600] - low) <= 1.5)
    assert np.all(np.abs(centre[n // 2 + 600:] - high) <= 1.5)


def test_register_of_an_unvoiced_path_is_none():
    assert extract.register(np.full(500, np.nan)) is None


def test_register_weight_is_one_within_range_and_falls_off_outside():
    centre = np.array([70.0, 70.0])
    cands = np.array([[70.0, 70.0 - extract.REGISTER_RANGE, 70.0 + extract.REGISTER_RANGE, np.nan],
                      [70.0 - extract.REGISTER_RANGE - extract.REGISTER_SCALE,
                       70.0 + extract.REGISTER_RANGE + 2 * extract.REGISTER_SCALE, 30.0, 110.0]])
    w = extract.register_weight(cands, centre)
    assert w[0] == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert w[1, :2] == pytest.approx([math.exp(-1.0), math.exp(-2.0)])
    assert np.all(w[1, 2:] < 1e-3)


# ---------------------------------------------------------------------------------- third harmonics

def third_harmonics_reference(cents, emit):
    """Plain loops: candidate j has a candidate i of its frame 1902 cents below with enough emission."""
    n, k = cents.shape
    out = np.zeros((n, k), dtype=bool)
    twelfth = 1200.0 * math.log2(3.0)
    for t in range(n):
        for j in range(k):
            for i in range(k):
                if math.isnan(cents[t, j]) or math.isnan(cents[t, i]):
                    continue
                if abs(cents[t, j] - cents[t, i] - twelfth) < extract.TWELFTH_CENTS and \
                        emit[t, i] >= extract.TWELFTH_RATIO * emit[t, j]:
                    out[t, j] = True
    return out


def test_third_harmonics_matches_plain_loops(rng, monkeypatch):
    monkeypatch.setattr(extract, "FRAMES_PER_BLOCK", 7)       # several blocks, a short last one
    n, k = 40, 6
    base = rng.uniform(5000, 7000, (n, 1))
    steps = rng.choice([0.0, 1200.0, 1902.0, 1890.0, 1930.0, 700.0], (n, k))
    cents = base + steps + rng.normal(0, 5, (n, k))
    cents[rng.random((n, k)) < 0.15] = np.nan
    emit = rng.uniform(0.0, 1.0, (n, k))
    got = extract.third_harmonics(cents, emit)
    assert got.any() and not got.all()
    assert np.array_equal(got, third_harmonics_reference(cents, emit))


def test_a_reed_tone_with_a_strong_third_partial_is_heard_at_its_fundamental():
    """Odd partials only, the third the strongest (a clarinet-like spectrum): after the ear's loudness
    curve the third partial outweighs the fundamental, and a one-pass path took it for the pitch (7 of these
    8 notes an octave and a fifth high before the two-pass path)."""
    pitches = [67, 69, 71, 72, 74, 72, 71, 69]
    partials = [0.2, 0, 1.0, 0, 0.3, 0, 0.3, 0, 0.15]
    y = np.concatenate([tone(p, 0.4, partials) for p in pitches])
    track = extract.melody_track([(0.5 * y / np.abs(y).max()).astype("f4")])
    got = note_pitches(track.midi, len(pitches), int(round(0.4 / HOP_S)))
    assert np.sum(np.abs(got - pitches) < 0.5) >= 6


# ------------------------------------------------------------------------------------- the path

def candidates_lead_and_bass(rng, bass_level):
    """Six candidates per frame: a lead whose notes decay (a struck or plucked lead), its octave (the second
    partial) at half its salience, and a steady bass line two octaves down at ``bass_level``."""
    n_notes, per = 40, 30
    lead = 72 + np.clip(np.cumsum(rng.integers(-2, 3, n_notes)), -8, 8)
    n = n_notes * per
    cand_midi = np.full((n, extract.N_CAND), np.nan, "f4")
    cand_sal = np.zeros((n, extract.N_CAND), "f4")
    cand_midi[:, 0] = lead.repeat(per)
    cand_sal[:, 0] = np.tile(np.exp(-np.arange(per) / 10.0), n_notes)
    cand_midi[:, 1] = np.repeat([45, 41, 43, 38], n // 4)
    cand_sal[:, 1] = bass_level
    cand_midi[:, 2] = cand_midi[:, 0] + 12
    cand_sal[:, 2] = 0.5 * cand_sal[:, 0]
    return cand_midi, cand_sal, np.full(n, 0.1)


def test_a_steady_bass_below_a_decaying_lead_does_not_take_the_path(rng):
    """One pass follows the bass for over a third of these frames (on the lead: 0.62); the register keeps the
    path on the lead wherever the lead is a candidate."""
    cand_midi, cand_sal, rms = candidates_lead_and_bass(rng, 0.3)
    track = extract.track(cand_midi, cand_sal, rms)
    on_lead = np.abs(track.midi - cand_midi[:, 0]) < 0.5
    assert on_lead.mean() >= 0.95


def test_a_melody_spanning_an_octave_and_a_half_keeps_its_low_notes(rng):
    """The register must not fold a wide solo melody: notes from 60 to 78 with their second partials as
    candidates (half as salient) stay at their fundamentals."""
    n_notes, per = 48, 30
    pitches = np.tile([60, 64, 67, 72, 76, 78, 74, 69, 65, 62, 60, 67], n_notes // 12)
    n = n_notes * per
    cand_midi = np.full((n, extract.N_CAND), np.nan, "f4")
    cand_sal = np.zeros((n, extract.N_CAND), "f4")
    cand_midi[:, 0] = pitches.repeat(per)
    cand_sal[:, 0] = rng.uniform(0.6, 1.0, n)
    cand_midi[:, 1] = cand_midi[:, 0] + 12
    cand_sal[:, 1] = 0.5 * cand_sal[:, 0]
    track = extract.track(cand_midi, cand_sal, np.full(n, 0.1))
    assert np.all(np.abs(note_pitches(track.midi, n_notes, per) - pitches) < 0.5)


# ---------------------------------------------------------------------------------------- attacks

def _ringing_then_short_note(attack_on_short: float, short_cents: float = 6500.0):
    """Candidates of a struck note A (6000 cents) that keeps ringing while a 7-frame note B starts (slightly
    stronger than A, its harmonics attacking at its first frame), then a note C: (cents, emit, attack)."""
    n = 60
    cents = np.full((n, 2), np.nan)
    emit = np.zeros((n, 2))
    attack = np.zeros((n, 2))
    cents[:30, 0], emit[:30, 0] = 6000.0, 1.0
    cents[30:37, 0], emit[30:37, 0] = 6000.0, 0.8          # A rings on
    cents[30:37, 1], emit[30:37, 1] = short_cents, 0.9     # B, a short note
    attack[30, 1] = attack_on_short
    cents[37:, 0], emit[37:, 0] = 6800.0, 1.0              # C
    attack[37, 0] = 8.0
    return cents, emit, attack


def _path(cents, emit, attack, scale):
    path = np.empty(len(cents), dtype=np.int64)
    kernels.viterbi_candidates(cents, emit, np.full(len(cents), extract.UNVOICED), extract.PER_SEMITONE,
                               extract.CAP, extract.SWITCH, attack, scale, extract.EASE_SHARED_CENTS, path)
    return path


def test_an_attacking_short_note_takes_the_path_from_a_ringing_one():
    """A 70 ms note slightly stronger than the still-ringing note before it: a change of pitch costs more
    than it gains over 7 frames, unless its harmonics attack (the fast sixteenths that were skipped)."""
    cents, emit, attack = _ringing_then_short_note(8.0)
    assert (_path(cents, emit, attack, 0.0)[30:37] == 0).all()             # no discount: A holds the path
    assert (_path(cents, emit, attack, extract.EASE_ATTACK)[30:37] == 1).all()
    cents, emit, attack = _ringing_then_short_note(0.0)                   # no attack: no discount
    assert (_path(cents, emit, attack, extract.EASE_ATTACK)[30:37] == 0).all()


def test_an_octave_above_the_ringing_note_gets_no_attack_discount():
    """The octave above shares the note's even partials: their growth (a swell, a re-attack) is no new note."""
    cents, emit, attack = _ringing_then_short_note(8.0, short_cents=7200.0)
    assert (_path(cents, emit, attack, extract.EASE_ATTACK)[30:37] == 0).all()
    cents, emit, attack = _ringing_then_short_note(8.0, short_cents=6000.0 + 1902.0)   # the twelfth
    assert (_path(cents, emit, attack, extract.EASE_ATTACK)[30:37] == 0).all()


def _band_under_a_high_lead(n=600):
    """A band's chord tone at 50, louder than a piano lead at 81 whose key the network hears more surely."""
    cand_midi = np.tile(np.array([[50.0, 81.0]], "f4"), (n, 1))
    cand_sal = np.tile(np.array([[1.0, 0.7]], "f4"), (n, 1))
    note = np.tile(np.array([[0.5, 0.7]]), (n, 1))
    onset = np.zeros((n, 2))
    onset[::50, 1] = 0.9                                           # the lead strikes a note every half second
    return cand_midi, cand_sal, note, onset


def test_the_register_of_a_lead_above_the_band_comes_from_the_line_the_network_hears():
    # the first path sits on the band's chord tone, so a register read off it charges the lead 31 semitones
    # above; the lead line the network hears holding its note puts the register on the lead
    cand_midi, cand_sal, note, onset = _band_under_a_high_lead()
    rms = np.full(len(cand_midi), 0.1)
    assert np.nanmedian(extract.track(cand_midi, cand_sal, rms, cand_note=note).midi) == 50.0
    cand_midi[np.arange(len(cand_midi)) % 50 == 49, 1] = np.nan     # a gap between the lead's notes
    line = extract.lead_line(cand_midi, cand_sal, note, onset, 0.3)
    assert np.nanmin(line) == np.nanmax(line) == 81.0 and np.isfinite(line).mean() > 0.9
    assert np.nanmedian(extract.track(cand_midi, cand_sal, rms, cand_note=note, line=line).midi) == 81.0


def test_the_lead_line_skips_an_overtone_heard_more_weakly_than_its_note():
    # a bright lead at 70 whose third partial (89) the network hears as a key too, more weakly: the line is 70;
    # a key an octave above heard as surely as 70 is a line of its own
    n = 50
    cand_midi = np.tile(np.array([[70.0, 89.0, 82.0]], "f4"), (n, 1))
    cand_sal = np.tile(np.array([[1.0, 0.9, 0.1]], "f4"), (n, 1))
    struck = np.zeros((n, 3))
    struck[0] = 0.9                                                # each key struck at the start
    assert np.all(extract.lead_line(cand_midi, cand_sal, np.tile([[0.8, 0.4, 0.0]], (n, 1)), struck, 0.3) == 70.0)
    cand_sal[:, 2] = 0.8
    assert np.all(extract.lead_line(cand_midi, cand_sal, np.tile([[0.8, 0.4, 0.7]], (n, 1)), struck, 0.3) == 82.0)


def test_the_lead_line_needs_a_held_pitch_salient_and_heard():
    n = 60
    flicker = np.where(np.arange(n) % 4 < 2, 72.0, 76.0)       # a new pitch every 2 frames: no note held
    cand_midi = np.column_stack([np.full(n, 60.0), flicker]).astype("f4")
    cand_sal = np.tile(np.array([[1.0, 0.9]], "f4"), (n, 1))
    note = np.tile(np.array([[0.6, 0.6]]), (n, 1))
    struck = np.full((n, 2), 0.9)
    assert np.all(np.isnan(extract.lead_line(cand_midi, cand_sal, note, struck, 0.3)))   # the top flickers
    cand_midi[:, 1] = 80.0
    assert np.all(extract.lead_line(cand_midi, cand_sal, note, struck, 0.3) == 80.0)     # held, heard, salient
    assert np.all(np.isnan(extract.lead_line(cand_midi, cand_sal, note * 0.2, struck, 0.3)))   # nothing heard
    # a pad's held chord: its top key is heard and held, but never struck as a note starts
    assert np.all(np.isnan(extract.lead_line(cand_midi, cand_sal, note, struck * 0.5, 0.3)))
    cand_sal[:, 1] = 0.3                                          # heard, but far quieter than the frame's best
    assert np.all(extract.lead_line(cand_midi, cand_sal, note, struck, 0.3) == 60.0)
    assert len(extract.lead_line(cand_midi[:0], cand_sal[:0], note[:0], struck[:0], 0.3)) == 0
