"""Streamlit dashboard (presentation only): upload a song or pick an example, see its ranked matches.

    melody app            # or: streamlit run app.py
"""
from __future__ import annotations

import os
import tempfile

import streamlit as st

from melody.api import query_file
from melody.catalog import Catalog, default_catalog_path
from melody.io import SYMBOLIC_EXTENSIONS
from melody.score.significance import DEFAULT_MAX_EVALUE

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
MAX_UPLOAD_MB = 20


@st.cache_resource(show_spinner="Opening the catalog...")
def open_catalog(path: str) -> Catalog:
    catalog = Catalog.open(path)
    _ = catalog.packed          # load the arrays once per server
    return catalog


def piano_roll(query, reference, match):
    """Query and reference passages on one piano roll, the reference transposed onto the query."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3))
    q0, q1 = match["query_notes"]
    r0, r1 = match["reference_notes"]
    qn, rn = query.notes[q0:q1 + 1], reference.notes[r0:r1 + 1]
    t0q, t0r = qn["onset"][0], rn["onset"][0]
    scale = 1.0 / match["tempo_ratio"] if match["tempo_ratio"] else 1.0
    for n in rn:
        ax.broken_barh([((n["onset"] - t0r) * scale, n["duration"] * scale)],
                       (n["pitch"] + match["transposition"] - 0.4, 0.8), color="tab:orange", alpha=0.5)
    for n in qn:
        ax.broken_barh([(n["onset"] - t0q, n["duration"])], (n["pitch"] - 0.25, 0.5), color="tab:blue")
    ax.set_xlabel("seconds into the matched passage (query time)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title("query (blue) over reference (orange, transposed and time-scaled)")
    return fig


def main():
    st.set_page_config(page_title="melody: find borrowed melodies", layout="wide")
    st.title("melody — does this song reuse an existing melody?")
    catalog_path = st.sidebar.text_input("Catalog folder", value=default_catalog_path())
    top = st.sidebar.slider("Matches to show", 1, 50, 10)
    max_evalue = st.sidebar.number_input("Flag when E-value at most", value=DEFAULT_MAX_EVALUE, format="%.4f")
    try:
        catalog = open_catalog(catalog_path)
    except Exception as exc:   # shown to the user, never a traceback
        st.error(f"Cannot open the catalog: {exc}")
        st.stop()
    st.sidebar.caption(f"{len(catalog)} reference melodies")

    upload = st.file_uploader("Upload a song", type=[e.lstrip(".") for e in SYMBOLIC_EXTENSIONS])
    examples = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(SYMBOLIC_EXTENSIONS)) if os.path.isdir(EXAMPLES) else []
    example = st.selectbox("...or pick an example", ["(none)"] + examples)
    path = None
    if upload is not None:
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            st.error(f"{upload.name}: larger than {MAX_UPLOAD_MB} MB")
            st.stop()
        suffix = os.path.splitext(os.path.basename(upload.name))[1].lower()
        with tempfile.NamedTemporaryFile(delete=False, suffix=suffix) as fh:
            fh.write(upload.getbuffer())
            path = fh.name
        label = os.path.basename(upload.name)
    elif example != "(none)":
        path, label = os.path.join(EXAMPLES, example), example
    if not path:
        st.info("Upload a MIDI, MusicXML, ABC or kern file, or pick an example.")
        return

    with st.spinner("Searching the catalog..."):
        result = query_file(path, catalog, top=top, max_evalue=max_evalue)
    if result["status"] != "ok":
        st.error(result["error"].replace(path, label))
        return
    matches = result["matches"]
    flagged = sum(m["flagged"] for m in matches)
    if flagged:
        st.warning(f"{label}: {flagged} flagged match(es) — likely borrowed material")
    else:
        st.success(f"{label}: nothing flagged")
    rows = [{"title": m["title"], "score": round(m["score"], 4), "E-value": float(f"{m['evalue']:.3g}"),
             "flagged": m["flagged"], "notes": m["matched_notes"],
             "query s": f"{m['query_span'][0]:.1f}-{m['query_span'][1]:.1f}",
             "reference s": f"{m['reference_span'][0]:.1f}-{m['reference_span'][1]:.1f}",
             "query bars": m["query_bars"], "reference bars": m["reference_bars"],
             "transposition": m["transposition"], "tempo ratio": m["tempo_ratio"]} for m in matches]
    st.dataframe(rows, width="stretch")
    if matches:
        from melody.io import load
        k = st.selectbox("Show the evidence for match", range(len(matches)),
                         format_func=lambda i: f"{i + 1}. {matches[i]['title']}")
        m = matches[k]
        melodies = load(path)
        query = next((x for x in melodies if x.index == m.get("query_tune")), melodies[0])
        row = next(e.row for e in catalog.packed.entries if e.uid == m["id"])
        st.pyplot(piano_roll(query, catalog.melody(row), m))
        st.caption(f"A {m['matched_notes']}-note passage this close is expected by chance "
                   f"{m['evalue']:.2g} times in a catalog of {len(catalog)} melodies.")


main()
