"""All catalog melodies packed into flat arrays for the search kernels, computed vectorised, and kept as a
folder of .npy files next to the catalog that later processes memory-map (opening costs the same for ten
thousand melodies or a million; only the pages a query touches are read).

Cache layout: ``DIR/cache/packed-<FEATURES_VERSION>-<generation>/<array>.npy``, written to a temporary folder
and renamed into place, so a reader sees a whole cache or none; older generations are removed by the writer
that replaces them.
"""
from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

from ..align import fast, sieve
from ..notes import MIN_NOTES, NOTE_DTYPE, Melody
from ..represent import Features, features, metric_classes

FEATURES_VERSION = 5   # bump when features or weights change: cached step arrays are then rebuilt
_STEPS = ("interval", "length", "weight", "metric")
_LAYOUT = ("steps", "block_start", "rows", "meta")    # melody.align.fast's block layout, saved as fast_<name>
_CACHED = ("notes", "offsets", "interval", "length", "weight", "metric", "step_offsets", "tempo_unit", "pitch",
           "ids") + tuple("fast_" + k for k in _LAYOUT)
# The sieve's 8-bit copy of the layout (melody.align.sieve.sieve_layout), saved as fast_sieve8: written with
# every cache, but a cache without it still reads (written before it existed; `add_sieve_layout` adds it).
SIEVE8 = "fast_sieve8"
CHUNK_NOTES = 4_000_000    # notes packed at a time while building (bounds the builder's memory)


@dataclass
class Packed:
    entries: object         # store.Entries (lazy) or a list of store.Entry, one per row
    notes: np.ndarray       # NOTE_DTYPE, all melodies concatenated
    offsets: np.ndarray     # notes of row r: offsets[r]:offsets[r+1]
    interval: np.ndarray    # float32 steps, all melodies concatenated
    length: np.ndarray
    weight: np.ndarray
    metric: np.ndarray      # float32 metric class of each step's arrival note (represent.metric_classes)
    step_offsets: np.ndarray
    tempo_unit: np.ndarray  # seconds per length unit, per row
    layout: dict | None = None                # the steps in SIMD blocks for melody.align.fast, None when not built
    derived: dict = field(default_factory=dict, repr=False, compare=False)   # per-catalog caches of search stages

    def query_features(self, query: Melody) -> Features:
        return features(query)

    def __len__(self) -> int:
        return len(self.offsets) - 1


def pack(entries, notes: np.ndarray, offsets: np.ndarray) -> Packed:
    """Steps of every melody, identical to represent.features() melody by melody."""
    n_rows = len(offsets) - 1
    counts = np.diff(offsets)
    pitch = notes["pitch"].astype("f8")
    onset = notes["onset"]
    last = np.zeros(len(notes), dtype=bool)
    last[offsets[1:][counts > 0] - 1] = True
    ioi = np.empty(len(notes))
    ioi[:-1] = np.diff(onset)
    ioi[last] = notes["duration"][last]
    ioi = np.maximum(ioi, 1e-3)
    step = ~last
    d_pitch = np.zeros(len(notes))
    d_pitch[:-1] = np.diff(pitch)
    interval = d_pitch[step].astype("f4")
    ioi_steps = ioi[step]
    step_counts = np.maximum(counts - 1, 0)
    step_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    step_offsets[1:] = np.cumsum(step_counts)
    group = np.repeat(np.arange(n_rows), step_counts)
    # per-melody median of the step IOIs: sort within groups, average the two middle values
    order = np.lexsort((ioi_steps, group))
    sorted_ioi = ioi_steps[order]
    has = step_counts > 0
    lo = step_offsets[:-1] + (step_counts - 1) // 2
    hi = step_offsets[:-1] + step_counts // 2
    unit = np.ones(n_rows)
    unit[has] = 0.5 * (sorted_ioi[lo[has]] + sorted_ioi[hi[has]])
    length = (ioi_steps / unit[group]).astype("f4")
    weight = step_weights_packed(interval, step_offsets)
    first = np.zeros(len(notes), dtype=bool)
    first[offsets[:-1][counts > 0]] = True
    metric = metric_classes(notes)[~first]          # a step's class is its arrival note's
    return Packed(entries, notes, offsets, interval, length, weight, metric, step_offsets, unit)


def pack_melodies(melodies: list[Melody]) -> Packed:
    """Melodies packed as one in-memory catalog without entries (row k is melodies[k]): the null samples
    `scripts/calibrate.py` scores as search scores a catalog."""
    notes = np.concatenate([m.notes for m in melodies]).astype(NOTE_DTYPE)
    offsets = np.concatenate([[0], np.cumsum([len(m.notes) for m in melodies])]).astype(np.int64)
    return pack([None] * len(melodies), notes, offsets)


def repeats(notes: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """True for every note that repeats the pitch of the note before it in the same melody."""
    pitch = np.rint(notes["pitch"].astype("f8"))
    rep = np.zeros(len(notes), dtype=bool)
    rep[1:] = pitch[1:] == pitch[:-1]
    if offsets is not None and len(offsets) > 1:
        starts = offsets[:-1][np.diff(offsets) > 0]
        rep[starts] = False
    return rep


def merge_repeats(notes: np.ndarray, offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The notes with every repeated note merged into the one before it (which then lasts until the next
    pitch change), and the new offsets. A transcription cannot hear a repeated note that is not
    re-articulated, so a recording is compared with its references in this form."""
    rep = repeats(notes, offsets)
    keep = ~rep
    out = notes[keep].copy()
    ends = notes["onset"] + notes["duration"]
    group_end = np.maximum.reduceat(ends, np.nonzero(keep)[0]) if len(out) else ends[:0]
    out["duration"] = group_end - out["onset"]
    if offsets is None:
        return out, None
    row = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    new_offsets[1:] = np.cumsum(np.bincount(row[keep], minlength=len(offsets) - 1))
    return out, new_offsets


# A written melody re-set to many more syllables strikes each note two or three times (text underlay, a
# rap-like delivery: BENCHMARKS.md, twenty-seventh session); its notes are then compared with repeated notes
# merged as well. RESTRUCK_WINDOW consecutive notes with at least RESTRUCK_SHARE of them repeats mark it: on
# seed 0, 18 of 20 such re-settings (scripts/bench_probe.py) and 46 of bench_accuracy's 465 other queries (20 of
# its 165 negatives), at E x ~1.6 for those; a window of 12 admits about twice as many others.
RESTRUCK_WINDOW = 16
RESTRUCK_SHARE = 0.5


def restruck(notes: np.ndarray) -> bool:
    """Whether some RESTRUCK_WINDOW consecutive notes hold at least RESTRUCK_SHARE repeated notes (a
    note striking its predecessor's pitch again): a passage re-set to more syllables than the melody has
    notes, which an alignment note for note reads as a different melody."""
    rep = repeats(notes).astype(np.int64)
    if len(rep) < RESTRUCK_WINDOW:
        return False
    in_window = np.convolve(rep, np.ones(RESTRUCK_WINDOW, dtype=np.int64), "valid")
    return bool(in_window.max() >= RESTRUCK_SHARE * RESTRUCK_WINDOW)


def merged_reading(melody: Melody) -> Melody | None:
    """The melody with its repeated notes merged (`merge_repeats`): the second reading a recording is
    compared in (a transcriber hears some repeated notes that are not re-articulated and misses others),
    by `Catalog.search` (against the catalog's notes merged the same way) and by `melody.api.compare`
    (both melodies merged). None when fewer than MIN_NOTES notes remain."""
    notes = merge_repeats(melody.notes)[0]
    if len(notes) < MIN_NOTES:
        return None
    return Melody(notes, melody.title, melody.composer, melody.source, melody.index, melody.meta)


def step_weights_packed(interval: np.ndarray, step_offsets: np.ndarray) -> np.ndarray:
    """commonness.step_weights for every melody of a packed array, without a Python loop per melody."""
    from ..commonness import P_TRIGRAM, START, _symbols, _to_weight
    s = _symbols(interval)
    prev1 = np.empty_like(s)
    prev2 = np.empty_like(s)
    prev1[1:], prev2[2:] = s[:-1], s[:-2]
    prev1[:1], prev2[:2] = START, START
    pos = np.arange(len(s)) - np.repeat(step_offsets[:-1], np.diff(step_offsets))   # index inside its melody
    prev1[pos < 1] = START
    prev2[pos < 2] = START
    return _to_weight(-np.log2(P_TRIGRAM[prev2, prev1, s]))


def cache_dir(catalog_path: str, generation: str) -> str:
    return os.path.join(catalog_path, "cache", f"packed-{FEATURES_VERSION}-{generation}")


def build_arrays(store, alloc=None, progress=None, after_id: int = 0,
                 with_layout: bool = True) -> dict[str, np.ndarray]:
    """Every array of the packed cache for the store's rows with ids above `after_id`, built CHUNK_NOTES
    notes at a time (with_layout=False: without the first pass's layout, see `_layout_arrays`).

    ``alloc(name, shape, dtype)`` makes each output array (default: np.empty; `write_cache` passes
    memory-mapped .npy files, so a million melodies never sit in memory at once).
    """
    alloc = alloc or (lambda name, shape, dtype: np.empty(shape, dtype))
    ids, counts, runs = store.layout(after_id)
    n_rows = len(ids)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    step_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    step_offsets[1:] = np.cumsum(np.maximum(counts - 1, 0))
    out = {"offsets": alloc("offsets", (n_rows + 1,), np.int64), "ids": alloc("ids", (n_rows,), np.int64),
           "step_offsets": alloc("step_offsets", (n_rows + 1,), np.int64),
           "tempo_unit": alloc("tempo_unit", (n_rows,), np.float64),
           "notes": alloc("notes", (int(offsets[-1]),), NOTE_DTYPE),
           "pitch": alloc("pitch", (int(offsets[-1]),), np.int16)}
    for name in _STEPS:
        out[name] = alloc(name, (int(step_offsets[-1]),), np.float32)
    out["offsets"][:], out["ids"][:], out["step_offsets"][:] = offsets, ids, step_offsets
    run_offsets = np.zeros(len(runs) + 1, dtype=np.int64)
    run_offsets[1:] = np.cumsum([n for _, _, n in runs])
    a = 0
    while a < n_rows:
        b = int(np.searchsorted(offsets, offsets[a] + CHUNK_NOTES, side="right")) - 1
        b = min(max(b, a + 1), n_rows)
        lo, hi = int(offsets[a]), int(offsets[b])
        first = int(np.searchsorted(run_offsets, lo, side="right")) - 1
        last = int(np.searchsorted(run_offsets, hi, side="left"))
        parts = []
        for k in range(first, last):     # the runs that overlap notes lo:hi, trimmed to it
            seg, start, n = runs[k]
            cut_lo = max(lo - int(run_offsets[k]), 0)
            cut_hi = min(hi - int(run_offsets[k]), n)
            parts.append((seg, start + cut_lo, cut_hi - cut_lo))
        notes = store.read_notes(parts)
        chunk = pack(None, notes, offsets[a:b + 1] - lo)
        out["notes"][lo:hi] = notes
        out["pitch"][lo:hi] = np.rint(notes["pitch"]).astype(np.int16)
        s_lo, s_hi = int(step_offsets[a]), int(step_offsets[b])
        for name in _STEPS:
            out[name][s_lo:s_hi] = getattr(chunk, name)
        out["tempo_unit"][a:b] = chunk.tempo_unit
        if progress:
            progress(b - a)
        a = b
    if with_layout:
        out.update(_layout_arrays(out, alloc))
    return out


def _layout_arrays(arrays, alloc) -> dict[str, np.ndarray]:
    """The search index built over all rows' steps: the fast kernel's block layout and the sieve's 8-bit copy
    of it."""
    layout = fast.build_layout(*(arrays[k] for k in _STEPS), np.asarray(arrays["step_offsets"]))
    layout["sieve8"] = sieve.sieve_layout(layout)
    out = {}
    for key, value in (("fast_" + k, v) for k, v in layout.items()):
        out[key] = alloc(key, value.shape, value.dtype)
        out[key][...] = value
    return out


def write_cache(store, path: str, progress=None) -> bool:
    """Build the packed cache into `path` (atomically: a temporary folder renamed into place). Returns
    False when the catalog folder cannot be written (the caller then builds in memory)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(tmp, exist_ok=True)
        arrays = build_arrays(store, lambda name, shape, dtype: np.lib.format.open_memmap(
            os.path.join(tmp, name + ".npy"), mode="w+", dtype=dtype, shape=shape), progress)
        for arr in arrays.values():
            arr.flush()
        del arrays
        _publish(tmp, path)
        parent = os.path.dirname(path)
        for name in os.listdir(parent):     # older generations and caches of older versions
            if name != os.path.basename(path) and not name.startswith(os.path.basename(path) + ".tmp"):
                full = os.path.join(parent, name)
                shutil.rmtree(full, ignore_errors=True) if os.path.isdir(full) else os.remove(full)
        return True
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def _publish(tmp: str, path: str, valid=None) -> None:
    """Rename the finished folder `tmp` to `path`, so that a reader sees the whole folder or none. When `path`
    exists already, a readable one (`valid(path)`, default `read_cache`) means another process finished first
    and `tmp` is dropped; an unreadable or outdated one is swapped out for `tmp`."""
    valid = valid or (lambda folder: read_cache(folder) is not None)
    try:
        os.rename(tmp, path)
    except OSError:
        if not os.path.isdir(path):
            raise
        if valid(path):                               # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:                                         # an unreadable or outdated cache of the same name
            trash = f"{path}.old-{os.getpid()}"
            os.rename(path, trash)
            os.rename(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)


_SHIFTED = {"offsets": "notes", "step_offsets": "interval"}   # offset arrays: appended shifted, first value dropped


def extend_cache(store, path: str) -> bool:
    """Make this generation's cache from an older one when melodies were only added since (the usual
    `melody index` of new files): the new rows are packed alone and appended to the older cache's files in
    place, and the first pass's layout is rebuilt. A million-melody catalog that gains a few files is then
    ready in seconds, not rebuilt whole. Returns False when no older cache fits (the caller rebuilds).
    """
    parent, name = os.path.split(path)
    prefix = f"packed-{FEATURES_VERSION}-"
    try:
        olds = [d for d in os.listdir(parent) if d.startswith(prefix) and ".tmp" not in d and d != name
                and d.rsplit("-", 1)[-1] == name.rsplit("-", 1)[-1]]    # no melody replaced since
    except OSError:
        return False
    for old in olds:
        arrays = read_cache(os.path.join(parent, old))
        if arrays is None or not len(arrays["ids"]):
            continue
        ids = np.asarray(arrays["ids"])
        if not np.array_equal(store.ids(upto=int(ids[-1])), ids):    # some melody was replaced: rebuild
            continue
        del arrays
        work = f"{path}.tmp-{os.getpid()}"
        try:
            os.rename(os.path.join(parent, old), work)       # no reader picks it up while it changes
        except OSError:
            return False
        try:
            extra = build_arrays(store, after_id=int(ids[-1]), with_layout=False)
            for key in _CACHED:
                if key in extra:
                    _append_npy(os.path.join(work, key + ".npy"), extra[key][1:] if key in _SHIFTED else extra[key],
                                shift=key in _SHIFTED)
            for stale in os.listdir(work):        # derived copies of the old rows (MERGED_DIR): made again
                if os.path.isdir(os.path.join(work, stale)):
                    shutil.rmtree(os.path.join(work, stale))
            current = read_cache(work)
            if current is None:
                raise OSError("extended cache does not read back")
            layout = _layout_arrays(current, lambda k, shape, dtype: np.empty(shape, dtype))
            del current
            for key, arr in layout.items():
                tmp = os.path.join(work, key + ".tmp.npy")
                np.save(tmp, arr)
                os.replace(tmp, os.path.join(work, key + ".npy"))
            os.rename(work, path)
            return True
        except (OSError, ValueError):
            shutil.rmtree(work, ignore_errors=True)
            return False
    return False


def _append_npy(path: str, extra: np.ndarray, shift: bool = False) -> None:
    """Append rows to a 1-d .npy file in place: the data first, then the header's new length (numpy leaves
    room in the header for the length to grow, so the header keeps its size). shift: `extra` are offsets
    relative to 0, moved to continue after the file's last value."""
    with open(path, "r+b") as fh:
        np.lib.format.read_magic(fh)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        data_at = fh.tell()
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                      "fortran_order": fortran, "shape": (shape[0] + len(extra),)})
        if len(header.getvalue()) != data_at:      # magic, version, header length and header
            raise OSError(f"{path}: the .npy header cannot grow in place")
        if shift:
            fh.seek(data_at + (shape[0] - 1) * dtype.itemsize)
            extra = extra + np.frombuffer(fh.read(dtype.itemsize), dtype=dtype)[0]
        fh.seek(data_at + shape[0] * dtype.itemsize)
        fh.write(np.ascontiguousarray(extra, dtype=dtype).tobytes())
        fh.truncate()
        fh.flush()
        os.fsync(fh.fileno())            # the data is down before the header says it is there
        fh.seek(0)
        fh.write(header.getvalue())
        fh.flush()
        os.fsync(fh.fileno())


# The catalog with repeated notes merged in every melody (`merge_repeats`), its steps and the first pass's
# layout over them: what a recording's second reading, or a re-struck score's, is ranked against
# (`melody.catalog.Catalog._rank`). Building it takes 0.2-0.4 s of CPU and ~85 MB for the default catalog,
# which every such query paid in a fresh process; it is kept as MERGED_DIR inside the packed cache's folder,
# so it belongs to that generation of the catalog and is removed with it. Bump MERGED_VERSION when
# merge_repeats changes what it keeps.
MERGED_VERSION = 1
MERGED_DIR = f"merged-{MERGED_VERSION}"


def merged_arrays(packed: Packed, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The packed cache's arrays (those `read_cache` reads) for `packed` with repeated notes merged within each
    melody: the steps `pack` makes of the merged notes and the first pass's block layout over them. ``ids``:
    the rows' melody ids, as in the packed cache (what `read_merged` checks a cached copy against)."""
    notes, offsets = merge_repeats(packed.notes, packed.offsets)
    merged = pack(None, notes, offsets)
    arrays = {name: getattr(merged, name) for name in ("notes", "offsets", "step_offsets", "tempo_unit", *_STEPS)}
    arrays["pitch"] = np.rint(notes["pitch"]).astype(np.int16)
    arrays["ids"] = np.asarray(ids, dtype=np.int64)
    layout = fast.build_layout(*(arrays[k] for k in _STEPS), arrays["step_offsets"])
    arrays.update(("fast_" + k, layout[k]) for k in _LAYOUT)
    return arrays


def read_merged(path: str, ids: np.ndarray) -> dict[str, np.ndarray] | None:
    """The merged copy cached in the folder `path` (`merged_arrays`, memory-mapped read-only), or None when it
    is missing, incomplete, or made for other rows than ``ids`` (a cache extended with new melodies since)."""
    arrays = read_cache(path)
    if arrays is None or not np.array_equal(arrays["ids"], ids):
        return None
    return arrays


def write_merged(path: str, arrays: dict[str, np.ndarray]) -> bool:
    """Write `merged_arrays` into the folder `path` atomically (a temporary folder renamed into place: a reader
    sees the whole copy or none, and an interrupted write leaves what was there). False when it cannot be
    written (a read-only folder, or a cache folder another process removed meanwhile)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(tmp, exist_ok=True)
        for name, arr in arrays.items():
            np.save(os.path.join(tmp, name + ".npy"), arr, allow_pickle=False)
        _publish(tmp, path, lambda folder: read_merged(folder, arrays["ids"]) is not None)
        return True
    except OSError:
        return False
    finally:            # also when interrupted (Ctrl-C): no partial copy stays behind
        shutil.rmtree(tmp, ignore_errors=True)


def read_cache(path: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, memory-mapped read-only, or None when the cache is missing or incomplete."""
    try:
        arrays = {k: np.load(os.path.join(path, k + ".npy"), mmap_mode="r", allow_pickle=False) for k in _CACHED}
    except (OSError, ValueError):
        return None
    try:
        arrays[SIEVE8] = np.load(os.path.join(path, SIEVE8 + ".npy"), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        pass
    so = arrays["step_offsets"]
    if (len(arrays["offsets"]) != len(so) or len(arrays["ids"]) != len(so) - 1
            or so[-1] != len(arrays["interval"]) or arrays["offsets"][-1] != len(arrays["notes"])
            or arrays["notes"].dtype != NOTE_DTYPE):
        return None
    return arrays


def add_sieve_layout(path: str | None, arrays: dict[str, np.ndarray]) -> None:
    """Give cached arrays that lack it the sieve's 8-bit layout: written into the cache folder `path` (a
    temporary file renamed into place) and memory-mapped back, or kept in memory when `path` is None or
    cannot be written."""
    layout = {k: arrays["fast_" + k] for k in _LAYOUT}
    s8 = sieve.sieve_layout(layout)
    if path is not None:
        tmp = os.path.join(path, f"{SIEVE8}.tmp-{os.getpid()}.npy")
        try:
            np.save(tmp, s8)
            os.replace(tmp, os.path.join(path, SIEVE8 + ".npy"))
            arrays[SIEVE8] = np.load(os.path.join(path, SIEVE8 + ".npy"), mmap_mode="r", allow_pickle=False)
            return
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
    arrays[SIEVE8] = s8


def from_arrays(entries, arrays: dict[str, np.ndarray]) -> Packed:
    packed = Packed(entries, **{k: arrays[k] for k in _CACHED if k not in ("pitch", "ids") and not k.startswith("fast_")},
                    layout={k: arrays["fast_" + k] for k in _LAYOUT})
    if SIEVE8 in arrays:
        packed.layout["sieve8"] = arrays[SIEVE8]
    packed.derived["pitch"] = arrays["pitch"]
    packed.derived["ids"] = arrays["ids"]
    return packed
