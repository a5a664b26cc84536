"""Room tools through the real consumer: emoji reactions (admitted senders only, a fixed
set, rate-limited: tests/rooms/test_ratelimit.py) and the agent lowering one hand or all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rooms.models import Participant
from rooms.protocol import REACTIONS
from tests.rooms.conftest import admitted, run, seated

ROOMS = Path(__file__).resolve().parents[2] / "rooms"


def test_the_browser_offers_exactly_the_reactions_the_server_accepts():
    source = (ROOMS / "static/rooms/js/reactions.js").read_text()
    block = re.search(r"export const REACTIONS = Object\.freeze\(\[(.*?)\]\);", source, re.DOTALL)
    assert block, "reactions.js no longer declares REACTIONS as this test reads it"
    assert tuple(re.findall(r'name: "(\w+)"', block.group(1))) == REACTIONS


db = pytest.mark.django_db(transaction=True)


def hand_of(participant: Participant) -> bool:
    participant.refresh_from_db()
    return participant.hand


@db
def test_a_reaction_reaches_everyone_in_the_call_with_its_sender(room, moderator, citizen, in_call):
    admitted(citizen)

    async def scenario():
        agent, paul = await seated(room.slug, moderator.pid, in_call.pid)
        await paul.send({"type": "reaction.send", "reaction": "thumbs_up"})
        for client in (agent, paul):  # the sender's own page shows it on its tile too
            assert await client.expect("reaction") == {"type": "reaction", "pid": str(in_call.pid),
                                                       "reaction": "thumbs_up"}
        # Nothing free-form: a name outside the set is refused and reaches nobody.
        await paul.send({"type": "reaction.send", "reaction": "<img src=x>"})
        error = await paul.expect("error")
        assert error["code"] == "bad_field" and error["ref"] == "reaction.send"
        await agent.quiet()
        for client in (agent, paul):
            await client.close()

    run(scenario())


@db
def test_a_waiting_guest_reaction_never_reaches_the_call(room, moderator, citizen, in_call):
    async def scenario():
        agent, paul, guest = await seated(room.slug, moderator.pid, in_call.pid, citizen.pid)
        await guest.send({"type": "reaction.send", "reaction": "clap"})
        error = await guest.expect("error")
        assert error["code"] == "not_admitted" and error["ref"] == "reaction.send"
        await paul.quiet()  # nothing reached the call, nor the agents, before these sync points
        await agent.quiet()
        for client in (agent, paul, guest):
            await client.close()

    run(scenario())


@db
def test_the_agent_lowers_one_hand(room, moderator, citizen, in_call):
    admitted(citizen, hand=True)
    admitted(in_call, hand=True)

    async def scenario():
        agent, guest, paul = await seated(room.slug, moderator.pid, citizen.pid, in_call.pid)
        await agent.send({"type": "mod.lower_hand", "pid": str(citizen.pid)})
        # The owner is told who lowered it (its button follows); the call sees the tile change.
        news = await guest.expect_each("hand.lowered", "participant.updated")
        assert news["hand.lowered"]["by"] == str(moderator.pid)
        assert news["participant.updated"]["participant"]["pid"] == str(citizen.pid)
        assert news["participant.updated"]["participant"]["hand"] is False
        for client in (agent, paul):
            update = await client.expect("participant.updated")
            assert update["participant"]["pid"] == str(citizen.pid) and not update["participant"]["hand"]
        await paul.quiet()  # Paul's own hand was not touched: no hand.lowered for him
        # A hand already down: nothing to lower, nobody is told.
        await agent.send({"type": "mod.lower_hand", "pid": str(citizen.pid)})
        await agent.quiet()
        await guest.quiet()
        # Someone not in the call: a clear error.
        await agent.send({"type": "mod.lower_hand", "pid": "00000000-0000-4000-8000-000000000000"})
        assert (await agent.expect("error"))["code"] == "unknown_participant"
        for client in (agent, guest, paul):
            await client.close()

    run(scenario())
    assert hand_of(citizen) is False and hand_of(in_call) is True


@db
def test_the_agent_lowers_all_hands(room, moderator, citizen, in_call):
    admitted(citizen, hand=True)
    admitted(in_call, hand=True)

    async def scenario():
        agent, guest, paul = await seated(room.slug, moderator.pid, citizen.pid, in_call.pid)
        await agent.send({"type": "mod.lower_hands"})
        for client, me in ((guest, citizen), (paul, in_call)):
            got = [await client.recv() for _ in range(3)]  # its hand.lowered, two updates: any order
            assert [m["by"] for m in got if m["type"] == "hand.lowered"] == [str(moderator.pid)]
            lowered = {m["participant"]["pid"] for m in got if m["type"] == "participant.updated"
                       and m["participant"]["hand"] is False}
            assert lowered == {str(citizen.pid), str(in_call.pid)}, (me, got)
        updates = [await agent.expect("participant.updated") for _ in range(2)]
        assert {u["participant"]["pid"] for u in updates} == {str(citizen.pid), str(in_call.pid)}
        for client in (agent, guest, paul):
            await client.quiet()
        for client in (agent, guest, paul):
            await client.close()

    run(scenario())
    assert hand_of(citizen) is False and hand_of(in_call) is False


@db
@pytest.mark.parametrize("kind", ["mod.lower_hand", "mod.lower_hands"])
def test_a_guest_cannot_lower_hands(room, moderator, citizen, in_call, kind):
    admitted(citizen)
    admitted(in_call, hand=True)

    async def scenario():
        agent, paul, guest = await seated(room.slug, moderator.pid, in_call.pid, citizen.pid)
        message = {"type": kind, "pid": str(in_call.pid)} if kind == "mod.lower_hand" else {"type": kind}
        await guest.send(message)
        error = await guest.expect("error")
        assert error == {"type": "error", "code": "forbidden", "message": "Only the agent can do this.", "ref": kind}
        await paul.quiet()  # nothing reached the hand's owner or the call
        await agent.quiet()
        for client in (agent, paul, guest):
            await client.close()

    run(scenario())
    assert hand_of(in_call) is True
