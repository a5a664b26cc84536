"""Offline training of cells.py's convolutional glyph classifier (torch; never used at check time).

The cells come from train_cells.py (the project's venv: synthetic.py's frames cut by this
reader's own locator and grid; bench/idcheck_eval is never used):

    nice -n 19 .venv/bin/python -m media.idcheck.train_cells --hard --seed 1 --frames 1200 --cells-only \
        --cache /tmp/cells_s1.npz          # and --seed 2 ... into /tmp/cells_s2.npz
    python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    nice -n 19 /tmp/torchenv/bin/python media/idcheck/train_cnn.py /tmp/cells_s1.npz /tmp/cells_s2.npz \
        --out media/idcheck/cells.npz

The network (cells.py runs it with numpy): 24x14 cell -> 3x3 conv 12, ReLU, 2x2 max pool ->
3x3 conv 24, ReLU, pool -> 3x3 conv 32, ReLU -> dense 64, ReLU -> 37 glyphs. Each batch is
augmented on the cut cells (shifts, scale, blur, stroke width, contrast, noise): the webcam's
glyphs differ from the renderer's, and the cells should not be learnt as drawn. Saved as
float16 in cells.py's layout (im2col rows ordered kernel row, column, input channel; the dense
layer's inputs in row, column, channel order).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

H, W = 24, 14
C1, C2, C3, HIDDEN = 12, 24, 32, 64


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, C1, 3, padding=1)
        self.c2 = nn.Conv2d(C1, C2, 3, padding=1)
        self.c3 = nn.Conv2d(C2, C3, 3, padding=1)
        self.f1 = nn.Linear(C3 * (H // 4) * (W // 4), HIDDEN)
        self.f2 = nn.Linear(HIDDEN, 37)
        self.drop = nn.Dropout(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        x = self.drop(F.relu(self.f1(x.flatten(1))))
        return self.f2(x)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """As cells.cell_patches leaves a cell: zero mean, about unit spread."""
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    s = x.std(dim=(1, 2, 3), keepdim=True)
    return (x - m) / (s + 0.02)


def augment(x: torch.Tensor, g: torch.Generator, light: bool = False) -> torch.Tensor:
    n = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=g)

    # Shift (the grid places a cell to a pixel or two), scale, a little shear.
    sc = u(0.88, 1.12)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = sc * u(0.9, 1.1)
    theta[:, 0, 1] = u(-0.08, 0.08)
    theta[:, 1, 1] = sc
    theta[:, 0, 2] = u(-0.2, 0.2)  # of half the width: +-1.4 px
    theta[:, 1, 2] = u(-0.15, 0.15)  # +-1.8 px
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    if light:
        return _normalise(x + u(0.0, 0.2).view(n, 1, 1, 1) * torch.randn(x.shape, generator=g))
    # Stroke width: part of an erosion or a dilation (ink is dark, low values).
    a = u(-0.7, 0.7).view(n, 1, 1, 1)
    thick = -F.max_pool2d(-x, 3, 1, 1)
    thin = F.max_pool2d(x, 3, 1, 1)
    x = torch.where(a > 0, x + a * (thick - x), x - a * (thin - x))
    # Blur: a Gaussian of sigma 0-1.2 px (one of four widths per batch quarter).
    sig = u(0.0, 1.2)
    r = torch.arange(-2, 3, dtype=torch.float32)
    k1 = torch.exp(-(r[None] ** 2) / (2 * sig[:, None] ** 2 + 1e-3))
    k1 = k1 / k1.sum(1, keepdim=True)
    xp = F.pad(x, (2, 2, 2, 2), mode="replicate")
    # separable, per sample: grouped convolutions with n groups
    xp = F.conv2d(xp.view(1, n, H + 4, W + 4), k1.view(n, 1, 1, 5), groups=n)
    x = F.conv2d(xp, k1.view(n, 1, 5, 1), groups=n).view(n, 1, H, W)
    # Contrast (gamma-like), uneven light across the cell, noise.
    x = _normalise(x)
    x = x + u(-0.4, 0.4).view(n, 1, 1, 1) * torch.linspace(-1, 1, W).view(1, 1, 1, W)
    x = x + u(0.0, 0.35).view(n, 1, 1, 1) * torch.randn(x.shape, generator=g)
    return _normalise(x)


def export(net: Net, out: Path) -> None:
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}

    def conv(name: str) -> np.ndarray:
        w = sd[f"{name}.weight"]  # (out, in, kh, kw) -> (kh * kw * in, out)
        return np.asarray(w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0]))

    f1 = sd["f1.weight"].reshape(HIDDEN, C3, H // 4, W // 4).transpose(2, 3, 1, 0).reshape(-1, HIDDEN)
    arrays = {"c1w": conv("c1"), "c1b": sd["c1.bias"], "c2w": conv("c2"), "c2b": sd["c2.bias"],
              "c3w": conv("c3"), "c3b": sd["c3.bias"], "f1w": f1, "f1b": sd["f1.bias"],
              "f2w": sd["f2.weight"].T, "f2b": sd["f2.bias"]}
    np.savez_compressed(out, **{k: np.ascontiguousarray(v).astype(np.float16) for k, v in arrays.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells", type=Path, nargs="+", help="train_cells.py --cells-only caches")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("cells.npz"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--check", type=Path, help="an extra labelled cell set to print accuracy on (not trained on)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--light", action="store_true", help="shifts and noise only (no blur, stroke or light changes)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    xs, ys = [], []
    for p in args.cells:
        with np.load(p) as z:
            xs.append(z["x"].astype(np.float32))
            ys.append(z["y"].astype(np.int64))
    x = torch.from_numpy(np.concatenate(xs)).view(-1, 1, H, W)
    y = torch.from_numpy(np.concatenate(ys))
    cut = int(0.95 * len(y))  # the last cells (other frames) check the fit
    xt, yt, xv, yv = x[:cut], y[:cut], x[cut:], y[cut:]
    extra = None
    if args.check:
        with np.load(args.check) as z:
            extra = (torch.from_numpy(z["x"].astype(np.float32)).view(-1, 1, H, W),
                     torch.from_numpy(z["y"].astype(np.int64)))
    net = Net()
    print(f"{sum(p.numel() for p in net.parameters())} parameters, {len(yt)} training cells", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = 256
    steps = args.epochs * math.ceil(len(yt) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)

    def acc(xa: torch.Tensor, ya: torch.Tensor) -> float:
        net.eval()
        with torch.no_grad():
            right = sum(int((net(xa[i:i + 4096]).argmax(1) == ya[i:i + 4096]).sum()) for i in range(0, len(ya), 4096))
        net.train()
        return right / len(ya)

    for epoch in range(args.epochs):
        order = torch.randperm(len(yt), generator=g)
        total = 0.0
        for b in range(0, len(yt), batch):
            idx = order[b:b + batch]
            xb = augment(xt[idx], g, args.light)
            loss = F.cross_entropy(net(xb), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        line = f"epoch {epoch}: loss {total / len(yt):.4f}, held-back cells {acc(xv, yv):.4f}"
        if extra is not None:
            line += f", check set {acc(*extra):.4f}"
        print(line, flush=True)
        export(net, args.out)
    print(f"saved {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
