"""Booked at or after the start, through the agent's form: the agent must confirm; then
the link and code go at once (no confirmation), useful until the end of the appointment.
An appointment that would already be over is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from notifications.models import Kind, Notification, State
from portal.models import Appointment
from portal.timezones import utc_to_local
from tests import factories

ADD_URL = reverse("admin:portal_appointment_add")
PHONE = "+33612345678"


def form_data(structure, agent, start: dt.datetime, **overrides):
    local = utc_to_local(start, structure.time_zone)
    data = {
        "structure": structure.pk, "agent": agent.pk, "citizen_first_name": "Jeanne", "citizen_last_name": "Dupont",
        "citizen_email": "jeanne@example.org", "citizen_phone": "06 12 34 56 78", "preferred_channel": "sms",
        "start_0": local.strftime("%Y-%m-%d"), "start_1": local.strftime("%H:%M"), "duration_minutes": "30",
        "subject": "Carte grise",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def post(client_of, alice, django_capture_on_commit_callbacks):
    client = client_of(alice)

    def post(url, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return post


def errors(response) -> dict[str, str]:
    assert response.status_code == 200, "the form was accepted"
    return {field: " ".join(messages) for field, messages in response.context["adminform"].form.errors.items()}


def test_a_start_already_past_asks_the_agent_to_confirm(post, alice, structure_a):
    started = timezone.now() - dt.timedelta(minutes=2)
    problems = errors(post(ADD_URL, form_data(structure_a, alice, started)))
    assert "heure déjà passée" in problems["confirm_late"]
    assert "Cochez « Réserver quand même » pour envoyer tout de suite au citoyen le lien et le code" in (
        problems["confirm_late"])
    assert not Appointment.objects.exists() and not Notification.objects.exists()


def test_once_confirmed_the_link_and_code_go_at_once_valid_until_the_end(post, alice, structure_a, providers):
    twilio, smtp = providers
    started = timezone.now() - dt.timedelta(minutes=2)
    response = post(ADD_URL, form_data(structure_a, alice, started, confirm_late="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    appointment = Appointment.objects.get()
    (row,) = Notification.objects.filter(appointment=appointment)  # no confirmation, no planned reminder
    assert (row.kind, row.channel, row.status, row.requested_by) == (Kind.REMINDER, "sms", State.SENT, alice)
    (sms,) = twilio.sent_to(PHONE)
    assert appointment.room.password in sms.body and "https://visio.example.fr/" in sms.body
    assert smtp.to("jeanne@example.org") == []
    assert delivery.deadline(row) == appointment.end


def test_a_late_link_that_must_be_retried_is_still_sent_until_the_end(post, alice, structure_a, providers):
    started = timezone.now() - dt.timedelta(minutes=2)
    post(ADD_URL, form_data(structure_a, alice, started, confirm_late="on"))
    appointment = Appointment.objects.get()
    retry = Notification.objects.create(appointment=appointment, kind=Kind.REMINDER, channel="sms",
                                        due_at=timezone.now(), requested_by=alice)
    assert delivery.deliver([retry.pk], now=appointment.end - dt.timedelta(minutes=1)).sent == [retry.pk]
    late = Notification.objects.create(appointment=appointment, kind=Kind.REMINDER, channel="sms",
                                       due_at=timezone.now(), requested_by=alice)
    assert delivery.deliver([late.pk], now=appointment.end).voided == [late.pk]


@pytest.mark.parametrize("ago", [dt.timedelta(hours=3), dt.timedelta(minutes=30)])
def test_an_appointment_that_would_be_over_is_refused(post, alice, structure_a, ago):
    started = timezone.now() - ago
    problems = errors(post(ADD_URL, form_data(structure_a, alice, started, confirm_late="on")))
    assert "Ce rendez-vous serait déjà terminé" in problems["start"]
    assert "choisissez un horaire à venir" in problems["start"]
    assert not Appointment.objects.exists()


def test_moving_to_a_past_start_needs_the_same_confirmation(post, alice, structure_a, providers, book):
    twilio, _smtp = providers
    appointment = book(start=timezone.now() + dt.timedelta(days=2), preferred_channel="sms")
    twilio.messages.clear()  # the confirmation
    url = reverse("admin:portal_appointment_change", args=[appointment.pk])
    started = timezone.now() - dt.timedelta(minutes=5)
    assert "confirm_late" in errors(post(url, form_data(structure_a, alice, started)))
    response = post(url, form_data(structure_a, alice, started, confirm_late="on"))
    assert response.status_code == 302
    sent = Notification.objects.filter(appointment=appointment, kind=Kind.REMINDER, status=State.SENT)
    assert sent.count() == 1 and len(twilio.sent_to(PHONE)) == 1  # and nothing else
    assert not Notification.objects.filter(appointment=appointment, status=State.QUEUED).exists()


def test_editing_an_appointment_that_has_begun_needs_no_confirmation(post, alice, structure_a):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))
    Appointment.objects.filter(pk=appointment.pk).update(start=timezone.now() - dt.timedelta(minutes=5))
    appointment.refresh_from_db()
    url = reverse("admin:portal_appointment_change", args=[appointment.pk])
    data = form_data(structure_a, alice, appointment.start, subject="Carte grise (duplicata)")
    data["start_1"] = utc_to_local(appointment.start, structure_a.time_zone).strftime("%H:%M:%S.%f")
    response = post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    appointment.refresh_from_db()
    assert appointment.subject == "Carte grise (duplicata)"
