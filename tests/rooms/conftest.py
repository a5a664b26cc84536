"""Room fixtures: an open room with a moderator and a waiting citizen, and WebSocket clients."""

from __future__ import annotations

import asyncio
import json

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

    async def expect(self, kind: str, timeout: float = 5) -> dict:
        """Next message of `kind`, skipping others (presence updates arrive in any order)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.recv(max(0.05, deadline - asyncio.get_running_loop().time()))
            if message["type"] == kind:
                return message

    async def closed_with(self, timeout: float = 5) -> int:
        while True:
            output = await self.ws.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return output.get("code")

    async def nothing(self) -> bool:
        return await self.ws.receive_nothing(timeout=0.2)

    async def close(self) -> None:
        await self.ws.disconnect()


@pytest.fixture
def moderator(room, alice):
    return presence.enter_as_member(room, alice, moderator=True)


@pytest.fixture
def citizen(room):
    return presence.enter_as_guest(room, "Jeanne Dupont")


def run(coro):
    return asyncio.run(coro)
