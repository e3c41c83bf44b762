"""Stage 2 of a search: the absolute-pitch alignment kernel against a plain-Python reference, and the
re-scoring's significance (melody.score.rescore).

The reference is written from the documented semantics (melody.align.pitch module docstring):
for every transposition T in base-6 .. base+5 (base = round(median query pitch - median reference pitch)),
a Smith-Waterman over steps where cell (i, j) aligns query note i with reference note j:
- pitch part: e = q_i - r_j - T; PITCH_MATCH when e = 0 (plus PC_INFO times the worth of query note i's pitch
  class: -log2 of its add-one smoothed share among the query's notes, minus that figure's mean over the
  query's notes), PITCH_OCTAVE when e is another multiple of 12,
  PITCH_NEAR when |e| <= 2, PITCH_MISMATCH otherwise; + PITCH_METRIC when e is a multiple of 12 and both
  notes have the same known metric class;
- moves: (1,1) pitch part + rhythm of step i-1 vs step j-1; (2,1) / (1,2) pitch part + SKIP + rhythm of
  the two summed steps against the single one (REPEAT instead of SKIP when the skipped note has the pitch
  of a neighbour); (1,0) / (0,1) GAP; floor 0;
- rhythm as in the interval alignment: agree = shorter/longer of the lengths, or of the lengths relative
  to each one's step before (the step before a summed pair is the one before the pair); RHY_MATCH when
  agree >= 1 - DUR_FREE, else -RHY_PEN * (1 - agree); with DUR_FADE > 0, a pair d = -log2(agree) between
  f = -log2(1 - DUR_FREE) and f + DUR_FADE scores g RHY_MATCH + (1 - g) times that penalty,
  g = (f + DUR_FADE - d) / DUR_FADE;
- rhythm information: a (1,1) pair whose two steps change length from the step before in the same proportion
  (log2 ratios within DUR_FREE) earns RHY_INFO times RHYTHM_BITS of the query step's ratio class; with
  DUR_FADE > 0, a pair up to DUR_FADE log2 units past DUR_FREE earns that times 1 - (how far past) / DUR_FADE,
  and so do RUN and the exact run's rhythm bits below;
- a shifted note: when the (1,1) rhythm part is below SHIFT but the step's length summed with the step
  before, or with the step after, agrees with the other melody's (within DUR_FREE), it is SHIFT instead;
- a whole copied step: a (1,1) pair that matches in pitch class under T, whose steps have the same interval
  up to octaves and the same change of length, and comes diagonally from the pair before, earns RUN;
- a passage in its own octave (OCT_REL): a pair an octave off T (e a nonzero multiple of 12) next to a pair
  with the same e, (i-1, j-1), (i-2, j-1) or (i-1, j-2) (both melodies moved by the same interval), earns
  PITCH_MATCH - PITCH_OCTAVE plus its PC_INFO worth (never less than 0) in every move: an exact match.
A recording's query (fractional pitches in its own tuning) has each note at dev = q - round(q) off its
semitone: with v the exact match's pitch part above (METRIC included) and g = the interval stage's grading
(1 up to TOLERANT_LO semitones off, 0 from TOLERANT_HI, linear between), the pair with e = 0 scores
g(|dev|) v + (1 - g(|dev|)) NEAR and the pair with e = -sign(dev) (the neighbour the note leans towards)
g(1 - |dev|) v + (1 - g(1 - |dev|)) NEAR; a score's notes (dev 0) as above.
The score is the best cell over all transpositions, plus EXACT times the longest exactly shared run: with the
steps that keep the pitch (repeated notes) left out of both melodies, the best sum, over runs of consecutive
remaining steps (query's a-th with reference's (a + d)-th, for one d) whose intervals are equal, of the query
step's weight plus RHYTHM_BITS of its ratio class when both steps change length the same way.
With MODE > 0, when the two melodies' keys (the Krumhansl-Kessler profile that best correlates with a
melody's pitch-class counts) are in different modes, the score is the better of that and the same score
against the reference in the other mode (in a major key the third and sixth a semitone lower, in a minor key
the third, sixth and flat seventh a semitone higher) less MODE.
With CHAIN > 0 (and the query not aligned whole), a further alignment may start from the best score of
the query's earlier rows less CHAIN: H[i, 0] = max(0, max H[:i] - CHAIN), and that is the floor of row i.
With WHOLE > 0 and a query of at most WHOLE steps, the query is aligned whole (the passage view): H[i, 0] =
i GAP, no floor, and the score is the best cell of the last query row; a reference of at most WHOLE steps is
aligned whole too (H[0, j] = j GAP, the score the last cell of the last row).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melody import Catalog, align
from melody.align import kernels as K
from melody.align import pitch as PK
from melody.notes import Melody, make_notes
from melody.represent import features
from melody.score import rescore

PP = align.DEFAULT_PITCH_PARAMS
LENGTHS = [0.25, 0.5, 1.0, 1.5, 2.0]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def mel(pitches, iois, beats=None):
    onset = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    bar = None if beats is None else np.ones(len(pitches), dtype=int)
    return Melody(make_notes(onset, iois, pitches, bar, beats))


def ref_rhythm(l, lp, r, rp, p):
    agree = min(l, r) / max(l, r)
    if lp is not None and rp is not None:
        agree = max(agree, min(l / lp, r / rp) / max(l / lp, r / rp))
    if agree >= 1 - p[PK.P_DUR_FREE]:
        return p[PK.P_RHY_MATCH]
    penalty = -p[PK.P_RHY_PEN] * (1 - agree)
    past = -np.log2(agree) + np.log2(1 - p[PK.P_DUR_FREE])      # log2 units past the free band
    if past < p[PK.P_DUR_FADE]:
        g = 1 - past / p[PK.P_DUR_FADE]
        return g * p[PK.P_RHY_MATCH] + (1 - g) * penalty
    return penalty


def ref_shifted(ql, rl, s, t, p) -> bool:
    """Steps s and t differ in length but agree summed with the step before or with the step after."""
    free = -np.log2(1 - p[PK.P_DUR_FREE]) + 1e-9
    before = s >= 1 and t >= 1 and abs(np.log2((ql[s - 1] + ql[s]) / (rl[t - 1] + rl[t]))) <= free
    after = s + 1 < len(ql) and t + 1 < len(rl) and abs(np.log2((ql[s] + ql[s + 1]) / (rl[t] + rl[t + 1]))) <= free
    return before or after


def ref_pc_worth(qp) -> np.ndarray:
    share = np.array([(1 + np.sum(qp % 12 == c)) / (12 + len(qp)) for c in range(12)])
    info = -np.log2(share[qp % 12])
    return info - info.mean()


KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]


def ref_key(pitch) -> tuple[int, int]:
    counts = np.bincount(np.asarray(pitch) % 12, minlength=12).astype(float)
    best, key = 0.0, (0, 0)
    for minor, prof in enumerate((KK_MAJOR, KK_MINOR)):
        for tonic in range(12):
            v = float(np.dot(counts - counts.mean(), np.roll(np.array(prof) - np.mean(prof), tonic)))
            if v > best + 1e-12:
                best, key = v, (tonic, minor)
    return key


def ref_change_mode(pitch) -> np.ndarray:
    tonic, minor = ref_key(pitch)
    moves = {3: 1, 8: 1, 10: 1} if minor else {4: -1, 9: -1}
    return np.array([q + moves.get((q - tonic) % 12, 0) for q in pitch])


MAJOR_DEGREES, MINOR_DEGREES = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]


def ref_scale_degrees(pitch) -> np.ndarray:
    """Each note as a degree of the melody's key, 7 per octave from the tonic; a note off the scale counts as
    the scale degree just below it."""
    tonic, minor = ref_key(pitch)
    scale = MINOR_DEGREES if minor else MAJOR_DEGREES
    return np.array([7 * ((q - tonic) // 12) + max(d for d in range(7) if scale[d] <= (q - tonic) % 12)
                     for q in pitch])


def ref_pitch_score(qm: Melody, rm: Melody, p=PP, degrees=None) -> float:
    """degrees: None, or (query pitches, reference pitches, query worth) in scale degrees (P_DEGREE: a pair
    matches at e = 0, is an octave at a multiple of 7, near at one degree off; the query's notes keep their
    chromatic worth; no OCT_REL)."""
    if p[PK.P_DEGREE] > 0 and degrees is None:
        qp, rp = np.rint(qm.notes["pitch"]).astype(int), np.rint(rm.notes["pitch"]).astype(int)
        q = p.copy()
        q[PK.P_DEGREE] = 0.0
        alt = q.copy()
        alt[PK.P_OCT_REL] = 0.0
        return max(ref_pitch_score(qm, rm, q), ref_pitch_score(
            qm, rm, alt, (ref_scale_degrees(qp), ref_scale_degrees(rp), ref_pc_worth(qp))) - p[PK.P_DEGREE])
    if p[PK.P_MODE] > 0 and degrees is None and ref_key(np.rint(qm.notes["pitch"]).astype(int))[1] != ref_key(
            np.rint(rm.notes["pitch"]).astype(int))[1]:
        other = Melody(rm.notes.copy())
        other.notes["pitch"] = ref_change_mode(np.rint(rm.notes["pitch"]).astype(int))
        q = p.copy()
        q[PK.P_MODE] = 0.0
        return max(ref_pitch_score(qm, rm, q), ref_pitch_score(qm, other, q) - p[PK.P_MODE])
    qp, rp = np.rint(qm.notes["pitch"]).astype(int), np.rint(rm.notes["pitch"]).astype(int)
    dev = qm.notes["pitch"].astype("f8") - qp
    worth = ref_pc_worth(qp)
    octave, near = 12, 2
    if degrees is not None:
        qp, rp, worth = degrees
        dev, octave, near = np.zeros(len(qp)), 7, 1
    qf, rf = features(qm), features(rm)
    ql, rl = [float(x) for x in qf.length], [float(x) for x in rf.length]
    qmet, rmet = qf.metric_or_unknown(), rf.metric_or_unknown()
    m, n = len(ql), len(rl)
    base = int(np.rint(np.median(qp) - np.median(rp)))

    def step(lengths, k, summed):     # (length, length of the step before or None) of step k or k-1+k
        if summed:
            return lengths[k - 1] + lengths[k], (lengths[k - 2] if k >= 2 else None)
        return lengths[k], (lengths[k - 1] if k >= 1 else None)

    whole = p[PK.P_WHOLE]
    qg = 0 < whole and m <= whole          # the query aligned whole (and a short reference too)
    rg = qg and n <= whole
    floor = -np.inf if qg else 0.0
    best = -np.inf if qg else 0.0
    for T in range(base - 6, base + 6):
        H = np.zeros((m + 1, n + 1))
        if qg:
            H[:, 0] = p[PK.P_GAP] * np.arange(m + 1)
        if rg:
            H[0, :] = p[PK.P_GAP] * np.arange(n + 1)
        starts = np.zeros(n + 1)     # per reference step: where a further alignment may start (P_CHAIN)
        for i in range(1, m + 1):
            if p[PK.P_CHAIN] > 0 and not qg:     # a further alignment starts from the best one before, less P_CHAIN
                starts[:] = H[i, 0] = max(0.0, H[:i].max() - p[PK.P_CHAIN])
                span = int(p[PK.P_RESTATE_SPAN])
                if 0 < p[PK.P_RESTATE] < p[PK.P_CHAIN] and span > 0:   # the same passage restated: P_RESTATE
                    for j in range(n + 1):
                        starts[j] = max(starts[j], H[:i, j:j + span + 1].max() - p[PK.P_RESTATE])
                    H[i, 0] = starts[0]
            for j in range(1, n + 1):
                e = qp[i] - rp[j] - T
                v = (p[PK.P_MATCH] + p[PK.P_PC_INFO] * worth[i] if e == 0 else p[PK.P_OCTAVE] if e % octave == 0
                     else p[PK.P_NEAR] if abs(e) <= near else p[PK.P_MISMATCH])

                def kept(di, dj):      # pair (i - di, j - dj) has the same pitch offset as this one
                    return qp[i] - qp[i - di] == rp[j] - rp[j - dj]
                if p[PK.P_OCT_REL] != 0 and e != 0 and e % 12 == 0 and \
                        (kept(1, 1) or (i >= 2 and kept(2, 1)) or (j >= 2 and kept(1, 2))):
                    # an octave pair in a passage that keeps its own octave: a match (OCT_REL)
                    v += max(p[PK.P_MATCH] - p[PK.P_OCTAVE] + p[PK.P_PC_INFO] * worth[i], 0.0)
                if e % octave == 0 and qmet[i - 1] >= 0 and qmet[i - 1] == rmet[j - 1]:
                    v += p[PK.P_METRIC]
                exact = p[PK.P_MATCH] + p[PK.P_PC_INFO] * worth[i] + (
                    p[PK.P_METRIC] if qmet[i - 1] >= 0 and qmet[i - 1] == rmet[j - 1] else 0.0)
                lean = 1 if dev[i] > 0 else -1
                if e == 0:
                    g = ref_agreement(abs(dev[i]))
                    v = g * exact + (1 - g) * p[PK.P_NEAR]
                elif e == -lean:
                    g = ref_agreement(1 - abs(dev[i]))
                    v = g * exact + (1 - g) * p[PK.P_NEAR]
                rhythm = ref_rhythm(*step(ql, i - 1, False), *step(rl, j - 1, False), p)
                if rhythm < p[PK.P_SHIFT] and ref_shifted(ql, rl, i - 1, j - 1, p):
                    rhythm = p[PK.P_SHIFT]
                diag = v + rhythm
                same = ref_same_change(ql, rl, i - 1, j - 1, p)
                if same > 0:
                    ratio = int(np.clip(np.rint(2 * np.log2(ql[i - 1] / ql[i - 2])), -6, 6))
                    diag += same * p[PK.P_RHY_INFO] * PK.RHYTHM_BITS[ratio + 6]
                    if e % 12 == 0 and (qp[i] - qp[i - 1] - rp[j] + rp[j - 1]) % 12 == 0:
                        diag += same * p[PK.P_RUN]
                h = max(floor if qg else starts[j], H[i - 1, j - 1] + diag, H[i - 1, j] + p[PK.P_GAP],
                        H[i, j - 1] + p[PK.P_GAP])
                if i >= 2:
                    skip = p[PK.P_REPEAT] if qp[i - 1] in (qp[i], qp[i - 2]) else p[PK.P_SKIP]
                    h = max(h, H[i - 2, j - 1] + v + skip
                            + ref_rhythm(*step(ql, i - 1, True), *step(rl, j - 1, False), p))
                if j >= 2:
                    skip = p[PK.P_REPEAT] if rp[j - 1] in (rp[j], rp[j - 2]) else p[PK.P_SKIP]
                    h = max(h, H[i - 1, j - 2] + v + skip
                            + ref_rhythm(*step(ql, i - 1, False), *step(rl, j - 1, True), p))
                H[i, j] = h
        best = max(best, float(H[m, n] if rg else H[m, 1:].max() if qg else H.max()))
    return best + p[PK.P_EXACT] * ref_exact_run(qp, rp, qf.weight, ql, rl, p)


def ref_same_change(ql, rl, s, t, p) -> float:
    """How far steps s and t change length from the step before in the same proportion: 1 within DUR_FREE,
    falling linearly to 0 over DUR_FADE log2 units past it (0 without a step before)."""
    if s < 1 or t < 1:
        return 0.0
    past = abs(np.log2((ql[s] / ql[s - 1]) / (rl[t] / rl[t - 1]))) + np.log2(1 - p[PK.P_DUR_FREE])
    if past <= 1e-9:
        return 1.0
    return max(0.0, 1 - past / p[PK.P_DUR_FADE]) if p[PK.P_DUR_FADE] > 0 else 0.0


def ref_exact_run(qp, rp, qw, ql, rl, p) -> float:
    qs = [s for s in range(len(ql)) if qp[s + 1] != qp[s]]      # steps that change pitch (repeats merged)
    rs = [t for t in range(len(rl)) if rp[t + 1] != rp[t]]
    best = 0.0
    for d in range(-len(qs), len(rs) + 1):
        run = 0.0
        for a in range(len(qs)):
            if not 0 <= a + d < len(rs):
                continue
            s, t = qs[a], rs[a + d]
            if qp[s + 1] - qp[s] != rp[t + 1] - rp[t]:
                run = 0.0
                continue
            run += float(qw[s])
            if ref_same_change(ql, rl, s, t, p) > 0:
                ratio = int(np.clip(np.rint(2 * np.log2(ql[s] / ql[s - 1])), -6, 6))
                run += ref_same_change(ql, rl, s, t, p) * PK.RHYTHM_BITS[ratio + 6]
            best = max(best, run)
    return best


def ref_agreement(d):
    return float(np.clip((K.TOLERANT_HI - d) / (K.TOLERANT_HI - K.TOLERANT_LO), 0.0, 1.0))


def kernel_pitch_score(qm: Melody, refs: list[Melody], p=PP) -> np.ndarray:
    qf = features(qm)
    fs = [features(r) for r in refs]
    rp = np.concatenate([np.rint(r.notes["pitch"]).astype(np.int64) for r in refs])
    cat = tuple(np.concatenate([getattr(f, a) for f in fs]) for a in ("interval", "length", "weight"))
    metric = np.concatenate([f.metric_or_unknown() for f in fs])
    note_off = np.concatenate([[0], np.cumsum([len(r.notes) for r in refs])])
    step_off = np.concatenate([[0], np.cumsum([len(f) for f in fs])])
    return align.pitch_search(qm.notes["pitch"], qf, (rp,) + cat + (metric,), note_off, step_off,
                              np.arange(len(refs)), p)


@st.composite
def melodies(draw, min_size=3, max_size=12):
    n = draw(st.integers(min_size, max_size))
    pitches = draw(st.lists(st.integers(55, 79), min_size=n, max_size=n))
    iois = draw(st.lists(st.sampled_from(LENGTHS), min_size=n, max_size=n))
    metric = draw(st.booleans())
    beats = draw(st.lists(st.sampled_from([0.0, 1.0, 0.5]), min_size=n, max_size=n)) if metric else None
    return mel(pitches, iois, beats)


@FAST
@given(melodies(), st.lists(melodies(), min_size=1, max_size=3))
def test_pitch_kernel_matches_reference(qm, refs):
    got = kernel_pitch_score(qm, refs)
    want = [ref_pitch_score(qm, r) for r in refs]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)   # log2 domain vs ratios


# a singer's note errors: dyadic, so the kernel and the reference take the same branches at the thresholds
SUNG_DEV = [0.0, 0.125, -0.125, 0.3125, -0.3125, 0.4375, -0.4375, 0.5, -0.5]


@st.composite
def sung(draw, min_size=3, max_size=12):
    """A recorded melody: whole-semitone pitches, each off by a singer's error (in its own tuning)."""
    m = draw(melodies(min_size, max_size))
    n = len(m.notes)
    m.notes["pitch"] = m.notes["pitch"] + np.array(draw(st.lists(st.sampled_from(SUNG_DEV), min_size=n, max_size=n)))
    return m


@FAST
@given(sung(), st.lists(melodies(), min_size=1, max_size=3))
def test_pitch_kernel_matches_reference_for_a_recorded_query(qm, refs):
    got = kernel_pitch_score(qm, refs)
    want = [ref_pitch_score(qm, r) for r in refs]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_sung_note_between_two_semitones_matches_either_in_part():
    """A copy of a tune whose third note (E) is sung off its intent, against the tune. 0.3 semitones sharp
    it rounds to E and matches as the written E does. 0.6 or 0.8 sharp it rounds to F, a semitone off, but
    leans back towards E and matches it with g(0.6) = 0.75 or g(0.8) = 0.25 of a match: more than the F
    written as a whole semitone (a score's wrong note, and what the rounded recording scored before)."""
    tune = [60, 62, 64, 67, 69, 67, 64, 62]
    chromatic = PP.copy()
    chromatic[PK.P_DEGREE] = 0.0      # the semitones' grading alone (the degree reading reads the rounded note)

    def sung(third):
        return kernel_pitch_score(mel(tune[:2] + [third] + tune[3:], [1.0] * 8), [mel(tune, [1.0] * 8)], chromatic)[0]

    assert sung(64.3) == pytest.approx(sung(64), abs=1e-9)
    assert sung(65) < sung(64.8) < sung(64.6) < sung(64)


@FAST
@given(melodies(), st.lists(melodies(), min_size=1, max_size=3), st.floats(0.0, 2.0), st.floats(0.0, 3.0),
       st.floats(-2.0, 0.5), st.floats(-3.0, 0.0), st.floats(0.0, 2.0), st.floats(0.0, 2.0), st.booleans(),
       st.sampled_from([0.0, 0.5, 4.0]), st.sampled_from([0.0, 0.0, 4.0, 8.0, 12.0]),
       st.sampled_from([0.0, 0.5, 3.0, 8.0]), st.sampled_from([0.0, 0.2, 2.0, 6.0]), st.sampled_from([1, 3, 24]),
       st.sampled_from([0.0, 0.3, 0.7]))
def test_pitch_kernel_with_rhythm_information_runs_shifts_and_repeats_matches_reference(qm, refs, info, run, shift,
                                                                                       repeat, exact, pc_info,
                                                                                       oct_rel, mode, whole, chain,
                                                                                       restate, span, fade):
    p = PP.copy()
    p[PK.P_DUR_FADE] = fade
    p[PK.P_WHOLE], p[PK.P_CHAIN], p[PK.P_RESTATE], p[PK.P_RESTATE_SPAN] = whole, chain, restate, span
    p[PK.P_RHY_INFO], p[PK.P_RUN], p[PK.P_SHIFT], p[PK.P_REPEAT], p[PK.P_EXACT] = info, run, shift, repeat, exact
    p[PK.P_PC_INFO], p[PK.P_OCT_REL], p[PK.P_MODE] = pc_info, float(oct_rel), mode
    got = kernel_pitch_score(qm, refs, p)
    want = [ref_pitch_score(qm, r, p) for r in refs]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@FAST
@given(st.lists(st.integers(40, 90), min_size=1, max_size=40))
def test_key_estimate_and_mode_change_match_reference(pitch):
    pitch = np.array(pitch, dtype=np.int64)
    assert PK.estimate_key(pitch) == ref_key(pitch)
    out = np.empty_like(pitch)
    PK.change_mode(pitch, *PK.estimate_key(pitch), out)
    assert out.tolist() == ref_change_mode(pitch).tolist()


def test_a_tune_sung_in_the_other_mode_scores_near_its_copy_with_the_mode_change():
    # "Frère Jacques" in F major, and the same notes in F minor (every A and D a semitone lower): one mode
    # change, not six wrong notes
    major = np.array([65, 67, 69, 65, 65, 67, 69, 65, 69, 70, 72, 69, 70, 72, 72, 74, 72, 70, 69, 65, 72, 74,
                      72, 70, 69, 65, 65, 60, 65, 65, 60, 65])
    iois = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2, .75, .25, .5, .5, 1, 1, .75, .25, .5, .5, 1, 1,
                     1, 1, 2, 1, 1, 2])
    minor = np.where(np.isin(major % 12, (9, 2)), major - 1, major)
    assert PK.estimate_key(major) == (5, 0) and PK.estimate_key(minor) == (5, 1)
    p = PP.copy()
    p[PK.P_MODE] = p[PK.P_DEGREE] = 0.0      # the mode change alone (in scale degrees the two modes agree)
    copy = kernel_pitch_score(mel(minor + 2, iois), [mel(minor, iois)], p)[0]     # the same mode
    off = kernel_pitch_score(mel(minor + 2, iois), [mel(major, iois)], p)[0]
    p[PK.P_MODE] = 4.0
    on = kernel_pitch_score(mel(minor + 2, iois), [mel(major, iois)], p)[0]
    assert on == pytest.approx(copy - 4.0)      # the reference in minor is the query's tune: only the cost
    assert off < on - 40                        # without it, six notes are "near" misses and runs break
    # a melody in the same mode as the reference is scored as before
    chromatic = PP.copy()
    chromatic[PK.P_DEGREE] = 0.0
    assert kernel_pitch_score(mel(major + 2, iois), [mel(major, iois)], p)[0] == pytest.approx(
        kernel_pitch_score(mel(major + 2, iois), [mel(major, iois)], chromatic)[0])


def test_transposition_invariant_and_one_wrong_note_costs_one_note():
    rng = np.random.default_rng(0)
    pitches = 60 + np.cumsum(rng.integers(-4, 5, 20))
    iois = rng.choice([0.5, 1.0], 20)
    ref = mel(pitches, iois)
    p = PP.copy()
    p[PK.P_EXACT] = 0.0           # the alignment alone (the exact run: next test)
    p[PK.P_PC_INFO] = 0.0         # the wrong note changes the query's pitch-class make-up (see the test after next)
    same = kernel_pitch_score(mel(pitches + 5, iois), [ref], p)[0]
    assert same == pytest.approx(kernel_pitch_score(ref, [ref], p)[0])
    wrong = pitches.copy()
    wrong[10] += 7
    got = kernel_pitch_score(mel(wrong + 5, iois), [ref], p)[0]
    # one note pair misses: the score loses (match - mismatch) and the run bonus of the two copied steps
    # into and out of the wrong note, nothing more
    assert got == pytest.approx(same - PP[PK.P_MATCH] + PP[PK.P_MISMATCH] - 2 * PP[PK.P_RUN])


def test_exact_run_adds_the_information_of_the_longest_exact_copy():
    rng = np.random.default_rng(1)
    pitches = 60 + np.cumsum(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4], 20))    # no repeated notes
    iois = rng.choice([0.5, 1.0, 1.5], 20)
    ref = mel(pitches, iois)
    off, on = PP.copy(), PP.copy()
    off[PK.P_EXACT], on[PK.P_EXACT] = 0.0, 1.0

    def exact_part(query):
        return kernel_pitch_score(query, [ref], on)[0] - kernel_pitch_score(query, [ref], off)[0]

    qf = features(ref)
    bits = [PK.RHYTHM_BITS[int(np.clip(np.rint(2 * np.log2(qf.length[s] / qf.length[s - 1])), -6, 6)) + 6]
            for s in range(1, len(qf))]
    whole = float(np.sum(qf.weight)) + float(np.sum(bits))    # every step copied, rhythm included
    assert exact_part(mel(pitches + 5, iois)) == pytest.approx(whole)
    # a note split in two (a repeated note added, as for other words) leaves the run of intervals whole;
    # only the rhythm of the steps around the split differs
    split = mel(np.concatenate([pitches[:6], pitches[5:]]) + 5,
                np.concatenate([iois[:5], [iois[5] / 2, iois[5] / 2], iois[6:]]))
    other = np.concatenate([pitches[:6], pitches[5:6] + 7, pitches[6:]]) + 5     # the added note moves instead
    broken = mel(other, np.concatenate([iois[:5], [iois[5] / 2, iois[5] / 2], iois[6:]]))
    assert exact_part(split) > 1.25 * exact_part(broken)
    assert exact_part(split) > 0.8 * whole
    # a wrong note breaks the copy into two runs: only the longer one counts
    wrong = pitches.copy()
    wrong[12] += 7
    extra = exact_part(mel(wrong + 5, iois))
    first = float(np.sum(qf.weight[:11])) + float(np.sum(bits[:10]))       # steps 0..10 (into note 11)
    second = float(np.sum(qf.weight[13:])) + float(np.sum(bits[12:]))      # steps 13.. (from note 13)
    assert extra == pytest.approx(max(first, second), rel=1e-5)


def test_a_copy_scores_the_same_whatever_the_register_of_the_rest_of_the_query():
    # The transposition's octave comes from the two melodies' medians. A query whose copied phrase sits in
    # another register than its other notes (here: 24 notes of foreign material an octave below it, against
    # the same material in the copy's register) used to get its copy scored as octave pairs throughout; now
    # only the first pair pays.
    rng = np.random.default_rng(3)
    phrase = 66 + np.cumsum(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4], 10))
    iois = rng.choice([0.5, 1.0], 10)
    ref = mel(np.concatenate([phrase, phrase[::-1] + 1]), np.concatenate([iois, iois]))
    foreign = rng.choice([0, 2, 4, 5, 7, 9, 11], 24) + 48          # a C-major line, no pitch of the phrase's kind
    p = PP.copy()
    p[PK.P_EXACT] = 0.0
    p[PK.P_PC_INFO] = 0.0
    scores = {}
    for rel in (0.0, 1.0):
        p[PK.P_OCT_REL] = rel
        low = mel(np.concatenate([phrase + 3, foreign]), np.concatenate([iois, np.full(24, 0.5)]))
        high = mel(np.concatenate([phrase + 3, foreign + 12]), np.concatenate([iois, np.full(24, 0.5)]))
        scores[rel] = kernel_pitch_score(low, [ref], p)[0], kernel_pitch_score(high, [ref], p)[0]
        assert scores[rel][0] == pytest.approx(ref_pitch_score(low, ref, p))
    # the old rule: one of the two registers scores every copied note as an octave pair
    assert abs(scores[0.0][0] - scores[0.0][1]) >= 5 * (PP[PK.P_MATCH] - PP[PK.P_OCTAVE])
    # judged against the pair before: at most the first pair of the copy differs
    assert abs(scores[1.0][0] - scores[1.0][1]) <= PP[PK.P_MATCH] - PP[PK.P_OCTAVE] + 1e-9
    assert max(scores[1.0]) == pytest.approx(max(scores[0.0]))


def test_a_match_on_the_querys_rare_pitch_classes_counts_more_than_one_on_its_frequent_ones():
    # the query keeps returning to C and G (as a tune returns to its tonic and dominant), then plays six
    # pitch classes once each; one reference copies six notes of the first part, the other the six rare ones
    frequent, rare = [60, 67, 60, 67, 60, 67], [61, 63, 66, 70, 68, 62]
    query = mel(np.array(frequent * 2 + rare), np.full(18, 0.5))
    ref_frequent, ref_rare = mel(np.array(frequent) + 2, np.full(6, 0.5)), mel(np.array(rare) + 2, np.full(6, 0.5))
    p = PP.copy()
    p[PK.P_EXACT] = 0.0           # the exact run weighs the intervals' commonness: here only pitch classes differ
    p[PK.P_PC_INFO] = 0.0
    plain = kernel_pitch_score(query, [ref_frequent, ref_rare], p)
    assert plain[0] == pytest.approx(plain[1])
    p[PK.P_PC_INFO] = 1.0
    weighed = kernel_pitch_score(query, [ref_frequent, ref_rare], p)
    worth = ref_pc_worth(np.array(frequent * 2 + rare))
    assert worth[0] < 0 < worth[-1]
    assert weighed[1] == pytest.approx(plain[1] + worth[13:].sum())    # notes 13..17 arrive as matched pairs
    assert weighed[0] < plain[0] < weighed[1]


def _random_tune(rng, n):
    pitches = [int(rng.integers(60, 72))]
    for step in rng.choice([-4, -3, -2, -1, 1, 2, 3, 5, -5, 0], n - 1):   # a walk turned back at the edges
        pitches.append(pitches[-1] + (-abs(step) if pitches[-1] > 76 else abs(step) if pitches[-1] < 56 else step))
    iois = rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0], n) * 0.5
    beats = np.round(np.cumsum(np.concatenate([[0.0], iois[:-1] * 2])) % 4, 3)
    return make_notes(np.concatenate([[0.0], np.cumsum(iois[:-1])]), iois, pitches,
                      np.ones(n, dtype=int), beats)


@pytest.mark.parametrize("n_refs", [60, 400])     # re-scored whole / top candidates + a null sample
def test_rescored_search_finds_a_transposed_copy_and_stays_calibrated(tmp_path, n_refs):
    rng = np.random.default_rng(n_refs)
    refs = [Melody(_random_tune(rng, int(rng.integers(30, 60))), title=f"r{k}", source=f"mem/{k}")
            for k in range(n_refs)]
    cat = Catalog.create(str(tmp_path / "c"))
    cat.add(refs)
    src = refs[7].notes
    copy = src[5:25].copy()
    copy["pitch"] += 3
    copy["onset"] -= copy["onset"][0]
    found = cat.search(Melody(copy), top=3)
    assert found[0].title == "r7" and found[0].evalue < 1e-3 and found[0].transposition == 3
    # unrelated queries: few chance matches with E <= 0.1 (E is the expected count)
    flagged = 0
    for k in range(20):
        q = Melody(_random_tune(np.random.default_rng(1000 + k), 40))
        flagged += sum(m.evalue <= 0.1 for m in cat.search(q, top=3))
    assert flagged <= 6


def test_views_factor_counts_how_independent_two_readings_are(rng):
    """The best of two views: factor 1 when they always agree, about 2 when independent, never above 2,
    and 1 when one view always scores far higher (it alone decides)."""
    z = rng.gumbel(size=(1, 4000))
    assert rescore.views_factor(z) == 1.0
    assert rescore.views_factor(np.vstack([z, z])) == pytest.approx(1.0)
    independent = rng.gumbel(size=(2, 4000))
    assert rescore.views_factor(independent) == pytest.approx(1.9, abs=0.1)   # 2 in the far tail
    assert rescore.views_factor(np.vstack([z, z + 30.0])) == pytest.approx(1.0)
    assert rescore.views_factor(np.vstack([z, -z])) <= 2.0
    noisy = np.vstack([z, z + rng.normal(0, 0.5, z.shape)])      # the two readings mostly agree
    assert 1.0 < rescore.views_factor(noisy) < 1.6


def test_the_better_of_two_independent_views_is_no_more_significant_than_one(rng):
    """Two independent Gumbel views of unrelated references: with the factor, the share of null rows at
    E <= x stays near its one-view level; without it, it would double."""
    n, views = 20000, 2
    z = rng.gumbel(size=(views, n))
    factor = rescore.views_factor(z)
    p = -np.expm1(-factor * np.exp(-z.max(axis=0)))
    one = -np.expm1(-np.exp(-z[0]))
    for cut in (0.01, 0.05):
        assert np.mean(p <= cut) == pytest.approx(np.mean(one <= cut), rel=0.25)


def _varied_passage(notes, rng):
    """A passage as another song sings it: transposed, a note every fourth a semitone or two off (a mode
    change, other words), one note split in two, two notes held twice as long."""
    p = np.rint(notes["pitch"]).astype(int) + 5
    iois = np.diff(np.append(notes["onset"], notes["onset"][-1] + notes["duration"][-1]))
    for k in range(1, len(p) - 1, 4):
        p[k] += int(rng.choice([-2, -1, 1, 2]))
    s = int(rng.integers(2, len(p) - 2))
    p, iois = np.insert(p, s, p[s]), np.insert(iois, s, iois[s] / 2)
    iois[s + 1] /= 2
    iois[rng.choice(len(p), 2, replace=False)] *= 2.0
    return Melody(make_notes(np.concatenate([[0.0], np.cumsum(iois[:-1])]), iois, p))


def _passage_disputes(tmp_path, seeds):
    """(counterpart first, counterpart first and flagged, unrelated passages flagging anything) over small
    catalogs of 40 passages of 9-14 notes, each queried with a varied copy of one of them and with 3
    unrelated passages."""
    first = flagged = false = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        refs = [Melody(_random_tune(rng, int(rng.integers(9, 15))), title=f"r{k}", source=f"mem/{k}")
                for k in range(40)]
        cat = Catalog.create(str(tmp_path / f"c{seed}-{rescore.PASSAGE_MAX}"))
        cat.add(refs)
        top = cat.search(_varied_passage(refs[7].notes, rng), top=3)[0]
        first += top.title == "r7"
        flagged += top.title == "r7" and top.evalue <= 0.1
        for k in range(3):
            q = Melody(_random_tune(np.random.default_rng([seed, k]), int(rng.integers(9, 15))))
            false += any(m.evalue <= 0.1 for m in cat.search(q, top=3))
    return first, flagged, false


def test_a_varied_passage_against_a_catalog_of_passages_is_found_and_significant(tmp_path, monkeypatch):
    """Both sides short (a dispute argued over a few bars): the passage view aligns the two passages whole,
    so changes spread over the whole passage still add up to one correspondence; a local alignment keeps
    only the best stretch, which chance partners match as well."""
    seeds = range(16)
    first, flagged, false = _passage_disputes(tmp_path, seeds)
    monkeypatch.setattr(rescore, "PASSAGE_MAX", 0)               # local alignments only
    first0, flagged0, false0 = _passage_disputes(tmp_path, seeds)
    assert first == first0 == 16
    assert flagged >= 8 and flagged >= flagged0 + 4              # 10 against 4 of 16 when written
    # these random walks resemble each other more than real melodies do (the null is fitted on real ones):
    # the local alignments alone flag 7 of the 48 unrelated passages; the passage view adds few
    assert false <= false0 + 3


def test_the_passage_view_leaves_long_references_alone(tmp_path, monkeypatch):
    """Only a passage against the catalog's passages is read whole: against a catalog of longer tunes a
    passage gets the plain re-scoring, E-values and scores unchanged."""
    rng = np.random.default_rng(5)
    refs = [Melody(_random_tune(rng, int(rng.integers(30, 50))), title=f"r{k}", source=f"mem/{k}") for k in range(30)]
    cat = Catalog.create(str(tmp_path / "c"))
    cat.add(refs)
    p = cat.packed
    query = Melody(refs[3].notes[4:16].copy())
    qf = p.query_features(query)
    s1, ev1 = cat._stage1(qf, p, None)
    assert len(qf) <= rescore.PASSAGE_MAX < np.diff(p.step_offsets).min()
    one = rescore.rescore_views([rescore.View(query, qf, p, s1, ev1)])      # the view is added, scores nothing
    monkeypatch.setattr(rescore, "PASSAGE_MAX", 0)
    plain = rescore.rescore_views([rescore.View(query, qf, p, s1, ev1)])
    np.testing.assert_array_equal(one[0], plain[0])
    np.testing.assert_allclose(one[1], plain[1])
    np.testing.assert_allclose(one[2], plain[2])


def _joined(parts, shift=0):
    duration = np.concatenate([x["duration"] for x in parts])
    return Melody(make_notes(np.concatenate([[0.0], np.cumsum(duration[:-1])]), duration,
                             np.concatenate([x["pitch"] for x in parts]) + shift))


def _hook_song(rng):
    """A 10-note hook, three 16-note verses, a reference holding the hook once between two other phrases, and
    the song verse, hook, verse, hook, verse, hook, two semitones up."""
    hook = _random_tune(rng, 10)
    verses = [_random_tune(rng, 16) for _ in range(3)]
    ref = _joined([_random_tune(rng, 20), hook, _random_tune(rng, 20)])
    return hook, verses, ref, _joined([verses[0], hook, verses[1], hook, verses[2], hook], 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_hook_stated_three_times_adds_its_further_statements_less_the_chain_cost(seed):
    # verse, hook, verse, hook, verse, hook (transposed) against a tune holding the hook once: with P_CHAIN
    # each further statement adds its own alignment's score less P_CHAIN; unrelated verses add nothing
    rng = np.random.default_rng(seed)
    hook, verses, ref, song = _hook_song(rng)
    unrelated = _joined(verses, 2)
    single = PP.copy()
    single[PK.P_EXACT], single[PK.P_CHAIN] = 0.0, 0.0
    chained = single.copy()
    chained[PK.P_CHAIN] = 20.0
    alone = kernel_pitch_score(_joined([hook], 2), [ref], single)[0]
    assert alone > 30.0
    one, three = (kernel_pitch_score(song, [ref], p)[0] for p in (single, chained))
    assert three - one == pytest.approx(2 * (alone - chained[PK.P_CHAIN]), abs=6.0)
    assert kernel_pitch_score(unrelated, [ref], chained)[0] <= kernel_pitch_score(unrelated, [ref], single)[0] + 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_restatement_of_the_same_passage_chains_at_the_lower_cost_other_passages_at_the_chain_cost(seed):
    # a hook stated three times against a tune holding it once: each further statement restates the passage
    # the first one matched, and adds its score less P_RESTATE; three different passages matched in three
    # far-apart places of a reference (what a chance partner's pieces look like) add theirs less P_CHAIN
    rng = np.random.default_rng(seed)
    hook, verses, ref, song = _hook_song(rng)
    pieces = [_random_tune(rng, 10) for _ in range(3)]
    far = _joined([pieces[0], _random_tune(rng, 30), pieces[1], _random_tune(rng, 30), pieces[2]])
    medley = _joined([verses[0], pieces[0], verses[1], pieces[1], verses[2], pieces[2]], 2)
    p = PP.copy()
    p[PK.P_EXACT], p[PK.P_CHAIN], p[PK.P_RESTATE] = 0.0, 25.0, 0.0
    cheaper = p.copy()
    cheaper[PK.P_RESTATE] = 15.0
    hook_gain = kernel_pitch_score(song, [ref], cheaper)[0] - kernel_pitch_score(song, [ref], p)[0]
    assert hook_gain == pytest.approx(2 * (p[PK.P_CHAIN] - cheaper[PK.P_RESTATE]), abs=1e-6)
    assert kernel_pitch_score(medley, [far], cheaper)[0] == pytest.approx(kernel_pitch_score(medley, [far], p)[0])


def test_a_passage_is_compared_with_the_catalogs_passages_whole_only(tmp_path):
    """Two passages are compared end to end: a passage query's E-values for the catalog's passages follow
    their whole-alignment combined scores (stage 1 + whole pitch alignment) alone, with no factor for
    taking the better of a local and a whole view; before, the better of the two counted (a local stretch
    of 3-8 notes that chance partners share too), corrected for two views."""
    rng = np.random.default_rng(3)
    refs = [Melody(_random_tune(rng, int(rng.integers(9, 15))), title=f"r{k}", source=f"mem/{k}")
            for k in range(40)]
    cat = Catalog.create(str(tmp_path / "c"))
    cat.add(refs)
    p = cat.packed
    query = _varied_passage(refs[7].notes, rng)
    qf = p.query_features(query)
    s1, ev1 = cat._stage1(qf, p, None)
    order, ev, _ = rescore.rescore_views([rescore.View(query, qf, p, s1, ev1)])
    rows = np.arange(len(p))
    whole = s1 + rescore.pitch_scores(rescore.query_pitches(query), qf, p, rescore.pitches(p), rows,
                                      rescore.whole_params())
    lam, log_k = rescore.fit_null(whole, np.ones(len(p)), (rescore.LAMBDA_WHOLE, rescore.K_WHOLE))
    np.testing.assert_allclose(ev, len(p) * -np.expm1(-np.exp(log_k - lam * whole)), rtol=1e-9)
    assert order[0] == 7
