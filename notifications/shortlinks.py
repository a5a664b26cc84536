"""Short links for SMS: `SITE_URL/j/<10 characters>` standing for a long signed link.

The reminder's personal link carries a signed token of ~110 characters; an SMS pays for
every one. The short code is random (`secrets`, 62^10 ≈ 8·10^17 codes, nothing derived
from the appointment), stored with its target, and resolves by a plain redirect only
while its appointment can still use it (until the room closes, never once cancelled).
The redirect binds nothing: a link scanner that follows it only reaches the target's
GET, which shows a page (the personal link enters the room on POST only).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from notifications.models import ShortLink
from portal.models import Appointment, Status

ALPHABET = string.ascii_letters + string.digits
LENGTH = 10
CODE = re.compile(rf"^[A-Za-z0-9]{{{LENGTH}}}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def expires_at(appointment: Appointment) -> dt.datetime:
    """The room's window closes then (rooms.services.closes_at); so does every short link."""
    return appointment.end + dt.timedelta(minutes=settings.ROOM_CLOSES_MINUTES_AFTER)


def short_url(appointment: Appointment, target: str, expires_at: dt.datetime | None = None) -> str:
    """The short address of `target` for `appointment`: the same one every time. It resolves
    until the room closes, or until `expires_at` (the visit summary's page)."""
    for _ in range(5):
        link = ShortLink.objects.filter(appointment=appointment, target=target).first()
        if link is None:
            try:
                with transaction.atomic():
                    link = ShortLink.objects.create(appointment=appointment, target=target, code=new_code(),
                                                    expires_at=expires_at)
            except IntegrityError:  # a concurrent render made it (or, once in 10^17, the code exists)
                continue
        return f"{settings.SITE_URL}{reverse('short_link', kwargs={'code': link.code})}"
    raise RuntimeError(f"could not make a short link for appointment {appointment.pk}")


def target_of(code: str, now: dt.datetime | None = None) -> str | None:
    """The long link behind `code`, or None: unknown, expired or cancelled."""
    if not CODE.match(code):
        return None
    link = ShortLink.objects.select_related("appointment").filter(code=code).first()
    if link is None:
        return None
    appointment = link.appointment
    until = link.expires_at or expires_at(appointment)
    if appointment.status == Status.CANCELLED or (now or timezone.now()) >= until:
        return None
    target: str = link.target
    return target


@never_cache
@require_safe
def follow(request: HttpRequest, code: str) -> HttpResponse:
    target = target_of(code)
    if target is None:
        return render(request, "notifications/short_link_gone.html", status=404)
    response = HttpResponseRedirect(target)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
