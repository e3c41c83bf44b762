"""Historical borrowings (scripts/borrowings/): songs that took an older tune and varied it the way
songwriters do (words that split or merge notes, dotted figures, another meter, another mode) find that tune
first and significantly in a small catalog, and songs that only share idioms with it are not flagged."""
import os
import sys

import pytest

from melody import Catalog, load
from melody.score.significance import DEFAULT_MAX_EVALUE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_borrowings import CASES, QUERIES, REFERENCES  # noqa: E402


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    cat = Catalog.create(str(tmp_path_factory.mktemp("refs") / "cat"))
    cat.index([REFERENCES], workers=1)
    return cat


@pytest.mark.parametrize("name", [n for n, (target, _) in CASES.items() if target])
def test_borrowed_tune_ranks_first_and_is_flagged(catalog, name):
    target = CASES[name][0]
    best = catalog.search(load(os.path.join(QUERIES, name))[0], top=3)[0]
    assert os.path.basename(best.source) == target
    assert best.flagged and best.evalue <= DEFAULT_MAX_EVALUE


@pytest.mark.parametrize("name", [n for n, (target, _) in CASES.items() if not target])
def test_shared_idioms_alone_are_not_flagged(catalog, name):
    matches = catalog.search(load(os.path.join(QUERIES, name))[0], top=3)
    assert not any(m.flagged for m in matches)


def test_the_explanation_names_a_mode_change_only_where_the_tune_changed_mode(catalog):
    for name, (target, _) in CASES.items():
        if target:
            best = catalog.search(load(os.path.join(QUERIES, name))[0], top=1)[0]
            change = best.evidence["mode_change"]
            if name == "bruder_martin.abc":      # Frère Jacques (C major) in D minor: every third and sixth lower
                assert change["reference_key"] == "C major" and change["query_mode"] == "minor"
                assert change["notes"] == 8
            else:
                assert change is None, name
