"""A structure's generated history, for the browser test and the benchmarks: `n`
appointments spread over `days` before `end`, with what the counting reads (rooms with
device results, guests admitted after a wait, messages with segments, ID checks), written
with bulk inserts (a year of a busy structure in seconds)."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import F

from notifications.models import Notification, State
from portal.models import Appointment, Channel, Status
from rooms import secrets
from rooms.models import IdentityCheck, Participant, Room

PROBLEMS = ["", "", "", "", "camera_denied", "no_microphone", "no_connection"]
WAITS = [5, 15, 25, 40, 40, 55, 80, 80, 110, 150, 200, 280, 400, 700]  # seconds before admission


def generate(structure, agents: list, n: int, end: dt.datetime, days: int = 365, seed: int = 18,
             batch: int = 5000) -> list[int]:
    """Returns the appointments' ids. Deterministic for a seed."""
    rng = random.Random(seed)
    password = secrets.encrypt("123456")  # one encryption for all: the rooms are never joined
    ids: list[int] = []
    for first in range(0, n, batch):
        count = min(batch, n - first)
        appointments = [Appointment(
            structure=structure, agent=rng.choice(agents), citizen_first_name="Camille", citizen_last_name=f"N{i}",
            citizen_email=f"camille.n{i}@example.org", citizen_phone=f"+336{10000000 + i}",
            preferred_channel=Channel.SMS, start=end - dt.timedelta(minutes=rng.randrange(days * 24 * 60)),
            duration_minutes=30, subject="Démarche", moves=1 if rng.random() < 0.08 else 0,
            status=rng.choices([Status.DONE, Status.NO_SHOW, Status.CANCELLED, Status.SCHEDULED],
                               [70, 10, 12, 8])[0],
        ) for i in range(first, first + count)]
        Appointment.objects.bulk_create(appointments, batch_size=1000)
        rooms = []
        for a in appointments:
            problem = rng.choice(PROBLEMS) if rng.random() < 0.7 else None
            rooms.append(Room(appointment=a, slug=secrets.new_slug(), password_encrypted=password,
                              state=Room.State.CLOSED, device_ok=None if problem is None else not problem,
                              device_problems=problem or ""))
        Room.objects.bulk_create(rooms, batch_size=1000)
        guests, messages, checks = [], [], []
        for a, room in zip(appointments, rooms, strict=True):
            if a.status in (Status.DONE, Status.SCHEDULED) and rng.random() < 0.9:
                guests.append(Participant(room=room, name=a.citizen_full_name, role="guest", status="left",
                                          admitted_at=a.start + dt.timedelta(seconds=rng.randrange(-60, 300))))
            for kind in ("confirmation", "reminder"):
                state = rng.choices([State.DELIVERED, State.SENT, State.FAILED], [85, 10, 5])[0]
                messages.append(Notification(appointment=a, kind=kind, channel=Channel.SMS, status=state,
                                             due_at=a.start, recipient=a.citizen_phone, segments=rng.choice([1, 2]),
                                             provider_id=f"SM{a.pk:032d}{kind[0]}", sent_at=a.start))
            if a.status == Status.DONE and rng.random() < 0.2:
                checks.append(IdentityCheck(appointment=a, outcome=rng.choice(["verified", "verified", "mismatch",
                                                                               "unreadable", "refused"])))
        Participant.objects.bulk_create(guests, batch_size=1000)
        # created_at is set on insert: moved back by each guest's wait, a few waits at a time.
        by_wait: dict[int, list[int]] = {}
        for guest in guests:
            by_wait.setdefault(rng.choice(WAITS), []).append(guest.pk)
        for wait, pks in by_wait.items():
            Participant.objects.filter(pk__in=pks).update(created_at=F("admitted_at") - dt.timedelta(seconds=wait))
        Notification.objects.bulk_create(messages, batch_size=1000)
        IdentityCheck.objects.bulk_create(checks, batch_size=1000)
        ids += [a.pk for a in appointments]
    return ids
