"""Wall-clock times entered in a structure's zone, stored as UTC instants."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Unknown time zone “%(name)s”."), code="bad_zone", params={"name": name}) from None


def local_to_utc(local: dt.datetime, zone_name: str) -> dt.datetime:
    """Interpret a naive wall-clock time in `zone_name` and return the aware UTC instant.

    On DST days a wall-clock time can be missing (spring: 02:30 does not exist in Paris)
    or happen twice (autumn: 02:30 happens twice): both are refused with a clear error
    rather than silently picking an hour the agent did not mean.
    """
    if local.tzinfo is not None:
        raise ValueError("local_to_utc expects a naive wall-clock datetime")
    tz = zone(zone_name)
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != local:
            raise ValidationError(
                _("%(time)s does not exist in %(zone)s on that day (the clocks go forward)."),
                code="nonexistent_time",
                params={"time": local.strftime("%H:%M"), "zone": zone_name},
            )
        raise ValidationError(
            _("%(time)s happens twice in %(zone)s on that day (the clocks go back): choose another time."),
            code="ambiguous_time",
            params={"time": local.strftime("%H:%M"), "zone": zone_name},
        )
    return first.astimezone(dt.UTC)


def utc_to_local(instant: dt.datetime, zone_name: str) -> dt.datetime:
    """The naive wall-clock time of `instant` in `zone_name` (for forms)."""
    return instant.astimezone(zone(zone_name)).replace(tzinfo=None)
