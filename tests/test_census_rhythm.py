"""scripts/census_rhythm.py: rhythm distances of aligned steps, read as the kernels read them, and their
log-odds per band."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import census_rhythm as C  # noqa: E402
from melody.align import kernels as K  # noqa: E402


def test_the_distance_is_the_one_the_rhythm_score_charges(rng):
    """Within the tolerance the kernel pays the match, past it the charge of exactly that distance."""
    free = 0.2345
    for _ in range(200):
        lq, lr = rng.uniform(-2, 2, 5), rng.uniform(-2, 2, 5)
        i, j = rng.integers(0, 5, 2)
        d = C.rhythm_distance(lq, lr, i, j)
        got = K._rhythm_score(lq[i], lq[i - 1] if i else K.NONE, lr[j], lr[j - 1] if j else K.NONE, 1.2, 2.0, free, 0.0)
        assert got == (1.2 if d <= free else pytest.approx(-2.0 * (1 - 2 ** -d)))


def test_a_doubled_length_is_one_octave_apart_unless_the_step_before_doubled_too():
    lq, lr = np.log2([1.0, 1.0, 2.0]), np.log2([1.0, 1.0, 1.0])
    assert C.rhythm_distance(lq, lr, 2, 2) == 1.0
    lr = np.log2([1.0, 0.5, 1.0])
    assert C.rhythm_distance(lq, lr, 2, 2) == 0.0      # both double their step before


def test_bands_share_out_every_step_and_read_log_odds():
    related = np.array([0.0, 0.0, 0.0, 1.0])
    chance = np.array([0.0, 1.0, 1.0, 1.0])
    rows = C.table(related, chance)
    assert sum(a for _, a, _, _ in rows) == pytest.approx(1.0) and sum(b for _, _, b, _ in rows) == pytest.approx(1.0)
    assert rows[0][3] == pytest.approx(np.log2(0.75 / 0.25))
    one = next(r for r in rows if r[0].startswith("0.90"))
    assert one[3] == pytest.approx(np.log2(0.25 / 0.75))
