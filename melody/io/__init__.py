"""Loading: every supported file becomes a list of Melody objects (one per tune in the file)."""
from __future__ import annotations

import os

from ..errors import CorruptFile, MelodyError, UnsupportedFile
from ..notes import Melody

MIDI_EXTENSIONS = (".mid", ".midi")
NOTATION_EXTENSIONS = (".musicxml", ".xml", ".mxl", ".krn", ".abc")
SYMBOLIC_EXTENSIONS = MIDI_EXTENSIONS + NOTATION_EXTENSIONS
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
SUPPORTED_EXTENSIONS = SYMBOLIC_EXTENSIONS + AUDIO_EXTENSIONS
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_AUDIO_BYTES = 4 * 1024 * 1024 * 1024


def is_supported(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS


def is_audio(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in AUDIO_EXTENSIONS


def load(path: str | os.PathLike) -> list[Melody]:
    """Load every melody in a music file.

    Parameters
    ----------
    path : MIDI (.mid/.midi), MusicXML (.musicxml/.xml/.mxl), ABC (.abc, one melody per tune), kern (.krn),
        or audio (.wav/.flac/.ogg/.mp3: the predominant melody is transcribed, see `melody.audio`).

    Returns
    -------
    list of Melody, each monophonic (the lead line of a multi-track file), times in seconds.

    Raises
    ------
    UnsupportedFile, CorruptFile, NoMelody (all MelodyError) with a message naming the file.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFile(f"{path}: unsupported file type '{ext or '(none)'}' "
                              f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise CorruptFile(f"{path}: cannot read ({exc.strerror or exc})") from None
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
        return load_midi(path)
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
            return load_musicxml(path)
        except MelodyError:   # unreadable file, broken zip, malformed XML, no notes: music21 would fail too
            raise
        except Exception:     # musicxml._Unsupported (not a partwise/timewise score) or a construct the
            pass              # fast reader trips on: music21 is slower but reads more
    from .notation import load_notation
    return load_notation(path)
