"""Default-catalog build time and query latency, the way a user meets them.

Builds the default catalog from scratch into a temporary folder (`melody catalog build-default`), then times
`melody query` on every example (a fresh process each: start-up, catalog open and search included).

    .venv/bin/python scripts/bench_catalog.py [--catalog DIR] [--keep]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MELODY = os.path.join(os.path.dirname(sys.executable), "melody")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", help="build here (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary catalog")
    args = ap.parse_args()
    path = args.catalog or tempfile.mkdtemp(prefix="melody-catalog-")
    shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([MELODY, "catalog", "build-default", "--catalog", path, "--quiet"], check=True)
    build_s = time.perf_counter() - t
    info = json.loads(subprocess.run([MELODY, "catalog", "info", "--catalog", path, "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout)
    t = time.perf_counter()
    subprocess.run([MELODY, "catalog", "build-default", "--catalog", path, "--quiet"], check=True,
                   capture_output=True)
    rebuild_s = time.perf_counter() - t
    times = []
    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.mid")) +
                      glob.glob(os.path.join(ROOT, "examples", "*.musicxml")))
    for k in range(2):      # the first pass also warms caches (Numba, packed steps); report both
        for f in examples:
            t = time.perf_counter()
            subprocess.run([MELODY, "query", f, "--catalog", path, "--top", "10", "--format", "json"],
                           check=True, capture_output=True)
            times.append((k, time.perf_counter() - t))
    first = sorted(s for k, s in times if k == 0)
    warm = sorted(s for k, s in times if k == 1)
    print(f"default catalog: {info['melodies']} melodies from {info['files']} files, {info['bytes'] / 1e6:.1f} MB")
    print(f"first build {build_s:.1f} s, second run (all files unchanged) {rebuild_s:.1f} s")
    print(f"melody query (fresh process, top 10): first-ever {first[0]:.2f}-{first[-1]:.2f} s, "
          f"median {warm[len(warm) // 2]:.2f} s, max {warm[-1]:.2f} s over {len(warm)} examples")
    if not args.catalog and not args.keep:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
