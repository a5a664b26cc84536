"""The channel layer, the group names of a room, and the event that forwards a message to browsers."""

from __future__ import annotations

import hashlib
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer


def channel_layer() -> BaseChannelLayer:
    """The default channel layer (settings always configure one: in memory or Redis)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    return layer


def layer_is_local() -> bool:
    """Whether a message sent here reaches only this process's sockets (the in-memory layer)."""
    return isinstance(channel_layer(), InMemoryChannelLayer)


def room_group(slug: str) -> str:
    """Everyone admitted in the room."""
    return f"room.{slug}"


def mods_group(slug: str) -> str:
    """The room's moderators (they see the lobby)."""
    return f"mods.{slug}"


def personal_group(pid: str) -> str:
    """One participant, whichever process holds its socket."""
    return f"p.{pid}"


# A person's account was deactivated or one of their sessions closed: their sockets close.
ACCOUNT_CLOSED = "account.closed"


def user_group(user_id: int) -> str:
    """Every socket a signed-in person opened (day view, rooms), in any process."""
    return f"account.user.{user_id}"


def session_group(session_key: str) -> str:
    """The sockets opened with one session (a hash: the key itself stays out of Redis)."""
    return f"account.session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def forward(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "client.forward", "message": message}
