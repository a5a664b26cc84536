"""The second factor: TOTP (django-otp), recovery codes (its static device), remembered browsers.

Sign-in is two steps and a person is signed in (Django's `login`) only after both: the
password step leaves a *pending* user in the session, for SECOND_FACTOR_STEP_SECONDS. So
Django's `user_logged_in`, which resets Axes' failure count, fires only after a correct
second factor: wrong codes add up with wrong passwords (`code_failed`). The enforcement
that does not depend on this flow is `portal.accounts.middleware`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import TrustedBrowser

PENDING_USER, PENDING_AT, PENDING_BACKEND, ENROLLING = "gv_2fa_user", "gv_2fa_at", "gv_2fa_backend", "gv_2fa_enrol"
RECOVERY_CODES_TO_SHOW = "gv_2fa_codes"
REMEMBER_COOKIE = "gv_trusted_browser"
RECOVERY_CODES = 10
CODE_MAX_LENGTH = 16  # a TOTP code is 6 digits, a recovery code 8 characters; spaces are dropped


def set_pending(request: HttpRequest, user, backend: str) -> None:
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_AT] = int(time.time())
    request.session[PENDING_BACKEND] = backend


def pending_user(request: HttpRequest):
    """The user who gave the right password and still owes the second factor, or None
    (none, or the step timed out)."""
    pk, at = request.session.get(PENDING_USER), request.session.get(PENDING_AT)
    if pk is None or not isinstance(at, int) or time.time() - at > settings.SECOND_FACTOR_STEP_SECONDS:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def clear_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_AT, PENDING_BACKEND, ENROLLING):
        request.session.pop(key, None)


def totp_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def enrolling_device(request: HttpRequest, user) -> TOTPDevice:
    """The not yet confirmed TOTP device shown to this session (the same QR code on reload)."""
    device = TOTPDevice.objects.filter(pk=request.session.get(ENROLLING), user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        request.session[ENROLLING] = device.pk
    return device


def secret_of(device: TOTPDevice) -> str:
    """The shared secret as authenticator apps take it typed (base32, in groups of 4)."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code, made here: the secret never leaves for
    a third-party service, and the page loads no script for it."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, title=_("QR code to scan"))


def normalise(code: str) -> str:
    return "".join(code.split()).lower()[:CODE_MAX_LENGTH]


@transaction.atomic
def confirm(device: TOTPDevice, code: str) -> list[str] | None:
    """Enrolment: the first code from the app confirms the device; then the recovery codes
    (shown once). None when the code is wrong."""
    code = normalise(code)
    if not code.isdigit() or not device.verify_token(code):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    return new_recovery_codes(device.user)


def new_recovery_codes(user) -> list[str]:
    """A fresh set of single-use recovery codes, replacing any earlier set."""
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name=_("Recovery codes"), confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def verify(user, code: str):
    """The device that accepts `code` (the TOTP app, or a recovery code, used up), or None."""
    code = normalise(code)
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit() and len(code) == 6:
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device
            return None
        for static in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if static.verify_token(code):
                return static
    return None


def code_failed(request: HttpRequest, user) -> None:
    """A wrong code counts as a failed sign-in for Axes (per user and per address)."""
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


def remaining_recovery_codes(user) -> int:
    return StaticToken.objects.filter(device__user=user).count()


# --- remembered browsers ---
def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def remember(user, user_agent: str = "") -> tuple[str, dt.datetime]:
    """A new trusted browser: (cookie value, expiry)."""
    secret = secrets.token_urlsafe(32)
    expires = timezone.now() + dt.timedelta(days=settings.REMEMBER_BROWSER_DAYS)
    TrustedBrowser.objects.create(user=user, secret_hash=_hash(secret), expires_at=expires,
                                  user_agent=user_agent[:300])
    return secret, expires


def remembered(user, cookie: str | None) -> bool:
    """This browser was remembered for this user and the time is not up."""
    if not cookie or len(cookie) > 100:
        return False
    return TrustedBrowser.objects.filter(user=user, secret_hash=_hash(cookie), expires_at__gt=timezone.now()).exists()


def forget_browsers(user) -> int:
    return TrustedBrowser.objects.filter(user=user).delete()[0]
