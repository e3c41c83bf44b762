"""Pictures and tables of one match: a piano roll of both passages and their intervals side by side."""
from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..notes import PITCH_CLASS_NAMES, Melody
from .passage import aligned_pairs, passage, reference_scale

QUERY_COLOUR, REFERENCE_COLOUR, DIFFERENT_COLOUR = "tab:blue", "tab:orange", "tab:red"


def pitch_name(pitch: float) -> str:
    """Scientific pitch name of a MIDI pitch (60 -> 'C4'); fractional pitches are rounded."""
    p = int(round(float(pitch)))
    return f"{PITCH_CLASS_NAMES[p % 12]}{p // 12 - 1}"


def piano_roll(query: Melody, reference: Melody, match: dict, names: tuple[str, str] = ("query", "reference")) -> Figure:
    """Both matched passages on one piano roll, the reference moved onto the query.

    The reference is transposed by ``match["transposition"]`` and time-scaled by the tempo ratio so the
    two passages overlap. Aligned notes are joined by thin grey lines; a query note whose pitch differs
    from its partner gets a red edge; notes only one melody has (ornaments, passing notes) are hatched.

    Parameters
    ----------
    query, reference : Melody
        The melodies the match was found between.
    match : dict
        One match of ``query_file(..., evidence=True)``.
    names : (str, str)
        What the legend and axes call the two melodies (``("A", "B")`` for a comparison of two songs).

    Returns
    -------
    matplotlib.figure.Figure
        Each note is a ``Rectangle`` whose gid is ``"query-note"`` or ``"reference-note"``.

    Raises
    ------
    ValueError
        If the match has no evidence or its note ranges do not fit the melodies.
    """
    pairs = aligned_pairs(match)
    q0, r0 = match["query_notes"][0], match["reference_notes"][0]
    scale = reference_scale(match)
    qn = passage(query, match["query_notes"])
    rn = passage(reference, match["reference_notes"], transpose=match["transposition"], time_scale=scale)
    differs = {p["query_note"] for p in pairs if p["difference"] != "same"}
    q_aligned = {p["query_note"] for p in pairs}
    r_aligned = {p["reference_note"] for p in pairs}

    fig = Figure(figsize=(10, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for k, n in enumerate(rn):
        only = (r0 + k) not in r_aligned
        ax.add_patch(Rectangle((n["onset"], n["pitch"] - 0.45), n["duration"], 0.9, gid="reference-note",
                               facecolor=REFERENCE_COLOUR, alpha=0.45, hatch="//" if only else None,
                               edgecolor=REFERENCE_COLOUR, linewidth=0.5))
    for k, n in enumerate(qn):
        i = q0 + k
        only = i not in q_aligned
        ax.add_patch(Rectangle((n["onset"], n["pitch"] - 0.25), n["duration"], 0.5, gid="query-note",
                               facecolor="white" if only else QUERY_COLOUR, hatch="xx" if only else None,
                               edgecolor=DIFFERENT_COLOUR if i in differs else QUERY_COLOUR,
                               linewidth=2.0 if i in differs else 0.8, linestyle="--" if only else "-"))
    for p in pairs:
        a, b = qn[p["query_note"] - q0], rn[p["reference_note"] - r0]
        ax.plot([a["onset"] + a["duration"] / 2, b["onset"] + b["duration"] / 2], [a["pitch"], b["pitch"]],
                color="0.4", linewidth=0.6, zorder=3)
    ends = [float((x["onset"] + x["duration"]).max()) for x in (qn, rn) if len(x)]
    pitches = [float(x["pitch"].min()) for x in (qn, rn)] + [float(x["pitch"].max()) for x in (qn, rn)]
    ax.set_xlim(0, max(ends) * 1.02 if ends else 1)
    ax.set_ylim(min(pitches) - 1.5, max(pitches) + 1.5)
    ax.set_xlabel(f"seconds into the matched passage ({names[0]} starts at {match['query_span'][0]:.1f} s)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: pitch_name(value)))
    ax.set_ylabel(f"pitch ({names[0]}'s key)")
    ax.set_title(f"{match.get('query_title') or names[0]} vs {match['title']} "
                 f"({names[1]} transposed {match['transposition']:+d} semitones, tempo x{match['tempo_ratio']:.2f})")
    ax.legend(handles=[Patch(facecolor=QUERY_COLOUR, label=names[0]),
                       Patch(facecolor=REFERENCE_COLOUR, alpha=0.45, label=f"{names[1]} (moved onto {names[0]})"),
                       Patch(facecolor=QUERY_COLOUR, edgecolor=DIFFERENT_COLOUR, linewidth=2, label="different pitch"),
                       Patch(facecolor="white", edgecolor=QUERY_COLOUR, hatch="xx", label=f"{names[0]} only (ornament)"),
                       Line2D([], [], color="0.4", linewidth=0.6, label="aligned")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    return fig


def interval_table(query: Melody, reference: Melody, match: dict) -> list[dict]:
    """The two interval sequences of a match side by side, one row per step between aligned notes.

    An interval is measured between consecutive *aligned* notes, so a query ornament between them is
    absorbed (and counted in ``"query notes skipped"``) exactly as the alignment did.

    Returns
    -------
    list of dict
        Keys: ``"step"``, ``"query notes"`` ('C4 -> E4'), ``"query interval"`` (semitones),
        ``"reference notes"`` (in the reference's own key), ``"reference interval"``, ``"same"`` (bool),
        ``"query notes skipped"``, ``"reference notes skipped"``.
    """
    pairs = aligned_pairs(match)
    qp, rp = query.notes["pitch"], reference.notes["pitch"]
    rows = []
    for k, (a, b) in enumerate(zip(pairs, pairs[1:]), start=1):
        i, j, i2, j2 = a["query_note"], a["reference_note"], b["query_note"], b["reference_note"]
        dq, dr = float(qp[i2] - qp[i]), float(rp[j2] - rp[j])
        rows.append({"step": k, "query notes": f"{pitch_name(qp[i])} -> {pitch_name(qp[i2])}",
                     "query interval": _semitones(dq),
                     "reference notes": f"{pitch_name(rp[j])} -> {pitch_name(rp[j2])}",
                     "reference interval": _semitones(dr), "same": abs(dq - dr) < 0.5,
                     "query notes skipped": i2 - i - 1, "reference notes skipped": j2 - j - 1})
    return rows


def _semitones(value: float):
    """Whole semitones as int (MIDI), fractional ones (audio transcriptions) to two decimals."""
    return int(value) if float(value).is_integer() else round(float(value), 2)
