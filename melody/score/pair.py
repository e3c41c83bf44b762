"""Significance of the best shared passage of one pair of melodies, as a search would judge it.

`Catalog.search` ranks by stage 2 (`melody.score.rescore`): the interval alignment's score plus the
transposed absolute-pitch alignment's, ``S = S_interval + S_pitch``, whose null is the Gumbel law
``P(S >= x) = 1 - exp(-K m n exp(-lambda x))``. For one pair there is no catalog to fit the query's own
lambda and K on, so the calibrated constants LAMBDA_RESCORE and K_RESCORE are used: they are what the
per-query fit shrinks towards, the medians of per-query fits over unrelated corpus melodies. The pair's
E-value is then the search's E-value divided by the catalog's size, up to the query's own fit. Two
passages (at most rescore.PASSAGE_MAX steps each) are read whole, as a search reads them (`best_evalue`).

`melody compare` finds further passages by Waterman-Eggert (the cells of the passages before masked); the
pitch alignment cannot be masked, so a further passage's pitch score is that of its own notes against
each other (`passage_pitch_score`), with the whole pair's search space in the null.

Stage 1's Gumbel model alone (LAMBDA, K_GLOBAL, `significance.evalues` without a tail sample) was the
pair model before: on unrelated pairs of tunes of different corpora it is liberal, a chance passage of
common idioms scores as if it were rare (BENCHMARKS.md, "Tenth session: compare's significance").
"""
from __future__ import annotations

import numpy as np

from .. import align
from ..notes import Melody
from ..represent import Features, features
from . import rescore


def pitch_score(a: Melody, b: Melody, fa: Features, fb: Features, params=None) -> float:
    """Stage 2's pitch-alignment score of melody a (features fa) against melody b (features fb); without the
    scale-degree reading where either is a recording, as a search scores it (`rescore.recording_params`)."""
    if len(fa) == 0 or len(fb) == 0:
        return 0.0
    params = rescore.recording_params(a, params, recorded=b.meta.get("kind") == "audio")
    steps = (rescore.query_pitches(b), fb.interval, fb.length, fb.weight, fb.metric_or_unknown())
    return float(align.pitch_search(rescore.tuned_pitches(a), fa, steps, np.array([0, len(b.notes)]),
                                    np.array([0, len(fb)]), np.array([0]), params, workers=1)[0])


def scatter_points(a: Melody, b: Melody, fa: Features, fb: Features) -> float:
    """What a search's local view takes off the pair's combined score for the pairs of stage 1's path that
    scatter in the bar (`rescore.METRIC_SCATTER`, `rescore.offset_scatter`)."""
    if not rescore.METRIC_SCATTER:
        return 0.0
    return rescore.METRIC_SCATTER * rescore.path_scatter(a, fa, b.notes["beat"], fb)


def passage_pitch_score(a: Melody, b: Melody, query_notes, reference_notes, params=None) -> float:
    """Stage 2's pitch-alignment score of one passage: a's notes query_notes [first, last] against b's
    reference_notes [first, last] (a further Waterman-Eggert passage, whose cells the whole pair's pitch
    alignment cannot be kept off). `a` and `b` as aligned (beats guessed where there were none)."""
    sub_a = Melody(a.notes[query_notes[0]:query_notes[1] + 1], a.title, source=a.source, meta=a.meta)
    sub_b = Melody(b.notes[reference_notes[0]:reference_notes[1] + 1], b.title, source=b.source, meta=b.meta)
    if len(sub_a.notes) < 2 or len(sub_b.notes) < 2:
        return 0.0
    return pitch_score(sub_a, sub_b, features(sub_a), features(sub_b), params)


def best_evalue(a: Melody, b: Melody, fa: Features, fb: Features, interval_score: float,
                one_reading: bool = True) -> float:
    """The pair's E-value as `Catalog.search` would give it (divided by the catalog's size): stage 1's
    interval score plus the local pitch alignment's, under the local null (`combined_evalue`); when both
    melodies are passages (at most rescore.PASSAGE_MAX steps), aligned whole instead, under the passage
    view's null (LAMBDA_WHOLE, K_WHOLE, no length correction), as a search compares a query read one way
    with the catalog's passages. `one_reading` False (a recording, read as transcribed and with repeated
    notes merged): two passages are read both ways, the better view counting twice (Bonferroni: one pair
    gives no null rows to measure how the views depend on each other, as `rescore.rescore_views` does
    with too few)."""
    passages = 0 < len(fa) <= rescore.PASSAGE_MAX and 0 < len(fb) <= rescore.PASSAGE_MAX
    z, views = -np.inf, 0
    if not (passages and one_reading):
        local = interval_score + pitch_score(a, b, fa, fb) - scatter_points(a, b, fa, fb)
        z, views = _reduced(local, len(fa), len(fb)), 1
    if passages:
        whole = interval_score + pitch_score(a, b, fa, fb, rescore.whole_params())
        z, views = max(z, rescore.LAMBDA_WHOLE * whole - np.log(rescore.K_WHOLE)), views + 1
    return float(-np.expm1(-views * np.exp(-z)))


def _reduced(score: float, m: int, n: int) -> float:
    """lambda S - ln(K m n) under stage 2's local null (standard Gumbel for unrelated melodies)."""
    space = rescore.search_space(m, np.array([n]))[0]
    return float(rescore.LAMBDA_RESCORE * score - np.log(rescore.K_RESCORE) - np.log(space))


def combined_evalue(score: float, m: int, n: int) -> float:
    """P(S >= score) for one pair of m and n steps under stage 2's calibrated null (the pair's E-value)."""
    return float(-np.expm1(-np.exp(-_reduced(score, m, n))))
