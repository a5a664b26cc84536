"""The day view pages: the list, one row (re-read on each live update), admit."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access, booking, dayview
from portal.models import Appointment
from rooms import actions, joinlimits


def _allowed(request: HttpRequest) -> None:
    if not access.has_role(request.user):
        raise Http404


def day_page(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    appointments = list(dayview.appointments_for(request.user))
    alerts = dayview.join_alerts(appointments)
    rows = [dayview.row(a, alerts) for a in appointments]
    context = {**admin.site.each_context(request), "title": "", "rows": rows,
               "structure_ids": sorted(access.structure_ids(request.user)) or [0]}
    return render(request, "portal/day.html", context)


def day_row(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    appointment = get_object_or_404(dayview.appointments_for(request.user), pk=pk)
    return render(request, "portal/day_row.html", {"row": dayview.row(appointment)})


@require_POST
def day_admit(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    appointment = get_object_or_404(dayview.appointments_for(request.user), pk=pk)
    if not access.has_role(request.user, access.EDITORS, appointment.structure_id):
        raise Http404
    row = dayview.row(appointment)
    if row.presence == dayview.WAITING and row.guest_pid:
        async_to_sync(actions.admit)(appointment.room, row.guest_pid)
    return redirect("rooms:agent_room", slug=appointment.room.slug)


@require_POST
def day_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift the room code limits on an appointment's room: helpdesk and agents of its structure."""
    _allowed(request)
    appointment = get_object_or_404(
        access.scope(Appointment.objects.select_related("room"), request.user, allowed=access.VIEWERS), pk=pk
    )
    joinlimits.unlock(appointment.room, request.user)
    messages.success(request, _("%(citizen)s can type the room code again.")
                     % {"citizen": appointment.citizen_full_name})
    return redirect("day")


@require_POST
def day_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopen a meeting ended by mistake, while its window lasts: the structure's agents and managers."""
    _allowed(request)
    appointment = get_object_or_404(
        access.scope(Appointment.objects.select_related("room"), request.user, allowed=access.EDITORS), pk=pk
    )
    if booking.reopen(appointment):
        messages.success(request, _("The room of %(citizen)s is open again.")
                         % {"citizen": appointment.citizen_full_name})
    else:
        messages.error(request, _("This appointment can no longer be reopened."))
    if request.POST.get("to") == "room":
        return redirect("rooms:agent_room", slug=appointment.room.slug)
    return redirect("day")
