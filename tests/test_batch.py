"""Journaled batch scans (melody.batch, `melody scan --out`): counts, reports, resume, limits, Dask."""
from __future__ import annotations

import csv
import json
import os
import shutil

import pytest

from _batch_world import journal_lines, make_queries, make_refs, results_by_path
from melody import batch
from melody.api import query_file
from melody.catalog import Catalog
from melody.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    leads = make_refs(str(base / "refs"))
    queries = str(base / "queries")
    make_queries(queries, leads)
    shutil.copy(os.path.join(queries, "borrow0.mid"), os.path.join(queries, "sub", "same_as_borrow0.mid"))
    (base / "queries" / "notes.txt").write_text("not music")
    (base / "queries" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    catalog = str(base / "catalog")
    Catalog.open(catalog, create=True).index([str(base / "refs")], workers=1)
    cat = Catalog.open(catalog)
    expected = {}
    inputs = batch.discover([queries])
    batch.fingerprint(inputs)
    for item in inputs:
        if not item.skip:
            expected[item.path] = json.loads(json.dumps(query_file(item.path, cat)))
    return {"base": base, "queries": queries, "catalog": catalog, "expected": expected}


def settings(world, **kw):
    return batch.Settings(world["catalog"], **{"timeout_s": 60, **kw})


def check_counts(report, summary_dir):
    with open(os.path.join(summary_dir, "summary.json")) as fh:
        summary = json.load(fh)
    c = summary["counts"]
    assert c["scanned"] + c["failed"] + c["skipped"] + c["pending"] == c["inputs"]
    with open(os.path.join(summary_dir, "summary.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == c["inputs"]
    for outcome in ("scanned", "failed", "skipped"):
        assert sum(r["outcome"] == outcome for r in rows) == c[outcome] == getattr(report, outcome)
    return summary, rows


def test_scan_counts_reports_and_results_match_single_process(world, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    jsonl = tmp_path / "all.jsonl"
    code = main(["scan", world["queries"], "--catalog", world["catalog"], "--out", run_dir, "--workers", "2",
                 "--quiet", "--fail-on-match", "--jsonl", str(jsonl), "--timeout", "60"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "11 inputs: 8 scanned, 1 failed, 2 skipped; 4 flagged" in out and "summary.html" in out
    assert "broken.mid" in err
    assert len(jsonl.read_text().splitlines()) == 9
    report = batch.run([world["queries"]], settings(world), run_dir, resume=True)     # all done: reports only
    assert report.resumed == 9
    summary, rows = check_counts(report, run_dir)
    assert report.inputs == 11 and report.pending == 0 and summary["complete"]
    assert report.skipped == 2            # notes.txt (unsupported in a folder) and the duplicate
    reasons = {os.path.basename(r["path"]): r["detail"] for r in rows if r["outcome"] == "skipped"}
    assert reasons["notes.txt"] == "unsupported file type"
    assert reasons["same_as_borrow0.mid"].startswith("duplicate of ") and "borrow0.mid" in reasons["same_as_borrow0.mid"]
    assert report.failed == 1 and "broken.mid" in summary["failed"][0]["error"]
    assert "\n" not in summary["failed"][0]["error"]
    assert report.scanned == 8 and report.flagged == 4
    # identical to query_file in one process, key for key
    assert results_by_path(run_dir) == world["expected"]
    # one journal line per searched file
    paths = [r["path"] for r in journal_lines(run_dir)]
    assert sorted(paths) == sorted(world["expected"]) and len(set(paths)) == len(paths)
    # the memorisation audit
    audit = summary["audit"]
    assert audit["tracks"] == 8 and audit["flagged_tracks"] == 4 and audit["flagged_share"] == 0.5
    assert audit["longest_passage_notes"]["n"] == 4 and 15 <= audit["longest_passage_notes"]["median"] <= 30
    assert audit["longest_passage_seconds"]["max"] > 5
    top = audit["top_references"]
    assert top[0]["tracks"] == 2 and top[0]["title"] == "ref0" and {t["title"] for t in top} == {"ref0", "ref1", "ref2"}
    html = open(os.path.join(run_dir, "summary.html"), encoding="utf-8").read()
    assert "Memorisation audit" in html and html.count("<img") == 2 and "ref0" in html
    assert open(os.path.join(run_dir, "matches.csv")).readline().startswith("query,status,error")


def test_resume_after_interruption_and_torn_line(world, tmp_path):
    run_dir = str(tmp_path / "run")
    batch.run([world["queries"]], settings(world), run_dir, workers=1)
    journal = os.path.join(run_dir, "journal.jsonl")
    lines = open(journal, "rb").read().splitlines(keepends=True)
    with open(journal, "wb") as fh:          # as if killed while writing the 4th record
        fh.write(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    report = batch.run([world["queries"]], settings(world), run_dir, resume=True, workers=2)
    assert report.resumed == 3 and report.pending == 0
    records = journal_lines(run_dir)
    paths = [r["path"] for r in records]
    assert len(records) == len(world["expected"]) and len(set(paths)) == len(paths)     # none lost, none twice
    assert results_by_path(run_dir) == world["expected"]
    again = batch.run([world["queries"]], settings(world), run_dir, resume=True)       # nothing left to do
    assert again.resumed == len(world["expected"]) and len(journal_lines(run_dir)) == len(records)


def test_run_folder_rules(world, tmp_path):
    run_dir = str(tmp_path / "run")
    one = os.path.join(world["queries"], "borrow1.mid")
    batch.run([one], settings(world), run_dir)
    with pytest.raises(batch.BatchError, match="--resume"):
        batch.run([one], settings(world), run_dir)
    with pytest.raises(batch.BatchError, match="started with other settings: top;"):
        batch.run([one], settings(world, top=3), run_dir, resume=True)
    with pytest.raises(batch.BatchError, match="started with other settings: paths;"):
        batch.run([world["queries"]], settings(world), run_dir, resume=True)
    import fcntl
    fd = os.open(os.path.join(run_dir, ".lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)                 # another scan holds the folder
    try:
        with pytest.raises(batch.BatchError, match="another scan"):
            batch.run([one], settings(world), run_dir, resume=True)
    finally:
        os.close(fd)


def test_time_memory_and_crash_limits(world, tmp_path, monkeypatch):
    folder = tmp_path / "q"
    folder.mkdir()
    for name in ("hang.mid", "crash.mid", "oom.mid", "fine.mid", "after.mid"):
        shutil.copy(os.path.join(world["queries"], "borrow0.mid"), folder / name)
        with open(folder / name, "ab") as fh:      # distinct content, so none is a duplicate
            fh.write(name.encode())
    monkeypatch.setenv("MELODY_BATCH_FAULTS", "hang:hang.mid,crash:crash.mid,oom:oom.mid")
    run_dir = str(tmp_path / "run")
    report = batch.run([str(folder)], settings(world, timeout_s=3, memory_mb=2048), run_dir, workers=2)
    assert (report.scanned, report.failed, report.skipped) == (2, 3, 0)
    errors = {os.path.basename(f["path"]): f["error"] for f in report.summary["failed"]}
    assert "timed out after 3 s" in errors["hang.mid"] and "hang.mid" in errors["hang.mid"]
    assert "crashed" in errors["crash.mid"] and "SIGKILL" in errors["crash.mid"]
    assert "memory" in errors["oom.mid"].lower() and "oom.mid" in errors["oom.mid"]
    assert all("\n" not in e for e in errors.values())


def test_dask_local_cluster_gives_identical_results(world, tmp_path):
    pytest.importorskip("dask.distributed", reason="dask.distributed is a dependency: pip install -e .")
    run_dir = str(tmp_path / "run")
    report = batch.run([world["queries"]], settings(world), run_dir, workers=2, dask="local")
    check_counts(report, run_dir)
    assert (report.scanned, report.failed, report.skipped) == (8, 1, 2)
    assert results_by_path(run_dir) == world["expected"]


def test_cli_scan_usage_errors(world, tmp_path, capsys):
    run_dir = tmp_path / "run"
    one = os.path.join(world["queries"], "borrow1.mid")
    assert main(["scan", one, "--catalog", world["catalog"], "--out", str(run_dir), "--quiet", "--workers", "1"]) == 0
    code = main(["scan", one, "--catalog", world["catalog"], "--out", str(run_dir), "--quiet"])
    assert code == 2 and "--resume" in capsys.readouterr().err
    code = main(["scan", world["queries"], "--catalog", world["catalog"], "--workers", "2"])
    assert code == 2 and "--out" in capsys.readouterr().err


def test_a_file_named_explicitly_is_an_input_even_after_its_folder(tmp_path):
    """`scan songs/ songs/readme.txt`: the folder skips readme.txt as an unsupported type, but a file named on
    the command line is always an input (it fails with the loader's message); the folder came first and its
    skip stood."""
    (tmp_path / "readme.txt").write_text("not music")
    found = {os.path.basename(i.path): i for i in batch.discover([tmp_path, tmp_path / "readme.txt"])}
    assert found["readme.txt"].skip is None
    found = {os.path.basename(i.path): i for i in batch.discover([tmp_path])}
    assert found["readme.txt"].skip == "unsupported file type"
