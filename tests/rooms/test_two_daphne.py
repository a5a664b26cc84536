"""Signalling across two Daphne processes sharing Redis (channels_redis) and the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import websockets
from django.conf import settings
from django.db import connection

from tests.e2e.harness import free_port  # one free-port helper for every test server
from tests.rooms.conftest import session_for
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]



def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def daphnes(count: int, *, redis: bool = True, env: dict[str, str] | None = None):
    """Start `count` Daphne processes on the test database; with `redis`, sharing Redis."""
    with daphne_processes(count, redis=redis, env=env) as started:
        yield [port for port, _proc in started]


@contextlib.contextmanager
def daphne_processes(count: int, *, redis: bool = True, env: dict[str, str] | None = None):
    """As `daphnes`, yielding (port, process) pairs (to kill one); `env` adds settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CHANNELS_PREFIX": f"gvtest{uuid.uuid4().hex[:8]}",
        **(env or {}),
    }
    if redis:
        env.setdefault("REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"))
    else:
        env.pop("REDIS_URL", None)
    ports = [free_port() for _ in range(count)]
    # Each process's log in a file, not a pipe nobody reads while it runs (a full pipe
    # blocks the process on its next log line); printed when the block fails.
    logs = [tempfile.TemporaryFile() for _ in ports]  # noqa: SIM115 - closed in the finally below
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("GV_DAPHNE_LOGS") else log,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        for port, proc, log in zip(ports, procs, logs, strict=True):
            wait_until(lambda port=port, proc=proc, log=log: listening(port, proc, log), 20, interval=0.1,
                       what=f"daphne to listen on port {port}")
        yield list(zip(ports, procs, strict=True))
    except BaseException:
        for port, log in zip(ports, logs, strict=True):
            print(f"--- daphne on port {port}, end of its log:\n{_tail(log)}")
        raise
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def _tail(log, size: int = 4000) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace")


def listening(port: int, proc: subprocess.Popen, log=None) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"daphne exited: {_tail(log) if log else ''}")
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


async def open_ws(port: int, slug: str, session: str):
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/rooms/{slug}/",
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}", "Origin": "http://127.0.0.1"},
        open_timeout=10,
    )


async def expect(ws, kind: str, timeout: float = 10, ignore: tuple[str, ...] = ()) -> dict:
    """The next message, which must be of `kind`, skipping only the types in `ignore`."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message
            assert message["type"] in ignore, f"expected {kind!r}, got {message}"


def test_lobby_and_chat_across_two_processes(room, moderator, citizen):
    agent_session = session_for(room.slug, moderator.pid)
    guest_session = session_for(room.slug, citizen.pid)

    async def scenario(port_a: int, port_b: int):
        agent = await open_ws(port_a, room.slug, agent_session)
        await expect(agent, "state")
        await expect(agent, "participant.joined")  # its own arrival
        guest = await open_ws(port_b, room.slug, guest_session)
        await expect(guest, "state")
        await expect(guest, "lobby.info")
        assert (await expect(agent, "lobby.waiting"))["participant"]["pid"] == str(citizen.pid)
        await agent.send(json.dumps({"type": "lobby.admit", "pid": str(citizen.pid)}))
        await expect(guest, "lobby.admitted")
        await expect(guest, "state")
        # The guest's own arrival reaches it only if it was in the room's group in time;
        # the agent hears of it through the room's group and the moderators' (lobby.left),
        # in either order.
        await expect(agent, "participant.joined", ignore=("lobby.left",))
        await guest.send(json.dumps({"type": "chat.send", "text": "Bonjour depuis B"}))
        assert (await expect(agent, "chat.message", ignore=("lobby.left",)))["text"] == "Bonjour depuis B"
        assert (await expect(guest, "chat.message", ignore=("participant.joined",)))["text"] == "Bonjour depuis B"
        await agent.send(json.dumps({"type": "hand.set", "raised": True}))
        update = await expect(guest, "participant.updated", ignore=("participant.joined",))
        assert update["participant"]["pid"] == str(moderator.pid) and update["participant"]["hand"] is True
        await agent.close()
        await guest.close()

    with daphnes(2) as (port_a, port_b):
        asyncio.run(scenario(port_a, port_b))


def test_real_daphne_sends_the_server_close_codes(room):
    """Through Daphne (autobahn wants an exact int for a close code): a socket without a join
    session is closed with 4401, not 1011 or a reset."""

    async def scenario(port: int):
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/rooms/{room.slug}/",
                                      additional_headers={"Origin": "http://127.0.0.1"}, open_timeout=10)
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(10):
                await ws.recv()
        assert ws.close_code == 4401

    with daphnes(1) as (port,):
        asyncio.run(scenario(port))
