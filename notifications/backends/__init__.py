"""Delivery backends, one per channel, chosen by settings like Django's email backends.

NOTIFICATIONS_EMAIL_BACKEND and NOTIFICATIONS_SMS_BACKEND are dotted paths to classes
implementing notifications.backends.base.Backend.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.backends.base import Backend, DeliveryError, OutboundMessage, OutcomeUnknown
from portal.models import Channel

__all__ = ["Backend", "DeliveryError", "OutboundMessage", "OutcomeUnknown", "get_backend"]


@cache
def _instance(path: str) -> Backend:
    backend = import_string(path)()
    if not isinstance(backend, Backend):
        raise TypeError(f"{path} is not a notifications Backend")
    return backend


def get_backend(channel: str) -> Backend:
    """The configured backend for `channel` (one instance per dotted path and process)."""
    path = settings.NOTIFICATIONS_EMAIL_BACKEND if channel == Channel.EMAIL else settings.NOTIFICATIONS_SMS_BACKEND
    return _instance(path)
