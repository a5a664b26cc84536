"""Dial-out: the agent calls the citizen into the room (Twilio REST `calls.create`).

The call's TwiML is the dial-in's <Connect><Stream> with a token issued before the call
exists and bound to its CallSid as soon as Twilio names it; the citizen who answers is
admitted at once (already invited: rooms/phone/consumers.py). Twilio's status callbacks
(ringing, in progress, busy, no answer…) reach the agents (rooms/phone/views.py `status`).
The call cannot outlast the appointment: Twilio's TimeLimit is the time left until its end
plus the margin (calls.deadline).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from portal import phones, twilioapi
from rooms.models import PhoneCall, Room
from rooms.phone import calls, twiml

RING_SECONDS = 30  # Twilio's Timeout: unanswered after this → no-answer


class DialOutError(Exception):
    """Why the call could not be placed, worded for the agent."""


def _client() -> Client:
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        raise DialOutError("Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN).")
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=twilioapi.http_client())


def number_to_call(room: Room, typed: str) -> str:
    """The appointment's number, or the one the agent typed (confirmed in the page), in E.164."""
    structure = room.appointment.structure
    raw = typed or room.appointment.citizen_phone
    if not raw:
        raise DialOutError("No phone number for this appointment: type one.")
    try:
        return phones.to_e164(raw, structure.phone_region_code())
    except ValidationError as error:
        raise DialOutError(" ".join(error.messages)) from None


def place(room: Room, typed: str = "") -> PhoneCall:
    structure = room.appointment.structure
    if not (structure.voice_number and structure.voice_dial_out):
        raise DialOutError("Calling the citizen is not enabled for this structure.")
    number = number_to_call(room, typed)
    left = (calls.deadline(room) - timezone.now()).total_seconds()
    if left <= 60:
        raise DialOutError("The appointment is over.")
    token = secrets.token_urlsafe(32)
    try:
        created = _client().calls.create(
            to=number, from_=structure.voice_number,
            twiml=twiml.connect(settings.PHONE_STREAM_URL, token, dial_out=True),
            status_callback=settings.PHONE_STATUS_URL, status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            timeout=RING_SECONDS, time_limit=int(left))
    except TwilioException as error:
        raise DialOutError(f"Twilio refused the call: {error}") from None
    return PhoneCall.objects.create(
        call_sid=created.sid, structure=structure, direction=PhoneCall.Direction.OUT,
        number_tail=calls.tail(number), room=room, token_hash=calls._hash(token), status="queued",
        token_expires_at=timezone.now() + dt.timedelta(seconds=RING_SECONDS + settings.PHONE_TOKEN_SECONDS))
