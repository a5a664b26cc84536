"""Celery tasks of the rooms: the chat's retention purge (beat runs it daily)."""

from __future__ import annotations

import logging

from celery import shared_task

from rooms import chat

PURGE_CHAT_TASK = "rooms.purge_chat"
log = logging.getLogger("rooms.chat")


@shared_task(name=PURGE_CHAT_TASK, ignore_result=True)
def purge_chat() -> None:
    deleted = chat.purge_expired()
    if deleted:
        log.info("chat purge: %d messages past their structure's retention deleted", deleted)
