"""A cell classifier judged on the evaluation set's tuning part, replayed on cached cells.

    nice -n 19 .venv/bin/python bench/idcheck_cells_replay.py --collect --checks 60 --cache /tmp/tuning_cells.npz
    .venv/bin/python bench/idcheck_cells_replay.py --cache /tmp/tuning_cells.npz [--weights a.npz ...] [--w 0.05 0.2]

`--collect` renders the tuning checks, reads every frame in its true orientation (locator and
grid, as bench/idcheck_fields.py does) and keeps, per line, the template scores (without any
classifier) and the cells' patches (cells.cell_patches) with the truth. The replay then adds
w x a model's probabilities and decides the cells as the reader does (grid.decide by field
kind, normalise): characters right, frames exact and checks whose per-cell vote over their frames
is the truth, per size band. The cells are never used to train (train_cells.py draws its own
from synthetic.py): only the tuning part is ever read here, to choose a model and its weight.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.idcheck_fields import tuning_reads  # noqa: E402
from media.idcheck import MrzFormat, cells, grid  # noqa: E402
from media.idcheck.normalise import LAYOUTS, layout_for, normalise  # noqa: E402
from media.idcheck.reader import vote  # noqa: E402

FMTS = list(MrzFormat)


def collect(checks: int, first_seed: int, cache: Path) -> None:
    captured: list[tuple[np.ndarray, np.ndarray]] = []

    def spy(scores: np.ndarray, strip: np.ndarray, starts: np.ndarray, pitch: float) -> np.ndarray:
        captured.append((scores.copy(), cells.cell_patches(strip, starts, pitch).astype(np.float16)))
        return scores

    grid.with_classifier = spy  # type: ignore[assignment]
    scores, patches, meta, truths = [], [], [], []  # meta: fmt, seed, frame, band, line
    bands: dict[str, int] = {}
    for fmt, seed, check, k in tuning_reads(checks, first_seed, captured):
        if len(captured) < fmt.line_count or any(
                len(sc) != len(t) for (sc, _), t in zip(captured[-fmt.line_count:], check.mrz_lines, strict=True)):
            continue  # the spy's last lines are another read's (the runner-up orientation's)
        band = bands.setdefault(check.size_band, len(bands))
        for li, (sc, pa) in enumerate(captured[-fmt.line_count:]):
            scores.append(sc.astype(np.float32))
            patches.append(pa)
            meta.append((FMTS.index(fmt), seed, k, band, li))
            truths.append(check.mrz_lines[li])
    print(f"{len(meta)} lines", flush=True)
    lengths = np.array([len(s) for s in scores])
    np.savez_compressed(cache, scores=np.concatenate(scores), patches=np.concatenate(patches),
                        lengths=lengths, meta=np.array(meta), truths=np.array(truths),
                        bands=np.array(list(bands)))


def replay(cache: Path, probs: np.ndarray | None, w: float) -> dict[str, Counter[str]]:
    z = np.load(cache)
    scores, lengths, meta, truths, band_names = z["scores"], z["lengths"], z["meta"], z["truths"], z["bands"]
    total = scores if probs is None else scores + w * probs
    ends = np.cumsum(lengths)
    starts = ends - lengths
    frames: dict[tuple[int, int, int], list[int]] = {}
    for i, (f, seed, k, _band, _li) in enumerate(meta):
        frames.setdefault((int(f), int(seed), int(k)), []).append(i)
    out: dict[str, Counter[str]] = {k: Counter() for k in ("frames", "exact", "chars", "right", "checks", "voted")}
    per_check: dict[tuple[int, int], list[tuple[str, ...]]] = {}
    check_truth: dict[tuple[int, int], tuple[tuple[str, ...], str]] = {}
    for (f, seed, _k), rows in frames.items():
        fmt = FMTS[f]
        sc = [total[starts[i]:ends[i]] for i in rows]
        truth = tuple(str(truths[i]) for i in rows)
        band = str(band_names[meta[rows[0]][3]])
        first = grid.decide(sc[0], LAYOUTS[fmt][0])
        layouts = layout_for(fmt, (first,) + ("",) * (fmt.line_count - 1))
        lines = normalise(fmt, tuple(grid.decide(s, lay) for s, lay in zip(sc, layouts, strict=True)))
        out["frames"][band] += 1
        out["exact"][band] += lines == truth
        out["chars"][band] += sum(len(t) for t in truth)
        out["right"][band] += sum(a == b for r, t in zip(lines, truth, strict=True) for a, b in zip(r, t, strict=True))
        per_check.setdefault((f, seed), []).append(lines)
        check_truth[(f, seed)] = (truth, band)
    for key, reads in per_check.items():
        truth, band = check_truth[key]
        out["checks"][band] += 1
        out["voted"][band] += vote(FMTS[key[0]], reads) == truth
    return out


def model_probs(cache: Path, weights: Path | None) -> np.ndarray:
    z = np.load(cache)
    x = z["patches"].astype(np.float32)
    if weights is not None:
        cells.WEIGHTS = weights
        cells._weights.cache_clear()
    out = np.concatenate([cells.probabilities(x[i:i + 4096]) for i in range(0, len(x), 4096)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collect", action="store_true")
    parser.add_argument("--checks", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/idcheck_tuning_cells.npz"))
    parser.add_argument("--weights", type=Path, nargs="*", default=[None],
                        help="cells.py weight files (default: shipped)")
    parser.add_argument("--w", type=float, nargs="*", default=[grid.CLASSIFIER_WEIGHT])
    parser.add_argument("--log", action="store_true", help="add w x (1 + ln(p) / ln(10^4)), clipped at 0, not w x p")
    args = parser.parse_args()
    if args.collect:
        collect(args.checks, args.first_seed, args.cache)
    z = np.load(args.cache)
    truth_idx = np.array([grid.MRZ_ALPHABET.index(c) for t in z["truths"] for c in str(t)])
    base = replay(args.cache, None, 0.0)
    print("templates alone:", _fmt(base))
    for weights in args.weights:
        probs = model_probs(args.cache, weights)
        alone = probs.argmax(1) == truth_idx
        if args.log:
            probs = np.maximum(0.0, 1 + np.log(probs + 1e-12) / np.log(1e4))
        print(f"{weights or 'shipped'}: model alone {alone.mean():.4f} of {len(alone)} cells")
        for w in args.w:
            print(f"  w={w}: {_fmt(replay(args.cache, probs, w))}")


def _fmt(r: dict[str, Counter[str]]) -> str:
    parts = []
    for band in sorted(r["frames"]):
        parts.append(f"{band}: exact {r['exact'][band]}/{r['frames'][band]} chars "
                     f"{r['right'][band] / max(1, r['chars'][band]):.4f} voted {r['voted'][band]}/{r['checks'][band]}")
    ex = sum(r["exact"].values())
    vt = sum(r["voted"].values())
    return f"ALL exact {ex} voted {vt} | " + " | ".join(parts)


if __name__ == "__main__":
    main()
