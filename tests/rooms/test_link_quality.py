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


@db
def test_the_citizens_link_reaches_the_agents_day_view_when_it_changes(room, moderator, citizen, alice):
    """The day view (portal/day.js re-reads a row when told) shows the citizen's link in the
    call: told once per change, the agent's own link is not the citizen's."""
    import json

    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.test import Client as HttpClient
    from django.urls import reverse
    from django.utils import translation

    from rooms.models import Participant
    from tests import factories

    admitted(citizen)
    http = HttpClient()
    factories.signed_in(http, alice)
    cookie = f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"
    appointment = room.appointment

    def day_row() -> str:
        with translation.override("fr"):
            return http.get(reverse("day_row", args=[appointment.pk]), HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    async def scenario():
        from portal.asgi import application

        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        day = WebsocketCommunicator(application, "/ws/day/", headers=[
            (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())])
        assert (await day.connect(timeout=5))[0]
        assert 'data-link="' not in await sync_to_async(day_row)()  # no reading yet
        await guest.send({"type": "quality.set", "link": "poor"})
        event = json.loads(await day.receive_from(timeout=5))
        assert event == {"type": "day.changed", "appointment": appointment.pk, "what": "link"}
        row = await sync_to_async(day_row)()
        assert 'data-link="poor"' in row and "connexion faible" in row
        for client in (agent, guest):
            await client.expect("participant.link")  # the call sees it too
        # The same level again, or the agent's own link: the day view is not told.
        for sender, pid, level in ((guest, citizen.pid, "poor"), (agent, moderator.pid, "average")):
            await sender.send({"type": "quality.set", "link": level})
            for client in (agent, guest):
                assert (await client.expect("participant.link"))["pid"] == str(pid)
        for client in (agent, guest):
            await client.quiet()  # both handled
        links = await sync_to_async(lambda: dict(Participant.objects.values_list("role", "link")))()
        assert links == {"guest": "poor", "moderator": ""}  # only the citizen's is kept
        assert await day.receive_nothing(timeout=0.5)
        await guest.send({"type": "quality.set", "link": "good"})
        assert json.loads(await day.receive_from(timeout=5))["what"] == "link"
        assert 'data-link="good"' in await sync_to_async(day_row)()
        for client in (agent, guest):
            await client.close()
        await day.disconnect()

    run(scenario())
