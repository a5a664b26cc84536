"""This process's side of presence (rooms/presence.py): its identity, its open room
sockets, and the heartbeat that renews their leases and sweeps the dead ones.

The heartbeat is a task on the process's event loop, started by the first room socket:
at its start it clears what the previous run of this process (same PRESENCE_PROCESS_NAME)
left online, then every PRESENCE_HEARTBEAT_SECONDS it renews the leases of the sockets
open here (one UPDATE) and sweeps (lost connections whose grace ended, dead processes'
sockets), telling the rooms what changed. Celery beat runs the same sweep (rooms/tasks.py),
for when no process is left to do it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import sys
import uuid

from django.conf import settings

from rooms import actions, presence
from rooms.dbcall import db
from rooms.groups import layer_is_local

log = logging.getLogger("rooms.presence")


def process_name(argv: list[str] | None = None) -> str:
    """Stable across restarts: PRESENCE_PROCESS_NAME, else this host and the port Daphne
    listens on (`-p 8001`); else unique to this run (no clearing at start: leases run out)."""
    if settings.PRESENCE_PROCESS_NAME:
        return settings.PRESENCE_PROCESS_NAME
    argv = sys.argv if argv is None else argv
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag in ("-p", "--port"):
            return f"{socket.gethostname()}:{value}"
        if flag.startswith("--port="):
            return f"{socket.gethostname()}:{flag.split('=', 1)[1]}"
    if argv and argv[-1].startswith("--port="):
        return f"{socket.gethostname()}:{argv[-1].split('=', 1)[1]}"
    return f"{socket.gethostname()}:pid{os.getpid()}"


# name/boot: a restart under the same name has another boot, so its old rows are told apart.
NAME = process_name()
PROCESS = f"{NAME}/{uuid.uuid4().hex[:8]}"
_sockets: set[str] = set()  # channel names of the room sockets open in this process
_heartbeats: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def attach(channel: str) -> None:
    _sockets.add(channel)
    _ensure_heartbeat()


def detach(channel: str) -> None:
    _sockets.discard(channel)


def _ensure_heartbeat() -> None:
    loop = asyncio.get_running_loop()
    task = _heartbeats.get(loop)
    if task is None or task.done():
        # Its own context, not the consumer's that started it (which holds that socket's
        # database connection state).
        _heartbeats[loop] = loop.create_task(heartbeat(), name="presence heartbeat", context=contextvars.Context())


async def tell(swept: presence.Swept) -> None:
    """Tell the rooms what a sweep changed (a Redis outage loses these messages: the
    browsers get a fresh state when the layer is back)."""
    if swept.lost or swept.gone:
        log.info("presence: %d connection(s) lost, %d gone after the grace", len(swept.lost), len(swept.gone))
    for participant in swept.lost:
        await actions.lost(participant)
    for participant in swept.gone:
        await actions.gone(participant)


async def heartbeat() -> None:
    try:
        await tell(presence.Swept(lost=await db(presence.clear_process)(NAME, PROCESS), gone=[]))
    except Exception:
        log.exception("presence: could not clear this process's previous sockets")
    while True:
        try:
            for participant in await db(presence.renew)(list(_sockets)):
                await actions.back(participant)
            await tell(await db(presence.sweep)(holder=NAME if layer_is_local() else None))
        except Exception:
            # The database or Redis is down: leases are not renewed meanwhile, the next
            # beat renews them (a lease outlives two missed beats).
            log.exception("presence heartbeat failed")
        await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)
