"""Subscribers' loss relayed to an audio publisher's encoder (media/engine/loss_relay.py)."""

from __future__ import annotations

from typing import Any

from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket
from hypothesis import given
from hypothesis import strategies as st

from media.engine.loss_relay import MAX_AGE, DownstreamLoss, reported_fraction, upstream_fraction
from media.engine.packet_path import PacketPublication
from tests.waiting import wait_until_async

from .clients import Room, ToneAudio, run
from .test_forwarding import two_people


def block(ssrc: int, fraction: int, lost: int = 0) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(ssrc=ssrc, fraction_lost=fraction, packets_lost=lost, highest_sequence=1000,
                            jitter=0, lsr=0, dlsr=0)


def test_a_subscribers_report_counts_until_it_is_too_old() -> None:
    loss = DownstreamLoss()
    assert loss.current(0.0) == 0  # never reported
    loss.update(40, 10.0)
    assert loss.current(10.0 + MAX_AGE) == 40
    assert loss.current(10.0 + MAX_AGE + 0.1) == 0
    loss.update(300, 20.0)  # out of range: clamped to what a report can say
    assert loss.current(20.0) == 255


def test_only_the_block_about_our_sender_is_read() -> None:
    packet = RtcpRrPacket(ssrc=1, reports=[block(7, 10), block(9, 60)])
    assert reported_fraction(packet, 9) == 60
    assert reported_fraction(packet, 8) is None
    assert reported_fraction(RtcpRrPacket(ssrc=1, reports=[]), 9) is None


@given(st.integers(0, 255), st.lists(st.integers(0, 255), max_size=6))
def test_the_publisher_is_told_the_worst_hop(own: int, downstream: list[int]) -> None:
    told = upstream_fraction(own, downstream)
    assert told == max([own, *downstream])
    assert 0 <= told <= 255


def audio_publication(room: Room, name: str) -> PacketPublication:
    publication = room.engine._peer("r1", name).publications["audio"]
    assert isinstance(publication, PacketPublication)
    return publication


def test_an_audio_publisher_hears_of_its_subscribers_loss_but_counts_only_its_own() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            sender = next(t.sender for t in alice.pc.getTransceivers() if isinstance(t.sender.track, ToneAudio))
            heard: list[tuple[int, int]] = []  # (fraction lost, cumulative lost) in RRs about alice's audio
            real_handle = sender._handle_rtcp_packet

            async def spy(packet: Any) -> None:
                if isinstance(packet, RtcpRrPacket):
                    heard.extend((b.fraction_lost, b.packets_lost) for b in packet.reports if b.ssrc == sender._ssrc)
                await real_handle(packet)

            sender._handle_rtcp_packet = spy  # type: ignore[method-assign]
            await wait_until_async(lambda: len(heard) >= 1, 5, what="a receiver report to alice")
            assert heard[-1][0] == 0  # loopback: nothing lost anywhere
            # Bob's browser reports 20% loss on his own hop for alice's voice (in every report
            # his receiver sends, as a lossy link would make it).
            forward, = audio_publication(room, "alice").forwards
            receiver = next(t.receiver for t in bob.pc.getTransceivers()
                            if bob.tracks.get(t.mid) == {"participant_id": "alice", "kind": "audio"})
            real_send = receiver._send_rtcp

            async def lossy_reports(packet: Any) -> None:
                if isinstance(packet, RtcpRrPacket):
                    ours = forward.sender._ssrc
                    packet.reports = [block(b.ssrc, 51) if b.ssrc == ours else b for b in packet.reports]
                await real_send(packet)

            receiver._send_rtcp = lossy_reports  # type: ignore[method-assign]
            await wait_until_async(lambda: heard[-1][0] == 51, 5, what="bob's loss relayed to alice's encoder")
            assert heard[-1][1] == 0  # her own link's count: her indicator and congestion control see her hop
        finally:
            await room.close()

    run(body)
