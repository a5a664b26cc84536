"""Offline training of cells.py's glyph classifier (not used at check time).

    .venv/bin/python -m media.idcheck.train_cells [--frames 900] [--out media/idcheck/cells.npz]

Cards and frames come from synthetic.py only (the project's renderer; the evaluation set's
code in bench/idcheck_eval is never used, so that set stays independent), degraded as a webcam
call would: wider scale (card 40-90 % of the width), blur, noise, light, then JPEG or a VP8
round trip (PyAV) at 250-900 kbps. Each frame goes through the reader's own locator and grid;
a line whose template reading disagrees with the truth in more than a quarter of its cells
(a slipped grid) is skipped, the others give one labelled cell each, cut at the placed start
then twice moved a little (the grid and the line band are placed to a pixel or two). Both
OCR-B cuts (grid.FACES) are drawn. A one-hidden-layer network is trained with numpy (Adam) and saved as
float16.
"""

from __future__ import annotations

import argparse
import random
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from . import synthetic
from .cells import cell_patches
from .formats import MrzFormat
from .grid import FACES, MRZ_ALPHABET, read_line_grid
from .locate import find_mrz, to_gray
from .reader import GRID_CHAR_HEIGHT
from .synthetic import card_frames, make_card

FORMATS = (MrzFormat.TD1, MrzFormat.TD3, MrzFormat.FR_ID_1988)
# The webcam conditions' ranges (synthetic.card_frames), the MLP's set and --hard's (the CNN's:
# smaller cards, more blur and noise).
CONDITIONS: dict[bool, dict[str, tuple[float, float]]] = {
    False: {"rotation": (-8, 8), "blur": (0, 1.4), "lighting": (0, 0.8), "noise": (1, 8), "scale": (0.5, 1.12)},
    True: {"rotation": (-8, 8), "blur": (0, 1.8), "lighting": (0, 0.8), "noise": (1, 10), "scale": (0.42, 1.12)},
}
_INDEX = {c: i for i, c in enumerate(MRZ_ALPHABET)}


def vp8_round_trip(frames: list[np.ndarray], kbps: int) -> list[np.ndarray]:
    """The frames (BGR) encoded as a VP8 stream at kbps and decoded, in memory."""
    h, w = frames[0].shape[:2]
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
    codec.bit_rate = kbps * 1000
    codec.time_base = Fraction(1, 15)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("libvpx", "r")
    out: list[np.ndarray] = []
    packets = []
    for k, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(f, format="bgr24")
        vf.pts = k
        packets += codec.encode(vf)
    packets += codec.encode(None)
    for p in packets:
        out += [d.to_ndarray(format="bgr24") for d in decoder.decode(p)]
    return out


def degrade(frames: list[np.ndarray], rnd: random.Random, hard: bool = False) -> list[np.ndarray]:
    kind = rnd.random()
    if kind < (0.65 if hard else 0.5):
        return vp8_round_trip(frames, rnd.randint(250, 900))
    if kind < 0.85:
        q = rnd.randint(40, 90)
        out = []
        for f in frames:
            ycc = cv2.cvtColor(f, cv2.COLOR_BGR2YCrCb)
            small = cv2.resize(ycc[..., 1:], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            ycc[..., 1:] = cv2.resize(small, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_LINEAR)
            f = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
            ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, q])
            out.append(np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)))
        return out
    return frames


def frame_cells(frame: np.ndarray, truth: tuple[str, ...], fmt: MrzFormat, rnd: random.Random
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    gray = to_gray(frame)
    crop = None if gray is None else find_mrz(gray, GRID_CHAR_HEIGHT)
    if crop is None or crop.line_count != fmt.line_count:
        return [], []
    xs, ys = [], []
    for box, line in zip(crop.lines, truth, strict=True):
        read = read_line_grid(crop.image, box, fmt.line_length)
        if read is None:
            continue
        scores, _, _, strip, starts, pitch = read
        label = np.array([_INDEX[c] for c in line])
        if np.mean(scores.argmax(axis=1) == label) < 0.75:
            continue
        for k in range(3):  # as placed, then twice moved by up to 1.5 px across and 2.5 px up or down
            dx, dy = (0.0, 0.0) if k == 0 else (rnd.uniform(-1.5, 1.5), rnd.uniform(-2.5, 2.5))
            shift = np.array([[1, 0, 0], [0, 1, dy]], np.float32)
            moved = np.asarray(cv2.warpAffine(strip, shift, (strip.shape[1], strip.shape[0]),
                                              flags=cv2.INTER_LINEAR, borderValue=255.0))
            xs.append(cell_patches(moved, starts, pitch, dx))
            ys.append(label)
    return xs, ys


def dataset(n_frames: int, seed: int, hard: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cells cut from n_frames frames. seed 0 gives the shipped MLP's set; other seeds draw
    other cards (a block of 100,000 card numbers per seed). hard: the CNN's set (smaller
    cards, blur to 1.8 px, more VP8)."""
    rnd = random.Random(f"train-cells-{seed}")
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    k = 0
    base = 100_000 * seed
    while k < n_frames:
        fmt = FORMATS[k % 3]
        card = make_card(fmt, base + 50_000 + k)
        # Cards are printed in either OCR-B cut (grid.FACES): synthetic.py draws the one it is given.
        synthetic.OCRB_FONT = FACES[rnd.randrange(len(FACES))]
        synthetic._font.cache_clear()
        spans = CONDITIONS[hard]  # drawn in this order: the sets are those the weights were trained on
        conditions: synthetic.Conditions = {
            "rotation": rnd.uniform(*spans["rotation"]), "blur": rnd.uniform(*spans["blur"]),
            "lighting": rnd.uniform(*spans["lighting"]), "noise": rnd.uniform(*spans["noise"]),
            "scale": rnd.uniform(*spans["scale"])}
        frames = degrade(list(card_frames(card, base + 70_000 + k, 3, **conditions)), rnd, hard)
        for f in frames[1:]:  # the first VP8 frame is a key frame, better than the rest
            fx, fy = frame_cells(f, card.mrz_lines, fmt, rnd)
            xs += fx
            ys += fy
        k += len(frames) - 1
        if k % 300 < 2:
            print(f"{k} frames, {sum(len(y) for y in ys)} cells", flush=True)
    return np.concatenate(xs), np.concatenate(ys)


def train(x: np.ndarray, y: np.ndarray, hidden: int = 128, epochs: int = 12, seed: int = 0
          ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d = x.shape
    params = {"w1": rng.normal(0, np.sqrt(2 / d), (d, hidden)).astype(np.float32), "b1": np.zeros(hidden, np.float32),
              "w2": rng.normal(0, np.sqrt(2 / hidden), (hidden, 37)).astype(np.float32),
              "b2": np.zeros(37, np.float32)}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    step, lr, batch = 0, 2e-3, 256
    for epoch in range(epochs):
        order = rng.permutation(n)
        loss_sum = 0.0
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            xb, yb = x[idx], y[idx]
            h_pre = xb @ params["w1"] + params["b1"]
            h = np.maximum(h_pre, 0)
            z = h @ params["w2"] + params["b2"]
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            loss_sum += float(-np.log(p[np.arange(len(yb)), yb] + 1e-9).sum())
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g /= len(yb)
            grads = {"w2": h.T @ g, "b2": g.sum(0)}
            gh = (g @ params["w2"].T) * (h_pre > 0)
            grads["w1"], grads["b1"] = xb.T @ gh, gh.sum(0)
            grads["w1"] += 1e-4 * params["w1"]
            step += 1
            for k in params:
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v2[k] = 0.999 * v2[k] + 0.001 * grads[k] ** 2
                mh, vh = m[k] / (1 - 0.9 ** step), v2[k] / (1 - 0.999 ** step)
                params[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        if epoch >= epochs // 2:
            lr *= 0.6
        print(f"epoch {epoch}: loss {loss_sum / n:.4f}", flush=True)
    return params


def accuracy(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    h = np.maximum(x @ params["w1"] + params["b1"], 0)
    return float(np.mean((h @ params["w2"] + params["b2"]).argmax(1) == y))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--cache", type=Path, help="keep the cut cells here (and reuse them) to train again")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("cells.npz"))
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0, help="which cards and conditions (0: the MLP's set)")
    ap.add_argument("--hard", action="store_true", help="the CNN's conditions (smaller cards, more blur and VP8)")
    ap.add_argument("--cells-only", action="store_true",
                    help="cut the cells into --cache and stop (train_cnn.py trains)")
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        with np.load(args.cache) as z:
            x, y = z["x"].astype(np.float32), z["y"]
    else:
        x, y = dataset(args.frames, args.seed, args.hard)
    if args.cache and not args.cache.exists():
        np.savez_compressed(args.cache, x=x.astype(np.float16), y=y.astype(np.int8))
    if args.cells_only:
        print(f"{len(y)} cells in {args.cache}")
        return
    print(f"{len(y)} cells", flush=True)
    cut = int(0.9 * len(y))  # the last frames' cells check the fit (cells of one frame stay together)
    params = train(x[:cut], y[:cut], args.hidden, args.epochs)
    print(f"accuracy: train {accuracy(params, x[:cut], y[:cut]):.4f}, check {accuracy(params, x[cut:], y[cut:]):.4f}")
    half = {k: v.astype(np.float16) for k, v in params.items()}
    np.savez_compressed(args.out, w1=half["w1"], b1=half["b1"], w2=half["w2"], b2=half["b2"])
    print(f"saved {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
