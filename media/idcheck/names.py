"""Name normalisation shared by the MRZ generator and the appointment name check.

ICAO 9303 transliterates to A-Z: accents are dropped, ligatures expanded, and
some letters have two accepted spellings (Ä -> AE or A), so comparisons try both.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into a base letter plus accent.
_LIGATURES = {"Æ": "AE", "Œ": "OE", "ß": "SS", "Ø": "OE", "Ð": "D", "Þ": "TH", "Ł": "L"}
# ICAO's alternative, German/Nordic style spellings.
_ICAO_ALTERNATES = {"Ä": "AE", "Ö": "OE", "Ü": "UE", "Å": "AA"}


def _strip(text: str, alternates: bool) -> str:
    text = text.upper().replace("ẞ", "ß")
    out = []
    for ch in text:
        if alternates and ch in _ICAO_ALTERNATES:
            out.append(_ICAO_ALTERNATES[ch])
        elif ch in _LIGATURES:
            out.append(_LIGATURES[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
    return "".join(out).upper()


def name_tokens(text: str, alternates: bool = False) -> tuple[str, ...]:
    """Split a human or MRZ name into A-Z tokens ("Jean-Éloïse" -> ("JEAN", "ELOISE"))."""
    plain = _strip(text.replace("<", " "), alternates)
    # Apostrophes are dropped (D'ARTAGNAN -> DARTAGNAN), other separators split.
    plain = re.sub(r"['’`]", "", plain)
    return tuple(t for t in re.split(r"[^A-Z0-9]+", plain) if t)


def spellings(text: str) -> set[tuple[str, ...]]:
    """Every accepted MRZ token spelling of a human name."""
    return {name_tokens(text, False), name_tokens(text, True)}


def to_mrz_field(text: str) -> str:
    """Human name -> MRZ field text with '<' separators (not padded)."""
    return "<".join(name_tokens(text))
