"""The citizen's link: time window, password, brute-force limits; the agent's entry."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from portal import booking
from rooms.models import JoinAttempt, Participant
from tests import factories


def post(client, room, password, name="Jeanne Dupont", address="203.0.113.7"):
    return client.post(f"/r/{room.slug}/", {"name": name, "password": password}, REMOTE_ADDR=address,
                       HTTP_ACCEPT_LANGUAGE="en")


def test_right_password_enters_the_lobby(client, room):
    response = post(client, room, " " + room.password[:4] + " " + room.password[4:])  # spaces are forgiven
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    participant = Participant.objects.get(room=room)
    assert participant.status == "waiting" and participant.role == "guest" and participant.name == "Jeanne Dupont"
    assert client.session[f"gv.room.{room.slug}"] == str(participant.pid)


@pytest.mark.parametrize("name", ["Camille Martin (agent)", "Assistance France Services", "interprète Ana"])
def test_a_name_cannot_claim_a_role(client, room, name):
    response = post(client, room, room.password, name=name)
    assert response.status_code == 200
    assert "reserved for the service's staff" in " ".join(response.context["form"].errors["name"])
    assert not Participant.objects.exists()


def test_wrong_password_has_a_clear_error_and_is_logged(client, room, caplog):
    response = post(client, room, "12345678" if room.password != "12345678" else "87654321")
    assert response.status_code == 200
    assert "not right" in " ".join(response.context["form"].errors["password"])
    assert not Participant.objects.exists()
    assert JoinAttempt.objects.get().outcome == "wrong"
    assert "wrong room password" in caplog.text and room.slug in caplog.text


@override_settings(JOIN_MAX_FAILURES_PER_ADDRESS=3, JOIN_MAX_FAILURES_PER_ROOM=5, JOIN_LOCKOUT_MINUTES=15)
def test_lockout_per_address_not_per_room(client, room):
    """The address is locked out; the room never is (tests/rooms/test_join_limits.py has the rest)."""
    wrong = "00000000" if room.password != "00000000" else "11111111"
    for _ in range(2):
        assert post(client, room, wrong).status_code == 200
    locked = post(client, room, wrong)
    assert locked.status_code == 429 and locked.context["locked_out"] and locked.context["retry_after_minutes"] == 15
    assert locked.context["lock_reason"] == "address_locked" and int(locked["Retry-After"]) > 14 * 60
    # Even the right password is refused while locked out, from that address...
    assert post(client, room, room.password).status_code == 429
    assert not Participant.objects.exists()
    # ...but other addresses still get in, past the room's own count (5 failures), which
    # only slows down addresses that already failed.
    assert post(client, room, wrong, address="198.51.100.1").status_code == 200
    slowed = post(client, room, wrong, address="198.51.100.2")  # the room's 5th wrong code
    assert slowed.status_code == 429 and slowed.context["lock_reason"] == "room_slowed"
    assert post(client, room, room.password, address="198.51.100.99").status_code == 302
    # The lockout ends by itself.
    JoinAttempt.objects.update(at=timezone.now() - dt.timedelta(minutes=16))
    assert post(client, room, room.password).status_code == 302


@pytest.mark.parametrize(("minutes", "phase"), [(120, "too_early"), (5, "open"), (-90, "over")])
def test_time_window(client, structure_a, alice, minutes, phase):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=minutes))
    response = client.get(f"/r/{appointment.room.slug}/")
    assert response.status_code == 200 and response.context["phase"] == phase
    if phase != "open":  # outside the window the password form is not even offered
        assert post(client, appointment.room, appointment.room.password).status_code == 200
        assert not Participant.objects.exists()


def test_cancelled_link_is_gone_with_helpdesk_contact(client, room):
    booking.cancel(room.appointment)
    response = client.get(f"/r/{room.slug}/")
    assert response.status_code == 410 and response.context["phase"] == "cancelled"
    assert "02 38 00 00 00" in response.content.decode()  # the helpdesk phone, readable
    assert post(client, room, room.password).status_code == 410


def test_unknown_slug_is_404(client, db):
    assert client.get("/r/aaaa-bbbb-cccc-dddd/").status_code == 404


def test_room_page_needs_the_join_session(client, room):
    response = client.get(f"/r/{room.slug}/room/")
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/"


def test_agent_enters_directly_as_moderator(client, room, alice, hugo):
    factories.signed_in(client, alice)
    response = client.get(f"/r/{room.slug}/agent/")
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    mine = Participant.objects.get(user=alice)
    assert mine.role == "moderator" and mine.status == "admitted"
    client.get(f"/r/{room.slug}/agent/")  # coming back keeps the same participant
    assert Participant.objects.filter(user=alice).count() == 1
    factories.signed_in(client, hugo)  # helpdesk: a third party, through the waiting room, shown as such
    client.get(f"/r/{room.slug}/agent/")
    helpdesk = Participant.objects.get(user=hugo)
    assert helpdesk.role == "helpdesk" and helpdesk.status == "waiting"


def test_agent_of_another_structure_gets_404(client, room, bob):
    factories.signed_in(client, bob)
    assert client.get(f"/r/{room.slug}/agent/").status_code == 404
    assert not Participant.objects.exists()


def test_agent_entry_needs_login(client, room):
    response = client.get(f"/r/{room.slug}/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")
