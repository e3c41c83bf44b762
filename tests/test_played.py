"""A played MIDI part read against its own local tempo (`melody.io.played`)."""
import numpy as np
import pytest

from melody.io import load
from melody.io.played import grid_reading, local_beats, quantised, read_view, reading_meta
from melody.notes import Melody, make_notes
from melody.testing import Track, write_midi

# a tune's rhythm in beats: quarters, eighths, a dotted figure, sixteenths, a half note
RHYTHM = [1, 0.5, 0.5, 1, 0.75, 0.25, 1, 0.5, 0.5, 0.25, 0.25, 0.5, 2, 1, 0.5, 0.5, 1, 1, 0.5, 0.5, 2]
PITCH = [62, 64, 66, 67, 69, 71, 69, 67, 66, 64, 62, 64, 66, 67, 69, 67, 66, 64, 62, 61, 62]


def _played_seconds(beats, period=0.55, drift=0.08):
    """Written beats -> seconds at a tempo that slows by `drift` over the tune."""
    beats = np.asarray(beats, dtype="f8")
    length = beats.max() + 1
    return period * (beats + 0.5 * drift * beats ** 2 / length)


def _written():
    onsets = np.concatenate([[0.0], np.cumsum(RHYTHM[:-1])])
    return onsets, np.array(RHYTHM, dtype="f8")


def test_local_beats_keeps_a_steady_drift_and_pulls_back_one_late_beat():
    steady = 0.5 * np.arange(16) + 0.003 * np.arange(16) ** 2 / 16     # slowing a little
    assert np.allclose(local_beats(steady), steady, atol=0.004)
    late = steady.copy()
    late[8] += 0.06                                                     # the tracker caught a late onset
    assert abs(local_beats(late)[8] - steady[8]) < 0.03
    assert np.all(np.diff(local_beats(late)) > 0)


def _grid_reading_reference(pos, sub):
    """Plain reading: remove the median lag from the nearest 1/sub, round each onset to the grid."""
    raw = [p - round(p * sub) / sub for p in pos]
    lag = sorted(raw)[len(raw) // 2] if len(raw) % 2 else 0.5 * sum(sorted(raw)[len(raw) // 2 - 1:len(raw) // 2 + 1])
    return [round((p - lag) * sub) / sub + lag for p in pos]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_reading_agrees_with_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    onsets, _ = _written()
    for sub, written in ((4, onsets), (3, np.cumsum(rng.choice([1 / 3, 2 / 3, 1.0], 24)))):
        pos = written + rng.normal(0, 0.03, len(written)) + 0.02
        grid, got_sub = grid_reading(pos)
        assert got_sub == sub and np.allclose(grid, _grid_reading_reference(list(pos), sub))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_jittered_performance_is_read_as_its_written_rhythm(seed):
    rng = np.random.default_rng(seed)
    onsets, lengths = _written()
    beats = _played_seconds(np.arange(0, onsets[-1] + 3))
    played = _played_seconds(onsets) + rng.normal(0, 0.025, len(onsets))
    line = make_notes(played, 0.9 * np.diff(np.append(played, played[-1] + 1.0)), 60 + np.arange(len(onsets)) % 7)
    read = quantised(line, beats)
    assert len(read) == len(line) and list(read["pitch"]) == list(line["pitch"])
    written_ioi = np.diff(_played_seconds(onsets))         # the written rhythm at the played tempo
    error_read = np.abs(np.log2(np.diff(read["onset"]) / written_ioi))
    error_played = np.abs(np.log2(np.diff(played) / written_ioi))
    assert np.median(error_read) < 0.02 < 0.05 < np.median(error_played)
    assert np.mean(error_read > 0.1) <= 0.5 * np.mean(error_played > 0.1)
    moved = np.abs(read["onset"] - _played_seconds(onsets))
    assert np.median(moved) < 0.02 and moved.max() < 0.15       # the part keeps its time line (a step: 0.14 s)


def test_two_notes_on_one_grid_point_stay_two_in_order():
    beats = 0.5 * np.arange(12)
    played = np.array([0.0, 0.5, 0.53, 1.0, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5])    # a quick grace note at 0.53
    read = quantised(make_notes(played, np.full(10, 0.2), np.arange(60, 70)), beats)
    assert len(read) == 10 and np.all(np.diff(read["onset"]) > 0)
    assert read["onset"][2] == pytest.approx(0.5 + 0.0625, abs=0.01)        # half a grid step after its neighbour


def test_a_line_without_beats_is_left_as_played_and_a_free_rhythm_moves_at_most_half_a_step():
    rng = np.random.default_rng(4)
    played = np.cumsum(rng.uniform(0.13, 0.61, 30))
    line = make_notes(played, np.full(30, 0.1), np.full(30, 60))
    assert quantised(line, np.zeros(0)) is line and quantised(line, 0.5 * np.arange(3)) is line
    read = quantised(line, 0.5 * np.arange(30))
    assert len(read) == 30 and np.all(np.diff(read["onset"]) > 0)
    assert np.abs(read["onset"] - played).max() <= 0.5 * 0.5 / 3 + 1e-9    # half the coarser grid's step


def _band_take(tmp_path, seed=5):
    """The tune played with drums and a bass on the beat, slowing, the lead jittered, in a file at 120 bpm:
    (path, the lead's onsets as played, the written onsets at the played tempo)."""
    rng = np.random.default_rng(seed)
    onsets, lengths = _written()
    as_played = _played_seconds(onsets) + 0.2 + rng.normal(0, 0.025, len(onsets))
    lead = [(p, s / 0.5, 0.9 * (_played_seconds(o + d) - _played_seconds(o)) / 0.5)
            for p, s, o, d in zip(PITCH, as_played, onsets, lengths)]
    beats = np.arange(0, onsets[-1] + lengths[-1])
    beat_s = _played_seconds(beats) + 0.2 + rng.normal(0, 0.01, len(beats))
    drums = Track("Drums", is_drum=True, notes=[(36 if b % 2 == 0 else 38, s / 0.5, 0.1) for b, s in zip(beats, beat_s)])
    bass = Track("Bass", program=33, notes=[(38, s / 0.5, 0.4) for s in beat_s])
    path = write_midi(tmp_path / "played.mid", [Track("Melody", notes=lead), bass, drums], bpm=120)
    return path, as_played, _played_seconds(onsets)


def test_a_played_file_with_a_band_is_also_read_on_its_tracked_beat(tmp_path):
    path, as_played, written = _band_take(tmp_path)
    (melody,) = load(path)
    assert melody.meta.get("played") is True and len(melody.notes) == len(written)
    assert np.allclose(melody.notes["onset"], as_played, atol=2e-3)          # the notes as played ...
    read = read_view(melody)                                                  # ... and as read
    assert read is not None and list(read.notes["pitch"]) == list(melody.notes["pitch"])
    written_ioi = np.diff(written)
    error_read = np.abs(np.log2(np.diff(read.notes["onset"]) / written_ioi))
    error_played = np.abs(np.log2(np.diff(as_played) / written_ioi))
    assert np.median(error_read) < 0.5 * np.median(error_played)
    assert np.mean(error_read > 0.1) < np.mean(error_played > 0.1)


def test_read_view_only_where_the_reader_gave_one():
    notes = make_notes(np.arange(6) * 0.5, np.full(6, 0.4), np.arange(60, 66))
    assert read_view(Melody(notes, "written")) is None
    assert read_view(Melody(notes, "odd", meta={"read_onsets": [0.0, 0.5]})) is None      # not its notes
    read = read_view(Melody(notes, "played", meta={"played": True, "read_onsets": [0, 0.5, 1, 1.5, 2, 2.6]}))
    assert np.allclose(read.notes["onset"], [0, 0.5, 1, 1.5, 2, 2.6]) and read.meta["played"] is True


def _rhythm_catalog(tmp_path):
    """The tune and 150 variants of its rhythm (two of its lengths swapped): only its rhythm tells it apart."""
    from melody.catalog import Catalog

    rng = np.random.default_rng(6)
    onsets, lengths = _written()
    written = Melody(make_notes(onsets * 0.5, lengths * 0.5, PITCH), title="tune", source="tune")
    others = []
    for k in range(150):
        rhythm = lengths.copy()
        for i in rng.choice(np.flatnonzero(lengths[:-2] != lengths[1:-1]), 2, replace=False):
            rhythm[i], rhythm[i + 1] = rhythm[i + 1], rhythm[i]
        starts = np.concatenate([[0.0], np.cumsum(rhythm[:-1])])
        others.append(Melody(make_notes(starts * 0.5, rhythm * 0.5, PITCH), title=f"other{k}", source=f"other{k}"))
    cat = Catalog.create(str(tmp_path / "cat"))
    cat.add([written] + others)
    return cat


def test_a_played_take_finds_its_written_tune_more_surely_read_both_ways(tmp_path, monkeypatch):
    import melody.catalog as catalog_module
    from melody.score import rescore

    # the catalog is the tune and 150 variants of its rhythm, its own null sample: how surely the take finds the
    # tune is how far it stands out from them, so they stay in the null (not left out as the query's relatives)
    monkeypatch.setattr(rescore, "NULL_RELATIVE_Z", np.inf)
    cat = _rhythm_catalog(tmp_path)
    path, _, _ = _band_take(tmp_path)
    (query,) = load(path)
    both = {m.title: m.evalue for m in cat.search(query, top=5)}
    saved = catalog_module.read_view
    try:
        catalog_module.read_view = lambda melody: None       # as played only (before this reader)
        as_played = {m.title: m.evalue for m in cat.search(query, top=5)}
    finally:
        catalog_module.read_view = saved
    assert min(both, key=both.get) == "tune"
    assert both["tune"] < as_played.get("tune", np.inf) / 3      # 0.0019 against 0.017


def test_a_recording_off_any_grid_is_searched_as_read_too(tmp_path, monkeypatch):
    """A recording's notes that fit no beat grid carry their reading against the local tempo (`reading_meta`,
    as `melody.audio` gives it) and the search ranks that reading as well, beside the recording's own two
    (as transcribed, repeats merged): the written tune stands out more surely than from the notes as played."""
    from melody.score import rescore

    monkeypatch.setattr(rescore, "NULL_RELATIVE_Z", np.inf)        # as above: the variants stay in the null
    cat = _rhythm_catalog(tmp_path)
    rng = np.random.default_rng(5)
    onsets, lengths = _written()
    played = _played_seconds(onsets) + 0.2 + rng.normal(0, 0.025, len(onsets))
    notes = make_notes(played, 0.9 * np.diff(np.append(played, played[-1] + 1.0)), PITCH)
    beats = _played_seconds(np.arange(0, onsets[-1] + 3)) + 0.2 + rng.normal(0, 0.01, int(onsets[-1]) + 3)
    timing = {"kind": "audio", "played": True}
    read = Melody(notes, "take", meta={**timing, **reading_meta(notes, beats)})
    assert "read_onsets" in read.meta
    both = {m.title: m.evalue for m in cat.search(read, top=5)}
    as_played = {m.title: m.evalue for m in cat.search(Melody(notes, "take", meta=timing), top=5)}
    assert min(both, key=both.get) == "tune"
    assert both["tune"] < as_played.get("tune", np.inf) / 3


def test_reading_meta_only_where_a_beat_is_tracked():
    notes = make_notes(0.5 * np.arange(8), np.full(8, 0.4), np.arange(60, 68))
    assert reading_meta(notes, np.zeros(0)) == {} and reading_meta(notes[:2], 0.5 * np.arange(8)) == {}
    assert np.allclose(reading_meta(notes, 0.5 * np.arange(10))["read_onsets"], notes["onset"])


def test_a_recordings_line_is_read_only_where_its_tracked_tempo_gives_a_beat():
    """Twice the tempo is another grid for a line that has a beat, not a beat for one that has none."""
    from melody.io.played import closest_reading_meta

    notes = make_notes(0.5 * np.arange(8), np.full(8, 0.4), np.arange(60, 68))
    assert closest_reading_meta(notes, [np.zeros(0), 0.25 * np.arange(20)]) == {}
    assert closest_reading_meta(notes[:2], [0.5 * np.arange(8)]) == {} and closest_reading_meta(notes, []) == {}
    assert np.allclose(closest_reading_meta(notes, [0.5 * np.arange(10), 0.25 * np.arange(20)])["read_onsets"],
                       notes["onset"])


def _jittered_eighths(seed, jitter=0.035, period=0.45):
    """A line in eighths, quarters and dotted quarters (beats 0.5-1.5), played at `period` s a beat with onsets
    jittered by `jitter` s (s.d.): (the line, its written onsets in seconds)."""
    rng = np.random.default_rng(seed)
    written = period * np.concatenate([[0.0], np.cumsum(rng.choice([0.5, 0.5, 0.5, 1.0, 1.5], 40))])
    played = np.maximum.accumulate(0.3 + written + rng.normal(0, jitter, len(written)))
    return make_notes(played, np.full(len(played), 0.15), 60 + np.arange(len(played)) % 5), 0.3 + written


def _misread(onsets, written):
    """The share of steps whose inter-onset ratio (one interval to the next) is more than 0.2 octave off the
    written one: what the search compares."""
    ratio = np.diff(np.log2(np.diff(onsets)))
    return float(np.mean(np.abs(ratio - np.diff(np.log2(np.diff(written)))) > 0.2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_recordings_line_is_read_on_the_grid_its_onsets_keep_to(seed):
    """Eighths jittered by 35 ms (a sixth of an eighth at 133 BPM) lie as far from a grid of sixteenths as
    onsets at random: a line read on the grid judged in its own steps (`closest_reading_meta`) reads them as
    eighths, where the finest grid that fits in beats (`quantised`, the MIDI reader's) misreads some as
    sixteenths. Tracked at the half note or at the quarter, the beat reads them alike."""
    from melody.io.played import closest_reading_meta

    line, written = _jittered_eighths(seed)
    quarter = 0.3 + 0.45 * np.arange(-1, 50)
    read = np.array(closest_reading_meta(line, [quarter])["read_onsets"])
    assert _misread(read, written) <= 0.03 < _misread(quantised(line, quarter)["onset"], written)
    assert _misread(line["onset"], written) > 0.25
    from_half = np.array(closest_reading_meta(line, [quarter[::2]])["read_onsets"])
    assert _misread(from_half, written) <= 0.03
