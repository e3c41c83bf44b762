"""A match between a query and one reference: spans, bars, transposition, tempo, significance, evidence."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..align import Alignment
from ..notes import Melody
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

    def to_dict(self, evidence: bool = False) -> dict:
        d = asdict(self)
        d["pairs"] = [list(p) for p in self.pairs] if evidence else None
        if not evidence:
            d.pop("pairs")
        return d


def _bars(notes: np.ndarray, first: int, last: int):
    bars = notes["bar"][first:last + 1]
    bars = bars[bars >= 0]
    return [int(bars.min()), int(bars.max())] if len(bars) else None


def build_match(query: Melody, reference: Melody, alignment: Alignment, entry, evalue: float,
                max_evalue: float, null_model: dict | None = None) -> Match:
    qn, rn = query.notes, reference.notes
    q0, q1 = alignment.query_notes
    r0, r1 = alignment.reference_notes
    pairs = [(int(i), int(j)) for i, j in alignment.pairs]
    diffs = np.array([qn["pitch"][i] - rn["pitch"][j] for i, j in pairs]) if pairs else np.zeros(1)
    transposition = int(np.round(np.median(diffs)))
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
                 tempo_ratio=round(tempo_ratio, 4), alignment_score=round(alignment.score, 3), pairs=pairs)
