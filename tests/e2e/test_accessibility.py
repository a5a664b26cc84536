"""axe-core on the citizen's pages (join, waiting room, call) and the agent's room:
no violation of serious or critical impact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import steps
from tests.e2e.conftest import WAIT

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def serious_violations(page) -> list[str]:
    # Evaluated through the DevTools protocol, so the page's CSP does not apply to axe.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE + "\n;undefined")
    violations = page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ["violations"]})).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} @ ` +
                 v.nodes.map((n) => `${n.target.join(" ")} ${n.failureSummary}`).join(", "))"""
    )
    return violations


def test_pages_have_no_serious_accessibility_violation(server, booked, browsers):
    agent, room = booked
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    steps.agent_enters(agent_page, server.base, agent, room)

    citizen.goto(f"{server.base}/r/{room.slug}/")
    assert citizen.evaluate("document.documentElement.lang") == "fr"
    assert serious_violations(citizen) == [], "join page"

    steps.citizen_prejoin(citizen, server.base, room)
    steps.submit_join(citizen, "Jeanne Dupont", "not-the-code")
    citizen.wait_for_selector("#gv-password-error", timeout=WAIT)
    assert serious_violations(citizen) == [], "join page with preview and a form error"

    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    assert serious_violations(citizen) == [], "waiting room"

    steps.admit(agent_page, citizen_pid)
    citizen.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    assert serious_violations(citizen) == [], "call"
    citizen.click("#gv-btn-chat")
    assert serious_violations(citizen) == [], "call with the chat open"
    citizen.click("#gv-btn-settings")
    assert serious_violations(citizen) == [], "call with the settings open"

    agent_page.click("#gv-btn-info")
    assert serious_violations(agent_page) == [], "agent's room with the share panel"

    agent_page.click("#gv-btn-people")
    assert serious_violations(agent_page) == [], "agent's participants panel"
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='idcheck.start']")
    citizen.wait_for_selector("#gv-idcheck-ask:not([hidden])", timeout=WAIT)
    assert serious_violations(citizen) == [], "call with the identity check request"
    citizen.click("#gv-idcheck-accept")
    agent_page.wait_for_selector("#gv-idcheck-result .fr-badge", timeout=WAIT)
    assert serious_violations(agent_page) == [], "agent's identity check result"


def test_device_test_page_has_no_serious_accessibility_violation(server, booked, browsers):
    from django.conf import settings

    from portal.citizen import test_url

    _agent, room = booked
    page = browsers.open("citizen")
    page.goto(server.base + test_url(room.appointment).removeprefix(settings.SITE_URL))
    assert serious_violations(page) == [], "device test page"
    page.evaluate("() => document.getElementById('gv-allow').click()")
    page.wait_for_function("() => document.body.dataset.gvTest", timeout=30_000)
    assert serious_violations(page) == [], "device test page with its verdict"
