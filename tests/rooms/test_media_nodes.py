"""Media nodes: rooms placed by load on `medianode` processes, re-placed when a node dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aioice.ice
import pytest
from aiortc import RTCSessionDescription

from media.nodes.registry import NodeRegistry
from tests.rooms.conftest import Client, run
from tests.rooms.test_media_signalling import answer_server_offers, browser_like_peer

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def remote_media(settings, monkeypatch):
    """This process talks to media nodes over Redis, under prefixes of its own."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])
    prefix = f"gvtest{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = REDIS_URL
    settings.MEDIA_NODES = "remote"
    settings.MEDIA_REDIS_PREFIX = prefix + ":"
    settings.MEDIA_NODE_MAX_AGE = 2.0
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix}}}
    return {"REDIS_URL": REDIS_URL, "MEDIA_REDIS_PREFIX": prefix + ":", "CHANNELS_PREFIX": prefix,
            "MEDIA_NODE_MAX_AGE": "2.0"}


@contextlib.contextmanager
def media_nodes(env_extra: dict, *specs: tuple[str, int]):
    env = {**os.environ, **env_extra, "DJANGO_SETTINGS_MODULE": "tests.settings", "GV_TEST_LOOPBACK_ICE": "1"}
    procs = {
        node_id: subprocess.Popen(
            [sys.executable, "manage.py", "medianode", "--id", node_id, "--max-tracks", str(max_tracks)],
            cwd=ROOT, env=env, stdout=None if os.environ.get("GV_NODE_LOGS") else subprocess.DEVNULL,
            stderr=None if os.environ.get("GV_NODE_LOGS") else subprocess.DEVNULL,
        )
        for node_id, max_tracks in specs
    }
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


async def wait_for_nodes(prefix: str, count: int) -> NodeRegistry:
    registry = NodeRegistry(REDIS_URL, prefix=prefix, max_age=2.0)
    async with asyncio.timeout(30):
        while len(await registry.live_nodes()) < count:
            await asyncio.sleep(0.2)
    return registry


async def call(room, moderator, citizen):
    """Agent and citizen connect and exchange media; returns what tears it down."""
    agent = await Client(room.slug, moderator.pid).connect()
    guest = await Client(room.slug, citizen.pid).connect()
    peers = []
    for client in (agent, guest):
        pc, got = await browser_like_peer()
        await client.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
        answer = await client.expect("rtc.answer", timeout=30)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        peers.append((client, pc, got))
    await asyncio.gather(*(answer_server_offers(client, pc, 1) for client, pc, _ in peers))
    async with asyncio.timeout(30):
        while any(sorted(got) != ["audio", "video"] for _, _, got in peers):
            await asyncio.sleep(0.1)
    return peers


async def hang_up(peers) -> None:
    for client, pc, _ in peers:
        await pc.close()
        await client.close()


def test_room_placed_on_least_loaded_node_and_replaced_when_it_dies(room, moderator, citizen, remote_media):
    citizen.status = "admitted"
    citizen.save()
    prefix = remote_media["MEDIA_REDIS_PREFIX"]

    async def scenario(procs):
        registry = await wait_for_nodes(prefix, 2)
        peers = await call(room, moderator, citizen)
        first = await registry.assigned(room.slug)
        assert first in procs
        # The node announces what it forwards (2 participants x audio+video to the other).
        async with asyncio.timeout(15):
            while next(n for n in await registry.live_nodes() if n.node_id == first).load != 4:
                await asyncio.sleep(0.2)
        procs[first].send_signal(signal.SIGKILL)
        await hang_up(peers)
        async with asyncio.timeout(10):
            while first in {n.node_id for n in await registry.live_nodes()}:
                await asyncio.sleep(0.2)
        # Browsers re-offer after their connection fails: the room moves to the live node.
        peers = await call(room, moderator, citizen)
        second = await registry.assigned(room.slug)
        assert second is not None and second != first
        await hang_up(peers)
        await registry.close()

    with media_nodes(remote_media, ("node-a", 400), ("node-b", 400)) as procs:
        run(scenario(procs))


def test_full_nodes_refuse_new_rooms_clearly(room, moderator, remote_media):
    async def scenario():
        registry = await wait_for_nodes(remote_media["MEDIA_REDIS_PREFIX"], 1)
        agent = await Client(room.slug, moderator.pid).connect()
        pc, _ = await browser_like_peer()
        await agent.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
        error = await agent.expect("error", timeout=10)
        assert error["code"] == "media_unavailable" and "media node" in error["message"]
        await pc.close()
        await agent.close()
        assert [n.accepting for n in await registry.live_nodes()] == [False]
        await registry.close()

    with media_nodes(remote_media, ("node-full", 0)):
        time.sleep(0.1)
        run(scenario())
