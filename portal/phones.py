"""Phone numbers: parse what agents type, store E.164, refuse what cannot receive an SMS.

National numbers (`0692 12 34 56`) are read in the structure's territory: metropolitan
France, the overseas departments and the overseas collectivities each have their own
numbering plan (and, for some, their own country code), which the phonenumbers library's
metadata knows. A number typed in international form (`+262 …`, `00 262 …`) is read as
such whatever the structure's territory.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}

# The territories of the Republic a structure may be in, as phonenumbers regions, with the
# phrase the refusal messages use ("for Réunion: 0692 12 34 56 or +262 692 12 34 56").
TERRITORIES: dict[str, tuple[Promise, Promise]] = {
    "FR": (_("Metropolitan France"), _("for metropolitan France")),
    "RE": (_("Réunion"), _("for Réunion")),
    "YT": (_("Mayotte"), _("for Mayotte")),
    "GP": (_("Guadeloupe"), _("for Guadeloupe")),
    "MQ": (_("Martinique"), _("for Martinique")),
    "GF": (_("French Guiana"), _("for French Guiana")),
    "PM": (_("Saint Pierre and Miquelon"), _("for Saint Pierre and Miquelon")),
    "NC": (_("New Caledonia"), _("for New Caledonia")),
    "PF": (_("French Polynesia"), _("for French Polynesia")),
}
TERRITORY_CHOICES = [(code, name) for code, (name, _phrase) in TERRITORIES.items()]

# A structure's territory when it did not choose one: from its time zone.
REGION_BY_TIME_ZONE = {
    "Europe/Paris": "FR",
    "Indian/Reunion": "RE",
    "Indian/Mayotte": "YT",
    "America/Guadeloupe": "GP",
    "America/Martinique": "MQ",
    "America/Cayenne": "GF",
    "America/Miquelon": "PM",
    "Pacific/Noumea": "NC",
    "Pacific/Tahiti": "PF",
}


def region_for_time_zone(time_zone: str) -> str:
    return REGION_BY_TIME_ZONE.get(time_zone, settings.PHONE_DEFAULT_REGION)


def example(region: str) -> dict[str, str]:
    """The library's example mobile for `region`, national and international forms."""
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:  # a region without mobile metadata: any example
        number = phonenumbers.example_number(region)
    if number is None:
        return {"national": "", "international": ""}
    return {
        "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        "international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    }


def _params(raw: str, region: str) -> dict[str, object]:
    phrase = TERRITORIES[region][1] if region in TERRITORIES else region
    return {"value": raw, "territory": phrase, **example(region)}


def to_e164(raw: str, region: str | None = None, *, mobile: bool = False) -> str:
    """Return `raw` as E.164 (`+33612345678`), or raise ValidationError saying why.

    National numbers are read in `region` (a phonenumbers region, default
    PHONE_DEFAULT_REGION); numbers with a `+` or `00` prefix are read as international.
    """
    region = region or settings.PHONE_DEFAULT_REGION
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("“%(value)s” is not a phone number. Example %(territory)s: %(national)s or %(international)s."),
            code="phone_unreadable",
            params=_params(raw, region),
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "“%(value)s” is not a valid phone number %(territory)s (wrong length or prefix). "
                "Example: %(national)s, or in international form %(international)s "
                "(a number of another territory is typed in international form)."
            ),
            code="phone_invalid",
            params=_params(raw, region),
        )
    if mobile and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise ValidationError(
            _("“%(value)s” is not a mobile number: it cannot receive text messages. Example %(territory)s: "
              "%(national)s or %(international)s."),
            code="phone_not_mobile",
            params=_params(raw, region),
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str, region: str | None = None) -> str:
    """Human form of a stored number: national for numbers of `region` (default
    PHONE_DEFAULT_REGION), international otherwise."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == (region or settings.PHONE_DEFAULT_REGION)
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
