"""Receivers of portal.events, called inside the action's transaction: the Notification
rows are written with the booking (rolled back with it, committed with it); only the
queueing of their tasks waits for the commit. Should the process die between the commit
and the queueing, or the broker be down, the rows are there and the sweep queues them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction

from notifications import delivery
from notifications.tasks import publish
from portal.models import Appointment


def _run(plan_for: Callable[[int], delivery.Dispatch], appointment: Appointment) -> None:
    plan = plan_for(appointment.pk)
    transaction.on_commit(partial(publish, plan))


def on_booked(sender: Any, appointment: Appointment, **kwargs: Any) -> None:
    _run(delivery.on_booked, appointment)


def on_rescheduled(sender: Any, appointment: Appointment, previous_start: Any = None, **kwargs: Any) -> None:
    _run(delivery.on_rescheduled, appointment)


def on_cancelled(sender: Any, appointment: Appointment, **kwargs: Any) -> None:
    _run(delivery.on_cancelled, appointment)


def on_channel_chosen(sender: Any, appointment: Appointment, **kwargs: Any) -> None:
    delivery.on_channel_chosen(appointment.pk)  # rows keep their tasks: nothing to queue
