"""Cancel or ask for another time from the link in the messages."""

import datetime as dt

import pytest
from django.utils import timezone

from portal import citizen, dayview
from portal.models import ChangeRequest, Slot, Status
from rooms.models import Room
from tests import factories


@pytest.fixture
def tomorrow(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))


def url(appointment):
    return f"/rdv/{citizen.make_token(appointment)}/"


def test_citizen_cancels_and_the_room_closes(client, tomorrow):
    page = client.get(url(tomorrow))
    assert page.status_code == 200 and page.context["can_cancel"]
    response = client.post(url(tomorrow), {"action": "cancel"})
    assert response.context["done"] == "cancelled"
    tomorrow.refresh_from_db()
    assert tomorrow.status == Status.CANCELLED and tomorrow.room.state == Room.State.CLOSED
    request = ChangeRequest.objects.get()
    assert request.kind == "cancel" and dayview.row(tomorrow).requests == [request]


def test_cancel_closes_at_the_structures_deadline(client, structure_a, alice):
    soon = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(hours=1))
    page = client.get(url(soon))
    assert page.context["can_cancel"] is False and page.context["can_move"] is True  # 2 h deadline
    client.post(url(soon), {"action": "cancel"})
    soon.refresh_from_db()
    assert soon.status == Status.SCHEDULED and not ChangeRequest.objects.exists()


def test_ask_for_an_open_slot_or_with_a_message(client, tomorrow, alice, structure_a):
    slot = Slot.objects.create(structure=structure_a, agent=alice, start=timezone.now() + dt.timedelta(days=2))
    page = client.get(url(tomorrow))
    assert list(page.context["form"].fields["slot"].queryset) == [slot]
    response = client.post(url(tomorrow), {"action": "move", "slot": slot.pk, "message": ""})
    assert response.context["done"] == "moved"
    request = ChangeRequest.objects.get()
    slot.refresh_from_db()
    assert request.kind == "move" and slot.taken_by == request
    assert dayview.row(tomorrow).requests == [request]
    # The slot is gone for everyone else; a message alone still works.
    other = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))
    assert list(client.get(url(other)).context["form"].fields["slot"].queryset) == []
    response = client.post(url(other), {"action": "move", "message": "Plutôt mardi matin"})
    assert response.context["done"] == "moved" and ChangeRequest.objects.filter(message="Plutôt mardi matin")


def test_empty_move_request_gets_a_clear_error(client, tomorrow):
    response = client.post(url(tomorrow), {"action": "move", "message": "  "}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["done"] is None
    assert "Choose a time" in " ".join(response.context["form"].non_field_errors())
    assert not ChangeRequest.objects.exists()


def test_tampered_or_stale_links_are_refused(client, tomorrow):
    token = citizen.make_token(tomorrow)
    assert client.get(f"/rdv/{token[:-2]}xx/").status_code == 404
    tomorrow.citizen_last_name = "Autre"
    tomorrow.save()
    assert client.get(f"/rdv/{token}/").status_code == 404


def test_change_requests_are_limited_per_link(client, tomorrow, settings, structure_a, alice):
    """20 requests from one link flooded the agent: CITIZEN_MAX_CHANGE_REQUESTS a day, then a
    clear page (429) and nothing stored; another citizen's link is not concerned."""
    settings.CITIZEN_MAX_CHANGE_REQUESTS = 3
    for n in range(3):
        response = client.post(url(tomorrow), {"action": "move", "message": f"Plutôt le {n + 10}"})
        assert response.status_code == 200 and response.context["done"] == "moved"
    refused = client.post(url(tomorrow), {"action": "move", "message": "Et encore"})
    assert refused.status_code == 429 and refused.context["too_many"]
    assert 'id="gv-too-many-requests"' in refused.content.decode()
    assert ChangeRequest.objects.filter(appointment=tomorrow).count() == 3
    page = client.get(url(tomorrow))  # the form is no longer offered, the page says why
    assert page.context["too_many"] and 'name="message"' not in page.content.decode()
    # A day later, the link may ask again.
    ChangeRequest.objects.update(created_at=timezone.now() - dt.timedelta(days=1, minutes=1))
    assert client.post(url(tomorrow), {"action": "move", "message": "Lundi"}).context["done"] == "moved"
    other = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))
    assert client.post(url(other), {"action": "move", "message": "Mardi"}).context["done"] == "moved"
