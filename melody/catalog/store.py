"""A catalog folder: SQLite for metadata, numpy segment files for notes (memory-mapped, never pickled).

Layout of a catalog folder::

    catalog.sqlite        files (path, content hash) and melodies (title, composer, where its notes are)
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
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import CatalogError, CatalogLocked
from ..notes import NOTE_DTYPE, Melody

DB_NAME = "catalog.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, size INTEGER, added REAL);
CREATE TABLE IF NOT EXISTS melodies (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id), tune_index INTEGER NOT NULL,
    uid TEXT NOT NULL UNIQUE, title TEXT, composer TEXT, source TEXT, n_notes INTEGER NOT NULL,
    segment TEXT NOT NULL, start INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS files_path ON files(path);
"""


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
        if read_only:
            self.db = self._connect_read_only(db)
            return
        try:
            self.db = sqlite3.connect(db, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.OperationalError as exc:
            if create or not os.path.exists(db):
                raise CatalogError(f"{db}: cannot write the catalog database ({exc}); check free disk space "
                                   "and permissions") from None
            self.db = self._connect_read_only(db)     # a catalog on read-only storage can still be searched
            self.read_only = True
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{db}: unreadable catalog database ({exc})") from None

    @staticmethod
    def _connect_read_only(db: str) -> sqlite3.Connection:
        """A connection that never writes (mode=ro; immutable when even SQLite's shared-memory file cannot be made)."""
        base = "file:" + urllib.parse.quote(db) + "?mode=ro"
        last = None
        for uri in (base, base + "&immutable=1"):
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
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

    def known_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT sha256, path FROM files"))

    def add_files(self, batch: list[tuple[str, str, int, list[Melody]]]) -> list[str]:
        """Add files atomically: [(path, sha256, size, melodies)] -> uids of the added melodies."""
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
                # a file whose content changed replaces its previous version (same transaction)
                for (old_id,) in cur.execute("SELECT id FROM files WHERE path = ? AND sha256 != ?",
                                             (path, sha)).fetchall():
                    cur.execute("DELETE FROM melodies WHERE file_id = ?", (old_id,))
                    cur.execute("DELETE FROM files WHERE id = ?", (old_id,))
                cur.execute("INSERT INTO files (path, sha256, size, added) VALUES (?, ?, ?, ?)",
                            (path, sha, size, time.time()))
                file_id = cur.lastrowid
                for k, m in enumerate(melodies):
                    uid = f"{sha[:12]}:{m.index if m.index is not None else k}"
                    cur.execute("INSERT INTO melodies (file_id, tune_index, uid, title, composer, source, n_notes,"
                                " segment, start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (file_id, m.index, uid, m.title, m.composer, m.source or path, len(m.notes),
                                 name, start))
                    uids.append(uid)
                    start += len(m.notes)
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
    def entries(self) -> tuple[list[Entry], np.ndarray, np.ndarray]:
        """All melodies' metadata in row order, their notes packed into one array, and note offsets.

        A segment holds exactly the melodies of one batch, in id order, so whole segments are concatenated.
        """
        rows = self.db.execute("SELECT uid, title, composer, source, n_notes, segment, start FROM melodies "
                               "ORDER BY id").fetchall()
        entries = [Entry(k, uid, title or "", composer or "", source or "")
                   for k, (uid, title, composer, source, *_rest) in enumerate(rows)]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([r[4] for r in rows])
        per_segment: dict[str, int] = {}
        for r in rows:
            per_segment[r[5]] = per_segment.get(r[5], 0) + r[4]
        segments = {name: self._segment(name) for name in per_segment}
        parts = []
        for name, n in per_segment.items():
            if len(segments[name]) == n:
                parts.append(segments[name])          # the whole batch is live: no slicing needed
        if len(parts) != len(segments):               # some melodies were replaced: slice row by row
            parts = [segments[r[5]][r[6]:r[6] + r[4]] for r in rows]
            if any(len(part) != r[4] for part, r in zip(parts, rows)):
                raise CatalogError(f"{self.path}: a catalog segment is shorter than its index says; "
                                   "the catalog is damaged: rebuild it")
        notes = np.concatenate(parts) if parts else np.zeros(0, NOTE_DTYPE)
        return entries, notes, offsets

    def generation(self) -> str:
        """Changes whenever melodies are added: the key of caches derived from the catalog."""
        n, last = self.db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM melodies").fetchone()
        return f"{n}-{last}"

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
