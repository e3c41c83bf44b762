"""Stage 2's E-values bounded by the null sample's own upper tail (`rescore.tail_bound`), and a query that restates its
material scored as one statement (`rescore.restatement`, `restated`)."""
from __future__ import annotations

import numpy as np
import pytest

from melody.score import rescore


def _gumbel(rng, n, scale=1.0):
    """Reduced scores of a null sample: standard Gumbel (scale 1, as the fit promises) or a heavier tail."""
    return scale * -np.log(-np.log(rng.uniform(size=n)))


def test_a_null_sample_as_heavy_tailed_as_the_fit_promises_leaves_the_scores_nearly_as_they_are():
    rng = np.random.default_rng(0)
    z = np.array([4.0, 8.0, 12.0])
    got = rescore.tail_bound(z, _gumbel(rng, 3000))
    assert np.all(got <= z)
    np.testing.assert_allclose(got, z, atol=1.0)


def test_a_heavier_tailed_null_sample_lowers_a_high_score_to_what_its_own_tail_supports():
    # a long song restating its material: its chance partners' reduced scores spread twice as wide as the fit
    # promises; a score of 12 (E ~ N 6e-6) is about as common there as 6 is under the fit
    rng = np.random.default_rng(1)
    null = _gumbel(rng, 300, scale=2.0)
    got = rescore.tail_bound(np.array([12.0]), null)[0]
    assert 4.5 < got < 8.0
    # monotone: the query's matches keep their order
    zs = np.linspace(-2.0, 20.0, 50)
    assert np.all(np.diff(rescore.tail_bound(zs, null)) >= 0)


def test_a_null_sample_too_small_to_measure_its_tail_leaves_the_scores_as_they_are():
    rng = np.random.default_rng(2)
    z = np.array([3.0, 9.0])
    np.testing.assert_array_equal(rescore.tail_bound(z, _gumbel(rng, 40, scale=3.0)), z)


def test_the_query_s_relatives_in_its_null_sample_do_not_bound_its_scores():
    # a catalog with five versions of the query's tune (the default catalog's God Save the King for America):
    # the style null sample holds all five at reduced scores 25-41; a match scores as it would without them
    rng = np.random.default_rng(4)
    chance = _gumbel(rng, 295)
    with_relatives = np.concatenate([chance, [41.0, 39.0, 38.8, 38.8, 25.0]])
    z = np.array([30.0, 40.0])
    np.testing.assert_allclose(rescore.tail_bound(z, with_relatives), rescore.tail_bound(z, chance), atol=1.0)
    assert rescore.tail_bound(z, with_relatives)[0] > 20.0


def test_the_null_is_fitted_to_chance_partners_only():
    # 300 chance scores drawn from the Gumbel law the fit assumes (lambda 0.11, K 0.033 over m n = 40 x 60),
    # and five relatives that score like the query itself: the fit without them is the fit of the chance part
    rng = np.random.default_rng(5)
    lam, k, space = 0.11, 0.033, np.full(300, 40.0 * 60.0)
    chance = (np.log(k * space) - np.log(-np.log(rng.uniform(size=300)))) / lam
    scores = np.concatenate([chance, [400.0, 390.0, 385.0, 385.0, 300.0]])
    spaces = np.concatenate([space, np.full(5, 40.0 * 60.0)])
    assert rescore.chance_fit(scores, spaces) == pytest.approx(rescore.fit_null(chance, space), rel=1e-9)
    plain = rescore.fit_null(scores, spaces)
    assert plain[0] < rescore.chance_fit(scores, spaces)[0]      # left in, the relatives flatten lambda
    assert rescore.chance_fit(chance, space) == rescore.fit_null(chance, space)


def ref_restatement(pitch, window=8) -> float:
    """Plain-Python `rescore.restatement`: the mean over windows of `window` intervals of their count."""
    iv = [b - a for a, b in zip(pitch[:-1], pitch[1:])]
    windows = [tuple(iv[i:i + window]) for i in range(len(iv) - window + 1)]
    if len(windows) < 2:
        return 1.0
    return sum(windows.count(w) for w in windows) / len(windows)


def test_restatement_counts_how_often_the_melodys_phrases_come_back():
    rng = np.random.default_rng(3)
    for _ in range(30):
        section = [int(x) for x in np.cumsum(rng.integers(-4, 5, int(rng.integers(3, 30)))) + 60]
        other = [int(x) for x in np.cumsum(rng.integers(-7, 8, int(rng.integers(3, 30)))) + 60]
        song = section + other + section + (section if rng.random() < 0.5 else [])
        assert rescore.restatement(np.array(song)) == pytest.approx(ref_restatement(song))
    assert rescore.restatement(np.arange(60, 90, 3) % 17 + np.arange(10)) == 1.0     # no window twice
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 69, 67, 65, 64, 62, 60, 59, 60]
    assert rescore.restatement(np.array(tune * 3)) == pytest.approx(ref_restatement(tune * 3))
    assert 2.5 < rescore.restatement(np.array(tune * 3)) <= 3.0
    assert rescore.restatement(np.array([60, 62, 64])) == 1.0


def test_a_restated_querys_scores_keep_their_order_and_only_the_tail_narrows():
    rng = np.random.default_rng(4)
    null = rng.gumbel(50.0, 10.0, 300)
    scores = np.linspace(0.0, 200.0, 41)
    t = np.quantile(null, 1.0 - rescore.NULL_TAIL_SHARE)
    got = rescore.restated(scores, null, 3.0)
    assert np.all(np.diff(got) > 0)                              # monotone: no ranking changes
    np.testing.assert_array_equal(got[scores <= t], scores[scores <= t])
    np.testing.assert_allclose(got[scores > t], t + (scores[scores > t] - t) / 3.0)
    np.testing.assert_array_equal(rescore.restated(scores, null, 1.0), scores)   # stated once: unchanged
    np.testing.assert_array_equal(rescore.restated(scores, null[:40], 3.0), scores)   # a small null: unchanged


def _thrice(notes):
    span = notes["onset"][-1] + notes["duration"][-1]
    parts = []
    for k in range(3):
        part = notes.copy()
        part["onset"] += k * span
        parts.append(part)
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def random_catalog(tmp_path_factory):
    from melody import Catalog
    from melody.notes import Melody
    from test_pitch_align import _random_tune
    rng = np.random.default_rng(400)
    refs = [Melody(_random_tune(rng, int(rng.integers(30, 60))), title=f"r{k}", source=f"mem/{k}")
            for k in range(400)]
    cat = Catalog.create(str(tmp_path_factory.mktemp("restated") / "c"))
    cat.add(refs)
    return cat, refs


def test_a_tune_sung_three_times_through_is_no_more_significant_by_chance_than_sung_once(random_catalog):
    # its chance partners are met three times (stage 2's chain); the E-values count that as one statement
    from melody.notes import Melody
    from test_pitch_align import _random_tune
    cat, _ = random_catalog
    for k in range(12):
        once = _random_tune(np.random.default_rng(2000 + k), 40)
        assert cat.search(Melody(_thrice(once)), top=1)[0].evalue >= cat.search(Melody(once), top=1)[0].evalue


def test_a_hook_restated_in_a_song_still_ranks_its_source_first(random_catalog, monkeypatch):
    from melody.notes import Melody
    from test_pitch_align import _random_tune
    cat, refs = random_catalog
    hook = refs[7].notes[5:25].copy()
    hook["pitch"] += 3
    parts, start = [], 0.0
    for k in range(3):        # verse, hook, verse, hook, verse, hook
        for piece in (_random_tune(np.random.default_rng(3000 + k), 24), hook):
            piece = piece.copy()
            piece["onset"] += start - piece["onset"][0]
            start = piece["onset"][-1] + piece["duration"][-1]
            parts.append(piece)
    song = Melody(np.concatenate(parts))
    found = cat.search(song, top=5)
    assert found[0].title == "r7"
    monkeypatch.setattr(rescore, "restatement", lambda pitch, window=8: 1.0)
    # the map is monotone in the score, but E also charges each reference's length: chance partners of
    # different lengths within a few percent of each other (E 12.9 and 13.1 of 400 here) may swap places
    # (with rescore.METRIC_SCATTER, ranks 2 and 3 swap): the source stays first, the same three lead
    again = [m.title for m in cat.search(song, top=5)][:3]
    assert again[0] == "r7" and set(again) == {m.title for m in found[:3]}
