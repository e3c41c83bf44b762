"""melody.testing: the MIDI writer and the arrangers used to build test songs."""
import mido
import pytest

from melody.testing import Track, accompany, estimate_key, piano_arrangement, write_midi

LEAD = [(72, 0, 1), (74, 1, 1), (76, 2, 2), (77, 4, 1), (76, 5, 1), (74, 6, 2), (72, 8, 4)]


def _note_ons(track):
    return [m for m in track if m.type == "note_on" and m.velocity > 0]


def test_write_midi_round_trips(tmp_path):
    path = write_midi(tmp_path / "song.mid", [Track("Melody", 73, LEAD)], bpm=96, time_signature=(3, 4),
                      title="Song")
    mid = mido.MidiFile(path)
    assert mid.type == 1 and mid.ticks_per_beat == 480 and len(mid.tracks) == 2
    tempo = next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(96)
    ts = next(m for m in mid.tracks[0] if m.type == "time_signature")
    assert (ts.numerator, ts.denominator) == (3, 4)
    names = [m.name for t in mid.tracks for m in t if m.type == "track_name"]
    assert names == ["Song", "Melody"]
    ons = _note_ons(mid.tracks[1])
    assert [m.note for m in ons] == [p for p, _, _ in LEAD]
    assert next(m.program for m in mid.tracks[1] if m.type == "program_change") == 73
    assert mid.length == pytest.approx(12 * 60 / 96)


def test_zero_and_negative_length_notes_are_dropped(tmp_path):
    notes = LEAD + [(60, 3, 0), (61, 5, -1), (62, 7, 0.0001)]
    mid = mido.MidiFile(write_midi(tmp_path / "z.mid", [Track("Melody", 0, notes)]))
    assert len(_note_ons(mid.tracks[1])) == len(LEAD)


def test_channels_skip_drums_and_drums_use_channel_10(tmp_path):
    tracks = [Track(f"T{k}", 0, LEAD) for k in range(10)] + [Track("Drums", 0, [(36, 0, 1)], is_drum=True)]
    mid = mido.MidiFile(write_midi(tmp_path / "c.mid", tracks))
    channels = [_note_ons(t)[0].channel for t in mid.tracks[1:]]
    assert channels == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9]


def test_accompany_makes_chords_bass_and_drums():
    chords, bass, drums = accompany(LEAD, key_pc=0, minor=False, beats_per_bar=4, seed=1)
    assert (chords.name, bass.name, drums.name) == ("Chords", "Bass", "Drums")
    assert chords.program in (0, 4) and bass.program == 33 and drums.is_drum
    assert all(48 <= n[0] <= 72 for n in chords.notes)
    assert max(sum(1 for m in chords.notes if m[1] == n[1]) for n in chords.notes) >= 3  # block chords
    assert all(36 <= n[0] < 48 and n[1] % 4 in (0, 2) for n in bass.notes)
    assert {n[0] for n in drums.notes} == {36, 38, 42}
    assert accompany(LEAD, seed=1)[0].notes == chords.notes  # deterministic


def test_piano_arrangement_keeps_the_lead_on_top():
    track = piano_arrangement(LEAD)
    for pitch, start, dur in LEAD:
        sounding = [n[0] for n in track.notes if n[1] <= start < n[1] + n[2]]
        assert max(sounding) == pitch
    assert len(track.notes) > len(LEAD)


def test_estimate_key():
    assert estimate_key(LEAD) == (0, False)
    a_minor = [(69, 0, 2), (72, 2, 1), (76, 3, 1), (71, 4, 1), (68, 5, 1), (69, 6, 2), (64, 8, 2)]
    assert estimate_key(a_minor) == (9, True)
