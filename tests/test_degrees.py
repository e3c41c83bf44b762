"""A melody restated on another degree of its key (a diatonic sequence; a harmony line in parallel thirds or
sixths taken as the lead): stage 2 also reads both melodies in scale degrees of their estimated keys
(`melody.align.pitch.scale_degrees`, P_DEGREE), where such a restatement is a constant shift."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from melody import Catalog, align
from melody.align import pitch as PK
from melody.notes import NOTE_DTYPE, Melody

from test_pitch_align import FAST, kernel_pitch_score, melodies, ref_pitch_score

MAJOR = [0, 2, 4, 5, 7, 9, 11]
TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65, 64, 62, 60, 59, 60, 64, 62, 60]
TUNE_LENGTHS = [1, .5, .5, 1, 1, .5, .5, 1, 2, 1, 1, 1.5, .5, 1, 1, .5, .5, .5, .5, 1, 2, 1, 1, 2]


def moved(pitch: int, steps: int) -> int:
    """A C-major pitch moved `steps` scale degrees (the test's own arithmetic, not the library's)."""
    degree = MAJOR.index(pitch % 12) + steps
    return 12 * (pitch // 12 + degree // 7) + MAJOR[degree % 7]


def melody_of(pitches, lengths) -> Melody:
    notes = np.zeros(len(pitches), dtype=NOTE_DTYPE)
    notes["pitch"] = pitches
    notes["onset"] = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    notes["duration"] = lengths
    return Melody(notes, title="t")


@pytest.mark.parametrize("steps", [1, 2, 3, 5, -2])
def test_a_diatonic_transposition_is_one_constant_in_scale_degrees(steps):
    pitch = np.array(TUNE, dtype=np.int64)
    shifted = np.array([moved(p, steps) for p in TUNE], dtype=np.int64)
    out_a, out_b = np.empty_like(pitch), np.empty_like(pitch)
    PK.scale_degrees(pitch, 0, 0, out_a)
    PK.scale_degrees(shifted, 0, 0, out_b)
    assert len(set(out_b - out_a)) == 1                 # one constant in degrees
    assert len(set(np.diff(shifted) - np.diff(pitch))) > 1   # where the semitones change at some steps only


def test_a_note_off_the_scale_counts_as_the_degree_it_is_altered_from():
    out = np.empty(4, dtype=np.int64)
    PK.scale_degrees(np.array([61, 66, 59, 47]), 0, 0, out)      # C#, F#, B below, B an octave lower
    assert list(out) == [35, 38, 34, 27]
    PK.scale_degrees(np.array([71, 68]), 0, 1, out[:2])       # C minor: a raised leading note is the seventh
    assert list(out[:2]) == [41, 40]


@FAST
@given(melodies(), st.lists(melodies(), min_size=1, max_size=3))
def test_pitch_kernel_with_the_degree_reading_matches_reference(qm, refs):
    p = align.DEFAULT_PITCH_PARAMS.copy()
    p[PK.P_DEGREE] = 4.0
    got = kernel_pitch_score(qm, refs, p)
    want = [ref_pitch_score(qm, r, p) for r in refs]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """60 tunes that walk C major's degrees, and TUNE (the last row)."""
    rng = np.random.default_rng(1)

    def walk(n):
        d = np.cumsum(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3], size=n)).clip(-6, 10)
        return [12 * (5 + x // 7) + MAJOR[x % 7] for x in d], list(rng.choice([0.5, 0.5, 1.0, 0.25, 1.5], size=n))

    others = [walk(40) for _ in range(60)]
    cat = Catalog.create(str(tmp_path_factory.mktemp("degrees") / "cat"))
    ids = cat.add([melody_of(*w) for w in others] + [melody_of(TUNE, TUNE_LENGTHS)])
    return cat, ids, walk(8)


@pytest.mark.parametrize("steps", [2, 5, -3])
def test_a_phrase_restated_on_another_degree_of_its_key_is_found_and_significant(catalog, steps):
    cat, ids, (context, context_lengths) = catalog
    query = melody_of(context + [moved(p, steps) for p in TUNE[2:22]], context_lengths + TUNE_LENGTHS[2:22])
    matches = cat.search(query, top=3)
    assert matches[0].id == ids[-1]
    assert matches[0].evalue < 0.005      # main (chromatic only): 0.065 at 2 degrees, 0.014 at 5; -3 passed there too


def test_a_tune_sung_in_the_other_mode_keeps_its_degrees():
    """Frère Jacques in F major against the same notes in F minor: in scale degrees the same tune, so with
    the degree reading alone (no mode change) it scores its copy less P_DEGREE."""
    major = np.array([65, 67, 69, 65, 65, 67, 69, 65, 69, 70, 72, 69, 70, 72, 72, 74, 72, 70, 69, 65])
    minor = np.where(np.isin(major % 12, (9, 2)), major - 1, major)
    p = align.DEFAULT_PITCH_PARAMS.copy()
    p[PK.P_MODE], p[PK.P_DEGREE] = 0.0, 6.0
    lengths = [1.0] * len(major)
    copy = kernel_pitch_score(melody_of(minor, lengths), [melody_of(minor, lengths)], p)[0]
    changed = kernel_pitch_score(melody_of(minor, lengths), [melody_of(major, lengths)], p)[0]
    assert changed >= copy - 6.0 - 1e-9


def test_a_recording_is_scored_without_the_degree_reading_a_score_with_it():
    """A transcription's semitone errors are not a restated phrase: a recording's stage 2 reads no degrees
    (`rescore.recording_params`, through `played_params`, which search and compare both take), a score's does,
    and a recording read as played keeps its graded lengths."""
    from melody.score import pair, rescore
    from melody.represent import features
    score = melody_of(TUNE, TUNE_LENGTHS)
    take = Melody(score.notes.copy(), meta={"kind": "audio"})
    played = Melody(score.notes.copy(), meta={"kind": "audio", "played": True})
    assert rescore.played_params(score) == (None, None)
    assert rescore.played_params(take)[1][PK.P_DEGREE] == 0.0
    params, pitch_params = rescore.played_params(played)
    assert pitch_params[PK.P_DEGREE] == 0.0 and pitch_params[PK.P_DUR_FREE] == rescore.PLAYED_DUR_FREE
    assert params[align.K.DUR_FREE] == rescore.PLAYED_DUR_FREE
    # a phrase restated two degrees up: the score gains from the degree reading, the recording does not
    up = melody_of([moved(p, 2) for p in TUNE], TUNE_LENGTHS)
    as_take = Melody(up.notes.copy(), meta={"kind": "audio"})
    off = np.array(align.DEFAULT_PITCH_PARAMS)
    off[PK.P_DEGREE] = 0.0
    fs, fr = features(up), features(score)
    assert pair.pitch_score(up, score, fs, fr) > pair.pitch_score(up, score, fs, fr, off)
    assert pair.pitch_score(as_take, score, fs, fr) == pair.pitch_score(up, score, fs, fr, off)
    recorded_ref = Melody(score.notes.copy(), meta={"kind": "audio"})   # a score compared with a recording
    assert pair.pitch_score(up, recorded_ref, fs, fr) == pair.pitch_score(up, score, fs, fr, off)
    assert rescore.recording_params(up, recorded=True)[PK.P_DEGREE] == 0.0      # a catalog holding recordings
