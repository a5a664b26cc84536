"""The aiortc internals passthrough relies on: fail loudly when they change."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCRtpSender

from media.engine import MediaError, aiortc_hooks


def test_pinned_aiortc_internals_are_as_expected() -> None:
    assert aiortc.__version__ == aiortc_hooks.AIORTC_VERSION
    aiortc_hooks.check_contract()


def test_contract_check_notices_a_changed_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _next_encoded_frame(self, codec):  # a future aiortc that always encodes
        return None

    monkeypatch.setattr(RTCRtpSender, "_next_encoded_frame", _next_encoded_frame)
    with pytest.raises(MediaError, match="_next_encoded_frame"):
        aiortc_hooks.check_contract()


def test_contract_check_notices_another_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(MediaError, match="1.17.0"):
        aiortc_hooks.check_contract()


def test_packetizer_uses_aiortc_vp8_and_h264_packetizers() -> None:
    from media.engine.encoded import EncodedFrame

    packer = aiortc_hooks.Packetizer(90000)
    vp8 = EncodedFrame("vp8", b"\x10" * 3000, timestamp=1000, keyframe=False, stream=1)
    payloads, ts = packer.pack(vp8)
    assert len(payloads) == 3 and all(len(p) <= 1300 for p in payloads)
    assert ts == 1000
    h264 = EncodedFrame("h264", b"\x00\x00\x00\x01\x67AB\x00\x00\x00\x01\x65" + b"x" * 2000, 4000, True, 1)
    payloads, _ = packer.pack(h264)
    assert len(payloads) >= 2
    assert packer.pack(EncodedFrame("", b"", 0, True)) == ([], None)


def test_contract_check_notices_a_changed_rate_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiortc.rate

    def detect(self, offset, timestamp_delta_ms, now_ms):  # a future aiortc without num_of_deltas
        return aiortc.rate.BandwidthUsage.NORMAL

    monkeypatch.setattr(aiortc.rate.OveruseDetector, "detect", detect)
    with pytest.raises(MediaError, match="OveruseDetector.detect"):
        aiortc_hooks.check_contract()
