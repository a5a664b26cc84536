"""Twilio's webhooks, signature-checked with the SDK's RequestValidator: delivery reports
(status callbacks) and replies (inbound SMS: STOP/ARRET, START).

Answers: 403 for a missing or wrong X-Twilio-Signature (nothing changes), 400 for a body
without the expected fields, 200 otherwise, including unknown message ids and replies
that are no keyword, so that Twilio stops retrying.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from notifications import delivery, optout
from notifications.tasks import publish

log = logging.getLogger(__name__)
SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
STATUSES = {
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled",
}  # fmt: skip


PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _signed(request: HttpRequest, configured_url: str) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    # The URL Twilio signed is the one we gave it; behind a proxy it differs from ours.
    url = configured_url or request.build_absolute_uri()
    params = {key: request.POST.get(key) for key in request.POST}
    return bool(RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature))


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if request.content_type != "application/x-www-form-urlencoded":
        return HttpResponseBadRequest("form-encoded body expected")
    if not _signed(request, settings.TWILIO_STATUS_CALLBACK_URL):
        return HttpResponseForbidden("bad signature")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    if not SID.match(sid) or status not in STATUSES:
        return HttpResponseBadRequest("MessageSid and MessageStatus expected")
    notification, plan = delivery.record_status(sid, status, request.POST.get("ErrorCode", "")[:16])
    if notification is None:
        log.info("status %s for unknown message %s", status, sid)
    publish(plan)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """A citizen's reply: STOP/ARRET (and Twilio's other opt-out words) or START, recorded
    for the number and every structure that has it on an appointment. Other replies are
    ignored (nobody reads this number). The empty TwiML answer sends nothing back: Twilio's
    own opt-out handling confirms STOP and START to the citizen."""
    if request.content_type != "application/x-www-form-urlencoded":
        return HttpResponseBadRequest("form-encoded body expected")
    if not _signed(request, settings.TWILIO_INBOUND_URL):
        return HttpResponseForbidden("bad signature")
    sender, body = request.POST.get("From", ""), request.POST.get("Body", "")
    if not SID.match(request.POST.get("MessageSid", "")) or not PHONE.match(sender) or len(body) > 1600:
        return HttpResponseBadRequest("MessageSid, From (E.164) and Body expected")
    word = optout.keyword(body)
    if word is not None:
        count = optout.record(sender, optout.structures_for(sender), word == "stop", body.strip(), "inbound sms")
        log.info("%s from %s…%s for %d structure(s)", word.upper(), sender[:4], sender[-2:], count)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
