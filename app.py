"""Streamlit dashboard (presentation only): one song's matches with the evidence, or a batch of songs.

    melody app            # or: streamlit run app.py
"""
from __future__ import annotations

import json
import os
import tempfile

import streamlit as st

from melody.api import match_melodies, query_file
from melody.catalog import Catalog, default_catalog_path
from melody.errors import MelodyError
from melody.io import SUPPORTED_EXTENSIONS, is_audio
from melody.report import clip_audio, csv_text, html_report, interval_table, passage_audio, piano_roll
from melody.report.html import summary_rows
from melody.score.significance import DEFAULT_MAX_EVALUE
from melody.uploads import MAX_AUDIO_BYTES, MAX_FILE_BYTES, UploadError, extract_zip, relabel, save_upload

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
UPLOADS = os.path.join(tempfile.gettempdir(), "melody-uploads")
SONG_TYPES = [e.lstrip(".") for e in SUPPORTED_EXTENSIONS]
MAX_BATCH_FILES = 100


@st.cache_resource(show_spinner="Opening the catalog...")
def open_catalog(path: str) -> Catalog:
    catalog = Catalog.open(path)
    _ = catalog.packed          # load the arrays once per server
    return catalog


@st.cache_data(show_spinner=False, max_entries=256)
def search(path: str, modified: float, catalog_path: str, top: int, max_evalue: float) -> dict:
    """query_file with evidence, cached per file version and settings (`modified` is part of the key)."""
    return query_file(path, open_catalog(catalog_path), top=top, max_evalue=max_evalue, evidence=True)


def run_search(path: str, label: str, catalog_path: str, top: int, max_evalue: float) -> dict:
    """The result as the user should see it: named by the label, never by a temporary path."""
    return relabel(search(path, os.path.getmtime(path), catalog_path, top, max_evalue), path, label)


def verdict(label: str, result: dict):
    flagged = sum(m["flagged"] for m in result["matches"])
    if flagged:
        st.warning(f"{label}: {flagged} flagged match(es) — likely borrowed material")
    else:
        st.success(f"{label}: nothing flagged")


def match_table(matches: list[dict]):
    st.dataframe(summary_rows(matches), width="stretch", hide_index=True,
                 column_config={"E-value": st.column_config.NumberColumn(format="scientific")})


def evidence(path: str, result: dict, catalog: Catalog):
    """The chosen match: piano roll, intervals, significance, shared shapes, audio, downloads."""
    matches = result["matches"]
    k = st.selectbox("Show the evidence for match", range(len(matches)),
                     format_func=lambda i: f"{i + 1}. {matches[i]['title']}")
    m = matches[k]
    try:
        query, reference = match_melodies(path, catalog, m)
        figure = piano_roll(query, reference, m)
    except (MelodyError, ValueError) as exc:
        st.error(f"Cannot show the evidence: {exc}")
        return
    ev = m["evidence"]
    st.pyplot(figure)
    st.caption(ev["significance"][0].upper() + ev["significance"][1:] + ".")
    if ev.get("mode_change"):
        st.caption("Mode: " + ev["mode_change"]["text"] + ".")
    left, right = st.columns(2)
    with left:
        st.subheader("Intervals side by side")
        st.caption("Intervals in semitones; the reference's notes are named in its own key.")
        st.table(interval_table(query, reference, m))
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
            st.markdown(f"Notes only in the query (ornaments): {len(ev['query_only_notes'])}; "
                        f"only in the reference: {len(ev['reference_only_notes'])}")
    st.subheader("Listen")
    if is_audio(path):
        st.caption("The matched passage of the recording itself:")
        try:
            st.audio(clip_audio(path, *m["query_span"]), format="audio/wav")
        except MelodyError as exc:
            st.error(str(exc))
    st.caption("The query passage, half a second of silence, then the reference passage in the query's key.")
    st.audio(passage_audio(query, reference, m), format="audio/wav")

    def full_report() -> str:     # built only when the button is pressed: a piano roll per match
        figures, intervals = {}, {}
        for i, match in enumerate(matches):
            try:
                q, r = match_melodies(path, catalog, match)
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


def song_page(catalog: Catalog, catalog_path: str, top: int, max_evalue: float):
    upload = st.file_uploader("Upload a song", type=SONG_TYPES, key="song_upload")
    examples = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(SUPPORTED_EXTENSIONS)) if os.path.isdir(EXAMPLES) else []
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
        result = run_search(path, label, catalog_path, top, max_evalue)
    if result["status"] != "ok":
        st.error(f"Cannot analyse this file: {result['error']}")
        return
    verdict(label, result)
    match_table(result["matches"])
    if result["matches"]:
        evidence(path, result, catalog)


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


def batch_page(catalog_path: str, top: int, max_evalue: float):
    uploads = st.file_uploader("Upload songs, or a zip of songs", type=SONG_TYPES + ["zip"],
                               accept_multiple_files=True, key="batch_upload")
    if not uploads:
        st.info(f"Upload up to {MAX_BATCH_FILES} songs (MIDI, MusicXML, ABC, kern, or audio) or zip archives of them.")
        return
    songs, results = batch_songs(uploads)
    if len(songs) > MAX_BATCH_FILES:
        st.error(f"{len(songs)} songs: at most {MAX_BATCH_FILES} per batch")
        return
    progress = st.progress(0.0, text="Searching the catalog...")
    for k, (label, path) in enumerate(songs):
        results.append(run_search(path, label, catalog_path, top, max_evalue))
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


def main():
    st.set_page_config(page_title="melody: find borrowed melodies", layout="wide")
    st.title("melody — does this song reuse an existing melody?")
    page = st.sidebar.radio("Page", ["One song", "Batch"], key="page")
    catalog_path = st.sidebar.text_input("Catalog folder", value=default_catalog_path())
    top = st.sidebar.slider("Matches to show", 1, 50, 10)
    max_evalue = st.sidebar.number_input("Flag when E-value at most", value=DEFAULT_MAX_EVALUE, format="%.4f")
    st.sidebar.caption(f"Uploads: at most {MAX_FILE_BYTES // 2**20} MB per score, "
                       f"{MAX_AUDIO_BYTES // 2**20} MB per recording.")
    try:
        catalog = open_catalog(catalog_path)
    except Exception as exc:   # shown to the user, never a traceback
        st.error(f"Cannot open the catalog: {exc}")
        st.stop()
    st.sidebar.caption(f"{len(catalog)} reference melodies")
    if page == "Batch":
        batch_page(catalog_path, top, max_evalue)
    else:
        song_page(catalog, catalog_path, top, max_evalue)


main()
