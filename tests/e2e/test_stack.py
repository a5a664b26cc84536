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
        harness.wait_until(settled, WAIT / 1000, what="only the two pages' sockets on the Daphne processes")
        if 2 in counts:
            return counts.index(2)
        with citizen.expect_websocket(timeout=WAIT):
            citizen.evaluate("() => window.gvDebug.dropConnection()")
        citizen.wait_for_function("() => window.gvDebug.connected", timeout=WAIT)
    raise AssertionError(f"the two sockets never met on one Daphne: {counts}")


def test_the_deployed_stack_carries_a_call_through_the_loss_of_a_daphne(server, booked, browsers, django_db_blocker):
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
    citizen.click("#gv-enter")  # the personal link binds on this click
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
    harness.wait_until(lambda: server.sockets_on(survivor) == 2, WAIT / 1000, what="both sockets on the other Daphne")

    # Chat both ways and video both ways, after the loss.
    steps.say(citizen, agent_page, "Vous m'entendez toujours ?")
    steps.say(agent_page, citizen, "Oui, toujours")
    steps.assert_media_flows(citizen, [agent_pid])
    steps.assert_media_flows(agent_page, [citizen_pid])

    # The citizen is still in the call, and was never sent back to the waiting room.
    assert citizen.is_visible("#gv-call") and citizen.is_hidden("#gv-lobby")
    assert citizen.evaluate("() => window.gvDebug.me.status") == "admitted"
    assert citizen.evaluate("() => window.gvSawLobby") is False

    # Through the shipped nginx, from another loopback address: the join page's limits key
    # on the address nginx saw, whatever the client writes at the left of X-Forwarded-For.
    with django_db_blocker.unblock():
        assert_forged_forwarded_for_does_not_bypass_the_limit(server)


def post_code(server: deploy.Stack, room, code: str, source: str, forged: str) -> int:
    """One code typed at the join page from `source` (a loopback address of its own), with a
    forged X-Forwarded-For: GET for the CSRF cookie and token, then POST, as a browser does."""
    import http.client
    import ssl
    from http.cookies import SimpleCookie
    from urllib.parse import urlencode, urlsplit

    port = urlsplit(server.base).port
    context = ssl.create_default_context(cafile=str(server.cert))
    path = f"/r/{room.slug}/"

    def request(method: str, headers: dict[str, str], body: str | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPSConnection("localhost", port, context=context, source_address=(source, 0),
                                                 timeout=WAIT / 1000)
        connection.request(method, path, body=body, headers={"X-Forwarded-For": forged, **headers})
        return connection.getresponse()

    page = request("GET", {})
    html = page.read().decode()
    cookie = SimpleCookie(page.headers["Set-Cookie"])["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    answer = request("POST", {
        "Cookie": f"csrftoken={cookie}", "Origin": server.base, "Referer": server.base + path,
        "Content-Type": "application/x-www-form-urlencoded",
    }, urlencode({"csrfmiddlewaretoken": token, "name": "Camille", "password": code}))
    answer.read()
    return answer.status


def assert_forged_forwarded_for_does_not_bypass_the_limit(server: deploy.Stack) -> None:
    from rooms.models import JoinAttempt

    _, room = harness.make_appointment()
    wrong = "0" * 8 if room.password != "0" * 8 else "1" * 8
    # Each wrong code forges another address; the last one locks this address out.
    statuses = [post_code(server, room, wrong, "127.0.0.7", f"198.51.100.{attempt}")
                for attempt in range(settings.JOIN_MAX_FAILURES_PER_ADDRESS)]
    assert statuses == [200] * (len(statuses) - 1) + [429]
    # The right code, with yet another forged address: still this address, still locked.
    assert post_code(server, room, room.password, "127.0.0.7", "198.51.100.99") == 429
    assert set(JoinAttempt.objects.filter(room=room).values_list("address", flat=True)) == {"127.0.0.7"}
    # Another client (another loopback address) is not caught by that lock.
    assert post_code(server, room, room.password, "127.0.0.8", "127.0.0.7") == 302
