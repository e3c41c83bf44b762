"""Stage 2's E-values bounded by the null sample's own upper tail (`rescore.tail_bound`)."""
from __future__ import annotations

import numpy as np

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
