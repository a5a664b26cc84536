"""The contract covers each private read behind the hook layer's named functions."""

from __future__ import annotations

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver
from aiortc.rtcicetransport import RTCIceGatherer

from media.engine import ContractError, aiortc_hooks


def _changed_init(self, *args, **kwargs):  # an aiortc whose __init__ sets other attributes
    self.something_else = None


async def _changed_handler(self, *args, **kwargs):  # an aiortc whose method does something else
    return None


@pytest.mark.parametrize(
    ("owner", "name", "replacement", "problem"),
    [
        (RTCRtpReceiver, "_handle_rtp_packet", _changed_handler, "no longer sets packet._data"),
        (RTCRtpTransceiver, "__init__", _changed_init, "no longer sets self._codecs"),
        (RTCRtpTransceiver, "__init__", _changed_init, "no longer sets self._headerExtensions"),
        (RTCPeerConnection, "setRemoteDescription", _changed_handler, "negotiated transceiver._codecs"),
        (RTCIceGatherer, "__init__", _changed_init, "no longer creates self._connection"),
        (aioice.Connection, "gather_candidates", _changed_handler, "no longer calls get_host_addresses"),
    ],
)
def test_a_changed_internal_breaks_the_contract(monkeypatch: pytest.MonkeyPatch, owner: type, name: str,
                                                replacement: object, problem: str) -> None:
    aiortc_hooks.check_contract()  # the pinned versions pass
    monkeypatch.setattr(owner, name, replacement)
    with pytest.raises(ContractError, match=problem):
        aiortc_hooks.check_contract()


def test_a_removed_host_address_function_breaks_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aioice.ice, "get_host_addresses")
    with pytest.raises(ContractError, match="get_host_addresses is gone"):
        aiortc_hooks.check_contract()


def test_use_loopback_only_makes_aioice_gather_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)  # restored after
    aiortc_hooks.use_loopback_only()
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("owner", "name", "problem"),
    [
        (RTCPeerConnection, "createOffer", "no longer offers aiortc.codecs.CODECS"),
        (RTCPeerConnection, "setRemoteDescription", "no longer answers from aiortc.codecs.CODECS"),
    ],
)
def test_a_changed_codec_source_breaks_the_opus_contract(monkeypatch: pytest.MonkeyPatch, owner: type, name: str,
                                                         problem: str) -> None:
    monkeypatch.setattr(owner, name, _changed_handler)
    with pytest.raises(ContractError, match=problem):
        aiortc_hooks.check_contract()


def test_opus_parameters_reach_offers_and_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aiortc.codecs import CODECS

    opus = next(c for c in CODECS["audio"] if c.mimeType == "audio/opus")
    monkeypatch.setattr(opus, "parameters", dict(opus.parameters))  # restored after
    opus.parameters.clear()
    aiortc_hooks.announce_opus_parameters()
    aiortc_hooks.announce_opus_parameters()  # idempotent

    async def negotiate() -> tuple[str, str]:
        offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
        try:
            offerer.addTransceiver("audio")
            await offerer.setLocalDescription(await offerer.createOffer())
            await answerer.setRemoteDescription(offerer.localDescription)
            await answerer.setLocalDescription(await answerer.createAnswer())
            return offerer.localDescription.sdp, answerer.localDescription.sdp
        finally:
            await offerer.close()
            await answerer.close()

    for description in asyncio.run(negotiate()):
        assert "a=fmtp:96 minptime=10;useinbandfec=1;usedtx=1" in description.splitlines()
