"""The portal restarts under a call: both browsers reconnect with backoff, get `state`
back (still admitted), offer again to the new media engine, and see each other again."""

from __future__ import annotations

import pytest

from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT

pytestmark = pytest.mark.e2e


def test_call_survives_a_server_restart(e2e_db, booked, browsers, tmp_path):
    agent, room = booked
    port = harness.free_port()
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    with harness.running_server(e2e_db, tmp_path, port=port) as first:
        agent_pid, citizen_pid = steps.meet(agent_page, citizen, first.base, agent, room)
        old_pc = citizen.evaluate_handle("window.gvDebug.pc")

    # Server gone: the pages notice and retry.
    for page in (agent_page, citizen):
        page.wait_for_function("() => !window.gvDebug.connected", timeout=WAIT)

    with harness.running_server(e2e_db, tmp_path, port=port):
        for page in (agent_page, citizen):
            page.wait_for_function("() => window.gvDebug.connected", timeout=WAIT)
        citizen.wait_for_function("(old) => window.gvDebug.pc !== old", arg=old_pc, timeout=WAIT)
        assert citizen.is_visible("#gv-call")  # still admitted: no waiting room again
        steps.assert_media_flows(citizen, [agent_pid])
        steps.assert_media_flows(agent_page, [citizen_pid])
