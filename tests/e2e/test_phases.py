"""The citizen's link before the room opens and after a cancellation: a clear message, no
form, no call code loaded, and no serious accessibility violation."""

from __future__ import annotations

import pytest

from portal import booking
from tests.e2e import harness
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.e2e


def test_too_early_then_cancelled(server, browsers, django_db_blocker):
    with django_db_blocker.unblock():
        _agent, room = harness.make_appointment(start_in_minutes=120)  # opens 30 min before
    page = browsers.open("citizen")

    answer = page.goto(f"{server.base}/r/{room.slug}/")
    assert answer.status == 200
    assert page.is_visible(".fr-alert--info")
    assert page.locator("#gv-join-form").count() == 0
    assert not any("/static/rooms/js/" in url for url in page.gv_requests)
    assert serious_violations(page) == [], "too early"

    with django_db_blocker.unblock():
        assert booking.cancel(room.appointment)
    answer = page.goto(f"{server.base}/r/{room.slug}/")
    assert answer.status == 410
    assert page.is_visible(".fr-alert--error")
    assert page.locator("#gv-join-form").count() == 0
    assert serious_violations(page) == [], "cancelled"
