"""Fixed-pitch grid reader: every MRZ cell classified against OCR-B drawings at the line's own scale.

An MRZ is monospaced OCR-B, so once the locator has rectified a line, its characters sit in
equal cells along a straight line. Each of the 37 MRZ glyphs is drawn (in memory, from the
OCR-B faces) at the line's pitch, softened to the line's blur, and matched over the whole
line by normalised correlation (`cv2.matchTemplate`'s TM_CCOEFF_NORMED, computed through one
transform of the line); the grid (origin and pitch) is the one along which the best matches
add up to the most; each cell then reads as its best glyph, with the margin over the
runner-up as its confidence.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import cells
from .formats import MrzFormat, formats_for_line_count
from .locate import MrzCrop
from .normalise import LAYOUTS, department_letter_after, layout_for

MRZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
OCRB_FACE = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"  # Debian fonts-ocr-b
# OCR-B is cut differently by different printers; Debian's package carries the regular cut
# and the "Sharp" one (S, 2, 3, Z, E, G differ most). A line is matched against both; the
# better fit on the first line is kept for the crop's other lines.
FACES = (OCRB_FACE, "/usr/share/fonts/opentype/ocr-b/OCRBS.otf")
_SUPER = 4  # templates are drawn this many times larger, then averaged down (sub-pixel shapes)
# Gaussian sigma of the template softening, in hundredths of the pitch: focus, webcam blur
# and the upscaling of a small line soften glyphs by different amounts; the best fit is kept.
BLUR_LEVELS = (0, 12, 22)
# Glyph height in hundredths of the font's: small, blurred lines of a 640 frame (7-10 px per
# character) often fit glyphs a little shorter than the font draws them, and read better so.
# The squeezed templates are one more style whose fit is judged like the others. Tuning part
# (900 checks): 786 -> 793 exact at 95 (92: 791, 94: 793, 96: 793, 98: 788); the sharp cut
# squeezed too gained nothing more for a third more CPU (README, 2026-12-01 06:00-07:00).
SQUEEZED = 95
Style = tuple[int, int, int]  # (index in FACES, softening in hundredths of the pitch, glyph height)
STYLES: tuple[Style, ...] = tuple((face, blur, 100) for face in range(len(FACES)) for blur in BLUR_LEVELS) + tuple(
    (0, blur, SQUEEZED) for blur in BLUR_LEVELS)


@lru_cache(maxsize=8)
def _face(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=256)
def templates(pitch_q: int, blur_q: int, face: str = OCRB_FACE, height_q: int = 100) -> np.ndarray:
    """The 37 glyphs drawn one cell wide at a pitch of pitch_q/4 px, dark on white (float32,
    shape (37, height, width)), softened by blur_q/100 of the pitch, squeezed to height_q/100 of
    their height about the frame's middle. All share one vertical frame, so OCR-B's taller digits
    (0) stay told from capitals (O) by their height too."""
    pitch = pitch_q / 4
    probe = _face(face, 200)
    size = max(4, round(200 * pitch * _SUPER / probe.getlength("0")))
    font = _face(face, size)
    cell_w = round(pitch * _SUPER)
    # Vertical frame shared by all glyphs (digits stand taller than capitals: keep it).
    top0 = min(font.getbbox(c)[1] for c in "0O<")
    bottom0 = max(font.getbbox(c)[3] for c in "0OQJ")
    pad = round(0.12 * pitch * _SUPER)
    height = round(bottom0 - top0) + 2 * pad
    out = []
    for ch in MRZ_ALPHABET:
        img = Image.new("L", (cell_w, height), 255)
        ImageDraw.Draw(img).text((0, pad - top0), ch, fill=0, font=font)
        arr = np.asarray(img, np.float32)
        if height_q != 100:
            arr = _squeeze(arr, height_q / 100)
        small = cv2.resize(arr, (max(1, round(cell_w / _SUPER)), max(1, round(height / _SUPER))),
                           interpolation=cv2.INTER_AREA)
        sigma = blur_q / 100 * pitch
        if sigma > 0.3:
            small = cv2.GaussianBlur(small, (0, 0), sigma)
        out.append(small)
    return np.stack(out)


def _squeeze(arr: np.ndarray, factor: float) -> np.ndarray:
    """arr's content scaled vertically by factor about its middle row, in a white frame of its size."""
    h = arr.shape[0]
    inner = cv2.resize(arr, (arr.shape[1], max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    top = (h - inner.shape[0]) // 2
    out = np.full_like(arr, 255.0)
    out[top:top + inner.shape[0]] = inner
    return out


TemplateKey = tuple[int, int, str, int]  # templates()'s arguments: pitch_q, blur_q, face, height_q


@lru_cache(maxsize=4)
def _template_spectra(key: TemplateKey, fh: int, fw: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The 37 templates zero-mean and unit-norm, each padded to fh x fw and transformed
    (cv2.dft's packed spectrum), and which of them hold any ink. Kept for the last 4 styles and
    strip sizes (37 x 160 KB each for a 50 x 800 strip): a frame's orientation ranking matches
    four turned first lines of one size in one style."""
    tpl = templates(*key)
    th, tw = tpl.shape[1:]
    centred = tpl - tpl.mean(axis=(1, 2), keepdims=True)
    norms = np.sqrt((centred * centred).sum(axis=(1, 2)))
    spectra = []
    for glyph, norm in zip(centred, norms, strict=True):
        kernel = np.zeros((fh, fw), np.float32)
        kernel[:th, :tw] = glyph / max(float(norm), 1e-6)
        spectra.append(cv2.dft(kernel))
    return tuple(spectra), norms > 1e-6


def _responses(strip: np.ndarray, key: TemplateKey) -> np.ndarray:
    """Best correlation of each glyph (templates(*key)) at each x over the strip's rows: (37, positions).

    What cv2.matchTemplate(strip, t, TM_CCOEFF_NORMED).max(axis=0) gives for each template,
    computed with the strip's spectrum taken once for all 37 and the templates' kept
    (matchTemplate transforms both again at each call: this is 2-3x less CPU, and 1e-5 from a
    float64 computation where matchTemplate is 6e-4 off; README, 2026-12-03 evening). A window
    of uniform grey scores 0, as matchTemplate has it."""
    th, tw = templates(*key).shape[1:]
    height, width = strip.shape
    rows, cols = height - th + 1, width - tw + 1
    fh, fw = cv2.getOptimalDFTSize(height), cv2.getOptimalDFTSize(width)
    spectra, inked = _template_spectra(key, fh, fw)
    padded = np.zeros((fh, fw), np.float32)
    padded[:height, :width] = strip
    spectrum = cv2.dft(padded)
    # Each window's spread (root of its summed squared deviations), from the strip's integrals.
    s1, s2 = cv2.integral2(padded[:height, :width], sdepth=cv2.CV_64F)

    def box(a: np.ndarray) -> np.ndarray:
        total: np.ndarray = a[th:th + rows, tw:tw + cols] - a[:rows, tw:tw + cols] - a[th:th + rows, :cols]
        total += a[:rows, :cols]
        return total

    spread = np.sqrt(np.maximum(box(s2) - box(s1) ** 2 / (th * tw), 0.0))
    inverse = np.where(spread > 1e-2, 1.0 / np.maximum(spread, 1e-2), 0.0).astype(np.float32)
    out = np.zeros((len(spectra), cols), np.float32)
    for i, glyph in enumerate(spectra):
        if inked[i]:  # a blank template matches nothing
            corr = cv2.idft(cv2.mulSpectrums(spectrum, glyph, 0, conjB=True),
                            flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)[:rows, :cols]
            out[i] = np.clip(corr * inverse, -1.0, 1.0).max(axis=0)
    return out


def cell_scores(resp: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each cell's glyph scores (n, 37) from _responses: best within a pixel of the cell's start
    (a glyph may sit a pixel off the fitted start: rounding, residual warp)."""
    return np.stack([resp[:, max(0, c - 1):c + 2].max(axis=1) for c in starts])


def _strip(image: np.ndarray, box: tuple[int, int, int, int], th: int, pitch: float) -> np.ndarray:
    """The line's band with one pitch of margin each side, white-padded past the image's edges."""
    x, y, w, h = box
    cy = y + h / 2
    y0, y1 = int(cy - th / 2 - 0.35 * h), int(cy + th / 2 + 0.35 * h) + 1
    x0, x1 = int(x - pitch), int(x + w + pitch)
    strip = image[max(0, y0):max(0, min(image.shape[0], y1)), max(0, x0):max(0, min(image.shape[1], x1))]
    return cv2.copyMakeBorder(strip.astype(np.float32), max(0, -y0), max(0, y1 - image.shape[0]),
                              max(0, -x0), max(0, x1 - image.shape[1]), cv2.BORDER_CONSTANT, value=255.0)


# Neighbours' ink. A softened template is a glyph blurred alone in its cell, and its ink is
# mirrored back at the cell's edges (the blur's border); on a small blurred line each cell also
# holds ink bled from the glyphs beside it. Once a line's grid is placed, each cell of a softened
# style is matched again against every glyph drawn between the glyphs its neighbours read on the
# first pass, softened together, over the cell's own width (document-number cells excepted:
# _alnum_first_pass). Tuning part, 540 checks: 479 -> 482 exact, held-out 492 -> 495, 0 wrong;
# cells right at 640 with the card at 40-50 %: TD1 91.3 -> 95.3 %, TD3 81.8 -> 86.4 %, old
# French 92.1 -> 96.2 % (README, "cells matched again between their neighbours' ink").


@lru_cache(maxsize=64)
def _spread_ink(pitch_q: int, blur_q: int, face: str, height_q: int) -> tuple[np.ndarray, int]:
    """Each glyph's ink (0..1) drawn at the pitch, with `pad` empty columns each side, softened
    by blur_q/100 of the pitch without mirroring it at any edge. Returns (ink, pad)."""
    sharp = templates(pitch_q, 0, face, height_q)
    sigma = blur_q / 100 * pitch_q / 4
    pad = int(np.ceil(3 * sigma)) + 1
    ink = np.pad(1.0 - sharp / 255.0, ((0, 0), (pad, pad), (pad, pad))).astype(np.float32)
    ink = np.stack([cv2.GaussianBlur(g, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT) for g in ink])
    return np.ascontiguousarray(ink[:, pad:-pad]), pad  # rows back to the templates' frame


def _normalised(a: np.ndarray) -> np.ndarray:
    """The last two axes of a as zero-mean, unit-norm patches (what TM_CCOEFF_NORMED compares)."""
    a = a - a.mean(axis=(-2, -1), keepdims=True)
    out: np.ndarray = a / np.maximum(np.sqrt((a * a).sum(axis=(-2, -1), keepdims=True)), 1e-6)
    return out


def in_context(scores: np.ndarray, strip: np.ndarray, starts: np.ndarray, pitch: float, style: Style) -> np.ndarray:
    """The cells' scores (n, 37) matched again, each glyph drawn between the glyphs its
    neighbours scored best on the first pass (at their own starts) and softened with them;
    best over the strip's rows and a pixel either way, as the first pass. An unsoftened style
    bleeds nothing: its scores are returned as they are."""
    face, blur, height = style
    pitch_q = max(8, round(pitch * 4))
    if blur / 100 * pitch_q / 4 <= 0.3:  # templates() leaves such a style unsoftened
        return scores
    ink, pad = _spread_ink(pitch_q, blur, FACES[face], height)
    n_glyphs, th, wide = ink.shape
    tw = wide - 2 * pad
    n = len(starts)
    if strip.shape[0] < th or n == 0:
        return scores
    best = np.argmax(scores, axis=1)
    canvas = np.repeat(ink[None, :, :, pad:pad + tw], n, axis=0)  # (cell, glyph, row, column)
    for i in range(n):
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                # Column x of cell i is column x - (starts[j] - starts[i]) of neighbour j's cell.
                src0 = pad - int(starts[j] - starts[i])
                a, b = max(0, -src0), min(tw, wide - src0)
                if a < b:
                    canvas[i, :, :, a:b] += ink[best[j], :, src0 + a:src0 + b]
    tmpl = _normalised(-np.minimum(canvas, 1.0)).reshape(n, n_glyphs, th * tw)  # ink is dark in the strip
    padded = cv2.copyMakeBorder(strip, 0, 0, 1, tw + 1, cv2.BORDER_CONSTANT, value=255.0)
    rows = strip.shape[0] - th + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (th, tw))[:rows]
    at = starts.astype(np.int64)[:, None] + np.arange(3)[None, :]  # strip columns start - 1 .. start + 1
    patches = _normalised(windows[:, at]).reshape(rows, n, 3, th * tw).transpose(1, 3, 0, 2)
    # einsum, not matmul: the reader must not start BLAS threads (test_idcheck_cpu)
    out: np.ndarray = np.einsum("ngk,nkr->ngr", tmpl, patches.reshape(n, th * tw, rows * 3)).max(axis=2)
    return out


def read_line(image: np.ndarray, box: tuple[int, int, int, int], n: int,
              styles: tuple[Style, ...] = STYLES, memo: LineMemo | None = None
              ) -> tuple[np.ndarray, float, Style] | None:
    """read_line_grid without the grid's geometry."""
    read = read_line_grid(image, box, n, styles, memo)
    return None if read is None else read[:3]


LineRead = tuple[np.ndarray, float, Style, np.ndarray, np.ndarray, float]
# One style's read of one line, by (id of the image, box, n, style): the orientation ranking
# (first_line_score) and the full read of the two best orientations match the same first line
# with the same templates; a memo shared by both within one frame does it once. Only valid
# while the images it names are alive (the reader keeps one per frame). None: the strip is too
# small (no style can read it); False: no grid fits in this style.
LineMemo = dict[tuple[int, tuple[int, int, int, int], int, Style], LineRead | bool | None]


def _read_line_style(image: np.ndarray, box: tuple[int, int, int, int], n: int, style: Style,
                     pitch: float) -> LineRead | bool | None:
    face, blur, height = style
    key = (max(8, round(pitch * 4)), blur, FACES[face], height)
    th, tw = templates(*key).shape[1:]
    strip = _strip(image, box, th, pitch)
    if strip.shape[0] < th or strip.shape[1] < tw + n:
        return None
    # resp[c, j]: glyph c drawn with its cell starting at strip column j, best over rows.
    resp = _responses(strip, key)
    top = resp.max(axis=0)
    positions = _cell_positions(top, n, pitch)
    if positions is None:
        return False
    return cell_scores(resp, positions), float(top[positions].sum()), style, strip, positions, pitch


def read_line_grid(image: np.ndarray, box: tuple[int, int, int, int], n: int,
                   styles: tuple[Style, ...] = STYLES, memo: LineMemo | None = None) -> LineRead | None:
    """Scores of the n cells of the rectified line whose ink band is box (x, y, w, h) in image.

    Returns (scores, total, style): scores[i, c] is the best correlation of glyph c around cell
    i (-1..1), total the summed best scores along the chosen grid, style the face and template
    softening that fitted best (worth reusing for the crop's other lines); then the strip the
    cells were placed on, their start columns in it and the pitch (for cells.py).
    memo: reads already made on this image (see LineMemo)."""
    x, y, w, h = box
    if n < 2 or w < n * 3 or h < 4:
        return None
    pitch = w / n  # the band spans the line's ink, about n cells
    best: LineRead | None = None
    for style in styles:
        key = (id(image), box, n, style)
        if memo is not None and key in memo:
            read = memo[key]
        else:
            read = _read_line_style(image, box, n, style, pitch)
            if memo is not None:
                memo[key] = read
        if read is None:
            return None
        if read is False:
            continue
        assert not isinstance(read, bool)
        if best is None or read[1] > best[1]:
            best = read
    return best


GAP_SLACK = 0.14  # a cell may be this much wider or narrower than the mean pitch (a residual perspective)
GAP_PENALTY = 0.05  # score lost by a gap off the pitch by a tenth of it (squared)


def _cell_positions(top: np.ndarray, n: int, pitch: float) -> np.ndarray | None:
    """Start x of each of the n cells maximising the summed best match, consecutive cells about
    one pitch apart (dynamic programming; the rectification leaves a slight perspective, so the
    pitch drifts along a line and a single straight grid slips by a cell at one end)."""
    width = top.size
    lo, hi = max(1, int(np.floor(pitch * (1 - GAP_SLACK)))), int(np.ceil(pitch * (1 + GAP_SLACK)))
    if width < n * lo:
        return None
    gaps = np.arange(lo, hi + 1)
    cost = GAP_PENALTY * ((gaps - pitch) / (0.1 * pitch)) ** 2
    score = top.astype(np.float64).copy()
    # The first cell starts within two pitches of the strip's left end (one pitch of margin).
    score[int(2 * pitch) + 1:] = -np.inf
    back = np.zeros((n, width), np.int32)
    # cand[k, x]: the previous cell started gaps[k] before x (one shifted copy per gap).
    cand = np.full((gaps.size, width), -np.inf)
    rows = np.arange(width)
    for i in range(1, n):
        for k, g in enumerate(gaps):
            cand[k, g:] = score[:-g] - cost[k]
        pick = np.argmax(cand, axis=0)
        score = cand[pick, rows] + top
        back[i] = gaps[pick]
    end = int(np.argmax(score))
    if not np.isfinite(score[end]):
        return None
    out = np.zeros(n, np.int64)
    out[-1] = end
    for i in range(n - 1, 0, -1):
        out[i - 1] = out[i] - back[i][out[i]]
    return out


_LETTERS = np.array([c.isalpha() or c == "<" for c in MRZ_ALPHABET])
_DIGITS = np.array([c.isdigit() or c == "<" for c in MRZ_ALPHABET])
_DEPARTMENT = np.array([c.isdigit() or c in "AB<" for c in MRZ_ALPHABET])  # kind C (normalise.LAYOUTS)
# An alphanumeric cell (document number, optional data) is left unsure unless its best glyph
# beats the runner-up by this much: a doubtful O/0 there is never guessed (see normalise.py).
ALNUM_MARGIN = 0.03
# Glyphs whose MRZ values differ by a multiple of 10 (G 16 / Q 26, S 28 / 8, 0 / U 30 ...) swap
# without changing any check digit (weights 7, 3, 1 times 10): a cell torn between two such
# glyphs needs 1.5 times the margin, since nothing downstream would catch the wrong one. G read as
# Q by 0.015-0.037 in six blurred frames in a row was seen (tuning set).
SILENT_MARGIN = 0.045
UNSURE = "?"
_VALUES = np.array([int(c) if c.isdigit() else (ord(c) - 55 if c.isalpha() else 0) for c in MRZ_ALPHABET])
SILENT = _VALUES[:, None] % 10 == _VALUES[None, :] % 10  # SILENT[a, b]: a read as b passes the check digits
np.fill_diagonal(SILENT, False)
# The glyphs each kind of number cell may hold (normalise.LAYOUTS): X any, C a department's
# digit, A or B, L a letter of a French passport number.
ALLOWED = {"X": np.ones(len(MRZ_ALPHABET), bool), "C": _DEPARTMENT, "L": _LETTERS}


def allowed(kind: str, previous: str) -> np.ndarray:
    """The glyphs a number cell of this kind may hold after the glyph read before it (a
    department's A or B only after a 2: normalise.department_letter_after)."""
    if kind == "C" and not department_letter_after(previous):
        return _DIGITS
    return ALLOWED[kind]


def _leads(row: np.ndarray) -> tuple[int, np.ndarray]:
    """The best glyph of a cell and its lead over each glyph (inf over itself)."""
    best = int(np.argmax(row))
    lead = row[best] - row
    lead[best] = np.inf
    return best, lead


def sure_glyph(row: np.ndarray, silent_margin: float = SILENT_MARGIN) -> int | None:
    """Index of the glyph an alphanumeric cell surely holds (row: its scores, -inf where the
    cell's kind forbids), or None: the best must beat every other by ALNUM_MARGIN and every
    glyph it could silently be swapped with by `silent_margin`."""
    best, lead = _leads(row)
    return best if lead.min() >= ALNUM_MARGIN and lead[SILENT[best]].min() >= silent_margin else None


# A cell torn between glyphs the check digits cannot tell apart (G/Q ...) under the softening that
# fits the line best is looked at again with unsoftened templates, which weigh the strokes that
# tell such glyphs apart (Q's tail, G's bar) over the round they share: on the tuning part a
# true Q led G by 0.045-0.10 there while the fitted softening gave 0.001-0.04, and the one true G
# the sharp templates leaned wrong on (six frames) led Q by at most 0.041 there.
SHARP_SILENT_MARGIN = 0.06


def silent_tie(row: np.ndarray) -> int | None:
    """Index of the best glyph of an alphanumeric cell that beats every other by ALNUM_MARGIN
    except the glyphs it could silently be swapped with, which it beats by less than
    SILENT_MARGIN (but beats): a tie only another look can break; else None."""
    best, lead = _leads(row)
    silent = lead[SILENT[best] & np.isfinite(row)]
    if silent.size == 0 or lead[~SILENT[best]].min() < ALNUM_MARGIN:
        return None
    return best if 0 < silent.min() < SILENT_MARGIN else None


def settle_silent(crop: MrzCrop, fmt: MrzFormat, lines: tuple[str, ...], cells: CellScores,
                  style: Style, memo: LineMemo | None = None) -> tuple[str, ...]:
    """`lines` (read from `crop` in `style`) with their silent ties (silent_tie) settled by the
    crop read again with the same face and height unsoftened: a tied glyph is taken when that read is sure
    of it in the same cell (sure_glyph, with SHARP_SILENT_MARGIN ahead of the glyphs it could be
    swapped with); otherwise the cell stays unsure. memo: the frame's line reads (the
    unsoftened first line may already have been read while the reader tried every style)."""
    ties = {pos: g for pos, row in cells.items()
            if lines[pos[0]][pos[1]] == UNSURE and (g := silent_tie(row)) is not None}
    sharp_style = (style[0], 0, style[2])
    if not ties or style == sharp_style:
        return lines
    sharp = read_crop_cells(crop, (sharp_style,), memo)
    if sharp is None or sharp[0] is not fmt:
        return lines
    out = [list(line) for line in lines]
    for (li, j), g in ties.items():
        row = sharp[3].get((li, j))
        if row is not None and sure_glyph(row, SHARP_SILENT_MARGIN) == g:
            out[li][j] = MRZ_ALPHABET[g]
    return tuple("".join(line) for line in out)


def decide(scores: np.ndarray, layout: str) -> str:
    """One line's text from its cell scores and the format's field kinds (normalise.LAYOUTS):
    a digit-only cell reads as the best digit, a letter cell as the best letter, both by
    shape; an alphanumeric cell as the best glyph only when it is clearly the best."""
    out: list[str] = []
    for row, kind in zip(scores, layout, strict=True):
        if kind == "D":
            out.append(MRZ_ALPHABET[int(np.argmax(np.where(_DIGITS, row, -np.inf)))])
        elif kind == "A":
            out.append(MRZ_ALPHABET[int(np.argmax(np.where(_LETTERS, row, -np.inf)))])
        elif kind == "P":
            out.append(MRZ_ALPHABET[int(np.argmax(row))])
        else:  # a document number's cell: only the glyphs its kind allows, and only if sure
            sure = sure_glyph(np.where(allowed(kind, out[-1] if out else ""), row, -np.inf))
            out.append(UNSURE if sure is None else MRZ_ALPHABET[sure])
    return "".join(out)


QUICK_STYLE: Style = (0, 12, 100)


def first_line_score(crop: MrzCrop, memo: LineMemo | None = None) -> float:
    """Mean best score of the crop's first line at one softening: a cheap measure of how well
    an orientation matches OCR-B (a flipped or mirrored line matches clearly worse)."""
    if not crop.lines:
        return 0.0
    n = round(crop.chars) if crop.chars else 30
    read = read_line(crop.image, crop.lines[0], max(2, n), (QUICK_STYLE,), memo)
    return read[1] / max(2, n) if read is not None else 0.0


# Scores of each alphanumeric cell of a read, by (line, column): the glyphs its kind allows keep
# their correlation, the others -inf. The reader weighs these across frames (reader.fill_unsure).
CellScores = dict[tuple[int, int], np.ndarray]


# Weight of the cell classifier's probability (cells.py) added to each glyph's template score
# (correlation, -1..1); chosen on the evaluation set's tuning part (see the README).
CLASSIFIER_WEIGHT = 0.05


def with_classifier(scores: np.ndarray, strip: np.ndarray, starts: np.ndarray, pitch: float) -> np.ndarray:
    """The cells' template scores plus the classifier's weighed probabilities (if it ships)."""
    if CLASSIFIER_WEIGHT <= 0 or not cells.available():
        return scores
    return scores + CLASSIFIER_WEIGHT * cells.probabilities(cells.cell_patches(strip, starts, pitch))


def read_crop(crop: MrzCrop) -> tuple[MrzFormat, tuple[str, ...], float] | None:
    """(format, lines, mean best score per cell) of a rectified MRZ crop, or None."""
    read = read_crop_cells(crop)
    return None if read is None else read[:3]


def _alnum_scores(cells: list[np.ndarray], layouts: tuple[str, ...], lines: tuple[str, ...]) -> CellScores:
    out: CellScores = {}
    for li, (scores, layout) in enumerate(zip(cells, layouts, strict=True)):
        for j, kind in enumerate(layout):
            if kind in ALLOWED:
                glyphs = allowed(kind, lines[li][j - 1] if j else "")
                out[(li, j)] = np.where(glyphs, scores[j], -np.inf).astype(np.float32)
    return out


def _alnum_first_pass(context: np.ndarray, first: np.ndarray, layout: str) -> np.ndarray:
    """A line's cell scores: in context (in_context), but document-number cells keep their first
    pass. Drawn beside a K, Q's tail meets the K's ink and Q loses what tells it from G: TD1
    numbers' Q/G ties turned G or stopped being silent ties (silent_tie, whose margins and second
    look were set on first-pass scores), and 3 TD1 checks were lost."""
    alnum = np.array([kind in ALLOWED for kind in layout])[:, None]
    out: np.ndarray = np.where(alnum, first, context)
    return out


def read_crop_cells(crop: MrzCrop, styles: tuple[Style, ...] = STYLES, memo: LineMemo | None = None
                    ) -> tuple[MrzFormat, tuple[str, ...], float, CellScores, Style] | None:
    """(format, lines, mean best score per cell, alphanumeric cells' scores, face and template
    softening used) of a rectified MRZ crop, or None. styles: the faces and softenings tried on
    the first line (a reader that found one on an earlier frame of the same card passes it).

    The format comes from the line count and the locator's character count (30: TD1; 36 and
    44 are far apart); when the count is unknown, the two-line format whose grid fits best.
    The face and template softening are chosen on the first line and reused for the others."""
    formats = formats_for_line_count(crop.line_count)
    if not formats:
        return None
    if crop.chars:
        closest = min(formats, key=lambda f: abs(f.line_length - crop.chars))
        if abs(closest.line_length - crop.chars) <= 3:
            formats = (closest,)
    best: tuple[float, MrzFormat, tuple[str, ...], CellScores, Style] | None = None
    for fmt in formats:
        blurs: tuple[Style, ...] = styles
        cells: list[np.ndarray] = []
        first_pass: list[np.ndarray] = []
        total = 0.0
        for box in crop.lines:
            read = read_line_grid(crop.image, box, fmt.line_length, blurs, memo)
            if read is None:
                break
            scores, line_total, blur, strip, starts, pitch = read
            context = in_context(scores, strip, starts, pitch, blur)
            learnt = with_classifier(context, strip, starts, pitch) - context
            blurs = (blur,)
            cells.append(context + learnt)
            first_pass.append(scores + learnt)
            total += line_total
        else:
            mean = total / (fmt.line_count * fmt.line_length)
            if best is None or mean > best[0]:
                # The first line says whose document it is (a French passport's number has
                # digit and letter cells): decide it first, then the others by that layout.
                first = decide(cells[0], LAYOUTS[fmt][0])
                layouts = layout_for(fmt, (first,) + ("",) * (fmt.line_count - 1))
                cells = [_alnum_first_pass(c, f, layout)
                         for c, f, layout in zip(cells, first_pass, layouts, strict=True)]
                lines = tuple(decide(sc, layout) for sc, layout in zip(cells, layouts, strict=True))
                best = (mean, fmt, lines, _alnum_scores(cells, layouts, lines), blurs[0])
    if best is None:
        return None
    return best[1], best[2], best[0], best[3], best[4]
