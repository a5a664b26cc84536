"""Django email backend for development: the console, readable.

Django's console backend prints the raw MIME message, whose text is quoted-printable:
links are cut by soft line breaks and `=` is written `=3D`, so they cannot be copied.
This one prints the headers and the text parts decoded, and names the other parts.
It is the default EMAIL_BACKEND when DEBUG is on (portal/settings.py).
"""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.core.mail.backends import console

HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")


class DecodedConsoleEmailBackend(console.EmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        msg = message.message()  # email.message.EmailMessage: headers and get_content() decode
        lines = [f"{name}: {msg[name]}" for name in HEADERS if msg[name]]
        for part in msg.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            if kind == "text/plain" and not part.is_attachment():
                lines += ["", part.get_content().rstrip("\n"), ""]
            else:  # HTML alternative, calendar invitation...: same content, not worth the scroll
                name = part.get_filename()
                lines.append(f"[{kind}{f' {name}' if name else ''}: not shown]")
        self.stream.write("\n".join(lines) + "\n" + "-" * 79 + "\n")
