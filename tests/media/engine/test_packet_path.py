"""The packet-level path between real aiortc peers on loopback: what reaches whom, and RTCP."""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import time
from typing import Any

import pytest
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    is_rtcp,
    pack_remb_fci,
)

from media.engine import fast_path, packet_core, playout_hint, rtx_budget
from media.engine.packet_path import UNCAPPED_BITRATE, PacketPublication, feedback_sent
from media.engine.packets import (
    PLAYOUT_DELAY_URI,
    TRANSPORT_CC_URI,
    build_extensions,
    parse_rtp,
    parse_transport_feedback,
    playout_delay,
    rewrite,
)
from media.engine.remb import FLOOR_BPS
from media.engine.repeat import LOSSY, REPEAT_GAP
from tests.waiting import stays_true_until_async, wait_until_async

from .clients import COLORS, Client, ColorVideo, Room, colour_close, remb_to, run
from .test_forwarding import frames_go_by, two_people
from .test_video_fec import drop_and_record


def server_dtls(room: Room, name: str) -> RTCDtlsTransport:
    return room.video_publication(name)._receiver.transport


def client_dtls(client: Client) -> RTCDtlsTransport:
    return next(t.sender.transport for t in client.pc.getTransceivers() if isinstance(t.sender.track, ColorVideo))


def viewer_receiver(viewer: Client, publisher: str) -> Any:
    return next(t.receiver for t in viewer.pc.getTransceivers()
                if viewer.tracks.get(t.mid) == {"participant_id": publisher, "kind": "video"})


def handlers_of(room: Room, name: str) -> dict[int, Any]:
    return fast_path._rtp_handlers[server_dtls(room, name)]


def divert(room: Room, name: str, through: Any, rtx: bool = False) -> None:
    """`name`'s video packets go to `through` (a lossy link) instead of its publication;
    `rtx`: its retransmissions too, once their SSRC shows up."""
    publication = room.video_publication(name)
    handlers = handlers_of(room, name)
    for ssrc, handler in list(handlers.items()):
        if handler == publication.on_rtp:
            handlers[ssrc] = through
    if rtx:
        fast_path._packet_receivers[publication._receiver] = through


class SendTap:
    """What a forward sends, seen at its send seam (SRTP leaves the header clear): its
    retransmissions (when sent, the datagram) and the sequence numbers of its media packets."""

    def __init__(self, forward: Any) -> None:
        self.rtx: list[tuple[float, bytes]] = []
        self.media: list[int] = []
        self._forward, self._real = forward, forward._send
        forward._send = self

    def __call__(self, data: bytes) -> None:
        if data[1] & 0x7F == self._forward._rtx_pt:
            self.rtx.append((time.monotonic(), bytes(data)))
        else:
            self.media.append(int.from_bytes(data[2:4], "big"))
        self._real(data)

    @property
    def rtx_bytes(self) -> int:
        return sum(len(data) for _, data in self.rtx)


async def picture_resumes(viewer: Client, publisher: str, frames: int = 5, timeout: float = 8) -> None:
    before = viewer.frames_from(publisher, "video")
    await wait_until_async(lambda: viewer.frames_from(publisher, "video") > before + frames, timeout,
                           what=f"{publisher}'s picture at the viewer")


def test_packets_are_forwarded_one_by_one_without_frames(active_core: packet_core.Core) -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            forward, = publication.forwards
            assert forward.state.packets > 0  # rewritten and sent by the packet path
            assert forward._forwarder is not None and forward._forwarder.core == active_core.name
            # The history and the numbering are the core's (the compiled one's in C).
            assert type(publication.history) is type(active_core.history(1))
            assert type(forward.state.rewriter) is type(active_core.numbering(90000, True, 0, 0))
            assert publication._tap is None  # nothing assembled: nobody asked for frames
            assert publication.on_rtp in handlers_of(room, "alice").values()
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
        finally:
            await room.close()

    run(body)


def test_a_hole_nack_cannot_repair_is_given_up_and_the_picture_comes_back(active_core: packet_core.Core) -> None:
    """Drop a burst of alice's video at the server, and every retransmission: bob's picture comes back."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            loop = asyncio.get_running_loop()
            outage_until = loop.time() + 0.3
            dropped: list[int] = []

            def lossy(data: bytes) -> None:
                if loop.time() < outage_until or data[1] & 0x7F == publication._rtx_pt:
                    dropped.append(int.from_bytes(data[2:4]))
                    return  # lost, and so is every retransmission
                publication.on_rtp(data)

            divert(room, "alice", lossy, rtx=True)
            requests = publication.keyframe_requests
            await wait_until_async(lambda: room.engine.stats()["loss_skips"] >= 1, 5, what="the hole to be given up on")
            await picture_resumes(bob, "alice", frames=10)
            assert dropped and publication.keyframe_requests > requests
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
        finally:
            await room.close()

    run(body)


def test_after_an_outage_longer_than_the_publishers_history_a_keyframe_is_asked_at_once(
        active_core: packet_core.Core) -> None:
    """Alice's uplink is cut for 1.5 s of media: the first packet after it shows a gap whose
    first packets alice no longer keeps, so the engine asks a keyframe there and then (no
    NACK, no waiting a second to give the holes up), and bob's picture comes back."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            loop = asyncio.get_running_loop()
            outage_until = loop.time() + 1.5
            seen: dict[str, int] = {}

            def cut(data: bytes) -> None:
                if loop.time() < outage_until:
                    return
                if not seen:
                    seen.update(requests=publication.keyframe_requests, nacked=publication._nacks.requests,
                                skips=publication.holes_given_up)
                    publication.on_rtp(data)
                    seen.update(requests_after=publication.keyframe_requests, nacked_after=publication._nacks.requests,
                                skips_after=publication.holes_given_up,
                                pending=int(publication.fanout._pli_handle is not None))
                    return
                publication.on_rtp(data)

            divert(room, "alice", cut)
            await wait_until_async(lambda: "requests_after" in seen, 5, what="alice's video after the outage")
            # Asked by that very packet (or deferred within the fan-out's PLI interval, not lost).
            assert seen["requests_after"] == seen["requests"] + 1 or seen["pending"]
            assert seen["nacked_after"] == seen["nacked"]  # and nothing NACKed
            assert seen["skips_after"] == seen["skips"] + 1 and publication.gaps_beyond_repair == 1
            await picture_resumes(bob, "alice")
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
        finally:
            await room.close()

    run(body)


def test_holes_in_the_publishers_uplink_never_show_in_a_subscribers_numbering(active_core: packet_core.Core) -> None:
    """Alice's uplink loses packets, some repaired, some never: bob's sequence numbers have no
    gap (his loss figures are his own hop's), and his picture comes back."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            forward, = publication.forwards
            real = forward._send
            sent: list[int] = []

            def record(packet: bytes) -> None:  # the forward's send seam (SRTP leaves the header clear)
                if packet[1] & 0x7F != forward._rtx_pt:
                    sent.append(int.from_bytes(packet[2:4]))
                real(packet)

            forward._send = record
            counter = itertools.count()
            lost_for_good: set[int] = set()

            def lossy(data: bytes) -> None:
                n = next(counter)
                sequence = int.from_bytes(data[2:4])
                if data[1] & 0x7F == publication._rtx_pt:
                    original = int.from_bytes(parse_rtp(data).payload[:2])  # RTX: the original number first
                    if original in lost_for_good:
                        return
                elif n % 7 == 3:  # one in seven lost; the first three of them never repaired
                    if len(lost_for_good) < 3:
                        lost_for_good.add(sequence)
                    return
                publication.on_rtp(data)

            divert(room, "alice", lossy, rtx=True)
            await wait_until_async(lambda: room.engine.stats()["loss_skips"] >= 1, 8, what="holes given up on")
            await picture_resumes(bob, "alice")
            assert len(sent) > 5 and lost_for_good
            steps = {(b - a) & 0xFFFF for a, b in itertools.pairwise(sent)}
            assert steps == {1}  # continuous: no hole from alice's uplink reaches bob
        finally:
            await room.close()

    run(body)


def test_a_subscribers_nack_is_answered_from_the_history(active_core: packet_core.Core) -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            forward, = room.video_publication("alice").forwards
            real = forward._send
            skipped: list[int] = []

            def lose_one(packet: bytes) -> None:  # the forward's send seam (SRTP leaves the header clear)
                if len(skipped) < 2:
                    skipped.append(int.from_bytes(packet[2:4]))
                    return
                real(packet)

            forward._send = lose_one
            await wait_until_async(lambda: len(skipped) == 2, 5, what="two packets lost on the way to bob")
            # bob's NACK names the subscriber's sequence numbers; the server finds them in its history.
            await wait_until_async(lambda: forward.retransmitted >= 2, 5, what="bob's NACK answered")
            frames = bob.frames_from("alice", "video")
            await wait_until_async(lambda: bob.frames_from("alice", "video") > frames + 5, 5, what="bob's picture")
            assert forward.repeated == 0  # a clean link: each retransmission once
        finally:
            await room.close()

    run(body)


def test_a_lossy_subscriber_gets_each_retransmission_twice(active_core: packet_core.Core) -> None:
    """Bob's link loses one video packet in nine, retransmissions included: once he reports
    it (LOSSY or more), each retransmission goes to him twice, REPEAT_GAP apart, the same
    protected bytes (his SRTP drops the second copy when the first arrived); his picture flows."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            forward, = room.video_publication("alice").forwards
            assert forward._rtx_pt is not None
            sent = SendTap(forward).rtx  # bob's RTX datagrams, when sent
            drop_and_record(bob, every=9)
            await wait_until_async(lambda: forward.repeated >= 6, 20, what="retransmissions sent twice to bob")
            assert forward.state.hop.repeats(1, time.monotonic())
            firsts: dict[bytes, float] = {}
            twice = 0
            for at, data in sent:
                if data not in firsts:
                    firsts[data] = at
                    continue
                assert at - firsts[data] >= REPEAT_GAP * 0.9  # (the loop's timer may round down)
                twice += 1
            assert twice == forward.repeated
            assert all(sum(1 for _, d in sent if d == data) <= 2 for data in firsts)
            await picture_resumes(bob, "alice")
        finally:
            await room.close()

    run(body)


def test_a_flood_of_nacks_gets_no_more_than_the_retransmission_budget(active_core: packet_core.Core) -> None:
    """Bob NACKs every packet he was sent, again and again (a link suddenly narrower than the
    stream): the retransmissions stay within rtx_budget's share of the media sent to him plus
    its bank, the rest is refused and counted; his picture flows, a later NACK is answered."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            forward, = room.video_publication("alice").forwards
            tap = SendTap(forward)
            media = tap.media  # sequence numbers sent to bob
            await wait_until_async(lambda: len(media) >= 40, 10, what="media to bob")
            budget = forward.state.rtx_budget
            start_octets = forward.state.octets
            for _ in range(30):
                forward.retransmit(media[-40:])
                await asyncio.sleep(0.02)
            assert budget.denied > 0
            assert tap.rtx_bytes <= rtx_budget.SHARE * (forward.state.octets - start_octets) + rtx_budget.CAP
            await picture_resumes(bob, "alice")
            await asyncio.sleep(1.0)  # media earns the budget back
            before = forward.retransmitted
            forward.retransmit(media[-1:])
            assert forward.retransmitted == before + 1
        finally:
            await room.close()

    run(body)


def test_with_repeats_off_a_lossy_subscriber_gets_each_retransmission_once() -> None:
    """MEDIA_REPAIR_REPEAT=0 (the bench's --no-repair-repeat): the same lossy link, no copies."""

    async def body() -> None:
        room = Room("passthrough", repair_repeat=False)
        try:
            alice, bob = await two_people(room)
            forward, = room.video_publication("alice").forwards
            drop_and_record(bob, every=9)
            await wait_until_async(lambda: forward.retransmitted >= 6
                                   and forward.state.loss.current(time.monotonic()) >= LOSSY, 20,
                                   what="bob's losses reported and retransmitted")
            await asyncio.sleep(REPEAT_GAP * 5)
            assert forward.repeated == 0
        finally:
            await room.close()

    run(body)


def test_a_lossy_uplinks_nacks_go_twice(active_core: packet_core.Core) -> None:
    """A stray loss on alice's clean uplink: one NACK, once. Once her uplink shows a loss of
    LOSSY or more in the engine's receiver report, each NACK goes twice, REPEAT_GAP apart (her
    browser ignores the second for a packet it has just retransmitted); her picture flows."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            nacks: list[tuple[float, bytes]] = []
            real = publication._send_rtcp

            def spy(data: bytes) -> None:
                if any(isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK for p in RtcpPacket.parse(data)):
                    nacks.append((time.monotonic(), data))
                real(data)

            publication._send_rtcp = spy  # type: ignore[method-assign]
            counter = itertools.count()
            stray = 0  # original packets to lose next
            every = 0  # then lose every `every`-th one (0: none)

            def lossy(data: bytes) -> None:
                nonlocal stray
                if data[1] & 0x7F != publication._rtx_pt:
                    if stray:
                        stray -= 1
                        return
                    if every and next(counter) % every == every - 1:
                        return
                publication.on_rtp(data)

            divert(room, "alice", lossy, rtx=True)
            stray = 1
            await wait_until_async(lambda: publication._nacks.repairs >= 1, 10, what="the stray loss repaired")
            await asyncio.sleep(REPEAT_GAP * 5)
            assert len(nacks) == 1 and publication.nacks_repeated == 0
            every = 9
            await wait_until_async(lambda: publication.nacks_repeated >= 4, 20, what="NACKs sent twice")
            # The last NACK's second copy may still be REPEAT_GAP away (a loaded machine lets a new
            # loss in right after the fourth repeat): stop losing, and let pending repeats go.
            every = 0
            await asyncio.sleep(REPEAT_GAP * 5)
            lossy_nacks = nacks[1:]
            for _, data in lossy_nacks:
                assert sum(d == data for _, d in lossy_nacks) >= 2, "a NACK went once on a lossy uplink"
            await picture_resumes(bob, "alice")
        finally:
            await room.close()

    run(body)


def test_sender_reports_carry_the_publishers_clock_in_the_subscribers_timeline() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            sent: list[tuple[int, int]] = []  # alice's video SRs: (NTP, RTP)
            video_ssrc = next(t.sender._ssrc for t in alice.pc.getTransceivers()
                              if isinstance(t.sender.track, ColorVideo))
            dtls = client_dtls(alice)
            real_send = dtls._send_rtp

            async def spy_send(data: bytes) -> None:
                if is_rtcp(data):
                    for packet in RtcpPacket.parse(data):
                        if isinstance(packet, RtcpSrPacket) and packet.ssrc == video_ssrc:
                            sent.append((packet.sender_info.ntp_timestamp, packet.sender_info.rtp_timestamp))
                await real_send(data)

            dtls._send_rtp = spy_send  # type: ignore[method-assign]
            received: list[tuple[int, int, int]] = []
            receiver = viewer_receiver(bob, "alice")
            real_handle = receiver._handle_rtcp_packet

            async def spy_handle(packet: Any) -> None:
                if isinstance(packet, RtcpSrPacket):
                    info = packet.sender_info
                    received.append((info.ntp_timestamp, info.rtp_timestamp, info.packet_count))
                await real_handle(packet)

            receiver._handle_rtcp_packet = spy_handle
            await wait_until_async(lambda: any(ntp in dict(sent) for ntp, _, _ in received), 10,
                                   what="bob to get a sender report made from one of alice's")
            forward, = room.video_publication("alice").forwards
            ntp, rtp_ts, packets = next(r for r in received if r[0] in dict(sent))
            assert rtp_ts == forward.state.rewriter.output_timestamp(dict(sent)[ntp])
            assert 0 < packets <= forward.state.packets
        finally:
            await room.close()

    run(body)


def test_forged_replayed_wrong_ssrc_and_malformed_packets_are_dropped() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            publication = room.video_publication("alice")
            dtls = client_dtls(alice)
            ice_send = dtls.transport._send
            captured: list[bytes] = []

            async def capture(data: bytes) -> None:
                if not captured and 127 < data[0] < 192 and not is_rtcp(data):
                    captured.append(data)
                await ice_send(data)

            dtls.transport._send = capture
            await wait_until_async(lambda: captured, 5, what="one of alice's SRTP packets")
            received_before = publication.stats.received
            malformed = fast_path.dropped["malformed"]
            await ice_send(captured[0])  # replayed: libsrtp refuses it
            forged = bytearray(captured[0])
            forged[-1] ^= 0xFF  # authentication tag broken
            await ice_send(bytes(forged))
            await ice_send(struct.pack("!BBHII", 0x80, 96, 1, 2, 3) + os.urandom(40))  # never protected
            # Authentic (alice's own keys) but wrong: an SSRC with a payload type nobody negotiated...
            await dtls._send_rtp(struct.pack("!BBHII", 0x80, 55, 1, 2, 0x0BADBAD0) + b"x" * 20)
            # ...and malformed inside: padding longer than the packet (her video's payload type, so
            # aiortc's router gives this new SSRC to her video publication).
            bad = struct.pack("!BBHII", 0xA0, publication._media_pt, 1, 0, 0x0BADF00D) + b"\x00" * 10 + b"\xff"
            await dtls._send_rtp(bad)
            await wait_until_async(lambda: fast_path.dropped["malformed"] > malformed, 5,
                                   what="the malformed packet refused")
            frames = bob.frames_from("alice", "video")
            await wait_until_async(lambda: bob.frames_from("alice", "video") > frames + 10, 5,
                                   what="bob's picture to go on")
            assert publication.stats.received > received_before
            assert 0x0BADBAD0 not in handlers_of(room, "alice")
        finally:
            await room.close()

    run(body)


# --- transport-cc ------------------------------------------------------------------------------

TCC_ID = 9


class TransportCcClient(Client):
    """An aiortc client made to look like Chromium: offers transport-cc and numbers its packets."""

    async def offer(self) -> str:
        return offer_with_transport_cc(await super().offer())

    async def join(self) -> dict[str, Any]:
        reply = await super().join()
        self.reply_sdp = reply["sdp"]
        dtls = client_dtls(self)
        real_send = dtls._send_rtp
        self.numbers = itertools.count()
        self.sent: dict[int, float] = {}
        self.feedback: list[bytes] = []

        async def numbered(data: bytes) -> None:
            if not is_rtcp(data):
                view = parse_rtp(data)
                seq = next(self.numbers) & 0xFFFF
                self.sent[seq] = asyncio.get_running_loop().time()
                ext = build_extensions([*view.extensions, (TCC_ID, seq.to_bytes(2, "big"))])
                data = rewrite(view, view.ssrc, view.payload_type, view.sequence, view.timestamp, ext)
            await real_send(data)

        dtls._send_rtp = numbered  # type: ignore[method-assign]
        real_rtcp = dtls._handle_rtcp_data

        async def spy(data: bytes) -> None:
            pos = 0
            while pos + 4 <= len(data):
                length = 4 * (int.from_bytes(data[pos + 2:pos + 4]) + 1)
                if data[pos + 1] == 205 and data[pos] & 0x1F == 15:
                    self.feedback.append(data[pos:pos + length])
                pos += length
            await real_rtcp(data)

        dtls._handle_rtcp_data = spy  # type: ignore[method-assign]
        return reply


def offer_with_transport_cc(sdp: str) -> str:
    out = []
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("a=mid:"):
            out.append(f"a=extmap:{TCC_ID} {TRANSPORT_CC_URI}")
        if line.startswith("a=rtpmap:") and "rtx" not in line:
            out.append(f"a=rtcp-fb:{line[9:].split()[0]} transport-cc")
    return "\r\n".join(out) + "\r\n"


def test_transport_cc_is_negotiated_fed_back_and_replaces_the_server_estimate() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice = TransportCcClient(room.engine, room.room, "alice")
            room.clients["alice"] = alice
            await alice.join()
            assert f"a=extmap:{TCC_ID} {TRANSPORT_CC_URI}" in alice.reply_sdp
            assert "transport-cc" in alice.reply_sdp
            bob = await room.join("bob")
            rembs = remb_to(alice, bob)
            await wait_until_async(lambda: bob.frames_from("alice", "video") > 5, 15, what="bob to see alice")
            await wait_until_async(lambda: len(alice.feedback) >= 5, 5, what="transport-cc feedback to alice")
            reported: dict[int, int] = {}
            for packet in alice.feedback:
                report = parse_transport_feedback(packet)
                reported.update({s: t for s, t in report.arrivals.items() if t is not None})
            # Every packet alice numbered before the last feedback is reported as received (loopback).
            last = max(reported)
            assert set(reported) == {s for s in alice.sent if s <= last}
            assert feedback_sent(server_dtls(room, "alice")) >= len(alice.feedback)
            # Her browser's own estimator sets her rate: no server-side estimate is sent...
            await stays_true_until_async(lambda: rembs == [], until=frames_go_by(bob, "alice"),
                                         what="no server REMB while transport-cc runs")
            # ...but her viewers' lowest REMB still caps her.
            receiver = viewer_receiver(bob, "alice")
            ssrc = receiver.getSynchronizationSources()[0].source
            await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=receiver._RTCRtpReceiver__rtcp_ssrc,
                                                     media_ssrc=0, fci=pack_remb_fci(300_000, [ssrc])))
            await wait_until_async(lambda: rembs != [], 5, what="the viewers' cap sent to alice")
            assert rembs[-1] == 300_000
            # A viewer's REMB under the floor (a lossy mobile link read as a queue) caps her
            # at the floor, not at Chromium's minimum.
            await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=receiver._RTCRtpReceiver__rtcp_ssrc,
                                                     media_ssrc=0, fci=pack_remb_fci(40_000, [ssrc])))
            await wait_until_async(lambda: rembs[-1] != 300_000, 5, what="the next cap sent to alice")
            assert rembs[-1] == FLOOR_BPS
            # Bob goes audio only: his last REMB, stale, caps her no more, and her browser
            # (which keeps a REMB as its cap until the next) is told so.
            await room.engine.set_audio_only(room.room, "bob", True)
            await wait_until_async(lambda: rembs[-1] == UNCAPPED_BITRATE, 5, what="alice's cap lifted")
            # Video back to bob: the REMB he sent before his pause (measured on a stream that
            # stopped) is not his cap any more; his next one will be.
            await room.engine.set_audio_only(room.room, "bob", False)
            forwards = room.engine._peer(room.room, "bob").forwards
            forward = next(f for (_, kind), f in forwards.items() if kind == "video")
            assert forward.state.remote_bitrate is None
        finally:
            await room.close()

    run(body)


def test_receiver_reports_to_a_publisher_are_the_engines_only() -> None:
    """A packet that reached aiortc's stock path before the short path took the transport (the
    DTLS handshake just done) started aiortc's own statistics for its SSRC, which aiortc then
    reported every 0.5-1.5 s from the engine's RTCP SSRC: the browser's count of its lost
    packets read 0 in every other report (10% loss bench). Here such a packet is handed to the
    stock path mid-call: every report alice then gets on her audio still carries the engine's
    highest sequence number, never the stale packet's."""
    from aiortc.rtp import RtcpRrPacket, RtpPacket

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, _bob = await two_people(room)
            publication = room.engine._peer("r1", "alice").publications["audio"]
            assert isinstance(publication, PacketPublication) and publication.media_ssrc is not None
            ssrc = publication.media_ssrc
            sender = next(t.sender for t in alice.pc.getTransceivers() if t.kind == "audio" and t.sender.track)
            highest: list[int] = []
            real = sender._handle_rtcp_packet

            async def spy(packet: Any) -> None:
                if isinstance(packet, RtcpRrPacket):
                    highest.extend(r.highest_sequence for r in packet.reports if r.ssrc == ssrc)
                await real(packet)

            sender._handle_rtcp_packet = spy  # type: ignore[method-assign]
            stale = (publication.stats.highest - 1000) & 0xFFFF
            await publication._receiver._handle_rtp_packet(
                RtpPacket(payload_type=publication._media_pt, sequence_number=stale, timestamp=0, ssrc=ssrc,
                          payload=b"\xf8\xff\xfe"), arrival_time_ms=0)
            await wait_until_async(lambda: len(highest) >= 3, 10, what="3 receiver reports to alice")
            await asyncio.sleep(2)  # aiortc's own loop reports every 0.5-1.5 s
            assert all(h & 0xFFFF != stale for h in highest), highest
            assert highest == sorted(highest), highest
        finally:
            await room.close()

    run(body)


# --- playout delay ----------------------------------------------------------------------------

PLAYOUT_ID = 12


def with_playout_delay(sdp: str, ext_id: int = PLAYOUT_ID) -> str:
    """A description with the playout-delay extension on its video m-lines, as Chromium's."""
    out, video = [], False
    for line in sdp.splitlines():
        if line.startswith("m="):
            video = line.startswith("m=video")
        out.append(line)
        if video and line.startswith("a=mid:"):
            out.append(f"a=extmap:{ext_id} {PLAYOUT_DELAY_URI}")
    return "\r\n".join(out) + "\r\n"


def playout_ids(sdp: str) -> list[int]:
    """The playout-delay extension's id on each m-line of a description that has it."""
    return [int(line.split()[0].split(":")[1]) for line in sdp.splitlines()
            if line.startswith("a=extmap:") and line.endswith(PLAYOUT_DELAY_URI)]


class PlayoutDelayClient(Client):
    """An aiortc client that takes the playout-delay extension as Chromium does (offers it on
    its video m-lines, answers it where offered), and records the values its packets carry."""

    delays: list[bytes]

    async def offer(self) -> str:
        return with_playout_delay(await super().offer())

    async def join(self) -> dict[str, Any]:
        reply = await super().join()
        self.delays = []
        transport = self.pc.getTransceivers()[0].receiver.transport  # bundled: one for all
        real = transport._handle_rtp_data

        async def spy(data: bytes, arrival_time_ms: int) -> None:
            view = parse_rtp(data)
            for ext_id in set(playout_ids(self.pc.remoteDescription.sdp)):
                value = view.extension(ext_id)
                if value is not None:
                    self.delays.append(value)
            await real(data, arrival_time_ms)

        transport._handle_rtp_data = spy
        return reply

    def answer_sdp(self, sdp: str) -> str:
        offered = playout_ids(self.pc.remoteDescription.sdp)
        return with_playout_delay(sdp, offered[0]) if offered else sdp


@pytest.mark.parametrize(("slots", "late"), [(0, False), (1, False), (0, True)],
                         ids=["server-offer", "slot", "negotiated-after-prepared"])
def test_while_a_publishers_uplink_is_repaired_its_viewers_are_asked_a_deeper_buffer(
        active_core: packet_core.Core, monkeypatch: pytest.MonkeyPatch, slots: int, late: bool) -> None:
    """Bob's browser takes the playout-delay extension, on a receive-only slot of his own
    offer or on the m-line of the server's offer that alice's video comes on. Clean: bob's
    packets carry none. Alice's uplink loses packets that retransmissions repair: from then on
    every video packet to bob asks for the engine's hint (1.5 of alice's repair round trips);
    once repairs stop for the hint's window, 0 (said, not dropped: libwebrtc keeps the last).
    `late`: bob's forward was prepared while his answer was being applied (aiortc had reset the
    extensions, accept_playout_delay not yet run): it takes the extension at the first hint."""
    monkeypatch.setattr(playout_hint, "WINDOW", 1.5)
    monkeypatch.setattr(playout_hint, "FREEZE_RTT", 0.0)  # loopback: a round trip of a few ms

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice = await room.join("alice")
            bob = PlayoutDelayClient(room.engine, room.room, "bob", slots=slots)
            room.clients["bob"] = bob
            await bob.join()
            await wait_until_async(lambda: bob.frames_from("alice", "video") > 10, 15, what="bob to see alice")
            assert bob.offers_answered == 1 - slots  # alice's video came on the slot, or by a server offer
            publication = room.video_publication("alice")
            forward, = publication.forwards
            negotiated = forward.transceiver._headerExtensions
            assert PLAYOUT_DELAY_URI in {e.uri for e in negotiated}
            if late:
                forward.transceiver._headerExtensions = [e for e in negotiated if e.uri != PLAYOUT_DELAY_URI]
                forward._make_forwarder()
                assert forward._mapper is not None and forward._mapper.playout_id is None
                forward.transceiver._headerExtensions = negotiated
            assert bob.delays == [] and publication.playout_delay_ms == 0
            counter = itertools.count()
            losing = True

            def lossy(data: bytes) -> None:
                if losing and data[1] & 0x7F != publication._rtx_pt and next(counter) % 9 == 4:
                    return  # lost; its retransmission passes
                publication.on_rtp(data)

            divert(room, "alice", lossy, rtx=True)
            await wait_until_async(lambda: publication.playout_delay_ms > 0, 8, what="the hint after repairs")
            hint = publication.playout_delay_ms
            assert 0 < hint <= playout_hint.CAP_MS
            await wait_until_async(lambda: playout_delay(hint) in bob.delays, 5, what="the hint in bob's packets")
            losing = False
            await wait_until_async(lambda: publication.playout_delay_ms == 0, 5, what="the hint's end")
            count = len(bob.delays)
            await wait_until_async(lambda: len(bob.delays) > count + 5, 5, what="bob's next packets")
            assert set(bob.delays[count:]) == {playout_delay(0)}
            assert alice.frames_from("bob", "video") > 0
        finally:
            await room.close()

    run(body)


@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
def test_the_playout_delay_is_answered_on_the_m_lines_the_engine_sends_video_on_unless_off(on: bool) -> None:
    """The room page offers its own video (sendrecv) and receive-only slots that the room's
    tracks arrive on: the answer takes the extension on the slot only, with the page's id
    (the engine writes it on what it sends); MEDIA_PLAYOUT_HINT=0 (the bench's
    --no-playout-hint) refuses it."""

    async def body() -> None:
        room = Room("passthrough", playout_hint=on)
        try:
            bob = Client(room.engine, room.room, "bob", slots=1)
            try:
                sdp = with_playout_delay(await bob.offer())
                assert sdp.count(PLAYOUT_DELAY_URI) == 2  # his video and the slot's
                reply = await room.engine.join(room.room, "bob", sdp)
                assert playout_ids(reply["sdp"]) == ([PLAYOUT_ID] if on else [])
                video = reply["sdp"].split("m=video")
                assert PLAYOUT_DELAY_URI not in video[1] and (PLAYOUT_DELAY_URI in video[2]) is on
            finally:
                await bob.close()
        finally:
            await room.close()

    run(body)
