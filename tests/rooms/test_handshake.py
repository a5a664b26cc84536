"""A room socket's handshake costs two database calls (rooms/handshake.py, issue 22).

Each call from the event loop is a thread hop and a pooled connection checked with a round
trip; the handshake made six or seven, and a Daphne process took ~30 handshakes a second
(bench/handshake_cost.py). Counted here: the consumer's database calls and the statements
they run (nothing else's: the presence heartbeat runs its own calls meanwhile).
"""

from __future__ import annotations

import functools
import threading

import pytest
from django.db.backends import utils

from rooms import consumers, lobby
from rooms.dbcall import db
from tests.rooms.conftest import Client, admitted, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counted(monkeypatch) -> dict[str, list]:
    """The consumer's database calls (by function name) and the SQL they execute."""
    seen: dict[str, list] = {"calls": [], "sql": []}
    inside = threading.local()

    def counting_db(function, executor=None):
        seen["calls"].append(function.__name__)

        @functools.wraps(function)
        def marked(*args, **kwargs):
            inside.on = True
            try:
                return function(*args, **kwargs)
            finally:
                inside.on = False

        return db(marked, executor)

    execute = utils.CursorWrapper.execute

    def spy(self, sql, params=None):
        if getattr(inside, "on", False):
            seen["sql"].append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(consumers, "db", counting_db)
    monkeypatch.setattr(utils.CursorWrapper, "execute", spy)
    return seen


def test_an_agent_s_handshake_is_two_database_calls(room, moderator, in_call, counted):
    async def scenario() -> dict:
        agent = await Client(room.slug, moderator.pid).connect()
        state = await agent.greeted()
        counted["handshake_sql"] = len(counted["sql"])
        counted["handshake_calls"] = list(counted["calls"])
        await agent.close()
        return state

    state = run(scenario())
    assert {p["pid"] for p in state["participants"]} == {str(moderator.pid), str(in_call.pid)}
    assert counted["handshake_calls"] == ["enter", "greet"]
    assert counted["handshake_sql"] <= 5  # session, participant (with its room), presence; state, chat replay


def test_a_waiting_citizen_s_handshake_is_two_database_calls(room, citizen, counted):
    async def scenario() -> dict:
        guest = await Client(room.slug, citizen.pid).connect()
        state = await guest.expect("state")
        info = await guest.expect("lobby.info")
        counted["handshake_sql"] = len(counted["sql"])
        counted["handshake_calls"] = list(counted["calls"])
        await guest.close()
        return {**state, "info": info}

    state = run(scenario())
    assert state["you"]["status"] == lobby.Status.WAITING and "position" in state["info"]
    assert counted["handshake_calls"] == ["enter", "greet"]
    assert counted["handshake_sql"] <= 6  # session, participant, presence; state, the queue's two counts


def test_admitted_between_enter_and_greet_joins_the_call(room, moderator, citizen, monkeypatch):
    """The agent admits the citizen while its socket is between its two calls (its personal
    group not heard yet): the citizen lands in the call with a full state, and hears it."""
    from rooms import handshake

    enter = handshake.enter

    def enter_then_admitted(*args, **kwargs):
        decision, participant = enter(*args, **kwargs)
        admitted(citizen)  # as the agent's admission would, before the socket's groups exist
        return decision, participant

    monkeypatch.setattr(handshake, "enter", enter_then_admitted)

    async def scenario() -> None:
        guest = await Client(room.slug, citizen.pid).connect()
        state = await guest.expect("state")
        assert state["you"]["status"] == lobby.Status.ADMITTED
        assert {p["pid"] for p in state["participants"]} >= {str(citizen.pid)}
        await guest.expect("participant.joined")  # in the call's group: hears its own arrival
        await guest.close()

    run(scenario())


def test_a_consumer_killed_by_daphne_leaves_its_lease_and_its_groups(room, moderator):
    """Daphne kills (cancels) a consumer that does not end within application_close_timeout
    on a starved process: its disconnect() never runs. Its lease must no longer be renewed
    (else a ghost) and its groups left (else their messages pile up for nobody)."""
    import asyncio
    import contextlib

    from channels.layers import get_channel_layer

    from rooms import leases

    layer = get_channel_layer()

    def member(channel: str) -> bool:
        return any(channel in members for members in getattr(layer, "memberships", {}).values())

    async def scenario() -> None:
        before = set(leases._sockets)
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        (channel,) = leases._sockets - before
        assert member(channel) or not hasattr(layer, "memberships")
        agent.ws.future.cancel()  # as Daphne kills it
        with contextlib.suppress(asyncio.CancelledError):
            await agent.ws.future
        for _ in range(200):  # the groups are left by a task of their own
            if not member(channel):
                break
            await asyncio.sleep(0.01)
        assert channel not in leases._sockets
        assert not member(channel)

    run(scenario())


def test_room_messages_do_not_wait_for_the_views_thread(room, moderator, settings):
    """Channels' consumers hop to the process's one thread-sensitive thread (where Django's
    views run) before every message, to close that thread's database connections; a room
    socket does not (its calls close their own, rooms/dbcall.py). While that thread is held
    (a slow view), the room still greets a new socket, answers a ping and echoes a chat."""
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from portal.asgi import application
    from tests.rooms.conftest import session_for

    cookie = f"{settings.SESSION_COOKIE_NAME}={session_for(room.slug, moderator.pid)}".encode()
    held, release = threading.Event(), threading.Event()

    def slow_view() -> None:
        held.set()
        release.wait(30)

    async def scenario() -> None:
        view = asyncio.create_task(sync_to_async(slow_view, thread_sensitive=True)())
        try:
            await asyncio.to_thread(held.wait, 10)
            agent = Client(room.slug, moderator.pid)
            agent.ws = WebsocketCommunicator(application, f"/ws/rooms/{room.slug}/", headers=[
                (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)])
            assert (await agent.ws.connect(timeout=10))[0]
            await agent.expect("state", timeout=10)
            await agent.expect("participant.joined", timeout=10)
            await agent.send({"type": "ping"})
            await agent.expect("pong", timeout=10)
            await agent.send({"type": "chat.send", "id": "c1", "text": "bonjour"})
            assert (await agent.expect("chat.message", timeout=10))["id"] == "c1"
            assert not view.done()  # all of it while the views' thread was held
        finally:
            release.set()
            await view
        await agent.close()

    run(scenario())


def test_a_handshake_does_not_queue_behind_the_messages_database_calls(room, moderator, settings):
    """The open sockets' messages run their database calls in the event loop's executor; a
    handshake has its own threads (rooms/dbcall.py, ROOM_HANDSHAKE_THREADS): with every
    thread of that executor busy (the chat of hundreds of sockets), a new socket is still
    greeted."""
    import asyncio

    from channels.testing import WebsocketCommunicator

    from portal.asgi import application
    from tests.rooms.conftest import session_for

    cookie = f"{settings.SESSION_COOKIE_NAME}={session_for(room.slug, moderator.pid)}".encode()
    release = threading.Event()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(40)]  # more than its threads
        try:
            agent = Client(room.slug, moderator.pid)
            agent.ws = WebsocketCommunicator(application, f"/ws/rooms/{room.slug}/", headers=[
                (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)])
            assert (await agent.ws.connect(timeout=10))[0]
            assert (await agent.expect("state", timeout=10))["you"]["pid"] == str(moderator.pid)
            assert not any(call.done() for call in busy)  # greeted while they all held their threads
        finally:
            release.set()
            await asyncio.gather(*busy)
        await agent.close()

    run(scenario())
