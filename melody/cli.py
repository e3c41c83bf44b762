"""`melody` command line: argument parsing and presentation only; the work is in melody.api.

Heavy libraries are imported inside the commands so that `melody --help` is instant.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2


def _catalog_arg(p):
    p.add_argument("--catalog", metavar="DIR", default=None,
                   help="catalog folder (default: the built default catalog, $MELODY_CATALOG or "
                        "~/.cache/melody/default-catalog)")


def _transcriber_arg(p):
    p.add_argument("--transcriber", choices=("fused", "salience", "pyin"), default=None,
                   help="how recordings' melodies are transcribed: fused (default; our pitch tracker with a small "
                        "neural network's note evidence), salience (the tracker alone, ~2x faster, less accurate) "
                        "or pyin (monophonic, slow); also $MELODY_TRANSCRIBER")


def _positive_int(text: str) -> int:
    """--top K: a usage error (exit 2 with the usage line), not every file's error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _above_zero(what: str):
    """An argparse type for a number that must be above 0 (``what`` names it in the message): --max-evalue 0, -1
    or NaN flagged nothing and --timeout nan limited nothing, silently; now each is a usage error."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:        # NaN too
            raise argparse.ArgumentTypeError(f"must be above 0 ({what}), got {text}")
        return value
    return parse


KINDS = "MIDI, MusicXML, .mxl, ABC, kern, or a wav/flac/ogg/mp3 recording"


def _command(sub, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose own --help opens with what it does (argparse shows a subparser's `help` only in
    its parent's list: `melody query --help` gave usage and options without a word on the command)."""
    return sub.add_parser(name, help=help, description=description or help)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="melody", description="Find borrowed melodies: which reference melodies does a song (MIDI, MusicXML, "
        "ABC, kern, or a wav/flac/ogg/mp3 recording) reuse, "
        "how significantly, and where.",
        epilog="examples:\n  melody catalog build-default\n  melody query song.mid\n  melody query take.mp3\n"
               "  melody scan songs/ --jsonl results.jsonl --fail-on-match\n  melody compare a.mid b.musicxml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "index", help="add files and folders (recursively) to a catalog; unchanged files are skipped")
    p.add_argument("paths", nargs="+", metavar="PATH", help=f"files and folders to add ({KINDS})")
    _catalog_arg(p)
    p.add_argument("--workers", type=int, default=None, metavar="N", help="parsing processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _transcriber_arg(p)

    for name, helptext in (("query", "search one file's melody (a score, or a recording: its lead melody is "
                                     "transcribed) against the catalog"),
                           ("scan", "search many files (folders recursively); one result per file")):
        p = _command(sub, name, help=helptext)
        if name == "query":
            p.add_argument("file", metavar="FILE", help=f"the song to search for ({KINDS})")
            p.add_argument("--format", choices=("table", "json"), default="table",
                           help="a table for people (default) or the JSON output contract")
        else:
            p.add_argument("paths", nargs="+", metavar="PATH", help="files and folders (searched recursively; "
                           "files of other types in a folder are skipped)")
            p.add_argument("--jsonl", metavar="OUT", help="write one JSON line per input file, as each finishes")
            p.add_argument("--format", choices=("table", "json"), default="table",
                           help="stdout format when no --jsonl is given")
            p.add_argument("--quiet", action="store_true", help="no progress bar")
            b = p.add_argument_group("journaled batch runs (thousands of files; see melody.batch)")
            b.add_argument("--out", metavar="RUN_DIR",
                           help="journaled run: results.jsonl, summary.json/.csv/.html (with the memorisation "
                                "audit) in RUN_DIR; a killed run continues with --resume")
            b.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR where it stopped")
            b.add_argument("--workers", type=int, default=None, metavar="N",
                           help="parallel worker processes (default: all cores); with --dask and no address, "
                                "the size of a local Dask cluster")
            b.add_argument("--dask", nargs="?", const="local", default=None, metavar="ADDRESS",
                           help="run on a Dask cluster (tcp://SCHEDULER:8786); without an address, a local "
                                "cluster of --workers processes")
            b.add_argument("--timeout", type=_above_zero("seconds"), default=None, metavar="S",
                           help="time limit per file in seconds (default 120); an overrunning worker is stopped")
            b.add_argument("--max-memory", type=int, default=None, metavar="MB",
                           help="address-space limit per worker in MB (default 4096; 0: none)")
        _catalog_arg(p)
        _transcriber_arg(p)
        p.add_argument("--top", type=_positive_int, default=10, metavar="K", help="matches per file (default 10)")
        p.add_argument("--max-evalue", type=_above_zero("an E-value"), default=None, metavar="E",
                       help="flag matches whose E-value is at most E (default 0.1, chosen for a false-positive rate <= 1%%)")
        p.add_argument("--fail-on-match", action="store_true", help="exit 1 when any match is flagged")
        p.add_argument("--variants", action="store_true",
                       help="also ask whether it is a variant of a whole tune of the catalog (a folk tune's "
                            "versions, varied a little throughout): whole-song evidence is added to the "
                            "shared passage's for references of its length")
        p.add_argument("--explain", action="store_true",
                       help="JSON: add each match's evidence (aligned notes, differences, rare/common shapes)")
        p.add_argument("--parts", choices=("lead", "all"), default="lead",
                       help="which lines of a MIDI or MusicXML file are searched: lead (default: its melody) or "
                            "all (every pitched part but drums, e.g. a borrowed riff, bass line or countermelody; "
                            "each match names its part, and E-values are multiplied by the number of parts)")

    p = _command(sub, "compare", help="every shared passage of two files' melodies")
    p.add_argument("a", metavar="A", help=f"the song that may borrow ({KINDS}); every tune of a collection")
    p.add_argument("b", metavar="B", help="the song it may borrow from (same types)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="a table for people (default) or JSON (each passage with its evidence)")
    p.add_argument("--max-evalue", type=_above_zero("an E-value"), default=None, metavar="E",
                   help="flag passages whose E-value (counting every pair of tunes compared) is at most E "
                        "(default 0.1)")
    p.add_argument("--fail-on-match", action="store_true", help="exit 1 when any passage is flagged")
    _transcriber_arg(p)

    p = _command(sub, "catalog", help="catalog information and the default catalog")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    c = _command(csub, "info", help="number of melodies, sources and size")
    _catalog_arg(c)
    c.add_argument("--format", choices=("table", "json"), default="table",
                   help="a table for people (default) or JSON")
    c = _command(csub, "build-default", help="build the default catalog: reference_tracks/ + music21's "
                 "public-domain corpus (once; later runs reuse it)")
    _catalog_arg(c)
    c.add_argument("--workers", type=int, default=None, metavar="N", help="parsing processes (default: all cores)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    _command(sub, "app", help="start the Streamlit dashboard",
             description="start the Streamlit dashboard (app.py) and open it in a browser: one song's matches "
             "and their evidence, compare two songs, a batch of files (the catalog folder is chosen in its sidebar; "
             "default: $MELODY_CATALOG or ~/.cache/melody/default-catalog)")
    return ap


def _fmt_span(span):
    return f"{span[0]:6.1f}-{span[1]:6.1f}s"


def _fmt_bars(bars):
    return f"bars {bars[0]}-{bars[1]}" if bars else ""


def _legend(query="the query", reference="the reference", chance="in this catalog"):
    return (f"  (! flagged; E: matches this good expected by chance {chance}; transp: semitones from "
            f"{reference} to {query}; tempo: {query}'s tempo / {reference}'s)")


LEGEND = _legend()


def _fmt_tune(index, title):
    return f"tune {index + 1}" + (f" \"{title}\"" if title else "")


def print_result_table(result: dict, out=None):
    out = out or sys.stdout   # looked up per call: a default of sys.stdout would pin the stream at import
    name = result["query"]
    if result["status"] != "ok":
        error = result["error"] or ""
        # the error names its file for JSON readers; the line already starts with it ("x.mid: ERROR x.mid: ...")
        print(f"{name}: ERROR {error.removeprefix(f'{name}: ')}", file=out)
        return
    verdict = "FLAGGED" if result["flagged"] else "nothing flagged"
    print(f"{name}: {verdict}", file=out)
    if not result["matches"]:
        print("  (no matches)", file=out)
    several = any(m.get("query_tune") for m in result["matches"])    # a file of several tunes (ABC)
    for k, m in enumerate(result["matches"], 1):
        flag = "!" if m["flagged"] else " "
        print(f" {flag}{k:2d}. {m['title'][:40]:40s} score {m['score']:.3f}  E={m['evalue']:<7.2g} "
              f"{m['matched_notes']:3d} notes  query {_fmt_span(m['query_span'])} {_fmt_bars(m['query_bars'])}"
              f"  ref {_fmt_span(m['reference_span'])} {_fmt_bars(m['reference_bars'])}  "
              f"transp {m['transposition']:+d} st  tempo x{m['tempo_ratio']:.2f}", file=out)
        if several:
            print(f"      in {_fmt_tune(m.get('query_tune', 0), m.get('query_title'))}", file=out)
        if m.get("query_part"):
            print(f"      in part {m['query_part']['index'] + 1} \"{m['query_part']['name']}\"", file=out)


def _count(n: int, word: str, plural: str = "") -> str:
    """"1 file", "2 files", "1 melody", "3 melodies": counts in the summary lines read as English."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _duplicates(report) -> str:
    n = len(report.duplicates)
    return f", {n} duplicate{'s' if n != 1 else ''} of other files (same content)" if n else ""


def _reread(report) -> str:
    n = report.reread
    return f" ({n} of them read again: an older reader had read {'them' if n != 1 else 'it'})" if n else ""


def _other_files(paths, found: int) -> str:
    """'; 2 files of other types skipped' for files inside the given folders that melody does not read."""
    from .catalog import expand_paths
    other = len(expand_paths(paths, supported=lambda name: True)) - found
    if other <= 0 and found:
        return ""
    return (f"; {other} file{'s' if other != 1 else ''} of other types skipped" if other > 0 else "") + \
        ("" if found else " (no music files found: melody reads .mid .musicxml .mxl .abc .krn .wav .flac .ogg .mp3)")


def _open_catalog(path):
    from .catalog import Catalog
    cat = Catalog.open(path)
    notice = cat.stale_notice()
    if notice:
        print(notice, file=sys.stderr)
    return cat


def _max_evalue(args):
    from .score.significance import DEFAULT_MAX_EVALUE
    return DEFAULT_MAX_EVALUE if args.max_evalue is None else args.max_evalue


def _require_paths(paths):
    """A file or folder named on the command line that is not there is a usage error (a typo), not one failed
    file in a run that exits 0: `melody scan incomng/ --fail-on-match` in CI passed with nothing scanned."""
    from .errors import MelodyError
    missing = [os.fspath(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise MelodyError(f"{', '.join(missing)}: no such file or folder")


def cmd_index(args):
    from tqdm import tqdm

    from .catalog import Catalog, expand_paths
    _require_paths(args.paths)
    cat = Catalog.open(args.catalog, create=True)
    total = len(expand_paths(args.paths))
    other = _other_files(args.paths, total)
    try:
        with tqdm(total=total, unit="file", disable=args.quiet, file=sys.stderr, desc="indexing") as bar:
            report = cat.index(args.paths, workers=args.workers, progress=bar.update)
    except KeyboardInterrupt:
        print(f"melody: interrupted; the files finished so far are in {cat.path}: the same command continues "
              "(files already indexed are skipped)", file=sys.stderr)
        return 130
    for path, error in report.failed:
        print(f"error: {error}", file=sys.stderr)
    print(f"added {_count(report.added_files, 'file')} ({_count(report.added_melodies, 'melody', 'melodies')})"
          f"{_reread(report)}, "
          f"skipped {len(report.skipped) - len(report.duplicates)} unchanged{_duplicates(report)}, "
          f"{len(report.failed)} failed{other}; catalog: {cat.path}")
    return EXIT_OK


def _announce_recordings(*paths):
    """A recording takes a while to transcribe (seconds per minute of audio): say so before the wait."""
    from .audio.decode import _QuietStderr
    from .io import is_audio
    for path in paths:
        if is_audio(path) and os.path.isfile(path):
            try:
                import soundfile
                with _QuietStderr():      # libmpg123 prints its resync notes for a file that is no mp3
                    length = soundfile.info(path).duration
            except Exception:     # undecodable: nothing will be transcribed; the query reports it on one line
                continue
            print(f"melody: transcribing the melody of {path} ({length:.0f} s of audio)...", file=sys.stderr,
                  flush=True)


SLOW_NOTICE_S = 15.0


class _SlowNotice:
    """Say once on stderr when a command is still working after SLOW_NOTICE_S seconds: the first run of a new
    installation compiles the Numba kernels (about a minute) and printed nothing meanwhile."""

    def __enter__(self):
        import threading
        self.timer = threading.Timer(SLOW_NOTICE_S, lambda: print(
            f"melody: still working after {SLOW_NOTICE_S:.0f} s (the first run of a new installation compiles "
            "its alignment kernels once, about a minute; recordings take a while to transcribe)",
            file=sys.stderr, flush=True))
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def cmd_query(args):
    from .api import query_file
    _announce_recordings(args.file)
    with _SlowNotice():
        result = query_file(args.file, _open_catalog(args.catalog), top=args.top, max_evalue=_max_evalue(args),
                            evidence=args.explain, parts=args.parts, variants=args.variants)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print_result_table(result)
        if result["matches"]:
            print(LEGEND)
    if result["status"] != "ok":
        return EXIT_USAGE
    return EXIT_FLAGGED if args.fail_on_match and result["flagged"] else EXIT_OK


def _check_writable(path):
    """Fail now, on one line, rather than with a traceback (or after an hour's batch) when OUT cannot be written."""
    from .errors import MelodyError
    try:
        open(path, "a", encoding="utf-8").close()
    except OSError as exc:
        raise MelodyError(f"{path}: cannot write the results here ({exc.strerror or exc})") from None


def cmd_scan(args):
    _require_paths(args.paths)
    if args.jsonl:
        _check_writable(args.jsonl)
    if args.out:
        return cmd_batch(args)
    batch_only = [f"--{name.replace('_', '-')}" for name in ("resume", "workers", "dask", "timeout", "max_memory")
                  if getattr(args, name) not in (None, False)]
    if batch_only:
        from .errors import MelodyError
        raise MelodyError(f"{', '.join(batch_only)} need a run folder: add --out RUN_DIR")
    from tqdm import tqdm

    from .api import query_file
    cat = _open_catalog(args.catalog)
    inputs, skipped = _scan_inputs(args.paths)
    out = open(args.jsonl, "w", encoding="utf-8") if args.jsonl else None
    flagged = errors = duplicates = 0
    results, any_matches, by_path = [], False, {}
    try:
        for item in tqdm(inputs, unit="file", disable=args.quiet, file=sys.stderr, desc="scanning"):
            if item.error:
                result = _batch_error(item)
            elif item.duplicate_of:          # the same bytes give the same result: searched once
                first = _shown(item.duplicate_of)
                result = dict(by_path[first], query=_shown(item.path), duplicate_of=first)
                duplicates += 1
            else:
                result = query_file(_shown(item.path), cat, top=args.top, max_evalue=_max_evalue(args),
                                    evidence=args.explain, parts=args.parts, variants=args.variants)
            by_path[result["query"]] = result
            flagged += result["flagged"]
            any_matches |= bool(result["matches"])
            errors += result["status"] != "ok"
            if out:
                out.write(json.dumps(result) + "\n")
                out.flush()
            elif args.format == "table":
                if "duplicate_of" in result:
                    print(f"{result['query']}: the same file as {result['duplicate_of']} (its result above)")
                else:
                    print_result_table(result)
            else:
                results.append(result)
    finally:
        if out:
            out.close()
    if not out and args.format == "json":
        print(json.dumps(results, indent=2))
    elif not out and any_matches:
        print(LEGEND)
    for item in skipped:
        print(f"skipped {_shown(item.path)}: {item.skip}", file=sys.stderr)
    extra = (f", {_count(duplicates, 'duplicate')} (searched once)" if duplicates else "") + \
        (f", {len(skipped)} skipped" if skipped else "")
    print(f"scanned {_count(len(inputs), 'file')}: {flagged} flagged, {_count(errors, 'error')}{extra}"
          f"{_other_files(args.paths, len(inputs) + len(skipped))}", file=sys.stderr)
    return EXIT_FLAGGED if args.fail_on_match and flagged else EXIT_OK


def _scan_inputs(paths):
    """The files a plain `scan` searches, as `scan --out` finds them (`batch.discover` + `fingerprint`): each
    once, a duplicate or a symlink to a file already in the scan marked "duplicate of" its first copy (searched
    once, its result repeated), and the inputs never searched (a symlinked folder, a symlink leading outside
    the folder, a pipe or device) set apart with their reason. Unsupported types are counted by
    `_other_files`. Returns (inputs to report, skipped)."""
    from . import batch
    found = [i for i in batch.discover(paths) if i.skip != batch.UNSUPPORTED]
    batch.fingerprint(found)
    inputs = [i for i in found if not i.skip or i.duplicate_of]
    return inputs, [i for i in found if i.skip and not i.duplicate_of]


def _batch_error(item):
    from .batch import error_result
    return error_result(_shown(item.path), item.error.replace(item.path, _shown(item.path)))


def _shown(path: str) -> str:
    """A path as the user would type it: relative to the working folder when inside it (`batch.discover`
    gives absolute paths)."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def cmd_batch(args):
    """`scan --out RUN_DIR`: the journaled, parallel, resumable batch of melody.batch."""
    import shutil

    from tqdm import tqdm

    from . import batch
    settings = batch.Settings(
        catalog=args.catalog, top=args.top, max_evalue=args.max_evalue, evidence=args.explain,
        timeout_s=batch.DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout,
        memory_mb=batch.DEFAULT_MEMORY_MB if args.max_memory is None else (args.max_memory or None),
        parts=args.parts, variants=args.variants)
    _open_catalog(args.catalog)     # says so when an older reader read some of its files, as a plain scan does
    bar = None

    def progress(done, total, initial):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=initial, unit="file", disable=args.quiet, file=sys.stderr,
                       desc="scanning", smoothing=0.05)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()      # before the reports are written, so the rate and ETA shown are the scan's

    try:
        report = batch.run(args.paths, settings, args.out, resume=args.resume,
                           workers=args.workers or os.cpu_count() or 1, dask=args.dask, progress=progress)
    except KeyboardInterrupt:
        print(f"melody: interrupted; finished files are journaled in {args.out}: continue with --resume",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    if args.jsonl:
        shutil.copyfile(os.path.join(report.run_dir, "results.jsonl"), args.jsonl)
    summary = report.summary
    if args.format == "json" and not args.jsonl:
        print(json.dumps(summary, indent=2))
    else:
        audit = summary["audit"]
        for item in summary["failed"]:
            print(f"error: {item['error']}", file=sys.stderr)
        print(f"{report.inputs} inputs: {report.scanned} scanned, {report.failed} failed, {report.skipped} skipped"
              f"{f', {report.pending} pending' if report.pending else ''}; {report.flagged} flagged "
              f"({100 * audit['flagged_share']:.1f}% of scanned); "
              f"{report.resumed} from an earlier run; {report.seconds:.1f} s")
        print(f"reports: {os.path.join(report.run_dir, 'summary.html')} (also summary.json, summary.csv, "
              "results.jsonl, matches.csv)")
    return EXIT_FLAGGED if args.fail_on_match and report.flagged else EXIT_OK


def cmd_compare(args):
    from .api import compare_files
    _announce_recordings(args.a, args.b)
    with _SlowNotice():
        doc = compare_files(args.a, args.b, max_evalue=_max_evalue(args))
    passages = doc["passages"]
    status = EXIT_FLAGGED if args.fail_on_match and doc["flagged"] else EXIT_OK
    if args.format == "json":
        print(json.dumps(doc, indent=2))
        return status
    several = doc["tunes"] != [1, 1]
    print(f"{args.a} vs {args.b}: {len(passages)} shared passage(s)"
          + (f" between {doc['tunes'][0]} x {doc['tunes'][1]} tunes" if several else ""))
    for k, m in enumerate(passages, 1):
        flag = "!" if m["flagged"] else " "
        print(f" {flag}{k:2d}. E={m['evalue']:<7.2g} {m['matched_notes']:3d} notes  A {_fmt_span(m['query_span'])} "
              f"{_fmt_bars(m['query_bars'])}  B {_fmt_span(m['reference_span'])} {_fmt_bars(m['reference_bars'])}"
              f"  transp {m['transposition']:+d} st  tempo x{m['tempo_ratio']:.2f}")
        if several:
            print(f"      A: {_fmt_tune(m['query_tune'], m['query_title'])}   "
                  f"B: {_fmt_tune(m['reference_tune'], m['reference_title'])}")
        if m["evidence"].get("mode_change"):
            print(f"      {m['evidence']['mode_change']['text']}")
    if passages:
        print(_legend("A", "B", "between two tunes of this length"))
    return status


def cmd_catalog(args):
    if args.catalog_command == "info":
        info = _open_catalog(args.catalog).info()
        if args.format == "json":
            print(json.dumps(info, indent=2))
        else:
            print(f"catalog {info['catalog']}: {info['melodies']} melodies from {info['files']} files, "
                  f"{info['notes']} notes, {info['bytes'] / 1e6:.1f} MB")
            for s in info["sources"][:20]:
                print(f"  {s['files']:6d} files  {s['folder']}")
        return EXIT_OK
    from tqdm import tqdm

    from .catalog.build import build_default
    bar = tqdm(unit="file", disable=args.quiet, file=sys.stderr, desc="default catalog")
    report, path = build_default(args.catalog, workers=args.workers, progress=bar.update,
                                 set_total=lambda n: setattr(bar, "total", n))
    bar.close()
    print(f"default catalog at {path}: added {_count(report.added_files, 'file')} "
          f"({_count(report.added_melodies, 'melody', 'melodies')})"
          f"{_reread(report)}, "
          f"{len(report.skipped) - len(report.duplicates)} already there{_duplicates(report)}, "
          f"{len(report.failed)} failed")
    return EXIT_OK


def cmd_app(args):
    import subprocess
    app = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app.py")
    return subprocess.call(_app_command(app))


def _app_command(app: str) -> list[str]:
    from .uploads import MAX_AUDIO_BYTES     # the server lets the app's largest upload (a recording) through
    return [sys.executable, "-m", "streamlit", "run", app, "--server.maxUploadSize", str(MAX_AUDIO_BYTES // 2**20)]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .errors import MelodyError
    handler = {"index": cmd_index, "query": cmd_query, "scan": cmd_scan, "compare": cmd_compare,
               "catalog": cmd_catalog, "app": cmd_app}[args.command]
    saved = os.environ.get("MELODY_TRANSCRIBER")
    if getattr(args, "transcriber", None):
        os.environ["MELODY_TRANSCRIBER"] = args.transcriber     # melody.audio.load_method; workers inherit it
    try:
        return handler(args)
    except MelodyError as exc:
        print(f"melody: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("melody: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:      # `melody compare ... | head`: the reader left; no traceback, and none at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    finally:
        if saved is None:
            os.environ.pop("MELODY_TRANSCRIBER", None)
        else:
            os.environ["MELODY_TRANSCRIBER"] = saved


if __name__ == "__main__":
    sys.exit(main())
