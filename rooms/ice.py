"""The ICE servers a browser (or the engine) is given: ICE_SERVERS plus, when TURN_URLS is
set, fresh TURN credentials of its own (media/turn.py). Called at page render and at every
WebSocket (re)connection, so credentials are never older than the connection using them."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings

from media.turn import ice_servers


def ice_servers_for(user: str | None = None) -> list[dict[str, Any]]:
    """ICE servers for one participant (its pid, shown in coturn's logs) or, without one,
    for a random name. The TURN secret never leaves the server: only the HMAC does."""
    return ice_servers(
        settings.ICE_SERVERS, settings.TURN_URLS, settings.TURN_SECRET, settings.TURN_TTL_SECONDS,
        user or secrets.token_hex(8),
    )
