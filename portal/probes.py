"""/healthz (liveness: the process answers) and /readyz (readiness: what it needs is up)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})  # no I/O: a stuck database must not restart the process


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    down = [c.name for c in checks if not c.ok]
    body = {"status": "not ready" if down else "ready", "down": down, "checks": {c.name: c.as_json() for c in checks}}
    return JsonResponse(body, status=503 if down else 200)
