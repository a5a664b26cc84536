"""ID-check benchmark: time and CPU from the first frame of a check to its result.

Runs FrameReader over generated cards (varied rotation, blur, lighting) of each
format and prints, per format and overall: wall time per check (p50/p95), CPU
seconds per check (this process plus its Tesseract subprocesses), frames used,
exact-read rate, and the ratio against a baseline measured in the same run: one
OCR pass (locate + Tesseract + grid) over a clean, unrotated TD1 frame.
Frames are rendered before each check starts, so rendering is not timed.

    .venv/bin/python bench/idcheck_bench.py [--cards 30] [--frames 4] [--eval 30] [--split both]

With --eval N, it also runs N checks per format of the independent evaluation set
(bench/idcheck_eval: another renderer, webcam conditions, 6 frames per check) on its
tuning part and/or its held-out part, and prints exact reads per format and per size
band, wrong documents accepted, wall time and CPU per check. `--at 640x480` or `--at 1280x720`
renders every check's frames at that size (the same cards, shares of the width and conditions):
what a camera sending more pixels during the check buys (the citizen's page asks for 1280x720
while a check runs, rooms/static/rooms/js/localmedia.js).
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

from bench.idcheck_eval import HELD_OUT, TUNING, make_check  # noqa: E402
from bench.idcheck_eval.scoring import read_check  # noqa: E402
from media.idcheck import FrameReader, MrzFormat, Outcome  # noqa: E402
from media.idcheck.grid import read_crop  # noqa: E402
from media.idcheck.locate import find_mrz, to_gray  # noqa: E402
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
    """Wall and CPU seconds of one read (locate + grid reader) of a clean, unrotated TD1 frame."""
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


def run_eval(split: str, checks: int, first_seed: int = 0, base_cpu: float = 0.0,
             size: tuple[int, int] | None = None) -> None:
    """Exact reads per format and size band, false acceptances, time and CPU, on one split
    (every frame at `size` if given)."""
    rows: list[tuple[str, str, bool, bool, float, float, str, bool]] = []
    shares: list[tuple[float, bool]] = []
    # Seeds outside, formats inside: a run stopped early still covers every format alike.
    for seed in range(first_seed, first_seed + checks):
        for fmt in MrzFormat:
            check = make_check(fmt, seed, split, size=size)  # rendered before the clock starts
            w0, c0 = time.perf_counter(), cpu_seconds()
            scored = read_check(check, TODAY)
            wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
            result, exact, wrong = scored.result, scored.exact, scored.wrong
            rows.append((fmt.value, check.size_band, exact, wrong, wall, cpu, result.outcome.value, check.mrz_in_frame))
            shares.append((check.card_share, exact))
            # One line per check as it ends, so that an interrupted run still counts.
            print(f"check {split} {fmt.value} {seed} {check.size_band!r} exact={exact} wrong={wrong} "
                  f"in_frame={check.mrz_in_frame} outcome={result.outcome.value} cpu={cpu:.3f} wall={wall:.3f}",
                  flush=True)
    at = f", every frame {size[0]}x{size[1]}" if size else ""
    print(f"\n{split} part of the evaluation set: {checks} checks per format (seeds {first_seed}..{at})")
    if base_cpu:
        print(f"CPU per check against the baseline read ({base_cpu * 1000:.0f} ms CPU): "
              f"p50 {percentile([r[5] for r in rows], 0.5) / base_cpu:.1f}x, "
              f"p95 {percentile([r[5] for r in rows], 0.95) / base_cpu:.1f}x")
    # mismatch: a genuine card given as not the person's or invalid (the agent is told so).
    print(f"{'format':<11} {'band':<17} {'exact':>9} {'wrong ok':>8} {'unread':>6} {'mismatch':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'CPU p50':>7} {'CPU p95':>7}")
    keys = [(f.value, b) for f in MrzFormat for b in ("640 card 40-50%", "640 card >=50%", "1280x720", "all")]
    keys += [("all", "all")]
    for fmt_name, band in keys:
        sel = [r for r in rows if fmt_name in ("all", r[0]) and band in ("all", r[1])]
        if not sel:
            continue
        walls, cpus = [r[4] for r in sel], [r[5] for r in sel]
        exact, wrong = sum(r[2] for r in sel), sum(r[3] for r in sel)
        unread = sum(r[6] == "unreadable" for r in sel)
        mismatch = sum(r[6] == "mismatch" for r in sel)
        print(f"{fmt_name:<11} {band:<17} {exact:>4}/{len(sel):<4} {wrong:>8} {unread:>6} {mismatch:>8} "
              f"{percentile(walls, 0.5) * 1000:>7.0f} {percentile(walls, 0.95) * 1000:>7.0f} "
              f"{percentile(cpus, 0.5):>7.2f} {percentile(cpus, 0.95):>7.2f}")
    # Cards up to 90% of the width at 16:9 push some MRZs partly out of the frame: both figures are given.
    inside = [r for r in rows if r[1] == "1280x720" and r[7]]
    wide = [r for r in rows if r[1] == "1280x720"]
    print(f"1280x720 with the MRZ wholly inside every frame: {sum(r[2] for r in inside)}/{len(inside)} exact "
          f"(all 1280x720: {sum(r[2] for r in wide)}/{len(wide)}; MRZ partly outside: {len(wide) - len(inside)})")
    # By the card's share of the width, whatever the frame size (with --at: the same cards at another size).
    for lo, hi in ((0.4, 0.5), (0.5, 0.7), (0.7, 0.91)):
        sel = [exact for share, exact in shares if lo <= share < hi]
        print(f"card {lo:.0%}-{min(hi, 0.9):.0%} of the width: {sum(sel)}/{len(sel)} exact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=30, help="cards per format")
    parser.add_argument("--frames", type=int, default=4, help="frame budget per check")
    parser.add_argument("--eval", type=int, default=0, help="checks per format of the evaluation set")
    parser.add_argument("--split", choices=["tuning", "held-out", "both"], default="both")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed of the evaluation checks")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the evaluation set")
    parser.add_argument("--at", choices=["640x480", "1280x720"],
                        help="every evaluation frame at this size (the same cards, shares and conditions)")
    args = parser.parse_args()
    size = (int(args.at.split("x")[0]), int(args.at.split("x")[1])) if args.at else None
    if args.eval:
        _, eval_base_cpu = baseline()
        print(f"baseline: one read of a clean TD1 frame, {eval_base_cpu * 1000:.0f} ms CPU", flush=True)
        for split in ((TUNING, HELD_OUT) if args.split == "both" else (args.split,)):
            run_eval(split, args.eval, args.first_seed, eval_base_cpu, size)
    if args.skip_synthetic:
        return
    print("\nthe project's own synthetic cards (media/idcheck/synthetic.py):")

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
