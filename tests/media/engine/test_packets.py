"""The packet path's per-packet work (media/engine/packets.py), without a network."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    HeaderExtensionsMap,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    unpack_remb_fci,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from media.engine import packet_core
from media.engine.packets import (
    ABS_SEND_TIME_URI,
    MID_URI,
    PLAYOUT_DELAY_MAX_MS,
    PLAYOUT_DELAY_URI,
    TRANSPORT_CC_URI,
    ExtensionMapper,
    History,
    MalformedPacket,
    ReceiveStats,
    Rewriter,
    RtpView,
    TransportFeedback,
    build_extensions,
    is_keyframe_start,
    parse_rtp,
    parse_sender_report,
    parse_transport_feedback,
    playout_delay,
    rewrite,
    rtcp_nack,
    rtcp_pli,
    rtcp_remb,
    rtcp_rr,
    rtx_packet,
    unwrap_rtx,
)

from .cores import CORES

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
VP8_KEY_FRAME = b"\x10\x02\x00\x9d\x01\x2a\x80\x02\xe0\x01" + bytes(3000)
VP8_DELTA_FRAME = b"\x31\x02\x00" + bytes(3000)


def extensions_map(ids: dict[int, str]) -> HeaderExtensionsMap:
    m = HeaderExtensionsMap()
    m.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u)
                                                   for i, u in ids.items()]))
    return m


def rtp(seq: int, ts: int = 0, payload: bytes = b"xyz", marker: int = 0, pt: int = 96, ssrc: int = 1234,
        mid: str | None = None, tcc: int | None = None, ids: dict[int, str] | None = None) -> bytes:
    packet = RtpPacket(payload_type=pt, marker=marker, sequence_number=seq & 0xFFFF, timestamp=ts & 0xFFFFFFFF,
                       ssrc=ssrc, payload=payload)
    packet.extensions.mid = mid
    packet.extensions.transport_sequence_number = tcc
    return packet.serialize(extensions_map(ids or {1: MID_URI, 5: TRANSPORT_CC_URI}))


# --- parsing ------------------------------------------------------------------------------


def test_parse_reads_what_aiortc_writes() -> None:
    data = rtp(65535, ts=0xFFFFFFFF, payload=b"hello", marker=1, pt=111, ssrc=0xDEADBEEF, mid="a0", tcc=7)
    view = parse_rtp(data)
    assert (view.sequence, view.timestamp, view.marker, view.payload_type, view.ssrc) == (
        65535, 0xFFFFFFFF, 1, 111, 0xDEADBEEF)
    assert view.payload == b"hello"
    assert view.extension(1) == b"a0"
    assert view.extension(5) == struct.pack("!H", 7)


def test_parse_two_byte_extensions_csrc_and_padding() -> None:
    ext = build_extensions([(20, b"x" * 20), (3, b"")])  # an id > 14 and a long value: two-byte form
    header = struct.pack("!BBHII", 0x80 | 0x10 | 0x20 | 2, 96, 1, 2, 3) + b"\x00" * 8
    data = header + ext + b"payload" + b"\x00\x00\x03"
    view = parse_rtp(data)
    assert view.extensions == [(20, b"x" * 20), (3, b"")]
    assert view.payload == b"payload"


@pytest.mark.parametrize("data", [
    b"",
    b"\x80\x60\x00",  # shorter than the fixed header
    b"\x40" + bytes(11),  # version 1
    b"\x81" + bytes(11),  # one CSRC announced, none there
    b"\x90" + bytes(11) + b"\xbe\xde\x00\x05",  # extension longer than the packet
    b"\xa0" + bytes(11) + b"\x00",  # padding count 0
    b"\xa0" + bytes(11) + b"\x09",  # padding longer than the payload
    b"\x90" + bytes(11) + b"\xbe\xde\x00\x01\x3f\x00\x00\x00",  # element of 4 bytes in a 4-byte block
])
def test_malformed_packets_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_rtp(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_fuzzed_bytes_parse_or_raise_malformed(data: bytes) -> None:
    try:
        view = parse_rtp(data)
    except MalformedPacket:
        return
    assert 12 <= view.start <= view.end <= len(data)
    out = rewrite(view, 1, 96, 2, 3, build_extensions(view.extensions[:3]) if all(
        0 < i < 256 and len(v) < 256 for i, v in view.extensions[:3]) else b"")
    assert parse_rtp(out).payload == view.payload


@settings(max_examples=300, deadline=None)
@given(profile=st.sampled_from([b"\xbe\xde", b"\x10\x00", b"\x12\x34"]), body=st.binary(max_size=40),
       ext_id=st.integers(1, 15))
def test_fuzzed_extension_block_one_element_is_the_parsed_lists(profile: bytes, body: bytes, ext_id: int) -> None:
    # The view reads its extensions lazily: one element found in place (what the packet
    # path asks per packet) is the one the parsed list holds, and a block that overruns is
    # refused at parse time as before.
    body += bytes(-len(body) % 4)
    data = b"\x90" + bytes(11) + profile + (len(body) // 4).to_bytes(2, "big") + body + b"payload"
    try:
        view = parse_rtp(data)
    except MalformedPacket:
        return
    listed = next((value for eid, value in parse_rtp(data).extensions if eid == ext_id), None)
    assert view.extension(ext_id) == listed


@settings(max_examples=200, deadline=None)
@given(seq=st.integers(0, 0xFFFF), ts=st.integers(0, 0xFFFFFFFF), payload=st.binary(max_size=200),
       cut=st.integers(1, 40), mid=st.text("abc0123", min_size=1, max_size=3))
def test_truncated_packets_are_refused_or_shorter(seq: int, ts: int, payload: bytes, cut: int, mid: str) -> None:
    data = rtp(seq, ts, payload, mid=mid, tcc=seq)
    try:
        view = parse_rtp(data[:-cut])
    except MalformedPacket:
        return
    assert view.sequence == seq and len(view.payload) < max(1, len(payload))


# --- header rewriting ----------------------------------------------------------------------


def forward(rewriter: Rewriter, packets: list[tuple[int, int, bool]], now: float = 0.0) -> list[tuple[int, int]]:
    out = []
    for seq, ts, key in packets:
        mapped = rewriter.map(seq & 0xFFFF, ts & 0xFFFFFFFF, key, now)
        if mapped is not None:
            out.append(mapped)
    return out


@pytest.mark.parametrize("core", CORES)
def test_sequence_numbers_keep_upstream_gaps_and_place_late_packets(core: packet_core.Core) -> None:
    r = core.numbering(90000, True, 100, 5000)
    out = forward(r, [(10, 0, False), (11, 0, True), (12, 0, False), (14, 3000, False), (13, 0, False),
                      (15, 3000, False)])
    # 10 came before the keyframe: not sent. 13 is lost then late: placed in its hole.
    assert [s for s, _ in out] == [100, 101, 103, 102, 104]
    assert [t for _, t in out] == [5000, 5000, 8000, 5000, 8000]
    assert r.input_sequence(102) == 13


@pytest.mark.parametrize("core", CORES)
def test_sequence_numbers_wrap(core: packet_core.Core) -> None:
    r = core.numbering(48000, False, 65534, 0)
    out = forward(r, [(s, s * 960, False) for s in range(65530, 65540)])
    assert [s for s, _ in out] == [(65534 + i) & 0xFFFF for i in range(10)]


@pytest.mark.parametrize("core", CORES)
def test_a_switch_continues_numbering_and_timestamps_at_the_next_keyframe(core: packet_core.Core) -> None:
    r = core.numbering(90000, True, 1, 0)
    forward(r, [(500, 9000, True), (501, 9000, False), (502, 12000, False)], now=10.0)
    r.restart()  # another publisher on the same sender, or resumed after audio only
    assert r.waiting
    out = forward(r, [(7000, 1_000_000, False), (7001, 1_003_000, True), (7002, 1_003_000, False)], now=10.5)
    # Continuous sequence numbers; the timestamp advances by the half second that passed.
    assert out == [(4, 3000 + 45000), (5, 3000 + 45000)]  # 502 went out at 3000
    assert forward(r, [(6999, 997_000, False)], now=10.6) == []  # from before the start


@pytest.mark.parametrize("core", CORES)
def test_audio_is_numbered_without_gaps_and_late_packets_are_dropped(core: packet_core.Core) -> None:
    r = core.numbering(48000, False, 10, 0)
    out = forward(r, [(100, 0, False), (101, 960, False), (104, 3840, False), (103, 2880, False), (105, 4800, False)])
    assert out == [(10, 0), (11, 960), (12, 3840), (13, 4800)]  # timestamps keep the gap (concealment)


@pytest.mark.parametrize("core", CORES)
def test_late_packets_too_old_are_not_placed(core: packet_core.Core) -> None:
    r = core.numbering(90000, True, 0, 0)
    forward(r, [(s, 0, s == 0) for s in range(0, 1500)])
    assert forward(r, [(100, 0, False)]) == []
    assert forward(r, [(1400, 0, False)]) == [(1400, 0)]


@pytest.mark.parametrize("core", CORES)
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=80), st.integers(0, 0xFFFF), st.randoms())
def test_property_output_is_an_offset_of_input_after_the_start(core: packet_core.Core, offsets: list[int], base: int,
                                                                 rnd: random.Random) -> None:
    """Whatever the loss and reordering: one mapping, so gaps and order are those of the input."""
    r = core.numbering(90000, True, rnd.randint(0, 0xFFFF), 0)
    seqs = [(base + o) & 0xFFFF for o in offsets]
    out = forward(r, [(s, s * 3000, i == 0) for i, s in enumerate(seqs)])
    first = seqs[0]
    accepted = [s for s in seqs if (s - first) & 0xFFFF < 0x8000]
    assert len(out) == len(accepted)
    for (o, t), s in zip(out, accepted, strict=True):
        assert (o - out[0][0]) & 0xFFFF == (s - first) & 0xFFFF
        assert (t - out[0][1]) & 0xFFFFFFFF == ((s - first) * 3000) & 0xFFFFFFFF


def rewritten(core: packet_core.Core, view: RtpView, mapper: ExtensionMapper, ssrc: int, pt: int, seq: int,
              ts: int, ntp: int) -> bytes:
    """What `core` forwards (unprotected), checked against the reference `rewrite`."""
    out = core.forwarder(None, mapper, ssrc).forward(view, pt, seq, ts, ntp)
    assert out == rewrite(view, ssrc, pt, seq, ts, mapper.block(view.extensions, ntp))
    return out


@pytest.mark.parametrize("core", CORES)
def test_rewrite_sets_the_subscribers_header_and_keeps_the_payload(core: packet_core.Core) -> None:
    view = parse_rtp(rtp(9, ts=77, payload=b"media", marker=1, pt=96, ssrc=5, mid="0", tcc=3))
    pub = {1: MID_URI, 5: TRANSPORT_CC_URI, 2: AUDIO_LEVEL_URI}
    sub = {4: MID_URI, 3: ABS_SEND_TIME_URI, 12: AUDIO_LEVEL_URI}
    mapper = ExtensionMapper(pub, sub, mid="7")
    ntp = (3 << 32) | (1 << 31)  # 3.5 s
    out = RtpPacket.parse(rewritten(core, view, mapper, 0xABCDEF, 100, 4242, 99, ntp), extensions_map(sub))
    assert (out.ssrc, out.payload_type, out.sequence_number, out.timestamp, out.marker) == (0xABCDEF, 100, 4242, 99, 1)
    assert out.payload == b"media"
    assert out.extensions.mid == "7"  # the subscriber's mid, under its id
    assert out.extensions.abs_send_time == (ntp >> 14) & 0xFFFFFF  # stamped at send time
    assert out.extensions.transport_sequence_number is None  # per transport: never forwarded


@pytest.mark.parametrize("core", CORES)
@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(1, 7), st.binary(min_size=1, max_size=16), max_size=5),
       st.sampled_from([1, 2, 15, 16, 200]), st.text("ab01", max_size=20), st.integers(0, (1 << 64) - 1),
       st.none() | st.integers(0, PLAYOUT_DELAY_MAX_MS))
def test_property_extension_block_fast_form_equals_the_generic_one(
        core: packet_core.Core, values: dict[int, bytes], mid_id: int, mid: str, ntp: int, playout: int | None) -> None:
    """Subscriber ids 8-14 for the copied ones; mid's id sometimes too large for the one-byte
    form; the engine's playout delay set or not."""
    elements = list(values.items())
    publisher = {eid: f"urn:x:{eid}" for eid in values}
    subscriber = ({eid + 7: f"urn:x:{eid}" for eid in values}
                  | {mid_id: MID_URI, 3: ABS_SEND_TIME_URI, 4: PLAYOUT_DELAY_URI})
    mapper = ExtensionMapper(publisher, subscriber, mid or None)
    if playout is not None:
        assert mapper.set_playout_delay(playout)
    block = mapper.block(elements, ntp)
    assert block == mapper._generic(elements, ntp)
    # copied ones, mid (when there is one), the playout delay (once set), abs-send-time
    expected = len(elements) + bool(mid) + (playout is not None) + 1
    assert len(parse_rtp(rewrite(parse_rtp(rtp(1)), 1, 96, 1, 1, block)).extensions) == expected
    # The same elements in a publisher's packet: what the core forwards carries them.
    view = parse_rtp(rtp(1, ids={}) if not elements else _with_extensions(rtp(1, ids={}), elements))
    assert len(parse_rtp(rewritten(core, view, mapper, 1, 96, 1, 1, ntp)).extensions) == expected


def _with_extensions(data: bytes, elements: list[tuple[int, bytes]]) -> bytes:
    """An RTP packet without extensions given these ones."""
    block = build_extensions(elements)
    return bytes((data[0] | 0x10,)) + data[1:12] + block + data[12:]


@pytest.mark.parametrize("core", CORES)
def test_extension_ids_are_mapped_by_uri(core: packet_core.Core) -> None:
    data = rtp(1, ids={2: AUDIO_LEVEL_URI})
    packet = RtpPacket.parse(data, extensions_map({2: AUDIO_LEVEL_URI}))
    packet.extensions.audio_level = (True, 30)
    view = parse_rtp(packet.serialize(extensions_map({2: AUDIO_LEVEL_URI})))
    mapper = ExtensionMapper({2: AUDIO_LEVEL_URI}, {9: AUDIO_LEVEL_URI, 1: MID_URI}, mid=None)
    out = RtpPacket.parse(rewritten(core, view, mapper, 1, 111, 1, 1, 0), extensions_map({9: AUDIO_LEVEL_URI}))
    assert out.extensions.audio_level == (True, 30)
    assert ExtensionMapper({2: AUDIO_LEVEL_URI}, {}, mid=None).block(view.extensions, 0) == b""


def test_playout_delay_values_are_libwebrtcs_units() -> None:
    """12-bit minimum and maximum in 10 ms units, rounded up; the maximum libwebrtc's default."""
    assert playout_delay(0) == bytes((0x00, 0x03, 0xE8))  # 0 / 1000 (10 s): no low-latency mode
    assert playout_delay(270) == ((27 << 12) | 1000).to_bytes(3, "big")
    assert playout_delay(271) == playout_delay(280)
    assert playout_delay(300, 300) == ((30 << 12) | 30).to_bytes(3, "big")
    for low, high in ((-10, 100), (200, 100), (0, PLAYOUT_DELAY_MAX_MS + 10)):
        with pytest.raises(ValueError):
            playout_delay(low, high)


@pytest.mark.parametrize("core", CORES)
def test_the_engines_playout_delay_reaches_the_subscribers_that_negotiated_it(core: packet_core.Core) -> None:
    """Nothing until the engine asks; then its value in every packet, under the subscriber's
    id, whatever the publisher wrote in its own (never forwarded); 0 is said, not dropped
    (libwebrtc keeps the last value it saw)."""
    publisher = {1: MID_URI, 6: PLAYOUT_DELAY_URI}
    view = parse_rtp(_with_extensions(rtp(1, ids={}), [(1, b"0"), (6, playout_delay(900))]))
    mapper = ExtensionMapper(publisher, {4: MID_URI, 5: PLAYOUT_DELAY_URI}, mid="2")
    forwarder = core.forwarder(None, mapper, 7)

    def delay_sent() -> bytes | None:
        out = forwarder.forward(view, 96, 1, 1, 0)
        assert out == rewrite(view, 7, 96, 1, 1, mapper.block(view.extensions, 0))
        return dict(parse_rtp(out).extensions).get(5)

    assert delay_sent() is None
    assert forwarder.set_playout_delay(270)
    assert delay_sent() == playout_delay(270)
    assert forwarder.set_playout_delay(0)
    assert delay_sent() == playout_delay(0)
    # A forwarder made for a mapper that already asks a delay writes it from its first packet.
    assert core.forwarder(None, mapper, 7).forward(view, 96, 1, 1, 0) == forwarder.forward(view, 96, 1, 1, 0)
    without = ExtensionMapper(publisher, {4: MID_URI}, mid="2")
    plain = core.forwarder(None, without, 7)
    assert not plain.set_playout_delay(270)
    assert [eid for eid, _ in parse_rtp(plain.forward(view, 96, 1, 1, 0)).extensions] == [4]


def test_rtx_is_unwrapped_to_the_original_packet() -> None:
    rtx = parse_rtp(rtp(900, ts=5, payload=struct.pack("!H", 41) + b"frame", pt=97, ssrc=2))
    original = unwrap_rtx(rtx, ssrc=1, payload_type=96)
    assert original is not None
    assert (original.sequence, original.ssrc, original.payload_type, original.payload) == (41, 1, 96, b"frame")
    assert unwrap_rtx(parse_rtp(rtp(901, payload=b"", pt=97)), 1, 96) is None  # padding probe
    wrapped = parse_rtp(rtx_packet(original, ssrc=7, payload_type=99, sequence=5, timestamp=6, original=41,
                                   extensions=b""))
    again = unwrap_rtx(wrapped, ssrc=1, payload_type=96)
    assert again is not None and (again.sequence, again.payload, wrapped.ssrc) == (41, b"frame", 7)


# --- keyframes ---------------------------------------------------------------------------------


def test_vp8_keyframe_start_is_the_first_packet_of_a_key_frame() -> None:
    key = Vp8Encoder._packetize(VP8_KEY_FRAME, 0x1234)
    delta = Vp8Encoder._packetize(VP8_DELTA_FRAME, 0x1235)
    assert len(key) > 1
    assert is_keyframe_start("vp8", key[0])
    assert not any(is_keyframe_start("vp8", p) for p in key[1:] + delta)
    assert not is_keyframe_start("vp8", b"")
    assert is_keyframe_start("opus", b"\x01")


def test_h264_keyframe_start() -> None:
    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x00\x01\x65" + bytes(3000)
    delta = b"\x00\x00\x00\x01\x41" + bytes(3000)
    key = H264Encoder._packetize(H264Encoder._split_bitstream(idr))
    inter = H264Encoder._packetize(H264Encoder._split_bitstream(delta))
    assert is_keyframe_start("h264", key[0])
    assert not any(is_keyframe_start("h264", p) for p in inter)
    assert is_keyframe_start("h264", b"\x7c\x85")  # FU-A start of an IDR
    assert not is_keyframe_start("h264", b"\x7c\x05")  # FU-A continuation


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["vp8", "h264", "opus"]), st.binary(max_size=40))
def test_keyframe_detection_never_raises(codec: str, payload: bytes) -> None:
    assert is_keyframe_start(codec, payload) in (True, False)


# --- history, receive statistics, RTCP ---------------------------------------------------------


@pytest.mark.parametrize("core", CORES)
def test_history_answers_only_the_packet_asked_for(core: packet_core.Core) -> None:
    history = core.history(size=8)
    packets = {}
    for seq in range(20):
        packets[seq] = rtp(seq, ts=90 * seq, payload=bytes([seq]) * (seq + 1), marker=seq % 2)
        view = parse_rtp(packets[seq])
        view.keyframe = seq == 18
        history.add(view)
    view = history.get(19)
    assert view is not None and (view.sequence, view.timestamp, view.marker, view.keyframe) == (19, 1710, 1, False)
    assert view.data == packets[19] and view.payload == bytes([19]) * 20
    assert [history.state(s) for s in (17, 18, 19, 11, 3)] == [0, 1, 0, -1, -1]
    assert history.get(11) is None  # overwritten by 19
    assert history.get(3) is None


def test_receive_stats_lists_missing_and_reports_loss() -> None:
    stats = ReceiveStats()
    for seq in (65530, 65531, 65534, 1, 2):
        stats.add(seq)
    assert stats.missing == {65532, 65533, 65535, 0}
    stats.add(65533)  # retransmission
    assert stats.missing == {65532, 65535, 0}
    assert stats.highest == 0x10000 + 2
    fraction, lost = stats.report()
    assert lost == 3 and fraction == (3 << 8) // 9


def test_rtcp_builders_parse_with_aiortc() -> None:
    nack, = RtcpPacket.parse(rtcp_nack(1, 2, [65535, 0, 3, 40]))
    assert isinstance(nack, RtcpRtpfbPacket) and sorted(nack.lost) == [0, 3, 40, 65535]
    pli, = RtcpPacket.parse(rtcp_pli(1, 2))
    assert isinstance(pli, RtcpPsfbPacket) and (pli.fmt, pli.media_ssrc) == (1, 2)
    remb, = RtcpPacket.parse(rtcp_remb(1, 1_234_567, [9, 10]))
    assert isinstance(remb, RtcpPsfbPacket)
    bitrate, ssrcs = unpack_remb_fci(remb.fci)
    assert ssrcs == [9, 10] and abs(bitrate - 1_234_567) <= 1_234_567 >> 17
    rr, = RtcpPacket.parse(rtcp_rr(7, [(5, 12, 3, 70000, 0x1234, 99)]))
    assert isinstance(rr, RtcpRrPacket)
    report = rr.reports[0]
    assert (report.ssrc, report.fraction_lost, report.packets_lost, report.highest_sequence, report.lsr,
            report.dlsr) == (5, 12, 3, 70000, 0x1234, 99)


def test_sender_report_is_found_in_a_compound_packet() -> None:
    sr = struct.pack("!BBHIQIII", 0x80, 200, 6, 77, 0x1122334455667788, 9000, 1, 2)
    sdes = struct.pack("!BBH", 0x81, 202, 1) + bytes(4)
    assert parse_sender_report(sdes + sr) == (77, 0x1122334455667788, 9000)
    assert parse_sender_report(sdes) is None


# --- transport-cc ------------------------------------------------------------------------------


def test_transport_feedback_reports_arrivals_and_losses() -> None:
    feedback = TransportFeedback(sender_ssrc=1)
    arrivals = {65533: 1_000_000, 65534: 1_000_250, 0: 1_010_000, 1: 1_009_000, 3: 1_200_000}
    for seq, at in arrivals.items():
        feedback.add(seq, at, media_ssrc=42)
    packet, = feedback.build()
    report = parse_transport_feedback(packet)
    assert (report.base_sequence, report.count, report.media_ssrc) == (65533, 7, 42)
    assert report.arrivals[65535] is None and report.arrivals[2] is None
    got = {seq: at for seq, at in report.arrivals.items() if at is not None}
    assert got.keys() == arrivals.keys()
    for seq, at in arrivals.items():  # 250 µs resolution, relative to the reference time
        assert abs((got[seq] - got[65533]) - (at - 1_000_000)) < 250 * 3
    assert feedback.build() == []  # nothing new
    feedback.add(4, 1_210_000, 42)
    assert parse_transport_feedback(feedback.build()[0]).base_sequence == 4
    feedback.add(2, 1_220_000, 42)  # reported lost already: not reported again
    assert feedback.build() == []


def test_transport_feedback_long_runs_and_parses_with_aiortc() -> None:
    feedback = TransportFeedback(sender_ssrc=1)
    for seq in range(0, 300):
        if seq % 50:
            feedback.add(seq, 5_000_000 + seq * 1000, 1)
    packet, = feedback.build()
    assert len(packet) % 4 == 0
    parsed, = RtcpPacket.parse(packet)  # aiortc reads it as RTPFB with fmt 15
    assert isinstance(parsed, RtcpRtpfbPacket) and parsed.fmt == 15
    report = parse_transport_feedback(packet)
    assert [s for s, at in report.arrivals.items() if at is None] == [50, 100, 150, 200, 250]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 3_000_000)), min_size=1, max_size=100))
def test_property_feedback_round_trips(arrivals: list[tuple[int, int]]) -> None:
    feedback = TransportFeedback(sender_ssrc=3)
    received: dict[int, int] = {}
    for seq, at in arrivals:
        feedback.add(seq, at, 9)
        received.setdefault(seq, at)
    seen: dict[int, int] = {}
    for packet in feedback.build():
        report = parse_transport_feedback(packet)
        seen.update({s: a for s, a in report.arrivals.items() if a is not None})
    first = arrivals[0][0]
    expected = {s for s in received if s >= first}
    assert set(seen) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzzed_feedback_parses_or_raises_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        parse_transport_feedback(b"\x8f\xcd" + data)


def subscriber_view(inputs: list[int], publisher_lost: set[int], own_lost: set[int], first_seq: int,
                    core: packet_core.Core = packet_core.PYTHON) -> tuple[Rewriter, History, list[int], set[int]]:
    """Forward `inputs` (the first a keyframe) minus what the publisher's uplink lost, then
    give up on those holes as the packet path does: what the subscriber has, padding included,
    and the output numbers its own link lost."""
    r = core.numbering(90000, True, first_seq, 0)
    history = core.history()
    received: list[int] = []
    own: set[int] = set()
    for i, seq in enumerate(inputs):
        if seq in publisher_lost:
            continue
        history.add(parse_rtp(rtp(seq, 3000 * i)))
        mapped = r.map(seq, 3000 * i, i == 0, 0.0)
        assert mapped is not None
        (own.add if seq in own_lost else received.append)(mapped[0])
    received += r.holes(lambda s: history.get(s) is not None, history.size)  # padding in their place
    return r, history, received, own


@pytest.mark.parametrize("core", CORES)
def test_a_hole_given_up_upstream_is_filled_and_the_subscribers_own_loss_stays_its_own(core: packet_core.Core) -> None:
    inputs = list(range(50, 71))
    r, history, received, own = subscriber_view(inputs, publisher_lost={54, 55, 61}, own_lost={58},
                                                first_seq=1000, core=core)
    # The publisher's losses are filled: the only gap the subscriber sees is its own hop's.
    assert sorted(received + sorted(own)) == list(range(1000, 1021))
    assert own == {1008}
    # ...which its NACK repairs from the history, at the same number.
    sequence = r.input_sequence(1008)
    assert sequence == 58
    view = history.get(sequence)
    assert view is not None and r.map(view.sequence, view.timestamp, False, 0.1) == (1008, 3000 * 8)
    # The next mapping (at a keyframe) numbers on from there: no gap either.
    r.restart()
    assert r.map(80, 90_000, True, 0.2) == (1021, r.last_timestamp)


@pytest.mark.parametrize("core", CORES)
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(2, 300), st.randoms())
def test_property_subscriber_sees_only_its_own_losses(core: packet_core.Core, base: int, first_seq: int, count: int,
                                                      rnd: random.Random) -> None:
    inputs = [(base + i) & 0xFFFF for i in range(count)]
    publisher_lost = {s for s in inputs[1:-1] if rnd.random() < 0.3}
    own_lost = {s for s in inputs if s not in publisher_lost and rnd.random() < 0.1}
    r, history, received, own = subscriber_view(inputs, publisher_lost, own_lost, first_seq, core)
    window = min(count, history.size)  # older holes were given up (and filled) long before
    expected = {(first_seq + i) & 0xFFFF for i in range(count - window, count)}
    have = set(received) | own
    assert expected <= have and len(received) + len(own) == len(have)  # each number once
    for out in own:  # the subscriber's own losses: repaired by NACK from the history
        sequence = r.input_sequence(out)
        assert sequence is not None
        view = history.get(sequence)
        if (inputs[-1] - sequence) & 0xFFFF < history.size:
            assert view is not None and r.map(view.sequence, view.timestamp, False, 0.1) is not None
            assert r.map(view.sequence, view.timestamp, False, 0.1)[0] == out  # type: ignore[index]
