"""Phone numbers: parse what agents type, store E.164, refuse what cannot receive an SMS."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def to_e164(raw: str, region: str | None = None, *, mobile: bool = False) -> str:
    """Return `raw` as E.164 (`+33612345678`), or raise ValidationError saying why.

    National numbers (`06 12 34 56 78`) are read in `region` (default FR); numbers with a
    `+` or `00` prefix are read as international.
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("“%(value)s” is not a phone number. Example: 06 12 34 56 78 or +33 6 12 34 56 78."),
            code="phone_unreadable",
            params={"value": raw},
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number (wrong length or prefix)."),
            code="phone_invalid",
            params={"value": raw},
        )
    if mobile and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise ValidationError(
            _("“%(value)s” is not a mobile number: it cannot receive text messages."),
            code="phone_not_mobile",
            params={"value": raw},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """Human form of a stored number: national for French numbers, international otherwise."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == settings.PHONE_DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
