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


def publish(plan: delivery.Dispatch, *, force: bool = False) -> None:
    """Queue tasks for the planned rows, batched by due time; never raises.

    Rows due beyond the horizon are left to the sweep (long ETAs sit in the broker past
    its visibility timeout and come back). If the broker is down, the rows stay
    undispatched and the sweep queues them later: nothing is lost, the booking succeeds.
    `force`: the caller (sweep, retry) has already marked the rows dispatched.
    """
    now = timezone.now()
    limit = now + delivery.horizon()
    items = sorted((item for item in plan.items if item[1] <= limit), key=lambda item: item[1])
    size = settings.NOTIFICATIONS_BATCH_SIZE
    queued: list[int] = []
    try:
        for eta_second, group in groupby(items, key=lambda item: item[1].replace(microsecond=0)):
            ids = [pk for pk, _at in group]
            eta = max(eta_second + dt.timedelta(seconds=1), now) if eta_second > now else None
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                if eta is None:
                    deliver.apply_async((batch,))
                else:
                    deliver.apply_async((batch,), eta=eta)
                queued.extend(batch)
    except Exception:
        log.exception("could not queue %d notification(s); the sweep will retry", len(items) - len(queued))
    if queued and not force:
        Notification.objects.filter(id__in=queued).update(dispatched_at=now)
