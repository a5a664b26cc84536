"""A corrected phone or email after booking: the confirmation (and the reminder if it had
gone) reaches the new address once; nothing is sent again to the unchanged address, whose
links keep working; links sent to the wrong address stop working."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from notifications import delivery
from notifications.models import Kind, Notification, State
from portal import booking
from portal.models import Channel
from tests.notifications.links import long_link

PHONE, WRONG_PHONE = "+33612345678", "+33612345687"
EMAIL, WRONG_EMAIL = "jeanne.dupont@example.org", "jeanne.dupond@example.org"


@pytest.fixture
def correct(django_capture_on_commit_callbacks):
    def correct(appointment, **fields):
        for name, value in fields.items():
            setattr(appointment, name, value)
        with django_capture_on_commit_callbacks(execute=True):
            booking.update(appointment, previous_start=appointment.start)

    return correct


def works(client, link: str) -> bool:
    """The citizen's cancel/move page opens (404 "this link does not work" otherwise)."""
    return client.get(link.removeprefix("https://visio.example.fr")).status_code == 200


def test_corrected_phone_gets_the_confirmation_once_and_the_wrong_link_dies(providers, book, correct, client):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_phone=WRONG_PHONE)
    (wrong,) = twilio.sent_to(WRONG_PHONE)
    wrong_link = long_link(wrong.body)
    assert works(client, wrong_link)

    correct(appointment, citizen_phone=PHONE)
    (right,) = twilio.sent_to(PHONE)
    assert "RDV visio confirmé" in right.body and right.body != wrong.body
    assert works(client, long_link(right.body))
    assert not works(client, wrong_link)  # the stranger's link is revoked
    assert len(twilio.sent_to(WRONG_PHONE)) == 1 and smtp.to(EMAIL) == []  # nothing else, nowhere else
    old, new = Notification.objects.filter(appointment=appointment, kind=Kind.CONFIRMATION).order_by("id")
    assert (old.recipient, new.recipient, new.status) == (WRONG_PHONE, PHONE, State.SENT)

    correct(appointment, subject="Passeport")  # another edit: no contact change, nothing sent
    correct(appointment, citizen_phone=PHONE)
    assert len(twilio.sent_to(PHONE)) == 1


def test_corrected_email_leaves_the_sms_alone(providers, book, correct):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL, citizen_email=WRONG_EMAIL)
    (wrong,) = smtp.to(WRONG_EMAIL)
    correct(appointment, citizen_email=EMAIL)
    (right,) = smtp.to(EMAIL)
    assert right.message["Subject"] == wrong.message["Subject"]
    assert [p.get_content_type() for p in right.message.walk()].count("text/calendar") == 1  # with the invitation
    assert twilio.sent_to(PHONE) == [] and len(smtp.to(WRONG_EMAIL)) == 1


def test_a_changed_phone_resends_nothing_by_email_and_the_email_links_keep_working(providers, book, correct, client):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL)
    (mail,) = smtp.to(EMAIL)
    text = mail.message.get_body(("plain",)).get_content()
    manage = next(word for word in text.split() if "/rdv/" in word and not word.endswith("/test/"))
    correct(appointment, citizen_phone="+33698765432")
    assert len(smtp.to(EMAIL)) == 1 and twilio.messages == []  # no SMS had gone: none owed
    assert works(client, manage)  # bound to the email, unchanged


def test_a_reminder_already_sent_is_sent_again_to_the_new_number(providers, book, correct):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_phone=WRONG_PHONE,
                       start=timezone.now() + dt.timedelta(minutes=10))
    delivery.deliver(Notification.objects.filter(appointment=appointment).values_list("id", flat=True))
    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER)
    assert reminder.status == State.SENT and reminder.recipient == WRONG_PHONE
    correct(appointment, citizen_phone=PHONE)
    bodies = [s.body for s in twilio.sent_to(PHONE)]
    assert len(bodies) == 2 and any("confirmé" in b for b in bodies) and any("Code :" in b for b in bodies)
    (new_reminder,) = [b for b in bodies if "Code :" in b]
    assert long_link(new_reminder) == appointment.room.personal_url_for("sms")


def test_no_resend_for_a_cancelled_appointment(providers, book, correct, django_capture_on_commit_callbacks):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_phone=WRONG_PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        booking.cancel(appointment)
    correct(appointment, citizen_phone=PHONE)
    assert twilio.sent_to(PHONE) == []
