"""Second stage of a search: re-score the best candidates with transposed absolute pitch, and say how
significant the combined score is.

The interval alignment (stage 1, `melody.align.search`) is transposition-invariant, but a wrong note spoils
two intervals and a chance match can drift in key. Stage 2 aligns the notes themselves under one
transposition (`melody.align.pitch`): a wrong note costs one note. A candidate's combined score is
``S = S_interval + S_pitch``; it is computed for the RESCORE_TOP best references of stage 1 and, as the null
sample, for NULL_SAMPLE references of the catalog nearest to the query in style, its chance partners of its own
kind (`style_sample`: intervals and length ratios, no corpus labels; in catalogs of STYLE_MAX melodies or
more a fixed random draw per catalog size); a catalog of at most NULL_SAMPLE melodies is re-scored whole
and is its own null sample.

S_pitch includes the longest exactly shared run of steps, once more, at P_EXACT per bit of its information
(`melody.align.pitch._exact_run`): an exact transposed copy of 8 notes is strong evidence, which a longer
loose alignment running on through the surrounding context used to outscore.

S_pitch also counts a hook's further statements (`melody.align.pitch`, P_CHAIN): each further
query-disjoint alignment to the reference adds its score less P_CHAIN, so a song that states a borrowed
hook three times is not outscored by one long loose alignment through its own verses; a further statement
that restates the passage of the reference an earlier one matched costs less (P_RESTATE), since a chance
partner's further pieces land anywhere in the reference.

A borrowed phrase keeps its place in the bar, or is moved against the bar line as a whole; a chance
alignment of stock material pairs notes at scattered places in the two bars. So in the local view every pair
of stage 1's path whose beat offset is not the path's most common one costs METRIC_SCATTER (`metric_scatter`,
`offset_scatter`): a displaced phrase keeps one offset and pays nothing. A query without beats pays nothing.

The null is a Gumbel law with length correction, ``P(S >= x) = 1 - exp(-K m n exp(-lambda x))``, fitted
per query on its null sample (`fit_null`): lambda is the query's own estimate shrunk towards
LAMBDA_RESCORE (the median of per-query fits over unrelated corpus melodies, `scripts/calibrate.py
--rescore`), K its maximum-likelihood value at that lambda with PRIOR_WEIGHT pseudo-observations at
K_RESCORE: a query made of clichés gets a larger K or a smaller lambda, so its matches count less. On
scripts/bench_accuracy.py a free per-query lambda was too noisy (separation at 1% false positives fell to
0.55) and a fixed one separated less well than the halfway shrinkage (0.67 against 0.71). With a random
null sample a prior of 500 pseudo-observations against the 300 null scores separated better than one of 50
on two data seeds (0.75 / 0.73 against 0.72 / 0.69). A null sample of the query's own kind (`style_sample`)
deserves more trust: with STYLE_PRIOR_WEIGHT 150 (lambda moves 0.33 of the way to the query's own, K 0.67)
an Irish dance tune's stock figures flag about half as many catalog tunes (26 -> 12 per query) and
separation holds (0.806 / 0.788 against 0.800 / 0.788). A catalog that is its own null sample, or one too
large for `style_sample`, keeps 500: there the sample is not drawn from the query's kind, and a small
catalog's few scores would pull `query`'s E-values away from `melody compare`'s, which has only the prior
(`melody.score.pair`). The prior refitted on samples of the query's own kind instead
(`scripts/calibrate.py --rescore --null style`: lambda 0.091, K 0.052) made every E-value about three times
larger, separating one positive less on both seeds; see BENCHMARKS.md, "Eleventh session". Small catalogs are their own null sample rather than
shuffled copies of it: shuffled notes lose the stepwise motion of real melodies, which would make chance
pitch matches look rarer than they are. E = N p as in stage 1.

A song restates its material (verses and choruses sung again), and a chance partner of one passage meets its
restatements as well: the hook chain adds them, and one alignment runs on through a restatement in both
songs. Its null sample of 300 rarely holds such a partner, so before the fit a query's combined scores above
its null's (1 - NULL_TAIL_SHARE) quantile are scaled down by how many times it states its material
(`restatement`, `restated`): monotone, so no ranking changes, only the E-values of its best matches rise.

The passage view. Disputes are argued over passages: a few bars of one song against a few bars of the
other. When the query is a passage (at most PASSAGE_MAX steps), its pitch alignment against each of the
catalog's passages (references of at most PASSAGE_MAX steps) is also computed *whole*, from the first note
of both to the last (`melody.align.pitch`, P_WHOLE), as a second view with its own null (`rescore_views`):
a local alignment keeps only the best stretch of a short passage whose changes are spread over all of it
(a mode change and a re-barring, re-set rhythm and an ornament), and a chance partner matches a stretch that
short as well; aligned whole, every note of the two passages is evidence, for or against. The view's
null is a Gumbel law without length correction (one test per pair of passages), LAMBDA_WHOLE and K_WHOLE
fitted on passages of unrelated corpus melodies (`scripts/calibrate.py --rescore --whole`), with the same
per-query shrinkage. A catalog passage's significance for a passage query is the whole view's alone: two
passages are one test of whether they are the same passage, and a local view beside it only added chance
evidence (a stretch of 3-8 notes that unrelated passages in one key share) and a factor for taking the
better of two; on scripts/bench_excerpts.py this ranked 1 / 0 / 0 more counterparts of 40 first (seeds
0 / 1 / 2) and flagged 1 / 0 / 3 more, and queries holding 4 or 8 notes more than their counterpart lost
nothing (BENCHMARKS.md, "Twelfth session"). A recording's two readings keep both views for passages, the
better counting (`views_factor`). Longer references, and queries longer than a passage (a song that
borrows a phrase amid its own material), get the local view alone: there a whole alignment would charge
the borrowing for its context (BENCHMARKS.md, seventh and tenth sessions).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import align
from ..notes import tuning_offset
from ..represent import Features
from . import significance

RESCORE_TOP = 100          # stage-1 candidates re-scored per query
NULL_SAMPLE = 300          # catalog references scored for the null (all of a catalog this small or smaller)
# Refitted whenever stage 2's pair scores change (for align.PAIR_COST; 0.1003 / 0.033261 before, which the same
# command still gives for the old scores). The old prior with the new scores put the true tunes' E-values of
# scripts/bench_accuracy.py a median 2.3x too high in its catalog of 1000 and 3.5-3.9x in its 40-tune dispute
# catalog, whose null is the prior (BENCHMARKS.md, twenty-fourth session). Not refitted for METRIC_SCATTER: the
# charge only lowers scores, so this prior of the uncharged scores is conservative for them and right for a
# query without beats; refitted (0.1203 / 0.02353) it flagged 3 of 165 negatives on one seed and a shared
# nursery idiom (tests/test_borrowings.py) (BENCHMARKS.md, twenty-fifth session)
LAMBDA_RESCORE = 0.1115   # Gumbel lambda of S_interval + S_pitch (scripts/calibrate.py --rescore; with P_RESTATE)
K_RESCORE = 0.033078     # global K, the prior of the per-query fit (scripts/calibrate.py --rescore)
PRIOR_WEIGHT = 500.0       # pseudo-observations of the global lambda and K in the per-query fit (BENCHMARKS.md)
STYLE_PRIOR_WEIGHT = 150.0  # the same when the null sample is the query's own kind (`style_sample`)
PASSAGE_MAX = 24           # a melody of at most this many steps is a passage: two passages also read whole
LAMBDA_WHOLE = 0.1131      # Gumbel lambda and K of the passage view (scripts/calibrate.py --rescore --whole)
K_WHOLE = 1.0156           # (with align.PAIR_COST; 0.1126 / 1.3788 before)
# A played MIDI part's lengths (meta "played": `io.midi.on_beat_grid` found no beat of the file in its
# onsets, so it has no bars) carry the player's jitter and rubato; so do a recording's whose onsets fit no
# beat grid (`melody.audio.timing_meta`: a snapped recording's lie on its grid as a score's do). Its rhythm
# terms, in both stages, give full credit only to length ratios within PLAYED_DUR_FREE (~0.1 log2) and grade
# the credit down to the mismatch charge over PLAYED_DUR_FADE log2 units past it (`align.kernels._rhythm_score`,
# `align.pitch._same_change`), the shape of the log-odds of a played phrase's ratio against its written tune
# over a chance partner's (scripts/census_rhythm.py's bands on bench_accuracy's played phrases: +0.5-0.9 bits
# within 0.1, +0.1-0.3 to 0.3, below 0 from 0.3-0.45); the fade ends at 0.555 log2, short of a 3:2 ratio,
# which real variants produce as a rhythm change (MTC-ANN) and which keeps its charge. Chosen among 4
# variants on seeds 0 / 1, confirmed on seed 2 (BENCHMARKS.md, twenty-first session). A score keeps the
# yes/no tolerance: among MTC-ANN's variants a notated length 7-30% off is evidence against.
PLAYED_DUR_FREE = 0.07
PLAYED_DUR_FADE = 0.45
QUERY_LENGTH_EXP = 1.0     # search space m^a n^b of the null's length correction (scripts/calibrate.py --rescore)
REF_LENGTH_EXP = 1.0
# A borrowed phrase keeps its place in the bar, or is moved against the bar line as a whole (a displaced
# phrase keeps one offset): the pairs of its alignment share one metric offset. A chance alignment pairs notes
# at scattered places in the two bars. So every pair of stage 1's path (`align.local_align`) whose beat offset
# is not the path's most common one costs METRIC_SCATTER in the combined score of a local view
# (`metric_scatter`). Census (BENCHMARKS.md, twenty-fifth session): the most common offset holds a median
# 0.80 / 0.83 of the pairs of the 10-20-note positives below the 1% cut (seeds 0 / 1), 0.26 / 0.49 of the ten
# most significant negatives' best matches; 1.0 raised TPR at the cut 0.842 / 0.794 -> 0.879 / 0.824 (0.873 /
# 0.830 with OFFSET_TOLERANCE; BENCHMARKS.md, "Twenty-fifth session, merged"). 0: off.
METRIC_SCATTER = 1.0
# Beat offsets within this many beats of one another are one offset: a swung eighth lands 0.17 beat late, a
# player's onsets jitter by a few hundredths; an eighth (0.5) or a sixteenth (0.25) apart stays another offset.
# Equality to two decimals charged the true pairs of performed phrases that keep their file's beat grid
# (bench_accuracy perform/swing and perform/timing: E-values ~1.5x higher; BENCHMARKS.md, twenty-fifth session).
OFFSET_TOLERANCE = 0.2


def search_space(m: int, n_steps: np.ndarray) -> np.ndarray:
    """The null's search space of a query of m steps against references of n_steps steps: m^a n^b."""
    return (max(float(m), 1.0) ** QUERY_LENGTH_EXP) * np.maximum(np.asarray(n_steps, dtype="f8"), 1.0) ** REF_LENGTH_EXP


def offset_scatter(query_beat: np.ndarray, reference_beat: np.ndarray, pairs) -> int:
    """Aligned (query note, reference note) pairs whose beat offset (query beat - reference beat) lies more than
    OFFSET_TOLERANCE from the most common one (the offset with the most pairs within OFFSET_TOLERANCE of it);
    pairs without a known beat on both sides (NaN) are not counted."""
    if not len(pairs):
        return 0
    i, j = np.asarray(pairs, dtype=np.int64).T
    offsets = np.asarray(query_beat, dtype="f8")[i] - np.asarray(reference_beat, dtype="f8")[j]
    offsets = np.sort(offsets[np.isfinite(offsets)])
    if not len(offsets):
        return 0
    near = (np.searchsorted(offsets, offsets + OFFSET_TOLERANCE + 1e-9, side="right")
            - np.searchsorted(offsets, offsets - OFFSET_TOLERANCE - 1e-9, side="left"))
    return len(offsets) - int(near.max())


def scatter_charged(query) -> bool:
    """Whether a query's pairs pay METRIC_SCATTER: it has beats, and they are its own, not a recording's guess.
    A recording's beat is tracked, its phase and grid often a subdivision off, so a true copy's pairs scatter
    as a chance partner's do: charged, the merged tree's recordings lost flags (bench_audio seed 1, TPR mix
    0.433 -> 0.389, solo 0.511 -> 0.467, room and lead -2 of 90; bench_sung clean seed 0 -2) for two solos and
    a room take at rank 1 (BENCHMARKS.md, "Twenty-fifth session, merged")."""
    return bool(np.isfinite(query.notes["beat"]).any()) and query.meta.get("kind") != "audio"


def path_scatter(query, qf, reference_beat: np.ndarray, reference: Features) -> int:
    """`offset_scatter` of stage 1's path (`align.local_align`) of the query (melody `query`, features `qf`)
    against one reference (its notes' beats and its features); 0 for a query `scatter_charged` spares."""
    if not scatter_charged(query) or len(qf) == 0 or len(reference) == 0:
        return 0
    return offset_scatter(query.notes["beat"], reference_beat, align.local_align(qf, reference).pairs)


def metric_scatter(query, qf, packed, rows: np.ndarray) -> np.ndarray:
    """Per row of `rows`: `path_scatter` of the query against that reference of the packed catalog (see
    METRIC_SCATTER); 0 everywhere for a query without beats of its own (`scatter_charged`)."""
    out = np.zeros(len(rows))
    if not scatter_charged(query):
        return out
    for k, row in enumerate(rows):
        a, b = packed.step_offsets[row], packed.step_offsets[row + 1]
        reference = Features(packed.interval[a:b], packed.length[a:b], packed.weight[a:b],
                             float(packed.tempo_unit[row]), packed.metric[a:b])
        out[k] = path_scatter(query, qf, packed.notes["beat"][packed.offsets[row]:packed.offsets[row + 1]],
                              reference)
    return out


def pitches(packed) -> np.ndarray:
    """The packed catalog's note pitches as integers (rounded; cached per catalog)."""
    got = packed.derived.get("pitch")
    if got is None:
        got = packed.derived["pitch"] = np.rint(packed.notes["pitch"]).astype(np.int64)
    return got


def pitch_scores(query_pitch: np.ndarray, qf, packed, rp: np.ndarray, rows: np.ndarray, params=None) -> np.ndarray:
    """Pitch-alignment scores of the query (its pitches in its own tuning, `tuned_pitches`) against the packed
    catalog's `rows` (rp: its integer pitches)."""
    return align.pitch_search(query_pitch, qf, (rp, packed.interval, packed.length, packed.weight, packed.metric),
                              packed.offsets, packed.step_offsets, rows, params)


def played_params(query, params=None, pitch_params=None):
    """(stage 1's, stage 2's) alignment parameters for the query: as given (None: the defaults), except that
    a melody read as played (meta "played": a MIDI part whose onsets keep no beat of the file, so it has no
    bars; a recording whose onsets fit no beat grid, `melody.audio.timing_meta`) grades its length ratios
    (PLAYED_DUR_FREE, PLAYED_DUR_FADE) in each of the two not given; a recording's stage 2 without the
    scale-degree reading (`recording_params`)."""
    if query.meta.get("played"):
        if params is None:
            params = np.array(align.DEFAULT_PARAMS, dtype="f8")
            params[align.K.DUR_FREE], params[align.K.DUR_FADE] = PLAYED_DUR_FREE, PLAYED_DUR_FADE
        if pitch_params is None:
            pitch_params = np.array(align.DEFAULT_PITCH_PARAMS, dtype="f8")
            pitch_params[align.pitch.P_DUR_FREE], pitch_params[align.pitch.P_DUR_FADE] = PLAYED_DUR_FREE, PLAYED_DUR_FADE
    return params, recording_params(query, pitch_params)


def recording_params(query, pitch_params=None, recorded: bool = False):
    """Stage 2's pitch parameters for the query: as given (None: the defaults), with the scale-degree reading
    off (`align.pitch.P_DEGREE` 0) for a recording, or for any query where the references are recordings
    (`recorded`: a catalog that holds recordings, a compared recording), whose stored notes carry the same
    errors. A transcription's wrong notes are a semitone off here and there, which the degree reading takes
    for a phrase restated on another degree, so chance partners gain with the true tune: on the merged
    twenty-eighth session's code it cost bench_audio seed 1 a mix and a solo at rank 1 and bench_sung seed 0
    hum R@1 -1, TPR all / room -1 each (BENCHMARKS.md, "Twenty-eighth session, merged")."""
    if query.meta.get("kind") != "audio" and not recorded:
        return pitch_params
    params = np.array(align.DEFAULT_PITCH_PARAMS if pitch_params is None else pitch_params, dtype="f8")
    params[align.pitch.P_DEGREE] = 0.0
    return params


def whole_params(pitch_params=None, longest: int = PASSAGE_MAX) -> np.ndarray:
    """Stage 2's pitch parameters (the defaults, or `pitch_params`) with melodies aligned whole (P_WHOLE:
    a query of at most `longest` steps, and a reference as short, first note to last): the passage view
    (PASSAGE_MAX), the song view (`song_view`: the longest reference of a song's length)."""
    params = np.array(align.DEFAULT_PITCH_PARAMS if pitch_params is None else pitch_params, dtype="f8")
    params[align.pitch.P_WHOLE] = longest
    return params


# The song view (BENCHMARKS.md, "Twenty-sixth session: a whole-song view with a null a search can have").
# Variants of one folk tune (MTC-ANN's families) often share no single passage strongly: each phrase is
# varied a little, and a chance partner that holds one phrase closely outscores them locally. Aligned whole,
# first note to last, a variant of similar length is far more alike than a chance partner; but a whole
# alignment's significance needs a null of the query's own kind without its relatives, which a catalog's own
# scores are not (its relatives are in them) and unrelated corpora are not (other styles; the twenty-fifth
# session measured both: no miss moved). A decoy is: each null-sample reference of similar length with its
# pitch line reversed over its own rhythm (`retrograde`): the same key, range, pitch classes, step sizes,
# rhythm and metre, no tune. On MTC-ANN the decoys' quartile-fitted Gumbel law puts 1.4% of other families'
# scores at z >= 4 (the law says 1.8%) and 0.16% at z >= 6 (0.25%), against 84% / 71% of the own family's;
# in the bulk other families score higher than decoys (median z 0.63 against 0.37), so the location is the
# higher of the decoys' and the median of the catalog's own null rows of that length (its few relatives hardly
# move a median), the scale the decoys' alone (relatives would widen it).
# Whether a query is a variant of a whole tune is another question than whether it borrows a passage, and a
# search answers it only when asked (`rescore_views`' and `Catalog.search`'s `variants`; scripts/bench_families.py
# --variants). Then, for a reference of the query's length, the local and the song view's reduced scores are
# summed into one statistic with its own law (`song_evidence`, `gumbel_sum_z`), so there is no choice between
# views and no factor for one (fam26's separate view paid 1.3-1.75 on every reference of similar length), and
# moderate evidence in both views adds up, as a variant varied a little everywhere has it. The sum's law is the
# two views' as independent. The views are not: on real unrelated pairs of similar length (MTC-ANN's other
# families) Kendall's tau is 0.32, and 16% of the top 1% in one view are in the top 1% of the other. But each
# view alone is conservative there (z >= 6: 0.0012 / 0.0004 of pairs, the law 0.0025), and the sum ends near the
# law: z >= 6 0.0033, z >= 8 0.0006 (the law 0.0003); bench_accuracy's null samples 0.0015 / 0.0004. A dependent
# law fitted to the bulk (logistic, theta from Kendall's tau) made that tail ten times too thin. Decoys scored
# in both views are no joint null: the query's own relatives reversed still match it locally, and other tunes'
# decoys match locally far less than real tunes do. Not the default: in bench_accuracy, where a borrowed phrase
# sits in foreign context of a song's length, the sum flagged 2 of 165 negatives (seed 0) and cut the 1% cut
# 0.873 -> 0.788, where the local view alone is conservative (BENCHMARKS.md, twenty-seventh session).
SONG_RATIO = 1.5      # a reference of n steps has a query of m steps' length when m / r <= n <= r m (top25: 1.25-1.5)
SONG_MIN_DECOYS = 20  # decoys needed to fit the song view's null by quartiles (fewer: no song view)
GUMBEL_MEDIAN = -np.log(np.log(2.0))    # the standard Gumbel law's median (0.3665)
EULER_GAMMA = 0.5772156649015329      # in `gumbel_sum_z`'s far tail


def song_band(m: int, n_steps: np.ndarray) -> np.ndarray:
    """Whether references of n_steps steps are of similar length to a query of m steps (SONG_RATIO)."""
    n_steps = np.asarray(n_steps, dtype="f8")
    return (n_steps * SONG_RATIO >= m) & (n_steps <= SONG_RATIO * m)


def retrograde(pitch: np.ndarray, interval: np.ndarray, length: np.ndarray, weight: np.ndarray, metric: np.ndarray,
               note_offsets: np.ndarray, step_offsets: np.ndarray, rows: np.ndarray):
    """Decoys of the packed references `rows`: each one's pitch line reversed over its own rhythm (pitches in
    reverse order; its intervals reversed and negated, their commonness weights reversed; lengths and metric
    classes kept). Returns (pitch, interval, length, weight, metric, note_offsets, step_offsets) of the
    decoys, row k the decoy of rows[k], as `align.pitch_search` takes them."""
    rows = np.asarray(rows, dtype=np.int64)

    def gather(offsets, reverse):
        counts = offsets[rows + 1] - offsets[rows]
        out = np.zeros(len(rows) + 1, dtype=np.int64)
        out[1:] = np.cumsum(counts)
        k = np.arange(out[-1]) - np.repeat(out[:-1], counts)           # index inside its row
        index = np.repeat(offsets[rows + 1] - 1, counts) - k if reverse else np.repeat(offsets[rows], counts) + k
        return index, out

    notes, new_notes = gather(np.asarray(note_offsets, dtype=np.int64), True)
    back, new_steps = gather(np.asarray(step_offsets, dtype=np.int64), True)
    ahead, _ = gather(np.asarray(step_offsets, dtype=np.int64), False)
    return (pitch[notes], -interval[back], length[ahead], weight[back], metric[ahead], new_notes, new_steps)


def quartile_gumbel(x: np.ndarray) -> tuple[float, float] | None:
    """(lambda, location u) of the Gumbel law ``P(X >= x) = 1 - exp(-exp(-lambda (x - u)))`` whose quartiles
    are the sample's (robust to a few outliers, where moments and maximum likelihood follow them); None for
    a sample without spread."""
    q25, q50, q75 = np.percentile(np.asarray(x, dtype="f8"), [25.0, 50.0, 75.0])
    if q75 - q25 <= 0.0:
        return None
    lam = (np.log(np.log(4.0)) - np.log(np.log(4.0 / 3.0))) / (q75 - q25)    # 1.5725 / IQR
    return float(lam), float(q50 - GUMBEL_MEDIAN / lam)


def gumbel_sum_z(total: np.ndarray) -> np.ndarray:
    """The reduced score (``P = 1 - exp(-exp(-z))``) of `total`, a sum of two independent standard Gumbel
    reduced scores: its tail is P = 1 - x K1(x), x = 2 sqrt(exp(-total)) (the product of two unit exponentials
    below exp(-total)); about exp(-s) (s + 1 - 2 gamma) for a large sum s, so adding two views' evidence costs
    ln(s) against either alone. -inf where `total` is."""
    from scipy.special import k1
    s = np.asarray(total, dtype="f8")
    out = np.full(s.shape, -np.inf)
    ok = np.isfinite(s)
    t = np.exp(-np.minimum(s[ok], 700.0))
    x = 2.0 * np.sqrt(t)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        p = np.where(t < 1e-6, t * (s[ok] + 1.0 - 2.0 * EULER_GAMMA), 1.0 - x * k1(x))
        out[ok] = -np.log(-np.log1p(-np.clip(p, 0.0, 1.0 - 1e-16)))
    return out


def song_evidence(local: np.ndarray, song: np.ndarray) -> np.ndarray:
    """Reduced scores of the local view (`local`), with the song view's (`song`; NaN: a reference not of the
    query's length) added where it scores, as one statistic with its own law (`gumbel_sum_z`): no choice
    between two views, so no factor for one."""
    scored = np.isfinite(song)
    return np.where(scored, gumbel_sum_z(local + np.where(scored, song, 0.0)), local)


def song_view(query, qf, packed, rows: np.ndarray, null_rows: np.ndarray, pitch_params=None) -> np.ndarray | None:
    """The whole alignment's reduced score (standard Gumbel, per reference) of a query longer than a passage
    against each of `rows` of similar length (`song_band`; NaN elsewhere), its null the decoys (`retrograde`)
    of the `null_rows` of similar length fitted by quartiles (`quartile_gumbel`), its location moved up to the
    median of those null rows' own scores where that is higher. None when the query is a passage, or fewer
    than SONG_MIN_DECOYS null rows are of its length."""
    m = len(qf)
    if m <= PASSAGE_MAX:
        return None
    n_steps = np.diff(packed.step_offsets)
    decoy_rows = null_rows[song_band(m, n_steps[null_rows])]
    scored = rows[song_band(m, n_steps[rows])]
    if len(decoy_rows) < SONG_MIN_DECOYS:
        return None
    params = whole_params(pitch_params, int(max(m, np.floor(SONG_RATIO * m))))
    qp = tuned_pitches(query)
    rp = pitches(packed)
    decoys = retrograde(rp, packed.interval, packed.length, packed.weight, packed.metric, packed.offsets,
                        packed.step_offsets, decoy_rows)
    fit = quartile_gumbel(align.pitch_search(qp, qf, decoys[:5], decoys[5], decoys[6], np.arange(len(decoy_rows)),
                                             params))
    if fit is None:
        return None
    lam, u = fit
    out = np.full(len(packed.step_offsets) - 1, np.nan)
    out[scored] = align.pitch_search(qp, qf, (rp, packed.interval, packed.length, packed.weight, packed.metric),
                                     packed.offsets, packed.step_offsets, scored, params)
    # the location: the decoys', or the catalog's own null rows of this length where their median is higher
    # (real tunes of one kind share more than a decoy does: a tonic ending, cadences on the bar; a median is
    # moved little by the query's few relatives among them)
    u = max(u, float(np.median(out[decoy_rows])) - GUMBEL_MEDIAN / lam)
    out[scored] = lam * (out[scored] - u)
    return out


def null_sample(n_refs: int, size: int = NULL_SAMPLE) -> np.ndarray:
    """The catalog rows whose combined scores are the null sample (a fixed draw per catalog size, sorted)."""
    return np.sort(np.random.default_rng(n_refs).choice(n_refs, size=min(size, n_refs), replace=False))


STYLE_MAX = 50_000   # catalogs below this size draw the null sample from the query's own kind (`style_sample`)


def style_histograms(interval: np.ndarray, length: np.ndarray, step_offsets: np.ndarray) -> np.ndarray:
    """Each melody's style as two normalised histograms side by side (float32, rows x 38): its intervals in
    semitones (-12..12, wider clipped) and its steps' length ratios in half log2 units (-3..3, wider
    clipped). Each half sums to 1 (0 for a melody without steps)."""
    n_rows = len(step_offsets) - 1
    row = np.repeat(np.arange(n_rows), np.diff(step_offsets))
    iv = np.clip(np.rint(interval), -12, 12).astype(np.int64) + 12
    ln = np.clip(np.rint(2 * np.asarray(length, dtype="f8")), -6, 6).astype(np.int64) + 6 + 25
    h = (np.bincount(row * 38 + iv, minlength=n_rows * 38)
         + np.bincount(row * 38 + ln, minlength=n_rows * 38)).reshape(n_rows, 38).astype(np.float32)
    h /= np.maximum(np.diff(step_offsets), 1).astype(np.float32)[:, None]
    return h


def by_style(n_refs: int, size: int = NULL_SAMPLE) -> bool:
    """Whether a catalog of n_refs melodies draws a query's null sample of `size` by style
    (`style_sample`): not when it is its own null sample, nor at STYLE_MAX melodies or more."""
    return size < n_refs < STYLE_MAX


def style_sample(qf, packed, size: int = NULL_SAMPLE) -> np.ndarray:
    """The null sample of a query: the `size` catalog melodies nearest to it in style (L1 distance of
    `style_histograms`), sorted; the fixed random `null_sample` in catalogs of STYLE_MAX melodies or more.

    The question a match answers is whether it is more than the material of its kind has in common: an
    Irish reel shares scale runs, arpeggio openings and cadence formulas with a hundred other reels, a
    chorale its cadences with other chorales. A null drawn at random from a mixed catalog dilutes those
    chance partners by the other kinds and lets a genre's stock figures look rare (BENCHMARKS.md, "Tenth
    session: Irish dance tunes and the null"); the query's stylistic neighbours are its chance partners.
    No corpus labels are used. The histograms are cached in ``packed.derived``."""
    n_refs = len(packed)
    if not by_style(n_refs, size):
        return null_sample(n_refs, size)
    hist = packed.derived.get("style")
    if hist is None:
        hist = packed.derived["style"] = style_histograms(packed.interval, packed.length, packed.step_offsets)
    q = style_histograms(qf.interval, qf.length, np.array([0, len(qf.interval)]))[0]
    distance = np.abs(hist - q).sum(axis=1)
    return np.sort(np.argpartition(distance, size - 1)[:size])


def fit_null(null_scores: np.ndarray, null_space: np.ndarray, prior: tuple[float, float] | None = None,
             weight: float | None = None) -> tuple[float, float]:
    """(lambda, log K) of the Gumbel null ``P(S >= x) = 1 - exp(-K m n exp(-lambda x))`` for one query.

    lambda: the query's own maximum-likelihood lambda, shrunk halfway towards LAMBDA_RESCORE (a few hundred
    scores fix it only roughly; a query whose chance scores spread wide still gets a heavier tail), and
    further the smaller the sample (weight n / (n + PRIOR_WEIGHT) on the query's own part). K: the
    maximum-likelihood K at that lambda, 1 / mean(mn exp(-lambda S)), with PRIOR_WEIGHT pseudo-observations
    at K_RESCORE; dominated by the low and middle scores, so the sample's few true relatives hardly move it.
    prior: (lambda, K) in place of (LAMBDA_RESCORE, K_RESCORE) (the passage view's). weight: the prior's
    pseudo-observations in place of PRIOR_WEIGHT (STYLE_PRIOR_WEIGHT for a null sample of the query's kind).
    """
    lam0, k0 = (LAMBDA_RESCORE, K_RESCORE) if prior is None else prior
    weight = PRIOR_WEIGHT if weight is None else float(weight)
    x = np.asarray(null_scores, dtype="f8")
    if len(x) == 0:
        return lam0, float(np.log(k0))
    log_space = np.log(np.asarray(null_space, dtype="f8"))

    def log_k(lam):
        total = float(np.sum(np.exp(log_space - lam * x)))
        return float(np.log(len(x) + weight) - np.log(total + weight / k0))

    def nll(lam):              # profile negative log-likelihood (K at its maximum-likelihood value)
        a = log_space - lam * x
        top = float(a.max())       # log-mean-exp without underflow (a few high scores at a large lambda)
        z = lam * x + top + float(np.log(np.mean(np.exp(a - top)))) - log_space
        return -float(np.sum(np.log(lam) - z - np.exp(-z)))

    lo, hi = np.log(0.02), np.log(2.0)        # golden-section search over log lambda
    g = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(32):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(np.exp(a)) < nll(np.exp(b)):
            hi = b
        else:
            lo = a
    own = len(x) / (len(x) + weight)          # how far a sample of this size is trusted
    lam = lam0 + 0.5 * own * (float(np.exp(0.5 * (lo + hi))) - lam0)
    return lam, log_k(lam)


def chance_fit(null_scores: np.ndarray, null_space: np.ndarray, prior: tuple[float, float] | None = None,
               weight: float | None = None) -> tuple[float, float]:
    """`fit_null` of the null sample's chance partners: fitted once, then again without the scores whose
    reduced score under that fit reaches NULL_RELATIVE_Z (the query's relatives in the sample)."""
    lam, log_k = fit_null(null_scores, null_space, prior, weight)
    x, space = np.asarray(null_scores, dtype="f8"), np.asarray(null_space, dtype="f8")
    chance = lam * x - log_k - np.log(space) < NULL_RELATIVE_Z
    if chance.all():
        return lam, log_k
    return fit_null(x[chance], space[chance], prior, weight)


def _stage1_order(s1: np.ndarray, evalues1: np.ndarray) -> np.ndarray:
    """Rows by stage-1 E-value, then score. In a large catalog searched through candidates most rows were
    never aligned (score 0, E = N): only the others are sorted; those follow in row order."""
    n = len(s1)
    seen = (evalues1 < n) | (s1 > 0)
    if np.count_nonzero(seen) > n // 2:
        return np.lexsort((-s1, evalues1))
    rows = np.flatnonzero(seen)
    return np.concatenate([rows[np.lexsort((-s1[rows], evalues1[rows]))], np.flatnonzero(~seen)])


def rescore(query, qf, packed, s1: np.ndarray, evalues1: np.ndarray, params=None, pitch_params=None,
            top: int = RESCORE_TOP, sample: int = NULL_SAMPLE):
    """Re-score stage 1's best candidates (every reference of a catalog of at most `sample` melodies).

    Returns (order of rows best first, E-value per row, combined score per row (NaN where not
    re-scored)). The re-scored candidates come first, by their new E-value; the others follow in stage-1
    order with their stage-1 E-values.
    """
    return rescore_views([View(query, qf, packed, s1, evalues1)], pitch_params, top, sample)


@dataclass
class View:
    """One way of reading a query against the catalog for `rescore_views`: the query's melody and features,
    the catalog's packed arrays in the same form (row r is the same reference in every view), stage 1's
    scores and E-values."""
    query: object
    qf: object
    packed: object
    s1: np.ndarray
    evalues1: np.ndarray
    whole: bool = False      # the passage view: a passage against the catalog's passages, aligned whole
    reading: bool = False    # another reading of the first view's recording (repeats merged): see READINGS_AGREE


def tuned_pitches(query) -> np.ndarray:
    """A melody's note pitches in the performer's own tuning (`tuning_offset` removed): a score's are
    integers, a recording's fractional (stage 2 grades a note between two semitones, `align.pitch_search`)."""
    pitch = query.notes["pitch"].astype(np.float64)
    return pitch - tuning_offset(pitch, query.notes["duration"])


def query_pitches(query) -> np.ndarray:
    """A melody's note pitches as integers in the performer's own tuning (a recording's rounded)."""
    return np.rint(tuned_pitches(query)).astype(np.int64)


# The null sample's own upper tail bounds the E-values (`tail_bound`). 0.1 of the sample (30 of 300 scores)
# was set beforehand; on the song negatives of scripts/bench_accuracy.py (seed 0, leads searched directly,
# the eleventh session's chain) 0.05 / 0.1 / 0.2 flagged 9 / 7 / 6 of 40 (15 without the bound); every other
# bench_accuracy figure of seeds 0 and 1 unchanged (BENCHMARKS.md, thirteenth session: long songs ...).
NULL_TAIL_SHARE = 0.1   # the share of the null sample's reduced scores whose own tail bounds z (0: off)
NULL_TAIL_SKIP = 3      # best null scores left out of that tail (they may be real relatives)
NULL_TAIL_MIN = 10      # tail scores needed to measure it (a smaller sample: no bound)
# A null sample drawn from the query's own kind (`style_sample`) holds the query's relatives wherever the catalog
# has several versions of its tune (the default catalog's God Save the King, HEIL DIR IM SIEGERKRANZ and The King's
# Anthem for America; a label's studio, live and remastered takes of one song): their reduced scores under the
# first fit are 25-41 where chance partners reach 6-9. Left in, they flatten the fitted lambda and the sample's own
# tail (`tail_bound`), and an exact 41-note copy of God Save the King scored E 0.014 in the default catalog where a
# catalog with one version gives 1e-19. A null score at or above NULL_RELATIVE_Z is a relative, not chance (under
# the fitted law exp(-z) per reference, 3e-7: 1e-4 expected in a sample of 300, and a tail twice as heavy still
# leaves it rare): the null is refitted without it and its tail skips it (`chance_fit`, `tail_bound`).
NULL_RELATIVE_Z = 15.0


def _tail_measurable(n_null: int) -> bool:
    """Whether a null sample of `n_null` finite scores is large enough to place and fit its upper tail."""
    return NULL_TAIL_SHARE > 0 and n_null * NULL_TAIL_SHARE >= NULL_TAIL_MIN + NULL_TAIL_SKIP


def tail_bound(z: np.ndarray, z_null: np.ndarray) -> np.ndarray:
    """Reduced scores z, lowered where the query's null sample (its reduced scores z_null) has a heavier
    upper tail than the fitted Gumbel law promises.

    Under the null a reduced score's tail is P(z' >= z) ~ exp(-z). The per-query fit (`fit_null`) is
    shrunk towards the calibrated constants and driven by the bulk of the sample; a query whose chance
    scores have a heavier tail (a long song that restates its material meets a chance partner's passage,
    or a tune's repeat, again and again) keeps too small E-values there. So the sample's own upper tail is
    measured as stage 1 measures it (`significance.tail_fit`): above its (1 - NULL_TAIL_SHARE) quantile t,
    P(z' >= z) = q exp(-beta (z - t)), beta the exponential fit of the excesses less the NULL_TAIL_SKIP best;
    where that is larger than exp(-z), it counts. Monotone in z, so a query's ranking is unchanged. Every
    null score at or above NULL_RELATIVE_Z (a relative of the query) is skipped too.
    """
    x = z_null[np.isfinite(z_null)]
    if not _tail_measurable(len(x)):
        return z
    skip = max(NULL_TAIL_SKIP, int(np.sum(x >= NULL_RELATIVE_Z)))    # the sample's relatives, however many
    t, beta = significance.tail_fit(x, NULL_TAIL_SHARE, skip)
    above = int(np.sum(x > t))
    if above - skip < NULL_TAIL_MIN:
        return z
    return np.minimum(z, beta * (z - t) - np.log(above / len(x)))


# A query that restates its material (verses and choruses sung again) has the tail of its chance scores
# widened by as many statements (`restatement`, `restated`). The window is bench_styles.py's REPEAT_WINDOW (a
# phrase restated, not a stock 3-note turn; 6 intervals cost more positives); the tail starts where `tail_bound`'s does
# (NULL_TAIL_SHARE). On scripts/bench_accuracy.py's song negatives this flagged 0 / 1 / 0 of 40 (seeds 0 / 1 /
# 2; 7 / 4 / 6 without it), no hook song's rank changed (BENCHMARKS.md, fourteenth session).
RESTATE_WINDOW = 8


def restatement(pitch: np.ndarray, window: int = RESTATE_WINDOW) -> float:
    """How many times a melody states its material: the mean, over its windows of `window` consecutive
    intervals, of how often that window occurs in it (1 for a melody that never restates a phrase, 2 for one
    sung twice through, 2-4 for a song whose sections come back). 1 for a melody shorter than two windows."""
    intervals = np.diff(np.asarray(pitch, dtype=np.int64))
    if len(intervals) < window + 1:
        return 1.0
    windows = np.lib.stride_tricks.sliding_window_view(intervals, window)
    _, inverse, counts = np.unique(windows, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse.ravel()]))


def restated(scores: np.ndarray, null_scores: np.ndarray, statements: float) -> np.ndarray:
    """Combined scores of a query that states its material `statements` times, on the scale of one statement:
    above the (1 - NULL_TAIL_SHARE) quantile t of its null sample's scores, t + (S - t) / statements.

    A chance partner that matches one passage of such a query matches its restatements too: stage 2's chain
    adds each of them (`melody.align.pitch`, P_CHAIN), and one alignment runs on through a restatement in both
    songs. So the chance scores' upper tail is about `statements` times as wide as the null sample (300 scores,
    which rarely hold the partner that is met again and again) shows. A monotone map of the query's scores:
    no ranking changes, a hook restated against one passage of its source still ranks it first; only the
    E-values of the query's best scores rise. Scores at or below t, and a query stated once, are unchanged; so
    are all scores where the null sample is too small to place t (`tail_bound`'s NULL_TAIL_MIN: a catalog of
    fewer than 130 melodies is its own null, and `melody compare`, which has no null sample, must agree with it).
    """
    x = np.asarray(scores, dtype="f8")
    finite = null_scores[np.isfinite(null_scores)]
    if statements <= 1.0 or not _tail_measurable(len(finite)):
        return x
    t = float(np.quantile(finite, 1.0 - NULL_TAIL_SHARE))
    return np.where(x > t, t + (x - t) / statements, x)


VIEWS_TAIL = 0.1     # the share of each view's null scores whose joint exceedances give views_factor
VIEWS_MIN_ROWS = 20  # null rows scored by every view needed to measure views_factor (else: Bonferroni)


def views_factor(z: np.ndarray) -> float:
    """How many independent tests taking each reference's best reduced score of several views amounts to,
    from the null sample's reduced scores z (views x rows): the rows where any view reaches its own upper
    VIEWS_TAIL quantile, divided by the VIEWS_TAIL share of rows each view has there; clipped to [1, number
    of views].

    The best of several views has the tail P(max z >= x) ~ c exp(-x): c = 1 when the views always agree,
    c -> 2 for two independent ones, never more than the number of views (Bonferroni). Each view is
    measured against its own quantile, so c says how the views depend on each other, not how well each is
    fitted or which scores higher. The upper tail, not the bulk: on scripts/bench_audio.py's recordings the
    two views of an unrelated reference agree less the higher they score (bulk 1.22, top 10% 1.47, z >= 4
    about 1.45; BENCHMARKS.md, eighth session).
    """
    if z.shape[0] < 2:
        return 1.0
    top = np.quantile(z, 1.0 - VIEWS_TAIL, axis=1, keepdims=True)
    share = float(np.mean((z >= top).any(axis=0))) / float(np.mean(z >= top))
    return float(np.clip(share, 1.0, z.shape[0]))


# A recording's readings (as transcribed, and with repeated notes merged on both sides: `Catalog._rank`) are two
# readings of one performance. A real relative matches both; a chance partner often matches one only (the merged
# reading of a reference rich in repeats, a run the transcription happened to hear). So a reference's statistic
# is not the better reading's z alone but READINGS_AGREE of the worse one's with the rest of the better one's
# (`combine_views`), with its null tail measured on the null rows as `views_factor` measures the max's
# (`agreement_factor`). Measured on bench_audio's mixes by re-ranking the search's own z (scripts/view_agreement.py,
# BENCHMARKS.md, "Twenty-third session: the mixes that still lose rank 1"): 0.25 ranked 1 / 2 more of 90 true
# tunes first on seeds 1 / 2 (the gains 8-note copies), the same true tunes flagged, no negative flagged; 0.5
# cost 3 / 2 flags. 0: the better reading alone.
READINGS_AGREE = 0.25


def combine_views(z: np.ndarray, a: float) -> np.ndarray:
    """``(1 - a)`` times the best plus ``a`` times the worst of each column's views (z: views x rows): a = 0
    is the better reading alone, a = 0.5 the mean of two."""
    z = np.asarray(z, dtype="f8")
    return (1.0 - a) * z.max(axis=0) + a * z.min(axis=0)


def agreement_factor(z_null: np.ndarray, a: float, tail: float = VIEWS_TAIL) -> float:
    """How much more often than one view the views' combination (`combine_views`) reaches a view's tail under
    the null (z_null: views x null rows): each view's null z shifted by its own upper ``tail`` quantile, then
    the share of rows whose combination is at least 0, over ``tail``. At a = 0 this is `views_factor` (the share
    of rows where any view reaches its own quantile); a larger a gives a thinner tail (clipped from below at
    one row of the sample, from above at the number of views)."""
    z_null = np.asarray(z_null, dtype="f8")
    if z_null.shape[0] < 2 or z_null.shape[1] == 0:
        return 1.0
    shifted = z_null - np.quantile(z_null, 1.0 - tail, axis=1, keepdims=True)
    share = float(np.mean(combine_views(shifted, a) >= 0.0)) / tail
    return float(np.clip(share, 1.0 / (tail * z_null.shape[1]), z_null.shape[0]))


def rescore_views(views: list[View], pitch_params=None, top: int = RESCORE_TOP, sample: int = NULL_SAMPLE,
                  null_rows: np.ndarray | None = None, detail: dict | None = None, variants: bool = False):
    """`rescore` of a query read in several ways (a recording as transcribed and with repeated notes merged,
    `melody.catalog.Catalog._rank`): every view's RESCORE_TOP best stage-1 candidates are re-scored in every
    view, each view's combined scores get their own per-query null (`fit_null`, on the same null rows), and
    a reference's significance is that of its best reduced score over the views, corrected for taking the
    best of several (`views_factor`): ``E = N (1 - exp(-c exp(-max_v z_v)))``. With one view this is the
    plain re-scoring. A query of at most PASSAGE_MAX steps gets the passage view of the first view as well
    (the module docstring): it scores the catalog's passages only, in place of the local view when the
    query is read one way; for a recording's readings it is one more view there, and c counts it only for
    them (from the null rows every view scored; the number of views, as Bonferroni, when fewer than
    VIEWS_MIN_ROWS).
    Returns (order, E-value per row, best combined score per row (NaN where not re-scored)); rows not
    re-scored follow in the order of their smallest stage-1 E-value. ``detail``, when given, receives what
    decided each candidate's E-value, for censuses of lost ranks (``scripts/rank_loss.py``): "cand" (the rows
    re-scored), "z" (views x candidates: each view's reduced score, -inf where a view does not score the row),
    "z_null" (views x null rows, the same), "factor" (per candidate: for taking the best view), "agree" (the
    factor's change for combining a recording's readings, `_readings_statistic`), "whole" (per view: the
    passage view), "song" (the song view's reduced score per row when it was added, else None) and, per view,
    what each correction did to the candidates' reduced scores (views x candidates; for censuses of
    the positives below the 1% cut, ``scripts/census_cut.py --corrections``): "scores" (the combined score after
    the scatter charge), "scatter" (METRIC_SCATTER's points), "statements" (`restatement`, per view), "fit"
    ((lambda, log K) per view), "log_space" (the null's search space) and "untailed" (z before `tail_bound`).
    ``variants``: whether the query is a variant of a whole tune is asked too: a score's query longer than a
    passage, read one way, has the song view's evidence (`song_view`, SONG_RATIO: references of its length,
    aligned whole, the null the decoys of its null rows) added to the local view's (`song_evidence`).
    """
    first_view = views[0]
    n_refs = len(first_view.s1)
    # two passages: a query read one way is compared with the catalog's passages whole only (the module
    # docstring); a recording's two readings keep their local views as well
    whole_only = np.zeros(n_refs, dtype=bool)
    if 0 < len(first_view.qf) <= PASSAGE_MAX:
        if len(views) == 1:
            whole_only = np.diff(first_view.packed.step_offsets) <= PASSAGE_MAX
        views = list(views) + [View(first_view.query, first_view.qf, first_view.packed, first_view.s1,
                                    first_view.evalues1, whole=True)]
    stage1 = [_stage1_order(v.s1, v.evalues1) for v in views]
    # a null sample drawn from the query's own kind is trusted more than the whole of a small catalog or a
    # large catalog's random draw (STYLE_PRIOR_WEIGHT; the module docstring)
    weight = STYLE_PRIOR_WEIGHT if by_style(n_refs, sample) else PRIOR_WEIGHT
    if n_refs <= sample:
        cand = null_rows = rows = np.arange(n_refs)
    else:
        cand = stage1[0][:top]
        for order in stage1[1:]:
            cand = np.union1d(cand, order[:top])
        if null_rows is None:   # every view's stage 1 must have scored these rows (Catalog._stage1's `null`)
            null_rows = style_sample(first_view.qf, first_view.packed, sample)
        rows = np.union1d(cand, null_rows)
    combined = np.full((len(views), n_refs), np.nan)
    z = np.empty((len(views), len(cand)))
    z_null = np.empty((len(views), len(null_rows)))
    parts = {"scores": np.empty_like(z), "scatter": np.zeros_like(z), "untailed": np.empty_like(z),
             "log_space": np.empty_like(z), "statements": np.ones(len(views)), "fit": []}
    for k, v in enumerate(views):
        n_steps = np.diff(v.packed.step_offsets)
        if v.whole:          # the passage view: passages of the catalog only, each pair aligned whole
            params = whole_params(pitch_params)
            scored, space, prior = rows[n_steps[rows] <= PASSAGE_MAX], np.ones(n_refs), (LAMBDA_WHOLE, K_WHOLE)
            combined[k, rows] = -np.inf
        else:
            params, scored, space, prior = pitch_params, rows, search_space(len(v.qf), n_steps), None
        qp = tuned_pitches(v.query)
        combined[k, scored] = v.s1[scored] + pitch_scores(qp, v.qf, v.packed, pitches(v.packed), scored, params)
        if not v.whole and METRIC_SCATTER:     # a chance alignment's pairs scatter in the bar (METRIC_SCATTER)
            charge = METRIC_SCATTER * metric_scatter(v.query, v.qf, v.packed, scored)
            combined[k, scored] -= charge
            parts["scatter"][k] = charge[np.searchsorted(scored, cand)]     # scored: every row, sorted
        # a passage is one statement; a longer query's restatements widen its chance scores' tail
        if not v.whole:
            parts["statements"][k] = restatement(np.rint(qp))
        scale = restated(combined[k], combined[k, null_rows], parts["statements"][k])
        fitted = null_rows[np.isfinite(scale[null_rows])]
        lam, log_k = chance_fit(scale[fitted], space[fitted], prior, weight)
        z[k] = lam * scale[cand] - log_k - np.log(space[cand])
        z_null[k] = lam * scale[null_rows] - log_k - np.log(space[null_rows])
        parts["scores"][k], parts["untailed"][k], parts["log_space"][k] = combined[k, cand], z[k], np.log(space[cand])
        parts["fit"].append((lam, log_k))
        z[k], z_null[k] = tail_bound(z[k], z_null[k]), tail_bound(z_null[k], z_null[k])
        if not v.whole:
            z[k, whole_only[cand]] = -np.inf
            z_null[k, whole_only[null_rows]] = -np.inf
    # a score's song against references of its length: the song view's evidence is added to the local view's of
    # the score as written (the first view) for those references (`song_evidence`), one statistic, so no choice
    # between the two; other ways of reading a score (re-struck notes merged, swing straightened, a part read
    # as played) keep their local view, and the better view counts as before. Not for a recording, nor beside a
    # recording's reading (READINGS_AGREE asks two readings of one performance to agree view for view).
    song = song_view(first_view.query, first_view.qf, first_view.packed, rows, null_rows, pitch_params) \
        if variants and not any(v.reading for v in views) and first_view.query.meta.get("kind") != "audio" \
        else None
    if song is not None:
        z[0], z_null[0] = song_evidence(z[0], song[cand]), song_evidence(z_null[0], song[null_rows])
    # the correction for taking the best of several views, where several were taken: over the null rows
    # every view scored (all views' factor), and the views that score every row (the others)
    plain = np.array([not v.whole for v in views])
    every = np.isfinite(z_null).all(axis=0)
    factor_plain = views_factor(z_null[plain])
    factor_all = views_factor(z_null[:, every]) if every.sum() >= VIEWS_MIN_ROWS else float(len(views))
    factor = np.where(np.isfinite(z).all(axis=0), factor_all, factor_plain)
    stat, agree = _readings_statistic(views, z, z_null)
    best = combined.max(axis=0) if len(views) > 1 else combined[0]
    ev = np.array(first_view.evalues1, dtype="f8", copy=True)
    for v in views[1:]:
        ev = np.minimum(ev, v.evalues1)
    ev[cand] = n_refs * -np.expm1(-factor * agree * np.exp(-stat))
    if detail is not None:
        detail.update(cand=cand, z=z, z_null=z_null, factor=factor, agree=agree, whole=[v.whole for v in views],
                      song=song, **parts)
    first = cand[np.lexsort((-best[cand], ev[cand]))]
    later = np.ones(n_refs, dtype=bool)
    later[cand] = False
    rest = stage1[0] if len(views) == 1 else np.lexsort((-np.max([v.s1 for v in views], axis=0), ev))
    rest = rest[later[rest]]
    return np.concatenate([first, rest]).astype(np.int64), ev, best


def _readings_statistic(views: list[View], z: np.ndarray, z_null: np.ndarray) -> tuple[np.ndarray, float]:
    """Each candidate's statistic (z: views x candidates) and the factor's change for it: the best view's z,
    except that a recording's readings (the first view and those marked ``reading``) count as their
    READINGS_AGREE combination (`combine_views`), its tail against the max's measured on the null rows
    (`agreement_factor`); other views (the passage view) still count as their max with it."""
    group = np.array([k == 0 or v.reading for k, v in enumerate(views)]) & ~np.array([v.whole for v in views])
    if group.sum() < 2 or READINGS_AGREE == 0.0:
        return z.max(axis=0), 1.0
    stat = combine_views(z[group], READINGS_AGREE)
    if (~group).any():
        stat = np.maximum(stat, z[~group].max(axis=0))
    agree = agreement_factor(z_null[group], READINGS_AGREE) / agreement_factor(z_null[group], 0.0)
    return stat, agree
