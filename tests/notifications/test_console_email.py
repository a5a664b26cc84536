"""The development email backend prints emails decoded, so their links can be copied."""

import io
import os
import subprocess
import sys
from pathlib import Path

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

from notifications.console_email import DecodedConsoleEmailBackend

ROOT = Path(__file__).resolve().parents[2]
# Long, with `=` and accents: quoted-printable cuts it with soft breaks and writes `=3D`.
LINK = "http://127.0.0.1:8400/rdv/eyJhIjoxLCJjIjoiNTI4MjM4NDc1MjlmNjQxOSJ9:eCO4lo2Tt6tAhWb1OEBaOsjhlNqd=cprFlIX9/test/"


def message() -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        "Rendez-vous confirmé", f"Bonjour Jérôme,\n\nTestez votre caméra : {LINK}\n", "mairie@example.fr",
        ["jerome@example.org"],
    )
    email.attach_alternative(f'<p>Testez : <a href="{LINK}">ici</a></p>', "text/html")
    email.attach("rendez-vous.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    return email


def written(backend_class) -> str:
    stream = io.StringIO()
    backend_class(stream=stream).send_messages([message()])
    return stream.getvalue()


def test_console_email_shows_headers_and_text_decoded_and_names_the_other_parts():
    out = written(DecodedConsoleEmailBackend)
    assert "Subject: Rendez-vous confirmé\n" in out and "To: jerome@example.org\n" in out
    assert f"Testez votre caméra : {LINK}\n" in out and "Bonjour Jérôme," in out
    assert "[text/html: not shown]" in out and "[text/calendar rendez-vous.ics: not shown]" in out
    assert "<p>" not in out and "VCALENDAR" not in out


def test_djangos_console_backend_cuts_the_same_link():
    """Why the backend exists: Django's own prints quoted-printable."""
    assert LINK not in written(DjangoConsoleBackend)


def test_it_is_the_email_backend_in_debug():
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**base, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings"}, timeout=60,
    )
    assert result.stdout.strip() == "notifications.console_email.DecodedConsoleEmailBackend", result.stderr
