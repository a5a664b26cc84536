"""A second device takes the personal link over: the first socket is told and closed with
REPLACED (4409), the room sees the old pid go, the new device comes back where it was."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client as HttpClient

from rooms import tokens
from rooms.models import Participant
from rooms.protocol import CloseCode
from tests.rooms.conftest import Client, admit, run, seated

pytestmark = pytest.mark.django_db(transaction=True)


def _enter_by_link(room) -> tuple[HttpClient, str]:
    """A browser opens the personal link and presses the button: its client and its pid."""
    browser = HttpClient()
    assert browser.get(f"/r/{room.slug}/?t={tokens.make(room)}").status_code == 200
    assert browser.post(f"/r/{room.slug}/", {"t": tokens.make(room)}).status_code == 302
    return browser, str(Participant.objects.get(room=room, token_id__gt="").pid)


def test_second_device_takes_the_call_over_and_the_first_socket_is_closed(room, moderator):
    assert CloseCode.REPLACED == 4409

    async def scenario():
        _phone, phone_pid = await database_sync_to_async(_enter_by_link)(room)
        agent, phone = await seated(room.slug, moderator.pid, phone_pid)
        await admit(agent, phone, phone_pid)

        _laptop, laptop_pid = await database_sync_to_async(_enter_by_link)(room)
        assert laptop_pid != phone_pid
        with phone.ignoring("participant.joined", "participant.left"):
            await phone.expect("replaced")
            assert await phone.closed_with() == CloseCode.REPLACED
        left = await agent.expect("participant.left")
        assert left["participant"]["pid"] == phone_pid
        # The new device lands in the call (it was admitted), without the code or the lobby.
        laptop = await Client(room.slug, laptop_pid).connect()
        state = await laptop.expect("state")
        assert state["you"]["status"] == "admitted" and state["you"]["name"] == "Jeanne Dupont"
        assert (await agent.expect("participant.joined"))["participant"]["pid"] == laptop_pid
        # The first device's session names nobody now: its socket is refused like any stranger's.
        again = await Client(room.slug, phone_pid).connect()
        assert await again.closed_with() == CloseCode.NO_SESSION

    run(scenario())
    assert Participant.objects.filter(room=room, token_id__gt="").count() == 1


def test_rejoin_after_leaving_uses_the_same_session_without_the_code(client, room):
    """'Rejoindre à nouveau' leads to the room page of the same session: name kept, no code."""
    client.post(f"/r/{room.slug}/", {"t": tokens.make(room)})
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(status="left")  # hung up
    page = client.get(f"/r/{room.slug}/room/")
    assert page.status_code == 200
    assert page.context["client_config"]["pid"] == str(participant.pid)
    assert page.context["client_config"]["name"] == "Jeanne Dupont"
    assert f'id="gv-rejoin" href="/r/{room.slug}/room/"' in page.content.decode()
    assert Participant.objects.count() == 1
