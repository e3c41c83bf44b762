"""`parts="all"`: every pitched part of a MIDI or MusicXML file is searched, each match names its part, and
the E-values count the parts searched (melody.io.parts, melody.api.query_file)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _songs import random_lead, shift, to_melody
from melody import Catalog
from melody.api import match_melodies, parts_evalue, query_file
from melody.cli import main
from melody.errors import MelodyError
from melody.io import load
from melody.io.parts import MIN_PART_NOTES, doubles
from melody.notes import make_notes
from melody.testing import Track, accompany, write_midi
from test_musicxml import note, score


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A catalog of 30 random tunes, and a song whose lead is its own while its bass plays 16 notes of
    reference 7 (two octaves down, a tone up): the borrowing is in the bass only."""
    base = tmp_path_factory.mktemp("parts")
    rng = np.random.default_rng(5)
    refs = [random_lead(rng, 40) for _ in range(30)]
    cat = Catalog.create(str(base / "catalog"))
    cat.add([to_melody(r, title=f"ref{k}", source=f"ref{k}.mid") for k, r in enumerate(refs)])
    lead = random_lead(np.random.default_rng(99), 48, start_pitch=72)
    riff = shift(refs[7][10:26], semitones=2 - 24, t0=4.0)
    tracks = [Track("Vocals", 54, lead), Track("Bass", 33, riff)] + \
        [t for t in accompany(lead, seed=3) if t.name != "Bass"]     # chords and drums
    write_midi(base / "song.mid", tracks, bpm=110)
    write_midi(base / "plain.mid", [Track("Vocals", 54, lead)] + accompany(lead, seed=3), bpm=110)
    return {"base": base, "catalog": cat, "song": str(base / "song.mid"), "plain": str(base / "plain.mid"),
            "riff": riff}


def test_every_pitched_part_becomes_a_melody_named_by_its_track(world):
    melodies = load(world["song"], parts="all")
    names = [m.meta["part_name"] for m in melodies]
    # file order; the drum track never, nor the block chords (repeated chords: a line of 5 notes)
    assert names == ["Vocals", "Bass"]
    assert [m.meta["part_index"] for m in melodies] == [0, 1]
    assert melodies[1].notes["pitch"].tolist() == [p for p, _, _ in world["riff"]]
    (lead,) = load(world["song"])                             # the default is the lead alone, as before
    assert "part_name" not in lead.meta and np.array_equal(lead.notes, melodies[0].notes)


def test_a_drum_track_or_channel_is_never_a_part(tmp_path):
    beats = [(36 + (k % 3), k * 0.5, 0.25) for k in range(40)]
    lead = random_lead(np.random.default_rng(1), 20)
    write_midi(tmp_path / "d.mid", [Track("Lead", 0, lead), Track("Kit", 0, beats, is_drum=True),
                                    Track("Perc", 0, [(60 + (k % 5), k * 0.5, 0.25) for k in range(40)])])
    assert [m.meta["part_name"] for m in load(tmp_path / "d.mid", parts="all")] == ["Lead"]


def test_doublings_and_short_parts_are_dropped(tmp_path):
    lead = random_lead(np.random.default_rng(2), 24)
    octave_down = [(p - 12, s, d) for p, s, d in lead]
    short = [(40 + k, 2.0 * k, 1.0) for k in range(MIN_PART_NOTES - 1)]
    write_midi(tmp_path / "x.mid", [Track("Strings", 48, octave_down), Track("Melody", 73, lead),
                                    Track("Hits", 0, short)])
    (only,) = load(tmp_path / "x.mid", parts="all")
    assert only.meta["part_name"] == "Melody"                 # the likelier melody of the doubling is kept
    line = make_notes(np.arange(10.0), np.ones(10), 60 + np.arange(10))
    harmony = make_notes(np.arange(10.0), np.ones(10), 64 + np.arange(10))   # in thirds: another line
    assert doubles(line, line.copy()) and not doubles(line, harmony)


def test_a_borrowed_bass_line_is_found_with_its_part_named(world):
    lead_only = query_file(world["song"], world["catalog"])
    assert not lead_only["flagged"] and "ref7" not in [m["title"] for m in lead_only["matches"][:1]]
    assert all("query_part" not in m for m in lead_only["matches"])     # the default output is as before
    every = query_file(world["song"], world["catalog"], parts="all")
    best = every["matches"][0]
    assert every["flagged"] and best["title"] == "ref7" and best["flagged"]
    assert best["query_part"] == {"index": 1, "name": "Bass"} and best["transposition"] == 2 - 24
    query, reference = match_melodies(world["song"], world["catalog"], best)
    assert query.meta["part_name"] == "Bass" and reference.title == "ref7"


def test_each_part_counts_as_a_try(world):
    assert parts_evalue(0.04, 3) == pytest.approx(0.12)
    melodies = load(world["song"], parts="all")
    every = query_file(world["song"], world["catalog"], parts="all", evidence=True, max_evalue=1e9)
    best = every["matches"][0]
    alone = world["catalog"].search(melodies[1], top=1)[0]
    assert len(melodies) == 2 and best["evalue"] == pytest.approx(2 * alone.evalue)
    assert best["score"] == pytest.approx(np.exp(-2 * alone.evalue))
    assert best["evidence"]["significance"].endswith(f"{best['evalue']:.2g} times over the 2 parts searched")
    # a part whose E-value alone passes the threshold but not twice it is not flagged
    cut = 1.5 * alone.evalue
    assert alone.evalue <= cut and not query_file(world["song"], world["catalog"], parts="all",
                                                  max_evalue=cut)["matches"][0]["flagged"]


def test_a_one_part_file_is_not_penalised(world, tmp_path):
    lead = random_lead(np.random.default_rng(5), 40)[5:30]
    write_midi(tmp_path / "solo.mid", [Track("Flute", 73, lead)])
    lead_only = query_file(str(tmp_path / "solo.mid"), world["catalog"])
    every = query_file(str(tmp_path / "solo.mid"), world["catalog"], parts="all")
    assert every["matches"][0]["evalue"] == pytest.approx(lead_only["matches"][0]["evalue"])
    assert every["matches"][0]["query_part"] == {"index": 0, "name": "Flute"}


def test_musicxml_parts(tmp_path):
    melody_bars = ["".join(note(s, 5) for s in "CDEF"), "".join(note(s, 5) for s in "GABC"),
                   "".join(note(s, 5) for s in "EDCB")]
    bass_bars = ["".join(note(s, 2) for s in "CGCG"), "".join(note(s, 2) for s in "FCFD"),
                 "".join(note(s, 2) for s in "GDGB")]
    path = tmp_path / "s.musicxml"
    path.write_text(score(("Voice", melody_bars), ("Bass", bass_bars)))
    melodies = load(path, parts="all")
    assert [m.meta["part_name"] for m in melodies] == ["Voice", "Bass"]
    assert [m.meta["part"] for m in load(path)] == ["Voice"]


def test_bad_parts_value_is_a_melody_error(world):
    with pytest.raises(MelodyError, match="parts must be one of"):
        load(world["song"], parts="bass")
    assert query_file(world["song"], world["catalog"], parts="bass")["status"] == "error"


def test_cli_parts_flag(world, capsys):
    world["catalog"].close()
    catalog = str(world["base"] / "catalog")
    assert main(["query", world["song"], "--catalog", catalog, "--format", "json"]) == 0
    assert not json.loads(capsys.readouterr().out)["flagged"]
    assert main(["query", world["song"], "--catalog", catalog, "--format", "json", "--parts", "all",
                 "--fail-on-match"]) == 1
    best = json.loads(capsys.readouterr().out)["matches"][0]
    assert best["title"] == "ref7" and best["query_part"]["name"] == "Bass"
    assert main(["query", world["song"], "--catalog", catalog, "--parts", "all"]) == 0
    assert 'in part 2 "Bass"' in capsys.readouterr().out
    assert main(["scan", world["song"], world["plain"], "--catalog", catalog, "--parts", "all", "--quiet",
                 "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["flagged"] for r in results] == [True, False]
    with pytest.raises(SystemExit):
        main(["query", world["song"], "--catalog", catalog, "--parts", "bass"])


def test_reports_name_the_part(world):
    from melody.report import csv_text, html_report
    from melody.report.html import summary_rows
    every = query_file(world["song"], world["catalog"], parts="all", evidence=True)
    assert summary_rows(every["matches"])[0]["query part"] == "Bass"
    assert "(part Bass)" in html_report(every)
    header, first = csv_text([every]).splitlines()[:2]
    assert header.endswith(",query_part") and first.endswith(",Bass")
    lead_only = query_file(world["song"], world["catalog"])
    assert "query part" not in summary_rows(lead_only["matches"])[0]


def test_a_journaled_scan_searches_every_part(world, tmp_path):
    from melody import batch
    settings = batch.Settings(str(world["base"] / "catalog"), parts="all")
    report = batch.run([world["song"], world["plain"]], settings, str(tmp_path / "run"), workers=1)
    with open(tmp_path / "run" / "results.jsonl") as fh:
        results = {r["query"]: r for r in map(json.loads, fh)}
    assert report.flagged == 1 and results[world["song"]]["matches"][0]["query_part"]["name"] == "Bass"
    assert not results[world["plain"]]["flagged"]


def test_a_pedal_or_a_two_note_line_is_not_a_part(tmp_path):
    lead = random_lead(np.random.default_rng(3), 24)
    pedal = [(40 if k % 8 < 6 else 43 + k % 8, k * 0.5, 0.5) for k in range(48)]     # 48 notes, 18 changes
    drone = [(36 if k % 12 < 11 else 38, k * 0.5, 0.5) for k in range(48)]          # 48 notes, 8 changes...
    few = [(36 if k % 16 < 15 else 38, k * 0.5, 0.5) for k in range(48)]            # ...and 6
    timpani = [(41 if k % 2 else 36, k * 0.5, 0.5) for k in range(48)]               # 48 changes, 2 classes
    octaves = [(36 + 12 * (k % 2) + (2 if k % 8 > 3 else 0), k * 0.5, 0.5) for k in range(48)]
    write_midi(tmp_path / "p.mid", [Track("Lead", 0, lead), Track("Bass", 33, pedal), Track("Drone", 89, drone),
                                    Track("Pad", 89, few), Track("Timpani", 47, timpani), Track("Octaves", 38, octaves)])
    assert [m.meta["part_name"] for m in load(tmp_path / "p.mid", parts="all")] == ["Lead", "Bass"]
