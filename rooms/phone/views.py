"""Twilio's voice webhooks: thin, signature-checked with the SDK's RequestValidator.

403 for a missing or wrong X-Twilio-Signature (nothing recorded, no participant), 400 for a
body without a CallSid; otherwise TwiML (rooms/phone/twiml.py) or 200.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from rooms.groups import channel_layer, forward, mods_group
from rooms.mediabridge import media_can_take_a_call
from rooms.phone import calls, twiml

log = logging.getLogger("rooms.phone")
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed",
                           "no-answer", "canceled"})


def signed(request: HttpRequest, url: str) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    params = {key: request.POST.get(key) for key in request.POST}
    return bool(RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature))


def _twiml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/xml; charset=utf-8")


def _checked(request: HttpRequest, url: str) -> HttpResponse | str:
    """The CallSid of a genuine request, or the refusal to answer."""
    if request.content_type != "application/x-www-form-urlencoded":
        return HttpResponseBadRequest("form-encoded body expected")
    if not signed(request, url):
        return HttpResponseForbidden("bad signature")
    sid = request.POST.get("CallSid", "")
    if not calls.CALL_SID.match(sid):
        return HttpResponseBadRequest("CallSid expected")
    return sid


@csrf_exempt
@require_POST
def voice(request: HttpRequest) -> HttpResponse:
    """A call comes in on a structure's number: ask for the room code."""
    sid = _checked(request, settings.PHONE_VOICE_URL)
    if isinstance(sid, HttpResponse):
        return sid
    if not media_can_take_a_call():
        # Media on separate nodes and none alive and accepting: said at once, nothing recorded.
        log.warning("phone call refused: no media node can take it")
        return _twiml(twiml.goodbye("unavailable"))
    call = calls.incoming(sid, request.POST.get("From", "")[:32], request.POST.get("To", "")[:32])
    if call is None:
        return _twiml(twiml.goodbye("no_service"))
    return _twiml(twiml.ask_code(settings.PHONE_CODE_URL))


@csrf_exempt
@require_POST
def code(request: HttpRequest) -> HttpResponse:
    """The digits typed (none: the Gather timed out)."""
    sid = _checked(request, settings.PHONE_CODE_URL)
    if isinstance(sid, HttpResponse):
        return sid
    outcome = calls.typed(sid, request.POST.get("Digits", "")[:32])
    if isinstance(outcome, calls.Connect):
        return _twiml(twiml.connect(settings.PHONE_STREAM_URL, outcome.token))
    if isinstance(outcome, calls.Again):
        return _twiml(twiml.ask_code(settings.PHONE_CODE_URL, again=True))
    return _twiml(twiml.goodbye(outcome.reason))


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    """Twilio's call status callback (dial-out: ringing, answered, busy, no answer…)."""
    sid = _checked(request, settings.PHONE_STATUS_URL)
    if isinstance(sid, HttpResponse):
        return sid
    value = request.POST.get("CallStatus", "")
    if value not in CALL_STATUSES:
        return HttpResponseBadRequest("CallStatus expected")
    call = calls.record_status(sid, value)
    if call is not None and call.room is not None and call.direction == call.Direction.OUT:
        # The agents see the call they placed ring, answer, fail (the room's moderators).
        async_to_sync(channel_layer().group_send)(mods_group(call.room.slug), forward({
            "type": "phone.status", "status": value, "number": f"··{call.number_tail}"}))
    return HttpResponse(status=200)  # unknown calls too: Twilio stops retrying
