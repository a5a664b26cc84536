"""The personal link: signed, bound to room and citizen, refused after cancel, bound to one
browser by a deliberate click (not the GET), taken over by another device."""

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from portal import booking
from rooms import tokens
from rooms.models import Participant
from tests import factories


def test_personal_link_get_binds_nothing_the_button_binds(client, room):
    """A cookie-less GET (mail scanner, SMS preview) shows the page: nothing is bound."""
    link = room.personal_url.removeprefix("https://visio.example.fr")
    scanner = HttpClient()
    for _ in range(2):
        response = scanner.get(link)
        assert response.status_code == 200 and response.context["personal_token"]
        assert 'id="gv-enter"' in response.content.decode() and 'id="gv-join-form"' not in response.content.decode()
    assert not Participant.objects.exists()
    # The person's browser: the page, then the button's POST binds it.
    page = client.get(link)
    assert not page.context["held_elsewhere"]
    response = client.post(f"/r/{room.slug}/", {"t": tokens.make(room)})
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    participant = Participant.objects.get()
    assert participant.status == "waiting" and participant.name == "Jeanne Dupont" and participant.token_id
    # The same browser coming back with the link lands in the same place, as the same person.
    again = client.get(link)
    assert again.status_code == 302 and Participant.objects.count() == 1


def test_the_binding_post_is_csrf_protected(room):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.get(f"/r/{room.slug}/?t={tokens.make(room)}")
    assert browser.post(f"/r/{room.slug}/", {"t": tokens.make(room)}).status_code == 403
    assert not Participant.objects.exists()


def test_a_second_device_takes_over_without_the_code(client, room):
    link = f"/r/{room.slug}/?t={tokens.make(room)}"
    client.post(f"/r/{room.slug}/", {"t": tokens.make(room)})
    first = Participant.objects.get()
    other = HttpClient()
    page = other.get(link)
    assert page.status_code == 200 and page.context["held_elsewhere"]
    assert "Continuer ici" in page.content.decode()
    assert other.post(f"/r/{room.slug}/", {"t": tokens.make(room)}).status_code == 302
    taken = Participant.objects.get()  # the same participant, under a new pid
    assert taken.pk == first.pk and taken.pid != first.pid and taken.status == first.status
    assert other.get(f"/r/{room.slug}/room/").status_code == 200
    # The first browser's session no longer names anyone: back to the join page.
    assert client.get(f"/r/{room.slug}/room/")["Location"] == f"/r/{room.slug}/"


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
    response = client.post(f"/r/{room.slug}/", {"t": token})
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
