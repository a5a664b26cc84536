"""SMS length: GSM-7 segments, and keeping variable text inside the GSM-7 alphabet.

A text with a single character outside GSM-7 (an emoji, "ê", a curly apostrophe) is sent
as UCS-2, where a segment holds 67 characters instead of 153: names coming from the
database are folded into GSM-7 so that our 2-segment budget holds.
"""

from __future__ import annotations

import math
import unicodedata

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€")  # each costs two septets
MAX_SEGMENTS = 2


def is_gsm(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text)


def segments(text: str) -> int:
    """How many SMS segments `text` takes (concatenated SMS: 153 septets or 67 UCS-2 units)."""
    if is_gsm(text):
        length = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        return 1 if length <= 160 else math.ceil(length / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def to_gsm(text: str, limit: int | None = None) -> str:
    """`text` folded into GSM-7 (accents dropped where needed), cut at `limit` characters."""
    out = []
    for ch in text:
        if ch in GSM_BASIC:
            out.append(ch)
        elif ch in "’‘`´":
            out.append("'")
        elif ch in "“”«»":
            out.append('"')
        elif ch in "–—":
            out.append("-")
        else:
            folded = "".join(c for c in unicodedata.normalize("NFKD", ch) if c in GSM_BASIC)
            out.append(folded or ("" if unicodedata.category(ch).startswith(("M", "C", "So")) else "?"))
    result = " ".join("".join(out).split())
    if limit is not None and len(result) > limit:
        result = result[: limit - 1].rstrip() + "."
    return result
