"""Two media node processes: a call runs on one; it is killed (SIGKILL) mid-call and both
pages are back in the call on the other node, without a page reload."""

import signal

import pytest
import redis

from media.nodes.registry import room_key
from tests.e2e import harness, steps

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def node_of(nodes: harness.MediaNodes, slug: str) -> str | None:
    """The node the registry placed the room on (read with a plain client: Playwright's
    sync API already runs an event loop in this thread)."""
    value = redis.Redis.from_url(nodes.env["REDIS_URL"]).get(nodes.prefix + room_key(slug))
    return value.decode() if value else None


def test_call_moves_to_the_other_node_when_its_node_dies(e2e_db, booked, browsers, tmp_path):
    agent, room = booked
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    with harness.media_nodes_running(tmp_path, "node-a", "node-b") as nodes, \
            harness.running_server(e2e_db, tmp_path, extra_env=nodes.env) as server:
        agent_pid, citizen_pid = steps.meet(agent_page, citizen, server.base, agent, room)
        first = node_of(nodes, room.slug)
        assert first in nodes.processes
        old_pcs = [page.evaluate_handle("window.gvDebug.pc") for page in (agent_page, citizen)]

        nodes.processes[first].send_signal(signal.SIGKILL)

        # The pages notice their connection failing, re-offer, and the room moves.
        for page, old in zip((agent_page, citizen), old_pcs, strict=True):
            page.wait_for_function("(old) => window.gvDebug.pc !== old", arg=old, timeout=60_000)
        steps.assert_media_flows(citizen, [agent_pid])
        steps.assert_media_flows(agent_page, [citizen_pid])
        second = node_of(nodes, room.slug)
        assert second is not None and second != first
        assert citizen.is_visible("#gv-call") and agent_page.url.endswith("/room/")  # no reload, still in
