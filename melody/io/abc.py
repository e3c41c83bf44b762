"""Fast ABC-notation reader: one monophonic `Melody` per tune (first voice only).

A single regex tokenizer pass per tune; no music21.  Repeats are not expanded.  Times come from the
Q: tempo (default 120 quarter notes per minute); bars are counted from the bar lines, with a short
first bar (an anacrusis) numbered 0 and its notes' beats counted as the end of a whole bar.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorruptFile
from ..notes import Melody, make_notes

__all__ = ["parse_abc", "load_abc"]

# --------------------------------------------------------------------------------------------------
# Regexes

_TOKEN_RE = re.compile(r"""
  (?P<field>\[[A-Za-z]:[^\]\n]*\]?)
| (?P<bar>(?:\[\||:*\|+[\]:]*|::+|\[(?=\d))(?:[ ]?\d+(?:[,\-]\d+)*)?)
| (?P<chord>\[(?P<cbody>[^\]\[|\n"]*)\](?P<clen>\d*/*\d*))
| (?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<len>\d*/*\d*))
| (?P<rest>[zx](?P<rlen>\d*/*\d*))
| (?P<mrest>[ZX](?P<mlen>\d*))
| (?P<tie>-)
| (?P<broken>[<>]+)
| (?P<tuplet>\((?P<tp>\d+)(?::(?P<tq>\d*)(?::(?P<tr>\d*))?)?)
| (?P<skip>"[^"\n]*"?|![^!\s|]{0,40}!|\+[^+\s|]{0,40}\+|\{[^}\n]*\}?)
| (?P<overlay>&)
""", re.X)

_CHORD_NOTE_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)")
_LEN_RE = re.compile(r"(\d*)(/*)(\d*)")
_FIELD_LINE_RE = re.compile(r"([A-Za-z+]):(?!\|)")
_METER_RE = re.compile(r"\(?\s*(\d+(?:\s*\+\s*\d+)*)\s*\)?\s*/\s*(\d+)")
_LFIELD_RE = re.compile(r"\s*(\d+)\s*(?:/\s*(\d+))?")
_QUOTED_RE = re.compile(r'"[^"]*"?')
_TEMPO_EQ_RE = re.compile(r"((?:\s*(?:\d+/\d+|[A-Ga-g]\d*|L))+)\s*=\s*(\d+(?:\.\d+)?)")
_TEMPO_FRAC_RE = re.compile(r"(\d+)/(\d+)|[A-Ga-g](\d*)|L")
_TEMPO_BARE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*$")
_KEY_RE = re.compile(r"\s*(?:(HP|Hp)|([A-G])([#b]?)\s*([A-Za-z]*))?(.*)", re.S)
_KEY_ACC_RE = re.compile(r"(\^\^|\^|__|_|=)([A-Ga-g])$")
_TRANSPOSE_RE = re.compile(r"\s*MIDI\s+transpose\s+([+-]?\d+)")
_OCTAVE_RE = re.compile(r"\boctave\s*=\s*([+-]?\d+)")

# --------------------------------------------------------------------------------------------------
# Tables

_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAT = {}                       # note letter -> MIDI pitch without octave marks (C=60, c=72)
for _l, _s in _STEP.items():
    _NAT[_l] = 60 + _s
    _NAT[_l.lower()] = 72 + _s
del _l, _s
_ACC = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_TONIC_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODE_FIFTHS = {"maj": 0, "ion": 0, "min": -3, "aeo": -3, "m": -3, "mix": -1, "dor": -2,
                "phr": -4, "lyd": 1, "loc": -5}
_SHARP_ORDER = "FCGDAEB"
_FLAT_ORDER = "BEADGCF"
_DEFAULT_QPM = 120.0
_EPS = 1e-6

_len_cache: dict[str, float] = {}
_key_cache: dict[str, dict | None] = {}


# --------------------------------------------------------------------------------------------------
# Field helpers

def _natural(letter: str, octs: str) -> int:
    """MIDI pitch of a note letter with its octave marks, before accidentals and key."""
    nat = _NAT[letter]
    if octs:
        nat += 12 * (octs.count("'") - octs.count(","))
    return nat


def _alteration(acc: str, nat: int, letter: str, key: dict, bar_acc: dict) -> int:
    """Semitones added to a natural note: its own accidental (which then holds to the bar's end), an
    earlier accidental in the bar, else the key signature."""
    if acc:
        bar_acc[nat] = _ACC[acc]
        return bar_acc[nat]
    alt = bar_acc.get(nat)
    return key.get(letter.upper(), 0) if alt is None else alt


def _length(s: str) -> float:
    """Length multiplier of an ABC length suffix ('', '2', '/', '//', '3/2', '/4')."""
    v = _len_cache.get(s)
    if v is None:
        num, slashes, den = _LEN_RE.fullmatch(s).groups()
        n = int(num) if num else 1
        if slashes:
            d = int(den) * 2 ** (len(slashes) - 1) if den else 2 ** len(slashes)
        else:
            d = 1
        v = n / d if d else 0.0
        _len_cache[s] = v
    return v


def _key_signature(value: str) -> dict | None:
    """Map letter -> alteration for a K: value; None when the value names no key (e.g. only a clef)."""
    if value in _key_cache:
        return _key_cache[value]
    text = value.split("%", 1)[0].strip()
    sig: dict | None
    if not text or text.lower().startswith("none"):
        sig = {}
    else:
        pipes, tonic, acc, mode, rest = _KEY_RE.match(text).groups()
        if pipes == "HP":
            sig = {}
        elif pipes == "Hp":
            sig = {"F": 1, "C": 1}
        elif tonic is None:
            sig = None
        else:
            word = mode.lower()
            fifths = _TONIC_FIFTHS[tonic] + (7 if acc == "#" else -7 if acc == "b" else 0)
            if word.startswith("exp"):
                sig = {}
            else:
                m = word[:3]
                if m in _MODE_FIFTHS:
                    fifths += _MODE_FIFTHS[m]
                elif word.startswith("m"):
                    fifths -= 3
                sig = {}
                order, step = (_SHARP_ORDER, 1) if fifths > 0 else (_FLAT_ORDER, -1)
                for i in range(abs(fifths)):
                    letter = order[i % 7]
                    sig[letter] = sig.get(letter, 0) + step
        if sig is not None:
            for tok in rest.split() if rest else ():
                am = _KEY_ACC_RE.match(tok)
                if am:
                    sig[am.group(2).upper()] = _ACC[am.group(1)]
    _key_cache[value] = sig
    return sig


def _meter(value: str):
    """(numerator, denominator) of an M: value, or None for free meter."""
    v = value.split("%", 1)[0].strip()
    if v == "C":
        return 4, 4
    if v == "C|":
        return 2, 2
    m = _METER_RE.search(v)
    if not m:
        return None
    num = sum(int(x) for x in m.group(1).split("+"))
    den = int(m.group(2))
    if num <= 0 or den <= 0:
        return None
    return num, den


def _unit(value: str):
    """Unit note length of an L: value in quarter notes, or None if unreadable."""
    m = _LFIELD_RE.match(value)
    if not m:
        return None
    n = int(m.group(1))
    d = int(m.group(2)) if m.group(2) else 1
    if n <= 0 or d <= 0:
        return None
    return 4.0 * n / d


def _tempo(value: str, unit: float):
    """Quarter notes per minute of a Q: value, or None when it gives no number."""
    v = _QUOTED_RE.sub(" ", value.split("%", 1)[0])
    m = _TEMPO_EQ_RE.search(v)
    if m:
        beat = 0.0
        for fm in _TEMPO_FRAC_RE.finditer(m.group(1)):
            if fm.group(1):
                d = int(fm.group(2))
                beat += 4.0 * int(fm.group(1)) / d if d else 0.0
            else:  # old style C=120, C2=120, L=120: unit note lengths
                beat += unit * (int(fm.group(3)) if fm.group(3) else 1)
        bpm = float(m.group(2))
    else:
        m = _TEMPO_BARE_RE.match(v)
        if not m:
            return None
        beat, bpm = unit, float(m.group(1))  # legacy Q:120 = unit note lengths per minute
    qpm = beat * bpm
    return qpm if qpm > 0 else None


def _transpose(value: str):
    """Semitones of a 'MIDI transpose N' instruction (from %%MIDI or I:MIDI), else None."""
    m = _TRANSPOSE_RE.match(value)
    return int(m.group(1)) if m else None


def _field_line(s: str):
    """(letter, value) when the stripped line is an information field, else None."""
    if len(s) > 1 and s[1] == ":" and _FIELD_LINE_RE.match(s):
        return s[0], s[2:].strip()
    return None


# --------------------------------------------------------------------------------------------------
# Tune parsing

def _parse_tune(lines: list[str], defaults: dict):
    """Parse the lines of one tune (after its X: line) -> (title, composer, columns) or None."""
    title = composer = ""
    meter = defaults.get("M", False)       # False: not given; None: free meter
    unit = defaults.get("L")
    tempo_raw = defaults.get("Q")
    key: dict = {}
    transpose = defaults.get("transpose", 0)
    octave = 0                              # K: octave=N, in semitones
    first_voice = None
    n = len(lines)
    i = 0
    # ---- header: up to and including the first K:
    while i < n:
        s = lines[i].strip()
        if not s or s[0] == "%":
            tr = _transpose(s[2:]) if s.startswith("%%") else None
            if tr is not None:
                transpose = tr
            i += 1
            continue
        f = _field_line(s)
        if f is None:
            break                           # music without a K: line
        i += 1
        letter, value = f
        if letter == "T":
            if not title:
                title = value.split("%", 1)[0].strip()
        elif letter == "C":
            if not composer:
                composer = value.split("%", 1)[0].strip()
        elif letter == "M":
            meter = _meter(value)
        elif letter == "L":
            unit = _unit(value) or unit
        elif letter == "Q":
            tempo_raw = value
        elif letter == "I":
            tr = _transpose(value)
            if tr is not None:
                transpose = tr
        elif letter == "V":
            if first_voice is None and value.split():
                first_voice = value.split()[0]
        elif letter == "K":
            key = _key_signature(value) or {}
            om = _OCTAVE_RE.search(value)
            if om:
                octave = 12 * int(om.group(1))
            break
    if meter is False:
        meter = None
    if unit is None:
        unit = 0.25 if meter and meter[0] / meter[1] < 0.75 else 0.5
    qpm = (_tempo(tempo_raw, unit) if tempo_raw else None) or _DEFAULT_QPM

    # ---- body: one string, field lines turned into inline fields
    parts = []
    blank = False
    for line in lines[i:]:
        pct = line.find("%")
        if pct >= 0:
            if not line[:pct].strip():      # a comment line is not a blank line
                if line.startswith("%%MIDI", pct):
                    parts.append("[I:%s]" % line[pct + 2:].replace("]", " "))
                continue
            line = line[:pct]
        s = line.strip()
        if not s:
            blank = True
            continue
        f = _field_line(s)
        if f is not None:
            if f[0] in "KLMQVI":
                parts.append("[%s:%s]" % (f[0], f[1].replace("]", " ")))
            continue
        if blank:
            if "|" not in s:
                break                       # free text after the tune
            blank = False
        parts.append(s)
    if not parts:
        return None
    body = "\n".join(parts)

    # ---- state
    meter_len = meter[0] * 4.0 / meter[1] if meter else None
    compound = bool(meter and meter[0] % 3 == 0 and meter[0] > 3)
    spq = 60.0 / qpm                        # seconds per quarter note
    q_base = s_base = 0.0                   # quarter position / seconds at the last tempo change
    t = 0.0                                 # current position in quarter notes
    bar_no = 1
    bar_start = 0.0
    pickup = None                           # decided at the first non-empty bar line
    pickup_len = 0.0                        # quarter length of the first bar, where it is an anacrusis
    bar_acc: dict[int, int] = {}            # natural MIDI pitch -> alteration, this bar
    current_voice = first_voice
    active = True
    overlay = False
    tup_factor = 1.0
    tup_left = 0
    broken_next = 1.0                       # multiplier owed to the next note/rest
    last_len = 0.0                          # quarter length of the last note/rest
    last_was_note = False
    last_p = -1                             # written pitch of the last note (before transposition)
    tie = False
    tie_nat = -1                            # natural pitch of the note a tie starts from
    on_s: list[float] = []
    dur_q: list[float] = []
    spqs: list[float] = []
    pitch: list[int] = []
    bars: list[int] = []
    beats: list[float] = []

    for m in _TOKEN_RE.finditer(body):
        kind = m.lastgroup
        if kind == "field":
            text = m.group()
            letter = text[1]
            value = text[3:].rstrip("]")
            if letter == "V":
                vid = value.split()[0] if value.split() else ""
                if first_voice is None:
                    first_voice = vid if not pitch else ""
                current_voice = vid
                active = current_voice == first_voice
                overlay = False
                continue
            if not active:
                continue
            if letter == "K":
                k = _key_signature(value)
                if k is not None:
                    key = k
                om = _OCTAVE_RE.search(value)
                if om:
                    octave = 12 * int(om.group(1))
            elif letter == "L":
                unit = _unit(value) or unit
            elif letter == "M":
                meter = _meter(value)
                meter_len = meter[0] * 4.0 / meter[1] if meter else None
                compound = bool(meter and meter[0] % 3 == 0 and meter[0] > 3)
            elif letter == "Q":
                new = _tempo(value, unit)
                if new:
                    s_base += (t - q_base) * spq
                    q_base = t
                    spq = 60.0 / new
            elif letter == "I":
                tr = _transpose(value)
                if tr is not None:
                    transpose = tr
            continue
        if not active:
            continue
        if kind == "bar":
            overlay = False
            bar_acc = {}
            if t > bar_start + _EPS:
                if pickup is None:
                    pickup = bool(meter_len and t < meter_len - _EPS)
                    pickup_len = t
                bar_no += 1
                bar_start = t
            continue
        if overlay:
            continue
        if kind == "note" or kind == "chord":
            if kind == "note":
                acc, letter, octs, ln = m.group("acc", "letter", "oct", "len")
                nat = _natural(letter, octs)
                if not acc and tie and nat == tie_nat:
                    p = last_p              # a tied note keeps its accidental
                else:
                    p = nat + _alteration(acc, nat, letter, key, bar_acc)
                length = _length(ln) * unit
            else:
                p = -1
                nat = -1
                length = -1.0
                for acc, letter, octs, ln in _CHORD_NOTE_RE.findall(m.group("cbody")):
                    cn = _natural(letter, octs)
                    alt = _alteration(acc, cn, letter, key, bar_acc)
                    if cn + alt > p:
                        p, nat = cn + alt, cn
                    if length < 0:
                        length = _length(ln) * unit
                if p < 0:
                    continue                # empty chord: nothing to play
                length *= _length(m.group("clen"))
            if tup_left:
                length *= tup_factor
                tup_left -= 1
            if broken_next != 1.0:
                length *= broken_next
                broken_next = 1.0
            if tie and last_was_note and p == last_p:
                dur_q[-1] += length         # tied continuation
            elif length > 0:
                on_s.append(s_base + (t - q_base) * spq)
                dur_q.append(length)
                spqs.append(spq)
                pitch.append(p + transpose + octave)
                bars.append(bar_no)
                beats.append(t - bar_start)
            t += length
            last_len = length
            last_was_note = length > 0
            last_p = p
            tie = False
            tie_nat = nat
            continue
        if kind == "rest":
            length = _length(m.group("rlen")) * unit
            if tup_left:
                length *= tup_factor
                tup_left -= 1
            if broken_next != 1.0:
                length *= broken_next
                broken_next = 1.0
            t += length
            last_len = length
            last_was_note = False
            tie = False
            continue
        if kind == "tie":
            tie = last_was_note
            continue
        if kind == "broken":
            sym = m.group()
            short = 0.5 ** len(sym)
            first, second = (2.0 - short, short) if sym[0] == ">" else (short, 2.0 - short)
            delta = last_len * (first - 1.0)
            if last_was_note and dur_q:
                dur_q[-1] += delta
            t += delta
            last_len *= first
            broken_next = second
            continue
        if kind == "tuplet":
            p_, q_, r_ = m.group("tp", "tq", "tr")
            pn = int(p_)
            if pn < 2:
                continue
            if q_:
                qn = int(q_)
            elif pn in (3, 6):
                qn = 2
            elif pn in (2, 4, 8):
                qn = 3
            else:
                qn = 3 if compound else 2
            tup_factor = qn / pn
            tup_left = int(r_) if r_ else pn
            continue
        if kind == "mrest":
            bars_n = int(m.group("mlen") or 1)
            if meter_len:
                if t > bar_start + _EPS:      # a multi-bar rest starts a bar of its own
                    if pickup is None:
                        pickup = t < meter_len - _EPS
                        pickup_len = t
                    bar_no += 1
                    bar_start = t
                if pickup is None:
                    pickup = False
                bar_no += bars_n - 1
                t += bars_n * meter_len
                bar_start = t - meter_len
            last_was_note = False
            tie = False
            continue
        if kind == "overlay":
            overlay = True
            continue
        # skip: chord symbols, annotations, decorations, grace notes

    if not pitch:
        return None
    if pickup:                              # an anacrusis ends its bar: its notes' beats count from the bar's start
        beats = [b + meter_len - pickup_len if n == 1 else b for b, n in zip(beats, bars)]
        bars = [b - 1 for b in bars]
    durations = [d * s for d, s in zip(dur_q, spqs)]
    return title, composer, (on_s, durations, pitch, bars, beats)


def _x_value(value: str):
    v = value.split("%", 1)[0].strip()
    try:
        return int(v)
    except ValueError:
        return v or None


def _split_tunes(text: str):
    """File header defaults and a list of (x, lines) blocks, one per X: field."""
    lines = text.splitlines()
    blocks = []
    head = []
    cur = None
    for line in lines:
        if line.startswith("X:"):
            cur = []
            blocks.append((_x_value(line[2:]), cur))
        elif cur is None:
            head.append(line)
        else:
            cur.append(line)
    defaults = {}
    if not blocks:
        # No X: at all: accept a bare tune if the text has a K: line.
        if any(ln.startswith("K:") for ln in head):
            blocks.append((None, head))
        return defaults, blocks
    for line in head:
        f = _field_line(line.strip())
        if f is None:
            continue
        letter, value = f
        if letter == "M":
            defaults["M"] = _meter(value)
        elif letter == "L":
            u = _unit(value)
            if u:
                defaults["L"] = u
        elif letter == "Q":
            defaults["Q"] = value
    for line in head:
        if line.startswith("%%"):
            tr = _transpose(line[2:])
            if tr is not None:
                defaults["transpose"] = tr
    return defaults, blocks


def parse_abc(text: str, source: str = "") -> list[Melody]:
    """Parse ABC text into one Melody per tune with notes (first voice, repeats not expanded)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    defaults, blocks = _split_tunes(text)
    out = []
    for index, (x, lines) in enumerate(blocks):
        try:
            res = _parse_tune(lines, defaults)
        except (OverflowError, ValueError):   # absurd numbers (e.g. a 400-digit note length)
            res = None
        if res is None:
            continue
        title, composer, cols = res
        out.append(Melody(make_notes(*cols), title=title, composer=composer, source=source,
                          index=index, meta={"x": x}))
    if not out and blocks:
        n = len(blocks)
        raise CorruptFile(f"{source}: {n} ABC tune{'s' if n != 1 else ''} but no notes in "
                          f"{'any' if n != 1 else 'it'} (only rests, headers or text)")
    if not out:
        raise CorruptFile(f"{source}: no ABC tunes found (no X: or K: line)")
    return out


def load_abc(path) -> list[Melody]:
    """Read an .abc file (UTF-8, falling back to Latin-1) and parse all its tunes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CorruptFile(f"{path}: cannot read file ({e.strerror or e})") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_abc(text, source=str(path))
