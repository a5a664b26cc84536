"""A small glyph classifier for the grid reader's cells (numpy only at check time).

The template correlation of grid.py confuses glyphs once VP8 has blurred a 640 frame (0 read
as 9 or 6, runs of `<` as R/W/X/M). This model was trained offline
(`python -m media.idcheck.train_cells`) on cells the reader itself cut from frames drawn by
the project's own renderer (synthetic.py: never the evaluation set's code) under webcam-like
degradations (blur, noise, scale, JPEG, VP8 at 250-900 kbps), so it learns what a degraded
cell looks like after this locator and this grid. Its weights ship beside this file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

WEIGHTS = Path(__file__).with_name("cells.npz")
PATCH_H, PATCH_W = 24, 14  # a cell (1.3 pitch wide, the strip's full height) is resized to this
MARGIN = 0.15  # of a pitch, each side of the cell


def cell_patches(strip: np.ndarray, starts: np.ndarray, pitch: float, shift: float = 0.0) -> np.ndarray:
    """The cells starting at starts (strip columns) as normalised vectors (n, PATCH_H * PATCH_W)."""
    pad = int(pitch) + 4
    padded = cv2.copyMakeBorder(strip.astype(np.float32), 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=255.0)
    out = np.empty((len(starts), PATCH_H * PATCH_W), np.float32)
    for i, s in enumerate(starts):
        x0 = int(round(s + shift - MARGIN * pitch)) + pad
        x1 = int(round(s + shift + (1 + MARGIN) * pitch)) + pad
        cell = cv2.resize(padded[:, max(0, x0):max(x0 + 2, x1)], (PATCH_W, PATCH_H), interpolation=cv2.INTER_AREA)
        v = cell.ravel()
        out[i] = (v - v.mean()) / (v.std() + 4.0)
    return out


@lru_cache(maxsize=1)
def _weights() -> tuple[np.ndarray, ...] | None:
    if not WEIGHTS.exists():
        return None
    with np.load(WEIGHTS) as z:
        return tuple(z[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2"))


def available() -> bool:
    return _weights() is not None


def probabilities(x: np.ndarray) -> np.ndarray:
    """Softmax over the 37 MRZ glyphs (grid.MRZ_ALPHABET order) of each patch: (n, 37)."""
    w = _weights()
    assert w is not None
    w1, b1, w2, b2 = w
    # einsum (numpy's own loops), not `@`: OpenBLAS would run these small products on worker
    # threads that spin after each call and double a check's CPU (see locate.line_period).
    h = np.maximum(np.einsum("ij,jk->ik", x, w1) + b1, 0.0)
    z = np.einsum("ij,jk->ik", h, w2) + b2
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out
