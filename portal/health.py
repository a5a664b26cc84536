"""Liveness, readiness and the operators' alerts: is each part of the service up?

Readiness checks what a request or a reminder needs: the database, Redis (when
REDIS_URL is set), at least one live media node (when MEDIA_NODES=remote), and Celery.
Celery shows it is alive through one periodic task, `portal.heartbeat`:

- the beat process records a 'beat' heartbeat each time it publishes the task
  (`before_task_publish`, in portal/celery.py): beat is alive and reaches the broker;
- a worker records a 'worker' heartbeat when it runs the task: a worker takes tasks.

So "beat silent" (no 'beat' heartbeat for HEARTBEAT_MAX_AGE) and "no worker" (beat
publishes but no worker ran the task for HEARTBEAT_MAX_AGE) are told apart. While beat is
silent the worker cannot be judged (it is given no heartbeat task): it is reported as
unknown, and the service is not ready either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from rooms.mediabridge import live_media_nodes

BEAT = "beat"
WORKER = "worker"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def record(name: str, at: dt.datetime | None = None) -> None:
    from portal.models import Heartbeat

    Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})


def database() -> Check:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "down", with its reason
        return Check("database", False, f"unreachable: {type(error).__name__}")
    return Check("database", True, "ok")


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def redis_server() -> Check:
    try:
        with _redis() as client:
            client.ping()
    except Exception as error:
        return Check("redis", False, f"unreachable: {type(error).__name__}")
    return Check("redis", True, "ok")


def media_nodes() -> Check:
    try:
        with _redis() as client:
            live = live_media_nodes(client)
    except Exception as error:
        return Check("media_nodes", False, f"registry unreachable: {type(error).__name__}")
    if not live:
        return Check("media_nodes", False, "no live media node")
    return Check("media_nodes", True, f"{len(live)} live: {', '.join(live)}")


def _age(seen: dt.datetime | None, now: dt.datetime) -> str:
    return "never seen" if seen is None else f"last seen {int((now - seen).total_seconds())} s ago"


def celery(now: dt.datetime | None = None) -> list[Check]:
    """The 'celery_beat' and 'celery_worker' checks from the heartbeats in the database."""
    from portal.models import Heartbeat

    now = now or timezone.now()
    max_age = dt.timedelta(seconds=settings.HEARTBEAT_MAX_AGE)
    seen = dict(Heartbeat.objects.filter(name__in=[BEAT, WORKER]).values_list("name", "at"))
    beat_ok = seen.get(BEAT) is not None and now - seen[BEAT] <= max_age
    beat = Check("celery_beat", beat_ok, ("ok, " if beat_ok else "silent, ") + _age(seen.get(BEAT), now))
    worker_ok = seen.get(WORKER) is not None and now - seen[WORKER] <= max_age
    if worker_ok:
        worker = Check("celery_worker", True, "ok, " + _age(seen.get(WORKER), now))
    elif beat_ok:
        worker = Check("celery_worker", False, "no worker ran the heartbeat task, " + _age(seen.get(WORKER), now))
    else:
        worker = Check("celery_worker", False, "unknown while beat is silent, " + _age(seen.get(WORKER), now))
    return [beat, worker]


def readiness() -> list[Check]:
    checks = [database()]
    if settings.REDIS_URL:
        checks.append(redis_server())
    if settings.MEDIA_NODES == "remote":
        checks.append(media_nodes())
    if checks[0].ok:  # heartbeats live in the database
        checks.extend(celery())
    else:
        checks.extend(Check(name, False, "unknown: database down") for name in ("celery_beat", "celery_worker"))
    return checks


@dataclass(frozen=True)
class Alerts:
    """What the back-office shows operators: the silent parts (empty when all is well)."""

    beat_silent: bool
    no_worker: bool
    no_media_node: bool
    # A provider refused our credentials within PROVIDER_ALERT_MINUTES (recorded by
    # notifications/alerts.py as a Heartbeat named after the problem).
    sms_credentials: bool = False
    email_credentials: bool = False

    def __bool__(self) -> bool:
        return (self.beat_silent or self.no_worker or self.no_media_node or self.sms_credentials
                or self.email_credentials)


PROVIDER_ALERTS = ("sms_credentials", "email_credentials")


def provider_alerts(now: dt.datetime | None = None) -> set[str]:
    from portal.models import Heartbeat

    since = (now or timezone.now()) - dt.timedelta(minutes=settings.PROVIDER_ALERT_MINUTES)
    return set(Heartbeat.objects.filter(name__in=PROVIDER_ALERTS, at__gte=since).values_list("name", flat=True))


def alerts() -> Alerts:
    beat, worker = celery()
    no_media_node = settings.MEDIA_NODES == "remote" and not media_nodes().ok
    refused = provider_alerts()
    return Alerts(beat_silent=not beat.ok, no_worker=beat.ok and not worker.ok, no_media_node=no_media_node,
                  sms_credentials="sms_credentials" in refused, email_credentials="email_credentials" in refused)
