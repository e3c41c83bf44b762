"""Broken and hostile input files, built in code (nothing shipped): the corpus of tests/test_hostile.py
and the seeds of scripts/fuzz_loaders.py."""
from __future__ import annotations

import os
import struct


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def track(events: bytes) -> bytes:
    events += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(events)) + events


def smf(tracks: list[bytes], ppq: int = 480, fmt: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), ppq) + b"".join(tracks)


def notes(pitches, ticks=480, channel=0) -> bytes:
    ev = b""
    for p in pitches:
        ev += vlq(0) + bytes([0x90 | channel, p, 90]) + vlq(ticks) + bytes([0x80 | channel, p, 0])
    return ev


def good_midi() -> bytes:
    tempo = vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big")
    return smf([track(tempo), track(notes([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65]))])


def wav(samples: bytes, sr: int = 22050, fmt: int = 1, bits: int = 16, channels: int = 1, frames: int | None = None) -> bytes:
    size = len(samples) if frames is None else frames * channels * bits // 8
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, fmt, channels, sr & 0xFFFFFFFF, (sr * block) & 0xFFFFFFFF, block, bits) +
            b"data" + struct.pack("<I", size) + samples)


GOOD_ABC = "X:1\nT:Seed\nM:4/4\nL:1/8\nK:G\nGABc d2e2|d2B2 G4|ABcd e2f2|g8|]\n"


def build(folder: str) -> dict[str, str]:
    """Write the corpus into `folder`; returns {label: path}. Audio files go to `folder/audio`."""
    os.makedirs(os.path.join(folder, "audio"), exist_ok=True)
    out = {}

    def put(label, name, data, sub=""):
        path = os.path.join(folder, sub, name)
        with open(path, "wb") as fh:
            fh.write(data)
        out[label] = path

    good = good_midi()
    put("zero bytes", "zero.mid", b"")
    put("truncated MIDI", "truncated.mid", good[: len(good) // 2])
    put("text named .mid", "text.mid", b"This is not a MIDI file, it is a shopping list.\n" * 20)
    fast = b"\xff\x51\x03" + (1).to_bytes(3, "big")            # 1 microsecond per beat
    slow = b"\xff\x51\x03" + b"\xff\xff\xff"                    # 16.7 s per beat
    zero = b"\xff\x51\x03" + b"\x00\x00\x00"                    # no time at all
    put("absurd tempo", "absurd_tempo.mid",
        smf([track(vlq(0) + fast + vlq(0x0FFFFFFF) + slow + vlq(0x0FFFFFFF) + zero),
             track(notes([60, 64, 67, 72] * 4, ticks=0x0FFFFFF))]))
    put("10,000 tracks", "tracks_10000.mid", smf([track(notes([60 + k % 12]))for k in range(10_000)]))
    backwards = b""
    for p in (60, 62, 64, 65, 67, 69):     # each note's end comes before its start
        backwards += vlq(0) + bytes([0x80, p, 0]) + vlq(240) + bytes([0x90, p, 90])
    put("notes ending before they start", "end_before_start.mid", smf([track(backwards)]))
    put("ABC with syntax errors", "syntax.abc",
        b"X:1\nT:broken\nM:4/0\nL:0/0\nK:Zb\n|: [[ (3 ^^^_ z/0 A2//// ]] {{{ |||| \"unterminated\n"
        b"X:\nK:\n(((((((((\n")
    put("non-UTF-8 name", "bad-\udcff\udcfe-name.mid", b"\x00\x01\x02 not midi")
    put("very long name", "long-" + "x" * 235 + ".mid", good[:30])
    put("one byte", "one_byte.mid", b"M")
    put("markup in the name", "<img src=x onerror=alert(1)>.mid", b"MThd")
    nan = struct.pack("<4f", float("nan"), 0.5, float("nan"), float("inf")) * 5000
    put("wav with NaNs", "nans.wav", wav(nan, fmt=3, bits=32), "audio")
    put("one-sample wav", "one_sample.wav", wav(b"\x10\x00"), "audio")
    hour = os.path.join(folder, "audio", "silent_hour.wav")          # sparse: 57.6 MB of zeros, no disk used
    with open(hour, "wb") as fh:
        fh.write(wav(b"", sr=8000, frames=8000 * 3600))
        fh.truncate(44 + 8000 * 3600 * 2)
    out["one-hour silent wav"] = hour
    put("truncated wav", "truncated.wav", wav(b"\x00\x01" * 1000)[:60], "audio")
    # folder traps: a symlink loop, a self-referencing file link, a FIFO that would block a reader forever
    os.symlink(".", os.path.join(folder, "loop"))
    os.symlink("self_link.mid", os.path.join(folder, "self_link.mid"))
    out["symlink loop (file)"] = os.path.join(folder, "self_link.mid")
    os.mkfifo(os.path.join(folder, "fifo.mid"))
    return out
