"""Chat not lost (PROTOCOL.md "Messages not lost"): stored once per (room, id), sent again
by the browser after a reconnect and delivered once, replayed to a participant coming back,
never to someone waiting; purged with the structure's retention."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from portal import retention
from rooms import chat, presence
from rooms.models import ChatMessage
from tests import factories
from tests.rooms.conftest import Client, admit, in_the_call, run

pytestmark = pytest.mark.django_db(transaction=True)


async def back(room, pid) -> tuple[Client, dict, list[dict]]:
    """Reconnect `pid`: its state, and what was replayed (nothing if no replay came)."""
    client = await Client(room.slug, pid).connect()
    got = await client.expect_each("state", "participant.joined", ignore=("chat.replay",))
    await client.quiet()
    return client, got["state"], []


async def reconnect(room, pid) -> tuple[Client, list[dict]]:
    """Reconnect an admitted `pid` whose room has chat: state, the replay, its own arrival."""
    client = await Client(room.slug, pid).connect()
    got = await client.expect_each("state", "chat.replay", "participant.joined")
    return client, got["chat.replay"]["messages"]


def test_chat_sent_again_after_a_reconnect_is_delivered_once(room, moderator, citizen):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        with guest.ignoring("participant.joined"):
            await guest.send({"type": "chat.send", "text": "Bonjour", "id": "m-1"})
            for client in (agent, guest):
                message = await client.expect("chat.message")
                assert message["id"] == "m-1" and message["text"] == "Bonjour"
            # The echo was lost with the connection: the browser sends the message again.
            await guest.close()
        await agent.expect("participant.updated")  # offline
        guest, replayed = await reconnect(room, citizen.pid)
        assert [m["id"] for m in replayed] == ["m-1"]
        await agent.expect("participant.joined")
        await guest.send({"type": "chat.send", "text": "Bonjour", "id": "m-1"})
        assert (await guest.expect("chat.ack"))["id"] == "m-1"
        await agent.quiet()  # nothing reached the room the second time
        await guest.quiet()
        await agent.close()
        await guest.close()

    run(scenario())
    assert ChatMessage.objects.filter(room=room).count() == 1


def test_a_stored_message_whose_broadcast_failed_is_broadcast_when_sent_again(room, moderator, citizen):
    """Stored, then the channel layer failed before the broadcast (a Redis restart): the
    copy the browser sends again is broadcast, once."""
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        await database_sync_to_async(ChatMessage.objects.create)(
            room=room, client_id="lost-1", pid=citizen.pid, name=citizen.name, text="Allô ?")
        with guest.ignoring("participant.joined"):
            for _ in range(2):
                await guest.send({"type": "chat.send", "text": "Allô ?", "id": "lost-1"})
            assert (await agent.expect("chat.message"))["id"] == "lost-1"
            assert (await guest.expect_each("chat.message", "chat.ack"))["chat.ack"]["id"] == "lost-1"
            await agent.quiet()
            await guest.quiet()
        await agent.close()
        await guest.close()

    run(scenario())


def test_what_was_said_meanwhile_is_replayed_in_order(room, moderator, citizen):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        with guest.ignoring("participant.joined"):
            await guest.close()
        await agent.expect("participant.updated")
        for n in (1, 2, 3):
            await agent.send({"type": "chat.send", "text": f"message {n}", "id": f"a-{n}"})
            await agent.expect("chat.message")
        guest, replayed = await reconnect(room, citizen.pid)
        assert [(m["id"], m["text"], m["pid"], m["name"]) for m in replayed] == [
            (f"a-{n}", f"message {n}", str(moderator.pid), moderator.name) for n in (1, 2, 3)]
        await agent.close()
        await guest.close()

    run(scenario())


def test_a_waiting_guest_gets_no_replay_and_an_admitted_one_nothing_said_before(room, moderator, citizen):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "chat.send", "text": "Note avant l'arrivée", "id": "before"})
        await agent.expect("chat.message")
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()  # state, then lobby.info: nothing else (quiet below)
        await guest.quiet()
        await guest.close()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        await guest.quiet()
        await agent.expect("lobby.waiting", ignore=("participant.updated", "lobby.left"))
        await agent.expect("lobby.waiting", ignore=("participant.updated", "lobby.left"))
        await admit(agent, guest, citizen.pid)
        with guest.ignoring("participant.joined"):
            await guest.quiet()  # admitted: no replay of what was said before
            await guest.close()
        # Reconnecting admitted: still nothing from before the admission.
        await agent.expect("participant.updated")
        guest, state, _ = await back(room, citizen.pid)
        assert state["you"]["status"] == "admitted"
        await guest.close()
        await agent.close()

    run(scenario())
    assert chat.replay(str(citizen.pid)) == []
    assert [m["id"] for m in chat.replay(str(moderator.pid))] == ["before"]


@pytest.mark.parametrize("bad", ["", "x" * 65, "a b", "é", "../x", 12])
def test_a_bad_message_id_is_refused(room, moderator, bad):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "chat.send", "text": "bonjour", "id": bad})
        error = await agent.expect("error")
        assert error["code"] in ("bad_field", "too_long") and error["ref"] == "chat.send"
        await agent.close()

    run(scenario())
    assert not ChatMessage.objects.exists()


def test_chat_is_purged_with_the_structure_retention(structure_a, structure_b, alice):
    now = timezone.now()
    structure_a.retention_days, structure_b.retention_days = 30, 365
    structure_a.save()
    structure_b.save()
    bob = factories.member(structure_b)

    def said(structure, agent, days_ago: int) -> str:
        room = factories.appointment(structure, agent, start=now - dt.timedelta(days=days_ago)).room
        sender = presence.enter_as_member(room, agent, moderator=True)
        message, _ = chat.record(str(sender.pid), None, "bonjour")
        return message.client_id

    old_a, recent_a = said(structure_a, alice, 31), said(structure_a, alice, 29)
    old_b = said(structure_b, bob, 31)
    assert retention.run(now, kinds=["chat"]).purged == {"chat": 1}  # the portal's purge (portal/retention.py)
    assert set(ChatMessage.objects.values_list("client_id", flat=True)) == {recent_a, old_b}
    assert old_a not in set(ChatMessage.objects.values_list("client_id", flat=True))


def test_a_message_whose_broadcast_fails_is_answered_server_error_and_broadcast_when_sent_again(
        room, moderator, citizen, monkeypatch, caplog):
    from rooms.consumers import RoomConsumer

    real = RoomConsumer._broadcast
    failures = []

    async def broadcast(self, group, message):
        if message.get("type") == "chat.message" and not failures:
            failures.append(message["id"])
            raise ConnectionError("Redis is restarting")
        await real(self, group, message)

    monkeypatch.setattr(RoomConsumer, "_broadcast", broadcast)

    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        with guest.ignoring("participant.joined"):
            await guest.send({"type": "chat.send", "text": "Vous m'entendez ?", "id": "r-1"})
            error = await guest.expect("error")
            assert (error["code"], error["ref"]) == ("server_error", "chat.send")
            await agent.quiet()
            await guest.send({"type": "chat.send", "text": "Vous m'entendez ?", "id": "r-1"})
            assert (await agent.expect("chat.message"))["id"] == "r-1"
            assert (await guest.expect("chat.message"))["id"] == "r-1"
            await agent.quiet()
        await agent.close()
        await guest.close()

    with caplog.at_level(logging.WARNING, logger="rooms"):
        run(scenario())
    assert failures == ["r-1"]
    assert ChatMessage.objects.get(client_id="r-1").delivered is True
    # Redis out of reach is an outage, not a bug: one line, no traceback.
    [line] = [r for r in caplog.records if "not handled, Redis unreachable" in r.getMessage()]
    assert line.levelno == logging.WARNING and line.exc_info is None


def test_a_new_message_is_stored_in_one_statement_and_a_copy_is_not_stored_again(room, moderator):
    """On every chat's path: the ORM's get_or_create took five round trips (sender, lookup,
    a transaction around the insert); the sender's room and name are read inside the insert."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as new:
        message, fresh = chat.record(str(moderator.pid), "c-1", "bonjour")
    assert fresh and len(new.captured_queries) == 1
    stored = ChatMessage.objects.get(client_id="c-1")
    assert (stored.pk, stored.room_id, stored.name, stored.text, str(stored.pid), stored.delivered) == (
        message.pk, room.pk, moderator.name, "bonjour", str(moderator.pid), True)
    assert message.as_message() == stored.as_message()
    again, fresh = chat.record(str(moderator.pid), "c-1", "bonjour")
    assert not fresh and again.pk == message.pk and ChatMessage.objects.count() == 1
    with pytest.raises(type(moderator).DoesNotExist):
        chat.record("00000000-0000-4000-8000-000000000000", "c-2", "personne")
