"""Presence as people see it (rooms/PROTOCOL.md, "Presence"): a citizen on a phone reloads
and is back in the call without the code; then closes the browser: the agent sees
"connexion perdue", then the citizen is gone from tiles, list and count after the grace."""

from __future__ import annotations

import pytest

from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT
from tests.e2e.test_appointment_day import PHONE

pytestmark = pytest.mark.e2e

# A grace short enough to wait out (production: 20 s).
# "Dans l’appel : 2": the count of the people panel.
IN_CALL = "(n) => /\\b\\d+\\b/.exec(document.getElementById('gv-count').textContent)?.[0] === String(n)"
FAST = {"PRESENCE_HEARTBEAT_SECONDS": "0.5", "PRESENCE_LEASE_SECONDS": "3", "PRESENCE_GRACE_SECONDS": "4"}


def test_reload_comes_back_and_a_closed_browser_leaves_after_the_grace(e2e_db, booked, browsers, tmp_path):
    agent, room = booked
    with harness.running_server(e2e_db, tmp_path, extra_env=FAST) as server:
        agent_page = browsers.open("agent")
        phone = browsers.open("citizen", **PHONE)
        agent_pid, citizen_pid = steps.meet(agent_page, phone, server.base, agent, room)
        agent_page.wait_for_function(IN_CALL, arg=2)

        # Reload: the same session, back in the call (no join page, no code, no waiting room).
        phone.reload()
        phone.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
        assert phone.url.endswith(f"/r/{room.slug}/room/") and not phone.is_visible("#gv-lobby")
        steps.assert_media_flows(phone, [agent_pid])
        tile = f"#gv-stage .gv-tile[data-pid='{citizen_pid}']"
        agent_page.wait_for_selector(f"{tile}:not(.gv-tile--lost)", timeout=WAIT)

        # The browser closes: "connexion perdue" at once, then gone after the grace.
        phone.context.close()
        agent_page.wait_for_selector(f"{tile}.gv-tile--lost", timeout=WAIT)
        if agent_page.get_attribute("#gv-btn-people", "aria-expanded") != "true":
            agent_page.click("#gv-btn-people")
        row = f"#gv-people-list li[data-pid='{citizen_pid}']"
        assert "connexion perdue" in agent_page.text_content(row)
        agent_page.wait_for_selector(tile, state="detached", timeout=WAIT)
        agent_page.wait_for_selector(row, state="detached", timeout=WAIT)
        agent_page.wait_for_function(IN_CALL, arg=1)
