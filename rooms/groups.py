"""Channel-layer group names of a room, and the event that forwards a message to browsers."""

from __future__ import annotations

from typing import Any


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
