"""Stage 2's null sample drawn from the query's own kind (`rescore.style_sample`)."""
from __future__ import annotations

import numpy as np
import pytest

from melody.catalog.packed import pack, pack_melodies
from melody.notes import NOTE_DTYPE, make_notes
from melody.represent import features
from melody.score import rescore


def _stepwise_even(rng, n=32):
    """A reel-like line: even notes moving by steps."""
    pitch = 67 + np.cumsum(rng.choice([-2, -1, 1, 2], size=n))
    return make_notes(np.arange(n) * 0.25, np.full(n, 0.25), pitch)


def _leaping_dotted(rng, n=32):
    """Another kind: leaps of a fourth or more, dotted long-short rhythm."""
    pitch = 60 + np.cumsum(rng.choice([-7, -5, 5, 7], size=n)) % 24
    length = np.tile([0.75, 0.25], n // 2)
    return make_notes(np.concatenate([[0.0], np.cumsum(length[:-1])]), length, pitch)


def _catalog(rng, kinds):
    melodies = [(_stepwise_even if k == 0 else _leaping_dotted)(rng) for k in kinds]
    notes = np.concatenate(melodies).astype(NOTE_DTYPE)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in melodies])]).astype(np.int64)
    return pack([None] * len(melodies), notes, offsets)


def test_style_histograms_count_intervals_and_length_ratios_each_summing_to_one():
    h = rescore.style_histograms(np.array([2.0, -2.0, 30.0, 0.0]), np.array([0.0, 1.0, -1.0, 9.0]),
                                 np.array([0, 3, 4, 4]))
    assert h.shape == (3, 38)
    assert np.allclose(h[0, :25].sum(), 1) and np.allclose(h[0, 25:].sum(), 1)
    assert np.isclose(h[0, 12 + 2], 1 / 3) and np.isclose(h[0, 24], 1 / 3)        # 30 semitones clipped to 12
    assert np.isclose(h[0, 25 + 6 + 2], 1 / 3) and np.isclose(h[1, 25 + 12], 1)   # length 9 clipped to 3
    assert h[2].sum() == 0                                                           # no steps


def test_the_null_sample_of_a_query_is_drawn_from_melodies_of_its_kind():
    rng = np.random.default_rng(3)
    kinds = rng.permutation(np.repeat([0, 1], 400))            # a mixed catalog, half of each kind
    packed = _catalog(rng, kinds)
    for kind, make in ((0, _stepwise_even), (1, _leaping_dotted)):
        qf = features(_as_melody(make(rng)))
        rows = rescore.style_sample(qf, packed, size=300)
        assert len(rows) == 300 and np.all(np.diff(rows) > 0)
        assert np.mean(kinds[rows] == kind) > 0.95                 # a random draw: ~0.5
    assert "style" in packed.derived                               # histograms cached per catalog


def test_small_and_very_large_catalogs_keep_the_fixed_random_sample(monkeypatch):
    rng = np.random.default_rng(4)
    packed = _catalog(rng, np.repeat([0, 1], 200))
    qf = features(_as_melody(_stepwise_even(rng)))
    assert np.array_equal(rescore.style_sample(qf, packed, size=500), np.arange(400))   # all rows
    monkeypatch.setattr(rescore, "STYLE_MAX", 300)
    assert np.array_equal(rescore.style_sample(qf, packed, size=100), rescore.null_sample(400, 100))


def _as_melody(notes):
    from melody.notes import Melody
    return Melody(notes, "q")


def test_calibration_draws_each_querys_null_as_search_does():
    """scripts/calibrate.py --rescore fits stage 2's prior (LAMBDA_RESCORE, K_RESCORE) on null samples drawn as
    search draws them: the query's NULL_SAMPLE nearest references in style, the same rows `style_sample` picks
    in a catalog of those references; --null random keeps the old random draw."""
    import os
    import sys
    from melody.notes import Melody
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
    import calibrate

    rng = np.random.default_rng(5)
    kinds = rng.permutation(np.repeat([0, 1], 400))
    refs = [Melody((_stepwise_even if k == 0 else _leaping_dotted)(rng), f"r{i}") for i, k in enumerate(kinds)]
    query = _as_melody(_leaping_dotted(rng))
    picked = calibrate.null_picker(refs, "style", rng)(query)
    want = rescore.style_sample(features(query), pack_melodies(refs))
    assert np.array_equal(picked, want)
    assert np.mean(kinds[picked] == 1) > 0.95
    drawn = calibrate.null_picker(refs, "random", rng)(query)
    assert len(drawn) == rescore.NULL_SAMPLE and 0.3 < np.mean(kinds[drawn] == 1) < 0.7


def test_a_null_sample_of_the_querys_own_kind_moves_the_fit_a_third_of_the_way_to_its_tail(monkeypatch):
    """A null sample drawn from the query's own kind is trusted more than the random-drawn prior
    (STYLE_PRIOR_WEIGHT 150 against 300 scores: lambda moves a third of the way, not a fifth as with 500):
    an Irish reel's chance partners, reels sharing its stock figures, score higher than the prior's mixed
    sample, and its matches count less (BENCHMARKS.md, "Eleventh session")."""
    rng = np.random.default_rng(7)
    m, n, lam_true, k_true = 40, 60, 0.06, 3 * rescore.K_RESCORE
    scores = (np.log(k_true * m * n) - np.log(-np.log(rng.random(300)))) / lam_true
    space = np.full(300, float(m * n))
    lam, log_k = rescore.fit_null(scores, space, weight=rescore.STYLE_PRIOR_WEIGHT)
    own = 2 * rescore.fit_null(scores, space, weight=0.0)[0] - rescore.LAMBDA_RESCORE    # the query's own
    assert own < lam < rescore.LAMBDA_RESCORE
    assert (rescore.LAMBDA_RESCORE - lam) / (rescore.LAMBDA_RESCORE - own) > 0.3
    assert np.exp(log_k) > 2 * rescore.K_RESCORE                          # its chance scores are higher
    assert rescore.fit_null(scores, space)[0] > lam                       # the plain weight trusts it less


@pytest.mark.parametrize("n_refs, want", [(400, "style"), (120, "plain")])
def test_search_trusts_only_a_null_sample_drawn_from_the_querys_kind_more(monkeypatch, n_refs, want):
    """rescore_views fits the null with STYLE_PRIOR_WEIGHT where the sample is `style_sample`'s, and with
    PRIOR_WEIGHT where a small catalog is its own null (so `query` there stays as close to `compare`, which
    has only the prior, as before)."""
    from melody import align
    rng = np.random.default_rng(n_refs)
    packed = _catalog(rng, rng.integers(0, 2, n_refs))
    query = _as_melody(_stepwise_even(rng))
    qf = features(query)
    s1 = align.search(qf, (packed.interval, packed.length, packed.weight, packed.metric), packed.step_offsets)
    seen = []
    real = rescore.fit_null
    monkeypatch.setattr(rescore, "fit_null", lambda *a, **k: seen.append(a[3]) or real(*a, **k))
    rescore.rescore_views([rescore.View(query, qf, packed, s1, np.full(n_refs, float(n_refs)))], sample=300)
    expect = rescore.STYLE_PRIOR_WEIGHT if want == "style" else rescore.PRIOR_WEIGHT
    assert seen and all(w == expect for w in seen)


def _two_views(n_refs=400):
    """Two readings of one query that disagree (stepwise even, leaping dotted), each with its stage-1 scores
    against a catalog of n_refs random tunes: what `rescore_views` ranks."""
    from melody import align
    rng = np.random.default_rng(11)
    packed = _catalog(rng, rng.integers(0, 2, n_refs))
    views = []
    for notes in (_stepwise_even(rng), _leaping_dotted(rng)):
        query = _as_melody(notes)
        qf = features(query)
        s1 = align.search(qf, (packed.interval, packed.length, packed.weight, packed.metric), packed.step_offsets)
        views.append(rescore.View(query, qf, packed, s1, np.full(n_refs, float(n_refs))))
    return views


def test_rescore_views_reports_each_views_reduced_scores_behind_the_evalues():
    """``detail`` holds, per re-scored row, each view's reduced score; the E-value is the best view's with the
    factor for taking the best, and a row's best view is the one the census reads (scripts/rank_loss.py)."""
    n_refs = 400
    views = _two_views(n_refs)
    detail = {}
    order, ev, _ = rescore.rescore_views(views, sample=300, detail=detail)
    cand, z = detail["cand"], detail["z"]
    assert z.shape == (2, len(cand)) and detail["whole"] == [False, False]
    assert np.allclose(ev[cand], n_refs * -np.expm1(-detail["factor"] * np.exp(-z.max(axis=0))))
    assert set(order[:len(cand)]) == set(cand)                     # re-scored rows rank first
    assert (np.argmax(z, axis=0) == 0).any() and (np.argmax(z, axis=0) == 1).any()   # each view decides some


def _view(reading=False, whole=False):
    return rescore.View(None, None, None, np.zeros(2), np.zeros(2), whole=whole, reading=reading)


def test_a_recordings_two_readings_must_agree_a_passage_view_still_counts_alone(rng):
    """The true tune at z 5.4 and 5.8 in a recording's two readings, a chance partner at 0.8 and 5.9 (bench_audio's
    s0000 on seed 1): as two readings the true tune's combination is the higher, and agreeing readings thin the
    null's tail (factor under 1); as unrelated views (a swung MIDI file read straight) the better view decides."""
    z = np.array([[5.4, 0.8], [5.8, 5.9]])
    z_null = rng.gumbel(size=(2, 300))
    stat, agree = rescore._readings_statistic([_view(), _view(reading=True)], z, z_null)
    assert np.argmax(stat) == 0 and 0 < agree < 1
    a = rescore.READINGS_AGREE
    assert np.allclose(stat, (1 - a) * z.max(axis=0) + a * z.min(axis=0))
    stat, agree = rescore._readings_statistic([_view(), _view()], z, z_null)
    assert np.argmax(stat) == 1 and agree == 1.0
    whole = np.vstack([z, [[-np.inf, 9.0]]])
    stat, _ = rescore._readings_statistic([_view(), _view(reading=True), _view(whole=True)], whole,
                                          np.vstack([z_null, rng.gumbel(size=(1, 300))]))
    assert stat[1] == 9.0 and stat[0] == pytest.approx((1 - a) * 5.8 + a * 5.4)


def test_agreement_factor_is_views_factor_for_the_max_and_smaller_for_agreement(rng):
    independent = rng.gumbel(size=(2, 20000))
    assert rescore.agreement_factor(independent, 0.0) == pytest.approx(rescore.views_factor(independent))
    assert rescore.agreement_factor(independent, 0.5) < 1.0 < rescore.agreement_factor(independent, 0.0)
    same = np.vstack([independent[0], independent[0]])
    assert rescore.agreement_factor(same, 0.5) == pytest.approx(1.0)      # readings that always agree


def test_rescore_views_detail_holds_what_each_correction_did():
    """The detail's per-view parts (scores after the scatter charge, statements, the fit, the search space, z
    before the tail bound) give back the reduced scores search ranked by; scripts/census_cut.py --corrections
    reads each correction off them, and with none taken off gets the search's own E-values."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
    import census_cut
    n_refs = 400
    views = _two_views(n_refs)
    detail = {}
    _, ev, _ = rescore.rescore_views(views, sample=300, detail=detail)
    cand = detail["cand"]
    for k in range(2):
        lam, log_k = detail["fit"][k]
        assert detail["statements"][k] >= 1.0
        assert np.allclose(detail["scores"][k], _combined(views[k], views[k].packed, cand) - detail["scatter"][k])
        assert np.all(detail["untailed"][k] >= detail["z"][k] - 1e-9)      # the tail bound only lowers z
        if detail["statements"][k] == 1.0:
            assert np.allclose(detail["untailed"][k], lam * detail["scores"][k] - log_k - detail["log_space"][k])
    assert np.allclose(census_cut.evalues_if(detail, n_refs), ev[cand])
    assert np.all(census_cut.evalues_if(detail, n_refs, "no views factor") <= ev[cand] + 1e-12)


def _combined(view, packed, rows):
    """S_interval + S_pitch of the rows, as stage 2 scores them before any correction."""
    qp = rescore.tuned_pitches(view.query)
    return view.s1[rows] + rescore.pitch_scores(qp, view.qf, packed, rescore.pitches(packed), rows)
