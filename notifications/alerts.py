"""Operations alerts: a provider refused our credentials (or SMS are not configured).

Logged at ERROR on the `notifications.alerts` logger (for the log pipeline's alerting),
and recorded as a portal Heartbeat named after the problem, which the back-office banner
shows for PROVIDER_ALERT_MINUTES (portal/health.py): no silent retries, no silent failures.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from notifications.problems import Problem
from portal.models import Heartbeat

log = logging.getLogger("notifications.alerts")


def raise_alert(problem: Problem, detail: str) -> None:
    log.error("operations alert (%s): %s — %s", problem.slug, problem.text, detail)
    Heartbeat.objects.update_or_create(name=problem.slug[:20], defaults={"at": timezone.now()})
