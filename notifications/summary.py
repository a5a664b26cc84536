"""The visit summary ("compte rendu"): the agent sends the notes as they stand, by the
citizen's channel, as a Notification of kind `summary` (delivery, retries and the other
channel as for every message): the email carries the text, the SMS a short link to the
summary page (portal/summary.py), which opens with the citizen's personal token. Each
sending is a VisitSummary row: the text sent, who, when (the back-office's audit)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from notifications import delivery, tasks
from notifications.models import Kind, Notification, VisitSummary
from portal.models import Appointment, Status


class CannotSend(Exception):
    """Why no summary goes (said to the agent)."""


def available_until(appointment: Appointment) -> dt.datetime:
    """The summary's page and PDF answer until the structure's retention ends for this
    appointment (then its data is purged: issue 18's registry)."""
    return appointment.start + dt.timedelta(days=appointment.structure.retention_days)


def latest(appointment: Appointment) -> VisitSummary | None:
    return VisitSummary.objects.filter(appointment=appointment).order_by("-sent_at", "-id").first()


def send(appointment: Appointment, text: str, by: AbstractBaseUser, now: dt.datetime | None = None) -> VisitSummary:
    """Record the summary and queue its message now; raise CannotSend."""
    now = now or timezone.now()
    if appointment.status == Status.CANCELLED:
        raise CannotSend("cancelled")
    if not text.strip():
        raise CannotSend("empty")
    if now >= available_until(appointment):
        raise CannotSend("expired")
    with transaction.atomic():
        notification = delivery._create(appointment, Kind.SUMMARY, now, requested_by=by)
        summary = VisitSummary.objects.create(
            appointment=appointment, text=text.strip(), sent_by_id=by.pk, sent_at=now, notification=notification,
            sent_by_name=(getattr(by, "get_full_name", lambda: "")() or by.get_username())[:150],
        )
        transaction.on_commit(lambda: tasks.publish(delivery.Dispatch([(notification.pk, now)])))
    return summary


def of_notification(notification: Notification) -> VisitSummary | None:
    """The summary a message carries: its own, or (a fallback on the other channel) the latest."""
    own = VisitSummary.objects.filter(notification=notification).first()
    return own or latest(notification.appointment)
