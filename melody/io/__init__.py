"""Loading: every supported file becomes a list of Melody objects (one per tune in the file)."""
from __future__ import annotations

import os
import stat

from ..errors import CorruptFile, MelodyError, UnsupportedFile
from ..notes import Melody
from .parts import check_parts

MIDI_EXTENSIONS = (".mid", ".midi")
NOTATION_EXTENSIONS = (".musicxml", ".xml", ".mxl", ".krn", ".abc")
SYMBOLIC_EXTENSIONS = MIDI_EXTENSIONS + NOTATION_EXTENSIONS
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
SUPPORTED_EXTENSIONS = SYMBOLIC_EXTENSIONS + AUDIO_EXTENSIONS
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_AUDIO_BYTES = 4 * 1024 * 1024 * 1024
# Bump when a reader reads the same file into other notes: a catalog re-reads the files an older reader read
# the next time they are indexed. One version per kind of reader, so a fix to one does not make a catalog
# read every other kind of file again.
# Notation (MusicXML, ABC, kern; 2: a pickup's notes end their bar, 2026-11-27; 3: MIDI's rule below, when
# MIDI still shared this version).
SCORE_READER_VERSION = 3
# MIDI (3: a track's melody note held through the chord that strikes its key again, `lead.hold_restruck_keys`,
# 2026-11-27; 4: a part whose onsets keep no beat of the file is read as played, without the file's bars,
# `midi.on_beat_grid`, 2026-11-27). A MIDI file indexed before the split carries a "score-" tag and is read
# once more.
MIDI_READER_VERSION = 4
TRANSCRIBER_VERSION = 12    # recordings (2: a soft sung note the network hears is voiced; 3: in an ensemble, a
                            # weak note under the lead is the accompaniment's, `segment._drop_accompaniment`;
                            # 4: a note far under the lead's struck notes is the lead's note held,
                            # `segment._hold_struck_lead`, and inside a vibrato a harmonic growth alone is
                            # no re-attack, `segment._vibrato_growth`; 5: in an ensemble, the lead doubled an
                            # octave below is lifted, `segment._lift_octave_doubling`, and a line's own step
                            # under it is kept; in a single line, a key struck alone under a ringing note takes
                            # the line, `segment._struck_alone`; 6: a chord tone struck fresh under the lead's
                            # decaying note is dropped by its salience too (`segment.HOLD_PEAK`), and a line
                            # heard as one key and its octaves has no band rules, `fuse.octave_line`;
                            # 7: a single line snaps to the steadier of two beats, its flux's or its own
                            # onsets', and two onsets on one grid point stay two notes, `rhythm.snap_to_beats`;
                            # 8: a line of 8-12 tracked beats is no longer steadied onto 13, `rhythm.local_line`;
                            # 9: an ensemble's register also from the lead line the network hears,
                            # `extract.lead_line`, and a bass under the line makes an ensemble, `fuse.under_line`;
                            # 10: in an ensemble, a key struck alone inside a held note starts a note there,
                            # `segment._struck_over_band`; 11: an ensemble's bar also from where its band's
                            # chords change, `rhythm.harmonic_change`: the notes' beat field; 12: a line heard
                            # with its own partials and ringing releases is a single line, `fuse.one_line_frames`)


def is_supported(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS


def is_audio(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in AUDIO_EXTENSIONS


def reader_tag(path: str) -> str:
    """Which reader, at which version, turns this file into notes (a catalog stores it with each file)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in AUDIO_EXTENSIONS:
        return f"audio-{TRANSCRIBER_VERSION}"
    if ext in MIDI_EXTENSIONS:
        return f"midi-{MIDI_READER_VERSION}"
    return f"score-{SCORE_READER_VERSION}"


_KINDS = {"MIDI": (MIDI_EXTENSIONS, ".mid"), "WAV": ((".wav",), ".wav"), "FLAC": ((".flac",), ".flac"),
          "Ogg": ((".ogg",), ".ogg"), "MP3": ((".mp3",), ".mp3"), "compressed MusicXML (zip)": ((".mxl",), ".mxl"),
          "MusicXML": ((".musicxml", ".xml"), ".musicxml"), "ABC": ((".abc",), ".abc"), "kern": ((".krn",), ".krn")}


def sniff(path: str) -> str | None:
    """What the file's first bytes say it is (a key of _KINDS), or None; for hints, never for dispatch."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head.startswith(b"MThd"):
        return "MIDI"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "WAV"
    for magic, kind in ((b"fLaC", "FLAC"), (b"OggS", "Ogg"), (b"ID3", "MP3"), (b"PK\x03\x04", "compressed MusicXML (zip)")):
        if head.startswith(magic):
            return kind
    if len(head) > 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[2] & 0xF0 not in (0x00, 0xF0):
        return "MP3"            # an MPEG audio frame header without an ID3 tag (valid bitrate index)
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    if text.startswith("<?xml") or text.startswith("<score-partwise") or text.startswith("<score-timewise"):
        return "MusicXML" if "<score-" in text or "MusicXML" in text else None
    if text.startswith("**kern") or "\n**kern" in text or text.startswith("!!!"):
        return "kern"
    if text.startswith("X:") or "\nX:" in text:
        return "ABC"
    return None


def _hint(path: str, ext: str) -> str:
    """'; its content is MIDI: rename it to .mid' when the content contradicts the extension, else ''."""
    kind = sniff(path)
    if kind is None or ext in _KINDS[kind][0]:
        return ""
    return f"; its content looks like {kind}: rename it to {_KINDS[kind][1]}"


def load(path: str | os.PathLike, parts: str = "lead") -> list[Melody]:
    """Load every melody in a music file.

    Parameters
    ----------
    path : MIDI (.mid/.midi), MusicXML (.musicxml/.xml/.mxl), ABC (.abc, one melody per tune), kern (.krn),
        or audio (.wav/.flac/.ogg/.mp3: the predominant melody is transcribed, see `melody.audio`).
    parts : "lead" (default): one melody per tune, the lead part of a multi-part file; "all": every pitched
        part of a MIDI file ((track, channel), drums never) or MusicXML score (staff) with at least
        `parts.MIN_PART_NOTES` notes, each reduced to its line, doublings dropped, the part named in
        ``meta["part_name"]`` / ``meta["part_index"]`` (see `melody.io.parts`). ABC, kern and recordings
        (one line) are loaded as with "lead".

    Returns
    -------
    list of Melody, each monophonic (the lead line of a multi-track file), times in seconds.

    Raises
    ------
    UnsupportedFile, CorruptFile, NoMelody (all MelodyError) with a message naming the file. The type is
    chosen by the extension; when a file fails and its content is another type (a MIDI file named .mp3),
    the message says which and the extension to give it.
    """
    check_parts(parts)
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.lexists(path):     # before the type: `melody query typo` is a missing file, not a '(none)' type
        raise CorruptFile(f"{path}: no such file or folder")
    if os.path.isdir(path):
        raise UnsupportedFile(f"{path}: is a folder (`melody scan` searches folders)")
    try:
        return _load(path, ext, parts)
    except (UnsupportedFile, CorruptFile) as exc:
        hint = _hint(path, ext) if os.path.isfile(path) else ""
        if not hint:
            raise
        raise type(exc)(f"{exc}{hint}") from None


def _load(path: str, ext: str, parts: str = "lead") -> list[Melody]:
    """The loader for `ext` (chosen by the extension alone)."""
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFile(f"{path}: unsupported file type '{ext or '(none)'}' "
                              f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CorruptFile(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):     # a pipe or device: reading it could block forever
        raise UnsupportedFile(f"{path}: not a regular file (a pipe, socket or device); save the music to a file")
    size = st.st_size
    if size == 0:
        raise CorruptFile(f"{path}: empty file (0 bytes)")
    if ext in AUDIO_EXTENSIONS:
        if size > MAX_AUDIO_BYTES:
            raise CorruptFile(f"{path}: {size} bytes is too large for an audio file (limit 4 GiB)")
        from ..audio import load_audio
        return load_audio(path)
    if size > MAX_FILE_BYTES:
        raise CorruptFile(f"{path}: {size} bytes is too large for a symbolic music file")
    if ext in MIDI_EXTENSIONS:
        from .midi import load_midi
        return load_midi(path, parts)
    if ext == ".abc":
        from .abc import load_abc
        try:
            return load_abc(path)
        except MelodyError:
            raise
        except Exception:   # an ABC dialect our fast parser does not know: music21 is slower but broader
            pass
    if ext in (".musicxml", ".xml", ".mxl"):
        from .musicxml import load_musicxml
        try:
            return load_musicxml(path, parts)
        except MelodyError:   # unreadable file, broken zip, malformed XML, no notes: music21 would fail too
            raise
        except Exception:     # musicxml._Unsupported (not a partwise/timewise score) or a construct the
            pass              # fast reader trips on: music21 is slower but reads more
    from .notation import load_notation
    return load_notation(path, parts if ext in (".musicxml", ".xml", ".mxl") else "lead")   # ABC, kern: one line
