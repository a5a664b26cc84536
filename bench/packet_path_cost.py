"""CPU per video packet through a publication's packet path, resolved finer than a CPU-share bench.

`bench/media_bench.py` measures the whole server, but this 2-vCPU VM moves ±10% from round
to round: a change worth a few percent of the per-packet work cannot be seen there. Here a
real publication (an aiortc publisher and `--subscribers` aiortc viewers on loopback, the
engine in this process) first forwards the publisher's live video; then its socket handler
drops what the publisher still sends, and a few seconds of captured packets (unprotected,
as `fast_path` hands them over) are replayed through `PacketPublication.on_rtp` with new
sequence numbers and timestamps: read, receive statistics, REMB estimate, history, the
in-order release and each subscriber's forward (numbering, rewrite, SRTP protect). Each
forward's send only counts the packet (no system call, and the in-process viewers never
decode it), so what is timed is the server's own work per packet. With `--socket` the
packets are protected again with the publisher's own SRTP session and handed to the
transport's socket callback (`fast_path`'s receiver: the SRTP unprotect and the dispatch
too). Best of `--repeats` runs of `--packets` packets, process CPU time.

    .venv/bin/python bench/packet_path_cost.py [--packets 20000] [--subscribers 1] [--repeats 5] [--socket]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def measure(packets: int, subscribers: int, repeats: int, socket: bool) -> list[float]:
    from media.engine import fast_path
    from media.engine.packet_path import PacketPublication
    from tests.media.engine.clients import Room
    from tests.waiting import wait_until_async

    room = Room("passthrough")
    try:
        publisher = await room.join("alice")
        viewers = [await room.join(name) for name in ("bob", "carol", "dave")[:subscribers]]
        await wait_until_async(lambda: all(v.frames_from("alice", "video") > 5 for v in viewers), 20,
                               what="the viewers to see alice")
        publication = room.engine._peer("r1", "alice").publications["video"]
        assert isinstance(publication, PacketPublication) and publication.media_ssrc is not None
        handlers = fast_path._rtp_handlers[publication._receiver.transport]
        captured: list[bytes] = []

        def capture(data: bytes) -> None:
            if int.from_bytes(data[8:12]) == publication.media_ssrc and data[1] & 0x7F == publication._media_pt:
                captured.append(data)
            publication.on_rtp(data)

        ssrcs = [ssrc for ssrc, handler in handlers.items() if handler == publication.on_rtp]
        for ssrc in ssrcs:
            handlers[ssrc] = capture
        await wait_until_async(lambda: len(captured) >= 300, 30, what="300 of alice's video packets")
        for ssrc in ssrcs:
            handlers[ssrc] = lambda data: None  # alice's own packets from now on: dropped
        sent = [0]
        for forward in publication.forwards:
            forward._send = lambda data: sent.__setitem__(0, sent[0] + 1)
        on_rtp = publication.on_rtp
        entry = on_rtp
        if socket:  # the transport's socket callback, and the publisher's SRTP session to feed it
            dtls = publication._receiver.transport
            receiver = dtls.transport._connection._nominated[1].protocol.__dict__["datagram_received"]
            assert isinstance(receiver, fast_path._Receiver)
            tx = next(t.sender.transport for t in publisher.pc.getTransceivers()
                      if t.sender.track is not None and t.sender.track.kind == "video")._tx_srtp
            for ssrc in ssrcs:
                handlers[ssrc] = on_rtp
            address = ("127.0.0.1", 9)

            def entry(data: bytes) -> None:
                receiver(data, address)
        sequence = (int.from_bytes(captured[-1][2:4]) + 1) & 0xFFFF
        first_ts = int.from_bytes(captured[0][4:8])
        span = (int.from_bytes(captured[-1][4:8]) - first_ts + 6000) & 0xFFFFFFFF
        results = []
        for _ in range(repeats):
            # Inputs made before the clock starts: the captured packets, renumbered in order,
            # timestamps moved on by the capture's span per cycle.
            inputs = []
            for i in range(packets):
                data = captured[i % len(captured)]
                cycle = (i // len(captured)) + 1
                timestamp = (int.from_bytes(data[4:8]) + cycle * span) & 0xFFFFFFFF
                packet = data[:2] + struct.pack("!HI", (sequence + i) & 0xFFFF, timestamp) + data[8:]
                inputs.append(tx.protect(packet) if socket else packet)
            sequence = (sequence + packets) & 0xFFFF
            sent[0] = 0
            start = time.process_time()
            for data in inputs:
                entry(data)
            results.append((time.process_time() - start) / packets * 1e6)
            assert sent[0] >= packets * subscribers * 0.99, (sent[0], packets)  # forwarded, all of it
            await asyncio.sleep(0.2)  # the engine's timers (reports, NACK) get their turn
        return results
    finally:
        await room.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--subscribers", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--socket", action="store_true", help="from the socket callback: SRTP unprotect included")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    results = asyncio.run(measure(args.packets, args.subscribers, args.repeats, args.socket))
    where = "socket callback" if args.socket else "on_rtp"
    print(f"packet path from {where}, {args.subscribers} subscriber(s): "
          f"best {min(results):.2f} µs CPU per video packet "
          f"(runs: {', '.join(f'{r:.2f}' for r in results)}; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
