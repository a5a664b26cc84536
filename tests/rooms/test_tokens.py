"""The personal link: signed, bound to room and citizen, refused after cancel, one browser."""

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from portal import booking
from rooms import tokens
from rooms.models import Participant
from tests import factories


def test_personal_link_enters_the_lobby_without_typing(client, room):
    response = client.get(room.personal_url.removeprefix("https://visio.example.fr"))
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    participant = Participant.objects.get()
    assert participant.status == "waiting" and participant.name == "Jeanne Dupont" and participant.token_id
    # The same browser coming back with the link lands in the same place, as the same person.
    again = client.get(f"/r/{room.slug}/?t={tokens.make(room)}")
    assert again.status_code == 302 and Participant.objects.count() == 1


def test_a_second_browser_with_the_same_link_must_use_the_code(client, room):
    link = f"/r/{room.slug}/?t={tokens.make(room)}"
    assert client.get(link).status_code == 302
    other = HttpClient()
    response = other.get(link)
    assert response.status_code == 200 and response.context["token_refused"]
    assert Participant.objects.count() == 1
    # Once the first browser has hung up, the link works again.
    Participant.objects.update(status="left")
    assert other.get(link).status_code == 302


@pytest.mark.parametrize("tamper", ["altered", "other_room", "other_citizen", "garbage"])
def test_bad_tokens_are_refused(client, room, structure_a, alice, tamper):
    token = tokens.make(room)
    if tamper == "altered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif tamper == "other_room":
        token = tokens.make(factories.appointment(structure_a, alice).room)
    elif tamper == "other_citizen":
        room.appointment.citizen_email = "quelquun.dautre@example.org"
        room.appointment.save()
    else:
        token = "not-a-token"
    response = client.get(f"/r/{room.slug}/?t={token}")
    assert response.status_code == 200 and response.context["token_refused"]
    assert not Participant.objects.exists()


def test_token_refused_after_cancel_and_outside_the_window(client, structure_a, alice):
    late = factories.appointment(structure_a, alice, start=timezone.now() - dt.timedelta(hours=3))
    response = client.get(f"/r/{late.room.slug}/?t={tokens.make(late.room)}")
    assert response.context["phase"] == "over"
    early = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=2))
    assert client.get(f"/r/{early.room.slug}/?t={tokens.make(early.room)}").context["phase"] == "too_early"
    soon = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5))
    token = tokens.make(soon.room)
    booking.cancel(soon)
    response = client.get(f"/r/{soon.room.slug}/?t={token}")
    assert response.status_code == 410 and response.context["phase"] == "cancelled"
    assert not Participant.objects.exists()


def test_token_is_signed_with_the_secret_key(room, settings):
    token = tokens.make(room)
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789abcdefghijklmnop"
    with pytest.raises(tokens.BadToken):
        tokens.check(token, room)
