"""Media engine benchmark: server CPU and memory for N simultaneous 1:1 appointments.

    flock /tmp/gv-bench.lock .venv/bin/python bench/media_bench.py   # sizes 1,10,25, 20 s, 3 rounds
    .venv/bin/python bench/media_bench.py --sizes 1,2 --seconds 5 --rounds 1 --modes passthrough

For each round, size and mode, interleaved (passthrough; `janus`: Janus 1.1.2 from Debian,
VideoRoom; the relay baseline; `frames`: passthrough on the frame-level path,
packets=False; `pycore`: passthrough with the Python packet core, GV_PACKET_CORE=python),
a fresh server runs in its own process, so its CPU (/proc/PID/stat) and RSS are its own;
the summary gives the median over the rounds and our CPU / Janus's per size. The server
is pinned to the last core and the generator to the first (`--no-pin`). That process
runs as a production media node does by default (`media.nodes.eventloop`: uvloop; the
engine's default REMB estimator, media/engine/remb.py; the short transport path with UDP
GSO, media/engine/fast_path.py and udp_batch.py); `--no-uvloop`, `--remb`, `--stock-path`
and `--no-gso` change it. This process
is the load generator: two aiortc clients per appointment, each sending 640x480 30 fps VP8
(~0.8 Mbps, keyframe every second) + 20 ms Opus that were encoded ONCE up front and are
replayed packet by packet (no encoding), and counting what they receive without decoding.
Everything stays on this machine: on 127.0.0.1, or with Janus on a veth pair in a network
namespace the bench creates (Janus skips loopback interfaces for ICE; bench/janus_peer).

Janus (bench/janus_peer, nothing of it committed): /usr/bin/janus if installed (else the
bench says so and runs without it), VideoRoom with its packaged defaults, HTTP transport
only, debug level 4, no event handler, one room per appointment; each client is a
session with a publisher handle (its tracks, sendonly) and a subscriber handle on its
partner's feed: 4 peer connections per appointment against our 2, as a VideoRoom page has.

Latency: every 2 s each publisher holds its video for 100 ms; at the subscriber, the first
frame after a >= 70 ms silence ending after the resume is the probe's arrival. p50/p95 of
(arrival - resume) is the added forwarding latency, loopback network included. In relay mode aiortc's jitter
buffer also holds each frame until the next one arrives (~33 ms): the probe does not see
that hold, so relay latency is a lower bound.

Figures measured so far, and how to read them: docs/media-bench.md.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import fractions
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioice.ice  # noqa: E402
import av  # noqa: E402
import janus_peer  # noqa: E402  # bench/janus_peer, next to this script
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402

from media.engine import MediaEngine, aiortc_hooks  # noqa: E402
from media.engine.assembler import AudioAssembler, FrameBatch, VideoAssembler  # noqa: E402
from media.engine.encoded import EncodedFrame, is_keyframe  # noqa: E402
from media.nodes import eventloop  # noqa: E402

FPS = 30
PROBE_EVERY = 2.0
PROBE_GAP = 0.1
TICKS = os.sysconf("SC_CLK_TCK")


def bench_address() -> str:
    """The one address every peer uses: a veth end in the bench's namespace, else loopback."""
    return os.environ.get(janus_peer.server.NETNS_ENV) or "127.0.0.1"


def loopback_only() -> None:
    address = bench_address()
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: [address]


def pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# --- server process -----------------------------------------------------------------------


async def serve(mode: str, remb: str | None, fast_path: bool, gso: bool) -> None:
    loopback_only()
    writers: list[asyncio.StreamWriter] = []

    async def on_offer(room: str, pid: str, payload: dict[str, Any]) -> None:
        for w in writers:
            w.write(json.dumps({"op": "offer", "room": room, "pid": pid, "payload": payload}).encode() + b"\n")

    options: dict[str, Any] = {} if remb is None else {"remb": remb}  # None: the engine's default
    if mode == "frames":  # passthrough on the frame-level path (assembler, packetizer, aiortc senders)
        mode, options["packets"] = "passthrough", False
    engine = MediaEngine(mode=mode, ice_servers=[], on_server_offer=on_offer, fast_path=fast_path, gso=gso,
                         udp_buffer=int(os.environ.get("MEDIA_BENCH_UDP_BUFFER", 4 << 20)), **options)
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while not done.is_set() and (line := await reader.readline()):
            msg = json.loads(line)
            reply: dict[str, Any] = {"id": msg.get("id")}
            try:
                if msg["op"] == "join":
                    reply["result"] = await engine.join(msg["room"], msg["pid"], msg["sdp"])
                elif msg["op"] == "answer":
                    await engine.answer(msg["room"], msg["pid"], msg["sdp"])
                elif msg["op"] == "stats":
                    reply["result"] = engine.stats()
                elif msg["op"] == "shutdown":
                    if tracemalloc.is_tracing():
                        for stat in tracemalloc.take_snapshot().statistics("lineno")[:25]:
                            print("server allocated", stat, file=sys.stderr, flush=True)
                    await engine.shutdown()
                    done.set()
            except Exception as exc:
                reply["error"] = f"{type(exc).__name__}: {exc}"
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()

    if os.environ.get("MEDIA_BENCH_LAG"):
        asyncio.ensure_future(report_lag("server"))
        watch_collector("server")
    if os.environ.get("MEDIA_BENCH_TRACEMALLOC"):  # debug aid: what the appointments allocate
        tracemalloc.start()
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 22)
    path = ("fast+gso" if gso else "fast") if engine._fast_path else "stock"
    path = ("packets+" if engine._packets else "frames+") + path
    print("PORT", server.sockets[0].getsockname()[1], eventloop.loop_name(), engine._remb, path, flush=True)
    await done.wait()
    server.close()


async def report_lag(name: str) -> None:
    """Debug aid: the event loop's worst lateness per second, on stderr."""
    loop = asyncio.get_running_loop()
    while True:
        worst, busy, end = 0.0, 0.0, loop.time() + 1
        while loop.time() < end:
            before, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.005)
            late = loop.time() - before - 0.005
            if late > worst:  # and how much of it this thread ran (the rest: another process had the core)
                worst, busy = late, time.thread_time() - cpu
        print(f"{name} loop lag max {worst * 1000:.0f} ms ({busy * 1000:.0f} ms of it running)",
              file=sys.stderr, flush=True)


def watch_collector(name: str) -> None:
    """Debug aid (with MEDIA_BENCH_LAG): each second's garbage collections per generation
    and their longest pause, on stderr (a full pass over the live heap stalls the loop)."""
    started: list[float] = [0.0]
    counts = [0, 0, 0]
    worst = [0.0, 0.0, 0.0]
    window = [time.monotonic()]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        generation = info["generation"]
        counts[generation] += 1
        worst[generation] = max(worst[generation], time.perf_counter() - started[0])
        if time.monotonic() - window[0] >= 1:
            print(f"{name} gc per s: {counts} max ms {[round(w * 1000, 1) for w in worst]} "
                  f"tracked {len(gc.get_objects())}", file=sys.stderr, flush=True)
            counts[:], worst[:], window[0] = [0, 0, 0], [0.0, 0.0, 0.0], time.monotonic()

    gc.callbacks.append(callback)


# --- pre-encoded media ----------------------------------------------------------------------


def encode_video(seconds: float) -> list[tuple[bytes, bool]]:
    """640x480 30 fps VP8 at ~0.8 Mbps, a keyframe every second, from a moving test pattern."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 640, 480, "yuv420p"
    codec.bit_rate = 800_000
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.gop_size = FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "minrate": "800000",
                     "maxrate": "800000", "bufsize": "800000"}
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 60, (480, 640, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:480, 0:640]
    frames: list[tuple[bytes, bool]] = []
    for i in range(int(seconds * FPS)):
        image = np.empty((480, 640, 3), dtype=np.uint8)
        image[..., 0] = (xx + i * 4) % 256
        image[..., 1] = (yy + i * 2) % 256
        image[..., 2] = ((xx + yy) // 2 + i * 3) % 256
        image = image // 2 + np.roll(noise, i * 3, axis=1)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        frame.time_base = codec.time_base
        for packet in codec.encode(frame):
            data = bytes(packet)
            frames.append((data, is_keyframe("vp8", data)))
    return frames


def encode_audio(seconds: float) -> list[bytes]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.bit_rate = 32000
    codec.time_base = fractions.Fraction(1, 48000)
    packets: list[bytes] = []
    for i in range(int(seconds * 50)):
        t = (np.arange(960) + i * 960) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, codec.time_base
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


class ReplayTrack(MediaStreamTrack):
    """Replays pre-encoded frames in real time; video pauses 100 ms every 2 s (latency probe)."""

    def __init__(self, kind: str, frames: list[tuple[bytes, bool]], probes: list[float] | None) -> None:
        super().__init__()
        self.kind = kind
        self._frames = frames
        self._codec = "vp8" if kind == "video" else "opus"
        self._step = 1 / FPS if kind == "video" else 0.02
        self._ts_step = 90000 // FPS if kind == "video" else 960
        self._probes = probes
        self._i = 0  # index in the pre-encoded frames
        self._sent = 0  # frames sent: the RTP timestamp follows it
        self.keyframe_requested = False
        self._due: float | None = None
        self._next_probe = 0.0

    async def recv(self) -> EncodedFrame:  # type: ignore[override]  # encoded frames, not av frames
        now = time.monotonic()
        if self._due is None:
            self._due = now
            self._next_probe = now + PROBE_EVERY
            # Start each publisher at a keyframe.
            self._i = 0
        else:
            self._due += self._step
            if self._probes is not None and self._due >= self._next_probe:
                self._due += PROBE_GAP
                self._next_probe = self._due + PROBE_EVERY
                self._probes.append(self._due)
            if self._due > now:
                await asyncio.sleep(self._due - now)
        if self.keyframe_requested:
            # Like a browser answering a PLI: the next frame sent is a keyframe.
            self.keyframe_requested = False
            while not self._frames[self._i % len(self._frames)][1]:
                self._i += 1
        data, key = self._frames[self._i % len(self._frames)]
        frame = EncodedFrame(self._codec, data, self._sent * self._ts_step, key, stream=1)
        self._i += 1
        self._sent += 1
        return frame


# --- load generator -------------------------------------------------------------------------


class Rpc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = 0
        self.offer_handlers: dict[tuple[str, str], Any] = {}
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while line := await self._reader.readline():
            msg = json.loads(line)
            if msg.get("op") == "offer":
                handler = self.offer_handlers.get((msg["room"], msg["pid"]))
                if handler is not None:
                    handler(msg["payload"])
            elif msg.get("id") in self._pending:
                future = self._pending.pop(msg["id"])
                if not future.done():  # not already given up on
                    future.set_result(msg)

    async def call(self, op: str, timeout: float = 30, **kwargs: Any) -> Any:
        self._ids += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = future
        self._writer.write(json.dumps({"op": op, "id": self._ids, **kwargs}).encode() + b"\n")
        msg = await asyncio.wait_for(future, timeout)
        if "error" in msg:
            raise RuntimeError(msg["error"])
        return msg.get("result")


class Viewer:
    """One participant's side of the measure: its latency probes and what it receives
    (counted as encoded frames, never decoded: the generator must stay light)."""

    def __init__(self, pid: str, video: list[tuple[bytes, bool]], audio: list[bytes]) -> None:
        self.pid = pid
        self.probes: list[float] = []
        self._video = ReplayTrack("video", video, self.probes)
        self._audio = ReplayTrack("audio", [(p, True) for p in audio], None)
        self.frames = {"audio": 0, "video": 0}
        self.bytes = 0
        self.arrivals: list[float] = []  # arrival time of every video frame

    def prepare_sender(self, transceiver: Any, track: MediaStreamTrack) -> None:
        rate = 90000 if track.kind == "video" else 48000
        aiortc_hooks.attach_sender(transceiver.sender, aiortc_hooks.Packetizer(rate), self._keyframe_request)

    def _keyframe_request(self) -> None:
        self._video.keyframe_requested = True

    def count(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        kind = track.kind

        def on_batch(codec: str, batch: FrameBatch) -> None:
            now = time.monotonic()
            self.frames[kind] += len(batch.frames)
            self.bytes += sum(len(data) for data, _ in batch.frames)
            if kind == "video":
                self.arrivals.extend([now] * len(batch.frames))

        assembler = AudioAssembler() if kind == "audio" else VideoAssembler()
        aiortc_hooks.attach_receiver(receiver, assembler, aiortc_hooks.EncodedSink(on_batch, lambda: None), remb="off")


class BenchClient(Viewer):
    """A participant of our engine: one connection, both ways (the server re-offers its partner)."""

    def __init__(self, rpc: Rpc, room: str, pid: str, video: list[tuple[bytes, bool]], audio: list[bytes]) -> None:
        super().__init__(pid, video, audio)
        self.rpc, self.room = rpc, room
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pc.on("track", lambda track: self.count(self.pc, track))
        rpc.offer_handlers[(room, pid)] = self._offers.put_nowait

    async def join(self) -> None:
        for track in (self._audio, self._video):
            self.prepare_sender(self.pc.addTransceiver(track, direction="sendrecv"), track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.rpc.call("join", room=self.room, pid=self.pid, sdp=self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self._task = asyncio.ensure_future(self._answer_offers())

    async def _answer_offers(self) -> None:
        while True:
            payload = await self._offers.get()
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.rpc.call("answer", room=self.room, pid=self.pid, sdp=self.pc.localDescription.sdp)

    async def close(self) -> None:
        self._task.cancel()
        await self.pc.close()


class JanusBenchClient(Viewer):
    """A participant of a Janus VideoRoom: a publisher and a subscriber connection."""

    def __init__(self, http: aiohttp.ClientSession, url: str, room: int, pid: str,
                 video: list[tuple[bytes, bool]], audio: list[bytes]) -> None:
        super().__init__(pid, video, audio)
        self.janus = janus_peer.JanusClient(http, url, room, pid, [self._audio, self._video], self.prepare_sender,
                                            self.count)

    async def close(self) -> None:
        await self.janus.close()


def proc_cpu(pid: int | str) -> float:
    user, system = proc_cpu_split(pid)
    return user + system


def proc_cpu_split(pid: int | str) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def machine_busy() -> float:
    """CPU seconds all processes have used since boot (all cores, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def latencies(clients: list[BenchClient], pairs: dict[str, str], since: float, until: float) -> list[float]:
    """For each publisher resume, the subscriber frame that ends the silence it caused."""
    by_pid = {c.pid: c for c in clients}
    out = []
    for client in clients:
        arrivals = client.arrivals
        for resume in by_pid[pairs[client.pid]].probes:
            if not since <= resume <= until - 1:
                continue
            lo = bisect.bisect_left(arrivals, resume - PROBE_GAP * 2)
            hi = bisect.bisect_right(arrivals, resume + PROBE_EVERY / 2)
            window = arrivals[lo:hi]
            # The first silence as long as most of the pause, ending after the resume.
            ends = [b for a, b in zip(window, window[1:], strict=False) if b >= resume and b - a >= PROBE_GAP * 0.7]
            if ends:
                out.append((ends[0] - resume) * 1000)
    return out


async def measure(server_pid: int, clients: list[Any], pairs: dict[str, str], seconds: float) -> dict[str, Any]:
    """Once every client receives video: the server's CPU, RSS, what was delivered, latency."""
    deadline = time.monotonic() + 30
    while any(c.frames["video"] < 10 for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    frames0 = {k: sum(c.frames[k] for c in clients) for k in ("audio", "video")}
    busy0 = machine_busy()
    (user0, sys0), gen0, t0 = proc_cpu_split(server_pid), proc_cpu("self"), time.monotonic()
    await asyncio.sleep(seconds)
    (user1, sys1), gen1, t1 = proc_cpu_split(server_pid), proc_cpu("self"), time.monotonic()
    busy1 = machine_busy()
    cpu0, cpu1 = user0 + sys0, user1 + sys1
    elapsed = t1 - t0
    frames = {k: sum(c.frames[k] for c in clients) - frames0[k] for k in ("audio", "video")}
    lat = latencies(clients, pairs, t0, t1)
    viewers = len(clients)
    return {
        "cpu": (cpu1 - cpu0) / elapsed,
        "sys_share": (sys1 - sys0) / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0,
        "rss": proc_rss_mib(server_pid),
        "gen_cpu": (gen1 - gen0) / elapsed,
        # CPU used meanwhile by every other process on the machine (other people's work).
        "others_cpu": max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (gen1 - gen0)) / elapsed,
        "load": os.getloadavg()[0],
        "video_fps": frames["video"] / elapsed / viewers,
        # Server CPU milliseconds per video frame actually delivered (with its audio).
        "cpu_per_frame": (cpu1 - cpu0) * 1000 / max(1, frames["video"]),
        "audio_fps": frames["audio"] / elapsed / viewers,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": statistics.quantiles(lat, n=20)[18] if len(lat) >= 2 else float("nan"),
        "probes": len(lat),
    }


def _pairs(size: int) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for n in range(size):
        pairs[f"agent{n}"], pairs[f"citizen{n}"] = f"citizen{n}", f"agent{n}"
    return pairs


async def run_ours(mode: str, size: int, media: tuple[Any, Any], args: argparse.Namespace) -> dict[str, Any]:
    # pycore: passthrough forwarding with the Python packet core (media/engine/packet_core.py)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "passthrough" if mode == "pycore" else mode]
    cmd += ([] if args.remb is None else ["--remb", args.remb]) + (["--no-uvloop"] if args.no_uvloop else [])
    cmd += (["--stock-path"] if args.stock_path else []) + (["--no-gso"] if args.no_gso else [])
    if args.server_cpu is not None:
        cmd = ["taskset", "-c", str(args.server_cpu), *cmd]
    env = {**os.environ, "GV_PACKET_CORE": "python"} if mode == "pycore" else None
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    clients: list[BenchClient] = []
    try:
        _, port_text, server_loop, server_remb, server_path = server.stdout.readline().split()  # type: ignore[union-attr]  # stdout=PIPE
        reader, writer = await asyncio.open_connection("127.0.0.1", int(port_text), limit=1 << 22)
        rpc = Rpc(reader, writer)
        pairs = _pairs(size)
        for pid in pairs:
            client = BenchClient(rpc, f"room{pid.removeprefix('agent').removeprefix('citizen')}", pid, *media)
            clients.append(client)
            await client.join()
        result = await measure(server.pid, clients, pairs, args.seconds)
        stats = await rpc.call("stats")
        try:
            await rpc.call("shutdown", timeout=60)
        except TimeoutError:
            # An overloaded relay server can take longer than that to close 50 connections
            # with their backlogs: the figures are taken, the finally clause kills it.
            print(f"   ({mode} server slow to shut down: killed)", flush=True)
        return {**result, "mode": mode, "size": size, "loop": server_loop, "path": server_path,
                "remb": server_remb if mode != "relay" else "aiortc",  # relay: aiortc's receivers
                "forwarded": stats["forwarded_tracks"], "engine": stats}
    finally:
        for client in clients:
            await client.close()
        try:
            server.wait(10)  # it exits by itself after "shutdown"
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def run_janus(size: int, media: tuple[Any, Any], args: argparse.Namespace) -> dict[str, Any]:
    janus = janus_peer.JanusProcess(args.server_cpu)
    clients: list[JanusBenchClient] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        pairs = _pairs(size)
        for n in range(size):
            for pid in (f"agent{n}", f"citizen{n}"):
                client = JanusBenchClient(http, janus.url, 1000 + n, pid, *media)
                clients.append(client)
                await client.janus.publish(create=pid.startswith("agent"))  # the agent's page opens the room
        feeds = {c.pid: c.janus.feed for c in clients}
        for client in clients:
            feed = feeds[pairs[client.pid]]
            assert feed is not None
            await client.janus.subscribe(feed)
        result = await measure(janus.pid, clients, pairs, args.seconds)
        return {**result, "mode": "janus", "size": size, "loop": "C", "path": "videoroom", "remb": "janus"}
    finally:
        for client in clients:
            await client.close()
        await http.close()
        janus.stop()


def print_case(result: dict[str, Any], verbose: bool) -> None:
    print(
        f"{result['mode']:<11} {result['size']:>3} appts  [{result['loop']}, REMB {result['remb']}, "
        f"{result['path']} path]  server CPU {result['cpu'] * 100:6.1f}% of a core "
        f"({result['sys_share'] * 100:.0f}% kernel, {result['cpu_per_frame']:.3f} ms per delivered frame)  "
        f"RSS {result['rss']:6.1f} MiB  rx video {result['video_fps']:4.1f} fps audio "
        f"{result['audio_fps']:4.1f}/s per viewer  latency p50 {result['p50']:5.1f} ms "
        f"p95 {result['p95']:5.1f} ms ({result['probes']} probes)  generator CPU "
        f"{result['gen_cpu'] * 100:5.1f}%  others {result['others_cpu'] * 100:.0f}%  load {result['load']:.1f}",
        flush=True,
    )
    if verbose and "engine" in result:
        print("   engine stats:", result["engine"], flush=True)


def median(results: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in results if r[key] == r[key]]  # NaN-free
    return statistics.median(values) if values else float("nan")


def per_core(by_size: dict[int, float], budget: float = 0.70) -> float | None:
    """Appointments one core carries under `budget`, from the slope between the two largest sizes."""
    sizes = sorted(by_size)
    if len(sizes) < 2 or by_size[sizes[-1]] <= by_size[sizes[-2]]:
        return None
    low, high = sizes[-2], sizes[-1]
    slope = (by_size[high] - by_size[low]) / (high - low)
    return low + (budget - by_size[low]) / slope


def summary(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Medians over the rounds, our CPU / Janus's per size (per round, then the median)."""
    modes = [m for m in args.modes if any(r["mode"] == m for r in results)]
    cases = {(m, s): [r for r in results if r["mode"] == m and r["size"] == s] for m in modes for s in args.sizes}
    print()
    print(f"Medians over {args.rounds} interleaved round(s), {args.seconds:.0f} s windows "
          f"(server on CPU {args.server_cpu}, generator on CPU {args.generator_cpu}):")
    print("| appts | mode | CPU (% of a core) | ms CPU per delivered frame | kernel | RSS MiB | rx video fps | "
          "latency p50 / p95 ms | others' CPU | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for mode in modes:
            rows = cases[(mode, size)]
            if not rows:
                continue
            cpus = ", ".join(f"{r['cpu'] * 100:.1f}" for r in rows)

            def m(key: str, rows: list[dict[str, Any]] = rows) -> float:
                return median(rows, key)

            print(f"| {size} | {mode} | {m('cpu') * 100:.1f} ({cpus}) | {m('cpu_per_frame'):.3f} | "
                  f"{m('sys_share') * 100:.0f}% | {m('rss'):.0f} | {m('video_fps'):.1f} | "
                  f"{m('p50'):.1f} / {m('p95'):.1f} | {m('others_cpu') * 100:.0f}% | {m('load'):.1f} |")
    labels = (("janus", "ours / Janus"), ("relay", "relay / ours"), ("frames", "frame-level / packet-level"),
              ("pycore", "Python core / compiled core"))
    for other, label in labels:
        for size in args.sizes:
            ours, theirs = cases.get(("passthrough", size), []), cases.get((other, size), [])
            paired = list(zip(ours, theirs, strict=False))  # the same round: the same machine load
            if not paired:
                continue
            if other == "janus":
                cpu = [o["cpu"] / t["cpu"] for o, t in paired if t["cpu"] > 0]
                frame = [o["cpu_per_frame"] / t["cpu_per_frame"] for o, t in paired if t["cpu_per_frame"] > 0]
            else:
                cpu = [t["cpu"] / o["cpu"] for o, t in paired if o["cpu"] > 0]
                frame = [t["cpu_per_frame"] / o["cpu_per_frame"] for o, t in paired if o["cpu_per_frame"] > 0]
            if cpu and frame:
                print(f"ratio {label} at {size} appts: server CPU {statistics.median(cpu):.2f}x "
                      f"(rounds {', '.join(f'{c:.2f}' for c in cpu)}), per delivered video frame "
                      f"{statistics.median(frame):.2f}x (rounds {', '.join(f'{c:.2f}' for c in frame)})", flush=True)
    for mode in ("passthrough", "janus"):
        by_size = {s: median(cases[(mode, s)], "cpu") for s in args.sizes if cases.get((mode, s))}
        rss = {s: median(cases[(mode, s)], "rss") for s in args.sizes if cases.get((mode, s))}
        sizes = sorted(by_size)
        if len(sizes) >= 2:
            low, high = sizes[-2], sizes[-1]
            carried = per_core(by_size)
            growth = (rss[high] - rss[low]) / (high - low)
            print(f"{mode}: {f'{carried:.0f}' if carried else '-'} appointments per core under 70% "
                  f"(slope {low}->{high}); RSS growth {growth:.2f} MiB per appointment", flush=True)
    print("CPU: % of one core, server process alone (threads included). Expected rx video: ~28.6 fps "
          "(30 fps less the 100 ms probe pause every 2 s). others' CPU: other processes on the machine.")
    if any(r["others_cpu"] > 0.5 for r in results):
        print("WARNING: other processes used more than half a core during some cases: the server and the "
              "load generator were starved there (late packets, loss, fewer frames); compare CPU per "
              "delivered frame and the ratios of one round, or run again on a quiet machine.")


async def bench(args: argparse.Namespace) -> None:
    loopback_only()
    pin(args.generator_cpu)
    aiortc_hooks.install()  # the generator's receivers count encoded frames, never decode
    aiortc_hooks.set_udp_buffer(int(os.environ.get("MEDIA_BENCH_UDP_BUFFER", 4 << 20)))
    if os.environ.get("MEDIA_BENCH_LAG"):
        asyncio.ensure_future(report_lag("generator"))
    t = time.monotonic()
    media = (encode_video(3.0), encode_audio(3.0))
    video_kbps = sum(len(d) for d, _ in media[0]) * 8 / 3.0 / 1000
    print(f"pre-encoded 3 s: {len(media[0])} VP8 frames ({video_kbps:.0f} kbit/s), "
          f"{len(media[1])} Opus packets, in {time.monotonic() - t:.1f} s; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    results = []
    for round_ in range(args.rounds):
        for size in args.sizes:
            for mode in args.modes:
                try:
                    if mode == "janus":
                        result = await run_janus(size, media, args)
                    else:
                        result = await run_ours(mode, size, media, args)
                except (janus_peer.JanusError, RuntimeError, TimeoutError) as exc:
                    print(f"{mode:<11} {size:>3} appts  round {round_ + 1}: FAILED ({type(exc).__name__}: {exc})",
                          flush=True)
                    continue
                result["round"] = round_
                results.append(result)
                print_case(result, args.verbose)
    summary(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,25", help="appointment counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per case")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are printed)")
    parser.add_argument("--modes", default="passthrough,janus,relay",
                        help="passthrough (packet level), janus (Janus VideoRoom), frames (passthrough, frame "
                             "level), pycore (passthrough with the Python packet core), relay")
    parser.add_argument("--no-pin", action="store_true",
                        help="leave the server and the generator unpinned (default: server on the last core, "
                             "generator on the first)")
    parser.add_argument("--remb", choices=aiortc_hooks.REMB_MODES,
                        help="server REMB estimator in passthrough (default: the engine's default, light)")
    parser.add_argument("--no-uvloop", action="store_true",
                        help="run the server (and generator) on asyncio's loop instead of the default uvloop")
    parser.add_argument("--stock-path", action="store_true",
                        help="passthrough on aiortc's stock transport path (media/engine/fast_path.py off)")
    parser.add_argument("--no-gso", action="store_true",
                        help="fast path without UDP GSO: one sendto per packet (media/engine/udp_batch.py)")
    parser.add_argument("--verbose", action="store_true", help="print the engine's stats after each case")
    parser.add_argument("--serve", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    uvloop = not args.no_uvloop  # what a media node process runs on by default
    if args.serve:
        server = serve(args.serve, args.remb, not args.stock_path, not args.no_gso)
        profile = os.environ.get("MEDIA_BENCH_PROFILE")
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(eventloop.run, server, uvloop=uvloop)
            profiler.dump_stats(profile)
        else:
            eventloop.run(server, uvloop=uvloop)
        return
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.modes = args.modes.split(",")
    if "janus" in args.modes and not os.environ.get(janus_peer.server.NETNS_ENV):
        reason = janus_peer.absent_reason()
        if reason is None:
            sys.exit(janus_peer.run_in_namespace(sys.argv))  # the same command, in the bench's namespace
        print(f"JANUS ABSENT: {reason}. Running without it: no ours / Janus ratio.", flush=True)
        args.modes.remove("janus")
    cores = os.cpu_count() or 1
    pinned = not args.no_pin and cores >= 2
    args.server_cpu, args.generator_cpu = (cores - 1, 0) if pinned else (None, None)
    # The generator on the same loop: lighter, so it competes less with the server for the cores.
    eventloop.run(bench(args), uvloop=uvloop)


if __name__ == "__main__":
    main()
