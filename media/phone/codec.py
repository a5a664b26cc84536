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
OPUS_COMPLEXITY = 5


class CodecError(ValueError):
    """Bytes that are no valid frame of the codec (the caller drops them and goes on)."""


def _pcm_frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


def _mulaw_tables() -> tuple[np.ndarray, np.ndarray]:
    """G.711 μ-law as PyAV's pcm_mulaw codec does it, as two lookup tables built once: every
    byte decoded, every 16-bit sample encoded. A codec call per 20 ms frame cost ~8 µs of
    PyAV objects each way for what is a table lookup; the tables are FFmpeg's own results."""
    decoder = av.CodecContext.create("pcm_mulaw", "r")
    decoder.sample_rate, decoder.layout = PHONE_RATE, "mono"
    decoded = np.concatenate([f.to_ndarray().reshape(-1)
                              for f in decoder.decode(av.Packet(bytes(range(256))))]).astype(np.int16)
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    encoder.sample_rate, encoder.format, encoder.layout = PHONE_RATE, "s16", "mono"
    encoder.time_base = fractions.Fraction(1, PHONE_RATE)
    every = np.arange(65536, dtype=np.uint16).view(np.int16)  # indexed by a sample's uint16 view
    encoded = np.frombuffer(b"".join(bytes(p) for p in encoder.encode(_pcm_frame(every, PHONE_RATE))),
                            dtype=np.uint8)
    assert len(decoded) == 256 and len(encoded) == 65536
    return decoded, encoded


_DECODE, _ENCODE = _mulaw_tables()


class MuLaw:
    """μ-law bytes ↔ int16 samples (G.711, one byte per sample)."""

    def decode(self, data: bytes) -> np.ndarray:
        return _DECODE[np.frombuffer(data, dtype=np.uint8)]

    def encode(self, samples: np.ndarray) -> bytes:
        return _ENCODE[np.asarray(samples, dtype=np.int16).view(np.uint16)].tobytes()


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
        # Complexity 5, as WebRTC sets it on phones (9 elsewhere): this encoder runs 50 times a
        # second per call on the server, and at 8 kHz narrow band the analysis that 10 adds
        # buys little (-25% of the leg's encoding CPU, bench/phone_bench.py).
        self._encoder.options = {"application": "voip", "frame_duration": str(FRAME_MS),
                                 "compression_level": str(OPUS_COMPLEXITY)}
        self._encoder.time_base = fractions.Fraction(1, PHONE_RATE)
        self._frame = av.AudioFrame(format="s16", layout="mono", samples=PHONE_FRAME)
        self._frame.sample_rate = PHONE_RATE

    def encode(self, samples: np.ndarray) -> list[bytes]:
        """Opus packets (20 ms each) for these 8 kHz samples; none while the encoder fills up."""
        packets: list[bytes] = []
        # The encoder takes exact 20 ms frames: the rest waits for the next call.
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(pending) - len(pending) % PHONE_FRAME
        frame, plane = self._frame, self._frame.planes[0]
        for at in range(0, whole, PHONE_FRAME):
            # One frame object for the leg's life, its buffer overwritten: libopus has copied
            # the previous samples by the time encode() returns.
            plane.update(pending[at:at + PHONE_FRAME].astype(np.int16, copy=False).tobytes())
            frame.pts = None
            packets.extend(bytes(p) for p in self._encoder.encode(frame))
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
        # s16 mono is one packed plane: read it as is (to_ndarray stacks planes, a copy or two).
        out = [np.frombuffer(r.planes[0], dtype=np.int16, count=r.samples)
               for f in frames for r in self._resampler.resample(f)]
        if len(out) == 1:
            return out[0]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
