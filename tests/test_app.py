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
    # Streamlit's own text says "200MB per file" (the server's ceiling); the uploader's help gives ours per kind
    assert [u.proto.help for u in at.get("file_uploader")] == [
        "At most 20 MB per score (MIDI, MusicXML, ABC, kern), 200 MB per recording."]
    at.selectbox[0].select("morning_commute.mid").run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert table["title"].iloc[0] == "Ode to Joy"            # the borrowed tune ranks first
    assert at.warning and "flagged" in at.warning[0].value    # a 15-note copy in a 33-tune catalog
    assert any("expected by chance" in c.value for c in at.caption)
    assert any("semitones" in c.value for c in at.caption) and any("bits" in c.value for c in at.caption)


def test_missing_catalog_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MELODY_CATALOG", str(tmp_path / "nowhere"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.error and "Cannot open the catalog" in at.error[0].value


def test_two_files_compare_without_a_catalog(tmp_path, monkeypatch):
    """A new installation before `melody catalog build-default`: the compare page still compares two files
    (it needs no catalog); the other pages say the catalog cannot be opened."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MELODY_CATALOG", str(tmp_path / "nowhere"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.radio(key="page").set_value("Compare two songs").run()
    assert not at.exception and not at.error
    assert at.radio(key="compare_b_source").disabled
    at.selectbox(key="compare_a_example").select("morning_commute.mid").run()
    at.selectbox(key="compare_b_example").select("harbor_lights.mid").run()
    assert not at.exception and not at.error
    assert at.dataframe and "morning_commute.mid vs harbor_lights.mid" in (at.warning or at.success)[0].value
    at.sidebar.radio(key="page").set_value("One song").run()
    assert at.error and "Cannot open the catalog" in at.error[0].value


def _app(catalog_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MELODY_CATALOG", catalog_dir)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def test_match_detail_shows_piano_roll_intervals_audio_and_exports(catalog_dir, monkeypatch):
    at = _app(catalog_dir, monkeypatch)
    at.selectbox[0].select("morning_commute.mid").run()
    assert not at.exception and not at.error
    assert at.selectbox[1].label == "Show the evidence for match"
    assert len(at.get("image")) == 1                         # the piano roll (st.pyplot)
    intervals = at.table[0].value
    assert {"query interval", "reference interval", "same"} <= set(intervals.columns)
    # a straight 15-note copy of Ode to Joy (14 equal intervals in a row); the match may run on into the
    # song's own, Ode-like continuation, which agrees less
    same = intervals["same"].astype(bool).tolist()
    assert max(len(run) for run in "".join("x" if v else " " for v in same).split(" ")) >= 14
    assert any("rare" in md.value for md in at.markdown)      # shared rare shapes are named
    assert len(at.get("audio")) == 1
    assert [b.label for b in at.get("download_button")] == ["Download report (HTML)", "Download JSON"]
    at.selectbox[1].select(1).run()                           # another match's evidence
    assert not at.exception and len(at.get("image")) == 1


def test_broken_upload_is_a_message_not_a_traceback(catalog_dir, monkeypatch):
    at = _app(catalog_dir, monkeypatch)
    at.file_uploader(key="song_upload").set_value(("broken.mid", b"MThd\0\0\0\6 this is not midi", "audio/midi")).run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Cannot analyse this file: broken.mid")
    assert "melody-uploads" not in at.error[0].value          # the user's name, not a temporary path
    assert not at.dataframe


def test_batch_page_lists_flagged_files_first_and_reports_broken_ones(catalog_dir, monkeypatch):
    import io
    import zipfile

    at = _app(catalog_dir, monkeypatch)
    at.sidebar.radio(key="page").set_value("Batch").run()
    assert not at.exception and at.info
    with open(os.path.join(ROOT, "examples", "morning_commute.mid"), "rb") as fh:
        song = fh.read()
    with open(os.path.join(ROOT, "examples", "original_tune.mid"), "rb") as fh:
        original = fh.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../outside/original_tune.mid", original)
    at.file_uploader(key="batch_upload").set_value([
        ("broken.mid", b"not a midi file at all", "audio/midi"),
        ("songs.zip", buf.getvalue(), "application/zip"),
        ("morning_commute.mid", song, "audio/midi")]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == ["morning_commute.mid", "songs.zip/../../outside/original_tune.mid", "broken.mid"]
    assert list(table["flagged"]) == [True, False, False]
    assert list(table["status"]) == ["ok", "ok", "error"] and table["error"].iloc[2].startswith("broken.mid")
    assert at.warning and "3 files: 1 flagged, 1 could not be read" in at.warning[0].value
    assert [b.label for b in at.get("download_button")] == ["Download JSON", "Download CSV"]


def test_recording_example_is_transcribed_and_playable(catalog_dir, monkeypatch):
    """The mp3 example (a band playing morning_commute): matches, and the recording's own passage to hear;
    the search and the evidence share one transcription, and showing another match's evidence does not
    transcribe the recording again (it did, 20-60 s a time)."""
    import melody.audio

    calls = []
    transcribe = melody.audio.transcribe
    monkeypatch.setattr(melody.audio, "transcribe", lambda *a, **k: calls.append(a) or transcribe(*a, **k))
    at = _app(catalog_dir, monkeypatch)
    at.selectbox[0].select("morning_commute_band.mp3").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert "Ode to Joy" in table["title"].tolist()[:3]
    assert any("passage of the recording itself" in c.value for c in at.caption)
    assert len(calls) <= 1                                    # once for the search and the evidence (0: cached)
    before = len(calls)
    at.selectbox[1].select(1).run()                           # another match's evidence
    at.selectbox[1].select(2).run()
    assert not at.exception and not at.error and len(at.get("image")) == 1
    assert len(calls) == before


def _compare_page(catalog_dir, monkeypatch):
    at = _app(catalog_dir, monkeypatch)
    at.sidebar.radio(key="page").set_value("Compare two songs").run()
    assert not at.exception and at.info                      # asks for two songs
    return at


def test_compare_page_with_a_catalog_tune_shows_every_passage_and_its_evidence(catalog_dir, monkeypatch):
    """Song A an example, song B a catalog tune found by part of its title: the shared passages with their
    significance, and the chosen passage's piano roll, intervals and sound, as on the one-song page."""
    at = _compare_page(catalog_dir, monkeypatch)
    at.selectbox(key="compare_a_example").select("morning_commute.mid").run()
    at.radio(key="compare_b_source").set_value("a catalog tune").run()
    at.text_input(key="compare_title").input("ODE").run()     # any case, part of the title
    assert not at.exception and not at.error
    assert at.selectbox(key="compare_tune").options == ["Ode to Joy  (ode_to_joy.abc)"]
    table = at.dataframe[0].value
    assert bool(table["flagged"].iloc[0]) and table["E-value"].iloc[0] <= 0.1
    assert "A tune" not in table.columns                     # one tune against one
    # the quote (15 notes, up 3 semitones, examples/truth.json) matches both statements of Ode to Joy's first
    # phrase (bars 1-4 and 12-16): the two strongest passages; since align.PAIR_COST a 6-note chance passage at
    # another transposition after the quote is flagged too (E 0.067 between these two songs; 0.11 before)
    flagged = int(table["flagged"].sum())
    assert flagged >= 2 and f"morning_commute.mid vs Ode to Joy: {flagged} flagged passage(s)" in at.warning[0].value
    assert list(table["semitones"].iloc[:2]) == [3, 3] and list(table["B bars"].iloc[:2]) == ["1-4", "12-16"]
    assert len(at.get("image")) == 1                         # the piano roll
    assert {"A interval", "B interval", "same"} <= set(at.table[0].value.columns)
    assert any("-note passage this close is expected by chance" in c.value and "between these two melodies" in c.value
               for c in at.caption)
    assert len(at.get("audio")) == 1
    assert any(c.value.startswith("A's passage, half a second of silence, then B's passage in A's key")
               for c in at.caption)
    assert [b.label for b in at.get("download_button")] == ["Download report (HTML)", "Download JSON"]
    assert any("every one of its 33 melodies" in c.value for c in at.caption)   # why the One song page differs
    at.text_input(key="compare_title").input("no such tune at all").run()
    assert not at.exception and at.warning and "No catalog tune's title contains" in at.warning[0].value


def test_compare_page_names_the_tunes_of_collections_and_the_uploads(catalog_dir, monkeypatch, tmp_path):
    """Song B an uploaded ABC collection whose second tune is Ode to Joy: the passage names both tunes and
    the upload's name, never its stored path; a broken upload is a message naming it."""
    with open(os.path.join(ROOT, "reference_tracks", "ode_to_joy.abc")) as fh:
        ode = fh.read().replace("X:1", "X:2")
    other = ("X:1\nT:A Jig Nobody Borrowed\nM:6/8\nL:1/8\nK:D\n"
             "D2F A2d|c2B A2F|G2E F2D|E3 E2A|D2F A2d|c2B A2F|G2E CDE|D3 D3|\n")
    collection = (other + "\n" + ode).encode()
    at = _compare_page(catalog_dir, monkeypatch)
    at.selectbox(key="compare_a_example").select("morning_commute.mid").run()
    at.file_uploader(key="compare_b_upload").set_value(("two tunes.abc", collection, "text/plain")).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert {"B tune", "pair E-value"} <= set(table.columns) and "A tune" not in table.columns
    assert table["B tune"].iloc[0] == "2: Ode to Joy" and bool(table["flagged"].iloc[0])
    assert "vs two tunes.abc" in at.warning[0].value and "between 1 x 2 tunes" in at.warning[0].value
    assert any("any of the 1 x 2 pairs of tunes" in c.value for c in at.caption)
    at.file_uploader(key="compare_b_upload").set_value(("broken.mid", b"MThd\0\0\0\6 not midi", "audio/midi")).run()
    assert not at.exception and not at.dataframe
    assert at.error and at.error[0].value.startswith("Cannot compare: broken.mid")
    assert "melody-uploads" not in at.error[0].value


def test_compare_page_plays_the_recordings_own_passage(catalog_dir, monkeypatch):
    """A recording as song A (the band's mp3 of morning_commute) against the catalog's Ode to Joy: the
    recording's own passage is played next to the synthesised alignment."""
    at = _compare_page(catalog_dir, monkeypatch)
    at.selectbox(key="compare_a_example").select("morning_commute_band.mp3").run()
    at.radio(key="compare_b_source").set_value("a catalog tune").run()
    at.text_input(key="compare_title").input("ode to joy").run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["matched notes"].iloc[0] >= 10
    assert any("morning_commute_band.mp3 (the recording itself)" in c.value for c in at.caption)
    assert len(at.get("audio")) == 2
    # a recording's fractional intervals are signed and to at most 2 decimals, not "2.0700" and "0.0000"
    shown = at.table[0].value["A interval"].tolist()
    assert all(v == "0" or (v[0] in "+-" and len(v.partition(".")[2]) <= 2) for v in shown), shown
    assert any("." in v for v in shown)
