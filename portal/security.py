"""Back-office and browser hardening: the locked sign-in page, the Permissions-Policy header.

Permissions-Policy: every page denies the camera, the microphone and screen capture,
except the pages that use them, which allow them for our own origin only
(`allow_capture`): the call page (all three: screen share), the pre-join page and the
device test page (camera and microphone). A script injected in any other page, or a
frame, cannot open the camera.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

HEADER = "Permissions-Policy"
CAPTURE = ("camera", "microphone", "display-capture")
FEATURES = (*CAPTURE, "geolocation", "payment", "usb")  # the last ones: never used by the portal


def policy(allowed: tuple[str, ...]) -> str:
    return ", ".join(f"{f}=(self)" if f in allowed else f"{f}=()" for f in FEATURES)


DENIED = policy(())


def allow_capture(*features: str) -> Callable:
    """View decorator: allow these capture features to our origin on this view's pages."""
    unknown = set(features) - set(CAPTURE)
    if unknown:
        raise ValueError(f"not capture features: {sorted(unknown)}")
    header = policy(features)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.headers[HEADER] = header
            return response

        return wrapped

    return decorator


class PermissionsPolicyMiddleware:
    """Deny capture on every response whose view did not allow it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(HEADER, DENIED)
        return response


def login_locked(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """Axes' answer to a locked sign-in (AXES_LOCKOUT_CALLABLE): our page, 429."""
    from django.contrib import admin

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {**admin.site.each_context(request), "minutes": minutes}
    return render(request, "portal/login_locked.html", context, status=429)
