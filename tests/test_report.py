"""melody.report: piano roll, interval table, synthesiser, HTML and CSV reports of a match."""
from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
import soundfile
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from melody.api import compare
from melody.notes import Melody, make_notes
from melody.report import csv_rows, csv_text, html_report, interval_table, passage, passage_audio, piano_roll, render
from melody.report.plots import DIFFERENT_COLOUR
from melody.report.html import summary_rows

TUNE = [60, 62, 64, 60, 60, 62, 64, 60, 64, 65, 67, 64, 65, 67, 67, 69, 67, 65, 64, 60]   # Frere Jacques


def tune(pitches, beat_s=0.5, title="tune"):
    onsets = np.arange(len(pitches)) * beat_s
    return Melody(make_notes(onsets, np.full(len(pitches), beat_s * 0.9), pitches), title=title, source=f"{title}.mid")


@pytest.fixture(scope="module")
def pair():
    """A reference, and a query: transposed up 3, 1.5x slower, one passing note added and one note changed
    (the aligner leaves the changed note out on both sides)."""
    reference = tune(TUNE, 0.5, "reference")
    pitches = [p + 3 for p in TUNE]
    pitches[12] += 2                        # a wrong note
    notes = list(zip(np.arange(len(pitches)) * 0.75, pitches))
    notes.insert(9, (6.375, pitches[8] + 2))  # a passing note between two notes of the tune
    onsets, ps = zip(*notes)
    query = Melody(make_notes(onsets, np.full(len(ps), 0.3), ps), title="query", source="query.mid")
    match = compare(query, reference, max_passages=1)[0]
    return query, reference, match


def _notes(fig, gid):
    return [p for p in fig.axes[0].patches if p.get_gid() == gid]


def test_piano_roll_draws_every_note_of_both_passages(pair):
    query, reference, m = pair
    fig = piano_roll(query, reference, m)
    assert isinstance(fig, Figure)
    assert "transposed +3 semitones" in fig.axes[0].get_title()      # the unit, not a bare "+3"
    q0, q1 = m["query_notes"]
    r0, r1 = m["reference_notes"]
    assert len(_notes(fig, "query-note")) == q1 - q0 + 1
    assert len(_notes(fig, "reference-note")) == r1 - r0 + 1
    assert m["transposition"] == 3 and m["tempo_ratio"] == pytest.approx(1 / 1.5, rel=0.05)
    # the reference is moved onto the query: same pitches and (nearly) the same times for aligned notes
    qn = passage(query, m["query_notes"])
    rn = passage(reference, m["reference_notes"], m["transposition"], 1 / m["tempo_ratio"])
    first = m["evidence"]["aligned"][1]
    assert rn["pitch"][first["reference_note"] - r0] == qn["pitch"][first["query_note"] - q0]
    # notes only one melody has are hatched; a pair the evidence calls different gets a red edge
    assert len([p for p in _notes(fig, "query-note") if p.get_hatch()]) == len(m["evidence"]["query_only_notes"]) == 2
    assert len([p for p in _notes(fig, "reference-note") if p.get_hatch()]) == len(m["evidence"]["reference_only_notes"]) == 1
    assert not [p for p in _notes(fig, "query-note") if p.get_edgecolor() == to_rgba(DIFFERENT_COLOUR)]
    aligned = [dict(a) for a in m["evidence"]["aligned"]]
    aligned[3]["difference"] = "+2 semitones"
    fig = piano_roll(query, reference, {**m, "evidence": {**m["evidence"], "aligned": aligned}})
    red = [p for p in _notes(fig, "query-note") if p.get_edgecolor() == to_rgba(DIFFERENT_COLOUR)]
    assert len(red) == 1


def test_piano_roll_names_the_two_songs_of_a_comparison(pair):
    """The compare page calls the songs A and B: so do the legend and the axes (not query/reference)."""
    query, reference, m = pair
    ax = piano_roll(query, reference, m, names=("A", "B")).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["A", "B (moved onto A)"] and "A only (ornament)" in labels
    assert "A's key" in ax.get_ylabel() and "A starts at" in ax.get_xlabel() and "B transposed +3" in ax.get_title()
    assert not any("query" in t or "reference" in t for t in labels)
    default = [t.get_text() for t in piano_roll(query, reference, m).axes[0].get_legend().get_texts()]
    assert default[:2] == ["query", "reference (moved onto query)"]


def test_piano_roll_needs_evidence(pair):
    query, reference, m = pair
    with pytest.raises(ValueError, match="evidence"):
        piano_roll(query, reference, {k: v for k, v in m.items() if k != "evidence"})


def test_interval_table_sets_the_two_interval_sequences_side_by_side(pair):
    query, reference, m = pair
    rows = interval_table(query, reference, m)
    assert len(rows) == m["matched_notes"] - 1
    assert rows[0]["query interval"] == rows[0]["reference interval"] and rows[0]["same"]
    assert all(r["same"] for r in rows)          # measured between aligned notes: the ornament is absorbed
    assert sum(r["query notes skipped"] for r in rows) == len(m["evidence"]["query_only_notes"]) == 2
    assert sum(r["reference notes skipped"] for r in rows) == 1
    assert rows[0]["query notes"] == "Eb4 -> F4" and rows[0]["reference notes"] == "C4 -> D4"


def test_render_gives_finite_audio_of_the_expected_length():
    sr = 8000
    notes = make_notes([0.0, 0.5, 1.0], [0.5, 0.5, 1.25], [60, 64, 67])
    audio = render(notes, sr=sr)
    assert audio.dtype == np.float32
    assert len(audio) == int(np.ceil((2.25 + 0.08) * sr))
    assert np.all(np.isfinite(audio)) and 0.5 < np.abs(audio).max() <= 0.8
    assert np.abs(audio[int(0.2 * sr):int(0.3 * sr)]).max() > 0.1   # the first note sounds
    assert len(render(notes[:0], sr=sr)) == 0
    with pytest.raises(ValueError):
        render(notes, sr=0)


def test_passage_audio_is_query_gap_reference_as_wav(pair):
    query, reference, m = pair
    data, sr = soundfile.read(io.BytesIO(passage_audio(query, reference, m, sr=8000)))
    q, r = passage(query, m["query_notes"]), passage(reference, m["reference_notes"])
    expected = sum(float((x["onset"] + x["duration"]).max()) + 0.08 for x in (q, r)) + 0.5
    assert sr == 8000 and abs(len(data) / sr - expected) < 0.01
    assert np.all(np.isfinite(data))


def test_html_report_is_self_contained(pair):
    query, reference, m = pair
    result = {"query": "song <1>.mid", "status": "ok", "error": None, "flagged": m["flagged"], "matches": [m]}
    page = html_report(result, {0: piano_roll(query, reference, m)}, {0: interval_table(query, reference, m)})
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<img alt=\'piano roll of match 1\' src=\'data:image/png;base64,' in page
    assert "song &lt;1&gt;.mid" in page                              # escaped
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page) and "http://" not in page and "https://" not in page
    assert "expected by chance" in page
    error_page = html_report({"query": "x.mid", "status": "error", "error": "x.mid: corrupt", "matches": []})
    assert "x.mid: corrupt" in error_page


def test_csv_rows_one_per_match_and_one_per_failed_file(pair):
    _, _, m = pair
    results = [{"query": "a.mid", "status": "ok", "error": None, "flagged": True, "matches": [m, m]},
               {"query": "b.mid", "status": "error", "error": "b.mid: corrupt", "flagged": False, "matches": []}]
    rows = csv_rows(results)
    assert [r["query"] for r in rows] == ["a.mid", "a.mid", "b.mid"]
    assert rows[1]["rank"] == 2 and rows[2]["error"] == "b.mid: corrupt"
    parsed = list(csv.DictReader(io.StringIO(csv_text(results))))
    assert len(parsed) == 3 and parsed[0]["title"] == "reference"


def test_mode_change_reads_changed_notes_skipped_on_both_sides_as_pairs():
    from melody.score.match import _substitutions, mode_change
    major = np.array(TUNE, dtype=float)                            # C major: E and A are the third and sixth
    minor = np.where(np.isin(major % 12, (4, 9)), major - 1, major) + 2       # D minor after transposing
    changed = [k for k in range(len(TUNE)) if TUNE[k] % 12 in (4, 9)]
    pairs = [(k, k) for k in range(len(TUNE)) if k not in changed]    # an interval alignment's gaps
    assert _substitutions(pairs) == [(k, k) for k in range(len(TUNE))]
    change = mode_change(minor, major, pairs, 2)
    assert change["query_mode"] == "minor" and change["notes"] == len(changed)
    assert mode_change(major + 2, major, pairs, 2) is None                 # the same mode
    wrong = major + 2
    wrong[[2, 9]] += 3                                                      # two wrong notes, not a mode
    assert mode_change(wrong, major, [(k, k) for k in range(len(TUNE))], 2) is None


def test_reports_name_the_tune_of_a_collection(pair):
    """A match found in an ABC collection's second tune: the CSV, the match table and the HTML say which tune
    (the CSV had no column for it; a label auditing collections could not tell the tunes apart)."""
    _, _, m = pair
    second = {**m, "query_tune": 1, "query_title": "Second Tune"}
    results = [{"query": "tunes.abc", "status": "ok", "error": None, "flagged": True, "matches": [second]}]
    row = list(csv.DictReader(io.StringIO(csv_text(results))))[0]
    assert row["query_tune"] == "1" and row["query_title"] == "Second Tune"
    assert summary_rows([second])[0]["query tune"] == "2: Second Tune"
    assert "query tune" not in summary_rows([{**m, "query_tune": 0}])[0]     # one tune: no column
    assert "(tune 2: Second Tune)" in html_report(results[0])


def test_shared_shapes_of_a_recording_with_its_own_tuning(rng):
    """A recording's pitches are fractional (a singer a few cents off, drifting): its shared 3-note shapes are
    still found (compared in whole semitones); the dashboard showed none for every recording."""
    from melody.notes import Melody, make_notes
    from melody.score.match import explain
    tune = np.array(TUNE, dtype=float)
    sung = tune + 2 + rng.uniform(-0.2, 0.2, len(tune))                 # up a tone, out of tune by up to 20 cents
    times = np.arange(len(tune), dtype=float) * 0.5
    query = Melody(make_notes(times, np.full(len(tune), 0.45), sung))
    reference = Melody(make_notes(times, np.full(len(tune), 0.45), tune))
    pairs = [(k, k) for k in range(len(tune))]
    shapes = explain(query, reference, pairs, 2, 1e-6, 100)["shared_shapes"]
    exact = explain(Melody(make_notes(times, np.full(len(tune), 0.45), tune + 2)), reference, pairs, 2, 1e-6, 100)
    assert len(shapes) == len(exact["shared_shapes"]) == len(tune) - 2            # every 3-note window
    assert [s["intervals"] for s in shapes] == [s["intervals"] for s in exact["shared_shapes"]]


def test_html_report_of_a_comparison_names_both_songs_and_every_passage():
    """`melody compare`'s result (the dashboard's compare page) as an HTML report: both songs, each shared
    passage with its tunes and significance, and a tune column for the side with several tunes."""
    from melody.api import compare_collections
    from melody.report.html import passage_rows

    other = tune([67, 66, 64, 62, 71, 69, 67, 66, 64, 62, 60, 59], 0.5, "other")
    doc = {"a": "song <A>.mid", "b": "tunes.abc",
           **compare_collections([tune(TUNE, 0.5, "mine")], [other, Melody(tune(TUNE, 0.6, "theirs").notes,
                                                                            "theirs", index=1)])}
    figures = {0: piano_roll(tune(TUNE, 0.5, "mine"), tune(TUNE, 0.6, "theirs"), doc["passages"][0])}
    page = html_report(doc, figures)
    assert "melody report: song &lt;A&gt;.mid vs tunes.abc" in page
    assert "flagged passage(s)" in page and "<h2>Shared passages</h2>" in page
    assert "<h2>1. mine / theirs <span class=flag>flagged</span></h2>" in page
    assert "any of the 1 x 2 pairs of tunes compared" in page
    assert "data:image/png;base64," in page
    rows = passage_rows(doc["passages"], doc["tunes"])
    assert rows[0]["B tune"] == "2: theirs" and "A tune" not in rows[0] and rows[0]["pair E-value"] <= rows[0]["E-value"]
