"""Real aiortc peers on loopback, through the engine, in both modes."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest

from media.engine import MediaEngine, NegotiationError, SdpError, UnknownPeerError, packet_core, packet_path
from tests.waiting import stays_true_for_async, stays_true_until_async, wait_until_async

from .clients import COLORS, Client, ColorVideo, Room, colour_close, remb_to, run

MODES = ["passthrough", "relay"]


async def two_people(room: Room) -> tuple[Any, Any]:
    alice = await room.join("alice")
    bob = await room.join("bob")
    await wait_until_async(
        lambda: all(c.frames_from(o, k) > 5 for c, o in ((alice, "bob"), (bob, "alice")) for k in ("audio", "video")),
        15,
        what="alice and bob to receive each other's audio and video",
    )
    return alice, bob


@pytest.mark.parametrize("mode", MODES)
def test_two_participants_receive_each_others_audio_and_video(mode: str) -> None:
    async def body() -> None:
        room = Room(mode)
        try:
            alice, bob = await two_people(room)
            # The tracks map says whose picture each mid carries: check the colour.
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
            assert colour_close(alice.colour_from("bob"), COLORS["bob"])
            assert len(alice.tracks) == 2
            stats = room.engine.stats()
            assert {k: stats[k] for k in ("mode", "rooms", "peers", "published_tracks", "forwarded_tracks")} == {
                "mode": mode,
                "rooms": 1,
                "peers": 2,
                "published_tracks": 4,
                "forwarded_tracks": 4,
            }
            assert stats["paused_tracks"] == 0
        finally:
            await room.close()

    run(body)


@pytest.mark.parametrize("mode", MODES)
def test_third_joins_all_see_each_other_then_leave_removes_tracks(mode: str) -> None:
    async def body() -> None:
        room = Room(mode)
        try:
            alice, bob = await two_people(room)
            carol = await room.join("carol")
            people = {"alice": alice, "bob": bob, "carol": carol}
            await wait_until_async(
                lambda: all(
                    people[v].frames_from(p, "video") > 3 and people[v].frames_from(p, "audio") > 3
                    for v in people
                    for p in people
                    if v != p
                ),
                20,
                what="everyone to see and hear everyone",
            )
            for viewer in people.values():
                for publisher in people:
                    if publisher != viewer.name:
                        assert colour_close(viewer.colour_from(publisher), COLORS[publisher])
                assert len(viewer.tracks) == 4
                # Each publisher's audio and video share one msid stream (lip sync), distinct per publisher.
                streams = viewer.streams()
                by_publisher: dict[str, set[str]] = {}
                for mid, info in viewer.tracks.items():
                    by_publisher.setdefault(info["participant_id"], set()).add(streams[mid])
                assert all(len(ids) == 1 for ids in by_publisher.values())
                assert len(set.union(*by_publisher.values())) == 2

            await room.leave("bob")
            await wait_until_async(lambda: len(alice.tracks) == 2 and len(carol.tracks) == 2,
                                   10, what="bob's tracks to go")
            assert {i["participant_id"] for i in alice.tracks.values()} == {"carol"}
            assert {i["participant_id"] for i in carol.tracks.values()} == {"alice"}
            before = alice.frames_from("carol", "video")
            await wait_until_async(lambda: alice.frames_from("carol", "video") > before + 5,
                                   10, what="alice to keep seeing carol")
            assert room.engine.stats()["forwarded_tracks"] == 4
        finally:
            await room.close()

    run(body)


def test_a_rejoiner_reuses_idle_transceivers_in_passthrough() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, _ = await two_people(room)
            await room.leave("bob")
            await wait_until_async(lambda: alice.tracks == {}, 10, what="bob's tracks to go")
            m_lines = len(alice.pc.getTransceivers())
            bob = await room.join("bob")
            await wait_until_async(
                lambda: alice.frames_from("bob", "video") > 3 and bob.frames_from("alice", "video") > 3,
                15, what="media after the rejoin")
            assert len(alice.pc.getTransceivers()) == m_lines  # no new m-lines
            assert colour_close(alice.colour_from("bob"), COLORS["bob"])
        finally:
            await room.close()

    run(body)


async def video_packets(client: Any, publisher: str) -> int:
    for transceiver in client.pc.getTransceivers():
        if client.tracks.get(transceiver.mid) == {"participant_id": publisher, "kind": "video"}:
            stats = await transceiver.receiver.getStats()
            return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")
    raise AssertionError(f"no video track from {publisher}")


@pytest.mark.parametrize("mode", MODES)
def test_audio_only_subscriber_receives_no_video_packets(mode: str, active_core: packet_core.Core) -> None:
    """In passthrough on each packet core (relay: the core is not used)."""
    async def body() -> None:
        room = Room(mode)
        try:
            alice, bob = await two_people(room)
            audio = bob.frames_from("alice", "audio")
            await room.engine.set_audio_only("r1", "bob", True)
            # Sync point: half a second more of audio has arrived since the switch, and with
            # it the last video frame being sent (or encoded, in relay mode) at the switch.
            await wait_until_async(lambda: bob.frames_from("alice", "audio") > audio + 25, 5,
                                   what="audio sent after the switch to arrive")
            packets = await video_packets(bob, "alice")
            audio = bob.frames_from("alice", "audio")

            async def no_new_video() -> bool:
                return await video_packets(bob, "alice") == packets

            await stays_true_until_async(no_new_video, until=lambda: bob.frames_from("alice", "audio") > audio + 50,
                                         what="no video packet while a second of audio reaches bob")
            assert alice.frames_from("bob", "video") > 0  # alice is unaffected
            assert room.engine.stats()["paused_tracks"] == 1

            await room.engine.set_audio_only("r1", "bob", False)
            frames = bob.frames_from("alice", "video")
            await wait_until_async(lambda: bob.frames_from("alice", "video") > frames + 5, 5, what="video to resume")
        finally:
            await room.close()

    run(body)


GARBAGE = [
    ("hello, I am not SDP", "no audio or video m-line"),
    ("", "empty SDP"),
    ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no audio or video m-line"),
    ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF abc\r\n", "unparsable SDP"),
]


def vp9_only(sdp: str) -> str:
    """The client's real offer with its video codecs replaced by one this server lacks."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("m=video"):
            line = " ".join(line.split()[:3] + ["120"])
            out.append(line)
            out.append("a=rtpmap:120 VP9/90000")
            continue
        if line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) and out and _in_video(out):
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def _in_video(lines: list[str]) -> bool:
    m_lines = [line for line in lines if line.startswith("m=")]
    return bool(m_lines) and m_lines[-1].startswith("m=video")


def test_bad_sdp_raises_media_error_and_others_keep_working() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            for sdp, message in GARBAGE:
                with pytest.raises(SdpError, match=message):
                    await room.engine.join("r1", "mallory", sdp)
            # A well-formed offer with no codec in common.
            offer = alice.pc.localDescription.sdp
            with pytest.raises(SdpError, match="no common video codec.*VP9"):
                await room.engine.join("r1", "mallory", vp9_only(offer))
            with pytest.raises(NegotiationError):
                await room.engine.answer("r1", "alice", offer)  # no server offer is waiting
            # A garbage answer to a real server offer is refused; the right one then works.
            carol = Client(room.engine, "r1", "carol")
            offers: list[dict[str, Any]] = []
            carol.deliver = offers.append
            room.clients["carol"] = carol
            await carol.join()
            await wait_until_async(lambda: offers != [], 5, what="carol's server offer")
            with pytest.raises(SdpError, match="answer"):
                await room.engine.answer("r1", "carol", "garbage")
            carol._offers.put_nowait(offers[0])
            await wait_until_async(lambda: carol.frames_from("alice", "video") > 3, 10, what="carol to see alice")
            with pytest.raises(UnknownPeerError):
                await room.engine.set_audio_only("r1", "nobody", True)

            assert room.engine.stats()["peers"] == 3
            before = (alice.frames_from("bob", "video"), bob.frames_from("alice", "video"))
            await wait_until_async(
                lambda: alice.frames_from("bob", "video") > before[0] + 5
                and bob.frames_from("alice", "video") > before[1] + 5,
                5,
                what="alice and bob to keep receiving",
            )
        finally:
            await room.close()

    run(body)


class CodecCensus:
    """Counts decoders/encoders aiortc creates, split into server-side and client-side."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoders: list[Any] = []  # decoder_worker input queues that created a decoder
        self.encoders: list[Any] = []  # senders that created an encoder
        real_decoder = aiortc.rtcrtpreceiver.get_decoder
        real_encoder = aiortc.rtcrtpsender.get_encoder

        def get_decoder(codec: Any) -> Any:
            self.decoders.append(sys._getframe(1).f_locals.get("input_q"))
            return real_decoder(codec)

        def get_encoder(codec: Any) -> Any:
            self.encoders.append(sys._getframe(1).f_locals.get("self"))
            return real_encoder(codec)

        monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", get_decoder)
        monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)

    def on_server(self, engine: MediaEngine) -> tuple[int, int]:
        peers = [p for room in engine._rooms.values() for p in room.values()]
        senders = {id(t.sender) for p in peers for t in p.pc.getTransceivers()}
        queues = {id(t.receiver._RTCRtpReceiver__decoder_queue) for p in peers for t in p.pc.getTransceivers()}
        return (
            sum(1 for q in self.decoders if id(q) in queues),
            sum(1 for s in self.encoders if id(s) in senders),
        )


@pytest.mark.parametrize("mode", MODES)
def test_passthrough_instantiates_no_codec_on_the_server(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    census = CodecCensus(monkeypatch)

    async def body() -> tuple[int, int]:
        room = Room(mode)
        try:
            await two_people(room)
            # Clients decode what they receive and encode what they send: the census works.
            assert len(census.decoders) >= 4 and len(census.encoders) >= 4
            return census.on_server(room.engine)
        finally:
            await room.close()

    decoders, encoders = run(body)
    if mode == "passthrough":
        assert (decoders, encoders) == (0, 0)
    else:
        assert decoders == 4 and encoders == 4  # the relay baseline transcodes every track


def frames_go_by(viewer: Client, publisher: str, count: int = 10) -> Any:
    """A sync point: `count` more of the publisher's video frames reached `viewer`, so they
    went through the publisher's fan-out (where a frame grab could decode them)."""
    start = viewer.frames_from(publisher, "video")
    return lambda: viewer.frames_from(publisher, "video") >= start + count


def test_frames_decodes_only_while_iterated(monkeypatch: pytest.MonkeyPatch) -> None:
    import media.engine.framegrab as framegrab

    decodes: list[int] = []
    real_get_decoder = framegrab.get_decoder

    def counting_get_decoder(codec: Any) -> Any:
        decoder = real_get_decoder(codec)
        real_decode = decoder.decode

        def decode(frame: Any) -> Any:
            decodes.append(1)
            return real_decode(frame)

        decoder.decode = decode
        return decoder

    monkeypatch.setattr(framegrab, "get_decoder", counting_get_decoder)

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            frames = room.engine.frames("r1", "alice")
            await stays_true_until_async(lambda: decodes == [], until=frames_go_by(bob, "alice"),
                                         what="nothing decoded: created, not iterated")
            images = [await asyncio.wait_for(anext(frames), 5) for _ in range(3)]
            assert images[0].shape == (120, 160, 3)
            assert colour_close(tuple(int(v) for v in images[-1].reshape(-1, 3).mean(axis=0)), COLORS["alice"])
            done = len(decodes)
            await stays_true_until_async(lambda: len(decodes) == done, until=frames_go_by(bob, "alice"),
                                         what="nothing decoded: not consumed, frames wait encoded in a small queue")
            await frames.aclose()
            await stays_true_until_async(lambda: len(decodes) == done, until=frames_go_by(bob, "alice"),
                                         what="nothing decoded once closed")
            publication = room.engine._peer("r1", "alice").publications["video"]
            viewers = publication.fanout.subscribers + getattr(publication, "forwards", [])  # frame or packet path
            assert len(viewers) == 1  # only bob's forward is left
            with pytest.raises(UnknownPeerError):
                room.engine.frames("r1", "nobody")
        finally:
            await room.close()

    run(body)


def test_pli_from_a_subscriber_reaches_the_publisher(monkeypatch) -> None:
    # A newcomer within 0.5 s of a keyframe starts at it, replayed (test_prepared.py): off
    # here, where the newcomer's own request is what is tested.
    monkeypatch.setattr(packet_path, "KEYFRAME_REPLAY_AGE", 0.0)

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            video_sender = next(t.sender for t in alice.pc.getTransceivers() if isinstance(t.sender.track, ColorVideo))
            requests: list[float] = []
            real = video_sender._send_keyframe

            def counting() -> None:
                requests.append(asyncio.get_running_loop().time())
                real()

            video_sender._send_keyframe = counting
            receiver = next(
                t.receiver
                for t in bob.pc.getTransceivers()
                if bob.tracks.get(t.mid) == {"participant_id": "alice", "kind": "video"}
            )
            ssrc = receiver.getSynchronizationSources()[0].source
            # The scenario: the burst comes once the join-time requests' rate-limit window
            # (500 ms) is over, as a later loss would.
            await asyncio.sleep(0.6)
            for _ in range(5):  # a burst of PLIs from bob...
                await receiver._send_rtcp_pli(ssrc)
            await wait_until_async(lambda: len(requests) >= 1, 3, what="alice to be asked for a keyframe")
            # ...is relayed, rate-limited (max one per 500 ms, a deferred one included).
            await stays_true_for_async(lambda: len(requests) <= 3, 0.8, what="at most 3 keyframe requests")

            # A newcomer asks for a keyframe at once: carol's arrival reaches alice too.
            count = len(requests)
            carol = await room.join("carol")
            await wait_until_async(lambda: len(requests) > count, 5, what="a keyframe request for carol")
            await wait_until_async(lambda: carol.frames_from("alice", "video") > 0, 5, what="carol's first picture")
        finally:
            await room.close()

    run(body)


def test_h264_is_forwarded_without_transcoding() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            alice = await room.join("alice", video_codec="video/H264")
            bob = await room.join("bob")
            await wait_until_async(
                lambda: bob.frames_from("alice", "video") > 5 and alice.frames_from("bob", "video") > 5,
                15, what="H264 from alice and VP8 from bob")
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
            mid = next(m for m, i in bob.tracks.items() if i == {"participant_id": "alice", "kind": "video"})
            transceiver = next(t for t in bob.pc.getTransceivers() if t.mid == mid)
            assert transceiver._codecs[0].mimeType == "video/H264"
        finally:
            await room.close()

    run(body)


def test_a_participant_that_never_answers_is_dropped() -> None:
    async def body() -> None:
        room = Room("passthrough")
        room.engine.answer_timeout = 1.0
        try:
            alice = await room.join("alice")
            alice.deliver = lambda payload: None  # alice's browser ignores server offers
            await room.join("bob")
            await wait_until_async(lambda: room.engine.stats()["peers"] == 1, 5, what="alice to be dropped")
        finally:
            await room.close()

    run(body)


def test_unrecoverable_loss_does_not_freeze_the_picture() -> None:
    """Drop a burst of alice's video at the server, and every retransmission: bob's picture comes back."""
    from aiortc.codecs import is_rtx

    async def body() -> None:
        room = Room("passthrough", packets=False)  # the frame-level path: its assembler skips the hole
        try:
            alice, bob = await two_people(room)
            publication = room.engine._peer("r1", "alice").publications["video"]
            receiver = publication._receiver
            codecs = receiver._RTCRtpReceiver__codecs
            real = receiver._handle_rtp_packet
            loop = asyncio.get_running_loop()
            outage_until = loop.time() + 0.3
            dropped = []

            async def lossy(packet: Any, arrival_time_ms: int) -> None:
                codec = codecs.get(packet.payload_type)
                if loop.time() < outage_until or (codec is not None and is_rtx(codec)):
                    dropped.append(packet.sequence_number)
                    return  # lost, and so is every retransmission
                await real(packet, arrival_time_ms)

            receiver._handle_rtp_packet = lossy
            requests = publication.keyframe_requests
            await wait_until_async(lambda: room.engine.stats()["loss_skips"] >= 1, 5, what="the hole to be given up on")
            frames = bob.frames_from("alice", "video")
            await wait_until_async(lambda: bob.frames_from("alice", "video") > frames + 10,
                                   5, what="bob's picture to resume")
            assert dropped and publication.keyframe_requests > requests
            assert colour_close(bob.colour_from("alice"), COLORS["alice"])
        finally:
            await room.close()

    run(body)


def test_a_viewers_low_remb_caps_the_publishers_remb() -> None:
    """Down to the floor (remb.FLOOR_BPS): a viewer's delay-only estimate on a lossy link
    is no measure of what it can receive (packet_path.viewers_bitrate)."""
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

    from media.engine.remb import FLOOR_BPS

    async def body() -> None:
        room = Room("passthrough")
        try:
            alice, bob = await two_people(room)
            rembs = remb_to(alice, bob)
            await wait_until_async(lambda: rembs != [], 5, what="the server's REMB to alice")
            assert rembs[-1] > 1_000  # what the server estimates (or bob's estimator reported)

            receiver = next(
                t.receiver
                for t in bob.pc.getTransceivers()
                if bob.tracks.get(t.mid) == {"participant_id": "alice", "kind": "video"}
            )
            ssrc = receiver.getSynchronizationSources()[0].source
            remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=receiver._RTCRtpReceiver__rtcp_ssrc, media_ssrc=0,
                                  fci=pack_remb_fci(1_000, [ssrc]))
            await receiver._send_rtcp(remb)
            count = len(rembs)
            await wait_until_async(lambda: len(rembs) > count, 5, what="the next REMB to alice")
            assert rembs[-1] == FLOOR_BPS
        finally:
            await room.close()

    run(body)


def test_ice_servers_are_used_and_gathering_is_capped() -> None:
    """A STUN server that never answers (on loopback) delays the answer by the cap, not by aioice's 5 s."""
    import time

    from .clients import Client

    async def body() -> None:
        room = Room("passthrough")
        room.engine = MediaEngine(
            ice_servers=[{"urls": "stun:127.0.0.1:9"}], on_server_offer=room._on_offer, gather_timeout=0.7
        )
        client = Client(room.engine, "r1", "alice")
        room.clients["alice"] = client
        try:
            started = time.monotonic()
            await client.join()
            elapsed = time.monotonic() - started
            assert 0.6 < elapsed < 4.5, elapsed  # the cap (0.7 s), well short of aioice's 5 s
            peer = room.engine._peer("r1", "alice")
            assert peer.pc._RTCPeerConnection__configuration.iceServers[0].urls == "stun:127.0.0.1:9"
        finally:
            await room.close()

    run(body)


def test_ice_servers_can_be_given_per_participant() -> None:
    """A function of the participant id: each connection gets its own (fresh TURN credentials)."""
    from .clients import Client

    asked: list[str] = []

    def servers(pid: str) -> list[dict]:
        asked.append(pid)
        return [{"urls": "stun:127.0.0.1:9"}, {"urls": "turn:127.0.0.1:9", "username": f"1:{pid}", "credential": "c"}]

    async def body() -> None:
        room = Room("passthrough")
        room.engine = MediaEngine(ice_servers=servers, on_server_offer=room._on_offer, gather_timeout=0.3)
        client = Client(room.engine, "r1", "alice")
        room.clients["alice"] = client
        try:
            await client.join()
            configured = room.engine._peer("r1", "alice").pc._RTCPeerConnection__configuration.iceServers
            assert asked == ["alice"] and configured[1].username == "1:alice"
        finally:
            await room.close()

    run(body)
