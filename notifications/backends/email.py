"""Email through Django's email framework (EMAIL_BACKEND: SMTP in production).

SMTP replies map to DeliveryError: 4xx and network errors are temporary, 5xx permanent.
Each message carries a stable Message-ID built from its notification, so in the rare
case a message must be sent again (worker killed during the SMTP dialogue), mail
clients show one message, not two.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.backends.base import Backend, DeliveryError, OutboundMessage


def _error_from_code(code: int, text: str) -> DeliveryError:
    return DeliveryError(f"SMTP {code}: {text}", permanent=500 <= code < 600, code=code)


class EmailBackend(Backend):
    def send(self, message: OutboundMessage) -> str:
        headers = {"Message-ID": message.idempotency_key, **message.extra_headers}
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers=headers,
        )
        for attachment in message.attachments:
            email.attach(attachment.filename, attachment.content, attachment.mimetype)
        try:
            with get_connection(fail_silently=False) as connection:
                sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise _error_from_code(code, text.decode(errors="replace") if isinstance(text, bytes) else str(text))
        except smtplib.SMTPResponseException as error:
            reply: bytes | str = error.smtp_error
            raise _error_from_code(
                error.smtp_code, reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            )
        except (smtplib.SMTPException, OSError) as error:  # disconnected, refused, timeout
            # Possibly after DATA was accepted: the resend keeps the same Message-ID.
            raise DeliveryError(f"SMTP unreachable: {error!r}", permanent=False, maybe_sent=True) from error
        if not sent:
            raise DeliveryError("the email backend sent nothing", permanent=False)
        return message.idempotency_key
