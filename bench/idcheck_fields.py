"""Where misread cells sit, by MRZ field, on the evaluation set's tuning part; and what a
decision rule would change, replayed on the same cells.

    nice -n 19 .venv/bin/python bench/idcheck_fields.py --collect --checks 100 --cache /tmp/cells.pkl
    .venv/bin/python bench/idcheck_fields.py --cache /tmp/cells.pkl

`--collect` renders the tuning checks, reads every frame in its true orientation (locator and
grid, as bench/idcheck_diagnose.py does) and keeps each line's cell scores (templates +
classifier) with the truth. Then the cached cells are decided again by the reader's rules
(grid.decide, then normalise), the wrong cells counted by field and size band, and each check
whose per-cell vote over its frames misses the truth is given the kinds of field that break it
(what a rule on a field could at most gain). Only the tuning part is ever read here.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.idcheck_eval import TUNING, make_check  # noqa: E402
from media.idcheck import MrzFormat, grid  # noqa: E402
from media.idcheck.locate import find_mrz, sharpened_if_small, to_gray  # noqa: E402
from media.idcheck.normalise import LAYOUTS, layout_for, normalise  # noqa: E402
from media.idcheck.reader import GRID_CHAR_HEIGHT, vote  # noqa: E402

# Field of each cell, per format and line: (name, start, end).
FIELDS: dict[MrzFormat, tuple[tuple[tuple[str, int, int], ...], ...]] = {
    MrzFormat.TD1: (
        (("doc_code", 0, 2), ("state", 2, 5), ("number", 5, 14), ("number_cd", 14, 15), ("optional", 15, 30)),
        (("birth", 0, 6), ("birth_cd", 6, 7), ("sex", 7, 8), ("expiry", 8, 14), ("expiry_cd", 14, 15),
         ("nationality", 15, 18), ("optional2", 18, 29), ("composite", 29, 30)),
        (("names", 0, 30),),
    ),
    MrzFormat.TD3: (
        (("doc_code", 0, 2), ("state", 2, 5), ("names", 5, 44)),
        (("number", 0, 9), ("number_cd", 9, 10), ("nationality", 10, 13), ("birth", 13, 19), ("birth_cd", 19, 20),
         ("sex", 20, 21), ("expiry", 21, 27), ("expiry_cd", 27, 28), ("optional", 28, 42), ("optional_cd", 42, 43),
         ("composite", 43, 44)),
    ),
    MrzFormat.FR_ID_1988: (
        (("doc_code", 0, 2), ("state", 2, 5), ("names", 5, 30), ("office", 30, 36)),
        (("number_issue", 0, 4), ("number", 4, 12), ("number_cd", 12, 13), ("names", 13, 27), ("birth", 27, 33),
         ("birth_cd", 33, 34), ("sex", 34, 35), ("composite", 35, 36)),
    ),
}
DATE_PARTS = ("YY", "YY", "M1", "M2", "D1", "D2")


def field_of(fmt: MrzFormat, line: int, col: int) -> str:
    for name, start, end in FIELDS[fmt][line]:
        if start <= col < end:
            if name in ("birth", "expiry"):
                return f"{name}.{DATE_PARTS[col - start]}"
            return name
    raise ValueError((fmt, line, col))


def _group(field: str) -> str:
    name = field.split(".")[0]
    if name in ("birth", "expiry"):
        return "date"
    if name in ("state", "nationality"):
        return "state"
    if name.endswith("_cd") or name == "composite":
        return "check digit"
    if name.startswith("number") or name.startswith("optional") or name == "office":
        return "number/optional"
    return name


def tuning_reads(checks: int, first_seed: int, captured: list[Any]) -> Iterator[tuple[MrzFormat, int, Any, int]]:
    """(format, seed, check, frame index) of every tuning-part frame the locator and the grid
    read in its true orientation as its own format; `captured` (what a spy on the grid keeps)
    is emptied before each read, so it then holds that read's."""
    for seed in range(first_seed, first_seed + checks):
        for fmt in MrzFormat:
            check = make_check(fmt, seed, TUNING)
            turn = 2 if check.conditions["mirrored"] else 0
            for k, frame in enumerate(check.frames):
                gray = to_gray(frame)
                crop = None if gray is None else find_mrz(gray, GRID_CHAR_HEIGHT)
                if crop is None:
                    continue
                captured.clear()
                found = grid.read_crop_cells(sharpened_if_small(crop).oriented(turn))  # as the reader reads it
                if found is not None and found[0] is fmt:
                    yield fmt, seed, check, k


def collect(checks: int, first_seed: int, cache: Path) -> None:
    rows: list[dict[str, object]] = []
    captured: list[tuple[np.ndarray, str]] = []
    original = grid.decide

    def spy(scores: np.ndarray, layout: str) -> str:
        captured.append((scores.copy(), layout))
        return original(scores, layout)

    grid.decide = spy  # type: ignore[assignment]
    for fmt, seed, check, k in tuning_reads(checks, first_seed, captured):
        # The last read decided: its first line once alone, then every line.
        scores = [s for s, _ in captured[-fmt.line_count:]]
        rows.append({"fmt": fmt.value, "seed": seed, "frame": k, "band": check.size_band,
                     "truth": check.mrz_lines, "scores": scores})
    print(f"{len(rows)} frames", flush=True)
    grid.decide = original  # type: ignore[assignment]
    cache.write_bytes(pickle.dumps(rows))


def decided(row: dict) -> tuple[str, ...]:
    """A cached frame's lines as the reader decides them (grid.decide by field kind, normalise)."""
    fmt, scores = MrzFormat(row["fmt"]), row["scores"]
    first = grid.decide(scores[0], LAYOUTS[fmt][0])
    layouts = layout_for(fmt, (first,) + ("",) * (fmt.line_count - 1))
    return normalise(fmt, tuple(grid.decide(s, lay) for s, lay in zip(scores, layouts, strict=True)))


def analyse(cache: Path) -> None:
    rows = pickle.loads(cache.read_bytes())  # noqa: S301 (this script's own cache, written above)
    wrong: Counter[str] = Counter()
    wrong_band: Counter[tuple[str, str]] = Counter()
    conf: Counter[tuple[str, str]] = Counter()
    exact: Counter[str] = Counter()
    total: Counter[str] = Counter()
    only: Counter[tuple[str, str]] = Counter()  # frames whose wrong cells all lie in one kind of field
    by_group: Counter[str] = Counter()
    checks: dict[tuple[str, int, str], tuple[tuple[str, ...], list[tuple[str, ...]]]] = {}
    for row in rows:
        fmt, truth, band = MrzFormat(row["fmt"]), row["truth"], row["band"]
        lines = decided(row)
        checks.setdefault((row["fmt"], row["seed"], band), (truth, []))[1].append(lines)
        total[band] += 1
        exact[band] += lines == truth
        bad = [(li, j, t, r) for li, (read, true) in enumerate(zip(lines, truth, strict=True))
               for j, (r, t) in enumerate(zip(read, true, strict=True)) if r != t]
        groups = {_group(field_of(fmt, li, j)) for li, j, _, _ in bad}
        if len(groups) == 1:
            only[(band, groups.pop())] += 1
        for li, j, t, r in bad:
            f = f"{fmt.value}:{field_of(fmt, li, j)}"
            wrong[f] += 1
            by_group[_group(field_of(fmt, li, j))] += 1
            wrong_band[(band, field_of(fmt, li, j).split(".")[0])] += 1
            conf[(f, f"{t}>{r}")] += 1
    print("frames read exactly:", {b: f"{exact[b]}/{total[b]}" for b in total})
    print("wrong cells by kind of field:", dict(by_group.most_common()))
    print("wrong cells by field (truth>read):")
    for f, n in wrong.most_common():
        print(f"  {f:<28} {n:>5}  " + " ".join(f"{c}:{m}" for (ff, c), m in conf.most_common() if ff == f)[:150])
    print("wrong cells by band and field:")
    for (b, f), n in sorted(wrong_band.items()):
        print(f"  {b:<17} {f:<16} {n:>5}")
    print("frames wrong in one kind of field only (the most a rule on that field could make exact):")
    for (b, g), n in sorted(only.items()):
        print(f"  {b:<17} {g:<16} {n:>5}")
    # A check is read when the per-cell vote over its frames gives the truth (reader.vote: 2+ frames
    # agree, a clear majority); the fields whose cells break that vote in the others.
    voted: Counter[str] = Counter()
    blocking: Counter[tuple[str, str]] = Counter()
    for (fmt_name, _seed, band), (truth, reads) in checks.items():
        fmt = MrzFormat(fmt_name)
        if vote(fmt, reads) == truth:
            voted[band] += 1
            continue
        groups = set()
        for li in range(fmt.line_count):
            for j in range(fmt.line_length):
                top = Counter(r[li][j] for r in reads if r[li][j] != "?").most_common(2)
                clear = bool(top) and top[0][1] >= 2 and not (len(top) > 1 and 2 * top[1][1] > top[0][1])
                if not clear or top[0][0] != truth[li][j]:
                    groups.add(_group(field_of(fmt, li, j)))
        # No cell wrong: the vote left out lines holding '?' and too few clean ones remained.
        blocking[(band, "+".join(sorted(groups)) or "(unsure cells only)")] += 1
    print("checks whose per-cell vote is the truth:", dict(voted), "of", dict(Counter(b for _, _, b in checks)))
    print("the others, by the kinds of field whose cells break the vote:")
    for (b, g), n in sorted(blocking.items()):
        print(f"  {b:<17} {n:>3}  {g}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collect", action="store_true")
    parser.add_argument("--checks", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/idcheck_cells.pkl"))
    args = parser.parse_args()
    if args.collect:
        collect(args.checks, args.first_seed, args.cache)
    analyse(args.cache)


if __name__ == "__main__":
    main()
