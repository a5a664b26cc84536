"""Packet-level passthrough: a publisher's RTP packets forwarded one by one, no frames.

For each publisher track (`PacketPublication`), the transports' short path (fast_path)
hands every unprotected RTP packet of its SSRCs to `on_rtp`, called from the socket
callback: parsed once (packets.py), unwrapped if RTX, counted for receiver reports and
NACKs, recorded for transport-cc, kept in a short history (with the compiled core a C
ring: packet_core); then, for each subscriber (`PacketForward`), its header is rewritten
(SSRC, payload type, sequence number and timestamp from the subscriber's numbering, a
`Rewriter`, extensions by the subscriber's ids), the packet is protected with the
subscriber's SRTP context (numbering, rewrite and protect: one C call with the compiled
core) and queued to its transport's
batcher (one system call per burst with GSO). No frame assembly, no packetizer, no
sender loop, no task per packet.

RTCP stays on aiortc's slower path (parse, route), with our handlers in front:
- from a subscriber: NACK answered from the publication's history, PLI/FIR relayed to the
  publisher (rate-limited by the Fanout), REMB kept as that subscriber's cap;
- to a subscriber: the aiortc sender's own RTCP loop sends its sender reports, with the
  publisher's NTP/RTP pair rewritten in the subscriber's timeline (lip-sync) and our counts;
- to a publisher: receiver reports and NACKs from what arrived (for audio, the fraction
  lost is the worst of its hop's and its subscribers' own: loss_relay.py, Opus FEC), PLI,
  transport-cc feedback every 100 ms when its browser numbers packets (its own estimator
  then sets its bitrate), and a REMB: the light server-side estimate where there is no
  transport-cc, or only the subscribers' lowest REMB as a cap where there is.

The aiortc sender of each subscriber transceiver stays (negotiation, SSRC, sender
reports), given a track that never yields a frame, so its RTP loop sleeps. Pixels are
made only on demand (`frames()`, the ID check): packets then also go to an assembler and
the Fanout that framegrab reads, as in the frame-level path; video ones as forwarded (in
order, holes settled, FEC places passed as numbers without a frame).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections import Counter, deque
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import depayload, is_rtx
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
)

from . import aiortc_hooks, fast_path, packet_core
from .assembler import AudioAssembler, FrameBatch, VideoAssembler
from .encoded import EncodedFrame, codec_key, is_keyframe
from .fanout import Fanout, ForwardedTrack
from .framegrab import decoded_frames
from .loss_relay import DownstreamLoss, reported_fraction, upstream_fraction
from .nack import WAIT_BUCKET, NackTracker
from .packets import (
    ABS_SEND_TIME_URI,
    PLAYOUT_DELAY_URI,
    TRANSPORT_CC_URI,
    ExtensionMapper,
    History,
    MalformedPacket,
    ReceiveStats,
    Rewriter,
    RtpView,
    TransportFeedback,
    is_keyframe_start,
    newer,
    padding_packet,
    parse_rtp,
    payload_of,
    rewritten_header,
    rtcp_nack,
    rtcp_pli,
    rtcp_remb,
    rtcp_rr,
    rtx_packet,
    unwrap_rtx,
)
from .playout_hint import PlayoutHint
from .red import RedPayload, fmtp_payload_types, is_red
from .red import parse as parse_red
from .remb import FLOOR_BPS
from .repeat import LOSSY, LOSSY_FOR, REPEAT_GAP, LossyHop
from .rtx_budget import CAP, COPY_KEEP, RTX_OVERHEAD, RetransmitBudget
from .ulpfec import (
    FecDecoder,
    encode,
    is_ulpfec,
    next_picture,
    parse_fec,
    plain_packet,
    red_block_type,
    vp8_frame_start,
    vp8_picture_id,
)

logger = logging.getLogger(__name__)

REPORT_INTERVAL = 1.0  # receiver reports to publishers, sender report figures to subscribers
FEEDBACK_INTERVAL = 0.1  # transport-cc feedback (libwebrtc sends it every 50-250 ms)
# A subscriber whose forward starts within this long of the publisher's last keyframe starts
# at that keyframe, sent again from the history, rather than waiting for a new one: with the
# keyframe asked for at the admission click (MediaEngine.request_keyframes), the admitted
# guest's first picture does not wait for a second PLI round (issue 21).
KEYFRAME_REPLAY_AGE = 0.5
MAX_NACKED = 64  # sequence numbers answered per subscriber NACK
_REBUILT_RING = 512  # numbers of packets rebuilt from FEC remembered (more than the history: 256)
_FEC_GAP_SCAN = 16  # how far past a hole the next frame's first packet is looked for
# FEC of the engine's own towards a video subscriber that negotiated it (ulpfec.py), while its
# hop is lossy (repeat.LossyHop: a report of 2% or more within 5 s; the last report alone swings
# between 0 and tens of per cent on a link losing 10%, and FEC went off and on with each, bench:
# on for 1,001-1,516 of ~2,700 packets): one FEC packet per frame of FEC_MIN packets or more
# (else per two frames or more: per frame, one-packet frames cost 74% more packets in the
# bench), per FEC_GROUP packets of a larger frame. Not while the subscriber's retransmission
# budget is low (rtx_budget.py): its link is flooded, not randomly lossy, and FEC would add
# ~40% more packets to what it already cannot carry (bench, 400 kbit/s downlink: FEC on for 199-262 packets
# while 195-783 retransmissions were refused, 0.6 and 3.3 s frozen). On from FEC_BANK_ON bytes
# in its bank, off under FEC_BANK_OFF.
FEC_BANK_ON = CAP / 2
FEC_BANK_OFF = CAP / 4
FEC_GROUP = 5
FEC_MIN = 2
# A browser keeps the last REMB as a cap on its send rate until another comes: when no
# viewer caps a transport-cc publisher any more (they left, or went audio only), a REMB this
# high lifts the cap, sent with the next few reports (any one may be lost).
UNCAPPED_BITRATE = 20_000_000
UNCAP_REPORTS = 3


_ntp_now = fast_path.current_ntp_time


class _Transport:
    """A DTLS transport's synchronous protect-and-send (None while not usable)."""

    @staticmethod
    def sender(dtls: RTCDtlsTransport | None, rtcp: bool) -> Any:
        if dtls is None or dtls._state is not State.CONNECTED or dtls._tx_srtp is None:
            return None
        send = fast_path.direct_sender(dtls)
        if send is None:
            return None
        protect = dtls._tx_srtp.protect_rtcp if rtcp else dtls._tx_srtp.protect

        def protect_and_send(data: bytes) -> None:
            send(protect(data))

        return protect_and_send


def _send_rtcp(dtls: RTCDtlsTransport | None, data: bytes) -> None:
    send = _Transport.sender(dtls, rtcp=True)
    if send is None:
        return
    try:
        send(data)
    except (ConnectionError, pylibsrtp.Error) as exc:
        logger.debug("RTCP not sent: %s", exc)


class _FeedbackLoop:
    """transport-cc feedback for one publisher connection (its audio and video together)."""

    def __init__(self, dtls: RTCDtlsTransport, sender_ssrc: int) -> None:
        self._dtls = weakref.ref(dtls)
        self.feedback = TransportFeedback(sender_ssrc)
        self._handle: asyncio.TimerHandle | None = None
        self.sent = 0  # feedback packets (tests, stats)

    def add(self, sequence: int, arrival_us: int, ssrc: int) -> None:
        self.feedback.add(sequence, arrival_us, ssrc)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(FEEDBACK_INTERVAL, self._flush)

    def _flush(self) -> None:
        self._handle = None
        dtls = self._dtls()
        for packet in self.feedback.build():
            _send_rtcp(dtls, packet)
            self.sent += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_feedback_loops: weakref.WeakKeyDictionary[RTCDtlsTransport, _FeedbackLoop] = weakref.WeakKeyDictionary()


def feedback_sent(dtls: RTCDtlsTransport) -> int:
    """How many transport-cc feedback packets went to this publisher connection."""
    loop = _feedback_loops.get(dtls)
    return loop.sent if loop is not None else 0


class PacketPublication:
    """One publisher track on the packet path (the engine's Publication protocol)."""

    def __init__(self, transceiver: RTCRtpTransceiver, *, remb: aiortc_hooks.RembMode, repeat: bool = True) -> None:
        self.kind = transceiver.kind
        self.repeat = repeat  # repair messages twice on a lossy hop (REPEAT_GAP)
        codecs = aiortc_hooks.negotiated_codecs(transceiver)
        self.codec: RTCRtpCodecParameters | None = next(
            (c for c in codecs
             if not is_rtx(c) and not is_red(c) and not is_red(c, "video") and not is_ulpfec(c)), None)
        self._codec_name = codec_key(self.codec.mimeType) if self.codec else ""
        self._media_pt: int = self.codec.payloadType if self.codec and self.codec.payloadType is not None else -1
        self._rtx_pt = next((c.payloadType for c in codecs if is_rtx(c) and self.codec is not None
                             and c.parameters.get("apt") == self._media_pt), -1)
        self._clock_rate = self.codec.clockRate if self.codec else 90000
        # RED (red.py): the publisher's payload type for it, if negotiated (-1: none).
        self._red_pt = next((c.payloadType for c in codecs if is_red(c) and c.payloadType is not None), -1)
        # Video RED + ULPFEC (ulpfec.py), if negotiated: the publisher's RED, its RTX and
        # ULPFEC payload types (-1: none), and the FEC kept to rebuild its uplink's losses.
        self._vred_pt = next((c.payloadType for c in codecs if is_red(c, "video") and c.payloadType is not None), -1)
        self._rtx_vred_pt = next((c.payloadType for c in codecs if is_rtx(c) and self._vred_pt >= 0
                                  and c.parameters.get("apt") == self._vred_pt and c.payloadType is not None), -1)
        self._ulpfec_pt = next((c.payloadType for c in codecs if is_ulpfec(c) and c.payloadType is not None), -1)
        self._fec: FecDecoder | None = FecDecoder() if self._vred_pt >= 0 and self._ulpfec_pt >= 0 else None
        self.fec_gaps = 0  # lost FEC packets passed by picture ids (never retransmitted)
        self.video_red = 0  # video packets that came in RED (ULPFEC included), and RTX of RED
        # Numbers of packets rebuilt from FEC (by number modulo the ring's size; the packets are
        # in the history), each checked against a retransmission of the same packet when one
        # still comes (asked for before FEC rebuilt it): how many, how many differed.
        self._rebuilt: list[int] = [-1] * _REBUILT_RING if self._fec is not None else []
        self.rebuilt_checked = 0
        self.rebuilt_wrong = 0
        self.rtx_red = 0
        self.extensions = aiortc_hooks.header_extensions(transceiver)
        by_uri = {uri: eid for eid, uri in self.extensions.items()}
        self._tcc_id = by_uri.get(TRANSPORT_CC_URI)
        self._abs_id = by_uri.get(ABS_SEND_TIME_URI)
        # Audio: every packet is a start (is_keyframe_start's answer for audio codecs).
        self._inspect = packet_core.ACTIVE.inspector(self._tcc_id, self._abs_id,
                                                     self._codec_name if self.kind == "video" else "opus")
        self._receiver = transceiver.receiver
        self._rtcp_ssrc = transceiver.sender._ssrc  # what aiortc sends this receiver's RTCP from
        self.fanout = Fanout(self.kind, self._send_pli)  # PLI rate limit, and the frame tap's viewers
        self.forwards: list[PacketForward] = []
        self.video = self.kind == "video"
        # Video: the last packets for NACKs and replays (in C with the compiled core: packet_core).
        self.history = packet_core.ACTIVE.history() if self.video else None
        self.stats = ReceiveStats()
        self.media_ssrc: int | None = None
        self.malformed = 0  # packets dropped as malformed (after SRTP authentication)
        self.red_packets = 0  # audio packets that came as RED (red.py)
        # Audio: RED packets by the earlier frames they carry (0: Chromium's RED with nothing
        # to repeat, e.g. after DTX), and plain Opus packets: whether redundancy really flows.
        self.red_blocks: Counter[int] = Counter()
        self.plain_audio = 0
        self.holes_given_up = 0  # losses NACKs did not repair
        self.gaps_beyond_repair = 0  # of them, runs of losses older than the publisher keeps (outages)
        self._estimator: Any = None  # the server-side REMB estimator (browsers without transport-cc)
        self._feedback: _FeedbackLoop | None = None
        self._sender_report: tuple[int, int, float] | None = None  # publisher's NTP, RTP, when received
        self._nacks = NackTracker()  # missing video packets: when to ask again, when to give up
        self._next: int | None = None  # video: next sequence number to forward, in order
        self._keyframe: tuple[int, float] | None = None  # video: last keyframe forwarded (sequence, when)
        self._nack_handle: asyncio.TimerHandle | None = None
        # Video: the playout delay asked of every viewer while the uplink's losses are repaired
        # (playout_hint.py), in ms; how often it changed and its highest value (logged at the end).
        self._playout_hint = PlayoutHint()
        self.playout_delay_ms = 0
        self.playout_delay_changes = 0
        self.playout_delay_highest = 0
        self._uncap_reports = 0  # reports still to carry UNCAPPED_BITRATE (a viewers' cap was sent)
        self.uplink = LossyHop()  # whether NACKs to the publisher go twice (repeat.py)
        self.nacks_repeated = 0
        self._tap: AudioAssembler | VideoAssembler | None = None
        self._tap_stale: bool | None = None  # None: frames() never called
        self._loop = asyncio.get_running_loop()
        self._report_handle = self._loop.call_later(REPORT_INTERVAL, self._report)
        self._ended = False
        # No decoder ever: the stock receive path gets no packet, its decoder worker returns.
        aiortc_hooks.attach_receiver(self._receiver, AudioAssembler() if self.kind == "audio" else VideoAssembler(),
                                     aiortc_hooks.EncodedSink(lambda codec, batch: None, lambda: None), remb=remb)
        # aiortc's (or the light) estimator object, fed here: aiortc's receive path never runs.
        self._estimator = aiortc_hooks.bitrate_estimator(self._receiver)
        aiortc_hooks.intercept_rtcp(self._receiver, self._on_rtcp)
        aiortc_hooks.unreported_receiver(self._receiver)  # our receiver reports only
        fast_path.register_packet_receiver(self._receiver, self.on_rtp)

    # --- the per-packet path ---------------------------------------------------------------

    def on_rtp(self, data: bytes) -> None:
        try:
            view, tcc, abs_time = self._inspect(data)  # parsed, keyframe start set (packet_core)
        except MalformedPacket:
            self.malformed += 1
            return
        # Per packet, as libwebrtc does: one with a transport-wide number is reported in
        # transport-cc feedback, one without feeds the server-side REMB estimator.
        if tcc >= 0:
            self._transport_feedback().add(tcc, time.monotonic_ns() // 1000, view.ssrc)
        pt = view.payload_type
        repair = pt == self._rtx_pt or pt == self._rtx_vred_pt
        if repair:
            if self.media_ssrc is None:
                return
            unwrapped = unwrap_rtx(view, self.media_ssrc, self._media_pt if pt == self._rtx_pt else self._vred_pt)
            if unwrapped is None:
                return  # padding used as a bandwidth probe
            view = unwrapped
            if pt == self._rtx_pt:
                view.keyframe = is_keyframe_start(self._codec_name, view.payload)
        elif pt != self._media_pt and pt != self._red_pt and pt != self._vred_pt:
            return  # a payload type this track did not negotiate (never forwarded)
        elif view.ssrc != self.media_ssrc:
            self._new_stream(view.ssrc)
        if view.payload_type == self._vred_pt:
            self.video_red += 1
            if repair:
                self.rtx_red += 1
            unred = self._unwrap_video_red(view)
            if unred is None:
                self.malformed += 1
                return
            view = unred
        red: RedPayload | None = None
        if pt == self._red_pt:
            red = parse_red(payload_of(view), self._media_pt)
            if red is None:
                self.malformed += 1  # not RED of Opus as negotiated: never forwarded
                return
            if not self.red_packets:
                logger.info("audio publisher sends RED (payload type %d, %d earlier frame(s) per packet)",
                            pt, red.redundant)
            self.red_packets += 1
            self.red_blocks[red.redundant] += 1
        elif not self.video:
            self.plain_audio += 1
        if tcc < 0 and self._estimator is not None and abs_time >= 0:
            self._estimate(view, abs_time)
        if repair and self._fec is not None and self._rebuilt[view.sequence % _REBUILT_RING] == view.sequence:
            assert self.history is not None
            rebuilt = self._rebuilt_view(view.sequence)
            if rebuilt is not None:  # a check of FEC's work
                self.rebuilt_checked += 1
                self.rebuilt_wrong += rebuilt.payload != view.payload
        if repair:
            # Repaired: no longer missing, but not counted as received on the media stream
            # (libwebrtc counts RTX on its own SSRC), so receiver reports give the publisher
            # its link's real loss, the figure its connection indicator grades.
            self.stats.missing.discard(view.sequence)
            now = time.monotonic()
            if view.sequence in self._nacks:
                self._playout_hint.repaired(now)
            self._nacks.repaired(view.sequence, now)
            self._update_playout_delay(now)
        elif (revealed := self.stats.add(view.sequence)) and self.video:
            if self._beyond_repair(view, revealed):
                self.gaps_beyond_repair += 1
                self._give_up([(view.sequence - i) & 0xFFFF for i in range(1, revealed + 1)])
            else:
                self._nack_missing()
        elif view.sequence in self._nacks:  # a late original: the hole's wait is counted
            self._nacks.arrived(view.sequence, time.monotonic())
        if self.video:
            assert self.history is not None
            self.history.add(view)
            self._release(view.sequence, view.keyframe)
            if self._fec is not None:
                self._recover()
        elif self.forwards:
            now = time.monotonic()
            ntp = _ntp_now()
            for forward in self.forwards:
                forward.send(view, now, ntp, red)
        if self._tap_stale is not None and not self.video:
            self._feed_tap(view, red)  # video: fed in order by _release (holes settled)

    # --- video FEC (ulpfec.py) -------------------------------------------------------------

    def _unwrap_video_red(self, view: RtpView) -> RtpView | None:
        """A video RED packet's block: the VP8 packet (read again by FEC: `_plain_packet`), or an FEC
        packet's place in the numbering (payload type ULPFEC, kept by the decoder), None if
        it is neither."""
        payload = payload_of(view)
        block = red_block_type(payload)
        if block == self._media_pt:
            inner = RtpView(view.data, view.marker, self._media_pt, view.sequence, view.timestamp, view.ssrc,
                            view._extensions, view.start + 1, view.end)
            inner.keyframe = is_keyframe_start(self._codec_name, inner.payload)
            return inner
        if block == self._ulpfec_pt and self._fec is not None:
            fec = parse_fec(payload[1:], view.sequence)
            if fec is None:
                return None
            self._fec.add(fec)
            return RtpView(view.data, 0, self._ulpfec_pt, view.sequence, view.timestamp, view.ssrc, [], view.end,
                           view.end)
        return None

    def _plain_packet(self, sequence: int) -> bytes | None:
        """A packet as FEC sees it (plain RTP, RED removed), made from the history when FEC
        needs it (no copy of every packet kept): from a RED packet as received, or one
        rebuilt (plain already). Not from a retransmission: RTX carries its own extension
        layout (MID until its stream is acknowledged), and a copy off by a byte would
        corrupt what FEC rebuilds."""
        assert self.history is not None
        view = self.history.get(sequence)
        if view is None or view.payload_type != self._media_pt:
            return None  # not held, or an FEC packet's place
        sent_as = view.data[1] & 0x7F
        if sent_as == self._vred_pt:  # its RED header: the byte before its payload
            return plain_packet(view.data, view.start - 1, view.start, view.end, view.marker, self._media_pt)
        rebuilt = self._rebuilt_view(sequence)
        return bytes(rebuilt.data) if rebuilt is not None else None

    def _rebuilt_view(self, sequence: int) -> RtpView | None:
        """The history's packet `sequence` if FEC rebuilt it (and no retransmission replaced it)."""
        assert self.history is not None
        if self._rebuilt[sequence % _REBUILT_RING] != sequence:
            return None
        view = self.history.get(sequence)
        return view if view is not None and view.data[1] & 0x7F == self._media_pt else None

    def _recover(self) -> None:
        """Rebuild from FEC what the publisher's uplink lost, as if a retransmission came
        (no round trip sample: nothing was asked), and forward it in its place."""
        assert self._fec is not None and self.history is not None and self.media_ssrc is not None
        if self._next is not None:
            self._fec.forget_before(self._next)  # groups wholly forwarded (or given up): no use
        for data in self._fec.recover(self._plain_packet, self.media_ssrc):
            try:
                view = parse_rtp(data)
            except MalformedPacket:
                continue
            if view.payload_type != self._media_pt or view.sequence not in self.stats.missing:
                continue  # not this stream's, or no longer wanted (repaired, given up)
            view.keyframe = is_keyframe_start(self._codec_name, view.payload)
            self._rebuilt[view.sequence % _REBUILT_RING] = view.sequence
            self.stats.missing.discard(view.sequence)
            self._nacks.arrived(view.sequence, time.monotonic())
            self.history.add(view)
            self._release(view.sequence)

    def _fec_gap(self) -> bool:
        """Whether the hole at `_next` is only lost FEC (which no NACK brings back): it lies
        between a frame's last packet and the first of the frame with the next picture id
        (FEC packets in between are passed over too). It is then filled like an FEC packet."""
        history = self.history
        assert history is not None and self._next is not None and self.media_ssrc is not None
        before = None
        for step in range(1, _FEC_GAP_SCAN):  # the last media packet, past FEC places
            before = history.get((self._next - step) & 0xFFFF)
            if before is None or before.payload_type == self._media_pt:
                break
        if before is None or not before.marker or before.payload_type != self._media_pt:
            return False
        after = None
        for step in range(1, _FEC_GAP_SCAN):
            after = history.get((self._next + step) & 0xFFFF)
            if after is not None and after.payload_type == self._media_pt:
                break
        else:
            return False
        assert after is not None
        first, second = vp8_picture_id(before.payload), vp8_picture_id(after.payload)
        if first is None or second is None or not vp8_frame_start(after.payload) or not next_picture(first, second):
            return False
        sequence = self._next
        while sequence != after.sequence:
            if history.get(sequence) is None:  # an FEC place: a bare header (the C ring holds RTP packets only)
                header = rewritten_header(0, self._ulpfec_pt, sequence, after.timestamp, self.media_ssrc, False)
                history.add(RtpView(header, 0, self._ulpfec_pt, sequence, after.timestamp, self.media_ssrc, [],
                                    len(header), len(header)))
                self.stats.missing.discard(sequence)
                self._nacks.arrived(sequence, time.monotonic())
                self.fec_gaps += 1
            sequence = (sequence + 1) & 0xFFFF
        return True

    def _release(self, arrived: int, keyframe: bool | None = None) -> None:
        """Video is forwarded in sequence order: packets behind a hole wait (in the history)
        until it is repaired or given up, as the frame-level path waited for whole frames.
        A subscriber's sequence numbers then have no gap from the publisher's uplink: a
        gap it sees is its own hop's, the loss its connection indicator grades.

        `keyframe`: `arrived` was just added to the history (and is a keyframe start or not).
        In order, the common case, the history is then asked nothing: per packet, one
        history call (add) and one forward call per subscriber."""
        history = self.history
        assert history is not None
        if self._next is None:
            self._next = arrived
        elif newer(self._next, arrived):
            return  # already forwarded, or behind a hole given up
        elif (arrived - self._next) & 0xFFFF >= history.size // 2:
            self._skip_to(arrived)  # a hole nobody repairs any more (too old to NACK)
        if self._fec is not None or self._tap_stale is not None:
            self._release_views()
            return
        held = (1 if keyframe else 0) if keyframe is not None and arrived == self._next else \
            history.state(self._next)
        if held < 0:
            return
        now = time.monotonic()
        ntp = _ntp_now()
        newest = (self.stats.highest + 1) & 0xFFFF  # nothing held from here on
        forwards = [(forward, forward.wants_views()) for forward in self.forwards]
        views = any(wants for _, wants in forwards)
        while held >= 0:
            if held:
                self._keyframe = (self._next, now)
            view = history.get(self._next) if views else None
            for forward, wants in forwards:
                if wants and view is not None:
                    forward.send(view, now, ntp)  # its FEC needs the packet
                else:
                    forward.send_stored(history, self._next, now, ntp)  # one C call each (compiled core)
            self._next = (self._next + 1) & 0xFFFF
            held = -1 if self._next == newest else history.state(self._next)

    def _release_views(self) -> None:
        """`_release` a packet view at a time: where the publisher sends FEC (its places fill
        holes and go as padding, `PacketForward.send`) or the frames tap reads the video in
        order (the ID check; fed here, holes settled, FEC places passed as numbers)."""
        history = self.history
        assert history is not None and self._next is not None
        if history.get(self._next) is None and not (self._fec is not None and self._fec_gap()):
            return
        now = time.monotonic()
        ntp = _ntp_now()
        while (view := history.get(self._next)) is not None or (self._fec is not None and self._fec_gap()):
            if view is None:  # a lost FEC packet's place just filled (reached inside the loop)
                view = history.get(self._next)
                assert view is not None
            if view.keyframe:
                self._keyframe = (view.sequence, now)
            for forward in self.forwards:
                forward.send(view, now, ntp)
            if self._tap_stale is not None:
                self._feed_tap(view)
            self._next = (self._next + 1) & 0xFFFF

    def replay_keyframe(self, forward: PacketForward) -> bool:
        """Send `forward` (just ready) what was forwarded since the last keyframe, if that
        keyframe is recent (KEYFRAME_REPLAY_AGE) and everything since is in the history;
        False if not (it then waits for a new keyframe)."""
        if self._keyframe is None or self._next is None or self.history is None:
            return False
        sequence, at = self._keyframe
        now = time.monotonic()
        count = (self._next - sequence) & 0xFFFF
        if now - at > KEYFRAME_REPLAY_AGE or not 0 < count <= self.history.size // 2:
            return False
        views = [self.history.get((sequence + i) & 0xFFFF) for i in range(count)]
        if any(view is None for view in views):
            return False
        ntp = _ntp_now()
        for view in views:
            forward.send(view, now, ntp)  # type: ignore[arg-type]  # None ruled out above
        return True

    def _skip_to(self, sequence: int) -> None:
        """Forward on from `sequence`: what is missing before it will never be sent.
        Subscribers resume at a keyframe, numbered on (no gap)."""
        self._next = sequence
        self._keyframe = None
        for forward in self.forwards:
            forward.restart()
        self.request_keyframe()

    def _new_stream(self, ssrc: int) -> None:
        if self.media_ssrc is not None:
            for forward in self.forwards:
                forward.restart()  # the publisher restarted its stream: new numbering upstream
            self.stats = ReceiveStats()
            self._nacks = NackTracker()
            self._next = None
            self._keyframe = None
            if self.history is not None:
                self.history = packet_core.ACTIVE.history()
            if self._fec is not None:
                self._fec = FecDecoder()
                self._rebuilt = [-1] * _REBUILT_RING
            self.fanout.new_stream()
        self.media_ssrc = ssrc

    def _transport_feedback(self) -> _FeedbackLoop:
        if self._feedback is None:
            dtls = self._receiver.transport
            loop = _feedback_loops.get(dtls)
            if loop is None:
                loop = _feedback_loops[dtls] = _FeedbackLoop(dtls, self._rtcp_ssrc)
            self._feedback = loop
        return self._feedback

    def _estimate(self, view: RtpView, abs_time: int) -> None:
        assert self._estimator is not None
        remb = self._estimator.add(time.monotonic_ns() // 1_000_000, abs_time, view.end - view.start, view.ssrc)
        if remb is not None:
            bitrate, ssrcs = remb
            cap = self.viewers_bitrate()
            self._send_rtcp(rtcp_remb(self._rtcp_ssrc, min(bitrate, cap) if cap else bitrate, ssrcs))

    # --- RTCP to and from the publisher ----------------------------------------------------------

    def _send_rtcp(self, data: bytes) -> None:
        _send_rtcp(self._receiver.transport, data)

    def _on_rtcp(self, packet: Any) -> bool:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self.media_ssrc:
            info = packet.sender_info
            self._sender_report = (info.ntp_timestamp, info.rtp_timestamp, time.monotonic())
        return False  # aiortc keeps its statistics

    def _send_pli(self) -> None:
        if self.media_ssrc is not None:
            self._send_rtcp(rtcp_pli(self._rtcp_ssrc, self.media_ssrc))

    def request_keyframe(self) -> None:
        self.fanout.request_keyframe()  # at most one PLI per 500 ms reaches the publisher

    def _nack_missing(self) -> None:
        self._nacks.add(self.stats.missing, time.monotonic())
        self._send_nacks()

    def _beyond_repair(self, view: RtpView, revealed: int) -> bool:
        """Whether the `revealed` packets missing just before `view` may be gone from the
        publisher's history too (nack.py: the media time across the gap): after an outage, a
        keyframe at once rather than NACKs for a second or more (the 5 s outage in
        bench/weak_network_bench.py: the agent's picture came back 2 s after the link)."""
        assert self.history is not None
        before = self.history.get((view.sequence - revealed - 1) & 0xFFFF)
        if before is None:
            return False
        ticks = (view.timestamp - before.timestamp) & 0xFFFFFFFF
        return ticks < 0x80000000 and self._nacks.beyond_repair(ticks / self._clock_rate)

    def _give_up(self, given_up: list[int]) -> None:
        """Holes that stay: every decoder behind them needs a keyframe; ask now rather than
        after each subscriber's own timeout and PLI round trip. Each subscriber's stream
        resumes, numbered on, at that keyframe: continuous across the loss (the packets held
        behind the holes are dropped until then)."""
        missing = self.stats.missing
        missing.difference_update(given_up)
        self.holes_given_up += 1
        for forward in self.forwards:
            forward.skip_lost(given_up)
        self.request_keyframe()
        if self._next is not None and self.history is not None:
            # Past the holes now given up, to the next packet that arrived.
            first = self._next
            while self.history.state(self._next) < 0 and newer(self.stats.highest & 0xFFFF, self._next):
                self._next = (self._next + 1) & 0xFFFF
                if self._next == first:
                    break
            self._release(self._next)

    def _send_nacks(self) -> None:
        """NACK what is due (new holes at once, older ones once a round trip passed without
        their retransmission: nack.py), give up what waited too long."""
        if self._nack_handle is not None:
            self._nack_handle.cancel()
            self._nack_handle = None
        if self.media_ssrc is None or not self._nacks:
            return
        missing = self.stats.missing
        self._nacks.retain(missing)
        lost, given_up = self._nacks.due(time.monotonic())
        if lost:
            nack = rtcp_nack(self._rtcp_ssrc, self.media_ssrc, lost)
            self._send_rtcp(nack)
            if self.repeat and self.uplink.repeats(len(lost), time.monotonic()):
                self.nacks_repeated += 1
                self._loop.call_later(REPEAT_GAP, self._send_rtcp, nack)
        if given_up:
            self._give_up(given_up)
        due = self._nacks.next_due()
        if due is not None:
            self._nack_handle = self._loop.call_later(max(0.0, due - time.monotonic()), self._send_nacks)

    def _update_playout_delay(self, now: float) -> None:
        if not self.video:
            return
        delay = self._playout_hint.current(now, self._nacks.rtt)
        if delay == self.playout_delay_ms:
            return
        taken = sum(forward.set_playout_delay(delay) for forward in self.forwards)
        if not delay or not self.playout_delay_ms:
            logger.info("video publication: %s (%d of %d viewers take it now)",
                        f"viewers asked for {delay} ms of playout delay (uplink repairs, round trip "
                        f"{self._nacks.rtt * 1000:.0f} ms)" if delay else "viewers' playout delay back to 0",
                        taken, len(self.forwards))
        self.playout_delay_ms = delay
        self.playout_delay_changes += 1
        self.playout_delay_highest = max(self.playout_delay_highest, delay)

    def _report(self) -> None:
        """Every second: a receiver report (and the subscribers' cap) to the publisher; SR figures to subscribers."""
        if self._ended:
            return
        self._report_handle = self._loop.call_later(REPORT_INTERVAL, self._report)
        self._update_playout_delay(time.monotonic())  # back to 0 once repairs stopped
        if self.media_ssrc is None:
            return
        fraction, lost = self.stats.report()
        self.uplink.reported(fraction, time.monotonic())
        if not self.video:
            # Opus codes in-band FEC for the loss it is told: its subscribers' hops count too.
            now = time.monotonic()
            fraction = upstream_fraction(fraction, (f.state.loss.current(now) for f in self.forwards if not f.paused))
        lsr = dlsr = 0
        if self._sender_report is not None:
            ntp, _, received = self._sender_report
            lsr = (ntp >> 16) & 0xFFFFFFFF
            dlsr = int((time.monotonic() - received) * 65536)
        data = rtcp_rr(self._rtcp_ssrc, [(self.media_ssrc, fraction, lost, self.stats.highest, lsr, dlsr)])
        if self.video and self._feedback is not None:
            cap = self.viewers_bitrate()
            if cap:  # transport-cc sets the rate; the subscribers' REMB still bounds it
                data += rtcp_remb(self._rtcp_ssrc, cap, [self.media_ssrc])
                self._uncap_reports = UNCAP_REPORTS
            elif self._uncap_reports:
                self._uncap_reports -= 1
                data += rtcp_remb(self._rtcp_ssrc, UNCAPPED_BITRATE, [self.media_ssrc])
        self._send_rtcp(data)
        for forward in self.forwards:
            forward.update_sender_report(self._sender_report)

    # --- subscribers --------------------------------------------------------------------------

    def viewers_bitrate(self) -> int | None:
        """The lowest bitrate a video viewer reported (REMB), if any reported, never below
        remb.FLOOR_BPS. A paused viewer (audio only) receives nothing: its last REMB, stale,
        caps nobody (it held a publisher at 30 kbit/s through and after a viewer's audio-only
        spell). The floor: a viewer's browser estimates with a delay-only detector that a
        lossy or jittery mobile link (bench, 10% loss: 44-95 kbit/s on a link with no rate
        limit) reads as a queue, and its REMB covers the publisher's audio too (with RED,
        ~70 kbit/s): below the floor the publisher's video sat at Chromium's 30 kbit/s minimum,
        320x240 at a few fps, as the server-side estimate did before its own floor (remb.py)."""
        known = [f.media_bitrate() for f in self.forwards if f.state.remote_bitrate and not f.paused]
        return max(min(known), FLOOR_BPS) if known else None

    def subscribe(self, transceiver: RTCRtpTransceiver, paused: bool) -> PacketForward:
        return PacketForward(self, transceiver, paused)

    @property
    def loss_skips(self) -> int:
        return self.holes_given_up

    @property
    def keyframe_requests(self) -> int:
        return self.fanout.pli_sent

    # --- frames, only on demand --------------------------------------------------------------

    def frames(self) -> AsyncGenerator[np.ndarray, None]:
        self._tap_stale = True  # a fresh assembler at the first packet a viewer is there for
        return decoded_frames(self.fanout)

    def encoded(self, max_queue: int) -> ForwardedTrack:
        """The track's encoded frames for a reader in the engine (the telephone's bridge):
        assembled from the packets while it reads, like frames()."""
        self._tap_stale = True
        return self.fanout.subscribe(max_queue=max_queue)

    def _feed_tap(self, view: RtpView, red: RedPayload | None = None) -> None:
        if not self.fanout.subscribers:
            self._tap_stale = True  # nobody reads frames now: assemble nothing
            return
        if self._tap_stale or self._tap is None:
            self._tap = VideoAssembler() if self.video else AudioAssembler()
            self._tap_stale = False
        assert self.codec is not None
        if view.payload_type == self._ulpfec_pt:  # an FEC place (received or lost): no VP8 in it
            assert isinstance(self._tap, VideoAssembler)
            batch = self._tap.fill(view.sequence)
            if batch is not None:
                self._push_tap(batch)
            return
        # Frames are plain Opus: a RED packet gives its primary block (the packet's own frame).
        packet = RtpPacket(payload_type=self._media_pt if red else view.payload_type, marker=view.marker,
                           sequence_number=view.sequence, timestamp=view.timestamp, ssrc=view.ssrc,
                           payload=bytes(red.primary()) if red else view.payload)
        try:
            packet._data = depayload(self.codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]  # what the assembler reads
        except ValueError:
            return
        _, batch = self._tap.add(packet)
        if batch is not None:
            self._push_tap(batch)

    def _push_tap(self, batch: FrameBatch) -> None:
        stream = self.fanout.stream
        frames = [EncodedFrame(self._codec_name, data, ts, is_keyframe(self._codec_name, data), stream)
                  for data, ts in batch.frames]
        self.fanout.push(self._codec_name, frames, batch.lost)

    def end(self) -> None:
        self._ended = True
        if self.video and (self._nacks.requests or self.gaps_beyond_repair):
            n = self._nacks
            logger.info("video publication ended: %d NACKed (retries included, %d NACK packets sent twice), "
                        "%d repaired, %d given up, %d gaps beyond repair (outages); round trip %.0f ms (%d "
                        "samples); holes filled after (ms: count) %s; viewers' playout delay changed %d times, at "
                        "most %d ms", n.requests, self.nacks_repeated, n.repairs, n.given_up,
                        self.gaps_beyond_repair, n.rtt * 1000, n.samples,
                        " ".join(f"{round(1000 * WAIT_BUCKET * b)}:{c}" for b, c in sorted(n.waits.items())),
                        self.playout_delay_changes, self.playout_delay_highest)
        if self._fec is not None:
            logger.info("video publication ended, FEC negotiated (payload types RED %d, its RTX %d, ULPFEC %d): "
                        "%d packets in RED (%d of them RTX), %d FEC packets received, %d packets rebuilt from "
                        "them (%d of them retransmitted too later, %d of those different), %d lost FEC packets "
                        "passed", self._vred_pt, self._rtx_vred_pt, self._ulpfec_pt, self.video_red, self.rtx_red,
                        self._fec.received, self._fec.recovered, self.rebuilt_checked, self.rebuilt_wrong,
                        self.fec_gaps)
        if not self.video and (self.red_packets or self.plain_audio):
            logger.info("audio publication ended: %d RED packets (by earlier frames carried: %s), %d plain Opus",
                        self.red_packets, dict(sorted(self.red_blocks.items())), self.plain_audio)
        self._report_handle.cancel()
        if self._nack_handle is not None:
            self._nack_handle.cancel()
        fast_path.forget_packet_receiver(self._receiver, self.on_rtp)
        dtls = self._receiver.transport
        loop = _feedback_loops.pop(dtls, None) if dtls is not None else None
        if loop is not None:
            loop.close()
        self.fanout.end()
        for forward in list(self.forwards):
            forward.detach()


class SenderState:
    """What outlives one forward on a subscriber's sender: its numbering, counts and REMB."""

    def __init__(self, clock_rate: int, video: bool) -> None:
        # Its numbering also counts what was sent with it (packets, octets).
        self.rewriter: Rewriter = packet_core.ACTIVE.numbering(clock_rate, video, random.randint(0, 0xFFFF),
                                                               random.randint(0, 0xFFFFFFFF))
        self.forward: PacketForward | None = None
        self.remote_bitrate: int | None = None  # last REMB from the subscriber
        # The REMBs it sent lately (when, kbit/s): logged as a video forward ends, to see a
        # subscriber's estimate fall (it caps the publisher: viewers_bitrate).
        self.remb_history: deque[tuple[float, int]] = deque(maxlen=120)
        self.loss = DownstreamLoss()  # the subscriber's own hop, from its receiver reports
        self.hop = LossyHop()  # whether retransmissions to it go twice, and the engine's FEC (repeat.py)
        self.rtx_budget = RetransmitBudget()  # how much its retransmissions may take (rtx_budget.py)
        self.rtx_seq = random.randint(0, 0xFFFF)  # its RTX stream's numbering

    @property
    def packets(self) -> int:
        return self.rewriter.packets

    @property
    def octets(self) -> int:
        return self.rewriter.octets


_sender_states: weakref.WeakKeyDictionary[RTCRtpSender, SenderState] = weakref.WeakKeyDictionary()


class _SilentTrack(MediaStreamTrack):
    """Keeps a packet-path sender's RTP loop asleep: no frame ever comes from it."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        await self._stopped
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if not self._stopped.done():
            self._stopped.set_result(None)


def prepare_packet_sender(transceiver: RTCRtpTransceiver) -> SenderState:
    """A new sendonly transceiver for the packet path: state, a silent track, our RTCP handler."""
    sender = transceiver.sender
    kind = transceiver.kind
    state = SenderState(90000 if kind == "video" else 48000, kind == "video")
    _sender_states[sender] = state
    sender.replaceTrack(_SilentTrack(kind))
    aiortc_hooks.idle_receiver(transceiver.receiver)
    ssrc = sender._ssrc

    def on_rtcp(packet: Any) -> bool:
        forward = state.forward
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            if forward is not None:
                forward.retransmit(packet.lost)
            return True
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                if forward is not None:
                    forward.publication.request_keyframe()
                return True
            if packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    return True
                if ssrc in ssrcs:
                    state.remote_bitrate = bitrate
                    state.remb_history.append((time.monotonic(), bitrate // 1000))
                return True
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            fraction = reported_fraction(packet, ssrc)
            if fraction is not None:
                now = time.monotonic()
                state.loss.update(fraction, now)
                state.hop.reported(fraction, now)
        return False  # receiver reports: aiortc's statistics too

    aiortc_hooks.intercept_rtcp(sender, on_rtcp)
    return state


class PacketForward:
    """One publisher track going to one subscriber's transceiver (the engine's Forward protocol)."""

    reusable = True  # its transceiver can carry another publisher's track of the same codec

    def __init__(self, publication: PacketPublication, transceiver: RTCRtpTransceiver, paused: bool) -> None:
        self.publication = publication
        self.transceiver = transceiver
        self.sender = transceiver.sender
        state = _sender_states.get(self.sender)
        if state is None:
            state = prepare_packet_sender(transceiver)
        self.state = state
        state.forward = self
        state.rewriter.restart()
        self.paused = paused
        self.dropped = 0  # packets that could not be sent (transport not ready)
        self.retransmitted = 0
        self.repeated = 0  # retransmissions sent twice (a lossy subscriber: REPEAT_GAP)
        self.red_forwarded = 0  # RED packets sent as RED, and as their primary block only
        self.red_stripped = 0
        # Once the subscriber's transport is ready: the rewrite-and-protect for it (packet_core),
        # and the send of a protected packet (its transport's batcher).
        self._forwarder: packet_core.Forwarder | None = None
        self._send: Any = None
        self._ssrc = self.sender._ssrc
        self._pt = -1
        self._red_pt: int | None = None  # the subscriber's RED payload type, if it takes RED
        self._red_seen: tuple[int, int] = (0, 0)  # the negotiated list _red_pt was read from
        self._rtx_pt: int | None = None
        self._rtx_ssrc: int = self.sender._rtx_ssrc
        self._mapper: ExtensionMapper | None = None
        self._srtp: Any = None  # the subscriber's SRTP session, once prepared
        # Video FEC of the engine's own (ulpfec.py): the subscriber's RED and ULPFEC payload
        # types if it negotiated them, whether FEC is on (its reported loss), the packets of
        # the group being protected ((sequence number, plain packet as sent)).
        self._fec_pts: tuple[int, int] | None = None
        self._fec_vp8 = False  # the engine's own FEC may go to this subscriber (VP8)
        self._fec_seen: tuple[int, int] = (0, 0)  # the negotiated list _fec_pts was read from
        self.fec_on = False
        self._fec_group: list[tuple[int, bytes]] = []
        self.fec_sent = 0
        self.fec_protected = 0
        publication.forwards.append(self)

    def _prepare(self) -> bool:
        """Ready once the subscriber answered (negotiated numbers) and its transport is connected."""
        if not aiortc_hooks.sender_started(self.sender):
            return False
        dtls = self.sender.transport
        if dtls is None or dtls._state is not State.CONNECTED or dtls._tx_srtp is None:
            return False
        send = fast_path.direct_sender(dtls)
        codec = self.publication.codec
        if send is None or codec is None:
            return False
        mime = codec.mimeType.lower()
        negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
        pt = next((c.payloadType for c in negotiated if c.mimeType.lower() == mime), None)
        if pt is None:
            return False
        self._pt = pt
        self._update_red()
        # Retransmissions go as RTX where negotiated: the subscriber's browser then counts
        # its own hop's loss on the media stream (its connection indicator grades it).
        self._rtx_pt = next((c.payloadType for c in negotiated if is_rtx(c) and c.parameters.get("apt") == pt),
                            None)
        # VP8 only: libwebrtc's H264 receiver, missing an FEC number it NACKed, waits for a
        # keyframe (its VP8 receiver goes on with the picture ids).
        self._fec_vp8 = self.publication._codec_name == "vp8"
        if self._fec_vp8:
            self._update_fec()
        self._srtp = dtls._tx_srtp
        self._make_forwarder()
        if self.publication.playout_delay_ms:
            self.set_playout_delay(self.publication.playout_delay_ms)
        self._send = send
        # Start the picture now that it can be shown: from a keyframe just forwarded, or a new one.
        if not (self.publication.video and self.publication.replay_keyframe(self)):
            self.publication.request_keyframe()
        return True

    def _make_forwarder(self) -> None:
        """The rewrite-and-protect for the extensions negotiated now."""
        self._mapper = ExtensionMapper(self.publication.extensions, aiortc_hooks.header_extensions(self.transceiver),
                                       self.transceiver.mid)
        self._forwarder = packet_core.ACTIVE.forwarder(self._srtp, self._mapper, self._ssrc)

    def set_playout_delay(self, min_ms: int) -> bool:
        """The publication's playout hint changed (a forward not yet prepared takes it then);
        False if the subscriber did not negotiate the extension."""
        if self._forwarder is None or self._forwarder.set_playout_delay(min_ms):
            return self._forwarder is not None
        if PLAYOUT_DELAY_URI not in aiortc_hooks.header_extensions(self.transceiver).values():
            return False
        # Negotiated after this forward was prepared: a packet came while an answer was being
        # applied (aiortc resets the list, accept_playout_delay adds it back).
        self._make_forwarder()
        return self._forwarder.set_playout_delay(min_ms)

    def _update_red(self) -> None:
        """RED goes as it is only where the subscriber's RED carries its own Opus payload type.
        Read again when the negotiated list changes: a new answer replaces it, and RED is
        added back just after aiortc's codecs (aiortc_hooks.accept_red), so a packet in between
        must not leave this subscriber without RED for good."""
        negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
        self._red_seen = (id(negotiated), len(negotiated))
        self._red_pt = next((c.payloadType for c in negotiated if is_red(c)
                             and set(fmtp_payload_types(c.parameters) or ()) == {self._pt}), None)

    def wants_views(self) -> bool:
        """Whether this forward needs each packet itself (`send`: its subscriber takes the
        engine's FEC), not the one C call on the history (`send_stored`)."""
        if not self._fec_vp8:
            return False
        negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
        if (id(negotiated), len(negotiated)) != self._fec_seen:
            self._update_fec()
        return self._fec_pts is not None

    def _update_fec(self) -> None:
        """The subscriber's video RED and ULPFEC payload types, read again when the negotiated
        list changes (as `_update_red`: aiortc replaces it during setRemoteDescription, and
        accept_video_fec adds them back just after)."""
        negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
        self._fec_seen = (id(negotiated), len(negotiated))
        red_pt = next((c.payloadType for c in negotiated if is_red(c, "video")), None)
        fec_pt = next((c.payloadType for c in negotiated if is_ulpfec(c)), None)
        self._fec_pts = (red_pt, fec_pt) if red_pt is not None and fec_pt is not None else None

    def send(self, view: RtpView, now: float, ntp: int, red: RedPayload | None = None) -> None:
        """Forward one packet; `red`: it is RED (parsed by the publication), given as it is
        to a subscriber that takes RED, as its primary block to one that does not."""
        if self.paused or (self._send is None and not self._prepare()):
            return
        if red is not None:
            negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
            if (id(negotiated), len(negotiated)) != self._red_seen:
                self._update_red()
            if self._red_pt is None and red.primary_start == len(red.data):
                return  # no frame of its own: nothing to give a subscriber without RED
        if self._fec_vp8:
            negotiated = aiortc_hooks.negotiated_codecs(self.transceiver)
            if (id(negotiated), len(negotiated)) != self._fec_seen:
                self._update_fec()
        if view.payload_type == self.publication._ulpfec_pt or (self._fec_pts is not None and self._fec_wanted(now)):
            self._send_fec(view, now, ntp)
            return
        pt, payload = self._pt, None
        if red is not None:
            if self._red_pt is not None:
                pt = self._red_pt
                payload = red.data if self._pt == self.publication._media_pt else red.renumbered(self._pt)
            else:
                payload = red.primary()
        assert self._forwarder is not None
        try:
            data = self._forwarder.forward_mapped(self.state.rewriter, view, pt, now, ntp, payload)
        except pylibsrtp.Error:
            self.dropped += 1
            return
        if data is None:
            if self.state.rewriter.waiting:
                self.publication.request_keyframe()
            return
        if red is not None:
            if self._red_pt is not None:
                self.red_forwarded += 1
            else:
                self.red_stripped += 1
        self._deliver(data)

    def send_stored(self, history: History, sequence: int, now: float, ntp: int) -> None:
        """Forward the video packet `history` holds as `sequence` (one C call with the compiled core)."""
        if self.paused or (self._send is None and not self._prepare()):
            return
        assert self._forwarder is not None
        try:
            data = self._forwarder.forward_stored(self.state.rewriter, history, sequence, self._pt, now, ntp)
        except pylibsrtp.Error:
            self.dropped += 1
            return
        if data is None:
            if self.state.rewriter.waiting:
                self.publication.request_keyframe()
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        try:
            self._send(data)
        except ConnectionError:
            self.dropped += 1
            self.state.rewriter.uncount()

    def _send_fec(self, view: RtpView, now: float, ntp: int) -> None:
        """A publisher's FEC packet's place (padding: the numbering stays a constant offset),
        or a packet to a lossy subscriber the engine protects with FEC of its own."""
        state = self.state
        mapped = state.rewriter.map(view.sequence, view.timestamp, view.keyframe, now)
        if mapped is None:
            if state.rewriter.waiting:
                self.publication.request_keyframe()
            return
        if view.payload_type == self.publication._ulpfec_pt:
            self._emit_padding(mapped)
        else:
            assert self._fec_pts is not None
            self._emit_protected(view, mapped, ntp, *self._fec_pts)

    def _emit(self, view: RtpView, mapped: tuple[int, int], ntp: int, pt: int | None = None,
              payload: bytes | memoryview | None = None) -> None:
        assert self._forwarder is not None
        try:
            self._send(self._forwarder.forward(view, self._pt if pt is None else pt, mapped[0], mapped[1], ntp,
                                               payload))
        except (ConnectionError, pylibsrtp.Error):
            self.dropped += 1
            return
        self.state.rewriter.count(view.end - view.start if payload is None else len(payload))

    def media_bitrate(self) -> int:
        """What of the subscriber's REMB the publisher's media may use: all of it, less the
        engine's FEC while it sends some (about one packet per FEC packet's group: without
        this, FEC on a link lost to its own queue would add the loss it answers)."""
        bitrate = self.state.remote_bitrate or 0
        if not self.fec_on or not self.fec_protected:
            return bitrate
        return int(bitrate * self.fec_protected / (self.fec_protected + self.fec_sent))

    def _fec_wanted(self, now: float) -> bool:
        state = self.state
        lossy = state.hop.lossy(now)
        bank = state.rtx_budget.level(state.octets)
        if lossy and not self.fec_on and bank >= FEC_BANK_ON:
            self.fec_on = True
            # Its FEC packets are numbered in between (Rewriter.insert): the reference numbering.
            state.rewriter = packet_core.python_numbering(state.rewriter)
            logger.info("video FEC on towards a subscriber: it reported %.1f%% loss or more", LOSSY * 100 / 256)
        elif self.fec_on and (not lossy or bank < FEC_BANK_OFF):
            self.fec_on = False
            self._fec_group.clear()
            logger.info("video FEC off towards a subscriber: %s", "its retransmissions flood its link" if lossy
                        else f"no loss reported for {LOSSY_FOR:.0f} s")
        return self.fec_on

    def _emit_protected(self, view: RtpView, mapped: tuple[int, int], ntp: int, red_pt: int, fec_pt: int) -> None:
        """A video packet to a lossy subscriber that takes FEC: in RED (its browser's FEC
        receiver reads only RED), and after its frame's last packet (FEC_MIN packets at
        least, or FEC_GROUP packets) an FEC packet over them, numbered in between (Rewriter.insert): a lone loss in the
        group is rebuilt there without a round trip. The parity covers each packet exactly
        as sent, so it is computed here, not taken from the publisher's."""
        assert self._mapper is not None and self._forwarder is not None
        sequence, timestamp = mapped
        extensions = self._mapper.block(view.extensions, ntp)
        payload = payload_of(view)
        try:
            self._send(self._forwarder.protect(
                rewritten_header(view.marker, red_pt, sequence, timestamp, self._ssrc, bool(extensions)),
                extensions, bytes((self._pt,)) + bytes(payload)))
        except (ConnectionError, pylibsrtp.Error):
            self.dropped += 1
            return
        self.state.rewriter.count(len(payload) + 1)
        group = self._fec_group
        if group and (sequence - group[0][0]) & 0xFFFF >= 40:
            group.clear()  # not one run of packets (a restart): a mask spans 48 numbers
        group.append((sequence, b"".join((rewritten_header(view.marker, self._pt, sequence, timestamp, self._ssrc,
                                                           bool(extensions)), extensions, payload))))
        if len(group) < FEC_GROUP and not (view.marker and len(group) >= FEC_MIN):
            return
        fec = encode(group)
        self.fec_protected += len(group)
        group.clear()
        rewriter = self.state.rewriter
        out = rewriter.insert()
        extensions = self._mapper.block([], ntp)
        try:
            self._send(self._forwarder.protect(rewritten_header(0, red_pt, out, timestamp, self._ssrc,
                                                                bool(extensions)), extensions, bytes((fec_pt,)) + fec))
            self.fec_sent += 1
            rewriter.count(len(fec) + 1)  # sent on the media stream: in its sender reports
        except (ConnectionError, pylibsrtp.Error):
            self.dropped += 1

    def _emit_padding(self, mapped: tuple[int, int]) -> None:
        """A publisher's FEC packet's place (the engine used it, ulpfec.py), or a NACKed one
        of the engine's own: padding, so the subscriber's numbering has no gap its NACKs and
        loss figures would count."""
        assert self._mapper is not None and self._forwarder is not None
        try:
            self._send(self._forwarder.protect(padding_packet(self._ssrc, self._pt, mapped[0], mapped[1],
                                                              self._mapper.block([], _ntp_now())), b"", b""))
        except (ConnectionError, pylibsrtp.Error):
            self.dropped += 1

    def skip_lost(self, sequences: list[int]) -> None:
        """Input packets that will never come: padding in their place, restart at a keyframe.

        Every hole of the ending mapping is filled, not only the ones given up: the others
        (still NACKed upstream) could not be placed after the restart either, and a gap
        left open would count in the subscriber's loss as its own link's (its connection
        indicator would grade the publisher's uplink loss, and switch it to audio only).
        """
        rewriter = self.state.rewriter
        if self._send is None or self.paused or not rewriter.started:
            return
        assert self._mapper is not None
        extensions = self._mapper.block([], _ntp_now())
        history = self.publication.history
        if history is None:
            holes = [out for out in map(rewriter.sent_sequence, sequences) if out is not None]
        else:
            holes = rewriter.holes(lambda s: history.state(s) >= 0, history.size)
        for out in holes:
            sequence = rewriter.input_sequence(out)
            assert sequence is not None
            # The timestamp of the packet after the hole: the padding joins that frame in a
            # receiver that groups packets by timestamp (alone, it would be an empty frame).
            timestamp = rewriter.last_timestamp
            for step in range(1, 64):
                after = history.get((sequence + step) & 0xFFFF) if history is not None else None
                if after is not None:
                    timestamp = rewriter.output_timestamp(after.timestamp) or timestamp
                    break
            try:
                assert self._forwarder is not None
                self._send(self._forwarder.protect(padding_packet(self._ssrc, self._pt, out, timestamp, extensions),
                                                   b"", b""))
            except (ConnectionError, pylibsrtp.Error):
                self.dropped += 1
        rewriter.restart()

    def retransmit(self, lost: list[int]) -> None:
        """Answer a subscriber's NACK from the publication's history."""
        history = self.publication.history
        if history is None or self._send is None or self.paused:
            return
        rewriter = self.state.rewriter
        ntp = _ntp_now()
        now = time.monotonic()
        lost = lost[:MAX_NACKED]
        copies: list[bytes] | None = [] if self.publication.repeat and self.state.hop.repeats(len(lost), now) else None
        for out_seq in lost:
            sequence = rewriter.input_sequence(out_seq)
            if sequence is None and rewriter.inserted(out_seq):
                # Our own FEC packet's number (a receiver NACKs it as any hole): padding
                # closes it; the FEC itself is not worth a round trip.
                self.retransmitted += 1
                self._emit_padding((out_seq, rewriter.last_timestamp))
                continue
            view = history.get(sequence) if sequence is not None else None
            if view is None:
                continue
            mapped = rewriter.map(view.sequence, view.timestamp, view.keyframe, now)
            if mapped is None or mapped[0] != out_seq:
                continue
            state = self.state
            if view.payload_type != self.publication._ulpfec_pt and not state.rtx_budget.spend(
                    len(view.data) + RTX_OVERHEAD, state.octets):
                continue  # its link is flooded: the media first
            self.retransmitted += 1
            if view.payload_type == self.publication._ulpfec_pt:
                self._emit_padding(mapped)
                continue
            if self._rtx_pt is None:
                self._emit(view, mapped, ntp)
                continue
            assert self._mapper is not None and self._forwarder is not None
            state.rtx_seq = (state.rtx_seq + 1) & 0xFFFF
            try:
                data = self._forwarder.protect(rtx_packet(view, self._rtx_ssrc, self._rtx_pt, state.rtx_seq,
                                                          mapped[1], out_seq, self._mapper.block(view.extensions, ntp)),
                                               b"", b"")
                self._send(data)
            except (ConnectionError, pylibsrtp.Error):
                self.dropped += 1
                continue
            if copies is not None:
                copies.append(data)
        if copies:
            self.publication._loop.call_later(REPEAT_GAP, self._repeat, self._send, copies)

    def _repeat(self, send: Any, copies: list[bytes]) -> None:
        """Retransmissions sent again (REPEAT_GAP), on the transport they were protected for."""
        if send is not self._send:
            return  # re-prepared or closed meanwhile
        for data in copies:
            if not self.state.rtx_budget.spend(len(data), self.state.octets, COPY_KEEP):
                return
            try:
                send(data)
            except ConnectionError:
                self.dropped += 1
                return
            self.repeated += 1

    def update_sender_report(self, publisher: tuple[int, int, float] | None) -> None:
        """Sender report figures: the publisher's NTP/RTP pair in this subscriber's timeline."""
        state = self.state
        rewriter = state.rewriter
        mapped: int | None
        if publisher is not None:
            ntp, rtp_ts, _ = publisher
            mapped = rewriter.output_timestamp(rtp_ts)
        else:  # before the publisher's first report: our clock and where our timeline is now
            ntp, mapped = _ntp_now(), rewriter.timestamp_at(time.monotonic())
        if mapped is None:
            return
        aiortc_hooks.set_sender_report(self.sender, ntp, mapped, state.packets & 0xFFFFFFFF,
                                       state.octets & 0xFFFFFFFF)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.state.remote_bitrate = None  # measured on the stream before the pause: a new REMB will come
            self.state.rewriter.restart()
            if self.publication.video:
                self.publication.request_keyframe()

    def restart(self) -> None:
        self.state.rewriter.restart()

    def detach(self) -> None:
        if self in self.publication.forwards:
            self.publication.forwards.remove(self)
            if self.fec_sent:
                logger.info("video forward ended: %d FEC packets sent over %d packets", self.fec_sent,
                            self.fec_protected)
            if self.red_forwarded or self.red_stripped:
                logger.info("audio forward ended: %d RED packets sent as RED, %d as their primary only",
                            self.red_forwarded, self.red_stripped)
            history = self.state.remb_history
            if self.publication.video and history:
                start = history[0][0]
                budget = self.state.rtx_budget
                logger.info("video forward ended: %d packets, %d retransmitted (%d sent twice, %d over the "
                            "budget, %d copies over it); playout delay %s; the subscriber's REMB (s: kbit/s): %s",
                            self.state.packets, self.retransmitted, self.repeated, budget.denied,
                            budget.denied_copies,
                            "negotiated" if self._mapper is not None and self._mapper.playout_id is not None
                            else "not negotiated",
                            " ".join(f"{at - start:.0f}:{kbps}" for at, kbps in history))
        if self.state.forward is self:
            self.state.forward = None

    def close(self) -> None:
        self.detach()

