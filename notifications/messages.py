"""Rendering: a Notification row and its appointment, as read now, into a message.

Texts are Django templates, one set per language (templates/notifications/<lang>/), so
a structure's staff can edit wording without touching code or translation catalogues;
French is the default. Rendering happens at send time from the database row, so an
appointment edited after the reminder was planned is sent with its latest data.
"""

from __future__ import annotations

import logging
import re
from email.utils import parseaddr
from functools import cache, lru_cache
from typing import Any

import icalendar
from django.conf import settings
from django.template import Context, Engine, Template, engines
from django.template.backends.django import DjangoTemplates
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from notifications import sms
from notifications.backends.base import Attachment, OutboundMessage
from notifications.models import Kind, Notification
from notifications.shortlinks import short_url
from portal.models import Appointment, Channel, Structure
from portal.phones import display as phone_display
from portal.timezones import zone

SMS_STRUCTURE_CHARS = 64  # the structure's name in an SMS at most (the guard cuts it further)
CALENDAR_KINDS = {Kind.CONFIRMATION, Kind.RESCHEDULED, Kind.CANCELLED}


log = logging.getLogger(__name__)
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


def manage_url(appointment: Appointment, channel: str) -> str:
    from portal.citizen import manage_url as url

    return url(appointment, channel)


def test_url(appointment: Appointment, channel: str) -> str:
    from portal.citizen import test_url as url

    return url(appointment, channel)


# Which messages carry the citizen's cancel/move link, and the device-test link.
MANAGE_KINDS = {Kind.CONFIRMATION, Kind.RESCHEDULED, Kind.DAY_BEFORE}
TEST_KINDS = {Kind.CONFIRMATION, Kind.DAY_BEFORE}


def context(
    notification: Notification, structure_chars: int = SMS_STRUCTURE_CHARS, abbreviated: bool = False
) -> dict[str, Any]:
    """What the templates see. For an SMS: names folded into GSM-7 (the structure's name
    `abbreviated` if asked, cut at `structure_chars`), and short links (/j/…) instead of the
    long signed ones."""
    appointment = notification.appointment
    structure = appointment.structure
    room = getattr(appointment, "room", None)
    for_sms = notification.channel == Channel.SMS

    def link(url: str) -> str:
        return short_url(appointment, url) if for_sms and url else url

    summary: dict[str, Any] = {}
    if notification.kind == Kind.SUMMARY:
        summary = summary_context(notification, for_sms)
    # The reminder carries the personal link (fills in the code); others the plain one. The
    # citizen's links are bound to the address they go to (rooms/tokens.py).
    channel = notification.channel
    join_url = (room.personal_url_for(channel) if notification.kind == Kind.REMINDER else room.join_url) if room else ""
    return {
        "notification": notification,
        "kind": notification.kind,
        "appointment": appointment,
        "structure_name": (
            sms.to_gsm(sms.abbreviate(structure.name) if abbreviated else structure.name, structure_chars)
            if for_sms
            else structure.name
        ),
        "citizen_name": sms.to_gsm(appointment.citizen_full_name, 40) if for_sms else appointment.citizen_full_name,
        "start": appointment.local_start(),
        "end": appointment.end.astimezone(zone(structure.time_zone)),
        "duration": appointment.duration_minutes,
        "subject": appointment.subject,
        "join_url": link(join_url),
        # Where the citizen cancels or asks for another time (portal/citizen.py).
        "manage_url": link(manage_url(appointment, channel)) if notification.kind in MANAGE_KINDS else "",
        # Where the citizen tests camera, microphone and connection ahead (portal/citizen.py).
        "test_url": link(test_url(appointment, channel)) if notification.kind in TEST_KINDS else "",
        "password": room.password if room and notification.kind == Kind.REMINDER else "",
        "reminder_minutes": structure.reminder_minutes,
        "helpdesk_phone": _phone_display(structure.helpdesk_phone, structure.phone_region_code()),
        "helpdesk_email": structure.helpdesk_email,
        **summary,
    }


def summary_context(notification: Notification, for_sms: bool) -> dict[str, Any]:
    """The visit summary's text (email), its page's link (bound to the address it goes to;
    short in an SMS, resolving as long as the page lasts) and until when."""
    from notifications.summary import available_until, of_notification
    from portal.citizen import summary_url

    appointment = notification.appointment
    summary = of_notification(notification)
    until = available_until(appointment)
    url = summary_url(appointment, notification.channel)
    return {
        "summary_text": summary.text if summary else "",
        "summary_url": short_url(appointment, url, expires_at=until) if for_sms else url,
        "summary_until": until.astimezone(zone(appointment.structure.time_zone)),
    }


# SMS budget, in segments: the aim for every kind, and what no message may exceed.
SMS_TARGET_SEGMENTS = 1
# The structure's name, (abbreviated?, cut at n characters), tried in turn until the SMS fits:
# first within the aim (a name cut below 40 would no longer say who writes), then within the
# maximum.
SMS_NAME_STEPS = {
    SMS_TARGET_SEGMENTS: ((False, 64), (True, 64), (True, 48), (True, 40)),
    sms.MAX_SEGMENTS: ((False, 64), (True, 64), (True, 48), (True, 40), (True, 32), (True, 24), (True, 16), (True, 10)),
}


def sms_text(template: str) -> str:
    """A rendered SMS template as sent: GSM-7 only (an edited template with "ê" or "’"
    must not switch the message to UCS-2), one space between words, no empty lines."""
    text = sms.transliterate(template)
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _sms_body(notification: Notification, language: str) -> str:
    """The SMS within its budget: the variable parts (the structure's name) shortened step by
    step before a message may cost more than the aim, never more than the maximum."""
    template = _template(language, f"{notification.kind}_{notification.channel}.txt")
    name_length = len(sms.to_gsm(notification.appointment.structure.name))
    body = ""
    for budget, steps in SMS_NAME_STEPS.items():
        for abbreviated, chars in steps:
            if not abbreviated and name_length > chars:
                continue  # the whole name abbreviated says more than the name cut
            body = sms_text(template.render(context(notification, chars, abbreviated)))
            if sms.segments(body) <= budget:
                return body
    log.warning("SMS %s of notification %s takes %d segments", notification.kind, notification.pk, sms.segments(body))
    return body


def sms_sender(structure: Structure, to: str) -> str:
    """The structure's alphanumeric sender for numbers where it is delivered, else "" (the
    deployment's number, which also receives STOP)."""
    if structure.sms_sender_id and to.startswith(tuple(settings.NOTIFICATIONS_SMS_ALPHANUMERIC_PREFIXES)):
        return structure.sms_sender_id
    return ""


def render(notification: Notification) -> OutboundMessage:
    """The message for `notification`, in its language and its structure's time zone."""
    language = _language(notification)
    appointment = notification.appointment
    structure = appointment.structure
    to = recipient(notification)
    with translation.override(language), timezone.override(zone(structure.time_zone)):
        if notification.channel == Channel.SMS:
            return OutboundMessage(
                channel=notification.channel,
                to=to,
                body=_sms_body(notification, language),
                idempotency_key=message_id(notification),
                sender=sms_sender(structure, to),
            )
        ctx = context(notification)
        body = _template(language, f"{notification.kind}_{notification.channel}.txt").render(ctx).strip()
        subject = " ".join(_template(language, f"{notification.kind}_subject.txt").render(ctx).split())
        attachments: tuple[Attachment, ...] = ()
        if notification.kind in CALENDAR_KINDS:
            method = "CANCEL" if notification.kind == Kind.CANCELLED else "REQUEST"
            ics = calendar(notification, ctx, language)
            attachments = (Attachment("rendez-vous.ics", ics, "text/calendar", (("method", method),)),)
        html = html_body(subject, body, structure.name, language)
    return OutboundMessage(
        channel=notification.channel,
        to=to,
        body=body,
        subject=subject,
        attachments=attachments,
        idempotency_key=message_id(notification),
        html=html,
        sender_name=structure.email_sender_name or structure.name,
        reply_to=structure.helpdesk_email,
    )


_URL = re.compile(r"(https?://[^\s<>\"]+)")


def html_body(subject: str, text: str, structure_name: str, language: str) -> str:
    """The HTML alternative of a plain-text email: the same text (nothing more, nothing
    less, so an edited template changes both), paragraphs and links marked up, in the
    DSFR's colours; no remote image, no script, readable without styles."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = []
        for line in block.splitlines():
            parts = _URL.split(line.strip())
            lines.append(mark_safe("".join(  # noqa: S308 - every piece is escaped here
                format_html('<a href="{0}" style="color:#000091">{0}</a>', part) if index % 2 else escape(part)
                for index, part in enumerate(parts)
            )))
        paragraphs.append(lines)
    html: str = render_to_string(
        "notifications/email.html",
        {"subject": subject, "paragraphs": paragraphs, "structure_name": structure_name, "language": language},
    )
    return html


def message_id(notification: Notification) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<notification-{notification.pk}@{domain}>"


def sequence(notification: Notification) -> int:
    """The invitation's SEQUENCE: the number of changes (new times, cancellation) made to the
    appointment up to this message, fallbacks not counted; calendars keep the highest."""
    return Notification.objects.filter(
        appointment_id=notification.appointment_id,
        kind__in=[Kind.RESCHEDULED, Kind.CANCELLED],
        fallback_of__isnull=True,
        id__lte=notification.pk,
    ).count()


def calendar(notification: Notification, ctx: dict[str, Any], language: str) -> bytes:
    """An iCalendar invitation (RFC 5545/5546) in the structure's time zone (with its
    VTIMEZONE): the same UID for the appointment's whole life, the citizen as ATTENDEE, the
    structure as ORGANIZER."""
    appointment: Appointment = notification.appointment
    structure = appointment.structure
    cancelled = notification.kind == Kind.CANCELLED
    domain = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0] or "localhost"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Guichet Visio//notifications//FR")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"appointment-{appointment.pk}@{domain}")
    event.add("sequence", sequence(notification))
    event.add("dtstamp", timezone.now())
    event.add("dtstart", ctx["start"])
    event.add("dtend", ctx["end"])
    event.add("summary", f"{structure.name} — {appointment.subject}")
    event.add("location", ctx["join_url"])
    if ctx["join_url"]:
        event.add("url", ctx["join_url"])
    event.add("description", _template(language, "ics_description.txt").render(ctx).strip())
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = structure.helpdesk_email or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    event.add("organizer", f"mailto:{organizer}", parameters={"CN": structure.name})
    event.add(
        "attendee",
        f"mailto:{appointment.citizen_email}",
        parameters={"CN": appointment.citizen_full_name, "CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT",
                    "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
    )
    cal.add_component(event)
    cal.add_missing_timezones()
    ical: bytes = cal.to_ical()
    return ical
