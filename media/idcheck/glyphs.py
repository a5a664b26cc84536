"""OCR-B shape templates: a second opinion on each character Tesseract reads.

Tesseract's general English model systematically swaps letters and digits on
MRZs (5/S, 7/T, 8/B, 2/Z, 4/6 ...). Every MRZ is printed in OCR-B, so in cells
that can only hold a digit, each glyph is also compared with the OCR-B drawing
of every digit, and the reading is replaced when another digit fits the glyph
clearly better. Check digits are never used to choose, so a forged digit is
never "repaired".
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

OCRB_FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SIZE = 32  # glyphs are compared on a _SIZE x _SIZE canvas, scaled to the same height


def _normalise(glyph: np.ndarray) -> np.ndarray:
    """Scale a binary glyph to height _SIZE keeping its aspect (0 is narrower than O), centre it."""
    h, w = glyph.shape
    new_w = max(1, min(_SIZE, round(w * _SIZE / h)))
    scaled = cv2.resize(glyph.astype(np.float32), (new_w, _SIZE), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((_SIZE, _SIZE), np.float32)
    x = (_SIZE - new_w) // 2
    canvas[:, x:x + new_w] = scaled
    return canvas


def _soft(img: np.ndarray) -> np.ndarray:
    """A small blur so that stroke weight (ink spread, focus) matters less than shape."""
    return cv2.GaussianBlur(img, (5, 5), 1.2)


@lru_cache(maxsize=1)
def _heights() -> np.ndarray:
    """Each ALPHANUMERIC glyph's ink height relative to the tallest (OCR-B digits stand taller
    than capitals: 0 is 78 units high, O 73), the one cue left once glyphs are scaled alike."""
    try:
        font = ImageFont.truetype(OCRB_FONT, 96)
    except OSError:
        return np.ones(len(ALPHANUMERIC))
    out = []
    for ch in ALPHANUMERIC:
        img = Image.new("L", (128, 128), 0)
        ImageDraw.Draw(img).text((10, 0), ch, fill=255, font=font)
        ys = np.nonzero(np.asarray(img) > 127)[0]
        out.append(float(ys.max() - ys.min() + 1))
    heights = np.asarray(out)
    return heights / heights.max()


@lru_cache(maxsize=1)
def _templates() -> np.ndarray | None:
    """Softened OCR-B drawings of ALPHANUMERIC, shape (36, _SIZE, _SIZE); None without the font."""
    try:
        font = ImageFont.truetype(OCRB_FONT, 96)
    except OSError:
        return None
    out = []
    for ch in ALPHANUMERIC:
        img = Image.new("L", (128, 128), 0)
        ImageDraw.Draw(img).text((10, 0), ch, fill=255, font=font)
        ink = np.asarray(img) > 127
        ys, xs = np.nonzero(ink)
        out.append(_soft(_normalise(ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1])))
    return np.stack(out)


UNSURE = "?"  # an alphanumeric cell whose two readings disagree: it makes the frame's number not count


HEIGHT_WEIGHT = 1.0  # score lost per unit of relative-height mismatch (O vs 0 differ by 0.06)


def scores(glyph: np.ndarray, rel_height: float | None = None) -> np.ndarray | None:
    """Similarity (soft IoU, 0..1) of a binary glyph with each OCR-B character of ALPHANUMERIC.

    rel_height, the glyph's height over the line's tallest glyphs, penalises characters
    whose OCR-B drawing is taller or shorter (digits against capitals).
    """
    templates = _templates()
    if templates is None or glyph.size == 0:
        return None
    norm = _soft(_normalise(glyph))[None]
    overlap: np.ndarray = np.minimum(norm, templates).sum(axis=(1, 2)) / np.maximum(norm, templates).sum(axis=(1, 2))
    if rel_height is not None:
        overlap = overlap - HEIGHT_WEIGHT * np.abs(_heights() - min(1.0, rel_height))
    return overlap


def settle(ch: str, glyph: np.ndarray | None, kind: str = "X", margin: float = 0.08,
           alnum_margin: float = 0.02, rel_height: float | None = None) -> str:
    """What to read in one cell, from Tesseract's `ch` and the glyph's likeness to OCR-B drawings.

    kind is the MRZ field kind of the cell (see normalise.LAYOUTS):
    - "D" (dates, check digits): the format says only a digit can be there, so the
      reading is replaced by the OCR-B digit the glyph resembles clearly more;
    - "X" (document numbers): nothing is rewritten by letter/digit rules. The two
      readers must agree, or the drawings must clearly prefer one character over
      Tesseract's; otherwise the cell is UNSURE. Two rewrites could cancel out under
      the check digit, so a doubtful cell is never guessed;
    - "A" (names): left as read; names have no check digit at all.
    """
    if kind == "A" or glyph is None or ch not in ALPHANUMERIC:
        return ch
    sc = scores(glyph, None if kind == "D" else rel_height)
    if sc is None:
        return ch
    if kind == "D":
        best = ALPHANUMERIC[int(np.argmax(np.where(_mask(_DIGIT_INDEXES), sc, -1.0)))]
        return best if sc[ALPHANUMERIC.index(best)] > sc[ALPHANUMERIC.index(ch)] + margin else ch
    best = ALPHANUMERIC[int(np.argmax(sc))]
    top = float(sc.max())
    if best == ch or top >= float(sc[ALPHANUMERIC.index(ch)]) + alnum_margin:
        return best
    return UNSURE


_DIGIT_INDEXES = slice(26, 36)


def _mask(allowed: slice) -> np.ndarray:
    mask = np.zeros(len(ALPHANUMERIC), bool)
    mask[allowed] = True
    return mask
