"""Catalog: indexing, content-hash skipping, the writer lock, crash safety, packing and search."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _songs import end_of, random_lead, shift, to_melody, write_abc
from melody.catalog import Catalog
from melody.catalog.packed import pack
from melody.catalog.store import Store
from melody.errors import CatalogError, CatalogLocked, MelodyError
from melody.notes import NOTE_DTYPE, Melody, make_notes
from melody.represent import features
from melody.testing import Track, accompany, write_midi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_song(path, lead, bpm=120, backing=True, seed=0):
    tracks = [Track("Lead", 0, list(lead))]
    if backing:
        tracks += accompany(lead, seed=seed)
    return write_midi(path, tracks, bpm=bpm)


@pytest.fixture
def refs(tmp_path):
    """A folder of 3 MIDI files (one in a subfolder) and one ABC file with 2 tunes: 5 melodies."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "refs"
    (folder / "sub").mkdir(parents=True)
    leads = [random_lead(rng, 30) for _ in range(5)]
    write_song(folder / "a.mid", leads[0])
    write_song(folder / "b.mid", leads[1], backing=False)
    write_song(folder / "sub" / "c.midi", leads[2], bpm=90)
    write_abc(folder / "tunes.abc", [("Tune D", leads[3]), ("Tune E", leads[4])])
    (folder / "notes.txt").write_text("not music: ignored by the folder walk")
    return folder, leads


def info_without_size(cat):
    info = cat.info()
    info.pop("bytes")
    return info


def test_index_folder_counts_melodies(tmp_path, refs):
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    report = cat.index([folder], workers=1)
    assert report.added_files == 4 and report.added_melodies == 5
    assert not report.failed and not report.skipped
    info = cat.info()
    assert info["melodies"] == 5 and info["files"] == 4 and len(cat) == 5
    titles = {cat.melody(r).title for r in range(len(cat))}
    assert titles == {"a", "b", "c", "Tune D", "Tune E"}


def test_index_in_worker_processes(tmp_path, refs):
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    report = cat.index([folder], workers=2)
    assert report.added_files == 4 and report.added_melodies == 5 and not report.failed


def test_interrupted_index_keeps_the_files_it_finished(tmp_path, refs):
    """Ctrl-C during `melody index` lost every file of the unfinished 200-file batch (for recordings, an hour
    of transcription); the files finished before the interrupt are now committed, and the next run skips them."""
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    done = []

    def progress(n):
        done.append(n)
        if len(done) == 3:          # the skipped/failed count first, then one call per file: 2 files finished
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cat.index([folder], workers=1, progress=progress)
    assert Catalog.open(tmp_path / "cat").info()["files"] == 2
    report = Catalog.open(tmp_path / "cat").index([folder], workers=1)
    assert len(report.skipped) == 2 and report.added_files == 2


def test_index_commits_finished_files_as_time_passes(tmp_path, refs, monkeypatch):
    """A slow index (recordings) commits what it finished every COMMIT_SECONDS, not only every 200 files, so
    a reader (or a run after kill -9) sees them while the rest is still being read."""
    import melody.catalog as catalog_module
    monkeypatch.setattr(catalog_module, "COMMIT_SECONDS", 0.0, raising=False)
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    seen = []
    cat.index([folder], workers=1,
              progress=lambda n: seen.append(Catalog.open(tmp_path / "cat", read_only=True).info()["files"]))
    assert seen == [0, 1, 2, 3, 4]      # the count before any file, then each file visible as it finishes


def test_recordings_go_to_the_parsing_processes_one_at_a_time():
    """Chunks of 8 gave a folder of 4 recordings (10-20 s each to transcribe) to one process of two."""
    from melody.catalog import index_chunksize
    assert index_chunksize([f"take{k}.wav" for k in range(4)], 2) == 1
    assert index_chunksize(["a.mid", "b.mp3"] * 500, 2) == 1
    assert index_chunksize([f"s{k}.mid" for k in range(13_000)], 2) == 8      # scores: few round trips
    assert index_chunksize([f"s{k}.mid" for k in range(10)], 2) == 1          # a small folder still spreads


def test_reindex_skips_unchanged_and_adds_changed(tmp_path, refs):
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    cat.index([folder], workers=1)
    before = info_without_size(cat)

    again = cat.index([folder], workers=1)
    assert again.added_files == 0 and len(again.skipped) == 4 and not again.failed
    assert info_without_size(cat) == before

    # a copy under another name has the same content: skipped too
    (folder / "copy.mid").write_bytes((folder / "a.mid").read_bytes())
    assert cat.index([folder], workers=1).skipped.count(str(folder / "copy.mid")) == 1

    new_lead = random_lead(np.random.default_rng(99), 25, start_pitch=72)
    write_song(folder / "b.mid", new_lead, backing=False)
    changed = cat.index([folder], workers=1)
    assert changed.added_files == 1 and changed.added_melodies == 1
    assert len(changed.skipped) == 4
    assert cat.info()["melodies"] == 5          # the new version of b.mid replaced the old one
    assert cat.info()["files"] == 4
    hit = cat.search(to_melody(new_lead), top=1)[0]
    assert hit.source == str(folder / "b.mid") and hit.matched_notes >= 20
    assert len(cat) == 5 and len(cat.packed.notes) == cat.info()["notes"]   # replaced notes are not read


def test_second_writer_is_locked_out_in_process(tmp_path, refs):
    folder, _ = refs
    path = tmp_path / "cat"
    first = Catalog.create(path)
    first.store.lock()
    try:
        second = Catalog.open(path)
        with pytest.raises(CatalogLocked, match=str(path)):
            second.index([folder], workers=1)
        with pytest.raises(CatalogLocked):
            Store(str(path)).lock()
        with pytest.raises(CatalogLocked):
            second.add([to_melody(random_lead(np.random.default_rng(1), 10), source="x")])
        assert second.info()["melodies"] == 0   # reading never needs the lock
    finally:
        first.store.unlock()
    assert second.index([folder], workers=1).added_files == 4


def test_second_writer_is_locked_out_by_another_process(tmp_path, refs):
    folder, _ = refs
    path = tmp_path / "cat"
    Catalog.create(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from melody.catalog.store import Store
            s = Store({str(path)!r})
            s.lock()
            print("locked", flush=True)
            sys.stdin.read()    # hold the lock until the test closes our stdin
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        cat = Catalog.open(path)
        with pytest.raises(CatalogLocked):
            cat.index([folder], workers=1)
        assert cat.info()["melodies"] == 0
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert cat.index([folder], workers=1).added_files == 4   # released when the holder exits


def test_failed_files_leave_catalog_unchanged(tmp_path, refs):
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    cat.index([folder], workers=1)
    before = cat.info()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mid").write_bytes(b"")
    (bad / "text.mid").write_text("hello\n" * 20)
    (bad / "trunc.mid").write_bytes((folder / "a.mid").read_bytes()[:100])
    (bad / "garbage.abc").write_bytes(bytes(range(256)))
    write_midi(bad / "drums.mid", [Track("Drums", 0, [(36, k * 0.5, 0.25) for k in range(16)], is_drum=True)])
    write_song(bad / "two_notes.mid", [(60, 0, 1), (62, 1, 1)], backing=False)
    report = cat.index([bad], workers=1)
    assert report.added_files == 0 and len(report.failed) == 6
    for path, message in report.failed:
        assert path in message and "\n" not in message
    assert cat.info() == before

    # the failures are not remembered as indexed: a fixed file is added later
    write_song(bad / "two_notes.mid", random_lead(np.random.default_rng(5), 12), backing=False)
    assert cat.index([bad], workers=1).added_files == 1


def test_segments_are_plain_npy(tmp_path, refs):
    folder, _ = refs
    cat = Catalog.create(tmp_path / "cat")
    cat.index([folder], workers=1)
    seg_dir = tmp_path / "cat" / "segments"
    names = os.listdir(seg_dir)
    assert names and all(n.endswith(".npy") for n in names)
    total = 0
    for name in names:
        arr = np.load(seg_dir / name, allow_pickle=False)
        assert arr.dtype == NOTE_DTYPE
        total += len(arr)
    assert total == cat.info()["notes"]


def _crash_between_segment_and_commit(catalog_path, file_path):
    """Index in a child process that dies (os._exit) after writing the segment, inside the transaction."""
    code = textwrap.dedent(f"""
        import os
        import melody.catalog.store as store
        from melody.catalog import Catalog
        class _Clock:
            @staticmethod
            def time():
                os._exit(9)      # called while inserting rows: the segment is on disk, nothing committed
        store.time = _Clock
        Catalog.open({str(catalog_path)!r}).index([{str(file_path)!r}], workers=1)
        """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr


def test_orphan_segment_ignored_by_readers_and_removed_by_next_writer(tmp_path, refs):
    folder, leads = refs
    path = tmp_path / "cat"
    cat = Catalog.create(path)
    cat.index([folder / "a.mid", folder / "tunes.abc"], workers=1)
    seg_dir = path / "segments"
    kept = set(os.listdir(seg_dir))
    before = cat.info()

    _crash_between_segment_and_commit(path, folder / "b.mid")
    orphans = set(os.listdir(seg_dir)) - kept
    assert len(orphans) == 1
    (seg_dir / "seg-leftover.npy.tmp").write_bytes(b"\x93NUMPY partial")   # a crash mid-write, too

    reader = Catalog.open(path)
    info = reader.info()
    assert {k: v for k, v in info.items() if k != "bytes"} == {k: v for k, v in before.items() if k != "bytes"}
    assert len(reader) == 3
    assert reader.search(to_melody(leads[0]), top=1)[0].source == str(folder / "a.mid")

    report = reader.index([folder / "b.mid"], workers=1)   # the next writer cleans up, then adds b.mid
    assert report.added_files == 1
    names = set(os.listdir(seg_dir))
    assert kept <= names and not orphans & names and "seg-leftover.npy.tmp" not in names
    assert len(names) == len(kept) + 1
    assert Catalog.open(path).info()["melodies"] == 4


def _random_melodies(rng, count):
    out = []
    for k in range(count):
        n = int(rng.integers(3, 60))
        ioi = rng.choice([0.0, 0.1, 0.25, 0.5, 0.5, 1.0, 0.37], size=n)   # includes chords-like zero gaps
        on = np.concatenate([[0.0], np.cumsum(ioi[:-1])]) + rng.uniform(0, 5)
        dur = rng.uniform(0.05, 1.5, size=n)
        pitch = rng.integers(40, 90, size=n).astype("f4") + (rng.uniform(-0.3, 0.3, size=n) if k % 3 == 0 else 0)
        out.append(Melody(make_notes(on, dur, pitch), title=f"m{k}"))
    return out


def test_pack_matches_features_per_melody():
    rng = np.random.default_rng(2024)
    melodies = _random_melodies(rng, 60)
    notes = np.concatenate([m.notes for m in melodies])
    offsets = np.concatenate([[0], np.cumsum([len(m.notes) for m in melodies])])
    packed = pack([None] * len(melodies), notes, offsets)
    for r, m in enumerate(melodies):
        f = features(m)
        a, b = packed.step_offsets[r], packed.step_offsets[r + 1]
        assert np.array_equal(packed.interval[a:b], f.interval), r
        assert np.allclose(packed.length[a:b], f.length, rtol=1e-6, atol=0), r
        assert np.allclose(packed.weight[a:b], f.weight, rtol=1e-6, atol=0), r
        assert packed.tempo_unit[r] == pytest.approx(f.tempo_unit, rel=1e-12), r


def test_catalog_features_match_features_of_stored_melody(tmp_path):
    rng = np.random.default_rng(7)
    melodies = _random_melodies(rng, 12)
    for k, m in enumerate(melodies):
        m.source = f"mem{k}"
    cat = Catalog.create(tmp_path / "cat")
    cat.add(melodies)
    for r in range(len(cat)):
        stored = cat.melody(r)
        f, g = cat.features(r), features(stored)
        assert np.array_equal(f.interval, g.interval) and np.allclose(f.length, g.length, rtol=1e-6)
        assert stored.notes.tobytes() == melodies[r].notes.tobytes()


@pytest.mark.parametrize("seed,target,semitones,bpm", [
    (3, 17, 5, 180),     # up a fourth, 1.5x faster
    (4, 3, -7, 80),      # down a fifth, slower
    (5, 39, 0, 120),     # same key and tempo
])
def test_search_finds_transposed_tempo_changed_phrase(tmp_path, seed, target, semitones, bpm):
    """A whole catalog tune (16-28 notes) embedded in unrelated music, transposed and at another tempo.

    (Whole tunes, so that the right answer is unambiguous: a phrase taken from the middle of a reference
    can legitimately extend by a few notes where the flanks happen to resemble the reference's neighbours.)
    """
    rng = np.random.default_rng(seed)
    references = [random_lead(rng, int(rng.integers(16, 29))) for _ in range(40)]
    cat = Catalog.create(tmp_path / "cat")
    cat.add([to_melody(lead, bpm=120, title=f"ref{k}", source=f"ref{k}.mid") for k, lead in enumerate(references)])

    flanks = np.random.default_rng(seed + 100)
    before = random_lead(flanks, 12, start_pitch=62)
    borrowed = shift(references[target], semitones=semitones, t0=end_of(before))
    after = random_lead(flanks, 12, start_pitch=64, t0=end_of(borrowed))
    query = to_melody(before + borrowed + after, bpm=bpm, title="query")
    q_first, q_last = len(before), len(before) + len(borrowed) - 1

    matches = cat.search(query, top=5)
    best = matches[0]
    assert best.title == f"ref{target}"
    assert best.transposition == semitones
    assert best.tempo_ratio == pytest.approx(bpm / 120, rel=0.03)
    on, end = query.notes["onset"], query.notes["onset"] + query.notes["duration"]
    assert on[q_first - 1] - 1e-9 <= best.query_span[0] <= on[q_first + 1] + 1e-9
    assert end[q_last - 1] - 1e-9 <= best.query_span[1] <= end[q_last + 1] + 1e-9
    assert abs(best.query_notes[0] - q_first) <= 1 and abs(best.query_notes[1] - q_last) <= 1
    assert best.reference_notes[0] <= 1 and best.reference_notes[1] >= len(borrowed) - 2
    assert best.matched_notes >= len(borrowed) - 2
    assert best.flagged and 0.0 <= best.score <= 1.0
    if len(matches) > 1:
        assert best.evalue < matches[1].evalue / 100


def test_search_errors(tmp_path):
    with pytest.raises(CatalogError, match="no catalog"):
        Catalog.open(tmp_path / "missing")
    cat = Catalog.create(tmp_path / "cat")
    query = to_melody(random_lead(np.random.default_rng(0), 10))
    with pytest.raises(CatalogError, match="empty"):
        cat.search(query)
    cat.add([to_melody(random_lead(np.random.default_rng(1), 10), source="x")])
    with pytest.raises(MelodyError):
        cat.search(query, top=0)
    with pytest.raises(MelodyError):
        cat.search(to_melody([(60, 0, 1), (62, 1, 1)]))


def test_titled_finds_tunes_by_part_of_their_title(tmp_path):
    """How the dashboard's compare page finds a catalog tune: any case, part of the title; the title
    itself, then titles that begin with the text, then a word that does, then the rest; '%' and '_' are
    characters, not SQL wildcards."""
    rng = np.random.default_rng(5)
    path = write_abc(tmp_path / "tunes.abc", [("Tune D", random_lead(rng, 20)), ("Reel 100", random_lead(rng, 20)),
                                              ("the_jig", random_lead(rng, 20)), ("Another tune", random_lead(rng, 20))])
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.index([path], workers=1)
    assert [e.title for e in cat.titled("TUNE")] == ["Tune D", "Another tune"]   # a title that begins with it first
    assert [e.title for e in cat.titled("tune d")] == ["Tune D"]
    assert cat.titled("%") == [] and [e.title for e in cat.titled("1%0")] == []   # no title holds a '%'
    assert [e.title for e in cat.titled("100")] == ["Reel 100"]
    assert [e.title for e in cat.titled("_")] == ["the_jig"]
    assert [e.title for e in cat.titled("tune", limit=1)] == ["Tune D"]
    assert [e.title for e in cat.titled("t")] == ["the_jig", "Tune D", "Another tune"]   # a word's start third
    assert [e.title for e in cat.titled("n")] == ["Another tune", "Tune D"]
    found = cat.titled(" d ")                       # surrounding spaces ignored
    assert [e.title for e in found] == ["Tune D"] and cat.melody(found[0].row).title == "Tune D"
    assert cat.titled("no such title") == []


def test_a_catalog_holding_recordings_ranks_a_score_as_it_ranks_a_recording(tmp_path):
    """A recorded reference shows a transcriber's repeated-note errors as a recorded query does, so in a
    catalog that holds a recording a score's query is ranked with repeated notes merged as well: its
    E-values are those of the same notes searched as a recording. Against scores only it is ranked once."""
    rng = np.random.default_rng(5)
    refs = [to_melody(random_lead(rng, 40), title=f"t{k}", source=f"t{k}.mid") for k in range(30)]
    notes = refs[3].notes[5:25].copy()
    notes["pitch"][[4, 9, 14]] = notes["pitch"][[3, 8, 13]]       # repeated notes, so the readings differ
    query = Melody(notes, title="q")
    as_recording = Melody(notes, title="q", meta={"kind": "audio"})
    take = Melody(refs[7].notes.copy(), title="take", source=str(tmp_path / "take.wav"))
    for name, melodies, same in (("scores", refs, False), ("with-take", refs + [take], True)):
        cat = Catalog.create(str(tmp_path / name))
        cat.add(melodies)
        as_score = {m.id: m.evalue for m in cat.search(query, top=5)}
        as_take = {m.id: m.evalue for m in cat.search(as_recording, top=5)}
        assert (as_score == as_take) is same, name


def test_only_audio_files_make_a_catalog_hold_recordings(tmp_path):
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.add([Melody(make_notes([0, 1, 2, 3], [1] * 4, [60, 62, 64, 65]), source="a.MID")])
    assert not cat.store.holds_recordings()
    cat.add([Melody(make_notes([0, 1, 2, 3], [1] * 4, [60, 62, 64, 67]), source="songs/b.Flac")])
    assert cat.store.holds_recordings()
