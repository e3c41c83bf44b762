"""The public catalog: index files, search a melody against every reference, explain each match."""
from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .. import align
from ..align import fast, sieve
from ..errors import CatalogError, MelodyError
from ..io import is_audio, is_supported, load
from ..io.played import read_view
from ..meter import melody_with_guessed_beats
from ..swing import straightened
from ..notes import MIN_NOTES, Melody
from ..represent import Features
from ..score import significance
from ..score.match import Match, build_match
from ..score.rescore import View, played_params, recording_params, rescore_views, style_sample
from .packed import (MERGED_DIR, SIEVE8, Packed, add_sieve_layout, build_arrays, cache_dir, extend_cache,
                     from_arrays, merge_repeats, merged_arrays, merged_reading, pack, read_cache, read_merged,
                     restruck, write_cache, write_merged)
from .store import MEMORY_READER, Entries, Entry, Store

__all__ = ["Catalog", "IndexReport", "Match", "default_catalog_path"]

PREFILTER_MIN = 5_000   # catalogs at least this large are ranked by the fast first pass (see Catalog._stage1)
FIRST_PASS_KEEP = 400   # rows of best first-pass reduced score that the full kernel re-scores
MERGED_MAX = 50_000     # recordings are ranked against a merged-repeat copy of catalogs smaller than this
SIEVE_MIN = 50_000      # catalogs at least this large are sieved before the first pass (melody.align.sieve)
SIEVE_SHARE = 0.02      # the share of rows, best by sieve score, that the first pass re-scores
TAIL_SAMPLE = 1 << 16   # rows of a sieved catalog whose cheap scores fit the stage-1 E-values' tail
TITLED_MAX = 5_000      # titles `Catalog.titled` ranks at most (the database's first by title)
COMMIT_SECONDS = 30.0   # `Catalog.index` commits at least this often: a killed index of recordings (10-20 s
                        # each to transcribe) loses half a minute, not a 200-file batch (an hour); scores
                        # (hundreds a second) still commit 200 at a time, one segment file each


def default_catalog_path() -> str:
    """Where `melody catalog build-default` puts the default catalog ($MELODY_CATALOG overrides)."""
    if os.environ.get("MELODY_CATALOG"):
        return os.environ["MELODY_CATALOG"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "melody", "default-catalog")


@dataclass
class IndexReport:
    added_files: int = 0
    added_melodies: int = 0
    skipped: list[str] = field(default_factory=list)            # unchanged (same content already indexed)
    duplicates: list[str] = field(default_factory=list)         # of those, the same content as another file of this run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    reread: int = 0     # of the added files, how many an older reader had read (their notes are replaced)


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expand_paths(paths, supported=is_supported) -> list[str]:
    """Files under the given files/folders (recursive, sorted, symlink loops ignored)."""
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p, followlinks=False):
                dirs.sort()
                out.extend(os.path.join(root, x) for x in sorted(names) if supported(x))
        else:
            out.append(p)
    return out


def _load_one(path: str):
    """Worker: (path, sha, size, melodies, error) for one file; never raises."""
    try:
        sha = file_hash(path)
        melodies = [m for m in load(path) if len(m.notes) >= MIN_NOTES]
        if not melodies:
            return path, sha, 0, [], f"{path}: no melody with at least {MIN_NOTES} notes"
        return path, sha, os.path.getsize(path), melodies, None
    except MelodyError as exc:
        return path, "", 0, [], str(exc)
    except OSError as exc:
        return path, "", 0, [], f"{path}: cannot read ({exc.strerror or exc})"
    except Exception as exc:   # a parser bug must not stop a batch; report it on one line
        return path, "", 0, [], f"{path}: unexpected {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def index_chunksize(paths: list[str], workers: int) -> int:
    """Files handed to a parsing process at a time. Scores parse in milliseconds, so 8 at a time saves the
    round trips; a recording takes 10-20 s to transcribe, so chunks of 8 left all of a small folder's
    recordings to one process (4 takes, 2 workers: one busy, one idle) and the progress bar still for minutes."""
    if any(is_audio(p) for p in paths):
        return 1
    return max(1, min(8, len(paths) // (4 * workers)))


class Catalog:
    """A folder of reference melodies that queries are searched against.

    Examples
    --------
    >>> cat = Catalog.open("refs", create=True)        # doctest: +SKIP
    >>> cat.index(["reference_tracks/"])               # doctest: +SKIP
    >>> cat.search(melody.load("song.mid")[0], top=5)  # doctest: +SKIP
    """

    def __init__(self, store: Store):
        self.store = store
        self._packed: Packed | None = None
        self._cache_path: str | None = None     # the packed cache's folder when memory-mapped from one
        self.last_search: dict = {}     # how many rows the last search scored with the full kernel

    @classmethod
    def open(cls, path: str | None = None, create: bool = False, read_only: bool = False) -> "Catalog":
        """Open a catalog folder; read_only=True never writes to it (shared storage, batch workers)."""
        return cls(Store(path or default_catalog_path(), create=create, read_only=read_only))

    @classmethod
    def create(cls, path: str) -> "Catalog":
        return cls.open(path, create=True)

    @property
    def path(self) -> str:
        return self.store.path

    def __len__(self) -> int:
        return len(self.packed.entries)

    def close(self):
        self.store.close()

    # ---- writing -------------------------------------------------------------------------------
    def add(self, melodies: list[Melody]) -> list[str]:
        """Add in-memory melodies (one 'file' per distinct source); returns their ids."""
        groups: dict[str, list[Melody]] = {}
        for m in melodies:
            m.require()
            groups.setdefault(m.source or "(memory)", []).append(m)
        batch = []
        for source, ms in groups.items():
            h = hashlib.sha256(source.encode())
            for m in ms:
                h.update(m.notes.tobytes())
            batch.append((source, h.hexdigest(), 0, ms))
        self.store.lock()
        try:
            uids = self.store.add_files(batch, reader=MEMORY_READER)
        finally:
            self.store.unlock()
        self._packed = None
        return uids

    def index(self, paths, workers: int | None = None, progress=None, batch_files: int = 200) -> IndexReport:
        """Add every supported file under `paths`; files whose content is already indexed are skipped, unless
        an older version of melody's readers read them (``io.reader_tag``): those are read again.

        Parsing runs in `workers` processes (default: all cores). Each batch of files (`batch_files`, or
        what finished in `COMMIT_SECONDS`) is committed atomically, and an interrupted run (KeyboardInterrupt)
        commits the files it finished before it stops, so the next run continues from there.
        ``progress`` is called with the number of files done after each file.
        """
        report = IndexReport()
        files = expand_paths(paths)
        self.store.lock()
        try:
            known = self.store.known_hashes()
            stale = self.store.stale_files()
            earlier = set(known)
            pending = []
            for path in files:
                try:
                    sha = file_hash(path)
                except OSError as exc:
                    report.failed.append((path, f"{path}: cannot read ({exc.strerror or exc})"))
                    continue
                if sha in known:
                    report.skipped.append(path)
                    if sha not in earlier:
                        report.duplicates.append(path)
                else:
                    known[sha] = path
                    pending.append(path)
            if progress:
                progress(len(report.skipped) + len(report.failed))
            workers = workers or os.cpu_count() or 1
            batch = []
            committed = time.monotonic()
            pool = ProcessPoolExecutor(workers) if workers > 1 and len(pending) >= 4 else None
            try:
                results = pool.map(_load_one, pending, chunksize=index_chunksize(pending, workers)) if pool \
                    else map(_load_one, pending)
                for path, sha, size, melodies, error in results:
                    if error:
                        report.failed.append((path, error))
                    else:
                        batch.append((os.path.abspath(path), sha, size, melodies))
                        report.added_files += 1
                        report.added_melodies += len(melodies)
                        report.reread += sha in stale
                    if len(batch) >= batch_files or time.monotonic() - committed >= COMMIT_SECONDS:
                        done, batch = batch, []      # handed over once: an interrupt cannot commit it twice
                        self.store.add_files(done)
                        committed = time.monotonic()
                    if progress:
                        progress(1)
            finally:
                if pool:
                    pool.shutdown(cancel_futures=True)
                self.store.add_files(batch)     # the files finished so far, also when interrupted (Ctrl-C)
        finally:
            self.store.unlock()
        self._packed = None
        return report

    # ---- reading -------------------------------------------------------------------------------
    @property
    def packed(self) -> Packed:
        """Every melody's notes and alignment features in flat arrays, memory-mapped from the catalog's cache
        (built on first use after a change; a read-only catalog without one builds it in memory)."""
        if self._packed is None:
            with self.store.snapshot():      # one committed state, while a writer may commit
                count, generation = self.store.generation()
                path = cache_dir(self.path, generation)
                arrays = read_cache(path)
                if arrays is None and count and not self.store.read_only:
                    if extend_cache(self.store, path) or write_cache(self.store, path):
                        arrays = read_cache(path)
                self._cache_path = path if arrays is not None else None
                if arrays is None:
                    arrays = build_arrays(self.store)
                elif SIEVE8 not in arrays and count >= SIEVE_MIN:     # a cache written before the 8-bit sieve
                    add_sieve_layout(None if self.store.read_only else path, arrays)
            self._packed = from_arrays(Entries(self.store, np.asarray(arrays["ids"])), arrays)
        return self._packed

    def info(self) -> dict:
        return {**self.store.info(), "stale_files": len(self.store.stale_files())}

    def stale_notice(self) -> str:
        """A one-line note when an older version of melody's readers read some of this catalog's files (their
        notes are not what today's reader makes of them), saying how to read them again; else ''."""
        n = len(self.store.stale_files())
        if not n:
            return ""
        return (f"note: {n} file{'s' if n != 1 else ''} of the catalog {self.path} {'were' if n != 1 else 'was'} "
                "read by an older version of melody's readers; index the same folders again to re-read them "
                f"(`melody index FOLDERS --catalog {self.path}`, or `melody catalog build-default` for the "
                "default catalog)")

    def _holds_recordings(self) -> bool:
        """Whether the catalog holds a transcribed recording (checked once per packed state): then every
        query, a score's too, is ranked both as given and with repeated notes merged (`_rank`)."""
        p = self.packed
        if "recordings" not in p.derived:
            p.derived["recordings"] = self.store.holds_recordings()
        return p.derived["recordings"]

    def _merged_packed(self) -> Packed:
        """The catalog's step arrays with repeated notes merged (for recordings and re-struck scores), once per
        process. A catalog of PREFILTER_MIN melodies or more (searched with the first pass's layout) reads
        them from its packed cache's folder (`packed.read_merged`), where the first such query of a writable
        catalog leaves them (`packed.write_merged`); a smaller one builds them in memory (milliseconds)."""
        p = self.packed
        if "merged" not in p.derived:
            if len(p) < PREFILTER_MIN:
                p.derived["merged"] = pack(p.entries, *merge_repeats(p.notes, p.offsets))
            else:
                p.derived["merged"] = from_arrays(p.entries, self._merged_arrays())
        return p.derived["merged"]

    def _merged_arrays(self) -> dict[str, np.ndarray]:
        """`packed.merged_arrays` of this catalog: memory-mapped from the packed cache's folder when it holds
        them for these rows, else built, and written there when the catalog may be written."""
        ids = self.packed.derived["ids"]
        folder = os.path.join(self._cache_path, MERGED_DIR) if self._cache_path else None
        arrays = read_merged(folder, ids) if folder else None
        if arrays is None:
            arrays = merged_arrays(self.packed, ids)
            if folder and not self.store.read_only and write_merged(folder, arrays):
                written = read_merged(folder, ids)
                arrays = arrays if written is None else written
        return arrays

    def melody(self, row: int) -> Melody:
        """The catalog melody at a row (as stored: notes, title, composer, source)."""
        p = self.packed
        e = p.entries[row]
        return Melody(np.array(p.notes[p.offsets[row]:p.offsets[row + 1]]), title=e.title,
                      composer=e.composer, source=e.source, meta={"id": e.uid})

    def titled(self, text: str, limit: int = 50) -> list[Entry]:
        """Up to `limit` catalog melodies whose title contains `text` (any case): how a user names a
        reference (the dashboard's comparison with a catalog tune). The title itself first, then titles
        that begin with it, then those with a word that does, then the rest, each group by title."""
        text = text.strip()
        if not text:
            return []
        low = text.lower()

        def rank(title: str) -> tuple:
            t = title.lower().strip(" \"'")
            return (t != low, not t.startswith(low), f" {low}" not in f" {t}", t)

        found = sorted(self.store.titled(text, TITLED_MAX), key=lambda row: rank(row[1]))[:limit]
        entries = self.packed.entries
        rows = [entries.row_of(uid) for uid, _ in found]
        return [entries[row] for row in rows if row is not None]

    def features(self, row: int) -> Features:
        p = self.packed
        a, b = p.step_offsets[row], p.step_offsets[row + 1]
        return Features(p.interval[a:b], p.length[a:b], p.weight[a:b], float(p.tempo_unit[row]), p.metric[a:b])

    def search(self, query: Melody, top: int = 10, max_evalue: float = significance.DEFAULT_MAX_EVALUE,
               params=None, pitch_params=None, variants: bool = False) -> list[Match]:
        """Rank the catalog's melodies by how significantly they share a passage with `query`.

        Two stages: every reference is scored by interval alignment (`melody.align.search`; in a catalog of
        PREFILTER_MIN melodies or more, after a fast first pass over all of them, see `_stage1`); the best
        candidates are re-scored with transposed absolute pitch and their E-values come from that combined
        score's null (`melody.score.rescore`). Returns up to `top` matches, best (smallest E-value) first,
        each with the matched passage in both melodies (seconds, notes, bars), transposition, tempo ratio
        and significance.

        ``variants``: also ask whether the query is a variant of a whole tune (a folk tune's versions, varied a
        little throughout, share no single passage strongly): a score's song is aligned whole against the
        references of its length too, and that evidence is added to the shared passage's
        (`rescore.song_evidence`). Off by default: a borrowed passage amid a song of similar length is
        charged for the rest of the song (BENCHMARKS.md, twenty-seventh session).
        """
        if top < 1:
            raise MelodyError(f"top must be at least 1, got {top}")
        query.require()
        p = self.packed
        if not p.entries:
            raise CatalogError(f"{self.path}: the catalog is empty; add references with `melody index`")
        # A melody without bars whose onsets keep a steady pulse gets its beats from the notes (melody.meter),
        # so a copied phrase earns the metric bonus as it would in a score; the match reports the query as given.
        # A MIDI part read as played (its onsets keep no beat of the file), or a recording whose onsets fit no
        # beat grid, has its length ratios graded, not matched yes or no (`rescore.played_params`).
        sq = melody_with_guessed_beats(query)
        qf = p.query_features(sq)
        params, pitch_params = played_params(sq, params, pitch_params)
        pitch_params = recording_params(sq, pitch_params, recorded=self._holds_recordings())
        scores, evalues, order = self._rank(sq, p, params, pitch_params, variants=variants)
        order = order[:top]
        matches = []
        for row in order:
            if scores[row] <= 0:         # no shared passage at all: not a match, however it ranks
                continue
            alignment = align.local_align(qf, self.features(row), params)
            matches.append(build_match(query, self.melody(row), alignment, p.entries[row],
                                       float(evalues[row]), max_evalue, len(p.entries)))
        return matches

    def _rank(self, query: Melody, p: Packed, params, pitch_params, detail: dict | None = None,
              variants: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage-1 score, E-value and order (best first) of every row for the query.

        A recording cannot show a repeated note that is not re-articulated (legato winds and strings), and a
        transcriber recovers some of them and not others; merging repeated notes on both sides makes the
        alignment blind to them, but also throws away what tells a melody apart where the recording does
        show them (piano, guitar, most singing). So a recording is ranked both ways, as transcribed and
        with repeated notes merged on both sides, and each reference keeps the better of its two
        significances, corrected for taking the better of two (`rescore.rescore_views`, `views_factor`).
        The same holds with the roles swapped: in a catalog that holds recordings, a score's query is ranked
        both ways too, since a recorded reference shows the same errors (BENCHMARKS.md, fourteenth session:
        a catalog of recordings). So is a score whose notes are re-struck for more syllables (`restruck`: a
        rap-like re-setting strikes each note of the melody two or three times; twenty-seventh session).
        Not in catalogs of MERGED_MAX melodies or more: a merged copy of every melody would not fit in
        memory. The passage shown is still aligned note for note.
        A score or MIDI file (not a recording) whose eighths are played swung (`melody.swing`) is ranked both
        ways in the same way: as given and straightened, against the catalog as it is. A MIDI part read as
        played, or a single line recorded off any beat grid, is also ranked as read against its local tempo
        (`melody.io.played.read_view`: meta "read_onsets").
        ``detail``: filled by `rescore.rescore_views` (each view's reduced scores of the candidates).
        ``variants``: see `search`.
        """
        qf = p.query_features(query)
        null = style_sample(qf, p)      # stage 2's null sample; stage 1 gives these rows first-pass scores
        scores, evalues = self._stage1(qf, p, params, null)
        views = [View(query, qf, p, scores, evalues)]
        recorded = query.meta.get("kind") == "audio" or self._holds_recordings()
        if (recorded or restruck(query.notes)) and len(p) < MERGED_MAX:
            merged = merged_reading(query)
            if merged is not None:
                mp = self._merged_packed()
                mqf = mp.query_features(merged)
                # a recording's two readings of one performance must agree (rescore.READINGS_AGREE); a score
                # re-struck on purpose is another way to read it, its better view counting (as a swing's)
                views.append(View(merged, mqf, mp, *self._stage1(mqf, mp, params, null), reading=recorded))
        if query.meta.get("kind") != "audio" and not (recorded and len(p) < MERGED_MAX):
            straight = straightened(query)        # a score or MIDI file played swung: read straight as well
            if straight is not None:
                sqf = p.query_features(straight)
                views.append(View(straight, sqf, p, *self._stage1(sqf, p, params, null)))
        # a part played, or a line recorded off any beat grid: read against its local tempo as well
        read = read_view(query)
        if read is not None:
            rqf = p.query_features(read)
            views.append(View(read, rqf, p, *self._stage1(rqf, p, params, null)))
        order, evalues, _ = rescore_views(views, pitch_params, null_rows=null, detail=detail, variants=variants)
        return np.max([v.s1 for v in views], axis=0), evalues, order

    def _stage1(self, qf: Features, p: Packed, params, null: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Interval-alignment score and E-value of every row (melody.align.search).

        A catalog of PREFILTER_MIN melodies or more is ranked first by the fast SIMD kernel
        (`melody.align.fast`, the same alignment with quantised steps); the full kernel re-scores the
        FIRST_PASS_KEEP rows of best reduced score (those E-values rank). From SIEVE_MIN melodies, a
        cheaper kernel (`melody.align.sieve`: fewer moves, simpler rhythm) ranks every row first and the
        first pass runs only on the best SIEVE_SHARE, regrouped into blocks of their own.

        The E-values' null is the whole catalog's cheap scores (first pass; sieve where the first pass did
        not run), as for an exhaustive search (sieved: a fixed sample of TAIL_SAMPLE rows of them). Stage-1
        E-values only choose stage 2's candidates, in the order of the reduced scores, which the null's fit
        does not change; the E-values reported come from stage 2. Rows not re-scored by the full kernel get
        score 0 and E = N (they cannot rank).
        """
        n = len(p)
        null = style_sample(qf, p) if null is None else null
        if n >= SIEVE_MIN and p.layout is not None:
            return self._sieved(qf, p, params, null)
        n_steps = np.diff(p.step_offsets)
        steps = (p.interval, p.length, p.weight, p.metric)
        if n < PREFILTER_MIN or p.layout is None:
            scores = align.search(qf, steps, p.step_offsets, params)
            self.last_search = {"rows": n, "full_kernel_rows": n}
            if n >= significance.MIN_FOR_LOCAL_FIT:
                return scores, significance.evalues(scores, len(qf), n_steps)[0]
            return scores, np.full(n, float(n))   # stage 2 re-scores every reference of a small catalog
        scores = fast.prefilter_scores(qf, p.layout, params=params).astype(np.float64)
        z = significance.reduced_scores(scores, len(qf), n_steps)
        rows = np.sort(np.argpartition(-z, FIRST_PASS_KEEP - 1)[:FIRST_PASS_KEEP]) if n > FIRST_PASS_KEEP \
            else np.arange(n)
        exact = align.search_rows(qf, steps, p.step_offsets, rows, params)
        self.last_search = {"rows": n, "full_kernel_rows": len(rows)}
        # E-values of the re-scored rows against the whole catalog's first-pass scores. The other rows are
        # left out of the ranking (E = N), which keeps stage 2's sorting to these rows; stage 2's null
        # sample keeps its first-pass scores (a few tenths of a point off, on scores that spread over tens).
        evalues = np.full(n, float(n))
        evalues[rows] = significance.evalues(exact, len(qf), n_steps[rows], scores, n_steps, n_refs=n)[0]
        kept = np.zeros(n)
        kept[null] = scores[null]
        kept[rows] = exact
        return kept, evalues

    def _sieved(self, qf: Features, p: Packed, params, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """_stage1 of a catalog of SIEVE_MIN melodies or more: sieve every row, first pass on the best
        SIEVE_SHARE (by reduced score) and stage 2's null sample, full kernel on the FIRST_PASS_KEEP best.

        Every step over all rows works in the layout's lane order on float32 (no scatter into row order, no
        float64 copy): a million rows cost a few milliseconds. The stage-1 E-values' tail is fitted on a
        fixed sample of TAIL_SAMPLE rows of the catalog's cheap scores instead of all of them: the same
        null, estimated from fewer scores (its quantile and mean excess move by a few hundredths); they rank
        as the reduced scores do whatever the fit.
        """
        n = len(p)
        m = len(qf)
        derived = self._sieve_arrays(p)
        n_steps, lane_rows, lane_log, pos = (derived[k] for k in ("n_steps", "lane_rows", "lane_log", "positions"))
        lane_s = sieve.sieve_lane_scores(qf, p.layout, params=params)
        # reduced score lambda S - ln(K m n) (significance.reduced_scores), empty lanes -inf
        lane_z = lane_s * np.float32(significance.LAMBDA)
        lane_z -= lane_log
        lane_z -= np.float32(np.log(significance.K_GLOBAL * max(float(m), 1.0)))
        share = max(int(SIEVE_SHARE * n), FIRST_PASS_KEEP)
        top = np.argpartition(-lane_z, share - 1)[:share]
        threshold = float(lane_z[top].min())           # no lane left out reduces higher
        # stage 2's null sample gets first-pass scores too: sieve scores run lower, and a null made of
        # them would make every combined score look more surprising than it is
        chosen = np.union1d(lane_rows[top], null)
        layout = fast.regroup(p.layout, chosen, pos)
        first = fast.prefilter_scores(qf, layout, params=params)[chosen].astype(np.float64)
        z = significance.reduced_scores(first, m, n_steps[chosen])
        keep = min(FIRST_PASS_KEEP, len(chosen))
        best = np.argpartition(-z, keep - 1)[:keep]
        if keep == FIRST_PASS_KEEP and z[best].min() >= threshold:
            rows = chosen[np.sort(best)]
        else:                    # a row only the sieve scored may rank among them: rank every row
            z_all = np.full(n, -np.inf)
            valid = lane_rows >= 0
            z_all[lane_rows[valid]] = lane_z[valid]
            z_all[chosen] = z
            rows = np.sort(np.argpartition(-z_all, FIRST_PASS_KEEP - 1)[:FIRST_PASS_KEEP])
        exact = align.search_rows(qf, (p.interval, p.length, p.weight, p.metric), p.step_offsets, rows, params)
        self.last_search = {"rows": n, "full_kernel_rows": len(rows)}
        # the null's tail: the sample's cheap scores (first pass where it ran, else sieve)
        sample = derived["tail_sample"]
        cheap = lane_s[pos[sample]].astype(np.float64)
        at = np.searchsorted(chosen, sample)
        ran = chosen[np.minimum(at, len(chosen) - 1)] == sample
        cheap[ran] = first[at[ran]]
        evalues = np.full(n, float(n))
        evalues[rows] = significance.evalues(exact, m, n_steps[rows], cheap, n_steps[sample], n_refs=n)[0]
        kept = np.zeros(n)
        kept[null] = first[np.searchsorted(chosen, null)]      # stage 2's null sample keeps its first-pass scores
        kept[rows] = exact
        return kept, evalues

    @staticmethod
    def _sieve_arrays(p: Packed) -> dict:
        """Per-catalog arrays of a sieved search, built on its first query: steps per row, the layout's
        catalog row per lane, ln(steps) per lane (+inf for an empty lane), each row's lane, and the tail
        sample (TAIL_SAMPLE rows, a fixed draw per catalog size)."""
        if "sieve" not in p.derived:
            n = len(p)
            n_steps = np.diff(np.asarray(p.step_offsets))
            lane_rows = np.asarray(p.layout["rows"])
            lane_log = np.full(len(lane_rows), np.inf, dtype=np.float32)
            valid = lane_rows >= 0
            lane_log[valid] = np.log(np.maximum(n_steps[lane_rows[valid]], 1))
            rng = np.random.default_rng(n + 1)
            sample = np.sort(rng.choice(n, size=min(TAIL_SAMPLE, n), replace=False))
            p.derived["sieve"] = {"n_steps": n_steps, "lane_rows": lane_rows, "lane_log": lane_log,
                                  "positions": fast.lane_positions(p.layout), "tail_sample": sample}
        return p.derived["sieve"]
