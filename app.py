"""Streamlit dashboard (presentation only): one song's matches with the evidence, or a batch of songs.

    melody app            # or: streamlit run app.py
"""
from __future__ import annotations

import json
import os
import tempfile

import streamlit as st

from melody.api import compare_collections, match_melodies, query_file, tunes
from melody.catalog import Catalog, default_catalog_path
from melody.catalog.store import Entry
from melody.errors import MelodyError
from melody.io import SUPPORTED_EXTENSIONS, is_audio, load
from melody.report import clip_audio, csv_text, html_report, interval_table, passage_audio, piano_roll
from melody.notes import Melody
from melody.report.html import passage_rows, summary_rows
from melody.score.significance import DEFAULT_MAX_EVALUE
from melody.uploads import (MAX_AUDIO_BYTES, MAX_FILE_BYTES, UploadError, extract_zip, relabel, relabel_melodies,
                            save_upload)

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
UPLOADS = os.path.join(tempfile.gettempdir(), "melody-uploads")
SONG_TYPES = [e.lstrip(".") for e in SUPPORTED_EXTENSIONS]
MAX_BATCH_FILES = 100


@st.cache_resource(show_spinner="Opening the catalog...")
def open_catalog(path: str) -> Catalog:
    catalog = Catalog.open(path)
    _ = catalog.packed          # load the arrays once per server
    return catalog


@st.cache_data(show_spinner=False, max_entries=64)
def file_melodies(path: str, modified: float, parts: str = "lead") -> list[Melody]:
    """Every melody of a file (of every part with parts="all"), read once per file version: the evidence
    of each match of a recording would otherwise transcribe it again."""
    return load(path, parts=parts)


@st.cache_data(show_spinner=False, max_entries=256)
def search(path: str, modified: float, catalog_path: str, top: int, max_evalue: float, parts: str = "lead") -> dict:
    """query_file with evidence, cached per file version and settings (`modified` is part of the key), on
    the file's melodies as `file_melodies` keeps them (a recording is transcribed once, for the search and
    the evidence; a file that does not load is query_file's error result)."""
    try:
        melodies = file_melodies(path, modified, parts)
    except Exception:       # query_file reads it again and reports why, as the file's error (never a traceback)
        melodies = None
    return query_file(path, open_catalog(catalog_path), top=top, max_evalue=max_evalue, evidence=True,
                      melodies=melodies, parts=parts)


def run_search(path: str, label: str, catalog_path: str, top: int, max_evalue: float, parts: str = "lead") -> dict:
    """The result as the user should see it: named by the label, never by a temporary path."""
    return relabel(search(path, os.path.getmtime(path), catalog_path, top, max_evalue, parts), path, label)


def verdict(label: str, result: dict):
    flagged = sum(m["flagged"] for m in result["matches"])
    if flagged:
        st.warning(f"{label}: {flagged} flagged match(es) — likely borrowed material")
    else:
        st.success(f"{label}: nothing flagged")


def match_table(matches: list[dict]):
    st.dataframe(summary_rows(matches), width="stretch", hide_index=True,
                 column_config={"E-value": st.column_config.NumberColumn(format="scientific")})


def shown_intervals(rows: list[dict], names=("query", "reference")) -> list[dict]:
    """`interval_table` rows as shown: intervals as signed text ("+2", "-1.96", "0"; a column of whole and
    fractional (a recording's) semitones would otherwise show every value to four decimals), the columns
    named after the two melodies."""
    def signed(value) -> str:
        return "0" if value == 0 else f"{value:+g}"

    def column(key: str) -> str:
        return key.replace("query", names[0]).replace("reference", names[1])

    return [{column(k): signed(v) if k.endswith("interval") else v for k, v in r.items()} for r in rows]


def passage_evidence(query: Melody, reference: Melody, m: dict, recordings=(), names=("query", "reference")):
    """One match's (or shared passage's) evidence: piano roll, significance, intervals, shared shapes, and
    the sound of the alignment. `recordings`: (caption, path, span) of each recording whose own passage
    is played too; `names`: what the two melodies are called (("A", "B") on the compare page)."""
    a, b = names
    the = "the " if names == ("query", "reference") else ""
    try:
        figure = piano_roll(query, reference, m, names)
    except (MelodyError, ValueError) as exc:
        st.error(f"Cannot show the evidence: {exc}")
        return
    ev = m["evidence"]
    st.pyplot(figure)
    st.caption(ev["significance"][0].upper() + ev["significance"][1:] + ".")
    if ev.get("mode_change"):
        st.caption("Mode: " + ev["mode_change"]["text"] + ".")
    left, right = st.columns([3, 2])      # the interval table's note names need the room
    with left:
        st.subheader("Intervals side by side")
        st.caption(f"Intervals in semitones (+ up, - down); {the}{b}'s notes are "
                   "named in its own key.")
        st.table(shown_intervals(interval_table(query, reference, m), names))
    with right:
        st.subheader("Shared 3-note shapes")
        st.caption("Two intervals in semitones each; bits: how rare the shape is in folk melodies (more is rarer, "
                   "so stronger evidence).")
        for rarity in ("rare", "typical", "common"):
            shapes = [s for s in ev["shared_shapes"] if s["rarity"] == rarity]
            if shapes:
                st.markdown(f"**{rarity}** ({len(shapes)}): " + ", ".join(
                    f"{'/'.join(f'{x:+.0f}' for x in s['intervals'])} ({s['bits']:.1f} bits)" for s in shapes))
        if ev["query_only_notes"] or ev["reference_only_notes"]:
            st.markdown(f"Notes only in {the}{a} (ornaments): {len(ev['query_only_notes'])}; "
                        f"only in {the}{b}: {len(ev['reference_only_notes'])}")
    st.subheader("Listen")
    for caption, path, span in recordings:
        st.caption(caption)
        try:
            st.audio(clip_audio(path, *span), format="audio/wav")
        except MelodyError as exc:
            st.error(str(exc))
    st.caption(f"{the.capitalize()}{a}'s passage, half a second of silence, then {the}{b}'s passage in {the}{a}'s key.")
    st.audio(passage_audio(query, reference, m), format="audio/wav")


def evidence(path: str, result: dict, catalog: Catalog, parts: str = "lead"):
    """The chosen match: piano roll, intervals, significance, shared shapes, audio, downloads."""
    matches = result["matches"]
    k = st.selectbox("Show the evidence for match", range(len(matches)),
                     format_func=lambda i: f"{i + 1}. {matches[i]['title']}" + (
                         f" (in {matches[i]['query_part']['name']})" if matches[i].get("query_part") else ""))
    m = matches[k]
    try:
        with st.spinner("Reading the song..."):
            melodies = file_melodies(path, os.path.getmtime(path), parts)
        query, reference = match_melodies(path, catalog, m, melodies)
    except (MelodyError, ValueError) as exc:
        st.error(f"Cannot show the evidence: {exc}")
        return
    recordings = [("The matched passage of the recording itself:", path, m["query_span"])] if is_audio(path) else []
    passage_evidence(query, reference, m, recordings)

    def full_report() -> str:     # built only when the button is pressed: a piano roll per match
        figures, intervals = {}, {}
        for i, match in enumerate(matches):
            try:
                q, r = match_melodies(path, catalog, match, melodies)
                figures[i], intervals[i] = piano_roll(q, r, match), interval_table(q, r, match)
            except (MelodyError, ValueError):
                continue
        return html_report(result, figures, intervals)

    name = os.path.splitext(result["query"])[0]
    a, b = st.columns(2)
    a.download_button("Download report (HTML)", full_report, file_name=f"{name}-melody-report.html",
                      mime="text/html", key="download_html")
    b.download_button("Download JSON", json.dumps(result, indent=1), file_name=f"{name}-melody.json",
                      mime="application/json", key="download_json")


def example_files() -> list[str]:
    if not os.path.isdir(EXAMPLES):
        return []
    return sorted(f for f in os.listdir(EXAMPLES) if f.endswith(SUPPORTED_EXTENSIONS))


# Streamlit's uploader prints the server's ceiling ("200MB per file", the largest of our limits); the help says ours
UPLOAD_LIMITS = (f"At most {MAX_FILE_BYTES // 2**20} MB per score (MIDI, MusicXML, ABC, kern), "
                 f"{MAX_AUDIO_BYTES // 2**20} MB per recording.")


def song_page(catalog: Catalog, catalog_path: str, top: int, max_evalue: float, parts: str = "lead"):
    upload = st.file_uploader("Upload a song", type=SONG_TYPES, key="song_upload", help=UPLOAD_LIMITS)
    examples = example_files()
    example = st.selectbox("...or pick an example", ["(none)"] + examples)
    if upload is not None:
        label = os.path.basename(upload.name)
        try:
            path = save_upload(label, upload.getvalue(), UPLOADS)
        except UploadError as exc:
            st.error(str(exc))
            return
    elif example != "(none)":
        path, label = os.path.join(EXAMPLES, example), example
    else:
        st.info("Upload a MIDI, MusicXML, ABC or kern file, or a recording (wav, flac, ogg, mp3: the lead "
                "melody is transcribed), or pick an example.")
        return

    with st.spinner("Searching the catalog..."):
        result = run_search(path, label, catalog_path, top, max_evalue, parts)
    if result["status"] != "ok":
        st.error(f"Cannot analyse this file: {result['error']}")
        return
    verdict(label, result)
    match_table(result["matches"])
    if result["matches"]:
        evidence(path, result, catalog, parts)


def batch_songs(uploads) -> tuple[list[tuple[str, str]], list[dict]]:
    """(label, path) of every song in the uploads (zips unpacked) and error results for what failed."""
    songs, failed = [], []
    for upload in uploads:
        name = os.path.basename(upload.name)
        try:
            if name.lower().endswith(".zip"):
                songs += [(f"{name}/{inner}", p) for inner, p in extract_zip(upload.getvalue(), UPLOADS)]
            else:
                songs.append((name, save_upload(name, upload.getvalue(), UPLOADS)))
        except UploadError as exc:
            failed.append({"query": name, "status": "error", "error": str(exc), "flagged": False, "matches": []})
    return songs, failed


def batch_page(catalog_path: str, top: int, max_evalue: float, parts: str = "lead"):
    uploads = st.file_uploader("Upload songs, or a zip of songs", type=SONG_TYPES + ["zip"],
                               accept_multiple_files=True, key="batch_upload", help=UPLOAD_LIMITS)
    if not uploads:
        st.info(f"Upload up to {MAX_BATCH_FILES} songs (MIDI, MusicXML, ABC, kern, or audio) or zip archives of them.")
        return
    songs, results = batch_songs(uploads)
    if len(songs) > MAX_BATCH_FILES:
        st.error(f"{len(songs)} songs: at most {MAX_BATCH_FILES} per batch")
        return
    progress = st.progress(0.0, text="Searching the catalog...")
    for k, (label, path) in enumerate(songs):
        results.append(run_search(path, label, catalog_path, top, max_evalue, parts))
        progress.progress((k + 1) / len(songs), text=f"{k + 1} of {len(songs)} songs")
    progress.empty()
    results.sort(key=lambda r: (not r["flagged"], r["status"] != "ok",
                                min((m["evalue"] for m in r["matches"]), default=float("inf"))))
    flagged = sum(r["flagged"] for r in results)
    errors = sum(r["status"] != "ok" for r in results)
    message = f"{len(results)} files: {flagged} flagged, {errors} could not be read"
    (st.warning if flagged else st.success)(message)
    rows = [{"file": r["query"], "flagged": r["flagged"], "status": r["status"],
             "best match": r["matches"][0]["title"] if r["matches"] else "",
             "E-value": r["matches"][0]["evalue"] if r["matches"] else None,
             "flagged matches": sum(m["flagged"] for m in r["matches"]), "error": r["error"] or ""}
            for r in results]
    st.dataframe(rows, width="stretch", hide_index=True,
                 column_config={"E-value": st.column_config.NumberColumn(format="scientific")})
    a, b = st.columns(2)
    a.download_button("Download JSON", json.dumps(results, indent=1), file_name="melody-batch.json",
                      mime="application/json", key="batch_json")
    b.download_button("Download CSV", csv_text(results), file_name="melody-batch.csv", mime="text/csv",
                      key="batch_csv")


@st.cache_data(show_spinner=False, max_entries=64)
def file_tunes(path: str, modified: float, label: str) -> list[Melody]:
    """The tunes of one file as compare reads them (a recording transcribed once per file version),
    named by the label where a tune is named after its stored file."""
    return relabel_melodies(tunes(path, file_melodies(path, modified)), path, label)


@st.cache_data(show_spinner=False, max_entries=64)
def run_compare(key_a: tuple, key_b: tuple, max_evalue: float, _tunes_a: list, _tunes_b: list) -> dict:
    """compare_collections of two songs' tunes, cached per pair of file versions (or catalog tune) and
    threshold (the keys name what the tunes were read from)."""
    return compare_collections(_tunes_a, _tunes_b, max_evalue=max_evalue)


def pick_song(side: str, key: str) -> tuple[str, str] | None:
    """An uploaded song or an example: (path, label), or None when none is chosen yet."""
    upload = st.file_uploader(f"Upload song {side}", type=SONG_TYPES, key=f"{key}_upload", help=UPLOAD_LIMITS)
    if upload is not None:
        label = os.path.basename(upload.name)
        try:
            return save_upload(label, upload.getvalue(), UPLOADS), label
        except UploadError as exc:
            st.error(str(exc))
            return None
    examples = example_files()
    example = st.selectbox(f"...or pick an example as song {side}", ["(none)"] + examples, key=f"{key}_example")
    return (os.path.join(EXAMPLES, example), example) if example != "(none)" else None


def pick_catalog_tune(catalog: Catalog) -> Entry | None:
    """A catalog melody chosen by (part of) its title."""
    text = st.text_input("Title of a catalog tune (or part of it)", key="compare_title")
    if not text.strip():
        return None
    found = catalog.titled(text, limit=100)
    if not found:
        st.warning(f"No catalog tune's title contains '{text.strip()}'.")
        return None
    k = st.selectbox(f"{len(found)} tune(s) found" + (" (the first 100)" if len(found) == 100 else ""),
                     range(len(found)), key="compare_tune",
                     format_func=lambda i: f"{found[i].title}  ({os.path.basename(found[i].source)})")
    return found[k]


def compare_page(catalog: Catalog | None, catalog_path: str, max_evalue: float):
    st.caption("Every passage two songs share, each with its significance: song A is read as the query, "
               "song B as the reference. A file of several tunes (an ABC collection) is compared tune by tune.")
    left, right = st.columns(2)
    with left:
        st.subheader("Song A")
        a = pick_song("A", "compare_a")
    with right:
        st.subheader("Song B")
        if catalog is None:
            st.caption("No catalog is open (see the sidebar), so song B is a file.")
        source = st.radio("Song B is", ["a file", "a catalog tune"], horizontal=True, key="compare_b_source",
                          disabled=catalog is None)
        source = "a file" if catalog is None else source
        b = pick_song("B", "compare_b") if source == "a file" else None
        entry = pick_catalog_tune(catalog) if source == "a catalog tune" else None
    if a is None or (b is None and entry is None):
        st.info("Choose song A (upload or example) and song B (upload, example or a catalog tune by title).")
        return
    (path_a, label_a) = a
    try:
        with st.spinner("Reading the songs (a recording's melody is transcribed first)..."):
            tunes_a = file_tunes(path_a, os.path.getmtime(path_a), label_a)
            if entry is not None:
                tunes_b, label_b, key_b = [catalog.melody(entry.row)], entry.title, (catalog_path, entry.uid)
            else:
                path_b, label_b = b
                tunes_b = file_tunes(path_b, os.path.getmtime(path_b), label_b)
                key_b = (path_b, os.path.getmtime(path_b))
        with st.spinner("Comparing..."):
            doc = run_compare((path_a, os.path.getmtime(path_a)), key_b, max_evalue, tunes_a, tunes_b)
    except Exception as exc:      # a file that does not load: one line naming it, never a traceback (as query_file)
        message = str(exc) if isinstance(exc, MelodyError) else f"unexpected {type(exc).__name__}: {exc}"
        for stored, label in [a] + ([b] if b else []):     # the user's names, never a stored upload's path
            message = message.replace(stored, label)
        st.error(f"Cannot compare: {message}")
        return
    doc = {"a": label_a, "b": label_b, **doc}
    passages = doc["passages"]
    flagged = sum(p["flagged"] for p in passages)
    several = doc["tunes"] != [1, 1]
    between = f" between {doc['tunes'][0]} x {doc['tunes'][1]} tunes" if several else ""
    if flagged:
        st.warning(f"{label_a} vs {label_b}: {flagged} flagged passage(s){between} — likely borrowed material")
    elif passages:
        st.success(f"{label_a} vs {label_b}: nothing flagged{between}; {len(passages)} weaker shared passage(s)")
    else:
        st.success(f"{label_a} vs {label_b}: no shared passage of 5 notes or more{between}")
    if not passages:
        return
    st.dataframe(passage_rows(passages, doc["tunes"]), width="stretch", hide_index=True,
                 column_config={"E-value": st.column_config.NumberColumn(format="%.3g"),
                                "pair E-value": st.column_config.NumberColumn(format="%.3g")})
    st.caption("E-value: the number of passages this good expected by chance "
               + ("over every pair of tunes compared; pair E-value: for that pair of tunes alone"
                  if several else "between these two melodies")
               + f" (flagged at {max_evalue:g} or less). Semitones: B's transposition up to A; tempo ratio: "
               "A's tempo over B's; bars as numbered in the score (0: a pickup bar).")
    if entry is not None:     # the same tune judged on the one-song page: one of the catalog's N chances
        st.caption(f"A search of the whole catalog (the One song page) gives every one of its {len(catalog):,} "
                   f"melodies a chance to match, so its E-value for {label_b} is about {len(catalog):,} times this "
                   f"page's (here about {min(passages[0]['evalue'] * len(catalog), len(catalog)):.2g}).")

    def name(i: int) -> str:
        p = passages[i]
        tunes = f" ({p['query_title']} / {p['reference_title']})" if several else ""
        return f"{i + 1}. {p['matched_notes']} notes, E {p['evalue']:.2g}{tunes}"

    def melodies(p: dict) -> tuple[Melody, Melody]:
        return (next(t for t in tunes_a if t.index == p["query_tune"]),
                next(t for t in tunes_b if t.index == p["reference_tune"]))

    k = st.selectbox("Show the evidence for passage", range(len(passages)), format_func=name, key="compare_passage")
    p = passages[k]
    query, reference = melodies(p)
    recordings = [(f"The passage of {label} (the recording itself):", path, span)
                  for path, label, span in ((path_a, label_a, p["query_span"]),
                                            (b[0] if b else "", label_b, p["reference_span"])) if is_audio(path)]
    passage_evidence(query, reference, p, recordings, names=("A", "B"))

    def full_report() -> str:     # built only when the button is pressed: a piano roll per passage
        figures, intervals = {}, {}
        for i, passage in enumerate(passages):
            q, r = melodies(passage)
            try:
                figures[i] = piano_roll(q, r, passage, ("A", "B"))
                intervals[i] = shown_intervals(interval_table(q, r, passage), ("A", "B"))
            except (MelodyError, ValueError):
                continue
        return html_report(doc, figures, intervals)

    stem = "-".join(os.path.splitext(x)[0] for x in (label_a, label_b))
    left, right = st.columns(2)
    left.download_button("Download report (HTML)", full_report, file_name=f"{stem}-melody-compare.html",
                         mime="text/html", key="compare_html")
    right.download_button("Download JSON", json.dumps(doc, indent=1), file_name=f"{stem}-melody-compare.json",
                          mime="application/json", key="compare_json")


def main():
    st.set_page_config(page_title="melody: find borrowed melodies", layout="wide")
    st.title("melody — does this song reuse an existing melody?")
    page = st.sidebar.radio("Page", ["One song", "Compare two songs", "Batch"], key="page")
    catalog_path = st.sidebar.text_input("Catalog folder", value=default_catalog_path())
    top = st.sidebar.slider("Matches to show", 1, 50, 10) if page != "Compare two songs" else 10
    max_evalue = st.sidebar.number_input("Flag when E-value at most", value=DEFAULT_MAX_EVALUE, format="%.4f")
    parts = "all" if page != "Compare two songs" and st.sidebar.checkbox(
        "Search every part", key="parts",
        help="MIDI and MusicXML: search every pitched part (a borrowed riff, bass line or countermelody), not only "
             "the melody; each part counts as a search, so E-values are multiplied by the number of parts") else "lead"
    st.sidebar.caption(f"Uploads: {UPLOAD_LIMITS[0].lower()}{UPLOAD_LIMITS[1:]}")
    try:
        catalog = open_catalog(catalog_path)
    except Exception as exc:   # shown to the user, never a traceback
        if page != "Compare two songs":
            st.error(f"Cannot open the catalog: {exc}")
            st.stop()
        catalog = None         # two files compare without one (a new installation before build-default)
        st.sidebar.caption(f"No catalog: {exc}")
    if catalog is not None:
        st.sidebar.caption(f"{len(catalog)} reference melodies")
        notice = catalog.stale_notice()
        if notice:
            st.sidebar.warning(notice)
    if page == "Batch":
        batch_page(catalog_path, top, max_evalue, parts)
    elif page == "Compare two songs":
        compare_page(catalog, catalog_path, max_evalue)
    else:
        song_page(catalog, catalog_path, top, max_evalue, parts)


main()
