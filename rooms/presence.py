"""Room presence and lobby actions on the database (the rooms' single source of truth).

Plain synchronous functions: views call them directly, the consumer through
`database_sync_to_async`. Each returns what changed, so callers can broadcast it.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rooms import lobby
from rooms.models import IdentityCheck, Participant, Room
from rooms.signals import meeting_ended


def session_key(slug: str) -> str:
    """Where a browser's session keeps its participant id in a room (set by the views, read by the consumer)."""
    return f"gv.room.{slug}"


# --- entering ---
def enter_as_guest(room: Room, name: str, token_id: str = "", role: str = lobby.Role.GUEST) -> Participant:
    return Participant.objects.create(
        room=room, name=name, role=role, status=lobby.Status.WAITING, token_id=token_id
    )


def enter_as_member(room: Room, user, *, moderator: bool) -> Participant:
    """A member straight into the call (tests' and benchmarks' shortcut; the agent's page
    goes through rooms.entry, then place_member)."""
    role = lobby.Role.MODERATOR if moderator else lobby.Role.AGENT
    return place_member(room, user, Participant.objects.filter(room=room, user=user).first(), role=role,
                        status=lobby.Status.ADMITTED)


def place_member(room: Room, user, participant: Participant | None, *, role: str, status: str) -> Participant:
    """A member of the structure enters with the role and status rooms.entry decided; the
    same user keeps the same participant (and pid)."""
    name = user.get_full_name() or user.get_username()
    admitted_at = timezone.now() if status == lobby.Status.ADMITTED else None
    if participant is None:
        return Participant.objects.create(room=room, user=user, name=name, role=role, status=status,
                                          admitted_at=admitted_at)
    changes: dict = {"role": role, "status": status}
    if status != participant.status:
        changes["status_since"] = timezone.now()
        if admitted_at:
            changes["admitted_at"] = admitted_at
    Participant.objects.filter(pk=participant.pk).update(**changes)
    for field, value in changes.items():
        setattr(participant, field, value)
    return participant


def take_over(participant: Participant) -> str:
    """Another device continues with the personal link: the participant keeps its place
    (waiting, in the call) under a new pid, so the first browser's session no longer finds
    it (its socket is closed with REPLACED by the caller). Returns the old pid."""
    old = str(participant.pid)
    participant.pid, participant.online = uuid.uuid4(), False
    Participant.objects.filter(pk=participant.pk, pid=old).update(pid=participant.pid, online=False)
    return old


# --- the WebSocket's view of the room ---
def find(slug: str, pid: str | None) -> Participant | None:
    if not pid:
        return None
    return Participant.objects.select_related("room__appointment__structure").filter(room__slug=slug, pid=pid).first()


def connect(participant: Participant, status: str | None = None) -> Participant:
    """Mark online, in the status rooms.entry decided (where a returning participant lands;
    None: the status it has)."""
    status = status or participant.status
    changes = {"status": status, "online": True}
    if status != participant.status:
        changes["status_since"] = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(**changes)
    for field, value in changes.items():
        setattr(participant, field, value)
    return participant


def disconnect(pid: str) -> Participant | None:
    Participant.objects.filter(pid=pid).update(online=False)
    return Participant.objects.filter(pid=pid).first()


def state(room: Room, pid: str) -> dict:
    """What a (re)connecting participant is told: itself, who is in, who waits, the lock."""
    people = list(
        Participant.objects.filter(room=room)
        .filter(Q(status__in=[lobby.Status.ADMITTED, lobby.Status.WAITING]) | Q(pid=pid))
        .select_related("room")
    )
    you = next(p for p in people if str(p.pid) == pid)
    return {
        "you": you.as_dict(),
        "participants": [p.as_dict() for p in people if p.status == lobby.Status.ADMITTED],
        "lobby": [p.as_dict() for p in people if p.status == lobby.Status.WAITING] if you.role == lobby.Role.MODERATOR
        else [],  # only agents see who waits
        "locked": you.room.locked,
    }


@transaction.atomic
def move(room: Room, pid: str, target: str) -> Participant:
    """Change someone's status along the lobby's transitions (claimed under a row lock)."""
    participant = Participant.objects.select_for_update().filter(room=room, pid=pid).first()
    if participant is None:
        raise lobby.UnknownParticipant("Nobody with this id is in the room.")
    lobby.check_transition(participant.status, target)
    participant.status, participant.status_since = target, timezone.now()
    fields = ["status", "status_since"]
    if target == lobby.Status.ADMITTED:
        participant.admitted_at = timezone.now()
        fields.append("admitted_at")
    if target in (lobby.Status.LEFT, lobby.Status.REMOVED, lobby.Status.REFUSED):
        participant.hand = False
        fields.append("hand")
    participant.save(update_fields=fields)
    return participant


def update_flags(pid: str, **flags) -> Participant:
    Participant.objects.filter(pid=pid).update(**flags)
    return Participant.objects.get(pid=pid)


@transaction.atomic
def lower_hands(room: Room, pid: str | None = None) -> list[Participant]:
    """The moderator lowers one participant's raised hand (`pid`), or every raised hand in
    the call; returns those lowered (none when the hand was already down)."""
    query = Participant.objects.select_for_update().filter(room=room, status=lobby.Status.ADMITTED, hand=True)
    if pid is not None:
        query = query.filter(pid=pid)
    raised = list(query)
    Participant.objects.filter(pk__in=[p.pk for p in raised]).update(hand=False)
    for participant in raised:
        participant.hand = False
    return raised


@transaction.atomic
def end_meeting(room: Room) -> list[str]:
    """Everyone leaves and the meeting ends (meeting_ended: the appointment is done, the
    room closed); returns the pids that were present."""
    present = Participant.objects.filter(room=room, status__in=[lobby.Status.ADMITTED, lobby.Status.WAITING])
    pids = [str(p) for p in present.values_list("pid", flat=True)]
    present.update(status=lobby.Status.LEFT, hand=False, online=False)
    meeting_ended.send(sender=Room, room=room)
    return pids


def set_locked(room: Room, locked: bool) -> None:
    Room.objects.filter(pk=room.pk).update(locked=locked)


def record_identity_check(room: Room, checked_by_id: int | None, audit: dict) -> None:
    """Keep only the audit line of an ID check (see IdentityCheck)."""
    IdentityCheck.objects.create(
        appointment_id=room.appointment_id, checked_by_id=checked_by_id, outcome=audit["outcome"],
        document_type=audit.get("document_type", "")[:4], number_last4=audit.get("number_last4", "")[:4],
    )


def queue_info(room: Room) -> dict:
    """What a waiting citizen is told: is the agent with someone else, and their place."""
    appointment = room.appointment
    busy = (
        Participant.objects.filter(user_id=appointment.agent_id, status=lobby.Status.ADMITTED, online=True)
        .exclude(room=room)
        .exists()
    )
    ahead = (
        Participant.objects.filter(
            room__appointment__agent_id=appointment.agent_id, role=lobby.Role.GUEST,
            status=lobby.Status.WAITING, online=True, room__appointment__start__lt=appointment.start,
        )
        .exclude(room=room)
        .values("room")
        .distinct()
        .count()
    )
    return {"agent_busy": busy, "position": ahead + 1 if busy else ahead}
