"""Room life cycle, called by the portal's appointment actions."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from rooms import secrets
from rooms.models import Room


def create_for(appointment) -> tuple[Room, str]:
    """Create the appointment's room; returns it with the clear password (never stored)."""
    password = secrets.new_password()
    room = Room.objects.create(appointment=appointment, password_encrypted=secrets.encrypt(password))
    return room, password


def close(room: Room) -> bool:
    """Close the room; True if this call closed it (idempotent)."""
    return bool(
        Room.objects.filter(pk=room.pk, state=Room.State.OPEN).update(state=Room.State.CLOSED, closed_at=timezone.now())
    )


def closes_at(appointment) -> dt.datetime:
    """When the room's link stops working (rooms.entry.window_of's end): an ended meeting
    can be reopened until then."""
    return appointment.end + dt.timedelta(minutes=settings.ROOM_CLOSES_MINUTES_AFTER)


def reopen(room: Room) -> bool:
    return bool(Room.objects.filter(pk=room.pk, state=Room.State.CLOSED).update(state=Room.State.OPEN, closed_at=None))


def change_password(room: Room) -> str:
    password = secrets.new_password()
    room.password_encrypted = secrets.encrypt(password)
    Room.objects.filter(pk=room.pk).update(password_encrypted=room.password_encrypted)
    return password
