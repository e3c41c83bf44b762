"""A melody played swung: the long-short pairs read off its onsets (`melody.swing`), and a search that finds
the written tune in a swung performance (MIDI written as played)."""
from __future__ import annotations

import numpy as np
import pytest

from _songs import random_lead
from melody.catalog import Catalog
from melody.io import load
from melody.notes import Melody, make_notes
from melody.swing import MIN_PAIRS, SWING_RATIOS, straightened, swung_pairs
from melody.testing import Track, write_midi

# a tune in 4/4 moving in eighths and quarters: (pitch, start, length) in quarter notes
TUNE = [(67, 0, 1), (69, 1, .5), (71, 1.5, .5), (72, 2, .5), (71, 2.5, .5), (69, 3, 1), (67, 4, .5), (65, 4.5, .5),
        (64, 5, .5), (65, 5.5, .5), (67, 6, 2), (72, 8, .5), (71, 8.5, .5), (69, 9, .5), (67, 9.5, .5),
        (65, 10, 1), (64, 11, .5), (62, 11.5, .5), (60, 12, 1), (64, 13, .5), (67, 13.5, .5), (72, 14, 2)]


def played(tune, ratio=0.0, spq=0.5, jitter=0.0, rng=None):
    """The tune's (pitch, onset s, duration s), each beat's eighths long-short at `ratio` (0: as written),
    each onset moved by a normal `jitter` (s)."""
    long = ratio / (1 + ratio) if ratio else 0.5
    out = []
    for p, s, d in tune:
        on = np.floor(s) + (long if s % 1 else 0.0)
        end = np.floor(s + d) + (long if (s + d) % 1 else 0.0)
        shift = rng.normal(0.0, jitter) if jitter else 0.0
        out.append((p, on * spq + shift, (end - on) * spq))
    return out


def reference_pairs(onset, ratios=SWING_RATIOS, tolerance=0.2):
    """Plain reading of `swung_pairs` without known beats: consecutive intervals (a, b) with a / b in
    `ratios` whose sum is within `tolerance` of the median sum, taken from the left without overlap."""
    ioi = [onset[k + 1] - onset[k] for k in range(len(onset) - 1)]
    cand = [k for k in range(len(ioi) - 1) if ratios[0] <= ioi[k] / ioi[k + 1] <= ratios[1]]
    sums = sorted(ioi[k] + ioi[k + 1] for k in cand)
    beat = float(np.median(sums)) if sums else 0.0
    pairs, free = [], 0
    for k in cand:
        if k >= free and abs((ioi[k] + ioi[k + 1]) / beat - 1) <= tolerance:
            pairs.append(k)
            free = k + 2
    return pairs


def as_melody(notes, bars=False):
    pitch = [p for p, _, _ in notes]
    m = make_notes([s for _, s, _ in notes], [d for _, _, d in notes], pitch)
    if bars:   # the written places in the bar (4/4), as a score gives them
        m["bar"] = [int(s // 4) + 1 for _, s, _ in TUNE]
        m["beat"] = [s % 4 for _, s, _ in TUNE]
    return Melody(m, title="tune", source="tune")


@pytest.mark.parametrize("ratio", [2.0, 3.0])
def test_a_swing_ratio_is_read_off_the_onsets(ratio):
    got = swung_pairs(as_melody(played(TUNE, ratio)).notes)
    assert got is not None and got[0] == pytest.approx(ratio, rel=1e-6)
    onset = [s for _, s, _ in played(TUNE, ratio)]
    assert got[1].tolist() == reference_pairs(onset) and len(got[1]) >= MIN_PAIRS


def test_straight_eighths_are_not_swung():
    assert swung_pairs(as_melody(played(TUNE)).notes) is None


def test_straightened_plays_the_pairs_even_again(rng):
    swung = as_melody(played(TUNE, 2.0, jitter=0.005, rng=rng))
    even = straightened(swung)
    written = np.array([s for _, s, _ in played(TUNE)])
    assert np.abs(even.notes["onset"] - written).max() < 0.02
    assert (np.diff(even.notes["onset"]) > 0).all() and (even.notes["duration"] > 0).all()
    assert straightened(as_melody(played(TUNE))) is None


def test_a_score_with_bars_is_read_as_written_but_a_performance_without_them_may_be_swung():
    # long-short figures on every beat of a score with bars (a dotted rhythm, a shuffle, a compound meter's
    # quarter-and-eighth): what the score writes, held by the catalog as such
    for ratio in (2.0, 3.0):
        assert swung_pairs(as_melody(played(TUNE, ratio), bars=True).notes) is None
        assert straightened(as_melody(played(TUNE, ratio), bars=True)) is None
        assert swung_pairs(as_melody(played(TUNE, ratio)).notes) is not None


def test_a_swung_performance_finds_its_written_tune(tmp_path, rng):
    """A player swings the tune (2:1), a little late or early on each note, at another tempo and key, in a
    MIDI file whose tempo is not the beat's: the written tune ranks first, and far more significantly than
    the same performance read only as played."""
    import melody.catalog as catalog_module

    written = Melody(make_notes(*zip(*[(s * 0.5, d * 0.5, p) for p, s, d in TUNE])), title="tune", source="tune")
    refs = [written] + [Melody(make_notes(*zip(*[(s * 0.5, d * 0.5, p) for p, s, d in random_lead(rng, 30)])),
                               title=f"other{k}", source=f"other{k}") for k in range(150)]
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.add(refs)
    take = [(p + 2, s + 0.2, d * 0.9) for p, s, d in played(TUNE, 2.0, spq=0.42, jitter=0.008, rng=rng)]
    path = write_midi(tmp_path / "take.mid", [Track("Sax", notes=[(p, s / 0.5, d / 0.5, 90) for p, s, d in take])],
                      bpm=120)
    query = load(str(path))[0]
    found = cat.search(query, top=3)
    assert found[0].title == "tune"
    saved = catalog_module.straightened
    try:
        catalog_module.straightened = lambda melody: None       # read as played only
        as_played = {m.title: m.evalue for m in cat.search(query, top=10)}
    finally:
        catalog_module.straightened = saved
    assert found[0].evalue < as_played.get("tune", np.inf) / 5
