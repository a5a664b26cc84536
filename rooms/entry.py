"""Who may enter a room, as whom, and into which status: one decision for every way in.

The ways in (`Via`): the join page with the room code, the citizen's personal link, the
structure's members at `/r/<slug>/agent/`, and the WebSocket connect (a page that is
already in, or comes back). `decide` holds every rule and does no I/O; `enter` reads the
one row it needs (the participant this person already is, if any) and decides.

The rules, in order:
1. The WebSocket needs a participant made by one of the pages (else NO_SESSION).
2. A cancelled appointment or an ended meeting (or a closed room) lets nobody in; its
   agents may reopen it from the agent's page (rooms.views.agent_room), which is not entry.
3. Refused or removed is final for that participant (it starts over from the join page).
4. The time window (rooms/window.py) binds outsiders (the citizen, a guest with the code,
   an interpreter) when they come in or back; a page already in the room keeps its socket
   past the window's end; the structure's members are not bound by it.
5. A locked room takes nobody new: no new participant with the code nor a member's third
   party; the appointment's citizen (personal link) still reaches the waiting room, and
   whoever already is a participant comes back.
6. Moderators (the appointment's agent, the structure's managers) enter the call directly;
   everyone else, third parties included (helpdesk, other agents, interpreters), goes
   through the waiting room, where the agent sees their role and admits or refuses them.
   A participant coming back lands where it was (waiting or admitted); one that had left
   goes back to the waiting room (a moderator straight into the call).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from portal import access
from portal.models import Role as MemberRole
from portal.models import Status as AppointmentStatus
from rooms import presence
from rooms.lobby import FINAL, Role, Status
from rooms.models import Participant, Room
from rooms.protocol import CloseCode
from rooms.window import Phase, Window


class Via(enum.StrEnum):
    CODE = "code"  # the join page, with the room code
    LINK = "link"  # the citizen's personal link (after the button's POST)
    MEMBER = "member"  # a member of the structure at /r/<slug>/agent/
    SOCKET = "socket"  # the room page's WebSocket


class Refusal(enum.StrEnum):
    NO_SESSION = "no_session"
    CANCELLED = "cancelled"
    ENDED = "ended"
    TOO_EARLY = "too_early"
    OVER = "over"
    FINAL = "refused"  # refused or removed by a moderator
    LOCKED = "locked"


# What the WebSocket closes with for each refusal (rooms/protocol.py CloseCode).
CLOSE_CODES = {
    Refusal.NO_SESSION: CloseCode.NO_SESSION,
    Refusal.FINAL: CloseCode.REFUSED,
    Refusal.LOCKED: CloseCode.REFUSED,
    Refusal.CANCELLED: CloseCode.ENDED,
    Refusal.ENDED: CloseCode.ENDED,
    Refusal.TOO_EARLY: CloseCode.ENDED,
    Refusal.OVER: CloseCode.ENDED,
}

# A membership's role in the structure → the room role (the appointment's agent: MODERATOR).
MEMBER_ROLES = {MemberRole.MANAGER: Role.MODERATOR, MemberRole.AGENT: Role.AGENT, MemberRole.HELPDESK: Role.HELPDESK}
OUTSIDERS = frozenset({Role.GUEST, Role.INTERPRETER})  # bound by the time window
STAFF_ROLES = frozenset({Role.MODERATOR, Role.AGENT, Role.HELPDESK})  # the structure's members


@dataclass(frozen=True)
class Situation:
    via: Via
    role: Role  # who they are: their participant's role, or the one they would get
    current: Status | None  # their participant's status; None: nobody yet
    phase: Phase  # the room's time window and life (cancelled, ended)
    locked: bool


@dataclass(frozen=True)
class Decision:
    refusal: Refusal | None
    role: Role
    status: Status | None  # where they land; None when refused

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def close_code(self) -> int | None:
        return None if self.refusal is None else CLOSE_CODES[self.refusal]


def decide(s: Situation) -> Decision:
    """The rules of the module's docstring, in its order. Pure."""

    def no(refusal: Refusal) -> Decision:
        return Decision(refusal, s.role, None)

    if s.via is Via.SOCKET and s.current is None:
        return no(Refusal.NO_SESSION)
    if s.phase is Phase.CANCELLED:
        return no(Refusal.CANCELLED)
    if s.phase is Phase.ENDED:
        return no(Refusal.ENDED)
    if s.current in FINAL:
        return no(Refusal.FINAL)
    coming_in = s.current in (None, Status.LEFT)
    if s.role in OUTSIDERS and coming_in and s.phase is not Phase.OPEN:
        return no(Refusal.TOO_EARLY if s.phase is Phase.TOO_EARLY else Refusal.OVER)
    if s.locked and s.current is None and s.role is not Role.MODERATOR and s.via is not Via.LINK:
        return no(Refusal.LOCKED)
    if s.role is Role.MODERATOR:
        return Decision(None, s.role, Status.ADMITTED)
    if coming_in:
        return Decision(None, s.role, Status.WAITING)
    assert s.current is not None
    return Decision(None, s.role, s.current)


# --- the facts the rules need ---
def window_of(room: Room) -> Window:
    appointment = room.appointment
    return Window.around(
        appointment.start, appointment.end, settings.ROOM_OPENS_MINUTES_BEFORE, settings.ROOM_CLOSES_MINUTES_AFTER
    )


def phase_of(room: Room) -> Phase:
    status = room.appointment.status
    ended = status in (AppointmentStatus.DONE, AppointmentStatus.NO_SHOW)
    cancelled = status == AppointmentStatus.CANCELLED or (not room.is_open and not ended)
    return window_of(room).phase(timezone.now(), cancelled=cancelled, ended=ended)


def member_role(room: Room, user) -> Role | None:
    """A user's role in this room: moderator for the appointment's agent, the structure's
    managers and superusers; AGENT for the structure's other agents, HELPDESK for its
    helpdesk; None for anyone else (not even the room's existence is confirmed)."""
    appointment = room.appointment
    if user.is_superuser:
        return Role.MODERATOR
    membership = access.roles(user).get(appointment.structure_id)
    if membership is None:
        return None  # not (or no longer) of this structure, even the appointment's own agent
    return Role.MODERATOR if user.pk == appointment.agent_id else MEMBER_ROLES[MemberRole(membership)]


def enter(room: Room, via: Via, role: Role, *, pid: str | None = None, token_id: str = "",
          user=None) -> tuple[Decision, Participant | None]:
    """Decide for this person: the one query finds the participant they already are (by
    the session's pid for the socket, the token for the personal link, the user for a
    member; a code always makes a new one). Returns the decision and that participant."""
    participant: Participant | None = None
    if via is Via.SOCKET:
        participant = Participant.objects.filter(room=room, pid=pid).first() if pid else None
    elif via is Via.LINK:
        # One browser at a time per link; a citizen who had left starts a new participant.
        participant = Participant.objects.filter(room=room, token_id=token_id).exclude(status=Status.LEFT).first()
    elif via is Via.MEMBER:
        participant = Participant.objects.filter(room=room, user=user).first()
    if participant is not None and via is not Via.MEMBER:
        role = Role(participant.role)
    current = Status(participant.status) if participant is not None else None
    decision = decide(Situation(via=via, role=role, current=current, phase=phase_of(room), locked=room.locked))
    return decision, participant


def on_connect(slug: str, pid: str | None) -> tuple[Decision, Participant | None]:
    """The WebSocket's entry: the session's participant (one query, with its room and
    appointment) and the decision on it."""
    participant = presence.find(slug, pid)
    if participant is None:
        return Decision(Refusal.NO_SESSION, Role.GUEST, None), None
    room = participant.room
    decision = decide(Situation(via=Via.SOCKET, role=Role(participant.role), current=Status(participant.status),
                                phase=phase_of(room), locked=room.locked))
    return decision, participant
