"""Scale groundwork: the synthetic catalog maker (scripts/make_catalog.py) and linear-time catalog adds."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from _songs import random_lead, to_melody
from melody.catalog import Catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import make_catalog  # noqa: E402


def test_file_path_lookup_uses_an_index(tmp_path):
    """add_files looks each file up by path; without an index that is a scan per file: quadratic adds."""
    cat = Catalog.create(str(tmp_path / "c"))
    plan = cat.store.db.execute("EXPLAIN QUERY PLAN SELECT id FROM files WHERE path = ? AND sha256 != ?",
                                ("x", "y")).fetchall()
    assert any("files_path" in str(row) for row in plan), plan
    cat.close()


def test_make_catalog_plants_real_melodies(tmp_path):
    rng = np.random.default_rng(3)
    train = Catalog.create(str(tmp_path / "train"))
    train.add([to_melody(random_lead(rng, int(rng.integers(30, 80))), title=f"t{k}", source=f"t{k}")
               for k in range(40)])
    out = tmp_path / "big"
    make_catalog.main(["--count", "300", "--catalog", str(out), "--plant", "5", "--train", train.path,
                       "--batch", "120", "--seed", "1"])
    cat = Catalog.open(str(out), read_only=True)
    assert len(cat) == 300
    counts = np.diff(cat.packed.offsets)
    assert counts.min() >= make_catalog.MIN_LEN and counts.max() <= make_catalog.MAX_LEN
    truth = json.loads((out / "planted.json").read_text())["planted"]
    assert len(truth) == 5
    row_of = {e.uid: e.row for e in cat.packed.entries}
    train_row = {e.uid: e.row for e in train.packed.entries}
    for t in truth:
        got = cat.melody(row_of[t["uid"]])
        src = train.melody(train_row[t["source_uid"]])
        assert got.notes.tobytes() == src.notes.tobytes()
        assert t["position"] == row_of[t["uid"]]
    # a transposed excerpt of a planted melody finds it first
    got = cat.melody(row_of[truth[0]["uid"]])
    notes = np.array(got.notes[5:30])
    notes["pitch"] += 3
    notes["onset"] -= notes["onset"][0]
    from melody.notes import Melody
    assert cat.search(Melody(notes), top=3)[0].id == truth[0]["uid"]
    # same arguments, same catalog
    again = tmp_path / "again"
    make_catalog.main(["--count", "300", "--catalog", str(again), "--plant", "5", "--train", train.path,
                       "--batch", "120", "--seed", "1"])
    assert Catalog.open(str(again), read_only=True).packed.notes.tobytes() == cat.packed.notes.tobytes()
