"""The day view's live channel: tells an agent's page which appointment to look at again."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from portal import access
from rooms.groups import session_group, user_group
from rooms.journey import day_group

SIGNED_OUT = 4401  # the session ended (signed out elsewhere, closed, the member deactivated): no retry


class DayConsumer(AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(SIGNED_OUT)
            return
        structures = await database_sync_to_async(access.structure_ids)(user)
        if user.is_superuser:
            from portal.models import Structure

            structures = set(await database_sync_to_async(
                lambda: list(Structure.objects.values_list("id", flat=True)))())
        # The person's own groups first: a deactivation closes this socket from then on.
        groups = [user_group(user.pk), *(day_group(s) for s in structures)]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            groups.append(session_group(session.session_key))
        self.groups_joined = tuple(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.send(text_data=json.dumps({"type": "error", "code": "read_only",
                                              "message": "The day view only listens."}))

    async def day_changed(self, event: dict) -> None:
        await self.send(text_data=json.dumps({"type": "day.changed", "appointment": event["appointment"],
                                              "what": event["what"]}))

    async def account_closed(self, event: dict) -> None:
        """The session was closed or the member deactivated (portal/accounts/sessions.py)."""
        await self.close(SIGNED_OUT)
