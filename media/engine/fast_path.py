"""A shorter per-packet path through aiortc's and aioice's transports (their internals).

On a forwarding server almost every datagram is SRTP, and the stock path spends more on
plumbing than on the packet: aioice first tries to parse each datagram as STUN (raising
ValueError), queues it, RTCDtlsTransport's task wakes up and receives it through three
coroutines before unprotecting it; each packet sent goes down three coroutines to the
socket; aiortc's NTP clock is datetime arithmetic, read twice per packet sent and once per
packet received. On a connected transport of ours (`attach`):

- receive: a datagram whose first byte says RTP/RTCP (128-191, RFC 7983 demultiplexing)
  is unprotected and dispatched from the socket callback, exactly as
  `RTCDtlsTransport._recv_next` would, its handler run eagerly (an eager task completes
  without touching the event loop unless the handler really waits, which a forwarding
  handler does not). STUN and DTLS keep aioice's and aiortc's own path, and so does
  everything before the DTLS handshake has set up SRTP.
- send: the ICE transport's send hands each datagram to a `udp_batch.Batcher` for the
  nominated pair's socket and address (what aioice's `StunProtocol.send_data` writes to),
  without the coroutine chain; the batcher sends at the next loop pass, a frame's
  packets in one system call where UDP GSO is available.
- clock (`install_clock`, process-wide): aiortc.clock's `current_ms` and
  `current_ntp_time` from `time.time_ns()`; same values, a fraction of the cost.

`check_contract()` fails loudly when the code this mirrors changes (aiortc_hooks runs it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import aioice
import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, clock
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtp import RtpPacket, is_rtcp

from . import packet_core, srtp_direct
from .udp_batch import Batcher

logger = logging.getLogger(__name__)

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_STOCK_CLOCK = (clock.current_ms, clock.current_ntp_time)
DRAIN_MAX = 64  # datagrams read per wake-up on asyncio's loop (uvloop reads its own batches)
DRAIN_SIZE = 4096  # larger than any datagram WebRTC sends (MTU-sized)

# Handlers that did have to wait: kept referenced until they finish (the loop holds weak ones).
_unfinished: set[asyncio.Task[None]] = set()
# Each attached ICE connection's route: [nominated pair, its Batcher] (read by sent()).
_routes: weakref.WeakKeyDictionary[aioice.Connection, list[Any]] = weakref.WeakKeyDictionary()
# ... and its synchronous send (the packet path protects and sends without a coroutine).
_direct: weakref.WeakKeyDictionary[aioice.Connection, Callable[[bytes], None]] = weakref.WeakKeyDictionary()

PacketHandler = Callable[[bytes], None]
# Packet path: receivers whose packets bypass aiortc, and per DTLS transport the SSRCs seen.
_packet_receivers: weakref.WeakKeyDictionary[Any, PacketHandler] = weakref.WeakKeyDictionary()
_rtp_handlers: weakref.WeakKeyDictionary[RTCDtlsTransport, dict[int, PacketHandler]] = weakref.WeakKeyDictionary()
# Authentic packets of unknown SSRCs dropped before any handler (process-wide, for tests and stats).
dropped = {"malformed": 0, "unrouted": 0}


class _Send(Protocol):
    """RTCIceTransport._send's shape."""

    def __call__(self, data: bytes) -> Coroutine[Any, Any, None]: ...


def current_ms() -> int:
    """Milliseconds since the NTP epoch, as aiortc.clock.current_ms."""
    return time.time_ns() // 1_000_000 + NTP_UNIX_OFFSET * 1000


_NTP_OFFSET = NTP_UNIX_OFFSET << 32


def current_ntp_time() -> int:
    """64-bit NTP timestamp (32.32 fixed point), as aiortc.clock.current_ntp_time."""
    # (seconds << 32) + (nanoseconds << 32) // 10**9 in one division: the same value.
    return (time.time_ns() << 32) // 1_000_000_000 + _NTP_OFFSET


def install_clock() -> None:
    """Swap aiortc's clock functions for the cheaper ones (idempotent, process-wide)."""
    clock.current_ms = current_ms
    clock.current_ntp_time = current_ntp_time


def attach(pc: RTCPeerConnection, gso: bool) -> int:
    """Give `pc`'s transports the short path; call once ICE gathering is done.

    Returns how many transports were changed (already attached ones are skipped).
    """
    attached = 0
    for dtls in _transports(pc):
        ice: RTCIceTransport = dtls.transport
        connection = ice._connection
        if connection in _routes:  # set by _sender: already attached
            continue
        receivers: list[_Receiver] = []
        for protocol in connection._protocols:
            if type(protocol) is StunProtocol:
                # The hook itself: an instance attribute shadows the method. Our UDP sockets only
                # receive bytes (aioice's `bytes | str` covers its TCP framing).
                receiver = _Receiver(dtls, protocol, protocol.datagram_received)
                protocol.datagram_received = receiver  # type: ignore[method-assign,assignment]
                receivers.append(receiver)
        ice._send = _sender(connection, gso, receivers)
        attached += 1
    return attached


def received_directly(pc: RTCPeerConnection) -> int:
    """How many datagrams `pc` received through the short path (for tests and stats)."""
    total = 0
    for dtls in _transports(pc):
        for protocol in dtls.transport._connection._protocols:
            handler = protocol.__dict__.get("datagram_received")
            total += handler.direct if isinstance(handler, _Receiver) else 0
    return total


def sent(pc: RTCPeerConnection) -> tuple[int, int]:
    """(system calls, datagrams) `pc`'s short path has sent so far (for tests and stats)."""
    calls = datagrams = 0
    for dtls in _transports(pc):
        batcher = _routes.get(dtls.transport._connection, [None, None])[1]
        if batcher is not None:
            calls, datagrams = calls + batcher.system_calls, datagrams + batcher.datagrams
    return calls, datagrams


def _transports(pc: RTCPeerConnection) -> list[RTCDtlsTransport]:
    """pc's DTLS transports, each once (with BUNDLE every transceiver shares one)."""
    transports = (t.receiver.transport for t in pc.getTransceivers())
    return list(dict.fromkeys(t for t in transports if t is not None))


class _Receiver:
    """Stands in for a StunProtocol's datagram_received (uvloop and asyncio look it up per datagram).

    asyncio's own loop hands over one datagram per loop pass, and a batcher flushes at the
    next pass: a burst (a video frame's packets) forwarded packet by packet would then leave
    one system call per packet. So, on that loop, the datagrams already waiting in the
    socket are read at once (as uvloop does itself), and the burst leaves in one sendmsg.
    """

    __slots__ = ("_dtls", "_drain", "_handlers", "_loop", "_protocol", "_rx_session", "_socket", "_stock",
                 "_unprotect", "direct")

    def __init__(self, dtls: RTCDtlsTransport, protocol: StunProtocol,
                 stock: Callable[[bytes, tuple[Any, ...]], None]) -> None:
        self._dtls = dtls
        self._protocol = protocol
        self._stock = stock
        self._loop = asyncio.get_running_loop()
        self._drain = not type(self._loop).__module__.startswith("uvloop")
        self._socket: socket.socket | None = None
        self._rx_session: pylibsrtp.Session | None = None  # the session _unprotect was made for
        self._unprotect: Callable[[bytes], bytes] | None = None
        # This transport's SSRC -> handler dict, held here: a WeakKeyDictionary lookup per
        # packet (a new weak reference each time) was 1% of the bench server's samples.
        self._handlers = _rtp_handlers.setdefault(dtls, {})
        self.direct = 0  # datagrams that took the short path

    def __call__(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._dispatch(data, addr)
        if self._drain:
            self._read_waiting()

    def _dispatch(self, data: bytes, addr: tuple[Any, ...]) -> None:
        dtls = self._dtls
        if data and 127 < data[0] < 192 and dtls._state is State.CONNECTED and dtls._rx_srtp is not None:
            self.direct += 1
            if dtls._rx_srtp is not self._rx_session:  # set up by the DTLS handshake (once per transport)
                self._rx_session = dtls._rx_srtp
                self._unprotect = packet_core.ACTIVE.unprotector(dtls._rx_srtp)
            assert self._unprotect is not None
            _receive_srtp(self._loop, dtls, data, self._unprotect, self._handlers)
        else:
            self._stock(data, addr)

    def _read_waiting(self) -> None:
        sock = self._socket
        if sock is None:
            transport = self._protocol.transport
            if transport is None or transport.is_closing():
                return
            try:
                sock = self._socket = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
            except (AttributeError, OSError):
                self._drain = False
                return
            sock.setblocking(False)
        for _ in range(DRAIN_MAX):
            try:
                data, addr = sock.recvfrom(DRAIN_SIZE)
            except OSError:  # nothing waiting (EAGAIN), or an ICMP error: the loop's own read reports it
                return
            self._dispatch(data, addr)

    def close(self) -> None:
        self._drain = False
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _receive_srtp(loop: asyncio.AbstractEventLoop, dtls: RTCDtlsTransport, data: bytes,
                  unprotect: Callable[[bytes], bytes], handlers: dict[int, PacketHandler]) -> None:
    # RTCDtlsTransport._recv_next's SRTP branch, without the queue; RTP unprotected by
    # packet_core (the session's own libsrtp context, without pylibsrtp's per-call glue).
    dtls._RTCDtlsTransport__rx_bytes += len(data)  # type: ignore[attr-defined]  # mangled private, in the contract
    dtls._RTCDtlsTransport__rx_packets += 1  # type: ignore[attr-defined]  # mangled private, in the contract
    try:
        if is_rtcp(data):
            handler = dtls._handle_rtcp_data(dtls._rx_srtp.unprotect_rtcp(data))
        else:
            plain = unprotect(data)
            # Packet path: a publisher stream's packets go straight to its handler, no task.
            packet_handler = handlers.get(int.from_bytes(plain[8:12]))
            if packet_handler is not None:
                _call(packet_handler, plain)
                return
            if _packet_receivers:
                _claim(loop, dtls, plain)
                return
            handler = dtls._handle_rtp_data(plain, arrival_time_ms=clock.current_ms())
    except pylibsrtp.Error:
        return  # what aiortc does: a packet that fails authentication (forged, replayed) is dropped
    run_eagerly(loop, handler)


def _call(handler: PacketHandler, plain: bytes) -> None:
    try:
        handler(plain)
    except Exception:  # a bad packet or a bug costs that packet, never the transport
        logger.warning("a media packet handler failed", exc_info=True)


def _claim(loop: asyncio.AbstractEventLoop, dtls: RTCDtlsTransport, plain: bytes) -> None:
    """A packet of an SSRC not seen yet: aiortc's router names its receiver (by SSRC, mid or
    payload type, as RTCDtlsTransport._handle_rtp_data does); a packet-path receiver's
    handler then takes this SSRC's packets from the socket callback on."""
    try:
        packet = RtpPacket.parse(plain, dtls._rtp_header_extensions_map)
    except ValueError:
        dropped["malformed"] += 1
        return  # what aiortc does with an unparsable packet
    receiver = dtls._rtp_router.route_rtp(packet)
    if receiver is None:
        dropped["unrouted"] += 1
        return  # an SSRC and payload type nobody negotiated: dropped, as aiortc does
    handler = _packet_receivers.get(receiver)
    if handler is None:
        run_eagerly(loop, receiver._handle_rtp_packet(packet, arrival_time_ms=clock.current_ms()))
        return
    _rtp_handlers.setdefault(dtls, {})[packet.ssrc] = handler
    _call(handler, plain)


def register_packet_receiver(receiver: RTCRtpReceiver, handler: PacketHandler) -> None:
    """Hand every RTP packet `receiver` would get to `handler(unprotected bytes)` instead."""
    _packet_receivers[receiver] = handler


def forget_packet_receiver(receiver: RTCRtpReceiver, handler: PacketHandler) -> None:
    """Stop dispatching to `handler` (its publication ended)."""
    _packet_receivers.pop(receiver, None)
    handlers = _rtp_handlers.get(receiver.transport) if receiver.transport is not None else None
    if handlers:
        for ssrc in [s for s, h in handlers.items() if h == handler]:
            del handlers[ssrc]


def direct_sender(dtls: RTCDtlsTransport) -> Callable[[bytes], None] | None:
    """The attached transport's synchronous send (a datagram to the batcher), None if not attached."""
    ice = dtls.transport
    connection = getattr(ice, "_connection", None)
    return _direct.get(connection) if connection is not None else None


def run_eagerly(loop: asyncio.AbstractEventLoop, handler: Coroutine[Any, Any, None]) -> None:
    """Run a packet handler now; if it has to wait, a task finishes it. Failures are logged."""
    task = asyncio.Task(handler, loop=loop, eager_start=True)
    if task.done():
        _report(task)
    else:
        _unfinished.add(task)
        task.add_done_callback(_finished)


def _finished(task: asyncio.Task[None]) -> None:
    _unfinished.discard(task)
    _report(task)


def _report(task: asyncio.Task[None]) -> None:
    # A failing handler loses its packet, never the transport (aiortc's loop would stop).
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.warning("a media packet handler failed", exc_info=exc)


def _sender(connection: aioice.Connection, gso: bool, receivers: list[_Receiver]) -> _Send:
    nominated = connection._nominated
    loop = asyncio.get_running_loop()
    route: list[Any] = [None, None]  # the nominated pair, the Batcher for its socket and address

    def send_now(data: bytes) -> None:
        # aioice Connection.send -> sendto -> StunProtocol.send_data, batched per loop pass.
        pair = nominated.get(1)
        if pair is None:  # before nomination (or after a restart): what aioice raises, aiortc expects it
            raise ConnectionError("Cannot send data, not connected")
        if pair is not route[0]:
            if route[1] is not None:
                route[1].close()
            route[:] = [pair, Batcher(loop, pair.protocol.transport, pair.remote_addr, gso=gso)]
        route[1].send(data)

    async def send(data: bytes) -> None:
        send_now(data)

    _routes[connection] = route  # read by sent(), marks the connection as attached
    _direct[connection] = send_now
    stock_close = connection.close

    async def close() -> None:
        if route[1] is not None:
            route[1].close()  # what is queued goes out first, the duplicate socket is released
        for receiver in receivers:
            receiver.close()  # the duplicate sockets read from
        await stock_close()

    connection.close = close  # type: ignore[method-assign]  # flushes our batcher first
    return send


def check_contract() -> list[str]:
    """What changed in the code this module mirrors (empty when nothing did)."""
    problems: list[str] = []

    def expect(owner: Any, needles: tuple[str, ...]) -> None:
        source = inspect.getsource(owner)
        for needle in needles:
            if needle not in source:
                problems.append(f"{owner.__qualname__} no longer contains {needle!r}")

    expect(RTCDtlsTransport._recv_next, (
        "first_byte > 127 and first_byte < 192 and self._rx_srtp",
        "self.__rx_bytes += len(data)", "self.__rx_packets += 1",
        "arrival_time_ms = clock.current_ms()",
        "if is_rtcp(data):", "data = self._rx_srtp.unprotect_rtcp(data)", "await self._handle_rtcp_data(data)",
        "data = self._rx_srtp.unprotect(data)",
        "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)",
        "except pylibsrtp.Error",
    ))
    expect(RTCDtlsTransport._handle_rtp_data, (
        "packet = RtpPacket.parse(data, self._rtp_header_extensions_map)",
        "receiver = self._rtp_router.route_rtp(packet)",
        "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)",
    ))
    expect(RTCDtlsTransport.start, ("self._setup_srtp()", "self._set_state(State.CONNECTED)"))
    expect(RTCIceTransport.__init__, ("self._send = self._connection.send",))
    expect(StunProtocol.datagram_received, ("self.receiver.data_received(data, self.local_candidate.component)",))
    expect(StunProtocol.send_data, ("self.transport.sendto(data, addr)",))
    expect(aioice.Connection.send, ("await self.sendto(data, 1)",))
    expect(aioice.Connection.sendto, ("active_pair = self._nominated.get(component)",
                                      "await active_pair.protocol.send_data(data, active_pair.remote_addr)"))
    expect(aioice.Connection.get_component_candidates, ("StunProtocol(self)",))
    expect(aioice.Connection.__init__, ("self._protocols",))
    problems += srtp_direct.check_contract()
    for name, ours, stock in (("current_ms", current_ms, _STOCK_CLOCK[0]),
                              ("current_ntp_time", current_ntp_time, _STOCK_CLOCK[1])):
        if not callable(stock):
            problems.append(f"aiortc.clock.{name} is gone")
            continue
        unit = 1 if name == "current_ms" else (1 << 32) // 1000  # one millisecond
        if abs(ours() - stock()) > 50 * unit:
            problems.append(f"aiortc.clock.{name} no longer counts from the NTP epoch")
    return problems
