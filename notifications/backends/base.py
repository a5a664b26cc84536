"""What every backend implements, and the one error type the delivery layer understands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str
    # Content-Type parameters, e.g. (("method", "REQUEST"),) for an iCalendar invitation.
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message, ready for a provider."""

    channel: str
    to: str
    body: str
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()
    # Stable per notification: the email Message-ID, a key for providers that dedupe.
    idempotency_key: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)
    # Email: the HTML alternative of `body`, the sender's display name, where replies go.
    html: str = ""
    sender_name: str = ""
    reply_to: str = ""
    # SMS: the sender (an alphanumeric ID or a number); empty: the deployment's default.
    sender: str = ""


class DeliveryError(Exception):
    """The provider refused or could not be reached.

    permanent=True: retrying cannot help (invalid number, address rejected, 4xx);
    permanent=False: try again later (5xx, 429, timeouts, SMTP 4xx, connection refused).
    maybe_sent=True: the provider may have accepted it anyway (the answer was lost), so
    the next attempt asks the provider first (Backend.find_sent).
    """

    def __init__(
        self, message: str, *, permanent: bool, code: str | int | None = None, maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.maybe_sent = maybe_sent


class OutcomeUnknown(Exception):
    """The backend cannot tell whether an interrupted attempt reached the provider."""


class Backend:
    channel: str = ""

    def send(self, message: OutboundMessage) -> str:
        """Send and return the provider's message id; raise DeliveryError on failure."""
        raise NotImplementedError

    def find_sent(self, message: OutboundMessage, since: dt.datetime) -> str | None:
        """After a worker died mid-send: the provider id of `message` if the provider
        accepted it after `since`, None if it certainly did not. Raise OutcomeUnknown
        when the provider offers no way to ask (then the message is sent again, with the
        same idempotency key)."""
        raise OutcomeUnknown(type(self).__name__)

    def forget(self, provider_id: str) -> None:
        """The retention purge (portal/retention.py): delete the provider's copy of a sent
        message (its body and recipient), or do nothing if the provider keeps none. A copy
        already gone is no error; raise DeliveryError when the provider cannot be asked now
        (the purge stops and tries again at its next run)."""

