"""The default catalog: our reference_tracks/ plus music21's bundled public-domain corpus."""
from __future__ import annotations

import os

from . import Catalog, IndexReport, default_catalog_path, expand_paths

# music21 corpus folders with public-domain melodies: folk-song collections (ABC) and Bach chorales.
CORPUS_FOLDERS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk", "nottingham-dataset",
                  "bach")


def reference_tracks_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "reference_tracks")


def corpus_paths() -> list[str]:
    import music21
    root = os.path.join(os.path.dirname(music21.__file__), "corpus")
    return [os.path.join(root, f) for f in CORPUS_FOLDERS if os.path.isdir(os.path.join(root, f))]


def build_default(path: str | None = None, workers: int | None = None, progress=None,
                  set_total=None) -> tuple[IndexReport, str]:
    """Index reference_tracks/ and the corpus into the default catalog; already indexed files are skipped."""
    path = path or default_catalog_path()
    cat = Catalog.open(path, create=True)
    sources = [reference_tracks_dir()] + corpus_paths()
    if set_total:
        set_total(len(expand_paths(sources)))
    report = cat.index(sources, workers=workers, progress=progress)
    return report, cat.path
