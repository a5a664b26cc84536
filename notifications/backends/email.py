"""Email through Django's email framework (EMAIL_BACKEND: SMTP in production).

SMTP replies map to DeliveryError: 4xx and network errors are temporary, 5xx permanent.
Each message carries a stable Message-ID built from its notification, so in the rare
case a message must be sent again (worker killed during the SMTP dialogue), mail
clients show one message, not two.

Headers with non-ASCII text (subjects, display names) are encoded here as RFC 2047
encoded-words that carry their spaces inside the encoded text: the standard library's
folder (email.policy.default / SMTP) can put a space *between* two encoded-words, where
RFC 2047 says readers must drop it (CPython gh-144156: "le 3 décembre à" read as
"le 3 décembreà"), depending on the Python patch level. compat32's `Header` splits the
text itself into encoded-words, spaces included, and only folds between them.
"""

from __future__ import annotations

import smtplib
import string
from email.charset import Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage as StdlibMessage
from email.message import MIMEPart
from email.policy import EmailPolicy, Policy
from email.policy import default as default_policy
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.backends.base import Attachment, Backend, DeliveryError, OutboundMessage


def _error_from_code(code: int, text: str) -> DeliveryError:
    return DeliveryError(f"SMTP {code}: {text}", permanent=500 <= code < 600, code=code)


_WORDS = {"subject"}  # unstructured headers whose text we encode
_ADDRESSES = {"from", "to", "cc", "reply-to", "sender"}  # their display names
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_UTF8 = Charset("utf-8")
MAX_LINE = 78


def encoded_words(text: str, name: str, linesep: str) -> str:
    """Unstructured text as UTF-8 encoded-words, spaces inside them, folded between words
    (readers drop the folding whitespace between two encoded-words, RFC 2047 § 6.2)."""
    return Header(text, "utf-8", header_name=name).encode(linesep=linesep)


def _phrase_tokens(display_name: str) -> list[str]:
    """A display name as atoms and encoded-words, never two encoded-words side by side:
    for phrases, Python's modern parser keeps the space between two encoded-words that
    RFC 2047 readers drop, so the only safe boundary is an atom. Runs of words that are not
    plain atoms (accents, punctuation) are encoded together, their spaces inside."""
    tokens: list[str] = []
    run: list[str] = []
    for word in display_name.split():
        if all(char in _ATEXT for char in word):
            if run:
                tokens.append(_UTF8.header_encode(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.append(_UTF8.header_encode(" ".join(run)))
    return tokens


def _fold_tokens(name: str, tokens: list[str], linesep: str) -> str:
    """`name: tokens…` with folding whitespace between tokens to keep lines ≤ MAX_LINE."""
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > MAX_LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    return linesep.join(lines) + linesep


class EncodedWordsPolicy(EmailPolicy):
    """The given policy, except that non-ASCII subjects and display names are folded
    here (see the module's docstring)."""

    def _ours(self, name: str, value: str) -> str | None:
        key = name.lower()
        if key in _WORDS and not str(value).isascii():
            return f"{name}: {encoded_words(str(value), name, self.linesep)}{self.linesep}"
        addresses = getattr(value, "addresses", None)
        if key in _ADDRESSES and addresses and not all(a.display_name.isascii() for a in addresses):
            tokens: list[str] = []
            for index, address in enumerate(addresses):
                comma = "," if index < len(addresses) - 1 else ""
                if address.display_name:
                    tokens += [*_phrase_tokens(address.display_name), f"<{address.addr_spec}>{comma}"]
                else:
                    tokens.append(f"{address.addr_spec}{comma}")
            return _fold_tokens(name, tokens, self.linesep)
        return None

    def fold(self, name: str, value: str) -> str:
        return self._ours(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        ours = self._ours(name, value)
        return ours.encode("ascii") if ours is not None else super().fold_binary(name, value)


_POLICY_ATTRIBUTES = ("max_line_length", "linesep", "cte_type", "raise_on_defect", "mangle_from_", "utf8",
                      "refold_source")


def encoded_words_policy(policy: Policy) -> EncodedWordsPolicy:
    attributes = {attr: getattr(policy, attr) for attr in _POLICY_ATTRIBUTES if hasattr(policy, attr)}
    return EncodedWordsPolicy(**attributes)


class _Email(EmailMultiAlternatives):
    """The one place emails are built: Django's message, with our header folding."""

    def message(self, *, policy: Policy | None = None) -> StdlibMessage:
        return super().message(policy=encoded_words_policy(policy or default_policy))


def sender(display_name: str) -> str:
    """DEFAULT_FROM_EMAIL's address under `display_name` (the structure): the address stays
    on the deployment's domain, so SPF, DKIM and DMARC pass."""
    default_name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return str(Address(display_name=display_name or default_name, addr_spec=address))


def _attachment(attachment: Attachment) -> MIMEPart | tuple[str, bytes, str]:
    if not attachment.params:
        return (attachment.filename, attachment.content, attachment.mimetype)
    # Content-Type parameters (an invitation's method=REQUEST) need a part of our own.
    maintype, subtype = attachment.mimetype.split("/", 1)
    part = MIMEPart()
    if maintype == "text":
        part.set_content(attachment.content.decode(), subtype=subtype, charset="utf-8",
                         disposition="attachment", filename=attachment.filename, params=dict(attachment.params))
    else:
        part.set_content(attachment.content, maintype, subtype, disposition="attachment",
                         filename=attachment.filename, params=dict(attachment.params))
    return part


class EmailBackend(Backend):
    def send(self, message: OutboundMessage) -> str:
        headers = {
            "Message-ID": message.idempotency_key,
            # RFC 3834: no vacation replies or loops; Outlook's own switch for the same.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            **message.extra_headers,
        }
        email = _Email(
            subject=message.subject,
            body=message.body,
            from_email=sender(message.sender_name),
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers=headers,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for attachment in message.attachments:
            part = _attachment(attachment)
            if isinstance(part, MIMEPart):
                email.attach(part)
            else:
                email.attach(*part)
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
