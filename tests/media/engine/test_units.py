"""Frame assembly, keyframe detection, fan-out and packetizer timestamps, without a network."""

from __future__ import annotations

import asyncio

from aiortc.rtp import RtpPacket

from media.engine.aiortc_hooks import Packetizer
from media.engine.assembler import AudioAssembler, VideoAssembler
from media.engine.encoded import EncodedFrame, is_keyframe
from media.engine.fanout import Fanout
from tests.waiting import wait_until_async

VP8_KEY = b"\x10\x02\x00\x9d\x01\x2a\x80\x02\xe0\x01"
VP8_DELTA = b"\x31\x02\x00\x00\x00\x00\x00\x00\x00\x00"


def packet(seq: int, ts: int, marker: bool, data: bytes = b"x", ssrc: int = 1) -> RtpPacket:
    p = RtpPacket(payload_type=96, marker=int(marker), sequence_number=seq & 0xFFFF, timestamp=ts, ssrc=ssrc)
    p._data = data  # what the receiver's depayloader sets
    return p


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(assembler: VideoAssembler, packets: list[RtpPacket]) -> list[tuple[bytes, int, bool]]:
    out = []
    for p in packets:
        _, batch = assembler.add(p)
        if batch is not None:
            # `lost` means frames were dropped just before the batch's first frame.
            out += [(data, ts, batch.lost and i == 0) for i, (data, ts) in enumerate(batch.frames)]
    return out


def test_video_frames_leave_at_their_marker_bit_not_one_frame_later() -> None:
    asm = VideoAssembler()
    # The first frame only establishes a boundary (its start is unknown).
    assert feed(asm, [packet(10, 0, True)]) == []
    out = feed(asm, [packet(11, 3000, False, b"a"), packet(12, 3000, True, b"b")])
    assert out == [(b"ab", 3000, False)]


def test_reordered_packets_make_one_frame_and_seq_wraps() -> None:
    asm = VideoAssembler()
    feed(asm, [packet(65534, 0, True)])
    out = feed(asm, [packet(0, 3000, False, b"b"), packet(65535, 3000, False, b"a"), packet(1, 3000, True, b"c")])
    assert out == [(b"abc", 3000, False)]


def test_a_retransmission_fills_the_hole_before_the_timeout() -> None:
    clock = FakeClock()
    asm = VideoAssembler(clock=clock)
    feed(asm, [packet(1, 0, True)])
    assert feed(asm, [packet(2, 3000, False, b"a"), packet(4, 6000, True, b"c")]) == []
    clock.now = 0.1
    out = feed(asm, [packet(3, 3000, True, b"b")])  # the NACKed packet arrives
    assert out == [(b"ab", 3000, False), (b"c", 6000, False)]


def test_unrecovered_loss_does_not_freeze_the_stream() -> None:
    clock = FakeClock()
    asm = VideoAssembler(loss_timeout=0.3, clock=clock)
    feed(asm, [packet(1, 0, True)])
    # Packet 2 (start of frame 3000) never arrives.
    assert feed(asm, [packet(3, 3000, True), packet(4, 6000, True)]) == []
    clock.now = 0.5
    out = feed(asm, [packet(5, 9000, True, b"k")])
    assert [(ts, lost) for _, ts, lost in out] == [(6000, True), (9000, False)]
    assert asm.skips == 1
    # A late copy of the lost packet is ignored.
    assert feed(asm, [packet(2, 3000, False)]) == []


def test_publisher_restart_with_a_new_ssrc_resynchronises() -> None:
    asm = VideoAssembler()
    feed(asm, [packet(100, 0, True), packet(101, 3000, True)])
    out = feed(asm, [packet(7, 500, True, ssrc=2), packet(8, 3500, True, b"n", ssrc=2)])
    assert out == [(b"n", 3500, False)]


def test_audio_packets_are_frames_at_once_and_late_ones_dropped() -> None:
    asm = AudioAssembler()
    assert asm.add(packet(5, 960, False, b"a"))[1].frames == [(b"a", 960)]
    assert asm.add(packet(7, 2880, False, b"c"))[1].frames == [(b"c", 2880)]
    assert asm.add(packet(6, 1920, False, b"b"))[1] is None


def test_keyframe_detection() -> None:
    assert is_keyframe("vp8", VP8_KEY)
    assert not is_keyframe("vp8", VP8_DELTA)
    assert is_keyframe("h264", b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88")
    assert not is_keyframe("h264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("opus", b"\xfc")


def frame(key: bool, ts: int = 0) -> EncodedFrame:
    return EncodedFrame("vp8", VP8_KEY if key else VP8_DELTA, ts, key, stream=1)


def test_fanout_starts_each_viewer_at_a_keyframe_and_rate_limits_pli() -> None:
    async def body() -> None:
        plis: list[float] = []
        loop = asyncio.get_running_loop()
        fanout = Fanout("video", lambda: plis.append(loop.time()), pli_interval=0.2)
        early = fanout.subscribe()
        assert len(plis) == 1  # a newcomer asks for a picture at once
        fanout.push("vp8", [frame(True, 0), frame(False, 3000)], lost=False)
        late = fanout.subscribe()  # inside the interval: deferred, not lost
        fanout.push("vp8", [frame(False, 6000)], lost=False)
        assert len(plis) == 1
        await wait_until_async(lambda: len(plis) == 2, 2, what="the deferred PLI")
        assert plis[1] - plis[0] >= 0.19
        fanout.push("vp8", [frame(True, 9000)], lost=False)
        assert [(await early.recv()).timestamp for _ in range(4)] == [0, 3000, 6000, 9000]
        assert (await late.recv()).timestamp == 9000

    asyncio.run(asyncio.wait_for(body(), 5))


def test_fanout_queue_is_bounded_and_overflow_restarts_at_a_keyframe() -> None:
    async def body() -> None:
        fanout = Fanout("video", lambda: None)
        viewer = fanout.subscribe(max_queue=3)
        fanout.push("vp8", [frame(True, 0)] + [frame(False, i * 3000) for i in range(1, 6)], lost=False)
        assert len(viewer._queue) == 0 and viewer.dropped == 3
        fanout.push("vp8", [frame(False, 30000), frame(True, 33000)], lost=False)
        assert (await viewer.recv()).timestamp == 33000

    asyncio.run(asyncio.wait_for(body(), 5))


def test_fanout_loss_makes_viewers_wait_for_a_keyframe() -> None:
    async def body() -> None:
        plis: list[int] = []
        fanout = Fanout("video", lambda: plis.append(1), pli_interval=0)
        viewer = fanout.subscribe()
        fanout.push("vp8", [frame(True, 0)], lost=False)
        fanout.push("vp8", [frame(False, 3000)], lost=True)
        fanout.push("vp8", [frame(True, 6000)], lost=False)
        assert [(await viewer.recv()).timestamp for _ in range(2)] == [0, 6000]
        assert len(plis) >= 2

    asyncio.run(asyncio.wait_for(body(), 5))


def test_closed_viewer_wakes_its_sender_with_a_no_op_frame() -> None:
    async def body() -> None:
        fanout = Fanout("audio", lambda: None)
        viewer = fanout.subscribe()
        pending = asyncio.ensure_future(viewer.recv())
        await asyncio.sleep(0)  # the scenario: one loop pass, the sender is now blocked in recv()
        fanout.end()
        got = await asyncio.wait_for(pending, 1)
        assert got.data == b"" and fanout.subscribers == []

    asyncio.run(asyncio.wait_for(body(), 5))


def test_packetizer_keeps_timestamps_continuous_across_sources() -> None:
    packer = Packetizer(48000)
    _, first = packer.pack(EncodedFrame("opus", b"a", 1_000_000, True, stream=1))
    _, second = packer.pack(EncodedFrame("opus", b"b", 1_000_960, True, stream=1))
    assert second - first == 960  # same source: publisher spacing kept exactly
    _, third = packer.pack(EncodedFrame("opus", b"c", 5, True, stream=2))
    assert 0 < third - second < 48000  # new source: continues, no jump back to 5


def test_a_new_publisher_stream_is_rebased_and_waits_for_a_keyframe() -> None:
    async def body() -> None:
        fanout = Fanout("video", lambda: None)
        viewer = fanout.subscribe()
        packer = Packetizer(90000)
        before = fanout.stream
        fanout.push("vp8", [EncodedFrame("vp8", VP8_KEY, 1000, True, before)], lost=False)
        fanout.new_stream()
        fanout.push("vp8", [EncodedFrame("vp8", VP8_DELTA, 7, False, fanout.stream)], lost=False)
        fanout.push("vp8", [EncodedFrame("vp8", VP8_KEY, 3007, True, fanout.stream)], lost=False)
        first, second = await viewer.recv(), await viewer.recv()
        assert (first.stream, second.stream, second.timestamp) == (before, fanout.stream, 3007)
        _, ts1 = packer.pack(first)
        _, ts2 = packer.pack(second)
        assert 0 < ts2 - ts1 < 90000  # continuous, not back to 3007

    asyncio.run(asyncio.wait_for(body(), 5))
