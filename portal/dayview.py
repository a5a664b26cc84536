"""The agents' day view: each appointment of the day with the citizen's live status.

Plain functions over the database; the page and its live updates (portal/dayview_views,
portal/consumers) only format what `row()` says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal import access, booking
from portal.models import Appointment, ChangeRequest, Status
from portal.phones import display as phone_display

if TYPE_CHECKING:
    from rooms.joinlimits import Alert

# Journey steps, in the order the citizen goes through them.
WAITING, IN_CALL, LEFT, ENDED = "waiting", "in_call", "left", "ended"
LABELS = {
    WAITING: _("waiting"), IN_CALL: _("in the call"), LEFT: _("left the call"), ENDED: _("ended"),
    "": _("not arrived"),
}
LINK_LABELS = {"good": _("good connection"), "average": _("unstable connection"), "poor": _("weak connection")}
PROBLEM_LABELS = {
    "no_webrtc": _("browser cannot do video"), "no_getusermedia": _("browser cannot use the camera"),
    "insecure_context": _("page not opened over https"), "no_camera": _("no camera"),
    "no_microphone": _("no microphone"), "camera_denied": _("camera permission refused"),
    "microphone_denied": _("microphone permission refused"), "camera_busy": _("camera used by another app"),
    "no_connection": _("cannot reach the video service"),
    "in_app_browser": _("opened inside another app (told to open a browser)"), "old_browser": _("iOS too old"),
}


@dataclass(frozen=True)
class Row:
    appointment: Appointment
    confirmation: tuple[str, str]  # (notification status, its label), or ("", "")
    reminder: tuple[str, str]
    day_before: tuple[str, str]
    link_opened: dt.datetime | None
    device_ok: bool | None
    device_problems: list[str]
    presence: str  # WAITING / IN_CALL / LEFT / ENDED / ""
    waiting_since: dt.datetime | None
    guest_pid: str | None
    requests: list  # the citizen's unhandled requests (cancel, another time)
    join_alert: Alert | None = None  # room under attack, someone locked out (rooms/joinlimits)
    can_reopen: bool = False  # ended (by mistake?) and still within the room's window
    by_phone: bool = False  # the citizen present is a telephone (rooms/phone/)
    link: str = ""  # in the call: the citizen's connection indicator (good/average/poor), "" if not known

    @property
    def link_label(self) -> str:
        return str(LINK_LABELS.get(self.link, ""))

    @property
    def phone(self) -> str:
        return phone_display(self.appointment.citizen_phone, self.appointment.structure.phone_region_code())

    @property
    def presence_label(self) -> str:
        return str(LABELS[self.presence])

    @property
    def problem_labels(self) -> list[str]:
        return [str(PROBLEM_LABELS.get(p, p)) for p in self.device_problems]


AROUND_NOW = dt.timedelta(hours=2)


def appointments_for(user, day: dt.date | None = None) -> QuerySet:
    """The day's appointments a user follows: an agent its own, helpdesk and managers the structure's."""
    from rooms.models import Participant

    today = timezone.localdate()
    day = day or today
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = start + dt.timedelta(days=1)
    if day == today:
        # Around midnight the day's bounds would hide the call still going on (started at
        # 23:30) or the one about to start (at 00:05): the view also keeps the hours around now.
        now = timezone.now()
        start, end = min(start, now - AROUND_NOW), max(end, now + AROUND_NOW)
    queryset = access.scope(Appointment.objects.all(), user).filter(start__gte=start, start__lt=end)
    roles = access.roles(user)
    if not user.is_superuser and roles and set(roles.values()) == {"agent"}:
        queryset = queryset.filter(agent=user)
    guests = Participant.objects.filter(role="guest").order_by("-created_at")
    return (
        queryset.select_related("room", "structure", "agent")
        .prefetch_related(
            "notifications",
            Prefetch("room__participants", queryset=guests, to_attr="guests"),
            Prefetch("change_requests", queryset=ChangeRequest.objects.select_related("slot"), to_attr="requests"),
        )
        .order_by("start")
    )


def _latest(notifications, kind: str) -> tuple[str, str]:
    """(status, translated label) of the latest message of that kind, or ("", "")."""
    mine = [n for n in notifications if n.kind == kind]
    if not mine:
        return "", ""
    latest = max(mine, key=lambda n: n.created_at)
    return latest.status, str(latest.get_status_display())


def join_alerts(appointments) -> dict[int, Alert]:
    """The code-limit alerts of many appointments' rooms, in one query (see rooms/joinlimits)."""
    from rooms import joinlimits

    return joinlimits.alerts(a.room.pk for a in appointments)


def row(appointment: Appointment, alerts: dict[int, Alert] | None = None) -> Row:
    from rooms import joinlimits

    room = appointment.room
    if alerts is None:
        alerts = join_alerts([appointment])
    alert = alerts.get(room.pk, joinlimits.Alert())
    guests = getattr(room, "guests", None)
    if guests is None:
        guests = list(room.participants.filter(role="guest").order_by("-created_at"))
    notifications = list(appointment.notifications.all())
    from rooms.presence import is_present

    now = timezone.now()
    live = [g for g in guests if is_present(g, now)]  # the lease, not a flag a crash leaves set
    presence, waiting_since, pid, link = "", None, None, ""
    if appointment.status in (Status.DONE, Status.NO_SHOW, Status.CANCELLED):
        presence = ENDED
    elif any(g.status == "admitted" for g in live):
        presence = IN_CALL
        in_call = next(g for g in live if g.status == "admitted")
        pid, link = str(in_call.pid), in_call.link
    elif live:
        presence, pid, waiting_since = WAITING, str(live[0].pid), live[0].status_since
    elif guests:
        presence = LEFT
    if alert.refused_at and presence in (WAITING, IN_CALL):
        alert = replace(alert, refused_at=None)  # the citizen got in since (the personal link, say)
    return Row(
        appointment=appointment,
        confirmation=_latest(notifications, "confirmation"),
        reminder=_latest(notifications, "reminder"),
        day_before=_latest(notifications, "day_before"),
        link_opened=room.link_opened_at,
        device_ok=room.device_ok,
        device_problems=[p for p in room.device_problems.split(",") if p],
        presence=presence,
        waiting_since=waiting_since,
        guest_pid=pid,
        requests=[r for r in getattr(appointment, "requests", appointment.change_requests.all()) if not r.handled
                  or r.kind == "cancel"],
        join_alert=alert,
        can_reopen=booking.reopenable(appointment),
        by_phone=any(g.by_phone for g in live),
        link=link,
    )
