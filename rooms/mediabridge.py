"""The Django edge of the media engine: one in-process engine per ASGI process.

The engine (media/engine) knows nothing of Django; this module builds it from settings
and turns its server offers into messages to the participant's personal group.
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from media.engine import MediaEngine

_engine: MediaEngine | None = None


def personal_group(pid: str) -> str:
    return f"p.{pid}"


async def _send_server_offer(room_id: str, participant_id: str, payload: dict[str, Any]) -> None:
    await get_channel_layer().group_send(
        personal_group(participant_id),
        {
            "type": "client.forward",
            "message": {"type": "rtc.offer", "sdp": payload["sdp"], "tracks": payload.get("tracks", {})},
        },
    )


def _use_loopback_only() -> None:
    # aioice skips 127.0.0.1 when gathering; on a loopback-only test machine, offer it.
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]


def engine() -> MediaEngine:
    global _engine
    if _engine is None:
        if settings.ICE_LOOPBACK_ONLY:
            _use_loopback_only()
        _engine = MediaEngine(
            mode=settings.MEDIA_ENGINE_MODE, ice_servers=settings.ICE_SERVERS, on_server_offer=_send_server_offer
        )
    return _engine
