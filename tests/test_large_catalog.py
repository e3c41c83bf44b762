"""Large catalogs: memory-mapped packed cache, lazy metadata, extension in place, and the first-pass search."""
from __future__ import annotations

import os

import numpy as np
import pytest

import melody.catalog as catalog_module
from _songs import random_lead, to_melody
from melody.catalog import Catalog
from melody.catalog.packed import cache_dir
from melody.notes import Melody


def _catalog(path, n, seed=0, lo=30, hi=90):
    rng = np.random.default_rng(seed)
    cat = Catalog.create(str(path))
    cat.add([to_melody(random_lead(rng, int(rng.integers(lo, hi))), title=f"tune {k}", source=f"src{k}")
             for k in range(n)])
    return cat


# ---- packed cache ---------------------------------------------------------------------------------

def test_packed_arrays_are_memory_mapped_from_a_cache_built_once(tmp_path):
    cat = _catalog(tmp_path / "c", 40)
    p = cat.packed
    count, generation = cat.store.generation()
    path = cache_dir(cat.path, generation)
    assert os.path.isdir(path) and isinstance(p.interval, np.memmap) and isinstance(p.notes, np.memmap)
    stamp = os.path.getmtime(os.path.join(path, "interval.npy"))
    again = Catalog.open(cat.path, read_only=True)
    assert np.array_equal(again.packed.interval, p.interval)
    assert os.path.getmtime(os.path.join(path, "interval.npy")) == stamp
    # the cache equals packing in memory, melody by melody
    from melody.represent import features
    for row in (0, 17, 39):
        f = features(cat.melody(row))
        got = cat.features(row)
        assert np.allclose(got.interval, f.interval) and np.allclose(got.length, f.length)
        assert np.allclose(got.weight, f.weight)
    # adding melodies makes a new generation; the old cache folder goes
    cat.add([to_melody(random_lead(np.random.default_rng(9), 40), title="new", source="new")])
    assert len(cat) == 41
    assert not os.path.exists(path)
    assert os.path.isdir(cache_dir(cat.path, cat.store.generation()[1]))


def test_read_only_catalog_without_cache_builds_in_memory(tmp_path):
    cat = _catalog(tmp_path / "c", 12)
    cat.close()
    ro = Catalog.open(str(tmp_path / "c"), read_only=True)
    assert len(ro) == 12 and not isinstance(ro.packed.interval, np.memmap)
    assert not os.path.exists(os.path.join(ro.path, "cache"))


def test_entries_are_read_lazily_and_found_by_uid(tmp_path):
    cat = _catalog(tmp_path / "c", 30)
    entries = cat.packed.entries
    assert len(entries) == 30 and entries[5].title == "tune 5" and entries[-1].title == "tune 29"
    assert [e.row for e in entries] == list(range(30))
    assert entries.row_of(entries[12].uid) == 12
    assert entries.row_of("nope:0") is None
    with pytest.raises(IndexError):
        entries[30]


# ---- filtered search ------------------------------------------------------------------------------

def test_first_pass_search_finds_what_the_exhaustive_search_finds(tmp_path, monkeypatch):
    cat = _catalog(tmp_path / "c", 400, seed=2)
    rng = np.random.default_rng(5)
    queries = []
    for row in (3, 150, 377):
        notes = np.array(cat.melody(row).notes[5:35])
        notes["pitch"] += int(rng.integers(-5, 6))
        notes["onset"] = (notes["onset"] - notes["onset"][0]) * 1.2
        notes["duration"] *= 1.2
        queries.append((Melody(notes), cat.packed.entries[row].uid))
    exhaustive = [cat.search(q, top=5) for q, _ in queries]
    assert cat.last_search == {"rows": 400, "full_kernel_rows": 400}
    monkeypatch.setattr(catalog_module, "PREFILTER_MIN", 100)
    monkeypatch.setattr(catalog_module, "FIRST_PASS_KEEP", 40)
    for (q, uid), full in zip(queries, exhaustive):
        got = cat.search(q, top=5)
        assert cat.last_search["full_kernel_rows"] == 40
        assert got[0].id == uid == full[0].id
        assert got[0].evalue == pytest.approx(full[0].evalue, rel=0.2)
        assert got[0].query_span == full[0].query_span
        assert len({m.id for m in got} & {m.id for m in full}) >= 4


def test_adding_melodies_extends_the_cache_instead_of_rebuilding_it(tmp_path, monkeypatch):
    cat = _catalog(tmp_path / "c", 30)
    before = cat.packed
    n_notes = len(before.notes)
    import melody.catalog.packed as packed_module
    rebuilt = []
    monkeypatch.setattr(packed_module, "write_cache", lambda *a: rebuilt.append(a) or False)
    import melody.catalog as cm
    monkeypatch.setattr(cm, "write_cache", packed_module.write_cache)
    rng = np.random.default_rng(11)
    new = [to_melody(random_lead(rng, 50), title=f"new {k}", source=f"new{k}") for k in range(3)]
    cat.add(new)
    after = cat.packed
    assert not rebuilt and len(after) == 33 and isinstance(after.interval, np.memmap)
    assert len(after.notes) == n_notes + 150
    fresh = Catalog.open(str(tmp_path / "c"), read_only=True)
    from melody.catalog.packed import build_arrays
    full = build_arrays(fresh.store)          # what a rebuild from scratch gives
    for key in ("notes", "offsets", "interval", "length", "weight", "metric", "step_offsets", "tempo_unit",
                "pitch", "ids"):
        got = getattr(after, key) if key not in ("pitch", "ids") else None
        if key == "pitch":
            got = after.derived["pitch"]
        if key == "ids":
            got = after.entries._ids
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(full[key]).tobytes(), key
    for key, got in after.layout.items():          # the first pass's layout, rebuilt over all rows
        assert np.ascontiguousarray(got).tobytes() == full["fast_" + key].tobytes(), key
    assert after.entries[31].title == "new 1"
    assert cat.search(new[2], top=1)[0].title == "new 2"


def test_a_changed_file_rebuilds_the_cache(tmp_path):
    from melody.testing import Track, write_midi
    rng = np.random.default_rng(12)
    song = tmp_path / "song.mid"
    write_midi(str(song), [Track("Melody", 0, [(p, s, d, 90) for p, s, d in random_lead(rng, 40)])])
    cat = _catalog(tmp_path / "c", 20)
    cat.index([str(song)])
    assert len(cat.packed) == 21
    write_midi(str(song), [Track("Melody", 0, [(p, s, d, 90) for p, s, d in random_lead(rng, 45)])])
    cat.index([str(song)])                 # replaces the file's melody: rows are no longer a prefix
    p = cat.packed
    assert len(p) == 21 and np.diff(p.offsets)[-1] == 45
    from melody.catalog.packed import build_arrays
    assert np.array_equal(np.asarray(p.interval), build_arrays(cat.store)["interval"])


def test_an_outdated_cache_of_the_same_name_is_replaced(tmp_path):
    cat = _catalog(tmp_path / "c", 15)
    path = cache_dir(cat.path, cat.store.generation()[1])
    cat.packed
    os.remove(os.path.join(path, "fast_steps.npy"))        # as a cache written by an older melody would lack it
    again = Catalog.open(cat.path)
    assert isinstance(again.packed.layout["steps"], np.memmap)
    assert os.path.exists(os.path.join(path, "fast_steps.npy"))
    assert sorted(os.listdir(os.path.dirname(path))) == [os.path.basename(path)]


def test_sieved_search_finds_what_the_exhaustive_search_finds(tmp_path, monkeypatch):
    cat = _catalog(tmp_path / "c", 300, seed=6)
    notes = np.array(cat.melody(123).notes[4:30])
    notes["pitch"] -= 4
    query = Melody(notes)
    full = cat.search(query, top=5)
    monkeypatch.setattr(catalog_module, "PREFILTER_MIN", 100)
    monkeypatch.setattr(catalog_module, "SIEVE_MIN", 100)
    monkeypatch.setattr(catalog_module, "SIEVE_SHARE", 0.2)
    monkeypatch.setattr(catalog_module, "FIRST_PASS_KEEP", 30)
    got = cat.search(query, top=5)
    assert cat.last_search["full_kernel_rows"] == 30
    assert got[0].id == full[0].id == cat.packed.entries[123].uid
    assert got[0].evalue == pytest.approx(full[0].evalue, rel=0.3)


def test_regrouped_layout_scores_like_the_whole_one(tmp_path):
    from melody.align import fast
    from melody.represent import features
    cat = _catalog(tmp_path / "c", 150, seed=8, lo=10, hi=120)
    p = cat.packed
    qf = features(cat.melody(7))
    whole = fast.prefilter_scores(qf, p.layout)
    for chosen in (np.array([3]), np.arange(0, 150, 7), np.random.default_rng(1).choice(150, 70, replace=False)):
        part = fast.regroup(p.layout, chosen)
        got = fast.prefilter_scores(qf, part)
        assert np.array_equal(got[chosen], whole[chosen])
        others = np.setdiff1d(np.arange(150), chosen)
        assert not np.any(got[others])
        assert part["steps"].shape[0] <= p.layout["steps"].shape[0]


def _sieved_by_rows(cat, qf, share, keep):
    """The sieved stage 1 written the plain way, in catalog row order (float64 reduced scores over every
    row): the rows the full kernel re-scores."""
    from melody.align import fast, sieve
    from melody.score.rescore import style_sample
    from melody.score.significance import reduced_scores
    p = cat.packed
    n = len(p)
    counts = np.diff(p.step_offsets)
    z = reduced_scores(sieve.sieve_scores(qf, p.layout), len(qf), counts)
    k = max(int(share * n), keep)
    chosen = np.union1d(np.argsort(-z, kind="stable")[:k], style_sample(qf, p))   # stage 2's null rows
    z[chosen] = reduced_scores(fast.prefilter_scores(qf, p.layout)[chosen], len(qf), counts[chosen])
    return np.sort(np.argsort(-z, kind="stable")[:keep])


@pytest.mark.parametrize("lowered", [False, True])
def test_sieved_stage1_rescores_the_rows_a_row_order_ranking_picks(tmp_path, monkeypatch, lowered):
    """Normally the first pass's best lie above every row only the sieve scored; with first-pass scores
    lowered by 50 points they do not, rows only the sieve scored rank among them, and every row is ranked."""
    from melody.align import fast
    from melody.represent import features
    cat = _catalog(tmp_path / "c", 600, seed=11, lo=10, hi=60)
    monkeypatch.setattr(catalog_module, "SIEVE_MIN", 100)
    monkeypatch.setattr(catalog_module, "SIEVE_SHARE", 0.1)
    monkeypatch.setattr(catalog_module, "FIRST_PASS_KEEP", 30)
    if lowered:
        first_pass = fast.prefilter_scores
        monkeypatch.setattr(fast, "prefilter_scores", lambda *a, **k: first_pass(*a, **k) - 50)
    rng = np.random.default_rng(3)
    for row in rng.choice(600, 3, replace=False):
        notes = np.array(cat.melody(int(row)).notes[2:24])
        qf = features(Melody(notes))
        kept, evalues = cat._stage1(qf, cat.packed, None)
        rows = np.flatnonzero(evalues < len(cat))
        want = _sieved_by_rows(cat, qf, 0.1, 30)
        # float32 lane scores against float64: a tie at the cut may fall either way
        assert len(rows) == 30 and len(np.intersect1d(rows, want)) >= 29
        assert kept[rows].max() > 0 and np.all(evalues[rows] > 0)


def test_a_cache_without_the_sieve_layout_reads_and_gains_it(tmp_path, monkeypatch):
    from melody.catalog.packed import SIEVE8
    cat = _catalog(tmp_path / "c", 120)
    path = cache_dir(cat.path, cat.store.generation()[1])
    whole = cat.packed.layout["sieve8"].copy()
    cat.close()
    os.remove(os.path.join(path, SIEVE8 + ".npy"))          # as a cache written before the 8-bit sieve
    monkeypatch.setattr(catalog_module, "SIEVE_MIN", 100)
    ro = Catalog.open(str(tmp_path / "c"), read_only=True)
    assert np.array_equal(ro.packed.layout["sieve8"], whole)          # built in memory, nothing written
    assert not os.path.exists(os.path.join(path, SIEVE8 + ".npy"))
    rw = Catalog.open(str(tmp_path / "c"))
    assert isinstance(rw.packed.layout["sieve8"], np.memmap)
    assert np.array_equal(rw.packed.layout["sieve8"], whole)
    assert os.path.exists(os.path.join(path, SIEVE8 + ".npy"))


# ---- the merged copy (repeated notes merged: a recording's second reading, a re-struck score's) ------------

def _restruck(melody, start=0, n=24):
    """`n` notes of the melody from `start`, each struck twice in its own time (what `packed.restruck` admits)."""
    notes = np.repeat(np.array(melody.notes[start:start + n]), 2)
    notes["duration"] /= 2
    notes["onset"][1::2] += notes["duration"][1::2]
    return Melody(notes, title="re-struck")


def _merged_folder(cat):
    from melody.catalog.packed import MERGED_DIR
    return os.path.join(cache_dir(cat.path, cat.store.generation()[1]), MERGED_DIR)


def _ranked(matches):
    return [(m.id, m.evalue, m.score, m.query_span, m.reference_span) for m in matches]


@pytest.fixture
def first_pass(monkeypatch):
    """Search small catalogs as the default catalog is searched (first pass, then the full kernel on some)."""
    monkeypatch.setattr(catalog_module, "PREFILTER_MIN", 20)
    monkeypatch.setattr(catalog_module, "FIRST_PASS_KEEP", 20)


def test_the_merged_copy_is_kept_beside_the_packed_arrays_and_ranks_as_one_built_in_memory(tmp_path, first_pass):
    from melody.catalog.packed import merge_repeats, pack, restruck
    cat = _catalog(tmp_path / "c", 60, seed=3)
    query = _restruck(cat.melody(41))
    assert restruck(query.notes)
    cat.packed
    ro = Catalog.open(cat.path, read_only=True)          # a read-only catalog builds it in memory, writes nothing
    in_memory = _ranked(ro.search(query, top=5))
    assert not os.path.exists(_merged_folder(cat)) and not isinstance(ro._merged_packed().notes, np.memmap)
    writer = Catalog.open(cat.path)
    assert _ranked(writer.search(query, top=5)) == in_memory
    assert in_memory[0][0] == writer.packed.entries[41].uid
    folder = _merged_folder(cat)
    assert os.path.isdir(folder) and not [n for n in os.listdir(os.path.dirname(folder)) if ".tmp" in n]
    stamp = os.path.getmtime(os.path.join(folder, "fast_steps.npy"))
    reader = Catalog.open(cat.path)
    assert _ranked(reader.search(query, top=5)) == in_memory
    assert os.path.getmtime(os.path.join(folder, "fast_steps.npy")) == stamp       # read, not written again
    merged = reader._merged_packed()
    assert isinstance(merged.notes, np.memmap) and isinstance(merged.layout["steps"], np.memmap)
    expected = pack(None, *merge_repeats(np.asarray(reader.packed.notes), np.asarray(reader.packed.offsets)))
    for key in ("notes", "offsets", "interval", "length", "weight", "metric", "step_offsets", "tempo_unit"):
        assert np.asarray(getattr(merged, key)).tobytes() == getattr(expected, key).tobytes(), key


def test_a_changed_catalog_never_reads_an_older_merged_copy(tmp_path, first_pass):
    import shutil
    cat = _catalog(tmp_path / "c", 40, seed=4)
    cat.search(_restruck(cat.melody(7)), top=1)
    shutil.copytree(_merged_folder(cat), tmp_path / "forty")
    new = to_melody(random_lead(np.random.default_rng(21), 50), title="added", source="added")
    cat.add([new])                       # the packed cache is extended in place; the copy of 40 rows goes
    assert not os.path.exists(_merged_folder(cat))
    assert cat.search(_restruck(new, start=10), top=1)[0].title == "added"
    assert len(cat._merged_packed()) == 41
    # a copy of other rows found in the folder (say a removal that failed) is not read but made again
    shutil.rmtree(_merged_folder(cat))
    shutil.copytree(tmp_path / "forty", _merged_folder(cat))
    again = Catalog.open(cat.path)
    assert len(again._merged_packed()) == 41 and again.search(_restruck(new, start=10), top=1)[0].title == "added"
    assert len(np.load(os.path.join(_merged_folder(cat), "ids.npy"))) == 41


def test_an_interrupted_write_of_the_merged_copy_leaves_what_was_there(tmp_path, first_pass, monkeypatch):
    import melody.catalog.packed as packed_module
    cat = _catalog(tmp_path / "c", 30, seed=5)
    query = _restruck(cat.melody(12))
    cat.packed
    expected = _ranked(Catalog.open(cat.path, read_only=True).search(query, top=3))
    folder = _merged_folder(cat)
    save = np.save

    def saving_until(stop):
        calls = []

        def save_or_stop(path, arr, **kw):
            calls.append(path)
            if len(calls) == 3:
                raise stop
            save(path, arr, **kw)
        return save_or_stop

    def left_over():
        return [n for n in os.listdir(os.path.dirname(folder)) if n.startswith(os.path.basename(folder))]

    monkeypatch.setattr(packed_module.np, "save", saving_until(OSError("disk full")))
    assert _ranked(Catalog.open(cat.path).search(query, top=3)) == expected      # built in memory instead
    assert left_over() == []
    monkeypatch.setattr(packed_module.np, "save", saving_until(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        Catalog.open(cat.path).search(query, top=3)
    assert left_over() == []
    monkeypatch.setattr(packed_module.np, "save", save)
    assert _ranked(Catalog.open(cat.path).search(query, top=3)) == expected
    before = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}
    monkeypatch.setattr(packed_module.np, "save", saving_until(OSError("disk full")))
    again = Catalog.open(cat.path)
    assert not packed_module.write_merged(folder, packed_module.merged_arrays(again.packed, again.packed.derived["ids"]))
    monkeypatch.setattr(packed_module.np, "save", save)
    assert left_over() == [os.path.basename(folder)]
    assert {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)} == before
