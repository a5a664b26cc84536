"""Video RED + ULPFEC (RFC 2198, RFC 5109) as Chromium sends it, and its recovery.

With `red/90000` and `ulpfec/90000` negotiated, Chromium wraps every VP8 packet in RED (one
block, a 1-byte header naming VP8) and, when its loss estimate calls for it (hybrid NACK +
FEC above ~20 ms round trip), adds ULPFEC packets on the same SSRC and sequence numbers: each
one the XOR of a group of earlier media packets, named by a base sequence number and a mask.
A receiver holding all but one packet of a group rebuilds the missing one without a round
trip; the FEC packet itself is never retransmitted (libwebrtc stores it without history).

The XOR covers each media packet as if it were not wrapped in RED (its RTP header with
VP8's payload type, its header extensions, its payload): anything rewritten in a packet
(extensions, numbering) breaks the parity for a receiver further on. So the engine
recovers the publisher's losses itself, hop by hop, as it NACKs hop by hop (LiveKit's
FlexFEC support does the same: decode upstream, generate downstream), and never passes
the publisher's FEC on unchanged.

ULPFEC packet (its RTP payload after the 1-byte RED header): E L P X CC | M PT recovery |
SN base | TS recovery (4) | length recovery (2) | protection length (2) | mask (2, or 6
with L) | the XOR of the protected packets' bytes after their 12-byte fixed header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

RED_MIME = "video/red"
ULPFEC_MIME = "video/ulpfec"
MAX_FEC_KEPT = 32  # FEC packets waiting for a loss to repair (Chromium: a few per frame at most)
_HEADER = 10
_LEVEL = {False: 4, True: 8}  # level-0 header: protection length and a 16- or 48-bit mask


def is_ulpfec(codec: Any) -> bool:
    return str(getattr(codec, "mimeType", "")).lower() == ULPFEC_MIME


def red_block_type(payload: bytes | memoryview) -> int | None:
    """The payload type of a video RED payload's only block (F bit clear), None if the payload
    is empty or carries redundant blocks (Chromium's video RED never does). Not red.parse:
    that one checks every block is the given Opus and builds an object per packet."""
    if not len(payload) or payload[0] & 0x80:
        return None
    return payload[0] & 0x7F


class FecPacket:
    """A parsed ULPFEC payload: which sequence numbers it protects."""

    __slots__ = ("data", "header_size", "protected", "protection_length", "sequence")

    def __init__(self, data: bytes, sequence: int, protected: tuple[int, ...], header_size: int,
                 protection_length: int) -> None:
        self.data = data
        self.sequence = sequence  # its own RTP sequence number
        self.protected = protected
        self.header_size = header_size
        self.protection_length = protection_length


def parse_fec(payload: bytes | memoryview, sequence: int) -> FecPacket | None:
    """The ULPFEC payload (RED header removed) or None if malformed. Never raises."""
    data = bytes(payload)
    if len(data) < _HEADER + 4:
        return None
    long_mask = bool(data[0] & 0x40)
    header_size = _HEADER + _LEVEL[long_mask]
    if len(data) < header_size:
        return None
    base = int.from_bytes(data[2:4], "big")
    protection_length = int.from_bytes(data[10:12], "big")
    if header_size + protection_length > len(data):
        return None
    mask = int.from_bytes(data[12:header_size], "big")
    bits = 8 * (header_size - 12)
    protected = tuple((base + i) & 0xFFFF for i in range(bits) if mask >> (bits - 1 - i) & 1)
    if not protected:
        return None
    return FecPacket(data, sequence, protected, header_size, protection_length)


def recover(fec: FecPacket, others: Iterable[bytes], sequence: int, ssrc: int) -> bytes | None:
    """The packet `sequence` of `fec`'s group rebuilt from the group's other packets (plain
    RTP, as the publisher made them before RED), None if the figures do not add up."""
    data = fec.data
    head = bytearray(data[0:2])
    timestamp = int.from_bytes(data[4:8], "big")
    length = int.from_bytes(data[8:10], "big")
    size = fec.protection_length
    body = int.from_bytes(data[fec.header_size:fec.header_size + size], "big")
    for packet in others:
        if len(packet) < 12:
            return None
        head[0] ^= packet[0]
        head[1] ^= packet[1]
        timestamp ^= int.from_bytes(packet[4:8], "big")
        length ^= len(packet) - 12
        body ^= int.from_bytes(packet[12:12 + size].ljust(size, b"\x00"), "big")
    if length > size:
        return None
    first = (head[0] | 0x80) & 0xBF  # version 2 (the FEC header's E and L bits land here)
    rest = body.to_bytes(size, "big")[:length] if size else b""
    return (bytes((first, head[1])) + sequence.to_bytes(2, "big") + timestamp.to_bytes(4, "big")
            + ssrc.to_bytes(4, "big") + rest)


def encode(packets: list[tuple[int, bytes]]) -> bytes:
    """A ULPFEC payload protecting `packets` ((sequence, plain RTP packet), oldest first, all
    within 48 numbers of the first): the XOR libwebrtc's generator makes (tests, and FEC the
    engine would make itself)."""
    if not packets:
        raise ValueError("nothing to protect")
    base = packets[0][0]
    offsets = [(sequence - base) & 0xFFFF for sequence, _ in packets]
    if max(offsets) >= 48:
        raise ValueError("a ULPFEC mask spans 48 packets")
    long_mask = max(offsets) >= 16
    bits = 48 if long_mask else 16
    size = max(len(packet) - 12 for _, packet in packets)
    head = bytearray(2)
    timestamp = length = body = 0
    for _, packet in packets:
        head[0] ^= packet[0]
        head[1] ^= packet[1]
        timestamp ^= int.from_bytes(packet[4:8], "big")
        length ^= len(packet) - 12
        body ^= int.from_bytes(packet[12:].ljust(size, b"\x00"), "big")
    head[0] = (head[0] & 0x3F) | (0x40 if long_mask else 0)  # E clear, L
    mask = 0
    for offset in offsets:
        mask |= 1 << (bits - 1 - offset)
    return (bytes(head) + base.to_bytes(2, "big") + timestamp.to_bytes(4, "big") + length.to_bytes(2, "big")
            + size.to_bytes(2, "big") + mask.to_bytes(bits // 8, "big") + body.to_bytes(size, "big"))


def plain_packet(data: bytes, header_end: int, payload_start: int, payload_end: int, marker: int,
                 payload_type: int) -> bytes:
    """A RED-wrapped media packet as FEC sees it: its header up to `header_end` (CSRC and
    extensions included, padding bit cleared) with the block's payload type, then its
    payload past the RED header (`payload_start`). For a retransmission, `header_end` is
    where the RTX payload starts: the original number and the RED header are left out."""
    return b"".join((bytes((data[0] & 0xDF, (marker << 7) | payload_type)), data[2:header_end],
                     data[payload_start:payload_end]))


class FecDecoder:
    """A publication's FEC packets, each kept until its group is whole or it cannot help."""

    def __init__(self) -> None:
        self._fec: list[FecPacket] = []
        self.received = 0  # FEC packets that came
        self.recovered = 0  # media packets rebuilt from them

    def add(self, fec: FecPacket) -> None:
        self.received += 1
        self._fec.append(fec)
        if len(self._fec) > MAX_FEC_KEPT:
            del self._fec[0]

    def recover(self, packet: Callable[[int], bytes | None], ssrc: int) -> list[bytes]:
        """Every packet that can be rebuilt now (`packet(sequence)`: the plain packet if held),
        repeated while one rebuilt completes another group."""
        out: list[bytes] = []
        rebuilt: dict[int, bytes] = {}
        progress = True
        while progress and self._fec:
            progress = False
            for fec in list(self._fec):
                held = [(s, rebuilt.get(s) or packet(s)) for s in fec.protected]
                missing = [s for s, p in held if p is None]
                if len(missing) != 1:
                    if not missing:
                        self._fec.remove(fec)  # nothing left to repair in its group
                    continue
                self._fec.remove(fec)
                data = recover(fec, (p for _, p in held if p is not None), missing[0], ssrc)
                if data is not None:
                    out.append(data)
                    rebuilt[missing[0]] = data
                    self.recovered += 1
                    progress = True
        return out

    def forget_before(self, oldest: int) -> None:
        """Drop FEC whose group ends before `oldest` (the next number to forward: its packets
        were all forwarded or given up); a group reaching `oldest` may still repair it."""
        self._fec = [f for f in self._fec if not 0 < (oldest - f.protected[-1]) & 0xFFFF < 0x8000]


def vp8_picture_id(payload: bytes | memoryview) -> int | None:
    """The picture id of a VP8 packet's descriptor (RFC 7741), None if it has none."""
    if len(payload) < 3 or not payload[0] & 0x80 or not payload[1] & 0x80:
        return None
    if payload[2] & 0x80:
        return ((payload[2] & 0x7F) << 8) | payload[3] if len(payload) > 3 else None
    return payload[2] & 0x7F


def vp8_frame_start(payload: bytes | memoryview) -> bool:
    """The first packet of a frame (S set, partition 0)."""
    return len(payload) > 0 and bool(payload[0] & 0x10) and not payload[0] & 0x07


def next_picture(a: int, b: int) -> bool:
    """Picture id `b` follows `a` (7- or 15-bit, as the sender numbers)."""
    return b in ((a + 1) & 0x7FFF, (a + 1) & 0x7F)
