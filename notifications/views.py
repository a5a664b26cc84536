"""Twilio's delivery reports (status callbacks), signature-checked.

Answers: 403 for a missing or wrong X-Twilio-Signature (nothing changes), 400 for a body
without MessageSid/MessageStatus, 200 otherwise, including unknown message ids, so that
Twilio stops retrying.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from notifications import delivery
from notifications.tasks import publish

log = logging.getLogger(__name__)
SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
STATUSES = {
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled",
}  # fmt: skip


def _signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    # The URL Twilio signed is the one we gave it; behind a proxy it differs from ours.
    url = settings.TWILIO_STATUS_CALLBACK_URL or request.build_absolute_uri()
    params = {key: request.POST.get(key) for key in request.POST}
    return bool(RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature))


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if request.content_type != "application/x-www-form-urlencoded":
        return HttpResponseBadRequest("form-encoded body expected")
    if not _signed(request):
        return HttpResponseForbidden("bad signature")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    if not SID.match(sid) or status not in STATUSES:
        return HttpResponseBadRequest("MessageSid and MessageStatus expected")
    notification, plan = delivery.record_status(sid, status, request.POST.get("ErrorCode", "")[:16])
    if notification is None:
        log.info("status %s for unknown message %s", status, sid)
    publish(plan)
    return HttpResponse(status=200)
