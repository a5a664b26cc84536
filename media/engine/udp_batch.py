"""Send a burst of equal-size datagrams with one system call (Linux UDP GSO).

A forwarded video frame leaves as a burst of RTP packets of one size and a shorter last
one (the packetizer cuts the frame into equal payloads). Handing the burst to the kernel
as one buffer with a UDP_SEGMENT size (Linux >= 4.18) makes one sendmsg instead of one
sendto per packet; the kernel (or the NIC) cuts it back into the same datagrams, so the
receiver sees exactly what separate sends would give. Datagrams queued during one pass of
the event loop are flushed at the next (call_soon): no timer, no added wait.

Anything else goes out one by one through the asyncio transport: a burst of one, a
platform without GSO, a socket that refuses (EAGAIN, EIO: GSO then stays off for it).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
import sys

logger = logging.getLogger(__name__)

UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h
MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS in the kernel
MAX_BYTES = 65000  # one UDP datagram before segmentation, headers included
GSO_SUPPORTED = sys.platform.startswith("linux")


class Batcher:
    """Datagrams for one destination, sent at the next pass of the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.DatagramTransport,
                 address: tuple[str, int], gso: bool = GSO_SUPPORTED) -> None:
        self._loop = loop
        self._transport = transport
        self._address = address
        self._gso = gso
        self._socket: socket.socket | None = None
        self._queued: list[bytes] = []
        self.system_calls = 0  # for tests and the bench
        self.datagrams = 0

    def send(self, data: bytes) -> None:
        if not self._queued:
            self._loop.call_soon(self.flush)
        self._queued.append(data)

    def flush(self) -> None:
        queued, self._queued = self._queued, []
        if self._transport.is_closing():
            return  # the connection went away meanwhile, as a send to it would find
        start, count = 0, len(queued)
        while start < count:
            end = _burst_end(queued, start) if self._gso else start + 1
            if end - start > 1 and self._send_burst(queued[start:end]):
                start = end
                continue
            for data in queued[start:end]:
                self._transport.sendto(data, self._address)
                self.system_calls += 1
            self.datagrams += end - start
            start = end

    def _send_burst(self, burst: list[bytes]) -> bool:
        sock = self._socket
        if sock is None:
            sock = self._socket = _own_socket(self._transport)
            if sock is None:
                self._gso = False
                return False
        try:
            sock.sendmsg([b"".join(burst)], [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("=H", len(burst[0])))],
                          0, self._address)
        except BlockingIOError:
            return False  # the transport queues them
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP):
                logger.info("UDP GSO refused (%s): sending datagrams one by one", exc)
                self._gso = False
                return False
            raise
        self.system_calls += 1
        self.datagrams += len(burst)
        return True

    def close(self) -> None:
        if self._queued:
            self.flush()
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _burst_end(queued: list[bytes], start: int) -> int:
    """End of the burst starting at `start`: equal sizes, then at most one shorter datagram."""
    size = len(queued[start])
    end, total = start + 1, size
    while end < len(queued) and end - start < MAX_SEGMENTS:
        length = len(queued[end])
        if length > size or total + length > MAX_BYTES:
            break
        end += 1
        total += length
        if length < size:
            break  # a shorter one can only close the burst
    return end


def _own_socket(transport: asyncio.DatagramTransport) -> socket.socket | None:
    """A duplicate of the transport's socket for sendmsg (the loop's own object may lack it)."""
    try:
        fileno = transport.get_extra_info("socket").fileno()
        sock = socket.socket(fileno=os.dup(fileno))
    except (AttributeError, OSError) as exc:
        logger.info("no socket for UDP GSO (%s)", exc)
        return None
    sock.setblocking(False)
    return sock

