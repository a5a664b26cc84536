"""The two forwarding strategies: passthrough (encoded frames) and relay (decode + encode).

A `Publication` is one track a participant sends to the server; a `Forward` is that track
going out to one subscriber through one of the subscriber's transceivers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import numpy as np
from aiortc import RTCRtpCodecCapability, RTCRtpCodecParameters, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from av import Packet
from av.frame import Frame

from . import aiortc_hooks
from .assembler import AudioAssembler, FrameBatch, VideoAssembler
from .encoded import EncodedFrame, is_keyframe
from .fanout import Fanout, ForwardedTrack
from .framegrab import decoded_frames, relayed_frames
from .red import is_red

logger = logging.getLogger(__name__)


def main_codec(transceiver: RTCRtpTransceiver) -> RTCRtpCodecParameters | None:
    """The negotiated media codec the publisher sends (first neither RTX nor RED: RED wraps it)."""
    return next((c for c in aiortc_hooks.negotiated_codecs(transceiver) if not is_rtx(c) and not is_red(c)), None)


def codec_preferences(codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """Offer the subscriber exactly the publisher's codec (plus RTX for video): no transcoding."""
    prefs = [
        RTCRtpCodecCapability(
            mimeType=codec.mimeType, clockRate=codec.clockRate, channels=codec.channels, parameters=codec.parameters
        )
    ]
    if codec.mimeType.lower().startswith("video/"):
        prefs.append(RTCRtpCodecCapability(mimeType="video/rtx", clockRate=codec.clockRate))
    return prefs


class Publication(Protocol):
    kind: str
    codec: RTCRtpCodecParameters | None

    def subscribe(self, transceiver: RTCRtpTransceiver, paused: bool) -> Forward: ...
    def frames(self) -> AsyncGenerator[np.ndarray, None]: ...
    def request_keyframe(self) -> None: ...
    def end(self) -> None: ...


class Forward(Protocol):
    transceiver: RTCRtpTransceiver
    reusable: bool

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def close(self) -> None: ...


# --- passthrough -----------------------------------------------------------------------


class PassthroughPublication:
    def __init__(self, transceiver: RTCRtpTransceiver, *, remb: aiortc_hooks.RembMode) -> None:
        self.kind = transceiver.kind
        self.codec = main_codec(transceiver)
        self._receiver = transceiver.receiver
        self.fanout = Fanout(self.kind, self._send_pli)
        sink = aiortc_hooks.EncodedSink(self._on_batch, self._on_end)
        self._assembler = AudioAssembler() if self.kind == "audio" else VideoAssembler()
        aiortc_hooks.attach_receiver(self._receiver, self._assembler, sink, remb=remb)
        self._ssrc: int | None = None
        if self.kind == "video":
            aiortc_hooks.cap_remb(self._receiver, self.viewers_bitrate)

    def _on_batch(self, codec: str, batch: FrameBatch) -> None:
        ssrc = self._assembler.ssrc
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self.fanout.new_stream()  # the publisher restarted its RTP stream
            self._ssrc = ssrc
        stream = self.fanout.stream
        frames = [EncodedFrame(codec, data, ts, is_keyframe(codec, data), stream) for data, ts in batch.frames]
        self.fanout.push(codec, frames, batch.lost)

    def _on_end(self) -> None:
        # Receiver stopped (leave, disconnect or RTCP BYE). Subscribers are detached by the
        # engine on leave; here the fan-out simply stops receiving frames.
        logger.debug("publisher %s receiver stopped", self.kind)

    def viewers_bitrate(self) -> int | None:
        """The lowest bitrate a video viewer reported (REMB), if any reported."""
        rates = [t.packetizer.remote_bitrate for t in self.fanout.subscribers if t.packetizer is not None]
        known = [r for r in rates if r]
        return min(known) if known else None

    @property
    def loss_skips(self) -> int:
        return self._assembler.skips if isinstance(self._assembler, VideoAssembler) else 0

    @property
    def keyframe_requests(self) -> int:
        return self.fanout.pli_sent

    def request_keyframe(self) -> None:
        self.fanout.request_keyframe()

    def _send_pli(self) -> None:
        ssrc = self._assembler.ssrc
        if ssrc is not None:
            aiortc_hooks.send_pli(self._receiver, ssrc)

    def subscribe(self, transceiver: RTCRtpTransceiver, paused: bool) -> PassthroughForward:
        return PassthroughForward(self.fanout, transceiver, paused)

    def frames(self) -> AsyncGenerator[np.ndarray, None]:
        return decoded_frames(self.fanout)

    def encoded(self, max_queue: int) -> ForwardedTrack:
        """The track's encoded frames for a reader in the engine (the telephone's bridge)."""
        return self.fanout.subscribe(max_queue=max_queue)

    def end(self) -> None:
        self.fanout.end()


class PassthroughForward:
    reusable = True  # the sender keeps running with no track: its transceiver can carry another

    def __init__(self, fanout: Fanout, transceiver: RTCRtpTransceiver, paused: bool) -> None:
        self.transceiver = transceiver
        self.fanout = fanout
        self.track: ForwardedTrack = fanout.subscribe()
        packetizer = aiortc_hooks.sender_packetizer(transceiver.sender)
        if packetizer is None:
            # A transceiver made for the packet path (packet_path.py) carrying frames, e.g. the
            # telephone's voice: it gets the frame path's packetizer, and is not reused after.
            packetizer = prepare_passthrough_sender(transceiver)
            self.reusable = False
        self.track.packetizer = packetizer
        if paused:
            self.track.pause()
        transceiver.sender.replaceTrack(self.track)

    @property
    def dropped(self) -> int:
        return self.track.dropped

    def pause(self) -> None:
        self.track.pause()

    def resume(self) -> None:
        self.track.resume()

    def close(self) -> None:
        self.transceiver.sender.replaceTrack(None)
        self.track.stop()


def prepare_passthrough_sender(transceiver: RTCRtpTransceiver) -> aiortc_hooks.Packetizer:
    """Install a packetizer on a new sendonly transceiver; subscriber PLI goes to its fan-out."""
    clock_rate = 90000 if transceiver.kind == "video" else 48000
    packetizer = aiortc_hooks.Packetizer(clock_rate)
    sender = transceiver.sender

    def on_keyframe_request() -> None:
        track = sender.track
        if isinstance(track, ForwardedTrack):
            track._fanout.request_keyframe()

    aiortc_hooks.attach_sender(sender, packetizer, on_keyframe_request)
    return packetizer


# --- relay (baseline) ------------------------------------------------------------------


class GatedTrack(MediaStreamTrack):
    """Relay-mode subscriber track that drops frames while paused (audio-only subscriber)."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self.open = True

    async def recv(self) -> Frame | Packet[Any]:
        while True:
            frame = await self._source.recv()
            if self.open:
                return frame

    def stop(self) -> None:
        super().stop()
        self._source.stop()


class RelayPublication:
    def __init__(self, transceiver: RTCRtpTransceiver, relay: MediaRelay) -> None:
        self.kind = transceiver.kind
        self.codec = main_codec(transceiver)
        self._relay = relay
        self._source = transceiver.receiver.track
        self._forwards: list[RelayForward] = []

    def subscribe(self, transceiver: RTCRtpTransceiver, paused: bool) -> RelayForward:
        forward = RelayForward(GatedTrack(self._relay.subscribe(self._source, buffered=False)), transceiver)
        if paused:
            forward.pause()
        return forward

    def frames(self) -> AsyncGenerator[np.ndarray, None]:
        return relayed_frames(self._relay, self._source)

    def request_keyframe(self) -> None:
        pass  # the relay re-encodes: each subscriber's encoder starts with its own keyframe

    def end(self) -> None:
        pass  # the source track ends with its receiver; relay proxies then end too


class RelayForward:
    reusable = False  # the sender's RTP loop ends with its source track

    def __init__(self, track: GatedTrack, transceiver: RTCRtpTransceiver) -> None:
        self.track = track
        self.transceiver = transceiver
        transceiver.sender.replaceTrack(track)

    def pause(self) -> None:
        self.track.open = False

    def resume(self) -> None:
        self.track.open = True
        aiortc_hooks.request_sender_keyframe(self.transceiver.sender)

    def close(self) -> None:
        self.transceiver.sender.replaceTrack(None)
        self.track.stop()
