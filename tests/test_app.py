"""The Streamlit page: pick an example -> ranked matches and the evidence plot; a broken upload -> a message."""
from __future__ import annotations

import os

import pytest

from melody import Catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("app") / "catalog")
    Catalog.open(path, create=True).index([os.path.join(ROOT, "reference_tracks")], workers=1)
    return path


def test_example_gives_matches_and_evidence(catalog_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MELODY_CATALOG", catalog_dir)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    at.selectbox[0].select("morning_commute.mid").run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert table["title"].iloc[0] == "Ode to Joy"            # the borrowed tune ranks first
    assert at.warning and "flagged" in at.warning[0].value    # a 15-note copy in a 33-tune catalog
    assert any("expected by chance" in c.value for c in at.caption)


def test_missing_catalog_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MELODY_CATALOG", str(tmp_path / "nowhere"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.error and "Cannot open the catalog" in at.error[0].value
