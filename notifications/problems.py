"""Why a message could not go out, in words an agent can act on.

Providers answer with codes (Twilio's error codes, SMTP replies); each maps to a Problem:
a short slug stored on the row (`Notification.problem`), a French explanation with what
to do (shown to agents and managers next to the message), whether the failure is about
the address (the following messages then use the other channel), and whether operators
must act (provider credentials: an alert, never a silent retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from notifications.backends.base import DeliveryError
from portal.models import Channel


@dataclass(frozen=True)
class Problem:
    slug: str
    text: str | Promise
    # The address itself is bad or refuses our messages: later messages use the other channel.
    address: bool = False
    # Operators must act (credentials, configuration): logged at ERROR, shown in the back-office banner.
    alert: bool = False


PROBLEMS = {p.slug: p for p in [
    Problem("invalid_number", _("Invalid phone number: correct the citizen's number; the messages go by email "
                                "if an address was given."), address=True),
    Problem("not_mobile", _("This number cannot receive SMS (landline?): ask for a mobile number or use email."),
            address=True),
    Problem("unsubscribed", _("The citizen answered STOP to our SMS: messages go by email. They can send START "
                              "to receive SMS again."), address=True),
    Problem("carrier_rejected", _("The operator refused or could not deliver the SMS (phone off, unknown or "
                                  "filtered number): messages go by email; check the number with the citizen."),
            address=True),
    Problem("region_blocked", _("SMS to this country are not enabled in the Twilio account: tell the technical "
                                "team (Geo permissions)."), alert=True),
    Problem("sms_credentials", _("The SMS provider refused our credentials: no SMS can leave. Tell the technical "
                             "team (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN); messages go by email meanwhile."),
            alert=True),
    Problem("sms_not_configured", _("SMS are not configured on this service: messages go by email."), alert=True),
    Problem("email_rejected", _("The email address was refused (unknown mailbox or domain): correct it; the "
                                "messages go by SMS if a number was given."), address=True),
    Problem("mailbox_full", _("The citizen's mailbox is full: messages go by SMS if a number was given."),
            address=True),
    Problem("email_credentials", _("The mail server refused our credentials: no email can leave. Tell the "
                                   "technical team (EMAIL_HOST_USER / EMAIL_HOST_PASSWORD)."), alert=True),
    Problem("email_refused", _("The mail server refused the message: tell the technical team if it happens "
                               "again.")),
    Problem("provider_down", _("The provider is unreachable or busy: the message is retried, then sent on the "
                               "other channel.")),
    Problem("no_address", _("No address for this channel: add the citizen's email or mobile number.")),
    Problem("other", _("The message could not be sent: tell the technical team if it happens again.")),
]}  # fmt: skip

# https://www.twilio.com/docs/api/errors
TWILIO = {
    21211: "invalid_number", 21217: "invalid_number", 21265: "invalid_number", 21614: "not_mobile",
    21407: "not_mobile", 21610: "unsubscribed", 21612: "carrier_rejected", 21408: "region_blocked",
    30003: "carrier_rejected", 30004: "carrier_rejected", 30005: "carrier_rejected", 30006: "not_mobile",
    30007: "carrier_rejected", 30008: "carrier_rejected", 30034: "carrier_rejected", 21606: "sms_not_configured",
    21659: "sms_not_configured", 20003: "sms_credentials", 20005: "sms_credentials", 20006: "sms_credentials",
}  # fmt: skip
# SMTP reply codes (RFC 5321): 535/530 authentication, 550/551/553 mailbox, 552 storage.
SMTP = {535: "email_credentials", 530: "email_credentials", 534: "email_credentials", 550: "email_rejected",
        551: "email_rejected", 553: "email_rejected", 552: "mailbox_full", 554: "email_refused"}


def _code(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def for_error(channel: str, error: DeliveryError) -> Problem:
    code = _code(error.code)
    if channel == Channel.SMS:
        if str(error).startswith("SMS is not configured"):
            return PROBLEMS["sms_not_configured"]
        if code == 401:
            return PROBLEMS["sms_credentials"]
        slug = TWILIO.get(code or 0)
    else:
        slug = SMTP.get(code or 0)
    if slug:
        return PROBLEMS[slug]
    return PROBLEMS["other" if error.permanent else "provider_down"]


def for_report(error_code: str) -> Problem:
    """A delivery report saying failed/undelivered, with Twilio's error code if any."""
    return PROBLEMS[TWILIO.get(_code(error_code) or 0, "carrier_rejected")]


def explain(slug: str) -> str:
    problem = PROBLEMS.get(slug)
    return str(problem.text) if problem else ""
