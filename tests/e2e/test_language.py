"""French by default; the header's switch turns the page, and the browser code's strings
(Django's JavaScript catalog), to English."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import WAIT

pytestmark = pytest.mark.e2e


def test_join_page_is_french_and_switches_to_english(server, booked, browsers):
    _agent, room = booked
    page = browsers.open("citizen")
    page.goto(f"{server.base}/r/{room.slug}/")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.text_content("h1").strip() == "Votre rendez-vous en visio"
    assert page.get_attribute("button[name=language][value=fr]", "aria-current") == "true"
    # The JavaScript catalog the modules read is the French one (its formats tell).
    page.wait_for_function("() => typeof get_format === 'function'", timeout=WAIT)  # loaded
    assert page.evaluate("get_format('DECIMAL_SEPARATOR')") == ","

    page.click("button[name=language][value=en]")
    page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=WAIT)
    assert page.url.endswith(f"/r/{room.slug}/")  # back on the same page
    assert page.text_content("h1").strip() == "Your video appointment"
    page.wait_for_function("() => typeof get_format === 'function'", timeout=WAIT)
    assert page.evaluate("get_format('DECIMAL_SEPARATOR')") == "."
