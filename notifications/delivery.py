"""Delivery: plan, claim, send, retry, fall back, repair. Plain Python over the ORM.

Life cycle of a Notification row:

    queued ──claim──► (claimed) ──provider ok──► sent ──callback──► delivered
      ▲                   │ temporary error, time left before the start
      └──── release ◄─────┤
                          ├── permanent error / no time left / temporary errors that
                          │   call for the other channel (_switch_reason) ──► failed (+ fallback on the
                          │   other channel; an address failed for good moves the following messages too)
                          └── cancelled, start passed, replaced ──► voided
    callback failed/undelivered: sent ──► failed (+ fallback, following messages moved)

Every failure records a `problem` (notifications/problems.py): a French explanation for
agents; credentials refused raise an operations alert (notifications/alerts.py).

Guarantees:
- Never twice: a row is sent only by whoever claimed it with a conditional UPDATE
  (status=queued, claimed_at=NULL → claim_token); a duplicated or retried task finds it
  claimed or finished and does nothing. A claim left by a dead worker expires after
  NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS; the next attempt first asks the provider whether
  the message went out (Backend.find_sent) before sending again.
- Never lost: the row is the schedule. Tasks are queued on commit, and the periodic
  `sweep` queues every row whose task never ran (broker down, worker killed, reminder
  planned days ahead).
- Latest data: the message is rendered after the claim, from the database row.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications import messages, optout, problems, sms
from notifications.alerts import raise_alert
from notifications.backends import DeliveryError, OutboundMessage, OutcomeUnknown, get_backend
from notifications.models import Kind, Notification, State
from notifications.problems import Problem
from portal.models import Appointment, Channel, Status
from portal.timezones import zone

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
def claim_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=settings.NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS)


def sweep_grace() -> dt.timedelta:
    return dt.timedelta(seconds=settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS)


def horizon() -> dt.timedelta:
    return dt.timedelta(seconds=settings.NOTIFICATIONS_SCHEDULE_HORIZON_SECONDS)


def early_window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.NOTIFICATIONS_EARLY_SECONDS)


# Planned messages (not asked for by someone, never tried) may leave up to early_window()
# before their due time: many due at the same minute are handed out ahead, spread so
# that the last batch leaves on time (tasks.publish), instead of all queueing after it.
MAY_GO_EARLY = Q(kind__in=[Kind.REMINDER, Kind.DAY_BEFORE], requested_by__isnull=True, attempts=0)


def may_go_early(notification: Notification) -> bool:
    return (notification.kind in (Kind.REMINDER, Kind.DAY_BEFORE) and not notification.requested_by_id
            and not notification.attempts)


def backoff(attempts: int) -> dt.timedelta:
    """Exponential, capped, with jitter so that a provider outage does not end in a stampede."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    seconds = min(base, settings.NOTIFICATIONS_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)
    return dt.timedelta(seconds=seconds)


# --------------------------------------------------------------------------- planning
@dataclass
class Dispatch:
    """Rows to hand to the task queue once the transaction commits: (id, due time), and
    which of them may be handed out ahead (see MAY_GO_EARLY)."""

    items: list[tuple[int, dt.datetime]] = field(default_factory=list)
    early: set[int] = field(default_factory=set)

    def add(self, notification: Notification) -> None:
        self.items.append((notification.pk, notification.due_at))
        if may_go_early(notification):
            self.early.add(notification.pk)


# A STOP is not among them: SmsOptOut says it, and START lifts it.
ADDRESS_PROBLEMS = [slug for slug, problem in problems.PROBLEMS.items() if problem.address and slug != "unsubscribed"]


def _address(appointment: Appointment, channel: str) -> str:
    return appointment.citizen_phone if channel == Channel.SMS else appointment.citizen_email


def _other(channel: str) -> str:
    return Channel.EMAIL if channel == Channel.SMS else Channel.SMS


def blocked(appointment: Appointment, channel: str) -> str:
    """Why `channel` cannot reach this citizen ('' if it can): no address, a STOP, or an
    earlier message to this very address failed for good (invalid, undelivered, bounced)."""
    address = _address(appointment, channel)
    if not address:
        return "no address"
    if channel == Channel.SMS and optout.is_opted_out(appointment):
        return "unsubscribed"
    failed = Notification.objects.filter(
        appointment=appointment, channel=channel, recipient=address, status=State.FAILED,
        problem__in=ADDRESS_PROBLEMS)  # fmt: skip
    return "address failed" if failed.exists() else ""


def _other_address(appointment: Appointment, channel: str) -> tuple[str, str] | None:
    other = _other(channel)
    return None if blocked(appointment, other) else (other, _address(appointment, other))


def channel_for(appointment: Appointment) -> str:
    """The citizen's choice, unless it cannot reach them and the other channel can."""
    preferred = appointment.preferred_channel
    if blocked(appointment, preferred) and not blocked(appointment, _other(preferred)):
        return _other(preferred)
    return preferred


def _create(appointment: Appointment, kind: str, due_at: dt.datetime, **extra: Any) -> Notification:
    channel = extra.pop("channel", None) or channel_for(appointment)
    return Notification.objects.create(appointment=appointment, kind=kind, channel=channel, due_at=due_at, **extra)


def reminder_due(appointment: Appointment, now: dt.datetime) -> dt.datetime:
    """start − the structure's delay; a late booking gets its reminder at once."""
    return max(appointment.start - dt.timedelta(minutes=appointment.structure.reminder_minutes), now)


def day_before_due(appointment: Appointment, now: dt.datetime) -> dt.datetime | None:
    """The eve of the appointment's day at the structure's `day_before_time`, both read in
    the structure's zone (Monday 00:30 → Sunday 10:00, whatever DST does in between); at
    once if that moment is past but the appointment's day has not come. None: the
    structure turned it off, the booking is on the day itself, or the message would come
    less than NOTIFICATIONS_DAY_BEFORE_MIN_GAP_MINUTES after the confirmation that goes now."""
    structure = appointment.structure
    if not structure.day_before_message:
        return None
    tz = zone(structure.time_zone)
    day = appointment.start.astimezone(tz).date()
    if now.astimezone(tz).date() >= day:
        return None
    # A wall-clock time that does not exist that night (clocks going forward) is read with
    # the offset before the change, i.e. an hour later on the new clock; one that happens
    # twice is the first (fold=0).
    due = dt.datetime.combine(day - dt.timedelta(days=1), structure.day_before_time, tzinfo=tz).astimezone(dt.UTC)
    due = max(due, now)
    if due < now + dt.timedelta(minutes=settings.NOTIFICATIONS_DAY_BEFORE_MIN_GAP_MINUTES):
        return None
    return due


# The messages planned ahead at booking, one pending of each per appointment.
PLANNED: dict[str, Callable[[Appointment, dt.datetime], dt.datetime | None]] = {
    Kind.REMINDER: reminder_due, Kind.DAY_BEFORE: day_before_due}


def void_pending(appointment: Appointment, kinds: Iterable[str], reason: str) -> int:
    """Void queued automatic messages. A claimed one stops before sending when it sees it."""
    return Notification.objects.filter(
        appointment=appointment, kind__in=list(kinds), status=State.QUEUED, requested_by__isnull=True
    ).update(status=State.VOIDED, last_error=reason, updated_at=timezone.now())


def _plan(appointment: Appointment, kind: str, now: dt.datetime) -> Notification | None:
    """(Re)plan the pending message of `kind` (see PLANNED): the old one is voided."""
    due = PLANNED[kind](appointment, now) if appointment.status == Status.SCHEDULED else None
    # The partial unique index allows one pending message of each planned kind: a
    # concurrent reschedule that planned first wins, and ours is voided then replaced.
    for _ in range(3):
        void_pending(appointment, [kind], f"replaced by a newer {kind}")
        if due is None or appointment.start <= now:
            return None
        try:
            with transaction.atomic():
                return _create(appointment, kind, due)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not plan the {kind} of appointment {appointment.pk}")


def _replan(
    appointment_id: int, now: dt.datetime | None, first: Callable[[Appointment, dt.datetime], Notification | None]
) -> Dispatch:
    """A booking or a change of time: `first` makes the immediate message (if any), then the
    planned ones are (re)planned."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("structure").get(pk=appointment_id)
    plan = Dispatch()
    if appointment.start > now:
        if notification := first(appointment, now):
            plan.add(notification)
    elif appointment.status == Status.SCHEDULED and now < appointment.end:
        # Booked (or moved) at or after the start, the agent having confirmed it (portal/forms.py):
        # the link and code go at once, useful until the end; a confirmation would come too late.
        plan.add(_create(appointment, Kind.REMINDER, now, requested_by=appointment.created_by))
    for kind in PLANNED:
        if notification := _plan(appointment, kind, now):
            plan.add(notification)
    return plan


@transaction.atomic
def on_booked(appointment_id: int, now: dt.datetime | None = None) -> Dispatch:
    return _replan(appointment_id, now, lambda appointment, now: _create(appointment, Kind.CONFIRMATION, now))


def _rescheduled_notice(appointment: Appointment, now: dt.datetime) -> Notification | None:
    void_pending(appointment, [Kind.RESCHEDULED], "replaced by a newer change of time")
    if appointment.status != Status.SCHEDULED:
        return None
    return _create(appointment, Kind.RESCHEDULED, now)


@transaction.atomic
def on_rescheduled(appointment_id: int, now: dt.datetime | None = None) -> Dispatch:
    return _replan(appointment_id, now, _rescheduled_notice)


@transaction.atomic
def on_cancelled(appointment_id: int, now: dt.datetime | None = None) -> Dispatch:
    now = now or timezone.now()
    appointment = Appointment.objects.get(pk=appointment_id)
    void_pending(appointment, [Kind.CONFIRMATION, *PLANNED, Kind.RESCHEDULED], "appointment cancelled")
    plan = Dispatch()
    if appointment.start > now:
        plan.add(_create(appointment, Kind.CANCELLED, now))
    return plan


@transaction.atomic
def on_channel_chosen(appointment_id: int) -> int:
    """The citizen chose a channel on their page: choosing SMS there lifts an earlier STOP
    to this structure (a new, explicit consent), and the queued messages not yet being sent
    move to the channel that now applies. Returns how many moved."""
    appointment = Appointment.objects.get(pk=appointment_id)
    if appointment.preferred_channel == Channel.SMS and optout.is_opted_out(appointment):
        optout.record(appointment.citizen_phone, [appointment.structure_id], False, "citizen page", "citizen page")
    channel = channel_for(appointment)
    return Notification.objects.filter(
        appointment=appointment, status=State.QUEUED, claimed_at__isnull=True, fallback_of__isnull=True
    ).exclude(channel=channel).update(channel=channel, updated_at=timezone.now())


@transaction.atomic
def resend_link(appointment: Appointment, by: AbstractBaseUser, now: dt.datetime | None = None) -> Notification | None:
    """The helpdesk/agent "resend the link" action: a reminder now, on the preferred channel."""
    now = now or timezone.now()
    if appointment.status != Status.SCHEDULED or appointment.end <= now:
        return None
    return _create(appointment, Kind.REMINDER, now, requested_by=by)


# --------------------------------------------------------------------------- claiming
@dataclass
class Claim:
    token: str
    now: dt.datetime
    # id -> True when an earlier attempt may have reached the provider.
    ids: dict[int, bool] = field(default_factory=dict)


def claim(ids: Iterable[int], now: dt.datetime | None = None) -> Claim:
    """Claim the due, queued rows among `ids`. Only the rows returned may be sent.

    One UPDATE claims all free rows (`status=queued, claimed_at=NULL` → our token: a row
    is claimed by exactly one caller); then rows whose claim expired (a dead worker) are
    taken over one by one, compare-and-swap on the old token.
    """
    now = now or timezone.now()
    ids = list(ids)
    result = Claim(token=uuid.uuid4().hex, now=now)
    if not ids:
        return result
    due = Q(due_at__lte=now) | Q(MAY_GO_EARLY, due_at__lte=now + early_window())
    Notification.objects.filter(due, id__in=ids, status=State.QUEUED, claimed_at__isnull=True).update(
        claim_token=result.token,
        claimed_at=now,
        first_claimed_at=Coalesce(F("first_claimed_at"), now),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    for pk, unknown in Notification.objects.filter(claim_token=result.token).values_list("id", "outcome_unknown"):
        result.ids[pk] = unknown
    stale = Notification.objects.filter(
        id__in=ids, status=State.QUEUED, claimed_at__lt=now - claim_timeout(), due_at__lte=now
    ).values_list("id", "claim_token")
    for pk, old_token in stale:
        took_over = Notification.objects.filter(pk=pk, status=State.QUEUED, claim_token=old_token).update(
            claim_token=result.token, claimed_at=now, attempts=F("attempts") + 1, outcome_unknown=True, updated_at=now
        )
        if took_over:
            log.warning("notification %s: claim expired (worker lost?), taking over", pk)
            result.ids[pk] = True
    return result


# --------------------------------------------------------------------------- sending
@dataclass
class Report:
    sent: list[int] = field(default_factory=list)
    retry: list[tuple[int, dt.datetime]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    voided: list[int] = field(default_factory=list)
    dispatch: Dispatch = field(default_factory=Dispatch)


def why_not(notification: Notification, now: dt.datetime) -> str:
    """Why this message must not be sent now ('' if it may)."""
    appointment = notification.appointment
    if notification.status != State.QUEUED:
        return "no longer queued"
    if notification.kind == Kind.SUMMARY:  # after the appointment, while its page lasts
        if appointment.status == Status.CANCELLED:
            return "appointment cancelled"
        return "summary no longer available" if now >= deadline(notification) else ""
    if notification.kind == Kind.CANCELLED:
        if appointment.status != Status.CANCELLED:
            return "appointment not cancelled"
    elif appointment.status != Status.SCHEDULED:
        return f"appointment {appointment.status}"
    if now >= deadline(notification):
        return "start time passed"
    if notification.kind == Kind.DAY_BEFORE and not notification.requested_by_id:
        tz = zone(appointment.structure.time_zone)
        if now.astimezone(tz).date() >= appointment.start.astimezone(tz).date():
            return "the day before has passed"  # it says "tomorrow"
    return ""


def deadline(notification: Notification) -> dt.datetime:
    """No message after the start; a link resent by the helpdesk, or sent at a late booking
    (on behalf of the agent who booked), is useful until the end."""
    appointment = notification.appointment
    if notification.kind == Kind.SUMMARY:
        from notifications.summary import available_until

        return available_until(appointment)
    return appointment.end if notification.requested_by_id else appointment.start


def _finish(notification: Notification, token: str, **values: Any) -> bool:
    """Record an outcome, if our claim still holds."""
    values.setdefault("updated_at", timezone.now())
    return bool(Notification.objects.filter(pk=notification.pk, claim_token=token).update(**values))


@contextmanager
def _outcomes_without_fsync() -> Iterator[None]:
    """PostgreSQL: outcomes are committed without waiting for the WAL flush (one fsync per
    message was the bottleneck). Claims, made before, stay durable: should the database
    crash and lose an outcome, the row is still claimed and the next attempt, after the
    claim timeout, asks the provider before sending again."""
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def _fallback(notification: Notification, now: dt.datetime, report: Report) -> None:
    if notification.fallback_of_id or Notification.objects.filter(fallback_of=notification).exists():
        return  # one fallback, never a ping-pong between channels
    other = _other_address(notification.appointment, notification.channel)
    if other is None:
        return
    channel, _address = other
    fallback = _create(
        notification.appointment,
        notification.kind,
        now,
        channel=channel,
        fallback_of=notification,
        requested_by=notification.requested_by,
        language=notification.language,
    )
    report.dispatch.add(fallback)


def _move_following(notification: Notification) -> int:
    """The address failed for good: the appointment's queued messages on that channel
    (not yet claimed) go to the other one, if it can reach the citizen."""
    other = _other_address(notification.appointment, notification.channel)
    if other is None:
        return 0
    return Notification.objects.filter(
        appointment=notification.appointment, channel=notification.channel, status=State.QUEUED,
        claimed_at__isnull=True,
    ).exclude(pk=notification.pk).update(channel=other[0], updated_at=timezone.now())  # fmt: skip


def _after_failure(notification: Notification, problem: Problem, error: str, now: dt.datetime, report: Report,
                   *, from_provider: bool = True) -> None:
    """Log, alert, remember a STOP the provider told us about, fall back, move the rest."""
    log.error("notification %s (%s by %s) failed [%s]: %s", notification.pk, notification.kind,
              notification.channel, problem.slug, error)
    if problem.alert:
        raise_alert(problem, error)
    appointment = notification.appointment
    if from_provider and problem.slug == "unsubscribed" and appointment.citizen_phone:
        optout.record(appointment.citizen_phone, [appointment.structure_id], True, "21610", "provider")
    _fallback(notification, now, report)
    if problem.address or problem.alert:
        _move_following(notification)


def _fail(notification: Notification, token: str, error: str, now: dt.datetime, report: Report,
          problem: Problem | None = None, recipient: str = "", *, from_provider: bool = True) -> None:
    problem = problem or problems.PROBLEMS["other"]
    values: dict[str, Any] = {"status": State.FAILED, "last_error": error[:2000], "problem": problem.slug}
    if recipient:
        values["recipient"] = recipient
    with transaction.atomic():
        if _finish(notification, token, **values):
            report.failed.append(notification.pk)
            _after_failure(notification, problem, error, now, report, from_provider=from_provider)


def _segments(message: OutboundMessage) -> int:
    """SMS segments billed (kept for the statistics, the body itself is not stored)."""
    return sms.segments(message.body) if message.channel == Channel.SMS else 0


def _send_one(notification: Notification, token: str, maybe_sent: bool, clock: Callable[[], dt.datetime],
              report: Report, stopped: bool = False) -> None:
    now = clock()
    reason = why_not(notification, now)
    if reason:
        if notification.status == State.QUEUED and _finish(notification, token, status=State.VOIDED, last_error=reason):
            report.voided.append(notification.pk)
        return
    if stopped:  # the citizen answered STOP since this row was planned
        _fail(notification, token, "the citizen opted out of SMS (STOP)", now, report,
              problems.PROBLEMS["unsubscribed"], notification.appointment.citizen_phone, from_provider=False)
        return
    message = messages.render(notification)
    if not message.to:
        _fail(notification, token, f"no {notification.get_channel_display()} address", now, report,
              problems.PROBLEMS["no_address"])
        return
    backend = get_backend(notification.channel)
    if maybe_sent:
        since = notification.first_claimed_at or notification.created_at
        try:
            provider_id = backend.find_sent(message, since)
        except OutcomeUnknown:
            provider_id = None  # cannot ask: send again, with the same idempotency key
        if provider_id:
            _finish(notification, token, status=State.SENT, provider_id=provider_id, recipient=message.to, sent_at=now,
                    segments=_segments(message))
            report.sent.append(notification.pk)
            return
    try:
        provider_id = backend.send(message)
    except DeliveryError as error:
        _handle_error(notification, token, error, now, report, message.to)
        return
    sent_at = clock()
    _finish(
        notification,
        token,
        status=State.SENT,
        provider_id=provider_id,
        recipient=message.to,
        sent_at=sent_at,
        segments=_segments(message),
        last_error="",
        problem="",
        outcome_unknown=False,
    )
    report.sent.append(notification.pk)


def _switch_reason(notification: Notification, now: dt.datetime, next_at: dt.datetime) -> str:
    """Why to stop retrying this channel and use the other one now ('' to keep retrying):
    NOTIFICATIONS_FALLBACK_AFTER_FAILURES temporary failures; a reminder with less than
    NOTIFICATIONS_REMINDER_FALLBACK_MINUTES left; a confirmation whose next attempt would
    come NOTIFICATIONS_CONFIRMATION_FALLBACK_MINUTES after its first."""
    if notification.attempts >= settings.NOTIFICATIONS_FALLBACK_AFTER_FAILURES:
        return f"{notification.attempts} temporary failures"
    if notification.kind == Kind.REMINDER:
        left = deadline(notification) - next_at
        if left < dt.timedelta(minutes=settings.NOTIFICATIONS_REMINDER_FALLBACK_MINUTES):
            return "too little time left before the start"
    if notification.kind == Kind.CONFIRMATION:
        first = notification.first_claimed_at or notification.created_at
        if next_at - first >= dt.timedelta(minutes=settings.NOTIFICATIONS_CONFIRMATION_FALLBACK_MINUTES):
            return "still failing after minutes"
    return ""


def _handle_error(notification: Notification, token: str, error: DeliveryError, now: dt.datetime,
                  report: Report, to: str = "") -> None:
    text = str(error)
    problem = problems.for_error(notification.channel, error)
    if error.permanent or problem.alert:  # credentials: never retried in a loop
        _fail(notification, token, text, now, report, problem, to)
        return
    next_at = now + backoff(notification.attempts)
    switch = _switch_reason(notification, now, next_at)
    if switch and not notification.fallback_of_id and _other_address(notification.appointment, notification.channel):
        other = _other(notification.channel)
        _fail(notification, token, f"{text} ({switch}: sent by {other} instead)", now, report, problem, to)
        return
    if next_at >= deadline(notification):
        _fail(notification, token, f"{text} (still failing, no time left before the start)", now, report, problem, to)
        return
    log.warning("notification %s: temporary failure, retry at %s: %s", notification.pk, next_at, text)
    values: dict[str, Any] = {"claim_token": "", "claimed_at": None, "due_at": next_at, "dispatched_at": now,
                              "last_error": text[:2000], "problem": problem.slug}
    if error.maybe_sent:
        values["outcome_unknown"] = True
    released = _finish(notification, token, **values)
    if released:
        report.retry.append((notification.pk, next_at))


def process(claimed: Claim) -> Report:
    """Send every row of `claimed`, reading each (and its appointment) from the database now."""
    report = Report()
    rows = list(Notification.objects.filter(pk__in=list(claimed.ids), claim_token=claimed.token).select_related(
        "appointment__structure", "appointment__room"
    ))
    started = timezone.now()

    def clock() -> dt.datetime:  # the claim's clock (tests pass one), running
        return claimed.now + (timezone.now() - started)

    stopped = optout.opted_out(
        (n.appointment.citizen_phone, n.appointment.structure_id) for n in rows if n.channel == Channel.SMS)
    with _outcomes_without_fsync():
        for notification in rows:
            appointment = notification.appointment
            try:
                _send_one(notification, claimed.token, claimed.ids[notification.pk], clock, report,
                          notification.channel == Channel.SMS
                          and (appointment.citizen_phone, appointment.structure_id) in stopped)
            except Exception as error:  # a bug or the database: keep the row, retry later
                log.exception("notification %s: unexpected error", notification.pk)
                try:
                    error = DeliveryError(repr(error), permanent=False)
                    _handle_error(notification, claimed.token, error, clock(), report)
                except Exception:
                    log.exception("notification %s: could not record the error", notification.pk)
    return report


def deliver(ids: Iterable[int], now: dt.datetime | None = None) -> Report:
    """Claim and send: what a task does. Safe to run any number of times, concurrently."""
    return process(claim(ids, now))


# --------------------------------------------------------------------------- callbacks
PROVIDER_FAILED = {"failed", "undelivered"}


def record_status(provider_id: str, status: str, error_code: str = "") -> tuple[Notification | None, Dispatch]:
    """A delivery report from the provider. Unknown ids are ignored (None)."""
    plan = Dispatch()
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("appointment")
            .filter(provider_id=provider_id, channel=Channel.SMS)
            .first()
        )
        if notification is None:
            return None, plan
        if status == "delivered" and notification.status == State.SENT:
            Notification.objects.filter(pk=notification.pk).update(
                status=State.DELIVERED, delivered_at=now, updated_at=now
            )
        elif status in PROVIDER_FAILED and notification.status in (State.SENT, State.DELIVERED):
            error = f"provider reported {status}" + (f" (error {error_code})" if error_code else "")
            problem = problems.for_report(error_code)
            Notification.objects.filter(pk=notification.pk).update(
                status=State.FAILED, last_error=error, problem=problem.slug, updated_at=now
            )
            notification.status = State.FAILED
            report = Report()
            if notification.appointment.start > now:
                _after_failure(notification, problem, error, now, report)
            else:
                log.error("notification %s: %s", notification.pk, error)
            plan = report.dispatch
        notification.refresh_from_db()
    return notification, plan


# --------------------------------------------------------------------------- repair
def sweep(now: dt.datetime | None = None, limit: int | None = None) -> Dispatch:
    """Rows that need a task: planned beyond the horizon and now close, or whose task was
    lost (queued long after its due time, unclaimed or claimed by a dead worker)."""
    now = now or timezone.now()
    limit = limit or settings.NOTIFICATIONS_SWEEP_LIMIT
    late = now - sweep_grace()
    needs_task = Q(dispatched_at__isnull=True, due_at__lte=now + horizon()) | Q(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - claim_timeout()),
        due_at__lte=late,
        dispatched_at__lte=late,
    )
    rows = list(
        Notification.objects.filter(needs_task, status=State.QUEUED)
        .order_by("due_at")
        .values_list("id", "due_at", "kind", "requested_by_id", "attempts")[:limit]
    )
    plan = Dispatch()
    if rows:
        Notification.objects.filter(id__in=[row[0] for row in rows]).update(dispatched_at=now)
        plan.items = [(pk, max(due, now)) for pk, due, *_rest in rows]
        plan.early = {pk for pk, due, kind, by, attempts in rows
                      if kind in (Kind.REMINDER, Kind.DAY_BEFORE) and by is None and not attempts and due > now}
    return plan
