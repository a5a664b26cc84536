"""Celery tasks: thin wrappers over notifications.delivery (see its docstring)."""

from __future__ import annotations

import datetime as dt
import logging
from itertools import groupby

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from notifications import delivery
from notifications.models import Notification

log = logging.getLogger(__name__)


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver(ids: list[int]) -> dict[str, int]:
    report = delivery.deliver(ids)
    for pk, at in report.retry:
        publish(delivery.Dispatch([(pk, at)]), force=True)
    publish(report.dispatch)
    return {"sent": len(report.sent), "retry": len(report.retry), "failed": len(report.failed)}


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> int:
    plan = delivery.sweep()
    publish(plan, force=True)
    if plan.items:
        log.info("sweep queued %d notification(s)", len(plan.items))
    return len(plan.items)


def batches(plan: delivery.Dispatch, now: dt.datetime) -> list[tuple[list[int], dt.datetime | None]]:
    """(ids, eta or None for now) per task, in order. Rows due in the same second go in
    batches of NOTIFICATIONS_BATCH_SIZE; when they may go early (planned reminders), the
    batches are spread before the due time at NOTIFICATIONS_RELEASE_RATE messages per
    second, the last one on time, the first at most NOTIFICATIONS_EARLY_SECONDS ahead: a
    burst of 10,000 reminders due at 10:00 starts leaving at 9:58:20 and ends at 10:00
    instead of starting at 10:00; a lone reminder leaves at its time."""
    size = settings.NOTIFICATIONS_BATCH_SIZE
    spacing = dt.timedelta(seconds=size / settings.NOTIFICATIONS_RELEASE_RATE)
    out: list[tuple[list[int], dt.datetime]] = []
    items = sorted(plan.items, key=lambda item: item[1])
    for second, group in groupby(items, key=lambda item: item[1].replace(microsecond=0)):
        rows = list(group)
        # The second's end (a claim at `eta` then finds every row due), or now.
        due = second + dt.timedelta(seconds=1) if any(at.microsecond for _pk, at in rows) else second
        due = max(due, now)
        ids = [pk for pk, _at in rows]
        early = [pk for pk in ids if pk in plan.early]
        on_time = [pk for pk in ids if pk not in plan.early]
        chunks = [early[i : i + size] for i in range(0, len(early), size)]
        for index, chunk in enumerate(chunks):
            ahead = min(spacing * (len(chunks) - 1 - index), delivery.early_window())
            out.append((chunk, max(due - ahead, now)))
        out.extend((on_time[i : i + size], due) for i in range(0, len(on_time), size))
    return [(ids, None if eta <= now else eta) for ids, eta in sorted(out, key=lambda batch: batch[1])]


def publish(plan: delivery.Dispatch, *, force: bool = False) -> None:
    """Queue tasks for the planned rows, batched by due time (see `batches`); never raises.

    Rows due beyond the horizon are left to the sweep (long ETAs sit in the broker past
    its visibility timeout and come back). If the broker is down, the rows stay
    undispatched and the sweep queues them later: nothing is lost, the booking succeeds.
    `force`: the caller (sweep, retry) has already marked the rows dispatched.
    """
    now = timezone.now()
    limit = now + delivery.horizon()
    soon = delivery.Dispatch([item for item in plan.items if item[1] <= limit], plan.early)
    queued: list[int] = []
    try:
        for batch, eta in batches(soon, now):
            if eta is None:
                deliver.apply_async((batch,))
            else:
                deliver.apply_async((batch,), eta=eta)
            queued.extend(batch)
    except Exception:
        log.exception("could not queue %d notification(s); the sweep will retry", len(soon.items) - len(queued))
    if queued and not force:
        Notification.objects.filter(id__in=queued).update(dispatched_at=now)
