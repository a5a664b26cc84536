"""`{% operations_alert %}`: the back-office banner when Celery or every media node is silent."""

from __future__ import annotations

from django import template

from portal import health

register = template.Library()


@register.inclusion_tag("portal/operations_alert.html")
def operations_alert() -> dict:
    return {"alerts": health.alerts()}
