"""One library call per user-level job; the CLI and the app only parse arguments, call these and present."""
from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from . import align
from .catalog import Catalog, expand_paths
from .catalog.store import Entry
from .errors import MelodyError
from .io import load
from .meter import melody_with_guessed_beats
from .notes import Melody
from .represent import features
from .score import significance
from .score.match import build_match


def query_file(path: str, catalog: Catalog, top: int = 10,
               max_evalue: float = significance.DEFAULT_MAX_EVALUE, evidence: bool = False) -> dict:
    """Search every melody of one file against a catalog; never raises for a bad file.

    Returns the output contract: ``{"query", "status", "error", "flagged", "matches": [...]}`` with
    matches best first (all tunes of a multi-tune file merged, each tagged with ``query_tune``).
    evidence=True adds each match's explanation (aligned notes, differences, shared rare/common shapes).
    """
    result = {"query": os.fspath(path), "status": "ok", "error": None, "flagged": False, "matches": []}
    try:
        melodies = load(path)
        matches = []
        for melody in melodies:
            if len(melody.notes) < 3:
                continue
            for m in catalog.search(melody, top=top, max_evalue=max_evalue):
                d = m.to_dict(evidence=evidence)
                d["query_tune"] = melody.index
                d["query_title"] = melody.title
                matches.append(d)
        if not matches and not any(len(m.notes) >= 3 for m in melodies):
            raise MelodyError(f"{path}: no melody with at least 3 notes")
    except MelodyError as exc:
        return {**result, "status": "error", "error": str(exc)}
    except Exception as exc:   # a bug in a parser must not end a batch: report it as this file's error
        return {**result, "status": "error", "error": f"{path}: unexpected {type(exc).__name__}: {exc}"}
    matches.sort(key=lambda d: (d["evalue"], -d["alignment_score"]))
    result["matches"] = matches[:top]
    result["flagged"] = any(d["flagged"] for d in result["matches"])
    return result


def scan(paths: Iterable[str], catalog: Catalog, top: int = 10,
         max_evalue: float = significance.DEFAULT_MAX_EVALUE, evidence: bool = False) -> Iterator[dict]:
    """query_file for every supported file under `paths` (folders recursively), one result at a time."""
    for path in expand_paths(paths):
        yield query_file(path, catalog, top=top, max_evalue=max_evalue, evidence=evidence)


def compare(a: Melody, b: Melody, max_passages: int = 10, max_evalue: float = significance.DEFAULT_MAX_EVALUE,
            min_notes: int = 5) -> list[dict]:
    """Every shared passage of two melodies, best first.

    Waterman-Eggert: after each passage its cells are masked and the alignment is recomputed, so a chorus
    that borrows one phrase and a verse that borrows another both appear. E-values are for this pair. A
    melody without bars gets its beats from a steady pulse, as in `Catalog.search`.
    """
    fa, fb = features(melody_with_guessed_beats(a.require())), features(melody_with_guessed_beats(b.require()))
    mask = np.zeros((len(fa) + 1, len(fb) + 1), dtype=bool)
    entry = Entry(-1, b.meta.get("id", os.path.basename(b.source)), b.title, b.composer, b.source)
    passages = []
    for _ in range(max_passages):
        aln = align.local_align(fa, fb, mask=mask)
        if aln.score <= 0 or len(aln.pairs) < min_notes:
            break
        mask[aln.query_steps[0] + 1:aln.query_steps[1] + 1, aln.reference_steps[0] + 1:aln.reference_steps[1] + 1] = True
        ev, _ = significance.evalues(np.array([aln.score]), len(fa), np.array([len(fb)]))
        passages.append(build_match(a, b, aln, entry, float(ev[0]), max_evalue).to_dict(evidence=True))
    return passages


def compare_files(path_a: str, path_b: str, max_passages: int = 10,
                  max_evalue: float = significance.DEFAULT_MAX_EVALUE) -> dict:
    """`melody compare A B`: every shared passage of every tune of A with every tune of B, best first.

    A file with several tunes (an ABC collection) is compared tune by tune, so a tune other than the first
    is not missed; each passage names its tunes (``query_tune``/``query_title`` for A,
    ``reference_tune``/``reference_title`` for B). E-values are per pair of tunes, as in `compare`.
    Raises MelodyError (naming the file) when either file cannot be read or has no melody of 3 notes.
    """
    tunes = []
    for path in (path_a, path_b):
        usable = [m for m in load(path) if len(m.notes) >= 3]
        if not usable:
            raise MelodyError(f"{path}: no melody with at least 3 notes")
        tunes.append(usable)
    passages = []
    for a in tunes[0]:
        for b in tunes[1]:
            for p in compare(a, b, max_passages=max_passages, max_evalue=max_evalue):
                p.update(query_tune=a.index, query_title=a.title, reference_tune=b.index, reference_title=b.title)
                passages.append(p)
    passages.sort(key=lambda d: (d["evalue"], -d["alignment_score"]))
    passages = [p for k, p in enumerate(passages) if p["flagged"] or k < max_passages]
    return {"a": os.fspath(path_a), "b": os.fspath(path_b), "flagged": any(p["flagged"] for p in passages),
            "tunes": [len(tunes[0]), len(tunes[1])], "passages": passages}


def match_melodies(path: str, catalog: Catalog, match: dict) -> tuple[Melody, Melody]:
    """The query and reference melodies a match of `query_file(path, catalog)` was found between.

    Raises MelodyError when the file no longer loads or the reference is no longer in the catalog.
    """
    melodies = load(path)
    query = next((m for m in melodies if m.index == match.get("query_tune")), None)
    row = catalog.packed.entries.row_of(match["id"])
    if query is None or row is None:
        raise MelodyError(f"{path}: match {match['id']} no longer fits the file or the catalog")
    return query, catalog.melody(row)
