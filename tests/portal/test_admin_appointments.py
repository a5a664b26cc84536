"""The back-office appointment form and list, driven through the real admin views."""

import datetime as dt

import pytest
from django.urls import reverse

from portal.models import Appointment, Status
from rooms.models import Room
from tests import factories

ADD_URL = reverse("admin:portal_appointment_add")
LIST_URL = reverse("admin:portal_appointment_changelist")


def form_data(structure, agent, **overrides):
    data = {
        "structure": structure.pk,
        "agent": agent.pk,
        "citizen_first_name": "Jeanne",
        "citizen_last_name": "Dupont",
        "citizen_email": "jeanne@example.org",
        "citizen_phone": "06 12 34 56 78",
        "preferred_channel": "sms",
        "start_0": "2030-12-03",
        "start_1": "10:00",
        "duration_minutes": "30",
        "subject": "Carte grise",
    }
    data.update(overrides)
    return data


def test_agent_books_an_appointment_and_its_room_is_created(client_of, alice, structure_a):
    client = client_of(alice)
    response = client.post(ADD_URL, form_data(structure_a, alice))
    assert response.status_code == 302, response.context["adminform"].form.errors
    appointment = Appointment.objects.get()
    assert appointment.citizen_phone == "+33612345678"  # stored as E.164
    assert appointment.start == dt.datetime(2030, 12, 3, 9, 0, tzinfo=dt.UTC)  # 10:00 Paris in winter
    assert appointment.created_by == alice and appointment.status == Status.SCHEDULED
    room = Room.objects.get(appointment=appointment)
    assert room.is_open and len(room.slug) == 19
    # The password is never in clear in the database, but can be read back with the key.
    stored = Room.objects.filter(pk=room.pk).values_list("password_encrypted", flat=True).get()
    assert room.password not in stored and room.password.isdigit()
    assert room.check_password(room.password) and not room.check_password("00000000")


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [("2030-03-30", 9), ("2030-03-31", 8), ("2030-04-01", 8), ("2030-10-26", 8), ("2030-10-27", 9), ("2030-10-28", 9)],
)
def test_ten_oclock_around_dst_changes_through_the_form(client_of, alice, structure_a, day, utc_hour):
    response = client_of(alice).post(ADD_URL, form_data(structure_a, alice, start_0=day))
    assert response.status_code == 302
    start = Appointment.objects.get().start
    assert start == dt.datetime.fromisoformat(day).replace(hour=utc_hour, tzinfo=dt.UTC)


def test_start_is_read_in_the_structures_zone(client_of, structure_b, bob):
    # A Guadeloupe mobile, typed nationally, is read in Guadeloupe (tests/portal/test_phone_territories.py).
    response = client_of(bob).post(ADD_URL, form_data(structure_b, bob, citizen_phone="0690 00 12 34"))
    assert response.status_code == 302
    assert Appointment.objects.get().start == dt.datetime(2030, 12, 3, 14, 0, tzinfo=dt.UTC)  # Guadeloupe UTC-4
    assert Appointment.objects.get().citizen_phone == "+590690001234"


def test_missing_hour_gets_a_clear_error_and_nothing_is_saved(client_of, alice, structure_a):
    response = client_of(alice).post(ADD_URL, form_data(structure_a, alice, start_0="2030-03-31", start_1="02:30"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "start" in errors and "02:30" in errors["start"][0]
    assert not Appointment.objects.exists() and not Room.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "needle"),
    [
        ({"citizen_phone": "12345"}, "citizen_phone", "12345"),
        ({"citizen_phone": "01 42 76 40 40"}, "citizen_phone", "mobile"),
        ({"citizen_email": "pas-un-email"}, "citizen_email", ""),
        ({"preferred_channel": "sms", "citizen_phone": ""}, "citizen_phone", "SMS"),
        ({"preferred_channel": "email", "citizen_email": ""}, "citizen_email", "email"),
    ],
)
def test_contact_validation_errors(client_of, alice, structure_a, overrides, field, needle):
    client = client_of(alice)
    response = client.post(ADD_URL, form_data(structure_a, alice, **overrides), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert needle in " ".join(errors[field])
    assert not Appointment.objects.exists()


def test_errors_are_in_french_by_default(client_of, alice, structure_a):
    response = client_of(alice).post(ADD_URL, form_data(structure_a, alice, citizen_phone=""))
    assert "Un numéro de mobile est nécessaire" in " ".join(response.context["adminform"].form.errors["citizen_phone"])


def test_agent_of_another_structure_cannot_be_assigned(client_of, alice, bob, structure_a):
    response = client_of(alice).post(ADD_URL, form_data(structure_a, bob))
    assert response.status_code == 200
    assert "agent" in response.context["adminform"].form.errors
    assert not Appointment.objects.exists()


def test_cancel_action_closes_the_room(client_of, alice, structure_a):
    appointment = factories.appointment(structure_a, alice)
    response = client_of(alice).post(
        LIST_URL + "?day=all", {"action": "cancel_selected", "_selected_action": [appointment.pk]}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.room.state == Room.State.CLOSED and appointment.room.closed_at is not None


def test_mark_done_and_no_show(client_of, alice, structure_a):
    done = factories.appointment(structure_a, alice)
    absent = factories.appointment(structure_a, alice)
    client = client_of(alice)
    client.post(LIST_URL + "?day=all", {"action": "mark_done", "_selected_action": [done.pk]})
    client.post(LIST_URL + "?day=all", {"action": "mark_no_show", "_selected_action": [absent.pk]})
    assert Appointment.objects.get(pk=done.pk).status == Status.DONE
    assert Appointment.objects.get(pk=absent.pk).status == Status.NO_SHOW


def test_list_defaults_to_today_and_shows_link_and_status(client_of, alice, structure_a):
    from django.utils import timezone

    # Noon of today, Paris time (in five minutes would be tomorrow's list just before midnight).
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    today = factories.appointment(structure_a, alice, start=noon, citizen_last_name="Aujourdhui")
    factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=3), citizen_last_name="Plustard")
    client = client_of(alice)
    page = client.get(LIST_URL).content.decode()
    assert "Aujourdhui" in page and "Plustard" not in page
    assert today.room.join_url in page and "gv-status--scheduled" in page and "programmé" in page
    page_all = client.get(LIST_URL + "?day=all").content.decode()
    assert "Plustard" in page_all


def test_search_by_citizen_name(client_of, alice, structure_a):
    factories.appointment(structure_a, alice, citizen_first_name="Marie", citizen_last_name="Curie")
    factories.appointment(structure_a, alice, citizen_first_name="Jean", citizen_last_name="Moulin")
    client = client_of(alice)
    for term in ("curie", "Marie Curie", "Curie Marie"):
        page = client.get(LIST_URL, {"day": "all", "q": term}).content.decode()
        assert "Curie" in page and "Moulin" not in page, term


def test_change_form_shows_start_in_local_time_and_open_room_button(client_of, alice, structure_a):
    appointment = factories.appointment(structure_a, alice, start=dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC))
    page = client_of(alice).get(reverse("admin:portal_appointment_change", args=[appointment.pk])).content.decode()
    assert 'value="10:00:00"' in page or 'value="10:00"' in page  # 08:00 UTC is 10:00 in Paris in July
    assert reverse("rooms:agent_room", args=[appointment.room.slug]) in page
    assert appointment.room.password in page


def test_moving_an_appointment_keeps_its_room(client_of, alice, structure_a):
    appointment = factories.appointment(structure_a, alice)
    slug = appointment.room.slug
    url = reverse("admin:portal_appointment_change", args=[appointment.pk])
    response = client_of(alice).post(url, form_data(structure_a, alice, start_0="2030-12-04", start_1="15:30"))
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == dt.datetime(2030, 12, 4, 14, 30, tzinfo=dt.UTC)
    assert appointment.room.slug == slug
