"""Reports to keep or send: one self-contained HTML page per query, CSV rows for a batch."""
from __future__ import annotations

import base64
import csv
import html as _html
import io

CSV_COLUMNS = ["query", "status", "error", "file_flagged", "rank", "title", "composer", "score", "evalue",
               "flagged", "matched_notes", "exact_notes", "query_start_s", "query_end_s", "reference_start_s",
               "reference_end_s", "query_bars", "reference_bars", "transposition", "tempo_ratio", "id",
               "query_tune", "query_title",    # the tune (0-based) of a file with several, e.g. an ABC collection
               "query_part"]                   # the part's name, when every part was searched (parts="all")

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
th{background:#f3f3f3}.flag{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}img{max-width:100%}
.diff{color:#b00}"""


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{_html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "-".join(_fmt(v) for v in value)
    return "" if value is None else str(value)


def _fmt_span(span, fmt="{}") -> str:
    return f"{fmt.format(span[0])}-{fmt.format(span[1])}" if span else ""


def _png(figure) -> str:
    """A matplotlib Figure (or PNG bytes) as a data: URI."""
    if not isinstance(figure, (bytes, bytearray)):
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100)
        figure = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(figure).decode("ascii")


def _several_tunes(matches: list[dict]) -> bool:
    return any(m.get("query_tune") for m in matches)


def _part(match: dict) -> str:
    """The name of the part of the file a match was found in (searches of every part), else ''."""
    return (match.get("query_part") or {}).get("name", "")


def _tune(index: int, title: str | None) -> str:
    """A tune of a file as numbered from 1, with its title shortened."""
    title = title or ""
    return f"{index + 1}" + (f": {title[:24]}{'...' if len(title) > 24 else ''}" if title else "")


def summary_rows(matches: list[dict]) -> list[dict]:
    """One row per match with the columns people sort by (the app's table and the report's); a file of
    several tunes (an ABC collection) also gets the query's tune, a search of every part the query's part."""
    several = _several_tunes(matches)
    parts = any(_part(m) for m in matches)
    return [{"rank": k + 1, "title": m["title"], "score": round(m["score"], 4), "E-value": m["evalue"],
             "flagged": m["flagged"], "matched notes": m["matched_notes"],
             **({"query tune": _tune(m.get("query_tune", 0), m.get("query_title"))} if several else {}),
             **({"query part": _part(m)} if parts else {}),
             "query s": _fmt_span(m["query_span"], "{:.1f}"), "reference s": _fmt_span(m["reference_span"], "{:.1f}"),
             "query bars": _fmt_span(m["query_bars"]), "reference bars": _fmt_span(m["reference_bars"]),
             "transposition": m["transposition"], "tempo ratio": m["tempo_ratio"]}
            for k, m in enumerate(matches)]


def passage_rows(passages: list[dict], tunes=(1, 1)) -> list[dict]:
    """One row per shared passage of `melody compare` (``compare_files``/``compare_collections``), A as
    the query and B as the reference: the app's table. `tunes`: the number of tunes compared on each side
    (the result's ``"tunes"``); a side of several (an ABC collection) gets each passage's tune, and
    several pairs of tunes each passage's E-value for its own pair."""
    tune_a, tune_b = (n > 1 for n in tunes)
    return [{"passage": k + 1, "E-value": p["evalue"], "flagged": p["flagged"], "matched notes": p["matched_notes"],
             "exact notes": p["exact_notes"],
             **({"A tune": _tune(p["query_tune"], p["query_title"])} if tune_a else {}),
             **({"B tune": _tune(p["reference_tune"], p["reference_title"])} if tune_b else {}),
             **({"pair E-value": p["pair_evalue"]} if tune_a or tune_b else {}),
             "A seconds": _fmt_span(p["query_span"], "{:.1f}"), "B seconds": _fmt_span(p["reference_span"], "{:.1f}"),
             "A bars": _fmt_span(p["query_bars"]), "B bars": _fmt_span(p["reference_bars"]),
             "semitones": p["transposition"], "tempo ratio": round(p["tempo_ratio"], 2)}
            for k, p in enumerate(passages)]


def html_report(result: dict, figures=None, intervals=None) -> str:
    """A self-contained HTML report of one query (or comparison): verdict, match table, and each match's
    (passage's) evidence.

    Parameters
    ----------
    result : dict
        One result of ``query_file(..., evidence=True)`` (an error result gives a page with the error), or
        of ``compare_files`` / ``compare_collections`` (with ``"a"`` and ``"b"``): its shared passages.
    figures : dict or list, optional
        Piano rolls by match index: matplotlib Figures or PNG bytes, embedded as base64 PNG.
    intervals : dict or list, optional
        `interval_table` rows by match index.

    Returns
    -------
    str
        One HTML document with inline CSS and images and no external references.
    """
    figures = dict(enumerate(figures)) if isinstance(figures, (list, tuple)) else dict(figures or {})
    intervals = dict(enumerate(intervals)) if isinstance(intervals, (list, tuple)) else dict(intervals or {})
    esc = _html.escape
    pair = "passages" in result          # `melody compare`'s result: A as the query, B as the reference
    name = f"{result.get('a', '')} vs {result.get('b', '')}" if pair else result.get("query", "")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>melody report: {esc(name)}</title>"
             f"<style>{_CSS}</style></head><body><h1>melody report: {esc(name)}</h1>"]
    matches = result.get("passages" if pair else "matches") or []
    plural = "passage(s)" if pair else "match(es)"
    if result.get("status", "ok") != "ok":
        parts.append(f"<p class='flag'>Could not analyse the file: {esc(str(result.get('error')))}</p>")
    else:
        flagged = sum(bool(m["flagged"]) for m in matches)
        parts.append(f"<p class='flag'>{flagged} flagged {plural}: likely borrowed material</p>" if flagged
                     else "<p class='ok'>Nothing flagged</p>")
        parts.append(("<h2>Shared passages</h2>" + _table(passage_rows(matches, result.get("tunes", (1, 1))))
                      + "<p>E-value: how many passages this good are expected by chance between the tunes compared "
                      "(pair E-value: for that pair of tunes alone); semitones: B's transposition up to A; tempo "
                      "ratio: A's tempo over B's; bars as numbered in the score (0: a pickup bar).</p>")
                     if pair else ("<h2>Matches</h2>" + _table(summary_rows(matches))))
    for k, m in enumerate(matches):
        ev = m.get("evidence") or {}
        flag = ' <span class=flag>flagged</span>' if m['flagged'] else ''
        if pair:
            parts.append(f"<h2>{k + 1}. {esc(m.get('query_title') or 'A')} / {esc(m.get('reference_title') or 'B')}"
                         f"{flag}</h2>")
            parts.append(f"<p>A {m['query_span'][0]:.1f}-{m['query_span'][1]:.1f} s matches B "
                         f"{m['reference_span'][0]:.1f}-{m['reference_span'][1]:.1f} s; {m['matched_notes']} notes "
                         f"aligned, {m['exact_notes']} identical after transposing B "
                         f"{m['transposition']:+d} semitones; tempo ratio (A / B) {m['tempo_ratio']:.2f}.</p>")
        else:
            parts.append(f"<h2>{k + 1}. {esc(m['title'])}{' (' + esc(m['composer']) + ')' if m.get('composer') else ''}"
                         f"{flag}</h2>")
            tune = _tune(m.get("query_tune", 0), m.get("query_title")) if _several_tunes(matches) else None
            part = _part(m)
            parts.append(f"<p>Query {'(tune ' + esc(tune) + ') ' if tune else ''}"
                         f"{'(part ' + esc(part) + ') ' if part else ''}"
                         f"{m['query_span'][0]:.1f}-{m['query_span'][1]:.1f} s matches reference "
                         f"{m['reference_span'][0]:.1f}-{m['reference_span'][1]:.1f} s; {m['matched_notes']} notes "
                         f"aligned, {m['exact_notes']} identical after transposing the reference "
                         f"{m['transposition']:+d} semitones; tempo ratio {m['tempo_ratio']:.2f}.</p>")
        if ev.get("significance"):
            parts.append(f"<p><b>Significance:</b> {esc(ev['significance'][0].upper() + ev['significance'][1:])}.</p>")
        if ev.get("mode_change"):
            parts.append(f"<p><b>Mode:</b> {esc(ev['mode_change']['text'])}.</p>")
        if k in figures and figures[k] is not None:
            parts.append(f"<img alt='piano roll of match {k + 1}' src='{_png(figures[k])}'>")
        if intervals.get(k):
            parts.append("<h3>Intervals side by side</h3>" + _table(intervals[k]))
        shapes = ev.get("shared_shapes") or []
        if shapes:
            parts.append("<h3>Shared 3-note shapes</h3>" + _table(
                [{"query notes": s["query_notes"], "intervals": s["intervals"], "bits": s["bits"],
                  "rarity": s["rarity"]} for s in shapes]))
        if ev.get("query_only_notes") or ev.get("reference_only_notes"):
            parts.append(f"<p>Notes only in the query (ornaments): {esc(_fmt(ev.get('query_only_notes') or 'none'))}; "
                         f"only in the reference: {esc(_fmt(ev.get('reference_only_notes') or 'none'))}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def csv_rows(results) -> list[dict]:
    """One row per match of each result (``CSV_COLUMNS``); a file without matches or in error gets one row."""
    rows = []
    for r in results:
        base = {"query": r.get("query", ""), "status": r.get("status", ""), "error": r.get("error") or "",
                "file_flagged": bool(r.get("flagged"))}
        matches = r.get("matches") or []
        if not matches:
            rows.append({c: base.get(c, "") for c in CSV_COLUMNS})
        for k, m in enumerate(matches):
            rows.append({**base, "rank": k + 1, "title": m["title"], "composer": m.get("composer", ""),
                         "score": m["score"], "evalue": m["evalue"], "flagged": m["flagged"],
                         "matched_notes": m["matched_notes"], "exact_notes": m["exact_notes"],
                         "query_start_s": m["query_span"][0], "query_end_s": m["query_span"][1],
                         "reference_start_s": m["reference_span"][0], "reference_end_s": m["reference_span"][1],
                         "query_bars": _fmt(m["query_bars"]), "reference_bars": _fmt(m["reference_bars"]),
                         "transposition": m["transposition"], "tempo_ratio": m["tempo_ratio"], "id": m["id"],
                         "query_tune": m.get("query_tune", ""), "query_title": m.get("query_title", ""),
                         "query_part": _part(m)})
    return rows


def csv_text(results) -> str:
    """`csv_rows` as CSV text with a header line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(results))
    return buf.getvalue()
