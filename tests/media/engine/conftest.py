"""Engine tests run real aiortc peers on loopback only."""

from __future__ import annotations

import aioice.ice
import pytest

from media.engine import packet_core

from .cores import CORES


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 when gathering; offer it, and nothing else."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


@pytest.fixture(params=CORES)
def active_core(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> packet_core.Core:
    """The packet path on each packet core in turn (the Python reference, the compiled one):
    publications and forwards made during the test take theirs from packet_core.ACTIVE."""
    core: packet_core.Core = request.param
    monkeypatch.setattr(packet_core, "ACTIVE", core)
    return core
