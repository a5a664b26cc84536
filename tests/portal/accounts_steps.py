"""Steps of the two-step sign-in for Django test clients, shared by the accounts tests."""

from __future__ import annotations

import base64
import re
import time

from django_otp.oath import TOTP

from tests.e2e.harness import AGENT_PASSWORD

LOGIN, SECOND, ENROL = "/admin/login/", "/comptes/second-facteur/", "/comptes/activation/"


def password_step(client, username: str, password: str = AGENT_PASSWORD, next_path: str = "/admin/",
                  address: str = "203.0.113.7"):
    return client.post(f"{LOGIN}?next={next_path}", {"username": username, "password": password},
                       REMOTE_ADDR=address)


def secret_on(page: str) -> bytes:
    """The shared secret the enrolment page shows for typing (base32, in groups)."""
    text = re.search(r'id="gv-totp-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    return base64.b32decode(text + "=" * (-len(text) % 8))


def code_from(secret: bytes, at: float | None = None) -> str:
    totp = TOTP(secret)
    totp.time = time.time() if at is None else at
    return f"{totp.token():06d}"
