"""Rendering: French by default, English available, SMS within 2 segments, .ics in the
structure's zone (DST included), data read at send time."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
import time_machine

from notifications import messages, sms
from notifications.models import Kind, Notification
from portal.models import Channel
from tests import factories
from tests.notifications.links import long_link


def notification(appointment, kind=Kind.REMINDER, channel=Channel.SMS, **fields) -> Notification:
    return factories.notification(appointment, kind, channel, **fields)


@pytest.fixture
def winter(structure_a, alice):
    # 10:00 in Paris on 1 Dec 2026 (UTC+1), seen a week before: its date is fixed (DST and
    # wording depend on it), and on the real clock it has passed (its links expired: CI red).
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start - dt.timedelta(days=7)):
        yield factories.appointment(structure_a, alice, start=start)


def test_reminder_sms_in_french_with_link_password_structure_and_helpdesk(winter):
    message = messages.render(notification(winter))
    room = winter.room
    assert message.to == "+33612345678"
    assert message.body.startswith("Mairie A : votre RDV visio commence à 10h00.")
    # The personal link (code filled in), as a short link: 1 segment.
    assert long_link(message.body) == room.personal_url_for("sms") and f"Code : {room.password}" in message.body
    assert "Aide : 02 38 00 00 00" in message.body  # helpdesk, national format
    assert sms.segments(message.body) == 1 and sms.is_gsm(message.body)


def test_reminder_email_in_english_when_asked(winter):
    message = messages.render(notification(winter, channel=Channel.EMAIL, language="en"))
    assert message.subject == "Mairie A: your video appointment starts at 10:00"
    assert "Hello Jeanne Dupont," in message.body and winter.room.password in message.body
    assert message.to == "jeanne.dupont@example.org" and not message.attachments


def test_unknown_language_falls_back_to_french(winter):
    message = messages.render(notification(winter, language="de"))
    assert "votre RDV visio" in message.body


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_sms_fits_two_gsm_segments_even_with_long_names(structure_a, alice, kind, language):
    structure_a.name = "Communauté d'agglomération du Pays de Saint-Étienne — maison France Services île" * 2
    structure_a.save()
    appointment = factories.appointment(
        structure_a, alice, citizen_first_name="Çédric-Ælfrida-Łukasz", citizen_last_name="Œuvre-Ñandú 😀"
    )
    message = messages.render(notification(appointment, kind=kind, language=language))
    assert sms.is_gsm(message.body), message.body
    assert sms.segments(message.body) <= 2, (len(message.body), message.body)
    assert message.body.startswith(("Communaut", "Agglo du Pays de St-"))  # the structure's name, shortened


def test_sms_segment_arithmetic():
    assert sms.segments("a" * 160) == 1 and sms.segments("a" * 161) == 2 and sms.segments("a" * 306) == 2
    assert sms.segments("a" * 307) == 3
    assert sms.segments("€" * 80) == 1 and sms.segments("€" * 81) == 2  # extension chars cost 2
    assert sms.segments("ê" * 70) == 1 and sms.segments("ê" * 71) == 2  # UCS-2
    assert sms.to_gsm("Fête à l’île “Ça”") == 'Fete à l\'ile "Ça"'


def test_email_text_is_not_html_escaped(structure_a, alice):
    structure_a.name = "Mairie d'Orléans & co"
    structure_a.save()
    appointment = factories.appointment(structure_a, alice)
    message = messages.render(notification(appointment, kind=Kind.CONFIRMATION, channel=Channel.EMAIL))
    assert "Mairie d'Orléans & co" in message.body and "&#x27;" not in message.body and "&amp;" not in message.body


@pytest.mark.parametrize(
    ("utc_start", "zone", "local"),
    [
        (dt.datetime(2026, 3, 28, 9, 0, tzinfo=dt.UTC), "Europe/Paris", dt.datetime(2026, 3, 28, 10, 0)),  # CET
        (dt.datetime(2026, 3, 29, 8, 0, tzinfo=dt.UTC), "Europe/Paris", dt.datetime(2026, 3, 29, 10, 0)),  # CEST
        (dt.datetime(2026, 10, 25, 9, 0, tzinfo=dt.UTC), "Europe/Paris", dt.datetime(2026, 10, 25, 10, 0)),
        (dt.datetime(2026, 3, 29, 14, 0, tzinfo=dt.UTC), "America/Guadeloupe", dt.datetime(2026, 3, 29, 10, 0)),
        (dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC), "Indian/Reunion", dt.datetime(2026, 3, 29, 10, 0)),
    ],
)
def test_confirmation_ics_is_in_the_structures_zone_across_dst(alice, utc_start, zone, local):
    structure = factories.StructureFactory(name="Mairie Z", time_zone=zone)
    factories.Membership.objects.create(user=alice, structure=structure, role="agent")
    appointment = factories.appointment(structure, alice, start=utc_start)
    message = messages.render(notification(appointment, kind=Kind.CONFIRMATION, channel=Channel.EMAIL))
    assert "à 10h00" in message.body and "à 10h00" in message.subject
    (attachment,) = message.attachments
    assert attachment.mimetype == "text/calendar" and attachment.filename.endswith(".ics")
    calendar = icalendar.Calendar.from_ical(attachment.content)
    assert str(calendar["method"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start.replace(tzinfo=None) == local and start == utc_start  # wall clock and instant
    assert event["dtstart"].params["TZID"] == zone
    assert {str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")} == {zone}
    assert event.decoded("dtend") - start == dt.timedelta(minutes=30)
    assert str(event["uid"]) == f"appointment-{appointment.pk}@visio.example.fr"
    assert appointment.room.join_url in str(event["location"])
    assert appointment.room.password not in attachment.content.decode()  # the code comes with the reminder


def test_cancellation_ics_cancels_the_same_event_with_a_higher_sequence(winter):
    confirmation = messages.render(notification(winter, kind=Kind.CONFIRMATION, channel=Channel.EMAIL))
    from portal import booking

    booking.cancel(winter)
    cancel = messages.render(notification(winter, kind=Kind.CANCELLED, channel=Channel.EMAIL))
    first = icalendar.Calendar.from_ical(confirmation.attachments[0].content).walk("VEVENT")[0]
    then = icalendar.Calendar.from_ical(cancel.attachments[0].content)
    (event,) = then.walk("VEVENT")
    assert str(then["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert event["uid"] == first["uid"] and int(event["sequence"]) > int(first["sequence"])
    assert "annulé" in cancel.subject


def test_rendering_reads_the_latest_data(winter):
    row = notification(winter)
    winter.start = winter.start + dt.timedelta(hours=2)
    winter.save()
    fresh = Notification.objects.select_related("appointment__structure", "appointment__room").get(pk=row.pk)
    assert "commence à 12h00" in messages.render(fresh).body


def test_templates_are_editable_django_templates(winter, settings, tmp_path):
    override = tmp_path / "notifications" / "fr"
    override.mkdir(parents=True)
    (override / "reminder_sms.txt").write_text("{{ structure_name }} vous attend : {{ join_url }} code {{ password }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    messages._engine.cache_clear()
    try:
        body = messages.render(notification(winter)).body
    finally:
        messages._engine.cache_clear()
    # The reminder carries the personal link (the room's link with its signed token), short.
    assert body.startswith("Mairie A vous attend : https://visio.example.fr/j/")
    assert long_link(body) == winter.room.personal_url_for("sms")
    assert body.endswith(f" code {winter.room.password}")


def test_reminder_link_enters_without_code_and_confirmation_links_to_cancel_or_move(winter, client):
    import re

    from rooms import tokens

    reminder = messages.render(notification(winter)).body
    link = re.search(r"https://\S+\?t=(\S+)", long_link(reminder))
    assert link.group(0).startswith(winter.room.join_url) and tokens.check(link.group(1), winter.room)
    confirmation = messages.render(notification(winter, kind="confirmation")).body
    manage = long_link(confirmation)
    assert re.fullmatch(r"https://\S+/rdv/\S+/", manage)
    page = client.get(manage.removeprefix("https://visio.example.fr"))
    assert page.status_code == 200 and page.context["appointment"] == winter and page.context["can_cancel"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_reminder_gives_the_phone_path_only_when_the_structure_has_a_number(winter, structure_a, language):
    code = winter.room.password
    grouped = f"{code[:4]} {code[4:]}#"
    for channel in (Channel.SMS, Channel.EMAIL):
        without = messages.render(notification(winter, channel=channel, language=language))
        assert grouped not in without.body and "internet" not in without.body.lower()
    structure_a.voice_number = "+33180000000"
    structure_a.save()
    winter.refresh_from_db()
    sms_message = messages.render(notification(winter, language=language))
    email = messages.render(notification(winter, channel=Channel.EMAIL, language=language))
    assert f"01 80 00 00 00 {'puis' if language == 'fr' else 'then'} {grouped}" in sms_message.body
    assert sms.is_gsm(sms_message.body) and sms.segments(sms_message.body) <= 2
    assert ("Pas de connexion ? Appelez le 01 80 00 00 00, puis tapez " if language == "fr"
            else "No connection? Call 01 80 00 00 00, then type ") + grouped in email.body
    confirmation = messages.render(notification(winter, kind=Kind.CONFIRMATION, language=language))
    assert grouped not in confirmation.body  # the code goes in the reminder only, as on the web
