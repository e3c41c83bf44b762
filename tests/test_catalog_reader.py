"""A catalog records which reader read each file, so a reader fix reaches a catalog built before it."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

import melody.io
from melody import cli
from melody.catalog import Catalog
from melody.catalog.store import DB_NAME

TUNE = """X:1
T:Upbeat
M:3/4
L:1/4
K:G
D | G2 A | B2 c | d3 | B2 G | A2 F | G3 |]
"""


@pytest.fixture
def catalog(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / "upbeat.abc").write_text(TUNE)
    cat = Catalog.open(str(tmp_path / "cat"), create=True)
    report = cat.index([str(folder)], workers=1)
    assert report.added_files == 1 and report.reread == 0
    return cat, folder


def _uids(cat):
    return [e.uid for e in cat.packed.entries]


def test_a_newer_reader_reads_the_file_again(catalog, monkeypatch):
    cat, folder = catalog
    before = _uids(cat)
    assert cat.stale_notice() == ""
    assert cat.index([str(folder)], workers=1).skipped            # today's reader: nothing to do
    monkeypatch.setattr(melody.io, "SCORE_READER_VERSION", melody.io.SCORE_READER_VERSION + 1)
    notice = cat.stale_notice()
    assert "1 file of the catalog" in notice and "read by an older version" in notice
    report = cat.index([str(folder)], workers=1)
    assert (report.added_files, report.reread, report.skipped) == (1, 1, [])
    assert _uids(cat) == before                                    # replaced, not added twice; same id
    assert cat.stale_notice() == ""
    assert cat.index([str(folder)], workers=1).reread == 0


def test_a_catalog_from_before_readers_were_recorded(catalog, tmp_path):
    cat, folder = catalog
    path = cat.path
    cat.close()
    db = sqlite3.connect(f"{path}/{DB_NAME}")
    db.execute("ALTER TABLE files DROP COLUMN reader")             # the layout of a catalog made before
    db.commit()
    db.close()
    old = tmp_path / "old"
    shutil.copytree(path, old)
    read_only = Catalog.open(str(old), read_only=True)
    assert "1 file of the catalog" in read_only.stale_notice()    # searchable, and it says why to re-index
    assert len(read_only.packed.entries) == 1
    read_only.close()
    cat = Catalog.open(path)                                       # a writer adds the column
    assert "1 file" in cat.stale_notice()
    report = cat.index([str(folder)], workers=1)
    assert (report.added_files, report.reread) == (1, 1)
    assert cat.stale_notice() == "" and cat.info()["stale_files"] == 0


def test_melodies_added_from_memory_are_never_stale(tmp_path, monkeypatch):
    (tmp_path / "upbeat.abc").write_text(TUNE)
    mel = melody.io.load(str(tmp_path / "upbeat.abc"))[0]
    cat = Catalog.open(str(tmp_path / "cat"), create=True)
    cat.add([mel])
    monkeypatch.setattr(melody.io, "SCORE_READER_VERSION", melody.io.SCORE_READER_VERSION + 1)
    assert cat.stale_notice() == ""


def test_the_cli_says_so_on_stderr_and_when_it_reads_again(catalog, monkeypatch, capsys):
    cat, folder = catalog
    monkeypatch.setattr(melody.io, "SCORE_READER_VERSION", melody.io.SCORE_READER_VERSION + 1)
    assert cli.main(["catalog", "info", "--catalog", cat.path]) == 0
    assert "read by an older version of melody's readers" in capsys.readouterr().err
    assert cli.main(["index", str(folder), "--catalog", cat.path, "--quiet"]) == 0
    assert "1 of them read again" in capsys.readouterr().out
    assert cli.main(["catalog", "info", "--catalog", cat.path]) == 0
    assert "older version" not in capsys.readouterr().err


def test_each_kind_of_reader_has_its_own_version(tmp_path, monkeypatch):
    from melody.testing import Track, write_midi
    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / "upbeat.abc").write_text(TUNE)
    write_midi(str(folder / "line.mid"), [Track("Melody", program=0, notes=[
        (60 + (k * 5) % 12, float(k), 1.0, 90) for k in range(12)])])
    cat = Catalog.open(str(tmp_path / "cat"), create=True)
    assert cat.index([str(folder)], workers=1).added_files == 2
    monkeypatch.setattr(melody.io, "MIDI_READER_VERSION", melody.io.MIDI_READER_VERSION + 1)
    assert "1 file of the catalog" in cat.stale_notice()
    report = cat.index([str(folder)], workers=1)
    assert (report.added_files, report.reread) == (1, 1)            # the MIDI file only; the ABC tune kept
    assert cat.stale_notice() == ""
    monkeypatch.setattr(melody.io, "SCORE_READER_VERSION", melody.io.SCORE_READER_VERSION + 1)
    report = cat.index([str(folder)], workers=1)
    assert (report.added_files, report.reread) == (1, 1)            # now the ABC tune only
    assert melody.io.reader_tag("a.MID").startswith("midi-") and melody.io.reader_tag("a.krn").startswith("score-")
    assert melody.io.reader_tag("a.flac").startswith("audio-")


def test_a_journaled_scan_says_so_too(catalog, monkeypatch, capsys, tmp_path):
    """`melody scan --out RUN` (thousands of files, the workers opening the catalog) said nothing of a stale
    catalog, where a plain scan and query print the note (qa28)."""
    cat, folder = catalog
    monkeypatch.setattr(melody.io, "SCORE_READER_VERSION", melody.io.SCORE_READER_VERSION + 1)
    run = str(tmp_path / "run")
    assert cli.main(["scan", str(folder), "--catalog", cat.path, "--out", run, "--workers", "1", "--quiet"]) == 0
    assert "read by an older version of melody's readers" in capsys.readouterr().err
