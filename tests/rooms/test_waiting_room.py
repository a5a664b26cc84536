"""The waiting room that informs: the agent's message, being sent back, the queue."""

import pytest

from rooms import presence
from tests import factories
from tests.rooms.conftest import Client, admit, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_agent_messages_the_waiting_citizen_then_admits_sends_back_and_admits_again(room, moderator, citizen):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.expect("state")
        info = await guest.expect("lobby.info")
        assert info == {"type": "lobby.info", "agent_busy": False, "position": 0}
        await agent.expect("lobby.waiting")
        await agent.send({"type": "lobby.message", "pid": str(citizen.pid), "text": "Je termine un appel, 5 minutes"})
        message = await guest.expect("lobby.message")
        assert message["text"] == "Je termine un appel, 5 minutes" and message["from"] == "Alice Agent"
        await admit(agent, guest, citizen.pid)
        await agent.send({"type": "lobby.return", "pid": str(citizen.pid)})
        # Their own arrival and departure go through the room's group they join and leave:
        # either may reach them, at any point of what follows.
        with guest.ignoring("participant.joined", "participant.left"):
            await guest.expect("lobby.returned")
            await guest.expect("lobby.info")
            # The room sees them go, the moderators see them wait again.
            news = await agent.expect_each("participant.left", "lobby.waiting")
            assert news["lobby.waiting"]["participant"]["status"] == "waiting"
            # Back in the waiting room: no chat for them until admitted again.
            await guest.send({"type": "chat.send", "text": "allô ?"})
            assert (await guest.expect("error"))["code"] == "not_admitted"
            await admit(agent, guest, citizen.pid)
            await guest.send({"type": "chat.send", "text": "merci"})
            assert (await agent.expect("chat.message"))["text"] == "merci"
            assert (await guest.expect("chat.message"))["text"] == "merci"
        await agent.close()
        await guest.close()

    run(scenario())


def test_citizen_learns_the_agent_is_busy_and_their_place(room, moderator, citizen, structure_a, alice):
    from django.utils import timezone

    earlier = factories.appointment(structure_a, alice, start=timezone.now() - timezone.timedelta(minutes=20)).room
    presence.connect(presence.enter_as_member(earlier, alice, moderator=True))  # the agent is in another call
    before = presence.enter_as_guest(factories.appointment(structure_a, alice,
                                                           start=timezone.now() - timezone.timedelta(minutes=10)).room,
                                     "Quelqu'un avant")
    presence.connect(before)  # waiting for an earlier appointment of the same agent

    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.expect("state")
        info = await guest.expect("lobby.info")
        await guest.send({"type": "lobby.info"})
        again = await guest.expect("lobby.info")
        await guest.close()
        return info, again

    info, again = run(scenario())
    assert info["agent_busy"] is True and info["position"] == 2 and again == info


def test_only_moderators_message_or_send_back(room, moderator, citizen):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        await guest.send({"type": "lobby.return", "pid": str(moderator.pid)})
        assert (await guest.expect("error"))["code"] == "forbidden"
        await guest.send({"type": "lobby.message", "pid": str(moderator.pid), "text": "x"})
        assert (await guest.expect("error"))["code"] == "forbidden"
        await guest.close()

    run(scenario())


def test_an_admission_landing_while_the_citizen_connects_is_not_lost(room, moderator, citizen, monkeypatch):
    """The agent admits between the consumer's reading of the status and its subscription
    to the personal group (the race the load bench showed): the citizen still gets in."""
    from asgiref.sync import async_to_sync

    from rooms import actions, consumers

    real_connect = presence.connect

    def connect_then_admitted(participant, *args, **kwargs):
        connected = real_connect(participant, *args, **kwargs)
        if connected.pid == citizen.pid:
            async_to_sync(actions.admit)(room, str(citizen.pid))  # its control message reaches no one yet
        return connected

    monkeypatch.setattr(consumers.presence, "connect", connect_then_admitted)

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        state = await guest.expect("state")
        assert state["you"]["status"] == "admitted"
        with guest.ignoring("participant.joined"):
            await guest.send({"type": "chat.send", "text": "me voici"})
            with agent.ignoring("participant.joined", "lobby.left"):
                assert (await agent.expect("chat.message"))["text"] == "me voici"
            assert (await guest.expect("chat.message"))["text"] == "me voici"
        await guest.close()
        await agent.close()

    run(scenario())
