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


MLP_KEYS = ("w1", "b1", "w2", "b2")
CNN_KEYS = ("c1w", "c1b", "c2w", "c2b", "c3w", "c3b", "f1w", "f1b", "f2w", "f2b")


@lru_cache(maxsize=1)
def _weights() -> dict[str, np.ndarray] | None:
    if not WEIGHTS.exists():
        return None
    with np.load(WEIGHTS) as z:
        keys = CNN_KEYS if "c1w" in z.files else MLP_KEYS
        return {k: z[k].astype(np.float32) for k in keys}


def available() -> bool:
    return _weights() is not None


def _conv3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 convolution, zero padding, ReLU: x (n, h, w, c), w (9 c, out) rows ordered (row, column, c)."""
    n, hh, ww, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.concatenate([xp[:, i:i + hh, j:j + ww] for i in range(3) for j in range(3)], axis=3)
    out: np.ndarray = np.maximum(_product(cols.reshape(n * hh * ww, -1), w) + b, 0.0)
    return out.reshape(n, hh, ww, -1)


def _product(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a (m, k) times w (k, o) with np.einsum (numpy's own loops), not `@`: OpenBLAS would run these
    products on worker threads that spin after each call (see locate.line_period). cv2.gemm was
    tried: a third of einsum's CPU in one thread, but it runs large products on OpenCV's threads
    (a check's CPU exceeded its wall time)."""
    out: np.ndarray = np.einsum("ij,jk->ik", a, w)
    return out


def _pool2(x: np.ndarray) -> np.ndarray:
    n, hh, ww, c = x.shape
    h2, w2 = hh // 2, ww // 2
    out: np.ndarray = x[:, :2 * h2, :2 * w2].reshape(n, h2, 2, w2, 2, c).max(axis=(2, 4))
    return out


def _logits(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    # einsum (numpy's own loops), not `@`: OpenBLAS would run these small products on worker
    # threads that spin after each call and double a check's CPU (see locate.line_period).
    if "c1w" not in w:
        h = np.maximum(np.einsum("ij,jk->ik", x, w["w1"]) + w["b1"], 0.0)
        z: np.ndarray = np.einsum("ij,jk->ik", h, w["w2"]) + w["b2"]
        return z
    a = x.reshape(len(x), PATCH_H, PATCH_W, 1)
    a = _pool2(_conv3(a, w["c1w"], w["c1b"]))
    a = _pool2(_conv3(a, w["c2w"], w["c2b"]))
    a = _conv3(a, w["c3w"], w["c3b"])
    h = np.maximum(_product(a.reshape(len(x), -1), w["f1w"]) + w["f1b"], 0.0)
    z = _product(h, w["f2w"]) + w["f2b"]
    return z


def probabilities(x: np.ndarray) -> np.ndarray:
    """Softmax over the 37 MRZ glyphs (grid.MRZ_ALPHABET order) of each patch: (n, 37)."""
    w = _weights()
    assert w is not None
    z = _logits(x, w)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out
