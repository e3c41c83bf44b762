"""A played melody's rhythm graded by how far a length ratio lies past the tolerance (`kernels._rhythm_score`
with DUR_FADE / P_DUR_FADE, `pitch._same_change`), and which queries get it (`melody.score.rescore.played_params`)."""
from __future__ import annotations

import numpy as np
import pytest

from melody import align
from melody.align import kernels as K
from melody.align import pitch as PK
from melody.notes import Melody, make_notes
from melody.represent import features
from melody.score import pair, rescore

FREE = -np.log2(1 - align.DEFAULT_PITCH_PARAMS[PK.P_DUR_FREE])


def ref_graded(dl, fade, match=1.2, pen=2.0, free=FREE):
    """Plain reading: full credit within `free` (log2), the penalty -pen (1 - 2^-dl) from free + fade on,
    a linear mix of the two in between."""
    if dl <= free:
        return match
    penalty = -pen * (1 - 2.0 ** -dl)
    if dl >= free + fade:
        return penalty
    g = (free + fade - dl) / fade
    return g * match + (1 - g) * penalty


def test_graded_rhythm_without_a_fade_is_the_yes_no_tolerance(rng):
    for _ in range(500):
        lq, lqp, lr, lrp = rng.uniform(-3, 3, 4)
        if rng.random() < 0.2:
            lqp = K.NONE
        dl = abs(lq - lr) if lqp == K.NONE else min(abs(lq - lr), abs((lq - lqp) - (lr - lrp)))
        want = 1.2 if dl <= FREE else -2.0 * (1 - 2.0 ** -dl)
        assert K._rhythm_score(lq, lqp, lr, lrp, 1.2, 2.0, FREE, 0.0) == pytest.approx(want)


@pytest.mark.parametrize("fade", [0.1, 0.3, 0.7])
def test_graded_rhythm_matches_a_plain_reading(rng, fade):
    for _ in range(500):
        lq, lqp, lr, lrp = rng.uniform(-2, 2, 4)
        dl = min(abs(lq - lr), abs((lq - lqp) - (lr - lrp)))
        assert K._rhythm_score(lq, lqp, lr, lrp, 1.2, 2.0, FREE, fade) == pytest.approx(ref_graded(dl, fade))


def test_a_ratio_past_the_tolerance_loses_its_credit_gradually():
    """No step in the credit at the tolerance's edge: it falls continuously, never rises with the distance,
    and reaches the mismatch charge at the end of the fade."""
    d = np.linspace(0, 1.5, 301)
    got = np.array([K._rhythm_score(x, K.NONE, 0.0, K.NONE, 1.2, 2.0, FREE, 0.3) for x in d])
    assert np.all(np.diff(got) <= 1e-12)
    assert np.max(np.abs(np.diff(got))) < 0.05        # 0.005 log2 apart: no jump (the yes/no rule jumps 1.5)
    assert got[-1] == pytest.approx(-2.0 * (1 - 2 ** -1.5))


@pytest.mark.parametrize("fade", [0.0, 0.3])
def test_same_change_is_graded_like_the_rhythm(rng, fade):
    for _ in range(300):
        lq, lqp, lr, lrp = rng.uniform(-2, 2, 4)
        past = abs((lq - lqp) - (lr - lrp)) - FREE
        want = 1.0 if past <= 0 else (max(0.0, 1 - past / fade) if fade else 0.0)
        assert PK._same_change(lq, lqp, lr, lrp, FREE, fade) == pytest.approx(want)
    assert PK._same_change(0.0, K.NONE, 0.0, 0.0, FREE, fade) == 0.0


def melody_of(pitches, iois, bars):
    """A written melody with bars, or one read as played from MIDI (no bars, meta "played")."""
    onset = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    bar = np.ones(len(pitches), dtype=int) if bars else None
    beat = (onset % 2.0) if bars else None
    return Melody(make_notes(onset, iois, pitches, bar, beat), meta={} if bars else {"played": True})


def test_only_a_melody_read_as_played_gets_graded_rhythm():
    written = melody_of([60, 62, 64, 65], [0.5, 0.5, 0.5, 1.0], bars=True)
    played = melody_of([60, 62, 64, 65], [0.52, 0.47, 0.55, 1.0], bars=False)
    assert rescore.played_params(written) == (None, None)
    params, pitch_params = rescore.played_params(played)
    assert params[K.DUR_FADE] == pitch_params[PK.P_DUR_FADE] == rescore.PLAYED_DUR_FADE
    assert params[K.DUR_FREE] == pitch_params[PK.P_DUR_FREE] == rescore.PLAYED_DUR_FREE
    both, p_both = [K.DUR_FREE, K.DUR_FADE], [PK.P_DUR_FREE, PK.P_DUR_FADE]
    assert np.array_equal(np.delete(params, both), np.delete(align.DEFAULT_PARAMS, both))
    assert np.array_equal(np.delete(pitch_params, p_both), np.delete(align.DEFAULT_PITCH_PARAMS, p_both))
    recording = Melody(played.notes, meta={"kind": "audio"})      # not read as played: no graded lengths
    params, pitch_params = rescore.played_params(recording)
    assert params is None and np.array_equal(np.delete(pitch_params, PK.P_DEGREE),
                                             np.delete(align.DEFAULT_PITCH_PARAMS, PK.P_DEGREE))
    unbarred = Melody(played.notes)          # a melody without bars that no reader read as played
    assert rescore.played_params(unbarred) == (None, None)
    given = align.DEFAULT_PITCH_PARAMS.copy()
    assert rescore.played_params(played, pitch_params=given)[1] is given


def test_a_played_copy_aligns_better_with_graded_rhythm(rng):
    """The interval alignment (stage 1) of a played copy, every second length 23-32% long (0.3-0.4 log2),
    against its tune: past the scores' yes/no tolerance (0.234 log2), short of a 3:2 ratio (0.585)."""
    pitches = [67, 69, 71, 72, 71, 69, 67, 65, 64, 65, 67, 72, 71, 69, 67, 65, 64, 62, 60, 64, 67, 72]
    iois = np.array([1, .5, .5, .5, .5, 1, .5, .5, .5, .5, 2, .5, .5, .5, .5, 1, .5, .5, 1, .5, .5, 2])
    off = np.where(np.arange(len(iois)) % 2 == 1, rng.uniform(0.3, 0.4, len(iois)), 0.0)
    ft, fp = features(melody_of(pitches, iois, bars=False)), features(melody_of(pitches, iois * 2.0 ** off, bars=False))
    graded = rescore.played_params(melody_of(pitches, iois * 2.0 ** off, bars=False))[0]
    assert align.local_align(ft, ft, graded).score == pytest.approx(align.local_align(ft, ft).score)
    assert align.local_align(fp, ft, graded).score > align.local_align(fp, ft).score + 2.0


def test_a_played_copy_scores_more_against_its_tune_with_graded_rhythm(rng):
    """A tune played with every second inter-onset interval 23-32% long: graded, the pitch re-scoring keeps part of
    the credit of the pairs the yes/no tolerance refused; the tune against itself scores the same."""
    pitches = [67, 69, 71, 72, 71, 69, 67, 65, 64, 65, 67, 72, 71, 69, 67, 65, 64, 62, 60, 64, 67, 72]
    iois = np.array([1, .5, .5, .5, .5, 1, .5, .5, .5, .5, 2, .5, .5, .5, .5, 1, .5, .5, 1, .5, .5, 2])
    tune = melody_of(pitches, iois, bars=False)
    off = np.where(np.arange(len(iois)) % 2 == 1, rng.uniform(0.3, 0.4, len(iois)), 0.0)
    played = melody_of(pitches, iois * 2.0 ** off, bars=False)
    graded = rescore.played_params(played)[1]
    ft, fp = features(tune), features(played)
    assert pair.pitch_score(tune, tune, ft, ft, graded) == pytest.approx(pair.pitch_score(tune, tune, ft, ft))
    assert pair.pitch_score(played, tune, fp, ft, graded) > pair.pitch_score(played, tune, fp, ft) + 2.0
