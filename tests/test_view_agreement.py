"""scripts/view_agreement.py: a recording's two readings combined, and the factor of the combination measured on
the null rows as views_factor measures the max's."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import view_agreement  # noqa: E402

from melody.score import rescore  # noqa: E402


def test_combine_views_weighs_the_best_and_the_worst_reading():
    z = np.array([[5.0, 1.0], [3.0, 4.0]])
    assert np.allclose(rescore.combine_views(z, 0.0), [5.0, 4.0])
    assert np.allclose(rescore.combine_views(z, 0.5), [4.0, 2.5])
    assert np.allclose(rescore.combine_views(z, 0.25), [4.5, 3.25])


def test_a_reference_both_readings_match_overtakes_one_reading_s_chance_partner():
    """The true tune at z 5.4 and 5.8 in the two readings; a chance partner at 0.8 and 5.9 (s0000 on seed 1)."""
    rng = np.random.default_rng(0)
    z_null = rng.gumbel(size=(2, 300))
    detail = {"cand": np.array([10, 20]), "z": np.array([[5.4, 0.8], [5.8, 5.9]]), "z_null": z_null,
              "factor": np.full(2, rescore.views_factor(z_null)), "whole": [False, False]}
    order, ev = view_agreement.rerank(detail, 0.0, 1000)
    assert list(order) == [20, 10]                                 # the search as it is: the better reading
    assert np.allclose(np.sort(ev), np.sort(1000 * -np.expm1(-detail["factor"] * np.exp(-np.array([5.8, 5.9])))))
    order, ev = view_agreement.rerank(detail, 0.25, 1000)
    assert list(order) == [10, 20]
