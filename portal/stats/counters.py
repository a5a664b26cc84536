"""The structures' statistics: counted once per appointment, read as a few aggregates.

An appointment is counted `STATISTICS_SETTLE_HOURS` after its end (delivery reports and
late marks have come in by then), or at once before the purge or an erase touch it, into
the `WeeklyCount` rows of the week of its start (Monday, in the structure's time zone) and
of its agent. The counters hold no personal data and outlive every purge, so the statistics
page reads a constant number of aggregates whatever the history, and the purge leaves the
statistics unchanged.

What is counted (each appointment once, `counted_at`):
- booked: every appointment; cancelled; moved (its start changed at least once);
- held: the citizen (a guest) was admitted into the call; no-show: not cancelled, never
  admitted; of the held, ended normally (the agent ended the call or marked it done) or by
  failure (the call was left without being ended: connection lost, tab closed);
- waiting before admission: the guest's first entry to its admission, in a histogram
  (`WAIT_BUCKETS`) from which the median and 90th percentile are read;
- device test: passed, not done, or each problem reported;
- messages per channel: sent (left for the provider), delivered, failed, and SMS segments;
- ID checks by outcome.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from notifications.models import Notification, State
from portal.models import Appointment, Status, Structure, WeeklyCount
from portal.timezones import zone
from rooms.lobby import Role as RoomRole
from rooms.models import IdentityCheck, Participant

# Upper bounds (seconds) of the waiting histogram; the last bucket is "more than an hour".
WAIT_BUCKETS = (10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600)
WAIT_OVER = "wait:over"
APPOINTMENT_METRICS = ("booked", "held", "cancelled", "no_show", "moved")
CALL_METRICS = ("ended_normally", "ended_failure")
MESSAGE_STATES = {State.SENT: "sent", State.DELIVERED: "delivered", State.FAILED: "failed"}


def week_of(moment: dt.datetime, time_zone: str) -> dt.date:
    day = moment.astimezone(zone(time_zone)).date()
    return day - dt.timedelta(days=day.weekday())


def wait_metric(seconds: float) -> str:
    for bound in WAIT_BUCKETS:
        if seconds <= bound:
            return f"wait:{bound}"
    return WAIT_OVER


def settled_before(now: dt.datetime) -> dt.datetime:
    """Appointments starting before this have ended at least STATISTICS_SETTLE_HOURS ago
    (the longest lasts 8 hours)."""
    return now - dt.timedelta(hours=settings.STATISTICS_SETTLE_HOURS) - dt.timedelta(minutes=480)


def _metrics(appointment: Mapping[str, Any], guests: list[Any], messages: list[Any], checks: list[Any]) -> Counter[str]:
    counts: Counter[str] = Counter(booked=1)
    held = [g for g in guests if g["admitted_at"] is not None]
    if appointment["status"] == Status.CANCELLED:
        counts["cancelled"] += 1
    elif not held:
        counts["no_show"] += 1
    if appointment["moves"]:
        counts["moved"] += 1
    if held:
        counts["held"] += 1
        counts["ended_normally" if appointment["status"] == Status.DONE else "ended_failure"] += 1
        first = min(held, key=lambda g: g["admitted_at"])
        counts[wait_metric(max(0.0, (first["admitted_at"] - first["created_at"]).total_seconds()))] += 1
    if appointment["status"] != Status.CANCELLED:
        if appointment["room__device_ok"] is None:
            counts["device:untested"] += 1
        elif appointment["room__device_ok"]:
            counts["device:ok"] += 1
        for problem in filter(None, (appointment["room__device_problems"] or "").split(",")):
            counts[f"device:{problem}"] += 1
    for row in messages:
        state = MESSAGE_STATES.get(row["status"])
        if state is None:
            continue  # queued or voided: never left
        if state == "delivered":  # delivered messages were sent too
            counts[f"msg:{row['channel']}:sent"] += row["n"]
        counts[f"msg:{row['channel']}:{state}"] += row["n"]
        counts["sms_segments"] += row["segments"] or 0
    for row in checks:
        counts[f"idcheck:{row['outcome']}"] += row["n"]
    return counts


def _by_appointment(rows: Iterable[Any], key: str = "appointment_id") -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _add(structure_id: int, totals: Counter[tuple[int | None, dt.date, str]]) -> None:
    """Add to the counters in one statement per 500: INSERT … ON CONFLICT DO UPDATE (value =
    value + the batch's), on PostgreSQL and SQLite alike."""
    table = connection.ops.quote_name(WeeklyCount._meta.db_table)
    items = list(totals.items())
    with connection.cursor() as cursor:
        for first in range(0, len(items), 500):
            chunk = items[first:first + 500]
            cursor.execute(
                f"INSERT INTO {table} (structure_id, agent_id, week, metric, value) VALUES "  # noqa: S608  (no input)
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
                + f" ON CONFLICT (structure_id, agent_id, week, metric) DO UPDATE SET value = {table}.value"
                " + excluded.value",
                [v for (agent_id, week, metric), value in chunk for v in (structure_id, agent_id, week, metric, value)])


def _count_batch(structure: Structure, ids: list[int], now: dt.datetime) -> int:
    """Count these appointments of `structure` (in the caller's transaction, the structure
    row locked so that two runs never write the same counter at once)."""
    rows = list(Appointment.objects.select_for_update(of=("self",)).filter(pk__in=ids, counted_at=None)
                .values("pk", "agent_id", "start", "status", "moves", "room__device_ok", "room__device_problems"))
    if not rows:
        return 0
    ids = [row["pk"] for row in rows]
    guests = _by_appointment(Participant.objects.filter(room__appointment_id__in=ids, role=RoomRole.GUEST)
                             .values("room__appointment_id", "admitted_at", "created_at"), "room__appointment_id")
    messages = _by_appointment(Notification.objects.filter(appointment_id__in=ids)
                               .values("appointment_id", "channel", "status")
                               .annotate(n=Count("pk"), segments=Sum("segments")).order_by())
    checks = _by_appointment(IdentityCheck.objects.filter(appointment_id__in=ids)
                             .values("appointment_id", "outcome").annotate(n=Count("pk")).order_by())
    totals: Counter[tuple[int | None, dt.date, str]] = Counter()
    for row in rows:
        week = week_of(row["start"], structure.time_zone)
        for metric, value in _metrics(row, guests[row["pk"]], messages[row["pk"]], checks[row["pk"]]).items():
            totals[(row["agent_id"], week, metric)] += value
    _add(structure.pk, totals)
    Appointment.objects.filter(pk__in=ids).update(counted_at=now)
    return len(ids)


def count(structure: Structure, appointments: Q, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Count the not yet counted appointments of `structure` matching `appointments`, in
    batches (one transaction each: an interrupted run leaves whole batches counted)."""
    now = now or timezone.now()
    size = batch_size or settings.RETENTION_BATCH_SIZE
    done = 0
    pending = Appointment.objects.filter(appointments, structure=structure, counted_at=None).order_by("pk")
    while True:
        with transaction.atomic():
            list(Structure.objects.select_for_update().filter(pk=structure.pk).values_list("pk", flat=True))
            ids = list(pending.values_list("pk", flat=True)[:size])
            if not ids:
                return done
            done += _count_batch(structure, ids, now)


def count_settled(structure: Structure, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    now = now or timezone.now()
    return count(structure, Q(start__lt=settled_before(now)), now, batch_size)


def pending_settled(structure: Structure, now: dt.datetime) -> int:
    return Appointment.objects.filter(structure=structure, counted_at=None, start__lt=settled_before(now)).count()


# --- Reading -----------------------------------------------------------------------------

def percentile(histogram: dict[str, int], fraction: float) -> float | None:
    """The `fraction` quantile (0.5: median) of a waiting histogram, in seconds, by linear
    interpolation inside its bucket; None without data; the last bucket reads as its lower
    bound (more than an hour)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = fraction * total
    seen, lower = 0, 0.0
    for bound in WAIT_BUCKETS:
        n = histogram.get(f"wait:{bound}", 0)
        if n and seen + n >= rank:
            return lower + (bound - lower) * max(0.0, rank - seen) / n
        seen += n
        lower = float(bound)
    return lower


@dataclass
class Report:
    """What the statistics page shows: totals per week and per agent, for `weeks`."""

    weeks: list[dt.date]
    by_week: dict[dt.date, Counter[str]] = field(default_factory=dict)
    by_agent: dict[int | None, Counter[str]] = field(default_factory=dict)
    agent_names: dict[int | None, str] = field(default_factory=dict)

    def total(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.by_week.values():
            total.update(counts)
        return total

    def series(self, metric: str) -> list[int]:
        return [self.by_week.get(week, Counter())[metric] for week in self.weeks]

    @staticmethod
    def waiting(counts: Counter[str]) -> tuple[float | None, float | None]:
        histogram = {k: v for k, v in counts.items() if k.startswith("wait:")}
        return percentile(histogram, 0.5), percentile(histogram, 0.9)


def weeks_between(first: dt.date, last: dt.date) -> list[dt.date]:
    first -= dt.timedelta(days=first.weekday())
    return [first + dt.timedelta(weeks=i) for i in range(math.floor((last - first).days / 7) + 1)]


def report(structure: Structure, first: dt.date, last: dt.date) -> Report:
    """Three queries whatever the number of appointments: sums per (week, metric) and per
    (agent, metric) over the structure's counters of those weeks, and the agents' names."""
    result = Report(weeks=weeks_between(first, last))
    counters = WeeklyCount.objects.filter(structure=structure, week__gte=result.weeks[0], week__lte=result.weeks[-1])
    for row in counters.values("week", "metric").annotate(total=Sum("value")).order_by():
        result.by_week.setdefault(row["week"], Counter())[row["metric"]] += row["total"]
    for agent in counters.values("agent_id", "metric").annotate(total=Sum("value")).order_by():
        result.by_agent.setdefault(agent["agent_id"], Counter())[agent["metric"]] += agent["total"]
    users = get_user_model().objects.filter(pk__in=[pk for pk in result.by_agent if pk is not None])
    for pk, first_name, last_name, username in users.values_list("pk", "first_name", "last_name", "username"):
        result.agent_names[pk] = f"{first_name} {last_name}".strip() or username
    for agent_id in result.by_agent:
        result.agent_names.setdefault(agent_id, "—")  # an account deleted since
    return result
