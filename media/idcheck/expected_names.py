"""The appointment's name as the MRZ would spell it, to weigh frames that disagree on a name letter.

The check knows whom it expects. A small blurred card's name letter is often read two ways
(LEROY in two frames, LERDY in four: O and D differ by their left side, which blur takes
away), and the per-character majority then either settles on the misread or on nothing.
`expected_zones` spells the appointment's names as the card's name zones would begin
(ICAO 9303 part 3 transliteration, every accepted spelling; names.py), and
`reader.vote` lets a name cell whose plurality is the expected letter take it without the
2:1 lead, under the limits in `vote`: never on a tie or against the plurality, never a letter
no frame saw, and never at a date, a check digit or the document number (only name zones are
spelt here).

A card whose name truly differs (an impostor's LERDY held sharply) never has the expected
letter as its frames' plurality, so its name still reads as a mismatch.

Where a check digit covers the names (the old French card's last digit covers both lines), a
name letter every frame misreads alike (O read G in six frames of six) can still be settled:
`one_letter_off` gives the vote with the one name cell that differs from the appointment's
spelling replaced, and the reader keeps it only if the check digits then pass. A single changed
cell always changes a 7-3-1 check digit unless the two glyphs' values are 10 apart (G/Q, U/0/K:
`grid.SILENT`), so a card printed with another name cannot pass so; a silent pair cannot
repair a failing check, and is refused anyway.
"""

from __future__ import annotations

from .formats import MrzFormat
from .grid import MRZ_ALPHABET, SILENT
from .names import spellings
from .normalise import NAME_ZONES

Lines = tuple[str, ...]
ANY = "*"  # a cell the expectation says nothing about
# Formats whose check digits cover every name zone (TD1's and TD3's never cover the names).
NAMES_UNDER_CHECK_DIGIT = frozenset({MrzFormat.FR_ID_1988})


def _zone_texts(fmt: MrzFormat, surname: tuple[str, ...], given: tuple[str, ...]) -> tuple[str, ...]:
    """What each of the format's name zones begins with, for these MRZ tokens."""
    last, first = "<".join(surname), "<".join(given)
    if fmt is MrzFormat.FR_ID_1988:  # surname on line 1, given names on line 2
        return last, first
    return (last + "<<" + first,)


def expected_zones(fmt: MrzFormat, first_name: str, last_name: str) -> list[Lines]:
    """Masks of the MRZ (ANY outside the expected names) for each accepted spelling of the
    appointment's surname and first name(s), as the card's name zones would begin. The
    first name must be the card's first given name for its letters to be spelt (a card may
    carry more given names after it, left to the plain vote)."""
    masks: list[Lines] = []
    for last in sorted(spellings(last_name)):
        for first in sorted(spellings(first_name)):
            if not last or not first:
                continue
            lines = [[ANY] * fmt.line_length for _ in range(fmt.line_count)]
            for (li, start, end), text in zip(NAME_ZONES[fmt], _zone_texts(fmt, last, first), strict=True):
                for k, ch in enumerate(text[:end - start]):  # a long name is cut at the zone's end
                    lines[li][start + k] = ch
            mask = tuple("".join(line) for line in lines)
            if mask not in masks:
                masks.append(mask)
    return masks


def cells_off(mask: Lines, lines: Lines) -> list[tuple[int, int]]:
    """(line, column) of each name cell where lines differ from a spelling (a mask of expected_zones)."""
    return [(li, j) for li, (want, read) in enumerate(zip(mask, lines, strict=True))
            for j, (a, b) in enumerate(zip(want, read, strict=True)) if a != ANY and a != b]


def one_letter_off(fmt: MrzFormat, voted: Lines, masks: list[Lines]) -> list[Lines]:
    """The voted lines with their one name cell that differs from an expected spelling (a mask of
    expected_zones) replaced by the expected letter, for formats whose check digits cover the
    names; the caller keeps one only if its check digits pass. Spellings two or more cells away
    are left out (two changes can cancel in the sum), and so is a cell whose two glyphs are a
    silent pair (the sum cannot tell them apart)."""
    if fmt not in NAMES_UNDER_CHECK_DIGIT:
        return []
    out: list[Lines] = []
    for mask in masks:
        diffs = cells_off(mask, voted)
        if len(diffs) != 1:
            continue
        li, j = diffs[0]
        want, read = MRZ_ALPHABET.find(mask[li][j]), MRZ_ALPHABET.find(voted[li][j])
        if want < 0 or read < 0 or SILENT[want, read]:
            continue
        lines = list(voted)
        lines[li] = voted[li][:j] + mask[li][j] + voted[li][j + 1:]
        if tuple(lines) not in out:
            out.append(tuple(lines))
    return out
