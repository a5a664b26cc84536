"""Room fixtures: an open room with a moderator and a waiting citizen, and WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Iterator

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from rooms import presence
from rooms.presence import session_key
from tests import factories


@pytest.fixture
def room(structure_a, alice):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + timezone.timedelta(minutes=5))
    return appointment.room


def session_for(slug: str, pid) -> str:
    store = SessionStore()
    store[session_key(slug)] = str(pid)
    store.create()
    return store.session_key


class Client:
    """A WebSocket client of the real ASGI application, with the join session cookie."""

    def __init__(self, slug: str, pid=None):
        self.slug, self.pid = slug, pid
        self._ignoring: frozenset[str] = frozenset()

    @contextlib.contextmanager
    def ignoring(self, *kinds: str) -> Iterator[None]:
        """Skip these types in every `expect` of the block: for a message that may come at
        any point of it (a broadcast racing this participant's own change of group)."""
        saved = self._ignoring
        self._ignoring = saved | frozenset(kinds)
        try:
            yield
        finally:
            self._ignoring = saved

    async def connect(self):
        from portal.asgi import application

        session = await database_sync_to_async(session_for)(self.slug, self.pid) if self.pid else ""
        cookie = f"{settings.SESSION_COOKIE_NAME}={session}" if session else ""
        self.ws = WebsocketCommunicator(
            application,
            f"/ws/rooms/{self.slug}/",
            headers=[(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())],
        )
        connected, _ = await self.ws.connect(timeout=5)
        assert connected
        return self

    async def send(self, message) -> None:
        await self.ws.send_to(text_data=message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 5) -> dict:
        return json.loads(await self.ws.receive_from(timeout=timeout))

    async def expect(self, kind: str, timeout: float = 5, ignore: Iterable[str] = ()) -> dict:
        """The next message, which must be of `kind`: a message of any other type fails the
        test, unless its type is in `ignore` (skipped: say which, and why, at the call)."""
        return (await self.expect_each(kind, timeout=timeout, ignore=ignore))[kind]

    async def expect_each(self, *kinds: str, timeout: float = 5, ignore: Iterable[str] = ()) -> dict[str, dict]:
        """The next messages are one of each of `kinds`, in any order (e.g. sent through
        different groups); returned by type. Any other type fails, unless in `ignore`."""
        wanted, ignore = set(kinds), self._ignoring | frozenset(ignore)
        got: dict[str, dict] = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while wanted:
            message = await self.recv(max(0.05, deadline - asyncio.get_running_loop().time()))
            if message["type"] in wanted:
                wanted.discard(message["type"])
                got[message["type"]] = message
            else:
                assert message["type"] in ignore, f"expected {' and '.join(sorted(wanted))}, got {message}"
        return got

    async def greeted(self) -> dict:
        """Read what a new connection gets first: `state`, then its own arrival as the room
        sees it (`participant.joined`, when admitted) or its place (`lobby.info`, while
        waiting). Returns the state."""
        state = await self.expect("state")
        await self.expect("participant.joined" if state["you"]["status"] == "admitted" else "lobby.info")
        return state

    async def closed_with(self, timeout: float = 5, ignore: Iterable[str] = ()) -> int:
        """The close code, which must come next: a message before it fails the test,
        unless its type is in `ignore`."""
        while True:
            output = await self.ws.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return output.get("code")
            message = json.loads(output["text"])
            assert message["type"] in self._ignoring | frozenset(ignore), f"expected the close, got {message}"

    async def quiet(self) -> None:
        """Nothing arrived before the answer to a ping: a sync point instead of a silent wait.
        It covers what reached this consumer's channel before the ping while the consumer
        was idle (a consumer busy in a handler takes its WebSocket input first)."""
        await self.send({"type": "ping"})
        await self.expect("pong")

    async def close(self) -> None:
        await self.ws.disconnect()


async def hang_up(*ends) -> None:
    """Close these peer connections and clients in order, then stop the in-process media
    engine: its tasks must not outlive the scenario's event loop."""
    from rooms.mediabridge import media

    for end in ends:
        await end.close()
    await media().shutdown()


async def admit(agent: Client, guest: Client, pid) -> dict:
    """The moderator lets the waiting `guest` in; both read what admission sends them.
    The guest's new state. Its own arrival reaches the guest only if its consumer joined
    the room's group in time, and then at any later point: callers that read on from the
    guest do so inside `guest.ignoring("participant.joined")`."""
    await agent.send({"type": "lobby.admit", "pid": str(pid)})
    await guest.expect("lobby.admitted")
    state = await guest.expect("state")
    # The room hears of the arrival, the moderators that the waiting room emptied.
    news = await agent.expect_each("participant.joined", "lobby.left")
    assert news["participant.joined"]["participant"]["pid"] == news["lobby.left"]["participant"]["pid"] == str(pid)
    return state


async def seated(slug: str, *pids) -> list[Client]:
    """Connect these participants one after the other, each greeted, and read what each
    arrival tells those already there: `participant.joined` to the call for someone
    admitted, `lobby.waiting` to the moderators for someone waiting. The clients, in order."""
    clients: list[Client] = []
    in_call: list[Client] = []
    moderators: list[Client] = []
    for pid in pids:
        client = await Client(slug, pid).connect()
        you = (await client.greeted())["you"]
        for other in in_call if you["status"] == "admitted" else moderators:
            await other.expect("participant.joined" if you["status"] == "admitted" else "lobby.waiting")
        if you["status"] == "admitted":
            in_call.append(client)
        if you["role"] == "moderator":
            moderators.append(client)
        clients.append(client)
    return clients


async def in_the_call(slug: str, moderator_pid, pid) -> tuple[Client, Client]:
    """The moderator, then `pid` from the waiting room, admitted by it: both clients."""
    agent, guest = await seated(slug, moderator_pid, pid)
    await admit(agent, guest, pid)
    return agent, guest


def admitted(participant, hand: bool = False):
    """This participant is already in the call (as if admitted earlier)."""
    participant.status, participant.hand = "admitted", hand
    participant.save()
    return participant


@pytest.fixture
def moderator(room, alice):
    return presence.enter_as_member(room, alice, moderator=True)


@pytest.fixture
def in_call(room):
    """Another citizen already admitted (no moderator rights: sees what the call sees)."""
    return admitted(presence.enter_as_guest(room, "Paul Durand"))


@pytest.fixture
def citizen(room):
    return presence.enter_as_guest(room, "Jeanne Dupont")


def run(coro):
    return asyncio.run(coro)
