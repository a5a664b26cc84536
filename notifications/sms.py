"""SMS length: GSM-7 segments (3GPP TS 23.038, the "GSM 03.38" tables), and keeping text
inside the GSM-7 alphabet.

A text with a single character outside GSM-7 (an emoji, "ê", "ç", a curly apostrophe) is
sent as UCS-2, where a segment holds 67 characters instead of 153: every SMS body is
transliterated into GSM-7 (`transliterate`), keeping the French accents the table has
(é è ù ì ò à É Ç) and spelling out the others (ê → e, œ → oe, € → EUR, n° → no).
"""

from __future__ import annotations

import re
import unicodedata

# The default alphabet, in table order (0x1B, the escape to the extension table, left out).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + char, two septets, never split across segments.
GSM_EXTENSION = frozenset("\f^{}\\[]~|€")

SINGLE_SEPTETS, PART_SEPTETS = 160, 153  # one SMS; one part of a concatenated SMS (UDH)
SINGLE_UCS2, PART_UCS2 = 70, 67
MAX_SEGMENTS = 2  # no message may cost more (notifications/messages.py shortens it first)

# Characters outside GSM-7 whose meaning a plain decomposition would lose or garble.
_SPELLED = {
    "œ": "oe", "Œ": "OE", "€": "EUR", "°": "o", "…": "...", "‘": "'", "’": "'", "‚": "'", "`": "'",
    "´": "'", "′": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‹": '"', "›": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "•": "-", "·": ".", "×": "x", "÷": "/",
    "ç": "c", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "ŀ": "l",
    "Ŀ": "L", "Þ": "Th", "þ": "th", "ð": "d", "ĸ": "k", "ŉ": "n", "Ŋ": "N", "ŋ": "n", "ſ": "s",
    "\t": " ", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2002": " ",
    "\u2003": " ",
    "{": "(", "}": ")", "[": "(", "]": ")", "\\": "/", "~": "-", "|": "/", "^": "", "\f": "",
}  # fmt: skip
_SPACES = re.compile(r"[ ]{2,}")
# Words a cut name must not end on ("Maison France Services de.").
_DANGLING = frozenset(
    ["de", "du", "des", "d'", "la", "le", "les", "l'", "et", "en", "sur", "sous", "aux", "au", "a", "à",
     "of", "the", "and"]
)


def is_gsm(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def encoding(text: str) -> str:
    """What a phone network will use for `text`: "GSM-7" or "UCS-2"."""
    return "GSM-7" if is_gsm(text) else "UCS-2"


def _parts(units: list[int], single: int, part: int) -> int:
    """Parts needed for `units` (each character's size, in septets or UTF-16 units): a
    character is never split between two parts (escape pairs, surrogate pairs)."""
    total = sum(units)
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts


def segments(text: str) -> int:
    """How many SMS segments `text` takes on the network."""
    if is_gsm(text):
        return _parts([2 if ch in GSM_EXTENSION else 1 for ch in text], SINGLE_SEPTETS, PART_SEPTETS)
    return _parts([len(ch.encode("utf-16-le")) // 2 for ch in text], SINGLE_UCS2, PART_UCS2)


def septets(text: str) -> int:
    """GSM-7 length of a GSM-7 text (extension characters count two)."""
    return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)


def _char(ch: str) -> str:
    if ch in GSM_BASIC:
        return ch
    if ch in _SPELLED:
        return _SPELLED[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(c for c in decomposed if c in GSM_BASIC)
    if kept:
        # "ê" → "e", "È" → "E", "ﬁ" → "fi"; the decomposition may itself land on a GSM letter.
        return kept
    if unicodedata.category(ch).startswith("L"):
        return "?"  # a letter of another script: show that something was there
    return ""  # emoji, symbols, marks, controls


def transliterate(text: str) -> str:
    """`text` in GSM-7 basic characters only (no extension characters: some networks
    mangle them), newlines kept, runs of spaces collapsed."""
    out = "".join(_char(ch) for ch in unicodedata.normalize("NFC", text))
    return "\n".join(_SPACES.sub(" ", line).strip(" ") for line in out.replace("\r", "").split("\n"))


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, with a
    final "." saying it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    words = cut.split(" ")
    while len(words) > 1 and words[-1].casefold() in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" -,;:.'(") + "."


# Usual short forms of French administrative names (La Poste's and INSEE's "St", "Ste").
_ABBREVIATIONS = [
    (re.compile(r"\bMaison France Services\b", re.I), "France Services"),
    (re.compile(r"\bEspace France Services\b", re.I), "France Services"),
    (re.compile(r"\bCommunaut[ée] de communes\b", re.I), "CC"),
    (re.compile(r"\bCommunaut[ée] d['’]agglom[ée]ration\b", re.I), "Agglo"),
    (re.compile(r"\bCentre communal d['’]action sociale\b", re.I), "CCAS"),
    (re.compile(r"\bSaint(e?)(?=[- ])"), r"St\1"),
]


def abbreviate(name: str) -> str:
    """`name` with its usual short forms ("Saint-Rémy" → "St-Rémy")."""
    for pattern, short in _ABBREVIATIONS:
        name = pattern.sub(short, name)
    return name


def to_gsm(text: str, limit: int | None = None) -> str:
    """A variable part (a name) folded into GSM-7 on one line, cut at `limit` characters."""
    result = " ".join(transliterate(text).split())
    return shorten(result, limit) if limit is not None else result
