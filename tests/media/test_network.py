"""UDP port range and public address for media nodes."""

import asyncio
import socket

import pytest

from media.network import announce_public_address, parse_port_range, restrict_udp_ports

SDP = (
    "v=0\r\nm=audio 45000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.0.0.5\r\n"
    "a=candidate:abc 1 udp 2130706431 10.0.0.5 45000 typ host\r\n"
    "a=candidate:def 1 udp 1694498815 203.0.113.9 45000 typ srflx raddr 10.0.0.5 rport 45000\r\n"
)


def test_public_address_replaces_host_candidates_and_connection_line():
    out = announce_public_address(SDP, "198.51.100.7")
    assert "a=candidate:abc 1 udp 2130706431 198.51.100.7 45000 typ host" in out
    assert "c=IN IP4 198.51.100.7" in out and "10.0.0.5 45000 typ host" not in out
    assert "203.0.113.9 45000 typ srflx raddr 10.0.0.5" in out  # server-reflexive kept as is
    assert announce_public_address(SDP, "") == SDP


def test_port_range_parsing():
    assert parse_port_range("40000-40010") == (40000, 40010) and parse_port_range("") is None


def test_ephemeral_udp_binds_stay_in_the_range_and_fail_clearly_when_full():
    async def scenario():
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        first, last = base + 1, base + 3
        restrict_udp_ports(loop, first, last)
        transports = []
        for _ in range(3):
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            transports.append(transport)
        ports = sorted(t.get_extra_info("sockname")[1] for t in transports)
        with pytest.raises(OSError, match="no free UDP port"):
            await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        for transport in transports:
            transport.close()
        return ports, first, last

    ports, first, last = asyncio.run(scenario())
    assert ports == list(range(first, last + 1))


def test_bad_range_is_refused():
    with pytest.raises(ValueError):
        restrict_udp_ports(asyncio.new_event_loop(), 5000, 4000)
