"""Audio in: decode (bounded memory) -> predominant-melody pitch track -> notes -> a Melody.

The result is the same note type every symbolic loader produces, with times in seconds of the audio and
bars unknown, so everything downstream (features, search, significance, reports) is shared.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import MelodyError, NoMelody
from ..io.played import LINE_TEMPO_FACTORS, closest_reading_meta
from ..notes import Melody, tuning_offset
from .decode import SR, AudioStats, blocks
from .extract import MIN_RMS, PitchTrack, candidates, pyin_track, track
from .fuse import single_line
from .neural import MIDI_LOW
from .rhythm import beat_times, line_onset_envelope, pitch_class_profile, snap_to_beats
from .segment import note_activation, note_steadiness, notes_from_track

MIN_SECONDS = 0.5
MIN_VOICED_FRACTION = 0.03
MIN_NOTES = 3                 # fewer stable pitched notes than this is no melody
# A transcribed note counts towards MIN_NOTES only where Basic Pitch hears its key as a note at least this
# surely (mean note activation over the note, `segment.note_activation`). Chosen between the two sides of
# scripts/bench_nomelody.py (BENCHMARKS.md, "Twelfth session: recordings without a melody"): in drum kits, hand
# percussion and hi-hats the third most surely heard "note" reaches 0.45 at most (12 of 13 voiced speech-like
# sounds: 0.36 at most, one 0.55); in every recording with a sung or played line (300 bench_audio renders,
# vocadito, MASTmelody, bass lines) 0.58 at least, except 3-5 s takes in a room (0.45 at least: HEARD_LINE
# below lets them pass). Known miss: a timpani line (0.16-0.19) is refused.
HEARD_NOTE = 0.5
# A count alone lets speech pass once the path reads its fundamental (`fuse.heard_overtones`): Basic Pitch hears
# some of its flat syllables as notes (3-25 of 60-110 "notes" in 12-20 s of voiced speech-like sound; 11 of 13
# draws pass the count), and a longer recording holds more of them. So a recording is also refused as
# speech-like where its notes glide, holding their pitch (`segment.note_steadiness`) for less than STEADY_SHARE
# of their time, while the network hears them, on average over their time, less surely than a heard note
# (mean note activation under HEARD_NOTE). Steadiness does not depend on the path: each partial of a gliding
# voice glides as far in semitones as its fundamental; the activation keeps a line the network hears well from
# being refused for its glides alone. A note's steadiness is read on the track's centre line, so a singer's
# vibrato (a swing that comes back, up to +-1.5 semitones) holds its note and a glide (one way) does not.
# Chosen between the two sides (BENCHMARKS.md, "Seventeenth session: a voice in a room, without letting speech
# pass as a melody", and "Eighteenth session: a singer with a wide vibrato is not speech"): 18 draws of voiced
# speech-like sound (12-60 s, male and female range) at most 0.58 held; 1,003 recordings with a sung or played
# line (bench_sung's takes, bench_audio's solos and rooms, synthetic voices with +-50-150-cent vibrato,
# portamento, drift and trills, bench_nomelody's lines, vocadito, MASTmelody) at least 0.75 held, and the 105 of
# them heard under 0.5 at least 0.77 held. A +-200-cent vibrato, wider than `segment.vibrato` reads as one,
# holds 0.64-0.72 (1 of 26 takes refused).
# Known miss: speech whose syllables glide half as far (0.61-0.72 held) passes where it is heard >= 0.5 or
# held > 0.67 (8 of 12 draws).
STEADY_SHARE = 0.67
# A short take in a room can hold fewer than MIN_NOTES notes the network hears at HEARD_NOTE, though it hears the
# line as a whole: a recording whose notes are heard, on average over their time, at least HEARD_LINE surely (and
# that is not speech-like) is a melody whatever its count. Chosen between the two sides of the recordings that
# miss the count (BENCHMARKS.md, "Eighteenth session, all merged"): drum kits, hand percussion, hi-hats, noise
# with speech and the timpani line 0.10-0.21 (bench_nomelody seeds 0 / 1); bench_sung's 3-5 s room takes with 2
# heard notes 0.38-0.45.
HEARD_LINE = 0.3
CLIPPED_WARNING = 0.01
SILENT_PEAK = 10 ** (-70 / 20)   # a file whose loudest sample is this quiet or quieter is silent


METHODS = ("salience", "pyin", "fused")
LOAD_METHOD = "fused"         # what `load_audio` (melody.io.load, catalogs, the CLI) transcribes with
METHOD_ENV = "MELODY_TRANSCRIBER"   # overrides LOAD_METHOD; set by the CLI's --transcriber, read by its workers too


def transcribe(path: str | os.PathLike, method: str = "fused", snap: bool = True) -> tuple[Melody, PitchTrack]:
    """The melody of an audio file (solo or full mix) as notes, and the pitch track it came from.

    method : "fused" (default: the harmonic-sum predominant melody, for solo lines and mixes, with Basic
        Pitch's note and onset evidence, `melody.audio.fuse`), "salience" (the same without the network,
        ~3x faster) or "pyin" (librosa's monophonic pYIN, slower; kept for comparison).
    snap : move onsets onto the recording's beat grid where it has a steady beat (`melody.audio.rhythm`).

    Raises
    ------
    CorruptFile : undecodable, NaN samples, absurd sample rate.
    NoMelody : too short, silent, or no stable pitched line: fewer than MIN_NOTES notes, counting (fused)
        only those Basic Pitch hears as notes (noise, drums, percussion, speech-like sounds) unless it hears
        the line as a whole (HEARD_LINE), or (fused) notes that glide and are weakly heard (speech:
        STEADY_SHARE, HEARD_NOTE).
    """
    path = os.fspath(path)
    if method not in METHODS:
        raise ValueError(f"unknown transcription method {method!r} (choose from {', '.join(METHODS)})")
    stats = AudioStats(path)
    tr = _pitch_track(path, stats, method)
    voiced = float(np.isfinite(tr.midi).mean()) if len(tr.midi) else 0.0
    notes = notes_from_track(tr)
    activation = note_activation(notes, tr)      # None without the network (salience, pyin): every note counts
    heard = len(notes) if activation is None else int(np.sum(activation >= HEARD_NOTE))
    # without the network every note counts, and nothing is judged speech-like
    steady = 1.0 if activation is None else time_share(notes, note_steadiness(notes, tr))
    heard_time = 1.0 if activation is None else time_share(notes, activation)
    verdict = refusal(voiced, len(notes), heard, steady, heard_time)
    rhythm = {"snapped": False}
    if snap:
        notes, rhythm = snap_track_notes(notes, tr)
    if verdict:
        raise NoMelody(_no_melody(path, len(notes), stats, heard,
                                  (steady, heard_time) if verdict == "speech-like" else None))
    if stats.clipped_fraction > CLIPPED_WARNING:
        stats.warnings.append(f"{100 * stats.clipped_fraction:.1f}% of samples are clipped; "
                              "pitches may be less reliable")
    title = os.path.splitext(os.path.basename(path))[0]
    meta = {"kind": "audio", "method": method,
            "tuning_cents": int(round(100 * tuning_offset(notes["pitch"], notes["duration"]))), "seconds": round(stats.seconds, 3), "sample_rate": stats.rate,
            "channels": stats.channels, "voiced_fraction": round(voiced, 3), "warnings": stats.warnings, **rhythm,
            **timing_meta(rhythm)}
    return Melody(notes, title=title, source=path, meta=meta), tr


def timing_meta(rhythm: dict) -> dict:
    """What the search reads of a recording's timing from what `snap_track_notes` found (``rhythm``):
    {"played": True} where its onsets were not put on a beat grid, else nothing.

    Onsets that fit no grid of the recording's beat (rubato, a tempo that drifts or broadens into a phrase
    end, a player's or singer's onset jitter; or no snapping asked for) keep the performer's timing, as a MIDI
    part read as played does (`melody.io.midi`): the search grades their length ratios rather than matching
    them yes or no (`melody.score.rescore.played_params`). Snapped onsets lie on the grid as a score's do."""
    return {} if rhythm.get("snapped") else {"played": True}


def snap_track_notes(notes: np.ndarray, tr: PitchTrack) -> tuple[np.ndarray, dict]:
    """A recording's notes (from its pitch track ``tr``) snapped to its beat grid as `transcribe` snaps them,
    and what `rhythm.snap_to_beats` found, with `timing_meta` (the query's meta takes it all). A single line
    (`fuse.single_line`: a voice, a solo instrument) has its beat also tracked on its own notes' onsets (a
    voice's flux peaks at its consonants and breaths too), both beats made steady (`rhythm.LINE_BEAT_WIDTH`);
    an ensemble's accompaniment carries the beat in the flux, and its chord changes help place the bar
    (`rhythm.harmonic_change`, from the network's note activation under the path's pitch). The one place that
    decides it, so that scripts which re-read cached pitch tracks (census and benchmark harnesses) snap exactly
    as `transcribe` does."""
    line = tr.key_note is not None and single_line(tr.key_note)
    harmony = None
    if tr.key_note is not None and tr.key_onset_times is not None and not line:
        frames = np.clip(np.round(tr.key_onset_times / tr.hop_s).astype(np.int64), 0, max(len(tr.midi) - 1, 0))
        lead = tr.midi[frames] if len(tr.midi) else None      # the path's pitch at each of the network's frames
        harmony = (tr.key_onset_times, pitch_class_profile(tr.key_note, MIDI_LOW, lead))
    snapped, info = snap_to_beats(notes, tr.onset_env, tr.hop_s, line=line, harmony=harmony)
    timing = timing_meta(info)
    if timing.get("played") and line:    # a line off any grid: read against its local tempo too (a third view)
        timing.update(played_reading(notes, tr))
    return snapped, {**info, **timing}


def played_reading(notes: np.ndarray, tr: PitchTrack) -> dict:
    """A single line's notes read against their local tempo (`melody.io.played.reading_meta`: meta
    "read_onsets", which `melody.catalog.Catalog.search` ranks as a view of its own), or {} where no beat is
    tracked. The beat is tracked over the line's own onsets (`rhythm.line_onset_envelope`), at its tempo and at
    twice it, and followed as it drifts (`melody.io.played.local_beats`), not made steady over a grid the notes
    did not fit; the line is read on the grid its onsets keep to best (`melody.io.played.closest_reading_meta`).

    A line whose onsets fit no beat grid (`rhythm.snap_to_beats`: a tempo curve, a ritardando, a player's or
    singer's jitter past MAX_RESIDUAL_S) is searched as played, its lengths graded (`timing_meta`); this reading
    gives the search the lengths such a player most likely meant as well. Only a line: the band of a mix
    carries its beat, and where the lead still fits no grid of it, the transcription is the likelier cause
    (accompaniment taken for the lead, notes lost): read on that beat, bench_audio's mixes (rendered in strict
    time) ranked no true tune higher and lost one from the top 10 (BENCHMARKS.md, "Twenty-sixth session: a
    recording off the grid read against its local tempo")."""
    if tr.onset_env is None:
        return {}
    envelope = line_onset_envelope(notes["onset"], len(tr.onset_env), tr.hop_s)
    # a generator: the beat at twice the tempo is tracked only where the line is read at its own
    return closest_reading_meta(notes, (beat_times(envelope, tr.hop_s, factor) for factor in LINE_TEMPO_FACTORS))


def _pitch_track(path: str, stats: AudioStats, method: str) -> PitchTrack:
    """The file's melody pitch track by `method` (`transcribe`'s first half); NoMelody for a silent or too
    short file, refused after one decoding pass (before the tracking and the network) where it can be."""
    if method == "pyin":
        tr = pyin_track(blocks(path, stats))
        _require_sound(path, stats)
        return tr
    cand = candidates(blocks(path, stats))
    # before the tracking and the network (most of the time): a silent or too short file is refused after
    # one decoding pass, with the message the whole transcription would end in
    _require_sound(path, stats, cand[2])
    if method == "fused":
        from .fuse import fused_track
        return fused_track(path, stats, cand)
    return track(*cand)


def refusal(voiced: float, n_notes: int, heard: int, steady: float, heard_time: float) -> str | None:
    """Why a transcription is no melody ("unvoiced", "speech-like", "too few notes") or None: from the share of
    voiced frames, the note count, the notes heard at HEARD_NOTE, and the notes' time shares held
    (`segment.note_steadiness`) and heard (`segment.note_activation`) (1.0 / n_notes without the network)."""
    if voiced < MIN_VOICED_FRACTION:
        return "unvoiced"
    if steady < STEADY_SHARE and heard_time < HEARD_NOTE:
        return "speech-like"
    if heard < MIN_NOTES and (n_notes < MIN_NOTES or heard_time < HEARD_LINE):
        return "too few notes"
    return None


def time_share(notes: np.ndarray, values: np.ndarray) -> float:
    """The mean of per-note ``values`` (a share or an activation in [0, 1]) over the notes' time: each note
    weighted by its duration; 0 for no notes."""
    total = float(np.sum(notes["duration"]))
    return float(np.sum(notes["duration"] * values)) / total if total > 0 else 0.0


def _no_melody(path: str, n_notes: int, stats: AudioStats, heard: int | None = None,
               glides: tuple[float, float] | None = None) -> str:
    """The one line for a recording without a melody: what was found, the likely cause, what to do.
    ``glides``: (steady, heard) time shares where the notes were judged speech-like."""
    if heard is not None and heard < n_notes:     # the tracker held drum hits, noise or speech for notes
        found = f"{n_notes} pitched sounds in {stats.seconds:.1f} s, {heard} of them heard as sung or played notes"
        if glides is not None:
            found += (f"; their pitch glides (held {100 * glides[0]:.0f}% of their time, "
                      f"heard {100 * glides[1]:.0f}%)")
    else:
        found = f"{n_notes} stable pitched note{'' if n_notes == 1 else 's'} in {stats.seconds:.1f} s"
    return (f"{path}: no melody found ({found}; noise, drums or speech only?): "
            "give a recording or score of a sung or played tune")


def _require_sound(path: str, stats: AudioStats, frame_rms: np.ndarray | None = None):
    """Raise NoMelody for audio too short or silent (`stats` of the whole decoded file), or, given the
    salience frames' RMS, without a frame loud enough for the tracker (`extract.track` would find no
    pitch in any frame: no notes)."""
    if stats.seconds < MIN_SECONDS:
        raise NoMelody(f"{path}: only {stats.seconds:.2f} s of audio, need at least {MIN_SECONDS} s")
    if stats.peak <= SILENT_PEAK:
        level = "every sample is zero" if stats.peak == 0 else f"peak {20 * np.log10(stats.peak):.0f} dBFS"
        raise NoMelody(f"{path}: the audio is silent ({level})")
    if frame_rms is not None and not np.any(frame_rms > MIN_RMS):
        raise NoMelody(_no_melody(path, 0, stats))


def load_method() -> str:
    """The method `load_audio` transcribes with: $MELODY_TRANSCRIBER where set (an environment variable, so
    that a batch's worker processes follow the command line's --transcriber), else LOAD_METHOD."""
    method = os.environ.get(METHOD_ENV) or LOAD_METHOD
    if method not in METHODS:
        raise MelodyError(f"${METHOD_ENV}={method!r} is not a transcription method; use one of {', '.join(METHODS)}")
    return method


def load_audio(path: str | os.PathLike) -> list[Melody]:
    """`transcribe` for `melody.io.load`: one melody per audio file."""
    return [transcribe(path, method=load_method())[0]]


__all__ = ["METHODS", "SR", "PitchTrack", "load_audio", "load_method", "played_reading", "snap_track_notes", "timing_meta", "transcribe"]
