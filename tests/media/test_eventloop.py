"""The media node's event loop: uvloop by default, off by setting, asyncio when not installed."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import pytest

from media.network import restrict_udp_ports
from media.nodes import eventloop


async def which_loop() -> str:
    return eventloop.loop_name()


def test_a_node_runs_on_uvloop_by_default() -> None:
    assert eventloop.UVLOOP_DEFAULT is True
    assert eventloop.run(which_loop()) == "uvloop"


def test_uvloop_can_be_turned_off() -> None:
    assert eventloop.run(which_loop(), uvloop=False) == "asyncio"


def test_without_uvloop_installed_the_node_falls_back_to_asyncio(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` raise ImportError
    with caplog.at_level(logging.WARNING, logger="media.node"):
        assert eventloop.run(which_loop()) == "asyncio"
    assert "uvloop unavailable" in caplog.text


def test_the_udp_port_range_applies_on_uvloop() -> None:
    async def scenario() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        restrict_udp_ports(loop, base + 1, base + 2)
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        transport.close()
        return port, base + 1, base + 2

    port, first, last = eventloop.run(scenario())
    assert first <= port <= last
