"""The citizen's journey as the agents' day view sees it, and its live announcements.

Every change that the day view shows is announced to the group `day.<structure id>`
after commit; the day view then re-reads that appointment's row (the database stays the
only source of truth, the message only says "look again").
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from rooms import presence
from rooms.groups import channel_layer
from rooms.lobby import FINAL, Role
from rooms.models import Room

DEVICE_PROBLEMS = {"no_webrtc", "no_getusermedia", "insecure_context", "no_camera", "no_microphone",
                   "camera_denied", "microphone_denied", "camera_busy", "no_connection",
                   "in_app_browser", "old_browser"}


def day_group(structure_id: int) -> str:
    return f"day.{structure_id}"


def day_event(appointment_id: int, structure_id: int, what: str) -> dict:
    return {"type": "day.changed", "appointment": appointment_id, "what": what}


async def announce_async(room: Room, what: str) -> None:
    appointment = room.appointment
    await channel_layer().group_send(
        day_group(appointment.structure_id), day_event(appointment.pk, appointment.structure_id, what)
    )


def announce(room: Room, what: str) -> None:
    """From synchronous code: announce after the current transaction commits."""
    appointment = room.appointment
    event = day_event(appointment.pk, appointment.structure_id, what)
    transaction.on_commit(lambda: async_to_sync(channel_layer().group_send)(
        day_group(appointment.structure_id), event))


def link_opened(room: Room) -> None:
    if Room.objects.filter(pk=room.pk, link_opened_at=None).update(link_opened_at=timezone.now()):
        announce(room, "link_opened")


def _report_grant(slug: str) -> str:
    return f"gv.report.{slug}"


def allow_report(session, slug: str) -> None:
    """This browser opened the device test page with the citizen's own link: its check may
    be reported for the room (portal/devicetest.py)."""
    session[_report_grant(slug)] = True


def may_report(session, slug: str) -> bool:
    """Only the citizen's own browser reports a device check for the day view: its session
    names a guest of the room (the room page, once the link's button or the code was used)
    or opened the device test page with the citizen's link. The slug alone (the join page,
    a scanner running its scripts, anyone with the link) reports nothing."""
    participant = presence.find(slug, session.get(presence.session_key(slug)))
    if participant is not None:
        return participant.role == Role.GUEST and participant.status not in FINAL
    return bool(session.get(_report_grant(slug)))


def device_checked(room: Room, ok: bool, problems: list[str]) -> None:
    known = sorted(p for p in problems if p in DEVICE_PROBLEMS)
    Room.objects.filter(pk=room.pk).update(
        device_ok=ok and not known, device_problems=",".join(known), device_checked_at=timezone.now()
    )
    announce(room, "device_checked")
