"""The production shape, as an operator deploys it from deploy/, carries the journey in
Chromium over https:// and wss://, and a call survives losing one of the two Daphne processes.

nginx (deploy/nginx-site.conf) terminates HTTPS with a certificate made for the test and
proxies to two Daphne processes; a Celery worker and beat, two media nodes (deploy/Procfile),
PostgreSQL (a database of the test's own) and Redis (keys under the run's own prefix), DEBUG=0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings

from rooms import tokens
from tests.deploy import stack as deploy
from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.stack]

# Set before the kill: whether the citizen's page ever shows the waiting room again.
WATCH_LOBBY = """() => {
  window.gvSawLobby = false;
  const lobby = document.getElementById('gv-lobby');
  new MutationObserver(() => { if (!lobby.hidden) window.gvSawLobby = true; })
    .observe(lobby, { attributes: true, attributeFilter: ['hidden'] });
}"""


@pytest.fixture
def server(e2e_db, tmp_path) -> Iterator[deploy.Stack]:
    """The whole stack (replaces conftest's single Daphne; `browsers` prints its logs)."""
    assert isinstance(e2e_db, str), "the stack test runs on PostgreSQL: set DATABASE_URL=postgres://…"
    secrets = {"SECRET_KEY": settings.SECRET_KEY, "ROOM_PASSWORD_KEY": settings.ROOM_PASSWORD_KEY.decode()}
    with deploy.running(e2e_db, tmp_path / "stack", secrets) as live:
        yield live


def sockets(page) -> list[str]:
    return [url for url in page.gv_requests if url.startswith(("ws:", "wss:"))]


def daphne_carrying_both(server: deploy.Stack, citizen) -> int:
    """Index of the Daphne that carries both pages' sockets. nginx spreads them round
    robin: while they are apart, the citizen's reconnects (as after a network cut)."""
    counts: list[int] = []

    def settled() -> bool:
        counts[:] = [server.sockets_on(port) for port in server.daphne_ports]
        return sum(counts) == 2

    for _ in range(8):
        harness.wait_until(settled, WAIT / 1000, "only the two pages' sockets on the Daphne processes")
        if 2 in counts:
            return counts.index(2)
        with citizen.expect_websocket(timeout=WAIT):
            citizen.evaluate("() => window.gvDebug.dropConnection()")
        citizen.wait_for_function("() => window.gvDebug.connected", timeout=WAIT)
    raise AssertionError(f"the two sockets never met on one Daphne: {counts}")


def test_the_deployed_stack_carries_a_call_through_the_loss_of_a_daphne(server, booked, browsers):
    agent, room = booked
    base = server.base
    agent_page = browsers.open("agent", ignore_https_errors=True)
    citizen = browsers.open("citizen", ignore_https_errors=True)

    # The agent signs in to the back-office over https and opens the room.
    agent_pid = steps.agent_enters(agent_page, base, agent, room)
    session = next(c for c in agent_page.context.cookies() if c["name"] == "sessionid")
    assert session["secure"] and session["httpOnly"]

    # The citizen opens the personal link: HSTS from Django through nginx, static files from
    # nginx (compressed, hashed names cached for good), the waiting room over wss://.
    answer = citizen.goto(f"{base}/r/{room.slug}/?t={tokens.make(room)}")
    assert "max-age=31536000" in answer.headers["strict-transport-security"]
    citizen_pid = steps.citizen_waits(citizen, room)
    css = citizen.evaluate("() => document.querySelector('link[rel=stylesheet][href*=dsfr]').href")
    static = citizen.request.get(css, headers={"Accept-Encoding": "gzip"})
    assert static.ok and static.headers["content-encoding"] == "gzip"
    assert "immutable" in static.headers["cache-control"]

    steps.admit(agent_page, citizen_pid)
    steps.assert_media_flows(citizen, [agent_pid])
    steps.assert_media_flows(agent_page, [citizen_pid])
    steps.say(citizen, agent_page, "Bonjour, je vous vois bien")
    steps.say(agent_page, citizen, "Moi aussi, bonjour")
    for page in (agent_page, citizen):
        assert sockets(page) and all(url.startswith(base.replace("https:", "wss:") + "/ws/") for url in sockets(page))

    # No stickiness: nginx spread the pages' requests over both Daphne processes.
    for name in ("web1", "web2"):
        assert re.search(r'"(GET|POST|WSCONNECT) /(admin|r)/', server.log(name).read_text()), name

    # One Daphne dies (SIGKILL) under both pages' sockets.
    victim = daphne_carrying_both(server, citizen)
    survivor = server.daphne_ports[1 - victim]
    citizen.evaluate(WATCH_LOBBY)
    with agent_page.expect_websocket(timeout=WAIT) as agent_socket, \
            citizen.expect_websocket(timeout=WAIT) as citizen_socket:
        server.kill(f"web{victim + 1}")

    # Both reconnect through nginx, to the other Daphne.
    for page, socket in ((agent_page, agent_socket.value), (citizen, citizen_socket.value)):
        assert socket.url.startswith(f"{base.replace('https:', 'wss:')}/ws/rooms/")
        page.wait_for_function("() => window.gvDebug.connected", timeout=WAIT)
    harness.wait_until(lambda: server.sockets_on(survivor) == 2, WAIT / 1000, "both sockets on the other Daphne")

    # Chat both ways and video both ways, after the loss.
    steps.say(citizen, agent_page, "Vous m'entendez toujours ?")
    steps.say(agent_page, citizen, "Oui, toujours")
    steps.assert_media_flows(citizen, [agent_pid])
    steps.assert_media_flows(agent_page, [citizen_pid])

    # The citizen is still in the call, and was never sent back to the waiting room.
    assert citizen.is_visible("#gv-call") and citizen.is_hidden("#gv-lobby")
    assert citizen.evaluate("() => window.gvDebug.me.status") == "admitted"
    assert citizen.evaluate("() => window.gvSawLobby") is False
