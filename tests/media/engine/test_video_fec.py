"""Video RED + ULPFEC (issue 25): negotiated with a publisher whose offer has them (as
Chromium's), its lost packets rebuilt by the engine from its FEC without a retransmission,
and forwarded in their place; FEC packets' places (received or lost) filled with padding
so a subscriber's numbering stays continuous (a constant offset from the publisher's)."""

from __future__ import annotations

import asyncio
import random
import re
import struct
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, is_rtcp
from hypothesis import given, settings
from hypothesis import strategies as st

from media.engine import repeat
from media.engine.assembler import VideoAssembler
from media.engine.nack import NackTracker
from media.engine.packet_path import FEC_BANK_OFF, PacketPublication
from media.engine.packets import History, ReceiveStats, Rewriter, parse_rtp
from media.engine.red import is_red
from media.engine.ulpfec import (
    FecDecoder,
    encode,
    next_picture,
    parse_fec,
    plain_packet,
    recover,
    red_block_type,
    vp8_frame_start,
    vp8_picture_id,
)
from tests.waiting import wait_until_async

from .clients import Client, Room, run

RED_PT, RTX_RED_PT, ULPFEC_PT = 116, 117, 118  # numbers a browser could choose


def rtp(seq: int, ts: int, payload: bytes, marker: int = 0, pt: int = 96, ext: bytes = b"") -> bytes:
    first = 0x90 if ext else 0x80
    return struct.pack("!BBHII", first, (marker << 7) | pt, seq, ts, 0x1234) + ext + payload


# --- the format --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=20), st.data())
def test_any_one_lost_packet_of_a_group_is_rebuilt_exactly(payloads: list[bytes], data: st.DataObject) -> None:
    base = data.draw(st.integers(0, 0xFFFF))
    step = data.draw(st.integers(1, 2))  # every packet, or every other (gaps in the mask)
    ext = b"\xbe\xde\x00\x01\x22\x01\x02\x03"  # one extension element, as the browsers add
    packets = [((base + i * step) & 0xFFFF, rtp((base + i * step) & 0xFFFF, 9000 * (i // 3), p, marker=i % 3 == 2,
                                                ext=ext if i % 2 else b""))
               for i, p in enumerate(payloads)]
    fec = parse_fec(encode(packets), 4242)
    assert fec is not None
    assert fec.protected == tuple(s for s, _ in packets)
    lost = data.draw(st.integers(0, len(packets) - 1))
    others = [p for i, (_, p) in enumerate(packets) if i != lost]
    assert recover(fec, others, packets[lost][0], 0x1234) == packets[lost][1]


def test_a_mask_past_16_packets_uses_the_long_form_and_48_is_refused() -> None:
    packets = [((65530 + i) & 0xFFFF, rtp((65530 + i) & 0xFFFF, 0, bytes([i]) * 10)) for i in range(20)]
    data = encode(packets)
    assert data[0] & 0x40 and len(data) == 18 + 10  # L set: 6-byte mask
    fec = parse_fec(data, 1)
    assert fec is not None and fec.protected[0] == 65530 and fec.protected[-1] == 13  # wraps
    try:
        encode([(0, rtp(0, 0, b"a")), (48, rtp(48, 0, b"b"))])
    except ValueError:
        pass
    else:
        raise AssertionError("a 49-packet span was accepted")


@given(st.binary(max_size=64))
def test_parsing_garbage_never_raises(data: bytes) -> None:
    fec = parse_fec(data, 0)
    if fec is not None:
        assert fec.protected and fec.header_size + fec.protection_length <= len(data)


def test_the_decoder_chains_repairs_and_waits_for_a_group_missing_two() -> None:
    packets = {s: rtp(s, 0, bytes([s]) * (5 + s)) for s in range(10, 16)}
    decoder = FecDecoder()
    # Group A: 10-12; group B: 12-15. Lost: 12 and 13. B alone misses two; A rebuilds 12,
    # which leaves B missing only 13.
    decoder.add(parse_fec(encode([(s, packets[s]) for s in (10, 11, 12)]), 100))  # type: ignore[arg-type]
    decoder.add(parse_fec(encode([(s, packets[s]) for s in (12, 13, 14, 15)]), 101))  # type: ignore[arg-type]
    held = {s: p for s, p in packets.items() if s not in (12, 13)}
    only_b = FecDecoder()
    only_b.add(parse_fec(encode([(s, packets[s]) for s in (12, 13, 14, 15)]), 101))  # type: ignore[arg-type]
    assert only_b.recover(held.get, 0x1234) == []  # two missing: kept, nothing rebuilt
    rebuilt = {parse_rtp(p).sequence: p for p in decoder.recover(held.get, 0x1234)}
    assert rebuilt == {12: packets[12], 13: packets[13]}
    assert decoder.recovered == 2


def test_a_red_wrapped_packet_gives_the_plain_packet_fec_covers() -> None:
    ext = b"\xbe\xde\x00\x01\x22\x01\x02\x03"
    plain = rtp(7, 90, b"\x90\x80\x81\x02vp8", marker=1, pt=96, ext=ext)
    red = bytes((plain[0] | 0x20, 0x80 | RED_PT)) + plain[2:20] + bytes((96,)) + plain[20:] + b"\x00\x00\x03"
    view = parse_rtp(red)
    assert red_block_type(view.payload) == 96
    assert plain_packet(red, view.start, view.start + 1, view.end, 1, 96) == plain
    assert red_block_type(b"\x80\x01") is None and red_block_type(b"") is None


def test_the_decoder_forgets_groups_wholly_behind_the_forwarded_number() -> None:
    decoder = FecDecoder()
    for protected in ((65530, 65531), (65534, 0, 1), (1, 2, 3)):  # across the wrap
        decoder.add(parse_fec(encode([(s, rtp(s, 0, b"x")) for s in protected]), 7))  # type: ignore[arg-type]
    decoder.forget_before(1)  # 1 not forwarded yet: the group 65534..1 can still repair it
    assert [f.protected for f in decoder._fec] == [(65534, 0, 1), (1, 2, 3)]
    decoder.forget_before(2)
    assert [f.protected for f in decoder._fec] == [(1, 2, 3)]


@dataclass
class Released:
    """A subscriber's forward as the release loop sees it: the numbers sent, in order."""

    sent: list[int] = field(default_factory=list)

    def send(self, view: Any, now: float, ntp: int) -> None:
        self.sent.append(view.sequence)

    def restart(self) -> None:
        raise AssertionError("restarted")


def released_alone() -> tuple[PacketPublication, Released]:
    """A publication with FEC reduced to what the in-order release reads (no connection)."""
    publication = object.__new__(PacketPublication)
    released = Released()
    publication.history = History()
    publication._next = None
    publication._keyframe = None
    publication._fec = FecDecoder()
    publication._media_pt, publication._ulpfec_pt, publication.media_ssrc = 96, ULPFEC_PT, 0x1234
    publication.stats, publication._nacks = ReceiveStats(), NackTracker()
    publication.forwards = [released]  # type: ignore[list-item]
    publication._tap_stale = None
    publication.fec_gaps = 0
    return publication, released


def test_a_lost_fec_place_reached_inside_the_release_loop_is_passed_at_once() -> None:
    """Picture 1's last packet repaired while picture 2 waits behind it and the lost FEC
    packet after it: all of it goes now, not at the next packet."""
    publication, released = released_alone()
    packets = {100: rtp(100, 0, b"\x90\x80\x01a"), 101: rtp(101, 0, b"\x80\x80\x01b", marker=1),
               103: rtp(103, 3000, b"\x90\x80\x02c"), 104: rtp(104, 3000, b"\x80\x80\x02d", marker=1)}
    for sequence in (100, 103, 104, 101):  # 101 late (repaired), 102 (FEC) lost
        assert publication.history is not None
        publication.history.add(parse_rtp(packets[sequence]))
        publication._release(sequence)
    assert released.sent == [100, 101, 102, 103, 104] and publication.fec_gaps == 1


def test_fec_reads_the_packets_it_needs_from_the_history_without_copies() -> None:
    """A video publication with FEC keeps its packets once (the history), not a plain copy
    of each as well (was 512 of them, ~0.6 MiB): FEC's plain packet is made when needed."""
    publication, _ = released_alone()
    publication._vred_pt, publication._codec_name = RED_PT, "vp8"
    publication._rebuilt = [-1] * 512
    body = b"\x90\x80\x01" + bytes(1200)
    ext = b"\xbe\xde\x00\x01\x22\x01\x02\x03"
    packets = [rtp(i, 90 * i, bytes((96,)) + body, marker=i % 2, pt=RED_PT, ext=ext) for i in range(600)]
    tracemalloc.start()
    try:
        for data in packets:
            inner = publication._unwrap_video_red(parse_rtp(data))
            assert inner is not None and publication.history is not None
            publication.history.add(inner)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 150_000  # the views (~256 of them), no copies of 1.2 kB packets
    assert publication._plain_packet(599) == rtp(599, 90 * 599, body, marker=1, ext=ext)
    assert publication._plain_packet(0) is None  # left the history


def test_red_of_each_kind_is_told_apart() -> None:
    video, audio = RTCRtpCodecParameters(mimeType="video/RED", clockRate=90000), RTCRtpCodecParameters(
        mimeType="audio/red", clockRate=48000)
    assert is_red(video, "video") and not is_red(video) and is_red(audio) and not is_red(audio, "video")


def test_vp8_picture_ids_and_frame_starts() -> None:
    assert vp8_picture_id(b"\x90\x80\x81\x02") == 0x102 and vp8_picture_id(b"\x90\x80\x05") == 5
    assert vp8_picture_id(b"\x10\x00\x00") is None
    assert vp8_frame_start(b"\x90") and not vp8_frame_start(b"\x80") and not vp8_frame_start(b"\x91")
    assert next_picture(0x7FFF, 0) and next_picture(5, 6) and next_picture(0x7F, 0) and not next_picture(5, 7)


# --- through the engine --------------------------------------------------------------------


def with_fec(offer: str) -> str:
    """The offer as Chromium's: the video m-lines also offer red, RTX for red and ulpfec."""
    out = []
    video = False
    for line in offer.splitlines():
        if line.startswith("m="):
            video = line.startswith("m=video") and f" {ULPFEC_PT}" not in line  # not twice
            if video:
                line = f"{line} {RED_PT} {RTX_RED_PT} {ULPFEC_PT}"
        elif video and line.startswith("a=rtcp-mux"):
            out.append(f"a=rtpmap:{RED_PT} red/90000\r\na=rtpmap:{RTX_RED_PT} rtx/90000\r\n"
                       f"a=fmtp:{RTX_RED_PT} apt={RED_PT}\r\na=rtpmap:{ULPFEC_PT} ulpfec/90000")
        out.append(line)
    return "\r\n".join(out) + "\r\n"


@dataclass
class FecClient(Client):
    """A publisher whose offer has video RED + ULPFEC and whose VP8 leaves as Chromium's
    does then: every packet in RED, an FEC packet after each frame covering it (two after
    every fifth). The uplink loses the first packet of every third frame, the FEC packet of
    every seventh, the second FEC packet of every fifth, and every retransmission (so only
    FEC can repair)."""

    vp8: int = 0
    dropped: list[bytes] = field(default_factory=list)  # VP8 payloads lost on the way
    sent: list[bytes] = field(default_factory=list)
    fec_dropped: int = 0
    plain_first: int = 20

    async def offer(self) -> str:
        sdp = await super().offer()
        self.vp8 = int(re.search(r"a=rtpmap:(\d+) VP8/90000", sdp).group(1))  # type: ignore[union-attr]
        self._send_fec()
        return with_fec(sdp)

    def answer_sdp(self, sdp: str) -> str:
        return with_fec(sdp)

    def _send_fec(self) -> None:
        transport = self.pc.getTransceivers()[0].sender.transport
        real = transport._send_rtp
        seq = random.randint(0, 0xFFFF)
        frame: list[tuple[int, bytes]] = []
        frames = 0

        async def send(data: bytes) -> None:
            nonlocal seq, frames
            if is_rtcp(data) or data[1] & 0x7F not in (self.vp8, self.vp8 + 1):
                await real(data)
                return
            if data[1] & 0x7F != self.vp8:
                return  # aiortc's RTX (VP8 + 1): lost
            if self.plain_first:
                # Plain VP8 first: the engine's router learns the SSRC from a payload type it
                # knows (aiortc's client declares no route for RED; Chromium's packets carry MID).
                self.plain_first -= 1
                await real(data[:2] + seq.to_bytes(2, "big") + data[4:])
                seq = (seq + 1) & 0xFFFF
                return
            view = parse_rtp(data)
            plain = data[:2] + seq.to_bytes(2, "big") + data[4:]
            frame.append((seq, plain))
            red = bytes((data[0], (data[1] & 0x80) | RED_PT)) + plain[2:view.start] + bytes((self.vp8,)) + view.payload
            seq = (seq + 1) & 0xFFFF
            self.sent.append(view.payload)
            if frames % 3 == 1 and len(frame) == 1 and frames > 10:
                self.dropped.append(view.payload)
            else:
                await real(red)
            if view.marker:
                for first in range(0, len(frame), 16):  # a key frame's packets in several groups
                    fec = encode(frame[first:first + 16])
                    packet = (bytes((data[0], RED_PT)) + seq.to_bytes(2, "big") + plain[4:view.start]
                              + bytes((ULPFEC_PT,)) + fec)
                    seq = (seq + 1) & 0xFFFF
                    if first == 0 and frames % 7 == 5 and frames % 3 != 1:
                        self.fec_dropped += 1
                    else:
                        await real(packet)
                if frames % 5 == 3:  # one more FEC packet, lost: after one that arrived
                    seq = (seq + 1) & 0xFFFF
                    self.fec_dropped += 1
                frame.clear()
                frames += 1

        transport._send_rtp = send


def record_video(client: Client) -> list[tuple[int, int, bytes]]:
    """(sequence number, payload type, payload) of every video RTP packet the client decrypts."""
    received: list[tuple[int, int, bytes]] = []
    transport = client.pc.getTransceivers()[0].receiver.transport
    real = transport._handle_rtp_data

    async def recording(data: bytes, arrival_time_ms: int) -> None:
        view = parse_rtp(data)
        if view.payload_type != 96:  # not audio (aiortc's Opus)
            received.append((view.sequence, view.payload_type, view.payload))
        await real(data, arrival_time_ms)

    transport._handle_rtp_data = recording
    return received


def test_fec_is_negotiated_and_repairs_the_publishers_losses_in_a_continuous_numbering() -> None:
    async def body() -> None:
        room = Room("passthrough")
        alice = FecClient(room.engine, room.room, "alice", noisy_video=True)  # frames of several packets
        room.clients["alice"] = alice
        try:
            await alice.join()
            answer = alice.pc.remoteDescription.sdp
            video = answer[answer.index("m=video"):]
            assert f"a=rtpmap:{RED_PT} red/90000" in video and f"a=rtpmap:{ULPFEC_PT} ulpfec/90000" in video
            assert f"a=fmtp:{RTX_RED_PT} apt={RED_PT}" in video
            assert video.split("\r\n")[0].split()[3] == str(alice.vp8)  # VP8 stays the send codec
            bob = await room.join("bob", slots=1)
            # The engine forwards VP8 only: its offer to bob has no FEC.
            assert "ulpfec" not in bob.pc.remoteDescription.sdp
            at_bob = record_video(bob)
            publication = room.video_publication("alice")
            assert publication._fec is not None
            await wait_until_async(lambda: publication._fec is not None and publication._fec.recovered >= 5
                                   and publication.fec_gaps >= 2 and len(at_bob) > 100, 30,
                                   what="alice's losses rebuilt and her video at bob")
            vp8 = [(s, p) for s, pt, p in at_bob if pt == alice.vp8]
            payloads = {p for _, p in vp8}
            # Losses after bob's first packet all reached him, rebuilt (no retransmission exists).
            first = next(i for i, p in enumerate(alice.sent) if p in payloads)
            lost = [p for p in alice.dropped if alice.sent.index(p) > first + 5]
            assert lost and all(p in payloads for p in lost)
            # bob's numbering: continuous, media and padding where FEC was (received or lost).
            seqs = sorted({s for s, _, _ in at_bob})
            span = (seqs[-1] - seqs[0]) & 0xFFFF
            assert span < 0x8000 and len(seqs) == span + 1, "a gap in the subscriber's numbering"
            padding = [s for s, pt, p in at_bob if pt == alice.vp8 and not p]
            assert len(padding) > 10
            assert publication.holes_given_up == 0 and publication.malformed == 0
        finally:
            await room.close()

    run(body)


def test_frames_flow_from_a_publisher_that_sends_fec() -> None:
    """The ID check's frames: FEC places (received or lost) and packets rebuilt from FEC
    reach the tap's assembler in order, so no frame waits for a number that is no VP8."""
    async def body() -> None:
        room = Room("passthrough")
        alice = FecClient(room.engine, room.room, "alice", noisy_video=True)
        room.clients["alice"] = alice
        try:
            await alice.join()
            publication = room.video_publication("alice")
            assert publication._fec is not None
            frames = room.engine.frames("r1", "alice")
            for _ in range(40):
                await asyncio.wait_for(anext(frames), 2)
            await frames.aclose()
            assert publication._fec.recovered >= 3 and publication.fec_gaps >= 1  # both seen meanwhile
            assert isinstance(publication._tap, VideoAssembler) and publication._tap.skips == 0
        finally:
            await room.close()

    run(body)


def test_fec_off_is_not_negotiated() -> None:
    """MEDIA_VIDEO_FEC=0 (the bench's --no-video-fec): the offer's red/ulpfec are refused."""
    async def body() -> None:
        room = Room("passthrough", video_fec=False)
        try:
            alice = Client(room.engine, room.room, "alice")
            try:
                sdp = with_fec(await alice.offer())
                assert "ulpfec/90000" in sdp
                reply = await room.engine.join(room.room, "alice", sdp)
                assert "ulpfec" not in reply["sdp"] and "red/90000" not in reply["sdp"]
            finally:
                await alice.close()
        finally:
            await room.close()

    run(body)


# --- the engine's own FEC towards a lossy subscriber -----------------------------------------


def test_inserted_numbers_leave_every_forwarded_packet_its_number() -> None:
    rnd = random.Random(7)
    r = Rewriter(90000, keyframes=True, first_seq=65500)
    numbers: dict[int, int] = {}
    inserted: list[int] = []
    sequence = 1000
    for i in range(700):  # more insertions than the rewriter remembers (MAX_SHIFTS)
        mapped = r.map(sequence, 3000 * i, i == 0, i * 0.05)
        assert mapped is not None
        numbers[sequence] = mapped[0]
        if rnd.random() < 0.8:
            inserted.append(r.insert())
        sequence += 1
    outputs = sorted(set(numbers.values()) | set(inserted), key=lambda s: (s - 65500) & 0xFFFF)
    assert len(outputs) == len(numbers) + len(inserted)
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(outputs, outputs[1:], strict=False))  # continuous
    for input_seq in list(numbers)[-300:]:  # late packets and NACKs, within what is remembered
        out = numbers[input_seq]
        assert r.input_sequence(out) == input_seq
        assert r.sent_sequence(input_seq) == out
        again = r.map(input_seq, 0, False, 40.0)
        assert again is not None and again[0] == out
    assert all(r.input_sequence(out) is None for out in inserted[-200:])


def check_numbers(r: Rewriter, numbers: dict[int, int], newest: int, now: float) -> None:
    """The last 200 inputs before `newest` (a 16-bit count of packets): NACKs, holes and late
    packets find the number each was sent with."""
    for back in (2, 5, 50, 199):
        input_seq = (newest - back) & 0xFFFF
        out = numbers[input_seq]
        assert r.input_sequence(out) == input_seq, (newest, back)
        assert r.sent_sequence(input_seq) == out, (newest, back)
        assert r.holes(lambda s, lost=input_seq: s != lost, 256) == [out], (newest, back)  # type: ignore[misc]
        again = r.map(input_seq, 0, False, now)
        assert again is not None and again[0] == out, (newest, back)


def test_numbers_hold_across_the_16_bit_wrap_with_and_after_insertions() -> None:
    """FEC on briefly then off for 45,000 packets (both halves of the 16-bit space, twice),
    and FEC turned on in a mapping 45,000 packets old: every recent packet keeps its number."""
    r = Rewriter(90000, keyframes=True, first_seq=100)
    numbers: dict[int, int] = {}
    for i in range(45_300):
        sequence = (5000 + i) & 0xFFFF
        mapped = r.map(sequence, 3000 * i, i == 0, i * 0.01)
        assert mapped is not None
        numbers[sequence] = mapped[0]
        if 10 <= i < 20:
            r.insert()  # FEC on briefly
        if i == 45_000:
            r.insert()  # on again, in a mapping older than half the numbering
        if i > 250 and i % 1500 == 0 or i in (45_001, 45_010, 45_299):
            check_numbers(r, numbers, (sequence + 1) & 0xFFFF, i * 0.01)


def drop_and_record(client: Client, every: int) -> tuple[list[bytes], list[bytes]]:
    """Lose every `every`-th video packet the client's transport decrypts (its link); return
    (the packets it kept, the ones lost), plain RTP."""
    kept: list[bytes] = []
    lost: list[bytes] = []
    transport = client.pc.getTransceivers()[0].receiver.transport
    real = transport._handle_rtp_data
    count = 0

    async def lossy(data: bytes, arrival_time_ms: int) -> None:
        nonlocal count
        if parse_rtp(data).payload_type != 96:  # video (aiortc's Opus: 96)
            count += 1
            if count % every == 0:
                lost.append(data)
                return
            kept.append(data)
        await real(data, arrival_time_ms)

    transport._handle_rtp_data = lossy
    return kept, lost


@dataclass
class FecViewer(Client):
    """A subscriber whose offer has video RED + ULPFEC (as Chromium's)."""

    async def offer(self) -> str:
        return with_fec(await super().offer())

    def answer_sdp(self, sdp: str) -> str:
        return with_fec(sdp)


async def fec_viewer(room: Room) -> FecViewer:
    """carol joins, her offer with video RED + ULPFEC (as Chromium's)."""
    carol = FecViewer(room.engine, room.room, "carol", slots=1)
    room.clients["carol"] = carol
    await carol.join()
    return carol


def test_a_lossy_subscriber_gets_red_and_fec_that_rebuild_its_losses() -> None:
    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice", noisy_video=True)  # plain VP8, no FEC of her own
            carol = await fec_viewer(room)
            kept, lost = drop_and_record(carol, every=9)  # ~11% loss: a lossy hop (repeat.LOSSY)
            forward = room.video_forward("alice", "carol")
            await wait_until_async(lambda: forward.fec_sent > 30 and bool(forward.state.remote_bitrate)
                                   and forward.fec_on, 30, what="FEC to carol, and her REMB")
            # The publisher's cap leaves room for the FEC: carol's REMB less its share.
            share = forward.fec_protected / (forward.fec_protected + forward.fec_sent)
            assert forward.media_bitrate() == int(forward.state.remote_bitrate * share) < forward.state.remote_bitrate
            red = [parse_rtp(p) for p in kept if parse_rtp(p).payload_type == RED_PT]
            vp8 = next(int(pt) for pt in re.findall(r"a=rtpmap:(\d+) VP8/90000", carol.pc.localDescription.sdp))
            media = {v.sequence: v for v in red if red_block_type(v.payload) == vp8}
            fec = [v for v in red if red_block_type(v.payload) == ULPFEC_PT]
            assert len(fec) > 20 and len(media) > 60
            # Rebuild what carol lost from what she kept, as her browser's FEC receiver would.
            held = {s: plain_packet(v.data, v.start, v.start + 1, v.end, v.marker, vp8) for s, v in media.items()}
            # (each FEC packet as it comes: the decoder keeps the last MAX_FEC_KEPT, as a receiver would)
            decoder = FecDecoder()
            ssrc = red[0].ssrc
            rebuilt: dict[int, bytes] = {}
            for v in fec:
                parsed = parse_fec(v.payload[1:], v.sequence)
                assert parsed is not None
                decoder.add(parsed)
                rebuilt.update((parse_rtp(p).sequence, p) for p in decoder.recover(held.get, ssrc))
            lost_media = {}
            for data in lost:
                v = parse_rtp(data)
                if v.payload_type == RED_PT and red_block_type(v.payload) == vp8 and v.sequence > min(media):
                    lost_media[v.sequence] = plain_packet(data, v.start, v.start + 1, v.end, v.marker, vp8)
            assert len(lost_media) >= 5
            repaired = [s for s in lost_media if s in rebuilt]
            assert len(repaired) >= len(lost_media) // 2  # a group that lost two is not repaired
            assert all(rebuilt[s] == lost_media[s] for s in repaired)  # bit for bit
            # One numbering: media and FEC (kept or lost) continuous, none twice.
            # (plain VP8 before carol's first report of loss turned FEC on; not RTX: its own SSRC)
            seqs = sorted({v.sequence for v in map(parse_rtp, kept + lost) if v.ssrc == ssrc})
            assert len(seqs) == ((seqs[-1] - seqs[0]) & 0xFFFF) + 1
            # A NACK for a lost FEC packet's number (the receiver cannot tell it from media): padding.
            asked = [v.sequence for v in map(parse_rtp, lost)
                     if v.payload_type == RED_PT and red_block_type(v.payload) == ULPFEC_PT][-3:]
            assert asked
            # (seen as sent: carol's SRTP took the lost ones, so it would refuse them as replays)
            sent: list[bytes] = []
            real_send = forward._send
            assert real_send is not None
            forward._send = lambda data: (sent.append(bytes(data[:4])), real_send(data))[1]  # type: ignore[func-returns-value]
            before = forward.retransmitted
            forward.retransmit(asked)
            forward._send = real_send
            assert forward.retransmitted == before + len(asked)
            assert sorted((h[0] & 0x20, h[1] & 0x7F, int.from_bytes(h[2:4], "big")) for h in sent) == sorted(
                (0x20, vp8, s) for s in asked)  # padding at the FEC packets' numbers
        finally:
            await room.close()

    run(body)


def test_fec_to_a_subscriber_lasts_through_reports_that_look_clean(monkeypatch: Any) -> None:
    """Chromium's receiver reports count what its NACKs repaired as received, and it sends one
    with each NACK: on a link losing 10% they swing between 0 and tens of per cent. The engine's
    FEC to carol follows her hop (repeat.LossyHop), not her last report: on at a lossy report,
    still on after a report of 0, off once no lossy report came for LOSSY_FOR."""
    monkeypatch.setattr(repeat, "LOSSY_FOR", 1.5)

    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice", noisy_video=True)
            await fec_viewer(room)
            forward = room.video_forward("alice", "carol")
            sender = forward.transceiver.sender
            # Only the reports below: aiortc's own (carol) count the FEC numbers it cannot read as lost.
            hook = sender._handle_rtcp_packet

            async def ours_only(packet: Any) -> None:
                if getattr(packet, "reports", None) and packet.ssrc != 1:
                    return
                await hook(packet)

            sender._handle_rtcp_packet = ours_only

            async def report(fraction: int) -> None:  # through the sender's RTCP hook, as received
                await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[RtcpReceiverInfo(
                    ssrc=sender._ssrc, fraction_lost=fraction, packets_lost=0, highest_sequence=1000, jitter=0,
                    lsr=0, dlsr=0)]))

            await wait_until_async(lambda: forward.state.packets > 20, 10, what="alice's video to carol")
            assert not forward.fec_on
            await report(40)  # 16%
            await wait_until_async(lambda: forward.fec_sent > 3, 5, what="FEC to carol")
            await report(0)
            sent = forward.fec_sent
            await asyncio.sleep(1.0)
            assert forward.fec_on and forward.fec_sent > sent  # still protected after a report of 0
            await wait_until_async(lambda: not forward.fec_on, 5, what="FEC off after LOSSY_FOR")
            sent = forward.fec_sent
            await asyncio.sleep(0.5)
            assert forward.fec_sent == sent
        finally:
            await room.close()

    run(body)


def test_no_fec_into_a_subscribers_flooded_link() -> None:
    """A link suddenly narrower than the stream loses packets to its queue and NACKs them until
    the retransmission budget runs low: FEC would add to what it cannot carry, so it stops
    then, though the hop is lossy, and comes back once media has refilled the budget."""

    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice", noisy_video=True)
            carol = await fec_viewer(room)
            kept, _ = drop_and_record(carol, every=9)  # a lossy hop (repeat.LOSSY)
            forward = room.video_forward("alice", "carol")
            await wait_until_async(lambda: forward.fec_sent > 5, 30, what="FEC to carol")
            state = forward.state
            budget = state.rtx_budget
            assert budget.spend(int(budget.level(state.octets)), state.octets)  # a flood took the bank
            assert state.hop.lossy(time.monotonic()) and budget.level(state.octets) < FEC_BANK_OFF
            assert not forward._fec_wanted(time.monotonic())  # what the next packet to carol asks
            assert not forward.fec_on
            sent = forward.fec_sent
            await wait_until_async(lambda: forward.fec_sent > sent + 3, 10, what="FEC again, the budget refilled")
            assert forward.fec_on and budget.level(state.octets) >= FEC_BANK_OFF
        finally:
            await room.close()

    run(body)


def test_the_engines_own_fec_is_for_vp8_only() -> None:
    """H264 to a lossy subscriber that takes FEC: none (libwebrtc's H264 receiver waits for a
    keyframe when an FEC number it NACKed is not answered with media)."""
    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice", video_codec="video/H264")
            carol = await fec_viewer(room)
            kept, _ = drop_and_record(carol, every=9)  # ~11% loss: a lossy hop (repeat.LOSSY)
            forward = room.video_forward("alice", "carol")
            assert forward.publication._codec_name == "h264"
            await wait_until_async(lambda: forward.state.hop.lossy(time.monotonic()) and len(kept) > 150,
                                   30, what="carol's loss reported")
            assert forward.fec_sent == 0 and not forward.fec_on
            assert all(parse_rtp(p).payload_type != RED_PT for p in kept)
        finally:
            await room.close()

    run(body)


def test_fec_payload_types_are_read_again_when_the_negotiated_codecs_change() -> None:
    """aiortc replaces a transceiver's codecs during setRemoteDescription and red/ulpfec are
    added back just after (accept_video_fec): a forward prepared in between, or a new answer,
    must not leave a subscriber without (or with stale) FEC numbers for good."""
    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice", noisy_video=True)
            await fec_viewer(room)
            forward = room.video_forward("alice", "carol")
            await wait_until_async(lambda: forward._fec_pts == (RED_PT, ULPFEC_PT), 10, what="FEC numbers read")
            codecs = forward.transceiver._codecs
            fec = [c for c in codecs if c.mimeType.lower() in ("video/red", "video/ulpfec")]
            forward.transceiver._codecs = [c for c in codecs if c not in fec]  # as setRemoteDescription
            await wait_until_async(lambda: forward._fec_pts is None, 5, what="FEC numbers gone")
            forward.transceiver._codecs.extend(fec)  # as accept_video_fec, in place
            await wait_until_async(lambda: forward._fec_pts == (RED_PT, ULPFEC_PT), 5, what="FEC numbers back")
        finally:
            await room.close()

    run(body)
