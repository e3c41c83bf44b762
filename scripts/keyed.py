"""Files the benchmarks make once and reuse (renders, sung takes, caches of pitch tracks), reused only while
what they were made from is the same.

A render used to be reused whenever a file of its query's id existed, so a changed generator left renders of
the old queries in place and the benchmarks silently measured them (BENCHMARKS.md, "Eighteenth session:
renders that cannot go stale"). Here each file is keyed by a hash of its inputs (the MIDI bytes, the sung
plan, the source render, the parameters and the code that renders): the key is kept in a small file beside
it (``DIR/.keys/NAME``), and a file whose key is missing or differs is made again. A file is written to a
temporary name and moved into place with `os.replace`, so a reader never sees half a file and a workdir
copied with hard links (``cp -al``) never has another folder's file written through.

    key = keyed.digest("room", keyed.file_digest(solo), seed, keyed.code_of(in_room))
    keyed.make(path, key, lambda tmp: soundfile.write(tmp, x, sr))      # made unless current
    tracks = keyed.entries(cache, {qid: key, ...}, compute)             # one pickle, an entry per key
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import pickle
from typing import Callable

import numpy as np

KEYS_DIR = ".keys"       # beside the files they key; hidden, so globs of renders never list them


def _feed(h, x) -> None:
    """Hash `x` unambiguously (type and length tagged): bytes, str, numbers, numpy arrays, and lists,
    tuples and dicts of them."""
    if isinstance(x, bytes):
        h.update(b"b%d:" % len(x))
        h.update(x)
    elif isinstance(x, str):
        _feed(h, x.encode())
    elif isinstance(x, np.ndarray):
        h.update(f"a{x.dtype.str}{x.shape}:".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    elif isinstance(x, dict):
        h.update(b"d%d:" % len(x))
        for k in sorted(x, key=str):
            _feed(h, str(k))
            _feed(h, x[k])
    elif isinstance(x, (list, tuple)):
        h.update(b"l%d:" % len(x))
        for v in x:
            _feed(h, v)
    elif x is None or isinstance(x, (bool, int, float, np.generic)):
        h.update(f"s{type(x).__name__}:{x!r};".encode())
    else:
        raise TypeError(f"cannot key a {type(x).__name__}")


def digest(*parts) -> str:
    """A hex key of `parts` (bytes, str, numbers, numpy arrays, and lists / tuples / dicts of them)."""
    h = hashlib.sha1()
    _feed(h, list(parts))
    return h.hexdigest()


def file_digest(path: str) -> str:
    """The hash of a file's bytes."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_of(*objects) -> str:
    """The source text of functions, classes or modules: a change to how a file is made changes its key."""
    return "\n".join(inspect.getsource(o) for o in objects)


def key_path(path: str) -> str:
    """Where the key of `path` is kept: ``DIR/.keys/NAME``."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), KEYS_DIR, os.path.basename(path))


def is_current(path: str, key: str) -> bool:
    """Whether `path` exists and was made from the inputs `key` names."""
    try:
        with open(key_path(path)) as fh:
            return fh.read().strip() == key and os.path.exists(path)
    except OSError:
        return False


@contextlib.contextmanager
def replacing(path: str):
    """Yield a temporary path (hidden, in the same folder, with `path`'s extension, so writers that go by
    the extension write the right format); on success it replaces `path` at once, on failure it goes."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp{os.path.splitext(name)[1]}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_key(path: str, key: str) -> None:
    kp = key_path(path)
    with replacing(kp) as tmp, open(tmp, "w") as fh:
        fh.write(key + "\n")


def make(path: str, key: str, write: Callable[[str], object]) -> bool:
    """Make `path` with ``write(tmp)`` unless it is current for `key`; True when it was made. The old key
    goes first, so a run killed between the file and its key makes the file again."""
    if is_current(path, key):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.remove(key_path(path))
    with replacing(path) as tmp:
        write(tmp)
    _write_key(path, key)
    return True


def entries(path: str, keys: dict, compute: Callable[[object], object]) -> dict:
    """A pickled cache of one entry per name: {name: value} for the names of `keys` ({name: key}), each
    computed with ``compute(name)`` unless the cache holds it under the same key. The file is rewritten
    (atomically) when an entry was computed; entries of other names are kept."""
    held = {}
    with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
        with open(path, "rb") as fh:
            doc = pickle.load(fh)
        if isinstance(doc, dict) and doc.get("format") == "keyed-entries-1":
            held = doc["entries"]
    out, changed = {}, False
    for name, key in keys.items():
        if name in held and held[name][0] == key:
            out[name] = held[name][1]
        else:
            out[name] = compute(name)
            held[name] = (key, out[name])
            changed = True
    if changed:
        with replacing(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump({"format": "keyed-entries-1", "entries": held}, fh)
    return out


def tracker_code() -> str:
    """A key of the code that turns a recording into its fused pitch track (`melody.audio`'s decode,
    extract, fuse, kernels and neural)."""
    from melody.audio import decode, extract, fuse, kernels, neural

    return digest(code_of(decode, extract, fuse, kernels, neural))


def fused_track(path: str):
    """The fused pitch track of a recording as `melody.audio.transcribe` computes it, or None where it
    refuses the file."""
    from melody.audio import decode, extract, fuse
    from melody.errors import MelodyError

    try:
        stats = decode.AudioStats(path)
        return fuse.fused_track(path, stats, extract.candidates(decode.blocks(path, stats)))
    except MelodyError:
        return None


def pitch_tracks(cache: str, paths: dict) -> dict:
    """{name: `fused_track` of ``paths[name]``}, cached in the pickle `cache` by each file's bytes and the
    `tracker_code`: a changed render, or a changed tracker, is tracked again."""
    code = tracker_code()
    keys = {name: digest("fused track", file_digest(p), code) for name, p in paths.items()}
    return entries(cache, keys, lambda name: fused_track(paths[name]))
