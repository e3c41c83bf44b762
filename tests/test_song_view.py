"""The song view of stage 2 (`rescore.song_view`): a song aligned whole against references of its length, its
null the retrograde decoys of its null sample; asked for (`variants`), its evidence is added to the local
view's as one statistic (`rescore.song_evidence`)."""
from __future__ import annotations

import numpy as np
import pytest

from melody.catalog.packed import pack_melodies
from melody.notes import Melody
from melody.score import rescore
from test_pitch_align import _random_tune


def _gumbel(rng, n):
    return -np.log(-np.log(rng.uniform(size=n)))


def test_a_decoy_is_its_reference_s_pitch_line_reversed_over_its_own_rhythm(rng):
    tunes = [_random_tune(rng, int(rng.integers(8, 40))) for _ in range(12)]
    packed = pack_melodies([Melody(t) for t in tunes])
    rows = np.array([7, 2, 11, 2])
    got = rescore.retrograde(rescore.pitches(packed), packed.interval, packed.length, packed.weight, packed.metric,
                             packed.offsets, packed.step_offsets, rows)
    pitch, interval, length, weight, metric, note_offsets, step_offsets = got
    reversed_tunes = []
    for r in rows:
        t = tunes[r].copy()
        t["pitch"] = t["pitch"][::-1]
        reversed_tunes.append(Melody(t))
    want = pack_melodies(reversed_tunes)       # the same notes, pitches in reverse order, packed from scratch
    np.testing.assert_array_equal(note_offsets, want.offsets)
    np.testing.assert_array_equal(step_offsets, want.step_offsets)
    np.testing.assert_array_equal(pitch, rescore.pitches(want))
    np.testing.assert_array_equal(interval, want.interval)
    np.testing.assert_array_equal(length, want.length)     # the rhythm is the reference's own
    np.testing.assert_array_equal(metric, want.metric)
    for k, r in enumerate(rows):                            # the steps' weights, in reverse order
        a, b = packed.step_offsets[r], packed.step_offsets[r + 1]
        np.testing.assert_array_equal(weight[step_offsets[k]:step_offsets[k + 1]], packed.weight[a:b][::-1])


def test_the_quartile_fit_recovers_a_gumbel_law_and_ignores_a_few_relatives(rng):
    lam, u = 0.12, 30.0
    x = u + _gumbel(rng, 20000) / lam
    got = rescore.quartile_gumbel(x)
    assert got[0] == pytest.approx(lam, rel=0.05) and got[1] == pytest.approx(u, abs=0.5)
    chance = u + _gumbel(rng, 60) / lam
    with_relatives = np.concatenate([chance, [300.0, 280.0, 260.0]])   # three variants of the query's tune
    assert rescore.quartile_gumbel(with_relatives)[0] == pytest.approx(rescore.quartile_gumbel(chance)[0], rel=0.25)
    assert rescore.quartile_gumbel(np.full(30, 4.0)) is None


def _varied(rng, tune):
    """A variant of a whole tune: every other note a step away, so no interval is kept and no passage is
    shared closely, while aligned whole every other note still matches (a tune varied throughout)."""
    v = tune.copy()
    v["pitch"][1::2] += rng.choice([-2, -1, 1, 2], len(v["pitch"][1::2]))
    return v


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    from melody import Catalog
    rng = np.random.default_rng(26)
    refs = [Melody(_random_tune(rng, int(rng.integers(36, 52))), title=f"r{k}", source=f"mem/{k}")
            for k in range(120)]
    cat = Catalog.create(str(tmp_path_factory.mktemp("songs") / "c"))
    cat.add(refs)
    return cat, refs


def test_a_variant_of_a_whole_song_is_more_significant_when_variants_are_asked_for(songs):
    cat, refs = songs
    rng = np.random.default_rng(5)
    for k in range(6):
        query = Melody(_varied(rng, refs[k].notes), title="variant")
        asked, plain = cat.search(query, top=1, variants=True)[0], cat.search(query, top=1)[0]
        assert asked.title == f"r{k}"
        assert asked.evalue < plain.evalue


def test_a_chance_song_gains_no_significance_from_the_song_view(songs):
    cat, _ = songs
    for k in range(8):
        query = Melody(_random_tune(np.random.default_rng(900 + k), 44), title="chance")
        assert cat.search(query, top=1, variants=True)[0].evalue > 0.1


def test_a_search_that_does_not_ask_for_variants_has_no_song_view(songs):
    cat, refs = songs
    query = Melody(_varied(np.random.default_rng(7), refs[2].notes), title="variant")
    detail = {}
    cat._rank(query, cat.packed, None, None, detail=detail)
    assert detail["song"] is None
    cat._rank(query, cat.packed, None, None, detail=detail, variants=True)
    assert detail["song"] is not None and detail["z"].shape[0] == 1      # added to the local view, not a view


def test_a_score_read_two_ways_keeps_the_song_view_on_its_written_reading(songs):
    """A score whose notes are re-struck (`packed.restruck`) is also ranked with repeats merged; asked for
    variants, the song view's evidence still goes to the score as written (families: 42 of 159 Dutch songs pass
    the gate)."""
    from melody.catalog.packed import restruck
    cat, refs = songs
    notes = _varied(np.random.default_rng(11), refs[4].notes)
    notes["pitch"][1:17:2] = notes["pitch"][0:16:2]          # 8 of 16 notes strike the one before again
    query = Melody(notes, title="re-struck variant")
    assert restruck(query.notes)
    detail = {}
    cat._rank(query, cat.packed, None, None, detail=detail, variants=True)
    assert detail["z"].shape[0] == 2 and detail["song"] is not None


def test_two_views_summed_have_the_law_of_a_sum_of_independent_gumbel_variables(rng):
    z1, z2 = _gumbel(rng, 1_000_000), _gumbel(rng, 1_000_000)
    for s in (1.0, 4.0, 8.0):
        got = -np.expm1(-np.exp(-rescore.gumbel_sum_z(np.array([s]))[0]))
        assert got == pytest.approx(np.mean(z1 + z2 >= s), rel=0.05)
    # adding a second view's evidence costs about ln(s) against one view alone, never more than the sum
    z = rescore.gumbel_sum_z(np.array([10.0, 30.0, -np.inf]))
    assert 10.0 - np.log(10.0) - 0.5 < z[0] < 10.0 - np.log(10.0) + 0.5 and z[1] < 30.0 and z[2] == -np.inf


def test_song_evidence_adds_only_where_the_song_view_scores():
    local = np.array([3.0, 3.0, 7.0])
    song = np.array([np.nan, 3.0, -1.0])
    got = rescore.song_evidence(local, song)
    assert got[0] == 3.0                                   # not of the query's length: the local view alone
    assert got[1] > 3.0                                    # moderate evidence in both views adds up
    assert got[2] < 7.0                                    # a weak whole alignment costs a strong local one


def test_a_passage_gets_no_song_view_and_a_song_is_scored_against_references_of_its_length(songs):
    cat, refs = songs
    p = cat.packed
    rows = np.arange(len(p))
    short = Melody(refs[3].notes[:20])
    assert rescore.song_view(short, p.query_features(short), p, rows, rows) is None
    long = Melody(refs[3].notes)
    got = rescore.song_view(long, p.query_features(long), p, rows, rows)
    steps = np.diff(p.step_offsets)
    assert np.all(np.isfinite(got) == rescore.song_band(len(p.query_features(long)), steps))
    assert np.nanargmax(got) == 3



def test_scan_asks_for_variants_as_query_does(tmp_path, capsys):
    """`--variants` reaches every file of a scan, plain and journaled, as it reaches `melody query`."""
    import json

    from melody import Catalog, batch
    from melody.cli import main
    from melody.testing import Track, write_midi
    rng = np.random.default_rng(27)
    refs = [Melody(_random_tune(rng, int(rng.integers(36, 52))), title=f"r{k}", source=f"mem/{k}")
            for k in range(120)]
    Catalog.create(str(tmp_path / "c")).add(refs)
    tune = _varied(rng, refs[3].notes)
    song = str(write_midi(tmp_path / "v.mid", [Track("Lead", 0, [(int(n["pitch"]), float(n["onset"]),
                                                                    float(n["duration"]), 90) for n in tune])],
                          bpm=60.0))
    found = {}
    for flags in ((), ("--variants",)):
        assert main(["query", song, "--catalog", str(tmp_path / "c"), "--format", "json", *flags]) == 0
        found["query", flags] = json.loads(capsys.readouterr().out)["matches"][0]["evalue"]
        assert main(["scan", song, "--catalog", str(tmp_path / "c"), "--format", "json", "--quiet", *flags]) == 0
        found["scan", flags] = json.loads(capsys.readouterr().out)[0]["matches"][0]["evalue"]
    settings = batch.Settings(str(tmp_path / "c"), variants=True)
    batch.run([song], settings, str(tmp_path / "run"), workers=1)
    with open(tmp_path / "run" / "results.jsonl") as fh:
        journaled = json.loads(fh.readline())["matches"][0]["evalue"]
    assert found["query", ("--variants",)] < found["query", ()]
    assert found["scan", ("--variants",)] == found["query", ("--variants",)] == journaled
    assert found["scan", ()] == found["query", ()]
