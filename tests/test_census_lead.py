"""scripts/census_lead.py: note matching as mir_eval matches notes, and the kinds of lead-extraction errors."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import census_lead  # noqa: E402


def notes(*rows):
    return np.array(rows, dtype="f8").reshape(-1, 3)       # (onset, duration, pitch)


def test_match_is_one_to_one_within_50_ms_and_same_pitch():
    truth = notes((0.0, 0.5, 60), (0.5, 0.5, 62), (1.0, 0.5, 64))
    line = notes((0.04, 0.5, 60), (0.49, 0.5, 62), (0.5, 0.5, 62), (1.0, 0.5, 65))
    t_of, l_of = census_lead.match(truth, line)
    assert list(t_of) == [0, 2, -1]                     # the closer of two candidates; a wrong pitch is no match
    assert list(l_of) == [0, -1, 1, -1]
    assert list(census_lead.match(notes((0.0, 0.5, 60)), notes((0.06, 0.5, 60)))[0]) == [-1]


def test_error_kinds():
    # the melody: 72 held two beats, a rest, 67, 64 struck with a chord, 76, 74
    truth = notes((0.0, 2.0, 72), (3.0, 1.0, 67), (4.0, 1.0, 64), (5.0, 1.0, 76), (6.0, 1.0, 74))
    part = notes((0.0, 2.0, 72), (0.0, 1.0, 48),
                 (1.0, 0.9, 72), (1.0, 0.9, 67), (1.0, 0.9, 64),     # a chord restrikes the held 72
                 (2.0, 0.9, 60), (2.0, 0.9, 55), (2.0, 0.9, 52),     # a chord in the melody's rest
                 (3.0, 1.0, 67), (3.0, 0.9, 69), (3.0, 0.9, 65), (3.0, 0.9, 60),
                 (4.0, 1.0, 64), (4.0, 0.9, 60), (4.0, 0.9, 55), (4.0, 0.9, 52),
                 (5.0, 1.0, 64))
    line = notes((0.0, 0.8, 72), (1.0, 1.0, 72), (2.0, 1.0, 60), (3.0, 1.0, 69), (5.0, 1.0, 64))
    c = census_lead.classify(truth, line, part)
    assert c["hits"] == 1 and c["truth"] == 5 and c["line"] == 5
    assert c["extra: melody holds"] == 1                 # the restruck 72
    assert c["extra: melody rests"] == 1                 # the rest's chord top
    assert c["extra: instead of the melody: chord tone above"] == 1    # 69 over the melody's 67
    assert c["extra: instead of the melody: octave"] == 1             # 64 for the melody's 76
    assert c["missed: under a chord"] == 1               # 64 struck with its chord, the line took nothing
    assert c["missed: not in the file"] == 1             # 74: the part has no such note
    assert c["held note cut in the file"] == 0           # the part holds 72 for two beats: cut by the line
    assert c["held note cut by the line"] == 1
    p, r, f = census_lead.prf(c)
    assert (p, r) == (1 / 5, 1 / 5) and abs(f - 2 * p * r / (p + r)) < 1e-12
