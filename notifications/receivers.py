"""Receivers of portal.events: write the Notification rows, then queue their tasks."""

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
