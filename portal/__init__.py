"""Guichet Visio portal: settings, structures, agents, appointments and back-office."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
