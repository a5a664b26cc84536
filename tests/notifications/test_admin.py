"""The back-office: messages inline on the appointment, "resend the link" for agents and
the helpdesk of the structure only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Kind, Notification, State
from portal.models import Channel
from tests import factories

LIST_URL = reverse("admin:portal_appointment_changelist") + "?day=all"


@pytest.fixture
def appointment(structure_a, alice):
    return factories.appointment(
        structure_a, alice, preferred_channel=Channel.SMS, start=timezone.now() + dt.timedelta(hours=1)
    )


def change_url(appointment) -> str:
    return reverse("admin:portal_appointment_change", args=[appointment.pk])


def resend(client, *appointments):
    data = {"action": "resend_link", "_selected_action": [a.pk for a in appointments]}
    return client.post(LIST_URL, data, follow=True)


@pytest.mark.parametrize("persona", ["alice", "hugo", "maude"])
def test_messages_are_shown_on_the_appointment(client_of, appointment, persona, request):
    Notification.objects.create(
        appointment=appointment,
        kind=Kind.REMINDER,
        channel=Channel.SMS,
        due_at=timezone.now(),
        status=State.FAILED,
        last_error="Twilio 400 (21211): The 'To' number is not a valid phone number.",
    )
    response = client_of(request.getfixturevalue(persona)).get(change_url(appointment))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="notifications-heading"' in page  # the inline
    assert "21211" in page  # the agent sees why it failed


def test_agent_can_still_save_the_appointment_with_the_inline(client_of, alice, appointment):
    from tests.portal.test_admin_appointments import form_data

    data = form_data(appointment.structure, alice, subject="Nouveau sujet", start_0="2027-01-05")
    response = client_of(alice).post(change_url(appointment), data)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.subject == "Nouveau sujet"


@pytest.mark.parametrize("persona", ["alice", "hugo"])
def test_agent_and_helpdesk_resend_the_link(
    client_of, appointment, persona, request, providers, django_capture_on_commit_callbacks
):
    twilio, _smtp = providers
    user = request.getfixturevalue(persona)
    with django_capture_on_commit_callbacks(execute=True):
        response = resend(client_of(user), appointment)
    assert response.status_code == 200
    resent = Notification.objects.get(appointment=appointment, requested_by=user)
    assert resent.kind == Kind.REMINDER and resent.status == State.SENT
    (sms,) = [m for m in twilio.sent_to("+33612345678") if "Code" in m.body]
    assert appointment.room.password in sms.body


def test_resend_is_offered_to_the_helpdesk(client_of, hugo, appointment):
    response = client_of(hugo).get(LIST_URL)
    assert response.status_code == 200
    assert 'value="resend_link"' in response.content.decode()
    assert 'value="cancel_selected"' not in response.content.decode()  # helpdesk changes nothing


def test_another_structure_cannot_resend(client_of, bob, appointment, providers):
    twilio, _smtp = providers
    resend(client_of(bob), appointment)
    assert not Notification.objects.filter(requested_by=bob).exists() and twilio.messages == []


def test_no_resend_for_a_cancelled_appointment(client_of, alice, appointment, providers):
    from portal import booking

    booking.cancel(appointment)
    response = resend(client_of(alice), appointment)
    assert not Notification.objects.filter(requested_by=alice).exists()
    assert "No link sent" in response.content.decode() or "Aucun lien" in response.content.decode()
