"""Each participant's link quality (quality.set `link`) reaches everyone in the call, and
only them (issue 25: the agent learns the citizen's link is bad)."""

from __future__ import annotations

import pytest

from rooms import presence
from tests.rooms.conftest import admitted, run, seated

db = pytest.mark.django_db(transaction=True)


@db
def test_a_participants_link_reaches_the_call_and_audio_only_is_untouched(room, moderator, citizen):
    admitted(citizen)

    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        await guest.send({"type": "quality.set", "link": "poor", "auto": True})
        expected = {"type": "participant.link", "pid": str(citizen.pid), "link": "poor", "auto": True}
        for client in (agent, guest):
            assert await client.expect("participant.link") == expected
        await guest.send({"type": "quality.set", "link": "good"})
        for client in (agent, guest):
            assert (await client.expect("participant.link"))["auto"] is False
        # Only the levels the indicator knows.
        await guest.send({"type": "quality.set", "link": "great"})
        error = await guest.expect("error")
        assert error["code"] == "bad_field" and error["ref"] == "quality.set"
        await agent.quiet()  # no participant.updated: audio_only was not sent
        for client in (agent, guest):
            await client.close()

    run(scenario())
    citizen.refresh_from_db()
    assert citizen.audio_only is False


@db
def test_a_waiting_guests_link_reaches_nobody(room, moderator, citizen):
    paul = admitted(presence.enter_as_guest(room, "Paul Durand"))

    async def scenario():
        agent, in_call, guest = await seated(room.slug, moderator.pid, paul.pid, citizen.pid)
        await guest.send({"type": "quality.set", "link": "poor"})
        await guest.quiet()
        await in_call.quiet()
        await agent.quiet()
        for client in (agent, in_call, guest):
            await client.close()

    run(scenario())
