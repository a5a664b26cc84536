"""Phone bridge benchmark: CPU per phone leg and the latency the bridge adds (issue 15).

    .venv/bin/python bench/phone_bench.py                 # 3 rounds of 20 s per measure
    .venv/bin/python bench/phone_bench.py --seconds 5 --rounds 5

A 1:1 with the phone: one phone leg (media/phone/bridge.py) fed 20 ms μ-law frames of a
440 Hz tone in real time, as Twilio sends them, and one web participant whose Opus audio
(encoded once up front, replayed packet by packet every 20 ms, as the engine's fan-out
hands it over) the leg decodes, mixes and sends back as μ-law every 20 ms.

CPU: process CPU time (/proc via time.process_time) over the run, as a share of one core,
minus a baseline measured in the same run: the same real-time loops (feeding, replaying,
the 20 ms clock) with no leg, so the figure is the leg's own work (μ-law decode, Opus
encode once, Opus decode, resample, mix, μ-law encode). Baseline and leg runs alternate,
`--rounds` times, and the median is reported (other jobs on the machine move single runs
by ±20%). Target: ≤ 3% of a core.

Latency: phone → web: from the feed() of the 20 ms frame where a tone starts to the Opus
packet carrying it in the web subscriber's queue; web → phone: from the Opus packet where
a tone starts entering the fan-out to the μ-law frame carrying it handed to the stream.
Both include the jitter buffer and the wait for the 20 ms clock; not the network nor the
browser's own jitter buffer (the same for every participant). Target: < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.engine.encoded import EncodedFrame  # noqa: E402
from media.engine.fanout import Fanout, ForwardedTrack  # noqa: E402
from media.phone.bridge import PhoneLeg  # noqa: E402
from media.phone.codec import MuLaw, Uplink  # noqa: E402

RATE = 8000
FRAME = 160


def tone(freq: float, frames: int, on: bool = True) -> list[np.ndarray]:
    t = np.arange(frames * FRAME) / RATE
    x = (np.sin(2 * np.pi * freq * t) * 8000 * on).astype(np.int16)
    return [x[i:i + FRAME] for i in range(0, len(x), FRAME)]


class WebVoice:
    kind = "audio"

    def __init__(self) -> None:
        self.fanout = Fanout("audio", lambda: None)

    def encoded(self, max_queue: int) -> ForwardedTrack:
        """What the engine's publications give the bridge (media/engine/modes.py)."""
        return self.fanout.subscribe(max_queue=max_queue)


def opus_packets(frames: list[np.ndarray]) -> list[bytes]:
    uplink = Uplink()
    out: list[bytes] = []
    for f in frames:
        out.extend(uplink.encode(f))
    return out


async def realtime(seconds: float, step, tick: float = 0.02) -> None:
    loop = asyncio.get_running_loop()
    due, end = loop.time(), loop.time() + seconds
    n = 0
    while loop.time() < end:
        step(n)
        n += 1
        due += tick
        await asyncio.sleep(max(0.0, due - loop.time()))


async def cpu_run(seconds: float, with_leg: bool) -> float:
    mulaw = MuLaw()
    phone_frames = [mulaw.encode(f) for f in tone(440, 50)]
    packets = opus_packets(tone(600, 50))
    sent = [0]

    async def send(_: bytes) -> None:
        sent[0] += 1

    voice = WebVoice()
    leg = PhoneLeg("phone", send=send)
    subscriber = leg.publication.fanout.subscribe(max_queue=10**6)
    if with_leg:
        leg.add_source("web", voice)
        leg.attached = True
        leg.start()

    def step(n: int) -> None:
        if with_leg:
            leg.feed(phone_frames[n % len(phone_frames)])
            voice.fanout.push("opus", [EncodedFrame("opus", packets[n % len(packets)], n * 960, True)], False)
        else:
            phone_frames[n % len(phone_frames)]  # the same loop, nothing done
        subscriber._queue.clear()

    if not with_leg:
        async def idle_clock() -> None:  # the baseline keeps a 20 ms clock too
            await realtime(seconds, lambda n: None)
        clock = asyncio.create_task(idle_clock())
    start_cpu, start = time.process_time(), time.perf_counter()
    await realtime(seconds, step)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    if with_leg:
        await leg.close()
    else:
        await clock
    return cpu / wall


async def latency_run(seconds: float) -> tuple[list[float], list[float]]:
    """Tones every 400 ms, each way; the time to the first packet/frame that carries them."""
    mulaw = MuLaw()
    silence = mulaw.encode(np.zeros(FRAME, np.int16))
    beep = [mulaw.encode(f) for f in tone(440, 5)]
    # One continuous Opus stream of the pattern (5 frames of tone, 15 of silence): packets
    # spliced from separate streams would decode late (Opus predicts from the frames before).
    cycle = [*tone(600, 5), *[np.zeros(FRAME, np.int16)] * 15]
    web_stream = opus_packets(cycle * 10)
    up: list[float] = []
    down: list[float] = []
    onsets_up: list[float] = []
    onsets_down: list[float] = []
    heard_down = [False]
    loop = asyncio.get_running_loop()
    decoder = MuLaw()

    async def send(frame: bytes) -> None:
        loud = np.abs(decoder.decode(frame)).max() > 2000
        if loud and not heard_down[0] and onsets_down:
            down.append(loop.time() - onsets_down[-1])
        heard_down[0] = loud

    voice = WebVoice()
    leg = PhoneLeg("phone", send=send)
    subscriber = leg.publication.fanout.subscribe(max_queue=10**6)
    leg.add_source("web", voice)
    leg.attached = True
    leg.start()
    from media.phone.codec import Downlink

    probe = Downlink()
    heard_up = [False]

    def step(n: int) -> None:
        phase = n % 20
        if phase == 0:
            onsets_up.append(loop.time())
            onsets_down.append(loop.time())
        leg.feed(beep[phase] if phase < 5 else silence)
        packet = web_stream[n % len(web_stream)]
        voice.fanout.push("opus", [EncodedFrame("opus", packet, n * 960, True)], False)
        while subscriber._queue:
            frame = subscriber._queue.popleft()
            loud = np.abs(probe.decode(frame.data)).max() > 2000
            if loud and not heard_up[0] and onsets_up:
                up.append(loop.time() - onsets_up[-1])
            heard_up[0] = loud

    await realtime(seconds, step)
    await leg.close()
    return up, down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="baseline and leg runs, interleaved (median)")
    args = parser.parse_args()
    legs: list[float] = []
    print(f"CPU, one phone leg in a 1:1 (one web voice), {args.rounds} rounds of {args.seconds:.0f} s real time:")
    for n in range(args.rounds):
        load = Path("/proc/loadavg").read_text().split()[0]
        baseline = asyncio.run(cpu_run(args.seconds, with_leg=False))
        loaded = asyncio.run(cpu_run(args.seconds, with_leg=True))
        legs.append(loaded - baseline)
        print(f"  round {n + 1} (load {load}): baseline loops {baseline * 100:.2f}% · with the leg "
              f"{loaded * 100:.2f}% · the leg {legs[-1] * 100:.2f}% of a core")
    leg = statistics.median(legs)
    print(f"  the leg, median {leg * 100:.2f}% of a core (target ≤ 3%: {'met' if leg <= 0.03 else 'MISSED'}; "
          f"ratio to the target {leg / 0.03:.2f})")
    up, down = asyncio.run(latency_run(args.seconds))
    for name, values in (("phone → web", up), ("web → phone", down)):
        values_ms = sorted(v * 1000 for v in values)
        p95 = values_ms[int(0.95 * (len(values_ms) - 1))]
        print(f"  latency {name}: n={len(values_ms)} p50 {statistics.median(values_ms):.0f} ms, p95 {p95:.0f} ms "
              f"(target < 150 ms: {'met' if p95 < 150 else 'MISSED'})")
    print(f"  machine load (1 min) {Path('/proc/loadavg').read_text().split()[0]}")


if __name__ == "__main__":
    main()
