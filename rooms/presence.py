"""Room presence and lobby actions on the database (the rooms' single source of truth).

Plain synchronous functions: views call them directly, the consumer through
`database_sync_to_async`. Each returns what changed, so callers can broadcast it.

Presence leases (rooms/PROTOCOL.md, "Presence"). A participant is *present* while its
`lease_until` runs:
- a socket attaches (`connect`): online, the lease set to PRESENCE_LEASE_SECONDS; the
  process holding the socket renews the leases of all its sockets in one UPDATE every
  PRESENCE_HEARTBEAT_SECONDS (`renew`, rooms/leases.py);
- the socket goes without `leave` (`disconnect`): offline, "connection lost" for the
  others, the lease becomes the grace (PRESENCE_GRACE_SECONDS) to come back in place;
- a process dies (SIGKILL, crash): its leases are no longer renewed; `sweep` (every
  process's heartbeat, and Celery beat) marks them lost like a disconnect, and when a
  process restarts under the same PRESENCE_PROCESS_NAME it does so at once
  (`clear_process`);
- the grace ends offline: `sweep` moves the participant to `left` (out of tiles, list,
  count; the personal link is free again). `leave`, a refusal, a removal or the end clear
  the lease at once.
The lease lives in the database, next to the status it qualifies, rather than in a Redis
key with a TTL: a Redis restart (which the signalling tier survives) would wipe such keys,
and presence would then be split over two stores. Renewing per process, not per socket,
keeps the cost at one UPDATE per process per heartbeat whatever the number of sockets.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
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
    # The new device has the grace to connect before its place is given up.
    participant.lease_until = timezone.now() + _seconds("PRESENCE_GRACE_SECONDS")
    Participant.objects.filter(pk=participant.pk, pid=old).update(
        pid=participant.pid, online=False, channel="", lease_until=participant.lease_until)
    return old


# --- the WebSocket's view of the room ---
def find(slug: str, pid: str | None) -> Participant | None:
    if not pid:
        return None
    return _one(Participant.objects.select_related("room__appointment__structure").filter(room__slug=slug, pid=pid))


def _one(rows):
    """The row of a lookup by a unique field, or None: `.first()` without its ORDER BY (a
    third of this query's compile time, on every room handshake: bench/handshake_cost.py)."""
    return next(iter(rows[:1]), None)


def _seconds(name: str) -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, name))


def present(now: dt.datetime | None = None) -> Q:
    """Who is present (online with a live lease, or within the grace after a lost
    connection): the one reading of presence for the day view and the queue."""
    return Q(lease_until__gte=now or timezone.now())


def is_present(participant: Participant, now: dt.datetime | None = None) -> bool:
    until = participant.lease_until
    return participant.status in (lobby.Status.WAITING, lobby.Status.ADMITTED) and until is not None and (
        until >= (now or timezone.now()))


def connect(participant: Participant, status: str | None = None, *, process: str = "",
            channel: str = "") -> Participant:
    """Attach a socket (`channel` of `process`): online, with a fresh lease, in the status
    rooms.entry decided (where a returning participant lands; None: the status it has).
    Within the grace an admitted participant is still admitted: back in the call."""
    status = status or participant.status
    changes = {"status": status, "online": True, "process": process, "channel": channel,
               "lease_until": timezone.now() + _seconds("PRESENCE_LEASE_SECONDS")}
    if status != participant.status:
        changes["status_since"] = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(**changes)
    for field, value in changes.items():
        setattr(participant, field, value)
    return participant


def disconnect(pid: str, channel: str | None = None) -> Participant | None:
    """The socket `channel` is gone. Unless another socket took the participant over
    meanwhile (a reload can connect before the old socket's disconnect runs), it is offline
    with the grace to come back; offline with no lease if it has no place to come back to.
    Returns the participant as it is now (None if unknown)."""
    found = Participant.objects.select_related("room__appointment").filter(pid=pid)
    participant = _one(found)
    if participant is None or (channel is not None and participant.channel != channel):
        return participant
    waiting_or_in = participant.status in (lobby.Status.WAITING, lobby.Status.ADMITTED)
    changes = {"online": False, "channel": "",
               "lease_until": timezone.now() + _seconds("PRESENCE_GRACE_SECONDS") if waiting_or_in else None}
    claimed = Participant.objects.filter(pk=participant.pk, channel=participant.channel).update(**changes)
    if claimed:
        for field, value in changes.items():
            setattr(participant, field, value)
        return participant
    return _one(found)


def renew(channels: list[str]) -> list[Participant]:
    """The heartbeat of a process: extend the leases of its open sockets (one UPDATE).
    Returns those a sweep had taken for dead although their socket is open here (this
    process could not renew for a while: the database was down): online again."""
    if not channels:
        return []
    until = timezone.now() + _seconds("PRESENCE_LEASE_SECONDS")
    Participant.objects.filter(channel__in=channels, online=True).update(lease_until=until)
    back = Participant.objects.filter(channel__in=channels, online=False,
                                      status__in=[lobby.Status.WAITING, lobby.Status.ADMITTED])
    found = list(back.values_list("pk", flat=True))
    if not found:
        return []
    Participant.objects.filter(pk__in=found, online=False).update(online=True, lease_until=until)
    return list(Participant.objects.select_related("room__appointment").filter(pk__in=found))


@dataclass(frozen=True)
class Swept:
    """What a sweep changed, for the callers to tell the rooms (rooms/actions.py)."""

    lost: list[Participant]  # their socket's process is dead: "connection lost", the grace runs
    gone: list[Participant]  # the grace ended: out of the room (status left); as they were before


def _mark_lost(rows, now: dt.datetime) -> list[Participant]:
    """Offline with the grace, for rows (under a row lock) whose socket is taken for dead.
    The channel stays: should the socket be alive after all, its process's next beat puts
    it back online (`renew`). Returns those the room should hear lost: not someone already
    out (removed, refused, left: no lease, its socket being closed), whom the room saw leave."""
    with transaction.atomic():
        found = list(rows.select_for_update(skip_locked=True).values_list("pk", flat=True)[:1000])
        Participant.objects.filter(pk__in=found).update(
            online=False, lease_until=now + _seconds("PRESENCE_GRACE_SECONDS"))
    return list(Participant.objects.select_related("room__appointment").filter(
        pk__in=found, status__in=[lobby.Status.WAITING, lobby.Status.ADMITTED]))


def clear_process(name: str, process: str) -> list[Participant]:
    """At a process's start: the sockets its previous run (same `name`, another boot)
    held are dead. Without a stable name (PRESENCE_PROCESS_NAME unset) nothing matches and
    the leases run out instead."""
    rows = Participant.objects.filter(online=True, process__startswith=f"{name}/").exclude(process=process)
    return _mark_lost(rows, timezone.now())


def _ended(now: dt.datetime, holder: str | None) -> Q:
    """Rows whose lease ended, as a sweeper may take them (see `sweep`)."""
    ended = Q(lease_until__lt=now)
    if holder is None:
        return ended
    abandoned = Q(lease_until__lt=now - _seconds("PRESENCE_ABANDONED_SECONDS"))
    return abandoned | (ended & Q(process__startswith=f"{holder}/")) if holder else abandoned


def sweep(now: dt.datetime | None = None, holder: str | None = None) -> Swept:
    """Repair presence (idempotent; every process and Celery beat may run it at once:
    rows are claimed under a row lock, skipping those another sweeper holds).

    `holder`: None when what the sweeper then tells reaches every process (a Redis channel
    layer). Else its messages reach only its own sockets (an in-memory layer: the embedded
    default, where Celery beat sweeps too): it takes at once the rows of the process named
    `holder` ("": none), others' only once abandoned (PRESENCE_ABANDONED_SECONDS past their
    lease). Otherwise beat, or a second process on the same database, took a row first and
    told nobody who could hear: the room kept a "connexion perdue" tile for good."""
    now = now or timezone.now()
    ended = _ended(now, holder)
    lost = _mark_lost(Participant.objects.filter(online=True).filter(ended | Q(lease_until=None)), now)
    with transaction.atomic():
        gone = list(
            Participant.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("room__appointment")
            .filter(ended, online=False, status__in=[lobby.Status.WAITING, lobby.Status.ADMITTED])[:1000]
        )
        Participant.objects.filter(pk__in=[p.pk for p in gone]).update(
            status=lobby.Status.LEFT, status_since=now, hand=False, lease_until=None, channel="")
    return Swept(lost=lost, gone=gone)


def state(room: Room, pid: str) -> dict:
    """What a (re)connecting participant is told: itself, who is in, who waits, the lock."""
    return state_of(room, pid)[0]


def state_of(room: Room, pid: str) -> tuple[dict, Participant]:
    """`state`, and the participant `pid` as read with it (one query)."""
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
    }, you


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
        participant.hand, participant.lease_until = False, None  # no place to come back to
        fields += ["hand", "lease_until"]
    participant.save(update_fields=fields)
    return participant


def set_guest_link(pid: str, level: str) -> bool:
    """A guest's connection indicator level, for the day view; True when it changed (the
    day view is told then only: the page sends a level when it changes, and re-sent ones
    cost an UPDATE that matches nothing)."""
    return Participant.objects.filter(pid=pid, role=lobby.Role.GUEST).exclude(link=level).update(link=level) > 0


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
    present.update(status=lobby.Status.LEFT, hand=False, online=False, lease_until=None)
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
    now = timezone.now()
    busy = (
        Participant.objects.filter(present(now), user_id=appointment.agent_id, status=lobby.Status.ADMITTED)
        .exclude(room=room)
        .exists()
    )
    ahead = (
        Participant.objects.filter(
            present(now), room__appointment__agent_id=appointment.agent_id, role=lobby.Role.GUEST,
            status=lobby.Status.WAITING, room__appointment__start__lt=appointment.start,
        )
        .exclude(room=room)
        .values("room")
        .distinct()
        .count()
    )
    return {"agent_busy": busy, "position": ahead + 1 if busy else ahead}
