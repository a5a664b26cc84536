"""Find the MRZ in a camera frame and return it straightened, ready for OCR.

The MRZ is the only block of 2-3 long, equally wide, left-aligned, evenly
spaced text lines on a card; that geometry is what is searched for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_WIDTH = 640  # frames are analysed at this width; larger inputs are downscaled
OCR_CHAR_HEIGHT = 24  # Tesseract's LSTM reads best with glyphs about this tall


@dataclass(frozen=True)
class MrzCrop:
    image: np.ndarray  # grey, straightened, lighting-flattened, upscaled crop of the MRZ lines
    lines: tuple[tuple[int, int, int, int], ...]  # (x, y, w, h) of each text line inside image
    angle: float  # degrees the frame was rotated to level the lines

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def rotated(self) -> MrzCrop:
        """The same crop turned 180 degrees (for a card shown upside down)."""
        h, w = self.image.shape
        lines = tuple((w - x - bw, h - y - bh, bw, bh) for x, y, bw, bh in reversed(self.lines))
        return MrzCrop(np.ascontiguousarray(self.image[::-1, ::-1]), lines, self.angle + 180)

    def mirrored(self) -> MrzCrop:
        """The crop flipped left-right (front cameras may send the picture as a mirror)."""
        w = self.image.shape[1]
        lines = tuple((w - x - bw, y, bw, bh) for x, y, bw, bh in self.lines)
        return MrzCrop(np.ascontiguousarray(self.image[:, ::-1]), lines, -self.angle)

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


def _dominant_angle(mask: np.ndarray) -> float | None:
    """Tilt of the longest text-line blobs, in degrees (cv2 rotation convention)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for c in contours:
        (_, _), (w, h), a = cv2.minAreaRect(c)
        if w < h:
            w, h, a = h, w, a - 90
        if w < mask.shape[1] * 0.25 or w < 6 * h:
            continue
        a = (a + 90) % 180 - 90
        if abs(a) <= 30:
            angles.append(a)
            weights.append(w)
    if not angles:
        return None
    order = np.argsort(angles)
    cum = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cum, cum[-1] / 2)])


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


def _line_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if 6 <= h <= mask.shape[0] * 0.1:
            pieces.append((int(x), int(y), int(w), int(h)))
    boxes = [b for b in _merge_row_pieces(pieces) if b[2] >= mask.shape[1] * 0.25 and b[2] >= 8 * b[3]]
    return sorted(boxes, key=lambda b: b[1])


def _best_group(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The 2-3 consecutive lines that look most like an MRZ (aligned, equal width, even spacing)."""
    best: list[tuple[int, int, int, int]] = []
    best_score = -1.0
    for size in (3, 2):
        for i in range(len(boxes) - size + 1):
            group = boxes[i:i + size]
            widths = [b[2] for b in group]
            lefts = [b[0] for b in group]
            heights = [b[3] for b in group]
            w, h = float(np.mean(widths)), float(np.mean(heights))
            if max(widths) - min(widths) > 0.12 * w or max(lefts) - min(lefts) > 0.08 * w:
                continue
            gaps = [group[k + 1][1] - group[k][1] for k in range(size - 1)]
            if min(gaps) < 1.1 * h or max(gaps) > 3.0 * h or max(gaps) - min(gaps) > 0.35 * h:
                continue
            score = size * 10 + w / 100 - (max(widths) - min(widths)) / h
            if score > best_score:
                best, best_score = group, score
    return best


def find_mrz(gray: np.ndarray, char_height: int = OCR_CHAR_HEIGHT) -> MrzCrop | None:
    """Locate, level and crop the MRZ; None when no MRZ-like block is in view.

    The search runs on the frame at most WORK_WIDTH wide; the crop is cut from the frame
    at full resolution, so a 1280x720 frame gives the OCR twice the pixels of a 640 one.
    """
    small = work_size(gray)
    mask = _text_mask(small)
    angle = _dominant_angle(mask) or 0.0
    h, w = small.shape
    k = gray.shape[1] / w  # full-resolution pixels per search pixel
    if abs(angle) > 0.3:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        small = cv2.warpAffine(small, rot, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        mask = _text_mask(small)
    group = _best_group(_line_boxes(mask))
    if not group:
        return None
    line_h = float(np.median([b[3] for b in group]))
    x0 = max(0, int(min(b[0] for b in group) - line_h))
    x1 = min(w, int(max(b[0] + b[2] for b in group) + line_h))
    y0 = max(0, int(group[0][1] - 0.7 * line_h))
    y1 = min(h, int(group[-1][1] + group[-1][3] + 0.7 * line_h))
    if k > 1.01:
        # Rotate only the band's neighbourhood of the full frame, about the same centre.
        rot = cv2.getRotationMatrix2D((gray.shape[1] / 2, gray.shape[0] / 2), angle, 1.0)
        rot[:, 2] -= (x0 * k, y0 * k)
        size = (int((x1 - x0) * k), int((y1 - y0) * k))
        crop = cv2.warpAffine(gray, rot, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    else:
        crop = small[y0:y1, x0:x1]
        k = 1.0
    scale = char_height / (line_h * k)
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    f = scale * k
    lines = tuple((round((x - x0) * f), round((y - y0) * f), round(bw * f), round(bh * f)) for x, y, bw, bh in group)
    return MrzCrop(_flatten(crop, char_height), lines, angle)


def _flatten(crop: np.ndarray, char_height: int) -> np.ndarray:
    """Divide out uneven lighting; Tesseract reads this grey image better than a binarised one."""
    k = char_height * 2 + 1
    background = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.divide(crop, background, scale=255)
