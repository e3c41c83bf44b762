"""Basic Pitch's evidence inside the salience tracker (melody.audio.fuse): the key-evidence kernel against a
plain-Python reference, the note term against an octave-low takeover, the onset activation splitting a
repeat, and the fused transcription of a recording."""
import numpy as np
import pytest
import soundfile

from melody.audio import extract, fuse, kernels, neural, segment, transcribe
from melody.audio.extract import PitchTrack
from melody.audio.segment import notes_from_track
from melody.notes import make_notes
from melody.report.audio import render


def _reference_key_evidence(act, act_times, low_key, cand_midi, hop_s, before_s, after_s):
    out = np.zeros(cand_midi.shape)
    for t in range(cand_midi.shape[0]):
        near = [i for i in range(len(act_times)) if t * hop_s - before_s <= act_times[i] <= t * hop_s + after_s]
        for k in range(cand_midi.shape[1]):
            m = cand_midi[t, k]
            if np.isnan(m):
                continue
            key = int(np.floor(m + 0.5)) - low_key
            if 0 <= key < act.shape[1] and near:
                out[t, k] = max(0.0, max(act[i, key] for i in near))
    return out


def test_key_evidence_matches_a_plain_reference(rng):
    act = rng.random((60, 88)).astype("f4")
    act_times = np.sort(rng.uniform(0, 0.7, 60))
    cand = rng.uniform(15, 115, (80, 4))
    cand[rng.random(cand.shape) < 0.2] = np.nan
    for before, after in [(0.03, 0.06), (0.0, 0.0), (0.02, 0.005)]:
        got = np.empty(cand.shape)
        kernels.key_evidence(act, act_times, 21, cand, 0.01, before, after, got)
        np.testing.assert_allclose(got, _reference_key_evidence(act, act_times, 21, cand, 0.01, before, after),
                                   atol=1e-7)
    assert np.all(fuse.key_evidence(act[:0], act_times[:0], cand, 0.03, 0.06) == 0)


def test_a_key_that_sounds_no_note_loses_the_path():
    # the lower octave is the louder sum (accompaniment + the lead's even partials), but only the lead's key
    # sounds as a note: without the note term the path takes the octave below
    n = 200
    cand_midi = np.tile(np.array([[60.0, 72.0]], "f4"), (n, 1))
    cand_sal = np.tile(np.array([[1.0, 0.8]], "f4"), (n, 1))
    rms = np.full(n, 0.1)
    note = np.tile(np.array([[0.02, 0.95]]), (n, 1))
    assert np.nanmedian(extract.track(cand_midi, cand_sal, rms).midi) == 60.0
    assert np.nanmedian(extract.track(cand_midi, cand_sal, rms, cand_note=note).midi) == 72.0


def test_a_note_the_network_does_not_see_stays_voiced():
    # a quiet second note whose key the network misses (a sung low note): the note term reorders a frame's
    # candidates but leaves its strongest emission, so the voicing is the salience's
    n = 200
    cand_midi = np.column_stack([np.r_[np.full(100, 64.0), np.full(100, 50.0)], np.full(n, np.nan)]).astype("f4")
    cand_sal = np.column_stack([np.r_[np.full(100, 1.0), np.full(100, 0.25)], np.zeros(n)]).astype("f4")
    note = np.column_stack([np.r_[np.ones(100), np.zeros(100)], np.zeros(n)])
    got = extract.track(cand_midi, cand_sal, np.full(n, 0.1), cand_note=note).midi
    assert np.isfinite(got[120:190]).all() and np.nanmedian(got[120:190]) == 50.0


def test_a_quiet_note_the_network_hears_alone_is_voiced():
    # a soft second note (a voice in a room, 17 dB under the first): below the voicing threshold on its own
    # salience; voiced where the network hears its key and no other, and only there
    n = 300
    cand_midi = np.column_stack([np.r_[np.full(150, 64.0), np.full(150, 67.0)], np.full(n, np.nan)]).astype("f4")
    cand_sal = np.column_stack([np.r_[np.full(150, 1.0), np.full(150, 0.14)], np.zeros(n)]).astype("f4")
    rms = np.full(n, 0.1)
    assert np.isnan(extract.track(cand_midi, cand_sal, rms).midi[170:280]).all()
    heard = np.r_[np.zeros(150, bool), np.ones(150, bool)]
    got = extract.track(cand_midi, cand_sal, rms, heard=heard).midi
    assert np.isfinite(got[170:280]).all() and np.nanmedian(got[170:280]) == 67.0
    assert np.nanmedian(got[:140]) == 64.0


def test_a_soft_note_24_db_under_the_loudest_is_voiced_where_the_network_hears_it_alone():
    # a note sung lightly after a loud one (a short note in a run, a low note in a weak register): its salience
    # is 0.06 of the loud note's, under half the voicing threshold; voiced where the network hears its key
    # alone, and a frame of the same salience that the network hears nothing in (a breath) stays unvoiced
    n = 400
    cand_midi = np.column_stack([np.r_[np.full(150, 64.0), np.full(150, 62.0), np.full(100, 60.0)],
                                 np.full(n, np.nan)]).astype("f4")
    cand_sal = np.column_stack([np.r_[np.full(150, 1.0), np.full(250, 0.06)], np.zeros(n)]).astype("f4")
    heard = np.r_[np.zeros(150, bool), np.ones(150, bool), np.zeros(100, bool)]
    got = extract.track(cand_midi, cand_sal, np.full(n, 0.1), heard=heard).midi
    assert np.isfinite(got[165:290]).all() and np.nanmedian(got[165:290]) == 62.0
    assert np.isnan(got[320:]).all()


def test_heard_alone_needs_one_sounding_key_among_the_candidates():
    times = np.arange(40) / neural.FPS                       # activation frames, ~0.46 s
    note = np.zeros((40, 88), "f4")
    note[:, 67 - neural.MIDI_LOW] = 0.8                       # the candidate's key sounds throughout
    note[20:, 60 - neural.MIDI_LOW] = 0.6                     # from frame 20 two more keys sound
    note[20:, 64 - neural.MIDI_LOW] = 0.6
    n = int(times[-1] / 0.01)
    cand = np.full((n, 2), np.nan)
    cand[:, 0] = 67.2
    cand[30:, 0] = 69.0                                       # from 0.3 s the candidate is another key
    got = fuse.heard_alone(note, times, cand)
    t20 = 20 / neural.FPS                                     # the second key starts sounding
    frames = np.arange(n) * 0.01
    assert got[frames < t20 - 0.01].all()
    assert not got[frames > t20 + 0.01].any()                 # three keys, or a key no candidate has
    assert not fuse.heard_alone(note[:0], times[:0], cand).any()
    quiet = note.copy()
    quiet[:, 67 - neural.MIDI_LOW] = fuse.HEARD_NOTE - 0.01   # below the network's frame threshold
    assert not fuse.heard_alone(quiet[:20], times[:20], cand[:15]).any()
    ensemble = note.copy()
    ensemble[5:, 60 - neural.MIDI_LOW] = 0.6                  # two keys in 35 of 40 frames: not a single line
    assert not fuse.heard_alone(ensemble, times, cand).any()


def test_heard_alone_takes_a_short_note_over_the_tail_of_the_one_before():
    times = np.arange(40) / neural.FPS
    note = np.zeros((40, 88), "f4")
    note[:25, 64 - neural.MIDI_LOW] = 0.7                     # the note before, still heard to frame 25
    note[20:, 67 - neural.MIDI_LOW] = 0.7                     # the short note, from frame 20
    n = int(times[-1] / 0.01)
    cand = np.full((n, 1), np.nan)
    frames = np.arange(n) * 0.01
    cand[frames >= 20 / neural.FPS, 0] = 67.1                 # the candidate is the new note's
    got = fuse.heard_alone(note, times, cand)
    both = (frames > 20 / neural.FPS + 0.01) & (frames < 25 / neural.FPS - 0.01)
    assert both.any() and got[both].all()                     # two keys, one of them the candidate's
    assert got[frames > 25 / neural.FPS + 0.01].all()


def _held(n=100, pitch=67.0):
    """A pitch track of one held note (frames of 10 ms) and an empty onset activation at 86 frames/s."""
    tr = PitchTrack(np.full(n, pitch, "f4"), np.full(n, 0.8, "f4"), np.full(n, 0.1), 0.01)
    times = np.arange(int(n * 0.01 * neural.FPS)) / neural.FPS
    return tr, np.zeros((len(times), 88), "f4"), times


def test_an_onset_at_the_notes_own_key_splits_a_repeat():
    tr, onset, times = _held()
    assert len(notes_from_track(tr)) == 1
    i = int(np.argmin(np.abs(times - 0.52)))
    onset[i - 1:i + 2, 67 - neural.MIDI_LOW] = [0.3, 0.9, 0.4]
    tr.key_onset, tr.key_onset_times = onset, times
    got = notes_from_track(tr)
    assert len(got) == 2 and got["onset"][1] == pytest.approx(times[i] - segment.KEY_ONSET_LAG_S, abs=0.011)
    onset[i - 1:i + 2, 69 - neural.MIDI_LOW] = onset[i - 1:i + 2, 67 - neural.MIDI_LOW]   # another key: no
    onset[i - 1:i + 2, 67 - neural.MIDI_LOW] = 0
    assert len(notes_from_track(tr)) == 1


def _skipped_note(t_on=0.52, held=67, key=69):
    """A held note at ``held`` (1 s) whose path never leaves it, while the network hears ``key`` start at
    ``t_on`` and sound to the end (the held key stops there)."""
    tr, onset, times = _held(pitch=held)
    note = np.zeros_like(onset)
    i = int(np.argmin(np.abs(times - t_on)))
    note[:i, held - neural.MIDI_LOW] = 0.9
    note[i:, key - neural.MIDI_LOW] = 0.8
    onset[i - 1:i + 2, key - neural.MIDI_LOW] = [0.3, 0.9, 0.4]
    tr.key_onset, tr.key_onset_times, tr.key_note = onset, times, note
    return tr, i


def test_an_onset_at_another_key_that_then_sounds_alone_starts_a_note():
    tr, i = _skipped_note()
    got = notes_from_track(tr)
    assert list(np.round(got["pitch"])) == [67, 69]
    assert got["onset"][1] == pytest.approx(tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S, abs=0.011)
    assert got["onset"][1] + got["duration"][1] == pytest.approx(1.0, abs=0.011)
    # the performer's tuning stays: a held note 30 cents flat starts its new note 30 cents flat
    tr.midi[:] = 66.7
    assert list(notes_from_track(tr)["pitch"]) == pytest.approx([66.7, 68.7], abs=0.01)


def test_no_note_starts_where_the_network_hears_other_keys_or_no_note():
    tr, i = _skipped_note()
    tr.key_note[i:, 48 - neural.MIDI_LOW] = 0.7        # a chord tone struck and sounding with it: a mix's chord
    tr.key_onset[i - 1:i + 2, 48 - neural.MIDI_LOW] = [0.3, 0.8, 0.4]
    assert len(notes_from_track(tr)) == 1
    tr, i = _skipped_note()
    tr.key_note[i:, 69 - neural.MIDI_LOW] = 0.2        # an onset whose key does not then sound
    assert len(notes_from_track(tr)) == 1
    tr, i = _skipped_note(key=79)                      # a leap beyond INSERT_MAX_STEP (an overtone)
    assert len(notes_from_track(tr)) == 1
    tr, i = _skipped_note(key=66)                      # a singer at 66.6, between keys 66 and 67
    tr.midi[:] = 66.6
    assert len(notes_from_track(tr)) == 1
    tr, i = _skipped_note(t_on=0.025)                  # too close to the note's start
    assert len(notes_from_track(tr)) == 1
    tr, i = _skipped_note()
    tr.key_note = None                                 # no note activation (salience-only track)
    assert len(notes_from_track(tr)) == 1


def test_in_a_mix_a_new_key_above_the_held_note_that_the_salience_hears_starts_a_note():
    # chords sound under the lead (a third key): only a key above the held note, with a candidate of its own
    for key, cand, expected in [(69, 0.6, [67, 69]), (69, 0.2, [67]), (65, 0.6, [67])]:
        tr, i = _skipped_note(key=key)
        tr.key_note[:, 55 - neural.MIDI_LOW] = 0.8
        tr.key_onset[i - 1:i + 2, 55 - neural.MIDI_LOW] = [0.3, 0.8, 0.4]   # struck with it (not alone)
        n = len(tr.midi)
        tr.cand_midi = np.column_stack([np.full(n, 67.0), np.full(n, 55.0), np.full(n, float(key))]).astype("f4")
        tr.cand_salience = np.column_stack([np.full(n, 1.0), np.full(n, 0.7), np.full(n, cand)]).astype("f4")
        assert list(np.round(notes_from_track(tr)["pitch"])) == expected


def _struck_under_ringing(key=65, t_on=0.52):
    """A held note at 67 whose key rings on past ``t_on`` (a sustain pedal), with an earlier note at 60 still
    ringing around it, while the network hears ``key`` struck alone at ``t_on`` and then sounding. Most frames
    hear one key: a single line."""
    tr, i = _skipped_note(t_on=t_on, key=key)
    tr.key_note[:i + 10, 67 - neural.MIDI_LOW] = 0.9
    tr.key_note[i - 10:i + 10, 60 - neural.MIDI_LOW] = 0.7
    assert fuse.single_line(tr.key_note)
    return tr, i


def test_a_key_struck_alone_under_a_ringing_note_takes_the_line():
    tr, i = _struck_under_ringing()
    got = notes_from_track(tr)
    assert list(np.round(got["pitch"])) == [67, 65]
    assert got["onset"][1] == pytest.approx(tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S, abs=0.011)
    assert got["onset"][1] + got["duration"][1] == pytest.approx(1.0, abs=0.011)
    # where the segmenter already started a note at the strike, at the ringing note's pitch, it is re-pitched
    c = int(round((tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S) / tr.hop_s))
    spans = segment._struck_alone([[0, c, 67.0], [c + 2, 100, 67.0]], tr)
    assert spans == [[0, c, 67.0], [c + 2, 100, 65.0]]
    tr.midi[:] = 66.7                                  # the performer's tuning stays
    assert list(notes_from_track(tr)["pitch"]) == pytest.approx([66.7, 64.7], abs=0.01)
    # a strike at a key the line already has there (a short note at 69 before the strike's next note) is that
    # note's own: the next note keeps its pitch
    tr, i = _struck_under_ringing(key=69)
    c = int(round((tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S) / tr.hop_s))
    spans = [[0, c - 1, 67.0], [c - 1, c + 4, 69.0], [c + 4, 100, 67.0]]
    assert segment._struck_alone([list(s) for s in spans], tr) == spans
    # where the path reaches the struck key itself a little late, that note starts at the strike
    tr, i = _struck_under_ringing()
    c = int(round((tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S) / tr.hop_s))
    spans = segment._struck_alone([[0, c + 8, 67.0], [c + 8, 100, 65.0]], tr)
    assert spans == [[0, c, 67.0], [c, 100, 65.0]]


def test_a_ringing_note_keeps_the_line_where_the_strike_is_not_a_lone_new_key():
    tr, i = _struck_under_ringing()
    tr.key_onset[i - 1:i + 2, 67 - neural.MIDI_LOW] = [0.3, 0.8, 0.4]    # the held key is struck too: a repeat
    assert list(np.round(notes_from_track(tr)["pitch"])) == [67, 67]
    tr, i = _struck_under_ringing()
    tr.key_onset[i - 1:i + 2, 60 - neural.MIDI_LOW] = [0.3, 0.8, 0.4]    # a chord: two keys struck at once
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_under_ringing()
    tr.key_note[i:, 65 - neural.MIDI_LOW] = 0.2                         # the struck key does not then sound
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_under_ringing(key=77)                               # beyond INSERT_MAX_STEP
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_under_ringing()
    tr.key_onset[i - 1:i + 2, 65 - neural.MIDI_LOW] = [0.3, 0.6, 0.4]    # under KEY_ONSET_SPLIT
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_under_ringing()
    tr.key_note[:, 67 - neural.MIDI_LOW] = 0.0          # the held key was not sounding before: nothing rings (a
    assert len(notes_from_track(tr)) == 1               # singer's scoop starts on the key below the note)
    tr, i = _struck_under_ringing()
    tr.key_note[:, 48 - neural.MIDI_LOW] = 0.8                          # a band under the line: not a single line,
    tr.key_onset[i - 1:i + 2, 48 - neural.MIDI_LOW] = [0.3, 0.8, 0.4]    # and it strikes with the key (not alone:
    assert len(notes_from_track(tr)) == 1                               # `_struck_over_band`)
    tr, i = _struck_under_ringing()
    tr.key_note[i:i + 30, 72 - neural.MIDI_LOW] = 0.8                   # a key that starts sounding with it: a chord
    assert len(notes_from_track(tr)) == 1


def _struck_over_band(key=69, peak=0.9, chord=None):
    """A held note at 67 (1 s) over a band whose chord tone at 47 sounds throughout (an ensemble), while the
    network hears ``key`` struck at 0.52 s with an onset peak of ``peak`` and hardly hears it as a note after (a
    short ornament); ``chord``: another key struck with it."""
    tr, i = _skipped_note(key=key)
    tr.key_note[i:, key - neural.MIDI_LOW] = 0.3
    tr.key_note[:, 47 - neural.MIDI_LOW] = 0.8      # not a twelfth (48) under the note, which started with it:
                                                     # that is the note's own 3rd partial (`fuse.own_partials`)
    tr.key_onset[i - 1:i + 2, key - neural.MIDI_LOW] = [0.3, peak, 0.4]
    if chord is not None:
        tr.key_onset[i - 1:i + 2, chord - neural.MIDI_LOW] = [0.3, 0.8, 0.4]
    assert not fuse.single_line(tr.key_note)
    return tr, i


def test_in_a_mix_a_key_struck_alone_over_the_band_starts_a_note():
    tr, i = _struck_over_band()
    got = notes_from_track(tr)
    assert list(np.round(got["pitch"])) == [67, 69]
    assert got["onset"][1] == pytest.approx(tr.key_onset_times[i] - segment.KEY_ONSET_LAG_S, abs=0.011)
    tr, i = _struck_over_band(key=65)                  # below the held note as well (a turn, a run down)
    assert list(np.round(notes_from_track(tr)["pitch"])) == [67, 65]
    tr.midi[:] = 66.7                                  # the performer's tuning stays
    assert list(notes_from_track(tr)["pitch"]) == pytest.approx([66.7, 64.7], abs=0.01)


def test_in_a_mix_the_held_notes_own_strike_just_before_is_no_chord():
    # an ornament 40 ms after the held note is struck (again): the held key's onset is no other key struck with it
    tr, i = _struck_over_band()
    tr.key_onset[i - 4:i - 1, 67 - neural.MIDI_LOW] = [0.3, 0.9, 0.4]
    assert list(np.round(notes_from_track(tr)["pitch"])) == [67, 67, 69]


def test_in_a_mix_a_key_struck_with_others_or_softly_or_far_away_starts_no_note():
    tr, i = _struck_over_band(chord=55)                # the band's chord: another key struck with it
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_over_band(peak=0.5)                # under OVER_BAND_ONSET
    assert len(notes_from_track(tr)) == 1
    tr, i = _struck_over_band(key=79)                  # beyond INSERT_MAX_STEP
    assert len(notes_from_track(tr)) == 1


def test_fused_transcription_of_a_solo_line(tmp_path, rng):
    pitch = np.clip(64 + np.cumsum(rng.integers(-4, 5, 16)), 52, 84)
    pitch[1:][pitch[1:] == pitch[:-1]] += 2
    notes = make_notes(0.2 + 0.3 * np.arange(16), np.full(16, 0.27), pitch)
    path = tmp_path / "solo.wav"
    soundfile.write(path, render(notes, 22050), 22050)
    m, tr = transcribe(path, method="fused")
    assert m.meta["method"] == "fused" and tr.key_onset is not None
    hits = sum(any(abs(e["onset"] - r["onset"]) <= 0.05 and abs(e["pitch"] - r["pitch"]) < 0.5 for e in m.notes)
               for r in notes)
    assert hits >= 14 and len(m.notes) <= 17


def _reference_heard_overtones(cand_note, cand_midi):
    """Plain loops: candidate j is an overtone where its key is unheard and some candidate i of its frame with
    a heard key lies 2-6 harmonics below it (within OVERTONE_CENTS)."""
    n, k = cand_midi.shape
    out = np.zeros((n, k), dtype=bool)
    for t in range(n):
        for j in range(k):
            if not np.isfinite(cand_midi[t, j]) or cand_note[t, j] >= fuse.HEARD_NOTE:
                continue
            for i in range(k):
                if not np.isfinite(cand_midi[t, i]) or cand_note[t, i] < fuse.HEARD_NOTE:
                    continue
                gap = 100.0 * (cand_midi[t, j] - cand_midi[t, i])
                if any(abs(gap - 1200.0 * np.log2(h)) <= fuse.OVERTONE_CENTS for h in fuse.OVERTONE_HARMONICS):
                    out[t, j] = True
    return out


def test_heard_overtones_matches_a_plain_reference(rng):
    base = rng.uniform(40, 60, size=(300, 1))
    steps = 12 * np.log2(rng.integers(1, 8, size=(300, 5))) + rng.normal(0, 0.2, size=(300, 5))
    cand_midi = np.hstack([base, base + steps])
    cand_midi[rng.random(cand_midi.shape) < 0.1] = np.nan
    cand_note = rng.uniform(0, 1, size=cand_midi.shape)
    got = fuse.heard_overtones(cand_note, cand_midi)
    assert got.any() and (got == _reference_heard_overtones(cand_note, cand_midi)).all()


def test_a_low_voice_in_a_room_keeps_its_fundamental_not_its_fifth_partial():
    # measured on a sung take put in a room (p0015, 0.8 s): the sung note (45.2) and its 5th partial (73.1, in
    # the first formant) are candidates; the partial's sum is the louder and the network, in the reverb, hears
    # the sung key at only 0.66: the note term alone leaves the path on the partial
    n = 200
    cand_midi = np.tile(np.array([[73.1, 61.1, 45.2]], "f4"), (n, 1))
    cand_sal = np.tile(np.array([[0.43, 0.34, 0.28]], "f4"), (n, 1))
    note = np.tile(np.array([[0.29, 0.11, 0.66]]), (n, 1))
    rms = np.full(n, 0.1)
    assert np.nanmedian(extract.track(cand_midi, cand_sal, rms, cand_note=note).midi) == pytest.approx(73.1)
    overtone = fuse.heard_overtones(note, cand_midi)
    assert overtone[:, 0].all() and not overtone[:, 1:].any()     # 5x above 45.2; 61.1 is 2.5x: no partial
    got = extract.track(cand_midi, cand_sal, rms, cand_note=note, overtone=overtone)
    assert np.nanmedian(got.midi) == pytest.approx(45.2)
    assert np.isfinite(got.midi).all()                        # the voicing is the salience's, as before
    # the partial heard as a note of its own (a sung high note over a low one's tail) is no overtone
    heard_high = note.copy()
    heard_high[:, 0] = 0.8
    assert not fuse.heard_overtones(heard_high, cand_midi)[:, 0].any()


def test_single_line_is_what_heard_alone_is_gated_by():
    note = np.zeros((100, 88), "f4")
    note[:, 40] = 0.7                                          # one key at a time: a single line
    assert fuse.single_line(note)
    note[:70, [20, 27, 31]] = 0.6                              # mostly a chord under it: an ensemble
    assert not fuse.single_line(note)
    note[:, [20, 27, 31]] = 0
    note[::2, 40] = 0
    note[::2, 43] = 0.7                                        # two keys at a time, a third apart, half the time
    note[:, 40] = 0.7
    assert fuse.single_line(note)
    note[::4, 43] = 0
    note[::4, 15] = 0.6                                        # a bass more than an octave under it, a quarter
    assert not fuse.single_line(note)                          # of the time: a band, though half are one key
    note[::4, 15] = 0
    note[::4, 40 - 19] = 0.6                                   # a key at the line's third partial's distance
    assert fuse.single_line(note)


def _line_with_partials_and_handovers(steps=(0, 2, 4, 5, 7, 5, 4, 2), note_frames=30, ring=6):
    """A line of ``steps`` over key 40, each note ``note_frames`` long, heard with its 3rd and 5th partials as keys
    (a clarinet's, to the network) and its release ringing ``ring`` frames into the next note."""
    note = np.zeros((len(steps) * note_frames + ring, 88), "f4")
    for i, step in enumerate(steps):
        a, key = i * note_frames, 40 + step
        note[a:a + note_frames + ring, key] = 0.8
        note[a + 3:a + note_frames, [key + 19, key + 28]] = 0.5
    return note


def test_a_line_whose_partials_and_releases_the_network_hears_is_a_single_line():
    note = _line_with_partials_and_handovers()
    assert np.mean((note >= fuse.HEARD_NOTE).sum(axis=1) == 1) < fuse.SINGLE_LINE    # one key in few frames
    assert fuse.single_line(note)
    own = fuse.own_partials(note >= fuse.HEARD_NOTE)
    assert not own[:, 40 + 19].any() and (own[:, 40] == (note[:, 40] >= fuse.HEARD_NOTE)).all()   # partials set aside
    assert fuse.one_line_frames(note >= fuse.HEARD_NOTE).all()


def test_a_band_holding_chords_under_a_line_with_partials_is_not_a_single_line():
    note = _line_with_partials_and_handovers()
    note[:, [28, 32, 35]] = 0.6                                # a chord held under every note: a band
    assert not fuse.single_line(note)
    note[:, [28, 32, 35]] = 0
    note[:, 35] = 0.6                                          # one accompanying key held throughout: a band too
    assert not fuse.single_line(note)


def test_a_key_at_a_partials_distance_is_the_notes_own_only_where_it_starts_with_the_note():
    heard = np.zeros((60, 88), dtype=bool)
    heard[:, 40] = True
    heard[2:, 40 + 19] = True                                  # starts with the note, a frame or two late: its 3rd
    assert not fuse.own_partials(heard)[:, 40 + 19].any()
    heard[:, 40 + 19] = False
    heard[30:, 40 + 19] = True                                 # starts on its own, the note held: another part
    assert fuse.own_partials(heard)[30:, 40 + 19].all()
    assert fuse.sounding_since(heard)[45, [40, 40 + 19]].tolist() == [0, 30]


def test_every_recording_heard_as_one_key_at_a_time_often_enough_is_still_a_single_line(rng):
    # the partials and handovers only add frames to a line's count: what one key alone made a line stays one
    for _ in range(40):
        note = np.zeros((120, 88), "f4")
        keys = rng.integers(30, 60, size=120)
        note[np.arange(120), keys] = 0.8
        extra = rng.random(120) < rng.uniform(0.2, 0.7)
        note[np.flatnonzero(extra), np.clip(keys[extra] + rng.integers(-30, 31, extra.sum()), 0, 87)] = 0.6
        heard = note >= fuse.HEARD_NOTE
        count = heard.sum(axis=1)
        one_key_line = (np.mean(count[count > 0] == 1) >= fuse.SINGLE_LINE
                        and np.mean(fuse.under_line(heard)[count > 0]) < fuse.UNDER_LINE)
        assert fuse.single_line(note) or not one_key_line
        assert fuse.one_line_frames(heard)[count == 1].all()


def test_several_keys_count_as_one_line_only_while_a_handover_lasts():
    heard = np.zeros((60, 88), dtype=bool)
    heard[:30, 40] = heard[26:, 42] = True                     # a release 4 frames into the next note
    assert fuse.one_line_frames(heard).all()
    heard[:, 45] = True                                        # a key held through both notes
    assert not fuse.one_line_frames(heard).any()
    assert fuse.run_lengths(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)).tolist() == [2, 2, 0, 1, 0, 0, 3, 3, 3]
    assert fuse.run_lengths(np.zeros(0, bool)).tolist() == []


def test_under_line_is_a_key_more_than_an_octave_under_another_not_at_a_partials_distance():
    heard = np.zeros((6, 88), dtype=bool)
    heard[:, 50] = True
    heard[1, 50 - 12] = True                                   # an octave: a doubling or a partial
    heard[2, 50 - 13] = True
    heard[3, 50 - 19] = True                                   # the 3rd partial's distance
    heard[4, 50 - 26] = True
    heard[5, [49, 51]] = True                                  # close keys: the line's own overlap
    assert fuse.under_line(heard).tolist() == [False, False, True, False, True, False]
    assert not fuse.single_line(np.zeros((50, 88), "f4"))     # nothing heard


def test_octave_line_is_one_key_and_its_octaves_only():
    note = np.zeros((100, 88), "f4")
    note[:, 40] = 0.8
    note[np.arange(100) % 4 != 0, 52] = 0.7                    # its octave partial in most frames
    note[::4, 64] = 0.5                                        # the next octave in some
    assert fuse.octave_line(note) and not fuse.single_line(note)   # octaves that come and go are no partials
    note[:60, 47] = 0.6                                        # a fifth over it in most frames: a band
    assert not fuse.octave_line(note)
    one = np.zeros((100, 88), "f4")
    one[:, 40] = 0.8
    assert not fuse.octave_line(one)                           # never several keys: nothing to say


def _reference_octave_line(note) -> bool:
    """Plain-Python `fuse.octave_line`: of the frames hearing several keys, the share hearing one pitch class."""
    several = octaves = 0
    for row in note:
        keys = [k for k in range(len(row)) if row[k] >= fuse.HEARD_NOTE]
        if len(keys) >= 2:
            several += 1
            octaves += all((k - keys[0]) % 12 == 0 for k in keys)
    return several > 0 and octaves >= fuse.OCTAVE_LINE * several


def test_octave_line_matches_a_plain_reference_and_keeps_a_byte_a_key_per_frame():
    import tracemalloc
    rng = np.random.default_rng(7)
    for _ in range(40):
        note = np.zeros((30, 88), "f4")
        for t in range(30):
            base = int(rng.integers(10, 50))
            note[t, base] = 0.9
            for k in rng.choice([base + 12, base + 24, base + 7, base + 4], size=int(rng.integers(0, 3))):
                note[t, k] = rng.uniform(0.3, 1.0)
        assert fuse.octave_line(note) == _reference_octave_line(note)
    # an hour of activation frames (310,000 x 88) must not need an int64 a key: 0.2 GB here for 100,000 frames
    note = np.zeros((100_000, 88), "f4")
    note[:, 40], note[::2, 52] = 0.8, 0.7
    tracemalloc.start()
    assert fuse.octave_line(note)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * note.shape[0] * note.shape[1]        # a few bools a key per frame, not 8 bytes
