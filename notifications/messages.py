"""Rendering: a Notification row and its appointment, as read now, into a message.

Texts are Django templates, one set per language (templates/notifications/<lang>/), so
a structure's staff can edit wording without touching code or translation catalogues;
French is the default. Rendering happens at send time from the database row, so an
appointment edited after the reminder was planned is sent with its latest data.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache
from typing import Any

import icalendar
from django.conf import settings
from django.template import Context, Engine, Template, engines
from django.template.backends.django import DjangoTemplates
from django.utils import timezone, translation

from notifications import sms
from notifications.backends.base import Attachment, OutboundMessage
from notifications.models import Kind, Notification
from portal.models import Appointment, Channel
from portal.phones import display as phone_display
from portal.timezones import zone

SMS_STRUCTURE_CHARS = 40  # the structure's name in an SMS, so that two segments suffice
ICS_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
CALENDAR_KINDS = {Kind.CONFIRMATION, Kind.RESCHEDULED, Kind.CANCELLED}


_phone_display = lru_cache(maxsize=1024)(phone_display)  # the same helpdesk number, thousands of times


def recipient(notification: Notification) -> str:
    appointment = notification.appointment
    return appointment.citizen_email if notification.channel == Channel.EMAIL else appointment.citizen_phone


def _language(notification: Notification) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    return notification.language if notification.language in codes else settings.LANGUAGE_CODE


@cache
def _engine() -> Engine:
    # The project's template directories and apps, without HTML autoescaping: these are
    # plain-text messages ("d'Orléans" must not become "d&#x27;Orléans").
    backend = engines["django"]
    assert isinstance(backend, DjangoTemplates)
    default = backend.engine
    return Engine(dirs=default.dirs, app_dirs=default.app_dirs, autoescape=False)


class _Template:
    def __init__(self, template: Template) -> None:
        self.template = template

    def render(self, ctx: dict[str, Any]) -> str:
        return self.template.render(Context(ctx, autoescape=False))


def _template(language: str, name: str) -> _Template:
    names = [f"notifications/{language}/{name}", f"notifications/{settings.LANGUAGE_CODE}/{name}"]
    return _Template(_engine().select_template(names))


def manage_url(appointment: Appointment) -> str:
    from portal.citizen import manage_url as url

    return url(appointment)


def test_url(appointment: Appointment) -> str:
    from portal.citizen import test_url as url

    return url(appointment)


# Which messages carry the citizen's cancel/move link, and the device-test link.
MANAGE_KINDS = {Kind.CONFIRMATION, Kind.RESCHEDULED, Kind.DAY_BEFORE}
TEST_KINDS = {Kind.CONFIRMATION, Kind.DAY_BEFORE}


def context(notification: Notification) -> dict[str, Any]:
    appointment = notification.appointment
    structure = appointment.structure
    room = getattr(appointment, "room", None)
    for_sms = notification.channel == Channel.SMS
    return {
        "notification": notification,
        "kind": notification.kind,
        "appointment": appointment,
        "structure_name": sms.to_gsm(structure.name, SMS_STRUCTURE_CHARS) if for_sms else structure.name,
        "citizen_name": sms.to_gsm(appointment.citizen_full_name, 40) if for_sms else appointment.citizen_full_name,
        "start": appointment.local_start(),
        "end": appointment.end.astimezone(zone(structure.time_zone)),
        "duration": appointment.duration_minutes,
        "subject": appointment.subject,
        # The reminder carries the personal link (fills in the code); others the plain one.
        "join_url": (room.personal_url if notification.kind == Kind.REMINDER else room.join_url) if room else "",
        # Where the citizen cancels or asks for another time (portal/citizen.py).
        "manage_url": manage_url(appointment) if notification.kind in MANAGE_KINDS else "",
        # Where the citizen tests camera, microphone and connection ahead (portal/citizen.py).
        "test_url": test_url(appointment) if notification.kind in TEST_KINDS else "",
        "password": room.password if room and notification.kind == Kind.REMINDER else "",
        "reminder_minutes": structure.reminder_minutes,
        "helpdesk_phone": _phone_display(structure.helpdesk_phone, structure.phone_region_code()),
        "helpdesk_email": structure.helpdesk_email,
    }


def render(notification: Notification) -> OutboundMessage:
    """The message for `notification`, in its language and its structure's time zone."""
    language = _language(notification)
    appointment = notification.appointment
    ctx = context(notification)
    with translation.override(language), timezone.override(zone(appointment.structure.time_zone)):
        body = _template(language, f"{notification.kind}_{notification.channel}.txt").render(ctx).strip()
        subject = ""
        attachments: tuple[Attachment, ...] = ()
        if notification.channel == Channel.EMAIL:
            subject = " ".join(_template(language, f"{notification.kind}_subject.txt").render(ctx).split())
            if notification.kind in CALENDAR_KINDS:
                ics = calendar(notification, ctx, language)
                attachments = (Attachment("rendez-vous.ics", ics, "text/calendar"),)
    if notification.channel == Channel.SMS:
        body = "\n".join(" ".join(line.split()) for line in body.splitlines() if line.strip())
    return OutboundMessage(
        channel=notification.channel,
        to=recipient(notification),
        body=body,
        subject=subject,
        attachments=attachments,
        idempotency_key=message_id(notification),
    )


def message_id(notification: Notification) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<notification-{notification.pk}@{domain}>"


def calendar(notification: Notification, ctx: dict[str, Any], language: str) -> bytes:
    """An iCalendar invitation in the structure's time zone (with its VTIMEZONE)."""
    appointment: Appointment = notification.appointment
    cancelled = notification.kind == Kind.CANCELLED
    domain = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0] or "localhost"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Guichet Visio//notifications//FR")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"appointment-{appointment.pk}@{domain}")
    # Calendars keep the highest SEQUENCE: every edit moves updated_at forward; a
    # cancellation (a status-only UPDATE) goes one above the last edit.
    event.add("sequence", int((appointment.updated_at - ICS_EPOCH).total_seconds()) + (1 if cancelled else 0))
    event.add("dtstamp", timezone.now())
    event.add("dtstart", ctx["start"])
    event.add("dtend", ctx["end"])
    event.add("summary", f"{appointment.structure.name} — {appointment.subject}")
    event.add("location", ctx["join_url"])
    if ctx["join_url"]:
        event.add("url", ctx["join_url"])
    event.add("description", _template(language, "ics_description.txt").render(ctx).strip())
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    structure = appointment.structure
    if structure.helpdesk_email:
        event.add("organizer", f"mailto:{structure.helpdesk_email}", parameters={"CN": structure.name})
    cal.add_component(event)
    cal.add_missing_timezones()
    ical: bytes = cal.to_ical()
    return ical
