"""Appointment actions: the only code that changes an appointment's life cycle.

Each action runs in one transaction and announces itself inside it (portal.events): the
receivers' rows commit or roll back with the action.
Status changes are claims (`filter(status=...).update(...)`), so two agents clicking
"cancel" at once, or an action racing an edit, change the row once.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal import events
from portal.models import Appointment, Channel, Status
from rooms import services as rooms
from rooms.journey import announce as tell_day_view


def _announce(signal, appointment: Appointment, **extra) -> None:
    # Inside the action's transaction: receivers defer their side effects to on_commit.
    signal.send(sender=Appointment, appointment=appointment, **extra)


@transaction.atomic
def book(appointment: Appointment, by=None) -> str:
    """Save a new appointment and pre-create its room; returns the room password."""
    appointment.created_by = by
    appointment.status = Status.SCHEDULED
    appointment.save()
    _room, password = rooms.create_for(appointment)
    _announce(events.booked, appointment)
    return password


CONTACT_FIELDS = ("citizen_email", "citizen_phone")


@transaction.atomic
def update(appointment: Appointment, previous_start: dt.datetime | None) -> None:
    """Save edits; a moved start is announced so reminders are re-planned, a corrected
    email or phone so that the messages already sent go to the new address."""
    saved = Appointment.objects.select_for_update().filter(pk=appointment.pk).values(*CONTACT_FIELDS).first() or {}
    appointment.save()
    if appointment.status != Status.SCHEDULED:
        return
    if previous_start is not None and previous_start != appointment.start:
        Appointment.objects.filter(pk=appointment.pk).update(moves=F("moves") + 1)  # for the statistics
        _announce(events.rescheduled, appointment, previous_start=previous_start)
    previous = {name: saved[name] for name in CONTACT_FIELDS
                if name in saved and saved[name] != getattr(appointment, name)}
    if previous:
        _announce(events.contact_changed, appointment, previous=previous)


@transaction.atomic
def choose_channel(appointment: Appointment, channel: str) -> bool:
    """The citizen's choice of email or SMS for the remaining messages. False (nothing
    changed) if the appointment is not scheduled or that channel has no address."""
    address = appointment.citizen_phone if channel == Channel.SMS else appointment.citizen_email
    if channel not in Channel.values or not address:
        return False
    if not Appointment.objects.filter(pk=appointment.pk, status=Status.SCHEDULED).update(preferred_channel=channel):
        return False
    appointment.preferred_channel = channel
    _announce(events.channel_chosen, appointment)
    return True


def _transition(appointment: Appointment, to: str, allowed_from: tuple[str, ...]) -> bool:
    claimed = Appointment.objects.filter(pk=appointment.pk, status__in=allowed_from).update(status=to)
    if claimed:
        appointment.status = to
    return bool(claimed)


@transaction.atomic
def cancel(appointment: Appointment) -> bool:
    """Cancel and close the room. False if it was not scheduled (nothing changed)."""
    if not _transition(appointment, Status.CANCELLED, (Status.SCHEDULED,)):
        return False
    rooms.close(appointment.room)
    _announce(events.cancelled, appointment)
    return True


@transaction.atomic
def mark(appointment: Appointment, status: str) -> bool:
    """Mark a scheduled (or wrongly marked) appointment done or no-show; closes the room."""
    if status not in (Status.DONE, Status.NO_SHOW):
        raise ValueError(f"cannot mark an appointment {status!r}")
    if not _transition(appointment, status, (Status.SCHEDULED, Status.DONE, Status.NO_SHOW)):
        return False
    rooms.close(appointment.room)
    return True


@transaction.atomic
def end(appointment: Appointment) -> bool:
    """The agent ended the call for everyone: the appointment is done and its room closed,
    so every link says "ended". False if it was not scheduled (nothing changed)."""
    if not _transition(appointment, Status.DONE, (Status.SCHEDULED,)):
        return False
    rooms.close(appointment.room)
    tell_day_view(appointment.room, "ended")  # after commit
    return True


def meeting_ended(sender, room, **kwargs) -> None:
    """rooms.signals.meeting_ended's receiver (connected in portal/apps.py)."""
    end(Appointment.objects.select_related("room").get(pk=room.appointment_id))


def reopenable(appointment: Appointment) -> bool:
    """An appointment marked done (ended by mistake) can be reopened while its room's window lasts."""
    return appointment.status == Status.DONE and timezone.now() < rooms.closes_at(appointment)


@transaction.atomic
def reopen(appointment: Appointment) -> bool:
    """Back to scheduled with its room open again: its links work as before."""
    if not reopenable(appointment) or not _transition(appointment, Status.SCHEDULED, (Status.DONE,)):
        return False
    rooms.reopen(appointment.room)
    tell_day_view(appointment.room, "reopened")
    return True
