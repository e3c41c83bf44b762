"""Stage 2's cost per aligned pair (melody.align.PAIR_COST): every pair the pitch alignment aligns pays it,
so a loose alignment that runs on through phrase and context pays for its length, and an exact copy pays
once per note. Scores are compared with the same parameters less the cost (the pair scores before it)."""
from __future__ import annotations

import numpy as np
import pytest

from melody import align
from melody.align import pitch as PK
from melody.catalog.packed import pack_melodies
from melody.notes import Melody, make_notes
from melody.represent import features
from melody.score import rescore

PAIR_SCORES = [PK.P_MATCH, PK.P_OCTAVE, PK.P_NEAR, PK.P_MISMATCH]
SCALE = np.array([0, 2, 4, 5, 7, 9, 11])


def _tune(pitches, iois) -> Melody:
    iois = np.asarray(iois, dtype="f8")
    beats = np.round(np.cumsum(np.concatenate([[0.0], iois[:-1] * 2])) % 4, 3)
    onsets = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    return Melody(make_notes(onsets, iois, np.asarray(pitches), np.ones(len(pitches), dtype=int), beats))


def _walk(rng, n: int) -> np.ndarray:
    """A diatonic melody of n notes in C: steps and small leaps, kept within two octaves."""
    degree = [int(rng.integers(7, 14))]
    for _ in range(n - 1):
        degree.append(int(np.clip(degree[-1] + rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3]), 3, 18)))
    degree = np.array(degree)
    return 48 + 12 * (degree // 7) + SCALE[degree % 7]


def _combined(query: Melody, refs: list[Melody], params) -> np.ndarray:
    """Stage 1 + stage 2 scores of the query against refs, as the re-scoring combines them."""
    packed = pack_melodies(refs)
    qf = features(query)
    s1 = align.search(qf, (packed.interval, packed.length, packed.weight, packed.metric), packed.step_offsets)
    s2 = rescore.pitch_scores(query.notes["pitch"], qf, packed, rescore.pitches(packed), np.arange(len(refs)),
                              params)
    return s1 + s2


def _without_cost() -> np.ndarray:
    params = np.array(align.DEFAULT_PITCH_PARAMS)
    params[PAIR_SCORES] += align.PAIR_COST
    return params


def test_the_four_pair_scores_keep_their_differences():
    # the cost moves every pitch outcome alike: which pair is better than which is unchanged
    free = _without_cost()
    assert align.PAIR_COST > 0
    assert free[PK.P_MATCH] - free[PK.P_OCTAVE] == pytest.approx(1.0)
    assert free[PK.P_MATCH] - free[PK.P_MISMATCH] == pytest.approx(4.5)
    assert free[PK.P_NEAR] - free[PK.P_MISMATCH] == pytest.approx(1.0)


def test_an_exact_copy_pays_the_cost_once_per_aligned_note(rng):
    # cells pair the arrival notes of two steps (melody.align.pitch): a copy of n notes aligns n - 1 pairs
    n = 12
    qp = _walk(rng, n)
    iois = rng.choice([0.25, 0.5, 0.5, 1.0], n)
    query = _tune(qp, iois)
    # the copy, a fourth higher, between notes a tritone and more away from anything in it
    ref = _tune(np.concatenate([[30, 31, 30], qp + 5, [100, 101]]), np.concatenate([[1, 1, 1], iois, [1, 1]]))
    paid, free = _combined(query, [ref], None)[0], _combined(query, [ref], _without_cost())[0]
    assert free - paid == pytest.approx((n - 1) * align.PAIR_COST)


def test_a_loose_partner_pays_for_its_length_more_than_an_exact_copy():
    # rank23's "loose" cause: a chance partner aligned over the whole query, every second note a step off
    # in the same rhythm, against an exact 8-note copy of the query's phrase amid other notes
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n = 30
        qp = _walk(rng, n)
        iois = rng.choice([0.5, 0.5, 0.5, 1.0, 1.0, 0.25, 0.25, 1.5], n) / 2
        copy_p, copy_i = _walk(rng, 40), rng.choice([0.5, 0.5, 1.0, 0.25, 1.5], 40) / 2
        copy_p[15:23], copy_i[15:23] = qp[10:18] + 3, iois[10:18]
        loose_p = qp + 3
        loose_p[1::2] += rng.choice([-2, -1, 1, 2], len(loose_p[1::2]))
        refs = [_tune(copy_p, copy_i), _tune(loose_p, iois)]
        paid = _combined(_tune(qp, iois), refs, None)
        free = _combined(_tune(qp, iois), refs, _without_cost())
        lost_copy, lost_loose = free - paid
        assert lost_copy > 0
        assert lost_loose > lost_copy
