"""Per-position clean-up of grid-aligned OCR lines using each format's field layout.

Where a position can only hold a digit (dates, check digits, the old French
card's digit fields), letters OCR confuses with digits are mapped back (O -> 0
...); where it can only hold a letter or '<', the other way. Alphanumeric
fields (document numbers, optional data) are left exactly as read: a rewrite
there can cancel out under the check digit (O -> 0 at a weight-7 and a weight-3
position changes the sum by 24*7 + 24*3 = 240, so `1OWRFSO0B` rewritten as
`10WRFS00B` still validates) and would accept the wrong number. Nothing here
looks at check digits, so a forged digit is never "repaired".
"""

from __future__ import annotations

from .formats import MrzFormat

_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "A": "4",
                           "Z": "2", "S": "5", "G": "6", "B": "8"})
_TO_LETTER = str.maketrans({"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B"})

# D: digit, A: letter or '<', X: any (alphanumeric field), C: a department code's digit, A or B,
# L: a letter inside a document number (C and L are never rewritten: they are part of a
# number), P: optional data that can never hold the document number (a passport's personal
# number, a TD1 card's second-line data: read as the best glyph, never rewritten, never
# reported; a misread there either fails a check digit or changes nothing the check reports),
# '<'-or-digit check digits are D too.
LAYOUTS: dict[MrzFormat, tuple[str, ...]] = {
    MrzFormat.TD1: (
        "AAAAA" + "X" * 9 + "D" + "X" * 15,
        "DDDDDDDADDDDDDDAAA" + "P" * 11 + "D",
        "A" * 30,
    ),
    MrzFormat.TD3: (
        "A" * 44,
        "X" * 9 + "D" + "AAA" + "DDDDDDD" + "A" + "DDDDDDD" + "P" * 14 + "DD",
    ),
    # Department codes are digits except Corsica's 2A/2B, so only their first cell is a digit for
    # sure; the others (C) hold a digit, A, B or '<' (never rewritten: they are part of the
    # document number); the office code after them is three digits.
    MrzFormat.FR_ID_1988: (
        "A" * 30 + "DCC" + "DDD",
        "DDDD" + "DCC" + "DDDDD" + "D" + "A" * 14 + "DDDDDDD" + "A" + "D",
    ),
}


UNSURE = "?"


def department_letter_after(previous: str) -> bool:
    """Whether a department code's cell (kind C) may hold A or B after `previous`: only Corsica's
    2A and 2B have letters, written 2A plus an office digit before 2017 and 02A since, so an A
    or B only ever follows a 2 (an unsure cell before it leaves the question open)."""
    return previous in ("2", UNSURE)


def normalise_line(text: str, layout: str) -> str:
    """Map letter/digit look-alikes by position; a cell that still breaks its field's kind
    (an A where only a digit can be) becomes UNSURE: it was misread, and is not guessed."""
    out: list[str] = []
    for ch, kind in zip(text, layout, strict=True):
        if kind == "D" and ch != "<":
            ch = ch.translate(_TO_DIGIT)
            if not ch.isdigit():
                ch = UNSURE
        elif (kind == "C" and not (ch.isdigit() or ch == "<" or (
                ch in "AB" and department_letter_after(out[-1] if out else "")))) or (kind == "L" and ch.isdigit()):
            ch = UNSURE
        elif kind == "A":
            ch = ch.translate(_TO_LETTER)
            if ch.isdigit():
                ch = UNSURE
        out.append(ch)
    return "".join(out)


# French passport numbers are 2 digits, 2 letters, 5 digits; the letters (L) are part of the
# number, so never rewritten either (G and Q swap without changing the check digit).
_FR_PASSPORT_LINE2 = "DDLLDDDDD" + LAYOUTS[MrzFormat.TD3][1][9:]


def layout_for(fmt: MrzFormat, lines: tuple[str, ...]) -> tuple[str, ...]:
    if fmt is MrzFormat.TD3 and normalise_line(lines[0][2:5], "AAA") == "FRA":
        return LAYOUTS[fmt][0], _FR_PASSPORT_LINE2
    return LAYOUTS[fmt]


# Name zones (line, start, end). Names end in filler: once three '<' follow one another (never
# inside names: '<' separates words, '<<' surname from given names, or the old French card's
# given names), every later cell of the zone is '<' (a blurred run of fillers reads R, W, X, M).
NAME_ZONES: dict[MrzFormat, tuple[tuple[int, int, int], ...]] = {
    MrzFormat.TD1: ((2, 0, 30),),
    MrzFormat.TD3: ((0, 5, 44),),
    MrzFormat.FR_ID_1988: ((0, 5, 30), (1, 13, 27)),
}


def close_names(fmt: MrzFormat, lines: tuple[str, ...]) -> tuple[str, ...]:
    """Every cell of a name zone after its first '<<<' set to '<'."""
    out = list(lines)
    for li, start, end in NAME_ZONES[fmt]:
        at = out[li].find("<<<", start, end)
        if at >= 0:
            out[li] = out[li][:at] + "<" * (end - at) + out[li][end:]
    return tuple(out)


def normalise(fmt: MrzFormat, lines: tuple[str, ...]) -> tuple[str, ...]:
    if len(lines) != fmt.line_count or any(len(line) != fmt.line_length for line in lines):
        raise ValueError("lines do not match the format's geometry")
    return close_names(fmt, tuple(normalise_line(line, layout)
                                  for line, layout in zip(lines, layout_for(fmt, lines), strict=True)))


# Where each format keeps its document number with its check digit: (line, start, end). A TD1
# card's first-line optional data is included (a number longer than 9 characters runs on
# there, ICAO 9303 part 5); a passport's optional data and a TD1 card's second-line optional
# data never hold the number (kind P).
NUMBER_FIELDS: dict[MrzFormat, tuple[tuple[int, int, int], ...]] = {
    MrzFormat.TD1: ((0, 5, 30),),
    MrzFormat.TD3: ((1, 0, 10),),
    MrzFormat.FR_ID_1988: ((0, 30, 36), (1, 0, 13)),
}


def alphanumeric_cells(fmt: MrzFormat, lines: tuple[str, ...]) -> str:
    """The document number and its check digit (with the optional data it may run on in), as
    read, in order.

    Alphanumeric cells there are never corrected, so a reading of them is only trusted
    when several frames read them identically (see reader.number_agreed).
    """
    return "|".join(lines[line][start:end] for line, start, end in NUMBER_FIELDS[fmt])
