"""Transposition-consistent local alignment of absolute pitch (the re-scoring stage of a search).

Interval alignment is transposition-invariant, but one wrong note spoils two intervals, and two melodies
can share an interval sequence locally while drifting apart in key. Here the notes themselves are aligned
after a transposition T: a note pair scores PITCH_MATCH when ``q - r == T``, less when it agrees only up
to whole octaves, PITCH_NEAR when one or two semitones off (a changed note) and PITCH_MISMATCH otherwise.
The kernel keeps one DP layer per transposition (the twelve consecutive semitones around the difference of
the two melodies' median pitches, so every pitch class of T is tried once) and returns the best of them:
a match must keep one transposition throughout.

Which octave of T a passage lies in is the passage's own (P_OCT_REL): the medians fix it for whole
melodies, but a borrowed phrase often sits in another register than the rest of its song (a chorus an
octave up, a phrase amid lower context), and its exact matches would all count as octave pairs. So a pair
an octave off T next to a pair with the same offset (diagonally before it, or across one skipped note:
both melodies moved by the same interval) scores as an exact match (P_PC_INFO included, never less than
an octave pair); only the first pair of such a passage, and a single displaced note, score PITCH_OCTAVE.
On scripts/bench_accuracy.py this ranked 3 more true tunes first on one data seed and 1 fewer on the
other (lost to a real relative of its context).

Moves (over steps, as in `kernels._local`; a cell (i, j) aligns the arrival notes of query step i and
reference step j): (1,1); (2,1) / (1,2), a note of one melody skipped (ornament, passing note, split
note) with the summed lengths compared, cheaper (P_REPEAT) when the skipped note repeats a neighbour's pitch
(a note split in two, a repeated note added for other words); gaps (1,0) / (0,1). A wrong note is a (1,1)
pair that misses, so it costs one note, not two intervals. Rhythm uses `kernels._rhythm_score` on the same
prepared step rows, and a pitch match whose notes sit at the same metric position earns PITCH_METRIC.

How real songwriters vary rhythm shapes three more terms of a (1,1) pair:
- rhythm information: when both melodies change length from the step before in the same proportion, the
  pair earns P_RHY_INFO per bit of that change (RHYTHM_BITS): sharing a dotted or syncopated figure is
  rarer, so stronger evidence, than sharing a run of even notes (commonness weighting for rhythm);
- shifted notes: a step whose length disagrees, but whose length summed with the step before or after
  agrees, scores P_SHIFT for rhythm instead of the penalty (an anticipation or a delayed note: the notes
  around it keep their places);
- copied steps: a pair that continues a pitch-class match diagonally, with the same interval (up to
  octaves) and the same change of length, earns P_RUN: under copying whole steps come in runs, by chance
  they are scattered.

A played melody's lengths carry the player's jitter and rubato: a length 10-30% off the written one is
about as likely for the true tune as for a chance partner (BENCHMARKS.md, twenty-first session), where a
score's yes/no tolerance (P_DUR_FREE) pays it the full match or charges it as a mismatch. With P_DUR_FADE > 0
the tolerance is graded: a ratio up to P_DUR_FADE log2 units past P_DUR_FREE earns a linear mix of the
match and the mismatch charge (`kernels._rhythm_score`), and earns the rhythm information, P_RUN and the
exact run's rhythm bits in the same proportion (`_same_change`). 0 (the default): yes or no, as for a score
(`melody.score.rescore.played_params` sets both for a MIDI part read as played).

A tune borrowed into the other mode (major <-> minor: Bruder Martin on Frère Jacques, a hymn tune in
minor) has every third and sixth a semitone off, in one direction throughout: as single notes that is a
string of near misses, each also breaking the runs around it. When the two melodies' estimated keys
(Krumhansl-Kessler profiles on pitch-class counts, `estimate_key`) differ in mode, the reference is also
aligned in the other mode (`change_mode`: in a major key the third and sixth a semitone lower, the seventh
kept, as minor melodies often keep the leading note; in a minor key the third, sixth and flat seventh a
semitone higher) and the better score, less P_MODE, counts. On scripts/bench_accuracy.py (group mode/s1)
this ranked 3 / 2 more of 15 mode-changed phrases first (seeds 0 / 1), the other groups unchanged.

A phrase restated on another degree of its key (a diatonic sequence, a borrowed line moved up a third; a
melody harmonised in parallel thirds or sixths whose harmony a top-line extractor takes as the lead) keeps
its contour in scale degrees, while its semitones change by one at some steps and not at others: under one
transposition about half its notes are near misses. With P_DEGREE > 0 both melodies are also aligned in
scale degrees of their own estimated keys (`scale_degrees`: 7 per octave from the tonic, a note off the scale
counted as the degree it is altered from; `degree_tables`: a multiple of 7 is an octave, one degree off a
near miss; the query's notes keep their chromatic worth, no P_OCT_REL), and the better score, less
P_DEGREE, counts. The null rows get the same alternative, so the per-query null sees how often chance
partners share a contour in degrees (BENCHMARKS.md, twenty-eighth session: a melody moved within its key).

The query's own make-up weighs its notes (composition-based scoring, as BLAST adjusts for a sequence's
residue make-up): an exact pitch match earns P_PC_INFO per bit of the query note's pitch class above the
query's mean (`pc_worth`: -log2 of the pitch class's share among the query's notes). A tune keeps
returning to its tonic and the notes of its main triads, and a chance alignment lands on those most often;
a shared passage on the melody's rarer notes is stronger evidence.

A recording's notes keep their fractional pitch (`melody.score.rescore.tuned_pitches`: in the performer's
own tuning), and a singer puts each note N(0, 15-40 cents) off its intent (Mauch, Frieler & Dixon 2014): a
note 0.6 semitones sharp rounds to the semitone above its intent. So each query note is graded as the
interval stage grades a recording's intervals (`kernels._agreement`): its own semitone and the neighbour
it leans towards each match in proportion to how near the note lies (full within TOLERANT_LO, a near miss
from TOLERANT_HI), the rest a near miss (`_graded_note`). A score's notes lie on their semitones and score
as before. On scripts/bench_sung.py (band 0.35-0.75) this added rank-10 hits, not rank-1 ones, to the
interval stage's grading (BENCHMARKS.md, fifteenth session: intonation).

On top of the alignment, the longest exactly shared passage counts once more, as a court weighs it
(`_exact_run`): P_EXACT times the information of the best run of consecutive pitch changes with identical
intervals (any transposition; repeated notes merged, so a note split or merged for other words does not
break it), each step worth its interval's commonness weight (bits, as in stage 1) plus its rhythm
information when both melodies change length the same way. A loose alignment can outscore a short
exact copy by running on through the surrounding context; this term keeps an exact copy of rare material
ahead of it, while a shared scale run or repeated note (low weights) adds little.

A song that borrows a hook states it several times (verse, hook, verse, hook, bridge, hook), and a chance
partner rarely matches more than one stretch of it: with P_CHAIN > 0 the local alignment may go on past
its end and start again later in the query, against any part of the reference (the same hook again, or
another borrowed passage), at a cost of P_CHAIN (repeat matches, Durbin et al. 1998, section 2.3): each
further query-disjoint alignment under the same transposition adds its score less P_CHAIN, so only
statements scoring more than P_CHAIN count, and a single alignment scores as before. A long loose
alignment through a song's own verses is one statement; the hook's three statements are three. On
scripts/bench_accuracy.py's dispute hook songs P_CHAIN 25 ranked 3 / 6 more of 40 counterparts first
(seeds 0 / 1), every other figure unchanged; at 20, chance partners of folk queries that repeat a phrase
chained as well (BENCHMARKS.md, eleventh session). Not for whole alignments (P_WHOLE): a passage is one
statement.

A hook's further statements restate the passage of the reference that its first statement matched; a chance
partner's further pieces land anywhere in it. So a further alignment that starts at most P_RESTATE_SPAN
reference steps before where an earlier one ended (the same passage again, up to a passage's length,
rescore.PASSAGE_MAX) costs P_RESTATE (< P_CHAIN) instead of P_CHAIN; one elsewhere still costs P_CHAIN
(a second borrowed passage). A restatement can start at ~P_RESTATE_SPAN places of the reference, not ~n, so
it deserves the lower cost; P_RESTATE 20 was measured, not derived: on scripts/bench_accuracy.py's dispute
hook songs it ranked one more counterpart of 40 first on each of seeds 0 and 1 (0.875 -> 0.900), at 15 and
10 hooks were lost and dispute negatives flagged (BENCHMARKS.md, sixteenth session). In the kernel: per
reference step, the best score ending there in the query's rows before, and the window maximum of those
over the next P_RESTATE_SPAN steps as the floor where a further alignment may start (`_restated`).

With P_WHOLE > 0 (the re-scoring's passage view, `melody.score.rescore`), a query of at most P_WHOLE steps
is aligned whole, from its first note to its last (a note left unmatched at either end costs P_GAP, and
the score has no zero floor), against a reference of at most P_WHOLE steps aligned whole too
(`passage_ends`): two short passages in a dispute, where every note is evidence for or against.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import kernels as K

P_MATCH, P_OCTAVE, P_NEAR, P_MISMATCH, P_GAP, P_SKIP, P_RHY_MATCH, P_RHY_PEN, P_DUR_FREE, P_METRIC, P_RHY_INFO, \
    P_RUN, P_SHIFT, P_REPEAT, P_EXACT, P_PC_INFO, P_OCT_REL, P_MODE, P_WHOLE, P_CHAIN, P_RESTATE, P_RESTATE_SPAN, \
    P_DUR_FADE, P_DEGREE = range(24)
N_PITCH_PARAMS = 24
N_TRANSPOSITIONS = 12


SPAN = 300                      # pitch-score tables cover differences -SPAN..SPAN
RHYTHM_CLASSES = 6              # relative lengths in classes of half a log2 unit, -3..+3 octaves
# Information (bits above 1) of a step's length relative to the step before, per class -3, -2.5, .. +3 (log2
# ratio): -log2 P(class) over the default catalog's 13,382 melodies (`scripts/calibrate.py --rhythm`), minus 1,
# floored at 0 and capped at 4. Equal lengths (60% of steps) carry nothing, a doubling ~2 bits.
RHYTHM_BITS = np.array([4.0, 4.0, 4.0, 2.85, 2.34, 4.0, 0.0, 4.0, 2.11, 3.65, 4.0, 4.0, 4.0])

# Krumhansl-Kessler key profiles (major, minor), for the reference's key in the mode change (P_MODE); also
# the benchmark generators' key estimates (melody.testing, scripts/benchdata.py)
KEY_PROFILES = np.array([[6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
                [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]])
# P_MODE: the degrees (semitones above the tonic) that move, and by how much, when a major melody is sung in
# minor (its third and sixth a semitone lower) and a minor one in major (third, sixth and flat seventh a
# semitone higher: major has a leading note). A major tune's seventh stays: minor melodies often keep it.
MODE_SHIFT = np.array([[0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0],
                       [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]])
# P_DEGREE: the seven degrees (semitones above the tonic) of a major and a (natural) minor key, and for each
# pitch class above the tonic the degree it is or is altered from (the degree at or just below it): a note
# off the scale (a raised leading note in minor, a chromatic passing note) counts as that degree.
SCALE_DEGREES = np.array([[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]])
DEGREE_OF = np.array([[int(np.searchsorted(SCALE_DEGREES[mode], r, side="right")) - 1 for r in range(12)]
                      for mode in range(2)])


@njit(cache=True, error_model="numpy")
def estimate_key(pitch):
    """(tonic pitch class, 1 if minor else 0) of a melody: the Krumhansl-Kessler profile (of 24 keys)
    that correlates best with its pitch-class counts; (0, 0) when all pitch classes are equally common."""
    counts = np.zeros(12)
    for i in range(pitch.shape[0]):
        counts[pitch[i] % 12] += 1.0
    counts -= counts.mean()
    best, tonic, minor = 0.0, 0, 0
    for mode in range(2):
        prof = KEY_PROFILES[mode] - KEY_PROFILES[mode].mean()
        for t in range(12):
            v = 0.0
            for c in range(12):
                v += counts[(c + t) % 12] * prof[c]
            if v > best + 1e-12:
                best, tonic, minor = v, t, mode
    return tonic, minor


@njit(cache=True, error_model="numpy")
def change_mode(pitch, tonic, minor, out):
    """out = the melody in key (tonic, minor) sung in the other mode (MODE_SHIFT on its degrees)."""
    for i in range(pitch.shape[0]):
        out[i] = pitch[i] + MODE_SHIFT[minor, (pitch[i] - tonic) % 12]


@njit(cache=True, error_model="numpy")
def scale_degrees(pitch, tonic, minor, out):
    """out = each note as a scale degree of the key (tonic, minor), counted on from the tonic at 7 per octave
    (`DEGREE_OF`: a note off the scale counts as the degree it is altered from). A melody restated on another
    degree of its key (a diatonic sequence, a harmony line in parallel thirds or sixths) differs from it by one
    constant in these numbers, where its semitones change by one at some steps and not at others."""
    for i in range(pitch.shape[0]):
        above = pitch[i] - tonic
        octave = above // 12
        out[i] = 7 * octave + DEGREE_OF[minor, above - 12 * octave]


@njit(cache=True, error_model="numpy")
def _pair_tables(p, octave, near):
    """Score of a note pair whose pitches differ by e steps from the transposition (index e + SPAN), without
    and with the metric bonus (the bonus only for pitch matches, octaves included): P_MATCH at 0, P_OCTAVE at
    a multiple of `octave` steps, P_NEAR within `near` steps, P_MISMATCH otherwise."""
    tab = np.empty((2, 2 * SPAN + 1))
    for idx in range(2 * SPAN + 1):
        e = idx - SPAN
        if e == 0:
            v = p[P_MATCH]
        elif e % octave == 0:
            v = p[P_OCTAVE]
        elif -near <= e <= near:
            v = p[P_NEAR]
        else:
            v = p[P_MISMATCH]
        tab[0, idx] = v
        tab[1, idx] = v + (p[P_METRIC] if e % octave == 0 else 0.0)
    return tab


@njit(cache=True, error_model="numpy")
def degree_tables(p):
    """`_pair_tables` for melodies in scale degrees (`scale_degrees`): 7 degrees an octave, one degree off a
    near miss (a changed note)."""
    return _pair_tables(p, 7, 1)


@njit(cache=True, error_model="numpy")
def pitch_tables(p):
    """`_pair_tables` in semitones: 12 an octave, up to two semitones off a near miss."""
    return _pair_tables(p, 12, 2)


@njit(cache=True, error_model="numpy")
def rhythm_info(Q, m, bits, out):
    """out[s] = information in bits of query step s's length relative to the step before (RHYTHM_BITS,
    classes of half a log2 unit), 0 for the first step."""
    for s in range(m):
        if Q[K.LOGPREV, s] > K.NONE:
            c = int(np.rint(2.0 * (Q[K.LOGLEN, s] - Q[K.LOGPREV, s])))
            out[s] = bits[min(max(c, -RHYTHM_CLASSES), RHYTHM_CLASSES) + RHYTHM_CLASSES]
        else:
            out[s] = 0.0


@njit(cache=True, error_model="numpy")
def _same_change(lq, lqp, lr, lrp, rhy_free, fade):
    """How far both melodies change length from the step before in the same proportion: 1 within rhy_free
    (log2), falling linearly to 0 at rhy_free + fade (P_DUR_FADE; 0: yes or no), 0 without a step before."""
    if lqp <= K.NONE or lrp <= K.NONE:
        return 0.0
    d = abs((lq - lqp) - (lr - lrp))
    if d <= rhy_free + 1e-9:
        return 1.0
    if d >= rhy_free + fade:
        return 0.0
    return (rhy_free + fade - d) / fade


@njit(cache=True, error_model="numpy")
def _shifted(Q, m, s, R, n, t, rhy_free):
    """Query step s and reference step t differ in length, but summed with the step before, or with the
    step after, they agree: one note came early or late (an anticipation, a delayed note) and the notes
    around it keep their places."""
    if s >= 1 and t >= 1 and abs(Q[K.LOGLEN2, s] - R[K.LOGLEN2, t]) <= rhy_free + 1e-9:
        return True
    return s + 1 < m and t + 1 < n and abs(Q[K.LOGLEN2, s + 1] - R[K.LOGLEN2, t + 1]) <= rhy_free + 1e-9


@njit(cache=True, error_model="numpy")
def pc_worth(qp, out):
    """out[i] = information in bits of query note i's pitch class among the query's own notes (add-one
    smoothed), minus the query's mean: positive for rare pitch classes, negative for the tonic or a triad
    note that the melody keeps returning to (a chance match lands on those most often)."""
    counts = np.ones(12)
    for i in range(qp.shape[0]):
        counts[qp[i] % 12] += 1.0
    total = counts.sum()
    mean = 0.0
    for i in range(qp.shape[0]):
        out[i] = -np.log2(counts[qp[i] % 12] / total)
        mean += out[i]
    mean /= max(qp.shape[0], 1)
    for i in range(qp.shape[0]):
        out[i] -= mean


@njit(cache=True, error_model="numpy")
def _graded_note(dev, tab, tabq):
    """Grade one query note's entries of tabq (rows as in `_pitch_local`, the note's exact match already
    set at SPAN) by how far the note lies from its semitone: dev in [-0.5, 0.5]. Its own semitone (|dev|
    off) and the neighbour it leans towards (1 - |dev| off) each match as far as `kernels._agreement`
    says, the rest a near miss, as the interval stage grades a recording's intervals; the other neighbour
    is a near miss. dev 0 (a score) leaves the exact match alone and resets both neighbours to `tab`."""
    lean = 1 if dev > 0.0 else -1
    own = K._agreement(abs(dev))
    other = K._agreement(1.0 - abs(dev))
    for row in range(4):
        exact = tabq[row, SPAN]
        near_up, near_down = tab[row % 2, SPAN + 1], tab[row % 2, SPAN - 1]
        tabq[row, SPAN + 1], tabq[row, SPAN - 1] = near_up, near_down
        tabq[row, SPAN] = own * exact + (1.0 - own) * near_up
        # the reference note a semitone off the other way: e = qp - rp - T = -lean
        tabq[row, SPAN - lean] = other * exact + (1.0 - other) * tab[row % 2, SPAN - lean]


@njit(cache=True, error_model="numpy")
def _restated(reach, Hprev, n, span, restate, T):
    """P_RESTATE: fold the previous query row's scores (Hprev, (>= n+1, 12)) into reach[0] (per reference
    step and transposition, the best score of an alignment ending there in the query's rows so far), and
    keep reach[1][j] = the best of reach[0] over reference steps j..j+span, less `restate`: a further
    statement starting after step j restates the same passage if an earlier one ended at most `span` steps
    after j. Only a new best above `restate` can raise a floor (floors are never below 0), so only those
    update the span + 1 windows that hold them."""
    for e in range(n + 1):
        for k in range(T):
            v = Hprev[e, k]
            if v > reach[0, e, k]:
                reach[0, e, k] = v
                if v > restate:
                    for lo in range(max(e - span, 0), e + 1):
                        reach[1, lo, k] = max(reach[1, lo, k], v - restate)


@njit(cache=True, error_model="numpy")
def _pitch_local(qp, qdev, Q, m, rp, R, n, base, p, tab, H, qbits, qworth, tabq, ends, done, reach):
    """Best score over the 12 transpositions base-6 .. base+5 (and their octaves) of the pitch alignment.

    qp / rp: integer pitches of the m+1 / n+1 notes; qdev: how far each query note lies from qp, in [-0.5,
    0.5] (a recording's notes in its own tuning; 0 for a score): a note between two semitones matches
    either in part (`_graded_note`); Q / R: prepared step rows (kernels.prepare);
    tab: pitch_tables(p); H: float64 (3, >= n+1, 12) work buffer (rows reused modulo 3); qworth: pc_worth(qp);
    tabq: a (4, 2 * SPAN + 1) work buffer: rows 0 / 1 tab with query note i's exact match worth
    P_PC_INFO * qworth[i] more, rows 2 / 3 the same with octave pairs scored as that exact match (P_OCT_REL).
    ends: 0 for a local alignment; bit 1: the query aligned whole (from its first note to its last, notes
    left unmatched at either end cost P_GAP each), bit 2: the reference aligned whole (`passage_ends`).
    done: a float64 (3, 12) work buffer for the chain (P_CHAIN > 0, local alignments only), per
    transposition: row 0 the best score over the query's rows before the current one, row 1 the current
    row's best, row 2 the current row's floor (where a further alignment may start).
    """
    gap, skip = p[P_GAP], p[P_SKIP]
    rhy_match, rhy_pen = p[P_RHY_MATCH], p[P_RHY_PEN]
    rhy_free = -np.log2(1.0 - p[P_DUR_FREE])
    fade = p[P_DUR_FADE]
    rhy_info, run, shift, repeat = p[P_RHY_INFO], p[P_RUN], p[P_SHIFT], p[P_REPEAT]
    rel = p[P_OCT_REL] != 0.0
    qg, rg = (ends & 1) != 0, (ends & 2) != 0
    floor = K.NEG if (qg or rg) else 0.0
    chain = p[P_CHAIN] if (p[P_CHAIN] > 0.0 and not (qg or rg)) else 0.0
    restate = p[P_RESTATE]
    span = int(p[P_RESTATE_SPAN]) if (chain > 0.0 and 0.0 < restate < chain) else 0
    T = N_TRANSPOSITIONS
    for k in range(T):
        done[0, k] = 0.0
        done[1, k] = 0.0
        done[2, k] = floor
    for j in range(n + 1):
        for k in range(T):
            reach[0, j, k] = 0.0
            reach[1, j, k] = K.NEG
    for r in range(3):
        for j in range(n + 1):
            for k in range(T):
                H[r, j, k] = j * gap if (rg and r == 0) else 0.0
    off = SPAN - (base - 6)          # tab[qp - rp + off - k]: transposition base - 6 + k
    tabq[:2] = tab
    tabq[2:] = tab           # rows 2, 3 (P_OCT_REL): octave entries are set per query note below
    best = K.NEG if (qg or rg) else 0.0
    for i in range(1, m + 1):
        c, b, a = i % 3, (i - 1) % 3, (i - 2) % 3
        Hc, Hb, Ha = H[c], H[b], H[a]
        for k in range(T):
            if chain > 0.0:      # P_CHAIN: a new alignment may start from the best one before, less P_CHAIN
                done[0, k] = max(done[0, k], done[1, k])
                done[1, k] = 0.0
                done[2, k] = max(floor, done[0, k] - chain)
        if span > 0 and i >= 2:      # P_RESTATE: lower floors where an earlier statement ended nearby
            _restated(reach, H[b], n, span, restate, T)
        D2 = done[2]
        for k in range(T):
            Hc[0, k] = i * gap if qg else max(D2[k], reach[1, 0, k])
        row_end = (not qg) or i == m
        s = i - 1
        lq, lqp, qmet = Q[K.LOGLEN, s], Q[K.LOGPREV, s], Q[K.MET, s]
        lq2, lqp2 = Q[K.LOGLEN2, s], Q[K.LOGPREV2, s]
        qpi = qp[i]
        extra = p[P_PC_INFO] * qworth[i]      # a match on a rare pitch class of the query is worth more
        tabq[0, SPAN] = tab[0, SPAN] + extra
        tabq[1, SPAN] = tab[1, SPAN] + extra
        if rel:
            for e in range(SPAN % 12, 2 * SPAN + 1, 12):
                tabq[2, e] = max(tab[0, SPAN] + extra, tab[0, e])
                tabq[3, e] = max(tab[1, SPAN] + extra, tab[1, e])
            tabq[2, SPAN] = tabq[0, SPAN]      # the exact match itself as in rows 0 / 1
            tabq[3, SPAN] = tabq[1, SPAN]
        _graded_note(qdev[i], tab, tabq)
        for j in range(1, n + 1):
            t = j - 1
            lr, lrp = R[K.LOGLEN, t], R[K.LOGPREV, t]
            r11 = K._rhythm_score(lq, lqp, lr, lrp, rhy_match, rhy_pen, rhy_free, fade)
            if r11 < shift and _shifted(Q, m, s, R, n, t, rhy_free):
                r11 = shift
            same = _same_change(lq, lqp, lr, lrp, rhy_free, fade)
            if same > 0.0:
                r11 += same * rhy_info * qbits[s]
            r21 = K.NEG
            r12 = K.NEG
            if i >= 2:
                # the skipped query note i-1 repeats a neighbour's pitch: a note split in two, or a
                # repeated note added (other words to the same tune)
                cost = repeat if (qp[i - 1] == qpi or qp[i - 1] == qp[i - 2]) else skip
                r21 = cost + K._rhythm_score(lq2, lqp2, lr, lrp, rhy_match, rhy_pen, rhy_free, fade)
            j2 = 0
            if j >= 2:
                j2 = j - 2
                cost = repeat if (rp[j - 1] == rp[j] or rp[j - 1] == rp[j - 2]) else skip
                r12 = cost + K._rhythm_score(lq, lqp, R[K.LOGLEN2, t], R[K.LOGPREV2, t], rhy_match, rhy_pen,
                                            rhy_free, fade)
            row = 1 if (qmet >= 0.0 and qmet == R[K.MET, t]) else 0
            # P_OCT_REL: the pair would continue a pair with the same pitch offset (both melodies moved by
            # the same interval, by a diagonal or skip move); if that offset is an octave off the
            # transposition, the passage keeps its own octave and the pair scores as a match
            if rel and (qpi - qp[i - 1] == rp[j] - rp[j - 1] or (i >= 2 and qpi - qp[i - 2] == rp[j] - rp[j - 1])
                        or (j >= 2 and qpi - qp[i - 1] == rp[j] - rp[j - 2])):
                row += 2
            tb = tabq[row]
            d = min(max(qpi - rp[j] + off, T - 1), 2 * SPAN)
            Hb1, Hb0, Ha1, Hb2, Hc1, Hcj, Fj = Hb[j - 1], Hb[j], Ha[j - 1], Hb[j2], Hc[j - 1], Hc[j], reach[1, j]
            for k in range(T):
                h = max(max(Hb1[k] + r11, Ha1[k] + r21), Hb2[k] + r12) + tb[d - k]
                h = max(max(h, max(Hb0[k], Hc1[k]) + gap), max(D2[k], Fj[k]))
                Hcj[k] = h
                done[1, k] = max(done[1, k], h)
                if row_end and (not rg or j == n):
                    best = max(best, h)
            # A step copied whole: same interval (up to octaves) and the same change of length as the step
            # before, continuing a pair that matched in pitch class under the one transposition k where
            # this pair matches too.
            if run != 0.0 and same > 0.0 and i >= 2 and j >= 2 and (qpi - qp[i - 1] - rp[j] + rp[j - 1]) % 12 == 0:
                k = (qpi - rp[j] - base + 6) % 12
                h = Hb1[k] + r11 + tb[d - k] + same * run
                if h > Hcj[k]:
                    Hcj[k] = h
                    done[1, k] = max(done[1, k], h)
                    if row_end and (not rg or j == n):
                        best = max(best, h)
    return best


@njit(cache=True)
def passage_ends(m, n, whole):
    """Which melodies of a pair are aligned whole (`_pitch_local`'s ends) under P_WHOLE = whole: none when
    whole is 0; else the query (bit 1) and the reference (bit 2) when it has at most `whole` steps (a
    passage). A query longer than that gets a local alignment."""
    if whole <= 0.0 or m > whole:
        return 0
    return 3 if n <= whole else 1


@njit(cache=True, error_model="numpy")
def _moving_steps(pitch, n, out):
    """The steps (of n) that change pitch, into out[:k]; returns k. A repeated note is no step of its own
    for `_exact_run`: a note split for other words, or two merged, leaves the run of intervals intact."""
    k = 0
    for s in range(n):
        if pitch[s + 1] != pitch[s]:
            out[k] = s
            k += 1
    return k


@njit(cache=True, error_model="numpy")
def _exact_run(qp, Q, qs, nq, rp, R, rs, nr, qbits, rhy_free, fade, run):
    """Information of the best run of consecutive pitch changes with identical intervals in both melodies
    (repeated notes merged: qs[:nq] / rs[:nr] are the steps that change pitch, `_moving_steps`): each step
    earns its query weight Q[W] plus qbits when both change length from the step before in the same
    proportion (graded with `fade`, `_same_change`). run: float64 work buffer of >= nr + 1."""
    best = 0.0
    for b in range(nr + 1):
        run[b] = 0.0
    for a in range(nq):
        s = qs[a]
        iq = qp[s + 1] - qp[s]
        w, bits, lq, lqp = Q[K.W, s], qbits[s], Q[K.LOGLEN, s], Q[K.LOGPREV, s]
        for b in range(nr - 1, -1, -1):       # run[b + 1]: run ending at (a, b); run[b]: at (a - 1, b - 1)
            t = rs[b]
            if rp[t + 1] - rp[t] == iq:
                same = _same_change(lq, lqp, R[K.LOGLEN, t], R[K.LOGPREV, t], rhy_free, fade)
                run[b + 1] = run[b] + w + bits * same
                best = max(best, run[b + 1])
            else:
                run[b + 1] = 0.0
    return best


@njit(cache=True, error_model="numpy", nogil=True)
def pitch_scores(qp, qdev, qi, ql, qw, qm, rp, ri, rl, rw, rm, note_offsets, step_offsets, rows, p, table, out):
    """Pitch-alignment score of the query against the packed references listed in `rows` (into out[k]),
    plus P_EXACT times the information of the longest exactly shared run of steps (`_exact_run`).

    qp: integer query pitches (notes), qdev how far each note lies from them (`_pitch_local`); qi, ql, qw,
    qm its steps (as for kernels.search_scores); rp the references' integer pitches, notes of row r at
    note_offsets[r]:note_offsets[r+1], steps at step_offsets[r]:step_offsets[r+1].
    """
    m = qi.shape[0]
    Q = np.empty((K.N_ROWS, max(m, 1)))
    K.prepare(qi, ql, qw, qm, table, Q)
    qmed = np.median(qp.astype(np.float64))
    longest = 1
    for k in range(rows.shape[0]):
        r = rows[k]
        longest = max(longest, step_offsets[r + 1] - step_offsets[r])
    H = np.empty((3, longest + 1, N_TRANSPOSITIONS))
    tab = pitch_tables(p)
    tabq = np.empty((4, tab.shape[1]))
    qbits = np.empty(max(m, 1))
    rhythm_info(Q, m, RHYTHM_BITS, qbits)
    qworth = np.empty(qp.shape[0])
    pc_worth(qp, qworth)
    R = np.empty((K.N_ROWS, longest))
    run = np.empty(longest + 1)
    rs = np.empty(longest, dtype=np.int64)
    qs = np.empty(max(m, 1), dtype=np.int64)
    nq = _moving_steps(qp, m, qs)
    mode_buf = np.empty(longest + 1, dtype=np.int64)
    done = np.empty((3, N_TRANSPOSITIONS))
    reach = np.empty((2, longest + 1, N_TRANSPOSITIONS))
    qtonic, qminor = estimate_key(qp)
    # P_DEGREE: the query in scale degrees of its key, aligned with its own table and without P_OCT_REL and
    # P_MODE (their octaves and semitones are a chromatic reading's); its notes keep their chromatic worth
    qd = np.empty(qp.shape[0], dtype=np.int64)
    scale_degrees(qp, qtonic, qminor, qd)
    qd_dev = np.zeros(qp.shape[0])
    qd_med = np.median(qd.astype(np.float64))
    qds = np.empty(max(m, 1), dtype=np.int64)
    nqd = _moving_steps(qd, m, qds)
    pd = p.copy()
    pd[P_OCT_REL] = 0.0
    dtab = degree_tables(p)
    for k in range(rows.shape[0]):
        r = rows[k]
        a, b = step_offsets[r], step_offsets[r + 1]
        na, nb = note_offsets[r], note_offsets[r + 1]
        if b - a < 1 or m < 1:
            out[k] = 0.0
            continue
        K.prepare(ri[a:b], rl[a:b], rw[a:b], rm[a:b], table, R)
        rpr = rp[na:nb]
        ends = passage_ends(m, b - a, p[P_WHOLE])
        out[k] = _one_score(qp, qdev, Q, m, rpr, R, b - a, qmed, p, tab, H, qbits, qworth,
                            tabq, qs, nq, rs, run, ends, done, reach)
        if p[P_MODE] <= 0.0 and p[P_DEGREE] <= 0.0:
            continue
        tonic, rminor = estimate_key(rpr)      # the reference's key, for the two readings below
        if p[P_MODE] > 0.0 and rminor != qminor:   # the reference sung in the other mode, at a cost
            rpm = mode_buf[:nb - na]
            change_mode(rpr, tonic, rminor, rpm)
            alt = _one_score(qp, qdev, Q, m, rpm, R, b - a, qmed, p, tab, H, qbits, qworth,
                             tabq, qs, nq, rs, run, ends, done, reach)
            out[k] = max(out[k], alt - p[P_MODE])
        if p[P_DEGREE] > 0.0:      # both melodies in scale degrees of their keys, at a cost (`scale_degrees`)
            rd = mode_buf[:nb - na]
            scale_degrees(rpr, tonic, rminor, rd)
            alt = _one_score(qd, qd_dev, Q, m, rd, R, b - a, qd_med, pd, dtab, H, qbits, qworth,
                             tabq, qds, nqd, rs, run, ends, done, reach)
            out[k] = max(out[k], alt - p[P_DEGREE])


@njit(cache=True, error_model="numpy")
def _one_score(qp, qdev, Q, m, rpr, R, n, qmed, p, tab, H, qbits, qworth, tabq, qs, nq, rs, run, ends, done, reach):
    """The pitch alignment of the query against one reference (pitches rpr, n steps, prepared rows R),
    plus P_EXACT times its longest exact run."""
    base = int(np.rint(qmed - np.median(rpr.astype(np.float64))))
    score = _pitch_local(qp, qdev, Q, m, rpr, R, n, base, p, tab, H, qbits, qworth, tabq, ends, done, reach)
    if p[P_EXACT] != 0.0:
        nr = _moving_steps(rpr, n, rs)
        score += p[P_EXACT] * _exact_run(qp, Q, qs, nq, rpr, R, rs, nr, qbits, -np.log2(1.0 - p[P_DUR_FREE]),
                                         p[P_DUR_FADE], run)
    return score
