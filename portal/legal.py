"""The pages every citizen page links to in its footer: the accessibility statement (RGAA
4.1 model, law 2005-102 art. 47) and the personal-data notice (RGPD art. 13).

Their contacts come from settings (`ACCESSIBILITY_CONTACT`, `PRIVACY_CONTACT`); each is an
e-mail address or an https URL, checked when the page is built so that a typo shows as a
clear error in the logs rather than a dead link given to a citizen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from portal.models import Structure


@dataclass(frozen=True)
class Contact:
    """Where to write: `href` for the link, `text` to show."""

    href: str
    text: str


def contact(value: str, setting: str) -> Contact | None:
    """An e-mail address or an https URL as a link; None for an empty setting.

    >>> contact("a11y@mairie.fr", "X").href
    'mailto:a11y@mairie.fr'
    """
    value = value.strip()
    if not value:
        return None
    if value.startswith("https://"):
        try:
            URLValidator(schemes=["https"])(value)
        except ValidationError as error:
            raise ImproperlyConfigured(f"{setting} is not a valid https URL: {value!r}") from error
        return Contact(value, value.removeprefix("https://"))
    try:
        EmailValidator()(value)
    except ValidationError as error:
        raise ImproperlyConfigured(f"{setting} must be an e-mail address or an https URL: {value!r}") from error
    return Contact(f"mailto:{value}", value)


def audit_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"ACCESSIBILITY_AUDIT_DATE must be a date (YYYY-MM-DD): {value!r}") from error


# The statement's non-conformities (RGAA criteria): what an audit of these pages still finds.
# Kept in step with docs/accessibility-audit.md.
NON_CONFORMITIES = (
    ("4.1", "The participants' videos have no captions or transcript: a live call cannot have them beforehand; "
            "the chat is there to write."),
    ("10.11", "The identity check asks to hold a card in front of the camera: people who cannot do it can ask "
              "the agent for another way."),
)


@require_safe
def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/accessibility.html", {
        "publisher": settings.PUBLISHER_NAME,
        "contact": contact(settings.ACCESSIBILITY_CONTACT, "ACCESSIBILITY_CONTACT"),
        "audit_date": audit_date(settings.ACCESSIBILITY_AUDIT_DATE),
    })


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    retention = sorted({days for days in Structure.objects.values_list("retention_days", flat=True)})
    return render(request, "portal/privacy.html", {
        "publisher": settings.PUBLISHER_NAME,
        "contact": contact(settings.PRIVACY_CONTACT, "PRIVACY_CONTACT"),
        "retention_max": retention[-1] if retention else 90,
        "retention_min": retention[0] if retention else 90,
        "room_opens": settings.ROOM_OPENS_MINUTES_BEFORE,
        "address_days": settings.RETENTION_ADDRESS_DAYS,  # join attempts (portal/retention.py), logs' journal
    })
