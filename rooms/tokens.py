"""The citizen's personal link: a signed token for one citizen of one room.

Opening the reminder's link with its token skips typing the room code. The token names
the room and a fingerprint of the appointment's citizen, so it is useless for another
room, stops working if the agent changes who the appointment is for, and is only
accepted while the room's window is open and the appointment is not cancelled (checked
by the join view, which knows the window). A token is used by one browser at a time.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core import signing

SALT = "guichet.rooms.personal-link"


# A link sent by email is bound to the citizen's name and email address, one sent by SMS to
# the name and phone number: correcting a mistyped address revokes what went to the wrong
# one, and leaves the links sent to the other address working. Without a channel (links
# made before, and by agents' tools): bound to both.
CHANNELS = ("email", "sms")


def citizen_fingerprint(appointment, channel: str | None = None) -> str:
    names = [appointment.citizen_first_name, appointment.citizen_last_name]
    if channel == "email":
        parts = [*names, appointment.citizen_email, "email"]
    elif channel == "sms":
        parts = [*names, appointment.citizen_phone, "sms"]
    else:
        parts = [*names, appointment.citizen_email, appointment.citizen_phone]
    contact = "|".join(parts).casefold()
    return hmac.new(settings.SECRET_KEY.encode(), contact.encode(), hashlib.sha256).hexdigest()[:16]


def fingerprint_payload(appointment, channel: str | None = None) -> dict:
    """The token's citizen part: fingerprint, and the channel it is bound to."""
    payload = {"c": citizen_fingerprint(appointment, channel)}
    if channel:
        payload["k"] = channel
    return payload


def fingerprint_matches(payload: dict, appointment) -> bool:
    channel = payload.get("k")
    if channel is not None and channel not in CHANNELS:
        return False
    return hmac.compare_digest(str(payload.get("c", "")), citizen_fingerprint(appointment, channel))


def make(room, channel: str | None = None) -> str:
    # Deterministic (no timestamp): the same message renders the same text every time, which
    # the SMS reconciliation after a timeout relies on. The room's window bounds its life.
    return signing.Signer(salt=SALT).sign_object({"r": room.slug, **fingerprint_payload(room.appointment, channel)},
                                                 compress=True)


class BadToken(Exception):
    """Not ours, altered, or for another room or citizen."""


def check(token: str, room) -> str:
    """Return the token's id (its signature, to bind it to one browser) or raise BadToken."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except signing.BadSignature:
        raise BadToken("bad signature") from None
    if not isinstance(payload, dict) or payload.get("r") != room.slug:
        raise BadToken("other room")
    if not fingerprint_matches(payload, room.appointment):
        raise BadToken("other citizen")
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def personal_url(room, channel: str | None = None) -> str:
    return f"{room.join_url}?t={make(room, channel)}"
