"""The notes' messages on the room's socket (PROTOCOL.md "Shared notes"), mixed into
rooms.consumers.RoomConsumer: parsed and rate-limited there like every message, admitted
participants only (rooms.lobby), `notes.lock` for moderators only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rooms.dbcall import db
from rooms.groups import room_group
from rooms.notes import crdt, store
from rooms.protocol import ProtocolError


class NotesHandlers:
    # Provided by RoomConsumer.
    room: Any
    role: str
    pid: str
    slug: str

    if TYPE_CHECKING:
        async def _send(self, message: dict) -> None: ...
        async def _broadcast(self, group: str, message: dict) -> None: ...

    async def on_notes_sync(self, message: dict) -> None:
        try:
            reply = await db(store.state_message)(self.room.appointment, message.get("sv"))
        except crdt.NotesError as error:
            raise ProtocolError(error.code, error.message, ref="notes.sync") from None
        await self._send(reply)

    async def on_notes_update(self, message: dict) -> None:
        try:
            applied = await db(store.apply)(self.room.appointment, self.role, message["update"])
        except crdt.NotesError as error:
            raise ProtocolError(error.code, error.message, ref="notes.update") from None
        if applied.update:  # a copy of what the server has is not broadcast again
            await self._broadcast(room_group(self.slug), {"type": "notes.update", "update": applied.update,
                                                          "pid": self.pid})

    async def on_notes_lock(self, message: dict) -> None:
        await db(store.set_read_only)(self.room.appointment, message["read_only"])
        await self._broadcast(room_group(self.slug), {"type": "notes.locked", "read_only": message["read_only"]})
