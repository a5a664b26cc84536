"""RED for audio (RFC 2198): each packet repeats the previous frame(s) before its own.

Opus in-band FEC rebuilds a lone lost packet, and only where the encoder coded it (voiced
frames); RED repeats whole earlier frames, so a receiver rebuilds what a burst took as long
as one later packet arrives. Chromium sends RED (`red/48000/2`, fmtp `<opus>/<opus>`: one
earlier frame) when it comes before Opus in the negotiated list, and decodes it wherever
negotiated. The engine forwards a RED payload as it is to a subscriber that negotiated RED
(its block payload types renumbered if that subscriber numbers Opus differently), and the
primary block (the packet's own frame, always the last) to one that did not, or to a
reader of frames (the telephone's decoder).

A RED payload: for each redundant block a 4-byte header (F=1, block payload type, 14-bit
timestamp offset, 10-bit length), then a 1-byte header (F=0, the primary's payload type),
then the blocks' data in the same order, the primary's last (its length is the rest).
Parsing accepts only blocks of the negotiated Opus payload type whose lengths fit the
payload; anything else is not forwarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RED_MIME = "audio/red"
# Chromium sends one earlier frame (two in some field trials); RFC 2198 bounds nothing, the
# 10-bit lengths and a packet's size do. More blocks than this is not a browser's RED.
MAX_REDUNDANT = 8
# Earlier frames the engine asks Chromium for, in its fmtp (`111/111` = the primary and one).
REDUNDANT_FRAMES = 1


def is_red(codec: Any, kind: str = "audio") -> bool:
    """Whether an aiortc codec (anything with a mimeType) is RED of `kind` (audio: Opus's,
    video: ulpfec.py's)."""
    return str(getattr(codec, "mimeType", "")).lower() == f"{kind}/red"


def red_fmtp(opus_pt: int, redundant: int = REDUNDANT_FRAMES) -> str:
    """The fmtp that makes RED carry Opus (`<opus>/<opus>`, one more per earlier frame)."""
    return "/".join([str(opus_pt)] * (redundant + 1))


def fmtp_payload_types(parameters: dict[str, Any]) -> list[int] | None:
    """The block payload types a RED fmtp names (aiortc parses `111/111` as a key without
    value), None if there is no such list."""
    for key, value in parameters.items():
        if value is None and "/" in key:
            try:
                return [int(pt) for pt in key.split("/")]
            except ValueError:
                return None
    return None


class RedPayload:
    """A well-formed RED payload: where its block headers and its primary block are."""

    __slots__ = ("data", "headers", "primary_start")

    def __init__(self, data: bytes | memoryview, headers: list[int], primary_start: int) -> None:
        self.data = data
        self.headers = headers  # offset of each block header's first byte (the last: the primary's)
        self.primary_start = primary_start

    @property
    def redundant(self) -> int:
        return len(self.headers) - 1

    def primary(self) -> memoryview:
        """The packet's own frame: what a receiver without RED gets."""
        return memoryview(self.data)[self.primary_start:]

    def renumbered(self, payload_type: int) -> bytes:
        """The payload with every block header naming `payload_type` (a subscriber's Opus)."""
        out = bytearray(self.data)
        for offset in self.headers:
            out[offset] = (out[offset] & 0x80) | payload_type
        return bytes(out)


def parse(data: bytes | memoryview, opus_pt: int) -> RedPayload | None:
    """The RED payload `data` if it is well formed and every block is Opus (`opus_pt`),
    else None. Never raises."""
    size = len(data)
    pos = 0
    headers: list[int] = []
    redundant_bytes = 0
    while True:
        if pos >= size:
            return None  # no primary header
        first = data[pos]
        if first & 0x7F != opus_pt:
            return None
        headers.append(pos)
        if not first & 0x80:
            pos += 1
            break
        if len(headers) > MAX_REDUNDANT or pos + 4 > size:
            return None
        redundant_bytes += ((data[pos + 2] & 0x03) << 8) | data[pos + 3]
        pos += 4
    primary_start = pos + redundant_bytes
    if primary_start > size:
        return None
    return RedPayload(data, headers, primary_start)


def encode(payload_type: int, primary: bytes, redundant: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """A RED payload of `redundant` (timestamp offset, data) blocks, oldest first, then
    `primary`, all of `payload_type` (what Chromium's RED encoder sends)."""
    headers = bytearray()
    for offset, block in redundant:
        if not 0 <= offset < 1 << 14 or len(block) >= 1 << 10:
            raise ValueError("RED block offset or length out of range")
        headers += bytes((0x80 | payload_type, offset >> 6, ((offset & 0x3F) << 2) | (len(block) >> 8),
                          len(block) & 0xFF))
    headers.append(payload_type)
    return bytes(headers) + b"".join(block for _, block in redundant) + primary
