"""The room's chat, kept in the database: delivered once per message id, replayed to a
participant who (re)connects, purged with the structure's retention (portal/retention.py).

A browser gives each message an id and sends it again after a reconnect until the server
acknowledges it (rooms/static/rooms/js/outbox.js): the (room, id) pair is unique, so a
message sent twice is stored and broadcast once. A message whose broadcast did not happen
(the channel layer was down) is broadcast when it is sent again (`delivered`).
Plain synchronous functions: the consumer calls them through `database_sync_to_async`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import connection
from django.utils import timezone

from rooms.models import ChatMessage, Participant


def record(pid: str, client_id: str | None, text: str) -> tuple[ChatMessage, bool]:
    """Store what participant `pid` said under `client_id` (a new id when the browser gave
    none), as delivered: the caller broadcasts it now and calls `undelivered` if that fails
    (one database call per message, not two). Returns the message and whether it is to be
    broadcast (False: a copy of one already delivered).

    A new message is one statement (the sender's room and name read inside it; the ORM's
    get_or_create was five round trips: the sender, the lookup, a transaction around the
    insert); a copy sent again after a reconnect reads the stored one."""
    client_id = client_id or uuid.uuid4().hex
    at = timezone.now()
    chat, people = ChatMessage._meta, Participant._meta
    pid_value = people.get_field("pid").get_db_prep_value(uuid.UUID(pid), connection)
    q = connection.ops.quote_name  # every name below is the models' own
    columns = ", ".join(q(c) for c in ("room_id", "client_id", "pid", "name", "text", "at", "delivered"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(chat.db_table)} ({columns}) "  # noqa: S608
            f"SELECT p.{q('room_id')}, %s, p.{q('pid')}, p.{q('name')}, %s, %s, %s FROM {q(people.db_table)} p "
            f"WHERE p.{q('pid')} = %s ON CONFLICT ({q('room_id')}, {q('client_id')}) DO NOTHING "
            f"RETURNING {q('id')}, {q('room_id')}, {q('name')}",
            [client_id, text, chat.get_field("at").get_db_prep_value(at, connection),
             chat.get_field("delivered").get_db_prep_value(True, connection), pid_value],
        )
        row = cursor.fetchone()
    if row is not None:
        return ChatMessage(pk=row[0], room_id=row[1], client_id=client_id, pid=uuid.UUID(pid), name=row[2],
                           text=text, at=at, delivered=True), True
    room_id = Participant.objects.values_list("room_id", flat=True).get(pid=pid)  # unknown sender: DoesNotExist
    message = ChatMessage.objects.get(room_id=room_id, client_id=client_id)
    if message.delivered:
        return message, False
    ChatMessage.objects.filter(pk=message.pk).update(delivered=True)  # its broadcast failed: again now
    return message, True


def undelivered(message: ChatMessage) -> None:
    """The broadcast failed (the channel layer is down): the copy sent again will be broadcast."""
    ChatMessage.objects.filter(pk=message.pk).update(delivered=False)


def replay(pid: str) -> list[dict]:
    """What participant `pid` is sent when it (re)connects admitted: the room's last messages
    since it was first admitted (nothing said before, nor while it waited), oldest first."""
    participant = Participant.objects.values("room_id", "admitted_at").filter(pid=pid).first()
    if participant is None:
        return []
    return replay_since(participant["room_id"], participant["admitted_at"])


def replay_since(room_id: int, admitted_at: dt.datetime | None) -> list[dict]:
    """`replay` for a participant already read (the handshake has it): one query."""
    if admitted_at is None:
        return []
    recent = (ChatMessage.objects.filter(room_id=room_id, at__gte=admitted_at)
              .order_by("-at", "-pk")[: settings.ROOM_CHAT_REPLAY])
    return [message.as_message() for message in reversed(recent)]
