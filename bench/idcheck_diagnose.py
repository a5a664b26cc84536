"""Why ID checks of the evaluation set's tuning part fail: each frame read in its true
orientation and compared with the truth, each failed check given one cause.

    nice -n 10 .venv/bin/python bench/idcheck_diagnose.py [--checks 50] [--first-seed 0] [--formats TD1,TD3]

It reads only the tuning part (the held-out part is only counted by bench/idcheck_bench.py,
never looked into). Causes, per frame: `no_mrz` (the locator found nothing), `lines`
(wrong line count or line length: the format), `slip` (a line reads better shifted by a cell:
the grid or the line's ends), `unsure` (only '?' cells left wrong), `confusion` (glyphs read
wrong, listed truth>read), `exact`. Per failed check: `locator` (no frame with the right
geometry), `segmentation` (most frames slipped), `confusion` (fewer than 2 frames exact after
the reader's own decisions), `vote` (2+ frames exact, yet no verdict), `mismatch` (a wrong
well-formed read repeated).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.idcheck_eval import TUNING, make_check  # noqa: E402
from bench.idcheck_eval.scoring import read_check  # noqa: E402
from media.idcheck import MrzFormat, Outcome  # noqa: E402
from media.idcheck.grid import read_crop_cells  # noqa: E402
from media.idcheck.locate import find_mrz, sharpened_if_small, sharpness, to_gray  # noqa: E402
from media.idcheck.normalise import normalise  # noqa: E402
from media.idcheck.reader import GRID_CHAR_HEIGHT  # noqa: E402

TODAY = date(2026, 11, 23)


def frame_cause(fmt: MrzFormat, truth: tuple[str, ...], frame: np.ndarray, turn: int) -> tuple[str, list[str]]:
    """One frame's cause (see the module docstring) and its wrong cells as truth>read."""
    gray = to_gray(frame)
    if gray is None:
        return "no_mrz", []
    crop = find_mrz(gray, GRID_CHAR_HEIGHT)
    if crop is None:
        return "no_mrz", []
    if crop.line_count != fmt.line_count or (crop.chars and abs(crop.chars - fmt.line_length) > 3):
        return "lines", [f"{crop.line_count}x{crop.chars:.0f}"]
    found = read_crop_cells(sharpened_if_small(crop).oriented(turn))  # as the reader reads it
    if found is None:
        return "lines", ["read None"]
    rfmt, lines, _, _, _ = found
    if rfmt is not fmt:
        return "lines", [rfmt.value]
    lines = normalise(fmt, lines)
    detail: list[str] = []
    unsure = wrong = 0
    slipped = False
    for read, true in zip(lines, truth, strict=True):
        bad = [(t, r) for t, r in zip(true, read, strict=True) if t != r]
        if not bad:
            continue
        n = len(true)
        same = sum(t == r for t, r in zip(true, read, strict=True))
        left = sum(t == r for t, r in zip(true[1:], read[:n - 1], strict=True))
        right = sum(t == r for t, r in zip(true[:n - 1], read[1:], strict=True))
        if max(left, right) > same + 3:
            slipped = True
        for t, r in bad:
            if r == "?":
                unsure += 1
            else:
                wrong += 1
                detail.append(f"{t}>{r}")
    if slipped:
        return "slip", detail
    if wrong:
        return "confusion", detail
    if unsure:
        return "unsure", [f"?{unsure}"]
    return "exact", [f"sharp={sharpness(crop.image):.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--formats", default=",".join(f.value for f in MrzFormat))
    args = parser.parse_args()
    formats = [MrzFormat(f) for f in args.formats.split(",")]
    causes: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    for seed in range(args.first_seed, args.first_seed + args.checks):
        for fmt in formats:
            check = make_check(fmt, seed, TUNING)
            scored = read_check(check, TODAY)
            result, exact = scored.result, scored.exact
            if exact:
                causes["exact"] += 1
                continue
            turn = 2 if check.conditions["mirrored"] else 0
            frames = [frame_cause(fmt, check.mrz_lines, f, turn) for f in check.frames]
            kinds = Counter(k for k, _ in frames)
            for _, d in frames:
                confusions.update(x for x in d if ">" in x)
            if result.outcome is Outcome.VERIFIED:
                cause = "WRONG_ACCEPTED"
            elif result.outcome is Outcome.MISMATCH:
                cause = "mismatch"
            elif kinds["exact"] >= 2:
                cause = "vote"
            elif kinds["no_mrz"] + kinds["lines"] > len(frames) / 2:
                cause = "locator"
            elif kinds["slip"] >= 2:
                cause = "segmentation"
            else:
                cause = "confusion"
            causes[cause] += 1
            print(f"{fmt.value} {seed} {check.size_band} {check.conditions['transport']} "
                  f"blur={check.conditions['blur']:.2f} mirror={check.conditions['mirrored']} "
                  f"share={check.card_share:.2f} -> {result.outcome.value} {cause}: "
                  + " | ".join(f"{k} {' '.join(d)}" for k, d in frames), flush=True)
    print("\ncauses:", dict(causes))
    print("confusions (truth>read):", confusions.most_common(25))


if __name__ == "__main__":
    main()
