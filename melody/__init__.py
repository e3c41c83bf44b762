"""melody: find borrowed melodies.

    >>> import melody
    >>> cat = melody.Catalog.open()                       # the default catalog   # doctest: +SKIP
    >>> song = melody.load("song.mid")[0]                                         # doctest: +SKIP
    >>> for m in cat.search(song, top=5): print(m.title, m.evalue, m.query_span)  # doctest: +SKIP
"""
from .catalog import Catalog, IndexReport, Match
from .errors import CatalogError, CatalogLocked, CorruptFile, MelodyError, NoMelody, UnsupportedFile
from .io import load
from .notes import NOTE_DTYPE, Melody, make_notes

__all__ = ["Catalog", "IndexReport", "Match", "Melody", "NOTE_DTYPE", "make_notes", "load", "MelodyError",
           "CatalogError", "CatalogLocked", "CorruptFile", "NoMelody", "UnsupportedFile"]
__version__ = "0.1.0"
