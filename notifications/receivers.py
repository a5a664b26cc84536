"""Receivers of portal.events: write the Notification rows, then queue their tasks."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from notifications import delivery
from notifications.tasks import publish


def _run(plan_for, appointment) -> None:
    plan = plan_for(appointment.pk)
    transaction.on_commit(partial(publish, plan))


def on_booked(sender, appointment, **kwargs) -> None:
    _run(delivery.on_booked, appointment)


def on_rescheduled(sender, appointment, previous_start=None, **kwargs) -> None:
    _run(delivery.on_rescheduled, appointment)


def on_cancelled(sender, appointment, **kwargs) -> None:
    _run(delivery.on_cancelled, appointment)
