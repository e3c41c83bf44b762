"""scripts/bench_played.py: a player's effects, planned per take and written as MIDI controls."""
import os
import sys
from types import SimpleNamespace

import mido
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_played  # noqa: E402

VIOLIN, PIANO = 40, 0


def _song():
    """Two 4/4 bars at 120 bpm: quarter notes, a repeated note, a held note, a rest, a long last note."""
    beats = [(67, 0, 1), (69, 1, 1), (71, 2, 1), (71, 3, 1), (72, 4, 2), (74, 6, 0.5), (76, 6.5, 0.5),
             (79, 8, 3)]
    lead = [(p, s * 0.5, d * 0.5, -1) for p, s, d in beats]
    return SimpleNamespace(qid="p0001", lead=lead, bpm=120.0, time_signature=(4, 4))


def _plan(condition, program, seed=0):
    take = bench_played.draw_take(np.random.default_rng([seed, 1]))
    return bench_played.plan(_song(), program, take, bench_played.effects_of(condition),
                             np.random.default_rng([seed, 2]))


def test_plain_is_the_written_lead_without_controls():
    q = _song()
    for program in (VIOLIN, PIANO):
        p = _plan("plain", program)
        written = np.array([s for _, s, _, _ in q.lead])
        assert np.allclose(p["onset"], written + 0.3)
        assert np.allclose(p["end"] - p["onset"], [d for _, _, d, _ in q.lead])
        assert (p["velocity"] == 100).all() and (p["group"] == -1).all() and p["pedal"] == []
        assert not p["bend"].any() and (p["expression"] == 1).all()


def test_vibrato_swings_long_notes_of_sustained_instruments_only():
    p = _plan("vibrato", VIOLIN)
    last = (p["times"] > p["onset"][-1] + 0.5) & (p["times"] < p["end"][-1])
    assert 0.05 < np.abs(p["bend"][last]).max() <= 0.35 * 1.5 * 1.1 + 1e-9      # +-10-35 cents, 50% wider when long
    crossings = np.sum(np.diff(np.sign(p["bend"][last])) != 0) / 2 / (last.sum() * bench_played.CONTROL_STEP_S)
    assert 4.0 < crossings < 8.0                                                  # 5-7 Hz
    early = (p["times"] >= p["onset"][-1]) & (p["times"] < p["onset"][-1] + 0.09)
    assert np.abs(p["bend"][early]).max() < 0.02                                 # it starts 0.1-0.3 s in
    assert not _plan("vibrato", PIANO)["bend"].any()


def test_slurs_join_notes_without_an_attack_but_never_a_repeat():
    for seed in range(6):
        p = _plan("slurs", VIOLIN, seed)
        g = p["group"]
        assert g[3] < 0 or g[2] != g[3]                                          # 71 71: re-attacked
        for k in np.flatnonzero(g >= 0):
            mid = np.argmin(np.abs(p["times"] - 0.5 * (p["onset"][k] + p["end"][k])))
            assert abs(p["bend"][mid] - (p["pitch"][k] - p["anchor"][k])) < 1e-9   # the bend plays the note
    joined = [_plan("slurs", VIOLIN, s)["group"] for s in range(6)]
    assert any((g >= 0).sum() >= 2 for g in joined)
    piano = _plan("slurs", PIANO, 3)
    assert (piano["group"] == -1).all() and not piano["bend"].any()
    assert (piano["end"][:-1] > piano["onset"][1:]).any()                        # finger legato: key overlap


def test_the_pedal_holds_a_struck_instrument_over_its_bar_and_lifts_at_the_next():
    p = _plan("pedal", PIANO)
    assert p["pedal"] and _plan("pedal", VIOLIN)["pedal"] == []
    onsets = p["onset"]
    for down, up in p["pedal"]:
        assert np.any(np.isclose(up, onsets)) or up > onsets[-1]                 # lifted as a later note starts
        first = onsets[onsets <= down].max()
        assert 0.05 <= down - first <= 0.15 + 1e-9                               # pressed just after an onset


def test_timing_keeps_order_and_the_take_is_the_same_across_conditions():
    p = _plan("timing", VIOLIN)
    assert np.all(np.diff(p["onset"]) >= 0.05 - 1e-9)
    assert not np.allclose(p["onset"], _plan("plain", VIOLIN)["onset"])
    assert np.all(p["end"] > p["onset"])
    every = _plan("all", VIOLIN)
    assert np.array_equal(every["velocity"], _plan("dynamics", VIOLIN)["velocity"])   # one take's draws
    assert every["velocity"].min() >= 40 and every["velocity"].max() <= 110


def test_the_midi_sets_the_bend_range_and_plays_a_slur_as_one_note(tmp_path):
    p = _plan("all", VIOLIN, 2)
    path = str(tmp_path / "take.mid")
    bench_played.write_played_midi(path, p, VIOLIN)
    msgs = list(mido.MidiFile(path).tracks[0])
    cc = [(m.control, m.value) for m in msgs if m.type == "control_change" and m.channel == 0]
    assert cc[:4] == [(101, 0), (100, 0), (6, bench_played.BEND_RANGE), (38, 0)]
    ons = [m for m in msgs if m.type == "note_on" and m.velocity > 0]
    n_groups = len(set(p["group"][p["group"] >= 0]))
    assert len(ons) == (p["group"] < 0).sum() + n_groups


def test_successive_notes_alternate_channels_so_a_bend_never_moves_the_note_before(tmp_path):
    p = _plan("slurs", VIOLIN, 0)
    path = str(tmp_path / "take.mid")
    bench_played.write_played_midi(path, p, VIOLIN)
    now, sounding, channels = 0, {}, []
    for msg in mido.MidiFile(path).tracks[0]:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            channels.append(msg.channel)
            sounding[msg.channel] = msg.note
        elif msg.type == "note_off":
            sounding.pop(msg.channel, None)
    assert all(a != b for a, b in zip(channels[:-1], channels[1:]))
    cc = [(m.channel, m.control, m.value) for m in mido.MidiFile(path).tracks[0] if m.type == "control_change"]
    assert (1, 6, bench_played.BEND_RANGE) in cc and (0, 6, bench_played.BEND_RANGE) in cc
