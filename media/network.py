"""Network settings aioice lacks: a UDP port range, and a public address behind 1:1 NAT.

aioice binds each host candidate to an ephemeral port and announces the machine's own
addresses. A media node behind a firewall needs a fixed port range (to open it), and one
behind NAT (a cloud VM) must announce its public address instead of the private one.
"""

from __future__ import annotations

import asyncio
import errno
import random
import re
from collections.abc import Callable
from typing import Any


def restrict_udp_ports(loop: asyncio.AbstractEventLoop, first: int, last: int) -> None:
    """Make this loop bind ephemeral UDP sockets (port 0) inside [first, last]."""
    if not 0 < first <= last < 65536:
        raise ValueError(f"bad UDP port range {first}-{last}")
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(
        protocol_factory: Callable[[], asyncio.BaseProtocol], local_addr: tuple[str, int] | None = None, **kwargs: Any
    ) -> tuple[asyncio.DatagramTransport, asyncio.BaseProtocol]:
        if local_addr is None or local_addr[1] != 0:
            return await original(protocol_factory, local_addr=local_addr, **kwargs)
        ports = list(range(first, last + 1))
        random.shuffle(ports)  # spread concurrent binds, avoid always probing the same busy ports
        for port in ports:
            try:
                return await original(protocol_factory, local_addr=(local_addr[0], port), **kwargs)
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, f"no free UDP port in {first}-{last}")

    # The patch: an instance attribute shadows the loop's method. It is not generic over the
    # protocol type as the method is, hence `assignment`.
    loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign,assignment]


_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+ )(\S+)( \d+ typ host)", re.MULTILINE | re.IGNORECASE)
_CONNECTION = re.compile(r"^c=IN IP4 \S+", re.MULTILINE)


def announce_public_address(sdp: str, public_ip: str) -> str:
    """Replace host candidates' (and c= lines') addresses by the public one (1:1 NAT)."""
    if not public_ip:
        return sdp
    sdp = _CANDIDATE.sub(lambda m: f"{m.group(1)}{public_ip}{m.group(3)}", sdp)
    return _CONNECTION.sub(f"c=IN IP4 {public_ip}", sdp)


def parse_port_range(text: str) -> tuple[int, int] | None:
    """'40000-40999' -> (40000, 40999); '' -> None."""
    if not text:
        return None
    first, _, last = text.partition("-")
    return int(first), int(last or first)
