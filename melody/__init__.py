"""melody: find borrowed melodies.

    >>> import melody
    >>> cat = melody.Catalog.open()                       # the default catalog   # doctest: +SKIP
    >>> song = melody.load("song.mid")[0]                                         # doctest: +SKIP
    >>> for m in cat.search(song, top=5): print(m.title, m.evalue, m.query_span)  # doctest: +SKIP
"""
from .errors import CatalogError, CatalogLocked, CorruptFile, MelodyError, NoMelody, UnsupportedFile

# The rest is imported on first use (PEP 562), so that `melody --help` does not load numpy and Numba.
_LAZY = {"Catalog": "catalog", "IndexReport": "catalog", "Match": "catalog", "load": "io",
         "NOTE_DTYPE": "notes", "Melody": "notes", "make_notes": "notes"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Catalog", "IndexReport", "Match", "Melody", "NOTE_DTYPE", "make_notes", "load", "MelodyError",
           "CatalogError", "CatalogLocked", "CorruptFile", "NoMelody", "UnsupportedFile"]
__version__ = "0.1.0"
