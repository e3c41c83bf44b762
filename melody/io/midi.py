"""Fast MIDI path: read note events with mido, pick the lead voice, reduce it to one line.

music21 is too slow for bulk MIDI; mido gives the raw events and we do the rest with numpy.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..errors import CorruptFile, NoMelody
from ..notes import Melody, make_notes
from .lead import lead_line
from .parts import check_parts, distinct_parts, part_meta
from .played import reading_meta

MAX_EVENTS = 2_000_000          # a file with more events than this is treated as corrupt
MAX_TRACKS = 1_000
DRUM_CHANNEL = 9
MIN_TEMPO, MAX_TEMPO = 60_000, 60_000_000   # microseconds per beat: 1000 bpm .. 1 bpm; outside is corrupt

# A file's bar lines place a part's notes only where its onsets keep to the file's beat: a quantised or
# notated file puts (nearly) every onset on a fine grid of the beat (GRID_DIVISIONS per beat: 32nd notes and
# sixteenth triplets), within a tick's rounding (`on_beat_grid`); a performance recorded without a click (or
# with a tempo that is not the beat's) puts a few there by chance. Below GRID_SHARE of a part's onsets on the
# grid, the file's bars and beats are not the part's. Chosen on bench_accuracy's 785 MIDI files (seed 0): the
# written queries' parts 0.95-1.00, the played ones' 0.00-0.33 (by chance: 1 in 20 at 480 ticks a beat); the
# music21 test files and examples/ 0.96-1.00 but for three performances and a part shifted off the beat (0-0.31).
GRID_DIVISIONS = 24
GRID_SHARE = 0.5
# Such a part's notes keep their onsets as played, and are marked on or between beats as a recording's notes
# are (`melody.audio.rhythm.snap_to_beats`): the beat is tracked on an onset envelope of every part's note
# onsets (the band's drums and chords included), ENVELOPE_HOP_S a frame, each onset a decaying pulse
# (ENVELOPE_DECAY per frame), where the part's onsets fit that beat's grid (`beats_from`; unknown where they
# fit none). Such a part is also read against its local tempo (`melody.io.played`: meta "read_onsets", a
# second view for the search).
ENVELOPE_HOP_S = 0.01
ENVELOPE_DECAY = (1.0, 0.5, 0.25)
ENVELOPE_MAX_S = 4 * 3600.0   # a file whose notes run longer is left without marks (no envelope of absurd length)

# Track names that announce the melody, and names/programs that rule a track out as the lead.
_LEAD_NAMES = re.compile(r"lead|melod|vocal|voice|vox|sing|solo|tune|theme|soprano|right|\brh\b|top", re.I)
_BACKING_NAMES = re.compile(r"bass|chord|pad|comp|accomp|harmon|rhythm|strum|left|\blh\b|string|arp", re.I)
_DRUM_NAMES = re.compile(r"drum|perc|kit|beat|hat|snare|kick|cymbal", re.I)


def _check_chunks(path: str) -> None:
    """Walk the header and track chunk headers before mido does: a chunk (the header's too) that claims more
    bytes than the file has (a damaged length field, often ~2 GB) would otherwise be read into memory whole. Bytes after
    the last declared track are ignored, as mido does."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(14)
        if len(head) < 14 or head[:4] != b"MThd":
            return                       # not a standard MIDI file: mido gives the message
        tracks = int.from_bytes(head[10:12], "big")
        pos, header = 0, head[:8]
        found = 0
        while True:                      # the header chunk (MThd), then the track chunks
            length = int.from_bytes(header[4:8], "big")
            if pos + 8 + length > size and length > 1 << 20:
                raise CorruptFile(f"{path}: a chunk at byte {pos} declares {length} bytes but the file has only "
                                  f"{size - pos - 8} left: the file is truncated or corrupt")
            found += header[:4] == b"MTrk"
            pos += 8 + length
            if found >= tracks or pos + 8 > size:
                break
            fh.seek(pos)
            header = fh.read(8)


def _read(path: str):
    import mido

    _check_chunks(path)
    from mido.midifiles.meta import KeySignatureError
    try:
        mid = mido.MidiFile(path, clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, KeySignatureError) as exc:
        raise CorruptFile(f"{path}: not a readable MIDI file ({str(exc) or type(exc).__name__})") from None
    if len(mid.tracks) > MAX_TRACKS:
        raise CorruptFile(f"{path}: {len(mid.tracks)} tracks, more than {MAX_TRACKS}: the file is likely corrupt")
    if mid.type == 2:
        raise CorruptFile(f"{path}: MIDI type 2 (independent sequences) is not supported")
    if not mid.ticks_per_beat or mid.ticks_per_beat < 0:
        raise CorruptFile(f"{path}: SMPTE or zero time division is not supported")
    return mid


def _tempo_map(mid, ppq):
    """Tempo changes as (tick, seconds at tick, seconds per tick) arrays, from every track."""
    changes = {}
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                if not MIN_TEMPO <= msg.tempo <= MAX_TEMPO:
                    raise CorruptFile(f"absurd tempo {msg.tempo} microseconds per beat at tick {tick} "
                                      f"(outside 1..1000 bpm): the file is likely corrupt")
                changes[tick] = msg.tempo
    ticks = sorted(changes) if changes else [0]
    if ticks[0] != 0:
        ticks = [0] + ticks
    tempos = [changes.get(t, 500_000) for t in ticks]
    sec_per_tick = np.array(tempos, dtype="f8") / 1e6 / ppq
    ticks = np.array(ticks, dtype="f8")
    start_sec = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * sec_per_tick[:-1])])
    return ticks, start_sec, sec_per_tick


def _ticks_to_seconds(t, tempo_map):
    ticks, start_sec, sec_per_tick = tempo_map
    k = np.searchsorted(ticks, t, side="right") - 1
    return start_sec[k] + (t - ticks[k]) * sec_per_tick[k]


def _bars(mid, ppq, onset_ticks):
    """Bar numbers (1-based) and beats (quarter notes into the bar) from time-signature events."""
    sigs = {}
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and msg.numerator > 0 and msg.denominator > 0:
                sigs[tick] = msg.numerator * 4.0 / msg.denominator
    if not sigs:
        sigs = {0: 4.0}
    if 0 not in sigs:
        sigs[0] = 4.0
    starts = np.array(sorted(sigs), dtype="f8")
    bar_q = np.array([sigs[s] for s in sorted(sigs)], dtype="f8")
    # bar number at each signature change
    first_bar = [0.0]
    for k in range(1, len(starts)):
        first_bar.append(first_bar[-1] + np.ceil((starts[k] - starts[k - 1]) / ppq / bar_q[k - 1] - 1e-9))
    first_bar = np.array(first_bar)
    k = np.searchsorted(starts, onset_ticks, side="right") - 1
    q = (onset_ticks - starts[k]) / ppq
    bars_in = np.floor(q / bar_q[k] + 1e-9)
    bar = (first_bar[k] + bars_in + 1).astype("i4")
    beat = (q - bars_in * bar_q[k]).astype("f4")
    return bar, beat


def on_beat_grid(onset_ticks: np.ndarray, ppq: int) -> bool:
    """Whether a part's onsets keep to the file's beat: GRID_SHARE of them on a grid of GRID_DIVISIONS
    steps per beat, within a tick's rounding (half a tick, or ppq / 960 ticks in files finer than 480 a beat)."""
    ticks = np.asarray(onset_ticks, dtype="f8")
    if not len(ticks):
        return True
    step = ppq / GRID_DIVISIONS
    off = np.abs(ticks - np.round(ticks / step) * step)
    return bool(np.mean(off <= max(0.5, ppq / 960)) >= GRID_SHARE)


def _voices(mid):
    """Notes per (track, channel) with the track name and program: {key: dict}."""
    voices = {}
    n_events = 0
    for ti, track in enumerate(mid.tracks):
        name = ""
        tick = 0
        programs = {}
        active = {}       # (channel, pitch) -> (start tick, whether a stray note-off came just before it)
        stray = set()     # keys whose last event was a note-off with nothing sounding
        owed_offs = {}    # note-offs still to come for notes ended early by a re-struck key
        for msg in track:
            n_events += 1
            if n_events > MAX_EVENTS:
                raise CorruptFile(f"more than {MAX_EVENTS} MIDI events: the file is likely corrupt")
            tick += msg.time
            kind = msg.type
            if kind == "track_name" and not name:
                name = msg.name or ""
            elif kind == "program_change":
                programs[msg.channel] = msg.program
            elif kind == "note_on" and msg.velocity > 0:
                key = (msg.channel, msg.note)
                if key in active:
                    # The key is struck again while sounding: the old note ends here (so one stuck note
                    # cannot shift the pairing of every later note of this pitch). A note that started right
                    # after a stray note-off and never got its own off is a reversed note: dropped.
                    start, after_stray = active.pop(key)
                    if not after_stray and tick > start:
                        voices.setdefault((ti, msg.channel), {"name": name, "notes": []})["notes"].append(
                            (start, tick, msg.note))
                        owed_offs[key] = owed_offs.get(key, 0) + 1
                active[key] = (tick, key in stray)
                stray.discard(key)
            elif kind == "note_off" or (kind == "note_on" and msg.velocity == 0):
                key = (msg.channel, msg.note)
                if key in active:
                    start, _ = active.pop(key)
                    if tick > start:  # zero-length notes are dropped
                        v = voices.setdefault((ti, msg.channel), {"name": name, "notes": []})
                        v["notes"].append((start, tick, msg.note))
                elif owed_offs.get(key):
                    owed_offs[key] -= 1
                else:
                    stray.add(key)
        for v_key, v in voices.items():
            if v_key[0] == ti:
                v["name"] = name
                v["program"] = programs.get(v_key[1], 0)
    return voices


def _lead_score(voice, channel) -> float:
    """How much a voice looks like the lead: name, register, monophony, not bass/pad/drums."""
    notes = np.array(voice["notes"], dtype="f8")
    name = voice["name"]
    program = voice.get("program", 0)
    if channel == DRUM_CHANNEL or _DRUM_NAMES.search(name):
        return -np.inf
    pitch = notes[:, 2]
    onsets = np.sort(notes[:, 0])
    # share of notes that start together with another (chords) -> accompaniment
    chordal = float(np.mean(np.diff(onsets) == 0)) if len(onsets) > 1 else 0.0
    score = (np.median(pitch) - 60.0) / 12.0 + 2.0 * (1.0 - chordal)
    if _LEAD_NAMES.search(name):
        score += 3.0
    if _BACKING_NAMES.search(name):
        score -= 3.0
    if 32 <= program <= 39 or 88 <= program <= 103 or 112 <= program <= 127:   # basses, pads, fx, percussive
        score -= 3.0
    score += 0.5 * min(len(notes), 64) / 64.0   # a handful of notes is rarely the song's melody
    return score


def load_midi(path: str, parts: str = "lead") -> list[Melody]:
    """Read a MIDI file and return its lead melody as a one-element list; with parts="all", one melody per
    pitched (track, channel) part, in file order (`melody.io.parts`: drums never, short parts and doublings
    dropped), each naming its part in `meta`."""
    check_parts(parts)
    mid = _read(path)
    ppq = mid.ticks_per_beat
    try:
        voices = _voices(mid)
    except CorruptFile as exc:
        raise CorruptFile(f"{path}: {exc}") from None
    scored = [(_lead_score(v, ch), key) for key, v in voices.items() for ch in [key[1]] if v["notes"]]
    scored = [s for s in scored if np.isfinite(s[0])]
    if not scored:
        raise NoMelody(f"{path}: no pitched notes (empty or drums only)")
    ranked = [key for _, key in sorted(scored, reverse=True)]     # the lead first (max, as before)
    try:
        tmap = _tempo_map(mid, ppq)
    except CorruptFile as exc:
        raise CorruptFile(f"{path}: {exc}") from None
    envelope = _Envelope(voices, tmap)
    read = ranked if parts == "all" else ranked[:1]
    played = {key: not on_beat_grid(np.array([n[0] for n in voices[key]["notes"]], dtype="f8"), ppq) for key in read}
    lines = {key: _line(voices[key]["notes"], mid, ppq, tmap, envelope, played[key]) for key in read}
    kept = distinct_parts(lines, ranked, parts)
    title = _title(mid) or os.path.splitext(os.path.basename(path))[0]
    melodies = []
    for index, key in enumerate(kept):
        voice = voices[key]
        meta = {"track": voice["name"], "track_index": key[0], "channel": key[1]}
        if played[key]:
            meta["played"] = True        # read as played, without bars (`_line`): the search grades its rhythm
            meta.update(reading_meta(lines[key], envelope.beats()))   # and read against its local tempo
        if parts == "all":
            name = voice["name"].strip() or f"track {key[0]} channel {key[1] + 1} program {voice.get('program', 0)}"
            meta.update(program=voice.get("program", 0), **part_meta(index, name))
        melodies.append(Melody(lines[key], title=title, source=path, meta=meta))
    return melodies


class _Envelope:
    """The onset envelope of every part's notes (ENVELOPE_HOP_S a frame), made on first use."""

    def __init__(self, voices, tmap):
        self.voices, self.tmap, self.env, self.tracked = voices, tmap, None, None

    def beats(self) -> np.ndarray:
        """The beat tracked on the envelope (`melody.audio.rhythm.beat_times`; empty where none is)."""
        if self.tracked is None:
            from ..audio.rhythm import beat_times
            self.tracked = beat_times(self(), ENVELOPE_HOP_S)
        return self.tracked

    def __call__(self) -> np.ndarray | None:
        if self.env is None:
            ticks = np.array([n[0] for v in self.voices.values() for n in v["notes"]], dtype="f8")
            seconds = _ticks_to_seconds(ticks, self.tmap)
            if not len(seconds) or seconds.max() > ENVELOPE_MAX_S:
                return None
            frames = np.round(seconds / ENVELOPE_HOP_S).astype(np.int64)
            pulses = np.bincount(frames, minlength=int(frames.max()) + 1).astype("f8")
            self.env = np.convolve(pulses, ENVELOPE_DECAY)
        return self.env


def _line(raw_notes, mid, ppq, tmap, envelope, played: bool) -> np.ndarray:
    """One voice's notes (tick triples) in seconds with bars, reduced to its line (`lead_line`); a voice
    `played` (its onsets keep no beat of the file, `on_beat_grid`) without bars, its line on the beat tracked
    over every part's onsets (`envelope`) where it fits one."""
    raw = np.array(raw_notes, dtype="f8")
    on = _ticks_to_seconds(raw[:, 0], tmap)
    off = _ticks_to_seconds(raw[:, 1], tmap)
    if played:                               # a performance whose bar lines say nothing
        from ..audio.rhythm import snap_to_beats
        line = lead_line(make_notes(on, off - on, raw[:, 2]), restruck_keys=True)
        return beats_from(line, snap_to_beats(line, envelope(), ENVELOPE_HOP_S)[0])
    bar, beat = _bars(mid, ppq, raw[:, 0])
    return lead_line(make_notes(on, off - on, raw[:, 2], bar, beat), restruck_keys=True)


def beats_from(line: np.ndarray, snapped: np.ndarray) -> np.ndarray:
    """The line as played with the on-beat marks of its notes on a tracked beat (`snapped`: the line moved
    to that beat's grid, two notes on one grid point kept once): every note keeps its own onset and
    length; a note the grid left out (the second on a point) is between beats."""
    if snapped is line or not np.isfinite(snapped["beat"]).any():
        return line
    out = line.copy()
    out["beat"] = 0.5
    j = 0
    for i in range(len(line)):
        if j < len(snapped) and snapped["pitch"][j] == line["pitch"][i] and \
                abs(snapped["onset"][j] - line["onset"][i]) < 0.1:
            out["beat"][i] = snapped["beat"][j]
            j += 1
    return out


def _title(mid) -> str:
    """The conductor track's name in a multi-track file (a lone track's name is its instrument)."""
    if mid.type != 1 or len(mid.tracks) < 2:
        return ""
    conductor = mid.tracks[0]
    if any(msg.type == "note_on" for msg in conductor):
        return ""
    return next((msg.name.strip() for msg in conductor if msg.type == "track_name" and msg.name.strip()), "")
