"""Limits on the room code typed at the join page, that a stranger cannot turn against the citizen.

The code is 8 random digits (10^8 codes). Two limits, both per room:

* **Per address** (an IPv4 address, or an IPv6 /56, see `portal.clientaddress.limit_key`):
  after `JOIN_MAX_FAILURES_PER_ADDRESS` (5) wrong codes within `JOIN_LOCKOUT_MINUTES` (15),
  that address is locked out of this room for the rest of the 15 minutes, right code
  included (otherwise the limit would not limit). It stops one attacker, and it only hits
  whoever shares that address.
* **Per room**: the room is never locked (that is what let a stranger lock the citizen
  out: 20 wrong codes from 4 addresses used to refuse even the right code to everybody).
  Once it received `JOIN_MAX_FAILURES_PER_ROOM` (20) wrong codes within the 15 minutes, it
  is *under attack* and slows attempts down instead: an address that already typed a wrong
  code there must wait `JOIN_SLOW_SECONDS` (60 s) after it before its next try, doubling
  with each further 20 wrong codes on the room, up to 15 minutes. An address that has not
  failed there yet is never slowed: the citizen typing the right code from their own
  connection gets in at once, whatever the attack.

Why brute force stays infeasible: a citizen's link works from 30 minutes before the start
to 30 minutes after the end, about 2 hours for a 1-hour appointment (eight 15-minute
windows). An attack that stays below 100 wrong codes per 15 minutes tries fewer than
8 x 100 = 800 codes. Above 100, every address waits 15 minutes between two tries, so each
address gets at most 1 + 120/15 = 9 tries in the 2 hours. An attacker with A addresses
(IPv4, or IPv6 /56) thus tries at most about 800 + 9A codes: with 1,000 addresses about
10,000, a chance of 1 in 10,000 (10^4 / 10^8) of finding the code of the one room they
target. Finding it only puts them in the waiting room, where the agent, who expects one
named citizen, must admit them, while the day view shows the room under attack. Tries on
one room are serialised (row lock): parallel requests from one address cannot overshoot.

What always works whatever the limits: the citizen's personal link (signed token, no
code), the agent's and helpdesk's entry, and the unlock action of the day view (it clears
the per-address counts of the room; the room's own count, and so the slowing, stays).

A right code refused by a limit is recorded (outcome REFUSED) without letting anyone in
nor answering differently from a wrong code: the day view then says that someone who has
the code is locked out, so the helpdesk can call the citizen and unlock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from portal.clientaddress import for_log, limit_key
from rooms import journey
from rooms.models import JoinAttempt, Room

log = logging.getLogger("rooms.join")
Outcome = JoinAttempt.Outcome

ADDRESS_LOCKED = "address_locked"
ROOM_SLOWED = "room_slowed"


@dataclass(frozen=True)
class Limits:
    per_address: int
    per_room: int
    window: dt.timedelta
    slow: dt.timedelta

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            per_address=max(1, settings.JOIN_MAX_FAILURES_PER_ADDRESS),
            per_room=max(1, settings.JOIN_MAX_FAILURES_PER_ROOM),
            window=dt.timedelta(minutes=settings.JOIN_LOCKOUT_MINUTES),
            slow=dt.timedelta(seconds=settings.JOIN_SLOW_SECONDS),
        )

    def slow_delay(self, room_failures: int) -> dt.timedelta:
        """The wait between two tries of one address while the room is under attack."""
        if room_failures < self.per_room:
            return dt.timedelta(0)
        doublings = min((room_failures - self.per_room) // self.per_room, 20)
        return min(self.window, self.slow * 2**doublings)


@dataclass(frozen=True)
class Verdict:
    reason: str = ""  # "", ADDRESS_LOCKED or ROOM_SLOWED
    until: dt.datetime | None = None

    @property
    def blocked(self) -> bool:
        return bool(self.reason)

    def seconds_left(self, now: dt.datetime) -> int:
        if self.until is None:
            return 0
        return max(1, int((self.until - now).total_seconds() + 0.999))


def decide(address_failures: Sequence[dt.datetime], room_failures: int, now: dt.datetime, limits: Limits) -> Verdict:
    """May this address try a code now? Plain function, no I/O.

    address_failures: the address's uncleared wrong codes on the room within the window,
    newest first; room_failures: all wrong codes on the room within the window.
    """
    if len(address_failures) >= limits.per_address:
        until = address_failures[limits.per_address - 1] + limits.window
        if until > now:
            return Verdict(ADDRESS_LOCKED, until)
    if address_failures and room_failures >= limits.per_room:
        until = address_failures[0] + limits.slow_delay(room_failures)
        if until > now:
            return Verdict(ROOM_SLOWED, until)
    return Verdict()


def _recent(room: Room, now: dt.datetime, limits: Limits):
    return JoinAttempt.objects.filter(room=room, outcome=Outcome.WRONG, at__gte=now - limits.window)


def verdict(room: Room, address: str, now: dt.datetime | None = None, limits: Limits | None = None) -> Verdict:
    now, limits = now or timezone.now(), limits or Limits.from_settings()
    recent = _recent(room, now, limits)
    mine = list(
        recent.filter(network=limit_key(address), cleared_at=None)
        .order_by("-at")
        .values_list("at", flat=True)[: limits.per_address]
    )
    return decide(mine, recent.count() if mine else 0, now, limits)


@dataclass(frozen=True)
class Attempt:
    entered: bool
    checked: bool  # False: refused by a limit before looking at the code (the page says so)
    verdict: Verdict  # after this attempt: what the page says about the next one


def attempt(room: Room, address: str, typed: str) -> Attempt:
    """Check a typed code under the limits, record it, and tell the day view what matters."""
    limits = Limits.from_settings()
    with transaction.atomic():
        Room.objects.select_for_update().filter(pk=room.pk).first()  # one attempt at a time per room
        now = timezone.now()
        before = verdict(room, address, now, limits)
        right = room.check_password(typed)
        if before.blocked:
            if right:  # the answer stays "wait": no oracle; but the helpdesk must know
                JoinAttempt.objects.create(room=room, address=address, network=limit_key(address),
                                           outcome=Outcome.REFUSED)
                log.warning("right room code refused by a limit: room=%s network=%s reason=%s",
                            room.slug, for_log(address), before.reason)
                journey.announce(room, "join_refused")
            return Attempt(False, False, before)
        outcome = Outcome.ENTERED if right else Outcome.WRONG
        JoinAttempt.objects.create(room=room, address=address, network=limit_key(address), outcome=outcome)
        if right:
            return Attempt(True, True, Verdict())
        log.warning("wrong room password: room=%s network=%s", room.slug, for_log(address))
        now = timezone.now()
        after = verdict(room, address, now, limits)
        if _news(room, after, now, limits):
            journey.announce(room, "join_alert")
        return Attempt(False, True, after)


def _news(room: Room, after: Verdict, now: dt.datetime, limits: Limits) -> bool:
    """Worth a day-view refresh: an address just got locked, or the room's slowing stepped up."""
    if after.reason == ADDRESS_LOCKED:
        return True
    failures = _recent(room, now, limits).count()
    return failures >= limits.per_room and failures % limits.per_room == 0


@dataclass(frozen=True)
class Alert:
    """What the day view shows about a room's code attempts (last `JOIN_LOCKOUT_MINUTES`)."""

    wrong_codes: int = 0
    addresses: int = 0  # distinct addresses (IPv6: /56) that typed wrong codes
    locked_addresses: int = 0  # addresses at the per-address limit, not unlocked since
    refused_at: dt.datetime | None = None  # a right code kept out, nobody entered since
    under_attack: bool = False
    minutes: int = 15  # the window these counts cover (JOIN_LOCKOUT_MINUTES)

    @property
    def shown(self) -> bool:
        return bool(self.under_attack or self.locked_addresses or self.refused_at)


def alerts(room_ids: Iterable[int], now: dt.datetime | None = None) -> dict[int, Alert]:
    """Alerts for many rooms in one query (the day view's page)."""
    now, limits = now or timezone.now(), Limits.from_settings()
    rows = (
        JoinAttempt.objects.filter(room_id__in=list(room_ids), at__gte=now - limits.window)
        .values("room_id", "network", "outcome")
        .annotate(n=Count("id"), uncleared=Count("id", filter=Q(cleared_at=None)),
                  last=Max("at"), last_uncleared=Max("at", filter=Q(cleared_at=None)))
    )
    per_room: dict[int, list[Any]] = {}
    for row in rows:
        per_room.setdefault(row["room_id"], []).append(row)
    result = {}
    for room_id, groups in per_room.items():
        wrong = [g for g in groups if g["outcome"] == Outcome.WRONG]
        entered = max((g["last"] for g in groups if g["outcome"] == Outcome.ENTERED), default=None)
        refused = max((g["last_uncleared"] for g in groups
                       if g["outcome"] == Outcome.REFUSED and g["last_uncleared"]), default=None)
        if refused is not None and entered is not None and entered > refused:
            refused = None  # they got in since (personal link aside, which leaves no attempt)
        total = sum(g["n"] for g in wrong)
        result[room_id] = Alert(
            wrong_codes=total,
            addresses=len({g["network"] for g in wrong}),
            locked_addresses=sum(1 for g in wrong if g["uncleared"] >= limits.per_address),
            refused_at=refused,
            under_attack=total >= limits.per_room,
            minutes=int(limits.window.total_seconds() // 60),
        )
    return result


def unlock(room: Room, by) -> int:
    """Lift every per-address limit on the room (helpdesk, agents); the room's slowing stays.
    Returns how many attempts were cleared."""
    cleared = JoinAttempt.objects.filter(
        room=room, cleared_at=None, outcome__in=[Outcome.WRONG, Outcome.REFUSED]
    ).update(cleared_at=timezone.now())
    log.warning("room code limits lifted: room=%s by=%s cleared=%d", room.slug, by, cleared)
    journey.announce(room, "join_unlocked")
    return cleared
