"""Faults for real: kill -9 of indexing and scanning subprocesses at random moments, readers during a writer,
a second writer, a full disk (file-size limit) and missing permissions. Nothing here is simulated in-process
except the ENOSPC message check."""
from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from _batch_world import journal_lines, make_queries, make_refs, results_by_path
from _songs import random_lead
from melody import batch
from melody.api import query_file
from melody.catalog import Catalog, file_hash
from melody.errors import CatalogError
from melody.testing import Track, write_midi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDEXER = ("import sys; from melody.catalog import Catalog; "
           "Catalog.open(sys.argv[1], create=True).index([sys.argv[2]], workers=1, batch_files=int(sys.argv[3]))")


# INDEXER that touches argv[4] once it holds the writer lock (index() calls progress inside the lock) and
# argv[4] + ".done" after it has released it
# (and pauses 50 ms per file, so the lock is held long enough for a second process to start and ask)
WATCHED_INDEXER = ("import sys, time, pathlib; from melody.catalog import Catalog; m = pathlib.Path(sys.argv[4]); "
                   "Catalog.open(sys.argv[1], create=True).index([sys.argv[2]], workers=1, "
                   "batch_files=int(sys.argv[3]), progress=lambda n: (m.touch(), time.sleep(0.05))); "
                   "pathlib.Path(sys.argv[4] + '.done').touch()")


def env(**extra):
    return {**os.environ, "PYTHONPATH": ROOT, **extra}


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """120 small one-track songs (one melody each) and the clean catalog's content: sha -> melodies."""
    base = tmp_path_factory.mktemp("faults")
    folder = base / "refs"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for k in range(120):
        write_midi(folder / f"s{k:03d}.mid", [Track("Lead", 0, random_lead(rng, 24))])
    expected = {file_hash(str(p)): 1 for p in folder.iterdir()}
    return {"base": base, "folder": str(folder), "expected": expected}


def check_catalog(path, expected, complete=False):
    """Opens, loads, searches; every file is in whole or not at all; nothing unexpected, nothing twice."""
    cat = Catalog.open(path)
    rows = cat.store.db.execute("SELECT f.sha256, COUNT(m.id) FROM files f LEFT JOIN melodies m ON m.file_id = f.id "
                                "GROUP BY f.id").fetchall()
    assert all(sha in expected and n == expected[sha] for sha, n in rows), rows
    assert len({sha for sha, _ in rows}) == len(rows)
    orphans = cat.store.db.execute("SELECT COUNT(*) FROM melodies WHERE file_id NOT IN (SELECT id FROM files)")
    assert orphans.fetchone()[0] == 0
    assert len(cat) == sum(n for _, n in rows)
    if len(cat):
        assert cat.search(cat.melody(0), top=1)[0].id == cat.packed.entries[0].uid
    if complete:
        assert {sha for sha, _ in rows} == set(expected)
    cat.close()
    return len(rows)


def test_kill_9_while_indexing_leaves_a_consistent_catalog(refs, tmp_path):
    rng = random.Random(7)
    catalog = str(tmp_path / "cat")
    seen = []
    db = os.path.join(catalog, "catalog.sqlite")
    for trial in range(5):
        proc = subprocess.Popen([sys.executable, "-c", INDEXER, catalog, refs["folder"], "2"], env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # kill once a random number of files is committed (however loaded the machine), after a random delay
        target = rng.randrange(1, len(refs["expected"]) - 10)
        while proc.poll() is None:
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    if conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] >= target:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if os.path.exists(os.path.join(catalog, "catalog.sqlite")):
            seen.append(check_catalog(catalog, refs["expected"]))
    assert any(0 < n < len(refs["expected"]) for n in seen), f"no kill landed mid-index: {seen}"
    subprocess.run([sys.executable, "-c", INDEXER, catalog, refs["folder"], "50"], env=env(), check=True)
    assert check_catalog(catalog, refs["expected"], complete=True) == len(refs["expected"])
    leftovers = set(os.listdir(os.path.join(catalog, "segments")))
    used = {r[0] for r in sqlite3.connect(os.path.join(catalog, "catalog.sqlite")).execute(
        "SELECT DISTINCT segment FROM melodies")}
    assert leftovers == used          # segments of killed batches were removed by the next writer


def test_readers_work_while_a_writer_adds_and_a_second_writer_is_refused(refs, tmp_path):
    catalog = str(tmp_path / "cat")
    first = [os.path.join(refs["folder"], n) for n in sorted(os.listdir(refs["folder"]))[:10]]
    Catalog.open(catalog, create=True).index(first, workers=1)
    holding, done = tmp_path / "holding", tmp_path / "holding.done"   # the writer holds / has released the lock
    writer = subprocess.Popen([sys.executable, "-c", WATCHED_INDEXER, catalog, refs["folder"], "1", str(holding)],
                              env=env(), stderr=subprocess.PIPE)
    reads, sizes, refused = 0, set(), None
    while writer.poll() is None:
        cat = Catalog.open(catalog)
        query = cat.melody(3)
        assert cat.search(query, top=1)[0].id == cat.packed.entries[3].uid
        sizes.add(len(cat))
        reads += 1
        if refused is None and holding.exists():
            second = subprocess.run([sys.executable, "-m", "melody.cli", "index", first[0], "--catalog", catalog,
                                     "--quiet"], env=env(), capture_output=True, text=True)
            if not done.exists():      # it ran entirely while the writer held the lock
                refused = second
        cat.close()
    assert writer.returncode == 0, writer.stderr.read()
    assert reads >= 2 and len(sizes) >= 2, (reads, sizes)       # the readers saw the catalog grow
    assert refused is not None and refused.returncode == 2
    assert "catalog is locked" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    check_catalog(catalog, refs["expected"], complete=True)


# `melody index` in a subprocess; as another user, the interpreter and libraries (which may live in root's home)
# are imported first and the user is dropped before the command runs
AS_USER = ("import os, sys, tqdm, melody.catalog, melody.cli; os.setgid(int(sys.argv[1])); os.setuid(int(sys.argv[1]));"
           " sys.exit(melody.cli.main(sys.argv[2:]))")


def _limited_index(catalog, folder, *, fsize=None, user=None):
    def limit():
        if fsize is not None:
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # writes past the limit fail with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    argv = ["index", folder, "--catalog", catalog, "--quiet", "--workers", "1"]
    cmd = ([sys.executable, "-c", AS_USER, str(user)] if user is not None else [sys.executable, "-m", "melody.cli"])
    return subprocess.run(cmd + argv, env=env(), capture_output=True, text=True, preexec_fn=limit, cwd="/")


def test_full_disk_gives_a_clear_message_and_keeps_the_catalog(refs, tmp_path):
    catalog = str(tmp_path / "cat")
    first = sorted(os.listdir(refs["folder"]))[:5]
    Catalog.open(catalog, create=True).index([os.path.join(refs["folder"], n) for n in first], workers=1)
    before = check_catalog(catalog, refs["expected"])
    proc = _limited_index(catalog, refs["folder"], fsize=20_000)       # segments of ~115 songs do not fit
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("melody: error:") and len(proc.stderr.strip().splitlines()) == 1
    assert "check free disk space" in proc.stderr
    assert check_catalog(catalog, refs["expected"]) == before


def test_no_space_message(refs, tmp_path, monkeypatch):
    from melody.catalog import store
    cat = Catalog.open(str(tmp_path / "cat"), create=True)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(store.os, "fsync", full)
    with pytest.raises(CatalogError, match="No space left on device.*check free disk space"):
        cat.index([refs["folder"]], workers=1)
    monkeypatch.undo()
    assert len(os.listdir(os.path.join(cat.path, "segments"))) == 0 and check_catalog(cat.path, refs["expected"]) == 0


def test_no_permission_gives_a_clear_message(refs):
    base = tempfile.mkdtemp(prefix="melody-perm-")
    try:
        os.chmod(base, 0o755)
        catalog = os.path.join(base, "cat")
        Catalog.open(catalog, create=True).index([os.path.join(refs["folder"], "s000.mid")], workers=1)
        songs = os.path.join(base, "songs")
        shutil.copytree(refs["folder"], songs)
        for root, dirs, files in os.walk(base):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
        if os.geteuid() == 0:
            proc = _limited_index(catalog, songs, user=65534)          # as nobody: the catalog is root's
        else:
            for root, dirs, files in os.walk(catalog):
                os.chmod(root, 0o555)
            proc = _limited_index(catalog, songs)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("melody: error:") and len(proc.stderr.strip().splitlines()) == 1
        assert "check permissions" in proc.stderr or "permission" in proc.stderr.lower()
        for root, dirs, files in os.walk(catalog):
            os.chmod(root, 0o755)
        assert len(Catalog.open(catalog)) == 1
    finally:
        for root, dirs, files in os.walk(base):
            os.chmod(root, 0o755)
        shutil.rmtree(base)


def test_kill_9_while_scanning_then_resume_loses_and_repeats_nothing(tmp_path):
    leads = make_refs(str(tmp_path / "refs"), n_midi=4)
    catalog = str(tmp_path / "cat")
    Catalog.open(catalog, create=True).index([str(tmp_path / "refs")], workers=1)
    queries = str(tmp_path / "q")
    make_queries(queries, leads, n_borrow=5, n_original=5)
    cat = Catalog.open(catalog)
    expected = {p: json.loads(json.dumps(query_file(p, cat))) for p in
                [i.path for i in batch.discover([queries])]}
    rng = random.Random(11)
    for trial in range(1):          # one here; scripts/bench_faults.py runs many
        run_dir = str(tmp_path / f"run{trial}")
        cmd = [sys.executable, "-m", "melody.cli", "scan", queries, "--catalog", catalog, "--out", run_dir,
               "--quiet", "--workers", "2", "--resume"]
        proc = subprocess.Popen(cmd, env=env(MELODY_BATCH_FAULTS="slow:*"), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 4.5))
        os.killpg(proc.pid, signal.SIGKILL)          # the scan and its workers, mid-flight
        proc.wait()
        done_before = len(journal_lines(run_dir)) if os.path.exists(os.path.join(run_dir, "journal.jsonl")) else 0
        finish = subprocess.run(cmd, env=env(), capture_output=True, text=True)
        assert finish.returncode == 0, finish.stderr
        records = journal_lines(run_dir)
        paths = [r["path"] for r in records]
        assert len(paths) == len(set(paths)) == len(expected), (trial, done_before)      # none twice, none lost
        assert results_by_path(run_dir) == expected


def test_a_pickled_segment_is_refused_not_unpickled(refs, tmp_path):
    catalog = str(tmp_path / "cat")
    Catalog.open(catalog, create=True).index([os.path.join(refs["folder"], "s001.mid")], workers=1)
    (segment,) = os.listdir(os.path.join(catalog, "segments"))
    np.save(os.path.join(catalog, "segments", segment), np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    shutil.rmtree(os.path.join(catalog, "cache"), ignore_errors=True)
    with pytest.raises(CatalogError, match="unreadable catalog segment"):
        len(Catalog.open(catalog))
