"""Media nodes: rooms placed by load on `medianode` processes, re-placed when a node dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aioice.ice
import pytest
from aiortc import RTCSessionDescription
from django.utils import timezone

from media.nodes.registry import NodeRegistry
from rooms import presence
from tests import factories
from tests.rooms.conftest import Client, run, seated
from tests.rooms.test_media_signalling import answer_server_offers, browser_like_peer
from tests.waiting import wait_until_async

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
    # Placement by load and by track capacity is what these tests check: a node starting on a
    # busy 2-core test machine may spend more than a core in its first second, which would
    # make it refuse rooms for CPU (a production safeguard, not under test here).
    return {"REDIS_URL": REDIS_URL, "MEDIA_REDIS_PREFIX": prefix + ":", "CHANNELS_PREFIX": prefix,
            "MEDIA_NODE_MAX_AGE": "2.0", "MEDIA_NODE_MAX_CPU": "100"}


class NodeProcesses:
    """`manage.py medianode` processes started on demand, killed at the end."""

    def __init__(self, env_extra: dict) -> None:
        self.env = {**os.environ, **env_extra, "DJANGO_SETTINGS_MODULE": "tests.settings", "GV_TEST_LOOPBACK_ICE": "1"}
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, node_id: str, max_tracks: int = 400) -> None:
        logs = None if os.environ.get("GV_NODE_LOGS") else subprocess.DEVNULL
        self.procs[node_id] = subprocess.Popen(
            [sys.executable, "manage.py", "medianode", "--id", node_id, "--max-tracks", str(max_tracks)],
            cwd=ROOT, env=self.env, stdout=logs, stderr=logs,
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def media_nodes(env_extra: dict, *specs: tuple[str, int]) -> Iterator[NodeProcesses]:
    nodes = NodeProcesses(env_extra)
    try:
        for node_id, max_tracks in specs:
            nodes.start(node_id, max_tracks)
        yield nodes
    finally:
        nodes.stop_all()


async def live_ids(registry: NodeRegistry) -> set[str]:
    return {n.node_id for n in await registry.live_nodes()}


async def load_of(registry: NodeRegistry, node_id: str) -> int | None:
    return next((n.load for n in await registry.live_nodes() if n.node_id == node_id), None)


async def wait_for_nodes(registry: NodeRegistry, *node_ids: str) -> None:
    async def all_live() -> bool:
        return set(node_ids) <= await live_ids(registry)

    await wait_until_async(all_live, 30, interval=0.2, what=f"media nodes {', '.join(node_ids)} to announce themselves")


async def call(room, moderator, citizen):
    """Agent and citizen connect and exchange media; returns what tears it down."""
    agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
    peers = []
    for client in (agent, guest):
        pc, got = await browser_like_peer()
        await client.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
        answer = await client.expect("rtc.answer", timeout=30)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        peers.append((client, pc, got))
    await asyncio.gather(*(answer_server_offers(client, pc, 1) for client, pc, _ in peers))
    await wait_until_async(lambda: all(sorted(got) == ["audio", "video"] for _, _, got in peers), 30,
                           what="both to receive each other's audio and video")
    return peers


async def hang_up(peers) -> None:
    for client, pc, _ in peers:
        await pc.close()
        await client.close()


@pytest.fixture
def other_room(structure_a, alice):
    """A second open room of the same agent, with its agent and an admitted citizen."""
    room = factories.appointment(structure_a, alice, start=timezone.now() + timezone.timedelta(minutes=6)).room
    citizen = presence.enter_as_guest(room, "Paul Martin")
    citizen.status = "admitted"
    citizen.save()
    return room, presence.enter_as_member(room, alice, moderator=True), citizen


def test_rooms_go_to_the_least_loaded_node_and_move_when_theirs_dies(room, moderator, citizen, other_room,
                                                                     remote_media):
    citizen.status = "admitted"
    citizen.save()
    prefix = remote_media["MEDIA_REDIS_PREFIX"]

    async def scenario(nodes: NodeProcesses):
        registry = NodeRegistry(REDIS_URL, prefix=prefix, max_age=2.0)
        try:
            # Unequal loads: node-a alone takes the first room, whose call it then forwards
            # (2 participants x audio+video to the other) before node-b starts, empty.
            await wait_for_nodes(registry, "node-a")
            peers = await call(room, moderator, citizen)
            assert await registry.assigned(room.slug) == "node-a"

            async def node_a_forwards_the_call() -> bool:
                return await load_of(registry, "node-a") == 4

            await wait_until_async(node_a_forwards_the_call, 15, interval=0.2, what="node-a to announce a load of 4")
            nodes.start("node-b")
            await wait_for_nodes(registry, "node-a", "node-b")
            assert await load_of(registry, "node-b") == 0
            # node-a is first by name and by announcement: placement that ignored load (the
            # first node, or one at random: 1 in 32 for these five) would put rooms there.
            probes = [f"{other_room[0].slug}-probe-{n}" for n in range(5)]
            assert {await registry.place(probe) for probe in probes} == {"node-b"}
            for probe in probes:
                await registry.forget(probe)
            other = await call(*other_room)
            assert await registry.assigned(other_room[0].slug) == "node-b"
            await hang_up(other)

            # node-a dies: its room's browsers re-offer after their connection fails, and the
            # room is placed again, on the live node.
            nodes.procs["node-a"].send_signal(signal.SIGKILL)
            await hang_up(peers)

            async def node_a_gone() -> bool:
                return "node-a" not in await live_ids(registry)

            await wait_until_async(node_a_gone, 10, interval=0.2, what="node-a to be seen dead")
            peers = await call(room, moderator, citizen)
            assert await registry.assigned(room.slug) == "node-b"
            await hang_up(peers)
        finally:
            await registry.close()

    with media_nodes(remote_media, ("node-a", 400)) as nodes:
        run(scenario(nodes))


def test_full_nodes_refuse_new_rooms_clearly(room, moderator, remote_media):
    async def scenario():
        registry = NodeRegistry(REDIS_URL, prefix=remote_media["MEDIA_REDIS_PREFIX"], max_age=2.0)
        try:
            await wait_for_nodes(registry, "node-full")
            agent = await Client(room.slug, moderator.pid).connect()
            await agent.greeted()
            pc, _ = await browser_like_peer()
            await agent.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
            error = await agent.expect("error", timeout=10)
            assert error["code"] == "media_unavailable" and "media node" in error["message"]
            await pc.close()
            await agent.close()
            assert [n.accepting for n in await registry.live_nodes()] == [False]
        finally:
            await registry.close()

    with media_nodes(remote_media, ("node-full", 0)):
        run(scenario())
