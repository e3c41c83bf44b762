"""Large catalogs: memory-mapped packed cache, lazy metadata, the n-gram candidate filter and filtered search."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import melody.catalog as catalog_module
from _songs import random_lead, to_melody
from melody.catalog import Catalog, ngrams
from melody.catalog.packed import cache_dir
from melody.notes import Melody


def _catalog(path, n, seed=0, lo=30, hi=90):
    rng = np.random.default_rng(seed)
    cat = Catalog.create(str(path))
    cat.add([to_melody(random_lead(rng, int(rng.integers(lo, hi))), title=f"tune {k}", source=f"src{k}")
             for k in range(n)])
    return cat


# ---- n-gram index against a plain-Python reference --------------------------------------------------

def _reference_keys(interval):
    s = [int(np.clip(np.rint(x), -ngrams.CLIP, ngrams.CLIP)) + ngrams.CLIP for x in interval]
    out = set()
    for k in range(len(s) - ngrams.GRAM + 1):
        key = 0
        for x in s[k:k + ngrams.GRAM]:
            key = key * ngrams.SYMBOLS + x
        out.add(key)
    return out


melodies_st = st.lists(st.lists(st.integers(-15, 15), min_size=0, max_size=12), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(melodies_st)
def test_index_lists_exactly_the_rows_holding_each_key(rows):
    interval = np.array([x for r in rows for x in r], dtype="f4")
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    starts, postings = ngrams.build_index(interval, offsets, chunk_rows=3)
    expected: dict[int, set[int]] = {}
    for k, r in enumerate(rows):
        for key in _reference_keys(r):
            expected.setdefault(key, set()).add(k)
    got = {}
    for key in np.nonzero(np.diff(starts))[0]:
        got[int(key)] = postings[starts[key]:starts[key + 1]].tolist()
    assert {k: sorted(v) for k, v in expected.items()} == got


@settings(max_examples=40, deadline=None)
@given(melodies_st, st.lists(st.integers(-15, 15), min_size=0, max_size=12))
def test_candidate_scores_sum_the_idf_of_shared_keys(rows, query):
    interval = np.array([x for r in rows for x in r], dtype="f4")
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    starts, postings = ngrams.build_index(interval, offsets)
    got = ngrams.candidate_scores(np.array(query, dtype="f4"), starts, postings, len(rows))
    keys = [_reference_keys(r) for r in rows]
    qkeys = _reference_keys(query)
    for k in range(len(rows)):
        want = sum(np.log(len(rows) / sum(key in ks for ks in keys)) for key in qkeys & keys[k])
        assert got[k] == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_candidates_find_the_source_of_a_changed_excerpt():
    rng = np.random.default_rng(4)
    pitches = [np.array([p for p, _, _ in random_lead(rng, 60)], dtype="f4") for _ in range(200)]
    interval = np.concatenate([np.diff(p) for p in pitches])
    offsets = np.zeros(201, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) - 1 for p in pitches])
    starts, postings = ngrams.build_index(interval, offsets)
    q = pitches[37][10:40] + 5.0          # another key, and two wrong notes
    q[8] += 2
    q[20] -= 1
    got = ngrams.candidates(np.diff(q), starts, postings, 200, 5)
    assert 37 in got and len(got) == 5 and np.all(np.diff(got) > 0)


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
    monkeypatch.setattr(catalog_module, "FILTER_MIN", 100)
    monkeypatch.setattr(catalog_module, "CANDIDATES", 20)
    for (q, uid), full in zip(queries, exhaustive):
        got = cat.search(q, top=5)
        assert cat.last_search["full_kernel_rows"] <= 40 + 20
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
                "pitch", "ids", "gram_starts", "gram_postings"):
        got = getattr(after, key) if key not in ("pitch", "ids") else None
        if key == "pitch":
            got = after.derived["pitch"]
        if key == "ids":
            got = after.entries._ids
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(full[key]).tobytes(), key
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
