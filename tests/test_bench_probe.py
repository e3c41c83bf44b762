"""The probe variations (scripts/benchdata.py PROBE_TRANSFORMS, scripts/bench_probe.py) do what they say."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import benchdata  # noqa: E402

# C major: C D E F G A B C' as quarters, then a half note E
PHRASE = [[60, 0.0, 1.0, 0], [62, 1.0, 1.0, 1], [64, 2.0, 1.0, 2], [65, 3.0, 1.0, 3], [67, 4.0, 1.0, 4],
          [69, 5.0, 1.0, 5], [71, 6.0, 0.5, 6], [72, 6.5, 0.25, 7], [64, 6.75, 2.0, 8]]


def _run(kind, seed=0, minor=False, key_pc=0):
    seq = [list(n) for n in PHRASE]
    st = benchdata.Setting(key_pc, minor, 4.0, 0.0)
    ok = benchdata.PROBE_TRANSFORMS[kind](seq, np.random.default_rng(seed), st)
    return ok, seq


def _degree(pitch):
    """Index of a C-major pitch among the C-major pitches from C0 up."""
    return [q for q in range(0, 128) if q % 12 in benchdata._MAJOR_SCALE].index(pitch)


def test_thirds_put_every_note_a_third_or_sixth_above_within_the_key():
    seen = set()
    for seed in range(8):
        ok, seq = _run("thirds", seed)
        assert ok and len(seq) == len(PHRASE)
        steps = {_degree(n[0]) - _degree(p[0]) for n, p in zip(seq, PHRASE)}
        assert steps in ({2}, {5})
        seen |= steps
    assert seen == {2, 5}


def test_a_diatonic_transposition_keeps_the_contour_and_changes_some_intervals():
    ok, seq = _run("diatonic", 3)
    got = np.diff([n[0] for n in seq])
    ref = np.diff([n[0] for n in PHRASE])
    assert ok and np.array_equal(np.sign(got), np.sign(ref))
    assert not np.array_equal(got, ref)                # not a chromatic transposition
    assert all((n[0] % 12) in benchdata._MAJOR_SCALE for n in seq)


def test_half_and_double_time_scale_only_the_lengths():
    for kind, factor in (("halftime", 2.0), ("doubletime", 0.5)):
        ok, seq = _run(kind)
        assert ok and [n[0] for n in seq] == [n[0] for n in PHRASE]
        assert [n[1] for n in seq] == [factor * n[1] for n in PHRASE]
        assert [n[2] for n in seq] == [factor * n[2] for n in PHRASE]


def test_blue_notes_flatten_thirds_and_sevenths_in_major_and_the_fifth_in_minor():
    changed = set()
    for seed in range(10):
        ok, seq = _run("blue", seed)
        for n, p in zip(seq, PHRASE):
            if n[0] != p[0]:
                assert n[0] == p[0] - 1 and p[0] % 12 in (4, 11)
                changed.add(p[0] % 12)
    assert changed == {4, 11}
    ok, seq = _run("blue", 1, minor=True, key_pc=9)   # A minor, key pc 9: the fifth E bent to Eb
    assert {p[0] - n[0] for n, p in zip(seq, PHRASE) if n[0] != p[0]} <= {1}
    assert all(p[0] % 12 == 4 for n, p in zip(seq, PHRASE) if n[0] != p[0])


def test_pentatonic_smoothing_leaves_only_pentatonic_degrees():
    ok, seq = _run("pentatonic")
    assert ok and {n[0] % 12 for n in seq} <= {0, 2, 4, 7, 9}
    assert [n[0] for n in seq] == [60, 62, 64, 64, 67, 69, 72, 72, 64]


def test_re_struck_notes_keep_pitches_order_and_total_time():
    ok, seq = _run("strike", 2)
    assert ok and len(seq) > len(PHRASE)
    merged = [p for k, (p, *_rest) in enumerate(seq) if k == 0 or seq[k - 1][0] != p or seq[k][3] >= 0]
    assert merged == [n[0] for n in PHRASE]
    assert seq[-1][1] + seq[-1][2] == pytest.approx(PHRASE[-1][1] + PHRASE[-1][2])
    assert [n for n in seq if n[1] == 6.5] == [[72, 6.5, 0.25, 7]]   # a sixteenth stays one syllable


def test_probe_groups_leave_every_other_group_as_it_was():
    corpus = benchdata.load_corpus(files_per_collection=2, log=None)
    split = benchdata.split_corpus(corpus, n_catalog=40, n_heldout=40, seed=7)
    gen = benchdata.Generator(split, seed=7)
    before = [q.lead for q in gen.variations(2)]
    probes = gen.probes(2)
    assert [q.category for q in probes] == [c for c in benchdata.PROBE_CATEGORIES for _ in range(2)]
    assert [q.lead for q in benchdata.Generator(split, seed=7).variations(2)] == before
    assert all(0 <= q.query_span[0] < q.query_span[1] <= q.duration + 1e-9 for q in probes)


def _melody(pitches, lengths=None):
    from melody.notes import NOTE_DTYPE, Melody
    lengths = lengths or [0.5] * len(pitches)
    notes = np.zeros(len(pitches), dtype=NOTE_DTYPE)
    notes["pitch"] = pitches
    notes["onset"] = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    notes["duration"] = lengths
    return Melody(notes, title="t")


TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65, 64, 62, 60, 59, 60, 64, 62, 60]


def test_a_re_struck_passage_is_told_from_a_melody_with_a_few_repeats():
    from melody.catalog.packed import restruck
    struck = [p for p in TUNE[:10] for _ in range(2)]
    assert restruck(_melody(TUNE[:4] + struck + TUNE[10:]).notes)
    folk = TUNE[:6] + [65, 65] + TUNE[6:12] + [72, 72, 72] + TUNE[12:]      # a few repeated notes, as tunes have
    assert not restruck(_melody(folk).notes)


def test_a_phrase_re_struck_for_more_syllables_still_finds_its_tune(tmp_path):
    import melody
    rng = np.random.default_rng(5)
    others = [list(60 + np.cumsum(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4], size=40)).clip(-20, 20))
              for _ in range(30)]
    cat = melody.Catalog.create(str(tmp_path / "cat"))
    ids = cat.add([_melody(p) for p in others] + [_melody(TUNE)])
    struck = [p for p in TUNE[2:20] for _ in range(int(rng.choice(STRIKES_IN_TEST)))]
    matches = cat.search(_melody(others[0][:6] + struck, [0.5] * 6 + [0.25] * len(struck)), top=3)
    assert matches and matches[0].id == ids[-1]


STRIKES_IN_TEST = (2, 3)
