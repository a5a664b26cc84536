"""A corrected email or phone number: what went to the old address goes to the new one, once.

The agent fixes a mistyped address after booking. Messages still queued need nothing:
they are rendered at send time and read the new address. Messages that already went (or
failed) to the old address on that channel are sent again to the new one: the confirmation
(with the current time: it stands for any "new time" notice too) while the appointment is
ahead, and the reminder (link and code) when one had gone. Links are bound to the address
they were sent to (rooms/tokens.py): those sent to the old address stop working, those sent
to the unchanged one keep working, and nothing is sent again there.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.delivery import Dispatch
from notifications.models import Kind, Notification, State
from notifications.tasks import publish
from portal.models import Appointment, Channel, Status

log = logging.getLogger(__name__)
ADDRESS = {"citizen_email": Channel.EMAIL, "citizen_phone": Channel.SMS}
REACHED = [State.SENT, State.DELIVERED, State.FAILED]


def _resend(appointment: Appointment, channel: str, old: str, now: dt.datetime) -> list[Notification]:
    went = Notification.objects.filter(appointment=appointment, channel=channel, status__in=REACHED)
    if old:
        went = went.filter(recipient=old)
    done = {kind: language for kind, language in went.values_list("kind", "language")}
    wanted = []
    if appointment.start > now and ({Kind.CONFIRMATION, Kind.RESCHEDULED} & done.keys()):
        wanted.append((Kind.CONFIRMATION, done.get(Kind.CONFIRMATION) or done[Kind.RESCHEDULED]))
    if Kind.REMINDER in done:
        wanted.append((Kind.REMINDER, done[Kind.REMINDER]))
    created = []
    for kind, language in wanted:
        # Once: a message of that kind still queued on this channel will read the new address.
        pending = Notification.objects.filter(appointment=appointment, channel=channel, kind=kind, status=State.QUEUED)
        if pending.exists():
            continue
        try:
            with transaction.atomic():
                created.append(Notification.objects.create(
                    appointment=appointment, kind=kind, channel=channel, due_at=now, language=language,
                    # Sent at once, like the agent's "resend the link" (outside the one planned reminder).
                    requested_by=appointment.created_by if kind == Kind.REMINDER else None,
                ))
        except IntegrityError:  # a planned reminder is pending (no booking agent to name): it will go
            log.info("appointment %s: %s not re-sent, one is pending", appointment.pk, kind)
    return created


@transaction.atomic
def contact_changed(appointment_id: int, previous: dict[str, str], now: dt.datetime | None = None) -> Dispatch:
    """Plan the messages owed to the new address(es); `previous` holds the old values of
    the fields that changed (portal.events.contact_changed)."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_for_update().select_related("structure").get(pk=appointment_id)
    plan = Dispatch()
    if appointment.status != Status.SCHEDULED or appointment.end <= now:
        return plan
    for field, channel in ADDRESS.items():
        if field in previous and getattr(appointment, field):
            for notification in _resend(appointment, channel, previous[field], now):
                plan.add(notification)
    return plan


def on_contact_changed(sender: Any, appointment: Appointment, previous: dict[str, str], **kwargs: Any) -> None:
    plan = contact_changed(appointment.pk, previous)
    transaction.on_commit(partial(publish, plan))
