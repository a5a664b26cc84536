"""The short per-packet transport path (media/engine/fast_path.py), with real aiortc peers."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import pytest
from aiortc import clock

from media.engine import fast_path
from tests.waiting import wait_until_async

from .clients import COLORS, Room, colour_close, run
from .test_forwarding import two_people


def test_the_clock_gives_aiortcs_values() -> None:
    stock_ms, stock_ntp = fast_path._STOCK_CLOCK
    assert stock_ms is not fast_path.current_ms  # the originals were kept, not the replacements
    assert abs(fast_path.current_ms() - stock_ms()) <= 5
    ours, theirs = fast_path.current_ntp_time(), stock_ntp()
    assert ours >> 32 == pytest.approx(theirs >> 32, abs=1)  # whole seconds since 1900
    assert abs(ours - theirs) < (1 << 32) // 200  # within 5 ms
    assert 0 <= ours & 0xFFFFFFFF < 1 << 32


@pytest.mark.parametrize(("short", "gso"), [(True, True), (True, False), (False, False)],
                         ids=["fast-path-gso", "fast-path", "stock-path"])
def test_media_flows_on_either_path_and_the_short_one_carries_it(short: bool, gso: bool) -> None:
    async def body() -> None:
        room = Room("passthrough", fast_path=short, gso=gso)
        try:
            alice = await room.join("alice", noisy_video=True)
            bob = await room.join("bob", noisy_video=True)
            await wait_until_async(
                lambda: min(alice.frames_from("bob", "video"), bob.frames_from("alice", "video")) > 15,
                15, what="alice and bob to see each other")
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
            for name in ("alice", "bob"):
                pc = room.engine._peer("r1", name).pc
                dtls = pc.getTransceivers()[0].receiver.transport
                received = dtls._RTCDtlsTransport__rx_packets
                direct = fast_path.received_directly(pc)
                calls, datagrams = fast_path.sent(pc)
                if short:
                    # Everything but the DTLS handshake (and what came before it) took the short path.
                    assert direct > 30 and direct >= received - 20, (direct, received)
                    # Video frames of several packets leave in one system call each with GSO.
                    assert datagrams > 30 and (calls < datagrams * 0.9 if gso else calls == datagrams)
                else:
                    assert direct == 0 and received > 30 and datagrams == 0
            assert clock.current_ms is fast_path.current_ms  # installed by the first engine
        finally:
            await room.close()

    run(body)


def test_forged_and_truncated_srtp_is_dropped_and_media_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            pc = room.engine._peer("r1", "alice").pc
            pair = pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1]
            server_address = pair.protocol.transport.get_extra_info("sockname")[:2]
            attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            direct = fast_path.received_directly(pc)
            for garbage in (b"\x80", b"\x80" + os.urandom(60), b"\x81\xc9" + os.urandom(40), b"\xbf" * 1200):
                for _ in range(20):
                    attacker.sendto(garbage, server_address)
            attacker.close()
            await wait_until_async(lambda: fast_path.received_directly(pc) >= direct + 80,
                                   5, what="the garbage to arrive")
            frames = bob.frames_from("alice", "video")
            await wait_until_async(lambda: bob.frames_from("alice", "video") > frames + 10,
                                   5, what="alice's video to go on")
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
        finally:
            await room.close()

    with caplog.at_level(logging.WARNING, logger="media.engine.fast_path"):
        run(body)
    assert not [r for r in caplog.records if r.name == "media.engine.fast_path"]  # dropped quietly, like aiortc


def test_a_handler_that_waits_is_finished_later_and_a_failing_one_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        gate = loop.create_future()
        done: list[str] = []

        async def waits() -> None:
            done.append("started")
            done.append(await gate)

        async def fails() -> None:
            raise ValueError("broken handler")

        fast_path.run_eagerly(loop, waits())
        assert done == ["started"]  # ran at once, up to its first real wait
        fast_path.run_eagerly(loop, fails())
        gate.set_result("finished")
        await wait_until_async(lambda: done == ["started", "finished"], 2, what="the waiting handler to finish")
        assert not fast_path._unfinished

    with caplog.at_level(logging.WARNING, logger="media.engine.fast_path"):
        run(body)
    failures = [r for r in caplog.records if r.name == "media.engine.fast_path"]
    assert len(failures) == 1 and "broken handler" in str(failures[0].exc_info[1])
