"""scripts/census_rank.py: the cause rules of a lost first rank, and the share of a path inside the phrase."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import census_rank as census  # noqa: E402


def test_share_inside_the_phrase():
    assert census.share_inside((2.0, 4.0), (0.0, 10.0)) == pytest.approx(1.0)
    assert census.share_inside((8.0, 12.0), (0.0, 10.0)) == pytest.approx(0.5)
    assert census.share_inside((11.0, 12.0), (0.0, 10.0)) == 0.0
    assert census.share_inside((3.0, 3.0), (0.0, 10.0)) == 0.0          # an empty path is inside nothing


def test_each_miss_gets_the_first_cause_that_holds():
    # outside stage 1's candidates: never re-scored, whatever else holds
    assert census.cause(177, 95.8, 86.6, 0.4, 5, 12) == "stage 1"
    # at least the winner's combined score: lost on the longer reference's search space
    assert census.cause(3, 107.1, 106.3, 1.0, 7, 13) == "length"
    # the winner's path lies in the foreign context
    assert census.cause(7, 72.1, 90.6, 0.0, 10, 11) == "context"
    assert census.cause(7, 72.1, 90.6, census.CONTEXT_OVERLAP, 10, 11) == "weak"
    # through phrase and context, with twice the aligned notes: a loose alignment
    assert census.cause(5, 102.7, 121.5, 0.16, 12, 28) == "loose"
    assert census.cause(5, 102.7, 121.5, 0.16, 12, 17) == "weak"
    assert census.cause(101, 1.0, 2.0, 1.0, 1, 1, candidates=200) == "weak"


def test_causes_are_the_documented_ones():
    assert set(census.CAUSES) == {"stage 1", "length", "context", "loose", "weak"}


def test_groups_of_categories():
    assert census.group_of("pitch/s2") == "10-20 notes"
    assert census.group_of("mixed/s3") == "10-20 notes"
    assert census.group_of("extend/s2") == "extend"
    assert census.group_of("dispute/hook-reset") == "dispute/hook"
    assert census.group_of("perform/all") == "perform"
