"""Opus packets that carry in-band FEC (issue 25) go through the engine unchanged: the engine
asks for FEC in its SDP (aiortc_hooks.announce_opus_parameters) and forwards payloads as
they are, so a subscriber's decoder can rebuild a lost packet from the next one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aiortc import RTCRtpReceiver
from aiortc.codecs.opus import OpusEncoder
from av import AudioFrame

from tests.waiting import wait_until_async

from . import clients
from .clients import Room, run


class VoiceLikeAudio(clients.ToneAudio):
    """A tone with noise and a 3 Hz swell: libopus's voice detector keeps coding LBRR for it
    (for a steady pure tone it stops after a second)."""

    def __init__(self) -> None:
        super().__init__(220.0)
        self._noise = np.random.default_rng(0)

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        t = (np.arange(960) + frame.pts) / 48000
        swell = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
        voice = (np.sin(2 * np.pi * 220 * t) + 0.3 * self._noise.standard_normal(960)) * 6000 * swell
        out = AudioFrame.from_ndarray(voice.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, frame.time_base
        return out


class RangeDecoder:
    """The start of Opus's range decoder (RFC 6716 §4.1), enough for SILK's header flags."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0
        self._rem = self._byte()
        self._rng = 128
        self._val = 127 - (self._rem >> 1)
        self._normalize()

    def _byte(self) -> int:
        self._at += 1
        return self._data[self._at - 1] if self._at <= len(self._data) else 0

    def _normalize(self) -> None:
        while self._rng <= 1 << 23:
            self._rng <<= 8
            symbol = self._rem
            self._rem = self._byte()
            symbol = ((symbol << 8) | self._rem) >> 1
            self._val = ((self._val << 8) + (255 & ~symbol)) & ((1 << 31) - 1)

    def bit(self) -> bool:  # ec_dec_bit_logp(dec, 1)
        s = self._rng >> 1
        one = self._val < s
        if not one:
            self._val -= s
        self._rng = s if one else self._rng - s
        self._normalize()
        return one


def carries_fec(payload: bytes) -> bool | None:
    """Whether a one-frame SILK or hybrid Opus packet carries LBRR (in-band FEC) data; None
    for packets without a SILK layer or with several frames."""
    toc = payload[0]
    config = toc >> 3
    if config >= 16 or toc & 3:
        return None
    silk_frames = {0: 1, 1: 1, 2: 2, 3: 3}[config % 4] if config < 12 else 1
    decoder = RangeDecoder(payload[1:])
    for _ in range(silk_frames):
        decoder.bit()  # the mid channel's voice activity flags
    return decoder.bit()  # its LBRR flag


def test_the_range_decoder_reads_silk_header_flags() -> None:
    # Bytes 0b11...: the first flags decode as set; 0b00...: as clear (equiprobable bits map
    # to the top bits of the stream).
    assert carries_fec(bytes([8 << 3, 0xFF, 0xFF, 0xFF])) is True
    assert carries_fec(bytes([8 << 3, 0x00, 0x00, 0x00])) is False
    assert carries_fec(bytes([20 << 3, 0xFF])) is None  # CELT only: no SILK layer


def test_opus_with_in_band_fec_reaches_the_subscriber_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    # The publishers' Opus encoders as Chromium's on a lossy link with useinbandfec=1: FEC on,
    # loss expected, a voice bitrate (FEC lives in the SILK layer).
    encoded: set[bytes] = set()
    init, encode = OpusEncoder.__init__, OpusEncoder.encode

    def fec_init(self: OpusEncoder) -> None:
        init(self)
        self.codec.bit_rate = 24000
        self.codec.options = {"application": "voip", "fec": "1", "packet_loss": "20"}

    def recording_encode(self: OpusEncoder, *args: Any, **kwargs: Any) -> tuple[list[bytes], int]:
        payloads, timestamp = encode(self, *args, **kwargs)
        encoded.update(payloads)
        return payloads, timestamp

    monkeypatch.setattr(OpusEncoder, "__init__", fec_init)
    monkeypatch.setattr(clients, "ToneAudio", VoiceLikeAudio)
    monkeypatch.setattr(OpusEncoder, "encode", recording_encode)
    payloads: list[bytes] = []

    def record(receiver: RTCRtpReceiver) -> None:
        """Keep what this receiver of bob's gets (the engine's receivers are left alone)."""
        handle = receiver._handle_rtp_packet

        async def recording_handle(packet: Any, arrival_time_ms: int) -> None:
            payloads.append(packet.payload)
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = recording_handle  # type: ignore[method-assign]

    async def body() -> None:
        room = Room("passthrough")
        try:
            await room.join("alice")
            bob = await room.join("bob")
            await wait_until_async(lambda: bob.frames_from("alice", "audio") > 0, 15, what="alice's audio at bob")
            mid = next(m for m, i in bob.tracks.items() if i == {"participant_id": "alice", "kind": "audio"})
            record(next(t.receiver for t in bob.pc.getTransceivers() if t.mid == mid))
            await wait_until_async(lambda: sum(bool(carries_fec(p)) for p in payloads) >= 20, 20,
                                   what="20 FEC-carrying Opus packets from alice at bob")
            assert set(payloads) <= encoded  # forwarded as encoded: nothing re-encoded or cut
            with_fec = [p for p in payloads if carries_fec(p)]
            print(f"bob received {len(payloads)} Opus packets from alice, {len(with_fec)} carrying FEC")
        finally:
            await room.close()

    run(body)
