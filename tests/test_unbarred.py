"""Queries without bars (recordings): beats read off steady onsets, and recordings ranked with and without
their repeated notes merged."""
from __future__ import annotations

import numpy as np

from _songs import random_lead
from melody.catalog import Catalog
from melody.meter import GRID_TOLERANCE, guess_beats, steady_grid, with_guessed_beats
from melody.notes import Melody, make_notes

# Two bars of 4/4 in quarter notes, after an eighth-note pickup: (start, length). Long notes start on beats.
BAR = [(0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0), (3.0, 0.5), (3.5, 0.5)]


def pickup_tune(bars=4, spq=0.4, t0=0.7):
    starts = [-0.5] + [b * 4 + s for b in range(bars) for s, _ in BAR]
    lengths = [0.5] + [d for _ in range(bars) for _, d in BAR]
    pitch = 60 + np.arange(len(starts)) % 7
    return make_notes(t0 + np.array(starts) * spq, np.array(lengths) * spq, pitch), np.array(starts)


def plain_beats(starts):
    """What guess_beats should say: 1.0 on a quarter-note beat, 0.5 between."""
    return np.where(np.abs(starts - np.round(starts)) < 1e-9, 1.0, 0.5)


def test_steady_notes_get_beats_where_their_long_notes_start():
    notes, starts = pickup_tune()
    assert guess_beats(notes).tolist() == plain_beats(starts).tolist()   # the pickup is off the beat


def test_beats_do_not_depend_on_tempo_or_start_time():
    """Not on the start time, nor on the tempo within the range of songs (`melody.meter` weighs the beat's
    length in seconds too: a quarter of 0.2 s would rather be an eighth)."""
    notes, starts = pickup_tune()
    for spq, t0 in ((0.3, 0.0), (0.9, 13.3)):
        assert guess_beats(pickup_tune(spq=spq, t0=t0)[0]).tolist() == plain_beats(starts).tolist()


def test_jittered_or_drifting_onsets_keep_unknown_beats(rng):
    notes, _ = pickup_tune(bars=6)
    jittered = notes.copy()
    jittered["onset"] += rng.normal(0, 0.03, len(notes))      # 30 ms on a 100 ms grid
    assert steady_grid(np.sort(jittered["onset"])) is None
    drifting = notes.copy()
    t = drifting["onset"] - drifting["onset"][0]
    drifting["onset"] = drifting["onset"][0] + t + 0.25 * t ** 2 / t[-1]    # 25% slower by the end
    assert steady_grid(drifting["onset"]) is None
    assert steady_grid(notes["onset"]) is not None


def test_a_steady_grid_allows_small_timing_errors(rng):
    notes, starts = pickup_tune(bars=6)
    step = 0.1                     # half the median inter-onset interval (pickup_tune's eighth note)
    nudged = notes.copy()
    nudged["onset"] += rng.uniform(-0.5, 0.5, len(notes)) * GRID_TOLERANCE * step
    assert abs(steady_grid(nudged["onset"]) - step) < 0.01
    assert guess_beats(nudged).tolist() == plain_beats(starts).tolist()


def test_known_beats_and_short_melodies_are_left_as_they_are():
    notes, starts = pickup_tune()
    scored = notes.copy()
    scored["beat"] = np.mod(starts, 4.0)
    assert with_guessed_beats(scored) is scored
    assert guess_beats(notes[:5]) is None
    assert np.isnan(with_guessed_beats(notes[:5])["beat"]).all()


def recording(lead, spb=0.3, title="take"):
    return Melody(make_notes([s * spb for _, s, _ in lead], [d * spb for _, _, d in lead], [p for p, _, _ in lead]),
                  title=title, meta={"kind": "audio"})


def test_a_recording_that_keeps_its_repeated_notes_tells_them_apart(tmp_path, rng):
    """Two references with one pitch sequence: `repeats` plays some notes twice, `held` holds them instead.
    Merged, they are the same melody. A recording that re-articulates the repeats (a piano) must rank
    `repeats` first; one that does not (a legato flute) is ranked with repeats merged and finds both."""
    phrase = [60, 62, 64, 65, 67, 69, 67, 65, 64, 62, 60, 64, 67, 72]
    doubled = {2, 5, 8, 11}
    repeats, held = [], []
    for k, p in enumerate(phrase):
        repeats += [(p, k, 0.5), (p, k + 0.5, 0.5)] if k in doubled else [(p, k, 1.0)]
        held.append((p, k, 1.0))
    refs = [Melody(make_notes([s * 0.5 for _, s, _ in lead], [d * 0.5 for _, _, d in lead],
                              [p for p, _, _ in lead]), title=name, source=name)
            for name, lead in (("repeats", repeats), ("held", held))]
    refs += [Melody(make_notes(*zip(*[(s * 0.5, d * 0.5, p) for p, s, d in random_lead(rng, 30)])),
                    title=f"other{k}", source=f"other{k}") for k in range(40)]
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.add(refs)
    piano = cat.search(recording([(p + 3, s, d) for p, s, d in repeats]), top=5)
    evalue = {m.title: m.evalue for m in piano}
    assert piano[0].title == "repeats" and evalue["repeats"] < evalue.get("held", np.inf)
    flute = cat.search(recording([(p + 3, s, d) for p, s, d in held]), top=5)
    assert {m.title for m in flute[:2]} == {"repeats", "held"}


def test_compare_reads_beats_off_a_steady_pulse_as_search_does():
    from melody import align
    from melody.api import compare
    from melody.represent import features
    notes, _ = pickup_tune(bars=6)
    beaten = with_guessed_beats(notes)
    ref = Melody(beaten.copy(), source="ref")
    got = compare(Melody(notes, source="unbarred"), ref)[0]["alignment_score"]
    assert got == compare(Melody(beaten, source="beaten"), ref)[0]["alignment_score"]
    assert got > align.local_align(features(Melody(notes)), features(ref)).score   # the metric bonus counts


def test_recovering_some_repeated_notes_does_not_cost_the_match(tmp_path, rng):
    """A transcriber hears some repeated notes and misses others. The reference's repeats that the recording
    holds through must not count against it, however many others it heard: one repeat heard out of six
    must leave the match about as significant as none heard (the two rankings' factor, at most 2, apart;
    ranked only as transcribed, the five held repeats cost a factor of hundreds)."""
    phrase = [60, 62, 64, 65, 67, 69, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69]
    doubled = {1, 3, 6, 8, 11, 14}
    written = []
    for k, p in enumerate(phrase):
        written += [(p, k, 0.5), (p, k + 0.5, 0.5)] if k in doubled else [(p, k, 1.0)]
    refs = [Melody(make_notes([s * 0.5 for _, s, _ in written], [d * 0.5 for _, _, d in written],
                              [p for p, _, _ in written]), title="tune", source="tune")]
    refs += [Melody(make_notes(*zip(*[(s * 0.5, d * 0.5, p) for p, s, d in random_lead(rng, 30)])),
                    title=f"other{k}", source=f"other{k}") for k in range(300)]
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.add(refs)
    evalues = {}
    for heard in (set(), {3}, {3, 8}):
        take = []
        for k, p in enumerate(phrase):
            take += [(p + 2, k, 0.5), (p + 2, k + 0.5, 0.5)] if k in heard else [(p + 2, k, 1.0)]
        got = cat.search(recording(take), top=3)
        assert got[0].title == "tune"
        evalues[len(heard)] = got[0].evalue
    assert evalues[1] <= 2 * evalues[0] and evalues[2] <= 2 * evalues[0]
