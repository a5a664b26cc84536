"""Every use of aiortc's private internals, in one place (aiortc pinned to 1.16.0).

Passthrough needs two things aiortc has no public API for:

- receive side: complete encoded frames instead of decoded ones. RTCRtpReceiver hands
  each frame from its jitter buffer to `__decoder_queue.put((codec, frame))` on the event
  loop thread, and a thread running the module function `decoder_worker` decodes them. We
  swap, per receiver and before `receive()` starts it, the jitter buffer (for our
  assembler) and the decoder queue (for an `EncodedSink`), and make `decoder_worker` return
  at once when its input is a sink: no decoder is ever created for that receiver.
- send side: RTCRtpSender calls `encoder.pack(data)` for anything that is not an av.Frame,
  creating the encoder with `get_encoder()` only when `__encoder` is None. We preset
  `__encoder` to a `Packetizer`, so no encoder (and no libopus/libvpx context) exists; and we
  shadow `_send_keyframe` per sender so a subscriber's PLI/FIR reaches the publisher.
- offers: aiortc renumbers payload types and header extension ids with its defaults in
  every offer, renaming what the browser already sends with. `StableNumberingPeerConnection`
  rebuilds the m-lines of its offers in the connection's negotiated numbering (numbering.py),
  with aiortc's own `create_media_description_for_transceiver`, and sets the same numbers
  on the transceivers (`_codecs`, `_headerExtensions`) that aiortc reads when it sends.
- REMB: the receiver feeds every video packet to `__remote_bitrate_estimator.add(...)` and
  sends what it returns; we swap in a `LightBitrateEstimator` (remb.py) that reuses
  aiortc.rate's filter, detector and rate controller with cheaper bookkeeping.

- smaller reads and writes, each behind a named function here: a frame's depayloaded bytes
  (`depayloaded`, RtpPacket `_data` set by the receiver), the negotiated codecs
  (`negotiated_codecs`), the msid stream of a sender (`set_stream_id`), the ICE connection
  behind a gatherer (`cap_gathering`), aioice's host address list (`use_loopback_only`).
- the transports' per-packet path: fast_path.py (its own contract, checked here too).
- Opus parameters: aiortc's Opus codec (aiortc.codecs.CODECS) carries no fmtp, so its offers
  and answers never say `useinbandfec=1`/`usedtx=1` and Chromium sends no in-band FEC. Both
  are sender-side behaviours the receiver asks for: `announce_opus_parameters` gives the
  shared codec entry the parameters, which aiortc copies into every offer and every answer
  (find_common_codecs deep-copies the local codec). The engine forwards Opus payloads as
  they are, so the FEC Chromium adds reaches the other browsers.
- RED for audio: aiortc has no RED codec; `accept_red` adds it to a transceiver's `_codecs`
  after aiortc's setRemoteDescription (first in an answer, so Chromium sends it), and
  StableNumberingPeerConnection offers it on new audio m-lines (red.py, packet path only).
- RED + ULPFEC for video: aiortc knows neither; `accept_video_fec` adds `red`, its RTX and
  `ulpfec` to a video transceiver's `_codecs` where the browser's description has them, so
  Chromium protects what it publishes (ulpfec.py; the engine recovers, packet path only).
- playout delay for video: aiortc knows no playout-delay extension; `accept_playout_delay`
  adds it to a video transceiver's `_headerExtensions` where the browser offered it, and
  StableNumberingPeerConnection offers it on new video m-lines, so the packet path can ask a
  viewer for a deeper buffer while a publisher's uplink is repaired (playout_hint.py).

`check_contract()` raises ContractError if any of this changed. It runs as a Django system
check (rooms/checks.py: `manage.py check`, `check --deploy`, and every management command
that checks, `medianode` among them), when a MediaEngine is built, and in
tests/media/engine/test_contract.py.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import aioice
import aioice.ice
import aioice.turn
import aiortc
import aiortc.rate
import aiortc.rtcdtlstransport
import aiortc.rtcpeerconnection
import aiortc.rtcrtpreceiver as receiver_module
import aiortc.rtp
from aiortc import (
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
    sdp,
)
from aiortc.codecs import CODECS
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcicetransport import RTCIceGatherer
from aiortc.rtcpeerconnection import create_media_description_for_transceiver as _media_description
from aiortc.rtcrtpparameters import RTCRtcpFeedback
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci, unpack_remb_fci

from . import fast_path
from .background import spawn
from .encoded import H264, VP8, EncodedFrame
from .errors import ContractError, MediaError
from .numbering import Numbering
from .packet_core import ACTIVE as PACKET_CORE
from .packets import PLAYOUT_DELAY_URI
from .red import fmtp_payload_types, is_red, red_fmtp
from .ulpfec import RED_MIME as VIDEO_RED_MIME
from .ulpfec import ULPFEC_MIME

if TYPE_CHECKING:  # the assembler reads packets through this module: no import cycle at run time
    from .assembler import AudioAssembler, FrameBatch, VideoAssembler

AIORTC_VERSION = "1.16.0"

# Server-side REMB for a video publisher: "light" (default, media/engine/remb.py: aiortc's
# algorithm with cheaper bookkeeping), "aiortc" (its own RemoteBitrateEstimator, for
# comparison) or "off" (no REMB: the browser falls back to loss-based estimation).
RembMode = Literal["light", "aiortc", "off"]
REMB_MODES: tuple[RembMode, ...] = ("light", "aiortc", "off")

_ORIGINAL_DECODER_WORKER = receiver_module.decoder_worker


class StableNumberingPeerConnection(RTCPeerConnection):
    """An RTCPeerConnection whose offers keep the numbers already negotiated (numbering.py).

    With `red` set (the packet path, which forwards RED: red.py), it also negotiates RED for
    audio where the browser offers or answers it (`accept_red`), and offers it on its new
    audio m-lines once the browser has shown it takes RED."""

    red = False
    video_fec = False  # RED + ULPFEC for video on m-lines the browser offers them on (ulpfec.py)
    playout_delay = False  # the playout-delay extension on video m-lines (the packet path writes it)

    async def setRemoteDescription(self, sessionDescription: RTCSessionDescription) -> None:  # noqa: N802, N803
        await super().setRemoteDescription(sessionDescription)
        if self.red:
            accept_red(self, sessionDescription.sdp, offer=sessionDescription.type == "offer")
        if self.video_fec:
            accept_video_fec(self, sessionDescription.sdp)
        if self.playout_delay:
            accept_playout_delay(self, sessionDescription.sdp)

    async def createOffer(self) -> RTCSessionDescription:  # noqa: N802 - aiortc's name
        # What the last complete negotiation agreed, before aiortc's createOffer resets it.
        negotiated = {t: (t._codecs, t._headerExtensions) for t in self.getTransceivers()
                      if t.currentDirection is not None and t._codecs}
        offer = await super().createOffer()
        if not negotiated:
            return offer  # the first offer: aiortc's numbers are the connection's
        numbering = Numbering([c for codecs, _ in negotiated.values() for c in codecs],
                              [e for _, extensions in negotiated.values() for e in extensions])
        description = sdp.SessionDescription.parse(offer.sdp)
        # createOffer gave every transceiver its m-line index (new ones get their mid later).
        by_index = {t._get_mline_index(): t for t in self.getTransceivers() if not t.stopped}
        for index, media in enumerate(description.media):
            transceiver = by_index.get(index)
            if media.kind not in ("audio", "video") or transceiver is None:
                continue
            if transceiver in negotiated:
                transceiver._codecs, transceiver._headerExtensions = negotiated[transceiver]
            else:
                transceiver._codecs = numbering.codecs_for(transceiver._codecs)
                if self.red:
                    _offer_red(transceiver, numbering)
                if self.video_fec:
                    _offer_video_fec(transceiver, numbering)
                offered = transceiver._headerExtensions
                if self.playout_delay and transceiver.kind == "video":
                    offered = [*offered, RTCRtpHeaderExtensionParameters(id=0, uri=PLAYOUT_DELAY_URI)]
                transceiver._headerExtensions = numbering.extensions_for(offered)
            cname = media.ssrc[0].cname
            assert cname is not None  # aiortc's own offer names every ssrc
            description.media[index] = _media_description(
                transceiver, cname=cname, direction=transceiver.direction, mid=media.rtp.muxId)
        return RTCSessionDescription(sdp=str(description), type="offer")


class EncodedSink:
    """Stands in for a receiver's decoder `queue.Queue`; called on the event loop thread."""

    def __init__(self, on_batch: Callable[[str, FrameBatch], None], on_end: Callable[[], None]) -> None:
        self._on_batch = on_batch
        self._on_end = on_end

    def put(self, item: tuple[Any, FrameBatch] | None) -> None:
        if item is None:  # receiver stopping (stop, disconnect or RTCP BYE)
            self._on_end()
            return
        codec, batch = item
        self._on_batch(codec.name.lower(), batch)


def _decoder_worker(loop: asyncio.AbstractEventLoop, input_q: Any, output_q: Any, decode_error: Any) -> None:
    if isinstance(input_q, EncodedSink):
        return  # passthrough receiver: nothing to decode
    _ORIGINAL_DECODER_WORKER(loop, input_q, output_q, decode_error)


# What the engine asks of Opus senders, in every offer and answer (RFC 7587 §6.1): in-band
# FEC (a lost packet is rebuilt from the next one at a lower quality), DTX (silence sends
# almost nothing, which leaves room on a weak uplink) and Chromium's own minimum ptime.
OPUS_PARAMETERS: dict[str, int] = {"minptime": 10, "useinbandfec": 1, "usedtx": 1}


def install() -> None:
    """Make the module's decoder worker skip passthrough receivers (idempotent)."""
    check_contract()
    receiver_module.decoder_worker = _decoder_worker
    announce_opus_parameters()


def _opus_codec() -> RTCRtpCodecParameters | None:
    return next((c for c in CODECS["audio"] if c.mimeType.lower() == "audio/opus"), None)


def announce_opus_parameters() -> None:
    """Offer and answer Opus with OPUS_PARAMETERS, in this process (idempotent)."""
    opus = _opus_codec()
    if opus is None:
        raise ContractError("aiortc.codecs.CODECS has no Opus codec")
    opus.parameters.update(OPUS_PARAMETERS)


class _Unreported(dict[int, Any]):
    """aiortc's per-SSRC statistics of a receiver whose packets the engine takes itself
    (`unreported_receiver`): kept, never listed for its receiver reports."""

    def items(self) -> Any:
        return {}.items()


def unreported_receiver(receiver: RTCRtpReceiver) -> None:
    """aiortc's receiver sends no receiver reports of its own: the packet path's are the
    publisher's only ones. A packet that arrives before the short path takes the transport
    (the DTLS handshake just done) goes through aiortc's stock path and starts aiortc's
    statistics for its SSRC; aiortc then reported them every 0.5-1.5 s — one packet, none lost —
    from the same RTCP SSRC as the engine's reports, and the browser's count of what it lost
    read 0 in every other report (10% loss bench: its page judged its uplink "severe")."""
    receiver._RTCRtpReceiver__remote_streams = _Unreported()  # type: ignore[attr-defined]  # mangled private, in the contract


def attach_receiver(
    receiver: RTCRtpReceiver, assembler: AudioAssembler | VideoAssembler, sink: EncodedSink, *,
    remb: RembMode = "light",
) -> None:
    """Turn a not yet started receiver into an encoded-frame source: its packets go to `assembler`."""
    if receiver._RTCRtpReceiver__started:  # type: ignore[attr-defined]  # mangled private, in the contract
        raise MediaError("receiver already started: passthrough must be attached before receive()")
    if remb not in REMB_MODES:
        raise ValueError(f"unknown REMB mode {remb!r}")
    receiver._RTCRtpReceiver__jitter_buffer = assembler  # type: ignore[attr-defined]  # mangled private, in the contract
    receiver._RTCRtpReceiver__decoder_queue = sink  # type: ignore[attr-defined]  # mangled private, in the contract
    # aiortc gives video receivers an estimator and audio ones none; keep that split.
    if remb == "off":
        receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]  # mangled private, in the contract
    elif remb == "light" and receiver._RTCRtpReceiver__remote_bitrate_estimator is not None:  # type: ignore[attr-defined]  # mangled private, in the contract
        receiver._RTCRtpReceiver__remote_bitrate_estimator = PACKET_CORE.estimator()  # type: ignore[attr-defined]  # mangled private, in the contract


def depayloaded(packet: RtpPacket) -> bytes:
    """A received packet's payload without its codec header (set by the receiver before the jitter buffer)."""
    data: bytes = packet._data  # type: ignore[attr-defined]  # set by the receiver, in the contract
    return data


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs (with their payload types) a transceiver negotiated, in preference order."""
    return transceiver._codecs


def offered_direction(transceiver: RTCRtpTransceiver) -> str | None:
    """What the remote offer lets this side do on the m-line ("sendonly": the remote only
    receives there), as setRemoteDescription recorded it; None before any offer."""
    return transceiver._offerDirection


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream the sender's track is announced in (the browser groups a stream's tracks)."""
    sender._stream_id = stream_id


def idle_receiver(receiver: RTCRtpReceiver) -> None:
    """A receiver that never gets RTP (a packet-path subscriber's sendonly transceiver: the
    browser sends nothing on it) without aiortc's REMB estimator, whose rate counter is
    1000 objects (~50 KB; two per appointment, ~0.1 MiB of each appointment's memory)."""
    if receiver._RTCRtpReceiver__started:  # type: ignore[attr-defined]  # mangled private, in the contract
        return  # receiving after all (a sendrecv transceiver): keep what aiortc uses
    receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]  # mangled private, in the contract


def bitrate_estimator(receiver: RTCRtpReceiver) -> Any:
    """The receiver's REMB estimator (None if it sends no REMB)."""
    return receiver._RTCRtpReceiver__remote_bitrate_estimator  # type: ignore[attr-defined]  # mangled private, in the contract


def cap_remb(receiver: RTCRtpReceiver, cap: Callable[[], int | None]) -> None:
    """Clamp the REMB this receiver sends its publisher to `cap()` (the subscribers' minimum).

    A subscriber's REMB only reaches our packetizer (there is no encoder to slow down), so
    the publisher would otherwise keep sending what the weakest viewer cannot take.
    """
    send = receiver._send_rtcp

    async def send_capped(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            limit = cap()
            if limit is not None:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
                if limit < bitrate:
                    packet = RtcpPsfbPacket(
                        fmt=packet.fmt, ssrc=packet.ssrc, media_ssrc=packet.media_ssrc, fci=pack_remb_fci(limit, ssrcs)
                    )
        await send(packet)

    receiver._send_rtcp = send_capped  # type: ignore[method-assign]  # the hook: shadows the method, in the contract


def sender_packetizer(sender: RTCRtpSender) -> Packetizer | None:
    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]  # mangled private, in the contract
    return encoder if isinstance(encoder, Packetizer) else None


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher for a keyframe (RTCP PLI), without waiting."""
    spawn(receiver._send_rtcp_pli(media_ssrc), name="rtcp-pli")


class Packetizer:
    """Stands in for an RTCRtpSender's encoder: packs encoded frames, never encodes.

    It also keeps each sender's RTP timestamps continuous when its source changes (a
    transceiver reused for another publisher): the gap follows wall-clock time.
    """

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self._picture_id = random.randint(0, (1 << 15) - 1)
        self._stream: int | None = None
        self._offset = 0
        self._last_out: int | None = None
        self._last_time = 0.0
        self.remote_bitrate: int | None = None  # last REMB from the subscriber, for stats
        self.frames = 0

    def pack(self, frame: EncodedFrame) -> tuple[list[bytes], int | None]:
        if not frame.data:
            return [], None
        if frame.codec == VP8:
            payloads = Vp8Encoder._packetize(frame.data, self._picture_id)
            self._picture_id = (self._picture_id + 1) % (1 << 15)
        elif frame.codec == H264:
            payloads = H264Encoder._packetize(H264Encoder._split_bitstream(frame.data))
        else:
            payloads = [frame.data]
        now = time.monotonic()
        if frame.stream != self._stream:
            if self._last_out is not None:
                elapsed = max(1, int((now - self._last_time) * self.clock_rate))
                self._offset = self._last_out + elapsed - frame.timestamp
            self._stream = frame.stream
        out = (frame.timestamp + self._offset) & 0xFFFFFFFF
        self._last_out, self._last_time = out, now
        self.frames += 1
        return payloads, out

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("a passthrough sender received a raw frame")

    @property
    def target_bitrate(self) -> int:
        return self.remote_bitrate or 0

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self.remote_bitrate = bitrate


# --- packet path (packet_path.py) ---------------------------------------------------------

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def _described(pc: RTCPeerConnection, text: str) -> list[tuple[Any, RTCRtpTransceiver | None]]:
    """Each m-line of a description with the connection's transceiver of its mid (or None)."""
    by_mid = {t.mid: t for t in pc.getTransceivers() if t.mid is not None}
    return [(media, by_mid.get(media.rtp.muxId)) for media in sdp.SessionDescription.parse(text).media]


def accept_transport_cc(pc: RTCPeerConnection, offer_sdp: str) -> int:
    """Answer the browser's offer with transport-wide congestion control where it offered it.

    aiortc answers only what its shared lists know (no transport-cc). After aiortc's
    setRemoteDescription(offer), and before its answer is written from each transceiver's
    `_codecs` and `_headerExtensions`, this adds the browser's transport-wide sequence
    number extension (its id) and the `transport-cc` feedback to the codecs that offered it:
    the browser then numbers its packets and runs its own send-side estimator on the
    feedback the packet path sends. Only this connection changes; server offers never add
    it (forwarded packets carry no transport-wide number: subscribers keep sending REMB).
    Returns how many m-lines accepted it.
    """
    accepted = 0
    for media, transceiver in _described(pc, offer_sdp):
        ext = next((e for e in media.rtp.headerExtensions if e.uri == TRANSPORT_CC_URI), None)
        if transceiver is None or ext is None or not transceiver._codecs:
            continue
        offered = {c.payloadType for c in media.rtp.codecs
                   if any(fb.type == "transport-cc" for fb in c.rtcpFeedback)}
        codecs = [c for c in transceiver._codecs if c.payloadType in offered]
        if not codecs:
            continue
        for codec in codecs:
            if not any(fb.type == "transport-cc" for fb in codec.rtcpFeedback):
                codec.rtcpFeedback.append(RTCRtcpFeedback(type="transport-cc"))
        if all(e.uri != TRANSPORT_CC_URI for e in transceiver._headerExtensions):
            transceiver._headerExtensions.append(RTCRtpHeaderExtensionParameters(id=ext.id, uri=ext.uri))
        accepted += 1
    return accepted


def accept_playout_delay(pc: RTCPeerConnection, remote_sdp: str) -> int:
    """Negotiate the playout-delay extension on the video m-lines the engine sends on (the
    browser's description says recvonly: the room page's slots, the m-lines of the engine's
    offers), with the browser's id. aiortc's setRemoteDescription keeps only the extensions
    it knows, in an answer as in an offer, so this runs after it (and before an answer is
    written from each transceiver's `_headerExtensions`). Chromium offers it on every video
    m-line, answers it where offered and applies the minimum a frame carries. Returns how
    many m-lines have it.
    """
    accepted = 0
    for media, transceiver in _described(pc, remote_sdp):
        ext = next((e for e in media.rtp.headerExtensions if e.uri == PLAYOUT_DELAY_URI), None)
        if media.kind != "video" or transceiver is None or ext is None or not transceiver._codecs:
            continue
        if media.direction != "recvonly":
            continue  # the browser's own video: the engine sends nothing there
        if all(e.uri != PLAYOUT_DELAY_URI for e in transceiver._headerExtensions):
            transceiver._headerExtensions.append(RTCRtpHeaderExtensionParameters(id=ext.id, uri=ext.uri))
        accepted += 1
    return accepted


def _red_codec(payload_type: int, opus_pt: int) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(mimeType="audio/red", clockRate=48000, channels=2, payloadType=payload_type,
                                 parameters={red_fmtp(opus_pt): None})


def accept_red(pc: RTCPeerConnection, remote_sdp: str, *, offer: bool) -> int:
    """Negotiate RED (RFC 2198) on the audio m-lines where the browser's description has it.

    aiortc knows no RED (its shared CODECS list has none, and adding it there would make the
    test clients' own aiortc senders pick it), so after aiortc's setRemoteDescription this
    adds it to the transceiver's `_codecs`, from which the answer and the packet path read:
    with the browser's payload type for it, carrying the negotiated Opus. In an answer to an
    offer it comes first: Chromium sends RED only when RED precedes Opus in the negotiated
    list (libwebrtc's send codec selection) and its fmtp names Opus's payload type. In the
    browser's answer to a server offer, the order the browser gave is kept (RED first on its
    own sending m-lines, which our re-offers keep, after Opus on m-lines it only receives,
    so a frame sender of the engine, the telephone's voice, still sends plain Opus).
    Returns how many m-lines have RED.
    """
    accepted = 0
    for media, transceiver in _described(pc, remote_sdp):
        if media.kind != "audio" or transceiver is None or any(is_red(c) for c in transceiver._codecs):
            continue
        opus = next((c for c in transceiver._codecs if c.mimeType.lower() == "audio/opus"), None)
        remote = next((c for c in media.rtp.codecs if is_red(c) and c.clockRate == 48000), None)
        if opus is None or remote is None or opus.payloadType is None or remote.payloadType is None:
            continue
        carried = fmtp_payload_types(remote.parameters)
        if carried is not None and set(carried) != {opus.payloadType}:
            continue  # RED of another codec
        order = [c.payloadType for c in media.rtp.codecs]
        first = offer or (opus.payloadType in order and order.index(remote.payloadType) < order.index(opus.payloadType))
        at = 0 if first else transceiver._codecs.index(opus) + 1
        transceiver._codecs.insert(at, _red_codec(remote.payloadType, opus.payloadType))
        _route_added_codecs(transceiver, [remote.payloadType])
        accepted += 1
    return accepted


def _route_added_codecs(transceiver: RTCRtpTransceiver, payload_types: list[int]) -> None:
    """Route `payload_types`, just added to `transceiver._codecs`, to its receiver if aiortc
    has registered it already. aiortc registers a receiver once, with the codecs of that
    moment; a renegotiation's setRemoteDescription empties `_codecs` to aiortc's common list
    before the codecs are added back here, and a first connection finishing in between (a
    slow DTLS handshake on a loaded machine) registered the receiver without them: every
    RED packet of that publisher was then dropped as unrouted for the whole call."""
    receiver = transceiver.receiver
    transport = receiver.transport
    router = transport._rtp_router if transport is not None else None
    if router is None or receiver not in router.receivers:
        return  # registered later, from `_codecs` as they are now
    for payload_type in payload_types:
        router.payload_type_table.setdefault(payload_type, set()).add(receiver)


def accept_video_fec(pc: RTCPeerConnection, remote_sdp: str) -> int:
    """Negotiate video RED + ULPFEC (and RTX for RED) where the browser's description has them.

    Added after aiortc's codecs, with the browser's payload types: VP8 stays the send codec,
    and Chromium, seeing red and ulpfec negotiated, wraps its VP8 in RED and adds FEC at the
    rate its loss estimate asks for (libwebrtc's hybrid NACK + FEC); without RTX for RED it
    could not retransmit a RED packet at all. The engine's own offers add them on new video
    m-lines too (`_offer_video_fec`: its FEC to a lossy subscriber, packet_path). Returns how
    many m-lines have them.
    """
    accepted = 0
    for media, transceiver in _described(pc, remote_sdp):
        if media.kind != "video" or transceiver is None or not transceiver._codecs:
            continue
        if any(c.mimeType.lower() == ULPFEC_MIME for c in transceiver._codecs):
            continue
        red = next((c for c in media.rtp.codecs if c.mimeType.lower() == VIDEO_RED_MIME and c.clockRate == 90000),
                   None)
        fec = next((c for c in media.rtp.codecs if c.mimeType.lower() == ULPFEC_MIME and c.clockRate == 90000),
                   None)
        if red is None or fec is None or red.payloadType is None or fec.payloadType is None:
            continue
        used = {c.payloadType for c in transceiver._codecs}
        if red.payloadType in used or fec.payloadType in used:
            continue
        added = [RTCRtpCodecParameters(mimeType=VIDEO_RED_MIME, clockRate=90000, payloadType=red.payloadType)]
        rtx = next((c for c in media.rtp.codecs if c.mimeType.lower() == "video/rtx"
                    and c.parameters.get("apt") == red.payloadType), None)
        if rtx is not None and rtx.payloadType is not None and rtx.payloadType not in used:
            added.append(RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=rtx.payloadType,
                                               parameters={"apt": red.payloadType}))
        added.append(RTCRtpCodecParameters(mimeType=ULPFEC_MIME, clockRate=90000, payloadType=fec.payloadType))
        transceiver._codecs.extend(added)
        _route_added_codecs(transceiver, [c.payloadType for c in added if c.payloadType is not None])
        accepted += 1
    return accepted


def _offer_video_fec(transceiver: RTCRtpTransceiver, numbering: Numbering) -> None:
    """A new video m-line of a server offer: red and ulpfec at the end (the engine's own FEC
    to a lossy subscriber, packet_path), with the numbers the browser gave them before."""
    red = next((c for c in numbering.codecs if c.mimeType.lower() == VIDEO_RED_MIME), None)
    fec = next((c for c in numbering.codecs if c.mimeType.lower() == ULPFEC_MIME), None)
    if transceiver.kind != "video" or red is None or fec is None:
        return
    if any(c.mimeType.lower() == ULPFEC_MIME for c in transceiver._codecs):
        return
    transceiver._codecs.extend([copy.deepcopy(red), copy.deepcopy(fec)])


def _offer_red(transceiver: RTCRtpTransceiver, numbering: Numbering) -> None:
    """A new audio m-line of a server offer: RED after Opus, if the connection has RED."""
    known = next((c for c in numbering.codecs if is_red(c)), None)
    opus = next((c for c in transceiver._codecs if c.mimeType.lower() == "audio/opus"), None)
    if transceiver.kind != "audio" or known is None or opus is None or known.payloadType is None \
            or opus.payloadType is None:
        return
    transceiver._codecs.insert(transceiver._codecs.index(opus) + 1, _red_codec(known.payloadType, opus.payloadType))


def header_extensions(transceiver: RTCRtpTransceiver) -> dict[int, str]:
    """{id: uri} of the header extensions a transceiver negotiated."""
    return {ext.id: ext.uri for ext in transceiver._headerExtensions}


def sender_started(sender: RTCRtpSender) -> bool:
    """Whether the sender's parameters are negotiated (its answer applied)."""
    return bool(sender._RTCRtpSender__started)  # type: ignore[attr-defined]  # mangled private, in the contract


def set_sender_report(sender: RTCRtpSender, ntp_time: int, rtp_timestamp: int, packets: int, octets: int) -> None:
    """What the sender's next RTCP sender report says (its RTCP loop sends it)."""
    sender._RTCRtpSender__ntp_timestamp = ntp_time  # type: ignore[attr-defined]  # mangled private, in the contract
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]  # mangled private, in the contract
    sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]  # mangled private, in the contract
    sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]  # mangled private, in the contract


def receiver_rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC the receiver's RTCP (reports, NACK, PLI, REMB) is sent from."""
    ssrc: int | None = receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]  # mangled private, in the contract
    return ssrc


def intercept_rtcp(owner: RTCRtpSender | RTCRtpReceiver, handler: Callable[[Any], bool]) -> None:
    """RTCP routed to `owner` goes to `handler` first; what it does not consume, to aiortc."""
    stock = owner._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if not handler(packet):
            await stock(packet)

    owner._handle_rtcp_packet = handle  # type: ignore[method-assign]  # the hook: shadows the method, in the contract


def _packet_path_contract() -> list[str]:
    problems: list[str] = []
    sender_init = inspect.getsource(RTCRtpSender.__init__)
    for attr in ("self.__ntp_timestamp", "self.__rtp_timestamp", "self.__octet_count", "self.__packet_count",
                 "self.__started"):
        if attr not in sender_init:
            problems.append(f"RTCRtpSender.__init__ no longer sets {attr}")
    rtcp_src = inspect.getsource(RTCRtpSender._run_rtcp)
    for needle in ("ntp_timestamp=self.__ntp_timestamp", "rtp_timestamp=self.__rtp_timestamp",
                   "packet_count=self.__packet_count", "octet_count=self.__octet_count"):
        if needle not in rtcp_src:
            problems.append(f"RTCRtpSender._run_rtcp no longer contains {needle!r}")
    if "self.__rtcp_ssrc" not in inspect.getsource(RTCRtpReceiver.__init__):
        problems.append("RTCRtpReceiver.__init__ no longer sets self.__rtcp_ssrc")
    if "self.__remote_streams.items()" not in inspect.getsource(RTCRtpReceiver._run_rtcp):
        problems.append("RTCRtpReceiver._run_rtcp no longer reports self.__remote_streams.items()")
    router_init = inspect.getsource(aiortc.rtcdtlstransport.RtpRouter.__init__)
    if "self.payload_type_table" not in router_init or "self.receivers" not in router_init:
        problems.append("RtpRouter no longer keeps payload_type_table and receivers (accept_red routes RED there)")
    if "await recipient._handle_rtcp_packet(packet)" not in inspect.getsource(
            aiortc.rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data):
        problems.append("RTCDtlsTransport._handle_rtcp_data no longer calls recipient._handle_rtcp_packet")
    remote_src = inspect.getsource(RTCPeerConnection.setRemoteDescription)
    if "transceiver._headerExtensions = find_common_header_extensions(" not in remote_src:
        problems.append("RTCPeerConnection.setRemoteDescription no longer sets transceiver._headerExtensions")
    if "transceiver._offerDirection = direction" not in remote_src:  # offered_direction (engine slots)
        problems.append("RTCPeerConnection.setRemoteDescription no longer sets transceiver._offerDirection")
    answer_src = inspect.getsource(RTCPeerConnection.createAnswer)
    if "create_media_description_for_transceiver(" not in answer_src:
        problems.append("RTCPeerConnection.createAnswer no longer writes m-lines from the transceivers")
    if "headerExtensions=transceiver._headerExtensions" not in inspect.getsource(_media_description):
        problems.append("create_media_description_for_transceiver no longer writes transceiver._headerExtensions")
    if "transport_sequence_number" not in inspect.getsource(aiortc.rtp.HeaderExtensionsMap.configure):
        problems.append("aiortc no longer knows the transport-wide sequence number extension")
    return problems


def attach_sender(sender: RTCRtpSender, packetizer: Packetizer, on_keyframe_request: Callable[[], None]) -> None:
    """Make `sender` pack encoded frames and forward PLI/FIR to `on_keyframe_request`."""
    if sender._RTCRtpSender__encoder is not None:  # type: ignore[attr-defined]  # mangled private, in the contract
        raise MediaError("sender already has an encoder")
    sender._RTCRtpSender__encoder = packetizer  # type: ignore[attr-defined]  # mangled private, in the contract
    sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]  # the hook: shadows the method, in the contract


def set_sender_enabled(sender: RTCRtpSender, enabled: bool) -> None:
    """Relay mode: a disabled sender reads and drops frames instead of encoding them."""
    sender._enabled = enabled


def request_sender_keyframe(sender: RTCRtpSender) -> None:
    """Relay mode: the sender's encoder makes its next frame a keyframe."""
    sender._send_keyframe()


def cap_gathering(pc: RTCPeerConnection, seconds: float) -> None:
    """Bound how long STUN/TURN candidates are waited for (aioice's default is 5 s).

    aiortc does not trickle: the SDP is produced when gathering completes, so this bounds
    how long join() and server offers take on a network where a server does not answer.
    """
    for transceiver in pc.getTransceivers():
        connection = ice_connection(transceiver.receiver.transport.transport.iceGatherer)
        method = type(connection).get_component_candidates
        # The hook: an instance attribute shadows the method. aioice annotates `timeout` as int
        # but only hands it to asyncio.wait_for, which takes float seconds.
        connection.get_component_candidates = functools.partial(  # type: ignore[method-assign]
            method, connection, timeout=seconds)  # type: ignore[arg-type]


def ice_connection(gatherer: RTCIceGatherer) -> aioice.Connection:
    """The aioice connection behind an ICE gatherer."""
    return gatherer._connection


def has_host_address() -> bool:
    """Whether aioice finds an address to gather on (it skips loopback)."""
    return bool(aioice.ice.get_host_addresses(True, True))


def use_loopback_only() -> None:
    """Gather only 127.0.0.1 in this process (aioice skips loopback; tests run on a loopback-only machine)."""
    aioice.ice.get_host_addresses = _loopback_addresses


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"]


def set_udp_buffer(size: int) -> None:
    """Receive buffer of every ICE socket created from now on, in this process.

    aioice asks for 256 KiB (~230 packets); a media server whose loop stalls (GC, a burst
    of joins, a busy machine) then loses packets in the kernel, and each loss costs a
    keyframe round trip. The kernel caps the value at net.core.rmem_max.
    """
    aioice.turn.UDP_SOCKET_BUFFER_SIZE = size


def _rate_contract() -> list[str]:
    """aiortc.rate pieces LightBitrateEstimator reuses (remb.py)."""
    problems: list[str] = []
    rate = aiortc.rate
    for name in ("INTER_ARRIVAL_SHIFT", "TIMESTAMP_GROUP_LENGTH_MS", "MIN_FRAME_PERIOD_HISTORY_LENGTH"):
        if not isinstance(getattr(rate, name, None), int):
            problems.append(f"aiortc.rate.{name} is gone")
    expected = {
        (rate.OveruseEstimator, "update"): ["self", "time_delta_ms", "timestamp_delta_ms", "size_delta",
                                            "current_hypothesis", "now_ms"],
        (rate.OveruseEstimator, "update_min_frame_period"): ["self", "ts_delta"],
        (rate.OveruseDetector, "detect"): ["self", "offset", "timestamp_delta_ms", "num_of_deltas", "now_ms"],
        (rate.AimdRateControl, "update"): ["self", "bandwidth_usage", "estimated_throughput", "now_ms"],
        (rate.RemoteBitrateEstimator, "add"): ["self", "arrival_time_ms", "abs_send_time", "payload_size", "ssrc"],
    }
    for (owner, name), params in expected.items():
        method = getattr(owner, name, None)
        if method is None or list(inspect.signature(method).parameters) != params:
            problems.append(f"aiortc.rate.{owner.__name__}.{name} changed")
    if "self.update_min_frame_period(" not in inspect.getsource(rate.OveruseEstimator.update):
        problems.append("aiortc.rate.OveruseEstimator.update no longer calls update_min_frame_period")
    return problems


def _small_reads_contract() -> list[str]:
    """The attributes behind depayloaded, negotiated_codecs, set_stream_id, ice_connection, use_loopback_only."""
    problems: list[str] = []
    if "packet._data = depayload(codec, packet.payload)" not in inspect.getsource(RTCRtpReceiver._handle_rtp_packet):
        problems.append("RTCRtpReceiver._handle_rtp_packet no longer sets packet._data")
    transceiver_init = inspect.getsource(RTCRtpTransceiver.__init__)
    for attr in ("self._codecs", "self._headerExtensions"):  # also read by StableNumberingPeerConnection
        if attr not in transceiver_init:
            problems.append(f"RTCRtpTransceiver.__init__ no longer sets {attr}")
    if not callable(getattr(RTCRtpTransceiver, "_get_mline_index", None)):
        problems.append("RTCRtpTransceiver._get_mline_index is gone")
    if "transceiver._codecs = common" not in inspect.getsource(RTCPeerConnection.setRemoteDescription):
        problems.append("RTCPeerConnection.setRemoteDescription no longer stores the negotiated transceiver._codecs")
    if "transceiver.sender._stream_id" not in inspect.getsource(_media_description):
        problems.append("create_media_description_for_transceiver no longer writes the msid from sender._stream_id")
    if "self._connection = Connection(" not in inspect.getsource(RTCIceGatherer.__init__):
        problems.append("RTCIceGatherer.__init__ no longer creates self._connection")
    host_addresses = getattr(aioice.ice, "get_host_addresses", None)
    if host_addresses is None or list(inspect.signature(host_addresses).parameters) != ["use_ipv4", "use_ipv6"]:
        problems.append("aioice.ice.get_host_addresses is gone or changed")
    elif "get_host_addresses(" not in inspect.getsource(aioice.Connection.gather_candidates):
        problems.append("aioice Connection.gather_candidates no longer calls get_host_addresses")
    return problems


def _opus_contract() -> list[str]:
    """What announce_opus_parameters relies on: a shared Opus entry whose parameters reach the SDP."""
    problems: list[str] = []
    opus = _opus_codec()
    if opus is None or not isinstance(opus.parameters, dict):
        problems.append("aiortc.codecs.CODECS has no Opus codec with a parameters dict")
    if "CODECS[transceiver.kind][:]" not in inspect.getsource(RTCPeerConnection.createOffer):
        problems.append("RTCPeerConnection.createOffer no longer offers aiortc.codecs.CODECS")
    if "find_common_codecs(CODECS[media.kind]" not in inspect.getsource(RTCPeerConnection.setRemoteDescription):
        problems.append("RTCPeerConnection.setRemoteDescription no longer answers from aiortc.codecs.CODECS")
    if "codec = copy.deepcopy(codec)" not in inspect.getsource(aiortc.rtcpeerconnection.find_common_codecs):
        problems.append("find_common_codecs no longer keeps the local codec's parameters")
    if "parameters_to_sdp(codec.parameters)" not in inspect.getsource(sdp.MediaDescription.__str__):
        problems.append("aiortc's SDP writer no longer writes fmtp from codec.parameters")
    return problems


def check_contract() -> None:
    """Raise ContractError if the aiortc internals this package relies on have changed."""
    problems: list[str] = []
    if aiortc.__version__ != AIORTC_VERSION:
        problems.append(f"aiortc {aiortc.__version__} installed, passthrough is written for {AIORTC_VERSION}")
    worker = inspect.signature(_ORIGINAL_DECODER_WORKER).parameters
    if list(worker) != ["loop", "input_q", "output_q", "decode_error"]:
        problems.append(f"rtcrtpreceiver.decoder_worker signature is now {list(worker)}")
    receive_src = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    for needle in ("self.__jitter_buffer.add(packet)", "self.__decoder_queue.put((codec, encoded_frame))"):
        if needle not in receive_src:
            problems.append(f"RTCRtpReceiver._handle_rtp_packet no longer contains {needle!r}")
    if "target=decoder_worker" not in inspect.getsource(RTCRtpReceiver.receive):
        problems.append("RTCRtpReceiver.receive no longer starts decoder_worker")
    send_src = inspect.getsource(RTCRtpSender._next_encoded_frame)
    for needle in ("if self.__encoder is None:", "self.__encoder.pack(data)"):
        if needle not in send_src:
            problems.append(f"RTCRtpSender._next_encoded_frame no longer contains {needle!r}")
    if "self._send_keyframe()" not in inspect.getsource(RTCRtpSender._handle_rtcp_packet):
        problems.append("RTCRtpSender._handle_rtcp_packet no longer calls self._send_keyframe()")
    if "await self._send_rtcp(rtcp_packet)" not in receive_src:
        problems.append("RTCRtpReceiver._handle_rtp_packet no longer sends REMB through self._send_rtcp")
    # LightBitrateEstimator stands in for RemoteBitrateEstimator: same call, same result use.
    for needle in ("remb = self.__remote_bitrate_estimator.add(", "abs_send_time=packet.extensions.abs_send_time",
                   "arrival_time_ms=arrival_time_ms", "payload_size=len(packet.payload) + packet.padding_size",
                   "ssrc=packet.ssrc", "fci=pack_remb_fci(*remb)"):
        if needle not in receive_src:
            problems.append(f"RTCRtpReceiver._handle_rtp_packet no longer contains {needle!r}")
    problems += _rate_contract()
    problems += _small_reads_contract()
    problems += _opus_contract()
    problems += _packet_path_contract()
    problems += fast_path.check_contract()
    if "self.__encoder.target_bitrate = bitrate" not in inspect.getsource(RTCRtpSender._handle_rtcp_packet):
        problems.append("RTCRtpSender._handle_rtcp_packet no longer hands REMB to its encoder")
    for owner, name in (
        (RTCRtpReceiver, "_send_rtcp"),
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (Vp8Encoder, "_packetize"),
        (H264Encoder, "_packetize"),
        (H264Encoder, "_split_bitstream"),
    ):
        if not callable(getattr(owner, name, None)):
            problems.append(f"{owner.__name__}.{name} is gone")
    init_src = inspect.getsource(RTCRtpReceiver.__init__) + inspect.getsource(RTCRtpSender.__init__)
    for attr in ("self.__jitter_buffer", "self.__decoder_queue", "self.__remote_bitrate_estimator",
                 "self.__started", "self.__encoder", "self._enabled", "self._stream_id"):
        if attr not in init_src:
            problems.append(f"{attr} is no longer set in RTCRtpReceiver/RTCRtpSender.__init__")
    if "timeout" not in inspect.signature(aioice.Connection.get_component_candidates).parameters:
        problems.append("aioice Connection.get_component_candidates has no timeout parameter")
    if "self.get_component_candidates(" not in inspect.getsource(aioice.Connection.gather_candidates):
        problems.append("aioice Connection.gather_candidates no longer calls self.get_component_candidates")
    if not isinstance(getattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", None), int):
        problems.append("aioice.turn.UDP_SOCKET_BUFFER_SIZE is gone")
    if "turn.UDP_SOCKET_BUFFER_SIZE" not in inspect.getsource(aioice.Connection.get_component_candidates):
        problems.append("aioice no longer sizes host sockets from turn.UDP_SOCKET_BUFFER_SIZE")
    offer_src = inspect.getsource(RTCPeerConnection.createOffer)
    for needle in ("transceiver._codecs = filter_preferred_codecs(",
                   "transceiver._headerExtensions = HEADER_EXTENSIONS", "create_media_description_for_transceiver("):
        if needle not in offer_src:
            problems.append(f"RTCPeerConnection.createOffer no longer contains {needle!r}")
    if offer_src.count("transceiver._set_mline_index(") < 2:
        problems.append("RTCPeerConnection.createOffer no longer sets every transceiver's m-line index")
    if "await self.createOffer()" not in inspect.getsource(RTCPeerConnection.setLocalDescription):
        problems.append("RTCPeerConnection.setLocalDescription no longer calls self.createOffer()")
    if list(inspect.signature(_media_description).parameters) != ["transceiver", "cname", "direction", "mid"]:
        problems.append("create_media_description_for_transceiver's signature changed")
    if problems:
        raise ContractError("aiortc internals changed: " + "; ".join(problems))
