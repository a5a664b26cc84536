"""The citizen's pages ask nothing of any host but the portal (fonts, styles, scripts,
WebSocket), and run under the strict CSP without a refusal."""

from __future__ import annotations

import pytest

from tests.e2e import steps

pytestmark = pytest.mark.e2e


def test_citizen_pages_request_only_the_portal(server, booked, browsers):
    agent, room = booked
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    steps.agent_enters(agent_page, server.base, agent, room)

    steps.citizen_prejoin(citizen, server.base, room)
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    steps.admit(agent_page, citizen_pid)
    citizen.wait_for_selector("#gv-call:not([hidden])")
    citizen.wait_for_load_state("networkidle")

    requested = citizen.gv_requests
    # The log really holds the page's assets: the check below is about something.
    assert any("/static/dsfr/dsfr.citizen.min.css" in url for url in requested)
    assert any(url.endswith(".woff2") for url in requested)
    assert any("/jsi18n/" in url for url in requested)
    assert any(url.startswith("ws://") and "/ws/rooms/" in url for url in requested)
    assert steps.foreign_requests(citizen, server.base) == []
    assert steps.csp_errors(citizen) == []
