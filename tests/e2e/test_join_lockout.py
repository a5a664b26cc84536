"""A citizen locked out by wrong codes, in real browsers: the join page says what to do,
the agent's day view raises the alert when the right code is kept out, and "unlock" lets
the citizen in with the code."""

from __future__ import annotations

import pytest

from tests.e2e import steps
from tests.e2e.conftest import WAIT
from tests.e2e.test_accessibility import serious_violations
from tests.e2e.test_appointment_day import open_day_view

pytestmark = pytest.mark.e2e


def test_locked_out_citizen_is_shown_in_the_day_view_and_unlocked(server, booked, browsers):
    agent, room = booked
    base = server.base
    row = f"#appt-{room.appointment_id}"
    day = browsers.open("agent")
    open_day_view(day, base, agent)

    citizen = browsers.open("citizen")
    citizen.goto(f"{base}/r/{room.slug}/")
    wrong = "00000000" if room.password != "00000000" else "11111111"
    for _ in range(5):
        steps.submit_join(citizen, "Jeanne Dupont", wrong)
    notice = citizen.text_content("#gv-join-wait")
    assert "Trop de codes erronés" in notice and "lien personnel" in notice
    assert serious_violations(citizen) == [], "join page, locked out"
    day.wait_for_selector(f"{row} [data-join-alert='locked']", timeout=WAIT)

    # The right code from the locked connection: refused, and the day view is told, loudly.
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    assert "/room/" not in citizen.url and "Réessayez dans" in citizen.text_content("#gv-join-wait")
    day.wait_for_selector(f"{row} [data-join-alert='refused']", timeout=WAIT)
    day.wait_for_selector("#gv-day-alert:not([hidden])", timeout=WAIT)
    assert "ne peut plus taper le code" in day.text_content("#gv-day-alert")
    assert day.evaluate("() => window.gvBeeps") >= 1
    assert "bon code" in day.text_content(row)

    day.click(f"{row} form[action$='/unlock/'] button")
    day.wait_for_selector(f"{row}:not(:has([data-join-alert]))", timeout=WAIT)
    assert "peut de nouveau taper le code" in day.text_content("ul.messagelist")

    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    steps.citizen_waits(citizen, room)
    day.wait_for_selector(f"{row}[data-presence='waiting']", timeout=WAIT)
