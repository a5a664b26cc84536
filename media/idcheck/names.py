"""Name normalisation shared by the MRZ generator and the appointment name check.

ICAO 9303 part 3 transliterates to A-Z: accents are dropped (É -> E), ligatures
expanded (ß -> SS, Œ -> OE), some letters have two accepted spellings (Ö -> OE
or O), hyphens and spaces become '<', apostrophes are dropped by some states and
turned into '<' by others; comparisons try every accepted spelling. The name
zone has a fixed length, so long names are cut at its end: `compare` says
"truncated" then, rather than "mismatch".
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

# Letters that NFKD does not decompose into a base letter plus accent.
_LIGATURES = {"Æ": "AE", "Œ": "OE", "ß": "SS", "Ø": "OE", "Ð": "D", "Þ": "TH", "Ł": "L"}
# ICAO's alternative, German/Nordic style spellings.
_ICAO_ALTERNATES = {"Ä": "AE", "Ö": "OE", "Ü": "UE", "Å": "AA"}


def _strip(text: str, alternates: bool) -> str:
    text = text.upper().replace("ẞ", "ß")
    out: list[str] = []
    for ch in text:
        if alternates and ch in _ICAO_ALTERNATES:
            out.append(_ICAO_ALTERNATES[ch])
        elif ch in _LIGATURES:
            out.append(_LIGATURES[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
    return "".join(out).upper()


def name_tokens(text: str, alternates: bool = False, apostrophe_splits: bool = False) -> tuple[str, ...]:
    """Split a human or MRZ name into A-Z tokens ("Jean-Éloïse" -> ("JEAN", "ELOISE"))."""
    plain = _strip(text.replace("<", " "), alternates)
    # Apostrophes are dropped (D'ARTAGNAN -> DARTAGNAN) or, as some states write them, split.
    plain = re.sub(r"['’`ʼ]", " " if apostrophe_splits else "", plain)
    return tuple(t for t in re.split(r"[^A-Z0-9]+", plain) if t)


def spellings(text: str) -> set[tuple[str, ...]]:
    """Every accepted MRZ token spelling of a human name."""
    return {name_tokens(text, alt, split) for alt in (False, True) for split in (False, True)}


class NameMatch(StrEnum):
    MATCH = "match"
    TRUNCATED = "truncated"  # agrees as far as the MRZ goes, but the MRZ cut the name ("nom tronqué")
    MISMATCH = "mismatch"


def _given_fit(mrz: tuple[str, ...], human: tuple[str, ...], truncated: bool) -> bool:
    """The human first name(s) appear as consecutive MRZ given names; when the MRZ was cut,
    the last MRZ token may be the start of a human one, and what follows it is unknown."""
    if not human:
        return False
    for start in range(len(mrz)):
        ok = True
        for k, token in enumerate(human):
            pos = start + k
            if pos >= len(mrz):
                ok = truncated  # cut off by the MRZ: cannot disagree
                break
            last_cut = truncated and pos == len(mrz) - 1
            if not (token == mrz[pos] or (last_cut and token.startswith(mrz[pos]))):
                ok = False
                break
        if ok:
            return True
    return False


def compare(mrz_surname: str, mrz_given: str, first_name: str, last_name: str,
            surname_truncated: bool = False, given_truncated: bool = False) -> NameMatch:
    """Appointment names against MRZ names, by the ICAO transliteration rules.

    The surname must be the MRZ surname (or, when the MRZ cut it, start with it); the
    appointment's first name(s) must appear among the MRZ given names, the last of which
    may be cut. When the MRZ cut the surname so that no given name is left, only the
    surname can be compared. Any agreement that relied on a cut says TRUNCATED.
    """
    mrz_last, mrz_first = name_tokens(mrz_surname), name_tokens(mrz_given)
    if not mrz_last:
        return NameMatch.MISMATCH
    lasts = [t for t in spellings(last_name) if t]
    firsts = [t for t in spellings(first_name) if t]
    if not lasts or not firsts:
        return NameMatch.MISMATCH
    if mrz_first and any(t == mrz_last for t in lasts) and any(_contains(mrz_first, t) for t in firsts):
        return NameMatch.MATCH
    last_ok = any(t == mrz_last or (surname_truncated and "<".join(t).startswith("<".join(mrz_last)))
                  for t in lasts)
    if not last_ok:
        return NameMatch.MISMATCH
    if not mrz_first:
        # The surname filled the zone: nothing of the given names is on the card.
        return NameMatch.TRUNCATED if surname_truncated or given_truncated else NameMatch.MISMATCH
    if given_truncated and any(_given_fit(mrz_first, t, True) for t in firsts):
        return NameMatch.TRUNCATED
    if surname_truncated and any(_given_fit(mrz_first, t, False) for t in firsts):
        return NameMatch.TRUNCATED
    return NameMatch.MISMATCH


def _contains(seq: tuple[str, ...], sub: tuple[str, ...]) -> bool:
    return any(seq[i:i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def to_mrz_field(text: str) -> str:
    """Human name -> MRZ field text with '<' separators (not padded)."""
    return "<".join(name_tokens(text))
