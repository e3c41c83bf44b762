"""Smoke test of the benchmark's query generator (scripts/benchdata.py)."""
from __future__ import annotations

import difflib
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import benchdata  # noqa: E402


@pytest.fixture(scope="module")
def split():
    corpus = benchdata.load_corpus(files_per_collection=2, log=None)
    return benchdata.split_corpus(corpus, n_catalog=40, n_heldout=40, seed=7)


@pytest.fixture(scope="module")
def queries(split):
    # 25 queries cycle through the categories; keep ~7: two exact, two strongest mixes, one per negative kind
    generated = benchdata.Generator(split, seed=7).queries(25)
    return [q for q in generated if q.category in ("exact/s0", "mixed/s3") or not q.positive][:7]


def test_split_is_disjoint(split):
    cat = {(t.melody.source, t.melody.index) for t in split.catalog}
    held = {(t.melody.source, t.melody.index) for t in split.heldout}
    assert len(split.catalog) == 40 and held and not cat & held


def test_generation_is_deterministic(split):
    a = benchdata.Generator(split, seed=3).queries(6)
    b = benchdata.Generator(split, seed=3).queries(6)
    assert [q.truth() for q in a] == [q.truth() for q in b]
    assert [q.lead for q in a] == [q.lead for q in b]


def test_spans_inside_the_query(split, queries):
    for q in queries:
        assert q.lead and q.duration > 0
        if q.positive:
            s0, s1 = q.query_span
            assert 0 <= s0 < s1 <= q.duration + 1e-9
            ref = split.catalog[q.ref_index].melody
            r0, r1 = q.ref_span
            ref_end = ref.notes["onset"][-1] + ref.notes["duration"][-1]
            assert ref.notes["onset"][0] - 1e-9 <= r0 < r1 <= ref_end + 1e-9
            assert 10 <= sum(s0 - 1e-6 <= s < s1 for _, s, _, _ in q.lead) <= 30


def _span_pitches(lead, span):
    return [p for p, s, _, _ in lead if span[0] - 1e-3 <= s < span[1] - 1e-3]


def _reference_pitches(split, q):
    notes = split.catalog[q.ref_index].melody.notes
    inside = (notes["onset"] >= q.ref_span[0] - 1e-6) & (notes["onset"] < q.ref_span[1] - 1e-6)
    return np.round(notes["pitch"][inside]).astype(int).tolist()


def test_exact_positive_reproduces_the_reference_phrase(split, queries):
    exact = [q for q in queries if q.category == "exact/s0"]
    assert exact
    for q in exact:
        got = [p - q.transpose for p in _span_pitches(q.lead, q.query_span)]
        assert got == _reference_pitches(split, q)
        # the tempo change is a uniform stretch of the reference phrase
        ref_len = q.ref_span[1] - q.ref_span[0]
        assert (q.query_span[1] - q.query_span[0]) == pytest.approx(ref_len / q.tempo_factor, rel=1e-6)


def test_written_midi_loads_back(split, queries, tmp_path):
    pytest.importorskip("melody.testing")
    import melody
    for k, q in enumerate(queries):
        benchdata.render(q, str(tmp_path / f"{q.qid}.mid"), seed=k)
        loaded = max(melody.load(q.path), key=len)
        assert loaded.duration > 0
        if q.category == "exact/s0":
            notes = loaded.notes
            inside = (notes["onset"] >= q.query_span[0] - 0.03) & (notes["onset"] < q.query_span[1] - 0.03)
            got = np.round(notes["pitch"][inside]).astype(int) - q.transpose
            ref = _reference_pitches(split, q)
            # the piano's accompaniment may poke through the lead's long notes: compare as sequences
            agree = difflib.SequenceMatcher(None, got.tolist(), ref, autojunk=False).ratio()
            assert agree >= 0.8, (got.tolist(), ref)


def _phrase_and_reference(split, q):
    got = [p - q.transpose for p in _span_pitches(q.lead, q.query_span)]
    return got, _reference_pitches(split, q)


def test_songwriters_variations_do_what_they_say(split):
    queries = benchdata.Generator(split, seed=7).variations(4)
    assert len(queries) == 4 * len(benchdata.VARIATION_CATEGORIES)
    again = benchdata.Generator(split, seed=7).variations(4)
    assert [q.lead for q in queries] == [q.lead for q in again]
    for q in queries:
        s0, s1 = q.query_span
        assert 0 <= s0 < s1 <= q.duration + 1e-9
        got, ref = _phrase_and_reference(split, q)
        kind = q.category.split("/")[0]
        if kind == "mode":
            # the same notes, some a semitone off, all in one direction (towards the new mode)
            assert len(got) == len(ref)
            diffs = {g - r for g, r in zip(got, ref)} - {0}
            assert diffs in ({1}, {-1}), (got, ref)
            assert (diffs == {-1}) == q.minor           # lowered: now minor
        elif kind == "meter":
            assert got == ref                          # re-barred: same pitches, other lengths
        elif kind in ("extend", "sequence", "embellish"):
            assert len(got) > len(ref)                 # notes inserted
            assert all(p in got for p in ref[:1])
        elif kind == "fragment":
            assert got[:6] == ref[:6] and got != ref


def test_dispute_mode_builds_whole_songs_hooks_and_negatives(split):
    members, queries = benchdata.Generator(split, seed=7).disputes(6)
    assert len(members) == 6 and len(set(members)) == 6
    whole = [q for q in queries if q.qid.startswith("d")]
    hooks = [q for q in queries if q.qid.startswith("h")]
    negatives = [q for q in queries if not q.positive]
    assert len(whole) == 6 and len(hooks) == 6 and len(negatives) == 3
    assert {q.ref_index for q in whole} == set(members) == {q.ref_index for q in hooks}
    for q in hooks:
        assert len(q.lead) >= 3 * q.phrase_notes and q.context_notes[0] > 0
        spans = [q.query_span, *q.restated_spans]      # the hook stated three times: a match on any finds it
        assert len(spans) == 3 and all(a[0] < a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_excerpt_disputes_pair_each_short_excerpt_with_its_varied_self(split):
    excerpts, queries = benchdata.Generator(split, seed=7).excerpt_disputes(4, notes=(8, 14))
    positives = [q for q in queries if q.positive]
    assert len(excerpts) == len(positives) == 4 and len(queries) == 6
    for k, (q, ex) in enumerate(zip(positives, excerpts)):
        assert q.ref_index == k and 8 <= len(ex.notes) <= 14
        assert q.context_notes == (0, 0)
        tune = split.catalog[[t.melody.title for t in split.catalog].index(ex.title[:-len(" (excerpt)")])]
        assert ex.notes["onset"][0] == pytest.approx(q.ref_span[0])
        assert len(tune.melody.notes) >= 40


def test_song_negatives_restate_held_out_sections_in_a_song_form(split):
    # bench_accuracy's song/s60 group: long negatives that restate their own material, as songs do
    songs = benchdata.Generator(split, seed=7).songs(6)
    assert [q.qid for q in songs] == [f"r{k:04d}" for k in range(6)]
    for q in songs:
        assert not q.positive and q.category == benchdata.SONG_CATEGORY
        assert benchdata.SONG_NOTES[0] <= len(q.lead) <= benchdata.SONG_NOTES[1]
        iv = benchdata.interval_bytes(np.array([n[0] for n in q.lead]))
        windows = [iv[i:i + 8] for i in range(len(iv) - 7)]
        assert sum(windows.count(w) > 1 for w in windows) >= len(windows) / 3     # a section sung again
    again = benchdata.Generator(split, seed=7).songs(6)
    assert [q.lead for q in again] == [q.lead for q in songs]


def test_riff_songs_restate_a_short_motif_of_a_dispute_tune_in_two_choruses(split):
    # bench_accuracy's dispute riff group: a 5-8 note motif of a dispute-catalog tune restated 3-4 times back
    # to back in each of two choruses, in each of RIFF_KINDS, with its own seeds
    gen = benchdata.Generator(split, seed=7)
    members, _ = gen.disputes(6)
    riffs = gen.riffs(members, 8)
    assert [q.qid for q in riffs] == [f"k{k:04d}" for k in range(8)]
    assert [q.category for q in riffs[:4]] == [f"dispute/riff-{kind}" for kind in benchdata.RIFF_KINDS]
    for q in riffs:
        assert q.positive and q.ref_index in members
        assert benchdata.RIFF_NOTES[0] <= q.phrase_notes <= benchdata.RIFF_NOTES[1] + 1 + 4   # upbeat, re-set
        borrowed = sum(n[3] >= 0 for n in q.lead)
        assert borrowed >= 2 * benchdata.RIFF_REPEATS[0] * (benchdata.RIFF_NOTES[0] - 3)    # six statements or more
        assert q.context_notes[0] > 0
        assert len(q.restated_spans) >= 2 * benchdata.RIFF_REPEATS[0] - 1
    again = benchdata.Generator(split, seed=7).riffs(members, 8)
    assert [q.lead for q in again] == [q.lead for q in riffs]


def test_a_re_set_riff_keeps_its_pitches_under_a_new_rhythm():
    # RIFF_KINDS' "reset": notes split into repeated notes and a repeated pair merged, no pitch lost (op_reset
    # drops one where a phrase has no repeated pair)
    rng = np.random.default_rng(3)

    def merged(pitches):
        return [p for k, p in enumerate(pitches) if k == 0 or p != pitches[k - 1]]

    for _ in range(50):
        n = int(rng.integers(*benchdata.RIFF_NOTES, endpoint=True))
        riff = [[int(p), 0.5 * k, 0.5, k] for k, p in enumerate(rng.integers(60, 72, size=n))]
        riff[-1][2] = 1.0
        out = benchdata._reset_riff([x[:] for x in riff], rng)
        assert merged([x[0] for x in out]) == merged([x[0] for x in riff])
        assert len(out) > len(riff) or any(a[2] != b[2] for a, b in zip(out, riff))
        assert all(b[1] == pytest.approx(a[1] + a[2]) for a, b in zip(out, out[1:]))


def test_a_phrase_that_opens_the_query_keeps_its_place_in_the_bar(split):
    gen = benchdata.Generator(split, seed=7)
    phrase = [[60, 0.0, 1.0, 0], [62, 1.0, 1.0, 1], [64, 2.0, 2.0, 2]]
    _, start, _ = gen._assemble(None, [], phrase, [], 4.0, 3.0)          # an upbeat on the fourth beat
    assert start == 3.0
    _, start, _ = gen._assemble(None, [[55, 0.0, 1.5, -1]], phrase, [], 3.0, 2.0)   # after context too
    assert start % 3.0 == 2.0


def test_positives_keep_their_source_bar_position_unless_displaced(split):
    queries = [q for q in benchdata.Generator(split, seed=7).queries(120) if q.category in
               benchdata.POSITIVE_CATEGORIES]
    moved = 0
    for q in queries:
        tune = split.catalog[q.ref_index]
        i = int(np.argmin(np.abs(tune.melody.notes["onset"] - q.ref_span[0])))
        bar_q = q.time_signature[0] * 4 / q.time_signature[1]
        offset = (q.query_span[0] * q.bpm / 60 - tune.bar_pos[i]) % bar_q
        offset = min(offset, bar_q - offset)
        if q.displaced:
            moved += 1
            assert offset == pytest.approx(1.0) or offset == pytest.approx(1.5) or offset == pytest.approx(bar_q / 2)
        else:
            assert offset == pytest.approx(0.0, abs=1e-6), q.qid
    assert moved < len(queries) / 4


def test_a_displaced_phrase_moves_by_a_beat_or_half_a_bar():
    rng = np.random.default_rng(0)
    assert {benchdata.displace(0.5, 4.0, rng) for _ in range(50)} == {1.5, 3.5, 2.5}
    assert {benchdata.displace(0.0, 3.0, rng) for _ in range(50)} == {1.0, 2.0}   # no half of a triple bar


def _swing_reference(beats, ratio):
    """Plain reading of `benchdata.swing`: each beat's second eighth moved to ratio / (1 + ratio) of the
    beat, the first and second halves stretched and squeezed linearly."""
    out = []
    for b in beats:
        whole = int(np.floor(b + 1e-9))
        u = b - whole
        long = ratio / (1 + ratio)
        out.append(whole + (u / 0.5 * long if u <= 0.5 else long + (u - 0.5) / 0.5 * (1 - long)))
    return out


def test_swing_and_the_players_clock_map_written_beats_to_played_seconds():
    beats = np.arange(0, 8, 0.25)
    for ratio in (2.0, 3.0):
        assert np.allclose(benchdata.swing(beats, ratio), _swing_reference(beats, ratio))
    assert np.allclose(benchdata.swing(beats, 0.0), beats)
    assert np.allclose(benchdata.performed_seconds(beats, {}, 0.5), beats * 0.5)     # as written
    played = benchdata.performed_seconds(beats, {"drift": 0.08, "rit": 0.3, "length": 8.0, "ends": [4.0, 8.0]}, 0.5)
    assert (np.diff(played) > 0).all()
    # a ritardando into beat 4: the beat before it is slower than the one before that
    at = lambda b: float(benchdata.performed_seconds(np.array([b]), {"rit": 0.3, "length": 8.0, "ends": [4.0]}, 0.5)[0])
    assert at(4.0) - at(3.0) > at(3.0) - at(2.0) > at(1.0) - at(0.0) - 1e-9


def test_a_performed_phrase_and_its_straight_twin(split, tmp_path):
    pytest.importorskip("melody.testing")
    import melody
    played = benchdata.Generator(split, seed=7).performances(4)
    assert [q.category for q in played] == [f"{p}/{k}" for k in benchdata.PERFORM_KINDS
                                            for p in (benchdata.PERFORM_CATEGORY, benchdata.STRAIGHT_CATEGORY)] \
        + [f"{benchdata.PERFORM_NEGATIVE}/{k}" for k in benchdata.PERFORM_KINDS[:2]]
    assert not any(q.positive for q in played[8:]) and all(q.performance for q in played[8:])
    played = played[:8]
    for q, twin in zip(played[::2], played[1::2]):
        assert q.performance["kind"] == twin.category.split("/")[1] and not twin.performance
        assert q.render_seed == twin.render_seed and q.ref_index == twin.ref_index
        assert [n[0] for n in q.lead] == [n[0] for n in twin.lead]
        for x in (q, twin):
            benchdata.render(x, str(tmp_path / f"{x.qid}.mid"), seed=x.render_seed)
        a, b = (max(melody.load(x.path), key=len) for x in (q, twin))
        pa, pb = (np.round(x.notes["pitch"]).astype(int).tolist() for x in (a, b))
        # the lead read back from the performance (a piano's chords jittered under it may poke through)
        assert difflib.SequenceMatcher(None, pa, pb, autojunk=False).ratio() >= 0.9
        if q.performance["kind"] == "swing" and pa == pb:   # the beat's second eighth comes later, never earlier
            assert (a.notes["onset"] >= b.notes["onset"] - 1e-6).all()
    timing = benchdata.draw_performance(np.random.default_rng(0), "timing", 16.0, (8.0, 16.0))
    assert timing["file_bpm"] == benchdata.PERFORM_FILE_BPM and 0.01 <= timing["jitter"] <= 0.03
