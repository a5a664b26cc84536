"""RED for audio through the engine (issue 25): negotiated where the browser offers it (RED
first in the answer, so Chromium sends it), forwarded as it is to a subscriber that took
RED (its blocks renumbered to that subscriber's Opus), as its primary Opus block to one
that did not, and to the engine's own frame readers (the telephone's decoder)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiortc.rtp import is_rtcp

from media.engine.packet_path import PacketPublication
from media.engine.packets import parse_rtp
from media.engine.red import encode, parse
from tests.waiting import wait_until_async

from .clients import Client, Room, run

RED_PT = 63  # Chromium's number for RED
AIORTC_OPUS = 96  # the test clients' (aiortc's) number for Opus


def with_red(offer: str, opus: int) -> str:
    """The offer as Chromium's: every audio m-line also offers RED of Opus, Opus renumbered
    to `opus` (a browser's own numbering)."""
    out = []
    audio = False
    for line in offer.splitlines():
        if line.startswith("m="):
            audio = line.startswith("m=audio")
            if audio:
                head, pts = line.split(" UDP/TLS/RTP/SAVPF ")
                pts = " ".join(str(opus) if p == str(AIORTC_OPUS) else p for p in pts.split())
                line = f"{head} UDP/TLS/RTP/SAVPF {pts} {RED_PT}"
        elif audio:
            line = re.sub(rf"^a=(rtpmap|fmtp|rtcp-fb):{AIORTC_OPUS} ", rf"a=\1:{opus} ", line)
            if line.startswith(f"a=rtpmap:{opus} "):
                out.append(line)
                line = f"a=rtpmap:{RED_PT} red/48000/2\r\na=fmtp:{RED_PT} {opus}/{opus}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"


@dataclass
class RedClient(Client):
    """A participant whose offer has RED (and Opus numbered `opus`), as Chromium's; if
    `sends_red`, its Opus packets leave as RED (the previous frame, then this one)."""

    opus: int = AIORTC_OPUS
    sends_red: bool = False
    primaries: set[bytes] = field(default_factory=set)  # Opus frames it sent

    async def offer(self) -> str:
        sdp = with_red(await super().offer(), self.opus)
        if self.sends_red:
            self._send_red()
        return sdp

    def answer_sdp(self, sdp: str) -> str:
        return with_red(sdp, self.opus)  # RED kept in the answers (Chromium keeps what it offered)

    def _send_red(self) -> None:
        transport = self.pc.getTransceivers()[0].sender.transport
        real = transport._send_rtp
        previous: list[bytes] = []

        async def send(data: bytes) -> None:
            if not is_rtcp(data) and data[1] & 0x7F == self.opus:
                view = parse_rtp(data)
                frame = view.payload
                self.primaries.add(frame)
                payload = encode(self.opus, frame, [(960, previous[-1])] if previous else [])
                previous[:] = [frame]
                data = bytes((data[0], (data[1] & 0x80) | RED_PT)) + data[2:view.start] + payload
            await real(data)

        transport._send_rtp = send


def record_rtp(client: Client) -> list[tuple[int, bytes]]:
    """(payload type, payload) of every RTP packet the client's transport decrypts."""
    received: list[tuple[int, bytes]] = []
    transport = client.pc.getTransceivers()[0].receiver.transport
    real = transport._handle_rtp_data

    async def recording(data: bytes, arrival_time_ms: int) -> None:
        view = parse_rtp(data)
        received.append((view.payload_type, view.payload))
        await real(data, arrival_time_ms)

    transport._handle_rtp_data = recording
    return received


def test_red_reaches_a_red_subscriber_as_red_and_others_as_opus() -> None:
    async def body() -> None:
        room = Room("passthrough")
        alice = RedClient(room.engine, room.room, "alice", sends_red=True)  # Opus 96, as aiortc numbers it
        room.clients["alice"] = alice
        try:
            await alice.join()
            # alice's answer puts RED first (Chromium sends RED only then), carrying her Opus.
            answer = alice.pc.remoteDescription.sdp
            audio = answer[answer.index("m=audio"):answer.index("m=video")]
            assert audio.split("\r\n")[0].split()[3:5] == [str(RED_PT), str(AIORTC_OPUS)]
            assert f"a=fmtp:{RED_PT} {AIORTC_OPUS}/{AIORTC_OPUS}" in audio
            bob = await room.join("bob", slots=1)  # no RED
            carol = RedClient(room.engine, room.room, "carol", opus=111, slots=1)  # RED, Opus numbered 111
            room.clients["carol"] = carol
            await carol.join()
            at_bob, at_carol = record_rtp(bob), record_rtp(carol)
            publication = room.engine._peer("r1", "alice").publications["audio"]
            assert isinstance(publication, PacketPublication)
            frames = publication.encoded(max_queue=100)  # what the telephone's bridge reads
            # Over 50 packets each (a second of audio: fewer arrive in 2 s on a loaded machine).
            await wait_until_async(
                lambda: sum(p in alice.primaries for _, p in at_bob) > 50
                and sum(pt == RED_PT for pt, _ in at_carol) > 55, 20, what="a second of alice's audio at bob and carol")

            # bob gets alice's own frames as plain Opus, in his numbering.
            from_alice = [(pt, p) for pt, p in at_bob if p in alice.primaries]
            assert len(from_alice) > 50
            assert {pt for pt, _ in from_alice} == {AIORTC_OPUS}
            assert all(pt != RED_PT for pt, _ in at_bob)
            # carol gets RED: the previous frame and this one, blocks renumbered to her Opus 111.
            red = [parse(p, 111) for pt, p in at_carol if pt == RED_PT]
            assert len(red) > 50 and all(r is not None for r in red)
            assert all(bytes(r.primary()) in alice.primaries for r in red if r is not None)
            assert sum(r.redundant == 1 for r in red if r is not None) > 50
            assert not any(parse(p, AIORTC_OPUS) for pt, p in at_carol if pt == RED_PT)
            # The engine's frame readers get plain Opus frames.
            got: list[Any] = [await asyncio.wait_for(frames.recv(), 2) for _ in range(10)]
            assert all(f.data in alice.primaries for f in got)
            assert publication.malformed == 0
            # What the engine counts (and logs as a publication ends): RED with one earlier
            # frame each (the first, with none before it: 0), no plain Opus; to carol as RED,
            # to bob as the primary only.
            assert publication.red_blocks[1] > 50 and set(publication.red_blocks) <= {0, 1}
            assert publication.red_blocks[0] <= 1 and publication.plain_audio == 0
            at = {name: next(f for f in publication.forwards
                             if f.transceiver in room.engine._peer("r1", name).pc.getTransceivers())
                  for name in ("bob", "carol")}
            # A packet may leave as its primary while carol's answer is being applied (aiortc
            # empties the negotiated list before RED is added back, _update_red): plain Opus,
            # which she also negotiated; a loaded machine caught one there. Not more.
            assert at["carol"].red_forwarded > 50 and at["carol"].red_stripped <= 2
            assert at["bob"].red_stripped > 50 and at["bob"].red_forwarded == 0
        finally:
            await room.close()

    run(body)


def test_a_publisher_without_red_reaches_a_red_subscriber_as_opus() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice")  # aiortc: no RED
            carol = RedClient(room.engine, room.room, "carol", opus=111, slots=1)
            room.clients["carol"] = carol
            await carol.join()
            at_carol = record_rtp(carol)
            await wait_until_async(lambda: sum(pt in (111, RED_PT) for pt, _ in at_carol) > 30, 20,
                                   what="alice's audio at carol")
            audio = [pt for pt, _ in at_carol if pt in (111, RED_PT)]
            assert len(audio) > 30 and set(audio) == {111}
        finally:
            await room.close()

    run(body)


def test_red_off_is_not_negotiated_and_publishers_send_opus() -> None:
    """MEDIA_AUDIO_RED=0 (the bench's --no-red): the browser's RED offer is answered without
    it, so the publisher sends plain Opus and nobody gets RED."""
    async def body() -> None:
        room = Room("passthrough", red=False)
        alice = RedClient(room.engine, room.room, "alice")
        room.clients["alice"] = alice
        try:
            await alice.join()
            answer = alice.pc.remoteDescription.sdp
            assert "red/48000" not in answer
            carol = RedClient(room.engine, room.room, "carol", opus=111, slots=1)
            room.clients["carol"] = carol
            await carol.join()
            assert "red/48000" not in carol.pc.remoteDescription.sdp
            at_carol = record_rtp(carol)
            await wait_until_async(lambda: sum(pt in (111, RED_PT) for pt, _ in at_carol) > 30, 20,
                                   what="alice's audio at carol")
            assert {pt for pt, _ in at_carol if pt in (111, RED_PT)} == {111}
            publication = room.engine._peer("r1", "alice").publications["audio"]
            assert isinstance(publication, PacketPublication)
            assert publication.red_packets == 0 and publication.plain_audio > 30
        finally:
            await room.close()

    run(body)


def test_red_added_back_after_the_receiver_registered_is_routed_to_it() -> None:
    """The race a loaded machine hit: aiortc registered alice's audio receiver while a
    renegotiation had emptied its codecs (a first DTLS handshake finishing in between), so
    RED, added back by accept_red, was unrouted and all her audio dropped."""
    from aiortc import RTCPeerConnection
    from aiortc.rtp import RtpPacket

    from media.engine import aiortc_hooks

    async def body() -> None:
        pc = RTCPeerConnection()
        registered, later = pc.addTransceiver("audio"), pc.addTransceiver("audio")
        router = registered.receiver.transport._rtp_router
        router.register_receiver(registered.receiver, ssrcs=[1234], payload_types=[AIORTC_OPUS], mid="0")
        red = RtpPacket(payload_type=RED_PT, ssrc=1234)
        assert router.route_rtp(red) is None  # before: dropped
        aiortc_hooks._route_added_codecs(registered, [RED_PT])
        aiortc_hooks._route_added_codecs(later, [RED_PT])  # not registered yet: left to aiortc
        assert router.route_rtp(red) is registered.receiver
        assert router.payload_type_table[RED_PT] == {registered.receiver}
        await pc.close()

    asyncio.run(body())
