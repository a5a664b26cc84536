"""The phone leg's codecs, all through PyAV (audioop is gone from Python 3.13):
μ-law 8 kHz (Twilio Media Streams) ↔ 16-bit PCM, PCM ↔ Opus 48 kHz (WebRTC).

One `Uplink` per phone leg turns the phone's μ-law into Opus packets, encoded once for
every web subscriber; one `Downlink` per web publisher turns its Opus packets into 8 kHz
PCM for the mix. Both keep their codec and resampler state between calls (a resampler
per call would click at every frame edge)."""

from __future__ import annotations

import fractions

import av
import numpy as np

PHONE_RATE = 8000
OPUS_RATE = 48000
FRAME_MS = 20
PHONE_FRAME = PHONE_RATE * FRAME_MS // 1000  # 160 samples (and μ-law bytes) per 20 ms
OPUS_FRAME = OPUS_RATE * FRAME_MS // 1000  # 960 samples per 20 ms
OPUS_BITRATE = 24000  # narrow-band speech: more buys nothing a phone line carries


class CodecError(ValueError):
    """Bytes that are no valid frame of the codec (the caller drops them and goes on)."""


def _pcm_frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


class MuLaw:
    """μ-law bytes ↔ int16 samples (G.711, one byte per sample)."""

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("pcm_mulaw", "r")
        self._decoder.sample_rate = PHONE_RATE
        self._decoder.layout = "mono"
        self._encoder = av.CodecContext.create("pcm_mulaw", "w")
        self._encoder.sample_rate = PHONE_RATE
        self._encoder.format = "s16"
        self._encoder.layout = "mono"
        self._encoder.time_base = fractions.Fraction(1, PHONE_RATE)

    def decode(self, data: bytes) -> np.ndarray:
        if not data:
            return np.zeros(0, dtype=np.int16)
        out = [f.to_ndarray().reshape(-1) for f in self._decoder.decode(av.Packet(data))]
        return np.concatenate(out).astype(np.int16, copy=False) if out else np.zeros(0, dtype=np.int16)

    def encode(self, samples: np.ndarray) -> bytes:
        return b"".join(bytes(p) for p in self._encoder.encode(_pcm_frame(samples, PHONE_RATE)))


class Uplink:
    """The phone's voice for the web: 8 kHz PCM → Opus, 20 ms packets. libopus takes 8 kHz
    input as is (narrow band); the packets decode at 48 kHz like any (RTP clock 48 kHz)."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self._encoder = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = PHONE_RATE
        self._encoder.format = "s16"
        self._encoder.layout = "mono"
        self._encoder.bit_rate = OPUS_BITRATE
        self._encoder.options = {"application": "voip", "frame_duration": str(FRAME_MS)}
        self._encoder.time_base = fractions.Fraction(1, PHONE_RATE)

    def encode(self, samples: np.ndarray) -> list[bytes]:
        """Opus packets (20 ms each) for these 8 kHz samples; none while the encoder fills up."""
        packets: list[bytes] = []
        # The encoder takes exact 20 ms frames: the rest waits for the next call.
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(pending) - len(pending) % PHONE_FRAME
        for at in range(0, whole, PHONE_FRAME):
            packets.extend(bytes(p) for p in self._encoder.encode(_pcm_frame(pending[at:at + PHONE_FRAME], PHONE_RATE)))
        self._pending = pending[whole:]
        return packets


class Downlink:
    """A web participant's voice for the phone: Opus → 48 kHz mono PCM (FFmpeg's libopus
    decodes at 48 kHz whatever is asked) → 8 kHz."""

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("libopus", "r")
        self._decoder.sample_rate = OPUS_RATE
        self._decoder.layout = "mono"  # what the phone gets: half the samples to resample
        self._decoder.format = "s16"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PHONE_RATE)

    def decode(self, packet: bytes) -> np.ndarray:
        try:
            frames = self._decoder.decode(av.Packet(packet))
        except av.error.FFmpegError as error:  # a corrupt packet: this one is lost, the stream goes on
            raise CodecError(str(error)) from None
        out = [r.to_ndarray().reshape(-1) for f in frames for r in self._resampler.resample(f)]
        return np.concatenate(out).astype(np.int16, copy=False) if out else np.zeros(0, dtype=np.int16)
