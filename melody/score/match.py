"""A match between a query and one reference: spans, bars, transposition, tempo, significance, evidence."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..align import Alignment
from ..align.pitch import change_mode, estimate_key
from ..notes import PITCH_CLASS_NAMES, Melody
from . import significance


@dataclass
class Match:
    id: str
    title: str
    source: str
    score: float                       # exp(-evalue): confidence that this is not a chance resemblance
    evalue: float                      # matches this good expected by chance in a catalog this size
    flagged: bool
    query_span: list[float]            # seconds [start, end] in the query
    reference_span: list[float]        # seconds [start, end] in the reference
    query_notes: list[int]             # note indices [first, last]
    reference_notes: list[int]
    query_bars: list[int] | None       # bar numbers [first, last] when the file has bars
    reference_bars: list[int] | None
    matched_notes: int                 # aligned note pairs
    exact_notes: int                   # pairs whose pitch agrees after transposition
    transposition: int                 # semitones to add to the reference to get the query
    tempo_ratio: float                 # query tempo / reference tempo over the matched passage
    alignment_score: float             # raw local-alignment score
    composer: str = ""
    pairs: list[tuple[int, int]] = field(default_factory=list, repr=False)   # aligned (query, ref) notes
    evidence: dict = field(default_factory=dict, repr=False)                 # see explain()

    def to_dict(self, evidence: bool = False) -> dict:
        """The output contract's match object; with evidence=True also the aligned notes and n-grams."""
        d = asdict(self)
        d.pop("pairs")
        d.pop("evidence")
        if evidence:
            d["evidence"] = self.evidence
        return d


def _substitutions(pairs) -> list[tuple[int, int]]:
    """The aligned pairs with every gap that skips as many notes of both melodies (k query notes against k
    reference notes between two pairs) read as k changed notes, paired in order: an interval alignment
    leaves a changed note out on both sides rather than pair it."""
    out = []
    for (i, j), (i2, j2) in zip(pairs, pairs[1:]):
        out.append((i, j))
        if i2 - i == j2 - j > 1:
            out.extend((i + k, j + k) for k in range(1, i2 - i))
    return out + list(pairs[-1:])


def mode_change(query_pitch: np.ndarray, reference_pitch: np.ndarray, pairs, transposition: int):
    """Whether the aligned notes read as the reference sung in the other mode (the re-scoring's P_MODE): the
    pairs that differ become the same once the reference's thirds and sixths (and a minor tune's flat seventh)
    move a semitone (`align.pitch.change_mode` in the reference's estimated key), at least two of them, and
    more than twice as many as the pairs the move would spoil. Returns a description or None."""
    pairs = _substitutions(pairs)
    if len(pairs) < 3:
        return None
    ref = np.round(reference_pitch).astype(np.int64)
    tonic, minor = estimate_key(ref)
    moved = np.empty_like(ref)
    change_mode(ref, tonic, minor, moved)
    q = np.round(np.array([query_pitch[i] for i, _ in pairs])).astype(np.int64)
    r = np.array([ref[j] for _, j in pairs]) + transposition
    m = np.array([moved[j] for _, j in pairs]) + transposition
    explained = int(np.sum((q != r) & (q == m)))
    spoiled = int(np.sum((q == r) & (q != m)))
    if explained < 2 or explained <= 2 * spoiled:
        return None
    key = f"{PITCH_CLASS_NAMES[tonic]} {'minor' if minor else 'major'}"
    other = "major" if minor else "minor"
    return {"reference_key": key, "query_mode": other, "notes": explained,
            "text": f"the reference (in {key}) sung in {other}: {explained} of its "
                    f"{'thirds, sixths and sevenths' if minor else 'thirds and sixths'} a semitone "
                    f"{'higher' if minor else 'lower'}"}


def explain(query: Melody, reference: Melody, pairs, transposition: int, evalue: float,
            n_catalog: int) -> dict:
    """Why this is a match: every aligned note pair (same pitch after transposition or off by how much),
    the notes of either melody left out of the alignment (ornaments, passing notes), whether the differences
    are the reference in the other mode (`mode_change`, major <-> minor), and which shared
    3-note shapes are rare or common in the repertoire (information in bits, see melody.commonness)."""
    from ..commonness import step_weights

    qn, rn = query.notes, reference.notes
    notes = []
    for i, j in pairs:
        diff = float(qn["pitch"][i] - rn["pitch"][j] - transposition)
        notes.append({"query_note": i, "reference_note": j,
                      "query_time": round(float(qn["onset"][i]), 3), "reference_time": round(float(rn["onset"][j]), 3),
                      "query_pitch": float(qn["pitch"][i]), "reference_pitch": float(rn["pitch"][j]),
                      "difference": "same" if abs(diff) < 0.5 else f"{diff:+.0f} semitones"})
    matched_q = {i for i, _ in pairs}
    matched_r = {j for _, j in pairs}
    q0, q1 = (pairs[0][0], pairs[-1][0]) if pairs else (0, -1)
    r0, r1 = (pairs[0][1], pairs[-1][1]) if pairs else (0, -1)
    q_weights = step_weights(np.diff(qn["pitch"].astype("f8")))
    shared = []
    for (i, j), (i2, j2), (i3, j3) in zip(pairs, pairs[1:], pairs[2:]):
        if i2 - i == 1 and i3 - i2 == 1 and j2 - j == 1 and j3 - j2 == 1:
            # rounded: a recording's pitches are fractional (the singer's own tuning), a shape is in semitones
            iq = [float(round(qn["pitch"][i2] - qn["pitch"][i])), float(round(qn["pitch"][i3] - qn["pitch"][i2]))]
            ir = [float(round(rn["pitch"][j2] - rn["pitch"][j])), float(round(rn["pitch"][j3] - rn["pitch"][j2]))]
            if iq == ir:
                bits = float(q_weights[i] + q_weights[i2])
                shared.append({"query_notes": [i, i3], "intervals": iq, "bits": round(bits, 2),
                               "rarity": "rare" if bits >= 7 else "common" if bits < 4 else "typical"})
    return {"aligned": notes,
            "mode_change": mode_change(qn["pitch"], rn["pitch"], pairs, transposition),
            "query_only_notes": [k for k in range(q0, q1 + 1) if k not in matched_q],
            "reference_only_notes": [k for k in range(r0, r1 + 1) if k not in matched_r],
            "shared_shapes": shared,
            "significance": (f"a {len(pairs)}-note passage this close is expected by chance {evalue:.2g} times "
                             f"in a catalog of {n_catalog} melodies")}


# How far a note's pitch may stray from the match's transposition and still count as the borrowed note read
# differently rather than as another note: one or two semitones is a changed note (the other mode, a scale step,
# a sung note off its intent), as in the pitch re-scoring's P_NEAR; an octave is the same note. Three or more is
# unrelated: where an alignment's end holds more such notes than agreeing ones, the local alignment's maximum
# took in a chance continuation (a common interval or a shared rhythm after the phrase ends) and the span stops
# before it (`agreeing_ends`; BENCHMARKS.md, "Twenty-second session: where a match's span ends").
NEAR_SEMITONES = 2


def agreeing_ends(offsets: np.ndarray) -> tuple[int, int]:
    """The first and last aligned pair (indices into `offsets`) that a match reports.

    Each pair's pitch offset from the transposition (semitones, query minus transposed reference) scores +1
    for the same pitch class, 0 within NEAR_SEMITONES, -1 farther; the pairs kept are the stretch with the
    greatest sum (the longest such stretch on ties), so an end is dropped only where its far-off pairs
    outnumber its agreeing ones, and a difference inside a passage stays in it unless a whole side weighs
    less than it.
    """
    d = np.abs(np.round(np.asarray(offsets, dtype="f8")))
    d = np.minimum(d % 12, 12 - d % 12)
    agree = np.where(d == 0, 1, np.where(d <= NEAR_SEMITONES, 0, -1))
    best, span = None, (0, len(agree) - 1)
    start, total = 0, 0
    for k, a in enumerate(agree):
        if total < 0:                   # a stretch that sums below zero never helps what follows it
            start, total = k, 0
        total += int(a)
        if best is None or total > best or (total == best and k - start > span[1] - span[0]):
            best, span = total, (start, k)
    return span


def _bars(notes: np.ndarray, first: int, last: int):
    bars = notes["bar"][first:last + 1]
    bars = bars[bars >= 0]
    return [int(bars.min()), int(bars.max())] if len(bars) else None


def build_match(query: Melody, reference: Melody, alignment: Alignment, entry, evalue: float,
                max_evalue: float, n_catalog: int = 1) -> Match:
    qn, rn = query.notes, reference.notes
    q0, q1 = alignment.query_notes
    r0, r1 = alignment.reference_notes
    pairs = [(int(i), int(j)) for i, j in alignment.pairs]
    diffs = np.array([qn["pitch"][i] - rn["pitch"][j] for i, j in pairs]) if pairs else np.zeros(1)
    transposition = int(np.round(np.median(diffs)))
    if pairs:    # the span and notes reported: without an end that strays from the transposition
        first, last = agreeing_ends(diffs - transposition)
        if first > 0:
            q0, r0 = pairs[first]
        if last < len(pairs) - 1:
            q1, r1 = pairs[last]
        pairs, diffs = pairs[first:last + 1], diffs[first:last + 1]
    exact = int(np.sum(np.abs(diffs - transposition) < 0.5))
    q_span = [float(qn["onset"][q0]), float(qn["onset"][q1] + qn["duration"][q1])]
    r_span = [float(rn["onset"][r0]), float(rn["onset"][r1] + rn["duration"][r1])]
    q_len = float(qn["onset"][q1] - qn["onset"][q0])
    r_len = float(rn["onset"][r1] - rn["onset"][r0])
    tempo_ratio = r_len / q_len if q_len > 0 and r_len > 0 else 1.0
    return Match(id=entry.uid, title=entry.title, composer=entry.composer, source=entry.source,
                 score=float(significance.confidence(evalue)), evalue=float(evalue),
                 flagged=bool(evalue <= max_evalue), query_span=q_span, reference_span=r_span,
                 query_notes=[int(q0), int(q1)], reference_notes=[int(r0), int(r1)],
                 query_bars=_bars(qn, q0, q1), reference_bars=_bars(rn, r0, r1),
                 matched_notes=len(pairs), exact_notes=exact, transposition=transposition,
                 tempo_ratio=round(tempo_ratio, 4), alignment_score=round(alignment.score, 3), pairs=pairs,
                 evidence=explain(query, reference, pairs, transposition, evalue, n_catalog))
