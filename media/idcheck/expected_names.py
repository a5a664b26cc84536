"""The appointment's name as the MRZ would spell it, to weigh frames that disagree on a name letter.

The check knows whom it expects. A small blurred card's name letter is often read two ways
(LEROY in two frames, LERDY in four: O and D differ by their left side, which blur takes
away), and the per-character majority then either settles on the misread or on nothing.
`expected_zones` spells the appointment's names as the card's name zones would begin
(ICAO 9303 part 3 transliteration, every accepted spelling; names.py), and
`reader.vote` lets a name cell take the expected letter when frames read it there, under
the limits in `vote`: it never creates a letter no frame saw, and it never touches a date,
a check digit or the document number (only name zones are spelt here).

A card whose name truly differs (an impostor's LERDY held sharply) never shows the
expected letter in two frames, so its name still reads as a mismatch.
"""

from __future__ import annotations

from .formats import MrzFormat
from .names import spellings
from .normalise import NAME_ZONES

Lines = tuple[str, ...]
ANY = "*"  # a cell the expectation says nothing about


def _zone_texts(fmt: MrzFormat, surname: tuple[str, ...], given: tuple[str, ...]) -> tuple[str, ...]:
    """What each of the format's name zones begins with, for these MRZ tokens."""
    last, first = "<".join(surname), "<".join(given)
    if fmt is MrzFormat.FR_ID_1988:  # surname on line 1, given names on line 2
        return last, first
    return (last + "<<" + first,)


def expected_zones(fmt: MrzFormat, first_name: str, last_name: str, line_length: int | None = None) -> list[Lines]:
    """Masks of the MRZ (ANY outside the expected names) for each accepted spelling of the
    appointment's surname and first name(s), as the card's name zones would begin. The
    first name must be the card's first given name for its letters to be spelt (a card may
    carry more given names after it, left to the plain vote)."""
    length = line_length or fmt.line_length
    masks: list[Lines] = []
    for last in sorted(spellings(last_name)):
        for first in sorted(spellings(first_name)):
            if not last or not first:
                continue
            lines = [[ANY] * length for _ in range(fmt.line_count)]
            for (li, start, end), text in zip(NAME_ZONES[fmt], _zone_texts(fmt, last, first), strict=True):
                for k, ch in enumerate(text[:end - start]):  # a long name is cut at the zone's end
                    lines[li][start + k] = ch
            mask = tuple("".join(line) for line in lines)
            if mask not in masks:
                masks.append(mask)
    return masks
