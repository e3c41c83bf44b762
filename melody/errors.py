"""The one exception family of `melody`: every failure a user can cause is a MelodyError."""


class MelodyError(Exception):
    """Base class: a message that says what was wrong and, where possible, what to do."""


class UnsupportedFile(MelodyError):
    """The file's type is not one melody reads."""


class CorruptFile(MelodyError):
    """The file could not be parsed: empty, truncated or not what its extension says."""


class NoMelody(MelodyError):
    """The file parsed but holds no usable melody (no notes, only drums, too few notes)."""


class CatalogError(MelodyError):
    """A catalog folder is missing, unreadable or inconsistent."""


class CatalogLocked(CatalogError):
    """Another process is writing to the catalog."""
