"""Calendar and email done properly, read from what the local SMTP server received: the
raw MIME message parsed by the email library (strict policy) and the invitation parsed by
icalendar."""

from __future__ import annotations

import datetime as dt
import email.policy
from email.message import EmailMessage
from email.parser import BytesParser

import icalendar
import pytest
from django.utils import timezone

from portal import booking
from portal.models import Channel

EMAIL = "jeanne.dupont@example.org"


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.strict).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def invitation(message: EmailMessage) -> tuple[icalendar.Calendar, EmailMessage]:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert isinstance(part, EmailMessage)
    return icalendar.Calendar.from_ical(part.get_content()), part


def event_of(calendar: icalendar.Calendar) -> icalendar.Event:
    (event,) = calendar.walk("VEVENT")
    return event


@pytest.fixture
def booked(providers, book, structure_a):
    _twilio, smtp = providers
    structure_a.helpdesk_email = "accueil@mairie-a.example.fr"
    structure_a.save()
    appointment = book(preferred_channel=Channel.EMAIL, start=timezone.now() + dt.timedelta(days=3))
    return appointment, smtp


def test_confirmation_is_text_and_html_with_an_invitation_from_the_structure(booked, settings):
    appointment, smtp = booked
    (mail,) = smtp.to(EMAIL)
    message = parsed(mail.raw)
    assert message.get_content_type() == "multipart/mixed"
    (alternative,) = [p for p in message.iter_parts() if p.get_content_type() == "multipart/alternative"]
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html"]  # the last one is preferred by readers that can
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Bonjour Jeanne Dupont," in text
    assert '<html lang="fr">' in html and "<title>Mairie A : rendez-vous en visio le " in html
    manage = next(word for word in text.split() if "/rdv/" in word and not word.endswith("/test/"))
    assert f'<a href="{manage}"' in html  # the same links, clickable
    assert "<img" not in html and "<script" not in html and "src=" not in html  # nothing remote
    assert "#000091" in html  # DSFR's "bleu France"
    # The structure's name, the deployment's address; replies go to the structure.
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Mairie A", "ne-pas-repondre@localhost")
    assert [a.addr_spec for a in message["Reply-To"].addresses] == ["accueil@mairie-a.example.fr"]
    assert message["Auto-Submitted"] == "auto-generated"
    calendar, part = invitation(message)
    assert part.get_param("method") == "REQUEST" and part.get_filename() == "rendez-vous.ics"
    assert calendar["METHOD"] == "REQUEST"
    event = event_of(calendar)
    assert str(event["ATTENDEE"]) == f"mailto:{EMAIL}" and event["ATTENDEE"].params["CN"] == "Jeanne Dupont"
    assert str(event["ORGANIZER"]) == "mailto:accueil@mairie-a.example.fr"
    assert event["ORGANIZER"].params["CN"] == "Mairie A"
    assert event["SEQUENCE"] == 0 and event["UID"] == f"appointment-{appointment.pk}@visio.example.fr"
    assert event.decoded("DTSTART") == appointment.start.replace(microsecond=0)


def test_every_change_raises_the_sequence_by_one_and_cancel_keeps_the_uid(booked, django_capture_on_commit_callbacks):
    appointment, smtp = booked
    for minutes in (30, 60, 90):  # three quick moves
        previous = appointment.start
        appointment.start = previous + dt.timedelta(minutes=minutes)
        with django_capture_on_commit_callbacks(execute=True):
            booking.update(appointment, previous_start=previous)
    with django_capture_on_commit_callbacks(execute=True):
        booking.cancel(appointment)
    mails = [parsed(m.raw) for m in smtp.to(EMAIL)]
    assert len(mails) == 5
    events = [event_of(invitation(m)[0]) for m in mails]
    assert [e["SEQUENCE"] for e in events] == [0, 1, 2, 3, 4]
    assert len({str(e["UID"]) for e in events}) == 1
    calendar, part = invitation(mails[-1])
    assert calendar["METHOD"] == "CANCEL" and part.get_param("method") == "CANCEL"
    assert event_of(calendar)["STATUS"] == "CANCELLED"
    assert events[3].decoded("DTSTART") == appointment.start.replace(microsecond=0)  # the last move


def test_structures_sender_name_and_html_escaping(providers, book, structure_a):
    _twilio, smtp = providers
    structure_a.name = 'Mairie <b>"A"</b> & Cie'
    structure_a.email_sender_name = "Accueil de la mairie d’Orléans"
    structure_a.helpdesk_email = ""
    structure_a.save()
    book(preferred_channel=Channel.EMAIL, citizen_first_name="<script>alert(1)</script>")
    (mail,) = smtp.to(EMAIL)
    message = parsed(mail.raw)
    (sender,) = message["From"].addresses
    assert sender.display_name == "Accueil de la mairie d’Orléans"
    assert message["Reply-To"] is None  # no contact: replies go nowhere rather than to a wrong place
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    event = event_of(invitation(message)[0])
    assert str(event["ORGANIZER"]) == "mailto:ne-pas-repondre@localhost"  # the deployment's address
