"""Find the MRZ in a camera frame and return it straightened, ready for OCR.

The MRZ is the only block of 2-3 long, equally wide, left-aligned, evenly
spaced text lines on a card; that geometry is what is searched for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

WORK_WIDTH = 640  # frames are analysed at this width; larger inputs are downscaled
# When nothing is found at WORK_WIDTH, the search is run again at this width: a card at
# 40-55 % of the frame leaves 4-5 px per character at 640, under the kernels' reach
# (tuning part: 1280x720 checks 88 -> 89/96, 640 with the card at 40-50 % 8 -> 9/22).
RETRY_WIDTH = 960
RETRY_UPSCALE = True  # frames at most WORK_WIDTH wide are retried upscaled to RETRY_WIDTH too
OCR_CHAR_HEIGHT = 24  # Tesseract's LSTM reads best with glyphs about this tall


@dataclass(frozen=True)
class MrzCrop:
    image: np.ndarray  # grey, straightened, lighting-flattened, upscaled crop of the MRZ lines
    lines: tuple[tuple[int, int, int, int], ...]  # (x, y, w, h) of each text line inside image
    angle: float  # degrees the frame was rotated to level the lines
    chars: float = 0.0  # characters per line counted from the pitch (0: unknown)
    pitch_px: float = 0.0  # character pitch in the frame, full-resolution pixels (for guidance)
    share: float = 0.0  # MRZ line length / frame width
    glare: float = 0.0  # share of the band's pixels that are blown out (a reflection)
    at_edge: bool = False  # the band's ends touch the frame's border: part of the MRZ may be out of view

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def rotated(self) -> MrzCrop:
        """The same crop turned 180 degrees (for a card shown upside down)."""
        h, w = self.image.shape
        lines = tuple((w - x - bw, h - y - bh, bw, bh) for x, y, bw, bh in reversed(self.lines))
        return replace(self, image=np.ascontiguousarray(self.image[::-1, ::-1]), lines=lines, angle=self.angle + 180)

    def mirrored(self) -> MrzCrop:
        """The crop flipped left-right (front cameras may send the picture as a mirror)."""
        w = self.image.shape[1]
        lines = tuple((w - x - bw, y, bw, bh) for x, y, bw, bh in self.lines)
        return replace(self, image=np.ascontiguousarray(self.image[:, ::-1]), lines=lines, angle=-self.angle)

    def oriented(self, turn: int) -> MrzCrop:
        """turn 0: as seen; 1: upside down; 2: mirrored; 3: mirrored and upside down."""
        crop = self.mirrored() if turn >= 2 else self
        return crop.rotated() if turn % 2 else crop


def to_gray(frame: np.ndarray) -> np.ndarray | None:
    """uint8 grey image at full resolution, or None if this is not an image."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
        return None
    if frame.ndim == 3 and frame.shape[2] not in (1, 3, 4):
        return None
    if min(frame.shape[:2]) < 32:
        return None
    img = frame
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.number):
            return None
        img = np.clip(np.nan_to_num(img.astype(np.float32)), 0, 255).astype(np.uint8)
    if img.ndim == 3:
        # Channel order does not matter for luminance at this precision (BGR or RGB).
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY) if img.shape[2] == 4 else (
            img[..., 0] if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    return np.ascontiguousarray(img)


def work_size(gray: np.ndarray) -> np.ndarray:
    """The frame at most WORK_WIDTH wide: where the MRZ is searched (the locator's kernels are
    sized for it); the crop itself is then cut from the full-resolution frame."""
    if gray.shape[1] <= WORK_WIDTH:
        return gray
    scale = WORK_WIDTH / gray.shape[1]
    return cv2.resize(gray, (WORK_WIDTH, max(1, round(gray.shape[0] * scale))), interpolation=cv2.INTER_AREA)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurred or featureless frames."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _text_mask(gray: np.ndarray) -> np.ndarray:
    """Binary mask where dark glyph strokes on a light background are joined into lines."""
    blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (21, 13)))
    _, mask = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 1)))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3)))


def _blob_angles(mask: np.ndarray) -> list[tuple[float, float]]:
    """(tilt in degrees, length) of the long text-line blobs (cv2 rotation convention)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[float, float]] = []
    for c in contours:
        (_, _), (w, h), a = cv2.minAreaRect(c)
        if w < h:
            w, h, a = h, w, a - 90
        if w < mask.shape[1] * 0.2 or w < 6 * h:
            continue
        a = (a + 90) % 180 - 90
        if abs(a) <= 30:
            out.append((float(a), float(w)))
    return out


def _dominant_angle(mask: np.ndarray) -> float | None:
    """Length-weighted median tilt of the long text-line blobs."""
    found = _blob_angles(mask)
    if not found:
        return None
    angles = np.asarray([a for a, _ in found])
    order = np.argsort(angles)
    cum = np.cumsum(np.asarray([w for _, w in found])[order])
    return float(angles[order][np.searchsorted(cum, cum[-1] / 2)])


def candidate_angles(mask: np.ndarray, most: int = 3) -> list[float]:
    """Tilts worth trying: the dominant one, then other well-separated blob tilts, longest first.

    Background text (a poster, a page on the desk) is often level while the card is not, so
    the dominant tilt alone may be the background's; each candidate is tried and the most
    MRZ-like group wins."""
    found = sorted(_blob_angles(mask), key=lambda aw: -aw[1])
    dominant = _dominant_angle(mask)
    out = [dominant if dominant is not None else 0.0]
    for a, _ in found:
        if len(out) >= most:
            break
        if all(abs(a - b) > 1.5 for b in out):
            out.append(a)
    return out


def _merge_row_pieces(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join pieces of one text line that a thin glyph (the tip of a '<') left apart."""
    merged: list[tuple[int, int, int, int]] = []
    for x, y, w, h in sorted(boxes):
        for k, (mx, my, mw, mh) in enumerate(merged):
            overlap = min(y + h, my + mh) - max(y, my)
            # Pieces of one line have about the same height; a taller neighbour (background
            # text, a photo edge next to the card) must not be joined to an MRZ line.
            if (overlap >= 0.6 * min(h, mh) and max(h, mh) <= 1.6 * min(h, mh)
                    and x - (mx + mw) <= 1.5 * min(h, mh)):
                nx, ny = min(x, mx), min(y, my)
                merged[k] = (nx, ny, max(x + w, mx + mw) - nx, max(y + h, my + mh) - ny)
                break
        else:
            merged.append((x, y, w, h))
    return merged


def _split_rows(gray: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """Cut a blob that holds two text lines (blur joined them) at the lightest row between them."""
    x, y, w, h = box
    if h < 12 or w >= 20 * h:
        return [box]
    rows = 255.0 - gray[y:y + h, x:x + w].astype(np.float32).mean(axis=1)
    inner = rows[h // 4: h - h // 4]
    cut = h // 4 + int(np.argmin(inner))
    top, bottom = rows[:cut].max(), rows[cut:].max()
    if rows[cut] > rows.min() + 0.5 * (min(top, bottom) - rows.min()) or cut < 4 or h - cut < 4:
        return [box]
    return _split_rows(gray, (x, y, w, cut)) + _split_rows(gray, (x, y + cut, w, h - cut))


def _line_boxes(mask: np.ndarray, gray: np.ndarray | None = None) -> list[tuple[int, int, int, int]]:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if 6 <= h <= mask.shape[0] * 0.1:
            pieces.append((int(x), int(y), int(w), int(h)))
    boxes = [b for b in _merge_row_pieces(pieces) if b[2] >= mask.shape[1] * 0.2 and b[2] >= 6 * b[3]]
    if gray is not None:
        boxes = [part for b in boxes for part in _split_rows(gray, b)]
    return sorted(boxes, key=lambda b: b[1])


MIN_PERIODICITY = 7.0  # an MRZ line's pitch peak stands 10-25x above its spectrum; text 2-7x
MIDDLE_PERIODICITY = 4.0  # a line beside clear ones, or a TD1's middle line put back (its place is known)


def _best_group(boxes: list[tuple[int, int, int, int]],
                gray: np.ndarray) -> tuple[list[tuple[int, int, int, int]], float]:
    """The 2-3 consecutive lines that look most like an MRZ (aligned, equal width, even spacing,
    monospaced at 26-48 characters), and how much so."""
    periods = {b: line_period(gray, b) for b in boxes}
    ruled = [b for b in boxes if 26 <= periods[b][0] <= 48]
    lines = [b for b in ruled if periods[b][1] >= MIN_PERIODICITY]
    # Lines that repeat only fairly (4-7x) still make a group with their neighbours: a TD1's
    # middle line mixes digits and letters, a card held close at a slant smears the pitch peak,
    # a large card scaled down blurs a line. Clear lines also group over text between them.
    fair = [b for b in ruled if periods[b][1] >= MIDDLE_PERIODICITY]
    # dict.fromkeys: a window over fair lines that are all clear is one over `lines` already.
    groups = list(dict.fromkeys(tuple(run[i:i + size]) for run in (lines, fair) for size in (3, 2)
                                for i in range(len(run) - size + 1)))
    best: list[tuple[int, int, int, int]] = []
    best_score = -1.0
    for group in groups:
        size = len(group)
        widths = [b[2] for b in group]
        lefts = [b[0] for b in group]
        heights = [b[3] for b in group]
        w, h = float(np.mean(widths)), float(np.mean(heights))
        if max(widths) - min(widths) > 0.12 * w or max(lefts) - min(lefts) > 0.08 * w:
            continue
        counts = [periods[b][0] for b in group]
        if max(counts) - min(counts) > 3:
            continue
        gaps = [group[k + 1][1] - group[k][1] for k in range(size - 1)]
        # Two lines of a TD1 may be its first and last (the middle one is put back later).
        widest = 3.6 if size == 2 and line_count_for(float(np.median(counts))) == 3 else 3.0
        if min(gaps) < 0.65 * h or max(gaps) > widest * h or max(gaps) - min(gaps) > 0.35 * h:
            continue
        # Three lines only for the 30-character TD1; a third line of a 36/44 format is not MRZ.
        if size == 3 and line_count_for(float(np.median(counts))) != 3:
            continue
        # Thin boxes for their pitch: the tilt that levels the lines best.
        pitch = w / float(np.median(counts))
        score = size * 3 + float(np.mean([periods[b][1] for b in group])) + w / 100 - 2 * h / pitch
        if score > best_score:
            best, best_score = list(group), score
    return best, best_score


Box = tuple[int, int, int, int]


def chars_per_line(gray: np.ndarray, box: Box) -> float:
    return line_period(gray, box)[0]


def line_period(gray: np.ndarray, box: Box) -> tuple[float, float]:
    """Characters in a monospaced line, from the period of its column darkness profile.

    OCR-B in an MRZ has a fixed pitch, so the line's darkness repeats once per cell; the
    strongest period between 22 and 52 cells over the line's width gives the count. Text
    in a proportional font has no such peak. This is what tells a 30-character TD1 line
    from a 36- or 44-character one, whatever the number of lines the locator found."""
    x, y, w, h = box
    strip = gray[max(0, y):y + h, max(0, x):x + w].astype(np.float32)
    if strip.size == 0 or strip.shape[1] < 40:
        return 0.0, 0.0
    # Resampled to a fixed length: the count of cycles over the line does not change, and one
    # set of waves serves every line (computing waves per width was most of the locator's time).
    profile = cv2.resize(strip.mean(axis=0)[None, :], (_PROFILE_LEN, 1), interpolation=cv2.INTER_AREA
                         if strip.shape[1] > _PROFILE_LEN else cv2.INTER_LINEAR)[0]
    profile = profile - profile.mean()
    # einsum, not `@`: numpy's OpenBLAS runs this product on worker threads that then spin
    # for a while after each call, about doubling the CPU of a check on this machine
    # (tuning part: CPU p50 0.58 -> 0.27 s per check with BLAS kept to one thread).
    power = np.abs(np.einsum("ij,j->i", _waves(profile.size), profile.astype(np.complex64)))
    peak = int(np.argmax(power))
    # Strength: the peak against the typical power over the range (a flat spectrum gives ~2).
    return float(_COUNTS[peak]), float(power[peak] / (np.median(power) + 1e-6))


_COUNTS = np.arange(22.0, 52.0, 0.25)
_PROFILE_LEN = 512  # samples per line profile: about 10 per cycle at the highest count


@lru_cache(maxsize=128)
def _waves(size: int) -> np.ndarray:
    """The complex waves of 22-52 cells over `size` columns (computing them was most of the
    locator's time; line widths repeat from frame to frame, so they are kept)."""
    xs = np.arange(size, dtype=np.float32)
    # The box overhangs the glyphs by about a third of a cell (closing and blackhat kernels).
    return np.exp(-2j * np.pi * np.outer((_COUNTS - 0.3) / size, xs)).astype(np.complex64)


# Counted characters of a line whose end a reflection's glare washed out (the blob stops where
# the ink fades), by the format's line count: (line count, counted range, length). Two lines
# counting 29-34.5 are taken for 36 only with glare at one end (see _glare_side); three lines
# counting 29-31 are a TD1 read whole.
SHORT_LINES = ((2, (29.0, 34.5), 36), (2, (38.5, 42.5), 44), (3, (26.0, 28.5), 30))
GLARE_LEVEL = 245  # a blown-out pixel of the rectified band (before lighting is divided out)
GLARE_SHARE = 0.2  # share of a line end's run-on blown out for the line to be run on there


def short_line_length(line_count: int, chars: float) -> int | None:
    """The format's line length when the counted characters fall short of it (SHORT_LINES), else None."""
    for count, (lo, hi), length in SHORT_LINES:
        if count == line_count and lo <= chars <= hi:
            return length
    return None


def line_count_for(chars: float) -> int:
    """3 for a TD1 line length (30), 2 for the 36 and 44 of the two-line formats."""
    return 3 if chars < 33 else 2


def _complete_group(small: np.ndarray, group: list[Box]) -> list[Box]:
    """Make the group's line count agree with its line length: a TD1 (30 characters) whose
    third line was missed gets it back at the same spacing; a two-line format (36, 44) that
    picked up a line of the visual zone above loses it."""
    chars = float(np.median([chars_per_line(small, b) for b in group]))
    want = line_count_for(chars)
    if len(group) == want:
        return group
    if len(group) == 3:
        return group[1:]  # the MRZ is the card's bottom block: the extra line is above it
    gap = group[1][1] - group[0][1]
    x, _, w, h = group[0]
    line_h = (group[0][3] + group[1][3]) / 2
    if gap >= 1.9 * line_h:
        # Lines 1 and 3 of a TD1, 2 missed: its own blob was joined to background text on the
        # same row, or its mix of digits and letters repeats less strongly than a '<' run. Its
        # place is fixed (half-way, same ends), so a weaker period is enough there.
        mid = (x, round(group[0][1] + gap / 2 + (group[0][3] - line_h) / 2), w, round(line_h))
        line_chars, strength = line_period(small, mid)
        if abs(line_chars - chars) <= 1.5 and strength >= MIDDLE_PERIODICITY:
            return [group[0], mid, group[1]]
    below = (x, group[1][1] + gap, w, group[1][3])
    above = (x, group[0][1] - gap, w, h)
    best: tuple[float, Box] | None = None
    for extra in (below, above):
        if extra[1] < 0 or extra[1] + extra[3] > small.shape[0]:
            continue
        # The missing line must repeat at the same pitch (a '<' run does too), clearly.
        line_chars, strength = line_period(small, extra)
        if abs(line_chars - chars) > 1.5 or strength < MIN_PERIODICITY:
            continue
        if best is None or strength > best[0]:
            best = (strength, extra)
    if best is None:
        return group
    return sorted([*group, best[1]], key=lambda b: b[1])


def _line_corners(mask: np.ndarray, box: Box) -> np.ndarray | None:
    """The four corners (TL, TR, BR, BL) of the tilted rectangle around one line's ink."""
    x, y, w, h = box
    ys, xs = np.nonzero(mask[y:y + h, x:x + w])
    if xs.size < 10:
        return None
    points = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
    corners = cv2.boxPoints(cv2.minAreaRect(points))
    # The rectangle's long sides are the line's top and bottom edges. (Sorting the corners by
    # height fails once the line still rises by more than its height from end to end: a tilt
    # the levelling left of 2-3 degrees over a long line, seen at 1280x720.)
    sides = [(corners[k], corners[(k + 1) % 4]) for k in range(4)]
    long_sides = sorted(sides, key=lambda e: -float(np.hypot(*(e[1] - e[0]))))[:2]
    top_side, bottom_side = sorted(long_sides, key=lambda e: float(e[0][1] + e[1][1]))
    top = sorted(top_side, key=lambda p: float(p[0]))
    bottom = sorted(bottom_side, key=lambda p: float(p[0]))
    return np.array([top[0], top[1], bottom[1], bottom[0]], np.float32)


def _rotation(shape: tuple[int, ...], angle: float) -> np.ndarray:
    h, w = shape[:2]
    return cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)


def _locate(small: np.ndarray) -> tuple[float, list[Box], np.ndarray, np.ndarray] | None:
    """(tilt, MRZ lines, levelled image, its text mask) for the most MRZ-like group over the
    candidate tilts, or None."""
    best: tuple[float, float, list[Box], np.ndarray, np.ndarray] | None = None
    for angle in candidate_angles(_text_mask(small)):
        found = _group_at(small, angle)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        return None
    # Lines that touch make one blob whose tilt is off by a degree or two, and the level boxes
    # then cut across them: the block's own rows of ink give the tilt that levels it. The group
    # found there is taken (boxes cut across sloping lines score well: they are thin).
    residual = _residual_tilt(best[3], best[2])
    width, height = np.mean([b[2] for b in best[2]]), np.mean([b[3] for b in best[2]])
    if abs(np.tan(np.radians(residual))) * width > 0.5 * height:  # the lines leave their boxes
        refined = _group_at(small, best[1] + residual)
        if refined is not None:
            best = refined
    return best[1], best[2], best[3], best[4]


def _group_at(small: np.ndarray, angle: float) -> tuple[float, float, list[Box], np.ndarray, np.ndarray] | None:
    """(score, tilt, group, levelled image, its text mask) of the best MRZ-like group once the
    image is levelled by `angle`, or None."""
    if abs(angle) > 0.3:
        level = cv2.warpAffine(small, _rotation(small.shape, angle), small.shape[::-1],
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        angle, level = 0.0, small
    mask = _text_mask(level)
    group, score = _best_group(_line_boxes(mask, level), level)
    return (score, angle, group, level, mask) if group else None


def _residual_tilt(level: np.ndarray, group: list[Box]) -> float:
    """Tilt (degrees, the rotation convention of _rotation) left in a levelled MRZ block: the
    small turn of the block that makes its rows of ink crispest (projection profile)."""
    x0, y0 = min(b[0] for b in group), min(b[1] for b in group)
    x1, y1 = max(b[0] + b[2] for b in group), max(b[1] + b[3] for b in group)
    pad = (y1 - y0) // 2  # the boxes are level: sloping ink runs out of them
    block = level[max(0, y0 - pad):y1 + pad, x0:x1]
    if block.shape[0] < 8 or block.shape[1] < 40:
        return 0.0
    # A small turn is a shear: each vertical strip's row profile slides by its distance from
    # the centre times the tangent. Every turn's profile is then a sum of slid strip profiles
    # (one array operation for all turns, not a warp per turn).
    strips = min(16, block.shape[1] // 4)
    width = block.shape[1] // strips
    profiles = block[:, :strips * width].astype(np.float32).reshape(block.shape[0], strips, width).mean(axis=2).T
    centres = (np.arange(strips) + 0.5) * width - strips * width / 2
    rows = np.arange(block.shape[0], dtype=np.float32)
    slide = np.tan(np.radians(_RESIDUAL_TURNS))[:, None] * centres[None, :]  # turns x strips
    at = np.clip(rows[None, None, :] + slide[:, :, None], 0, block.shape[0] - 1)
    low = np.floor(at).astype(np.int32)
    high = np.minimum(low + 1, block.shape[0] - 1)
    frac = at - low
    pick = np.arange(strips)[None, :, None]
    summed = (profiles[pick, low] * (1 - frac) + profiles[pick, high] * frac).sum(axis=1)  # turns x rows
    return float(_RESIDUAL_TURNS[int(np.argmax(summed.var(axis=1)))])


_RESIDUAL_TURNS = np.arange(-6.0, 6.01, 0.25)  # a tilt taken from the wrong blobs was seen 5 degrees off


def find_mrz(gray: np.ndarray, char_height: int = OCR_CHAR_HEIGHT) -> MrzCrop | None:
    """Locate the MRZ and cut it out rectified (rotation and perspective undone); None when no
    MRZ-like block is in view.

    The search runs on the frame at most WORK_WIDTH wide; the band's corners (the first line's
    top edge, the last line's bottom edge, each fitted on the line's own ink) are mapped back
    to the frame at full resolution and warped to a rectangle, so a 1280x720 frame gives the
    OCR twice the pixels of a 640 one and the lines come out level and evenly pitched.
    When nothing is found, the search runs once more at RETRY_WIDTH (small cards; about
    10 ms more CPU per frame without any MRZ).
    """
    small = work_size(gray)
    found = _locate(small)
    if found is None and (gray.shape[1] > WORK_WIDTH or RETRY_UPSCALE):
        small = cv2.resize(gray, (RETRY_WIDTH, round(gray.shape[0] * RETRY_WIDTH / gray.shape[1])),
                           interpolation=cv2.INTER_AREA if gray.shape[1] > RETRY_WIDTH else cv2.INTER_LINEAR)
        found = _locate(small)
    if found is None:
        return None
    angle, group, level, mask = found
    group = _complete_group(level, group)
    chars = float(np.median([chars_per_line(level, b) for b in group]))
    k = gray.shape[1] / small.shape[1]  # full-resolution pixels per search pixel
    corners = [_line_corners(mask, b) for b in group]
    # A blurred small line's blob is up to twice as tall as its glyphs; the character pitch
    # (monospaced, glyphs about as tall as a cell is wide) is not inflated by blur.
    heights = [float(np.hypot(*(c[3] - c[0]))) if c is not None else float(b[3])
               for c, b in zip(corners, group, strict=True)]
    line_h = float(np.median(heights))
    pitches = [b[2] / n for b in group if (n := chars_per_line(level, b)) > 0]
    if pitches:
        line_h = min(line_h, 1.25 * float(np.median(pitches)))
    scale = char_height / line_h  # output pixels per levelled search pixel
    first, last = corners[0], corners[-1]
    if first is None or last is None:
        x0, y0 = min(b[0] for b in group), group[0][1]
        x1, y1 = max(b[0] + b[2] for b in group), group[-1][1] + group[-1][3]
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    else:
        quad = np.array([first[0], first[1], last[2], last[3]], np.float32)
    # Levelled search coordinates -> frame coordinates at full resolution.
    inverse = cv2.invertAffineTransform(_rotation(small.shape, angle))
    ink_length = float(np.hypot(*(quad[1] - quad[0])) + np.hypot(*(quad[2] - quad[3]))) / 2 * scale
    mx, my = float(char_height), 0.7 * char_height

    def warp(band: np.ndarray) -> tuple[np.ndarray, tuple[Box, ...]]:
        """The band (a quad in levelled search coordinates) warped to a rectangle from the frame
        at full resolution, and each line's box in it (over the ink, centred in the band)."""
        src = (cv2.transform(band[None], inverse)[0] * k).astype(np.float32)
        length = float(np.hypot(*(band[1] - band[0])) + np.hypot(*(band[2] - band[3]))) / 2 * scale
        height = float(np.hypot(*(band[3] - band[0])) + np.hypot(*(band[2] - band[1]))) / 2 * scale
        dst = np.array([[mx, my], [mx + length, my], [mx + length, my + height], [mx, my + height]], np.float32)
        # Each line's place in the output: its own centre line mapped like the band.
        to_out = cv2.getPerspectiveTransform(band, dst)
        lines_out: list[Box] = []
        for c, b, hh in zip(corners, group, heights, strict=True):
            mid = ((c[0] + c[3]) / 2, (c[1] + c[2]) / 2) if c is not None else (
                np.array([b[0], b[1] + b[3] / 2]), np.array([b[0] + b[2], b[1] + b[3] / 2]))
            ys = cv2.perspectiveTransform(np.array([mid], np.float32), to_out)[0][:, 1]
            h_out = min(hh, line_h) * scale
            lines_out.append((round(mx + (length - ink_length) / 2), round(float(ys.mean()) - h_out / 2),
                              round(ink_length), round(h_out)))
        source = gray
        shrink = scale / k  # output pixels per full-resolution pixel
        if shrink < 0.7:  # a big MRZ: average down first, a warp alone would alias
            f = shrink * 1.4
            source = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            src = src * f
        matrix = cv2.getPerspectiveTransform(src, dst)
        size = (round(length + 2 * mx), round(height + 2 * my))
        out = cv2.warpPerspective(source, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        return out, tuple(lines_out)

    at_edge = _at_edge((cv2.transform(quad[None], inverse)[0] * k).astype(np.float32), gray.shape)
    line_px = float(np.hypot(*(quad[1] - quad[0])))  # the first line's ink, search pixels
    counted = chars
    crop, lines = warp(quad)
    # A line counted short of its format's length may have lost an end to a reflection (the
    # blob stops where the glare washes the ink out): the band is warped again widened by the
    # missing cells at both ends, and if one end's run-on is glare, the lines' boxes run on
    # there to the format's length. Else the count, the crop and the ink's boxes stand.
    n_full = short_line_length(len(group), chars)
    if n_full is not None:
        reach = (n_full - chars) * ink_length / chars  # output pixels
        along = (quad[1] - quad[0]) / max(1e-6, line_px)  # unit vector along the lines
        step = along * reach / scale
        wide, wide_lines = warp(np.array([quad[0] - step, quad[1] + step, quad[2] + step, quad[3] - step], np.float32))
        side = _glare_side(wide, wide_lines, reach)
        if side is not None:
            crop, chars = wide, float(n_full)
            lines = tuple((x - round(reach) if side < 0 else x, y, round(ink_length + reach), h)
                          for x, y, _, h in wide_lines)
    flat = _flatten(crop, char_height)
    return MrzCrop(flat, _fit_lines_to_ink(flat, lines), angle, chars,
                   pitch_px=line_px * k / max(counted, 1.0), share=line_px / small.shape[1] * (chars / counted),
                   glare=float(np.mean(crop >= GLARE_LEVEL)), at_edge=at_edge)


def _glare_side(crop: np.ndarray, lines: tuple[Box, ...], reach: float) -> int | None:
    """-1 or 1 when the band's run-on past its left or right end (reach pixels) is washed out by
    a reflection (GLARE_SHARE of its pixels blown out, and clearly more than at the other end), else None."""
    y0 = max(0, min(y for _, y, _, _ in lines))
    y1 = max(y + h for _, y, _, h in lines)
    x0, x1 = lines[0][0], lines[0][0] + lines[0][2]
    r = max(1, round(reach))
    left = crop[y0:y1, max(0, x0 - r):x0]
    right = crop[y0:y1, x1:x1 + r]
    shares = [float(np.mean(part >= GLARE_LEVEL)) if part.size else 0.0 for part in (left, right)]
    if max(shares) < GLARE_SHARE or min(shares) > 0.5 * max(shares):
        return None
    return -1 if shares[0] > shares[1] else 1


def _at_edge(corners: np.ndarray, shape: tuple[int, ...]) -> bool:
    """A corner of the band (frame coordinates; each line's rectangle is fitted on its ink, so a
    line cut by the border has its corner fitted past it) outside the frame: part of the MRZ is
    out of view (a card held close or off-centre), which no reading can undo. An MRZ that merely
    comes near the border stays inside (tuning part, 1280x720: 11 px inside on a card read right,
    20-26 px outside on cut ones)."""
    h, w = shape[:2]
    x, y = corners[:, 0], corners[:, 1]
    return bool((x < 0).any() or (x > w).any() or (y < 0).any() or (y > h).any())


def _fit_lines_to_ink(image: np.ndarray, lines: tuple[Box, ...]) -> tuple[Box, ...]:
    """Each line's top and bottom taken from the rectified image's own ink rows: the run of
    inked rows around the predicted centre (blob halos and glare shift the prediction)."""
    otsu, _ = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    centres = [y + h / 2 for _, y, _, h in lines]
    out: list[Box] = []
    for i, (x, y, w, h) in enumerate(lines):
        rows = (image[:, max(0, x):x + w] < otsu).mean(axis=1)
        # Never past half-way to the next line: blurred lines are joined by faint rows.
        lo = max(0, y - h // 2) if i == 0 else max(0, round((centres[i - 1] + centres[i]) / 2))
        hi = y + h + h // 2 if i == len(lines) - 1 else round((centres[i] + centres[i + 1]) / 2)
        # A line placed past the crop's edge (a band fitted on a blurred halo) must not index past it.
        lo, hi = min(lo, image.shape[0]), min(hi, image.shape[0])
        if hi - lo < 3 or rows[lo:hi].max() <= 0:
            out.append((x, y, w, h))
            continue
        peak = lo + int(np.argmax(rows[lo:hi]))
        floor = 0.35 * float(rows[peak])
        top, bottom = peak, peak
        while top > lo and rows[top - 1] >= floor:
            top -= 1
        while bottom < hi - 1 and rows[bottom + 1] >= floor:
            bottom += 1
        if bottom - top + 1 < h // 2:
            out.append((x, y, w, h))
        else:
            out.append((x, int(top), w, int(bottom - top + 1)))
    return tuple(out)


def _flatten(crop: np.ndarray, char_height: int) -> np.ndarray:
    """Divide out uneven lighting; Tesseract reads this grey image better than a binarised one."""
    k = char_height * 2 + 1
    background = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.divide(crop, background, scale=255)


# A small MRZ (under 11 frame pixels a character: a card at 40-60 % of a 640 frame) is upscaled
# 2-4x by the rectification, so the camera's blur spans several crop pixels and rounds strokes
# into their neighbours (a 0 read 9, an 8 read 6). An unsharp mask of the crop (sigma 2 crop
# pixels, amount 1) gives those strokes back some edge. Tuning part, frames read in their true
# orientation: frames exact at a pitch under 11 px 367 -> 391 of 590; at 11 px and over it was
# neutral to slightly worse (647 -> 640 of 686), so larger MRZs are read as they are.
SHARPEN_BELOW_PITCH = 11.0  # frame pixels per character
SHARPEN_SIGMA = 2.0  # crop pixels
SHARPEN_AMOUNT = 1.0


def sharpened_if_small(crop: MrzCrop) -> MrzCrop:
    """The crop the grid reads: unsharp-masked when its MRZ is small in the frame, else as is."""
    if not 0 < crop.pitch_px < SHARPEN_BELOW_PITCH:
        return crop
    image = crop.image.astype(np.float32)
    image += SHARPEN_AMOUNT * (image - cv2.GaussianBlur(image, (0, 0), SHARPEN_SIGMA))
    return replace(crop, image=np.clip(image, 0, 255).astype(np.uint8))
