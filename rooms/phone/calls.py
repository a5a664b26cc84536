"""A telephone call's life in the database: from the number called to the room's lobby.

    incoming(sid, from, to)  → the call, or None (no structure has this number)
    typed(sid, digits)       → Connect(token) | Again | Goodbye(reason)
    claim(token, sid)        → the call whose token this was, once (single use, unexpired,
                               this CallSid), or None
    enter(call)              → the entry decision (rooms/entry.py, as with the code on the
                               join page) and the phone participant in the lobby

The stream token is random, kept as its SHA-256, valid PHONE_TOKEN_SECONDS and claimed by
one conditional UPDATE: a replayed, late or borrowed token finds no row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.models import Structure
from rooms import entry, lobby, presence
from rooms.models import Participant, PhoneCall, Room
from rooms.phone.twiml import CODE_DIGITS

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
# Rooms a code may open: appointments from yesterday to tomorrow (the window decides the rest).
SEARCH = dt.timedelta(days=1)


@dataclass(frozen=True)
class Connect:
    token: str


@dataclass(frozen=True)
class Again:
    pass


@dataclass(frozen=True)
class Goodbye:
    reason: str  # twiml.goodbye's keys


E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")


def tail(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[-2:]


def phone_name(number_tail: str) -> str:
    return f"Téléphone ··{number_tail}" if number_tail else "Téléphone"


def incoming(call_sid: str, caller: str, called: str) -> PhoneCall | None:
    # Only a number in E.164 is looked up (a NUL byte in `To` made PostgreSQL refuse the query).
    structure = Structure.objects.filter(voice_number=called).first() if E164.match(called) else None
    if structure is None:
        return None
    call, _ = PhoneCall.objects.get_or_create(
        call_sid=call_sid, defaults={"structure": structure, "number_tail": tail(caller)})
    return call


def find_room(structure: Structure, digits: str) -> Room | None:
    """The room of this structure whose code the caller typed (codes are encrypted: each
    candidate of the days around today is compared in constant time)."""
    if len(digits) != CODE_DIGITS or not digits.isdigit():
        return None
    now = timezone.now()
    candidates = Room.objects.select_related("appointment").filter(
        appointment__structure=structure, appointment__start__gte=now - SEARCH, appointment__start__lte=now + SEARCH)
    for room in candidates:
        if room.check_password(digits):
            return room
    return None


def typed(call_sid: str, digits: str) -> Connect | Again | Goodbye:
    """The caller typed `digits` (empty: nothing before the timeout)."""
    with transaction.atomic():
        call = PhoneCall.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None:
            return Goodbye("no_service")
        if call.wrong_codes >= settings.PHONE_CODE_ATTEMPTS or call.token_hash:
            return Goodbye("wrong" if not call.token_hash else "closed")  # one code per call
        room = find_room(call.structure, digits)
        decision = None
        if room is not None:
            decision = entry.decide(entry.Situation(via=entry.Via.CODE, role=lobby.Role.GUEST, current=None,
                                                    phase=entry.phase_of(room), locked=room.locked))
        if room is None or decision is None:
            call.wrong_codes += 1
            call.save(update_fields=["wrong_codes"])
            return Again() if call.wrong_codes < settings.PHONE_CODE_ATTEMPTS else Goodbye("wrong")
        if not decision.allowed:
            return Goodbye(REASONS.get(decision.refusal, "closed") if decision.refusal else "closed")
        return Connect(issue_token(call, room))


REASONS = {entry.Refusal.TOO_EARLY: "too_early", entry.Refusal.OVER: "over", entry.Refusal.ENDED: "over"}


def issue_token(call: PhoneCall, room: Room) -> str:
    token = secrets.token_urlsafe(32)
    call.room = room
    call.token_hash = _hash(token)
    call.token_expires_at = timezone.now() + dt.timedelta(seconds=settings.PHONE_TOKEN_SECONDS)
    call.save(update_fields=["room", "token_hash", "token_expires_at"])
    return token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claim(token: str, call_sid: str) -> PhoneCall | None:
    """The call this token was issued to, if the token is unused, unexpired and this call's."""
    if not token or not CALL_SID.match(call_sid):
        return None
    now = timezone.now()
    rows = PhoneCall.objects.filter(token_hash=_hash(token), call_sid=call_sid, token_used_at=None,
                                    token_expires_at__gt=now, room__isnull=False)
    if rows.update(token_used_at=now) != 1:
        return None
    return PhoneCall.objects.select_related("room__appointment").get(call_sid=call_sid)


def enter(call: PhoneCall) -> tuple[entry.Decision, Participant | None]:
    """The room's rules again, now (the lock or the window may have changed since the code),
    and the phone participant where they land: the lobby."""
    room = call.room
    assert room is not None
    # A new participant each call. Dialled out, the citizen was invited as by the personal
    # link (a locked room still takes them); dialled in, as with the code.
    via = entry.Via.LINK if call.direction == PhoneCall.Direction.OUT else entry.Via.CODE
    decision = entry.decide(entry.Situation(via=via, role=lobby.Role.GUEST, current=None,
                                            phase=entry.phase_of(room), locked=room.locked))
    if not decision.allowed:
        return decision, None
    participant = Participant.objects.create(room=room, name=phone_name(call.number_tail), role=lobby.Role.GUEST,
                                             status=lobby.Status.WAITING, by_phone=True, video=False)
    PhoneCall.objects.filter(pk=call.pk).update(participant_pid=participant.pid)
    return decision, participant


def deadline(room: Room) -> dt.datetime:
    """When the call is cut at the latest: the appointment's end plus the margin."""
    return room.appointment.end + dt.timedelta(minutes=settings.PHONE_CALL_MARGIN_MINUTES)


def record_status(call_sid: str, status: str) -> PhoneCall | None:
    PhoneCall.objects.filter(call_sid=call_sid).update(status=status)
    return PhoneCall.objects.filter(call_sid=call_sid).select_related("room").first()


def leave(pid: str) -> Participant | None:
    """The phone hung up (or the room sent it away): it has no way back, it left. Returns
    the participant as it was before (its status: where the room must take it out of)."""
    # With its appointment: the day view is told (journey.announce_async) from the event loop.
    participant = Participant.objects.filter(pid=pid).select_related("room__appointment").first()
    if participant is None:
        return None
    before = participant.status
    if lobby.Status.LEFT in lobby.TRANSITIONS[lobby.Status(before)]:
        with transaction.atomic():
            presence.move(participant.room, pid, lobby.Status.LEFT)
    presence.disconnect(pid)
    participant.status = before
    return participant
