"""scripts/census_vary.py: the mechanism rules and the score a match needs for the cut, on cases with known
answers."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import census_vary as census  # noqa: E402


def test_a_miss_is_a_competitor_a_split_phrase_or_a_weak_match():
    assert census.mechanism(None, None) == "competitor"         # not in the top 10
    assert census.mechanism(3, 0.95) == "competitor"            # another tune ranks above, however well covered
    assert census.mechanism(1, 0.3) == "split"                  # first, but only part of the phrase is aligned
    assert census.mechanism(1, census.SPLIT_IOU) == "weak"      # first and covered: it scores too low
    assert census.mechanism(1, None) == "split"


def test_needed_score_gives_the_cut_under_the_gumbel_law():
    # E = N (1 - exp(-K m n exp(-lambda S))); with location (ln K + ln m n) / lambda and scale 1 / lambda the
    # needed score's E-value is the cut, up to the tail approximation 1 - exp(-x) ~ x
    lam, log_kmn, n_refs, cut = 0.1, np.log(0.03 * 40 * 90), 1000, 0.3
    s = census.needed_score(log_kmn / lam, 1 / lam, n_refs, cut)
    e = n_refs * -np.expm1(-np.exp(log_kmn - lam * s))
    assert e == pytest.approx(cut, rel=1e-3)
    assert census.needed_score(40.0, 9.0, n_refs, cut) > census.needed_score(40.0, 9.0, n_refs, 10 * cut)
