"""The providers of tests/notifications (Twilio's API and SMTP on 127.0.0.1), and a citizen's
whole history: booked, messaged by SMS and email, in the call, chatting, ID-checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from notifications import summary, tasks
from portal import booking
from portal.models import Appointment, ChangeRequest, Channel, Role
from rooms import chat, joinlimits, journey, lobby, presence
from rooms.notes import crdt
from rooms.notes.models import NotesDocument
from tests import factories
from tests.notifications.conftest import _fresh_backends, smtp, twilio  # noqa: F401  (fixtures)

FIRST, LAST = "Jeanne", "Dupontel"
PHONE, NATIONAL = "+33611223344", "06 11 22 33 44"
EMAIL = "jeanne.dupontel@example.org"
ADDRESS = "203.0.113.77"
WRONG_ADDRESS = "198.51.100.23"


@dataclass
class History:
    appointment: Appointment
    start: dt.datetime


def live(structure, agent, start: dt.datetime, capture, *, first=FIRST, last=LAST, phone=PHONE,
         email=EMAIL) -> History:
    """Everything a citizen leaves behind, through the real actions, at `start` (the clock is
    frozen by the caller at `start - 2 days` when booking and moved along by `travel`)."""
    with capture(execute=True):
        appointment = factories.appointment(structure, agent, start=start, citizen_first_name=first,
                                            citizen_last_name=last, citizen_phone=phone, citizen_email=email,
                                            preferred_channel=Channel.SMS)
    ChangeRequest.objects.create(appointment=appointment, kind=ChangeRequest.Kind.MOVE,
                                 message=f"Bonjour, c'est {first} {last}, rappelez-moi au {phone}")
    LogEntry.objects.log_actions(agent.pk, [appointment], CHANGE, change_message=f"Changed phone to {phone}",
                                 single_object=True)
    return History(appointment=appointment, start=start)


def remind(capture) -> None:
    """The sweep sends what is due by now (the day-before message, the reminder)."""
    with capture(execute=True):
        tasks.sweep()  # eager (tests/notifications' _fresh_backends): delivered at once


def call(history: History, agent, capture, *, held=True, checked=True) -> None:
    """At the start: a wrong code and the right one, the device test, the call, the chat,
    an ID check, the end."""
    appointment = Appointment.objects.select_related("room", "structure").get(pk=history.appointment.pk)
    room = appointment.room
    joinlimits.attempt(room, WRONG_ADDRESS, "000000")
    joinlimits.attempt(room, ADDRESS, room.password)
    journey.device_checked(room, False, ["camera_denied"])
    name = appointment.citizen_full_name
    guest = presence.enter_as_guest(room, name)
    presence.enter_as_member(room, agent, moderator=True)
    if not held:
        return
    presence.move(room, str(guest.pid), lobby.Status.ADMITTED)
    chat.record(str(guest.pid), None, f"Je suis {name}, {appointment.citizen_email}, {appointment.citizen_phone}")
    state = crdt.seed(f"# Notes\n- {name}, rappeler au {appointment.citizen_phone}")
    NotesDocument.objects.create(appointment=appointment, state=state, text=crdt.text_of(state))
    if checked:
        presence.record_identity_check(room, agent.pk, {"outcome": "verified", "document_type": "ID",
                                                        "number_last4": "1234"})
    with capture(execute=True):
        booking.end(appointment)
    with capture(execute=True):  # the visit summary, sent by the citizen's channel
        summary.send(appointment, f"Compte rendu pour {name} ({appointment.citizen_email})", agent)


@pytest.fixture
def manager_of():
    def make(structure):
        return factories.member(structure, Role.MANAGER)

    return make
