"""Celery tasks of the portal: the heartbeat that shows beat and a worker are alive."""

from __future__ import annotations

from celery import shared_task

from portal import health

HEARTBEAT_TASK = "portal.heartbeat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Published by beat (which records its own heartbeat then), run by a worker."""
    health.record(health.WORKER)


@shared_task(name="portal.purge", ignore_result=True)
def purge() -> dict[str, int]:
    """The retention purge (portal/retention.py), run by beat every RETENTION_PURGE_SECONDS."""
    from portal import retention

    result = retention.run()
    return {"counted": result.counted, **result.purged}
