"""Encoded media frames as they travel through the forwarding unit, and keyframe detection."""

from __future__ import annotations

from dataclasses import dataclass

VP8 = "vp8"
H264 = "h264"
OPUS = "opus"

_VP8_START_CODE = b"\x9d\x01\x2a"
_H264_IDR = 5


@dataclass(slots=True)
class EncodedFrame:
    """One complete encoded frame (depayloaded: VP8 bitstream, H264 Annex-B, one Opus packet).

    `timestamp` is an RTP timestamp in the codec's clock (90 kHz video, 48 kHz Opus).
    `stream` names the source (one per publisher track): a change tells the packetizer to
    rebase timestamps. An empty `data` is a no-op frame: the packetizer sends nothing.
    """

    codec: str
    data: bytes
    timestamp: int
    keyframe: bool
    stream: int = 0


def is_keyframe(codec: str, data: bytes) -> bool:
    """Tell whether a decoder can start at this frame."""
    if codec == OPUS or codec not in (VP8, H264):
        return True
    if codec == VP8:
        # RFC 6386 section 9.1: P bit clear, then the 3-byte start code of a key frame.
        return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == _VP8_START_CODE
    return _h264_has_idr(data)


def _h264_has_idr(data: bytes) -> bool:
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        if data[pos + 3] & 0x1F == _H264_IDR:
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False


def codec_key(mime_type: str) -> str:
    """'video/VP8' -> 'vp8'."""
    return mime_type.split("/")[-1].lower()
