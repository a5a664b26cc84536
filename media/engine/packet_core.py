"""The packet path's per-packet work, in Python (the reference) or compiled (packet_core.c).

Per forwarded packet a forward rewrites the header for its subscriber (SSRC, payload type,
sequence number, timestamp), maps the header extensions to the subscriber's ids (mid and
abs-send-time written) and protects the packet with the subscriber's SRTP context; per
received packet, the publisher's SRTP is removed. A video publication keeps its last
packets in a history, and each subscriber's numbering (sequence numbers and timestamps,
continuous across switches and losses) decides what it is sent. Both implementations do
exactly this, with the same results (tests/media/engine/test_packet_core.py and
test_packets.py run both on the same cases):

- `PYTHON`: packets.py (`ExtensionMapper.block`, `rewritten_header`, `History`, `Rewriter`),
  srtp_direct.py and remb.py (`LightBitrateEstimator`);
- `COMPILED`: one C call per forwarded packet (`gv_forward_packet`: rewrite, map, protect;
  with the numbering, `gv_forward_mapped`, or from the history, `gv_ring_forward`), the
  history a C ring of the raw packets (`gv_ring`: no Python object per packet kept), the
  numbering a C struct under `Rewriter`'s own methods, one call per received packet to
  read it (`gv_inspect`) and one to unprotect it (`gv_unprotect`); the REMB estimator's
  packet groups, Kalman filter and overuse detector in C (`gv_remb_add`: Python runs per
  update, twice a second, not per packet or per frame); built by
  `./dev` (packet_core_build.py); libsrtp is the copy inside pylibsrtp, called through its
  function addresses (the sessions aiortc made belong to that copy).

`ACTIVE` is the compiled one when it was built and loads, else the Python one (logged);
GV_PACKET_CORE=python selects the reference on purpose.
"""

from __future__ import annotations

import importlib
import logging
import os
import struct
from collections.abc import Callable
from typing import Any, Protocol

import pylibsrtp
from aiortc import rate
from aiortc.rate import BandwidthUsage

from . import packet_core_build, remb, srtp_direct
from .packets import (
    ExtensionMapper,
    History,
    MalformedPacket,
    Rewriter,
    RtpView,
    is_keyframe_start,
    parse_rtp,
    payload_of,
    rewritten_header,
)
from .remb import LightBitrateEstimator

logger = logging.getLogger(__name__)

Payload = bytes | memoryview
# A received packet read once: (its view, keyframe set; transport-wide sequence number or -1;
# abs-send-time or -1). MalformedPacket for what parse_rtp refuses.
Inspect = Callable[[bytes], tuple[RtpView, int, int]]


class Forwarder(Protocol):
    """One subscriber's rewrite-and-protect (pylibsrtp.Error when libsrtp refuses)."""

    core: str  # the Core's name

    def forward(self, view: RtpView, payload_type: int, sequence: int, timestamp: int, ntp: int,
                payload: Payload | None = None) -> bytes:
        """`view` as this subscriber receives it, protected (`payload`: in place of the view's)."""
        ...

    def protect(self, header: bytes, extensions: bytes, payload: Payload) -> bytes:
        """A packet made here (RTX, padding), protected."""
        ...

    def set_playout_delay(self, min_ms: int) -> bool:
        """Every packet from now on asks the subscriber for this minimum playout delay
        (ExtensionMapper.set_playout_delay); False if it did not negotiate the extension."""
        ...

    def forward_mapped(self, numbering: Rewriter, view: RtpView, payload_type: int, now: float, ntp: int,
                       payload: Payload | None = None) -> bytes | None:
        """`view` numbered by the subscriber's `numbering` (counted there), then forward(); None
        if the numbering does not send it."""
        ...

    def forward_stored(self, numbering: Rewriter, history: History, sequence: int, payload_type: int, now: float,
                       ntp: int) -> bytes | None:
        """forward_mapped() of the packet `history` holds as `sequence` (None: not held, or not sent)."""
        ...


class Core(Protocol):
    name: str

    def history(self, size: int = 256) -> History:
        """A publication's packet history (the compiled one keeps the raw packets in C)."""
        ...

    def numbering(self, clock_rate: int, keyframes: bool, first_seq: int, first_ts: int) -> Rewriter:
        """A subscriber's numbering (packets.Rewriter; the compiled one keeps its state in C)."""
        ...

    def unprotector(self, session: pylibsrtp.Session) -> Any:
        """`unprotect(data) -> bytes` for one receiving session (pylibsrtp.Error if refused)."""
        ...

    def forwarder(self, session: pylibsrtp.Session | None, mapper: ExtensionMapper, ssrc: int) -> Forwarder: ...

    def inspector(self, tcc_id: int | None, abs_id: int | None, codec: str) -> Inspect:
        """The publication's per-packet reading: parse, its transport-wide sequence number and
        abs-send-time (by the publisher's ids; only 2- and 3-byte values count), keyframe start
        (`codec` as is_keyframe_start takes it)."""
        ...

    def estimator(self, **settings: Any) -> LightBitrateEstimator:
        """A video receiver's server-side REMB estimator (remb.py; the compiled one runs its
        packet groups, filter and detector in C)."""
        ...


class _PythonForwarder:
    __slots__ = ("_mapper", "_protect", "_ssrc")
    core = "python"

    def __init__(self, session: pylibsrtp.Session | None, mapper: ExtensionMapper, ssrc: int) -> None:
        self._mapper = mapper
        self._ssrc = ssrc
        self._protect: Any = srtp_direct.Protector(session).protect if session is not None else _join

    def forward(self, view: RtpView, payload_type: int, sequence: int, timestamp: int, ntp: int,
                payload: Payload | None = None) -> bytes:
        extensions = self._mapper.block(view.extensions, ntp)
        header = rewritten_header(view.marker, payload_type, sequence, timestamp, self._ssrc, bool(extensions))
        result: bytes = self._protect(header, extensions, payload_of(view) if payload is None else payload)
        return result

    def protect(self, header: bytes, extensions: bytes, payload: Payload) -> bytes:
        result: bytes = self._protect(header, extensions, payload)
        return result

    def set_playout_delay(self, min_ms: int) -> bool:
        return self._mapper.set_playout_delay(min_ms)

    def forward_mapped(self, numbering: Rewriter, view: RtpView, payload_type: int, now: float, ntp: int,
                       payload: Payload | None = None) -> bytes | None:
        return _forward_mapped(self, numbering, view, payload_type, now, ntp, payload)

    def forward_stored(self, numbering: Rewriter, history: History, sequence: int, payload_type: int, now: float,
                       ntp: int) -> bytes | None:
        view = history.get(sequence)
        return None if view is None else _forward_mapped(self, numbering, view, payload_type, now, ntp, None)


def _forward_mapped(forwarder: Forwarder, numbering: Rewriter, view: RtpView, payload_type: int, now: float,
                    ntp: int, payload: Payload | None) -> bytes | None:
    """The reference: Rewriter.map, forward, count."""
    mapped = numbering.map(view.sequence, view.timestamp, view.keyframe, now)
    if mapped is None:
        return None
    data = forwarder.forward(view, payload_type, mapped[0], mapped[1], ntp, payload)
    numbering.count(view.end - view.start if payload is None else len(payload))
    return data


def _join(header: bytes, extensions: bytes, payload: Payload) -> bytes:
    return b"".join((header, extensions, payload))


def _python_inspector(tcc_id: int | None, abs_id: int | None, codec: str) -> Inspect:
    def inspect(data: bytes) -> tuple[RtpView, int, int]:
        view = parse_rtp(data)
        view.keyframe = is_keyframe_start(codec, view.payload)
        tcc = view.extension(tcc_id) if tcc_id else None
        abs_time = view.extension(abs_id) if abs_id else None
        return (view, int.from_bytes(tcc) if tcc is not None and len(tcc) == 2 else -1,
                int.from_bytes(abs_time) if abs_time is not None and len(abs_time) == 3 else -1)

    return inspect


class _Python:
    name = "python"
    inspector = staticmethod(_python_inspector)

    @staticmethod
    def estimator(**settings: Any) -> LightBitrateEstimator:
        return LightBitrateEstimator(**settings)

    @staticmethod
    def history(size: int = 256) -> History:
        return History(size)

    @staticmethod
    def numbering(clock_rate: int, keyframes: bool, first_seq: int, first_ts: int) -> Rewriter:
        return Rewriter(clock_rate, keyframes, first_seq=first_seq, first_ts=first_ts)

    @staticmethod
    def unprotector(session: pylibsrtp.Session) -> Any:
        return srtp_direct.Unprotector(session).unprotect

    @staticmethod
    def forwarder(session: pylibsrtp.Session | None, mapper: ExtensionMapper, ssrc: int) -> Forwarder:
        return _PythonForwarder(session, mapper, ssrc)


PYTHON: Core = _Python()


def _load() -> Any:
    """The compiled module, if built from the sources here and complete; None (logged) otherwise."""
    try:
        module = importlib.import_module("media.engine._packet_core")
    except ImportError:
        return None  # not built: _choose() says so
    except Exception:  # a broken build must never stop the engine
        logger.warning("packet path: the compiled core does not load", exc_info=True)
        return None
    try:
        current = getattr(module.lib, "GV_SOURCE_ID", None) == packet_core_build.source_id()
    except OSError:
        current = False
    if not current:
        logger.warning("packet path: the compiled core was built from other sources (run ./dev to rebuild it)")
        return None
    return module


_compiled = _load()
if _compiled is not None:
    _NOT_MAPPED, _ABSENT, _NO_MEMORY = _compiled.lib.GV_NOT_MAPPED, _compiled.lib.GV_ABSENT, _compiled.lib.GV_NO_MEMORY


def _address(cdata: Any) -> int:
    """The address behind one of pylibsrtp's cdata pointers (another FFI's object)."""
    return int(srtp_direct.ffi.cast("uintptr_t", cdata))


class _CompiledForwarder:
    __slots__ = ("_buffer", "_call", "_forward", "_from_buffer", "_generic", "_mapped", "_mapper", "_null", "_python",
                 "_session", "_stored", "_unpack")
    core = "compiled"

    def __init__(self, session: pylibsrtp.Session | None, mapper: ExtensionMapper, ssrc: int) -> None:
        ffi, lib = _compiled.ffi, _compiled.lib
        self._python = _PythonForwarder(session, mapper, ssrc)  # the generic (two-byte) extension form
        self._mapper = mapper
        forward = self._forward = ffi.new("gv_forward *")
        self._session = session  # keeps the srtp_t alive
        if session is not None:
            forward.protect = ffi.cast("gv_srtp_fn", _address(srtp_direct.ffi.addressof(srtp_direct.lib,
                                                                                          "srtp_protect")))
            forward.srtp = ffi.cast("void *", _address(session._srtp[0]))
        forward.ssrc = ssrc
        heads = mapper.one_byte_ids()
        self._generic = heads is None
        if heads is not None:
            copy, mid_id, mid, abs_id = heads
            for publisher_id, subscriber_id in copy.items():
                forward.map[publisher_id] = subscriber_id
            if mid_id is not None and mid:
                forward.mid_id, forward.mid_length = mid_id, len(mid)
                forward.mid[0:len(mid)] = list(mid)
            forward.abs_id = abs_id or 0
            self._copy_playout()
        self._buffer = ffi.new("char[]", lib.GV_MAX_PACKET + lib.GV_TRAILER)
        # Looked up once: per packet, the attribute lookups cost more than the C they call.
        self._call, self._unpack, self._null, self._from_buffer = (lib.gv_forward_packet, ffi.unpack, ffi.NULL,
                                                                   ffi.from_buffer)
        self._mapped, self._stored = lib.gv_forward_mapped, lib.gv_ring_forward

    def forward(self, view: RtpView, payload_type: int, sequence: int, timestamp: int, ntp: int,
                payload: Payload | None = None) -> bytes:
        if self._generic:
            return self._python.forward(view, payload_type, sequence, timestamp, ntp, payload)
        data = view.data
        if payload is None:
            size = self._call(self._forward, self._buffer, data, len(data), view.marker, payload_type, sequence,
                              timestamp, ntp, view.start, view.end, self._null, 0)
        else:
            size = self._call(self._forward, self._buffer, data, len(data), view.marker, payload_type, sequence,
                              timestamp, ntp, view.start, view.end, self._from_buffer(payload), len(payload))
        if size < 0:
            return self._failed(size, view, payload_type, sequence, timestamp, ntp, payload)
        result: bytes = self._unpack(self._buffer, size)
        return result

    def _failed(self, size: int, view: RtpView, payload_type: int, sequence: int, timestamp: int, ntp: int,
                payload: Payload | None) -> bytes:
        lib = _compiled.lib
        if size == lib.GV_FALLBACK:
            return self._python.forward(view, payload_type, sequence, timestamp, ntp, payload)
        if size == lib.GV_TOO_LONG:
            raise ValueError("packet is too long")
        if size == lib.GV_MALFORMED:
            raise ValueError("malformed RTP packet")  # parse_rtp accepted it: never expected
        srtp_direct.raise_error(-size - 1000)
        raise AssertionError  # pragma: no cover - raise_error raises

    def set_playout_delay(self, min_ms: int) -> bool:
        if not self._mapper.set_playout_delay(min_ms):
            return False
        self._copy_playout()
        return True

    def _copy_playout(self) -> None:
        element = self._mapper.playout_element  # b"" in the generic form: Python writes it there
        self._forward.playout[0:len(element)] = list(element)
        self._forward.playout_length = len(element)

    def protect(self, header: bytes, extensions: bytes, payload: Payload) -> bytes:
        ffi = _compiled.ffi
        size = _compiled.lib.gv_protect_parts(self._forward, self._buffer, header, len(header), extensions,
                                              len(extensions), ffi.from_buffer(payload), len(payload))
        if size == _compiled.lib.GV_TOO_LONG:
            raise ValueError("packet is too long")
        if size < 0:
            srtp_direct.raise_error(-size - 1000)
        result: bytes = self._unpack(self._buffer, size)
        return result


    def forward_mapped(self, numbering: Rewriter, view: RtpView, payload_type: int, now: float, ntp: int,
                       payload: Payload | None = None) -> bytes | None:
        if self._generic or not isinstance(numbering, _CompiledNumbering):
            return _forward_mapped(self, numbering, view, payload_type, now, ntp, payload)
        data = view.data
        mapped = numbering._out
        if payload is None:
            size = self._mapped(self._forward, numbering._n, self._buffer, data, len(data), view.marker, payload_type,
                                view.sequence, view.timestamp, view.keyframe, now, ntp, view.start, view.end,
                                self._null, 0, mapped)
        else:
            size = self._mapped(self._forward, numbering._n, self._buffer, data, len(data), view.marker, payload_type,
                                view.sequence, view.timestamp, view.keyframe, now, ntp, view.start, view.end,
                                self._from_buffer(payload), len(payload), mapped)
        if size >= 0:
            result: bytes = self._unpack(self._buffer, size)
            return result
        if size == _NOT_MAPPED:
            return None
        data_out = self._failed(size, view, payload_type, mapped[0], mapped[1], ntp, payload)
        numbering.count(view.end - view.start if payload is None else len(payload))  # the fallback's
        return data_out

    def forward_stored(self, numbering: Rewriter, history: History, sequence: int, payload_type: int, now: float,
                       ntp: int) -> bytes | None:
        if self._generic or not isinstance(numbering, _CompiledNumbering) or not isinstance(history, _CompiledHistory):
            view = history.get(sequence)
            return None if view is None else _forward_mapped(self, numbering, view, payload_type, now, ntp, None)
        mapped = numbering._out
        size = self._stored(history._ring, sequence, self._forward, numbering._n, self._buffer, payload_type, now,
                            ntp, mapped)
        if size >= 0:
            result: bytes = self._unpack(self._buffer, size)
            return result
        if size in (_NOT_MAPPED, _ABSENT):
            return None
        view = history.get(sequence)
        assert view is not None
        data_out = self._failed(size, view, payload_type, mapped[0], mapped[1], ntp, None)
        numbering.count(view.end - view.start)  # the fallback's
        return data_out


class _CompiledUnprotector:
    __slots__ = ("_buffer", "_call", "_session", "_srtp", "_unpack", "_unprotect")

    def __init__(self, session: pylibsrtp.Session) -> None:
        ffi = _compiled.ffi
        self._session = session  # keeps the srtp_t alive
        self._srtp = ffi.cast("void *", _address(session._srtp[0]))
        self._unprotect = ffi.cast("gv_srtp_fn", _address(srtp_direct.ffi.addressof(srtp_direct.lib,
                                                                                     "srtp_unprotect")))
        self._buffer = ffi.new("char[]", _compiled.lib.GV_MAX_PACKET + _compiled.lib.GV_TRAILER)
        self._call, self._unpack = _compiled.lib.gv_unprotect, ffi.unpack

    def unprotect(self, data: bytes) -> bytes:
        size = self._call(self._unprotect, self._srtp, self._buffer, data, len(data))
        if size < 0:
            if size == _compiled.lib.GV_TOO_LONG:
                raise ValueError("packet is too long")
            srtp_direct.raise_error(-size - 1000)
        result: bytes = self._unpack(self._buffer, size)
        return result


_FIELDS = struct.Struct("=10I")  # gv_inspect's out[GV_FIELDS]
_CODECS = {"vp8": 1, "h264": 2, "vp9": 3, "av1": 3}  # GV_VP8, GV_H264, GV_OTHER; the rest GV_AUDIO (0)


class _CompiledInspector:
    """gv_inspect: parse, extension values and keyframe start in one C call; the fields come
    back through one struct unpack (a cffi field read each would cost more than the C)."""

    __slots__ = ("_abs", "_call", "_codec", "_fields", "_none", "_out", "_tcc", "_unpack")

    def __init__(self, tcc_id: int | None, abs_id: int | None, codec: str) -> None:
        ffi, lib = _compiled.ffi, _compiled.lib
        self._out = ffi.new("uint32_t[]", lib.GV_FIELDS)
        self._fields = ffi.buffer(self._out)
        self._unpack = _FIELDS.unpack_from
        self._call = lib.gv_inspect
        self._tcc, self._abs, self._codec = tcc_id or 0, abs_id or 0, _CODECS.get(codec, 0)
        self._none = lib.GV_NONE

    def inspect(self, data: bytes) -> tuple[RtpView, int, int]:
        if self._call(data, len(data), self._tcc, self._abs, self._codec, self._out):
            raise MalformedPacket("malformed RTP packet")
        marker, pt, sequence, timestamp, ssrc, start, end, tcc, abs_time, keyframe = self._unpack(self._fields)
        view = RtpView(data, marker, pt, sequence, timestamp, ssrc, None, start, end)
        view.keyframe = keyframe == 1
        none = self._none
        return view, -1 if tcc == none else tcc, -1 if abs_time == none else abs_time


def _struct_field(name: str, kind: type = int) -> Any:
    """A Rewriter attribute kept in the C struct (the inherited methods read and write it there)."""
    return property(lambda self: kind(getattr(self._n, name)), lambda self, value: setattr(self._n, name, value))


def _optional_struct_field(name: str, flag: str, kind: type = int) -> Any:
    """An attribute that may be None, kept in the C struct as a value and a `flag` saying it is set."""

    def get(self: Any) -> Any:
        return kind(getattr(self._n, name)) if getattr(self._n, flag) else None

    def set_(self: Any, value: Any) -> None:
        setattr(self._n, flag, value is not None)
        setattr(self._n, name, kind() if value is None else value)

    return property(get, set_)


class _CompiledNumbering(Rewriter):
    """packets.Rewriter with its state in a C gv_numbering: map() is gv_map, and a forward with
    it is one C call (gv_forward_mapped, gv_ring_forward); the rest (restarts, NACK lookups,
    holes, sender reports) is Rewriter's own code, reading the struct."""

    __slots__ = ("_map", "_n", "_out")

    def __init__(self, clock_rate: int, keyframes: bool, *, first_seq: int = 0, first_ts: int = 0) -> None:
        ffi = _compiled.ffi
        self._n = ffi.new("gv_numbering *")
        self._out = ffi.new("uint32_t[2]")
        self._map = _compiled.lib.gv_map
        super().__init__(clock_rate, keyframes, first_seq=first_seq, first_ts=first_ts)

    clock_rate = _struct_field("clock_rate")
    keyframes = _struct_field("keyframes", bool)
    started = _struct_field("started", bool)
    _seq_offset = _struct_field("seq_offset")
    _ts_offset = _struct_field("ts_offset")
    _base = _struct_field("base")
    _highest = _struct_field("highest")
    _max_seq = _struct_field("max_seq")
    _last_ts = _struct_field("last_ts")
    packets = _struct_field("packets")
    octets = _struct_field("octets")
    _last_octets = _struct_field("last_octets")

    _last_time = _optional_struct_field("last_time", "has_time", float)

    def map(self, sequence: int, timestamp: int, keyframe: bool, now: float) -> tuple[int, int] | None:
        out = self._map(self._n, sequence, timestamp, keyframe, now, self._out)
        return None if out < 0 else (out, self._out[0])


class _CompiledHistory(History):
    """packets.History as a C ring (gv_ring): the raw packets and their parsed fields, no
    Python object per packet; get() makes an RtpView (NACK answers, replays: the slow path)."""

    __slots__ = ("_get", "_put", "_ring", "_state")

    def __init__(self, size: int = 256) -> None:
        ffi, lib = _compiled.ffi, _compiled.lib
        ring = lib.gv_ring_new(size)
        if ring == ffi.NULL:
            raise MemoryError("packet history")
        self._ring = ffi.gc(ring, lib.gv_ring_free)
        self.size = size
        self._put, self._get, self._state = lib.gv_ring_put, lib.gv_ring_get, lib.gv_ring_state

    def add(self, view: RtpView) -> None:
        data = view.data
        if self._put(self._ring, data, len(data), view.marker, view.payload_type, view.sequence, view.timestamp,
                     view.ssrc, view.start, view.end, view.keyframe) == _NO_MEMORY:
            raise MemoryError("packet history")
        # Refused (longer than GV_MAX_PACKET, which no unprotected packet is): not held.

    def get(self, sequence: int) -> RtpView | None:
        slot = self._get(self._ring, sequence)
        if slot == _compiled.ffi.NULL:
            return None
        view = RtpView(_compiled.ffi.buffer(slot.data, slot.size)[:], slot.marker, slot.payload_type, slot.sequence,
                       slot.timestamp, slot.ssrc, None, slot.start, slot.end)
        view.keyframe = bool(slot.keyframe)
        return view

    def state(self, sequence: int) -> int:
        state: int = self._state(self._ring, sequence)
        return -1 if state < 0 else state


class _CompiledDetector:
    """The overuse detector's state as the rate control reads it (aiortc's OveruseDetector.state)."""

    __slots__ = ("_n",)

    def __init__(self, n: Any) -> None:
        self._n = n

    def state(self) -> BandwidthUsage:
        return BandwidthUsage(self._n.hypothesis)


class _CompiledEstimator(LightBitrateEstimator):
    """remb.LightBitrateEstimator with its per-packet and per-group work in C (gv_remb_add:
    the packet groups, aiortc's Kalman filter and overuse detector on each closed group);
    Python runs only when it flags something: a closed group's bytes into the throughput
    window, an update due (the rate control), a new SSRC, a silence. `ssrcs` lists the same
    SSRCs in the same order; their arrival times are set only on those calls."""

    def __init__(self, **settings: Any) -> None:
        ffi, lib = _compiled.ffi, _compiled.lib
        self._n = ffi.new("gv_remb *")
        self._call = lib.gv_remb_add
        self._flag_reset, self._flag_closed = lib.GV_REMB_RESET, lib.GV_REMB_CLOSED
        self._flag_update = lib.GV_REMB_UPDATE
        super().__init__(**settings)
        lib.gv_remb_init(self._n, self.feedback_interval_ms, self.reduce_interval_ms)
        self.detector = _CompiledDetector(self._n)  # type: ignore[assignment]  # what _update reads of it
        del self.estimator  # its work is gv_remb's

    _started = _struct_field("started", bool)
    _overusing = _struct_field("overusing", bool)
    _first = _struct_field("first")
    _last = _struct_field("last")
    _arrival = _struct_field("arrival")
    _size = _struct_field("size")
    _pending = _struct_field("pending")
    _pending_first = _struct_field("pending_first")
    _origin = _struct_field("origin")

    _last_update_ms = _optional_struct_field("last_update", "has_update")

    @property
    def _previous(self) -> tuple[int, int, int] | None:
        n = self._n
        return (n.previous_last, n.previous_arrival, n.previous_size) if n.has_previous else None

    @_previous.setter
    def _previous(self, value: tuple[int, int, int] | None) -> None:
        assert value is None  # only LightBitrateEstimator.__init__ sets it here

    def filter_state(self) -> tuple[Any, ...]:
        n = self._n
        history = [n.history[(n.history_at - n.history_length + i) % 60] for i in range(n.history_length)]
        return ((n.e00, n.e01, n.e10, n.e11), n.offset, n.previous_offset, n.slope, n.avg_noise, n.var_noise,
                n.deltas, history, BandwidthUsage(n.hypothesis), n.overuse_counter,
                n.overuse_time if n.has_overuse_time else None, n.detector_offset, n.threshold,
                n.threshold_update if n.has_threshold_update else None)

    def add(self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
            ) -> tuple[int, list[int]] | None:
        flags: int = self._call(self._n, arrival_time_ms, abs_send_time, payload_size, ssrc)
        return self._flagged(flags, arrival_time_ms, ssrc) if flags else None

    def _flagged(self, flags: int, now_ms: int, ssrc: int) -> tuple[int, list[int]] | None:
        self.ssrcs[ssrc] = now_ms
        if flags & self._flag_reset:
            self._forget_groups()  # the C reset the pending bytes and the origin
        if flags & self._flag_closed:
            self._groups.append((self._n.closed_pending_first, self._n.closed_pending))
            self._window_bytes += self._n.closed_pending
        return self._update(now_ms) if flags & self._flag_update else None


def estimator_contract() -> list[str]:
    """What differs between the compiled estimator's constants and first state and the
    aiortc.rate / remb.py ones it mirrors (empty when nothing does). aiortc is pinned; a
    change in its filter's code is caught by the tests comparing both estimators."""
    lib = _compiled.lib
    n = _compiled.ffi.new("gv_remb *")
    lib.gv_remb_init(n, remb.FEEDBACK_INTERVAL_MS, remb.REDUCE_INTERVAL_MS)
    estimator, detector = rate.OveruseEstimator(), rate.OveruseDetector()
    pairs = {
        "INTER_ARRIVAL_SHIFT": (26, rate.INTER_ARRIVAL_SHIFT),
        "MIN_FRAME_PERIOD_HISTORY_LENGTH": (lib.GV_REMB_HISTORY, rate.MIN_FRAME_PERIOD_HISTORY_LENGTH),
        "MIN_NUM_DELTAS": (lib.GV_REMB_MIN_DELTAS, rate.MIN_NUM_DELTAS),
        "DELTA_COUNTER_MAX": (lib.GV_REMB_MAX_DELTAS, rate.DELTA_COUNTER_MAX),
        "MAX_ADAPT_OFFSET_MS": (lib.GV_REMB_MAX_ADAPT_OFFSET_MS, rate.MAX_ADAPT_OFFSET_MS),
        "remb group length": (lib.GV_REMB_GROUP_LENGTH, remb.GROUP_LENGTH),
        "remb burst": (lib.GV_REMB_BURST_MS, remb.BURST_DELTA_MS),
        "remb window": (lib.GV_REMB_WINDOW_MS, remb.WINDOW_MS),
        "OveruseEstimator.E": ([[n.e00, n.e01], [n.e10, n.e11]], estimator.E),
        "OveruseEstimator.process_noise": ([n.noise0, n.noise1], estimator.process_noise),
        "OveruseEstimator.slope": (n.slope, estimator.slope),
        "OveruseEstimator.var_noise": (n.var_noise, estimator.var_noise),
        "OveruseEstimator.avg_noise": (n.avg_noise, estimator.avg_noise),
        "OveruseEstimator._offset": (n.offset, estimator._offset),
        "OveruseDetector.k_up": (n.k_up, detector.k_up),
        "OveruseDetector.k_down": (n.k_down, detector.k_down),
        "OveruseDetector.threshold": (n.threshold, detector.threshold),
        "OveruseDetector.overuse_time_threshold": (n.overuse_time_threshold, detector.overuse_time_threshold),
    }
    return [f"{name}: compiled {ours!r}, reference {theirs!r}" for name, (ours, theirs) in pairs.items()
            if ours != theirs]


class _Compiled:
    name = "compiled"

    def __init__(self) -> None:
        self.estimator_problems = estimator_contract()
        if self.estimator_problems:
            logger.warning("packet path: the compiled REMB estimator differs from aiortc's (%s); the Python "
                           "one estimates", "; ".join(self.estimator_problems))

    def estimator(self, **settings: Any) -> LightBitrateEstimator:
        if self.estimator_problems:
            return LightBitrateEstimator(**settings)
        return _CompiledEstimator(**settings)

    @staticmethod
    def history(size: int = 256) -> History:
        return _CompiledHistory(size)

    @staticmethod
    def numbering(clock_rate: int, keyframes: bool, first_seq: int, first_ts: int) -> Rewriter:
        return _CompiledNumbering(clock_rate, keyframes, first_seq=first_seq, first_ts=first_ts)

    @staticmethod
    def inspector(tcc_id: int | None, abs_id: int | None, codec: str) -> Inspect:
        return _CompiledInspector(tcc_id, abs_id, codec).inspect

    @staticmethod
    def unprotector(session: pylibsrtp.Session) -> Any:
        return _CompiledUnprotector(session).unprotect

    @staticmethod
    def forwarder(session: pylibsrtp.Session | None, mapper: ExtensionMapper, ssrc: int) -> Forwarder:
        return _CompiledForwarder(session, mapper, ssrc)


COMPILED: Core | None = _Compiled() if _compiled is not None and not srtp_direct.check_contract() else None


def _choose() -> Core:
    wanted = os.environ.get("GV_PACKET_CORE", "")
    if wanted == "python":
        logger.info("packet path: the Python core (GV_PACKET_CORE=python)")
        return PYTHON
    if COMPILED is None:
        logger.warning("packet path: the compiled core is not built or does not load (./dev builds it: "
                       "media/engine/packet_core_build.py); the Python core forwards, at a higher CPU cost")
        return PYTHON
    return COMPILED


ACTIVE: Core = _choose()


def implementation(name: str) -> Core:
    """The core called `name` ("python" or "compiled"; ValueError if that one is not built)."""
    if name == "python":
        return PYTHON
    if name == "compiled" and COMPILED is not None:
        return COMPILED
    raise ValueError(f"no {name!r} packet core here")


_NUMBERING_STATE = ("clock_rate", "keyframes", "started", "_seq_offset", "_ts_offset", "_base", "_highest",
                    "_max_seq", "_last_ts", "_last_time", "packets", "octets", "_last_octets")


def python_numbering(numbering: Rewriter) -> Rewriter:
    """`numbering` as the reference Rewriter, in the same state: for a subscriber the engine
    sends FEC packets of its own, numbered in between (Rewriter.insert), which the C
    numbering does not know (forwards with it then take the reference path)."""
    if not isinstance(numbering, _CompiledNumbering):
        return numbering
    copy = Rewriter(numbering.clock_rate, numbering.keyframes)
    for name in _NUMBERING_STATE:
        setattr(copy, name, getattr(numbering, name))
    return copy
