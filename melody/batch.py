"""Batch scans that survive crashes, bad files and restarts: a journaled run folder, sandboxed workers.

A run (``melody scan PATHS --catalog C --out RUN_DIR``) is a folder::

    run.json        what was asked: inputs, catalog (and its generation), top, max_evalue, evidence
    journal.jsonl   append-only, one fsynced line per finished file: {"path", "sha256", "outcome", "result"}
    workers.log     whatever the workers printed (parser warnings, tracebacks)
    results.jsonl   the finished run, one `melody.api.query_file` result per scanned or failed file
    summary.json / summary.csv / summary.html / matches.csv    counts, memorisation audit, one row per input

Every input ends in exactly one of three outcomes, so ``scanned + failed + skipped == inputs``:

* **scanned** – the file was read and searched (``status == "ok"``), flagged or not;
* **failed** – it could not be (``status == "error"``): unreadable, corrupt, unsupported when named
  explicitly, no melody, timed out, over the memory limit, or its worker crashed; the error is one line;
* **skipped** – it was not searched, by rule: an unsupported file type or a non-regular file found inside a
  scanned folder, a symlinked folder (never followed, so symlink loops cannot trap a scan), a symlink that
  leads outside the scanned folder, or the same content with the same extension as an earlier input
  (``duplicate of ...``; the earlier file's result stands for both).

A killed run resumes with ``--resume``: journaled files are not scanned again, a torn last line is dropped,
and the reports are rebuilt from the journal. The same path with changed content is scanned again.

Files are searched in *sandboxes*: worker processes (``python -m melody.batch``) that open the catalog
read-only once, take one path at a time over a pipe and answer one JSON line. The parent enforces a time
limit per file (an overrunning worker is killed and replaced; the file is recorded as failed) and each
worker runs under an address-space limit (RLIMIT_AS). A worker that dies takes only its current file with
it. The same sandboxes run on Dask workers (``--dask``), so both executions give identical results.
Nothing read from a catalog, a journal or an input is unpickled or evaluated; journal paths are only
compared with the inputs found on disk, never opened.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from .errors import MelodyError
from .io.parts import check_parts

JOURNAL, RUN_INFO, WORKER_LOG = "journal.jsonl", "run.json", "workers.log"
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_MB = 4096
STARTUP_TIMEOUT_S = 300.0
MAX_HASH_BYTES = 4 * 1024 ** 3     # larger inputs fail without being read
RUN_VERSION = 1


class BatchError(MelodyError):
    """A run folder cannot be used (in use, made for other inputs or another catalog) or workers cannot start."""


# ---- inputs ---------------------------------------------------------------------------------------
@dataclass
class Input:
    path: str                    # absolute
    skip: str | None = None      # reason it is skipped (never searched)
    duplicate_of: str | None = None   # the earlier input with the same content (then skip says so too)
    sha256: str = ""
    error: str | None = None     # failure found before any worker saw it (cannot read)


UNSUPPORTED = "unsupported file type"     # the skip reason of a file inside a folder that melody does not read


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def discover(paths, supported=None) -> list[Input]:
    """Every input under `paths` (folders recursively, sorted), each once, with its skip reason if any.

    Files named explicitly are always inputs (an unsupported one fails with the loader's message);
    inside folders, unsupported types, non-regular files, symlinked folders and symlinks leading
    outside the folder are skipped.
    """
    if supported is None:
        from .io import is_supported as supported
    out: dict[str, Input] = {}

    def add(item: Input):
        out.setdefault(item.path, item)

    for arg in paths:
        arg = os.path.abspath(os.fspath(arg))
        if not os.path.isdir(arg):
            out[arg] = Input(arg)       # named explicitly: an input even where a folder before it skipped it
            continue
        root = os.path.realpath(arg)
        for folder, dirs, names in os.walk(arg, followlinks=False, onerror=None):
            dirs.sort()
            for d in list(dirs):
                full = os.path.join(folder, d)
                if os.path.islink(full):
                    add(Input(full, skip="symlinked folder (not followed)"))
            for name in sorted(names):
                full = os.path.join(folder, name)
                if not supported(name):
                    add(Input(full, skip=UNSUPPORTED))
                    continue
                if os.path.islink(full):
                    try:
                        target = os.path.realpath(full, strict=True)
                    except OSError:
                        add(Input(full))          # a broken link or a loop: fails with the OS's reason
                        continue
                    if not _within(target, root):
                        add(Input(full, skip="symlink leads outside the scanned folder"))
                        continue
                try:
                    mode = os.stat(full).st_mode
                except OSError:
                    add(Input(full))
                    continue
                if not stat.S_ISREG(mode):
                    add(Input(full, skip="not a regular file"))
                    continue
                add(Input(full))
    return list(out.values())


def _hash(path: str) -> str:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    if st.st_size > MAX_HASH_BYTES:
        raise OSError(errno.EFBIG, f"{st.st_size} bytes is too large")
    from .catalog import file_hash
    return file_hash(path)


def fingerprint(inputs: list[Input]) -> None:
    """Content hashes; later inputs with the content and extension of an earlier one become duplicates."""
    first: dict[tuple[str, str], str] = {}
    for item in inputs:
        if item.skip:
            continue
        try:
            item.sha256 = _hash(item.path)
        except OSError as exc:
            item.error = f"{item.path}: cannot read ({exc.strerror or exc})"
            continue
        key = (item.sha256, os.path.splitext(item.path)[1].lower())
        if key in first:
            item.duplicate_of = first[key]
            item.skip = f"duplicate of {item.duplicate_of}"
        else:
            first[key] = item.path


def error_result(path: str, message: str) -> dict:
    """A `query_file`-shaped result for a file that failed outside the loader."""
    return {"query": path, "status": "error", "error": message, "flagged": False, "matches": []}


# ---- journal --------------------------------------------------------------------------------------
def read_journal(path: str) -> tuple[dict[tuple[str, str], dict], int]:
    """Records by (path, sha256), the last one winning, and the number of unreadable lines ignored."""
    records, bad = {}, 0
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return records, 0
    with fh:
        for raw in fh:
            try:
                rec = json.loads(raw)
                key = (rec["path"], rec["sha256"])
                if rec["outcome"] not in ("scanned", "failed") or not isinstance(rec["result"], dict):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            records[key] = rec
    return records, bad


class Journal:
    """Append-only JSONL; each line is written whole and fsynced before the next file counts as done."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.lseek(self.fd, 0, os.SEEK_END)
        if size:   # a line torn by a crash is cut off, so the next record starts on a line of its own
            os.lseek(self.fd, 0, os.SEEK_SET)
            data = b""
            while len(data) < size:
                chunk = os.read(self.fd, size - len(data))
                if not chunk:
                    break
                data += chunk
            if not data.endswith(b"\n"):
                os.ftruncate(self.fd, data.rfind(b"\n") + 1)
                os.fsync(self.fd)
        os.lseek(self.fd, 0, os.SEEK_END)

    def append(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode("utf-8", "surrogateescape")
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        os.fsync(self.fd)

    def close(self):
        os.close(self.fd)


# ---- sandboxed workers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    catalog: str
    top: int = 10
    max_evalue: float | None = None
    evidence: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int | None = DEFAULT_MEMORY_MB
    parts: str = "lead"                 # melody.api.query_file's parts: "lead" or "all"
    variants: bool = False              # melody.api.query_file's variants: a tune family's search


class _Lines:
    """Whole lines from a pipe, read without blocking past a deadline."""

    def __init__(self, fd: int):
        self.fd, self.buf, self.eof = fd, b"", False

    def feed(self) -> None:
        data = os.read(self.fd, 1 << 20)
        if data:
            self.buf += data
        else:
            self.eof = True

    def pop(self) -> bytes | None:
        k = self.buf.find(b"\n")
        if k < 0:
            return None
        line, self.buf = self.buf[:k], self.buf[k + 1:]
        return line


class Sandbox:
    """One worker process: opens the catalog once, then answers one path at a time over a pipe."""

    def __init__(self, settings: Settings, log=None):
        self.settings, self.log = settings, log
        self.proc = None
        self.lines = None
        self.ready = False
        self.current = None        # path being searched
        self.deadline = None

    def start(self) -> None:
        s = self.settings
        env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        config = json.dumps({"catalog": s.catalog, "top": s.top, "max_evalue": s.max_evalue,
                             "evidence": s.evidence, "memory_mb": s.memory_mb, "parts": s.parts,
                             "variants": s.variants})
        self.proc = subprocess.Popen([sys.executable, "-m", "melody.batch", "--worker", config],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log if self.log is not None else subprocess.DEVNULL,
                                     start_new_session=False)
        self._fd = self.proc.stdout.fileno()
        self.lines = _Lines(self._fd)
        self.ready, self.current = False, None
        self.deadline = time.monotonic() + STARTUP_TIMEOUT_S

    @property
    def fd(self) -> int:
        return self._fd

    def send(self, path: str) -> bool:
        """Hand the worker a file; False when the worker is already gone (the file was not taken)."""
        try:
            self.proc.stdin.write((json.dumps({"path": path}) + "\n").encode("utf-8", "surrogateescape"))
            self.proc.stdin.flush()
        except OSError:
            return False
        self.current = path
        self.deadline = time.monotonic() + self.settings.timeout_s
        return True

    def message(self) -> dict | None:
        line = self.lines.pop()
        return None if line is None else json.loads(line)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def death(self) -> str:
        """Why the worker is gone (after EOF on its pipe)."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
        return f"exit status {code}"

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()          # the worker ends at end of input
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    # a blocking call for one file (Dask tasks): same limits, same restarts
    def query(self, path: str) -> dict:
        for _attempt in range(2):          # a worker found dead before it took the file is replaced once
            if self.proc is None or self.proc.poll() is not None:
                self.kill()
                self.start()
            while not self.ready:
                event = self._wait()
                if event is None or event.get("fatal"):
                    reason = event.get("fatal") if event else f"a scan worker did not start ({self._gone_reason()})"
                    self.kill()
                    self.proc = None
                    raise BatchError(reason)
                self.ready = bool(event.get("ready"))
            if self.send(path):
                break
            self.kill()
            self.proc = None
        else:
            raise BatchError("scan workers die before they take a file; see the worker log")
        event = self._wait()
        result = _outcome(self, event)
        if event is None or "result" not in event:
            self.kill()
            self.proc = None
        self.current = None
        return result

    def _gone_reason(self) -> str:
        return "timed out" if self.proc.poll() is None else self.death()

    def _wait(self) -> dict | None:
        """The next message, or None on timeout or death."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while True:
                msg = self.message()
                if msg is not None:
                    return msg
                if self.lines.eof:
                    return None
                left = self.deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    if time.monotonic() >= self.deadline:
                        return None
                    continue
                self.lines.feed()


def _outcome(box: Sandbox, event: dict | None) -> dict:
    """The result for the sandbox's current file from its answer, or the failure when there was none."""
    path = box.current
    if event is not None and "result" in event:
        return event["result"]
    if box.proc.poll() is None and box.lines is not None and not box.lines.eof:
        box.kill()
        return error_result(path, f"{path}: timed out after {box.settings.timeout_s:g} s (worker stopped)")
    return error_result(path, f"{path}: the worker reading this file crashed ({box.death()})")


_local = threading.local()


def dask_query(path: str, settings: Settings) -> tuple[dict, float]:
    """Dask task: search one file in this worker thread's sandbox (started on first use, kept for the next).

    Returns the result and the seconds it took."""
    boxes = getattr(_local, "boxes", None)
    if boxes is None:
        boxes = _local.boxes = {}
    box = boxes.get(settings)
    if box is None:
        box = boxes[settings] = Sandbox(settings)
    t0 = time.perf_counter()
    result = box.query(path)
    return result, round(time.perf_counter() - t0, 4)


def _fault(path: str) -> None:
    """Faults injected by the tests and benchmarks only: MELODY_BATCH_FAULTS="hang:NAME,crash:NAME,oom:NAME,slow:*"."""
    spec = os.environ.get("MELODY_BATCH_FAULTS")
    if not spec:
        return
    name = os.path.basename(path)
    for item in spec.split(","):
        kind, _, target = item.partition(":")
        if target not in (name, "*"):
            continue
        if kind == "hang":
            while True:
                time.sleep(1)
        if kind == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "oom":
            import numpy as np
            np.ones(1 << 40, dtype=np.uint8)         # 1 TiB: MemoryError under the address-space limit
        if kind == "slow":
            time.sleep(0.5)


def _worker(config_text: str) -> int:
    """`python -m melody.batch --worker CONFIG`: the sandbox side of the pipe protocol."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="surrogateescape")
    os.dup2(2, 1)            # anything a library prints goes to the log, never into the protocol

    def say(msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    config = json.loads(config_text)
    if config.get("memory_mb"):
        import resource
        limit = int(config["memory_mb"]) * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    try:
        from .api import query_file
        from .catalog import Catalog
        from .score.significance import DEFAULT_MAX_EVALUE
        catalog = Catalog.open(config["catalog"], read_only=True)
        _warm_up(catalog)
    except MelodyError as exc:
        say({"fatal": str(exc)})
        return 2
    except Exception as exc:
        say({"fatal": f"worker cannot start: {type(exc).__name__}: {exc}"})
        return 2
    max_evalue = DEFAULT_MAX_EVALUE if config.get("max_evalue") is None else config["max_evalue"]
    say({"ready": True, "pid": os.getpid()})
    for line in sys.stdin.buffer:
        path = json.loads(line)["path"]
        t0 = time.perf_counter()
        try:
            _fault(path)
            result = query_file(path, catalog, top=config["top"], max_evalue=max_evalue,
                                evidence=config["evidence"], parts=config.get("parts", "lead"),
                                variants=config.get("variants", False))
        except MemoryError:
            result = error_result(path, f"{path}: over the memory limit ({config.get('memory_mb')} MB)")
        if result["status"] == "error" and result["error"]:
            result["error"] = " ".join(str(result["error"]).split())      # always one line
        say({"result": result, "seconds": round(time.perf_counter() - t0, 4)})
    return 0


def _warm_up(catalog) -> None:
    """Load the packed catalog and the jitted kernels before the first file's clock starts."""
    import numpy as np

    from .notes import Melody, make_notes
    catalog.packed
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 71]
    probe = Melody(make_notes(np.arange(12) * 0.5, np.full(12, 0.5), pitches), title="warm-up")
    catalog.search(probe, top=1)


# ---- running --------------------------------------------------------------------------------------
@dataclass
class RunReport:
    run_dir: str
    inputs: int = 0
    scanned: int = 0
    failed: int = 0
    skipped: int = 0
    flagged: int = 0
    pending: int = 0           # inputs without an outcome (only after an interruption)
    resumed: int = 0           # outcomes taken from the journal of an earlier, interrupted run
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)


def _settings_key(settings: Settings, generation: str, paths) -> dict:
    return {"version": RUN_VERSION, "paths": list(paths), "catalog": settings.catalog,
            "catalog_generation": generation, "top": settings.top, "max_evalue": settings.max_evalue,
            "evidence": settings.evidence,
            # runs journaled before either option existed stay resumable
            **({"parts": settings.parts} if settings.parts != "lead" else {}),
            **({"variants": True} if settings.variants else {})}


def _catalog_generation(path: str) -> str:
    """The catalog's generation (checked again on --resume); raises for a missing or empty catalog."""
    from .catalog import Catalog
    cat = Catalog.open(path, read_only=True)
    try:
        count, generation = cat.store.generation()
    finally:
        cat.close()
    if not count:
        raise MelodyError(f"{cat.path}: the catalog is empty; add references with `melody index`")
    return generation


def run(paths, settings: Settings, run_dir: str, resume: bool = False, workers: int = 1,
        dask: str | None = None, progress=None) -> RunReport:
    """Scan every input under `paths` into `run_dir` (see the module docstring); returns the counts.

    Parameters
    ----------
    workers : sandboxes searching in parallel on this machine (ignored with `dask`).
    dask : a scheduler address (``tcp://host:8786``), or ``"local"`` for a LocalCluster of `workers`
        single-threaded worker processes.
    progress : optional callable ``progress(done, total, initial)`` called as files finish.

    Raises
    ------
    BatchError when the run folder is in use or holds a different run, CatalogError for a bad catalog.
    """
    from .catalog import default_catalog_path
    t0 = time.monotonic()
    catalog = os.path.abspath(settings.catalog or default_catalog_path())
    settings = Settings(catalog, settings.top, settings.max_evalue, settings.evidence, settings.timeout_s,
                        settings.memory_mb, check_parts(settings.parts), bool(settings.variants))
    if settings.top < 1:
        raise MelodyError(f"top must be at least 1, got {settings.top}")
    if not settings.timeout_s > 0:      # NaN too
        raise MelodyError(f"the time limit must be positive, got {settings.timeout_s}")
    generation = _catalog_generation(catalog)
    abs_paths = [os.path.abspath(os.fspath(p)) for p in paths]
    key = _settings_key(settings, generation, abs_paths)
    run_dir = os.path.abspath(run_dir)
    try:
        os.makedirs(run_dir, exist_ok=True)
        lock_fd = os.open(os.path.join(run_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BatchError(f"{run_dir}: cannot use this run folder ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"{run_dir}: another scan is using this run folder") from None
        info_path = os.path.join(run_dir, RUN_INFO)
        journal_path = os.path.join(run_dir, JOURNAL)
        if os.path.exists(info_path) or os.path.exists(journal_path):
            if not resume:
                raise BatchError(f"{run_dir}: holds an earlier run; add --resume to continue it or choose "
                                 "another --out folder")
            try:
                with open(info_path, encoding="utf-8") as fh:
                    old = json.load(fh)
            except (OSError, ValueError):
                old = None
            if old is not None:
                diff = [k for k in key if old.get(k) != key[k]]
                if diff:
                    raise BatchError(f"{run_dir}: this run was started with other settings: {', '.join(diff)}; "
                                     "resume it with the same inputs, catalog and options, or use another --out")
        _write_json(info_path, key)
        report = _execute(abs_paths, settings, run_dir, workers, dask, progress)
    finally:
        os.close(lock_fd)
    report.seconds = time.monotonic() - t0
    return report


def _write_json(path: str, data) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _execute(paths, settings: Settings, run_dir: str, workers: int, dask, progress) -> RunReport:
    inputs = discover(paths)
    fingerprint(inputs)
    done, _bad = read_journal(os.path.join(run_dir, JOURNAL))
    todo = [i for i in inputs if not i.skip and (i.path, i.sha256) not in done]
    n_done = sum(1 for i in inputs if not i.skip) - len(todo)
    journal = Journal(os.path.join(run_dir, JOURNAL))
    finished = 0
    total = len(todo) + n_done
    if progress:
        progress(n_done, total, n_done)

    def record(item: Input, result: dict, seconds: float | None = None):
        nonlocal finished
        outcome = "scanned" if result.get("status") == "ok" else "failed"
        journal.append({"path": item.path, "sha256": item.sha256, "outcome": outcome, "result": result,
                        "seconds": seconds, "time": time.time()})
        finished += 1
        if progress:
            progress(n_done + finished, total, n_done)

    try:
        searchable = []
        for item in todo:
            if item.error:          # unreadable before any worker saw it
                record(item, error_result(item.path, item.error))
            else:
                searchable.append(item)
        if searchable:
            if dask:
                _run_dask(searchable, settings, dask, workers, record)
            else:
                with open(os.path.join(run_dir, WORKER_LOG), "ab") as log:
                    _run_local(searchable, settings, max(1, int(workers)), record, log)
    finally:
        journal.close()
    summary = summarize(run_dir, inputs)
    c = summary["counts"]
    return RunReport(run_dir, c["inputs"], c["scanned"], c["failed"], c["skipped"], c["flagged"], c["pending"],
                     n_done, summary=summary)


def _run_local(items: list[Input], settings: Settings, workers: int, record, log) -> None:
    """Search `items` in `workers` sandboxes; every item is recorded exactly once."""
    queue = list(reversed(items))
    by_path: dict[str, Input] = {}
    boxes = [Sandbox(settings, log) for _ in range(min(workers, len(items)))]
    sel = selectors.DefaultSelector()
    try:
        for box in boxes:
            box.start()
            sel.register(box.fd, selectors.EVENT_READ, box)
        busy = 0
        while queue or busy:
            for box in boxes:                      # hand out work to every ready, idle sandbox
                if box.ready and box.current is None and queue:
                    item = queue.pop()
                    if box.send(item.path):
                        by_path[item.path] = item
                        busy += 1
                    else:                          # gone while idle: the file waits for the replacement
                        queue.append(item)         # (its end of file is seen below and the worker restarted)
            wake = min((b.deadline for b in boxes), default=float("inf"))
            events = sel.select(None if wake == float("inf") else max(0.0, wake - time.monotonic()))
            for key, _ in events:
                key.data.lines.feed()
            now = time.monotonic()
            for box in list(boxes):
                while True:
                    msg = box.message()
                    if msg is None:
                        break
                    if msg.get("fatal"):
                        raise BatchError(msg["fatal"])
                    if msg.get("ready"):
                        box.ready = True
                        box.deadline = float("inf")
                    elif "result" in msg and box.current is not None:
                        item = by_path.pop(box.current)
                        record(item, msg["result"], msg.get("seconds"))
                        box.current, box.deadline = None, float("inf")
                        busy -= 1
                gone = box.lines.eof
                late = now >= box.deadline
                if not (gone or late):
                    continue
                if box.current is None and not box.ready:
                    reason = box._gone_reason()
                    raise BatchError(f"a scan worker did not start ({reason}); see {getattr(log, 'name', 'the log')}")
                sel.unregister(box.fd)
                if box.current is not None:
                    item = by_path.pop(box.current)
                    record(item, _outcome(box, None))
                    busy -= 1
                box.kill()
                if queue or busy:           # a fresh worker takes its place
                    box.start()
                    sel.register(box.fd, selectors.EVENT_READ, box)
                else:
                    boxes.remove(box)
    finally:
        sel.close()
        for box in boxes:
            box.close()


def _run_dask(items: list[Input], settings: Settings, address: str, workers: int, record) -> None:
    """Search `items` as Dask tasks, one sandbox per worker thread; results recorded as they finish."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise BatchError("--dask needs dask.distributed: pip install distributed") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=max(1, int(workers)), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        by_key = {}
        futures = []
        for item in items:
            fut = client.submit(dask_query, item.path, settings, pure=False, retries=1)
            by_key[fut.key] = item
            futures.append(fut)
        for fut in as_completed(futures):
            item = by_key[fut.key]
            seconds = None
            try:
                result, seconds = fut.result()
            except BatchError:
                for f in futures:
                    f.cancel()
                raise
            except Exception as exc:      # the Dask worker itself died twice on this file
                first = str(exc).splitlines()[0] if str(exc) else ""
                result = error_result(item.path, f"{item.path}: the Dask task failed ({type(exc).__name__}: {first})")
            record(item, result, seconds)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---- reports --------------------------------------------------------------------------------------
def _longest(result: dict) -> tuple[int, float]:
    """The longest flagged passage of a result: (notes, seconds of the query)."""
    best = (0, 0.0)
    for m in result.get("matches") or []:
        if m.get("flagged"):
            span = m.get("query_span") or [0.0, 0.0]
            best = max(best, (int(m.get("matched_notes") or 0), float(span[1] - span[0])))
    return best


def audit(results: list[dict], top_refs: int = 20) -> dict:
    """Memorisation audit over scanned results: how often is something copied, how long, and what."""
    scanned = [r for r in results if r.get("status") == "ok"]
    flagged = [r for r in scanned if r.get("flagged")]
    notes = sorted(_longest(r)[0] for r in flagged)
    seconds = sorted(_longest(r)[1] for r in flagged)
    refs: dict[str, dict] = {}
    for r in flagged:
        seen = set()
        for m in r["matches"]:
            if m.get("flagged") and m["id"] not in seen:
                seen.add(m["id"])
                ref = refs.setdefault(m["id"], {"id": m["id"], "title": m.get("title", ""),
                                                "source": m.get("source", ""), "tracks": 0, "longest_notes": 0})
                ref["tracks"] += 1
                ref["longest_notes"] = max(ref["longest_notes"], int(m.get("matched_notes") or 0))
    top = sorted(refs.values(), key=lambda d: (-d["tracks"], -d["longest_notes"], d["id"]))[:top_refs]

    def dist(values):
        if not values:
            return {"n": 0}
        q = lambda f: values[min(len(values) - 1, int(f * (len(values) - 1) + 0.5))]
        return {"n": len(values), "min": values[0], "median": q(0.5), "p90": q(0.9), "max": values[-1],
                "mean": round(sum(values) / len(values), 3)}

    return {"tracks": len(scanned), "flagged_tracks": len(flagged),
            "flagged_share": round(len(flagged) / len(scanned), 4) if scanned else 0.0,
            "longest_passage_notes": dist(notes), "longest_passage_seconds": dist([round(s, 2) for s in seconds]),
            "longest_passages": [{"query": r["query"], "notes": _longest(r)[0], "seconds": round(_longest(r)[1], 2)}
                                 for r in flagged],
            "distinct_references_copied": len(refs), "top_references": top}


def summarize(run_dir: str, inputs: list[Input]) -> dict:
    """Rebuild every report of a run from its journal; returns summary.json's content."""
    records, bad = read_journal(os.path.join(run_dir, JOURNAL))
    rows, results = [], []
    counts = {"inputs": len(inputs), "scanned": 0, "failed": 0, "skipped": 0, "pending": 0, "flagged": 0}
    for item in inputs:
        rec = None if item.skip else records.get((item.path, item.sha256))
        if item.skip:
            outcome, detail = "skipped", item.skip
        elif rec is None:
            outcome, detail = "pending", ""
        else:
            outcome, result = rec["outcome"], rec["result"]
            detail = result.get("error") or ""
            results.append(result)
        counts[outcome] += 1
        row = {"path": item.path, "outcome": outcome, "detail": detail, "flagged": False, "matches": 0,
               "best_title": "", "best_id": "", "best_evalue": "", "longest_flagged_notes": 0,
               "longest_flagged_seconds": 0.0, "seconds": ""}
        if rec is not None:
            result = rec["result"]
            ms = result.get("matches") or []
            counts["flagged"] += bool(result.get("flagged"))
            notes, secs = _longest(result)
            row.update(flagged=bool(result.get("flagged")), matches=len(ms),
                       best_title=ms[0]["title"] if ms else "", best_id=ms[0]["id"] if ms else "",
                       best_evalue=ms[0]["evalue"] if ms else "", longest_flagged_notes=notes,
                       longest_flagged_seconds=round(secs, 2),
                       seconds=rec.get("seconds") if rec.get("seconds") is not None else "")
        rows.append(row)
    summary = {"run_dir": run_dir, "counts": counts, "complete": counts["pending"] == 0,
               "journal_lines_ignored": bad, "audit": audit(results),
               "failed": [{"path": r["path"], "error": r["detail"]} for r in rows if r["outcome"] == "failed"],
               "skipped": [{"path": r["path"], "reason": r["detail"]} for r in rows if r["outcome"] == "skipped"]}
    try:
        with open(os.path.join(run_dir, RUN_INFO), encoding="utf-8") as fh:
            summary["run"] = json.load(fh)
    except (OSError, ValueError):
        pass
    from .report.html import csv_text
    _write_text(os.path.join(run_dir, "results.jsonl"), "".join(json.dumps(r) + "\n" for r in results))
    _write_text(os.path.join(run_dir, "matches.csv"), csv_text(results))
    _write_text(os.path.join(run_dir, "summary.csv"), _csv(rows))
    _write_json(os.path.join(run_dir, "summary.json"), summary)
    _write_text(os.path.join(run_dir, "summary.html"), _html_summary(summary, rows))
    return summary


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _csv(rows: list[dict]) -> str:
    import csv
    import io
    buf = io.StringIO()
    cols = list(rows[0]) if rows else ["path", "outcome", "detail"]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _plots(audit_: dict) -> list[tuple[str, object]]:
    """Histograms of the longest copied passage and a bar chart of the most copied references."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    figs = []
    notes = [p["notes"] for p in audit_["longest_passages"]]
    secs = [p["seconds"] for p in audit_["longest_passages"]]
    if notes:
        fig = Figure(figsize=(9, 3))
        a, b = fig.subplots(1, 2)
        a.hist(notes, bins=min(30, max(5, len(set(notes)))), color="#b33")
        a.set_xlabel("longest flagged passage (notes)")
        a.set_ylabel("tracks")
        b.hist(secs, bins=min(30, max(5, len(set(secs)))), color="#36b")
        b.set_xlabel("longest flagged passage (seconds)")
        for ax in (a, b):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        figs.append(("Longest copied passage per flagged track", fig))
    top = audit_["top_references"][:15]
    if top:
        fig = Figure(figsize=(9, 0.35 * len(top) + 1))
        ax = fig.subplots()
        labels = [(t["title"] or t["id"])[:50] for t in top][::-1]
        ax.barh(range(len(top)), [t["tracks"] for t in top][::-1], color="#b33")
        ax.set_yticks(range(len(top)), labels)
        ax.set_xlabel("tracks copying it")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        figs.append(("References copied most often", fig))
    return figs


def _html_summary(summary: dict, rows: list[dict]) -> str:
    import html as _html

    from .report.html import _CSS, _png, _table
    esc = _html.escape
    c, a = summary["counts"], summary["audit"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>melody batch scan</title>"
             f"<style>{_CSS}</style></head><body><h1>melody batch scan</h1>",
             f"<p>{esc(summary['run_dir'])}: {'complete' if summary['complete'] else 'incomplete (resume with --resume)'}"
             "</p>", _table([{"inputs": c["inputs"], "scanned": c["scanned"], "failed": c["failed"],
                              "skipped": c["skipped"], "pending": c["pending"], "flagged": c["flagged"]}]),
             "<h2>Memorisation audit</h2>",
             f"<p>{a['flagged_tracks']} of {a['tracks']} scanned tracks ({100 * a['flagged_share']:.1f}%) have a "
             f"flagged match; {a['distinct_references_copied']} distinct references are copied.</p>",
             _table([{"longest passage": unit, **{k: v for k, v in a[key].items()}}
                     for unit, key in (("notes", "longest_passage_notes"), ("seconds", "longest_passage_seconds"))])]
    for title, fig in _plots(a):
        parts.append(f"<h3>{esc(title)}</h3><img alt='{esc(title)}' src='{_png(fig)}'>")
    parts.append("<h3>References copied most often</h3>" + _table(
        [{"reference": t["title"], "id": t["id"], "tracks": t["tracks"], "longest (notes)": t["longest_notes"],
          "source": t["source"]} for t in a["top_references"]]))
    flagged = [r for r in rows if r["flagged"]]
    parts.append(f"<h2>Flagged tracks ({len(flagged)})</h2>" + _table(
        [{"file": r["path"], "best match": r["best_title"], "E-value": r["best_evalue"],
          "longest (notes)": r["longest_flagged_notes"], "longest (s)": r["longest_flagged_seconds"]}
         for r in flagged[:500]]))
    for outcome in ("failed", "skipped", "pending"):
        these = [r for r in rows if r["outcome"] == outcome]
        if these:
            parts.append(f"<h2>{outcome.capitalize()} ({len(these)})</h2>" + _table(
                [{"file": r["path"], "reason": r["detail"]} for r in these[:1000]]))
    parts.append("</body></html>")
    return "\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker(sys.argv[2]))
    sys.exit("usage: python -m melody.batch --worker CONFIG_JSON (started by `melody scan --out`)")
