"""The channel layer, the group names of a room, and the event that forwards a message to browsers."""

from __future__ import annotations

from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer


def channel_layer() -> BaseChannelLayer:
    """The default channel layer (settings always configure one: in memory or Redis)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    return layer


def room_group(slug: str) -> str:
    """Everyone admitted in the room."""
    return f"room.{slug}"


def mods_group(slug: str) -> str:
    """The room's moderators (they see the lobby)."""
    return f"mods.{slug}"


def personal_group(pid: str) -> str:
    """One participant, whichever process holds its socket."""
    return f"p.{pid}"


def forward(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "client.forward", "message": message}
