"""Ending for everyone ends: the appointment is done, the room closed, every link says so
(410), the day view shows it, and the structure's agents can reopen it within the window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from portal import citizen as citizen_links
from portal import dayview
from portal.models import Appointment, Status
from rooms import presence, tokens
from rooms.models import Participant, Room
from tests.rooms.conftest import Client, in_the_call, run

pytestmark = pytest.mark.django_db(transaction=True)


def _end_by_the_agent(room, moderator, citizen) -> None:
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        with guest.ignoring("participant.joined"):
            await agent.send({"type": "mod.end"})
            await guest.expect("ended")
            assert await guest.closed_with() == 4410
        await agent.expect("ended", ignore=["participant.joined"])
        # Coming back on the socket finds the room closed.
        again = await Client(room.slug, citizen.pid).connect()
        assert await again.closed_with() == 4410

    run(scenario())


def _paths(room) -> dict[str, str]:
    token = citizen_links.make_token(room.appointment)
    return {
        "personal link": f"/r/{room.slug}/?t={tokens.make(room)}",
        "join page": f"/r/{room.slug}/",
        "device test": f"/rdv/{token}/test/",
        "cancel or move": f"/rdv/{token}/",
    }


def test_ending_for_everyone_marks_the_appointment_done_and_every_link_says_ended(room, moderator, citizen):
    structure = room.appointment.structure
    structure.helpdesk_phone, structure.helpdesk_email = "+33123456789", "accueil@mairie-a.example.fr"
    structure.save()
    paths = _paths(room)
    _end_by_the_agent(room, moderator, citizen)

    appointment = Appointment.objects.get(pk=room.appointment.pk)
    assert appointment.status == Status.DONE
    assert Room.objects.get(pk=room.pk).state == Room.State.CLOSED
    assert set(Participant.objects.filter(room=room).values_list("status", flat=True)) == {"left"}
    for what, path in paths.items():
        response = HttpClient().get(path)
        text = response.content.decode()
        assert response.status_code == 410, what
        assert "Rendez-vous terminé" in text and "01 23 45 67 89" in text and "accueil@mairie-a" in text, what
        assert "Tout est prêt" not in text and 'id="gv-join-form"' not in text, what
        assert "no-cache" in response["Cache-Control"], what  # reopened later: no stale 410 kept
    # The personal link binds nothing now.
    assert HttpClient().post(paths["personal link"].split("?")[0], {"t": tokens.make(room)}).status_code == 410
    assert Participant.objects.filter(room=room).count() == 2
    # The day view: ended, no "Open the room", a reopen button.
    row = dayview.row(Appointment.objects.select_related("room").get(pk=appointment.pk))
    assert row.presence == dayview.ENDED and row.can_reopen


def test_day_view_row_shows_ended_and_reopen(client_of, room, moderator, citizen, alice):
    _end_by_the_agent(room, moderator, citizen)
    page = client_of(alice).get(f"/admin/day/{room.appointment.pk}/row/").content.decode()
    assert "Rouvrir la salle" in page and "Ouvrir la salle" not in page.replace("Rouvrir la salle", "")
    assert 'data-presence="ended"' in page


def test_reopen_by_the_structures_agent_and_links_work_again(client_of, room, moderator, citizen, alice):
    _end_by_the_agent(room, moderator, citizen)
    response = client_of(alice).post(f"/admin/day/{room.appointment.pk}/reopen/", {"to": "room"})
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/agent/"
    assert Appointment.objects.get(pk=room.appointment.pk).status == Status.SCHEDULED
    assert Room.objects.get(pk=room.pk).is_open
    assert HttpClient().get(f"/r/{room.slug}/").status_code == 200


def test_the_agent_room_page_of_an_ended_meeting_offers_to_reopen(client_of, room, moderator, citizen, alice, hugo):
    _end_by_the_agent(room, moderator, citizen)
    response = client_of(alice).get(f"/r/{room.slug}/agent/")
    assert response.status_code == 410 and response.context["can_reopen"]
    assert f'action="/admin/day/{room.appointment.pk}/reopen/"' in response.content.decode()
    # The helpdesk sees the page but may not reopen.
    response = client_of(hugo).get(f"/r/{room.slug}/agent/")
    assert response.status_code == 410 and not response.context["can_reopen"]


@pytest.mark.parametrize("who", ["bob", "hugo"])
def test_reopen_is_refused_outside_the_structures_agents(request, client_of, room, moderator, citizen, who):
    """Another structure's agent (isolation) and the helpdesk cannot reopen."""
    _end_by_the_agent(room, moderator, citizen)
    response = client_of(request.getfixturevalue(who)).post(f"/admin/day/{room.appointment.pk}/reopen/")
    assert response.status_code == 404
    assert Appointment.objects.get(pk=room.appointment.pk).status == Status.DONE
    assert not Room.objects.get(pk=room.pk).is_open


def test_reopen_is_refused_after_the_window(client_of, room, moderator, citizen, alice):
    _end_by_the_agent(room, moderator, citizen)
    appointment = Appointment.objects.get(pk=room.appointment.pk)
    Appointment.objects.filter(pk=appointment.pk).update(start=timezone.now() - dt.timedelta(hours=2))
    client_of(alice).post(f"/admin/day/{appointment.pk}/reopen/")
    assert Appointment.objects.get(pk=appointment.pk).status == Status.DONE


def test_end_meeting_outside_the_consumer_is_one_transaction(room, moderator):
    """presence.end_meeting alone (the consumer's call) ends the appointment too."""
    presence.end_meeting(room)
    assert Appointment.objects.get(pk=room.appointment.pk).status == Status.DONE
