"""SMS through Twilio's Messages API, with the official SDK.

Settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, and TWILIO_FROM_NUMBER or
TWILIO_MESSAGING_SERVICE_SID; TWILIO_STATUS_CALLBACK_URL (delivery reports);
TWILIO_API_BASE_URL only to point the SDK at another server speaking the same API
(a local test double). Unset credentials make every send fail permanently with a clear
message, so the email fallback takes over instead of retrying forever.

Twilio's Messages API has no idempotency key, so a send interrupted by a dying worker
is reconciled by listing the recipient's recent messages (find_sent).
"""

from __future__ import annotations

import datetime as dt

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from notifications.backends.base import Backend, DeliveryError, OutboundMessage, OutcomeUnknown
from portal import twilioapi

# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614, 21617, 21635, 30003, 30004, 30005, 30006, 30007}


def classify(error: Exception) -> DeliveryError:
    """Map what the SDK raises to a temporary or permanent DeliveryError."""
    if isinstance(error, TwilioRestException):
        status, code = error.status, error.code
        temporary = status == 429 or status >= 500 or status < 400
        permanent = not temporary or code in PERMANENT_CODES
        return DeliveryError(f"Twilio {status} ({code}): {error.msg}", permanent=permanent, code=code or status)
    if isinstance(error, requests.RequestException | OSError):
        # Timeouts and dropped connections: the message may have been created anyway.
        return DeliveryError(f"Twilio unreachable: {error!r}", permanent=False, maybe_sent=True)
    return DeliveryError(f"Twilio error: {error!r}", permanent=False)


class TwilioBackend(Backend):
    def __init__(self) -> None:
        self.sid = settings.TWILIO_ACCOUNT_SID
        self.token = settings.TWILIO_AUTH_TOKEN
        self.sender = settings.TWILIO_FROM_NUMBER
        self.service = settings.TWILIO_MESSAGING_SERVICE_SID
        self.callback = settings.TWILIO_STATUS_CALLBACK_URL
        self.missing = [
            name
            for name, value in [
                ("TWILIO_ACCOUNT_SID", self.sid),
                ("TWILIO_AUTH_TOKEN", self.token),
                ("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", self.sender or self.service),
            ]
            if not value
        ]
        self.client: Client | None = None
        if not self.missing:
            self.client = Client(self.sid, self.token, http_client=twilioapi.http_client())

    def _client(self) -> Client:
        if self.client is None:
            raise DeliveryError("SMS is not configured: set " + ", ".join(self.missing) + ".", permanent=True)
        return self.client

    def send(self, message: OutboundMessage) -> str:
        params: dict[str, str] = {"to": message.to, "body": message.body}
        if self.service:
            params["messaging_service_sid"] = self.service
        if message.sender or self.sender:
            # The structure's alphanumeric ID where it applies (notifications/messages.py), else ours.
            params["from_"] = message.sender or self.sender
        if self.callback:
            params["status_callback"] = self.callback
        try:
            created = self._client().messages.create(**params)
        except DeliveryError:
            raise
        except (TwilioException, requests.RequestException, OSError) as error:
            raise classify(error) from error
        return str(created.sid)

    def find_sent(self, message: OutboundMessage, since: dt.datetime) -> str | None:
        # Twilio lists newest first; a message created after the interrupted claim with the
        # same body and recipient is the one the dead worker sent.
        margin = since - dt.timedelta(seconds=5)  # clock skew between us and the provider
        try:
            for sent in self._client().messages.list(to=message.to, limit=50):
                if sent.date_created and sent.date_created < margin:
                    break
                if sent.body == message.body:
                    return str(sent.sid)
        except (TwilioException, requests.RequestException, OSError) as error:
            raise OutcomeUnknown(repr(error)) from error
        return None

    def forget(self, provider_id: str) -> None:
        # DELETE /Messages/{sid}: Twilio then keeps neither the body nor the number. A
        # message still in flight cannot be deleted (409): retried at the next purge.
        try:
            self._client().messages(provider_id).delete()
        except TwilioRestException as error:
            if error.status == 404:
                return  # already gone
            raise classify(error) from error
        except (TwilioException, requests.RequestException, OSError) as error:
            raise classify(error) from error
