"""A catalog folder: SQLite for metadata, numpy segment files for notes (memory-mapped, never pickled).

Layout of a catalog folder::

    catalog.sqlite        files (path, content hash, the reader that read it) and melodies (title, composer,
                          where its notes are)
    segments/*.npy        NOTE_DTYPE arrays, one per add() batch; written to a temp name, fsynced, renamed
    .lock                 held (flock) by the one writer

A batch is committed by one SQLite transaction *after* its segment file is in place, so a crash leaves the
catalog as it was before or after the batch; an unreferenced segment left by a crash is removed by the next
writer. Readers never take the lock; SQLite's WAL mode lets them read while a writer adds.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import CatalogError, CatalogLocked
from ..io import AUDIO_EXTENSIONS, reader_tag
from ..notes import NOTE_DTYPE, Melody

DB_NAME = "catalog.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, size INTEGER, added REAL,
    reader TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS melodies (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id), tune_index INTEGER NOT NULL,
    uid TEXT NOT NULL UNIQUE, title TEXT, composer TEXT, source TEXT, n_notes INTEGER NOT NULL,
    segment TEXT NOT NULL, start INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS files_path ON files(path);
"""
MEMORY_READER = "memory"      # melodies added from memory (Catalog.add): no file to read again


@dataclass
class Entry:
    """One catalog melody's metadata."""

    row: int        # position in the packed arrays
    uid: str        # stable id: content hash of its file + tune number
    title: str
    composer: str
    source: str


class Store:
    """Low-level access to a catalog folder (see module docstring). Use melody.Catalog instead."""

    def __init__(self, path: str, create: bool = False, read_only: bool = False):
        self.path = os.path.abspath(os.fspath(path))
        self.read_only = read_only
        db = os.path.join(self.path, DB_NAME)
        if not os.path.exists(db):
            if not create or read_only:
                raise CatalogError(f"{self.path}: no catalog here (create one with `melody index FILES "
                                   f"--catalog {path}` or `melody catalog build-default`)")
            try:
                os.makedirs(os.path.join(self.path, "segments"), exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"{self.path}: cannot create catalog folder ({exc.strerror})") from None
        self._lock_fd = None
        self._read_lock = threading.Lock()
        if read_only:
            self.db = self._connect_read_only(db)
            return
        try:
            self.db = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            self._add_reader_column()
        except sqlite3.OperationalError as exc:
            if create or not os.path.exists(db):
                raise CatalogError(f"{db}: cannot write the catalog database ({exc}); check free disk space "
                                   "and permissions") from None
            self.db = self._connect_read_only(db)     # a catalog on read-only storage can still be searched
            self.read_only = True
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{db}: unreadable catalog database ({exc})") from None

    def _add_reader_column(self):
        """A catalog made before files recorded their reader gets the column; its files count as read by an
        older reader (the next index reads them again)."""
        try:
            self.db.execute("ALTER TABLE files ADD COLUMN reader TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise

    @staticmethod
    def _connect_read_only(db: str) -> sqlite3.Connection:
        """A connection that never writes (mode=ro; immutable when even SQLite's shared-memory file cannot be made)."""
        base = "file:" + urllib.parse.quote(db) + "?mode=ro"
        last = None
        for uri in (base, base + "&immutable=1"):
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("SELECT COUNT(*) FROM melodies").fetchone()
                return conn
            except sqlite3.DatabaseError as exc:
                last = exc
        raise CatalogError(f"{db}: unreadable catalog database ({last})") from None

    @contextmanager
    def snapshot(self):
        """Reads inside see one committed state of the catalog, even while a writer commits."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # ---- writing -------------------------------------------------------------------------------
    def lock(self):
        """Take the writer lock or raise CatalogLocked; removes segments left over by a crashed writer."""
        if self.read_only:
            raise CatalogError(f"{self.path}: the catalog was opened read-only (or its storage is read-only); "
                               "it cannot be changed")
        try:
            fd = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CatalogError(f"{self.path}: cannot write to the catalog ({exc.strerror or exc}); "
                               "check permissions and free disk space") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CatalogLocked(f"{self.path}: catalog is locked by another writer; try again when it finishes")
        self._lock_fd = fd
        used = {row[0] for row in self.db.execute("SELECT DISTINCT segment FROM melodies")}
        # segments no longer referenced (never committed, or all their melodies replaced) are removed
        seg_dir = os.path.join(self.path, "segments")
        try:
            for name in os.listdir(seg_dir):
                if name not in used:
                    os.remove(os.path.join(seg_dir, name))
        except OSError as exc:
            self.unlock()
            raise CatalogError(f"{self.path}: cannot write to the catalog ({exc.strerror or exc}); "
                               "check permissions and free disk space") from None

    def unlock(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _files(self):
        """(sha256, path, whether today's reader read it) per file."""
        try:
            rows = self.db.execute("SELECT sha256, path, reader FROM files").fetchall()
        except sqlite3.OperationalError:         # a read-only catalog from before files recorded their reader
            rows = [(sha, path, "") for sha, path in self.db.execute("SELECT sha256, path FROM files")]
        return [(sha, path, reader in (MEMORY_READER, reader_tag(path))) for sha, path, reader in rows]

    def known_hashes(self) -> dict[str, str]:
        """{sha256: path} of the files read by today's readers (the others are to be read again)."""
        return {sha: path for sha, path, current in self._files() if current}

    def stale_files(self) -> dict[str, str]:
        """{sha256: path} of the files an older reader read: indexing them again gives today's notes."""
        return {sha: path for sha, path, current in self._files() if not current}

    def add_files(self, batch: list[tuple[str, str, int, list[Melody]]], reader: str | None = None) -> list[str]:
        """Add files atomically: [(path, sha256, size, melodies)] -> uids of the added melodies. A file
        replaces an earlier version of itself (same path) and an older reader's reading (same content);
        ``reader`` is recorded for each file (default: the reader of its kind, ``reader_tag``)."""
        if self._lock_fd is None:
            raise CatalogError("add_files needs the writer lock (use Catalog.writer())")
        batch = [b for b in batch if b[3]]
        if not batch:
            return []
        notes = np.concatenate([m.notes for b in batch for m in b[3]]).astype(NOTE_DTYPE)
        name = f"seg-{uuid.uuid4().hex}.npy"
        final = os.path.join(self.path, "segments", name)
        tmp = final + ".tmp"
        try:
            with open(tmp, "wb") as fh:
                np.save(fh, notes, allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise CatalogError(f"{self.path}: cannot write catalog data ({exc.strerror or exc}); "
                               "check free disk space and permissions") from None
        uids = []
        start = 0
        cur = self.db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for path, sha, size, melodies in batch:
                # a file replaces its previous version and an older reader's reading of it (same transaction)
                for (old_id,) in cur.execute("SELECT id FROM files WHERE (path = ? AND sha256 != ?) OR sha256 = ?",
                                             (path, sha, sha)).fetchall():
                    cur.execute("DELETE FROM melodies WHERE file_id = ?", (old_id,))
                    cur.execute("DELETE FROM files WHERE id = ?", (old_id,))
                    cur.execute("INSERT INTO meta (key, value) VALUES ('deletions', 1) ON CONFLICT(key) "
                                "DO UPDATE SET value = CAST(value AS INTEGER) + 1")
                cur.execute("INSERT INTO files (path, sha256, size, added, reader) VALUES (?, ?, ?, ?, ?)",
                            (path, sha, size, time.time(), reader or reader_tag(path)))
                file_id = cur.lastrowid
                numbers = [m.index for m in melodies]     # tune numbers name the uids when they are distinct
                if None in numbers or len(set(numbers)) < len(numbers):
                    numbers = list(range(len(melodies)))
                for k, m in enumerate(melodies):
                    uid = f"{sha[:12]}:{numbers[k]}"
                    cur.execute("INSERT INTO melodies (file_id, tune_index, uid, title, composer, source, n_notes,"
                                " segment, start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (file_id, m.index, uid, m.title, m.composer, m.source or path, len(m.notes),
                                 name, start))
                    uids.append(uid)
                    start += len(m.notes)
            # ids of deleted melodies can be given out again: a counter names every committed change
            cur.execute("INSERT INTO meta (key, value) VALUES ('changes', 1) ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.Error:       # SQLite already rolled back (disk full, I/O error)
                pass
            try:
                os.remove(final)
            except OSError:
                pass
            raise CatalogError(f"{self.path}: catalog update failed and was rolled back ({exc}); "
                               "check free disk space and permissions") from None
        return uids

    # ---- reading -------------------------------------------------------------------------------
    def ids(self, upto: int) -> np.ndarray:
        """The ids of the melodies with ids up to `upto`, in order."""
        return np.array([r[0] for r in self.db.execute("SELECT id FROM melodies WHERE id <= ? ORDER BY id", (upto,))],
                        dtype=np.int64)

    def layout(self, after_id: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]]]:
        """Where every melody's notes are, in row (id) order: (melody ids, note counts, runs); only the
        melodies with ids above `after_id`.

        A run is (segment name, start, note count): consecutive rows whose notes lie back to back in one
        segment (a whole add() batch, unless some of its melodies were replaced), so the notes of all rows
        are the runs' slices concatenated.
        """
        cur = self.db.execute("SELECT id, n_notes, segment, start FROM melodies WHERE id > ? ORDER BY id",
                              (after_id,))
        ids, counts, runs = [], [], []
        while rows := cur.fetchmany(65536):
            for mid, n, seg, start in rows:
                ids.append(mid)
                counts.append(n)
                if runs and runs[-1][0] == seg and runs[-1][1] + runs[-1][2] == start:
                    runs[-1][2] += n
                else:
                    runs.append([seg, start, n])
        return (np.array(ids, dtype=np.int64), np.array(counts, dtype=np.int64),
                [(seg, start, n) for seg, start, n in runs])

    def read_notes(self, runs: list[tuple[str, int, int]]) -> np.ndarray:
        """The notes of the given runs (see `layout`), concatenated."""
        parts = []
        for seg, start, n in runs:
            part = self._segment(seg)[start:start + n]
            if len(part) != n:
                raise CatalogError(f"{self.path}: a catalog segment is shorter than its index says; "
                                   "the catalog is damaged: rebuild it")
            parts.append(part)
        return np.concatenate(parts) if parts else np.zeros(0, NOTE_DTYPE)

    def describe(self, ids) -> dict[int, tuple[str, str, str, str]]:
        """(uid, title, composer, source) of the melodies with these ids (missing ids are left out)."""
        out = {}
        ids = [int(i) for i in ids]
        with self._read_lock:
            for k in range(0, len(ids), 500):
                part = ids[k:k + 500]
                marks = ",".join("?" * len(part))
                for mid, uid, title, composer, source in self.db.execute(
                        f"SELECT id, uid, title, composer, source FROM melodies WHERE id IN ({marks})", part):
                    out[mid] = (uid, title or "", composer or "", source or "")
        return out

    def titled(self, text: str, limit: int) -> list[tuple[str, str]]:
        """(uid, title) of up to `limit` melodies whose title contains `text` (any case), by title."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._read_lock:
            return self.db.execute("SELECT uid, title FROM melodies WHERE title LIKE ? ESCAPE '\\' "
                                   "ORDER BY title, id LIMIT ?", (pattern, int(limit))).fetchall()

    def id_of_uid(self, uid: str) -> int | None:
        with self._read_lock:
            got = self.db.execute("SELECT id FROM melodies WHERE uid = ?", (uid,)).fetchone()
        return None if got is None else int(got[0])

    def generation(self) -> tuple[int, str]:
        """(number of melodies, a key that changes whenever melodies are added or replaced: the key of
        caches derived from the catalog). The key ends with the number of melody replacements so far: a
        cache can be extended with new rows only while that number is unchanged."""
        n, last = self.db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM melodies").fetchone()
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('changes', 'deletions')"))
        return int(n), f"{n}-{last}-{meta.get('changes', 0)}-{meta.get('deletions', 0)}"

    def holds_recordings(self) -> bool:
        """Whether any melody was transcribed from a recording (its file's extension says so)."""
        clause = " OR ".join("lower(path) LIKE ?" for _ in AUDIO_EXTENSIONS)
        row = self.db.execute(f"SELECT 1 FROM files WHERE {clause} LIMIT 1",
                              [f"%{ext}" for ext in AUDIO_EXTENSIONS]).fetchone()
        return row is not None

    def _segment(self, name: str) -> np.ndarray:
        path = os.path.join(self.path, "segments", name)
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CatalogError(f"{path}: unreadable catalog segment ({exc})") from None
        if arr.dtype != NOTE_DTYPE:
            raise CatalogError(f"{path}: catalog segment has an unexpected layout")
        return arr

    def info(self) -> dict:
        n_mel, n_notes = self.db.execute("SELECT COUNT(*), COALESCE(SUM(n_notes), 0) FROM melodies").fetchone()
        n_files = self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        size = 0
        for root, _, names in os.walk(self.path):
            size += sum(os.path.getsize(os.path.join(root, x)) for x in names)
        roots = {}
        for (path,) in self.db.execute("SELECT path FROM files"):
            top = os.path.dirname(path)
            roots[top] = roots.get(top, 0) + 1
        return {"catalog": self.path, "melodies": int(n_mel), "notes": int(n_notes), "files": int(n_files),
                "bytes": int(size), "sources": [{"folder": k, "files": v} for k, v in sorted(roots.items())]}

    def close(self):
        self.unlock()
        self.db.close()


class Entries:
    """The metadata of a catalog's rows, read from SQLite only for the rows asked for (a catalog of a
    million melodies opens without building a million objects).

    ``ids`` are the melodies' database ids in row order. A row whose melody was replaced after the
    catalog was opened comes back with an empty title and the uid ``removed:<id>``.
    """

    def __init__(self, store: Store, ids: np.ndarray):
        self._store = store
        self._ids = ids
        self._cache: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return len(self._ids) > 0

    def __getitem__(self, row: int) -> Entry:
        row = int(row)
        if row < 0:
            row += len(self._ids)
        if not 0 <= row < len(self._ids):
            raise IndexError(f"catalog row {row} out of range ({len(self._ids)} rows)")
        if row not in self._cache:
            self.fetch([row])
        return self._cache[row]

    def fetch(self, rows) -> list[Entry]:
        """Entries of many rows in one database round trip (cached)."""
        rows = [int(r) for r in rows]
        missing = [r for r in rows if r not in self._cache]
        if missing:
            got = self._store.describe(self._ids[missing])
            for r in missing:
                mid = int(self._ids[r])
                uid, title, composer, source = got.get(mid, (f"removed:{mid}", "", "", ""))
                self._cache[r] = Entry(r, uid, title, composer, source)
        return [self._cache[r] for r in rows]

    def __iter__(self):
        for a in range(0, len(self._ids), 5000):
            out = self.fetch(range(a, min(a + 5000, len(self._ids))))
            for r in range(a, min(a + 5000, len(self._ids))):   # do not keep a whole large catalog cached
                self._cache.pop(r, None)
            yield from out

    def row_of(self, uid: str) -> int | None:
        """The row of the melody with this uid, or None when it is not (or no longer) in these rows."""
        mid = self._store.id_of_uid(uid)
        if mid is None:
            return None
        k = int(np.searchsorted(self._ids, mid))
        return k if k < len(self._ids) and self._ids[k] == mid else None
