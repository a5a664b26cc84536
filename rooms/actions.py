"""Room actions shared by the signalling consumer and the day view's buttons."""

from __future__ import annotations

from rooms import lobby, presence
from rooms.dbcall import db
from rooms.groups import channel_layer, forward, mods_group, personal_group, room_group
from rooms.journey import announce_async
from rooms.models import Participant, Room
from rooms.protocol import CloseCode


async def admit(room: Room, pid: str) -> Participant:
    """Let someone in from the waiting room, and tell everyone concerned."""
    target = await db(presence.move)(room, pid, lobby.Status.ADMITTED)
    layer = channel_layer()
    await layer.group_send(personal_group(pid), {"type": "control.admitted"})
    await layer.group_send(room_group(room.slug), forward({"type": "participant.joined",
                                                           "participant": target.as_dict()}))
    await layer.group_send(mods_group(room.slug), forward({"type": "lobby.left", "participant": target.as_dict()}))
    await announce_async(room, "admitted")
    return target


async def replaced(room: Room, old_pid: str, participant: dict) -> None:
    """The personal link continues on another device: the first one is told and closed
    (REPLACED); the room, or the agents watching the waiting room, see the old pid go (the
    new device arrives under its new pid when it connects)."""
    layer = channel_layer()
    await layer.group_send(personal_group(old_pid), {
        "type": "control.close", "message": {"type": "replaced"}, "code": CloseCode.REPLACED})
    gone = {**participant, "pid": old_pid, "online": False}
    if participant["status"] == lobby.Status.ADMITTED:
        await layer.group_send(room_group(room.slug), forward({"type": "participant.left", "participant": gone}))
    elif participant["status"] == lobby.Status.WAITING:
        await layer.group_send(mods_group(room.slug), forward({"type": "lobby.left", "participant": gone}))


async def lost(participant: Participant) -> None:
    """Its connection is gone (closed, or its process dead): the call shows "connection
    lost" at once; it keeps its place for the grace (rooms/presence.py)."""
    group = room_group if participant.status == lobby.Status.ADMITTED else mods_group  # waiting: the agents
    await channel_layer().group_send(group(participant.room.slug), forward({
        "type": "participant.updated", "participant": participant.as_dict()}))
    await announce_async(participant.room, "disconnected")


async def gone(participant: Participant) -> None:
    """The grace ended without it coming back (`participant` as it was before, its status
    now `left`): out of the tiles, the list and the count, or out of the waiting list."""
    left = {**participant.as_dict(), "status": lobby.Status.LEFT, "online": False}
    layer, slug = channel_layer(), participant.room.slug
    if participant.status == lobby.Status.ADMITTED:
        await layer.group_send(room_group(slug), forward({"type": "participant.left", "participant": left}))
        await layer.group_send(mods_group(slug), forward({"type": "participant.left", "participant": left}))
    else:
        await layer.group_send(mods_group(slug), forward({"type": "lobby.left", "participant": left}))
    await announce_async(participant.room, "left")


async def back(participant: Participant) -> None:
    """Taken for lost by a sweep while its socket was open after all: online again."""
    if participant.status == lobby.Status.ADMITTED:
        await channel_layer().group_send(room_group(participant.room.slug), forward({
            "type": "participant.updated", "participant": participant.as_dict()}))

