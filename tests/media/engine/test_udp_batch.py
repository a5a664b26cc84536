"""UDP GSO batching (media/engine/udp_batch.py) on a real loopback socket."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from media.engine.udp_batch import GSO_SUPPORTED, MAX_SEGMENTS, Batcher, _burst_end

from .clients import run


@pytest.mark.parametrize(("sizes", "bursts"), [
    ([1200, 1200, 700], [3]),                 # a frame: equal packets, a shorter last one
    ([1200, 1200, 700, 1200, 1200], [3, 2]),  # the next frame starts a new burst
    ([100, 1200, 1200], [1, 2]),              # a larger one cannot follow a smaller size
    ([90, 90], [2]),                          # equal audio packets
    ([500] * (MAX_SEGMENTS + 3), [MAX_SEGMENTS, 3]),  # the kernel's segment limit
    ([1200] * 60, [54, 6]),                   # the 65,000-byte limit of one datagram
])
def test_bursts_are_equal_sizes_closed_by_at_most_one_shorter(sizes: list[int], bursts: list[int]) -> None:
    queued = [b"x" * n for n in sizes]
    found, start = [], 0
    while start < len(queued):
        end = _burst_end(queued, start)
        found.append(end - start)
        start = end
    assert found == bursts


async def _exchange(gso: bool, datagrams: list[bytes]) -> tuple[list[bytes], Batcher]:
    loop = asyncio.get_running_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    batcher = Batcher(loop, transport, receiver.getsockname(), gso=gso)
    try:
        for data in datagrams:
            batcher.send(data)
        assert batcher.datagrams == 0  # nothing leaves before the next pass of the loop
        got: list[bytes] = []
        async with asyncio.timeout(2):
            while len(got) < len(datagrams):
                got.append(await loop.sock_recv(receiver, 65536))
        return got, batcher
    finally:
        batcher.close()
        transport.close()
        receiver.close()


@pytest.mark.parametrize("gso", [pytest.param(True, marks=pytest.mark.skipif(not GSO_SUPPORTED, reason="Linux only")),
                                 False], ids=["gso", "one-by-one"])
def test_the_receiver_gets_the_same_datagrams_in_order(gso: bool) -> None:
    frame = [os.urandom(1200), os.urandom(1200), os.urandom(700)]
    audio = [os.urandom(90), os.urandom(90)]
    datagrams = frame + audio + [os.urandom(1200)]

    got, batcher = run(lambda: _exchange(gso, datagrams))
    assert got == datagrams
    assert batcher.datagrams == len(datagrams)
    # frame in one call, the two audio packets in one, the last alone; else one call each
    assert batcher.system_calls == (3 if gso else len(datagrams))


def test_nothing_is_sent_once_the_transport_is_closing() -> None:
    async def body() -> Batcher:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        batcher = Batcher(loop, transport, ("127.0.0.1", 9))
        batcher.send(b"late")
        transport.close()
        # Sync point: the batcher flushes at the next pass of the loop (call_soon, first in
        # first out): once a callback queued after it has run, the flush has been tried.
        flushed = loop.create_future()
        loop.call_soon(flushed.set_result, None)
        await flushed
        return batcher

    batcher = run(body)
    assert batcher.datagrams == 0 and batcher.system_calls == 0
