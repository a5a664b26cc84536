"""Room pages: the citizen's link and the agent's room."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from portal import access
from portal.models import Status
from rooms.models import Room
from rooms.window import Phase, Window


def _room(slug: str) -> Room:
    return get_object_or_404(Room.objects.select_related("appointment__structure", "appointment__agent"), slug=slug)


def window_of(room: Room) -> Window:
    appointment = room.appointment
    return Window.around(
        appointment.start, appointment.end, settings.ROOM_OPENS_MINUTES_BEFORE, settings.ROOM_CLOSES_MINUTES_AFTER
    )


def join(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room(slug)
    appointment = room.appointment
    cancelled = appointment.status == Status.CANCELLED or not room.is_open
    window = window_of(room)
    phase = window.phase(timezone.now(), cancelled=cancelled)
    timezone.activate(appointment.structure.time_zone)
    context = {
        "room": room,
        "appointment": appointment,
        "structure": appointment.structure,
        "window": window,
        "phase": phase.value,
    }
    # 410 Gone tells proxies and the browser the link is dead for good.
    return render(request, "rooms/join.html", context, status=410 if phase is Phase.CANCELLED else 200)


@login_required
def agent_room(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room(slug)
    if not access.has_role(request.user, access.VIEWERS, room.appointment.structure_id):
        raise Http404  # another structure's room: not even its existence is confirmed
    timezone.activate(room.appointment.structure.time_zone)
    return render(request, "rooms/agent_room.html", {"room": room, "appointment": room.appointment})
