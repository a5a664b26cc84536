"""In-memory backend for development and unit tests: messages land in `outbox`."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

from notifications.backends.base import Backend, DeliveryError, OutboundMessage

outbox: list[tuple[str, OutboundMessage]] = []  # (provider id, message)
# Recipient -> error to raise instead of sending (e.g. to rehearse a fallback by hand).
failures: dict[str, DeliveryError] = {}
_ids = itertools.count(1)
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        outbox.clear()
        failures.clear()


class MemoryBackend(Backend):
    def send(self, message: OutboundMessage) -> str:
        with _lock:
            if message.to in failures:
                raise failures[message.to]
            provider_id = f"mem-{next(_ids)}"
            outbox.append((provider_id, message))
            return provider_id

    def find_sent(self, message: OutboundMessage, since: dt.datetime) -> str | None:
        with _lock:
            for provider_id, sent in outbox:
                if sent.idempotency_key == message.idempotency_key:
                    return provider_id
        return None

    def forget(self, provider_id: str) -> None:
        with _lock:
            outbox[:] = [(pid, sent) for pid, sent in outbox if pid != provider_id]
