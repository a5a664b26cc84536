import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from portal.timezones import local_to_utc, utc_to_local

UTC = dt.UTC


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        # 2026: summer time starts Sunday 29 March, ends Sunday 25 October.
        (dt.date(2026, 3, 28), 9),  # still winter (UTC+1)
        (dt.date(2026, 3, 29), 8),  # the change day itself: 10:00 is already summer time
        (dt.date(2026, 3, 30), 8),
        (dt.date(2026, 10, 24), 8),  # still summer (UTC+2)
        (dt.date(2026, 10, 25), 9),  # the change day: 10:00 is winter time again
        (dt.date(2026, 10, 26), 9),
    ],
)
def test_ten_oclock_in_paris_around_dst_changes(day, utc_hour):
    local = dt.datetime.combine(day, dt.time(10, 0))
    instant = local_to_utc(local, "Europe/Paris")
    assert instant == dt.datetime.combine(day, dt.time(utc_hour, 0), tzinfo=UTC)
    assert utc_to_local(instant, "Europe/Paris") == local


def test_missing_hour_in_spring_is_refused():
    with pytest.raises(ValidationError) as error:
        local_to_utc(dt.datetime(2026, 3, 29, 2, 30), "Europe/Paris")
    assert error.value.code == "nonexistent_time"


def test_repeated_hour_in_autumn_is_refused():
    with pytest.raises(ValidationError) as error:
        local_to_utc(dt.datetime(2026, 10, 25, 2, 30), "Europe/Paris")
    assert error.value.code == "ambiguous_time"


def test_overseas_zone_without_dst():
    assert local_to_utc(dt.datetime(2026, 7, 1, 10, 0), "America/Guadeloupe") == dt.datetime(
        2026, 7, 1, 14, 0, tzinfo=UTC
    )


def test_unknown_zone_and_aware_input():
    with pytest.raises(ValidationError):
        local_to_utc(dt.datetime(2026, 7, 1, 10), "Mars/Olympus")
    with pytest.raises(ValueError):
        local_to_utc(dt.datetime(2026, 7, 1, 10, tzinfo=UTC), "Europe/Paris")
