"""OCR-B shape templates: a second opinion on each character Tesseract reads.

Tesseract's general English model systematically swaps letters and digits on
MRZs (5/S, 7/T, 8/B, 2/Z, 4/6 ...), which matters in alphanumeric document
numbers. Every MRZ is printed in OCR-B, so each glyph is also compared with the
OCR-B drawing of every MRZ character; in fields covered by check digits, the
reading is replaced when another character fits the glyph clearly better.
Check digits are never used to choose, so a forged digit is never "repaired".
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


def settle(ch: str, glyph: np.ndarray | None, kind: str = "X", margin: float = 0.08) -> str:
    """Tesseract's `ch`, or the OCR-B character the glyph resembles clearly more.

    kind is the MRZ field kind of the cell (see normalise.LAYOUTS): "D" digit only,
    "X" alphanumeric, "A" letters. Letter cells are left alone: names have no check
    digit, and letter templates (H/M, E/B) are too close at webcam size to rewrite
    them safely. Digit and alphanumeric fields are covered by check digits.
    """
    templates = _templates()
    if kind == "A" or templates is None or glyph is None or glyph.size == 0 or ch not in ALPHANUMERIC:
        return ch
    norm = _soft(_normalise(glyph))[None]
    # Overlap (IoU) of soft binary images.
    scores = np.minimum(norm, templates).sum(axis=(1, 2)) / np.maximum(norm, templates).sum(axis=(1, 2))
    allowed = _DIGIT_INDEXES if kind == "D" else slice(None)
    best = ALPHANUMERIC[int(np.argmax(np.where(_mask(allowed), scores, -1.0)))]
    return best if scores[ALPHANUMERIC.index(best)] > scores[ALPHANUMERIC.index(ch)] + margin else ch


_DIGIT_INDEXES = slice(26, 36)


def _mask(allowed: slice) -> np.ndarray:
    mask = np.zeros(len(ALPHANUMERIC), bool)
    mask[allowed] = True
    return mask
