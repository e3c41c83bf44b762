"""Query generator for the accuracy benchmark (scripts/bench_accuracy.py).

Everything here is seeded and deterministic. The data comes from real folk-tune collections bundled with
music21 (Essen folksongs, O'Neill's 1850, Ryan's Mammoth):

* the corpus is split into a CATALOG (what gets indexed) and a disjoint HELD-OUT set (never indexed) that
  supplies foreign context and negatives. Held-out tunes that share a long run of identical pitch
  intervals with any catalog tune, or its title, are dropped so that negatives really borrow nothing.
* POSITIVE queries embed a 10-20 note phrase of one catalog tune, transposed (-6..+6 semitones), at another
  tempo (0.6-1.6x), with a variation of some strength (ornaments, rhythm changes, wrong pitches, octave
  displacement, mixtures), between phrases of held-out tunes (transposed to the phrase's key and register).
* NEGATIVE queries borrow nothing: an excerpt of a held-out tune, a medley of held-out phrases, or a freshly
  generated melody.
* every query is arranged (chords + bass + drums via ``melody.testing.accompany``, or a one-track piano
  arrangement via ``melody.testing.piano_arrangement``) and written as a MIDI file; the truth (reference,
  spans in seconds) is kept alongside.

Musical time inside this module is in quarter notes ("q"); seconds only appear in the truth spans.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import pickle
import re
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from melody.align.pitch import KEY_PROFILES
from melody.errors import MelodyError
from melody.notes import Melody

CORPUS_SOURCES = ("essenFolksong", "oneills1850", "ryansMammoth")
MIN_TUNE_NOTES = 24          # catalog and held-out tunes must be long enough to cut phrases from
SHARED_RUN = 7              # a held-out tune sharing this many consecutive intervals with the catalog is dropped
PHRASE_NOTES = (10, 20)      # positive phrase length, inclusive
CONTEXT_NOTES = (4, 24)      # foreign context length on each side, inclusive (or none, see P_NO_CONTEXT)
P_NO_CONTEXT = 0.2           # chance that one side has no context at all
# A borrowed phrase keeps its place in the bar (a pickup stays a pickup, also when it opens the query); a
# share of the positives of POSITIVE_CATEGORIES is moved against the bar line by a beat or half a bar
# (`displace`), as a songwriter may: the share of MTC-ANN variant pairs in one meter that sit in the bar
# shifted as a whole: 30 of 534 (half a bar 16, a beat 4, part of a beat 10; 452 in place, 52 with no single
# offset), `scripts/census_beats.py --shift` (BENCHMARKS.md, "Seventeenth session: a borrowed phrase ...").
P_DISPLACE = 0.06
TRANSPOSE = (-6, 6)
TEMPO_FACTOR = (0.6, 1.6)
P_PIANO = 0.3                # share of queries arranged for solo piano instead of a band
BPM_RANGE = (40.0, 240.0)
LEAD_REGISTER = (62, 84)     # the lead's median pitch is moved by octaves into this range

# positive categories: name -> how many operations of each kind (the strength is the suffix)
POSITIVE_CATEGORIES = {
    "exact/s0": {},
    "ornament/s1": {"ornament": 1},
    "ornament/s2": {"ornament": 3},
    "rhythm/s1": {"rhythm": 1},
    "rhythm/s2": {"rhythm": 3},
    "pitch/s1": {"pitch": 1},
    "pitch/s2": {"pitch": 2},
    "pitch/s3": {"pitch": 3},
    "octave/s1": {"octave": 1},
    "mixed/s2": {"ornament": 1, "rhythm": 1, "pitch": 1},
    "mixed/s3": {"ornament": 2, "rhythm": 2, "pitch": 2, "octave": 1},
}
NEGATIVE_CATEGORIES = ("neg/heldout", "neg/medley", "neg/generated")
# Short exact copies (issue 3: transposed copies of >= 8 notes must rank first): generated after the others
# with their own seeds, so adding them leaves every other query as it was.
SHORT_CATEGORY = "exact8/s0"
SHORT_NOTES = 8
N_SHORT = 15
# Syncopated phrases (issue 3: variation the categories above do not make): two anticipations and one
# rhythm change (dotted/even, a repeated note added or removed); also generated after the others with
# their own seeds.
SYNC_CATEGORY = "sync/s3"
SYNC_PLAN = {"anticipate": 2, "rhythm": 1}
N_SYNC = 15

# A borrowed phrase played, not written (issue 3, twentieth session): the query's whole arrangement (lead and
# band together) rendered as a performance (`perform`), one of PERFORM_KINDS:
# - swing: each beat's pair of eighths played long-short, 2:1 (one query of three 3:1), throughout;
# - articulation: the lead staccato (sounding 25-50% of each inter-onset interval) or legato (each note held
#   20-80 ms into the next);
# - timing: a player's timing: onset jitter (sd 10-30 ms), a slow tempo drift (5-10% over the query), a
#   ritardando (15-30%) into the ends of the borrowed phrase and of the query, velocities varied, written
#   with a tempo of PERFORM_FILE_BPM (a sequencer's default, not the beat) and 4/4: its bar lines say nothing;
# - all: all of the above at once.
# The phrase is exact (one query of two) or carries one small change; only tunes in simple duple time
# (2 or 4 quarters a bar) are borrowed, where eighths are swung. Each query has a twin in group
# straight/<kind>: the same phrase, context and arrangement, rendered as written. Generated after every other
# group with their own seeds (`Generator.performances`), so no earlier query changes.
PERFORM_CATEGORY = "perform"
STRAIGHT_CATEGORY = "straight"
PERFORM_NEGATIVE = "perform-neg"     # n // 2 held-out excerpts and medleys (negatives) played as well
PERFORM_KINDS = ("swing", "articulation", "timing", "all")
N_PERFORM = 40
PERFORM_FILE_BPM = 120.0

# Kinds of variation real songwriters use when they borrow a melody (issue 3, eighth session), one group each,
# generated after every group above with their own seeds (`Generator.variations`), so adding them leaves
# every other query as it was. Each is a whole-phrase transformation (`transform`), then the listed plan:
# - mode/s1: major <-> minor: the key's third and sixth (and, in one query of two, the seventh) a semitone off;
# - meter/s1: re-barred in another meter: a duple unit becomes a triple one, its first half held twice as
#   long (4/4 -> 3/4, or a swing / 12/8 feel), or a triple unit becomes duple (3/4 -> 4/4, 6/8 -> 2/4);
# - reset/s2: the rhythm re-set to new words: about a third of the notes split into repeats, one or two
#   merged, and the phrase shifted by a beat against the bar line;
# - embellish/s2: two or three figures: neighbour-note figures, turns, a melisma filling a long note;
# - extend/s2: an inserted bar of new material and one note held a bar (or half a bar) longer;
# - fragment/s2: only the phrase's first 6-8 notes quoted exactly, the rest moved by scale steps and re-set;
# - sequence/s1: the phrase's opening motif repeated a scale step higher (or lower) before the phrase goes on.
VARIATION_CATEGORIES = {
    "mode/s1": ("mode", {}),
    "meter/s1": ("meter", {}),
    "reset/s2": ("reset", {}),
    "embellish/s2": ("embellish", {}),
    "extend/s2": ("extend", {}),
    "fragment/s2": ("fragment", {}),
    "sequence/s1": ("sequence", {}),
}
N_VARIATION = 15             # queries per group above
# Dispute mode (scripts/bench_accuracy.py --n-dispute): a small catalog of n tunes; per tune two whole-song
# queries: the whole tune varied by one or two of these kinds (and one older change per 24 notes: a cover or
# re-setting), and a song that borrows only a hook, a phrase of 8-14 notes that comes back three times
# (each time with one more small change) between verses and a bridge of foreign material (held-out tunes),
# as in pop-song disputes; and n // 2 songs of foreign material alone that borrow nothing.
DISPUTE_CATEGORY = "dispute"
DISPUTE_HOOK_KINDS = ("mode", "meter", "reset", "embellish", "sequence", "none")
DISPUTE_KINDS = (("mode",), ("meter",), ("reset",), ("embellish",), ("extend",), ("sequence",),
                 ("mode", "meter"), ("reset", "embellish"))
DISPUTE_MAX_NOTES = 160      # longer tunes (reels of many parts) are cut to their first notes

# Riff songs (sixteenth session): a short motif of RIFF_NOTES notes of a dispute-catalog tune sung as a riff, an
# ostinato restated RIFF_REPEATS times back to back in each of two choruses between verses of held-out tunes,
# each restatement with one small change half of the time, as pop hooks are ("Dark Horse", "My Sweet Lord"); and
# one of RIFF_KINDS throughout: as written, re-set to new words (the same pitches under a new rhythm,
# `_reset_riff`), shifted an eighth later in the bar, or with an upbeat added before each statement (its first
# pitch again, or the scale step below). Queried against the dispute catalog; generated after every other
# group with their own seeds, so no earlier query changes.
RIFF_KINDS = ("plain", "reset", "shift", "pickup")
RIFF_NOTES = (5, 8)
RIFF_REPEATS = (3, 4)
N_RIFF = 20

# Long songs that restate their own material (issue 3, thirteenth session): negatives laid out as songs are,
# sections of held-out tunes (the negatives' pool and filter) in one key, each restated 2-4 times with a small
# change (ornament, rhythm or wrong note) in most restatements, in one of SONG_FORMS (A, B, C: sections; AABA,
# AABB, verse-chorus, ...), SONG_NOTES notes in all; generated after every other group with their own seeds.
# bench_styles.py found such queries flag by chance far more often than the others (BENCHMARKS.md, "Twelfth
# session: E-values for queries of another style"); bench_accuracy's 165 negatives hold none of them.
SONG_CATEGORY = "song/s60"
SONG_FORMS = ("AABA", "AABB", "ABAB", "ABABCB", "AABABA", "AABAAB")
SONG_NOTES = (60, 200)
SONG_SECTION_NOTES = (8, 32)
P_SONG_CHANGE = 0.7          # chance that a restatement carries one small change
N_SONG = 40

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


# ----------------------------------------------------------------------------------------------- corpus

@dataclass
class Tune:
    """A corpus melody in quarter-note time, with what the generator needs to know about it."""

    melody: Melody
    collection: str          # which corpus collection it came from
    pitch: np.ndarray        # int MIDI pitches
    start: np.ndarray        # quarters since the first note
    dur: np.ndarray          # quarters
    spq: float               # seconds per quarter in melody.notes
    bar_q: float             # quarters per bar
    bar_pos: np.ndarray      # position of each note in its bar (quarters; 0 where unknown)
    key_pc: int
    minor: bool

    @property
    def intervals(self) -> bytes:
        return interval_bytes(self.pitch)


def corpus_dir() -> str:
    import music21
    return os.path.join(os.path.dirname(music21.__file__), "corpus")


def _abc_loader():
    """The fast ABC parser when it exists, else music21 (much slower)."""
    try:
        from melody.io.abc import load_abc
        return load_abc, "fast"
    except ImportError:
        from melody.io.notation import load_notation
        return load_notation, "music21"


def _corpus_files(collection: str) -> list[str]:
    root = os.path.join(corpus_dir(), collection)
    return sorted(os.path.join(root, f) for f in os.listdir(root) if f.lower().endswith(".abc"))


def load_corpus(cache_dir: str | None = None, files_per_collection: int | None = None,
                log=print) -> dict[str, list[Melody]]:
    """All melodies of the bundled collections, {collection: [Melody]} (cached as a pickle in cache_dir).

    With the music21 fallback only `files_per_collection` files (spread over the collection) are read,
    because music21 needs ~0.3 s per tune.
    """
    load, kind = _abc_loader()
    if kind == "music21" and files_per_collection is None:
        files_per_collection = 4
    cache = None
    if cache_dir:
        reader = inspect.getsource(sys.modules[load.__module__])     # a changed reader reads the corpus again
        tag = hashlib.sha1(f"{kind}-{files_per_collection}-{corpus_dir()}-{reader}".encode()).hexdigest()[:10]
        cache = os.path.join(cache_dir, f"corpus-{tag}.pkl")
        if os.path.exists(cache):
            with open(cache, "rb") as fh:
                return pickle.load(fh)
    t0 = time.perf_counter()
    corpus: dict[str, list[Melody]] = {}
    for collection in CORPUS_SOURCES:
        files = _corpus_files(collection)
        if files_per_collection is not None and len(files) > files_per_collection:
            picks = np.linspace(0, len(files) - 1, files_per_collection).round().astype(int)
            files = [files[k] for k in sorted(set(picks))]
        melodies = []
        for path in files:
            try:
                melodies.extend(load(path))
            except MelodyError:
                continue
        corpus[collection] = melodies
    if log:
        log(f"corpus: {sum(map(len, corpus.values()))} tunes read with the {kind} ABC loader "
            f"in {time.perf_counter() - t0:.1f} s")
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        with open(cache, "wb") as fh:
            pickle.dump(corpus, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return corpus


def _profiles() -> np.ndarray:
    """The 24 key profiles (12 major then 12 minor), each standardised to mean 0 and unit norm."""
    rows = [np.roll(prof, tonic) for prof in KEY_PROFILES for tonic in range(12)]
    p = np.array(rows)
    p -= p.mean(axis=1, keepdims=True)
    return p / np.linalg.norm(p, axis=1, keepdims=True)


_KEY_PROFILES = _profiles()


def estimate_key(pitch: np.ndarray, dur: np.ndarray) -> tuple[int, bool]:
    """Krumhansl-Kessler key estimate from a duration-weighted pitch-class histogram: (tonic pc, minor)."""
    hist = np.bincount(np.asarray(pitch, dtype=int) % 12, weights=dur, minlength=12)
    hist = hist - hist.mean()
    if not np.any(hist):
        return 0, False
    best = int(np.argmax(_KEY_PROFILES @ hist))   # correlation up to a positive factor
    return best % 12, best >= 12


def _seconds_per_quarter(notes: np.ndarray) -> float:
    """From the bar/beat columns (beats are quarters): the median seconds per quarter, 0.5 when unknown."""
    bar, beat, onset = notes["bar"], notes["beat"].astype("f8"), notes["onset"]
    same = (bar[1:] == bar[:-1]) & (bar[1:] >= 0) & np.isfinite(beat[1:]) & np.isfinite(beat[:-1])
    d_beat = np.diff(beat)[same]
    d_on = np.diff(onset)[same]
    ok = d_beat > 1e-6
    if ok.sum() < 3:
        return 0.5
    return float(np.median(d_on[ok] / d_beat[ok]))


def _bar_quarters(notes: np.ndarray, spq: float) -> float:
    """Most common distance between consecutive bar starts, in quarters (4 when unknown)."""
    bar, beat, onset = notes["bar"], notes["beat"].astype("f8"), notes["onset"]
    ok = (bar >= 0) & np.isfinite(beat)
    if ok.sum() < 4:
        return 4.0
    starts = {}
    for b, t in zip(bar[ok], onset[ok] - beat[ok] * spq):
        starts.setdefault(int(b), t)
    nums = sorted(starts)
    lengths = [round((starts[b2] - starts[b1]) / spq * 4) / 4 for b1, b2 in zip(nums, nums[1:]) if b2 == b1 + 1]
    lengths = [x for x in lengths if 1.0 <= x <= 12.0]
    if not lengths:
        return 4.0
    values, counts = np.unique(lengths, return_counts=True)
    return float(values[np.argmax(counts)])


def to_tune(melody: Melody, collection: str) -> Tune | None:
    notes = melody.notes
    if len(notes) < MIN_TUNE_NOTES:
        return None
    pitch = np.round(notes["pitch"]).astype(int)
    spq = _seconds_per_quarter(notes)
    if not (0.02 < spq < 5.0):
        return None
    start = (notes["onset"] - notes["onset"][0]) / spq
    dur = notes["duration"] / spq
    bar_pos = notes["beat"].astype("f8")
    bar_pos = np.where(np.isfinite(bar_pos), bar_pos, 0.0)
    bar_q = _bar_quarters(notes, spq)
    key_pc, minor = estimate_key(pitch, dur)
    return Tune(melody, collection, pitch, start, dur, spq, bar_q, bar_pos, key_pc, minor)


def interval_bytes(pitch) -> bytes:
    """Pitch intervals as bytes, so that 'phrase in tune' is a substring test."""
    iv = np.clip(np.diff(np.asarray(pitch, dtype=int)), -127, 127) + 128
    return iv.astype(np.uint8).tobytes()


def _norm_title(title: str) -> str:
    return re.sub(r"[^a-z]", "", title.lower().split("--")[0])


@dataclass
class Split:
    catalog: list[Tune]
    heldout: list[Tune]
    stats: dict


def split_corpus(corpus: dict[str, list[Melody]], n_catalog: int, n_heldout: int, seed: int) -> Split:
    """Catalog and held-out tunes, evenly from each collection where possible, disjoint and deduplicated."""
    rng = np.random.default_rng([seed, 1])
    pools = {}
    seen = set()
    n_dupes = 0
    for collection in CORPUS_SOURCES:
        melodies = []
        for m in corpus.get(collection, []):
            if len(m.notes) < MIN_TUNE_NOTES:
                continue
            key = interval_bytes(np.round(m.notes["pitch"]))
            if key in seen:          # the same tune twice (common across collections)
                n_dupes += 1
                continue
            seen.add(key)
            melodies.append(m)
        pools[collection] = [melodies[k] for k in rng.permutation(len(melodies))]

    def round_robin():
        """Tunes taking turns over the collections, so each contributes equally until one runs dry."""
        iters = {c: iter(p) for c, p in pools.items()}
        while iters:
            for c in list(iters):
                m = next(iters[c], None)
                if m is None:
                    del iters[c]
                    continue
                t = to_tune(m, c)
                if t is not None:
                    yield t

    order = round_robin()
    catalog = [t for _, t in zip(range(n_catalog), order)]
    if len(catalog) < n_catalog:
        raise SystemExit(f"only {len(catalog)} usable corpus tunes; need {n_catalog} + a held-out set")
    grams = set()
    titles = {_norm_title(t.melody.title) for t in catalog} - {""}
    for t in catalog:
        b = t.intervals
        grams.update(b[k:k + SHARED_RUN] for k in range(len(b) - SHARED_RUN + 1))
    heldout, dropped = [], 0
    for t in order:
        b = t.intervals
        if (_norm_title(t.melody.title) in titles
                or any(b[k:k + SHARED_RUN] in grams for k in range(len(b) - SHARED_RUN + 1))):
            dropped += 1
            continue
        heldout.append(t)
        if len(heldout) >= n_heldout:
            break
    if len(heldout) < 20:
        raise SystemExit(f"only {len(heldout)} held-out tunes survive the overlap filter")
    stats = {"duplicates_removed": n_dupes, "heldout_dropped_for_overlap": dropped,
             "catalog_by_collection": {c: sum(t.collection == c for t in catalog) for c in CORPUS_SOURCES},
             "heldout_by_collection": {c: sum(t.collection == c for t in heldout) for c in CORPUS_SOURCES}}
    return Split(catalog, heldout, stats)


# ------------------------------------------------------------------------------------------- sequences
# A sequence is a list of [pitch, start_q, dur_q, origin]; origin is the note's index in the source phrase
# (-1 for an inserted note, -2 for a changed pitch) so the tests can check what the generator did.

def _excerpt(tune: Tune, i: int, n: int) -> list[list]:
    s0 = tune.start[i]
    return [[int(tune.pitch[k]), float(tune.start[k] - s0), float(tune.dur[k]), k - i] for k in range(i, i + n)]


def _scale_pitch(p: int, steps: int, key_pc: int, minor: bool) -> int:
    """The pitch `steps` scale degrees from p (p itself is snapped into the scale first)."""
    scale = _MINOR_SCALE if minor else _MAJOR_SCALE
    members = [q for q in range(p - 24, p + 25) if (q - key_pc) % 12 in scale]
    k = int(np.argmin([abs(q - p) for q in members]))
    return members[min(max(k + steps, 0), len(members) - 1)]


def _free_time(seq, k) -> float:
    """How long note k sounds before the next one starts (its inter-onset interval)."""
    return (seq[k + 1][1] - seq[k][1]) if k + 1 < len(seq) else seq[k][2]


def op_ornament(seq, rng, key_pc, minor) -> bool:
    """Insert one note: a passing or neighbour note in the second half of a note, or a grace note before it."""
    cands = [k for k in range(len(seq)) if min(seq[k][2], _free_time(seq, k)) >= 0.5 - 1e-9]
    if not cands:
        cands = [k for k in range(len(seq)) if seq[k][2] >= 0.25 - 1e-9]
    if not cands:
        return False
    k = int(rng.choice(cands))
    p, s, d, _ = seq[k]
    if rng.random() < 0.25:                     # grace note: a short upper/lower neighbour before note k
        g = min(0.25, d / 4)
        seq[k] = [p, s + g, d - g, seq[k][3]]
        seq.insert(k, [_scale_pitch(p, int(rng.choice([-1, 1])), key_pc, minor), s, g, -1])
        return True
    half = d / 2 if d <= 1.0 else d - 0.5
    if k + 1 < len(seq) and abs(seq[k + 1][0] - p) >= 3:      # passing note towards the next note
        new = _scale_pitch(p, 1 if seq[k + 1][0] > p else -1, key_pc, minor)
    else:                                                      # neighbour note
        new = _scale_pitch(p, int(rng.choice([-1, 1])), key_pc, minor)
    seq[k] = [p, s, half, seq[k][3]]
    seq.insert(k + 1, [new, s + half, d - half, -1])
    return True


def op_rhythm(seq, rng, key_pc, minor) -> bool:
    """One rhythm change: dotted <-> even pair, split a note into two repeated notes, or merge two notes."""
    kinds = ["dot", "split", "merge"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "dot":
            pairs = [k for k in range(len(seq) - 1)
                     if abs(seq[k + 1][1] - seq[k][1] - seq[k][2]) < 1e-6          # legato pair
                     and (abs(seq[k][2] - seq[k + 1][2]) < 1e-6                      # even -> dotted
                          or abs(seq[k][2] - 3 * seq[k + 1][2]) < 1e-6)]             # dotted -> even
            if not pairs:
                continue
            k = int(rng.choice(pairs))
            total = seq[k][2] + seq[k + 1][2]
            first = total / 2 if abs(seq[k][2] - 3 * seq[k + 1][2]) < 1e-6 else total * 0.75
            seq[k][2] = first
            seq[k + 1][1] = seq[k][1] + first
            seq[k + 1][2] = total - first
            return True
        if kind == "split":
            cands = [k for k in range(len(seq)) if seq[k][2] >= 0.5 - 1e-9]
            if not cands:
                continue
            k = int(rng.choice(cands))
            p, s, d, o = seq[k]
            seq[k] = [p, s, d / 2, o]
            seq.insert(k + 1, [p, s + d / 2, d / 2, -1])
            return True
        if kind == "merge" and len(seq) > 3:
            repeats = [k for k in range(len(seq) - 1) if seq[k][0] == seq[k + 1][0]]
            k = int(rng.choice(repeats)) if repeats else int(rng.integers(0, len(seq) - 1))
            seq[k][2] = seq[k + 1][1] + seq[k + 1][2] - seq[k][1]
            del seq[k + 1]
            return True
    return False


def op_pitch(seq, rng, key_pc, minor) -> bool:
    """One wrong pitch (1-4 semitones off) on a note not changed before."""
    cands = [k for k in range(len(seq)) if seq[k][3] >= 0]
    if not cands:
        return False
    k = int(rng.choice(cands))
    seq[k][0] += int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4]))
    seq[k][3] = -2
    return True


def op_octave(seq, rng, key_pc, minor) -> bool:
    """Move one note up or down an octave (away from the phrase's middle)."""
    cands = [k for k in range(len(seq)) if seq[k][3] >= 0]
    if not cands:
        return False
    k = int(rng.choice(cands))
    mid = np.median([n[0] for n in seq])
    seq[k][0] += 12 if seq[k][0] < mid or (seq[k][0] == mid and rng.random() < 0.5) else -12
    seq[k][3] = -2
    return True


def op_anticipate(seq, rng, key_pc, minor) -> bool:
    """Syncopate one note: it comes an eighth (a sixteenth after a short note) early and lasts that much
    longer, the note before it is shortened (an anticipation, as singers and songwriters often do)."""
    cands = [k for k in range(1, len(seq))
             if abs(seq[k][1] - seq[k - 1][1] - seq[k - 1][2]) < 1e-6 and seq[k - 1][2] >= 0.5 - 1e-9]
    if not cands:
        return False
    k = int(rng.choice(cands))
    shift = 0.5 if seq[k - 1][2] >= 1.0 - 1e-9 else 0.25
    seq[k - 1][2] -= shift
    seq[k][1] -= shift
    seq[k][2] += shift
    return True


OPERATIONS = {"ornament": op_ornament, "rhythm": op_rhythm, "pitch": op_pitch, "octave": op_octave,
              "anticipate": op_anticipate}


def vary(seq, plan: dict, rng, key_pc: int, minor: bool) -> list[list]:
    """Apply a category's operations in a random order; the phrase keeps its first onset and last end."""
    ops = [name for name, count in plan.items() for _ in range(count)]
    rng.shuffle(ops)
    for name in ops:
        OPERATIONS[name](seq, rng, key_pc, minor)
    return seq


# ------------------------------------------------------------ whole-phrase variations (eighth session)
# Each takes the phrase (already transposed) and a `Setting` (key, mode, meter, the phrase's bar position)
# and changes both in place where the variation changes them (a mode change changes the mode the context
# and the accompaniment are written in; a meter change the bar).

@dataclass
class Setting:
    key_pc: int
    minor: bool
    bar_q: float             # quarters per bar
    pos: float               # bar position of the phrase's first note (quarters)


_GRID = 1.0 / 24.0           # onsets and lengths of re-barred notes snap to this (quarters)


def _snap(x: float) -> float:
    return round(x / _GRID) * _GRID


def _relative(seq) -> list[list]:
    """The sequence shifted so that its first note starts at 0 (it keeps its own pitches and lengths)."""
    s0 = seq[0][1]
    return [[p, s - s0, d, o] for p, s, d, o in seq]


def _retime(seq, k: int, dt: float) -> None:
    """Shift the onsets of notes k.. by dt."""
    for n in seq[k:]:
        n[1] += dt


def op_mode(seq, rng, st: Setting) -> bool:
    """Major <-> minor: the key's third and sixth, and in one query of two the seventh, a semitone lower
    (major to minor) or higher (minor to major, where the seventh is a flat seventh); one direction for
    the whole phrase, as a songwriter re-setting a tune in the other mode would."""
    seventh = bool(rng.random() < 0.5)
    if st.minor:
        moves = {3: 1, 8: 1} | ({10: 1} if seventh else {})
    else:
        moves = {4: -1, 9: -1} | ({11: -1} if seventh else {})
    changed = _move_degrees(seq, moves, st.key_pc)
    st.minor = not st.minor
    return changed > 0


def _move_degrees(seq, moves: dict, key_pc: int, take=None) -> int:
    """Move each note on a scale degree of ``moves`` (semitones above the tonic -> semitones to move), marked
    as changed; ``take`` (called only for such a note, or None: all) says whether this one moves. Returns how
    many moved."""
    changed = 0
    for n in seq:
        d = moves.get((n[0] - key_pc) % 12, 0)
        if d and (take is None or take()):
            n[0] += d
            n[3] = -2
            changed += 1
    return changed


def _meter_warp(bar_q: float, rng) -> tuple[float, float, float, float, float]:
    """(unit, new unit, breakpoint in, breakpoint out, new bar) of a re-barring.

    Duple bars (2/4, 4/4) become triple: a unit's first half is held twice as long (U -> 1.5 U), with the
    unit a half bar (4/4 -> 3/4: each half of the bar becomes a bar of three) or a beat (a swing or 12/8
    feel). Triple bars become duple: 3/4 -> 4/4 (the first beat twice as long, the other two as they were)
    or, for compound time (6/8, 9/8, 12/8), each dotted beat an even one (long-short -> even).
    """
    if bar_q in (2.0, 4.0):
        unit = 2.0 if rng.random() < 0.5 else 1.0
        return unit, 1.5 * unit, unit / 2, unit, bar_q * 1.5 if unit == 1.0 else 3.0
    if bar_q == 3.0 and rng.random() < 0.5:
        return 3.0, 4.0, 1.0, 2.0, 4.0
    if abs(bar_q / 1.5 - round(bar_q / 1.5)) < 1e-9:
        return 1.5, 1.0, 1.0, 0.5, bar_q / 1.5
    return 1.0, 1.5, 0.5, 1.0, bar_q * 1.5


def _warp(x: float, unit: float, new: float, b_in: float, b_out: float) -> float:
    u = np.floor(x / unit + 1e-9)
    r = x - u * unit
    if r <= b_in:
        y = r * b_out / b_in
    else:
        y = b_out + (r - b_in) * (new - b_out) / (unit - b_in)
    return float(u * new + y)


def op_meter(seq, rng, st: Setting) -> bool:
    """Re-bar the phrase in another meter (`_meter_warp`): every onset and end moves through the same
    piecewise-linear map of bar time, so the pitches stay and the lengths become uneven where the meter
    makes them so; notes land on the new meter's beats where they sat on the old one's."""
    unit, new, b_in, b_out, new_bar = _meter_warp(st.bar_q, rng)
    pos = st.pos
    w0 = _warp(pos, unit, new, b_in, b_out)
    out = []
    for p, s, d, o in seq:
        a = _warp(pos + s, unit, new, b_in, b_out) - w0
        b = _warp(pos + s + d, unit, new, b_in, b_out) - w0
        out.append([p, _snap(a), max(_snap(b) - _snap(a), _GRID), o])
    seq[:] = out
    st.bar_q, st.pos = new_bar, w0 % new_bar
    return True


def _beat(bar_q: float) -> float:
    """A beat of a bar of bar_q quarters: a dotted quarter in compound time (6/8 read as 1.5 + 1.5 is 3.0
    quarters, the same as 3/4, and counted in quarters), else a quarter."""
    return 1.5 if bar_q in (1.5, 4.5, 6.0) else 1.0


def displace(pos: float, bar_q: float, rng) -> float:
    """A phrase's bar position moved against the bar line as a songwriter moves it: by a beat earlier or
    later, or (in a bar of an even number of beats) by half a bar."""
    beat = _beat(bar_q)
    moves = [beat, -beat] + ([bar_q / 2] if round(bar_q / beat) % 2 == 0 else [])
    return (pos + float(rng.choice(moves))) % bar_q


def op_reset(seq, rng, st: Setting) -> bool:
    """Re-set to new words: about a third of the notes of a quarter or longer split into two repeated
    notes (a dotted note into its beat and the dot), one or two pairs merged (the second note's syllable
    gone: a repeated pair where there is one), and the phrase moved by a beat against the bar line."""
    cands = [k for k in range(len(seq)) if seq[k][2] >= 1.0 - 1e-9] or \
            [k for k in range(len(seq)) if seq[k][2] >= 0.5 - 1e-9]
    n_split = max(2, int(round(len(seq) / 3))) if cands else 0
    for k in sorted(rng.choice(cands, size=min(n_split, len(cands)), replace=False).tolist(), reverse=True) \
            if cands else []:
        p, s, d, o = seq[k]
        first = d * 2 / 3 if abs(d / 1.5 - round(d / 1.5)) < 1e-9 and abs(d - round(d)) > 1e-9 else d / 2
        seq[k] = [p, s, first, o]
        seq.insert(k + 1, [p, s + first, d - first, -1])
    for _ in range(int(rng.integers(1, 3))):
        if len(seq) <= 4:
            break
        repeats = [k for k in range(len(seq) - 1) if seq[k][0] == seq[k + 1][0] and seq[k + 1][3] >= 0]
        k = int(rng.choice(repeats)) if repeats else int(rng.integers(0, len(seq) - 1))
        seq[k][2] = seq[k + 1][1] + seq[k + 1][2] - seq[k][1]
        del seq[k + 1]
    beat = _beat(st.bar_q)
    st.pos = (st.pos + (beat if rng.random() < 0.5 else -beat)) % st.bar_q
    return True


def _reset_riff(seq, rng) -> list[list]:
    """A short riff re-set to other words: the same pitches under a new rhythm. About a third of its notes of
    an eighth or longer (at least one) split into two repeated notes, and one pair of repeated notes merged
    where the riff has one (a syllable fewer). Unlike `op_reset`, made for phrases of 10-20 notes, no pitch
    of the riff is lost (op_reset merges two different notes where a phrase has no repeated pair: a third
    of a 5-note riff) and the bar position is kept (RIFF_KINDS' "shift" moves it)."""
    cands = [k for k in range(len(seq)) if seq[k][2] >= 0.5 - 1e-9]
    n_split = max(1, int(round(len(seq) / 3)))
    for k in sorted(rng.choice(cands, size=min(n_split, len(cands)), replace=False).tolist(), reverse=True) \
            if cands else []:
        p, s, d, o = seq[k]
        seq[k] = [p, s, d / 2, o]
        seq.insert(k + 1, [p, s + d / 2, d / 2, -1])
    repeats = [k for k in range(len(seq) - 1) if seq[k][0] == seq[k + 1][0] and seq[k + 1][3] >= 0]
    if repeats:
        k = int(rng.choice(repeats))
        seq[k][2] = seq[k + 1][1] + seq[k + 1][2] - seq[k][1]
        del seq[k + 1]
    return seq


def op_embellish(seq, rng, st: Setting) -> bool:
    """Two or three figures on notes of an eighth or longer: a neighbour-note figure (the note, its upper
    or lower scale neighbour, the note again), a turn (upper neighbour, the note, lower neighbour, the
    note) or a melisma (a long note's second half a scale run towards the next note)."""
    done = 0
    for _ in range(int(rng.integers(2, 4))):
        cands = [k for k in range(len(seq)) if seq[k][3] >= 0 and min(seq[k][2], _free_time(seq, k)) >= 0.5 - 1e-9]
        if not cands:
            break
        k = int(rng.choice(cands))
        p, s, d, o = seq[k]
        d = min(d, _free_time(seq, k))
        kind = rng.choice(["neighbour", "turn", "melisma"])
        nxt = seq[k + 1][0] if k + 1 < len(seq) else None
        if kind == "melisma" and d >= 1.0 - 1e-9 and nxt is not None and abs(nxt - p) >= 3:
            step = 1 if nxt > p else -1
            run, q = [], p
            while len(run) < 3:
                q = _scale_pitch(q, step, st.key_pc, st.minor)
                if (q - nxt) * step >= 0:
                    break
                run.append(q)
            if run:
                half = d / 2
                each = half / len(run)
                fig = [[p, s, half, o]] + [[q, s + half + j * each, each, -1] for j, q in enumerate(run)]
                seq[k:k + 1] = fig
                done += 1
                continue
        if kind == "turn" and d >= 1.0 - 1e-9:
            up, lo = _scale_pitch(p, 1, st.key_pc, st.minor), _scale_pitch(p, -1, st.key_pc, st.minor)
            q4 = d / 4
            seq[k:k + 1] = [[up, s, q4, -1], [p, s + q4, q4, o], [lo, s + 2 * q4, q4, -1], [p, s + 3 * q4, q4, -1]]
        else:
            nb = _scale_pitch(p, int(rng.choice([-1, 1])), st.key_pc, st.minor)
            seq[k:k + 1] = [[p, s, d / 2, o], [nb, s + d / 2, d / 4, -1], [p, s + 3 * d / 4, d / 4, -1]]
        done += 1
    return done > 0


def op_extend(seq, rng, st: Setting) -> bool:
    """Interrupt and extend the phrase: a bar of new material (a stepwise figure in the key around the
    notes there, in the phrase's own note lengths) inserted at a note boundary in the phrase's middle, and
    one note held a bar (or half a bar) longer, the notes after it coming that much later."""
    if len(seq) < 6:
        return False
    k = int(rng.integers(len(seq) // 3, 2 * len(seq) // 3 + 1))
    lengths = [n[2] for n in seq if n[2] >= 0.25 - 1e-9] or [1.0]
    t, fig, q = seq[k][1], [], seq[k - 1][0]
    while t < seq[k][1] + st.bar_q - 1e-9:
        d = min(float(rng.choice(lengths)), seq[k][1] + st.bar_q - t)
        q = _scale_pitch(q, int(rng.choice([-2, -1, -1, 1, 1, 2])), st.key_pc, st.minor)
        fig.append([q, t, d, -1])
        t += d
    _retime(seq, k, st.bar_q)
    seq[k:k] = fig
    held = [j for j in range(1, len(seq) - 1) if seq[j][3] >= 0 and abs(seq[j + 1][1] - seq[j][1] - seq[j][2]) < 1e-6]
    if held:
        j = int(rng.choice(held))
        extra = st.bar_q if rng.random() < 0.5 else st.bar_q / 2
        seq[j][2] += extra
        _retime(seq, j + 1, extra)
    return True


def op_fragment(seq, rng, st: Setting) -> bool:
    """Quote only a fragment, then vary it: the first 6-8 notes stay, each later note moves by a scale
    step with probability one half (up or down, the contour of a new continuation), and two rhythm
    changes re-set the continuation."""
    keep = int(rng.integers(6, 9))
    if len(seq) <= keep + 2:
        return False
    for n in seq[keep:]:
        if rng.random() < 0.5:
            n[0] = _scale_pitch(n[0], int(rng.choice([-1, 1])), st.key_pc, st.minor)
            n[3] = -2
    tail = seq[keep:]
    for _ in range(2):
        op_rhythm(tail, rng, st.key_pc, st.minor)
    seq[keep:] = tail
    return True


def op_sequence(seq, rng, st: Setting) -> bool:
    """Repeat the opening motif (3-5 notes) in sequence: a scale step higher (in
    one query of four a step lower), in the motif's own rhythm, before the phrase goes on."""
    m = int(rng.integers(3, 6))
    if len(seq) < m + 3:
        return False
    steps = -1 if rng.random() < 0.25 else 1
    span = seq[m][1] - seq[0][1]
    copy = [[_scale_pitch(p, steps, st.key_pc, st.minor), s + span, d, -1] for p, s, d, _ in seq[:m]]
    _retime(seq, m, span)
    seq[m:m] = copy
    return True


TRANSFORMS = {"mode": op_mode, "meter": op_meter, "reset": op_reset, "embellish": op_embellish,
              "extend": op_extend, "fragment": op_fragment, "sequence": op_sequence}


# ----------------------------------------------- probe variations (twenty-seventh session, scripts/bench_probe.py)
# Kinds of borrowing the groups above never make, measured apart from them (`Generator.probes`, own seeds):
# each changes the whole phrase in one way real songwriters, arrangers and performers do.

BLUE_P = 0.6                 # share of the blue-able degrees bent: a singer bends some statements, not all
STRIKES = (2, 3)             # a re-set note is struck this many times (text underlay, a rap-like re-setting)
STRIKE_MIN_Q = 0.5           # only notes of an eighth or longer are re-struck (shorter ones stay one syllable)


def _degree_shift(seq, st: Setting, steps: int) -> bool:
    """Every note moved `steps` scale degrees within the key: the contour stays, some intervals change by
    a semitone (a third becomes major or minor as the scale has it)."""
    for n in seq:
        n[0] = _scale_pitch(n[0], steps, st.key_pc, st.minor)
        n[3] = -2
    return bool(seq)


def op_thirds(seq, rng, st: Setting) -> bool:
    """The melody harmonised in parallel thirds above (one query in four: sixths above): a top-line lead
    extractor takes the harmony, the melody a diatonic third (sixth) lower."""
    return _degree_shift(seq, st, 5 if rng.random() < 0.25 else 2)


def op_diatonic(seq, rng, st: Setting) -> bool:
    """A diatonic transposition: the phrase restated on another degree of the same key (1-4 degrees up or
    down), as sequences and answers do; the context stays in the key."""
    return _degree_shift(seq, st, int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4])))


def _time_scale(seq, st: Setting, factor: float) -> bool:
    for n in seq:
        n[1] *= factor
        n[2] *= factor
    return bool(seq)


def op_halftime(seq, rng, st: Setting) -> bool:
    """Augmentation of the borrowed phrase only: every length doubled (a half-time feel) inside a song whose
    context keeps its own tempo."""
    return _time_scale(seq, st, 2.0)


def op_doubletime(seq, rng, st: Setting) -> bool:
    """Diminution of the borrowed phrase only: every length halved (double time) inside an unchanged song."""
    return _time_scale(seq, st, 0.5)


def _blue_moves(minor: bool) -> dict:
    """Semitone moves (pitch class above the key -> change) of the blue notes: in major the third and the
    seventh bent down to b3 and b7; in minor, whose third and seventh are already flat, the fifth to b5."""
    return {7: -1} if minor else {4: -1, 11: -1}


def op_blue(seq, rng, st: Setting) -> bool:
    """Blue notes: each third and seventh (minor: fifth) flattened a semitone with probability BLUE_P."""
    return _move_degrees(seq, _blue_moves(st.minor), st.key_pc, lambda: rng.random() < BLUE_P) > 0


def _pentatonic_moves(minor: bool) -> dict:
    """The two degrees a pentatonic re-setting leaves out, moved to their nearest pentatonic neighbour:
    major 4 -> 3 and 7 -> 8 (the tonic); minor 2 -> 1 and b6 -> 5."""
    return {2: -2, 8: -1} if minor else {5: -1, 11: 1}


def op_pentatonic(seq, rng, st: Setting) -> bool:
    """Pentatonic smoothing: every note on the two non-pentatonic degrees moved to its pentatonic neighbour."""
    return _move_degrees(seq, _pentatonic_moves(st.minor), st.key_pc) > 0


def op_strike(seq, rng, st: Setting) -> bool:
    """Text underlay: every note of an eighth or longer struck two or three times (equal parts), as a
    re-setting to many more syllables (a rap-like delivery) does; pitches and contour stay."""
    out = []
    for p, s, d, o in seq:
        k = int(rng.choice(STRIKES)) if d >= STRIKE_MIN_Q - 1e-9 else 1
        out += [[p, s + j * d / k, d / k, o if j == 0 else -1] for j in range(k)]
    changed = len(out) > len(seq)
    seq[:] = out
    return changed


PROBE_TRANSFORMS = {"thirds": op_thirds, "diatonic": op_diatonic, "halftime": op_halftime,
                    "doubletime": op_doubletime, "blue": op_blue, "pentatonic": op_pentatonic,
                    "strike": op_strike}
PROBE_CATEGORIES = {f"probe/{kind}": kind for kind in PROBE_TRANSFORMS}
N_PROBE = 20                 # queries per probe group


def transform(seq, kinds, rng, st: Setting) -> tuple[list[list], bool]:
    """Apply whole-phrase variations in order (meter first, so that the others see the new bar); returns
    the phrase and whether every variation could be made."""
    ok = True
    for kind in sorted(kinds, key=lambda k: k != "meter"):
        ok = (TRANSFORMS.get(kind) or PROBE_TRANSFORMS[kind])(seq, rng, st) and ok
    return (_make_monophonic(_relative(seq)) if seq else seq), ok


# ------------------------------------------------------------------------------------ generated melodies

_RHYTHMS = {   # one bar each, in quarters
    4.0: [(1, 1, 1, 1), (0.5, 0.5, 1, 1, 1), (1.5, 0.5, 1, 1), (2, 1, 1), (1, 0.5, 0.5, 2),
          (0.5, 0.5, 0.5, 0.5, 1, 1), (1, 1, 2), (0.75, 0.25, 0.75, 0.25, 1, 1)],
    3.0: [(1, 1, 1), (2, 1), (0.5, 0.5, 1, 1), (1.5, 0.5, 1), (1, 0.5, 0.5, 1), (1.5, 1.5),
          (0.5, 0.5, 0.5, 0.5, 0.5, 0.5)],
    2.0: [(1, 1), (0.5, 0.5, 1), (0.5, 0.5, 0.5, 0.5), (1.5, 0.5), (0.25, 0.25, 0.5, 1)],
}


def generate_melody(rng, n_bars: int) -> tuple[list[list], int, bool, float]:
    """A fresh tonal melody built from two motifs (A A' B A''), ending on the tonic.

    Returns (sequence, key_pc, minor, quarters per bar).
    """
    bar_q = float(rng.choice(list(_RHYTHMS)))
    key_pc, minor = int(rng.integers(12)), bool(rng.random() < 0.35)
    tonic = 60 + key_pc if key_pc < 7 else 48 + key_pc
    tonic = _scale_pitch(tonic, 0, key_pc, minor)

    def motif(start_deg):
        notes, deg, t = [], start_deg, 0.0
        for _ in range(2):
            for d in _RHYTHMS[bar_q][rng.integers(len(_RHYTHMS[bar_q]))]:
                notes.append([deg, t, float(d)])
                t += d
                step = rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3, 4, -4],
                                  p=[.08, .2, .12, .08, .2, .12, .08, .04, .04, .02, .02])
                deg = int(np.clip(deg + step, -5, 9))
        return notes

    a = motif(int(rng.choice([0, 2, 4])))
    b = motif(int(rng.choice([2, 4, 5])))
    shift = int(rng.choice([-1, 1, 2]))
    a2 = [[d + shift, t, du] for d, t, du in a]
    a3 = [n[:] for n in a]
    a3[-1][0] = 0                              # cadence on the tonic
    if len(a3) > 1:
        a3[-2][0] = int(rng.choice([1, 2, -1]))
    sections = [a, a2, b, a3]
    while len(sections) * 2 < n_bars:          # longer tunes: vary the motifs again
        sections.append([[d + int(rng.choice([-1, 0, 1])), t, du] for d, t, du in (a if rng.random() < .5 else b)])
    seq, offset = [], 0.0
    for sec in sections:
        for d, t, du in sec:
            seq.append([_scale_pitch(tonic, d, key_pc, minor), offset + t, du, -1])
        offset += 2 * bar_q
    return seq, key_pc, minor, bar_q


# ----------------------------------------------------------------------------------------------- queries

@dataclass
class Query:
    qid: str
    positive: bool
    category: str
    arrangement: str                    # "band" (lead, chords, bass, drums) or "piano" (one track)
    path: str = ""
    ref_index: int = -1                 # index of the true reference in the catalog list (positives)
    ref_title: str = ""
    ref_source: str = ""
    alt_ref_indices: list = field(default_factory=list)   # other catalog tunes that contain the phrase exactly
    query_span: tuple = (0.0, 0.0)      # seconds in the query file
    restated_spans: list = field(default_factory=list)   # seconds: the phrase stated again (a hook's, a riff's
                                                         # later statements): a match there finds it too
    ref_span: tuple = (0.0, 0.0)        # seconds in the reference melody's own time
    transpose: int = 0
    tempo_factor: float = 1.0
    bpm: float = 120.0
    time_signature: tuple = (4, 4)
    key_pc: int = 0
    minor: bool = False
    context_notes: tuple = (0, 0)       # foreign notes before and after the phrase
    phrase_notes: int = 0               # notes of the (varied) embedded phrase
    displaced: bool = False             # moved against the bar line on purpose (P_DISPLACE)
    duration: float = 0.0               # seconds, end of the last lead note
    lead: list = field(default_factory=list)   # [(pitch, start_s, dur_s, origin)] as written (as played
                                               # when performed: set by `render`)
    performance: dict = field(default_factory=dict)   # how it is played (`draw_performance`); {}: as written
    render_seed: int | None = None      # the arrangement's seed when it must equal a twin's (perform groups)

    def truth(self) -> dict:
        d = asdict(self)
        d.pop("lead")
        return d


def _time_signature(bar_q: float) -> tuple[int, int]:
    if abs(bar_q - round(bar_q)) < 1e-6:
        return int(round(bar_q)), 4
    if abs(bar_q * 2 - round(bar_q * 2)) < 1e-6:
        return int(round(bar_q * 2)), 8
    return 4, 4


def _fit(seq, key_from: int, key_to: int, register: float) -> list[list]:
    """Transpose a sequence to another key, choosing the octave nearest to `register` (a median pitch)."""
    shift = (key_to - key_from + 6) % 12 - 6
    med = np.median([n[0] for n in seq]) + shift
    shift += int(12 * round((register - med) / 12))
    return [[n[0] + shift, n[1], n[2], n[3]] for n in seq]


def _shift(seq, dt: float) -> list[list]:
    return [[n[0], n[1] + dt, n[2], n[3]] for n in seq]


def _end(seq) -> float:
    return max(n[1] + n[2] for n in seq) if seq else 0.0


def _borrowed(q: Query, tune, ref_index: int, i: int, n: int, spans: list, bpm: float) -> None:
    """Mark song query `q` as borrowing notes i .. i+n-1 of catalog tune `tune` (index `ref_index`), stated
    at `spans` (quarter notes) of the query at `bpm`: the first is its query_span, the others restated_spans."""
    notes = tune.melody.notes
    q.ref_index, q.ref_title = ref_index, tune.melody.title
    q.ref_source = f"{tune.melody.source}#{tune.melody.index}"
    q.query_span, *q.restated_spans = [(a * 60 / bpm, b * 60 / bpm) for a, b in spans]
    q.ref_span = (float(notes["onset"][i]), float(notes["onset"][i + n - 1] + notes["duration"][i + n - 1]))


def _make_monophonic(seq) -> list[list]:
    seq = sorted(seq, key=lambda n: n[1])
    for a, b in zip(seq, seq[1:]):
        a[2] = max(min(a[2], b[1] - a[1]), 1e-3)
    for n in seq:
        n[0] = int(np.clip(n[0], 24, 108))
    return seq


class Generator:
    """Builds the query set for one split and seed."""

    def __init__(self, split: Split, seed: int):
        self.split = split
        self.seed = seed
        self.catalog_bytes = [t.intervals for t in split.catalog]

    # -- pieces
    def _verse(self, rng, lead: list[list], used: list, key_pc, st, register) -> list[list]:
        """`lead` followed by a verse of a song: one or two held-out phrases not yet `used` (appended to it),
        each starting on the next half beat after the lead's end."""
        for _ in range(int(rng.integers(1, 3))):
            seq = []
            while not seq:
                seq, pick = self._context(rng, key_pc, st.minor, st.bar_q, register, avoid=tuple(used))
            used.append(pick)
            lead = lead + _shift(seq, (np.ceil(_end(lead) * 2 - 1e-9) / 2 if lead else 0.0) - seq[0][1])
        return lead

    def _context(self, rng, key_pc, minor, bar_q, register, avoid=()) -> tuple[list[list], int]:
        """A phrase of a held-out tune, moved to the given key and register (prefers same mode and meter)."""
        if rng.random() < P_NO_CONTEXT:
            return [], -1
        held = self.split.heldout
        pick = None
        for _ in range(30):
            j = int(rng.integers(len(held)))
            t = held[j]
            if j in avoid:
                continue
            pick = j
            if t.minor == minor and abs(t.bar_q - bar_q) < 1e-6:
                break
        t = held[pick]
        n = int(rng.integers(CONTEXT_NOTES[0], CONTEXT_NOTES[1] + 1))
        n = min(n, len(t.pitch))
        i = int(rng.integers(0, len(t.pitch) - n + 1))
        seq = [[p, s, d, -1] for p, s, d, _ in _excerpt(t, i, n)]
        return _fit(seq, t.key_pc, key_pc, register), pick

    def _phrase(self, rng, tune: Tune, notes: tuple[int, int] = PHRASE_NOTES) -> tuple[int, int]:
        """(start index, length) of a phrase with some melodic content."""
        for _ in range(50):
            n = int(rng.integers(notes[0], notes[1] + 1))
            i = int(rng.integers(0, len(tune.pitch) - n + 1))
            seg = tune.pitch[i:i + n]
            gaps = tune.start[i + 1:i + n] - (tune.start[i:i + n - 1] + tune.dur[i:i + n - 1])
            if len(set(seg.tolist())) >= 4 and (gaps.max(initial=0) <= tune.bar_q):
                return i, n
        return i, n

    def _assemble(self, rng, before, middle, after, bar_q, middle_pos) -> tuple[list[list], float, float]:
        """Concatenate before + middle + after in quarter time; returns (lead, middle start, middle end)."""
        lead = list(before)
        if before:
            start = _end(before)
            # keep the middle phrase's metric position: start it where its bar position falls
            start += (middle_pos - start) % bar_q
            if start - _end(before) <= 1.0:      # close a small gap by holding the last context note
                lead[-1] = [lead[-1][0], lead[-1][1], start - lead[-1][1], lead[-1][3]]
        else:
            # the phrase opens the song: it starts where its bar position falls in the first bar (a pickup
            # as a pickup, after a rest), not on the downbeat wherever it sat in its tune
            start = middle_pos % bar_q
        mid = _shift(middle, start - middle[0][1])
        m_start, m_end = start, _end(mid)
        lead += mid
        if after:
            lead += _shift(after, np.ceil(m_end * 2 - 1e-9) / 2 - after[0][1])
        return _make_monophonic(lead), m_start, m_end

    def _tempo(self, rng, spq: float) -> tuple[float, float]:
        factor = float(rng.uniform(*TEMPO_FACTOR))
        bpm = float(np.clip(60.0 / spq * factor, *BPM_RANGE))
        return bpm, bpm * spq / 60.0

    # -- queries
    def positive(self, rng, qid: str, category: str, ref_index: int, notes=PHRASE_NOTES, kinds=(),
                 plan=None, context: bool = True) -> Query:
        """A varied phrase of catalog tune `ref_index` between held-out context: the category's plan of
        small changes (`vary`), after the whole-phrase variations `kinds` (`transform`) if any; with
        context False, the phrase alone (whole songs in dispute mode)."""
        tune = self.split.catalog[ref_index]
        for _ in range(20 if kinds else 1):
            i, n = self._phrase(rng, tune, notes)
            T = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
            key_pc, minor = (tune.key_pc + T) % 12, tune.minor
            phrase = [[p + T, s, d, o] for p, s, d, o in _excerpt(tune, i, n)]
            st = Setting(key_pc, minor, tune.bar_q, float(tune.bar_pos[i]))
            if not kinds:
                break
            phrase, ok = transform(phrase, kinds, rng, st)
            if ok:
                break
        # own stream, so the draws below (and every query not moved) stay as they were without it
        mover = np.random.default_rng([self.seed, 70, zlib.crc32(qid.encode())])
        displaced = category in POSITIVE_CATEGORIES and bool(mover.random() < P_DISPLACE)
        if displaced:
            st.pos = displace(st.pos, st.bar_q, mover)
        if plan is None:
            plan = SYNC_PLAN if category == SYNC_CATEGORY else POSITIVE_CATEGORIES.get(category, {})
        phrase = vary(phrase, plan, rng, key_pc, st.minor)
        register = float(np.median([x[0] for x in phrase]))
        if context:
            before, b_pick = self._context(rng, key_pc, st.minor, st.bar_q, register)
            after, _ = self._context(rng, key_pc, st.minor, st.bar_q, register, avoid=(b_pick,))
        else:
            before, after = [], []
        lead, q0, q1 = self._assemble(rng, before, phrase, after, st.bar_q, st.pos)
        bpm, factor = self._tempo(rng, tune.spq)
        notes = tune.melody.notes
        phrase_iv = interval_bytes(tune.pitch[i:i + n])
        alts = [k for k, b in enumerate(self.catalog_bytes) if k != ref_index and phrase_iv in b]
        return self._finish(rng, Query(
            qid, True, category, "", ref_index=ref_index, ref_title=tune.melody.title,
            ref_source=f"{tune.melody.source}#{tune.melody.index}", alt_ref_indices=alts,
            query_span=(q0 * 60 / bpm, q1 * 60 / bpm),
            ref_span=(float(notes["onset"][i]), float(notes["onset"][i + n - 1] + notes["duration"][i + n - 1])),
            transpose=T, tempo_factor=factor, bpm=bpm, time_signature=_time_signature(st.bar_q),
            key_pc=key_pc, minor=st.minor, context_notes=(len(before), len(after)),
            phrase_notes=len(phrase), displaced=displaced), lead)

    def negative(self, rng, qid: str, category: str) -> Query:
        held = self.split.heldout
        if category == "neg/generated":
            seq, key_pc, minor, bar_q = generate_melody(rng, int(rng.integers(4, 13)))
            spq = 60.0 / rng.uniform(80, 160)
            lead = _make_monophonic(seq)
            ctx = (0, 0)
        else:
            t = held[int(rng.integers(len(held)))]
            T = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
            key_pc, minor, bar_q, spq = (t.key_pc + T) % 12, t.minor, t.bar_q, t.spq
            if category == "neg/heldout":
                n = min(int(rng.integers(16, 49)), len(t.pitch))
                i = int(rng.integers(0, len(t.pitch) - n + 1))
                lead = _make_monophonic([[p + T, s, d, -1] for p, s, d, _ in _excerpt(t, i, n)])
                ctx = (0, 0)
            else:   # medley: a held-out phrase between other held-out phrases, built like a positive
                i, n = self._phrase(rng, t)
                middle = [[p + T, s, d, -1] for p, s, d, _ in _excerpt(t, i, n)]
                register = float(np.median([x[0] for x in middle]))
                before, b_pick = self._context(rng, key_pc, minor, bar_q, register)
                after, _ = self._context(rng, key_pc, minor, bar_q, register, avoid=(b_pick,))
                lead, _, _ = self._assemble(rng, before, middle, after, bar_q, float(t.bar_pos[i]))
                ctx = (len(before), len(after))
        bpm, factor = self._tempo(rng, spq)
        return self._finish(rng, Query(qid, False, category, "", tempo_factor=factor, bpm=bpm,
                                       time_signature=_time_signature(bar_q), key_pc=key_pc, minor=minor,
                                       context_notes=ctx), lead)

    def variations(self, n_each: int = N_VARIATION) -> list[Query]:
        """n_each queries of every group of VARIATION_CATEGORIES, each group with its own seeds (after
        every other group's)."""
        out = []
        for g, (category, (kind, plan)) in enumerate(VARIATION_CATEGORIES.items()):
            refs = np.random.default_rng([self.seed, 20 + g, 0]).choice(len(self.split.catalog), size=n_each)
            notes = (12, 20) if kind == "fragment" else PHRASE_NOTES
            for k, ref in enumerate(refs):
                out.append(self.positive(np.random.default_rng([self.seed, 20 + g, 1, k]),
                                         f"v{g}{k:03d}", category, int(ref), notes=notes, kinds=(kind,),
                                         plan=plan))
        return out

    def probes(self, n_each: int = N_PROBE, kinds=tuple(PROBE_TRANSFORMS)) -> list[Query]:
        """n_each queries of every probe kind (PROBE_TRANSFORMS; scripts/bench_probe.py), each kind with its
        own seeds, so no other group's query changes; a 10-20 note phrase between held-out context, varied by
        the kind alone."""
        out = []
        for kind in kinds:
            g = list(PROBE_TRANSFORMS).index(kind)
            refs = np.random.default_rng([self.seed, 60 + g, 0]).choice(len(self.split.catalog), size=n_each)
            for k, ref in enumerate(refs):
                out.append(self.positive(np.random.default_rng([self.seed, 60 + g, 1, k]), f"x{g}{k:03d}",
                                         f"probe/{kind}", int(ref), kinds=(kind,), plan={}))
        return out

    def disputes(self, n: int) -> tuple[list[int], list[Query]]:
        """Dispute mode: n catalog tunes of at most DISPUTE_MAX_NOTES notes (the small catalog), each
        queried by a whole-song variant of itself (one or two kinds of DISPUTE_KINDS in turn, plus one
        ornament, rhythm change or wrong note per 24 notes, no foreign context) and by a song that borrows
        its hook (`hook_song`), and n // 2 songs of held-out material that borrow nothing. Returns (catalog
        indices of the small catalog, queries)."""
        rng = np.random.default_rng([self.seed, 40])
        usable = [k for k, t in enumerate(self.split.catalog) if len(t.pitch) <= DISPUTE_MAX_NOTES]
        members = sorted(rng.choice(usable, size=min(n, len(usable)), replace=False).tolist())
        out = []
        for k, ref in enumerate(members):
            r = np.random.default_rng([self.seed, 41, k])
            length = len(self.split.catalog[ref].pitch)
            kinds = DISPUTE_KINDS[k % len(DISPUTE_KINDS)]
            plan = {}
            for _ in range(max(1, length // 24)):
                op = str(r.choice(["ornament", "rhythm", "pitch"]))
                plan[op] = plan.get(op, 0) + 1
            out.append(self.positive(r, f"d{k:04d}", f"{DISPUTE_CATEGORY}/{'+'.join(kinds)}", ref,
                                     notes=(length, length), kinds=kinds, plan=plan, context=False))
        for k, ref in enumerate(members):
            kind = DISPUTE_HOOK_KINDS[k % len(DISPUTE_HOOK_KINDS)]
            out.append(self.hook_song(np.random.default_rng([self.seed, 44, k]), f"h{k:04d}", ref, kind))
        for k in range(n // 2):
            out.append(self.hook_song(np.random.default_rng([self.seed, 43, k]), f"e{k:04d}", None, "none"))
        return members, out

    def excerpt_disputes(self, n: int, notes=(8, 14)) -> tuple[list[Melody], list[Query]]:
        """Disputes where both sides are short: n excerpts of `notes` notes of catalog tunes of >= 40 notes
        (the small catalog: the plaintiff's passages), each queried by itself varied by one or two kinds of
        DISPUTE_KINDS in turn plus one ornament, rhythm change or wrong note, with no context; and n // 2
        held-out excerpts of the same length as negatives. Returns (the excerpts, queries); query k's
        `ref_index` is k, an index into the excerpts."""
        rng = np.random.default_rng([self.seed, 50, notes[0], notes[1]])
        usable = [k for k, t in enumerate(self.split.catalog) if len(t.pitch) >= 40]
        members = sorted(rng.choice(usable, size=min(n, len(usable)), replace=False).tolist())
        excerpts, out = [], []
        for k, ref in enumerate(members):
            r = np.random.default_rng([self.seed, 51, notes[0], notes[1], k])
            kinds = DISPUTE_KINDS[k % len(DISPUTE_KINDS)]
            q = self.positive(r, f"x{k:04d}", f"{DISPUTE_CATEGORY}/excerpt-{'+'.join(kinds)}", ref, notes=notes,
                              kinds=kinds, plan={str(r.choice(["ornament", "rhythm", "pitch"])): 1}, context=False)
            tune = self.split.catalog[ref].melody
            onset = tune.notes["onset"]
            inside = (onset >= q.ref_span[0] - 1e-6) & (onset < q.ref_span[1] - 1e-6)
            excerpts.append(Melody(tune.notes[inside].copy(), title=f"{tune.title} (excerpt)",
                                   source=f"excerpt-{k:04d}", index=0))
            q.ref_index, q.alt_ref_indices = k, []
            out.append(q)
        for k in range(n // 2):
            r = np.random.default_rng([self.seed, 52, notes[0], notes[1], k])
            t = self.split.heldout[int(r.integers(len(self.split.heldout)))]
            m = min(int(r.integers(notes[0], notes[1] + 1)), len(t.pitch))
            i = int(r.integers(0, len(t.pitch) - m + 1))
            T = int(r.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
            bpm, factor = self._tempo(r, t.spq)
            q = Query(f"y{k:04d}", False, f"{DISPUTE_CATEGORY}/none", "", tempo_factor=factor, bpm=bpm,
                      time_signature=_time_signature(t.bar_q), key_pc=(t.key_pc + T) % 12, minor=t.minor)
            out.append(self._finish(r, q, _make_monophonic([[p + T, s, d, -1] for p, s, d, _ in _excerpt(t, i, m)])))
        return excerpts, out

    def song(self, rng, qid: str) -> Query:
        """A negative laid out as a song (SONG_FORMS): each section a phrase of another held-out tune, moved
        to one key and register, restated as the form says, most restatements with one small change; the
        section lengths are drawn so the song has SONG_NOTES notes."""
        held = self.split.heldout
        form = SONG_FORMS[int(rng.integers(len(SONG_FORMS)))]
        if rng.random() < 0.5 and 2 * len(form) * SONG_SECTION_NOTES[0] <= SONG_NOTES[1]:
            form = form + form[-2:]          # a last chorus (or A section) sung twice more at the end
        lo = max(SONG_SECTION_NOTES[0], -(-SONG_NOTES[0] // len(form)))
        hi = min(SONG_SECTION_NOTES[1], SONG_NOTES[1] // len(form))
        used = [int(rng.integers(len(held)))]
        first = held[used[0]]
        T = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
        key_pc, minor, bar_q = (first.key_pc + T) % 12, first.minor, first.bar_q
        register = float(np.median(first.pitch)) + T
        sections = {}
        for name in sorted(set(form)):
            if name != "A":              # another held-out tune for each further section
                j = int(rng.integers(len(held)))
                while j in used:
                    j = int(rng.integers(len(held)))
                used.append(j)
            t = held[used[-1]]
            n = min(int(rng.integers(lo, hi + 1)), len(t.pitch))
            i = int(rng.integers(0, len(t.pitch) - n + 1))
            sections[name] = _fit([[p, s, d, -1] for p, s, d, _ in _excerpt(t, i, n)], t.key_pc, key_pc, register)
        lead, seen = [], set()
        for name in form:
            seq = [x[:] for x in sections[name]]
            if name in seen and rng.random() < P_SONG_CHANGE:
                seq = vary(seq, {str(rng.choice(["ornament", "rhythm", "pitch"])): 1}, rng, key_pc, minor)
            seen.add(name)
            lead = lead + _shift(seq, (np.ceil(_end(lead) * 2 - 1e-9) / 2 if lead else 0.0) - seq[0][1])
        bpm, factor = self._tempo(rng, first.spq)
        return self._finish(rng, Query(qid, False, SONG_CATEGORY, "", tempo_factor=factor, bpm=bpm,
                                       time_signature=_time_signature(bar_q), key_pc=key_pc, minor=minor),
                            _make_monophonic(lead))

    def songs(self, n: int = N_SONG) -> list[Query]:
        """n `song` negatives, with their own seeds (after every other group's)."""
        return [self.song(np.random.default_rng([self.seed, 60, k]), f"r{k:04d}") for k in range(n)]

    def hook_song(self, rng, qid: str, ref_index: int | None, kind: str) -> Query:
        """A song of verse, hook, verse, hook, bridge, hook: the verses and the bridge phrases of held-out
        tunes in the hook's key, the hook a phrase of 8-14 notes of catalog tune `ref_index` varied by
        `kind` (the same way each time) and one more ornament, rhythm change or wrong note each time. With
        ref_index None the hook is a held-out phrase too (a negative)."""
        if ref_index is not None:
            tune = self.split.catalog[ref_index]
        else:
            tune = self.split.heldout[int(rng.integers(len(self.split.heldout)))]
        i, n = self._phrase(rng, tune, (8, 14))
        T = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
        key_pc = (tune.key_pc + T) % 12
        hook = [[p + T, s, d, o] for p, s, d, o in _excerpt(tune, i, n)]
        st = Setting(key_pc, tune.minor, tune.bar_q, float(tune.bar_pos[i]))
        if kind != "none":
            hook, _ = transform(hook, (kind,), rng, st)
        register = float(np.median([x[0] for x in hook]))
        lead, used, spans = [], [], []
        for part in range(6):
            if part % 2 == 0:            # verse, verse, bridge
                lead = self._verse(rng, lead, used, key_pc, st, register)
                continue
            again = vary([x[:] for x in hook], {str(rng.choice(["ornament", "rhythm", "pitch"])): 1}, rng,
                         key_pc, st.minor)
            lead, q0, q1 = self._assemble(rng, lead, again, [], st.bar_q, st.pos)
            spans.append((q0, q1))
        bpm, factor = self._tempo(rng, tune.spq)
        q = Query(qid, ref_index is not None, f"{DISPUTE_CATEGORY}/hook-{kind}" if ref_index is not None
                  else f"{DISPUTE_CATEGORY}/none", "", tempo_factor=factor, bpm=bpm,
                  time_signature=_time_signature(st.bar_q), key_pc=key_pc, minor=st.minor,
                  context_notes=(len(lead) - 3 * len(hook), 0), phrase_notes=len(hook), transpose=T)
        if ref_index is not None:
            _borrowed(q, tune, ref_index, i, n, spans, bpm)
        return self._finish(rng, q, _make_monophonic(lead))

    def riff_song(self, rng, qid: str, ref_index: int, kind: str) -> Query:
        """A song of verse, riff chorus, verse, riff chorus (RIFF_KINDS, module comment): the riff a motif of
        RIFF_NOTES notes of catalog tune `ref_index`, stated RIFF_REPEATS times back to back per chorus."""
        tune = self.split.catalog[ref_index]
        i, n = self._phrase(rng, tune, RIFF_NOTES)
        T = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
        key_pc = (tune.key_pc + T) % 12
        riff = [[p + T, s, d, o] for p, s, d, o in _excerpt(tune, i, n)]
        st = Setting(key_pc, tune.minor, tune.bar_q, float(tune.bar_pos[i]))
        if kind == "reset":
            riff = _reset_riff(riff, rng)
        pos = (st.pos + 0.5) % st.bar_q if kind == "shift" else st.pos
        if kind == "pickup":
            up = riff[0][0] if rng.random() < 0.5 else _scale_pitch(riff[0][0], -1, key_pc, st.minor)
            riff = [[up, riff[0][1] - 0.5, 0.5, -1]] + riff
            pos = (pos - 0.5) % st.bar_q
        register = float(np.median([x[0] for x in riff]))
        lead, used, spans = [], [], []
        for part in range(4):
            if part % 2 == 0:            # a verse
                lead = self._verse(rng, lead, used, key_pc, st, register)
                continue
            for _ in range(int(rng.integers(RIFF_REPEATS[0], RIFF_REPEATS[1] + 1))):
                again = [x[:] for x in riff]
                if rng.random() < 0.5:
                    again = vary(again, {str(rng.choice(["ornament", "rhythm", "pitch"])): 1}, rng, key_pc, st.minor)
                lead, q0, q1 = self._assemble(rng, lead, again, [], st.bar_q, pos)
                spans.append((q0, q1))
        bpm, factor = self._tempo(rng, tune.spq)
        q = Query(qid, True, f"{DISPUTE_CATEGORY}/riff-{kind}", "", tempo_factor=factor, bpm=bpm,
                  time_signature=_time_signature(st.bar_q), key_pc=key_pc, minor=st.minor,
                  context_notes=(len(lead) - len(spans) * len(riff), 0), phrase_notes=len(riff), transpose=T)
        _borrowed(q, tune, ref_index, i, n, spans, bpm)
        return self._finish(rng, q, _make_monophonic(lead))

    def riffs(self, members: list[int], n: int = N_RIFF) -> list[Query]:
        """n `riff_song` queries on the dispute catalog's tunes `members` (RIFF_KINDS in turn), own seeds."""
        out = []
        for k in range(n):
            rng = np.random.default_rng([self.seed, 45, k])
            out.append(self.riff_song(rng, f"k{k:04d}", members[int(rng.integers(len(members)))],
                                      RIFF_KINDS[k % len(RIFF_KINDS)]))
        return out

    def performances(self, n: int = N_PERFORM) -> list[Query]:
        """n phrases of catalog tunes in simple duple time, each played as one of PERFORM_KINDS in turn
        (group perform/<kind>, `draw_performance`), each followed by its twin as written (straight/<kind>:
        the same query and arrangement, no performance); then n // 2 negatives (held-out excerpts and
        medleys) played in the same ways, group perform-neg/<kind>; own seeds, after every other group's."""
        simple = [k for k, t in enumerate(self.split.catalog) if t.bar_q in (2.0, 4.0)]
        refs = np.random.default_rng([self.seed, 80]).choice(simple, size=n)
        out = []
        for k, ref in enumerate(refs):
            kind = PERFORM_KINDS[k % len(PERFORM_KINDS)]
            rng = np.random.default_rng([self.seed, 81, k])
            plan = {} if (k // len(PERFORM_KINDS)) % 2 == 0 else {str(rng.choice(["ornament", "rhythm", "pitch"])): 1}
            q = self.positive(rng, f"f{k:04d}", f"{PERFORM_CATEGORY}/{kind}", int(ref), plan=plan)
            twin = copy.deepcopy(q)
            twin.qid, twin.category = f"g{k:04d}", f"{STRAIGHT_CATEGORY}/{kind}"
            spb = 60.0 / q.bpm
            q.performance = draw_performance(np.random.default_rng([self.seed, 82, k]), kind, q.duration / spb,
                                             (q.query_span[1] / spb, q.duration / spb))
            q.query_span = tuple(float(x) for x in performed_seconds(np.array(q.query_span) / spb, q.performance, spb))
            q.render_seed = twin.render_seed = self.seed * 100_003 + 90_000 + k
            out += [q, twin]
        for k in range(n // 2):      # negatives played the same ways: what a second reading costs
            kind = PERFORM_KINDS[k % len(PERFORM_KINDS)]
            rng = np.random.default_rng([self.seed, 83, k])
            q = self.negative(rng, f"u{k:04d}", str(rng.choice(["neg/heldout", "neg/medley"])))
            q.category = f"{PERFORM_NEGATIVE}/{kind}"
            spb = 60.0 / q.bpm
            q.performance = draw_performance(rng, kind, q.duration / spb, (q.duration / spb,))
            q.render_seed = self.seed * 100_003 + 95_000 + k
            out.append(q)
        return out

    def _finish(self, rng, q: Query, lead: list[list]) -> Query:
        q.arrangement = "piano" if rng.random() < P_PIANO else "band"
        # keep the lead above the accompaniment, as in most songs: whole octaves, recorded in `transpose`
        med = float(np.median([n[0] for n in lead]))
        octaves = int(np.ceil((LEAD_REGISTER[0] - med) / 12)) if med < LEAD_REGISTER[0] else \
            -int(np.ceil((med - LEAD_REGISTER[1]) / 12)) if med > LEAD_REGISTER[1] else 0
        if octaves:
            lead = [[n[0] + 12 * octaves, n[1], n[2], n[3]] for n in lead]
            q.transpose += 12 * octaves
        sec = 60.0 / q.bpm
        q.lead = [(int(p), s * sec, d * sec, int(o)) for p, s, d, o in lead]
        q.duration = max(s + d for _, s, d, _ in q.lead)
        return q

    def queries(self, n_queries: int, n_short: int = 0, n_sync: int = 0) -> list[Query]:
        """n_queries queries, half positive (spread evenly over the categories), half negative; then
        n_short transposed exact copies of SHORT_NOTES notes (category SHORT_CATEGORY), then n_sync
        syncopated phrases (SYNC_CATEGORY)."""
        rng = np.random.default_rng([self.seed, 2])
        n_pos = (n_queries + 1) // 2
        n_neg = n_queries - n_pos
        pos_cats = [list(POSITIVE_CATEGORIES)[k % len(POSITIVE_CATEGORIES)] for k in range(n_pos)]
        neg_cats = [NEGATIVE_CATEGORIES[k % len(NEGATIVE_CATEGORIES)] for k in range(n_neg)]
        refs = rng.choice(len(self.split.catalog), size=n_pos, replace=n_pos > len(self.split.catalog))
        out = []
        for k, (cat, ref) in enumerate(zip(pos_cats, refs)):
            out.append(self.positive(np.random.default_rng([self.seed, 3, k]), f"p{k:04d}", cat, int(ref)))
        for k, cat in enumerate(neg_cats):
            out.append(self.negative(np.random.default_rng([self.seed, 4, k]), f"n{k:04d}", cat))
        short_refs = np.random.default_rng([self.seed, 7]).choice(len(self.split.catalog), size=n_short)
        for k, ref in enumerate(short_refs):
            out.append(self.positive(np.random.default_rng([self.seed, 6, k]), f"s{k:04d}", SHORT_CATEGORY,
                                     int(ref), notes=(SHORT_NOTES, SHORT_NOTES)))
        sync_refs = np.random.default_rng([self.seed, 9]).choice(len(self.split.catalog), size=n_sync)
        for k, ref in enumerate(sync_refs):
            out.append(self.positive(np.random.default_rng([self.seed, 8, k]), f"y{k:04d}", SYNC_CATEGORY, int(ref)))
        return out



# --------------------------------------------------------------------------------------------- performance

RIT_BEATS = 2.0              # a ritardando slows the last RIT_BEATS beats before a phrase end


def draw_performance(rng, kind: str, length: float, ends) -> dict:
    """How a query of `length` written beats is played, for one of PERFORM_KINDS (module comment); `ends`:
    the written beats where its phrases end (the ritardandi's targets)."""
    perf = {"kind": kind}
    if kind in ("swing", "all"):
        perf["swing"] = 3.0 if rng.random() < 1 / 3 else 2.0
    if kind in ("articulation", "all"):
        if rng.random() < 0.5:
            perf["staccato"] = float(rng.uniform(0.25, 0.5))
        else:
            perf["legato"] = float(rng.uniform(0.02, 0.08))
    if kind in ("timing", "all"):
        perf.update(jitter=float(rng.uniform(0.010, 0.030)),
                    drift=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.10)),
                    rit=float(rng.uniform(0.15, 0.30)), velocity_sd=12.0, file_bpm=PERFORM_FILE_BPM,
                    length=float(length), ends=[float(e) for e in ends])
    return perf


def swing(beats: np.ndarray, ratio: float) -> np.ndarray:
    """Written beat times with each beat's two eighths played long-short at `ratio` (2: 2:1); 0: as written.
    The beat's second eighth moves from its middle to ratio / (1 + ratio); the beat stays where it is."""
    beats = np.asarray(beats, dtype="f8")
    if not ratio:
        return beats
    whole = np.floor(beats + 1e-9)
    u = beats - whole
    long = ratio / (1.0 + ratio)
    return whole + np.where(u <= 0.5, 2.0 * long * u, long + 2.0 * (1.0 - long) * (u - 0.5))


def performed_seconds(beats, perf: dict, spb: float) -> np.ndarray:
    """Written beat times -> seconds as played: swung (`swing`), then timed by a tempo that drifts by
    perf["drift"] over the query and slows by up to perf["rit"] over RIT_BEATS beats into each of
    perf["ends"] (`spb`: seconds per beat as written). No jitter: that is per note (`perform`)."""
    b = swing(beats, perf.get("swing", 0.0))
    length = max(perf.get("length", 0.0), 1.0)
    grid = np.arange(0.0, max(length, float(np.max(b, initial=0.0))) + 4.0, 1.0 / 96)
    stretch = 1.0 + perf.get("drift", 0.0) * (np.minimum(grid, length) / length - 0.5)
    for end in perf.get("ends", ()):
        x = (grid - (end - RIT_BEATS)) / RIT_BEATS
        inside = (x >= 0) & (x <= 1)
        stretch[inside] += perf.get("rit", 0.0) * x[inside] ** 2
    seconds = np.concatenate([[0.0], np.cumsum(stretch[:-1])]) * spb / 96
    return np.interp(b, grid, seconds)


def perform(tracks, lead_at: tuple[int, int], perf: dict, spb: float, rng):
    """Play an arrangement as `perf` says: every track's notes (written beats, `spb` seconds each) timed by
    `performed_seconds`, the lead (the first lead_at[1] notes of track lead_at[0]) articulated staccato or
    legato, every onset jittered (the lead's notes each on its own, an accompaniment's chord together),
    velocities varied. Returns (tracks in beats of the file's tempo, the lead as played
    [(pitch, onset_s, dur_s)])."""
    from melody.testing import Track

    file_spb = 60.0 / perf["file_bpm"] if perf.get("file_bpm") else spb
    out, played = [], []
    for ti, track in enumerate(tracks):
        notes = np.array([[n[0], n[1], n[2], n[3] if len(n) > 3 else 80] for n in track.notes], dtype="f8")
        if not len(notes):
            out.append(track)
            continue
        on = performed_seconds(notes[:, 1], perf, spb)
        off = performed_seconds(notes[:, 1] + notes[:, 2], perf, spb)
        n_lead = lead_at[1] if ti == lead_at[0] else 0
        if n_lead:
            lead_on = on[:n_lead]
            nxt = np.append(lead_on[1:], np.inf)
            if perf.get("staccato"):
                off[:n_lead] = lead_on + np.minimum(off[:n_lead] - lead_on, perf["staccato"] * (nxt - lead_on))
            if perf.get("legato"):
                joined = nxt - off[:n_lead] < 0.05 * spb            # no rest before the next note
                off[:n_lead] = np.where(joined, nxt + perf["legato"], off[:n_lead])
        shift = np.zeros(len(notes))
        sd = perf.get("jitter", 0.0)
        if sd:
            times, group = np.unique(np.round(on, 4), return_inverse=True)
            shift = np.clip(rng.normal(0.0, sd, len(times)), -2.5 * sd, 2.5 * sd)[group]
            if n_lead:
                gaps = np.diff(on[:n_lead])
                room = 0.3 * np.minimum(np.append(np.inf, gaps), np.append(gaps, np.inf))
                shift[:n_lead] = np.clip(rng.normal(0.0, sd, n_lead), -np.minimum(room, 2.5 * sd),
                                         np.minimum(room, 2.5 * sd))
        on, off = np.maximum(on + shift, 0.0), np.maximum(off + shift, 0.0)
        vel = notes[:, 3]
        if perf.get("velocity_sd"):
            vel = np.clip(np.round(vel + rng.normal(0.0, perf["velocity_sd"], len(vel))), 20, 127)
        out.append(Track(track.name, program=track.program, is_drum=track.is_drum,
                         notes=[(int(p), s / file_spb, (e - s) / file_spb, int(v))
                                for p, s, e, v in zip(notes[:, 0], on, off, vel)]))
        if n_lead:
            played = [(int(p), float(s), float(e - s)) for p, s, e in zip(notes[:n_lead, 0], on, off)]
    return out, played


# ------------------------------------------------------------------------------------------------ output

# (track name, General MIDI program) of the lead in band arrangements; several say nothing about the role
_LEAD_TRACKS = [("Melody", 73), ("Vocals", 54), ("Lead", 80), ("Flute", 73), ("Violin", 40), ("Track 2", 0),
                ("Sax", 65), ("Trumpet", 56), ("", 71), ("Guitar", 25)]


def render(query: Query, path: str, seed: int) -> None:
    """Arrange the query's lead and write it as a MIDI file."""
    from melody.testing import Track, accompany, piano_arrangement, write_midi

    rng = np.random.default_rng([seed, 5])
    spb = 60.0 / query.bpm
    lead = [(p, s / spb, d / spb, int(rng.integers(80, 111))) for p, s, d, _ in query.lead]
    beats_per_bar = query.time_signature[0] * 4.0 / query.time_signature[1]
    if query.arrangement == "piano":
        tracks = [piano_arrangement(lead, query.key_pc, query.minor, beats_per_bar, seed)]
        lead_at = (0, len(lead))
    else:
        name, program = _LEAD_TRACKS[int(rng.integers(len(_LEAD_TRACKS)))]
        tracks = accompany(lead, query.key_pc, query.minor, beats_per_bar, seed)
        lead_at = (int(rng.integers(len(tracks) + 1)), len(lead))
        tracks.insert(lead_at[0], Track(name, program=program, notes=lead))
    bpm, time_signature = query.bpm, query.time_signature
    if query.performance:       # played: the lead (for lead_agreement) as played, the file at the player's tempo
        tracks, played = perform(tracks, lead_at, query.performance, spb, np.random.default_rng([seed, 6]))
        query.lead = [(p, s, d, o) for (p, s, d), (_, _, _, o) in zip(played, query.lead)]
        if query.performance.get("file_bpm"):
            bpm, time_signature = query.performance["file_bpm"], (4, 4)
    import keyed          # written aside and moved into place: never through a hard link into a copied workdir

    with keyed.replacing(path) as tmp:
        write_midi(tmp, tracks, bpm, time_signature)
    query.path = path


def build(n_catalog: int = 1000, n_queries: int = 330, seed: int = 0, workdir: str = "bench-work",
          n_heldout: int = 400, log=print, n_short: int = N_SHORT, n_sync: int = N_SYNC,
          n_variation: int = N_VARIATION, n_dispute: int = 0, n_song: int = 0,
          n_riff: int = 0, n_perform: int = 0) -> tuple[Split, list[Query]]:
    """Load and split the corpus, generate the queries and write them as MIDI files under workdir/queries.

    With n_dispute > 0 the dispute-mode queries follow (`Generator.disputes`); their small catalog is
    `split.stats["dispute_catalog"]` (indices into split.catalog). With n_song > 0 the song negatives
    (`Generator.songs`) follow, and with n_riff > 0 (and n_dispute) the riff songs (`Generator.riffs`) come
    last, so every query before them is written as it was without them; with n_perform > 0 the performed
    phrases and their straight twins (`Generator.performances`) after them."""
    t0 = time.perf_counter()
    corpus = load_corpus(os.path.join(workdir, "cache"), log=log)
    split = split_corpus(corpus, n_catalog, n_heldout, seed)
    gen = Generator(split, seed)
    queries = gen.queries(n_queries, n_short, n_sync) + (gen.variations(n_variation) if n_variation else [])
    if n_dispute:
        members, disputes = gen.disputes(n_dispute)
        split.stats["dispute_catalog"] = members
        queries += disputes
    if n_song:
        queries += gen.songs(n_song)
    if n_dispute and n_riff:     # riff songs on the dispute catalog, after every other group
        queries += gen.riffs(members, n_riff)
    if n_perform:                # performed phrases and their straight twins, last
        queries += gen.performances(n_perform)
    qdir = os.path.join(workdir, "queries")
    os.makedirs(qdir, exist_ok=True)
    for k, q in enumerate(queries):
        render(q, os.path.join(qdir, f"{q.qid}.mid"), seed * 100_003 + k if q.render_seed is None else q.render_seed)
    if log:
        log(f"data: {len(split.catalog)} catalog tunes, {len(split.heldout)} held-out, {len(queries)} queries "
            f"in {time.perf_counter() - t0:.1f} s ({split.stats})")
    return split, queries


def dump(split: Split, queries: list[Query], out_dir: str) -> str:
    """Write out_dir/truth.json: the catalog list and one record per query (MIDI path relative to out_dir,
    the lead as written: [pitch, start_s, dur_s, origin])."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "truth.json")
    with open(path, "w") as fh:
        json.dump({"catalog": [{"index": k, "title": t.melody.title,
                                "source": f"{t.melody.source}#{t.melody.index}"}
                               for k, t in enumerate(split.catalog)],
                   "split": split.stats,
                   "queries": [dict(q.truth(), path=os.path.relpath(q.path, out_dir), lead=q.lead)
                               for q in queries]}, fh, indent=1)
    return path
