"""Basic Pitch's activations (melody.audio.neural): the streamed windows equal one pass over the whole
file, and a played note lights its own key."""
import numpy as np

from melody.audio import neural


def _tone(midi, seconds, sr=neural.SR):
    t = np.arange(int(seconds * sr)) / sr
    f = 440.0 * 2 ** ((midi - 69) / 12)
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 1.5)
    return (env * sum(0.5 ** k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(5))).astype("f4") * 0.3


def _song():
    return np.concatenate([_tone(69, 1.2), _tone(72, 1.2), _tone(64, 2.5), np.zeros(3000, "f4")])


def test_streaming_does_not_change_the_activations():
    y = _song()
    one = neural.activations([y])
    odd = neural.activations(np.array_split(y, 7))
    assert one.note.shape == (len(y) // neural.HOP, 88) and one.contour.shape[1] == 264
    for a, b in zip(one, odd):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_each_note_lights_its_own_key_and_onset():
    act = neural.activations([_song()])
    t = act.times()
    for midi, start, end in [(69, 0.0, 1.2), (72, 1.2, 2.4), (64, 2.4, 4.9)]:
        mid = (t > start + 0.2) & (t < end - 0.3)
        assert int(np.argmax(act.note[mid].mean(0))) + neural.MIDI_LOW == midi
        near = (t > start - 0.05) & (t < start + 0.1)
        assert act.onset[near, midi - neural.MIDI_LOW].max() > 0.5
        peak = np.argmax(act.contour[mid].mean(0))
        assert abs(neural.contour_midi()[peak] - midi) <= 0.34


def test_empty_stream_gives_no_frames():
    act = neural.activations([])
    assert act.note.shape == (0, 88)


def test_onsets_do_not_drift_over_a_long_file():
    # a note every 1.5 s for 30 s: the onset peaks keep one lag behind the notes from the first window to the
    # last (the windows once advanced 188 samples less than the frames they kept: 0.15 s late after 30 s)
    keys = [60, 64, 67, 72] * 5
    y = np.concatenate([_tone(k, 1.5) for k in keys])
    act = neural.activations([y])
    lags = []
    for i, k in enumerate(keys):
        start = int(round(i * 1.5 * neural.FPS))
        near = act.onset[max(0, start - 10):start + 20, k - neural.MIDI_LOW]
        lags.append(int(np.argmax(near)) - min(start, 10))
    assert max(lags) - min(lags) <= 1, lags


def test_contour_can_be_left_out():
    y = _song()
    full, lean = neural.activations([y]), neural.activations([y], contour=False)
    assert lean.contour is None
    np.testing.assert_array_equal(full.note, lean.note)
    np.testing.assert_array_equal(full.onset, lean.onset)
