"""Backends chosen by settings; the development ones (console, memory); error mapping."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from notifications.backends import OutboundMessage, get_backend
from notifications.backends import memory as memory_backend
from notifications.backends.console import ConsoleBackend
from notifications.backends.twilio_sms import classify
from portal.models import Channel

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = OutboundMessage(channel=Channel.SMS, to="+33612345678", body="Bonjour", idempotency_key="<n-1@x>")


def test_settings_choose_the_backend(settings):
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.backends.memory.MemoryBackend"
    settings.NOTIFICATIONS_EMAIL_BACKEND = "notifications.backends.console.ConsoleBackend"
    assert type(get_backend(Channel.SMS)).__name__ == "MemoryBackend"
    assert type(get_backend(Channel.EMAIL)).__name__ == "ConsoleBackend"


def test_console_prints_the_message():
    stream = io.StringIO()
    provider_id = ConsoleBackend(stream).send(MESSAGE)
    assert provider_id.startswith("console-") and "sms to +33612345678" in stream.getvalue()
    assert "Bonjour" in stream.getvalue()


def test_memory_keeps_the_outbox_and_finds_a_sent_message():
    memory_backend.reset()
    backend = memory_backend.MemoryBackend()
    provider_id = backend.send(MESSAGE)
    assert memory_backend.outbox == [(provider_id, MESSAGE)]
    assert backend.find_sent(MESSAGE, since=None) == provider_id
    memory_backend.reset()
    assert backend.find_sent(MESSAGE, since=None) is None


@pytest.mark.parametrize(
    ("error", "permanent", "maybe_sent"),
    [
        (TwilioRestException(500, "u", "boom", code=20500), False, False),
        (TwilioRestException(503, "u", "busy"), False, False),
        (TwilioRestException(429, "u", "slow down", code=20429), False, False),
        (TwilioRestException(400, "u", "invalid To", code=21211), True, False),
        (TwilioRestException(401, "u", "auth", code=20003), True, False),
        (requests.ReadTimeout("read timed out"), False, True),
        (requests.ConnectionError("refused"), False, True),
    ],
)
def test_twilio_errors_are_temporary_or_permanent(error, permanent, maybe_sent):
    mapped = classify(error)
    assert mapped.permanent is permanent and mapped.maybe_sent is maybe_sent


def setting(name: str, **env: str) -> str:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    code = f"from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", "GV_VAR_DIR": "/tmp/gv-notif-settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_prints_sms_and_production_uses_twilio():
    assert setting("NOTIFICATIONS_SMS_BACKEND", DEBUG="1") == "notifications.backends.console.ConsoleBackend"
    production = {
        "SECRET_KEY": "x" * 50,
        "ROOM_PASSWORD_KEY": "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=",
        "SITE_URL": "https://visio.mairie.example.fr",
    }
    assert setting("NOTIFICATIONS_SMS_BACKEND", **production) == "notifications.backends.twilio_sms.TwilioBackend"
    assert setting("TWILIO_STATUS_CALLBACK_URL", **production) == (
        "https://visio.mairie.example.fr/notifications/twilio/status/"
    )
