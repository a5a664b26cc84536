"""Short-lived TURN credentials: the TURN REST API scheme coturn implements (`use-auth-secret`).

The portal and coturn share one secret; nothing is stored per user. For each participant:
  username   = "<expiry, unix time>:<participant>"
  credential = base64(HMAC-SHA1(secret, username))
coturn recomputes the HMAC and refuses a username whose expiry is past. The expiry is
checked when an allocation is made: a call that started with valid credentials keeps its
relay, and the page gets new credentials at every (re)connection of its WebSocket.
No Django here: rooms/ice.py reads the settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import Any

# RFC 7065 URIs as browsers and coturn read them: turn(s):host[:port][?transport=udp|tcp]
_TURN_URL = re.compile(r"^turns?:(\[[0-9a-fA-F:]+\]|[^\s:?/\[\]]+)(:\d{1,5})?(\?transport=(udp|tcp))?$")


def check_turn_url(url: str) -> str:
    """The URL unchanged, or ValueError saying what a TURN URL looks like."""
    if not _TURN_URL.match(url):
        raise ValueError(f"not a TURN URL: {url!r} (expected turn:host:3478?transport=udp|tcp or turns:host:443)")
    return url


def turn_username(expires: int, user: str) -> str:
    # ':' is coturn's default rest-api-separator: the part before it is the expiry.
    if ":" in user:
        raise ValueError("the user part of a TURN username must not contain ':'")
    return f"{expires}:{user}"


def turn_credential(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)), as coturn computes it."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def ice_servers(
    static: Iterable[dict[str, Any]],
    turn_urls: Iterable[str],
    secret: str,
    ttl: int,
    user: str,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The RTCIceServer list for one participant: the static servers (STUN…), then one
    entry with every TURN URL and credentials valid for `ttl` seconds from `now`."""
    servers = [dict(server) for server in static]
    urls = list(turn_urls)
    if urls and secret:
        username = turn_username(int(now if now is not None else time.time()) + ttl, user)
        servers.append({"urls": urls, "username": username, "credential": turn_credential(secret, username)})
    return servers
