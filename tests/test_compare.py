"""`melody compare A B`: its E-values are for one pair, from the same model `Catalog.search` ranks with
(stage 2: interval plus transposed pitch alignment, `melody.score.pair`), so compare and query agree."""
import os
import sys

import numpy as np
import pytest

from melody import Catalog, align, load
from melody.api import _features, compare, compare_collections, compare_files
from melody.meter import melody_with_guessed_beats
from melody.notes import Melody, make_notes
from melody.score import pair, rescore
from melody.score.significance import DEFAULT_MAX_EVALUE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_borrowings import CASES, QUERIES, REFERENCES  # noqa: E402

BORROWED = [n for n, (target, _) in CASES.items() if target]
UNRELATED = [n for n, (target, _) in CASES.items() if not target]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    cat = Catalog.create(str(tmp_path_factory.mktemp("refs") / "cat"))
    cat.index([REFERENCES], workers=1)
    return cat


@pytest.mark.parametrize("name", BORROWED)
def test_compare_and_query_agree_on_the_passage_and_its_evalue(catalog, name):
    """`query` in the 33 reference songs and `compare` with the counterpart name the same passage, and
    query's E-value (a catalog of 33) is about 33 times compare's (one pair), up to the query's own null fit:
    within a factor of 3 (measured: 1.2-2.0, BENCHMARKS.md). Stage 1's interval model alone, which compare
    used before, was 0.3 to 6,000 times off."""
    target = CASES[name][0]
    query = load(os.path.join(QUERIES, name))[0]
    hit = next(m for m in catalog.search(query, top=3) if os.path.basename(m.source) == target)
    best = compare(query, load(os.path.join(REFERENCES, target))[0])[0]
    assert best["query_notes"] == hit.query_notes and best["reference_notes"] == hit.reference_notes
    assert best["flagged"]
    ratio = np.log10(hit.evalue / (len(catalog) * best["evalue"]))
    assert abs(ratio) < np.log10(3), (best["evalue"], hit.evalue)


def test_pitch_score_of_a_pair_is_the_search_kernels_score(tmp_path):
    """pair.pitch_score feeds one reference to the kernel that re-scores a catalog's candidates."""
    target = os.path.join(REFERENCES, "frere_jacques.abc")
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.index([target], workers=1)
    query = melody_with_guessed_beats(load(os.path.join(QUERIES, "bruder_martin.abc"))[0])
    reference = melody_with_guessed_beats(load(target)[0])
    p = cat.packed
    qf = p.query_features(query)
    want = rescore.pitch_scores(rescore.query_pitches(query), qf, p, rescore.pitches(p), np.array([0]))[0]
    got = pair.pitch_score(query, reference, qf, _features(reference))
    assert got == pytest.approx(want, rel=1e-9) and got > 0


def test_songs_that_share_only_idioms_flag_no_more_pairs_than_a_calibrated_null():
    """The three songs that borrow nothing, against each of the 33 reference songs (99 pairs): a calibrated
    pair null flags about 1 - exp(-0.1) = 9.5% of such pairs by chance (fewer here: several pairs are too
    far apart to share a passage of 5 notes). Stage 1's model alone flagged 12."""
    refs = [load(os.path.join(REFERENCES, f))[0] for f in sorted(os.listdir(REFERENCES)) if f.endswith(".abc")]
    assert len(refs) == 33
    flagged = 0
    for name in UNRELATED:
        query = load(os.path.join(QUERIES, name))[0]
        flagged += sum(any(p["flagged"] for p in compare(query, ref)) for ref in refs)
    assert flagged <= round(99 * -np.expm1(-DEFAULT_MAX_EVALUE)), flagged


def _tune(pitches, title):
    onsets = np.arange(len(pitches)) * 0.5
    return Melody(make_notes(onsets, np.full(len(pitches), 0.45), pitches), title=title, source=f"{title}.mid")


def test_two_borrowed_phrases_are_both_found_and_the_weaker_is_no_more_significant():
    """A query that takes two phrases of a reference, apart, with foreign notes between: both passages are
    flagged; the second, found with the first masked, is judged on its own notes and is never more
    significant than the first. Each keeps stage 1's E-value as interval_evalue."""
    rng = np.random.default_rng(3)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    reference = list(60 + scale[np.clip(np.cumsum(rng.integers(-2, 3, 60)) + 4, 0, 9)])
    foreign = list(55 + scale[rng.integers(0, 10, 12)])
    query = [p + 2 for p in reference[0:16]] + foreign + [p + 2 for p in reference[36:52]]
    got = compare(_tune(query, "query"), _tune(reference, "reference"))
    assert len(got) >= 2
    first, second = got[0], got[1]
    spans = sorted([first["query_notes"], second["query_notes"]])
    assert spans[0][0] <= 2 and spans[0][1] >= 13 and spans[1][0] <= 30 and spans[1][1] >= 41, spans
    assert first["flagged"] and second["flagged"]
    assert second["evalue"] >= first["evalue"]
    assert all("interval_evalue" in p for p in got)


def test_compare_collections_is_compare_files_without_the_files(tmp_path):
    a = os.path.join(QUERIES, "bruder_martin.abc")
    b = os.path.join(REFERENCES, "frere_jacques.abc")
    files = compare_files(a, b)
    tunes = compare_collections(load(a), load(b))
    assert files["tunes"] == tunes["tunes"] == [1, 1]
    assert [p["evalue"] for p in files["passages"]] == [p["evalue"] for p in tunes["passages"]]
    assert files["passages"][0]["pair_evalue"] == files["passages"][0]["evalue"]


def _legato(melody: Melody, kind: str | None) -> Melody:
    """The melody as a transcriber hears it played legato (repeated notes not re-articulated: merged),
    marked as a recording (kind "audio") or not."""
    from melody.catalog.packed import merge_repeats
    return Melody(merge_repeats(melody.notes)[0], melody.title, source=melody.source,
                  meta={"kind": kind} if kind else {})


@pytest.mark.parametrize("name", ["baa_baa_black_sheep.abc", "merrily_we_roll_along.abc"])
def test_a_recording_is_compared_as_transcribed_and_with_repeated_notes_merged(name):
    """A recording that lost its repeated notes (legato) against the score that has them: compare reads it
    as query does (`Catalog._rank`, one function `merged_reading`): as transcribed and with repeated notes
    merged in both melodies, the better reading corrected for taking the better of two (Bonferroni). The
    passage shown is still the transcription's, note for note. Before, compare read a recording as
    transcribed only: E 3e-4 and 0.018 here, against ~1e-11 and ~1e-6 with both readings."""
    from melody.api import readings_evalue
    from melody.catalog.packed import merge_repeats
    reference = load(os.path.join(REFERENCES, CASES[name][0]))[0]
    query = load(os.path.join(QUERIES, name))[0]
    as_score, as_recording = _legato(query, None), _legato(query, "audio")
    transcribed = compare(as_score, reference)[0]
    merged_reference = Melody(merge_repeats(reference.notes)[0], reference.title, source=reference.source)
    got = compare(as_recording, reference)[0]

    def reading(b):     # judged as a recording's reading is (`one_reading` False)
        a, b = melody_with_guessed_beats(as_score), melody_with_guessed_beats(b)
        fa, fb = _features(a), _features(b)
        return pair.best_evalue(a, b, fa, fb, align.local_align(fa, fb).score, one_reading=False)

    want = readings_evalue([reading(reference), reading(merged_reference)])
    assert got["evalue"] == pytest.approx(want, rel=1e-6)
    assert got["evalue"] < transcribed["evalue"] / 1e3
    assert got["query_notes"] == transcribed["query_notes"]
    assert got["reference_notes"] == transcribed["reference_notes"]


def test_a_recording_without_repeated_notes_is_read_once(monkeypatch):
    """Merging changes nothing when neither melody repeats a note: one reading, no correction for two. (A score's
    pairs that scatter in the bar pay `rescore.METRIC_SCATTER`, a recording's guessed beats do not: off here.)"""
    monkeypatch.setattr(rescore, "METRIC_SCATTER", 0.0)
    rng = np.random.default_rng(8)
    steps = rng.choice([-4, -3, -2, -1, 1, 2, 3, 5], size=40)
    a, b = _tune(list(60 + np.cumsum(steps[:30])), "a"), _tune(list(62 + np.cumsum(steps[5:40])), "b")
    as_recording = Melody(a.notes, a.title, source=a.source, meta={"kind": "audio"})
    assert compare(as_recording, b)[0]["evalue"] == compare(a, b)[0]["evalue"]


def test_a_score_pair_is_read_once_and_readings_evalue_is_bonferroni():
    """Two scores keep the one reading; the better of n equal readings costs a factor n in the rate."""
    from melody.api import readings_evalue
    a = load(os.path.join(QUERIES, "bruder_martin.abc"))[0]
    b = load(os.path.join(REFERENCES, "frere_jacques.abc"))[0]
    assert compare(a, b)[0]["evalue"] == pytest.approx(
        pair.best_evalue(*(melody_with_guessed_beats(m) for m in (a, b)), _features(a), _features(b),
                         compare(a, b)[0]["alignment_score"]), rel=1e-9)
    assert readings_evalue([0.01]) == pytest.approx(0.01)
    assert readings_evalue([0.01, 0.5]) == pytest.approx(-np.expm1(2 * np.log1p(-0.01)))


def test_two_score_passages_are_judged_whole_only_as_a_search_judges_them():
    """Two passages (at most rescore.PASSAGE_MAX steps) are compared end to end, under the passage view's
    null alone, as `Catalog.search` compares a passage with a catalog's passages: no second (local) view,
    no factor for taking the better of two."""
    a = load(os.path.join(QUERIES, "bruder_martin.abc"))[0]
    b = load(os.path.join(REFERENCES, "frere_jacques.abc"))[0]
    a, b = (Melody(m.notes[:16].copy(), m.title, source=m.source) for m in (a, b))
    ga, gb = (melody_with_guessed_beats(m) for m in (a, b))
    fa, fb = _features(a), _features(b)
    assert len(fa) <= rescore.PASSAGE_MAX and len(fb) <= rescore.PASSAGE_MAX
    whole = align.local_align(fa, fb).score + pair.pitch_score(ga, gb, fa, fb, rescore.whole_params())
    want = -np.expm1(-np.exp(np.log(rescore.K_WHOLE) - rescore.LAMBDA_WHOLE * whole))
    assert compare(a, b)[0]["evalue"] == pytest.approx(want, rel=1e-9)


def _restruck(melody: Melody) -> Melody:
    """Every note struck twice, each half its length: the melody re-set to twice the syllables."""
    n = melody.notes
    half = n["duration"] / 2
    onset = np.stack([n["onset"], n["onset"] + half], axis=1).ravel()
    return Melody(make_notes(onset, np.repeat(half, 2), np.repeat(n["pitch"], 2)), melody.title + " re-struck",
                  source=melody.source)


def test_a_passage_judged_in_the_merged_reading_says_so():
    """A song against itself re-struck (each note twice, as a text underlay does) is judged, as a search
    judges it, with repeated notes merged: the whole song matches there, while the passage aligned note for
    note as written is a few notes. The significance sentence gives the merged reading's length and says so
    (qa28: "a 7-note passage this close is expected by chance 1.5e-22 times", the whole 53-note song
    matching once merged); a pair read once keeps the plain sentence."""
    song = load(os.path.join(REFERENCES, "ode_to_joy.abc"))[0]
    best = compare_collections([_restruck(song)], [song])["passages"][0]
    merged = best["evidence"]["merged_notes"]
    assert merged > best["matched_notes"]
    assert best["evidence"]["significance"].startswith(f"read with repeated notes merged, a {merged}-note passage")
    plain = compare_collections([song], [song])["passages"][0]
    assert "merged_notes" not in plain["evidence"]
    assert plain["evidence"]["significance"].startswith(f"a {plain['matched_notes']}-note passage")
