"""Packet-level forwarding: RTP parsed once, its header rewritten for each subscriber.

Plain Python over bytes, no aiortc: the reference implementation of the per-packet work
(packet_path.py wires it to the transports). What a C SFU does per packet, and only that:

- `parse_rtp` reads an unprotected RTP packet (RFC 3550, RFC 8285 one- and two-byte
  header extensions) and rejects anything malformed with `MalformedPacket`;
- `Rewriter` gives one subscriber's stream its own SSRC, payload type, sequence numbers
  and timestamps: continuous across a change of publisher on the same sender, a pause
  (audio only) or packets dropped before a start, with upstream gaps kept as gaps so
  the subscriber's NACK can be answered; a video stream starts at a keyframe;
- `ExtensionMapper` carries the header extensions the subscriber negotiated, renumbered
  to its ids (mid rewritten to the subscriber's, abs-send-time stamped at send time, the
  engine's own playout delay written where it asks one), and drops the others
  (transport-wide sequence numbers are per transport, never forwarded);
- `History` keeps the last packets of a track for NACKs; `ReceiveStats` numbers what
  arrived (receiver reports) and lists what is missing (NACKs to the publisher);
- `TransportFeedback` records transport-wide sequence numbers with their arrival time and
  builds the RTCP transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01)
  that lets the publisher's browser run its own send-side estimator;
- `is_keyframe_start` tells from a packet's payload that a decoder can start there.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_SEQ_HALF = 0x8000
_ONE_BYTE_PROFILE = 0xBEDE
_TWO_BYTE_PROFILE = 0x1000  # 0x100X, the low 4 bits are "appbits"
_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
# libwebrtc's minimum and maximum playout delay for the frames that carry it (10 ms units):
# the engine writes its own (playout_hint.py), never a publisher's.
PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
PLAYOUT_DELAY_MAX_MS = 10_000  # libwebrtc's own default maximum (and the largest it accepts)
# Identify a stream of one connection only: meaningless to another connection.
_NOT_FORWARDED = frozenset({
    TRANSPORT_CC_URI,
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
})


class MalformedPacket(ValueError):
    """Bytes that are not a well-formed RTP or RTCP packet."""


class RtpView:
    """One parsed RTP packet; `data[start:end]` is its payload (padding excluded).

    Its header extensions are read from `data` when first asked for (`extensions`), not at
    parse time: the compiled core maps them from the bytes, the history keeps ~500 packets
    per appointment, and a list of (id, value) per packet was ~0.2 MiB of each appointment's
    memory. `extension(id)` finds one element without building the list.
    """

    __slots__ = ("_extensions", "data", "end", "keyframe", "marker", "payload_type", "sequence", "ssrc", "start",
                 "timestamp")

    def __init__(self, data: bytes, marker: int, payload_type: int, sequence: int, timestamp: int, ssrc: int,
                 extensions: list[tuple[int, bytes]] | None, start: int, end: int) -> None:
        self.data = data
        self.marker = marker
        self.payload_type = payload_type
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self._extensions = extensions  # None: data's own block, validated by parse_rtp, read when asked
        self.start = start
        self.end = end
        self.keyframe = False  # set by the publication: a decoder can start at this packet

    @property
    def extensions(self) -> list[tuple[int, bytes]]:
        """(id, value) in packet order."""
        if self._extensions is None:
            self._extensions = _block_extensions(self.data)
        return self._extensions

    @property
    def payload(self) -> bytes:
        return self.data[self.start:self.end]

    def extension(self, ext_id: int | None) -> bytes | None:
        if self._extensions is None and ext_id is not None:
            return _one_byte_element(self.data, ext_id)
        for eid, value in self.extensions:
            if eid == ext_id:
                return value
        return None


def _block_extensions(data: bytes) -> list[tuple[int, bytes]]:
    """The elements of a validated packet's header extension block ([] without one)."""
    first = data[0]
    if not first & 0x10:
        return []
    pos = 12 + 4 * (first & 0x0F)
    profile, words = _EXT_HEADER.unpack_from(data, pos)
    return _parse_extensions(profile, data, pos + 4, pos + 4 + 4 * words)


def _one_byte_element(data: bytes, ext_id: int) -> bytes | None:
    """Element `ext_id` of a validated packet's extension block, walked in place (one-byte
    form, the browsers' usual one; any other profile goes through the parsed list)."""
    first = data[0]
    if not first & 0x10:
        return None
    pos = 12 + 4 * (first & 0x0F)
    if data[pos] != 0xBE or data[pos + 1] != 0xDE:
        return next((value for eid, value in _block_extensions(data) if eid == ext_id), None)
    end = pos + 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
    pos += 4
    while pos < end:
        byte = data[pos]
        if byte == 0:
            pos += 1
            continue
        eid = byte >> 4
        if eid == 15:
            return None
        length = (byte & 0x0F) + 1
        if eid == ext_id:
            return data[pos + 1:pos + 1 + length]
        pos += 1 + length
    return None


def parse_rtp(data: bytes) -> RtpView:
    """Parse an unprotected RTP packet; MalformedPacket if its lengths do not add up."""
    size = len(data)
    if size < 12:
        raise MalformedPacket("RTP packet shorter than its fixed header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise MalformedPacket("not RTP version 2")
    pos = 12 + 4 * (first & 0x0F)
    if size < pos:
        raise MalformedPacket("RTP CSRC list truncated")
    if first & 0x10:
        if size < pos + 4:
            raise MalformedPacket("RTP header extension truncated")
        profile, words = _EXT_HEADER.unpack_from(data, pos)
        pos += 4
        end = pos + 4 * words
        if size < end:
            raise MalformedPacket("RTP header extension longer than the packet")
        _check_extensions(profile, data, pos, end)
        pos = end
    end = size
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or padding > size - pos:
            raise MalformedPacket("bad RTP padding length")
        end = size - padding
    return RtpView(data, second >> 7, second & 0x7F, sequence, timestamp, ssrc, None, pos, end)


def _check_extensions(profile: int, data: bytes, pos: int, end: int) -> None:
    """MalformedPacket where _parse_extensions would raise it, without making the elements."""
    if profile == _ONE_BYTE_PROFILE:
        while pos < end:
            byte = data[pos]
            if byte == 0:
                pos += 1
                continue
            if byte >> 4 == 15:
                return
            pos += (byte & 0x0F) + 2
            if pos > end:
                raise MalformedPacket("one-byte header extension element overruns the block")
    elif profile & 0xFFF0 == _TWO_BYTE_PROFILE:
        _parse_extensions(profile, data, pos, end)


def _parse_extensions(profile: int, data: bytes, pos: int, end: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    if profile == _ONE_BYTE_PROFILE:
        while pos < end:
            byte = data[pos]
            if byte == 0:  # padding between elements
                pos += 1
                continue
            ext_id, length = byte >> 4, (byte & 0x0F) + 1
            if ext_id == 15:  # reserved: stop reading (RFC 8285 §4.2)
                break
            pos += 1
            if pos + length > end:
                raise MalformedPacket("one-byte header extension element overruns the block")
            out.append((ext_id, data[pos:pos + length]))
            pos += length
    elif profile & 0xFFF0 == _TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise MalformedPacket("two-byte header extension element truncated")
            length = data[pos + 1]
            pos += 2
            if pos + length > end:
                raise MalformedPacket("two-byte header extension element overruns the block")
            out.append((ext_id, data[pos:pos + length]))
            pos += length
    # Another profile: an extension we cannot read, ignored as RFC 3550 allows.
    return out


def build_extensions(elements: Iterable[tuple[int, bytes]]) -> bytes:
    """The header extension block (profile, length, elements, padding); b'' for none."""
    items = list(elements)
    if not items:
        return b""
    if all(0 < eid < 15 and 0 < len(value) <= 16 for eid, value in items):
        profile = _ONE_BYTE_PROFILE
        body = b"".join(bytes(((eid << 4) | (len(value) - 1),)) + value for eid, value in items)
    else:
        if not all(0 < eid < 256 and len(value) < 256 for eid, value in items):
            raise ValueError("header extension id or value out of range")
        profile = _TWO_BYTE_PROFILE
        body = b"".join(bytes((eid, len(value))) + value for eid, value in items)
    body += b"\x00" * (-len(body) % 4)
    return _EXT_HEADER.pack(profile, len(body) // 4) + body


def playout_delay(min_ms: int, max_ms: int = PLAYOUT_DELAY_MAX_MS) -> bytes:
    """The playout-delay value: 12-bit minimum, 12-bit maximum, in 10 ms units (rounded up).

    A maximum of 0 with a minimum of 0 would ask for libwebrtc's low-latency rendering (no
    smoothing at all): the default maximum keeps the receiver's own behaviour."""
    low, high = -(-min_ms // 10), -(-max_ms // 10)
    if not 0 <= low <= high <= PLAYOUT_DELAY_MAX_MS // 10:
        raise ValueError(f"playout delay out of range: {min_ms}-{max_ms} ms")
    return ((low << 12) | high).to_bytes(3, "big")


def abs_send_time(ntp_time: int) -> bytes:
    """abs-send-time value (6.18 fixed-point seconds, 24 bits) of a 64-bit NTP time."""
    return ((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big")


class ExtensionMapper:
    """Which of a publisher's extensions reach one subscriber, under which ids.

    Built from the URIs each side negotiated ({id: uri}); `mid` is the subscriber's mid for
    this track, written in every packet (browsers route bundled packets by it). Once
    `set_playout_delay` was called (and the subscriber negotiated the extension), every packet
    carries that minimum playout delay: libwebrtc keeps the last value a frame brought.
    """

    __slots__ = ("_abs_head", "_abs_id", "_copy", "_heads", "_mid", "_mid_element", "_mid_id", "_playout",
                 "_playout_element", "_playout_id")

    def __init__(self, publisher: dict[int, str], subscriber: dict[int, str], mid: str | None) -> None:
        by_uri = {uri: eid for eid, uri in subscriber.items()}
        self._copy = {eid: by_uri[uri] for eid, uri in publisher.items()
                      if uri in by_uri and uri not in _NOT_FORWARDED
                      and uri not in (MID_URI, ABS_SEND_TIME_URI, PLAYOUT_DELAY_URI)}
        self._mid_id = by_uri.get(MID_URI) if mid else None
        self._mid = mid.encode() if mid else b""
        self._abs_id = by_uri.get(ABS_SEND_TIME_URI)
        self._playout_id = by_uri.get(PLAYOUT_DELAY_URI)
        # The usual case, precomputed: every id fits the one-byte form (RFC 8285 §4.2).
        ids = [*self._copy.values(), self._mid_id or 1, self._abs_id or 1, self._playout_id or 1]
        one_byte = all(0 < eid < 15 for eid in ids) and len(self._mid) <= 16
        self._heads = {eid: out << 4 for eid, out in self._copy.items()} if one_byte else None
        self._mid_element = (bytes(((self._mid_id << 4) | (len(self._mid) - 1),)) + self._mid
                             if one_byte and self._mid_id is not None and self._mid else b"")
        self._abs_head = bytes(((self._abs_id << 4) | 2,)) if self._abs_id is not None and one_byte else b""
        self._playout: bytes | None = None  # the value written, once one was set
        self._playout_element = b""

    def set_playout_delay(self, min_ms: int) -> bool:
        """Ask the subscriber for at least `min_ms` of playout delay (0: its own choice again);
        False if it did not negotiate the extension."""
        if self._playout_id is None:
            return False
        self._playout = playout_delay(min_ms)
        if self._heads is not None:
            self._playout_element = bytes(((self._playout_id << 4) | 2,)) + self._playout
        return True

    @property
    def playout_id(self) -> int | None:
        """The subscriber's id for the playout-delay extension (None: not negotiated)."""
        return self._playout_id

    @property
    def playout_element(self) -> bytes:
        """The one-byte playout-delay element written after the mid (b'': none)."""
        return self._playout_element

    def one_byte_ids(self) -> tuple[dict[int, int], int | None, bytes, int | None] | None:
        """(publisher id -> subscriber id, mid id, mid, abs-send-time id) when every id fits
        the one-byte form (the compiled core's case), None otherwise."""
        if self._heads is None:
            return None
        return dict(self._copy), self._mid_id, self._mid, self._abs_id

    def block(self, extensions: list[tuple[int, bytes]], ntp_time: int) -> bytes:
        heads = self._heads
        if heads is None:
            return self._generic(extensions, ntp_time)
        parts = []
        for eid, value in extensions:
            head = heads.get(eid)
            if head is not None:
                size = len(value)
                if not 0 < size <= 16:
                    return self._generic(extensions, ntp_time)
                parts.append(bytes((head | (size - 1),)))
                parts.append(value)
        parts.append(self._mid_element)
        parts.append(self._playout_element)
        if self._abs_head:
            parts.append(self._abs_head)
            parts.append(((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big"))
        body = b"".join(parts)
        if not body:
            return b""
        padding = -len(body) % 4
        return _EXT_HEADER.pack(_ONE_BYTE_PROFILE, (len(body) + padding) // 4) + body + _PADDING[padding]

    def _generic(self, extensions: list[tuple[int, bytes]], ntp_time: int) -> bytes:
        copy = self._copy
        out = [(copy[eid], value) for eid, value in extensions if eid in copy]
        if self._mid_id is not None:
            out.append((self._mid_id, self._mid))
        if self._playout_id is not None and self._playout is not None:
            out.append((self._playout_id, self._playout))
        if self._abs_id is not None:
            out.append((self._abs_id, abs_send_time(ntp_time)))
        return build_extensions(out)


_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")


def is_keyframe_start(codec: str, payload: bytes) -> bool:
    """A decoder can start at this packet: the first packet of a key frame (audio: any)."""
    if codec == "vp8":
        return _vp8_keyframe_start(payload)
    if codec == "h264":
        return _h264_keyframe_start(payload)
    return codec not in ("vp9", "av1")  # audio codecs; other video codecs are never forwarded


def _vp8_keyframe_start(payload: bytes) -> bool:
    # RFC 7741 §4.2 payload descriptor, then the VP8 payload header (RFC 6386 §9.1).
    size = len(payload)
    if size < 1:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S: start of a partition; PID: partition 0
        return False
    pos = 1
    if first & 0x80:  # X: extension byte follows
        if size < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, one or two bytes
            if size <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: one byte
            pos += 1
    return size > pos and not payload[pos] & 0x01  # P bit clear: a key frame


_H264_IDR, _H264_SPS, _H264_STAP_A, _H264_FU_A = 5, 7, 24, 28


def _h264_keyframe_start(payload: bytes) -> bool:
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (_H264_IDR, _H264_SPS):
        return True
    if nal == _H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            length = int.from_bytes(payload[pos:pos + 2], "big")
            if payload[pos + 2] & 0x1F in (_H264_IDR, _H264_SPS):
                return True
            pos += 2 + length
        return False
    if nal == _H264_FU_A:
        return len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F == _H264_IDR
    return False


def newer(a: int, b: int) -> bool:
    """Sequence number `a` comes after `b` (modulo 2^16)."""
    return 0 < ((a - b) & 0xFFFF) < _SEQ_HALF


class Rewriter:
    """One subscriber's view of a forwarded track: its own numbering, continuous.

    A mapping (sequence and timestamp offsets) is set at a start: the first packet after
    creation, a `restart()` (new publisher on the sender, resumed after a pause, new
    publisher SSRC), which for video must be a keyframe's first packet. The new offsets
    continue the subscriber's numbering: next sequence number, timestamp advanced by the
    wall-clock time since the last packet. Within a mapping, input gaps stay gaps (the
    subscriber NACKs them, retransmissions fill them) and late packets keep their place;
    packets from before the start are not forwarded.

    `insert()` numbers a packet the engine adds between forwarded ones (its own FEC: the
    input packets after it then go one number further); the offset in force for each input
    packet is kept (`_shifts`), so a retransmission or a late packet keeps its number.
    Shifts and the start are forgotten once MAX_LATE packets old, and compared as distances
    back from the highest input: valid however long the mapping (past the 16-bit wrap).
    """

    __slots__ = ("_base", "_highest", "_last_octets", "_last_time", "_last_ts", "_max_seq", "_seq_offset", "_shifts",
                 "_ts_offset", "clock_rate", "keyframes", "octets", "packets", "started")

    MAX_SHIFTS = 512  # insertions remembered (one per frame or so: ~25 s, NACKs come within ~1 s)

    MAX_LATE = 1000  # how far back (in packets) a late packet is still placed

    def __init__(self, clock_rate: int, keyframes: bool, *, first_seq: int = 0, first_ts: int = 0) -> None:
        self.clock_rate = clock_rate
        self.keyframes = keyframes  # video: wait for a keyframe at each start
        self.started = False
        self._seq_offset = 0
        self._ts_offset = 0
        self._base = 0  # input sequence number of the start
        self._highest = 0  # highest input sequence number of this mapping
        self._max_seq = (first_seq - 1) & 0xFFFF  # last output sequence number
        self._last_ts = first_ts
        self._last_time: float | None = None
        self.packets = 0  # forwarded with this numbering (sender reports): count()
        self.octets = 0
        self._last_octets = 0
        # (first input sequence number, offset) of each insertion in this mapping, oldest first;
        # inputs before the first use `_first_offset`.
        self._shifts: deque[tuple[int, int]] = deque(maxlen=self.MAX_SHIFTS)

    def count(self, octets: int) -> None:
        """One packet of `octets` payload bytes was forwarded (protected) with this numbering."""
        self.packets += 1
        self.octets += octets
        self._last_octets = octets

    def uncount(self) -> None:
        """The last counted packet could not be sent after all."""
        self.packets -= 1
        self.octets -= self._last_octets
        self._last_octets = 0

    def restart(self) -> None:
        """Start a new mapping at the next packet (video: at the next keyframe)."""
        self.started = False

    @property
    def waiting(self) -> bool:
        """No mapping, and the next one needs a keyframe."""
        return not self.started and self.keyframes

    def map(self, sequence: int, timestamp: int, keyframe: bool, now: float) -> tuple[int, int] | None:
        """Output (sequence, timestamp) of an input packet, or None if it must not be sent."""
        if not self.started:
            if self.keyframes and not keyframe:
                return None
            self._seq_offset = (self._max_seq + 1 - sequence) & 0xFFFF
            if self._last_time is None:
                self._ts_offset = (self._last_ts - timestamp) & 0xFFFFFFFF
            else:
                elapsed = max(1, int((now - self._last_time) * self.clock_rate))
                self._ts_offset = (self._last_ts + elapsed - timestamp) & 0xFFFFFFFF
            self._base = self._highest = sequence
            self._shifts.clear()
            self.started = True
        elif not self.keyframes:
            # Audio: numbered on without gaps, late packets dropped (no NACK for audio):
            # the subscriber's own loss figures are then its own hop's (Opus PLC and FEC
            # cover the publisher's), as with the frame-level path's packetizer.
            ahead = (sequence - self._highest) & 0xFFFF
            if not ahead or ahead >= _SEQ_HALF:
                return None
            self._highest = sequence
            self._seq_offset = (self._max_seq + 1 - sequence) & 0xFFFF
        else:
            ahead = (sequence - self._highest) & 0xFFFF
            if ahead and ahead < _SEQ_HALF:
                self._highest = sequence
                self._forget_old()
            else:  # late (or the latest again): placed if it is after the start and not too old
                if ahead:
                    behind = 0x10000 - ahead
                    since_start = (self._highest - self._base) & 0xFFFF
                    if behind > since_start or behind > self.MAX_LATE:
                        return None
                if self._shifts:
                    offset = self._offset_for(sequence)
                    if offset is None:
                        return None
                    return (sequence + offset) & 0xFFFF, (timestamp + self._ts_offset) & 0xFFFFFFFF
        out_seq = (sequence + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
        if newer(out_seq, self._max_seq):
            self._max_seq = out_seq
            self._last_ts, self._last_time = out_ts, now
        return out_seq, out_ts

    def insert(self) -> int:
        """The output sequence number of a packet added after the last one forwarded (only
        while started, with every input packet forwarded in order)."""
        self._max_seq = (self._max_seq + 1) & 0xFFFF
        self._seq_offset = (self._seq_offset + 1) & 0xFFFF
        if len(self._shifts) == self.MAX_SHIFTS:
            self._base = self._shifts[1][0]  # older inputs' numbers are forgotten: never placed again
        self._shifts.append(((self._highest + 1) & 0xFFFF, self._seq_offset))
        return self._max_seq

    def _forget_old(self) -> None:
        """Keep the start and the insertions within MAX_LATE of the highest input: what is
        older is never placed again, and a number further back than half the 16-bit space
        would read as ahead. Positions are then told apart by their distance back from
        `_highest` (`_back`), never by newer(), which flips every 32,768 packets."""
        back = self._back
        shifts = self._shifts
        while shifts and back(shifts[0][0]) > self.MAX_LATE:
            shifts.popleft()  # inputs from it to the next one: that offset, the next's less one
        if back(self._base) > self.MAX_LATE + 1:
            self._base = (self._highest - self.MAX_LATE) & 0xFFFF

    def _back(self, sequence: int) -> int:
        """How far `sequence` lies behind the input after the highest (where an insertion's
        shift starts): 0 for that one, 1 for the highest, 65,535 for the one after."""
        return (self._highest + 1 - sequence) & 0xFFFF

    def _offset_for(self, sequence: int) -> int | None:
        """The offset input `sequence` was (or is) numbered with, None if before the start."""
        behind = self._back(sequence)
        if behind > self._back(self._base):
            return None
        for first, offset in reversed(self._shifts):
            if self._back(first) >= behind:
                return offset
        return (self._shifts[0][1] - 1) & 0xFFFF if self._shifts else self._seq_offset

    def input_sequence(self, out_seq: int) -> int | None:
        """The input sequence number behind an output one (for NACKs), None if not mapped
        (or an inserted packet's)."""
        if not self.started:
            return None
        if not self._shifts:
            return (out_seq - self._seq_offset) & 0xFFFF
        since_start = self._back(self._base)
        for first, offset in reversed(self._shifts):
            sequence = (out_seq - offset) & 0xFFFF
            behind = self._back(sequence)
            if behind <= self._back(first):
                return sequence if behind <= since_start else None
            if (out_seq - offset + 1) & 0xFFFF == first:
                return None  # the inserted packet's own number
        sequence = (out_seq - self._shifts[0][1] + 1) & 0xFFFF
        return sequence if self._back(sequence) <= since_start else None

    def inserted(self, out_seq: int) -> bool:
        """Whether `out_seq` is the number of a packet `insert()` added (one remembered)."""
        return self.started and any((first + offset - 1) & 0xFFFF == out_seq for first, offset in self._shifts)

    def timestamp_at(self, now: float) -> int | None:
        """This subscriber's RTP timestamp for the wall-clock time `now` (None before any packet)."""
        if self._last_time is None:
            return None
        return (self._last_ts + int((now - self._last_time) * self.clock_rate)) & 0xFFFFFFFF

    def sent_sequence(self, sequence: int) -> int | None:
        """The output sequence number of an input one the subscriber's stream has passed
        (a hole in what it received), None otherwise."""
        if not self.started:
            return None
        offset = self._offset_for(sequence) if self._shifts else self._seq_offset
        if offset is None:
            return None
        out = (sequence + offset) & 0xFFFF
        return None if newer(out, self._max_seq) else out

    def holes(self, received: Callable[[int], bool], window: int) -> list[int]:
        """Output sequence numbers, oldest first, of this mapping's input packets (the last
        `window` of them) that `received` says never arrived: the gaps the subscriber sees.

        Filled (padding) before a restart: once the mapping ends, a repair could no longer
        be placed, and an unfilled gap would stay in the subscriber's loss figures as if
        its own link had lost the packet (the publisher's uplink loss, not its own).
        """
        if not self.started:
            return []
        span = min((self._highest - self._base) & 0xFFFF, window - 1)
        first = (self._highest - span) & 0xFFFF
        out = []
        for step in range(span):
            sequence = (first + step) & 0xFFFF
            if not received(sequence):
                offset = self._offset_for(sequence) if self._shifts else self._seq_offset
                if offset is not None:
                    out.append((sequence + offset) & 0xFFFF)
        return out

    @property
    def last_timestamp(self) -> int:
        return self._last_ts

    def output_timestamp(self, timestamp: int) -> int | None:
        """An input RTP timestamp in this subscriber's timeline (sender reports)."""
        return (timestamp + self._ts_offset) & 0xFFFFFFFF if self.started else None


def rewrite(view: RtpView, ssrc: int, payload_type: int, sequence: int, timestamp: int, extensions: bytes) -> bytes:
    """The packet as the subscriber receives it: new header, no CSRC, no padding."""
    header = rewritten_header(view.marker, payload_type, sequence, timestamp, ssrc, bool(extensions))
    return b"".join((header, extensions, payload_of(view)))


def rewritten_header(marker: int, payload_type: int, sequence: int, timestamp: int, ssrc: int,
                     extensions: bool) -> bytes:
    """`rewrite`'s fixed header alone: the packet path copies header, extensions and
    payload straight into the SRTP buffer (srtp_direct) instead of joining them first."""
    return _HEADER.pack(0x90 if extensions else 0x80, (marker << 7) | payload_type, sequence, timestamp, ssrc)


def payload_of(view: RtpView) -> memoryview:
    """The payload without a copy."""
    return memoryview(view.data)[view.start:view.end]


def rtx_packet(view: RtpView, ssrc: int, payload_type: int, sequence: int, timestamp: int, original: int,
               extensions: bytes) -> bytes:
    """A retransmission in RTX form (RFC 4588): own SSRC and numbering, the original number first."""
    first = 0x90 if extensions else 0x80
    header = _HEADER.pack(first, (view.marker << 7) | payload_type, sequence, timestamp, ssrc)
    return b"".join((header, extensions, original.to_bytes(2, "big"), memoryview(view.data)[view.start:view.end]))


def padding_packet(ssrc: int, payload_type: int, sequence: int, timestamp: int, extensions: bytes) -> bytes:
    """A packet with no media, only padding: it fills a sequence number (RFC 3550 §5.1)."""
    first = 0xB0 if extensions else 0xA0
    return _HEADER.pack(first, payload_type, sequence, timestamp, ssrc) + extensions + b"\x00\x00\x00\x04"


def unwrap_rtx(view: RtpView, ssrc: int, payload_type: int) -> RtpView | None:
    """The original packet inside an RTX retransmission (RFC 4588), None for padding only."""
    if view.end - view.start < 2:
        return None  # bandwidth probing: no media
    data = view.data
    original = int.from_bytes(data[view.start:view.start + 2], "big")
    return RtpView(data, view.marker, payload_type, original, view.timestamp, ssrc, view._extensions,
                   view.start + 2, view.end)


class History:
    """The last `size` packets of a track by sequence number, for NACKs."""

    __slots__ = ("_slots", "size")

    def __init__(self, size: int = 256) -> None:  # ~2.5 s of 0.8 Mbit/s video: NACKs come within an RTT
        self.size = size
        self._slots: list[RtpView | None] = [None] * size

    def add(self, view: RtpView) -> None:
        self._slots[view.sequence % self.size] = view

    def get(self, sequence: int) -> RtpView | None:
        view = self._slots[sequence % self.size]
        return view if view is not None and view.sequence == sequence else None

    def state(self, sequence: int) -> int:
        """-1: not held; 1: held, a keyframe start; 0: held."""
        view = self._slots[sequence % self.size]
        if view is None or view.sequence != sequence:
            return -1
        return 1 if view.keyframe else 0


class ReceiveStats:
    """What arrived of one publisher stream: receiver-report figures and missing packets."""

    __slots__ = ("_base", "_cycles", "_expected_prior", "_max", "_received_prior", "missing", "received")

    MAX_MISSING = 300  # a longer gap is a restart or an outage: not worth NACKing

    def __init__(self) -> None:
        self._base: int | None = None
        self._max = 0
        self._cycles = 0
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self.missing: set[int] = set()

    def add(self, sequence: int) -> int:
        """Count a packet of the media stream (not a retransmission); returns how many packets
        it revealed as missing."""
        self.received += 1
        if self._base is None:
            self._base = self._max = sequence
            return 0
        ahead = (sequence - self._max) & 0xFFFF
        if ahead == 0:
            return 0
        if ahead < _SEQ_HALF:
            if sequence < self._max:
                self._cycles += 0x10000
            gap = ahead - 1
            self._max = sequence
            if 0 < gap <= self.MAX_MISSING:
                self.missing.update((sequence - i) & 0xFFFF for i in range(1, gap + 1))
                if len(self.missing) > self.MAX_MISSING:
                    self.missing = {s for s in self.missing if (sequence - s) & 0xFFFF <= self.MAX_MISSING}
                return gap
            return 0
        self.missing.discard(sequence)  # late or retransmitted
        return 0

    @property
    def highest(self) -> int:
        """Extended highest sequence number received."""
        return self._cycles + self._max

    def report(self) -> tuple[int, int]:
        """(fraction lost since the last report, 0-255; cumulative packets lost)."""
        if self._base is None:
            return 0, 0
        expected = self.highest - self._base + 1
        lost = max(0, expected - self.received)
        interval_expected = expected - self._expected_prior
        interval_lost = interval_expected - (self.received - self._received_prior)
        self._expected_prior, self._received_prior = expected, self.received
        fraction = (interval_lost << 8) // interval_expected if interval_expected > 0 and interval_lost > 0 else 0
        return min(fraction, 255), min(lost, 0x7FFFFF)


def rtcp_nack(sender_ssrc: int, media_ssrc: int, lost: Iterable[int]) -> bytes:
    """RTCP generic NACK (RFC 4585 §6.2.1) for these sequence numbers."""
    fci = bytearray()
    pending = sorted(lost)
    while pending:
        pid = pending.pop(0)
        mask = 0
        while pending and 0 < (pending[0] - pid) & 0xFFFF <= 16:
            mask |= 1 << (((pending.pop(0) - pid) & 0xFFFF) - 1)
        fci += struct.pack("!HH", pid, mask)
    return _rtcp_feedback(205, 1, sender_ssrc, media_ssrc, bytes(fci))


def rtcp_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    return _rtcp_feedback(206, 1, sender_ssrc, media_ssrc, b"")


def rtcp_remb(sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> bytes:
    """REMB (draft-alvestrand-rmcat-remb): an upper bound on the publisher's bitrate."""
    exponent = 0
    mantissa = max(0, bitrate)
    while mantissa >= 1 << 18:
        mantissa >>= 1
        exponent += 1
    fci = b"REMB" + bytes((len(ssrcs), (exponent << 2) | (mantissa >> 16))) + (mantissa & 0xFFFF).to_bytes(2, "big")
    fci += b"".join(s.to_bytes(4, "big") for s in ssrcs)
    return _rtcp_feedback(206, 15, sender_ssrc, 0, fci)


def rtcp_rr(sender_ssrc: int, reports: list[tuple[int, int, int, int, int, int]]) -> bytes:
    """Receiver report; each report is (ssrc, fraction, lost, highest, lsr, dlsr), jitter 0."""
    body = b"".join(
        struct.pack("!IBBHIIII", ssrc, fraction, (lost >> 16) & 0xFF, lost & 0xFFFF, highest & 0xFFFFFFFF, 0, lsr, dlsr)
        for ssrc, fraction, lost, highest, lsr, dlsr in reports
    )
    return struct.pack("!BBHI", 0x80 | len(reports), 201, 1 + len(body) // 4, sender_ssrc) + body


def _rtcp_feedback(packet_type: int, fmt: int, sender_ssrc: int, media_ssrc: int, fci: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80 | fmt, packet_type, 2 + len(fci) // 4, sender_ssrc, media_ssrc) + fci


# --- transport-wide congestion control feedback ------------------------------------------

_TCC_DELTA_US = 250
_TCC_REFERENCE_US = 64_000
_TCC_MAX_PACKETS = 4000  # per feedback; more (a long gap) starts a new run


class TransportFeedback:
    """Arrivals of one connection's transport-wide sequence numbers, reported in feedback.

    `add()` per received packet (cheap: a dict store); `build()` every feedback interval
    returns the RTCP packets covering everything since the previous feedback.
    """

    __slots__ = ("_arrivals", "_count", "_cycles", "_last", "_next", "media_ssrc", "sender_ssrc")

    def __init__(self, sender_ssrc: int) -> None:
        self.sender_ssrc = sender_ssrc
        self.media_ssrc = 0
        self._arrivals: dict[int, int] = {}  # unwrapped sequence -> arrival (µs)
        self._next: int | None = None  # first unwrapped sequence not yet reported
        self._last = 0  # last received, unwrapped
        self._cycles = 0
        self._count = 0  # feedback packet count (8 bits)

    def add(self, sequence: int, arrival_us: int, media_ssrc: int) -> None:
        self.media_ssrc = media_ssrc
        last = self._last
        unwrapped = self._cycles | sequence
        if self._next is None:
            self._next = unwrapped
        else:
            # Place it within half a cycle of the last one.
            if unwrapped - last > _SEQ_HALF:
                unwrapped -= 0x10000
            elif last - unwrapped > _SEQ_HALF:
                unwrapped += 0x10000
            if unwrapped < self._next:
                return  # already reported as lost: a late arrival libwebrtc also ignores
        if unwrapped > last or not self._arrivals:
            self._last = unwrapped
            self._cycles = unwrapped & ~0xFFFF
        self._arrivals.setdefault(unwrapped, arrival_us)

    def build(self) -> list[bytes]:
        """Feedback for everything received since the last call (empty if nothing new)."""
        packets: list[bytes] = []
        arrivals = self._arrivals
        while arrivals and self._next is not None:
            first = self._next
            end = min(self._last + 1, first + _TCC_MAX_PACKETS)
            received = sorted(s for s in arrivals if s < end)
            if not received:
                self._next = end
                continue
            packets.append(self._packet(first, end, received))
            for seq in received:
                del arrivals[seq]
            self._next = end
        return packets

    def _packet(self, first: int, end: int, received: list[int]) -> bytes:
        arrivals = self._arrivals
        reference = (arrivals[received[0]] // _TCC_REFERENCE_US)
        previous = reference * _TCC_REFERENCE_US
        symbols = [0] * (end - first)
        deltas = bytearray()
        for seq in received:
            delta = (arrivals[seq] - previous) // _TCC_DELTA_US
            if 0 <= delta <= 0xFF:
                symbols[seq - first] = 1
                deltas.append(delta)
            else:
                delta = max(-0x8000, min(0x7FFF, delta))
                symbols[seq - first] = 2
                deltas += delta.to_bytes(2, "big", signed=True)
            previous += delta * _TCC_DELTA_US
        body = bytearray(struct.pack("!HHI", first & 0xFFFF, end - first,
                                     ((reference & 0xFFFFFF) << 8) | (self._count & 0xFF)))
        self._count += 1
        body += _status_chunks(symbols)
        body += deltas
        padding = -len(body) % 4
        first_byte = 0x80 | 15
        if padding:
            body += b"\x00" * (padding - 1) + bytes((padding,))
            first_byte |= 0x20
        return struct.pack("!BBHII", first_byte, 205, 2 + len(body) // 4, self.sender_ssrc, self.media_ssrc) + body


def _status_chunks(symbols: list[int]) -> bytes:
    """Run-length chunks for runs of 7 or more, two-bit vectors of 7 symbols otherwise."""
    out = bytearray()
    i, count = 0, len(symbols)
    while i < count:
        run = 1
        while i + run < count and symbols[i + run] == symbols[i] and run < 0x1FFF:
            run += 1
        if run >= 7:
            out += ((symbols[i] << 13) | run).to_bytes(2, "big")
            i += run
            continue
        chunk = 0xC000
        for k, symbol in enumerate(symbols[i:i + 7]):
            chunk |= symbol << (12 - 2 * k)
        out += chunk.to_bytes(2, "big")
        i += 7
    return bytes(out)


@dataclass(frozen=True)
class FeedbackReport:
    """A parsed transport-cc feedback: base sequence, reference time and per-packet arrivals."""

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    count: int
    reference_us: int
    feedback_count: int
    arrivals: dict[int, int | None]  # sequence -> arrival in µs (None: not received)


def parse_transport_feedback(data: bytes) -> FeedbackReport:
    """Read one RTCP transport-cc feedback packet; MalformedPacket if it is not one."""
    if len(data) < 20:
        raise MalformedPacket("transport-cc feedback too short")
    first, packet_type, length = struct.unpack_from("!BBH", data)
    if first >> 6 != 2 or first & 0x1F != 15 or packet_type != 205:
        raise MalformedPacket("not a transport-cc feedback")
    size = 4 * (length + 1)
    if size > len(data):
        raise MalformedPacket("transport-cc feedback truncated")
    if first & 0x20:
        padding = data[size - 1]
        if padding == 0 or padding > size - 20:
            raise MalformedPacket("bad RTCP padding")
        size -= padding
    sender, media, base, count, packed = struct.unpack_from("!IIHHI", data, 4)
    reference = packed >> 8
    if reference & 0x800000:
        reference -= 0x1000000
    pos = 20
    symbols: list[int] = []
    while len(symbols) < count:
        if pos + 2 > size:
            raise MalformedPacket("transport-cc status chunks truncated")
        chunk = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 0x3] * (chunk & 0x1FFF)
        elif chunk & 0x4000:
            symbols += [(chunk >> (12 - 2 * k)) & 0x3 for k in range(7)]
        else:
            symbols += [(chunk >> (13 - k)) & 0x1 for k in range(14)]
    arrivals: dict[int, int | None] = {}
    time_us = reference * _TCC_REFERENCE_US
    for k, symbol in enumerate(symbols[:count]):
        seq = (base + k) & 0xFFFF
        if symbol == 0:
            arrivals[seq] = None
            continue
        if symbol == 1:
            if pos + 1 > size:
                raise MalformedPacket("transport-cc deltas truncated")
            delta = data[pos]
            pos += 1
        elif symbol == 2:
            if pos + 2 > size:
                raise MalformedPacket("transport-cc deltas truncated")
            delta = int.from_bytes(data[pos:pos + 2], "big", signed=True)
            pos += 2
        else:
            raise MalformedPacket("reserved transport-cc status symbol")
        time_us += delta * _TCC_DELTA_US
        arrivals[seq] = time_us
    return FeedbackReport(sender, media, base, count, reference * _TCC_REFERENCE_US, packed & 0xFF, arrivals)


def parse_sender_report(data: bytes) -> tuple[int, int, int] | None:
    """(ssrc, NTP time, RTP timestamp) of the first sender report in a compound RTCP packet."""
    pos = 0
    while pos + 4 <= len(data):
        first, packet_type, length = struct.unpack_from("!BBH", data, pos)
        if first >> 6 != 2:
            return None
        if packet_type == 200 and pos + 20 <= len(data):
            ssrc, ntp, rtp_ts = struct.unpack_from("!IQI", data, pos + 4)
            return ssrc, ntp, rtp_ts
        pos += 4 * (length + 1)
    return None
