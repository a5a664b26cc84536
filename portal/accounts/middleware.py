"""Second factor enforced for every request, whatever the view.

After Django's AuthenticationMiddleware and django-otp's OTPMiddleware: a signed-in user
who must use a second factor (portal.accounts.policy) and whose session was not verified
with one (django-otp's `otp_device_id`) is anonymous from here on, for `login_required`,
the admin and every view. A session made by any other path than the two-step sign-in
(`login()` called elsewhere, a forged session) gives no access. WebSockets get the same
rule from `verified_user` (rooms/admission.py's auth stack).
"""

from __future__ import annotations

import functools

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from portal.accounts import policy, sessions


def anonymous() -> AnonymousUser:
    user = AnonymousUser()
    user.otp_device = None  # type: ignore[attr-defined]  # as OTPMiddleware's users have
    user.is_verified = lambda: False  # type: ignore[attr-defined]
    return user


def _checked(user):
    if getattr(user, "is_authenticated", False) and not user.is_verified() and policy.requires_second_factor(user):
        return anonymous()
    return user


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user  # OTPMiddleware's lazy user, with is_verified()
        request.user = SimpleLazyObject(functools.partial(_checked, user))
        auser = request.auser

        async def checked_auser():
            from asgiref.sync import sync_to_async

            return await sync_to_async(_checked)(await auser())

        request.auser = checked_auser
        response = self.get_response(request)
        if getattr(request.user, "is_authenticated", False):
            sessions.touch(request)
        return response


def verified_user(session, user):
    """For a WebSocket's scope (sync, in a database thread): the user, or AnonymousUser when
    their session was not verified with a second factor they must use."""
    if not getattr(user, "is_authenticated", False):
        return user
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    verified = device is not None and device.user_id == user.pk and device.confirmed
    if not verified and policy.requires_second_factor(user):
        return anonymous()
    return user
