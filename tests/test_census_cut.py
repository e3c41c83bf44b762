"""scripts/census_cut.py: the empirical cut, the longest shared run of intervals, and the points a match
lacks for the cut, on hand-made cases with known answers."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import census_cut as census  # noqa: E402


def test_cut_is_the_negative_at_one_percent():
    evalues = np.linspace(10.0, 0.1, 200)          # floor(1% of 200) = 2: the third smallest
    assert census.cut_of(evalues) == pytest.approx(np.sort(evalues)[2])
    assert census.cut_of([5.0, 0.3, 2.0]) == 0.3  # fewer than 100 negatives: the smallest


def _plain_run(a, b):
    """Reference: every pair of start positions, extended while the intervals agree."""
    ia, ib = np.diff(a), np.diff(b)
    best = 0
    for i in range(len(ia)):
        for j in range(len(ib)):
            k = 0
            while i + k < len(ia) and j + k < len(ib) and ia[i + k] == ib[j + k]:
                k += 1
            best = max(best, k)
    return best + 1 if best else 0


def test_longest_shared_run_transposed_with_one_change():
    phrase = [60, 62, 64, 65, 67, 65, 64, 62, 60]
    varied = [p + 5 for p in phrase]
    varied[4] += 1                   # one changed note splits the run: 4 notes (3 intervals) on either side
    assert census.longest_shared_run([50, 51] + phrase, varied + [90]) == 4
    assert census.longest_shared_run(phrase, [p - 3 for p in phrase]) == len(phrase)
    assert census.longest_shared_run([60, 60], [70, 72]) == 0


def test_longest_shared_run_agrees_with_the_plain_reference(rng):
    for _ in range(30):
        a = rng.integers(60, 66, rng.integers(2, 25))
        b = rng.integers(60, 66, rng.integers(2, 25))
        assert census.longest_shared_run(a, b) == _plain_run(a, b)


def test_points_short_is_what_the_gumbel_law_asks_without_a_tail_bound():
    lam, log_k, log_space, n_refs, cut = 0.1, np.log(0.035), np.log(40 * 120), 1000, 0.3
    z_cut = -np.log(-np.log1p(-cut / n_refs))        # E = N (1 - exp(-exp(-z))) = cut
    needed = (z_cut + log_k + log_space) / lam
    no_tail = np.array([])                            # too few null scores: no tail bound
    short = census.points_short(needed - 12.5, lam, log_k, log_space, no_tail, n_refs, cut)
    assert short == pytest.approx(12.5, abs=1e-6)
    assert census.points_short(needed + 1.0, lam, log_k, log_space, no_tail, n_refs, cut) == 0.0


def test_points_short_counts_the_tail_bound(rng):
    lam, log_k, log_space, n_refs, cut = 0.1, np.log(0.035), np.log(40 * 120), 1000, 0.3
    heavy = rng.exponential(3.0, 300)                # a null sample whose reduced scores have a heavy tail
    free = census.points_short(80.0, lam, log_k, log_space, np.array([]), n_refs, cut)
    bounded = census.points_short(80.0, lam, log_k, log_space, heavy, n_refs, cut)
    assert bounded > free > 0.0


def test_pair_kinds_reads_how_the_phrase_was_paired():
    # reference phrase 60 62 64 65 67, transposed +3 in the query at notes 2-6, with one note changed (68 for
    # 67) and one far off (81 for 68); pairs 0-1 lie in the query's context
    query = np.array([50, 52, 63, 65, 68, 81, 70])
    ref = np.array([40, 49, 60, 62, 64, 65, 67])
    pairs = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 5), (6, 6)]
    k = census.pair_kinds(query, ref, pairs, 3, range(2, 7))
    assert k == {"exact": 4, "octave": 0, "near": 0, "far": 0, "unaligned": 1, "context": 2}   # 68 paired with 65
    pairs = [(2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]
    k = census.pair_kinds(query, ref, pairs, 3, range(2, 7))
    assert (k["exact"], k["near"], k["far"], k["unaligned"]) == (3, 1, 1, 0)   # 68 against 64 + 3: a step; 81 far
    k = census.pair_kinds(query + np.array([0, 0, 12, 0, 0, 0, 0]), ref, pairs, 3, range(2, 7))
    assert (k["exact"], k["octave"]) == (2, 1)


def test_step_kinds_and_notes_within():
    assert census.step_kinds([60, 60, 62, 65, 72, 71]) == (1, 2, 1, 1)
    notes = np.zeros(4, dtype=[("onset", "f8")])
    notes["onset"] = [0.0, 1.0, 2.0, 3.0]
    assert census.notes_within(notes, [1.0, 3.0]).tolist() == [1, 2]


def test_same_beat_share_skips_unknown_beats():
    q = np.array([0.0, 1.0, np.nan, 3.0])
    r = np.array([0.0, 2.0, 2.0, 3.0])
    assert census.same_beat_share([(0, 0), (1, 1), (2, 2), (3, 3)], q, r) == pytest.approx(2 / 3)
    assert np.isnan(census.same_beat_share([(2, 2)], q, r))


def _detail():
    """A hand-made `rescore_views` detail of one candidate read two ways: view 0's restated combined score 95
    (100 before the restatement map), its null fit lambda 0.1 / log K -3, search space e^7, 2 scatter points,
    the tail bound taking 0.5 off its z; view 1 scores z 6 and counts, with the factor 1.5 for the better of two."""
    return {"cand": np.array([7]), "z": np.array([[5.0], [6.0]]), "untailed": np.array([[5.5], [6.0]]),
            "scores": np.array([[100.0], [110.0]]), "log_space": np.array([[7.0], [7.0]]),
            "scatter": np.array([[2.0], [0.0]]), "statements": np.array([1.25, 1.0]),
            "fit": [(0.1, -3.0), (0.1, -2.0)], "factor": np.array([1.5]), "agree": 1.0, "whole": [False, False]}


def test_corrections_are_each_correction_as_a_factor_on_the_evalue():
    from melody.score import rescore
    parts = census.corrections(_detail(), 0)
    assert parts["view"] == 1 and parts["views"] == pytest.approx(1.5)
    assert parts["view_gain"] == pytest.approx(np.exp(-1.0))
    assert parts["restatement"] == pytest.approx(np.exp(0.5))     # 100 -> 95 at lambda 0.1
    assert parts["tail"] == pytest.approx(np.exp(0.5))
    assert parts["scatter"] == pytest.approx(np.exp(0.2))
    prior_z = rescore.LAMBDA_RESCORE * 95.0 - np.log(rescore.K_RESCORE) - 7.0 - 0.5
    assert parts["fit"] == pytest.approx(np.exp(prior_z - 5.0))


def test_evalues_if_takes_one_correction_off():
    detail, n = _detail(), 1000
    assert census.evalues_if(detail, n)[0] == pytest.approx(n * -np.expm1(-1.5 * np.exp(-6.0)))
    assert census.evalues_if(detail, n, "no views factor")[0] == pytest.approx(n * -np.expm1(-np.exp(-6.0)))
    assert census.evalues_if(detail, n, "as written only")[0] == pytest.approx(n * -np.expm1(-np.exp(-5.0)))
    # view 0 without its restatement (z 5.5) or tail bound (5.5) still loses to view 1's 6.0
    assert census.evalues_if(detail, n, "no restatement")[0] == pytest.approx(census.evalues_if(detail, n)[0])
    detail["z"][1] = detail["untailed"][1] = 4.0      # view 0 counts: untailed (5.5) without the bound
    assert census.evalues_if(detail, n, "no tail bound")[0] == pytest.approx(n * -np.expm1(-1.5 * np.exp(-5.5)))
