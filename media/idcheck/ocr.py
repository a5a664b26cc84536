"""Tesseract reading of a straightened MRZ crop, rebuilt onto the fixed character grid.

Tesseract's raw text is never exact on MRZs: it reads '<' as K (or C, E, 6 ...)
and miscounts long filler runs. MRZ fonts are monospaced, so instead of trusting
its text we take its per-character boxes, place each on the grid cell under its
centre (which rebuilds line lengths), and decide '<' cells from the glyph's shape.
Check digits cannot catch K <-> '<' (K = 20 = 0 mod 10), hence the shape test.
"""

from __future__ import annotations

import os
import threading

# OpenMP threads make each short Tesseract run several times slower on small machines.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import cv2  # noqa: E402 - after the OpenMP limit
import numpy as np  # noqa: E402
import tesserocr  # noqa: E402

from .formats import MrzFormat, formats_for_line_count
from .glyphs import settle
from .locate import MrzCrop
from .normalise import LAYOUTS

MRZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
# Debian's tessdata (package tesseract-ocr-eng); the model is read once per thread, at start.
TESSDATA = os.environ.get("IDCHECK_TESSDATA", "/usr/share/tesseract-ocr/5/tessdata")
TESSERACT_VARIABLES = {
    "tessedit_char_whitelist": MRZ_ALPHABET,
    "load_system_dawg": "0",  # no dictionaries: an MRZ is not English
    "load_freq_dawg": "0",
}
UNKNOWN = "?"  # a cell nothing could be read in; never valid in an MRZ

Box = tuple[str, float, float, float, float]  # char, left, top, right, bottom (image coordinates)

# One engine per thread (checks run in worker threads); the image is handed over in memory,
# so nothing is written to disk (pytesseract wrote each crop to TMPDIR).
_local = threading.local()


def _engine() -> tesserocr.PyTessBaseAPI:
    api = getattr(_local, "api", None)
    if api is None:
        api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng", psm=tesserocr.PSM.SINGLE_BLOCK,
                                      oem=tesserocr.OEM.LSTM_ONLY, variables=TESSERACT_VARIABLES)
        _local.api = api
    return api


def tesseract_boxes(image: np.ndarray) -> list[Box]:
    """Per-character boxes from one Tesseract run (top-left origin), image passed in memory."""
    api = _engine()
    gray = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = gray.shape
    api.SetImageBytes(gray.tobytes(), width, height, 1, width)
    api.Recognize()
    boxes: list[Box] = []
    level = tesserocr.RIL.SYMBOL
    iterator = api.GetIterator()
    if iterator is None:
        return boxes
    for symbol in tesserocr.iterate_level(iterator, level):
        try:
            ch = symbol.GetUTF8Text(level)
        except RuntimeError:  # a symbol with no text (tesserocr raises instead of returning "")
            continue
        box = symbol.BoundingBox(level)
        if ch and len(ch) == 1 and ch in MRZ_ALPHABET and box is not None:
            left, top, right, bottom = box
            boxes.append((ch, float(left), float(top), float(right), float(bottom)))
    api.Clear()
    return boxes


# Shares of Otsu's threshold: the stricter one keeps only stroke cores, so that a
# blurred '<' keeps the gap between its arms.
INK_LEVELS = (0.9, 0.75)


def _ink_mask(image: np.ndarray, level: float = 1.0) -> np.ndarray:
    otsu, _ = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return (image < otsu * level).astype(np.uint8)


def _line_extent(ink: np.ndarray, line: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """Tight (left, right, top, bottom) of the glyphs of one line."""
    x, y, w, h = line
    pad = h // 2
    y0, y1 = max(0, y - pad // 2), min(ink.shape[0], y + h + pad // 2)
    x0, x1 = max(0, x - pad), min(ink.shape[1], x + w + pad)
    band = ink[y0:y1, x0:x1]
    rows = np.flatnonzero(band.sum(axis=1) >= max(2, 0.02 * band.shape[1]))
    if rows.size == 0:
        return None
    top, bottom = rows[0], rows[-1] + 1
    # Left/right from glyph-sized components only, so a speck of noise cannot shift the grid.
    count, _, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(band[top:bottom]), connectivity=8)
    tall = [stats[k] for k in range(1, count) if stats[k][3] >= 0.4 * (bottom - top) and stats[k][4] >= 8]
    if not tall:
        return None
    left = min(int(st[0]) for st in tall)
    right = max(int(st[0] + st[2]) for st in tall)
    return x0 + left, x0 + right, y0 + top, y0 + bottom


def is_chevron(cell: np.ndarray) -> bool:
    """True when a binary cell holds the '<' filler: a left-pointing apex, two arms on the right."""
    ys, xs = np.nonzero(cell)
    if ys.size < 6:
        return False
    g = cell[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    gh, gw = g.shape
    if gh < 5 or gw < 4:
        return False
    third, quarter = max(1, gw // 3), max(1, gh // 4)
    left, right = g[:, :third], g[:, gw - third:]
    mid = slice(int(gh * 0.4), max(int(gh * 0.4) + 1, int(gh * 0.6)))

    def inked(region: np.ndarray) -> bool:
        return region.size > 0 and float(region.mean()) > 0.06

    return (inked(left[mid]) and not inked(left[:quarter]) and not inked(left[-quarter:])
            and inked(right[:quarter]) and inked(right[-quarter:]) and not inked(right[mid]))


def _glyphs(ink: np.ndarray, extent: tuple[int, int, int, int]) -> list[tuple[float, np.ndarray]]:
    """Connected glyph components of one line: (centre x, binary glyph image)."""
    left, right, top, bottom = extent
    band = np.ascontiguousarray(ink[top:bottom, left:right])
    count, labels, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
    out = []
    for k in range(1, count):
        x, y, w, h, area = stats[k]
        if h >= 0.4 * band.shape[0] and area >= 8:
            out.append((left + x + w / 2, (labels[y:y + h, x:x + w] == k).astype(np.uint8)))
    return sorted(out, key=lambda g: g[0])


def _fit_grid(centres: list[float], left: float, pitch: float, n: int) -> tuple[float, float]:
    """Refine (x of cell 0's left edge, pitch) from glyph centres; monospacing makes this a line fit."""
    for _ in range(2):
        idx = [int((c - left) / pitch) for c in centres]
        pairs = [(i + 0.5, c) for i, c in zip(idx, centres, strict=True) if 0 <= i < n]
        if len(pairs) < max(5, n // 3):
            break
        slope, intercept = np.polyfit([p[0] for p in pairs], [p[1] for p in pairs], 1)
        if not 0.8 * pitch < slope < 1.2 * pitch:
            break
        left, pitch = float(intercept), float(slope)
    return left, pitch


def _grid_line(boxes: list[Box], inks: list[np.ndarray], extent: tuple[int, int, int, int],
               layout: str) -> tuple[str, float]:
    """Place boxes on the line's cells (one per layout character); returns the line and the
    mean misalignment (0 = centred)."""
    n = len(layout)
    glyphs = _glyphs(inks[0], extent)
    left, pitch = _fit_grid([g[0] for g in glyphs], extent[0], (extent[1] - extent[0]) / n, n)
    chosen: list[tuple[float, str] | None] = [None] * n
    shapes: list[tuple[float, np.ndarray] | None] = [None] * n
    offsets: list[float] = []
    for ch, bl, _, br, _ in boxes:
        pos = ((bl + br) / 2 - left) / pitch
        i = int(pos) if pos >= 0 else -1
        if 0 <= i < n:
            off = abs(pos - i - 0.5)
            offsets.append(off)
            previous = chosen[i]
            if previous is None or off < previous[0]:
                chosen[i] = (off, ch)
    for cx, glyph in glyphs:
        pos = (cx - left) / pitch
        i = int(pos) if pos >= 0 else -1
        if 0 <= i < n:
            off = abs(pos - i - 0.5)
            seen = shapes[i]
            if seen is None or off < seen[0]:
                shapes[i] = (off, glyph)
    out: list[str] = []
    top, bottom = extent[2], extent[3]
    # Digits are the tallest OCR-B glyphs; the line's tall glyphs give their height.
    heights = [g.shape[0] for _, g in glyphs]
    ref_height = float(np.percentile(heights, 90)) if heights else 0.0
    for i in range(n):
        # Blurred '<' runs merge into one component, so also test the bare grid cell.
        x0, x1 = max(0, int(left + i * pitch)), max(0, int(left + (i + 1) * pitch))
        shape, read = shapes[i], chosen[i]
        cell: np.ndarray | None = shape[1] if shape is not None else None
        if (cell is not None and is_chevron(cell)) or any(is_chevron(ink[top:bottom, x0:x1]) for ink in inks):
            out.append("<")
        elif read is not None:
            rel = cell.shape[0] / ref_height if cell is not None and ref_height else None
            out.append(settle(read[1], cell, layout[i], rel_height=rel))
        else:
            out.append(UNKNOWN)
    misalign = float(np.mean(offsets)) if offsets else 1.0
    return "".join(out), misalign


LINE_MARGIN = 0.3  # share of a line's height kept above and below it


def isolate_lines(crop: MrzCrop) -> np.ndarray:
    """The crop with everything between and around the MRZ lines painted paper-white.

    Card text, a photo edge or a guilloche just above the first line otherwise joins its
    glyphs (wrong shapes, a taller line band) and makes Tesseract misread the line."""
    keep = np.zeros(crop.image.shape[0], bool)
    for _, y, _, h in crop.lines:
        keep[max(0, int(y - LINE_MARGIN * h)):int(y + h + LINE_MARGIN * h) + 1] = True
    out = crop.image.copy()
    out[~keep] = 255
    return out


def read_crop(crop: MrzCrop, boxes: list[Box] | None = None) -> tuple[MrzFormat, tuple[str, ...]] | None:
    """Grid-aligned raw lines of the crop, with the format whose grid fits Tesseract's boxes best."""
    formats = formats_for_line_count(crop.line_count)
    if not formats:
        return None
    if crop.chars:
        # The locator counted the characters from the line's pitch: 36 and 44 are far apart,
        # Tesseract's box alignment alone can prefer the wrong grid on a blurred line.
        closest = min(formats, key=lambda f: abs(f.line_length - crop.chars))
        if abs(closest.line_length - crop.chars) <= 3:
            formats = (closest,)
    image = isolate_lines(crop)
    boxes = tesseract_boxes(image) if boxes is None else boxes
    inks = [_ink_mask(image, level) for level in INK_LEVELS]
    found = [_line_extent(inks[0], line) for line in crop.lines]
    extents = [e for e in found if e is not None]
    if len(extents) != len(found):
        return None
    # Give each box to the line whose band contains its vertical centre.
    per_line: list[list[Box]] = [[] for _ in crop.lines]
    for b in boxes:
        cy = (b[2] + b[4]) / 2
        k = int(np.argmin([abs(cy - (e[2] + e[3]) / 2) for e in extents]))
        per_line[k].append(b)
    best: tuple[float, MrzFormat, tuple[str, ...]] | None = None
    for fmt in formats:
        lines: list[str] = []
        cost = 0.0
        for line_boxes, extent, layout in zip(per_line, extents, LAYOUTS[fmt], strict=True):
            text, misalign = _grid_line(line_boxes, inks, extent, layout)
            lines.append(text)
            cost += misalign
        if best is None or cost < best[0]:
            best = (cost, fmt, tuple(lines))
    assert best is not None
    return best[1], best[2]
