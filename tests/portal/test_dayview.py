"""The agents' day view: live status of each citizen, scoped, updated over the WebSocket."""

import datetime as dt
import json

import pytest
import time_machine
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone, translation

from portal import dayview
from rooms import presence
from rooms.models import Participant
from tests import factories
from tests.rooms.conftest import Client, run


@pytest.fixture
def today(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=10),
                                 citizen_last_name="Martin")


def test_row_follows_the_citizens_journey(client, today):
    assert dayview.row(today).presence == "" and dayview.row(today).link_opened is None
    client.get(f"/r/{today.room.slug}/")
    client.post(f"/r/{today.room.slug}/", {"name": "Jeanne Martin", "password": today.room.password})
    guest = presence.connect(Participant.objects.get(room=today.room))
    response = client.post(f"/r/{today.room.slug}/device-check/", json.dumps({"ok": False,
                           "problems": ["no_camera", "made_up"]}), content_type="application/json")
    assert response.status_code == 200  # from the room page, in the citizen's own session
    today.room.refresh_from_db()
    row = dayview.row(today)
    assert row.link_opened is not None and row.device_ok is False
    assert row.device_problems == ["no_camera"]
    with translation.override("en"):
        assert row.problem_labels == ["no camera"]
    with translation.override("fr"):
        assert row.problem_labels == ["pas de caméra"]
    assert row.presence == "waiting" and row.waiting_since is not None and row.guest_pid == str(guest.pid)
    presence.move(today.room, str(guest.pid), "admitted")
    assert dayview.row(today).presence == "in_call"
    presence.move(today.room, str(guest.pid), "left")
    assert dayview.row(today).presence == "left"


def test_row_reads_live_presence_not_a_flag_a_crash_left(today):
    """A citizen in the call whose process died (lease run out, not swept yet) is not shown
    in the call; within the grace after a lost connection they still are."""
    from rooms.models import Participant

    guest = presence.connect(presence.enter_as_guest(today.room, "Jeanne Martin"), process="web1/x",
                             channel="specific.x!1")
    presence.move(today.room, str(guest.pid), "admitted")
    assert dayview.row(today).presence == "in_call"
    Participant.objects.filter(pk=guest.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert Participant.objects.get(pk=guest.pk).online is True  # the ghost's flag
    assert dayview.row(today).presence == "left"
    presence.connect(Participant.objects.get(pk=guest.pk), process="web1/x", channel="specific.x!2")
    presence.disconnect(str(guest.pid), "specific.x!2")  # a lost connection: the grace runs
    assert dayview.row(today).presence == "in_call"


def test_device_check_needs_the_citizens_own_session(client, client_of, today, alice):
    """The slug alone (the join page, a scanner running it, anyone with the link) or an
    agent's session cannot fake the day view's device result."""
    report = json.dumps({"ok": True, "problems": []})
    client.get(f"/r/{today.room.slug}/")  # the join page: a session, no participant
    assert client.post(f"/r/{today.room.slug}/device-check/", report,
                       content_type="application/json").status_code == 403
    client_of(alice).get(f"/r/{today.room.slug}/agent/")  # the agent's own participant is no citizen
    assert client.post(f"/r/{today.room.slug}/device-check/", report,
                       content_type="application/json").status_code == 403
    today.room.refresh_from_db()
    assert today.room.device_ok is None


def test_device_check_rejects_malformed_reports(client, today):
    client.post(f"/r/{today.room.slug}/", {"name": "Jeanne Martin", "password": today.room.password})
    for body in ["nope", json.dumps({"ok": "yes"}), json.dumps({"problems": []}), json.dumps({"ok": True,
                                                                                            "problems": "x"})]:
        response = client.post(f"/r/{today.room.slug}/device-check/", body, content_type="application/json")
        assert response.status_code == 400
    today.room.refresh_from_db()
    assert today.room.device_ok is None


def test_day_page_scoping(client_of, alice, hugo, bob, structure_a, today):
    colleague = factories.member(structure_a)
    theirs = factories.appointment(structure_a, colleague, start=timezone.now() + dt.timedelta(minutes=20),
                                   citizen_last_name="Collegue")
    page = client_of(alice).get(reverse("day")).content.decode()
    assert "Martin" in page and "Collegue" not in page  # an agent: its own appointments
    page = client_of(hugo).get(reverse("day")).content.decode()
    assert "Martin" in page and "Collegue" in page  # helpdesk: the whole structure
    assert "06 12 34 56 78" in page  # with the number to call the citizen
    client = client_of(bob)
    assert "Martin" not in client.get(reverse("day")).content.decode()
    assert client.get(reverse("day_row", args=[today.pk])).status_code == 404
    assert client.post(reverse("day_admit", args=[theirs.pk])).status_code == 404


def test_live_update_and_admit_from_the_day_view(transactional_db, structure_a, alice):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=10))
    guest = presence.enter_as_guest(appointment.room, "Jeanne Dupont")
    http = HttpClient()
    factories.signed_in(http, alice)
    cookie = f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario():
        from portal.asgi import application

        day = WebsocketCommunicator(application, "/ws/day/", headers=[
            (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())])
        assert (await day.connect(timeout=5))[0]
        citizen = await Client(appointment.room.slug, guest.pid).connect()
        event = json.loads(await day.receive_from(timeout=5))
        assert event == {"type": "day.changed", "appointment": appointment.pk, "what": "connected"}
        from asgiref.sync import sync_to_async

        row = await sync_to_async(lambda: http.get(reverse("day_row", args=[appointment.pk])).content.decode())()
        assert 'data-presence="waiting"' in row and reverse("day_admit", args=[appointment.pk]) in row
        response = await sync_to_async(http.post)(reverse("day_admit", args=[appointment.pk]))
        assert response.status_code == 302
        await citizen.expect("state")
        await citizen.expect("lobby.info")
        await citizen.expect("lobby.admitted")
        assert json.loads(await day.receive_from(timeout=5))["what"] == "admitted"
        await citizen.close()
        await day.disconnect()

    run(scenario())


def test_day_socket_needs_login(db):
    async def scenario():
        from portal.asgi import application

        day = WebsocketCommunicator(application, "/ws/day/", headers=[(b"origin", b"http://testserver")])
        connected, code = await day.connect(timeout=5)
        return connected, code

    assert run(scenario()) == (False, 4401)


def test_a_citizen_on_the_telephone_is_shown_so(client_of, alice, today):
    from rooms.phone import calls

    phone = Participant.objects.create(room=today.room, name=calls.phone_name("78"), by_phone=True, video=False)
    presence.connect(phone, process="web1/x", channel="specific.x!1")
    presence.move(today.room, str(phone.pid), "admitted")
    row = dayview.row(today)
    assert row.presence == "in_call" and row.by_phone
    with translation.override("fr"):
        page = client_of(alice).get(reverse("day_row", args=[today.pk]), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "(au téléphone)" in page  # French first


@pytest.mark.parametrize("now_paris, start_paris, shown", [
    ("2026-11-28 23:55", "2026-11-29 00:05", True),   # about to start, tomorrow by the date
    ("2026-11-29 00:10", "2026-11-28 23:30", True),   # still going on, yesterday by the date
    ("2026-11-28 23:55", "2026-11-29 10:00", False),  # tomorrow's day
    ("2026-11-29 09:00", "2026-11-28 23:30", False),  # yesterday's, long over
    ("2026-03-29 01:55", "2026-03-29 03:05", True),   # across the spring DST change (02:00 → 03:00)
])
def test_the_day_view_keeps_the_hours_around_now(structure_a, alice, now_paris, start_paris, shown):
    paris = timezone.get_current_timezone()
    at = dt.datetime.fromisoformat(now_paris).replace(tzinfo=paris)
    start = dt.datetime.fromisoformat(start_paris).replace(tzinfo=paris)
    with time_machine.travel(at, tick=False):
        appointment = factories.appointment(structure_a, alice, start=start)
        assert dayview.appointments_for(alice).filter(pk=appointment.pk).exists() is shown
