"""The Celery application. Broker: Redis in production, a filesystem queue on one machine."""

import os

from celery import Celery
from celery.signals import before_task_publish

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("guichet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def beat_heartbeat(sender: str | None = None, **kwargs) -> None:
    """Only beat publishes `portal.heartbeat`: doing so is beat's own heartbeat (portal/health.py)."""
    from portal.tasks import HEARTBEAT_TASK

    if sender == HEARTBEAT_TASK:
        from django.db import close_old_connections

        from portal import health

        close_old_connections()  # beat keeps its connection for days: drop a broken one first
        health.record(health.BEAT)
