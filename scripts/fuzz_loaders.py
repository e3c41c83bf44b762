"""Fuzz the MIDI and ABC loaders and the audio decoder through `melody.io.load`, for a bounded time.

Inputs come from hypothesis strategies: mutated seed files (bit flips, truncation, inserted, deleted and
repeated chunks), structured MIDI from random events, ABC from random tokens, WAV headers with random
parameters, and raw bytes. Each input is loaded in a child process with a time limit per file and an
address-space limit; a child that dies is a crash, one that overruns is a hang (it is killed and replaced).
A `MelodyError` is the expected rejection; any other exception is counted as "unexpected" (the batch would
report it as that file's error, but a loader should say what is wrong). Audio is covered by whatever
`melody.io.load` supports when this runs (an unsupported type is a rejection).

    .venv/bin/python scripts/fuzz_loaders.py [--seconds 60] [--per-file 10] [--seed 0] [--json OUT|-]
Exit status 1 when anything crashed or hung.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)


def child() -> int:
    """Load each path read from stdin; answer one JSON line."""
    import resource

    # what the loaders use on first need, made ready before the limits: the beat tracker (a played MIDI part's
    # onsets are read against its tracked beat, `melody.io.played`) imports melody.audio and loads its Numba
    # kernels from Numba's cache on first call, ~1-4 s once per process (librosa.beat, used until the
    # twenty-fourth session, compiled afresh for 7-14 s); counted against the first input it could be a "hang"
    import numpy as np
    from melody.audio.beat_tracker import track_beats
    track_beats(np.array([0.0, 1.0, 0.0, 1.0]), 100.0, 120.0)
    limit = 2 * 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from melody.errors import MelodyError
    from melody.io import load
    proto.write('{"ready": true}\n')
    proto.flush()
    for line in sys.stdin:
        path = json.loads(line)["path"]
        try:
            melodies = load(path)
            answer = {"outcome": "loaded", "melodies": len(melodies)}
        except MelodyError as exc:
            answer = {"outcome": "rejected", "one_line": "\n" not in str(exc)}
        except MemoryError:
            answer = {"outcome": "unexpected", "type": "MemoryError", "message": ""}
        except Exception as exc:   # noqa: BLE001 - counting what escapes the loaders is the point
            answer = {"outcome": "unexpected", "type": type(exc).__name__, "message": str(exc)[:200]}
        proto.write(json.dumps(answer) + "\n")
        proto.flush()
    return 0


class Child:
    def __init__(self):
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
        self.buf = b""
        assert self.read(120) == {"ready": True}

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return "hang"
                data = os.read(fd, 65536)
                if not data:
                    return "crash"
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def load(self, path, timeout):
        self.proc.stdin.write((json.dumps({"path": path}) + "\n").encode())
        self.proc.stdin.flush()
        answer = self.read(timeout)
        if answer in ("hang", "crash"):
            self.proc.kill()
            self.proc.wait()
            self.start()
        return answer


def strategies():
    from hypothesis import strategies as st

    from _hostile import GOOD_ABC, good_midi, smf, track, vlq, wav

    def mutate(seed: bytes):
        op = st.one_of(
            st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(0, 7)),
            st.tuples(st.just("cut"), st.integers(0, 1 << 30), st.just(0)),
            st.tuples(st.just("insert"), st.integers(0, 1 << 30), st.binary(min_size=1, max_size=16)),
            st.tuples(st.just("delete"), st.integers(0, 1 << 30), st.integers(1, 32)),
            st.tuples(st.just("repeat"), st.integers(0, 1 << 30), st.integers(1, 64)))

        def apply(ops):
            data = bytearray(seed)
            for kind, at, arg in ops:
                if not data:
                    break
                k = at % len(data)
                if kind == "flip":
                    data[k] ^= 1 << arg
                elif kind == "cut":
                    del data[k:]
                elif kind == "insert":
                    data[k:k] = arg
                elif kind == "delete":
                    del data[k:k + arg]
                else:
                    data[k:k] = data[k:k + arg] * 3
            return bytes(data)
        return st.lists(op, min_size=1, max_size=8).map(apply)

    event = st.one_of(
        st.tuples(st.integers(0, 1 << 20), st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127)).map(
            lambda t: vlq(t[0]) + bytes(t[1:])),
        st.tuples(st.integers(0, 1 << 20), st.integers(0, 127), st.binary(max_size=8)).map(
            lambda t: vlq(t[0]) + b"\xff" + bytes([t[1]]) + vlq(len(t[2])) + t[2]),
        st.binary(min_size=1, max_size=6))
    midi = st.tuples(st.lists(st.lists(event, max_size=40).map(b"".join).map(track), min_size=1, max_size=4),
                     st.integers(0, 0xFFFF), st.integers(0, 2)).map(lambda t: smf(t[0], ppq=t[1], fmt=t[2]))
    token = st.sampled_from(["A", "B,", "c'", "^f", "_e", "=g", "z", "2", "/", "3/2", "|", "||", "|]", ":|", "|:",
                             "[", "]", "(", ")", "(3", "{", "}", "\"C\"", "!trill!", "-", ">", "<", "\n",
                             "K:", "M:", "L:", "Q:", "X:", "T:", "V:", "1/8", "6/8", "G", "Dm", "%", "&", "\\"])
    abc = st.lists(token, max_size=200).map(lambda ts: ("X:1\nK:C\n" + " ".join(ts)).encode())
    samples = st.binary(max_size=4000)
    wave = st.tuples(samples, st.sampled_from([0, 1, 8000, 22050, 44100, 1 << 31]), st.sampled_from([1, 3, 0, 99]),
                     st.sampled_from([8, 16, 24, 32, 0]), st.integers(0, 8)).map(
        lambda t: wav(t[0], sr=max(1, t[1]) if t[1] < (1 << 31) else (1 << 32) - 1, fmt=t[2], bits=t[3] or 16,
                      channels=t[4]) if t[4] else wav(t[0]))
    good_wav = wav(b"".join(int(8000 * ((k // 40) % 2 * 2 - 1)).to_bytes(2, "little", signed=True)
                            for k in range(4000)))
    return {
        ".mid": st.one_of(mutate(good_midi()), midi, st.binary(max_size=2000)),
        ".abc": st.one_of(mutate(GOOD_ABC.encode()), abc, st.binary(max_size=500)),
        ".wav": st.one_of(mutate(good_wav), wave, st.binary(max_size=2000)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--per-file", type=float, default=10, help="time limit per input (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the counts here ('-': last stdout line)")
    args = ap.parse_args()

    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st

    formats = strategies()
    stats = {"tried": 0, "loaded": 0, "rejected": 0, "unexpected": 0, "crashes": 0, "hangs": 0,
             "multi_line_errors": 0, "by_format": {}, "unexpected_examples": [], "findings": []}
    work = tempfile.mkdtemp(prefix="melody-fuzz-")
    runner = Child()
    t_end = time.monotonic() + args.seconds

    def one(data):
        ext = data.draw(st.sampled_from(sorted(formats)))
        blob = data.draw(formats[ext])
        path = os.path.join(work, f"input{stats['tried'] % 50}{ext}")
        with open(path, "wb") as fh:
            fh.write(blob)
        answer = runner.load(path, args.per_file)
        stats["tried"] += 1
        per = stats["by_format"].setdefault(ext, {"tried": 0, "loaded": 0, "rejected": 0, "unexpected": 0,
                                                  "crashes": 0, "hangs": 0})
        per["tried"] += 1
        key = {"hang": "hangs", "crash": "crashes"}.get(answer) if isinstance(answer, str) else answer["outcome"]
        stats[key] += 1
        per[key] += 1
        if isinstance(answer, dict) and answer["outcome"] == "rejected" and not answer["one_line"]:
            stats["multi_line_errors"] += 1
        if key in ("hangs", "crashes", "unexpected") and len(stats["findings"]) < 20:
            keep = os.path.join(work, f"finding{len(stats['findings'])}{ext}")
            os.replace(path, keep)
            stats["findings"].append({"kind": key, "file": keep,
                                      **(answer if isinstance(answer, dict) else {})})

    t0 = time.monotonic()
    chunk = 0
    try:
        while time.monotonic() < t_end:     # chunks of 25 examples until the time is up
            run = seed(args.seed * 100_003 + chunk)(
                settings(max_examples=25, deadline=None, database=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck))(given(st.data())(one)))
            run()
            chunk += 1
    finally:
        runner.proc.stdin.close()
        runner.proc.wait(timeout=30)
    stats["seconds"] = round(time.monotonic() - t0, 1)
    text = json.dumps(stats)
    print(f"tried {stats['tried']} inputs in {stats['seconds']} s: {stats['loaded']} loaded, {stats['rejected']} "
          f"rejected with a MelodyError, {stats['unexpected']} other exceptions, {stats['crashes']} crashes, "
          f"{stats['hangs']} hangs (limit {args.per_file:g} s per file); findings kept in {work}")
    if args.json == "-":
        print(text)
    elif args.json:
        with open(args.json, "w") as fh:
            fh.write(text)
    return 1 if stats["crashes"] or stats["hangs"] else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(child())
    sys.exit(main())
