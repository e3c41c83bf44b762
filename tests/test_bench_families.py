"""The tune-family benchmark's metrics (scripts/bench_families.py): average precision, and the per-query
rows its JSON lists for failure analysis."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench_families  # noqa: E402

from melody import Melody, make_notes  # noqa: E402


def test_average_precision_textbook_values():
    assert bench_families.average_precision(np.array([1.0, 0.0, 1.0])) == pytest.approx((1 + 2 / 3) / 2)
    assert bench_families.average_precision(np.array([0.0, 1.0])) == pytest.approx(0.5)
    assert bench_families.average_precision(np.array([0.0, 0.0])) == 0.0


def _variant(rng, tune, family, k):
    pitch = np.array(tune, dtype=float)
    pitch[rng.integers(len(pitch))] += rng.choice([-2, 2])          # one changed note per variant
    dur = np.full(len(pitch), 0.5)
    onset = np.arange(len(pitch)) * 0.5
    return Melody(make_notes(onset, dur, pitch + rng.integers(-3, 4)), title=f"{family}-{k}",
                  meta={"family": family})


def test_per_query_rows_agree_with_the_summary(tmp_path):
    rng = np.random.default_rng(3)
    melodies = []
    for family in ("a", "b", "c"):
        tune = 60 + np.cumsum(rng.integers(-4, 5, size=24))
        melodies += [_variant(rng, tune, family, k) for k in range(3)]
    res = bench_families.evaluate(melodies, str(tmp_path))
    rows = res["queries"]
    assert len(rows) == len(melodies)
    assert [r["AP"] for r in rows] == sorted(r["AP"] for r in rows)            # worst first
    assert np.mean([r["AP"] for r in rows]) == pytest.approx(res["MAP"])
    assert np.mean([r["own_family_rank"] == 1 for r in rows]) == pytest.approx(res["top1"])
    assert all((r["first_family"] == r["family"]) == (r["own_family_rank"] == 1) for r in rows)
    assert res["top1"] == 1.0      # variants with one changed note find their own family first
