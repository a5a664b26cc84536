"""ID-check benchmark: time and CPU from the first frame of a check to its result.

Runs FrameReader over generated cards (varied rotation, blur, lighting) of each
format and prints, per format and overall: wall time per check (p50/p95), CPU
seconds per check (this process plus its Tesseract subprocesses), frames used,
exact-read rate, and the ratio against a baseline measured in the same run: one
OCR pass (locate + Tesseract + grid) over a clean, unrotated TD1 frame.
Frames are rendered before each check starts, so rendering is not timed.

    .venv/bin/python bench/idcheck_bench.py [--cards 30] [--frames 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.idcheck import FrameReader, MrzFormat, Outcome  # noqa: E402
from media.idcheck.locate import find_mrz, to_gray  # noqa: E402
from media.idcheck.ocr import read_crop  # noqa: E402
from media.idcheck.synthetic import card_frames, make_card, random_conditions, render_frame  # noqa: E402

TODAY = date(2026, 11, 23)


def cpu_seconds() -> float:
    """CPU of this process and of its finished children (Tesseract runs as a subprocess)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def baseline(repeats: int = 5) -> tuple[float, float]:
    """Wall and CPU seconds of one OCR pass over a clean, unrotated TD1 frame."""
    frame = render_frame(make_card(MrzFormat.TD1, 0), 0)
    read_crop(find_mrz(to_gray(frame)))  # warm-up (imports, template cache)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), cpu_seconds()
        crop = find_mrz(to_gray(frame))
        assert crop is not None and read_crop(crop) is not None
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu_seconds() - c0)
    return statistics.median(walls), statistics.median(cpus)


def run_format(fmt: MrzFormat, cards: int, frames: int) -> tuple[list[float], list[float], int, int]:
    walls, cpus, exact, used = [], [], 0, 0
    for seed in range(cards):
        card = make_card(fmt, seed)
        stream = list(card_frames(card, seed, frames, **random_conditions(seed)))
        reader = FrameReader(card.given_names, card.surname, today=TODAY, max_frames=frames)
        w0, c0 = time.perf_counter(), cpu_seconds()
        for frame in stream:
            if reader.feed(frame) is not None:
                break
        result = reader.finish()
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu_seconds() - c0)
        used += result.frames_seen
        exact += (result.outcome is Outcome.VERIFIED and result.document_number == card.document_number
                  and result.surname == card.mrz_surname and result.given_names == card.mrz_given_names
                  and result.birth_date == card.birth_date)
    return walls, cpus, exact, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=30, help="cards per format")
    parser.add_argument("--frames", type=int, default=4, help="frame budget per check")
    args = parser.parse_args()

    base_wall, base_cpu = baseline()
    print(f"baseline: one OCR pass, clean TD1 frame: {base_wall * 1000:.0f} ms wall, {base_cpu * 1000:.0f} ms CPU")
    print(f"{'format':<11} {'exact':>7} {'frames':>6} {'p50 ms':>7} {'p95 ms':>7} {'CPU s':>6} "
          f"{'p50/base':>8} {'CPU/base':>8}")
    all_walls, all_cpus = [], []
    for fmt in MrzFormat:
        walls, cpus, exact, used = run_format(fmt, args.cards, args.frames)
        all_walls += walls
        all_cpus += cpus
        p50, p95, cpu = percentile(walls, 0.5), percentile(walls, 0.95), statistics.mean(cpus)
        print(f"{fmt.value:<11} {exact:>3}/{args.cards:<3} {used / args.cards:>6.2f} {p50 * 1000:>7.0f} "
              f"{p95 * 1000:>7.0f} {cpu:>6.2f} {p50 / base_wall:>8.1f} {cpu / base_cpu:>8.1f}")
    p50, p95, cpu = percentile(all_walls, 0.5), percentile(all_walls, 0.95), statistics.mean(all_cpus)
    print(f"{'all':<11} {'':>7} {'':>6} {p50 * 1000:>7.0f} {p95 * 1000:>7.0f} {cpu:>6.2f} "
          f"{p50 / base_wall:>8.1f} {cpu / base_cpu:>8.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include contention)")


if __name__ == "__main__":
    main()
