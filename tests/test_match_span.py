"""Which notes a match reports: the span stops where the aligned notes stop agreeing in pitch
(`melody.score.match.agreeing_ends`), not where the interval alignment's maximum happens to fall."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from melody.api import compare_files
from melody.score.match import agreeing_ends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _reference_ends(offsets):
    """Plain reference: try every (first, last), keep the greatest sum of agreement, then the longest, then
    the earliest."""
    def agree(d):
        d = abs(round(d)) % 12
        d = min(d, 12 - d)
        return 1 if d == 0 else 0 if d <= 2 else -1
    a = [agree(d) for d in offsets]
    spans = [(i, j) for i in range(len(a)) for j in range(i, len(a))]
    return max(spans, key=lambda s: (sum(a[s[0]:s[1] + 1]), s[1] - s[0], -s[0]))


def test_a_trailing_run_of_notes_several_semitones_off_is_not_reported():
    # morning_commute's Ode to Joy: 15 agreeing notes, then 6 aligned notes 4-7 semitones off but for one
    assert agreeing_ends([0] * 15 + [5, 4, 4, 0, 7, 7]) == (0, 14)
    assert agreeing_ends([8, 0, 0, 0, 0, 0]) == (1, 5)                   # a stray first note likewise
    assert agreeing_ends([5, 5, 5, 2, 2, 2, 0, 0]) == (3, 7)             # a far-off start keeps what follows


def test_changed_notes_octaves_and_inner_differences_stay_in_the_span():
    assert agreeing_ends([0] * 8 + [1, -2]) == (0, 9)                   # the other mode, a scale step: near
    assert agreeing_ends([0] * 8 + [12, -12]) == (0, 9)                 # an octave is the same note
    assert agreeing_ends([0, 0, 0, 5, 7, 0, 0, 0]) == (0, 7)            # only the ends move
    assert agreeing_ends([0.3, -0.4, 0.2, 3.4]) == (0, 2)               # a recording's fractional pitches


def test_agreeing_ends_matches_the_plain_reference(rng):
    for _ in range(300):
        offsets = rng.choice([0, 0, 0, 1, -2, 3, 5, -7, 12], size=int(rng.integers(1, 25)))
        assert agreeing_ends(offsets) == _reference_ends(offsets)


@pytest.mark.parametrize("name", ["morning_commute.mid", "harbor_lights.mid"])
def test_an_example_reports_its_borrowed_notes_and_no_more(name):
    truth = json.load(open(os.path.join(ROOT, "examples", "truth.json")))[name]
    result = compare_files(os.path.join(ROOT, "examples", name), os.path.join(ROOT, "reference_tracks", truth["reference"]))
    best = result["passages"][0]
    first, end = truth["query_notes"]        # as make_examples writes it: first note, first note after
    assert best["query_notes"] == [first, end - 1]
    assert best["query_span"][1] == pytest.approx(truth["query_span_s"][1], abs=0.1)
