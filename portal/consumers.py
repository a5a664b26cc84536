"""The day view's live channel: tells an agent's page which appointment to look at again."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from portal import access
from rooms.journey import day_group


class DayConsumer(AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(4401)
            return
        structures = await database_sync_to_async(access.structure_ids)(user)
        if user.is_superuser:
            from portal.models import Structure

            structures = set(await database_sync_to_async(
                lambda: list(Structure.objects.values_list("id", flat=True)))())
        for structure_id in structures:
            await self.channel_layer.group_add(day_group(structure_id), self.channel_name)
        self.groups_joined = tuple(day_group(s) for s in structures)
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
