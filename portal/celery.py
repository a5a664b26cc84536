"""The Celery application. Broker: Redis in production, a filesystem queue on one machine."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("guichet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
