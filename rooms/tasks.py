"""Celery tasks of the rooms: the presence sweep (also run by every Daphne process's
heartbeat, rooms/leases.py; this one covers the time no process is left to run it). The
chat's retention is part of the portal's purge (portal/retention.py)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from celery import shared_task

from rooms import leases, presence
from rooms.groups import layer_is_local


@shared_task(name="rooms.sweep_presence")
def sweep_presence() -> dict[str, int]:
    # With an in-memory channel layer nothing said here reaches a browser: the Daphne
    # process sweeps its own rows, this only those abandoned (rooms/presence.py).
    swept = presence.sweep(holder="" if layer_is_local() else None)
    if swept.lost or swept.gone:
        async_to_sync(leases.tell)(swept)
    return {"lost": len(swept.lost), "gone": len(swept.gone)}
