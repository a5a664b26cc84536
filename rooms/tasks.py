"""Celery tasks of the rooms: the chat's retention purge (beat runs it daily) and the
presence sweep (also run by every Daphne process's heartbeat, rooms/leases.py; this one
covers the time no process is left to run it)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from celery import shared_task

from rooms import chat, leases, presence

PURGE_CHAT_TASK = "rooms.purge_chat"
log = logging.getLogger("rooms.chat")


@shared_task(name=PURGE_CHAT_TASK, ignore_result=True)
def purge_chat() -> None:
    deleted = chat.purge_expired()
    if deleted:
        log.info("chat purge: %d messages past their structure's retention deleted", deleted)


@shared_task(name="rooms.sweep_presence")
def sweep_presence() -> dict[str, int]:
    swept = presence.sweep()
    if swept.lost or swept.gone:
        async_to_sync(leases.tell)(swept)
    return {"lost": len(swept.lost), "gone": len(swept.gone)}
