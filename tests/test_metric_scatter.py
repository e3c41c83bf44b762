"""Stage 2's charge for an alignment whose pairs scatter in the bar (melody.score.rescore.METRIC_SCATTER):
a borrowed phrase keeps one place in the bar, or one shift against the bar line; a chance alignment pairs
notes at scattered places. Only the pairs off the path's most common beat offset pay."""
from __future__ import annotations

import numpy as np

from melody import align
from melody.catalog.packed import pack_melodies
from melody.notes import Melody, make_notes
from melody.represent import features
from melody.score import pair, rescore

PHRASE = [60, 62, 64, 65, 67, 69, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69]


def _tune(pitches, iois, start_beat: float = 0.0, bars: bool = True) -> Melody:
    """A melody in 4/4 (quarter = 1 s); each note's beat is its place in the bar, from `start_beat`."""
    iois = np.asarray(iois, dtype="f8")
    onsets = np.concatenate([[0.0], np.cumsum(iois[:-1])])
    beats = np.round((onsets + start_beat) % 4, 3) if bars else None
    return Melody(make_notes(onsets, iois, np.asarray(pitches), np.ones(len(pitches), dtype=int), beats))


def test_one_offset_costs_nothing_and_scattered_pairs_count():
    beats = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0])
    same = [(i, i) for i in range(6)]
    assert rescore.offset_scatter(beats, beats, same) == 0
    shifted = (beats + 1.0) % 4          # the phrase moved a beat against the bar line: one offset (mostly)
    assert rescore.offset_scatter(beats + 1.0, beats, same) == 0
    assert rescore.offset_scatter(shifted, beats, same) == 1    # 3 + 1 wraps to 0: one offset of -3, five of +1
    scattered = np.array([0.0, 2.5, 1.0, 3.5, 2.0, 0.5])
    assert rescore.offset_scatter(scattered, beats, same) == 5   # six offsets, one each: five off the first
    unknown = np.full(6, np.nan)
    assert rescore.offset_scatter(unknown, beats, same) == 0     # no beat known: nothing to judge


def test_a_phrase_in_its_place_scatters_nothing_and_a_query_without_bars_is_never_charged():
    iois = [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0] * 2
    ref = _tune(PHRASE, iois)
    packed = pack_melodies([ref])
    query = _tune(PHRASE, iois)
    assert rescore.metric_scatter(query, features(query), packed, np.array([0]))[0] == 0
    unbarred = _tune(PHRASE, iois, bars=False)
    assert rescore.metric_scatter(unbarred, features(unbarred), packed, np.array([0]))[0] == 0


def test_the_same_notes_at_scattered_places_in_the_bar_are_charged():
    iois = [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0] * 2
    ref = _tune(PHRASE, iois)
    packed = pack_melodies([ref])
    # the same pitches and length ratios, but every note's beat rewritten at random places in the bar:
    # stage 1's path pairs them all, and their offsets scatter
    rng = np.random.default_rng(3)
    query = _tune(PHRASE, iois)
    query.notes["beat"] = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], len(PHRASE))
    path = align.local_align(features(query), features(ref)).pairs
    scattered = rescore.metric_scatter(query, features(query), packed, np.array([0]))[0]
    assert scattered == rescore.offset_scatter(query.notes["beat"], ref.notes["beat"], path)
    assert scattered >= len(path) // 2


def test_the_local_views_combined_score_pays_the_charge(monkeypatch):
    # longer than a passage (rescore.PASSAGE_MAX steps), so `melody compare` judges the pair's local view
    song = PHRASE + [p + 2 for p in PHRASE]
    iois = [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0] * 4
    ref = _tune(song, iois)
    query = _tune(song, iois)
    query.notes["beat"] = np.random.default_rng(3).choice([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], len(song))
    fq, fr = features(query), features(ref)
    assert pair.scatter_points(query, ref, fq, fr) > 0
    charged = pair.best_evalue(query, ref, fq, fr, 30.0)
    monkeypatch.setattr(rescore, "METRIC_SCATTER", 0.0)
    assert pair.scatter_points(query, ref, fq, fr) == 0.0
    assert charged > pair.best_evalue(query, ref, fq, fr, 30.0)



def test_a_recordings_guessed_beats_are_never_charged():
    # a recording's beats are tracked (`melody.audio.rhythm`), its grid often a subdivision off: its pairs may
    # scatter though it copies the phrase; neither the search nor `melody compare` charges them
    iois = [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0] * 2
    ref = _tune(PHRASE, iois)
    packed = pack_melodies([ref])
    take = _tune(PHRASE, iois)
    take.notes["beat"] = np.random.default_rng(3).choice([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], len(PHRASE))
    assert rescore.metric_scatter(take, features(take), packed, np.array([0]))[0] > 0
    take.meta["kind"] = "audio"
    assert not rescore.scatter_charged(take)
    assert rescore.metric_scatter(take, features(take), packed, np.array([0]))[0] == 0
    assert pair.scatter_points(take, ref, features(take), features(ref)) == 0.0


def test_a_swung_or_played_phrase_keeps_one_offset_and_an_eighth_apart_is_another():
    beats = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    same = [(i, i) for i in range(8)]
    swung = np.where(beats % 1 == 0.5, beats + 0.17, beats)          # off-beat eighths a triplet late
    assert rescore.offset_scatter(swung, beats, same) == 0
    played = beats + np.random.default_rng(4).uniform(-0.04, 0.04, 8)   # a player's jitter
    assert rescore.offset_scatter(played, beats, same) == 0
    halves = np.where(np.arange(8) < 5, beats, beats + 0.5)            # three pairs an eighth off the rest
    assert rescore.offset_scatter(halves, beats, same) == 3
