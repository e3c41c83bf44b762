"""One library call per user-level job; the CLI and the app only parse arguments, call these and present."""
from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Iterator

import numpy as np

from . import align
from .catalog import Catalog, expand_paths
from .catalog.packed import merged_reading, restruck
from .catalog.store import Entry
from .errors import MelodyError
from .io import load
from .io.parts import check_parts
from .meter import melody_with_guessed_beats
from .notes import Melody
from .represent import features
from .score import pair, significance
from .score.match import build_match


def query_file(path: str, catalog: Catalog, top: int = 10,
               max_evalue: float = significance.DEFAULT_MAX_EVALUE, evidence: bool = False,
               melodies: list[Melody] | None = None, parts: str = "lead", variants: bool = False) -> dict:
    """Search every melody of one file against a catalog; never raises for a bad file.

    Returns the output contract: ``{"query", "status", "error", "flagged", "matches": [...]}`` with
    matches best first (all tunes of a multi-tune file merged, each tagged with ``query_tune``).
    evidence=True adds each match's explanation (aligned notes, differences, shared rare/common shapes).
    melodies: the file's melodies (`load(path, parts=parts)`) when the caller has them (a recording is not
    transcribed again).
    parts: "lead" (default) searches each tune's lead line; "all" every pitched part of a MIDI or MusicXML
    file (`melody.io.load`), each match naming its part (``query_part``: index and name). Searching k parts
    of a tune is k tries: their E-values are multiplied by k (`parts_evalue`) before flagging, so a file's
    chance of a false flag stays what `max_evalue` promises.
    variants: also ask whether each tune is a variant of a whole tune (`Catalog.search`'s ``variants``).
    """
    result = {"query": os.fspath(path), "status": "ok", "error": None, "flagged": False, "matches": []}
    try:
        check_parts(parts)
        melodies = load(path, parts=parts) if melodies is None else melodies
        searched = [m for m in melodies if len(m.notes) >= 3]
        if not searched:
            raise MelodyError(f"{path}: no melody with at least 3 notes")
        tries = Counter(m.index for m in searched)       # the parts searched per tune
        matches = []
        for melody in searched:
            k = tries[melody.index]
            for m in catalog.search(melody, top=top, max_evalue=max_evalue, variants=variants):
                d = m.to_dict(evidence=evidence)
                if k > 1:
                    evalue = parts_evalue(d["evalue"], k)
                    d.update(evalue=evalue, score=float(significance.confidence(evalue)),
                             flagged=bool(evalue <= max_evalue))
                    if evidence:
                        d["evidence"]["significance"] += (f" (one part's search), {evalue:.2g} times over the {k} "
                                                          "parts searched")
                d["query_tune"] = melody.index
                d["query_title"] = melody.title
                if parts == "all":
                    d["query_part"] = query_part(melody)
                matches.append(d)
    except MelodyError as exc:
        return {**result, "status": "error", "error": str(exc)}
    except Exception as exc:   # a bug in a parser must not end a batch: report it as this file's error
        return {**result, "status": "error", "error": f"{path}: unexpected {type(exc).__name__}: {exc}"}
    matches.sort(key=lambda d: (d["evalue"], -d["alignment_score"]))
    result["matches"] = matches[:top]
    result["flagged"] = any(d["flagged"] for d in result["matches"])
    return result


def parts_evalue(evalue: float, tries: int) -> float:
    """The E-value of a match found by one of `tries` parts of a file, each searched against the catalog:
    Bonferroni, the expected number of chance matches this good over all the searches (`tries` times one
    search's)."""
    return float(evalue) * tries


def query_part(melody: Melody) -> dict | None:
    """A match's ``query_part``: the part of the file (0-based index among the parts searched, and its name)
    that `melody` is, or None for a melody without parts (ABC, kern, a recording)."""
    if "part_index" not in melody.meta:
        return None
    return {"index": melody.meta["part_index"], "name": melody.meta["part_name"]}


def scan(paths: Iterable[str], catalog: Catalog, top: int = 10,
         max_evalue: float = significance.DEFAULT_MAX_EVALUE, evidence: bool = False,
         parts: str = "lead") -> Iterator[dict]:
    """query_file for every supported file under `paths` (folders recursively), one result at a time."""
    for path in expand_paths(paths):
        yield query_file(path, catalog, top=top, max_evalue=max_evalue, evidence=evidence, parts=parts)


def compare(a: Melody, b: Melody, max_passages: int = 10, max_evalue: float = significance.DEFAULT_MAX_EVALUE,
            min_notes: int = 5) -> list[dict]:
    """Every shared passage of two melodies, best first.

    Waterman-Eggert: after each passage its cells are masked and the alignment is recomputed, so a chorus
    that borrows one phrase and a verse that borrows another both appear. E-values are for this pair, from
    the model `Catalog.search` flags with (`_passages`): a search's E-value for b in a catalog of N
    melodies is about N times compare's. A melody without bars gets its beats from a steady pulse, as in
    `Catalog.search`; a recording, or a query `a` re-struck for more syllables, is also read with repeated
    notes merged, as a search reads it.
    """
    merged = _read_twice(a, b)
    return _passages(_prepared(a, merged), _prepared(b, merged), max_passages, max_evalue, min_notes)


def _prepared(melody: Melody, merged: bool = False) -> tuple:
    """(the melody, the melody with beats guessed where it has none, the latter's features, the guessed
    melody's reading with repeated notes merged and its features, or None): what `_passages` aligns,
    computed once per tune. `merged`: compute the merged reading (when either side of a comparison is a
    recording, `_recording`)."""
    guessed = melody_with_guessed_beats(melody.require())
    reading = merged_reading(guessed) if merged else None
    return melody, guessed, features(guessed), None if reading is None else (reading, features(reading))


def _recording(*melodies: Melody) -> bool:
    """Whether any of the melodies was transcribed from a recording (compared in two readings)."""
    return any(m.meta.get("kind") == "audio" for m in melodies)


def _read_twice(a: Melody, b: Melody) -> bool:
    """Whether the pair is compared in two readings (as given, and with repeated notes merged), as
    `Catalog.search` ranks query a against reference b: either is a recording, or a's notes are re-struck
    for more syllables (`melody.catalog.packed.restruck`, the query side only, as a search gates it)."""
    return _recording(a, b) or restruck(a.notes)


def readings_evalue(evalues) -> float:
    """The E-value of the better of several readings of one pair (each an E-value for the pair), corrected
    for taking the better one: ``1 - exp(-n min_i r_i)`` with ``r_i = -ln(1 - E_i)``, the rate of chance
    passages of reading i. Bonferroni over the n readings: `Catalog.search` measures the correction on the
    query's null sample (`rescore.views_factor`, at most the number of views), one pair has none, and
    `rescore_views` falls back to the number of views when too few null rows are scored."""
    rates = [-np.log1p(-min(float(e), 1.0 - 1e-16)) for e in evalues]
    return float(-np.expm1(-len(rates) * min(rates)))


def _features(melody: Melody):
    return _prepared(melody)[2]


def _passages(pa: tuple, pb: tuple, max_passages: int, max_evalue: float, min_notes: int) -> list[dict]:
    """Waterman-Eggert passages of one pair, best first, each with its E-value for this pair.

    The best passage is judged as `Catalog.search` judges a match (`melody.score.pair`: interval plus
    transposed pitch alignment under stage 2's calibrated null), so `compare` and `query` agree on it up to
    the catalog's size. A further passage is found by the interval alignment with the cells of the passages
    before it masked, and judged the same way on its own notes (`pair.passage_pitch_score`), never more
    significant than the best. ``interval_evalue``: each passage's E-value for the pair under stage 1's
    model alone (LAMBDA, K_GLOBAL), what compare reported before (BENCHMARKS.md, "Tenth session: compare's
    significance"). When either melody is a recording (both have a merged reading, `_prepared`) and either
    has a repeated note, the best passage's E-value is that of the better of two readings, as transcribed
    and with repeated notes merged in both melodies, as `Catalog.search` ranks a recording
    (`readings_evalue`); the passages shown are aligned note for note as transcribed, as a search shows
    them. When the merged reading gives that E-value, ``evidence["merged_notes"]`` is its passage's length
    and the significance sentence names that reading (`passage_significance`).
    """
    (a, ga, fa, ra), (b, gb, fb, rb) = pa, pb     # `_prepared`
    mask = np.zeros((len(fa) + 1, len(fb) + 1), dtype=bool)
    entry = Entry(-1, b.meta.get("id", os.path.basename(b.source)), b.title, b.composer, b.source)
    passages = []
    best = None
    merged_notes = None     # the merged reading's passage length, when that reading gave the best E-value
    for _ in range(max_passages):
        aln = align.local_align(fa, fb, mask=mask)
        if aln.score <= 0 or len(aln.pairs) < min_notes:
            break
        mask[aln.query_steps[0] + 1:aln.query_steps[1] + 1, aln.reference_steps[0] + 1:aln.reference_steps[1] + 1] = True
        ev1 = float(significance.evalues(np.array([aln.score]), len(fa), np.array([len(fb)]))[0][0])
        if best is None:
            best = ev = pair.best_evalue(ga, gb, fa, fb, aln.score, one_reading=not _read_twice(a, b))
            if ra is not None and rb is not None and \
                    len(ra[0].notes) + len(rb[0].notes) < len(ga.notes) + len(gb.notes):   # merging changes one
                (ma, mfa), (mb, mfb) = ra, rb
                merged = align.local_align(mfa, mfb)
                if merged.score > 0:
                    merged_ev = pair.best_evalue(ma, mb, mfa, mfb, merged.score, one_reading=False)
                    merged_notes = len(merged.pairs) if merged_ev < ev else None
                    best = ev = readings_evalue([ev, merged_ev])
        else:
            combined = aln.score + pair.passage_pitch_score(ga, gb, aln.query_notes, aln.reference_notes)
            ev = max(pair.combined_evalue(combined, len(fa), len(fb)), best)
        d = build_match(a, b, aln, entry, ev, max_evalue).to_dict(evidence=True)
        d["interval_evalue"] = ev1
        if merged_notes and len(passages) == 0:
            d["evidence"]["merged_notes"] = merged_notes
        d["evidence"]["significance"] = passage_significance(d, ev, "these two melodies")
        passages.append(d)
    return passages


def passage_significance(passage: dict, evalue: float, between: str) -> str:
    """The sentence that says how often a passage this close arises by chance `between` the melodies
    compared. When the E-value is the reading with repeated notes merged (``evidence["merged_notes"]``: a
    recording, or a melody re-struck for more syllables), the sentence names that reading and its length:
    the passage shown is aligned note for note as written, and is often far shorter (a song against itself
    re-struck showed "a 7-note passage" at E 1.5e-22, the whole 53-note song matching once merged)."""
    merged = passage["evidence"].get("merged_notes")
    notes = passage["matched_notes"]
    sentence = f"a {merged or notes}-note passage this close is expected by chance {evalue:.2g} times between {between}"
    if not merged:
        return sentence
    return (f"read with repeated notes merged, {sentence} (the {notes} notes shown are the passage aligned note "
            "for note as written)")


def collection_evalue(pair_evalue: float, m: int, n: int, lengths_a, lengths_b) -> float:
    """The E-value of a passage found between tunes of lengths m and n (steps) with E-value `pair_evalue`
    for that pair, when every tune of A (`lengths_a`) was compared with every tune of B (`lengths_b`): the
    expected number of chance passages this good over all the pairs (the Gumbel null of `compare`, whose
    search space is m x n). Equal to `pair_evalue` for one tune against one."""
    if len(lengths_a) == 1 and len(lengths_b) == 1:
        return float(pair_evalue)                                   # one tune against one: the pair's own
    rate = -np.log1p(-min(float(pair_evalue), 1.0 - 1e-16))      # exp(-z) of the pair
    space = np.outer(np.maximum(np.asarray(lengths_a, dtype="f8"), 1.0),
                     np.maximum(np.asarray(lengths_b, dtype="f8"), 1.0))
    return float(np.sum(-np.expm1(-rate * space / (max(m, 1) * max(n, 1)))))


def compare_files(path_a: str, path_b: str, max_passages: int = 10,
                  max_evalue: float = significance.DEFAULT_MAX_EVALUE, min_notes: int = 5) -> dict:
    """`melody compare A B`: every shared passage of every tune of A with every tune of B, best first.

    A file with several tunes (an ABC collection) is compared tune by tune, so a tune other than the first
    is not missed; each passage names its tunes (``query_tune``/``query_title`` for A,
    ``reference_tune``/``reference_title`` for B). Its E-value counts every pair of tunes compared
    (`collection_evalue`; ``pair_evalue`` is the pair's own), so two collections of hundreds of tunes do not
    flag the chance passages their many pairs produce. Raises MelodyError (naming the file) when either file
    cannot be read or has no melody of 3 notes.
    """
    return {"a": os.fspath(path_a), "b": os.fspath(path_b),
            **compare_collections(tunes(path_a), tunes(path_b), max_passages, max_evalue, min_notes)}


def tunes(path: str, melodies: list[Melody] | None = None) -> list[Melody]:
    """Every melody of a file that `compare_files` compares (at least 3 notes), in file order, of
    `melodies` (`load(path)`) when the caller has them.

    Raises MelodyError (naming the file) when the file cannot be read or has no such melody.
    """
    usable = [m for m in (load(path) if melodies is None else melodies) if len(m.notes) >= 3]
    if not usable:
        raise MelodyError(f"{path}: no melody with at least 3 notes")
    return usable


def compare_collections(tunes_a: list[Melody], tunes_b: list[Melody], max_passages: int = 10,
                        max_evalue: float = significance.DEFAULT_MAX_EVALUE, min_notes: int = 5) -> dict:
    """Every shared passage of every melody of `tunes_a` with every melody of `tunes_b` (`compare_files`
    without the files): ``{"flagged", "tunes", "passages"}``, passages best first, E-values counting every
    pair of tunes compared (`collection_evalue`)."""
    merged = _recording(*tunes_a, *tunes_b) or any(restruck(m.notes) for m in tunes_a)
    tunes = [[_prepared(m, merged) for m in side] for side in (tunes_a, tunes_b)]
    lengths_a, lengths_b = ([len(f) for _, _, f, _ in side] for side in tunes)
    one_pair = len(lengths_a) * len(lengths_b) == 1
    passages = []
    for pa in tunes[0]:
        for pb in tunes[1]:
            (a, _, fa, _), (b, _, fb, _) = pa, pb
            for p in _passages(pa, pb, max_passages, max_evalue, min_notes):
                evalue = collection_evalue(p["evalue"], len(fa), len(fb), lengths_a, lengths_b)
                between = "these two melodies" if one_pair else \
                    f"any of the {len(lengths_a)} x {len(lengths_b)} pairs of tunes compared"
                p["evidence"]["significance"] = passage_significance(p, evalue, between)
                p.update(pair_evalue=p["evalue"], evalue=evalue, score=float(np.exp(-evalue)),
                         flagged=evalue <= max_evalue, query_tune=a.index, query_title=a.title,
                         reference_tune=b.index, reference_title=b.title)
                passages.append(p)
    passages.sort(key=lambda d: (d["evalue"], -d["alignment_score"]))
    passages = [p for k, p in enumerate(passages) if p["flagged"] or k < max_passages]
    return {"flagged": any(p["flagged"] for p in passages), "tunes": [len(lengths_a), len(lengths_b)],
            "passages": passages}


def match_melodies(path: str, catalog: Catalog, match: dict,
                   melodies: list[Melody] | None = None) -> tuple[Melody, Melody]:
    """The query and reference melodies a match of `query_file(path, catalog)` was found between (the part
    it names, when it names one). `melodies`: the file's melodies (`load(path)`, with parts="all" for a
    match that names its part) when the caller keeps them (a recording is transcribed again otherwise).

    Raises MelodyError when the file no longer loads or the reference is no longer in the catalog.
    """
    part = (match.get("query_part") or {}).get("index")
    if melodies is None:
        melodies = load(path, parts="lead" if match.get("query_part") is None else "all")
    query = next((m for m in melodies if m.index == match.get("query_tune")
                  and m.meta.get("part_index") == part), None)
    row = catalog.packed.entries.row_of(match["id"])
    if query is None or row is None:
        raise MelodyError(f"{path}: match {match['id']} no longer fits the file or the catalog")
    return query, catalog.melody(row)
