"""Presentation-free explanations of a match: piano rolls, interval tables, audio, HTML and CSV reports.

Everything here takes a query `Melody`, a reference `Melody` and one match dict of the output contract
(from ``melody.api.query_file(..., evidence=True)``) and returns plain data, a matplotlib Figure, audio
samples or text; the CLI and the Streamlit app only present what these return.
"""
from __future__ import annotations

from .audio import clip_audio, passage_audio, render
from .html import csv_rows, csv_text, html_report
from .passage import aligned_pairs, passage
from .plots import interval_table, piano_roll

__all__ = ["aligned_pairs", "clip_audio", "csv_rows", "csv_text", "html_report", "interval_table", "passage",
           "passage_audio", "piano_roll", "render"]
