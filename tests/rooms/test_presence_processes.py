"""Presence and signalling across real Daphne processes: a process killed with SIGKILL
leaves no ghost, and a Redis restart during a room's life closes no socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
import redis
import websockets
from django.db import connections

from rooms import chat, lobby, presence
from rooms.models import Participant
from rooms.protocol import CloseCode
from tests.e2e.harness import free_port
from tests.rooms.conftest import session_for
from tests.rooms.test_two_daphne import daphne_processes, expect, open_ws
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

FAST = {"PRESENCE_HEARTBEAT_SECONDS": "0.5", "PRESENCE_LEASE_SECONDS": "2", "PRESENCE_GRACE_SECONDS": "2"}
# What an agent may hear besides what a step waits for: others' arrivals and changes.
NEWS = ("participant.joined", "participant.updated", "lobby.left")


def test_a_killed_process_leaves_no_ghost(room, moderator, citizen):
    """The citizen's process dies (SIGKILL: no disconnect runs): the agent, on the other
    process, sees "connexion perdue" once the lease runs out, then the citizen leaves the
    call after the grace; nobody stays online without a socket."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    agent_session, guest_session = session_for(room.slug, moderator.pid), session_for(room.slug, citizen.pid)

    async def scenario(port_agent: int, port_guest: int, kill) -> None:
        agent = await open_ws(port_agent, room.slug, agent_session)
        await expect(agent, "state")
        await expect(agent, "participant.joined")
        guest = await open_ws(port_guest, room.slug, guest_session)
        await expect(guest, "state")
        joined = await expect(agent, "participant.joined")
        assert joined["participant"]["pid"] == str(citizen.pid) and joined["participant"]["online"] is True
        kill()
        lost = await expect(agent, "participant.updated", timeout=20)
        assert lost["participant"]["pid"] == str(citizen.pid) and lost["participant"]["online"] is False
        gone = await expect(agent, "participant.left", timeout=20)
        assert gone["participant"]["pid"] == str(citizen.pid)
        # Read while the agent's socket is still open: once it closes, the agent goes
        # offline too (at a moment that depends on when its process is stopped).
        assert await asyncio.to_thread(_online_pids) == [moderator.pid]
        await agent.close()
        with contextlib.suppress(Exception):
            await guest.close()

    with daphne_processes(2, env=FAST) as [(port_agent, _a), (port_guest, guest_process)]:
        asyncio.run(scenario(port_agent, port_guest, lambda: guest_process.send_signal(signal.SIGKILL)))
    row = Participant.objects.get(pid=citizen.pid)
    assert (row.status, row.online) == ("left", False)


def _online_pids() -> list:
    """Who the database says is online, read from a worker thread (its connection closed
    after, so the test's flush finds no session left open)."""
    try:
        return list(Participant.objects.filter(online=True).values_list("pid", flat=True))
    finally:
        connections.close_all()


@contextlib.contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen]:
    """A Redis of this test's own (never the shared one), without persistence: a restart
    forgets everything, as a production Redis without persistence would."""
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        wait_until(lambda: _pings(client), 10, interval=0.05, what=f"redis-server on port {port}")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        client.close()


def _pings(client: redis.Redis) -> bool:
    with contextlib.suppress(redis.ConnectionError):
        return bool(client.ping())
    return False


def _clients(port: int) -> int:
    with contextlib.closing(redis.Redis(port=port)) as client:
        return int(client.info("clients")["connected_clients"]) - 1  # less this one


def test_a_redis_restart_during_a_call_closes_no_socket(room, moderator, citizen, second_citizen):
    """Redis stops and comes back empty: the call's sockets stay open and get a fresh state
    and the chat's replay (with what another process stored meanwhile, which its broadcast
    could not bring here), the chat and the waiting room work again, a socket opened meanwhile is told UNAVAILABLE, and
    the process holds no more Redis connections than before."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    sessions = {who: session_for(room.slug, p.pid) for who, p in
                (("agent", moderator), ("guest", citizen), ("newcomer", second_citizen))}
    port = free_port()

    async def scenario(daphne_port: int, restart) -> None:
        agent = await open_ws(daphne_port, room.slug, sessions["agent"])
        await expect(agent, "state")
        await expect(agent, "participant.joined")
        guest = await open_ws(daphne_port, room.slug, sessions["guest"])
        await expect(guest, "state")
        await expect(agent, "participant.joined")
        await guest.send(json.dumps({"type": "chat.send", "text": "avant"}))
        assert (await expect(agent, "chat.message"))["text"] == "avant"
        await expect(guest, "chat.message", ignore=NEWS)
        before = _clients(port)

        async def newcomer_told_unavailable() -> None:
            newcomer = await open_ws(daphne_port, room.slug, sessions["newcomer"])
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await expect(newcomer, "never", timeout=20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAVAILABLE
            # Another process stores a chat while this one's groups are not back in Redis.
            await asyncio.to_thread(chat.record, str(citizen.pid), "pendant", "pendant")

        await restart(newcomer_told_unavailable)
        # Back: both sockets are still open and caught up with a fresh state.
        for ws in (agent, guest):
            assert (await expect(ws, "state", timeout=30, ignore=NEWS))["you"]["status"] == "admitted"
            replayed = await expect(ws, "chat.replay", ignore=NEWS)
            assert [m["text"] for m in replayed["messages"]] == ["avant", "pendant"]
        await guest.send(json.dumps({"type": "chat.send", "text": "après"}))
        assert (await expect(agent, "chat.message", ignore=NEWS))["text"] == "après"
        # The waiting room works again: the newcomer's browser comes back (UNAVAILABLE is not final).
        newcomer = await open_ws(daphne_port, room.slug, sessions["newcomer"])
        await expect(newcomer, "state")
        waiting = await expect(agent, "lobby.waiting", ignore=(*NEWS, "chat.message"))
        assert waiting["participant"]["pid"] == str(second_citizen.pid)
        assert _clients(port) <= before + 1  # reconnected in place (one may be opening for a send)
        for ws in (agent, guest, newcomer):
            await ws.close()

    redis_env = {**FAST, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    with private_redis(port) as first, daphne_processes(1, env=redis_env) as [(daphne_port, _p)], \
            contextlib.ExitStack() as again:
        async def restart(while_down) -> None:
            first.terminate()
            await asyncio.to_thread(first.wait, 10)
            await while_down()
            again.enter_context(private_redis(port))

        asyncio.run(scenario(daphne_port, restart))


@pytest.fixture
def second_citizen(room):
    return presence.enter_as_guest(room, "Karim Benali")


def test_sockets_coming_and_going_do_not_drain_the_connection_pool(room, moderator):
    """Under Daphne, with a pool of 3 connections: 30 socket lives in a row (session,
    user, presence, heartbeat) each get their state, then 30 pages are served; a connection
    left checked out at each would have drained the pool after three."""
    session = session_for(room.slug, moderator.pid)

    async def scenario(port: int) -> None:
        for _ in range(30):
            agent = await open_ws(port, room.slug, session)
            await expect(agent, "state")
            # The previous socket's leaving may be broadcast after this one joined the call.
            await expect(agent, "participant.joined", ignore=("participant.updated",))
            await agent.close()

    small_pool = {**FAST, "DATABASE_POOL_MAX": "3", "DATABASE_POOL_TIMEOUT": "5"}
    with daphne_processes(1, env=small_pool) as [(port, _process)]:
        asyncio.run(scenario(port))
        for _ in range(30):  # and pages (Django's own request cycle)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/r/{room.slug}/", timeout=10) as page:
                assert page.status == 200
