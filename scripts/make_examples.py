"""Write the example songs in examples/ and their ground truth (examples/truth.json).

Each example is a new song that borrows one phrase from a tune in reference_tracks/ (transposed, at another
tempo) between original material generated here, or borrows nothing. Deterministic: running it again
rewrites identical files.

Truth conventions: ``reference_notes`` is a half-open [first, last) range of 0-based note indices into the
reference tune as music21 parses it (rests skipped, tied notes merged); ``query_notes`` is the same for the
lead part of the example; ``query_span_s`` is [onset of the first borrowed note, notated end of the last]
in seconds.

    .venv/bin/python scripts/make_examples.py
"""
from __future__ import annotations

import json
import math
import random
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from melody.testing import Track, accompany, piano_arrangement, write_midi  # noqa: E402

REFS = ROOT / "reference_tracks"
OUT = ROOT / "examples"

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
RHYTHMS = {  # one bar of note lengths in beats
    4.0: [[1, 1, 1, 1], [2, 1, 1], [1, 1, 2], [1.5, 0.5, 1, 1], [0.5, 0.5, 1, 1, 1], [1, 0.5, 0.5, 1, 1],
          [1, 1, 1, 0.5, 0.5], [3, 1], [1, 1, 1.5, 0.5]],
    3.0: [[1, 1, 1], [2, 1], [1.5, 0.5, 1], [0.5, 0.5, 1, 1], [1, 0.5, 0.5, 1], [1, 2]],
}
LOW, HIGH = 64, 84  # register of the original material (E4-C6), above most of the accompaniment
CADENCE = {4.0: [[2, 2], [1, 1, 2], [3]], 3.0: [[2], [1, 1], [3]]}  # a phrase's last bar (then rest)

# name, reference, note range, semitones, bpm, lead (name, program) or "piano", seed, format
SONGS = [
    ("morning_commute", "ode_to_joy", (0, 15), 3, 92, ("Melody", 73), 11, "mid"),
    ("harbor_lights", "greensleeves", (0, 13), -5, 76, ("Trumpet", 56), 12, "mid"),
    ("parlour_waltz", "minuet_in_g", (0, 14), 3, 104, "piano", 13, "mid"),
    ("neon_run", "korobeiniki", (19, 31), 5, 150, ("Synth Lead", 81), 14, "mid"),
    ("hogmanay_sketch", "auld_lang_syne", (0, 14), -2, 80, ("Melody", 73), 15, "musicxml"),
    ("original_tune", None, None, 0, 112, ("Lead Vocal", 53), 16, "mid"),
]


def load_reference(path):
    """Notes of an ABC tune: (midi, start_beats, dur_beats, position_in_bar); key (pc, minor); bar length."""
    import music21
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = music21.converter.parse(str(path))
    part = (score.parts[0] if score.parts else score).stripTies()
    notes = []
    for m in part.getElementsByClass("Measure"):
        for n in m.notes:
            p = n.pitches[-1]
            notes.append((int(p.midi), float(m.offset + n.offset), float(n.quarterLength),
                          float(n.offset + m.paddingLeft)))
    notes.sort(key=lambda x: x[1])
    key = part.recurse().getElementsByClass("KeySignature").first()
    text = path.read_text()
    mode = re.search(r"^K:\s*[A-G][#b]?(\w*)", text, re.M).group(1).lower()
    minor = mode.startswith("m") and not mode.startswith("maj") and not mode.startswith("mix")
    tonic = key.asKey("minor" if minor else "major").tonic.pitchClass
    ts = part.recurse().getElementsByClass("TimeSignature").first()
    return notes, (tonic, minor), float(ts.barDuration.quarterLength), ts.ratioString


def compose(rng, key_pc, minor, n_bars, bpb, start=0.0, final=0):
    """Original material: 4-bar phrases, mostly stepwise, each ending on a long note of degree `final`."""
    scale = MINOR if minor else MAJOR
    tonic = 60 + key_pc

    def pitch(d):
        octave, idx = divmod(d, 7)
        return tonic + 12 * octave + scale[idx]

    out, degree, motif = [], rng.choice([0, 2, 4]), None
    for bar in range(n_bars):
        last_of_phrase = bar % 4 == 3 or bar == n_bars - 1
        if last_of_phrase:
            lengths = rng.choice(CADENCE[bpb])
        elif motif and bar % 2 == 1 and rng.random() < 0.5:
            lengths = motif  # answer the previous bar's rhythm
        else:
            lengths = rng.choice(RHYTHMS[bpb])
        if bar % 2 == 0:
            motif = lengths
        t = start + bar * bpb
        for k, length in enumerate(lengths):
            if last_of_phrase and k == len(lengths) - 1:
                degree = final + 7 * round((degree - final) / 7)
            else:
                step = rng.choices([-2, -1, 1, 2, 3, -3, 0], [2, 5, 5, 2, 1, 1, 1])[0]
                if not LOW <= pitch(degree + step) <= HIGH:
                    step = -step
                degree += step
            while pitch(degree) < LOW:
                degree += 7
            while pitch(degree) > HIGH:
                degree -= 7
            out.append((pitch(degree), t, length * 0.95, rng.randint(84, 100)))
            t += length
    return out


def interval_grams(pitches, n=6):
    d = [b - a for a, b in zip(pitches, pitches[1:])]
    return {tuple(d[k:k + n]) for k in range(len(d) - n + 1)}


def make_song(name, ref_name, note_range, semitones, bpm, lead_kind, seed, fmt, ref_grams):
    rng = random.Random(seed)
    if ref_name:
        ref, (ref_pc, minor), bpb, ts = load_reference(REFS / f"{ref_name}.abc")
        key_pc = (ref_pc + semitones) % 12
    else:
        ref, bpb, ts, key_pc, minor = None, 4.0, "4/4", 7, False
    time_signature = tuple(int(x) for x in ts.split("/"))
    intro_bars, outro_bars = (8, 4) if ref_name else (8, 8)
    for _ in range(100):  # reject original material that happens to share a melodic run with a reference
        before = compose(rng, key_pc, minor, intro_bars, bpb, final=4)
        if ref_name:
            i0, i1 = note_range
            phrase = ref[i0:i1]
            start = intro_bars * bpb + phrase[0][3] - (bpb if phrase[0][3] >= bpb / 2 else 0)
            shift = semitones
            mean = sum(p for p, *_ in phrase) / len(phrase)
            shift += 12 * round((72 - (mean + shift)) / 12)
            borrowed = [(p + shift, start + s - phrase[0][1], d * 0.95, rng.randint(84, 100))
                        for p, s, d, _ in phrase]
            before = [n for n in before if n[1] < start - 0.25]
            before = [(p, s, min(d, start - s), v) for p, s, d, v in before]
            end = start + phrase[-1][1] + phrase[-1][2] - phrase[0][1]  # notated end of the last note
            after_start = math.ceil(end / bpb - 1e-9) * bpb
        else:
            borrowed, after_start = [], intro_bars * bpb
        after = compose(rng, key_pc, minor, outro_bars, bpb, start=after_start, final=0)
        if not (interval_grams([p for p, *_ in before]) | interval_grams([p for p, *_ in after])) & ref_grams:
            break
    else:
        raise RuntimeError(f"{name}: could not generate material unlike every reference")
    lead = before + borrowed + after
    truth = {"reference": f"{ref_name}.abc" if ref_name else None, "bpm": bpm, "time_signature": ts,
             "key_pc": key_pc, "minor": minor}
    if ref_name:
        q0 = len(before)
        truth.update(reference_notes=[note_range[0], note_range[1]], query_notes=[q0, q0 + len(borrowed)],
                     transpose_semitones=shift,
                     query_span_s=[round(borrowed[0][1] * 60 / bpm, 4), round(end * 60 / bpm, 4)])
    path = OUT / f"{name}.{fmt}"
    if lead_kind == "piano":
        truth["lead_track"] = "Piano"
        tracks = [piano_arrangement(lead, key_pc, minor, bpb, seed)]
        write_midi(path, tracks, bpm, time_signature, title=name.replace("_", " ").title())
    elif fmt == "musicxml":
        truth["lead_track"] = lead_kind[0]
        write_musicxml(path, lead, accompany(lead, key_pc, minor, bpb, seed)[0], bpm, ts, key_pc, minor, name)
    else:
        truth["lead_track"] = lead_kind[0]
        tracks = accompany(lead, key_pc, minor, bpb, seed)
        tracks.insert(rng.randrange(len(tracks) + 1), Track(lead_kind[0], lead_kind[1], lead))
        write_midi(path, tracks, bpm, time_signature, title=name.replace("_", " ").title())
    return path.name, truth


def write_musicxml(path, lead, chords, bpm, ts, key_pc, minor, name):
    """A two-part score: the melody and a piano part of block chords."""
    import music21
    score = music21.stream.Score(id="score")
    score.metadata = music21.metadata.Metadata(title=name.replace("_", " ").title(), composer="melody examples")
    for part_id, part_name, notes in (("P1", "Melody", lead), ("P2", "Piano", chords.notes)):
        part = music21.stream.Part(id=part_id)
        part.partName = part_name
        instrument = music21.instrument.Flute() if part_id == "P1" else music21.instrument.Piano()
        instrument.instrumentId, instrument.partId = "I" + part_id, part_id  # fixed ids: identical reruns
        part.insert(0, instrument)
        part.insert(0, music21.meter.TimeSignature(ts))
        part.insert(0, music21.key.Key(music21.pitch.Pitch(key_pc).name, "minor" if minor else "major"))
        if part_id == "P1":
            part.insert(0, music21.tempo.MetronomeMark(number=bpm))
        groups = {}
        for p, s, d, _ in notes:
            written = max(round(d / 0.95 * 4) / 4, 0.25)  # undo the 0.95 articulation gap of the MIDI notes
            groups.setdefault((s, written), []).append(p)
        for (s, d), pitches in sorted(groups.items()):
            el = music21.note.Note(pitches[0]) if len(pitches) == 1 else music21.chord.Chord(sorted(pitches))
            el.quarterLength = d
            part.insert(s, el)
        part = part.makeNotation()
        part.id = part_id
        score.insert(0, part)
    xml = music21.musicxml.m21ToXml.GeneralObjectExporter(score).parse().decode("utf-8")
    xml = re.sub(r"<encoding-date>[^<]*</encoding-date>", "<encoding-date>2024-01-01</encoding-date>", xml)
    path.write_text(xml, encoding="utf-8")


AUDIO_EXAMPLES = {"morning_commute.mid": "morning_commute_band.mp3"}   # a recording of an example, for the demo


def render_audio_examples(truth: dict) -> None:
    """Render the MIDI examples named in AUDIO_EXAMPLES to mp3 with FluidSynth (skipped without it)."""
    from melody.testing import render_audio, soundfont
    if not soundfont():
        print("FluidSynth / fluid-soundfont-gm missing: audio examples not rendered")
        return
    import tempfile

    import soundfile
    for mid, mp3 in AUDIO_EXAMPLES.items():
        with tempfile.TemporaryDirectory() as tmp:
            wav = render_audio(str(OUT / mid), f"{tmp}/band.wav", sample_rate=22050)
            data, sr = soundfile.read(wav)
        soundfile.write(OUT / mp3, data.mean(axis=1), sr, compression_level=0.7, bitrate_mode="VARIABLE")
        truth[mp3] = dict(truth[mid], audio_of=mid)
        print(mp3, "rendered from", mid)


def main():
    OUT.mkdir(exist_ok=True)
    ref_grams = set()
    for abc in sorted(REFS.glob("*.abc")):
        ref_grams |= interval_grams([p for p, *_ in load_reference(abc)[0]])
    truth = {}
    for song in SONGS:
        file_name, info = make_song(*song, ref_grams)
        truth[file_name] = info
        print(file_name, info)
    render_audio_examples(truth)
    (OUT / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
